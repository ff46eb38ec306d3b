"""Randomization: the concealed allocation list of a randomized study.

* ``allocation``: one row per allocation (stratum, sequence, arm, block and block size), and
  once used the subject, time and actor; ``(study_id, stratum, sequence)`` and ``subject_id``
  are unique, so two subjects can never take the same row and a subject never takes two.
* PostgreSQL only: the application role ``clestudy_app`` may update the table (a row is marked
  used) and delete from it (an unused list is replaced before the first randomization; the store
  refuses it afterwards). Default privileges from 0004 already grant SELECT and INSERT.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APP_ROLE = "clestudy_app"


def upgrade() -> None:
    op.create_table(
        "allocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("stratum", sa.String(256), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("block", sa.Integer(), nullable=True),
        sa.Column("block_size", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("used_at", sa.String(32), nullable=True),
        sa.Column("used_by", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"], name="fk_allocation_study_id_study"),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name="fk_allocation_subject_id_subject"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_allocation"),
        sa.UniqueConstraint(
            "study_id", "stratum", "sequence", name="uq_allocation_study_id_stratum_sequence"
        ),
        sa.UniqueConstraint("subject_id", name="uq_allocation_subject_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON allocation TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"REVOKE ALL ON allocation FROM {APP_ROLE}")
    op.drop_table("allocation")
