"""The field-type registry: one entry per field type, used by records, rules and exporters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import get_args

import pytest

from clestudy.errors import RecordValidationError
from clestudy.protocol import FIELD_TYPES, FieldSpec, FieldType


def test_every_field_type_has_one_entry() -> None:
    assert set(FIELD_TYPES) == set(get_args(FieldType))
    assert all(name == spec.name for name, spec in FIELD_TYPES.items())
    assert {n for n, s in FIELD_TYPES.items() if s.numeric} == {"integer", "decimal"}


@pytest.mark.parametrize(
    ("field", "raw", "stored", "typed"),
    [
        ({"type": "integer", "min": 0, "max": 10}, " 7", 7, 7),
        ({"type": "decimal"}, 1.1, "1.1", Decimal("1.1")),
        ({"type": "decimal"}, "2.50", "2.50", Decimal("2.50")),
        ({"type": "date"}, dt.date(2024, 2, 29), "2024-02-29", dt.date(2024, 2, 29)),
        ({"type": "boolean"}, "yes", True, True),
        ({"type": "text"}, "Cafe\u0301", "Caf\u00e9", "Caf\u00e9"),
        (
            {"type": "multiple_choice", "choices": [{"code": "a", "label": "A"}, {"code": "b", "label": "B"}]},
            ["b", "a"],
            ["a", "b"],
            ("a", "b"),
        ),
    ],
)  # fmt: skip
def test_parse_stores_canonically_and_rules_see_typed_values(
    field: dict[str, object], raw: object, stored: object, typed: object
) -> None:
    spec = FieldSpec.model_validate({"id": "x", "label": "X", **field})
    entry = FIELD_TYPES[spec.type]
    assert entry.parse(spec, raw, "R") == stored
    assert entry.typed(stored) == typed
    sample = entry.sample(spec)
    assert entry.typed(sample) == sample, "a sample is already what a rule sees"


def test_parse_errors_name_the_record_and_field() -> None:
    spec = FieldSpec.model_validate({"id": "n", "label": "N", "type": "integer"})
    with pytest.raises(RecordValidationError, match=r"^R: field 'n': '²' is not an integer$"):
        FIELD_TYPES["integer"].parse(spec, "²", "R")


def test_export_names_are_those_of_redcap_and_odm() -> None:
    # REDCap data dictionary field types and validations; ODM 1.3.2 ItemDef DataType values.
    redcap_types = {"text", "yesno", "radio", "checkbox"}
    odm_types = {"integer", "float", "text", "date", "boolean"}
    for entry in FIELD_TYPES.values():
        assert entry.redcap[0] in redcap_types
        assert entry.odm in odm_types


@pytest.mark.parametrize(
    ("low", "high"),
    [(0, 10), (0.5, 9.5), (-0.5, 0.1), (1e23, 1e23), (-1e23, 2.0), (None, 3.0), (-3.0, None),
     (float("-inf"), float("inf"))],
)  # fmt: skip
def test_integer_range_agrees_with_the_decimal_the_limit_reads_as(
    low: float | None, high: float | None
) -> None:
    # The integer path compares with integer ceilings and floors of the limits; the rule is that
    # of a decimal value: the limit as the decimal its text reads as (1e23 is 10**23 exactly, not
    # the binary float 99999999999999991611392).
    spec = FieldSpec.model_validate(
        {"id": "n", "label": "N", "type": "integer", "min": low, "max": high}
    )
    lo = None if low is None else Decimal(str(low))
    hi = None if high is None else Decimal(str(high))
    near = {-11, -1, 0, 1, 3, 4, 9, 10, 11, 10**23 - 1, 10**23, 10**23 + 1, -(10**23)}
    for n in sorted(near | {99999999999999991611392}):
        inside = (lo is None or n >= lo) and (hi is None or n <= hi)
        if inside:
            assert FIELD_TYPES["integer"].parse(spec, n, "R") == n
        else:
            with pytest.raises(RecordValidationError, match=r"^R: field 'n': .* is out of range"):
                FIELD_TYPES["integer"].parse(spec, n, "R")
