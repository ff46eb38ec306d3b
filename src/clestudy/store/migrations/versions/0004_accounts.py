"""Accounts: users, their sites, sessions, API tokens, the account event trail, least privilege.

* ``users`` (role, argon2id password hash, suspension, failed-attempt count, locked-until),
  ``user_sites``, ``sessions`` and ``api_tokens`` (tokens stored as SHA-256 only).
* ``account_event``: the append-only, hash-chained trail of every account change and sign-in;
  triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), as on ``audit_event``.
* PostgreSQL only: the NOLOGIN role ``clestudy_app`` (created when absent; roles are global to the
  server) gets SELECT and INSERT on every table of the schema, UPDATE only on the tables the store
  updates, DELETE only on the two it deletes from, and no UPDATE, DELETE or TRUNCATE on
  ``audit_event`` or ``account_event`` (docs/security.md, "Least privilege on PostgreSQL").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: The application role of a PostgreSQL deployment (docs/security.md).
APP_ROLE = "clestudy_app"

#: The tables of the schema at this revision; the application may read and insert into each
#: (and only read ``alembic_version``: it never migrates).
TABLES = (
    "study",
    "protocol_snapshot",
    "subject",
    "form_record",
    "derived_score",
    "discrepancy",
    "audit_event",
    "users",
    "user_sites",
    "sessions",
    "api_tokens",
    "account_event",
)
#: The tables the store updates in place (never the two event trails).
UPDATED = (
    "study",
    "subject",
    "form_record",
    "derived_score",
    "discrepancy",
    "users",
    "sessions",
    "api_tokens",
)
#: The tables the store deletes rows from (a recomputed score, a user's replaced site list).
DELETED = ("derived_score", "user_sites")

_PG_APPEND_ONLY = """
CREATE FUNCTION clestudy_account_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'account_event is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER account_event_append_only BEFORE UPDATE OR DELETE ON account_event
    FOR EACH ROW EXECUTE FUNCTION clestudy_account_event_append_only();
CREATE TRIGGER account_event_no_truncate BEFORE TRUNCATE ON account_event
    FOR EACH STATEMENT EXECUTE FUNCTION clestudy_account_event_append_only();
"""

_PG_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{APP_ROLE}') THEN
        CREATE ROLE {APP_ROLE} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- another database of this server created it at the same moment
END
$$;
"""


def _grant_app_role() -> None:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    quoted = '"' + str(schema).replace('"', '""') + '"'
    op.execute(_PG_ROLE)
    op.execute(f"GRANT USAGE ON SCHEMA {quoted} TO {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON {', '.join(TABLES)} TO {APP_ROLE}")
    op.execute(f"GRANT UPDATE ON {', '.join(UPDATED)} TO {APP_ROLE}")
    op.execute(f"GRANT DELETE ON {', '.join(DELETED)} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {quoted} TO {APP_ROLE}")
    # tables and sequences of later migrations: read and append; UPDATE/DELETE stay explicit
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} GRANT SELECT, INSERT ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} GRANT USAGE ON SEQUENCES TO {APP_ROLE}"
    )


def _revoke_app_role() -> None:
    schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
    quoted = '"' + str(schema).replace('"', '""') + '"'
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} REVOKE USAGE ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {quoted} REVOKE SELECT, INSERT ON TABLES "
        f"FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {quoted} FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {quoted} FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {quoted} FROM {APP_ROLE}")
    # the role itself stays: other databases or schemas of the server may still use it


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(256), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", sa.String(32), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "user_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_sites_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_user_sites"),
        sa.UniqueConstraint("user_id", "site", name="uq_user_sites_user_id_site"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_seen_at", sa.String(32), nullable=False),
        sa.Column("ended_at", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sessions_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("token_sha256", name="uq_sessions_token_sha256"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_tokens_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_sha256", name="uq_api_tokens_token_sha256"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "account_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("username", sa.String(256), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_account_event"),
        sa.UniqueConstraint("prev_hash", name="uq_account_event_prev_hash"),
        sa.UniqueConstraint("hash", name="uq_account_event_hash"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
        _grant_app_role()
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER account_event_no_{verb.lower()} BEFORE {verb} ON account_event "
                "BEGIN SELECT RAISE(ABORT, 'account_event is append-only'); END;"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _revoke_app_role()
        op.execute("DROP TRIGGER account_event_no_truncate ON account_event")
        op.execute("DROP TRIGGER account_event_append_only ON account_event")
        op.execute("DROP FUNCTION clestudy_account_event_append_only()")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_index("ix_sessions_user_id", table_name="sessions")
    for table in ("account_event", "api_tokens", "sessions", "user_sites", "users"):
        op.drop_table(table)
