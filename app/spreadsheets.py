"""Cells for files people open in a spreadsheet: every CSV and XLSX export writes through here.

A text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel or LibreOffice (CSV injection, OWASP): such text gets a leading apostrophe, so
it shows as the text it is. Only strings: a number (a negative one too) stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """``value`` as a spreadsheet must receive it: formula-like text quoted, the rest unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A CSV document (header first) with every cell neutralised; ``None`` is an empty cell.
    Lines end in CRLF (RFC 4180): the writer then quotes any cell holding a CR or an LF, which a
    bare LF terminator would leave unquoted (a CR in a cell would break its row)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(name) for name in header])
    writer.writerows([neutralise("" if value is None else value) for value in row] for row in rows)
    return out.getvalue()


def csv_records(fields: Sequence[str], records: Iterable[dict]) -> str:
    """``csv_text`` for dicts: one column per name of ``fields``, in that order."""
    return csv_text(fields, ([record.get(name) for name in fields] for record in records))


def xlsx_row(values: Iterable) -> list:
    """A row for openpyxl's ``append``: neutralised, and without the control characters an XLSX
    file cannot hold (openpyxl would raise on them)."""
    cells = []
    for value in values:
        if isinstance(value, str):  # first, so no removed character can hide a leading "="
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cells.append(neutralise(value))
    return cells
