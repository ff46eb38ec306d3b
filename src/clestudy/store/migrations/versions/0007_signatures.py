"""Electronic signatures: the append-only ``signature`` and ``signature_void`` tables.

* ``signature``: who signed (username and full name), when (store clock), the meaning (review,
  approval, authorship), the attestation text shown, the scope (a subject's casebook, or one
  visit) and the SHA-256 of exactly the data covered (21 CFR 11.50, 11.70).
* ``signature_void``: one row per voided signature, naming the change that voided it.
* Both are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), as on
  ``audit_event``; on PostgreSQL the application role ``clestudy_app`` gets SELECT and INSERT
  only (docs/security.md, "Least privilege on PostgreSQL").

Revision ID: 0007
Revises: 0005 (re-chained after merging main; 0006 may come between)
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

APP_ROLE = "clestudy_app"
TABLES = ("signature", "signature_void")

_PG_FUNCTION = """
CREATE FUNCTION clestudy_signature_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def _pg_triggers(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION clestudy_signature_append_only();
CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION clestudy_signature_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_key", sa.String(64), nullable=True),
        sa.Column("signer", sa.String(64), nullable=False),
        sa.Column("signer_name", sa.String(256), nullable=False),
        sa.Column("meaning", sa.String(16), nullable=False),
        sa.Column("attestation", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("records_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_signature_study_id_study"),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name="fk_signature_subject_id_subject"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signature"),
    )
    op.create_index("ix_signature_subject_id", "signature", ["subject_id"])
    op.create_table(
        "signature_void",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("voided_at", sa.String(32), nullable=False),
        sa.Column("voided_by", sa.String(128), nullable=False),
        sa.Column("cause_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["signature_id"], ["signature.id"], name="fk_signature_void_signature_id_signature"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_signature_void"),
        sa.UniqueConstraint("signature_id", name="uq_signature_void_signature_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for table in TABLES:
            op.execute(_pg_triggers(table))
        op.execute(f"GRANT SELECT, INSERT ON {', '.join(TABLES)} TO {APP_ROLE}")
        schema = op.get_bind().execute(sa.text("SELECT current_schema()")).scalar_one()
        quoted = '"' + str(schema).replace('"', '""') + '"'
        op.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {quoted} TO {APP_ROLE}")
    else:
        for table in TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON {', '.join(TABLES)} FROM {APP_ROLE}")
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION clestudy_signature_append_only()")
    op.drop_table("signature_void")
    op.drop_index("ix_signature_subject_id", table_name="signature")
    op.drop_table("signature")
