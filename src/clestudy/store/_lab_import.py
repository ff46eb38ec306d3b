"""Lab results into the store: merge each subject's values into the visit's record of a form.

A lab import fills some fields of a form (the interferon score, the skin densities) and leaves
the others as they are: the new values are merged into the visit's existing record (instance 1),
or create it. The whole batch is one transaction through :meth:`Store.save_records`, audited
under the actor with the reason given: nothing is stored when any record fails validation. Only
the public :class:`~clestudy.store.Store` API is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from clestudy.store._service import RecordInput, Store

if TYPE_CHECKING:  # the store reads only the attributes: no import of the lab stack at runtime
    from clestudy.immuno import LabValues

__all__ = ["save_lab_values"]


def save_lab_values(
    store: Store, form_id: str, rows: Sequence[LabValues], *, actor: str, reason: str
) -> int:
    """Merge lab values into the records of ``form_id``; return how many records were saved.

    Rows without values are skipped. Each saved record is edited at the version read here
    (optimistic locking: a record changed meanwhile makes the whole batch fail).

    Raises
    ------
    RecordValidationError
        A value the form refuses; nothing is saved.
    StaleVersionError
        A record changed by someone else during the import; nothing is saved.
    """
    existing = {
        (r.subject_id, r.visit_id): r for r in store.records(form_id=form_id) if r.instance == 1
    }
    records = []
    for row in rows:
        if not row.values:
            continue
        old = existing.get((row.subject_id, row.visit_id))
        values = {**(old.values if old else {}), **row.values}
        version = old.version if old else None
        records.append(RecordInput(row.subject_id, row.visit_id, form_id, values, 1, version))
    store.save_records(records, actor=actor, reason=reason)
    return len(records)
