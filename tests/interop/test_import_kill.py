"""A kill -9 during a large import leaves nothing half-written: the subjects, records and audit
events of the import are all there or none are, and the audit trail verifies (the approach of
the store's own kill -9 test, over a whole REDCap import), both into a new database (built aside:
no database at all, or the whole import) and into one that exists (its transaction)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tests._kill import kill_after_saving

from clestudy.interop._redcap_dictionary import UI_COLUMNS
from clestudy.store import audit_events, list_studies, open_store, verify_audit

SUBJECTS, EVENTS, FIELDS = 600, 3, 5

#: The import in a child process; it says "saving" as its one write transaction begins.
_CHILD = """
import sys
from pathlib import Path
import clestudy.interop._redcap as redcap

original = redcap.save_import

def announced(*args, **kwargs):
    print("saving", flush=True)
    return original(*args, **kwargs)

redcap.save_import = announced
redcap.import_redcap(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), study="big",
                     actor="importer")
print("imported", flush=True)
"""


def _project(folder: Path) -> tuple[Path, Path]:
    dictionary = folder / "dictionary.csv"
    with dictionary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(UI_COLUMNS)
        writer.writerow(["record_id", "vitals", "", "text", "Record ID", *[""] * 13])
        for i in range(FIELDS):
            writer.writerow([f"v{i}", "vitals", "", "text", f"Value {i}", "", "", "integer",
                             "0", "1000", *[""] * 8])  # fmt: skip
    records = folder / "records.csv"
    with records.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["record_id", "redcap_event_name", *(f"v{i}" for i in range(FIELDS)),
                         "vitals_complete"])  # fmt: skip
        for n in range(SUBJECTS * EVENTS):
            subject, event = divmod(n, EVENTS)
            values = [str((n * 7 + i) % 1000) for i in range(FIELDS)]
            writer.writerow([f"S{subject:04d}", f"event_{event + 1}_arm_1", *values, "2"])
    return dictionary, records


@pytest.mark.parametrize("new_database", [True, False], ids=["new-database", "existing"])
@pytest.mark.parametrize("delay", [0.3, 2.0])
def test_kill_9_during_an_import_leaves_all_or_nothing(
    tmp_path: Path, delay: float, new_database: bool
) -> None:
    dictionary, records = _project(tmp_path)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    if not new_database:  # a database with another study: the import goes in place
        open_store(url, "pediatric-cle-chart-review").close()
    kill_after_saving([_CHILD, url, str(dictionary), str(records)], delay, timeout=60)
    # a new database is built aside and named when complete (store._build_aside): killed before
    # that, there is none at all (its hidden file is not a database at this name)
    if not (tmp_path / "study.db").exists():
        assert {p.name.split("-")[0] for p in tmp_path.glob(".study.db.*")} <= {
            ".study.db.building"
        }
        return
    # into an existing database, the study is registered in its own transaction first
    assert "big" in list_studies(url)
    with open_store(url, "big") as store:
        subjects, saved = len(store.subjects()), len(store.records())
    assert (subjects, saved) in ((0, 0), (SUBJECTS, SUBJECTS * EVENTS)), (subjects, saved)
    kinds = [e["entity_type"] for e in audit_events(url)]
    assert kinds.count("subject") == subjects and kinds.count("form_record") == saved
    assert verify_audit(url).ok
