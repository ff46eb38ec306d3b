"""Open a study in a database, and verify the whole audit chain."""

from __future__ import annotations

import json

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from clestudy.errors import ClestudyError, InputError, NotFoundError
from clestudy.protocol import BUILTIN_PROTOCOLS, Protocol, load_protocol
from clestudy.store._engine import make_engine
from clestudy.store._migrate import schema_is_current, upgrade_to_head
from clestudy.store._schema import AuditRow, StudyRow
from clestudy.store._service import Store, study_row
from clestudy.store._snapshots import register_study

__all__ = ["audit_events", "list_studies", "open_store", "upgrade_database"]


def _engine_ready(url: str) -> Engine:
    """An engine on ``url`` with the schema migrated to head (for opening a study)."""
    engine = make_engine(url)
    try:
        upgrade_to_head(engine)
    except DBAPIError as exc:  # locked, unreachable, or a file that is not a database
        engine.dispose()
        raise ClestudyError(f"database {url}: cannot open ({exc.orig})") from None
    except BaseException:
        engine.dispose()
        raise
    return engine


def engine_existing(url: str) -> Engine:
    """An engine on a clestudy database that already exists; no table is created or migrated.

    Reading the audit trail must never write: verifying an empty file, or another program's
    SQLite file, must not report "0 events OK" after adding clestudy's tables to it.
    """
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    except DBAPIError as exc:
        engine.dispose()
        raise ClestudyError(f"database {url}: cannot open ({exc.orig})") from None
    except BaseException:
        engine.dispose()
        raise
    if not {"alembic_version", "audit_event", "study"} <= tables:
        engine.dispose()
        raise NotFoundError(f"database {url}: not a clestudy database (no clestudy tables)")
    if not schema_is_current(engine):
        engine.dispose()
        raise InputError(
            f"database {url}: its schema is older (or newer) than this clestudy's, and reading "
            "never migrates; upgrade it first with `clestudy study upgrade --db URL`"
        )
    return engine


def upgrade_database(url: str) -> None:
    """Migrate the database at ``url`` to this clestudy's schema (audited data is kept)."""
    _engine_ready(url).dispose()


def open_store(
    url: str, protocol: Protocol | str, *, actor: str = "system", migrate: bool = True
) -> Store:
    """Open (and if needed register) a study in the database at ``url``.

    Parameters
    ----------
    url
        ``sqlite:///path/to/clestudy.db`` or ``postgresql+psycopg://user@host/db``. The schema is
        migrated to the newest version first.
    protocol
        A :class:`~clestudy.protocol.Protocol` to register or check against the stored one, or a
        study id already in the database (or a built-in protocol name).
    actor
        Who registers the study when it is new (audited).
    migrate
        ``False`` for readers: the database must exist at the current schema (nothing is created
        or migrated), else :class:`~clestudy.errors.ClestudyError`.

    Raises
    ------
    NotFoundError
        When ``protocol`` is a study id that is neither in the database nor built in.
    ClestudyError
        When the given protocol differs from the one the study runs on (amend it with
        :meth:`Store.amend_protocol`).
    """
    engine = _engine_ready(url) if migrate else engine_existing(url)
    try:
        return _open(engine, url, protocol, actor)
    except BaseException:
        engine.dispose()
        raise


def _open(engine: Engine, url: str, protocol: Protocol | str, actor: str) -> Store:
    if isinstance(protocol, str):
        with Session(engine) as session:
            row = study_row(session, protocol)
            if row is not None:
                stored = Protocol.model_validate(json.loads(row.protocol_json))
                return Store(engine, stored, row.id)
        if protocol not in BUILTIN_PROTOCOLS:
            raise NotFoundError(f"study '{protocol}' is not in database {url}")
        protocol = load_protocol(protocol)
    snapshot = protocol.model_dump_json()
    with Session(engine) as session:
        row = study_row(session, protocol.id)
        if row is not None:
            if json.loads(row.protocol_json) != json.loads(snapshot):
                raise ClestudyError(
                    f"study '{protocol.id}' in {url} runs on protocol version "
                    f"{row.protocol_version}; the given protocol (version {protocol.version}) "
                    "differs from it: amend the study to change its protocol (`clestudy study "
                    "amend`)"
                )
            return Store(engine, protocol, row.id)
    store = Store(engine, protocol, study_pk=0)
    register_study(store, actor=actor)
    return store


def list_studies(url: str) -> list[str]:
    """The ids of the studies registered in the database at ``url``."""
    engine = engine_existing(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(StudyRow.study_key).order_by(StudyRow.id)))
    finally:
        engine.dispose()


def audit_events(url: str, *, entity_prefix: str | None = None) -> list[dict[str, object]]:
    """The audit trail as plain dictionaries, oldest first, optionally for one entity prefix.

    ``entity_prefix`` matches the start of the entity key, e.g.
    ``"pediatric-cle-chart-review/P01/"`` for one subject's records.
    """
    engine = engine_existing(url)
    try:
        with Session(engine) as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if entity_prefix:
                query = query.where(AuditRow.entity_key.startswith(entity_prefix, autoescape=True))
            return [
                {
                    "seq": row.seq,
                    "occurred_at": row.occurred_at,
                    "actor": row.actor,
                    "action": row.action,
                    "entity_type": row.entity_type,
                    "entity_key": row.entity_key,
                    "before": None if row.before_json is None else json.loads(row.before_json),
                    "after": None if row.after_json is None else json.loads(row.after_json),
                    "reason": row.reason,
                    "hash": row.hash,
                }
                for row in session.scalars(query)
            ]
    finally:
        engine.dispose()
