"""``check_values``'s per-form checks and per-field parse memo (``protocol._records``) give the
results of parsing every value afresh, and never serve one form's answer to another."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.protocol import FieldSpec, FormSpec, _records, check_values
from clestudy.protocol import _builtin_checks as _builtin
from clestudy.protocol._missing_codes import check_reserved
from clestudy.protocol._model import Choice

_CHOICES = (Choice(code="a", label="A"), Choice(code="b", label="B"))
_FIELDS = (
    FieldSpec(id="n", label="n", type="integer", min=0, max=100),
    FieldSpec(id="k", label="k", type="integer", allowed=(0, 3, 5)),
    FieldSpec(id="d", label="d", type="decimal", min=-1.5, max=2.25),
    FieldSpec(id="t", label="t", type="text"),
    FieldSpec(id="day", label="day", type="date"),
    FieldSpec(id="flag", label="flag", type="boolean"),
    FieldSpec(id="one", label="one", type="single_choice", choices=_CHOICES),
    FieldSpec(id="many", label="many", type="multiple_choice", choices=_CHOICES),
)
FORM = FormSpec(id="f", name="f", fields=_FIELDS)

_raw = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-5, max_value=120)
    | st.floats(min_value=-3, max_value=130, allow_nan=False)
    | st.sampled_from(
        [
            "",
            " 7 ",
            "7",
            "1.0",
            "2.25",
            "x",
            "a",
            "b",
            "1",
            "0",
            "true",
            "yes",
            "2026-02-30",
            "2026-01-02",
            " 2026-01-02 ",
            "e\u0301",
        ]
    )
    | st.lists(st.sampled_from(["a", "b", "c"]), max_size=3)
)
_records_values = st.fixed_dictionaries({}, optional={f.id: _raw for f in _FIELDS})


def _fresh(form: FormSpec) -> FormSpec:
    """A copy of ``form`` with a new fields tuple: its own, empty memo."""
    fresh = form.model_copy(update={"fields": tuple(list(form.fields))})
    assert fresh.fields is not form.fields
    return fresh


def _typed(result: tuple[dict[str, Any], list[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    values, problems = result
    return [(k, repr(v)) for k, v in values.items()], problems  # 1 and True differ here


@settings(max_examples=400, derandomize=True)
@given(_records_values, _records_values)
def test_the_memo_gives_what_a_fresh_parse_gives(
    first: dict[str, Any], then: dict[str, Any]
) -> None:
    remembered = [_typed(check_values(FORM, v, where="P01/f")) for v in (first, then)]
    with mock.patch.object(_records, "MEMO_SIZE", 0):  # nothing remembered: every value parsed
        fresh = [_typed(check_values(_fresh(FORM), v, where="P01/f")) for v in (first, then)]
    assert remembered == fresh


def test_equal_raw_values_of_other_types_are_parsed_each() -> None:
    form = _fresh(FORM)
    assert check_values(form, {"n": 1}, where="w", require=False) == ({"n": 1}, [])
    values, problems = check_values(form, {"n": True}, where="w", require=False)
    assert values == {} and problems == ["w: field 'n': True is not an integer"]
    assert check_values(form, {"n": 1.0}, where="w", require=False) == ({"n": 1}, [])
    assert check_values(form, {"flag": True}, where="w", require=False) == ({"flag": True}, [])
    values, problems = check_values(form, {"flag": 1}, where="w", require=False)
    assert values == {"flag": True} and type(values["flag"]) is bool and problems == []


def test_a_refused_value_is_refused_again_naming_each_record() -> None:
    form = _fresh(FORM)
    for where in ("P01/f", "P02/f"):
        _, problems = check_values(form, {"n": "200"}, where=where, require=False)
        assert problems == [f"{where}: field 'n': '200' is out of range; allowed 0 to 100"]


def test_the_memo_does_not_leak_between_forms_of_the_same_field_ids() -> None:
    narrow = FormSpec(id="f", name="f", fields=(FieldSpec(id="n", label="n", type="integer",
                                                          max=10),))  # fmt: skip
    wide = FormSpec(id="f", name="f", fields=(FieldSpec(id="n", label="n", type="integer",
                                                        max=1000),))  # fmt: skip
    assert check_values(wide, {"n": "50"}, where="w") == ({"n": 50}, [])
    assert check_values(narrow, {"n": "50"}, where="w") == (
        {}, ["w: field 'n': '50' is out of range; allowed -inf to 10"]
    )  # fmt: skip
    assert check_values(wide, {"n": "50"}, where="w") == ({"n": 50}, [])


def test_the_memo_is_bounded_and_never_holds_a_list() -> None:
    form = _fresh(FORM)
    with mock.patch.object(_records, "MEMO_SIZE", 3):
        for n in range(10):
            assert check_values(form, {"n": str(n)}, where="w", require=False) == ({"n": n}, [])
        first, second = (check_values(form, {"many": ["b", "a"]}, where="w", require=False)
                         for _ in range(2))  # fmt: skip
    checks = _records._form_checks(form)
    assert [len(c.memo) for c in checks.fields if c.field.id == "n"] == [3]
    assert [len(c.memo) for c in checks.fields if c.field.id == "many"] == [0]
    assert first == second == ({"many": ["a", "b"]}, [])
    assert first[0]["many"] is not second[0]["many"]  # each record its own list


def test_reserved_keys_absent_is_the_full_check_with_empty_maps() -> None:
    assert check_reserved(FORM, {"n": 1}, ["UNK"], (), "w") == ({}, [])
    assert check_reserved(FORM, {"n": 1, "_missing": {}, "_imported": {}}, ["UNK"], (), "w") == (
        {},
        [],
    )
    _, problems = check_reserved(FORM, {"_imported": {"A": "x"}}, (), (), "w")
    assert problems == ["w: '_imported' must map lower-case names to text (marks of another "
                        "system, e.g. REDCap's form status)"]  # fmt: skip


def _ungated(form: FormSpec, typed: Mapping[str, object], context: Any) -> list[Any]:
    """Every built-in check run on the form, as if it applied."""
    return [
        *_builtin._visit_window(form, typed, context),
        *_builtin._date_bounds(form, typed, context),
        *_builtin._start_end(form, typed),
        *_builtin._adverse_event(form, typed),
    ]


def test_a_form_no_built_in_check_applies_to_is_skipped_and_would_find_nothing() -> None:
    import datetime as dt

    from clestudy.protocol._checks import CheckContext

    fields = (
        FieldSpec(id="n", label="n", type="integer", cdash="AETOXGR_NOT"),
        FieldSpec(id="serious", label="serious", type="boolean", cdash="AESER"),
        FieldSpec(id="t", label="t", type="text", cdash="AEENDAT"),
    )
    plain = FormSpec(id="plain", name="plain", fields=fields)
    assert not _builtin._index(plain).applies
    context = CheckContext(
        today=dt.date(2026, 1, 1), visit_id="v", baseline_date=dt.date(2030, 1, 1),
        birth_date=dt.date(2030, 1, 1), enrolment_date=dt.date(2030, 1, 1), visit_day=0,
    )  # fmt: skip
    for typed in ({"n": 5, "serious": False, "t": "x"}, {}, {"serious": True}):
        assert _ungated(plain, typed, context) == []
        assert list(_builtin.builtin_findings(plain, typed, context)) == []
    graded = plain.model_copy(
        update={"fields": (*fields, FieldSpec(id="g", label="g", type="integer", cdash="AETOXGR"))}
    )
    assert _builtin._index(graded).applies
    found = list(_builtin.builtin_findings(graded, {"g": 5, "serious": False}, context))
    assert [f.check_id for f in found] == ["builtin.grade5_fatal_serious"]


def test_every_built_in_form_that_skips_the_checks_would_find_nothing() -> None:
    import datetime as dt

    from clestudy.protocol import BUILTIN_PROTOCOLS, load_protocol
    from clestudy.protocol._checks import CheckContext

    context = CheckContext(today=dt.date(2000, 1, 1), birth_date=dt.date(2100, 1, 1))
    for name in BUILTIN_PROTOCOLS:
        for form in load_protocol(name).forms:
            if not _builtin._index(form).applies:
                assert form.visit_date is None
                assert not any(f.type == "date" for f in form.fields)
                assert _ungated(form, {}, context) == []
