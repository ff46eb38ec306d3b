"""The hash-chained audit trail: canonical bytes, chains, hashing and keys.

Each event's hash is ``SHA-256(prev_hash || canonical_bytes(entry))``, or
``HMAC-SHA256(key, prev_hash || canonical_bytes(entry))`` when an audit key is configured, where
the entry holds the format version, its chain and position in it, UTC timestamp, actor, action,
entity, before/after state, reason and key id. This makes any edit of a stored event evident
(web-and-security.md §5.3; 21 CFR 11.10(e)); with a key that is not in the database, a forged or
rechained event is evident too (RFC 2104, HMAC).

**Chains** (format 2). Every study has a *study chain* (named by the study id) holding the study,
protocol and subject-enrolment events, and every subject has a *subject chain* (``STUDY/SUBJECT``)
holding every later event about the subject and its records and discrepancies. A subject chain
starts from a hash of its enrolment event, so deleting a subject's whole history breaks the study
chain. Writers to different subjects never wait for each other (docs/security.md).
Events of format 1 (before migration 0003) form the one *legacy chain* ``""`` ordered by ``seq``.

Canonical bytes are a strict, documented subset of RFC 8785 (JCS): only strings, integers,
booleans, nulls, lists and objects with ASCII-sortable keys are allowed -- never floats, whose text
form differs between Python and JCS -- and strings are NFC-normalised. Under that subset
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` and JCS agree, so the
standard library is enough and no canonicalisation library is needed. The values a save writes
are encoded by orjson (``OPT_SORT_KEYS``), which gives that same text several times faster
(Hypothesis compares the two in ``tests/store/test_canonical.py`` and ``test_plain_json.py``);
what orjson refuses (integers beyond 64 bits, lone surrogates) goes to the standard library.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import orjson

from clestudy.errors import ClestudyError, InputError

__all__ = [
    "AUDIT_FORMAT_VERSION",
    "AUDIT_KEY_ENV",
    "AUDIT_KEY_FILE_ENV",
    "GENESIS_HASH",
    "LEGACY_CHAIN",
    "AuditEntry",
    "AuditKey",
    "canonical_bytes",
    "canonical_json",
    "canonical_text",
    "chain_genesis",
    "chain_hash",
    "chain_of",
    "entry_json",
    "format2_text",
    "hashable",
    "load_audit_key",
    "plain_json",
    "plain_json_with",
    "snapshot_sha256",
    "text_hash",
]

AUDIT_FORMAT_VERSION = 2
GENESIS_HASH = "0" * 64
LEGACY_CHAIN = ""

#: Environment variables that hold the audit key itself, or the path of a file holding it.
AUDIT_KEY_ENV = "CLESTUDY_AUDIT_KEY"
AUDIT_KEY_FILE_ENV = "CLESTUDY_AUDIT_KEY_FILE"

#: The shortest key accepted: 128 bits (NIST SP 800-107 Rev. 1, §5.3.4: an HMAC key needs at
#: least the security strength wanted).
MIN_KEY_BYTES = 16


def hashable(obj: Any) -> Any:
    """Convert ``obj`` into the canonical subset: floats become their shortest ``repr`` string.

    >>> hashable({"b": 1.5, "a": [True, None, "é"]})
    {'b': '1.5', 'a': [True, None, 'é']}
    """
    kind = type(obj)  # the exact built-in types first (every event's state), then subclasses
    if kind is dict:
        return {k if type(k) is str else str(k): hashable(v) for k, v in obj.items()}
    if kind is str:
        return obj if obj.isascii() else unicodedata.normalize("NFC", obj)
    if kind is int or kind is bool or obj is None:
        return obj
    if kind is list:
        return [hashable(v) for v in obj]
    if isinstance(obj, float):
        return repr(obj)
    if isinstance(obj, str):
        return unicodedata.normalize("NFC", obj)
    if isinstance(obj, bool | int):
        return obj
    if isinstance(obj, dict):
        return {str(k): hashable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [hashable(v) for v in obj]
    raise ClestudyError(f"audit: value of type {type(obj).__name__} cannot be hashed canonically")


def _canonical(obj: Any, normalised: bool = False) -> bool:
    """Whether ``obj`` is of the canonical subset made of exact built-in types only; a fast walk
    that builds no path (:func:`_check` explains, or accepts a subclass, when it is not).

    With ``normalised``, also whether :func:`hashable` leaves ``obj`` as it is: every string
    ASCII or already in NFC.
    """
    kind = type(obj)
    if kind is str:
        return not normalised or obj.isascii() or unicodedata.is_normalized("NFC", obj)
    if kind is int or kind is bool or obj is None:
        return True
    if kind is dict:
        for k in obj:
            if type(k) is not str or not k.isascii():
                return False
        return _members_canonical(obj.values(), normalised)
    if kind is list:
        return _members_canonical(obj, normalised)
    return False


def _members_canonical(members: Iterable[Any], normalised: bool) -> bool:
    """:func:`_canonical` of every member of a dict or list; the scalars (most of a record's
    values: integers and ASCII text) decided in this loop, without a call each."""
    for v in members:
        kind = type(v)
        if kind is int or kind is bool or v is None:
            continue
        if kind is str:
            if normalised and not v.isascii() and not unicodedata.is_normalized("NFC", v):
                return False
        elif not _canonical(v, normalised):
            return False
    return True


def _check(obj: Any, path: str) -> None:
    if _canonical(obj):
        return
    _explain(obj, path)


def _explain(obj: Any, path: str) -> None:
    """Raise for the first value of ``obj`` outside the canonical subset, naming its path."""
    if isinstance(obj, float):
        raise ClestudyError(f"audit: float at {path} is not canonical; convert with hashable()")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str) or not k.isascii():
                raise ClestudyError(f"audit: key {k!r} at {path} must be an ASCII string")
            _explain(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _explain(v, f"{path}[{i}]")
    elif not (obj is None or isinstance(obj, str | int | bool)):
        raise ClestudyError(f"audit: value of type {type(obj).__name__} at {path} not allowed")


#: The one encoder of canonical text, made once (``json.dumps`` with options builds a new encoder
#: on every call, which was a third of the cost of encoding an event's small values).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _encode_walked(obj: Any) -> str:
    """``_ENCODER.encode(obj)`` of a value that :func:`_canonical` accepted (exact built-in
    types: text, integers, booleans, nulls, dicts with text keys and lists), by orjson: the same
    text (sorted keys, no whitespace, text as UTF-8 with JSON's escapes; compared with
    ``json.dumps`` by Hypothesis in ``tests/store/test_canonical.py``) in a sixth of the time,
    the largest part of encoding a record's values. What orjson refuses (an integer beyond
    64 bits, a lone surrogate) is encoded by the standard library, as before."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _ENCODER.encode(obj)


def canonical_json(obj: Any) -> str:
    """The canonical text of ``obj`` (see the module docstring).

    >>> canonical_json({"b": 2, "a": "x"})
    '{"a":"x","b":2}'
    """
    _check(obj, "$")
    return _ENCODER.encode(obj)


def canonical_text(obj: Any) -> tuple[str, bool]:
    """``canonical_json(obj)``, and whether :func:`hashable` leaves ``obj`` as it is (every
    string ASCII or in NFC), found in one walk: a save encodes a record's values once and hands
    the answer to :func:`plain_json_with` (``plain``), which then does not walk them again.

    >>> canonical_text({"b": 2, "a": "x"})
    ('{"a":"x","b":2}', True)
    """
    if _canonical(obj, normalised=True):
        return _encode_walked(obj), True
    return canonical_json(obj), False  # checked (and refused) as canonical_json does


def plain_json(obj: Any) -> str:
    """``canonical_json(hashable(obj))``, the text an audit event stores and hashes of a state,
    without building the converted copy when ``obj`` needs no conversion (every record state).

    >>> plain_json({"b": 1.5, "a": [True, None]})
    '{"a":[true,null],"b":"1.5"}'
    """
    kind = type(obj)  # the scalars of a state's members first, encoded as the encoder would
    if obj is None:
        return "null"
    if kind is int:
        return int.__repr__(obj)
    if kind is str and obj.isascii():
        return encode_basestring(obj)
    if kind is dict and not obj:  # a record without derived scores
        return "{}"
    if _canonical(obj, normalised=True):
        return _encode_walked(obj)
    return canonical_json(hashable(obj))


_ABSENT = object()


def _others_canonical(obj: dict[str, Any], member: str) -> bool:
    """:func:`_canonical` (normalised) of ``obj`` but for its member ``member``."""
    for key, value in obj.items():
        if key == member:
            continue
        if type(key) is not str or not key.isascii() or not _canonical(value, True):
            return False
    return True


def plain_json_with(
    obj: dict[str, Any], member: str, value: Any, value_json: str, *, plain: bool = False
) -> str:
    """``plain_json({**obj, member: value})`` given ``value_json``, the caller's
    ``canonical_json(value)`` (a record's ``values_json``): not encoded again when ``value``
    needs no conversion (else encoded here, so the text is the same either way). ``plain``: the
    caller knows that ``value`` needs none (:func:`canonical_text` said so), so it is not
    walked again to find out. A state that holds ``value`` itself and needs no conversion at all
    (every record a save writes) is encoded whole by orjson, which is cheaper than putting the
    text together around ``value_json``.

    >>> plain_json_with({"version": 1}, "values", {"x": 2}, '{"x":2}')
    '{"values":{"x":2},"version":1}'
    """
    if (
        type(obj) is dict
        and obj.get(member, _ABSENT) is value  # a state that holds the value itself (a save's)
        and (plain or _canonical(value, True))
        and _others_canonical(obj, member)
    ):
        return _encode_walked(obj)  # value_json is the same text: encoding it again is cheaper
    keys = [*obj] if member in obj else [*obj, member]
    for key in keys:
        if type(key) is not str or not key.isascii():
            break  # a key hashable() would convert or canonical_json refuse
    else:
        if plain or _canonical(value, True):
            keys.sort()
            enc = encode_basestring  # what _ENCODER.encode does with a str, without its checks
            parts = [
                f"{enc(key)}:{value_json if key == member else plain_json(obj[key])}"
                for key in keys
            ]
            return "{" + ",".join(parts) + "}"
    return plain_json({**obj, member: value})  # encoded here, converted as it needs


def _member_json(value: Any) -> str:
    """:func:`canonical_json` of one member of an entry, most of which are a string, an integer
    or null: those are encoded directly (the same text), anything else by the full path."""
    kind = type(value)
    if kind is str:
        return _ENCODER.encode(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    return canonical_json(value)


def canonical_bytes(obj: Any) -> bytes:
    """UTF-8 bytes of :func:`canonical_json`."""
    return canonical_json(obj).encode("utf-8")


@dataclass(frozen=True)
class AuditEntry:
    """The hashed content of one audit event.

    Format 1 hashes the global ``seq``; format 2 hashes the ``chain``, the position in it
    (``chain_seq``) and the ``key_id`` instead, since parallel chains share no order.
    """

    seq: int
    occurred_at: str
    actor: str
    action: str
    entity_type: str
    entity_key: str
    before: Any
    after: Any
    reason: str | None
    format_version: int = 1
    chain: str = LEGACY_CHAIN
    chain_seq: int = 0
    key_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The entry as a plain dictionary, as hashed."""
        placed: dict[str, Any] = (
            {"chain": self.chain, "chain_seq": self.chain_seq, "key_id": self.key_id}
            if self.format_version >= 2
            else {"seq": self.seq}
        )
        return {
            "format": self.format_version,
            **placed,
            "occurred_at": self.occurred_at,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_key": self.entity_key,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


def chain_hash(
    prev_hash: str,
    entry: AuditEntry,
    key: AuditKey | None = None,
    *,
    state_json: tuple[str, str] | None = None,
) -> str:
    """``SHA-256(prev_hash || canonical_bytes(entry))`` (or its HMAC under ``key``), in hex.

    ``state_json`` is ``(canonical_json(entry.before), canonical_json(entry.after))`` when the
    caller has made them already (the store writes them as the event's columns): the entry's
    canonical text is then put together from them, byte for byte the same, without encoding
    ``before`` and ``after`` a second time (:func:`entry_json`).

    >>> e = AuditEntry(1, "2026-01-01T00:00:00.000000Z", "alice", "create", "subject", "P01",
    ...                None, {"arm": "a"}, None)
    >>> len(chain_hash(GENESIS_HASH, e))
    64
    >>> states = (canonical_json(e.before), canonical_json(e.after))
    >>> chain_hash(GENESIS_HASH, e, state_json=states) == chain_hash(GENESIS_HASH, e)
    True
    """
    if state_json is None:
        text = canonical_bytes(entry.as_dict())
    else:
        text = entry_json(entry, *state_json).encode("utf-8")
    return text_hash(prev_hash, text, key)


def text_hash(prev_hash: str, text: bytes, key: AuditKey | None = None) -> str:
    """:func:`chain_hash` of an entry whose canonical bytes are ``text``."""
    message = prev_hash.encode("ascii") + text
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key.secret, message, hashlib.sha256).hexdigest()


def entry_json(entry: AuditEntry, before_json: str, after_json: str) -> str:
    """:func:`canonical_json` of ``entry.as_dict()``, given the canonical texts of its
    ``before`` and ``after``: a JSON object is its members in key order, so the text is put
    together member by member (every other member is checked and encoded here)."""
    fast = _format2_json(entry, before_json, after_json)
    if fast is not None:
        return fast
    members = entry.as_dict()
    parts = []
    for name in sorted(members):
        if name == "before":
            text = before_json
        elif name == "after":
            text = after_json
        else:
            text = _member_json(members[name])
        parts.append(f'"{name}":{text}')
    return "{" + ",".join(parts) + "}"


def _format2_json(entry: AuditEntry, before_json: str, after_json: str) -> str | None:
    """:func:`entry_json` of a format-2 entry whose members are plain strings, integers and
    nulls (every event the store writes): :func:`format2_text`. ``None`` for anything else."""
    if entry.format_version != 2:
        return None
    return format2_text(
        entry.occurred_at, entry.actor, entry.action, entry.entity_type, entry.entity_key,
        entry.chain, entry.chain_seq, entry.key_id, entry.reason, before_json, after_json,
    )  # fmt: skip


def format2_text(
    occurred_at: str, actor: str, action: str, entity_type: str, entity_key: str, chain: str,
    chain_seq: int, key_id: str | None, reason: str | None, before_json: str, after_json: str,
) -> str | None:  # fmt: skip
    """:func:`entry_json` of the format-2 :class:`AuditEntry` of these members, put together in
    one pass when they are plain strings, integers and nulls: the members of
    :meth:`AuditEntry.as_dict` in key order, each encoded as :func:`canonical_json` would
    (``tests/store/test_canonical.py`` compares the two). ``None`` for anything else.

    The store chains its events with it without making an :class:`AuditEntry` each.
    """
    if (
        type(occurred_at) is not str
        or type(actor) is not str
        or type(action) is not str
        or type(entity_type) is not str
        or type(entity_key) is not str
        or type(chain) is not str
        or type(chain_seq) is not int
        or not (reason is None or type(reason) is str)
        or not (key_id is None or type(key_id) is str)
    ):
        return None
    enc = encode_basestring  # what _ENCODER.encode does with a str, without its checks
    return (
        f'{{"action":{enc(action)},"actor":{enc(actor)},"after":{after_json},'
        f'"before":{before_json},"chain":{enc(chain)},"chain_seq":{int.__repr__(chain_seq)},'
        f'"entity_key":{enc(entity_key)},"entity_type":{enc(entity_type)},"format":2,'
        f'"key_id":{"null" if key_id is None else enc(key_id)},'
        f'"occurred_at":{enc(occurred_at)},"reason":{"null" if reason is None else enc(reason)}}}'
    )


def chain_of(entity_type: str, entity_key: str, action: str) -> str:
    """The chain an event belongs to (see the module docstring).

    >>> chain_of("form_record", "s/P01/week_0/clasi", "create")
    's/P01'
    >>> chain_of("subject", "s/P01", "enroll"), chain_of("subject", "s/P01", "update")
    ('s', 's/P01')
    >>> chain_of("protocol", "s@1.0", "register"), chain_of("study", "s", "register")
    ('s', 's')
    """
    parts = entity_key.split("/")
    if len(parts) < 2 or (entity_type == "subject" and action == "enroll"):
        return parts[0].split("@")[0]
    return f"{parts[0]}/{parts[1]}"


def chain_genesis(chain: str, enrol_hash: str | None = None) -> str:
    """The ``prev_hash`` of a chain's first event.

    A study chain starts from ``SHA-256("clestudy-chain" NUL chain)``; a subject chain from the
    same with its enrolment event's hash appended, which ties it to the study chain. The legacy
    chain starts from 64 zeros.

    >>> chain_genesis("")
    '0000000000000000000000000000000000000000000000000000000000000000'
    >>> chain_genesis("s") != chain_genesis("s/P01", chain_genesis("s"))
    True
    """
    if chain == LEGACY_CHAIN:
        return GENESIS_HASH
    text = f"clestudy-chain\0{chain}" + ("" if enrol_hash is None else f"\0{enrol_hash}")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def snapshot_sha256(protocol_json: str) -> str:
    """SHA-256 of a stored protocol snapshot's JSON with sorted keys and no spaces.

    The hash a ``protocol`` (or ``study``) event records, so an edit of the stored snapshot is
    evident. Floats are allowed here (JSON text, not the canonical subset).

    >>> snapshot_sha256('{"b": 1, "a": 2.5}') == snapshot_sha256('{"a":2.5,"b":1}')
    True
    """
    value = json.loads(protocol_json)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditKey:
    """A secret key for keyed (HMAC-SHA256) hashing; only ``key_id`` is ever stored."""

    secret: bytes

    @property
    def key_id(self) -> str:
        """``hmac-sha256:`` and 16 hex digits of a hash of the key: names it, never reveals it."""
        digest = hashlib.sha256(b"clestudy-audit-key-id\0" + self.secret).hexdigest()
        return f"hmac-sha256:{digest[:16]}"

    def __repr__(self) -> str:
        return f"AuditKey({self.key_id})"


def load_audit_key(key_file: Path | None = None) -> AuditKey | None:
    """The audit key from ``key_file``, else ``$CLESTUDY_AUDIT_KEY_FILE``, else
    ``$CLESTUDY_AUDIT_KEY``; ``None`` when none is given (unkeyed SHA-256 chains).

    Surrounding whitespace of the key text is ignored.

    Raises
    ------
    InputError
        For a key file that cannot be read, or a key shorter than 16 bytes.
    """
    where = AUDIT_KEY_ENV
    if key_file is None and os.environ.get(AUDIT_KEY_FILE_ENV):
        key_file = Path(os.environ[AUDIT_KEY_FILE_ENV])
    if key_file is not None:
        where = f"key file {key_file}"
        try:
            secret = key_file.read_bytes().strip()
        except OSError as exc:
            raise InputError(f"{where}: cannot read the audit key ({exc.strerror})") from None
    else:
        text = os.environ.get(AUDIT_KEY_ENV, "").strip()
        if not text:
            return None
        secret = text.encode("utf-8")
    if len(secret) < MIN_KEY_BYTES:
        raise InputError(
            f"{where}: the audit key is {len(secret)} bytes; use at least {MIN_KEY_BYTES} "
            "(e.g. 32 random bytes: python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return AuditKey(secret)
