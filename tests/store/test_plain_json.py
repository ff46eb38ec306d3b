"""``plain_json`` and ``plain_json_with`` give the bytes of the plain path,
``canonical_json(hashable(...))``, for any state (the audit hashes depend on them)."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clestudy.errors import ClestudyError
from clestudy.store._audit import (
    canonical_json,
    canonical_text,
    hashable,
    plain_json,
    plain_json_with,
)

# text with composed and decomposed accents, so that NFC normalisation matters
_text = st.lists(
    st.sampled_from(["a", "Z", " ", '"', "\u00e9", "e\u0301", "\u00c5", "A\u030a"]), max_size=5
).map("".join)
_keys = st.text(alphabet="abcxyz_", min_size=1, max_size=6)
_scalars = st.none() | st.booleans() | st.integers() | _text | st.floats(allow_nan=False)
_states = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)
_values = st.dictionaries(
    _keys, st.none() | st.booleans() | st.integers() | _text | st.lists(_text), max_size=5
)


def _plain_path(obj: Any) -> str:
    return canonical_json(hashable(obj))


@settings(max_examples=300, derandomize=True)
@given(_states)
def test_plain_json_is_the_plain_path(state: Any) -> None:
    assert plain_json(state) == _plain_path(state)


@settings(max_examples=300, derandomize=True)
@given(st.dictionaries(_keys, _states, max_size=4), _keys, _values)
def test_plain_json_with_is_the_plain_path(state: dict[str, Any], member: str, values: Any) -> None:
    values_json = canonical_json(values)  # as a save encodes a record's values_json
    assert plain_json_with(state, member, values, values_json) == _plain_path(
        {**state, member: values}
    )


@settings(max_examples=300, derandomize=True)
@given(st.dictionaries(_keys, _states, max_size=4), _keys, _values)
def test_plain_json_with_of_a_state_holding_the_value(
    state: dict[str, Any], member: str, values: Any
) -> None:
    """A save's after-state holds its values itself: encoded whole (orjson) when nothing in it
    needs a conversion, else as before; the same text either way."""
    state = {**state, member: values}
    values_json, plain = canonical_text(values)
    assert plain_json_with(state, member, values, values_json) == _plain_path(state)
    assert plain_json_with(state, member, values, values_json, plain=plain) == _plain_path(state)


def test_plain_json_with_encodes_a_value_to_normalise() -> None:
    decomposed = "e\u0301"
    values = {"name": decomposed}
    text = plain_json_with({"version": 1}, "values", values, canonical_json(values))
    assert (
        text == '{"values":{"name":"' + unicodedata.normalize("NFC", decomposed) + '"},"version":1}'
    )


def test_plain_json_with_reuses_the_given_text() -> None:
    # the given text stands for the value when the value needs no conversion
    assert plain_json_with({"status": "complete"}, "values", {"x": 1}, "TEXT") == (
        '{"status":"complete","values":TEXT}'
    )


def test_plain_json_refuses_what_hashable_refuses() -> None:
    with pytest.raises(ClestudyError, match="value of type set cannot be hashed canonically"):
        plain_json({"a": {1, 2}})
    with pytest.raises(ClestudyError, match="key '\u00e9' at \\$ must be an ASCII string"):
        plain_json_with({"\u00e9": 1}, "values", {}, "{}")


def _plain_canonical(obj: Any, normalised: bool) -> bool:
    """``_canonical`` as defined: exact built-in types, ASCII keys, and with ``normalised``
    every string left unchanged by NFC."""
    kind = type(obj)
    if kind is str:
        return not normalised or unicodedata.normalize("NFC", obj) == obj
    if obj is None or kind is int or kind is bool:
        return True
    if kind is dict:
        return all(
            type(k) is str and k.isascii() and _plain_canonical(v, normalised)
            for k, v in obj.items()
        )
    if kind is list:
        return all(_plain_canonical(v, normalised) for v in obj)
    return False


@settings(max_examples=300, derandomize=True)
@given(_states | st.dictionaries(_keys | st.integers(), _states, max_size=3), st.booleans())
def test_canonical_walk_is_its_definition(state: Any, normalised: bool) -> None:
    from clestudy.store._audit import _canonical

    assert _canonical(state, normalised) == _plain_canonical(state, normalised)


@settings(max_examples=300, derandomize=True)
@given(_values)
def test_canonical_text_is_canonical_json_and_says_whether_hashable_keeps_it(values: Any) -> None:
    from clestudy.store._audit import canonical_text

    text, plain = canonical_text(values)
    assert text == canonical_json(values)
    assert plain == (hashable(values) == values and canonical_json(hashable(values)) == text)


@settings(max_examples=300, derandomize=True)
@given(st.dictionaries(_keys, _states, max_size=4), _keys, _values)
def test_plain_json_with_told_plain_is_the_plain_path(
    state: dict[str, Any], member: str, values: Any
) -> None:
    from clestudy.store._audit import canonical_text

    values_json, plain = canonical_text(values)  # as a save encodes a record's values
    assert plain_json_with(state, member, values, values_json, plain=plain) == _plain_path(
        {**state, member: values}
    )


def test_canonical_text_refuses_what_canonical_json_refuses() -> None:
    from clestudy.store._audit import canonical_text

    with pytest.raises(ClestudyError, match=r"float at \$\.x is not canonical"):
        canonical_text({"x": 1.5})


@settings(max_examples=300, derandomize=True)
@given(
    _values,
    st.sampled_from(["complete", "incomplete", "verified", "locked"]) | _text,
    st.integers(min_value=1, max_value=10**6),
    st.none() | st.just({}) | st.just({"clasi": {"instrument": "clasi"}}),
)
def test_a_record_state_put_together_is_its_plain_text(
    values: dict[str, Any], status: str, version: int, derived: dict[str, Any] | None
) -> None:
    """``RecordSlot.full_state_json`` (a save's after-state without derived scores) is the text
    ``plain_json`` gives that state, or ``None`` where it does not apply."""
    from clestudy.store._rows import RecordSlot

    slot = RecordSlot(None, 1, "P01", "week_0", "clasi", 1, "", status, version, False,
                      "2026-12-04T00:00:00Z", "c", "1.0", None, derived)  # fmt: skip
    values_json, plain = canonical_text(values)
    text = slot.full_state_json(values_json)
    if derived or not status.isascii():
        assert text is None
    elif plain:
        assert text == plain_json(slot.full_state(values))
