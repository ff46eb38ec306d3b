"""Capture: record status life cycle, protocol snapshots (amendments) and discrepancies.

* ``form_record.protocol_version``: the protocol version a record was last saved under;
  ``form_record.status_before_lock``: the status a locked record returns to when unlocked.
* ``protocol_snapshot``: every protocol version a study has run on, as canonical JSON with its
  SHA-256; ``study.current_snapshot_id`` points at the one in force.
* ``discrepancy``: a warning edit check that fired on a record, open until resolved with a reason.

Existing databases are backfilled: each study gets a snapshot of its stored protocol, and each
record the study's protocol version.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _canonical(text: str) -> str:
    """A stored protocol's JSON with sorted keys and no spaces, as ``snapshot_sha256`` hashes it.

    A copy, so that this migration keeps working whatever the package later becomes.
    """
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def upgrade() -> None:
    op.create_table(
        "protocol_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("protocol_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name="fk_protocol_snapshot_study_id_study"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_protocol_snapshot"),
        sa.UniqueConstraint("study_id", "version", name="uq_protocol_snapshot_study_id_version"),
    )
    op.create_table(
        "discrepancy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name="fk_discrepancy_record_id_form_record"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_discrepancy"),
        sa.UniqueConstraint("record_id", "check_id", name="uq_discrepancy_record_id_check_id"),
    )
    with op.batch_alter_table("study") as batch:
        batch.add_column(sa.Column("current_snapshot_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("form_record") as batch:
        batch.add_column(sa.Column("protocol_version", sa.String(32), nullable=True))
        batch.add_column(sa.Column("status_before_lock", sa.String(16), nullable=True))
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    studies = bind.execute(
        sa.text("SELECT id, protocol_version, protocol_json, created_at FROM study")
    ).all()
    for study_id, version, protocol_json, created_at in studies:
        digest = hashlib.sha256(_canonical(protocol_json).encode("utf-8")).hexdigest()
        bind.execute(
            sa.text(
                "INSERT INTO protocol_snapshot (study_id, version, protocol_json, sha256, "
                "created_at, created_by) VALUES (:s, :v, :j, :h, :c, 'migration 0002')"
            ),
            {
                "s": study_id,
                "v": version,
                "j": protocol_json,
                "h": digest,
                "c": created_at,
            },
        )
        bind.execute(
            sa.text(
                "UPDATE study SET current_snapshot_id = (SELECT id FROM protocol_snapshot "
                "WHERE study_id = :s AND version = :v) WHERE id = :s"
            ),
            {"s": study_id, "v": version},
        )
        bind.execute(
            sa.text("UPDATE form_record SET protocol_version = :v WHERE study_id = :s"),
            {"s": study_id, "v": version},
        )


def downgrade() -> None:
    with op.batch_alter_table("form_record") as batch:
        batch.drop_column("status_before_lock")
        batch.drop_column("protocol_version")
    with op.batch_alter_table("study") as batch:
        batch.drop_column("current_snapshot_id")
    op.drop_table("discrepancy")
    op.drop_table("protocol_snapshot")
