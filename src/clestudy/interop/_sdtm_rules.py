"""The SDTM conformance rules a reviewer's tools check first, and the study-day arithmetic.

Every dataset :mod:`clestudy.interop._sdtm` writes passes :func:`dataset_problems` before it is
written (a violation is a bug, raised as :class:`~clestudy.errors.ClestudyError`), and the tests
run the same function over the files read back. The rules (SDTMIG v3.3 section 4 and the SAS
transport v5 limits, docs/references.md [SDTMIG 3.3], [SAS XPORT v5]):

* dataset and variable names: at most 8 characters, letters, digits and ``_``, not starting
  with a digit; labels at most 40 characters; character values at most 200 bytes;
* ASCII only, in names, labels and values;
* sorted by the domain's keys, and ``--SEQ`` unique within each subject;
* dates ISO 8601 (``YYYY-MM-DD``); study days (``--DY``) counted from ``RFSTDTC`` with no day 0.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence

import pandas as pd

__all__ = [
    "MAX_CHAR_BYTES",
    "MAX_LABEL",
    "MAX_NAME",
    "ascii_text",
    "dataset_problems",
    "short_code",
    "study_day",
]

MAX_NAME = 8
MAX_LABEL = 40
MAX_CHAR_BYTES = 200
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def ascii_text(text: str) -> str:
    """``text`` in ASCII: accents dropped (NFKD), other characters replaced by ``?``.

    >>> ascii_text("Séance – 5 µg")
    'Seance ? 5 ?g'
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.encode("ascii", "replace").decode("ascii")


def short_code(text: str, taken: set[str]) -> str:
    """A new SDTM code (at most 8 upper-case letters/digits, not starting with a digit) for
    ``text``, different from every code in ``taken`` (which it joins).

    The code keeps the first letters of ``text``'s words so that a reader can guess it:
    ``scalp_erythema`` gives ``SCALPERY``, and a clash appends a digit to a shorter stem.

    >>> taken: set[str] = set()
    >>> short_code("scalp_erythema", taken), short_code("scalp_erythema_x", taken)
    ('SCALPERY', 'SCALPER2')
    >>> short_code("2nd_look", taken)
    'X2NDLOOK'
    """
    words = [w for w in re.split(r"[^A-Za-z0-9]+", ascii_text(text).upper()) if w]
    stem = "".join(words)
    if len(stem) > MAX_NAME and len(words) > 1:
        first = words[0][:5]
        stem = first + "".join(words[1:])[: MAX_NAME - len(first)]
    stem = stem or "X"
    if stem[0].isdigit():
        stem = ("X" + stem)[:MAX_NAME]
    code = stem[:MAX_NAME]
    n = 2
    while code in taken:
        suffix = str(n)
        code = stem[: MAX_NAME - len(suffix)] + suffix
        n += 1
    taken.add(code)
    return code


def study_day(date: str, reference: str | None) -> int | None:
    """The SDTM study day of ``date`` counted from ``reference`` (``RFSTDTC``): the reference
    date is day 1, the day before it day -1 (there is no day 0; SDTMIG v3.3 section 4.4.4).

    >>> study_day("2024-01-01", "2024-01-01"), study_day("2024-01-11", "2024-01-01")
    (1, 11)
    >>> study_day("2023-12-31", "2024-01-01"), study_day("2024-01-05", None)
    (-1, None)
    """
    if reference is None:
        return None
    days = (dt.date.fromisoformat(date) - dt.date.fromisoformat(reference)).days
    return days + 1 if days >= 0 else days


def _name_problems(where: str, name: str) -> list[str]:
    if not _NAME.match(name):
        return [f"{where}: name '{name}' is not 1-8 upper-case letters, digits or '_'"]
    return []


def _label_problems(where: str, label: str) -> list[str]:
    problems = []
    if len(label) > MAX_LABEL:
        problems.append(f"{where}: label '{label}' is longer than {MAX_LABEL} characters")
    if not label.isascii():
        problems.append(f"{where}: label '{label}' is not ASCII")
    return problems


def _value_problems(dataset: str, frame: pd.DataFrame) -> list[str]:
    problems = []
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        for row, value in enumerate(frame[column]):
            text = str(value)
            if not text.isascii():
                problems.append(f"{dataset} row {row + 1} {column}: value {text!r} is not ASCII")
            elif len(text) > MAX_CHAR_BYTES:
                problems.append(f"{dataset} row {row + 1} {column}: value over 200 bytes")
            elif str(column).endswith("DTC") and text and not _ISO_DATE.match(text):
                problems.append(f"{dataset} row {row + 1} {column}: {text!r} is not ISO 8601")
    return problems


def _order_problems(dataset: str, frame: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    problems = []
    present = [k for k in keys if k in frame.columns]
    if present and not frame.empty:
        ordered = frame.sort_values(present, kind="stable").index
        if list(ordered) != list(frame.index):
            problems.append(f"{dataset}: rows are not sorted by {', '.join(present)}")
    seq = next((c for c in frame.columns if str(c).endswith("SEQ")), None)
    if seq is not None and "USUBJID" in frame.columns and frame.duplicated(["USUBJID", seq]).any():
        problems.append(f"{dataset}: {seq} is not unique within USUBJID")
    return problems


def dataset_problems(
    dataset: str,
    frame: pd.DataFrame,
    labels: Sequence[str],
    dataset_label: str,
    keys: Sequence[str],
) -> list[str]:
    """Every rule of the module docstring that ``frame`` (with its variable ``labels``, in column
    order, and its ``dataset_label``) breaks, one message each; empty when it conforms."""
    problems = _name_problems(dataset, dataset)
    problems += _label_problems(dataset, dataset_label)
    for column, label in zip(frame.columns, labels, strict=True):
        problems += _name_problems(f"{dataset}.{column}", str(column))
        problems += _label_problems(f"{dataset}.{column}", label)
    return problems + _value_problems(dataset, frame) + _order_problems(dataset, frame, keys)
