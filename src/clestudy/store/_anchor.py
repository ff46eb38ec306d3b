"""Anchors: the heads of every audit chain, written outside the database and checked later.

``clestudy audit anchor`` verifies the trail and writes its current heads (per chain: count and
hash; overall: event count, newest hash, a digest of all heads, the time) as JSON, to be kept
where the database's administrators cannot change it (a sponsor's mailbox, a ticket, a printout).
``audit verify --anchor FILE`` then proves that every chain still extends its anchored head: no
anchored event was deleted or rewritten, even by someone who recomputed every hash.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from clestudy.errors import AuditChainError, InputError
from clestudy.store._audit import AuditKey
from clestudy.store._verify import ChainHead, combined_head, verify_audit

__all__ = ["ANCHOR_FORMAT", "make_anchor", "read_anchor"]

ANCHOR_FORMAT = 1


def make_anchor(url: str, *, key: AuditKey | None = None) -> dict[str, Any]:
    """Verify the trail at ``url`` and return its anchor as a JSON-ready dictionary.

    Raises
    ------
    AuditChainError
        When the trail does not verify: a broken trail is never anchored.
    """
    result = verify_audit(url, key=key, raise_on_error=True)
    return {
        "clestudy_audit_anchor": ANCHOR_FORMAT,
        "created_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "events": result.events,
        "head_hash": result.head_hash,
        "chains_hash": combined_head(result.heads),
        "chains": {c: {"count": h.count, "hash": h.hash} for c, h in sorted(result.heads.items())},
    }


def _head(path: Path, chain: str, value: Any) -> ChainHead:
    where = f"anchor {path}: chains.{chain or '(legacy)'}"
    if not isinstance(value, dict):
        raise InputError(f"{where}: expected an object with count and hash")
    count, digest = value.get("count"), value.get("hash")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InputError(f"{where}.count: expected a positive integer, got {count!r}")
    if not isinstance(digest, str) or len(digest) != 64:
        raise InputError(f"{where}.hash: expected 64 hex digits, got {digest!r}")
    return ChainHead(count, digest)


def read_anchor(path: Path) -> dict[str, ChainHead]:
    """The chain heads recorded in the anchor file ``path``.

    Raises
    ------
    InputError
        For a file that cannot be read or is not an anchor (naming the file and field).
    AuditChainError
        When the file's ``chains_hash`` does not match its chains (the anchor was edited).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"anchor {path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise InputError(f"anchor {path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("clestudy_audit_anchor") != ANCHOR_FORMAT:
        raise InputError(
            f"anchor {path}: clestudy_audit_anchor: not a clestudy audit anchor (format "
            f"{ANCHOR_FORMAT}); write one with 'clestudy audit anchor'"
        )
    chains = data.get("chains")
    if not isinstance(chains, dict):
        raise InputError(f"anchor {path}: chains: expected an object of chain heads")
    heads = {str(c): _head(path, str(c), v) for c, v in chains.items()}
    if data.get("chains_hash") != combined_head(heads):
        raise AuditChainError(f"anchor {path}: chains_hash does not match its chains (edited)")
    return heads
