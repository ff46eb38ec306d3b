"""Properties of the audit trail's canonical JSON and chain hash (RFC 8785 subset, no floats)."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clestudy.store._audit import GENESIS_HASH, AuditEntry, canonical_json, chain_hash

scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet="abcdefghij_", min_size=1, max_size=8), children, max_size=4
        )
    ),
    max_leaves=20,
)


@given(values)
def test_canonical_json_round_trips(value: object) -> None:
    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


@given(st.dictionaries(st.text(alphabet="abcdefghij", min_size=1, max_size=6), scalars, max_size=8))
def test_canonical_json_ignores_key_order(mapping: dict[str, object]) -> None:
    items = list(mapping.items())
    random.Random(0).shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(mapping)


@given(values, st.text(min_size=1, max_size=10))
def test_any_change_of_content_changes_the_hash(after: object, actor: str) -> None:
    entry = AuditEntry(1, "2026-01-01T00:00:00.000000Z", actor, "update", "form_record", "k",
                       None, after, "why")  # fmt: skip
    changed = AuditEntry(1, "2026-01-01T00:00:00.000000Z", actor + "x", "update", "form_record",
                         "k", None, after, "why")  # fmt: skip
    # the same content, built again, hashes the same (64 hex digits): the hash is of the content
    again = AuditEntry(1, "2026-01-01T00:00:00.000000Z", actor, "update", "form_record", "k",
                       None, json.loads(canonical_json(after)), "why")  # fmt: skip
    assert chain_hash(GENESIS_HASH, entry) == chain_hash(GENESIS_HASH, again)
    assert len(chain_hash(GENESIS_HASH, entry)) == 64
    assert chain_hash(GENESIS_HASH, entry) != chain_hash(GENESIS_HASH, changed)
    assert chain_hash(GENESIS_HASH, entry) != chain_hash("1" * 64, entry)


# -- the fast paths of hashable() and the canonical check agree with their plain definitions ----


class _Text(str):
    pass


class _Number(int):
    pass


def _plain_hashable(obj: object) -> object:
    """``hashable`` as defined (isinstance only), before its fast path for exact types."""
    import unicodedata

    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, str):
        return unicodedata.normalize("NFC", obj)
    if obj is None or isinstance(obj, bool | int):
        return obj
    if isinstance(obj, dict):
        return {str(k): _plain_hashable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain_hashable(v) for v in obj]
    raise ValueError(type(obj).__name__)


def _plain_check(obj: object, path: str) -> None:
    """The canonical check as defined, walking every value with its path."""
    from clestudy.errors import ClestudyError

    if isinstance(obj, float):
        raise ClestudyError(f"audit: float at {path} is not canonical; convert with hashable()")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str) or not k.isascii():
                raise ClestudyError(f"audit: key {k!r} at {path} must be an ASCII string")
            _plain_check(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _plain_check(v, f"{path}[{i}]")
    elif not (obj is None or isinstance(obj, str | int | bool)):
        raise ClestudyError(f"audit: value of type {type(obj).__name__} at {path} not allowed")


any_scalars = (
    scalars
    | st.floats(allow_nan=False)
    | st.text(alphabet="aé\u0065\u0301ß", max_size=4)
    | st.text(max_size=3).map(_Text)
    | st.integers().map(_Number)
)
any_values = st.recursive(
    any_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(
            st.text(alphabet="abé1", min_size=1, max_size=3) | st.integers(), children, max_size=3
        )
    ),
    max_leaves=12,
)


@given(any_values)
def test_hashable_fast_path_equals_its_definition(value: object) -> None:
    from clestudy.store._audit import hashable

    ours = hashable(value)
    assert ours == _plain_hashable(value)
    assert json.dumps(ours, sort_keys=True) == json.dumps(_plain_hashable(value), sort_keys=True)


@given(any_values)
def test_canonical_check_fast_path_equals_its_definition(value: object) -> None:
    from clestudy.errors import ClestudyError
    from clestudy.store._audit import _check

    try:
        _plain_check(value, "$")
        expected = None
    except ClestudyError as exc:
        expected = str(exc)
    try:
        _check(value, "$")
        found = None
    except ClestudyError as exc:
        found = str(exc)
    assert found == expected


@given(
    st.one_of(st.none(), values),
    st.one_of(st.none(), values),
    st.text(max_size=8),
    st.one_of(st.none(), st.text(max_size=8)),
    st.sampled_from([1, 2]),
    st.one_of(st.none(), st.text(alphabet="abc:", max_size=6)),
)
def test_entry_text_put_together_equals_the_canonical_text(
    before: object, after: object, actor: str, reason: str | None, form: int, key_id: str | None
) -> None:
    """The store's hashed text, made from the already encoded states, is the canonical text."""
    from clestudy.store._audit import entry_json

    entry = AuditEntry(7, "2026-01-01T00:00:00.000000Z", actor, "update", "form_record",
                       "s/P01/week_0/clasi", before, after, reason, form, "s/P01", 3,
                       key_id)  # fmt: skip
    states = (canonical_json(before), canonical_json(after))
    assert entry_json(entry, *states) == canonical_json(entry.as_dict())
    assert chain_hash("a" * 64, entry, state_json=states) == chain_hash("a" * 64, entry)


@given(
    st.one_of(st.none(), values),
    values,
    st.text(max_size=8) | st.text(max_size=3).map(_Text),
    st.one_of(st.none(), st.text(max_size=8)),
    st.booleans(),
)
def test_chained_rows_hash_the_entry_as_chain_hash_does(
    before: object, after: object, actor: str, reason: str | None, keyed: bool
) -> None:
    """The store's chaining (the entry's text put together from its members, no
    :class:`AuditEntry` made, or the general text for a member that is not a plain string) gives
    the hash :func:`chain_hash` gives of the entry, and the columns it stores."""
    from clestudy.store._audit import AUDIT_FORMAT_VERSION, AuditKey, hashable, plain_json
    from clestudy.store._chain import _EVENT_COLUMNS, PendingEvent, _chain_rows

    key = AuditKey(b"k" * 16) if keyed else None
    event = PendingEvent("s/P01", actor, "update", "form_record", "s/P01/week_0/clasi", before,
                         after, reason, plain_json(before), plain_json(after))  # fmt: skip
    now = "2026-01-01T00:00:00.000000Z"
    heads = {"s/P01": (3, "a" * 64, now)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("clestudy.store._chain.load_audit_key", lambda: key)
        (row,) = _chain_rows([event], heads, {}, now)
    entry = AuditEntry(0, now, actor, "update", "form_record", "s/P01/week_0/clasi",
                       hashable(before), hashable(after), reason, AUDIT_FORMAT_VERSION, "s/P01",
                       4, None if key is None else key.key_id)  # fmt: skip
    stored = dict(zip(_EVENT_COLUMNS, row, strict=True))
    assert stored["hash"] == chain_hash("a" * 64, entry, key)
    assert heads["s/P01"] == (4, stored["hash"], now)
    assert stored["before_json"] == (None if before is None else plain_json(before))
    assert stored["after_json"] == (None if after is None else plain_json(after))
    assert (stored["prev_hash"], stored["chain_seq"], stored["actor"]) == ("a" * 64, 4, actor)


@given(st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6))
def test_canonical_text_equals_the_definition(mapping: dict[str, object]) -> None:
    """``canonical_text`` (a dict through the C encoder made once) gives ``json.dumps``' text
    with the canonical options, and refuses what ``canonical_json`` refuses."""
    from clestudy.errors import ClestudyError
    from clestudy.store._audit import canonical_text

    try:
        expected: str | None = canonical_json(mapping)
    except ClestudyError:
        expected = None
    if expected is None:
        with pytest.raises(ClestudyError):
            canonical_text(mapping)
        return
    text, _ = canonical_text(mapping)
    assert text == expected
    assert text == json.dumps(mapping, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize(
    "value",
    [{"n": 2**70}, {"n": -(2**63) - 1}, {"n": 2**64 - 1}, {"s": "\ud800"}, ["\x7f\u2028\x00"]],
)
def test_canonical_text_where_orjson_refuses_or_differs(value: object) -> None:
    """Integers beyond 64 bits and lone surrogates, which orjson refuses, are encoded by the
    standard library; control and separator characters are escaped alike."""
    from clestudy.store._audit import canonical_text

    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_text(value) == (expected, True)
