"""Strict reading of the lab's CSV files: every malformed, non-finite or impossible cell is an error.

pandas guesses: a row with an extra field silently shifts the columns into the index, an unclosed
quote and an empty file raise its own exceptions, and ``inf`` or ``' '`` pass as numbers or text.
The lab readers (plate exports, QuPath exports, sample manifests) read through this module
instead: the standard :mod:`csv` module in strict mode, every row the width of the header, every
error one line naming the file, the line and the column.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import pandas as pd

from clestudy.errors import InputError

__all__ = ["MAX_TABLE_BYTES", "parse_number", "read_text_table"]

#: Largest lab table read, in bytes (1 GiB). Not a property of the data: a bound on memory, since a
#: table is held in memory whole (a whole-slide QuPath detection export of a million cells is
#: about 300 MB). Callers pass ``max_bytes`` to change it.
MAX_TABLE_BYTES = 1 << 30


def read_text_table(
    path: str | Path,
    *,
    what: str,
    error: type[InputError] = InputError,
    sep: str | None = ",",
    max_bytes: int = MAX_TABLE_BYTES,
) -> pd.DataFrame:
    """Read a CSV (or, with ``sep=None``, a comma- or tab-separated file) as stripped text.

    Parameters
    ----------
    path
        The file.
    what
        What the file is, for messages ("plate export", "manifest").
    error
        The :class:`~clestudy.errors.InputError` subclass raised.
    sep
        The field separator; ``None`` takes a tab when the header has more tabs than commas.
    max_bytes
        Refuse larger files (see :data:`MAX_TABLE_BYTES`).

    Returns
    -------
    pandas.DataFrame
        One text column per header name (stripped), indexed by the file line on which each row
        starts (index name ``line``); blank lines are skipped.

    Raises
    ------
    InputError
        (as ``error``) a missing, too large, non-UTF-8 or empty file, a malformed line (an
        unclosed quote, a NUL byte), a row whose field count differs from the header's, or an
        empty or repeated column name.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = path.write_text("a,b\\n1, x\\n\\n2,y\\n")
    >>> read_text_table(path, what="table").reset_index().values.tolist()
    [[2, '1', 'x'], [4, '2', 'y']]
    """
    path = Path(path)
    text = _read_text(path, what, error, max_bytes)
    if sep is None:
        first = text.split("\n", 1)[0]
        sep = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append([cell.strip() for cell in row])
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise error(f"{path}: line {reader.line_num}: malformed {what} line: {exc}") from None
    if not rows:
        raise error(f"{path}: the {what} is empty: no header line")
    header = rows[0]
    _check_header(path, what, error, header, lines[0])
    for line, row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != len(header):
            raise error(
                f"{path}: line {line}: {len(row)} field(s), but the header on line {lines[0]} "
                f"has {len(header)}"
            )
    index = pd.Index(lines[1:], name="line", dtype="int64")
    return pd.DataFrame(rows[1:], columns=header, index=index, dtype=object)


def _read_text(path: Path, what: str, error: type[InputError], max_bytes: int) -> str:
    if not path.is_file():
        raise error(f"{path}: no such {what} file")
    size = path.stat().st_size
    if size > max_bytes:
        raise error(f"{path}: {size} bytes; a {what} is read whole, so at most {max_bytes}")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: byte {exc.start}: not UTF-8 text ({exc.reason})") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise error(f"{path}: line {line}: a NUL byte; is this a text {what}?")
    return text


def _check_header(
    path: Path, what: str, error: type[InputError], header: list[str], line: int
) -> None:
    seen: set[str] = set()
    for number, name in enumerate(header, start=1):
        if not name:
            raise error(f"{path}: line {line}: column {number} of the {what} header has no name")
        if name.lower() in seen:
            raise error(f"{path}: line {line}: column {name!r} appears twice in the {what} header")
        seen.add(name.lower())


def parse_number(
    text: str,
    *,
    where: str,
    error: type[InputError] = InputError,
    minimum: float | None = None,
    maximum: float | None = None,
    whole: bool = False,
) -> float:
    """A finite number from a cell, within ``[minimum, maximum]``; ``-0.0`` becomes ``0.0``.

    ``where`` names the file, line and column for the message. ``whole`` demands an integer
    value (a count of cells: ``300.7`` is refused, never truncated).

    Examples
    --------
    >>> parse_number(" 12.5 ", where="f.csv: line 2: ct")
    12.5
    >>> parse_number("-0", where="f.csv: line 2: count", minimum=0)
    0.0
    >>> parse_number("inf", where="f.csv: line 2: ct")
    Traceback (most recent call last):
    ...
    clestudy.errors.InputError: f.csv: line 2: ct: 'inf' is not a finite number
    """
    try:
        value = float(text)
    except ValueError:
        raise error(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise error(f"{where}: {text!r} is not a finite number")
    if whole and not value.is_integer():
        raise error(f"{where}: {text!r} is not a whole number")
    if minimum is not None and value < minimum:
        raise error(f"{where}: {text!r} is below {minimum:g}; allowed: {_range(minimum, maximum)}")
    if maximum is not None and value > maximum:
        raise error(f"{where}: {text!r} is above {maximum:g}; allowed: {_range(minimum, maximum)}")
    return value + 0.0  # -0.0 + 0.0 is +0.0: a stored zero has no sign


def _range(minimum: float | None, maximum: float | None) -> str:
    if maximum is None:
        return f">= {minimum:g}"
    if minimum is None:
        return f"<= {maximum:g}"
    return f"{minimum:g} to {maximum:g}"
