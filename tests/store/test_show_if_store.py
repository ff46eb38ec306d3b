"""Show-if in the store: a hidden field holds no value, on every save, whatever the path.

The rule (docs/capture.md, "Show-if"): a save whose values hide a field holding a *stored* value
clears it and lists it in the event's ``after["cleared"]``; a value *sent* for a hidden field is
refused naming the field; a hidden required field never keeps a record incomplete.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.protocol.test_show_if import _mini

from clestudy.errors import InputError, RecordValidationError
from clestudy.protocol import hidden_fields, parse_protocol
from clestudy.store import RecordInput, Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
PROTOCOL = parse_protocol(_mini(), "mini.yaml")
FORM = PROTOCOL.forms[0]


def _store(open_study: OpenStudy, url: str) -> Store:
    store = open_study(url, PROTOCOL)
    store.add_subject("S1", arm="a", site="s1", actor="c")
    return store


def test_hiding_a_stored_value_clears_it_and_the_event_lists_it(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    first = store.save_record("S1", "v0", "f", {"sex": "F", "pregnant": True, "weeks": 12},
                              actor="c")  # fmt: skip
    assert first.status == "complete"
    with pytest.raises(InputError, match="a reason for change is required"):
        store.save_record("S1", "v0", "f", {"sex": "M"}, actor="c", expected_version=1)
    state = store.save_record(
        "S1", "v0", "f", {"sex": "M"}, actor="c", expected_version=1, reason="entered wrong sex"
    )
    assert state.values == {"sex": "M"}
    assert state.status == "complete"  # weeks is required, but hidden
    event = audit_events(db_url)[-1]
    assert event["after"]["cleared"] == ["pregnant", "weeks"]  # type: ignore[index]
    assert event["reason"] == "entered wrong sex"
    assert verify_audit(db_url).ok


def test_a_value_sent_for_a_hidden_field_is_refused_naming_it(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    with pytest.raises(
        RecordValidationError,
        match=r"S1/v0/f: field 'pregnant' is hidden because its show-if \(sex == 'F'\) is false",
    ):
        store.save_record("S1", "v0", "f", {"sex": "M", "pregnant": False}, actor="c")
    assert store.records() == []
    # the replace mode (the web's and API's whole-record save) refuses a stale hidden value too
    store.save_record("S1", "v0", "f", {"sex": "F", "pregnant": True, "weeks": 12}, actor="c")
    with pytest.raises(RecordValidationError, match=r"field 'weeks' is hidden"):
        store.save_record(
            "S1", "v0", "f", {"sex": "F", "pregnant": False, "weeks": 12}, actor="c",
            expected_version=1, reason="r", mode="replace",
        )  # fmt: skip


def test_a_shown_required_field_keeps_the_record_incomplete(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _store(open_study, db_url)
    state = store.save_record("S1", "v0", "f", {"sex": "F", "pregnant": True}, actor="c")
    assert state.status == "incomplete"
    state = store.save_record("S1", "v0", "f", {"pregnant": False}, actor="c",
                              expected_version=1, reason="r")  # fmt: skip
    assert state.status == "complete"


def test_the_preview_decides_as_the_save(open_study: OpenStudy, db_url: str) -> None:
    store = _store(open_study, db_url)
    store.save_record("S1", "v0", "f", {"sex": "F", "pregnant": True, "weeks": 12}, actor="c")
    preview = store.preview_record(RecordInput("S1", "v0", "f", {"sex": "M"}))
    assert (preview.values, preview.problems, preview.missing) == ({"sex": "M"}, [], [])
    preview = store.preview_record(RecordInput("S1", "v0", "f", {"sex": "M", "weeks": 3}))
    assert [p.split(": ", 1)[1][:25] for p in preview.problems] == ["field 'weeks' is hidden b"]


SEX = st.sampled_from(["F", "M", None])
VALUES = st.fixed_dictionaries(
    {},
    optional={
        "sex": SEX,
        "pregnant": st.sampled_from([True, False, None]),
        "weeks": st.sampled_from([None, 1, 12, 40]),
        "signs": st.sampled_from([None, ["a"], ["b"], ["a", "b"]]),
        "note": st.sampled_from([None, "x"]),
    },
)
SAVES = st.lists(st.tuples(VALUES, st.sampled_from(["patch", "replace"])), min_size=1, max_size=4)
_SUBJECTS = itertools.count(1)


def _sent_hidden(values: dict[str, Any], stored: dict[str, Any], mode: str) -> bool:
    """Whether a save sends a value for a field that its merged values hide."""
    merged = dict(values) if mode == "replace" or not stored else {**stored, **values}
    return any(values.get(name) not in (None, []) for name in hidden_fields(FORM, merged))


def test_after_any_save_no_hidden_field_holds_a_value(
    open_study: OpenStudy, sqlite_url: str
) -> None:
    """Property: every save keeps the rule, and a refusal is always a sent hidden value."""
    store = open_study(sqlite_url, PROTOCOL)

    @settings(max_examples=40, deadline=None)
    @given(saves=SAVES)
    def run(saves: list[tuple[dict[str, Any], str]]) -> None:
        subject = f"S{next(_SUBJECTS)}"
        store.add_subject(subject, arm="a", site="s1", actor="c")
        version: int | None = None
        stored: dict[str, Any] = {}
        for values, mode in saves:
            try:
                state = store.save_record(
                    subject, "v0", "f", values, actor="c", reason="r",
                    expected_version=version, mode=mode,  # type: ignore[arg-type]
                )  # fmt: skip
            except RecordValidationError as exc:
                assert "is hidden because" in str(exc)
                assert _sent_hidden(values, stored, mode)
                continue
            assert not _sent_hidden(values, stored, mode)
            hidden = hidden_fields(FORM, state.values)
            assert not set(hidden) & set(state.values), (state.values, hidden)
            needs = "weeks" not in hidden and "weeks" not in state.values
            assert state.status == ("incomplete" if needs else "complete")
            version, stored = state.version, dict(state.values)

    run()
    assert verify_audit(sqlite_url).ok
