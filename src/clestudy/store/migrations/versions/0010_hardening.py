"""Account settings: ``account_setting``, holding the salt of unknown-user sign-in tags.

A sign-in naming no account is recorded without the name as typed (often a password typed into
the wrong box): the account trail keeps an argon2id tag of it under this database's random salt
(docs/security.md, "Accounts and sessions"). The salt is made here, once per database, so every
process and every worker tags alike. PostgreSQL: the application role ``clestudy_app`` may read
the table (default privileges of migration 0004) and never update it.

Revision ID: 0010_hardening
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010_hardening"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "account_setting",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_account_setting"),
    )
    op.bulk_insert(table, [{"name": "unknown_user_salt", "value": secrets.token_hex(16)}])


def downgrade() -> None:
    op.drop_table("account_setting")
