"""Properties of the audit trail's canonical JSON and chain hash (RFC 8785 subset, no floats)."""

from __future__ import annotations

import json
import random

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
