"""Protocol validation at load: settings, duplicated keys, YAML limits, every error at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.errors import ProtocolError
from clestudy.instruments._settings import SETTINGS, settings_problems
from clestudy.protocol import Protocol, load_protocol, parse_protocol
from clestudy.protocol._yaml import MAX_DEPTH, MAX_NODES, MAX_PROTOCOL_BYTES

BASE = """\
id: bad
title: Bad
version: "1"
arms: [{id: a, name: A}]
sites: [{id: s, name: S}]
visits: [{id: v0, name: V0, day: 0, forms: [dm]}]
forms:
  - id: dm
    name: Demographics
    fields:
      - id: sex
        label: Sex
        type: single_choice
        cdash: SEX
        choices: [{code: F, label: Female}, {code: M, label: Male}]
"""

# Every kind of bad setting, a duplicated key and a non-CDISC sex code, in one file.
EVERY_KIND_OF_BAD = (
    BASE.replace("{code: M, label: Male}", "{code: male, label: Male}")
    + """\
settings:
  ctcae_version: "7.0"
  clasi_response_rule: 5-point
  ctcae_versoin: "5.0"
  sledai2k_window_days: 20
  betamethasone_mg_per_5mg_prednisone: -1
  reason_for_change_required: maybe
  cbc_schedule: [mds]
title: Bad twice
"""
)


def test_every_problem_is_reported_at_once_naming_file_and_line() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(EVERY_KIND_OF_BAD, "bad.yaml")
    lines = str(caught.value).splitlines()
    assert lines == [
        "bad.yaml:2: title: key 'title' is given twice (lines 2 and 24)",
        "bad.yaml:17: settings.ctcae_version: ctcae: ctcae_version: got '7.0'; allowed: 5.0 or 6.0",
        "bad.yaml:18: settings.clasi_response_rule: clasi: clasi_response_rule: got '5-point'; "
        "allowed: 4-point, 20-percent, 50-percent or 4-point-or-20-percent",
        "bad.yaml:19: settings.ctcae_versoin: unknown setting 'ctcae_versoin' "
        "(did you mean 'ctcae_version'?); see docs/instruments.md",
        "bad.yaml:20: settings.sledai2k_window_days: sledai2k: sledai2k_window_days: got 20; "
        "allowed: 10 or 30",
        "bad.yaml:21: settings.betamethasone_mg_per_5mg_prednisone: steroids: "
        "betamethasone_mg_per_5mg_prednisone: got -1; allowed: a number > 0 mg",
        "bad.yaml:22: settings.reason_for_change_required: store: reason_for_change_required: "
        "got 'maybe'; allowed: true or false",
        "bad.yaml:23: settings.cbc_schedule: must be text, a number or true/false",
    ]


def test_protocol_check_cli_reports_every_problem_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(EVERY_KIND_OF_BAD, encoding="utf-8")
    code = main(["protocol", "check", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {path}:2: title: key 'title' is given twice")
    for key in ("ctcae_version", "clasi_response_rule", "ctcae_versoin", "sledai2k_window_days"):
        assert f"{path}:" in err and f"settings.{key}:" in err
    assert "Traceback" not in err
    # Once the settings are fixed, the cross-reference checks run and find the sex code.
    fixed = BASE.replace("{code: M, label: Male}", "{code: male, label: Male}")
    path.write_text(fixed, encoding="utf-8")
    assert main(["protocol", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "forms[0].fields[0]: field 'sex' (CDASH SEX) must be a single choice of the CDISC" in err
    assert "got ['male']" in err


def test_a_quoted_version_is_suggested_for_a_number() -> None:
    with pytest.raises(
        ProtocolError, match=r"got 5\.0; allowed: 5\.0 or 6\.0 \(write it in quotes"
    ):
        parse_protocol(BASE + "settings:\n  ctcae_version: 5.0\n", "p.yaml")


def test_valid_settings_load_and_defaults_come_from_the_instruments() -> None:
    text = BASE + "settings:\n  ctcae_version: '6.0'\n  sledai2k_window_days: 30\n"
    assert parse_protocol(text, "p.yaml").settings == {
        "ctcae_version": "6.0",
        "sledai2k_window_days": 30,
    }
    from clestudy.instruments import DEFAULT_ABNORMAL_BASELINE_ARM, DEFAULT_CTCAE_VERSION

    assert SETTINGS["ctcae_version"].default == DEFAULT_CTCAE_VERSION
    assert SETTINGS["ctcae_abnormal_baseline_arm"].default == DEFAULT_ABNORMAL_BASELINE_ARM
    for spec in SETTINGS.values():
        assert settings_problems({spec.name: spec.default}) == [], spec.name
        assert spec.source, spec.name
        for choice in spec.choices:
            assert settings_problems({spec.name: choice}) == [], (spec.name, choice)


def test_settings_are_checked_outside_yaml_too() -> None:
    p = load_protocol("pediatric-cle-chart-review")
    data = p.model_dump()
    data["settings"] = {"clasi_response_rule": "5-point"}
    with pytest.raises(ValueError, match=r"clasi_response_rule: clasi: clasi_response_rule"):
        Protocol.model_validate(data)


def test_a_duplicated_key_deep_inside_names_both_lines() -> None:
    text = BASE.replace("        label: Sex\n", "        label: Sex\n        label: Gender\n")
    with pytest.raises(ProtocolError, match=r"^p\.yaml:12: forms\[0\]\.fields\[0\]\.label: key "):
        parse_protocol(text, "p.yaml")
    with pytest.raises(ProtocolError, match=r"given twice \(lines 12 and 13\)"):
        parse_protocol(text, "p.yaml")


def _billion_laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    text = _billion_laughs(9)  # ~470 bytes standing for 9^9 strings
    assert len(text) < 600
    with pytest.raises(ProtocolError, match=rf"^bomb\.yaml: aliases .* more than {MAX_NODES}"):
        parse_protocol(text, "bomb.yaml")


def test_a_few_aliases_are_fine() -> None:
    text = BASE.replace(
        "choices: [{code: F, label: Female}, {code: M, label: Male}]",
        "choices: &sex [{code: F, label: Female}, {code: M, label: Male}]",
    )
    assert parse_protocol(text, "p.yaml").forms[0].fields[0].choices[1].code == "M"


@pytest.mark.parametrize("opener", ["[", "{a: ", "- "])
def test_deep_nesting_is_refused_not_a_recursion_error(opener: str) -> None:
    text = opener * 10_000
    with pytest.raises(ProtocolError, match=rf"^deep\.yaml:\d+: nested more than {MAX_DEPTH}"):
        parse_protocol(text, "deep.yaml")


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("#" * (MAX_PROTOCOL_BYTES + 1), encoding="utf-8")
    with pytest.raises(ProtocolError, match=rf"huge\.yaml: {MAX_PROTOCOL_BYTES + 1} bytes; a"):
        load_protocol(path)
    with pytest.raises(ProtocolError, match="a protocol may be at most"):
        parse_protocol("#" * (MAX_PROTOCOL_BYTES + 1), "text.yaml")


def test_builtin_protocols_use_cdisc_sex_codes() -> None:
    for name in ("lenalidomide-cle-open-label", "pediatric-cle-chart-review"):
        dm = load_protocol(name).form("dm")
        assert dm is not None
        sex = dm.field("sex")
        assert sex is not None and sex.cdash == "SEX"
        assert {c.code for c in sex.choices} <= {"F", "M", "U"}


CLASI_FORM = BASE.replace(
    "visits: [{id: v0, name: V0, day: 0, forms: [dm]}]",
    "visits: [{id: v0, name: V0, day: 0, forms: [dm, clasi]}]",
) + (
    "  - id: clasi\n"
    "    name: CLASI\n"
    "    fields:\n"
    "      - {id: scalp_scarring, label: Scalp scarring, type: integer, min: 0, max: 6}\n"
    "      - {id: mucous_membrane, label: Mucous membrane, type: text}\n"
    "      - {id: nose_erythema, label: Nose erythema, type: integer, min: 0, max: 3}\n"
    "derived_scores: [{id: clasi, instrument: clasi, form: clasi}]\n"
)


def test_a_field_must_not_allow_what_its_instrument_refuses() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_protocol(CLASI_FORM, "c.yaml")
    assert str(caught.value).splitlines() == [
        "c.yaml:19: forms[1].fields[0]: field 'scalp_scarring' allows [1, 2]; instrument 'clasi' "
        "accepts only 0, 3, 4, 5 or 6 for it",
        "c.yaml:20: forms[1].fields[1]: field 'mucous_membrane' is a text field; instrument "
        "'clasi' accepts only 0 or 1 for it",
    ]
    fixed = CLASI_FORM.replace("max: 6}", "max: 6, allowed: [0, 3, 4, 5, 6]}").replace(
        "type: text}", "type: integer, min: 0, max: 1}"
    )
    assert parse_protocol(fixed, "c.yaml").derived_scores[0].instrument == "clasi"


def test_an_unknown_instrument_is_refused_at_load() -> None:
    text = CLASI_FORM.replace("instrument: clasi,", "instrument: clasy,")
    with pytest.raises(ProtocolError, match=r"derived_scores\[0\]\.instrument: .*'clasy'"):
        parse_protocol(text, "c.yaml")


def test_allowed_values_apply_to_integer_fields_within_min_max() -> None:
    text = CLASI_FORM.replace("max: 6}", "max: 6, allowed: [0, 3, 7]}")
    with pytest.raises(ProtocolError, match=r"allowed values \[7\] are outside min/max"):
        parse_protocol(text, "c.yaml")
    text = BASE.replace("cdash: SEX\n", "cdash: SEX\n        allowed: [1]\n")
    with pytest.raises(ProtocolError, match="allowed values apply only to integer fields"):
        parse_protocol(text, "c.yaml")


def test_builtin_clasi_scalp_scarring_refuses_1_and_2_naming_the_field() -> None:
    from clestudy.errors import RecordValidationError
    from clestudy.protocol import validate_values

    form = load_protocol("lenalidomide-cle-open-label").form("clasi")
    assert form is not None
    assert validate_values(form, {"scalp_scarring": 3}, where="L01/week_0/clasi") == {
        "scalp_scarring": 3
    }
    with pytest.raises(
        RecordValidationError,
        match=r"^L01/week_0/clasi: field 'scalp_scarring': 2 is not one of the allowed values "
        r"0, 3, 4, 5, 6$",
    ):
        validate_values(form, {"scalp_scarring": 2}, where="L01/week_0/clasi")


def test_a_save_reports_every_field_error_at_once() -> None:
    from clestudy.errors import RecordValidationError
    from clestudy.protocol import check_values, validate_values

    form = load_protocol("lenalidomide-cle-open-label").form("ae")
    assert form is not None
    values = {"aeterm": "Rash", "aetoxgr": 7, "aeser": "perhaps", "colour": "red"}
    with pytest.raises(RecordValidationError) as caught:
        validate_values(form, values, where="L01/week_6/ae#1")
    assert str(caught.value).splitlines() == [
        "L01/week_6/ae#1: 'colour' is not a field of form 'ae' (fields: aeterm, aestdat, "
        "aeendat, aetoxgr, aeser, aerel, aeout, aeacn)",
        "L01/week_6/ae#1: field 'aestdat' is required",
        "L01/week_6/ae#1: field 'aetoxgr': 7 is out of range; allowed 1 to 5",
        "L01/week_6/ae#1: field 'aeser': 'perhaps' is not a boolean (true/false)",
    ]
    kept, problems = check_values(form, {"aeterm": "Rash"}, where="x", require=False)
    assert (kept, problems) == ({"aeterm": "Rash"}, [])


LABS = BASE.replace(
    "visits: [{id: v0, name: V0, day: 0, forms: [dm]}]",
    "visits: [{id: v0, name: V0, day: 0, forms: [dm, labs]}]",
) + (
    "  - id: labs\n"
    "    name: Labs\n"
    "    fields:\n"
    "      - {id: alt, label: ALT, type: decimal, unit: U/L, min: 0}\n"
    "      - {id: note, label: Note, type: text}\n"
    "reference_ranges:\n"
    "  - {form: labs, field: alt, unit: U/L, uln: 33, sex: F, source: Site lab 2024}\n"
    "  - {form: labs, field: alt, unit: U/L, uln: 40, age_min: 18, source: Site lab 2024}\n"
    "  - {form: labs, field: alt, unit: U/L, uln: 45, source: Site lab 2024}\n"
)


def test_reference_ranges_pick_the_first_that_applies() -> None:
    p = parse_protocol(LABS, "l.yaml")
    female = p.reference_range("labs", "alt", sex="F", age=30)
    adult_male = p.reference_range("labs", "alt", sex="M", age=30)
    child = p.reference_range("labs", "alt", sex="M", age=12)
    assert female is not None and female.uln == 33
    assert adult_male is not None and adult_male.uln == 40
    assert child is not None and child.uln == 45
    assert p.reference_range("labs", "ast") is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("field: alt, unit: U/L, uln: 45", "field: alt, unit: IU/L, uln: 45",
         r"l\.yaml:24: reference_ranges\[2\]\.unit: 'IU/L' is not the unit of field 'alt' \(U/L\)"),
        ("field: alt, unit: U/L, uln: 45", "field: note, unit: U/L, uln: 45",
         r"reference_ranges\[2\]\.field: 'note' is not a numeric field of form 'labs'"),
        ("{form: labs, field: alt, unit: U/L, uln: 45", "{form: lab, field: alt, unit: U/L, uln: 45",
         r"reference_ranges\[2\]\.form: unknown form 'lab'"),
        ("uln: 45", "uln: 45, lln: 50", r"reference_ranges\[2\]: lln 50 must be below uln 45"),
        ("uln: 45", "lln: .nan", r"reference_ranges\[2\]\.lln: Input should be a finite number"),
        ("uln: 45", "age_max: 3", r"reference_ranges\[2\]: a reference range needs lln, uln"),
        ("uln: 45", "uln: 40, age_min: 18", r"reference_ranges\[2\]: the same range as reference_"),
    ],
)  # fmt: skip
def test_reference_ranges_are_validated_at_load(old: str, new: str, message: str) -> None:
    assert old in LABS
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(LABS.replace(old, new), "l.yaml")
