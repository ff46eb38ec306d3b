"""The record status life cycle as a state machine, driven through the JSON API.

Hypothesis runs random sequences of saves, field and form verifications, and locks and unlocks
at the form, visit and subject level, each by a random role (admin, investigator, coordinator,
monitor, statistician), on two subjects' vital-signs forms at two visits. A model of the rules
(docs/security.md, "Record status transitions") predicts each answer; after every call the
stored records, marks and locks must equal the model's, every status change must be one the
table allows for that role, a refused call must have changed nothing (not even the audit
trail), and a record's values never change while it is locked.

Bounded for CI: ``CLESTUDY_STATE_EXAMPLES`` sequences (default 6) of up to
``CLESTUDY_STATE_STEPS`` calls (default 20). A longer run, for example::

    CLESTUDY_STATE_EXAMPLES=300 CLESTUDY_STATE_STEPS=60 .venv/bin/python -m pytest \\
        tests/web/test_status_machine.py
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from tests.web.conftest import STUDY, _hasher, fake_clock

from clestudy.store import ROLES, Store, open_accounts, open_store
from clestudy.web import WebSettings, create_app

EXAMPLES = int(os.environ.get("CLESTUDY_STATE_EXAMPLES", "6"))
STEPS = int(os.environ.get("CLESTUDY_STATE_STEPS", "20"))
SUBJECTS = ("S-01", "S-02")  # both at site01, where every user of the machine works
VISITS = ("week_0", "week_6")
FIELDS = ("height", "vsdat", "weight")  # every field of the vital-signs form, sorted
ENTER = {"admin", "investigator", "coordinator"}
VERIFY = {"admin", "monitor"}
LOCK = {"admin", "monitor"}
UNLOCK = {"admin"}
#: (from, to, action, roles): the transitions docs/security.md allows ("new" before a create).
ALLOWED = {
    ("new", "complete", "save"): ENTER,
    ("complete", "complete", "save"): ENTER,
    ("verified", "complete", "save"): ENTER,
    ("complete", "verified", "verify"): VERIFY,
    ("complete", "locked", "lock"): LOCK,
    ("verified", "locked", "lock"): LOCK,
    ("locked", "complete", "unlock"): UNLOCK,
    ("locked", "verified", "unlock"): UNLOCK,
}

Key = tuple[str, str]


@dataclass
class ModelRecord:
    version: int
    status: str
    values: dict[str, Any]
    before_lock: str | None = None
    marks: set[str] = field(default_factory=set)


def _user(role: str) -> str:
    return f"{role}1"


class StatusMachine(RuleBasedStateMachine):
    template: Path
    folder: Path
    tokens: dict[str, str]
    counter = 0

    def __init__(self) -> None:
        super().__init__()
        StatusMachine.counter += 1
        path = self.folder / f"machine-{StatusMachine.counter}.db"
        shutil.copyfile(self.template, path)
        url = f"sqlite:///{path}"
        clock = fake_clock()
        self.store: Store = open_store(url, STUDY)
        self.store.clock = clock
        self.accounts = open_accounts(url, clock=clock, hasher=_hasher())
        self.app = create_app(url, settings=WebSettings(clock=clock), accounts=self.accounts)
        self.client = TestClient(self.app, follow_redirects=False)
        self.records: dict[Key, ModelRecord] = {}
        self.visit_locks: set[Key] = set()
        self.subject_locks: set[str] = set()
        self.frozen: dict[Key, dict[str, Any]] = {}

    def teardown(self) -> None:
        self.client.close()
        self.app.state.web.studies.close()
        self.accounts.close()
        self.store.close()

    # -- the model ------------------------------------------------------------------------------

    def _outer_locked(self, key: Key) -> bool:
        return key[0] in self.subject_locks or key in self.visit_locks

    def _locked(self, key: Key) -> bool:
        record = self.records.get(key)
        return self._outer_locked(key) or (record is not None and record.status == "locked")

    def _snapshot(self) -> tuple[Any, ...]:
        stored = {
            (r.subject_id, r.visit_id): (r.version, r.status, dict(r.values))
            for r in self.store.records(form_id="vs")
        }
        marks = {k: self.store.record_review(k[0], k[1], "vs").verified for k in stored}
        locks = {
            (r.subject_id, r.visit_id, r.lock_level)
            for r in self.store.lock_status(forms=("vs",))
            if r.lock_level
        }
        return stored, marks, locks, self.store.audit_count()

    def _call(self, role: str, method: str, path: str, body: dict[str, Any]) -> int:
        headers = {"Authorization": f"Bearer {self.tokens[_user(role)]}"}
        events = self.store.audit_count()
        status = self.client.request(method, "/api/v1" + path, headers=headers, json=body)
        if status.status_code >= 400:
            # every write is audited; the invariant then compares the rows with the model,
            # which a refused call leaves as it was
            assert self.store.audit_count() == events, f"a refused call ({status.status_code})"
        return status.status_code

    def _moved(self, key: Key, old: str, new: str, action: str, role: str) -> None:
        if old != new:
            allowed = ALLOWED.get((old, new, action))
            assert allowed is not None and role in allowed, (old, new, action, role)

    # -- rules ----------------------------------------------------------------------------------

    @rule(role=st.sampled_from(ROLES), subject=st.sampled_from(SUBJECTS),
          visit=st.sampled_from(VISITS), weight=st.sampled_from(["60", "61.5", "70"]),
          stale=st.booleans())  # fmt: skip
    def save(self, role: str, subject: str, visit: str, weight: str, stale: bool) -> None:
        key = (subject, visit)
        record = self.records.get(key)
        version = None if record is None else record.version + (1 if stale else 0)
        body = {"values": {"weight": weight, "height": "170"}, "expected_version": version,
                "reason": "source document"}  # fmt: skip
        status = self._call(role, "PUT", f"/studies/{STUDY}/subjects/{subject}/records/{visit}/vs/1",
                            body)  # fmt: skip
        if role not in ENTER:
            assert status == 403
        elif self._locked(key) or (record is not None and stale):
            assert status == 409
        else:
            assert status == 200
            values = {"weight": weight, "height": "170"}
            if record is None:
                self._moved(key, "new", "complete", "save", role)
                self.records[key] = ModelRecord(1, "complete", values)
            elif values != record.values:
                changed = {f for f in FIELDS if record.values.get(f) != values.get(f)}
                self._moved(key, record.status, "complete", "save", role)
                record.version, record.status, record.values = (
                    record.version + 1,
                    "complete",
                    values,
                )
                record.marks -= changed

    @rule(role=st.sampled_from(ROLES), subject=st.sampled_from(SUBJECTS),
          visit=st.sampled_from(VISITS),
          fields=st.none() | st.lists(st.sampled_from(FIELDS), min_size=1, unique=True))  # fmt: skip
    def verify(self, role: str, subject: str, visit: str, fields: list[str] | None) -> None:
        key = (subject, visit)
        record = self.records.get(key)
        body = {"fields": fields, "expected_version": record.version if record else 1}
        path = f"/studies/{STUDY}/subjects/{subject}/records/{visit}/vs/1/verify"
        status = self._call(role, "POST", path, body)
        if role not in VERIFY:
            assert status == 403
        elif record is None:
            assert status == 404
        elif self._locked(key):
            assert status == 409
        elif fields is None:
            if record.status != "complete":
                assert status == 422
                return
            assert status == 200
            self._moved(key, record.status, "verified", "verify", role)
            record.status, record.version, record.marks = (
                "verified",
                record.version + 1,
                set(FIELDS),
            )
        elif set(fields) <= record.marks:
            assert status == 422
        else:
            assert status == 200
            record.marks |= set(fields)
            if record.status == "complete" and record.marks >= set(FIELDS):
                self._moved(key, "complete", "verified", "verify", role)
                record.status, record.version = "verified", record.version + 1

    @rule(role=st.sampled_from(ROLES), subject=st.sampled_from(SUBJECTS),
          visit=st.sampled_from(VISITS), level=st.sampled_from(["form", "visit", "subject"]),
          locked=st.booleans(), reason=st.sampled_from([None, "", "the site corrected it"]))  # fmt: skip
    def lock(
        self, role: str, subject: str, visit: str, level: str, locked: bool, reason: str | None
    ) -> None:
        body: dict[str, Any] = {"level": level, "subject": subject, "reason": reason}
        if level != "subject":
            body["visit"] = visit
        if level == "form":
            body |= {"form": "vs", "instance": 1}
        status = self._call(role, "POST", f"/studies/{STUDY}/{'lock' if locked else 'unlock'}",
                            body)  # fmt: skip
        if role not in (LOCK if locked else UNLOCK):
            assert status == 403
            return
        if not locked and not (reason and reason.strip()):
            assert status == 422
            return
        assert status == 200
        key = (subject, visit)
        if level == "subject":
            (self.subject_locks.add if locked else self.subject_locks.discard)(subject)
        elif level == "visit":
            (self.visit_locks.add if locked else self.visit_locks.discard)(key)
        else:
            record = self.records.get(key)
            if record is None or self._outer_locked(key):
                return
            if locked and record.status != "locked":
                self._moved(key, record.status, "locked", "lock", role)
                record.before_lock, record.status = record.status, "locked"
                record.version += 1
            elif not locked and record.status == "locked":
                assert record.before_lock is not None
                self._moved(key, "locked", record.before_lock, "unlock", role)
                record.status, record.before_lock = record.before_lock, None
                record.version += 1

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def the_store_holds_what_the_model_predicts(self) -> None:
        stored, marks, locks, _ = self._snapshot()
        assert {k: (v[0], v[1]) for k, v in stored.items()} == {
            k: (r.version, r.status) for k, r in self.records.items()
        }
        assert {k: tuple(sorted(r.marks)) for k, r in self.records.items()} == marks
        for key, record in self.records.items():
            assert {n: v for n, v in stored[key][2].items() if v is not None} == record.values
            assert record.status != "verified" or record.marks == set(FIELDS)
        expected_locks = set()
        for subject, visit in self.records:
            level = (
                "subject" if subject in self.subject_locks
                else "visit" if (subject, visit) in self.visit_locks
                else "form" if self.records[(subject, visit)].status == "locked" else None
            )  # fmt: skip
            if level:
                expected_locks.add((subject, visit, level))
        assert {lock for lock in locks if (lock[0], lock[1]) in self.records} == expected_locks

    @invariant()
    def a_locked_record_keeps_its_values(self) -> None:
        for key, record in self.records.items():
            if self._locked(key):
                frozen = self.frozen.setdefault(key, dict(record.values))
                assert frozen == record.values
            else:
                self.frozen.pop(key, None)


@pytest.fixture(scope="module")
def machine_template(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web tests' seeded database with an API token for each site01 user."""
    folder = tmp_path_factory.mktemp("machine")
    path = folder / "template.db"
    shutil.copyfile(template_db, path)
    accounts = open_accounts(f"sqlite:///{path}", clock=fake_clock(), hasher=_hasher())
    StatusMachine.tokens = {
        _user(role): accounts.create_api_token(_user(role), actor="setup", label="machine")
        for role in ROLES
    }
    accounts.close()
    StatusMachine.template, StatusMachine.folder = path, folder
    return path


def test_random_sequences_never_leave_the_status_table(machine_template: Path) -> None:
    assert machine_template.is_file()
    run_state_machine_as_test(
        StatusMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
