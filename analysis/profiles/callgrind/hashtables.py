"""The kernel's hash tables as numpy arrays, and how they grow (the kernel only fills them)."""

from __future__ import annotations

import numpy as np

FIRST_ROWS = 1 << 14
MAX_RESERVED_ROWS = 1 << 22


class Table:
    """One hash table of the kernel: ``keys`` (rows × width), costs ``vals`` (rows × events: one
    row's costs share a cache line or two, which matters more than anything else in the loop).

    ``keys``/``vals`` are reserved for ``rows`` rows up front: zeroed pages that are never written
    are never resident, so a generous guess costs address space only and saves copying on growth.
    The slot array is touched everywhere, so it grows with the rows actually used."""

    def __init__(self, kernel, width: int, rows: int) -> None:
        self.kernel = kernel
        self.keys = np.zeros((rows, width), dtype=np.int64)
        self.vals = np.zeros((rows, 0), dtype=np.int64)
        self.slots = np.zeros(2 * FIRST_ROWS, dtype=np.int64)
        self.extra = np.zeros(rows, dtype=np.int64)  # call counts, or a function's file

    def full(self, n: int) -> bool:
        return n + 1 > min(len(self.keys), len(self.slots) // 2)

    def grow(self, n: int) -> None:
        if n + 1 > len(self.keys):
            rows = 2 * len(self.keys)
            self.keys = _grown(self.keys, n, (rows, self.keys.shape[1]))
            self.extra = _grown(self.extra, n, (rows,))
            self.vals = _grown(self.vals, n, (rows, self.vals.shape[1]))
        if 2 * (n + 1) > len(self.slots):
            self.slots = self.kernel.rehash(self.keys, n, 2 * len(self.slots))

    def with_events(self, nev: int) -> None:
        """The first events: line sets the number of cost columns (tables hold no costs before)."""
        self.vals = np.zeros((len(self.keys), nev), dtype=np.int64)

    def release(self) -> None:
        self.slots = np.zeros(0, dtype=np.int64)


def rows_for(count: int) -> int:
    """The power of two at or above ``count``, within bounds: beyond ``MAX_RESERVED_ROWS`` (~450 MB of
    address space per table with 13 events) tables grow by doubling instead."""
    return 1 << (max(FIRST_ROWS, min(count, MAX_RESERVED_ROWS)) - 1).bit_length()


def _grown(array: np.ndarray, n: int, shape: tuple[int, ...]) -> np.ndarray:
    grown = np.zeros(shape, dtype=array.dtype)
    grown[:n] = array[:n]
    return grown
