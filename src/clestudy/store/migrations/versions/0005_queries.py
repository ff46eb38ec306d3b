"""Queries: the discrepancy-note / data-resolution workflow on a field of a record.

* ``data_query``: one query per record field (status ``open``, ``answered`` or ``closed``, its
  origin: raised by hand or from an edit check, who raised it and when).
* ``data_query_message``: the query's thread, one message per state change. Append-only:
  triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), as on ``audit_event``.
* PostgreSQL: the application role ``clestudy_app`` (migration 0004) may read and insert into
  both tables and update ``data_query``; never update or delete a thread message.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "clestudy_app"

_PG_APPEND_ONLY = """
CREATE FUNCTION clestudy_query_message_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'data_query_message is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER data_query_message_append_only BEFORE UPDATE OR DELETE ON data_query_message
    FOR EACH ROW EXECUTE FUNCTION clestudy_query_message_append_only();
CREATE TRIGGER data_query_message_no_truncate BEFORE TRUNCATE ON data_query_message
    FOR EACH STATEMENT EXECUTE FUNCTION clestudy_query_message_append_only();
"""


def _grant_app_role() -> None:
    exists = op.get_bind().execute(
        sa.text("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :r"), {"r": APP_ROLE}
    )
    if exists.first() is None:
        return
    op.execute(f"GRANT SELECT, INSERT ON data_query, data_query_message TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ON data_query TO {APP_ROLE}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON data_query_message FROM {APP_ROLE}")
    op.execute(
        f"GRANT USAGE ON SEQUENCE data_query_id_seq, data_query_message_id_seq TO {APP_ROLE}"
    )


def upgrade() -> None:
    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(128), nullable=False),
        sa.Column("raised_at", sa.String(32), nullable=False),
        sa.Column("raised_by", sa.String(128), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.Column("closed_at", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name="fk_data_query_record_id_form_record"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_data_query"),
        sa.UniqueConstraint("record_id", "field_id", name="uq_data_query_record_id_field_id"),
    )
    op.create_table(
        "data_query_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"], ["data_query.id"], name="fk_data_query_message_query_id_data_query"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_data_query_message"),
        sa.UniqueConstraint("query_id", "seq", name="uq_data_query_message_query_id_seq"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        _grant_app_role()
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER data_query_message_no_{verb.lower()} BEFORE {verb} ON "
                "data_query_message BEGIN SELECT RAISE(ABORT, 'data_query_message is "
                "append-only'); END;"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER data_query_message_no_truncate ON data_query_message")
        op.execute("DROP TRIGGER data_query_message_append_only ON data_query_message")
        op.execute("DROP FUNCTION clestudy_query_message_append_only()")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER data_query_message_no_{verb}")
    op.drop_table("data_query_message")
    op.drop_table("data_query")
