"""``check_values``'s shortcuts give what its general path gives.

The shortcuts: the keys check against the field ids and reserved keys at once, no show-if
evaluation for a form without a show-if, the parse memo read in place, and ``check_reserved``'s
single-mark record and remembered mark names. The general path: a fresh form (empty memo, nothing
remembered), ``hidden`` computed by :func:`hidden_fields` and passed in, and the marks given as a
read-only mapping (not a ``dict``: no shortcut applies).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.protocol import FieldSpec, FormSpec, _missing_codes, _records, check_values
from clestudy.protocol._show_if import hidden_fields

_FIELDS = (
    FieldSpec(id="n", label="n", type="integer", min=0, max=100, required=True, unit="mg"),
    FieldSpec(id="d", label="d", type="decimal", min=-1.5, max=2.25),
    FieldSpec(id="t", label="t", type="text", required=True),
    FieldSpec(id="flag", label="flag", type="boolean"),
)
PLAIN = FormSpec(id="plain", name="plain", fields=_FIELDS)
SHOWING = FormSpec(
    id="showing",
    name="showing",
    fields=(*_FIELDS, FieldSpec(id="why", label="why", type="text", show_if="flag == True")),
)
CODES = ("UNK", "NA")

_raw = st.none() | st.integers(min_value=-5, max_value=120) | st.booleans() | st.sampled_from(
    ["", "  ", " 7 ", "7", "1.0", "2.25", "x", "true", "é", "e\u0301", "٣", "200"]
)  # fmt: skip
_marks = st.dictionaries(
    st.sampled_from(["redcap_complete", "other", "Bad", "", "é"]),
    st.sampled_from(["0", "1", "2"]) | st.integers(0, 2),
    max_size=2,
)
_values = st.fixed_dictionaries(
    {},
    optional={
        **{key: _raw for key in ("n", "d", "t", "flag", "why", "unknown")},
        "_missing": st.dictionaries(
            st.sampled_from(["n", "t", "why", "nope"]), st.sampled_from(["UNK", "NA", "X", ""])
        ),
        "_imported": _marks | st.none() | st.just("2"),
    },
)


def _typed(result: tuple[dict[str, Any], list[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    values, problems = result
    return [(k, repr(v)) for k, v in values.items()], problems  # 1 and True differ here


def _general(form: FormSpec, values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    fresh = form.model_copy(update={"fields": tuple(list(form.fields))})  # its own, empty memo
    marks = values.get("_imported")
    if isinstance(marks, dict):
        values = {**values, "_imported": MappingProxyType(marks)}
    with (
        mock.patch.object(_records, "MEMO_SIZE", 0),
        mock.patch.object(_missing_codes, "_GOOD_MARKS", set()),
    ):
        hidden = hidden_fields(fresh, values)
        return check_values(fresh, values, where="P01/v/f", hidden=hidden, missing_codes=CODES)


@settings(max_examples=500, derandomize=True)
@given(st.sampled_from([PLAIN, SHOWING]), st.lists(_values, min_size=1, max_size=3))
def test_the_shortcuts_give_what_the_general_path_gives(
    form: FormSpec, records: list[dict[str, Any]]
) -> None:
    for values in records:  # several records: the second sees what the first remembered
        fast = check_values(form, values, where="P01/v/f", missing_codes=CODES)
        assert _typed(fast) == _typed(_general(form, values))


def test_a_mark_name_refused_once_is_refused_again() -> None:
    for _ in range(2):
        _, problems = check_values(PLAIN, {"n": 1, "t": "x", "_imported": {"Bad": "1"}}, where="w")
        assert problems == ["w: '_imported' must map lower-case names to text (marks of another "
                            "system, e.g. REDCap's form status)"]  # fmt: skip


def test_a_single_mark_is_kept_as_a_new_map() -> None:
    marks = {"redcap_complete": "2"}
    values, problems = check_values(PLAIN, {"n": 1, "t": "x", "_imported": marks}, where="w")
    assert values == {"n": 1, "t": "x", "_imported": {"redcap_complete": "2"}} and problems == []
    assert values["_imported"] is not marks
