"""Source-data verification marks and visit/subject locks.

* ``field_verification``: one row per form record that has source-verified fields, holding the
  sorted JSON list of those fields (``fields_json``), who changed it last and when. A change of
  a verified value removes that field from the list (audited ``verification``/``reset``).
* ``data_lock``: one row per subject (``visit_key = ''``) or visit (``visit_key`` the visit id)
  that was ever locked; ``locked`` says whether it is locked now. A form-level lock stays the
  record's own status (``form_record.status = 'locked'``).
* PostgreSQL: the application role ``clestudy_app`` may UPDATE both tables (a mark list shrinks
  or grows, a lock is lifted); it never deletes from them (docs/security.md).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

APP_ROLE = "clestudy_app"
TABLES = ("field_verification", "data_lock")


def upgrade() -> None:
    op.create_table(
        "field_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("fields_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name="fk_field_verification_record_id_form_record"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_field_verification"),
        sa.UniqueConstraint("record_id", name="uq_field_verification_record_id"),
    )
    op.create_table(
        "data_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("visit_key", sa.String(64), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name="fk_data_lock_subject_id_subject"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_data_lock"),
        sa.UniqueConstraint("subject_id", "visit_key", name="uq_data_lock_subject_id_visit_key"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:  # SELECT and INSERT come from 0004's default privileges
            op.execute(f"GRANT SELECT, INSERT, UPDATE ON {table} TO {APP_ROLE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"REVOKE ALL ON {table} FROM {APP_ROLE}")
    op.drop_table("data_lock")
    op.drop_table("field_verification")
