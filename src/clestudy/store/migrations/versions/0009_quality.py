"""Data-quality runs and exclusions: ``dq_run`` (append-only by use) and ``dq_exclusion``.

PostgreSQL: the application role ``clestudy_app`` gets SELECT and INSERT on both through the
default privileges of migration 0004, and UPDATE on ``dq_exclusion`` only (an exclusion is revoked
in place; a run is never changed).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APP_ROLE = "clestudy_app"


def upgrade() -> None:
    op.create_table(
        "dq_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("run_at", sa.String(32), nullable=False),
        sa.Column("run_by", sa.String(128), nullable=False),
        sa.Column("as_of", sa.String(10), nullable=False),
        sa.Column("protocol_version", sa.String(32), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("findings_sha256", sa.String(64), nullable=False),
        sa.Column("counts_json", sa.Text(), nullable=False),
        sa.Column("findings_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_dq_run_study_id_study"),
        sa.PrimaryKeyConstraint("id", name="pk_dq_run"),
    )
    op.create_index("ix_dq_run_study_id", "dq_run", ["study_id"])
    op.create_table(
        "dq_exclusion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(64), nullable=False),
        sa.Column("finding_key", sa.String(256), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_dq_exclusion_study_id_study"),
        sa.PrimaryKeyConstraint("id", name="pk_dq_exclusion"),
        sa.UniqueConstraint("study_id", "finding_key", name="uq_dq_exclusion_study_id_finding_key"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT UPDATE ON dq_exclusion TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE UPDATE ON dq_exclusion FROM {APP_ROLE}")
    op.drop_table("dq_exclusion")
    op.drop_index("ix_dq_run_study_id", table_name="dq_run")
    op.drop_table("dq_run")
