"""SQLAlchemy 2 models of the store. The schema itself is created only by Alembic migrations.

A test checks that the migrations produce exactly these models (``tests/store/test_migrations.py``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AccountEventRow",
    "AccountSettingRow",
    "AllocationRow",
    "ApiTokenRow",
    "AuditRow",
    "Base",
    "DataLockRow",
    "DerivedRow",
    "DiscrepancyRow",
    "FieldVerificationRow",
    "ProtocolSnapshotRow",
    "QualityExclusionRow",
    "QualityRunRow",
    "QueryMessageRow",
    "QueryRow",
    "RecordRow",
    "SessionRow",
    "SignatureRow",
    "SignatureVoidRow",
    "StudyRow",
    "SubjectRow",
    "UserRow",
    "UserSiteRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StudyRow(Base):
    """A study and the protocol it runs on now.

    ``protocol_version`` and ``protocol_json`` mirror the current snapshot, which
    ``current_snapshot_id`` names (every version ever in force is a :class:`ProtocolSnapshotRow`).
    """

    __tablename__ = "study"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_key: Mapped[str] = mapped_column(String(64), unique=True)
    protocol_version: Mapped[str] = mapped_column(String(32))
    protocol_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(32))
    current_snapshot_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ProtocolSnapshotRow(Base):
    """One protocol version of a study (registration or amendment), as canonical JSON."""

    __tablename__ = "protocol_snapshot"
    __table_args__ = (UniqueConstraint("study_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    version: Mapped[str] = mapped_column(String(32))
    protocol_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str] = mapped_column(String(128))


class SubjectRow(Base):
    """An enrolled subject."""

    __tablename__ = "subject"
    __table_args__ = (UniqueConstraint("study_id", "subject_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    subject_key: Mapped[str] = mapped_column(String(64))
    arm: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[str] = mapped_column(String(32))
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)


class RecordRow(Base):
    """The current state of one form record (history lives in the audit trail)."""

    __tablename__ = "form_record"
    __table_args__ = (UniqueConstraint("subject_id", "visit_key", "form_key", "instance"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    visit_key: Mapped[str] = mapped_column(String(64))
    form_key: Mapped[str] = mapped_column(String(64))
    instance: Mapped[int] = mapped_column(Integer)
    values_json: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))
    protocol_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status_before_lock: Mapped[str | None] = mapped_column(String(16), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own convention


class DerivedRow(Base):
    """A derived score of a record, with the instrument version that computed it."""

    __tablename__ = "derived_score"
    __table_args__ = (UniqueConstraint("record_id", "score_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"))
    score_key: Mapped[str] = mapped_column(String(64))
    instrument: Mapped[str] = mapped_column(String(64))
    instrument_version: Mapped[str] = mapped_column(String(64))
    values_json: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[str] = mapped_column(String(32))


class DiscrepancyRow(Base):
    """A warning edit check that fired on a record: open until resolved with a reason."""

    __tablename__ = "discrepancy"
    __table_args__ = (UniqueConstraint("record_id", "check_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"))
    check_id: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    fields_json: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    opened_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))


class AuditRow(Base):
    """One append-only, hash-chained audit event. Database triggers refuse UPDATE and DELETE
    (and TRUNCATE on PostgreSQL); ``(chain, chain_seq)`` is unique, so a chain cannot fork.
    ``hash`` and ``prev_hash`` carry no index (migration 0011): no query reads by them, and
    ``audit verify`` recomputes every link."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_chain", "chain", "chain_seq", unique=True),
        Index("ix_audit_event_entity_key", "entity_key"),
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    format_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_key: Mapped[str] = mapped_column(String(256))
    before_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    after_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    chain: Mapped[str] = mapped_column(String(128), server_default="")
    chain_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class UserRow(Base):
    """A person who may sign in: role, argon2id password hash, suspension and lockout state."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(256))
    suspended: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    locked_until: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))


class UserSiteRow(Base):
    """One site (a ``SubjectRow.site`` code) a user works at."""

    __tablename__ = "user_sites"
    __table_args__ = (UniqueConstraint("user_id", "site"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    site: Mapped[str] = mapped_column(String(64))


class SessionRow(Base):
    """A signed-in browser session; only the SHA-256 of its token is stored."""

    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[str] = mapped_column(String(32))
    last_seen_at: Mapped[str] = mapped_column(String(32))
    ended_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class ApiTokenRow(Base):
    """A named API token of a user; only the SHA-256 of the token is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class AccountEventRow(Base):
    """One append-only, hash-chained account event (never a password or a token).

    Database triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), as for
    :class:`AuditRow`; all account events form one chain ordered by ``seq``.
    """

    __tablename__ = "account_event"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(256))
    detail_json: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AccountSettingRow(Base):
    """A setting of the accounts store, written by a migration (``unknown_user_salt``: the
    random salt of the tags under which sign-ins naming no account are recorded)."""

    __tablename__ = "account_setting"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


# -- electronic signatures (migration 0007; store/_signatures.py) --------------------------------


class SignatureRow(Base):
    """An electronic signature of a subject's casebook or of one visit (21 CFR 11.50, 11.70).

    Append-only (triggers refuse UPDATE and DELETE, and TRUNCATE on PostgreSQL): a signature is
    never edited; a later change to the data it covers adds a :class:`SignatureVoidRow`.
    ``data_sha256`` is the SHA-256 of the canonical serialisation of the covered records
    (``clestudy.store._signatures.signed_data``); ``records_json`` lists them with their versions.
    """

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    visit_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signer: Mapped[str] = mapped_column(String(64))
    signer_name: Mapped[str] = mapped_column(String(256))
    meaning: Mapped[str] = mapped_column(String(16))
    attestation: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[str] = mapped_column(String(32))
    data_sha256: Mapped[str] = mapped_column(String(64))
    records_json: Mapped[str] = mapped_column(Text)


class SignatureVoidRow(Base):
    """The voiding of a signature by a later change to the data it covers (append-only).

    ``cause_json`` names the change: ``{"entity_key", "action", "version"}`` of the record (or
    subject) event that changed the covered data, written in the same transaction.
    """

    __tablename__ = "signature_void"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signature.id"), unique=True)
    voided_at: Mapped[str] = mapped_column(String(32))
    voided_by: Mapped[str] = mapped_column(String(128))
    cause_json: Mapped[str] = mapped_column(Text)


# -- randomization (migration 0008) ---------------------------------------------------------------


class AllocationRow(Base):
    """One row of a study's concealed allocation list, and the subject it was used for.

    Rows are taken in ``sequence`` order within their stratum (``Store.randomize``); a used row
    names its subject, time and actor. ``subject_id`` is unique: a subject has at most one row.
    """

    __tablename__ = "allocation"
    __table_args__ = (
        UniqueConstraint("study_id", "stratum", "sequence"),
        UniqueConstraint("subject_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    stratum: Mapped[str] = mapped_column(String(256))
    sequence: Mapped[int] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(64))
    block: Mapped[int | None] = mapped_column(Integer, nullable=True)
    block_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), nullable=True)
    used_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    used_by: Mapped[str | None] = mapped_column(String(128), nullable=True)


# -- verification and locking (migration 0006) -------------------------------------------------


class FieldVerificationRow(Base):
    """The source-verified fields of one form record (sorted JSON list of field ids)."""

    __tablename__ = "field_verification"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"), unique=True)
    fields_json: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))


class DataLockRow(Base):
    """A lock of a whole subject (``visit_key == ""``) or of one of its visits.

    A form-level lock is the record's own status; ``locked`` false means lifted (the row stays).
    """

    __tablename__ = "data_lock"
    __table_args__ = (UniqueConstraint("subject_id", "visit_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"))
    visit_key: Mapped[str] = mapped_column(String(64))
    locked: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))


# -- queries (migration 0005) ----------------------------------------------------------------------


class QueryRow(Base):
    """A query on one field of a record: its current status (its thread is
    :class:`QueryMessageRow`). One per field: a closed query is re-opened, never raised again."""

    __tablename__ = "data_query"
    __table_args__ = (UniqueConstraint("record_id", "field_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"))
    field_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(128))
    raised_at: Mapped[str] = mapped_column(String(32))
    raised_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))
    closed_at: Mapped[str | None] = mapped_column(String(32), nullable=True)


class QueryMessageRow(Base):
    """One message of a query's thread, written with each state change. Append-only: triggers
    refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), and the application role may only
    read and insert."""

    __tablename__ = "data_query_message"
    __table_args__ = (UniqueConstraint("query_id", "seq"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_query.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


# -- data-quality runs and exclusions (store/_quality.py; migration 0009) --------------------------


class QualityRunRow(Base):
    """One data-quality run of a study: when, by whom, as of which date, under which protocol
    version, a hash of the data it read, and its findings (canonical JSON). Never updated."""

    __tablename__ = "dq_run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    run_at: Mapped[str] = mapped_column(String(32))
    run_by: Mapped[str] = mapped_column(String(128))
    as_of: Mapped[str] = mapped_column(String(10))
    protocol_version: Mapped[str] = mapped_column(String(32))
    data_sha256: Mapped[str] = mapped_column(String(64))
    findings_sha256: Mapped[str] = mapped_column(String(64))
    counts_json: Mapped[str] = mapped_column(Text)
    findings_json: Mapped[str] = mapped_column(Text)


class QualityExclusionRow(Base):
    """A data-quality finding confirmed correct (excluded) with a reason, or its exclusion revoked.

    ``data_sha256`` is the hash of the data the finding read when it was excluded: a later run
    whose finding reads other data shows it again.
    """

    __tablename__ = "dq_exclusion"
    __table_args__ = (UniqueConstraint("study_id", "finding_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    subject_key: Mapped[str] = mapped_column(String(64))
    finding_key: Mapped[str] = mapped_column(String(256))
    rule: Mapped[str] = mapped_column(String(64))
    data_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(String(128))
