"""The instrument registry: one entry per instrument, read by derive, score and the docs."""

from __future__ import annotations

import pytest

from clestudy.instruments import (
    INSTRUMENT_FIELDS,
    INSTRUMENT_VERSIONS,
    INSTRUMENTS,
    SCORE_INSTRUMENTS,
    InputSpec,
    InstrumentInputError,
    instrument_inputs,
)


def test_instrument_inputs_give_the_allowed_values_of_each_item() -> None:
    clasi = instrument_inputs("clasi")
    # Albrecht 2005: scalp scarring is 0 or 3-6 (one to four quadrants); there is no 1 or 2.
    assert clasi["scalp_scarring"] == InputSpec("integer", allowed=(0, 3, 4, 5, 6))
    assert clasi["nose_erythema"].allowed == (0, 1, 2, 3)
    assert clasi["dyspigmentation_12_months"].type == "boolean"
    assert "scalp_scarring" in clasi and "scalp_scarring_" not in clasi
    assert tuple(clasi) == INSTRUMENT_FIELDS["clasi"]
    sledai = instrument_inputs("sledai2k")
    assert sledai["arthritis_joint_count"] == InputSpec("integer", minimum=0)
    assert tuple(sledai) == INSTRUMENT_FIELDS["sledai2k"]


def test_instrument_inputs_of_a_score_only_instrument_are_its_json_keys() -> None:
    crcl = instrument_inputs("crcl")
    assert crcl["sex"].allowed == ("F", "M", "female", "male")
    assert crcl["creatinine_unit"].required


def test_instrument_inputs_is_a_copy() -> None:
    instrument_inputs("clasi").clear()
    assert instrument_inputs("clasi")


def test_unknown_instrument_lists_the_registered_ones() -> None:
    with pytest.raises(
        InstrumentInputError,
        match=r"^instrument: got 'bilag'; allowed: clasi, crcl, ctcae, ctcaelabs, prednisone-equivalent "
        r"or sledai2k$",
    ):
        instrument_inputs("bilag")


def test_derive_and_score_read_the_registry() -> None:
    assert tuple(INSTRUMENTS) == SCORE_INSTRUMENTS
    assert dict(INSTRUMENT_VERSIONS) == {
        name: entry.version for name, entry in INSTRUMENTS.items() if entry.derive is not None
    }


@pytest.mark.parametrize(
    ("spec", "value", "accepted"),
    [
        (InputSpec("integer", allowed=(0, 3)), 3, True),
        (InputSpec("integer", allowed=(0, 3)), True, False),
        (InputSpec("integer", minimum=0), -1, False),
        (InputSpec("decimal", minimum=0, exclusive_minimum=True), 0, False),
        (InputSpec("decimal", maximum=140, exclusive_maximum=True), 139.9, True),
        (InputSpec("decimal", maximum=140, exclusive_maximum=True), 140, False),
        (InputSpec("boolean"), 1, False),
        (InputSpec("decimal"), float("inf"), False),
        (InputSpec("decimal"), float("nan"), False),
        (InputSpec("text", allowed=("F", "M")), "F", True),
        (InputSpec("object"), {"nose": {}}, True),
    ],
)
def test_input_spec_accepts(spec: InputSpec, value: object, accepted: bool) -> None:
    assert spec.accepts(value) is accepted


def test_input_spec_describe() -> None:
    assert InputSpec("decimal", minimum=0, exclusive_minimum=True, unit="kg").describe() == (
        "a number > 0 kg"
    )
    assert InputSpec("integer", minimum=0).describe() == "an integer >= 0"
    assert InputSpec("text", allowed=("mg/dL", "umol/L")).describe() == "mg/dL or umol/L"
