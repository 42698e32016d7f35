"""Reading CSV uploads: the header is checked first, then every row is handed on with its line number.

A row's number is its line in the file (the header is line 1), so an error message points a user
straight at the line to fix.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from app.errors import Collector, Detail, ValidationFailed


@dataclass(frozen=True)
class CsvRow:
    line: int
    values: dict[str, str]


def open_text(path: Path) -> IO[str]:
    """Open a CSV file for reading; ``.gz`` files are decompressed, a UTF-8 BOM is dropped."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _counted(lines: Iterable[str], progress: Callable[[int], None] | None) -> Iterator[str]:
    # Progress is reported in bytes so a caller can size its bar from the file's length.
    for line in lines:
        if progress is not None:
            progress(len(line.encode("utf-8")))
        yield line


def check_header(
    header: Sequence[str] | None, required: Sequence[str], optional: Sequence[str] = ()
) -> list[str]:
    """The header's column names, or one error listing every missing, extra or repeated column."""
    if not header:
        raise ValidationFailed(
            "the file is empty: expected a header line",
            [Detail("header", f"expected columns: {', '.join(required)}", 1)],
        )
    columns = [name.strip() for name in header]
    problems = Collector()
    for name in required:
        if name not in columns:
            problems.add(name, "missing column", 1)
    allowed = set(required) | set(optional)
    for name in columns:
        if name not in allowed:
            problems.add(name or "(blank)", "unexpected column", 1)
    for name in sorted({c for c in columns if columns.count(c) > 1}):
        problems.add(name, "column appears more than once", 1)
    problems.raise_if_any(
        f"bad header: expected the columns {', '.join(required)}"
        + (f" (optional: {', '.join(optional)})" if optional else "")
    )
    return columns


def read_rows(
    stream: Iterable[str],
    required: Sequence[str],
    optional: Sequence[str] = (),
    problems: Collector | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[CsvRow]:
    """Read every row of a CSV stream whose header must hold ``required`` (and may hold ``optional``).

    A bad header raises at once. A row with too many or too few fields is added to ``problems``
    (so it is reported together with the caller's own checks) and left out of the result.
    Values are stripped of surrounding blanks; blank lines are skipped.

    :param stream: the open text file (or any iterable of lines).
    :param problems: where malformed rows are collected; when None they raise at the end.
    :param progress: called with the number of bytes consumed, line by line.
    """
    own_problems = problems is None
    problems = problems if problems is not None else Collector()
    reader = csv.reader(_counted(stream, progress))
    try:
        header = next(reader, None)
        columns = check_header(header, required, optional)
        rows: list[CsvRow] = []
        for fields in reader:
            line = reader.line_num
            if not fields or all(not f.strip() for f in fields):
                continue
            if any("\x00" in f for f in fields):  # PostgreSQL text cannot hold NUL (found by fuzzing)
                problems.add("(row)", "contains a NUL character", line)
                continue
            if len(fields) != len(columns):
                problems.add(
                    "(row)", f"has {len(fields)} fields, the header has {len(columns)}", line
                )
                continue
            rows.append(CsvRow(line, {c: f.strip() for c, f in zip(columns, fields, strict=True)}))
    except csv.Error as error:
        raise ValidationFailed(
            "the file is not valid CSV", [Detail("(file)", str(error), reader.line_num)]
        ) from error
    except UnicodeDecodeError as error:
        raise ValidationFailed(
            "the file is not UTF-8 text", [Detail("(file)", str(error), reader.line_num + 1)]
        ) from error
    if own_problems:
        problems.raise_if_any("malformed rows")
    return rows
