"""One read of a study for the report: subjects, records, the tidy table and the endpoint table.

Every section takes its numbers from this one snapshot, indexed once by form and item, so the cost
of the report grows with the number of records (no section filters the whole table per subject;
that made the report quadratic in the number of subjects).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from clestudy.protocol import Protocol
from clestudy.report._roles import StudyRoles, study_roles
from clestudy.store import RecordState, Store, endpoint_table, tidy_table

__all__ = ["StudyData", "load_study"]


@dataclass
class StudyData:
    """A study as the report reads it (see :func:`load_study`)."""

    protocol: Protocol
    subjects: list[str]
    records: list[RecordState]
    tidy: pd.DataFrame
    endpoints: pd.DataFrame
    roles: StudyRoles
    _by_form: dict[str, list[RecordState]] = field(default_factory=dict)
    _items: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_form: dict[str, list[RecordState]] = defaultdict(list)
        for record in self.records:
            by_form[record.form_id].append(record)
        self._by_form = dict(by_form)
        if not self.tidy.empty:
            self._items = {
                (str(form), str(item)): part
                for (form, item), part in self.tidy.groupby(["form", "item"], sort=False)
            }

    def form_records(self, form_id: str, *, complete_only: bool = True) -> list[RecordState]:
        """The records of one form in store order; incomplete ones only when asked."""
        found = self._by_form.get(form_id, [])
        if complete_only:
            return [r for r in found if r.status != "incomplete"]
        return list(found)

    def item(self, form_id: str, item: str, visit: str | None = None) -> pd.DataFrame:
        """Tidy rows (complete records only) of one form item, optionally at one visit."""
        part = self._items.get((form_id, item))
        if part is None:
            return self.tidy.iloc[0:0]
        return part if visit is None else part[part["visit"] == visit]

    def by_subject(self, form_id: str, item: str, visit: str) -> pd.Series:
        """One item's value per subject at one visit (the first instance of a repeating form)."""
        part = self.item(form_id, item, visit)
        return part.drop_duplicates("subject").set_index("subject")["value"]

    def endpoint_wide(
        self, endpoint_ids: list[str], visits: list[str] | None = None
    ) -> pd.DataFrame:
        """The endpoint table restricted to some endpoints and visits (rows with any value)."""
        wide = self.endpoints[["subject", "visit", *endpoint_ids]]
        wide = wide.dropna(subset=endpoint_ids, how="all")
        if visits is not None:
            wide = wide[wide["visit"].isin(visits)]
        return wide.reset_index(drop=True)


def load_study(store: Store) -> StudyData:
    """Read one study from the store, once."""
    protocol = store.protocol
    ids = [e.id for e in protocol.endpoints]
    return StudyData(
        protocol=protocol,
        subjects=[s.subject_id for s in store.subjects()],
        records=store.records(),
        tidy=tidy_table(store),
        endpoints=endpoint_table(store, ids) if ids else pd.DataFrame(columns=["subject", "visit"]),
        roles=study_roles(protocol),
    )
