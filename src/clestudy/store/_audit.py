"""The hash-chained audit trail: canonical bytes, hashing and verification.

Each event's hash is ``SHA-256(prev_hash || canonical_bytes(entry))`` where the entry holds the
format version, sequence number, UTC timestamp, actor, action, entity, before/after state and
reason; the first event chains to 64 zeros. This makes any edit of a stored event evident
(web-and-security.md §5.3; 21 CFR 11.10(e)).

Canonical bytes are a strict, documented subset of RFC 8785 (JCS): only strings, integers,
booleans, nulls, lists and objects with ASCII-sortable keys are allowed -- never floats, whose text
form differs between Python and JCS -- and strings are NFC-normalised. Under that subset
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` and JCS agree, so the
standard library is enough and no canonicalisation library is needed.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from clestudy.errors import ClestudyError

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "GENESIS_HASH",
    "AuditEntry",
    "canonical_bytes",
    "canonical_json",
    "chain_hash",
    "hashable",
]

AUDIT_FORMAT_VERSION = 1
GENESIS_HASH = "0" * 64


def hashable(obj: Any) -> Any:
    """Convert ``obj`` into the canonical subset: floats become their shortest ``repr`` string.

    >>> hashable({"b": 1.5, "a": [True, None, "é"]})
    {'b': '1.5', 'a': [True, None, 'é']}
    """
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, str):
        return unicodedata.normalize("NFC", obj)
    if obj is None or isinstance(obj, bool | int):
        return obj
    if isinstance(obj, dict):
        return {str(k): hashable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [hashable(v) for v in obj]
    raise ClestudyError(f"audit: value of type {type(obj).__name__} cannot be hashed canonically")


def _check(obj: Any, path: str) -> None:
    if isinstance(obj, float):
        raise ClestudyError(f"audit: float at {path} is not canonical; convert with hashable()")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str) or not k.isascii():
                raise ClestudyError(f"audit: key {k!r} at {path} must be an ASCII string")
            _check(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check(v, f"{path}[{i}]")
    elif not (obj is None or isinstance(obj, str | int | bool)):
        raise ClestudyError(f"audit: value of type {type(obj).__name__} at {path} not allowed")


def canonical_json(obj: Any) -> str:
    """The canonical text of ``obj`` (see the module docstring).

    >>> canonical_json({"b": 2, "a": "x"})
    '{"a":"x","b":2}'
    """
    _check(obj, "$")
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_bytes(obj: Any) -> bytes:
    """UTF-8 bytes of :func:`canonical_json`."""
    return canonical_json(obj).encode("utf-8")


@dataclass(frozen=True)
class AuditEntry:
    """The hashed content of one audit event."""

    seq: int
    occurred_at: str
    actor: str
    action: str
    entity_type: str
    entity_key: str
    before: Any
    after: Any
    reason: str | None
    format_version: int = AUDIT_FORMAT_VERSION

    def as_dict(self) -> dict[str, Any]:
        """The entry as a plain dictionary, as hashed."""
        return {
            "format": self.format_version,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_key": self.entity_key,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    """``SHA-256(prev_hash || canonical_bytes(entry))`` as lower-case hex.

    >>> e = AuditEntry(1, "2026-01-01T00:00:00.000000Z", "alice", "create", "subject", "P01",
    ...                None, {"arm": "a"}, None)
    >>> len(chain_hash(GENESIS_HASH, e))
    64
    """
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_bytes(entry.as_dict()))
    return digest.hexdigest()
