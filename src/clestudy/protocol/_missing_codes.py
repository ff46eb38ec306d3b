"""Missing-data codes and imported marks: the two reserved keys of a record's values.

A study may declare missing-data codes (``Protocol.missing_codes``, e.g. ``UNK`` Unknown, ``NASK``
Not asked), after REDCap's project-level list: a code says that a field's value is *deliberately*
not available. REDCap stores the code as the field's literal value, so a number field can hold
``UNK``; clestudy keeps it apart from the values, so that nothing ever reads a code as a value:

* ``values["_missing"]`` maps a field to its code (``{"weight": "UNK"}``); the field itself holds
  no value. Validation, edit checks, derived scores, statistics and analysis tables therefore see
  the field as missing. A required field holding a code counts as answered (REDCap's rule: the
  code records that the value was asked for and is not available), except an input of one of the
  form's derived scores: a score is computed only from values, so a record whose score input is
  coded stays ``incomplete`` and has no score.
* ``values["_imported"]`` holds marks another system kept on the record that have no clestudy
  meaning, text to text (REDCap's form status: ``{"redcap_complete": "1"}``), exported back
  unchanged and never read as clestudy's own status.

Both travel with the values: in the audit event, ``record show --json`` and the exports.

References
----------
REDCap missing data codes (Project Setup > Additional customizations; the "M" button per field;
``redcap:MissingDataCodes`` in Project XML; codes of letters, digits, ``.``, ``-``, ``_``):
docs/references.md [REDCap missing data codes] (Utah CTSI REDCap pages; UW-Madison KB 108107).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import TypeGuard

from clestudy.instruments import INSTRUMENT_FIELDS
from clestudy.instruments._ctcae_labs import PER_LAB_INSTRUMENTS
from clestudy.protocol._model import FormSpec, Protocol

__all__ = [
    "CODE_PATTERN",
    "IMPORTED_KEY",
    "MISSING_KEY",
    "RESERVED_KEYS",
    "check_reserved",
    "coded_fields",
    "score_inputs",
]

MISSING_KEY = "_missing"
IMPORTED_KEY = "_imported"
RESERVED_KEYS = (MISSING_KEY, IMPORTED_KEY)
#: REDCap's rule for a missing-data code: letters, digits, dot, dash, underscore.
CODE_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_MARK = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def coded_fields(values: Mapping[str, object]) -> dict[str, str]:
    """The record's missing-data codes, ``{field: code}`` (empty when it has none).

    >>> coded_fields({"esr": 12, "_missing": {"crp": "UNK"}})
    {'crp': 'UNK'}
    """
    found = values.get(MISSING_KEY)
    return dict(found) if isinstance(found, Mapping) else {}


def score_inputs(protocol: Protocol, form: FormSpec) -> frozenset[str]:
    """The form's fields that are inputs of its derived scores (a code does not answer them)."""
    return frozenset(
        name
        for spec in protocol.derived_for_form(form.id)
        if spec.instrument not in PER_LAB_INSTRUMENTS
        for name in INSTRUMENT_FIELDS[spec.instrument]
    )


def _empty(value: object) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def check_reserved(
    form: FormSpec,
    values: Mapping[str, object],
    codes: Collection[str],
    hidden: Collection[str],
    where: str,
) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The reserved keys of ``values`` normalised for storage, and every problem with them.

    ``_missing`` must map fields of ``form`` to codes in ``codes`` (the protocol's), each field
    holding no value and shown (a hidden field holds nothing, not even a code); ``_imported`` maps
    lower-case names to text. An empty map is dropped, as a blank value is.

    >>> from clestudy.protocol import load_protocol
    >>> form = load_protocol("pediatric-cle-chart-review").form("labs")
    >>> check_reserved(form, {"_missing": {"esr": "UNK", "lym": "NA"}}, ["UNK"], (), "P01/labs")
    ({'_missing': {'esr': 'UNK'}}, ["P01/labs: field 'lym': missing-data code 'NA' is not one of the study's codes ['UNK']"])
    """
    if MISSING_KEY not in values:
        if IMPORTED_KEY not in values:
            return {}, []  # no reserved key: nothing to check (most records)
        marks = values[IMPORTED_KEY]  # marks only (an import's form status): no code to check
        if isinstance(marks, dict) and len(marks) == 1 and _marks_ok(marks):
            return {IMPORTED_KEY: dict(marks)}, []
    out: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    coded = values.get(MISSING_KEY)
    if coded is not None and not isinstance(coded, Mapping):
        problems.append(f"{where}: '{MISSING_KEY}' must map fields to missing-data codes")
        coded = None
    kept: dict[str, str] = {}
    for name, code in (coded or {}).items():
        if form.field(name) is None:
            problems.append(
                f"{where}: '{MISSING_KEY}': '{name}' is not a field of form '{form.id}'"
            )
        elif code is None or code == "":
            continue  # a code removed
        elif not isinstance(code, str) or code not in codes:
            allowed = sorted(codes) if codes else "none are declared"
            problems.append(
                f"{where}: field '{name}': missing-data code {code!r} is not one of the "
                f"study's codes {allowed}"
            )
        elif not _empty(values.get(name)):
            problems.append(
                f"{where}: field '{name}' holds a value and the missing-data code {code!r}; "
                "give one or the other"
            )
        elif name in hidden:
            problems.append(
                f"{where}: field '{name}' is hidden by its show-if; a hidden field holds no "
                f"value and no missing-data code ({code!r})"
            )
        else:
            kept[name] = code
    if kept:
        order = {f.id: i for i, f in enumerate(form.fields)}
        out[MISSING_KEY] = dict(sorted(kept.items(), key=lambda item: order[item[0]]))
    marks = values.get(IMPORTED_KEY)
    if marks is not None:
        if not _marks_ok(marks):
            problems.append(
                f"{where}: '{IMPORTED_KEY}' must map lower-case names to text (marks of another "
                "system, e.g. REDCap's form status)"
            )
        elif marks:
            out[IMPORTED_KEY] = dict(sorted(marks.items()))
    return out, problems


#: Mark names that matched ``_MARK`` (an import repeats one name on every record; bounded).
_GOOD_MARKS: set[str] = set()


def _marks_ok(marks: object) -> TypeGuard[Mapping[str, str]]:
    """Whether ``marks`` maps lower-case names (``_MARK``) to text."""
    if not isinstance(marks, Mapping):
        return False
    for name, text in marks.items():
        if not isinstance(text, str):
            return False
        if type(name) is str and name in _GOOD_MARKS:
            continue
        if not isinstance(name, str) or not _MARK.match(name):
            return False
        if type(name) is str and len(_GOOD_MARKS) < 1024:
            _GOOD_MARKS.add(name)
    return True
