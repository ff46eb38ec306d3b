"""Record validation: normalisation per field type and one-line errors naming field and range."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clestudy.errors import RecordValidationError
from clestudy.protocol import FormSpec, load_protocol, validate_values

PED = load_protocol("pediatric-cle-chart-review")


def _form(form_id: str) -> FormSpec:
    form = PED.form(form_id)
    if form is None:
        raise LookupError(f"pediatric-cle-chart-review has no form {form_id!r}")
    return form


LABS = _form("labs")
DM = _form("dm")
SKIN = _form("skin")
AE = _form("ae")
WHERE = "P01/initiation/labs"


def test_signed_integer_text_and_exponent_decimals_are_normalised() -> None:
    out = validate_values(LABS, {"lbdat": "2011-03-01", "esr": "+26", "lym": "9e-1"}, where=WHERE)
    assert out == {"lbdat": "2011-03-01", "esr": 26, "lym": "0.9"}


def test_types_are_normalised_for_storage() -> None:
    out = validate_values(
        LABS,
        {"lbdat": dt.date(2011, 3, 1), "esr": "26", "lym": 0.9, "hgb": "11.50", "c3": None},
        where=WHERE,
    )
    assert out == {"lbdat": "2011-03-01", "esr": 26, "lym": "0.9", "hgb": "11.50"}


def test_choices_are_checked_and_multiple_choice_kept_in_protocol_order() -> None:
    out = validate_values(
        SKIN, {"skin_manifestations": ["discoid", "alopecia"]}, where="P01/initiation/skin"
    )
    assert out == {"skin_manifestations": ["alopecia", "discoid"]}
    with pytest.raises(
        RecordValidationError,
        match=r"^P01/initiation/skin: field 'skin_manifestations': 'none' cannot be chosen with "
        r"\['alopecia'\]$",
    ):
        validate_values(SKIN, {"skin_manifestations": ["none", "alopecia"]}, where="P01/initiation/skin")  # fmt: skip
    assert validate_values(SKIN, {"skin_manifestations": ["none"]}, where="x") == {
        "skin_manifestations": ["none"]
    }
    with pytest.raises(RecordValidationError, match=r"\['scales'\] not among the allowed codes"):
        validate_values(SKIN, {"skin_manifestations": ["scales"]}, where="P01/initiation/skin")
    with pytest.raises(
        RecordValidationError, match=r"field 'sex': 'X' is not one of the allowed codes"
    ):
        validate_values(DM, {"age": 16, "sex": "X"}, where="P01/initiation/dm")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"lbdat": "2011-03-01", "esr": 201},
            r"field 'esr': 201 is out of range; allowed 0 to 200 mm/h$",
        ),
        ({"lbdat": "2011-03-01", "esr": -1}, r"field 'esr': -1 is out of range"),
        ({"lbdat": "2011-03-01", "esr": 2.5}, r"field 'esr': 2\.5 is not an integer"),
        ({"lbdat": "2011-03-01", "esr": True}, r"field 'esr': True is not an integer"),
        ({"lbdat": "2011-03-01", "lym": "low"}, r"field 'lym': 'low' is not a decimal number"),
        ({"lbdat": "2011-03-01", "lym": "nan"}, r"field 'lym': 'nan' is not a finite decimal"),
        # str.isdigit() accepts these, int() does not: they must be refused, not crash
        ({"lbdat": "2011-03-01", "esr": "--5"}, r"field 'esr': '--5' is not an integer"),
        ({"lbdat": "2011-03-01", "esr": "²"}, r"field 'esr': '²' is not an integer"),
        ({"lbdat": "2011-03-01", "esr": "9" * 5000}, r"field 'esr': '9+' is not an integer"),
        # in range, but a million characters as fixed-point text
        (
            {"lbdat": "2011-03-01", "lym": "1e-999999"},
            r"field 'lym': '1e-999999' is not a decimal number of at most 40 digits",
        ),
        ({"lbdat": "01/03/2011"}, r"field 'lbdat': '01/03/2011' is not a date \(YYYY-MM-DD\)"),
        ({"esr": 20}, r"field 'lbdat' is required"),
        ({"lbdat": "2011-03-01", "esr_mm": 20}, r"'esr_mm' is not a field of form 'labs'"),
    ],
)
def test_bad_values_name_record_field_and_rule(values: dict[str, object], message: str) -> None:
    with pytest.raises(RecordValidationError, match=rf"^P01/initiation/labs: .*{message}"):
        validate_values(LABS, values, where=WHERE)


def test_boolean_accepts_only_clear_answers() -> None:
    ok = {"aeterm": "Pyelonephritis", "aestdat": "2011-05-01", "aetoxgr": 3}
    assert validate_values(AE, {**ok, "aeser": "yes"}, where="w")["aeser"] is True
    with pytest.raises(RecordValidationError, match="is not a boolean"):
        validate_values(AE, {**ok, "aeser": "maybe"}, where="w")


@given(st.integers(min_value=-1000, max_value=1000))
def test_integer_range_is_exact(value: int) -> None:
    values = {"lbdat": "2011-03-01", "esr": value}
    if 0 <= value <= 200:
        assert validate_values(LABS, values, where=WHERE)["esr"] == value
    else:
        with pytest.raises(RecordValidationError, match="out of range"):
            validate_values(LABS, values, where=WHERE)


@given(st.decimals(min_value=-10, max_value=200, allow_nan=False, places=3))
def test_decimal_round_trips_as_entered_text(value: object) -> None:
    text = str(value)
    values = {"lbdat": "2011-03-01", "lym": text}
    if float(text) < 0 or float(text) > 100:
        with pytest.raises(RecordValidationError, match="out of range"):
            validate_values(LABS, values, where=WHERE)
    else:
        stored = validate_values(LABS, values, where=WHERE)["lym"]
        assert isinstance(stored, str) and float(stored) == float(text)


def test_exclusive_choices_belong_to_multiple_choice_fields_only() -> None:
    from pydantic import ValidationError

    from clestudy.protocol import FieldSpec

    with pytest.raises(ValidationError, match=r"field 'sex': exclusive choices apply only to multiple_choice"):  # fmt: skip
        FieldSpec.model_validate(
            {"id": "sex", "label": "Sex", "type": "single_choice",
             "choices": [{"code": "F", "label": "F", "exclusive": True}]}
        )  # fmt: skip
