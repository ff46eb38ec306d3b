"""Audit events: drop the unique constraints on ``hash`` and ``prev_hash``.

Both columns are SHA-256 (or HMAC-SHA256) digests in hex. Their unique indexes were never read
by a query (the store finds events by chain and position, or by entity), and what they guarded
is already guarded elsewhere:

* a fork of a chain (two events after the same one) is refused by the unique
  ``(chain, chain_seq)`` index, the documented safety net (docs/security.md, "Why per subject");
* a copied, removed or reordered event is found by ``audit verify``, which recomputes every
  hash and link of every chain.

They cost a quarter of the audit table's index space and, being random keys, a third of the
time SQLite spends inserting an import's audit events (docs/performance.md, "Imports"). The
triggers that refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) are unchanged; on SQLite the
table is rebuilt without the constraints (SQLite cannot drop a constraint), every row copied as
it is, and its triggers and indexes made again.

Revision ID: 0011
Revises: 0010_hardening
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010_hardening"
branch_labels = None
depends_on = None

_CONSTRAINTS = (("uq_audit_event_prev_hash", "prev_hash"), ("uq_audit_event_hash", "hash"))
_VERBS = ("UPDATE", "DELETE")


def _sqlite_extras(action: str) -> None:
    """Drop, or make again in a fixed order, the audit table's indexes and triggers around its
    rebuild (left to the batch, the indexes would be made in a set's order: a schema that
    differs from one database to the next, and a snapshot that would not be reproducible)."""
    if action == "drop":
        for verb in _VERBS:
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{verb.lower()}")
        op.drop_index("ix_audit_event_entity_key", "audit_event")
        op.drop_index("ix_audit_event_chain", "audit_event")
        return
    op.create_index("ix_audit_event_chain", "audit_event", ["chain", "chain_seq"], unique=True)
    op.create_index("ix_audit_event_entity_key", "audit_event", ["entity_key"])
    for verb in _VERBS:
        op.execute(
            f"CREATE TRIGGER audit_event_no_{verb.lower()} BEFORE {verb} ON audit_event "
            "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END;"
        )


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, _ in _CONSTRAINTS:
            op.drop_constraint(name, "audit_event", type_="unique")
        return
    _sqlite_extras("drop")  # a rebuilt table loses its triggers: all made again below
    with op.batch_alter_table("audit_event", recreate="always") as batch:
        for name, _ in _CONSTRAINTS:
            batch.drop_constraint(name, type_="unique")
    _sqlite_extras("create")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, column in _CONSTRAINTS:
            op.create_unique_constraint(name, "audit_event", [column])
        return
    _sqlite_extras("drop")
    with op.batch_alter_table("audit_event", recreate="always") as batch:
        for name, column in _CONSTRAINTS:
            batch.create_unique_constraint(name, [column])
    _sqlite_extras("create")
