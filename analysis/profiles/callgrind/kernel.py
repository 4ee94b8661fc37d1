"""The compiled inner loop of the callgrind reader (numba, no C compiler needed on the user's machine).

``scan`` walks a chunk of bytes that ends at a line boundary and does everything a cost line needs:
tokenising, resolving ``+n``/``-n``/``*``/``0x…`` subpositions against the last position, parsing the
costs and adding them into open-addressing hash tables keyed by (function, file, line) and (function,
address), so memory follows the number of distinct keys and never the file size. It also follows
the common position specifications (``fn=(12)``, ``fl=(3) name``, ``calls=…``) and copies the names
that compressed definitions introduce into a blob that Python decodes once. Whatever it does not
know (headers, uncompressed names, a redefined id, a malformed line) it hands back to Python with
``PY_LINE``, so the rules stay in one readable place (``reader.py``) and the rare lines cost
nothing here. The parser state lives in the int64 array ``st`` (slots below) so it survives chunk
boundaries and the hand-overs.

Names are *handles*: a compressed id ``(N)`` is handle ``N + 1``, handle 0 is the empty name and
Python gives out handles from ``ALT_HANDLE`` for uncompressed names and ids redefined with another
name. Functions are keyed by (object handle, function handle); Python maps handles to names and
merges rows whose names coincide.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Helpers that take arrays are inlined into the loop: a call passing arrays costs more than the
# work they do (measured: the whole scan ran 2.4x slower without this).
hot = njit(cache=True, inline="always")

# -- slots of the state array -------------------------------------------------------------------
POS = 0  # byte offset of the next line in the chunk
LINENO = 1  # number of lines before POS (in the whole input)
LINE_END = 2  # offset of the "\n" of the line handed to Python or refused
FIDX = 3  # current function row (-1: none yet)
SRC = 4  # file handle the costs are attributed to (fl=, fi=, fe=)
FL = 5  # the function's own file handle (fl=)
OB = 6
COB = 7  # -1: none for the next call
CFILE = 8  # -1: none for the next call
CALLEE = 9  # function row of the last cfn= (-1: none)
PENDING = 10  # call count waiting for its cost line (-1: none)
LAST_A = 11
LAST_L = 12
NPOS = 13
HAS_ADDR = 14
HAS_LINE = 15
NEV = 16  # 0 until events: is read
LAST_COST = 17  # line number of the last cost line
WANT_INST = 18  # 1: fill the per-instruction table
N_FN = 19
N_LT = 20
N_IT = 21
N_CT = 22
N_DEF = 23
N_BLOB = 24
ERROR = 25  # error code (E_*) when scan returns FAILED
ERR_FROM = 26  # offsets of the offending token in the chunk
ERR_TO = 27
APPLY_KIND = 28  # a specification Python resolved, to apply on the next call (0: none)
APPLY_HANDLE = 29
ERR_COUNT = 30  # E_TOO_MANY_COSTS: how many costs the line had
STATE_SIZE = 32

# -- what scan returns ------------------------------------------------------------------------------
DONE, PY_LINE, GROW, FAILED = 0, 1, 2, 3

# -- errors ------------------------------------------------------------------------------------------
(
    E_NO_EVENTS,
    E_BAD_POSITION,
    E_POSITION_RANGE,
    E_FEW_POSITIONS,
    E_CALLS_WITHOUT_COST,
    E_TOO_MANY_COSTS,
    E_COST_BEFORE_FN,
    E_BAD_COST,
    E_SPEC_AFTER_CALLS,
    E_FILE_BEFORE_FN,
    E_CALLS_WITHOUT_FN,
    E_UNDEFINED_ID,
) = range(1, 13)

# -- name tables and specification kinds -----------------------------------------------------------
T_OB, T_FL, T_FN = 0, 1, 2
ALT_HANDLE = 1 << 40
MAP_LIMIT = 1 << 24  # compressed ids at or above this are resolved by Python


def kind_code(name: bytes) -> int:
    code = 0
    for char in name:
        code = code * 32 + (char - 96)
    return code


K_OB, K_COB = kind_code(b"ob"), kind_code(b"cob")
K_FL, K_FI, K_FE = kind_code(b"fl"), kind_code(b"fi"), kind_code(b"fe")
K_CFI, K_CFL, K_JFI = kind_code(b"cfi"), kind_code(b"cfl"), kind_code(b"jfi")
K_FN, K_CFN, K_JFN, K_FRFN = kind_code(b"fn"), kind_code(b"cfn"), kind_code(b"jfn"), kind_code(b"frfn")
K_CALLS = kind_code(b"calls")
K_JUMP, K_JCND, K_REC, K_LN = kind_code(b"jump"), kind_code(b"jcnd"), kind_code(b"rec"), kind_code(b"ln")

MAX_VALUE = (1 << 63) - 1
DEC_LIMIT, DEC_LAST = divmod(MAX_VALUE, 10)
HEX_LIMIT = MAX_VALUE >> 4
NL, SPACE, TAB, CR, HASH = 10, 32, 9, 13, 35


@njit(cache=True)
def table_of(kind: int) -> int:
    if kind in (K_OB, K_COB):
        return T_OB
    if kind in (K_FN, K_CFN, K_JFN, K_FRFN):
        return T_FN
    if kind in (K_FL, K_FI, K_FE, K_CFI, K_CFL, K_JFI):
        return T_FL
    return -1


@hot
def _is_blank(c) -> bool:
    return c in (SPACE, TAB, CR) or c == 11 or c == 12


@hot
def _near(k0, k1, k2, wide):
    """Keys that differ only in their last part (the next address or line of one function) land
    in nearby slots: the loop meets them in that order, and those slots are already in the cache
    (1.5x faster than a fully mixed hash on the instruction table)."""
    if wide:
        return _hash(k0, k1, 0) + k2
    return _hash(k0, 0, 0) + k1


@hot
def _hash(k0, k1, k2):
    h = k0 * -7046029254386353131 + k1 * -4417276706812531889 + k2 * 1609587929392839161
    h ^= h >> 31
    h *= -4658895280553007687
    h ^= h >> 29
    return h


@hot
def find_row(slots, keys, n, k0, k1, k2):
    """Row of the key, added as row ``n`` when new; the caller made room (``room``)."""
    mask = slots.shape[0] - 1
    wide = keys.shape[1] > 2
    i = _near(k0, k1, k2, wide) & mask
    while True:
        r = slots[i] - 1
        if r < 0:
            slots[i] = n + 1
            keys[n, 0] = k0
            keys[n, 1] = k1
            if wide:
                keys[n, 2] = k2
            return n
        if keys[r, 0] == k0 and keys[r, 1] == k1 and (not wide or keys[r, 2] == k2):
            return r
        i = (i + 1) & mask


@njit(cache=True)
def rehash(keys, n, size):
    """A new slot array of ``size`` (a power of two) for the first ``n`` rows of ``keys``."""
    slots = np.zeros(size, dtype=np.int64)
    mask = size - 1
    wide = keys.shape[1] > 2
    for r in range(n):
        i = _near(keys[r, 0], keys[r, 1], keys[r, 2] if wide else 0, wide) & mask
        while slots[i] != 0:
            i = (i + 1) & mask
        slots[i] = r + 1
    return slots


@njit(cache=True)
def _free(n, keys, slots):
    return min(keys.shape[0], slots.shape[0] // 2) - n


@njit(cache=True)
def room(st, fn_keys, fn_slots, lt_keys, lt_slots, it_keys, it_slots, ct_keys, ct_slots, defs):
    """How many more lines fit for sure: a line adds at most one row to each table and one name."""
    return min(
        _free(st[N_FN], fn_keys, fn_slots),
        _free(st[N_LT], lt_keys, lt_slots),
        _free(st[N_IT], it_keys, it_slots),
        _free(st[N_CT], ct_keys, ct_slots),
        defs.shape[0] - st[N_DEF],
    )


@njit(cache=True)
def _function(st, fn_keys, fn_file, fn_slots, ob, fn, file):
    n = st[N_FN]
    row = find_row(fn_slots, fn_keys, n, ob, fn, 0)
    if row == n:
        fn_file[row] = file
        st[N_FN] = n + 1
    return row


@njit(cache=True)
def apply_spec(st, kind, handle, fn_keys, fn_file, fn_slots):
    """The effect of a position specification whose name is resolved; returns an E_* code or 0."""
    if kind == K_FN:
        st[SRC] = st[FL]
        st[FIDX] = _function(st, fn_keys, fn_file, fn_slots, st[OB], handle, st[FL])
    elif kind == K_FL:
        st[FL] = handle
        st[SRC] = handle
    elif kind in (K_FI, K_FE):
        if st[FIDX] < 0:
            return E_FILE_BEFORE_FN
        st[SRC] = handle
    elif kind == K_OB:
        st[OB] = handle
    elif kind == K_CFN:
        ob = st[OB] if st[COB] < 0 else st[COB]
        file = st[SRC] if st[CFILE] < 0 else st[CFILE]
        st[CALLEE] = _function(st, fn_keys, fn_file, fn_slots, ob, handle, file)
    elif kind == K_COB:
        st[COB] = handle
    elif kind in (K_CFI, K_CFL):
        st[CFILE] = handle
    return 0


@hot
def _digits(buf, i, end, base):
    """Parse digits from ``i``: (value, next offset, ok); ok is False without digits or on overflow.
    No division per digit: it would cost more than the rest of the line."""
    value = 0
    start = i
    while i < end:
        c = buf[i]
        if 48 <= c <= 57:
            d = c - 48
        elif base == 16 and 97 <= c <= 102:
            d = c - 87
        elif base == 16 and 65 <= c <= 70:
            d = c - 55
        else:
            break
        if base == 10:
            if value > DEC_LIMIT or (value == DEC_LIMIT and d > DEC_LAST):
                return 0, i, False
            value = value * 10 + d
        else:
            if value > HEX_LIMIT:
                return 0, i, False
            value = value * 16 + d
        i += 1
    return value, i, i > start


@hot
def _position(buf, i, end, last):
    """One subposition at ``i``: (value, next offset, code) with code 0, E_BAD_POSITION or
    E_POSITION_RANGE."""
    c = buf[i]
    if c == 42:  # *
        value = last
        i += 1
    elif c == 43 or c == 45:  # + -
        step, i, ok = _digits(buf, i + 1, end, 10)
        if not ok:
            return 0, i, E_POSITION_RANGE if 48 <= buf[i] <= 57 else E_BAD_POSITION
        value = last + step if c == 43 else last - step
    elif c == 48 and i + 1 < end and (buf[i + 1] == 120 or buf[i + 1] == 88):  # 0x
        value, i, ok = _digits(buf, i + 2, end, 16)
        if not ok:
            return 0, i, E_POSITION_RANGE if i > 0 and _hexdigit(buf[i]) else E_BAD_POSITION
    else:
        value, i, ok = _digits(buf, i, end, 10)
        if not ok:
            return 0, i, E_POSITION_RANGE if 48 <= buf[i] <= 57 else E_BAD_POSITION
    if i < end and buf[i] != NL and not _is_blank(buf[i]):
        return 0, i, E_BAD_POSITION
    if value < -1:
        return 0, i, E_POSITION_RANGE
    return value, i, 0


@hot
def _hexdigit(c) -> bool:
    return 48 <= c <= 57 or 97 <= c <= 102 or 65 <= c <= 70


@hot
def _skip_blanks(buf, i, end):
    while i < end and _is_blank(buf[i]):
        i += 1
    return i


@hot
def _line_end(buf, i, end):
    while i < end and buf[i] != NL:
        i += 1
    return i


@njit(cache=True)
def scan(  # noqa: C901, PLR0912, PLR0913, PLR0915
    buf,
    end,
    st,
    maps,
    fn_keys,
    fn_file,
    fn_self,
    fn_slots,
    lt_keys,
    lt_vals,
    lt_slots,
    it_keys,
    it_vals,
    it_slots,
    ct_keys,
    ct_calls,
    ct_vals,
    ct_slots,
    defs,
    blob,
    sums,
    costs,
):
    """Read lines from ``st[POS]`` until ``end`` (DONE), a line for Python (PY_LINE: the line is
    ``buf[st[POS]:st[LINE_END]]``, number ``st[LINENO] + 1``), a full table (GROW: nothing of the
    line is applied yet) or an error (FAILED, code in ``st[ERROR]``, line as for PY_LINE)."""
    p = st[POS]
    lineno = st[LINENO]
    nev = st[NEV]
    npos = st[NPOS]
    has_addr = st[HAS_ADDR] != 0
    has_line = st[HAS_LINE] != 0
    want_inst = st[WANT_INST] != 0
    budget = room(st, fn_keys, fn_slots, lt_keys, lt_slots, it_keys, it_slots, ct_keys, ct_slots, defs)
    if st[APPLY_KIND] != 0:
        if budget <= 0:
            return GROW
        budget -= 1
        code = apply_spec(st, st[APPLY_KIND], st[APPLY_HANDLE], fn_keys, fn_file, fn_slots)
        st[APPLY_KIND] = 0
        if code != 0:
            st[ERROR] = code
            st[LINENO] = lineno - 1
            return FAILED
    while p < end:
        if budget <= 0:  # counted down per line; the tables are looked at only when it runs out
            budget = room(
                st, fn_keys, fn_slots, lt_keys, lt_slots, it_keys, it_slots, ct_keys, ct_slots, defs
            )
            if budget <= 0:
                st[POS] = p
                st[LINENO] = lineno
                return GROW
        budget -= 1
        c = buf[p]
        # -- cost lines ------------------------------------------------------------------------
        if (48 <= c <= 57) or c == 43 or c == 45 or c == 42:
            error = 0
            q = p
            if nev == 0:
                error = E_NO_EVENTS
            a = -1
            ln = -1
            if error == 0 and has_addr:
                a, q, error = _position(buf, q, end, st[LAST_A])
                q = _skip_blanks(buf, q, end)
            if error == 0 and has_line:
                if has_addr and (q >= end or buf[q] == NL):
                    error = E_FEW_POSITIONS
                else:
                    ln, q, error = _position(buf, q, end, st[LAST_L])
                    q = _skip_blanks(buf, q, end)
            count = 0
            if error == 0:
                st[LAST_A] = a
                st[LAST_L] = ln
                while q < end and buf[q] != NL:
                    token = q
                    value, q, ok = _digits(buf, q, end, 10)
                    if not ok or (q < end and buf[q] != NL and not _is_blank(buf[q])):
                        if count >= nev:  # too many costs is what the line is wrong about
                            count += 1
                            break
                        error = E_BAD_COST
                        st[ERR_FROM] = token
                        st[ERR_TO] = _line_end(buf, token, end)
                        break
                    if count < nev:
                        costs[count] = value
                    count += 1
                    q = _skip_blanks(buf, q, end)
                if error == 0 and count > nev:
                    error = E_TOO_MANY_COSTS
                    st[ERR_COUNT] = count if q >= end or buf[q] == NL else _count_tokens(buf, p, end, npos)
            if error == 0 and count == 0 and st[PENDING] >= 0:
                error = E_CALLS_WITHOUT_COST
            if error != 0:
                st[ERROR] = error
                st[POS] = p
                st[LINENO] = lineno
                st[LINE_END] = _line_end(buf, p, end)
                return FAILED
            lineno += 1
            if count > 0:
                if st[PENDING] >= 0:
                    n = st[N_CT]
                    row = find_row(ct_slots, ct_keys, n, st[FIDX], st[CALLEE], 0)
                    if row == n:
                        st[N_CT] = n + 1
                    ct_calls[row] += st[PENDING]
                    for k in range(count):  # omitted trailing costs are 0
                        ct_vals[row, k] += costs[k]
                    st[PENDING] = -1
                    st[COB] = -1
                    st[CFILE] = -1
                else:
                    fidx = st[FIDX]
                    if fidx < 0:
                        st[ERROR] = E_COST_BEFORE_FN
                        st[POS] = p
                        st[LINENO] = lineno - 1
                        st[LINE_END] = _line_end(buf, p, end)
                        return FAILED
                    n = st[N_LT]
                    row = find_row(lt_slots, lt_keys, n, fidx, st[SRC], ln)
                    if row == n:
                        st[N_LT] = n + 1
                    for k in range(count):  # omitted trailing costs are 0
                        lt_vals[row, k] += costs[k]
                        fn_self[fidx, k] += costs[k]
                        sums[k] += costs[k]
                    if want_inst and a != -1:
                        n = st[N_IT]
                        row = find_row(it_slots, it_keys, n, fidx, a, 0)
                        if row == n:
                            st[N_IT] = n + 1
                        for k in range(count):  # omitted trailing costs are 0
                            it_vals[row, k] += costs[k]
                st[LAST_COST] = lineno
            p = q + 1
            continue
        # -- comments and blank lines -------------------------------------------------------------
        q = _skip_blanks(buf, p, end)
        if c == HASH or q >= end or buf[q] == NL:
            lineno += 1
            p = _line_end(buf, p, end) + 1
            continue
        # -- specifications -----------------------------------------------------------------------
        kind = 0
        q = p
        while q < end and 97 <= buf[q] <= 122 and q - p < 6:
            kind = kind * 32 + (buf[q] - 96)
            q += 1
        table = table_of(kind)
        handled = False
        if q < end and buf[q] == 61 and st[PENDING] < 0:  # "=" after a known kind
            q += 1
            if table >= 0:
                handled, q = _name_spec(
                    buf, q, end, st, kind, table, maps, fn_keys, fn_file, fn_slots, defs, blob, lineno + 1
                )
                if st[ERROR] != 0:
                    st[POS] = p
                    st[LINENO] = lineno
                    st[LINE_END] = _line_end(buf, p, end)
                    return FAILED
            elif kind == K_CALLS:
                q = _skip_blanks(buf, q, end)
                count, q, ok = _digits(buf, q, end, 10)
                if ok and (q >= end or buf[q] == NL or _is_blank(buf[q])):
                    if st[CALLEE] < 0 or st[FIDX] < 0:
                        st[ERROR] = E_CALLS_WITHOUT_FN
                        st[POS] = p
                        st[LINENO] = lineno
                        st[LINE_END] = _line_end(buf, p, end)
                        return FAILED
                    st[PENDING] = count
                    handled = True
            elif kind in (K_JUMP, K_JCND, K_REC, K_LN):
                handled = True
        if not handled:  # headers, uncompressed names, anything unusual: Python decides
            st[POS] = p
            st[LINENO] = lineno
            st[LINE_END] = _line_end(buf, p, end)
            return PY_LINE
        lineno += 1
        p = _line_end(buf, q, end) + 1
    st[POS] = p
    st[LINENO] = lineno
    return DONE


@njit(cache=True)
def _count_tokens(buf, p, end, npos):
    count = 0
    inside = False
    while p < end and buf[p] != NL:
        blank = _is_blank(buf[p])
        if not blank and not inside:
            count += 1
        inside = not blank
        p += 1
    return count - npos


@njit(cache=True)
def _name_spec(buf, q, end, st, kind, table, maps, fn_keys, fn_file, fn_slots, defs, blob, lineno):
    """``kind=(N)`` or ``kind=(N) name`` with N in the kernel's map: (handled, offset)."""
    q = _skip_blanks(buf, q, end)
    if q + 1 >= end or buf[q] != 40 or not (48 <= buf[q + 1] <= 57):  # "(" digit
        return False, q
    ident, q, ok = _digits(buf, q + 1, end, 10)
    if not ok or q >= end or buf[q] != 41 or ident >= maps.shape[1]:  # ")"
        return False, q
    q = _skip_blanks(buf, q + 1, end)
    stop = _line_end(buf, q, end)
    if q < stop:  # a definition
        if maps[table, ident] >= 0:
            return False, q  # redefined: Python compares the names
        last = stop
        while last > q and _is_blank(buf[last - 1]):
            last -= 1
        size = last - q
        used = st[N_BLOB]
        if used + size + 1 > blob.shape[0]:
            return False, q  # Python grows the blob and applies this line itself
        blob[used : used + size] = buf[q:last]
        blob[used + size] = NL
        st[N_BLOB] = used + size + 1
        handle = ident + 1
        maps[table, ident] = handle
        d = st[N_DEF]
        defs[d, 0] = table
        defs[d, 1] = handle
        st[N_DEF] = d + 1
    else:
        handle = maps[table, ident]
        if handle < 0:
            st[ERROR] = E_UNDEFINED_ID
            return False, q
    code = apply_spec(st, kind, handle, fn_keys, fn_file, fn_slots)
    if code != 0:
        st[ERROR] = code
        return False, q
    return True, stop
