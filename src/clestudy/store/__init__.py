"""The store: SQLAlchemy models, Alembic migrations and the one audited write path.

Examples
--------
>>> import tempfile, pathlib
>>> from clestudy.store import open_store, verify_audit
>>> url = "sqlite:///" + str(pathlib.Path(tempfile.mkdtemp()) / "doc.db")
>>> store = open_store(url, "pediatric-cle-chart-review")
>>> _ = store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
>>> rec = store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"},
...                         actor="coordinator")
>>> rec.version, rec.values
(1, {'prednisone_mg_day': '20'})
>>> verify_audit(url).ok
True
"""

from clestudy.store._accounts import (
    ROLES,
    Accounts,
    AuthenticationError,
    User,
    open_accounts,
)
from clestudy.store._accounts_events import AccountEvent
from clestudy.store._anchor import make_anchor, read_anchor
from clestudy.store._audit import AuditKey, canonical_json, chain_hash, load_audit_key
from clestudy.store._batch import RecordPreview
from clestudy.store._build_aside import building_new_database
from clestudy.store._engine import make_engine
from clestudy.store._import_batch import (
    IMPORTED_HISTORY,
    CheckedValues,
    ImportedEvent,
    SubjectInput,
    checked_values,
    collection_paused,
    save_import,
)
from clestudy.store._lab_import import save_lab_values
from clestudy.store._lock_bulk import LockChange, LockSelection
from clestudy.store._lock_status import LockStatusRow, RecordReview
from clestudy.store._open import audit_events, list_studies, open_store, upgrade_database
from clestudy.store._queries import (
    QUERY_STATUSES,
    TRANSITIONS,
    QueryMessage,
    QueryState,
    QueryTransition,
    QueryTransitionError,
)
from clestudy.store._randomization import AllocationSummary, ArmBalance, SubjectRandomization
from clestudy.store._rows import SubjectScope
from clestudy.store._service import RecordInput, RecordState, Store, SubjectState
from clestudy.store._signatures import MEANINGS, SIGNER_ROLES, SignatureState
from clestudy.store._tables import endpoint_table, tidy_table
from clestudy.store._verify import AuditVerification, verify_audit

__all__ = [
    "IMPORTED_HISTORY",
    "MEANINGS",
    "QUERY_STATUSES",
    "ROLES",
    "SIGNER_ROLES",
    "TRANSITIONS",
    "AccountEvent",
    "Accounts",
    "AllocationSummary",
    "ArmBalance",
    "AuditKey",
    "AuditVerification",
    "AuthenticationError",
    "CheckedValues",
    "ImportedEvent",
    "LockChange",
    "LockSelection",
    "LockStatusRow",
    "QueryMessage",
    "QueryState",
    "QueryTransition",
    "QueryTransitionError",
    "RecordInput",
    "RecordPreview",
    "RecordReview",
    "RecordState",
    "SignatureState",
    "Store",
    "SubjectInput",
    "SubjectRandomization",
    "SubjectScope",
    "SubjectState",
    "User",
    "audit_events",
    "building_new_database",
    "canonical_json",
    "chain_hash",
    "checked_values",
    "collection_paused",
    "endpoint_table",
    "list_studies",
    "load_audit_key",
    "make_anchor",
    "make_engine",
    "open_accounts",
    "open_store",
    "read_anchor",
    "save_import",
    "save_lab_values",
    "tidy_table",
    "upgrade_database",
    "verify_audit",
]
