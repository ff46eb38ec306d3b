"""Show-if: which fields a record's values hide, and the checks when a protocol loads."""

from __future__ import annotations

import json

import pytest

from clestudy.errors import ProtocolError
from clestudy.protocol import FormSpec, check_values, hidden_fields, load_protocol, parse_protocol

MINI = """\
id: mini
title: Minimal study
version: "1"
arms: [{id: a, name: Arm A}]
sites: [{id: s1, name: Site 1}]
visits: [{id: v0, name: Baseline, day: 0, forms: [f]}]
forms:
  - id: f
    name: Form
    fields:
      - {id: sex, label: Sex, type: single_choice, choices: [{code: F, label: F}, {code: M, label: M}]}
      - {id: pregnant, label: Pregnant, type: boolean, show_if: SHOW_PREGNANT}
      - {id: weeks, label: Weeks, type: integer, required: true, show_if: SHOW_WEEKS}
      - {id: signs, label: Signs, type: multiple_choice, choices: [{code: a, label: A}, {code: b, label: B}]}
      - {id: note, label: Note, type: text, show_if: SHOW_NOTE}
"""


def _mini(
    pregnant: str = "sex == 'F'", weeks: str = "pregnant == True", note: str = "'b' not in signs"
) -> str:
    return (
        MINI.replace("SHOW_PREGNANT", json.dumps(pregnant))
        .replace("SHOW_WEEKS", json.dumps(weeks))
        .replace("SHOW_NOTE", json.dumps(note))
    )


def _form(text: str) -> FormSpec:
    form = parse_protocol(text, "mini.yaml").form("f")
    assert form is not None
    return form


FORM = _form(_mini())


def test_a_field_shows_only_while_its_condition_holds() -> None:
    assert list(hidden_fields(FORM, {"sex": "F", "pregnant": True, "weeks": 10})) == []
    assert hidden_fields(FORM, {"sex": "M"}) == {
        "pregnant": "sex == 'F'",
        "weeks": "pregnant == True",
    }


def test_a_hidden_field_reads_as_empty_so_show_ifs_chain() -> None:
    # weeks reads pregnant, which sex hides: pregnant's stale True does not show weeks
    assert list(hidden_fields(FORM, {"sex": "M", "pregnant": True, "weeks": 3})) == [
        "pregnant",
        "weeks",
    ]


def test_a_condition_on_a_blank_field_hides_unless_it_holds_on_blank() -> None:
    # sex blank: None == 'F' is false; an empty multiple choice reads as no box ticked
    assert list(hidden_fields(FORM, {})) == ["pregnant", "weeks"]
    assert "note" not in hidden_fields(FORM, {"signs": ["a"]})
    assert "note" in hidden_fields(FORM, {"signs": ["a", "b"]})
    # an ordering on a blank cannot be evaluated: the field stays hidden
    form = _form(_mini(note="weeks > 3"))
    assert "note" in hidden_fields(form, {"sex": "F", "pregnant": True})
    assert "note" not in hidden_fields(form, {"sex": "F", "pregnant": True, "weeks": 5})


def test_entered_text_is_read_as_validation_parses_it() -> None:
    # what a web form posts: booleans and numbers as text
    assert hidden_fields(FORM, {"sex": "F", "pregnant": "true", "weeks": "12"}) == {}
    assert list(hidden_fields(FORM, {"sex": "F", "pregnant": "no"})) == ["weeks"]


def test_a_show_if_naming_no_field_of_the_form_is_ignored_outside_the_loader() -> None:
    # a protocol built in code skips the loader's checks; such a condition never hides a field
    renamed = FORM.model_copy(
        update={"fields": tuple(f.model_copy(update={"id": f"x_{f.id}"}) for f in FORM.fields)}
    )
    assert hidden_fields(renamed, {"x_sex": "M"}) == {}


def test_a_value_that_does_not_fit_its_field_reads_as_empty() -> None:
    assert "pregnant" in hidden_fields(FORM, {"sex": ["not", "a", "code"]})


def test_check_values_refuses_a_value_for_a_hidden_field_naming_why() -> None:
    _, problems = check_values(FORM, {"sex": "M", "pregnant": "true"}, where="P1/v0/f")
    assert problems == [
        "P1/v0/f: field 'pregnant' is hidden because its show-if (sex == 'F') is false; a "
        "hidden field holds no value, leave it blank"
    ]


def test_a_hidden_required_field_is_not_required() -> None:
    values, problems = check_values(FORM, {"sex": "M"}, where="P1/v0/f")
    assert (values, problems) == ({"sex": "M"}, [])
    _, problems = check_values(FORM, {"sex": "F", "pregnant": "true"}, where="P1/v0/f")
    assert problems == ["P1/v0/f: field 'weeks' is required"]


def test_an_empty_multiple_choice_in_a_hidden_field_is_no_value() -> None:
    form = _form(_mini(note="sex == 'F'").replace("id: note, label: Note, type: text",
                 "id: note, label: Note, type: multiple_choice, choices: [{code: x, label: X}]"))  # fmt: skip
    assert check_values(form, {"sex": "M", "note": []}, where="w") == ({"sex": "M"}, [])


@pytest.mark.parametrize(
    ("pregnant", "weeks", "message"),
    [
        (
            "sexx == 'F'",
            "pregnant == True",
            r"mini\.yaml:12: forms\[0\]\.fields\[1\]\.show_if: form 'f', field 'pregnant': "
            r"show_if \"sexx == 'F'\": unknown name 'sexx' \(not a field of the form\)",
        ),
        ("sex ==", "pregnant == True", r"field 'pregnant': show_if 'sex ==': not a valid"),
        (
            "pregnant == True",
            "pregnant == True",
            r"field 'pregnant': show_if 'pregnant == True': a field cannot be shown or hidden "
            r"by its own value",
        ),
        (
            "weeks > 3",
            "pregnant == True",
            r"field 'pregnant': show_if 'weeks > 3': show-ifs depend on each other "
            r"\(pregnant -> weeks -> pregnant\)",
        ),
        ("sex", "pregnant == True", r"field 'pregnant': show_if 'sex': must give true or false"),
        (
            "sex > 3",
            "pregnant == True",
            r"show_if 'sex > 3': cannot be evaluated on values of the fields' types",
        ),
        ("today > sex", "pregnant == True", r"unknown name 'today'"),
    ],
)
def test_bad_show_ifs_fail_when_the_protocol_loads(pregnant: str, weeks: str, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_protocol(_mini(pregnant, weeks), "mini.yaml")


def test_an_input_of_a_derived_score_cannot_be_hidden() -> None:
    data = json.loads(load_protocol("lenalidomide-cle-open-label").model_dump_json())
    clasi = next(f for f in data["forms"] if f["id"] == "clasi")
    clasi["fields"][1]["show_if"] = "rsdat != None"  # scalp_erythema, a CLASI input
    with pytest.raises(
        ProtocolError,
        match=r"field 'scalp_erythema': show_if 'rsdat != None': the field is an input of the "
        r"derived score 'clasi'",
    ):
        parse_protocol(json.dumps(data), "open-label.json")


def test_the_builtin_ae_end_date_shows_unless_the_outcome_is_ongoing() -> None:
    for name in ("lenalidomide-cle-open-label", "pediatric-cle-chart-review"):
        ae = load_protocol(name).form("ae")
        assert ae is not None
        assert list(hidden_fields(ae, {"aeout": "NOT RECOVERED/NOT RESOLVED"})) == ["aeendat"]
        assert list(hidden_fields(ae, {"aeout": "RECOVERING/RESOLVING"})) == ["aeendat"]
        for outcome in (None, "RECOVERED/RESOLVED", "FATAL", "UNKNOWN"):
            assert hidden_fields(ae, {"aeout": outcome}) == {}
