"""Audit chains, keys and soft delete: per-subject chains, key ids, deleted flags, no TRUNCATE.

* ``audit_event`` gains ``chain``, ``chain_seq`` (unique together: one writer per position, so a
  chain never forks) and ``key_id`` (the HMAC key an event was hashed with, never the key).
  Events written before this migration are format 1 and form the legacy chain ``""``, in ``seq``
  order. An index on ``entity_key`` serves a subject's enrolment look-up and ``audit log``.
* ``subject`` and ``form_record`` gain ``deleted`` (soft delete, kept in the audit history).
* PostgreSQL: a statement-level trigger refuses ``TRUNCATE audit_event`` (row triggers do not
  fire on TRUNCATE), and the sequence ``clestudy_audit_seq`` numbers events without a global lock
  (on SQLite ``seq``, an INTEGER PRIMARY KEY, is the rowid and numbers itself).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PG_UP = """
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION clestudy_audit_append_only();
CREATE SEQUENCE clestudy_audit_seq;
SELECT setval('clestudy_audit_seq', coalesce(max(seq), 0) + 1, false) FROM audit_event;
ALTER TABLE audit_event ALTER COLUMN seq SET DEFAULT nextval('clestudy_audit_seq');
ALTER SEQUENCE clestudy_audit_seq OWNED BY audit_event.seq;
"""

_SQLITE_NO_UPDATE = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;"
)


def _number_legacy_events(postgres: bool) -> None:
    """Give the events written so far their place in the legacy chain (the guard is lifted for
    this one trusted statement)."""
    if postgres:
        op.execute("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only")
        op.execute("UPDATE audit_event SET chain_seq = seq")
        op.execute("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only")
    else:
        op.execute("DROP TRIGGER audit_event_no_update")
        op.execute("UPDATE audit_event SET chain_seq = seq")
        op.execute(_SQLITE_NO_UPDATE)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column(
        "audit_event", sa.Column("chain", sa.String(128), nullable=False, server_default="")
    )
    op.add_column(
        "audit_event", sa.Column("chain_seq", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("audit_event", sa.Column("key_id", sa.String(64), nullable=True))
    _number_legacy_events(postgres)
    op.create_index("ix_audit_event_chain", "audit_event", ["chain", "chain_seq"], unique=True)
    op.create_index("ix_audit_event_entity_key", "audit_event", ["entity_key"])
    for table in ("subject", "form_record"):
        op.add_column(
            table,
            sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        )
    if postgres:
        op.execute(_PG_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_event ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE clestudy_audit_seq")
        op.execute("DROP TRIGGER audit_event_no_truncate ON audit_event")
    for table in ("form_record", "subject"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted")
    op.drop_index("ix_audit_event_entity_key", table_name="audit_event")
    op.drop_index("ix_audit_event_chain", table_name="audit_event")
    with op.batch_alter_table("audit_event") as batch:
        for column in ("key_id", "chain_seq", "chain"):
            batch.drop_column(column)
