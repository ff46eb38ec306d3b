"""One read of a study for the report: subjects, records, the tidy table and the endpoint table.

Every section takes its numbers from this one snapshot, indexed once by form and item, so the cost
of the report grows with the number of records (no section filters the whole table per subject;
that made the report quadratic in the number of subjects).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast

import pandas as pd

from clestudy.protocol import Protocol
from clestudy.report._roles import StudyRoles, study_roles
from clestudy.store import RecordState, Store, tidy_table

__all__ = ["StudyData", "endpoints_from_tidy", "load_study", "study_data"]


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


@dataclass
class _Snapshot:
    """What :func:`clestudy.store.tidy_table` reads from a store (its protocol and records),
    over records already read, so the tables are built without reading the database again."""

    protocol: Protocol
    _records: list[RecordState]

    def records(self) -> list[RecordState]:
        return list(self._records)


def endpoints_from_tidy(protocol: Protocol, tidy: pd.DataFrame) -> pd.DataFrame:
    """:func:`clestudy.store.endpoint_table` of every endpoint, from a tidy table already built
    (``endpoint_table`` builds its own: a second pass over every value of the study)."""
    frames = []
    for endpoint in protocol.endpoints:
        part = tidy[(tidy["form"] == endpoint.form) & (tidy["item"] == endpoint.item)]
        part = part[["subject", "visit", "value"]].rename(columns={"value": endpoint.id})
        part[endpoint.id] = pd.to_numeric(part[endpoint.id])
        frames.append(part.set_index(["subject", "visit"]))
    if not frames:
        return pd.DataFrame(columns=["subject", "visit"])
    return pd.concat(frames, axis=1).reset_index().reset_index(drop=True)


def study_data(protocol: Protocol, subjects: list[str], records: list[RecordState]) -> StudyData:
    """The report's view of a study from its subjects and records (from the store or a replay)."""
    snapshot = cast(Store, _Snapshot(protocol, records))  # tidy_table reads only these two
    tidy = tidy_table(snapshot)
    return StudyData(
        protocol=protocol,
        subjects=subjects,
        records=records,
        tidy=tidy,
        endpoints=endpoints_from_tidy(protocol, tidy),
        roles=study_roles(protocol),
    )


def load_study(store: Store) -> StudyData:
    """Read one study from the store, once."""
    return study_data(store.protocol, [s.subject_id for s in store.subjects()], store.records())
