"""The Runyard tabular profile (docs/profile-format.md): our own format, for tools that have no
format of their own (a simulator such as Intel ISS exports one), carrying the events callgrind
cannot (cycles, TLB misses …) under the canonical names of ``model.CANONICAL``.

A ZIP archive whose first member is ``RUNYARD-PROFILE`` (``runyard-profile 1``), then one member per
table, all CSV or all Parquet. A directory holding the same files is read the same way. CSV members
are read row by row, so an error names its member and line; Parquet errors give line 0 and the row.

Modules: ``spec`` (the tables, their columns and kinds), ``archive`` (the ZIP or directory and its
marker), ``columns`` (one member, CSV or Parquet, into a DataFrame), ``reader`` (the tables into a
``Profile``), ``writer`` (a ``Profile`` into the format).
"""

from analysis.profiles.tabular.archive import sniff_tabular
from analysis.profiles.tabular.reader import parse_tabular
from analysis.profiles.tabular.writer import write_tabular

__all__ = ["parse_tabular", "sniff_tabular", "write_tabular"]
