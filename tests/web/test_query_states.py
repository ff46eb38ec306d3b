"""A Hypothesis state machine drives the query API with random actions by random users.

Each run enrols a fresh subject at site01, saves its vital signs, and then sends random
raise/answer/close/reopen/return requests, with or without a text, by users of every role at
site01 and two users of site02, on two fields. A model of the life cycle
(``clestudy.store.TRANSITIONS``, the table of docs/security.md "Query life cycle") predicts each
answer: 403 for a role without the right, 404 for another site, 422 for a missing text, 409 for
a transition the table does not allow (nothing written), else the table's new status. After each
step every field's query (read through the store) must hold the modelled status and thread
length, every message of its thread must be a transition the table allows from the status
before it, and at the end the audit trail verifies.

Bounded for CI: ``CLESTUDY_QUERY_STATE_EXAMPLES`` runs (default 8) of up to 12 steps each. A
longer run: ``CLESTUDY_QUERY_STATE_EXAMPLES=500 .venv/bin/python -m pytest
tests/web/test_query_states.py``.
"""

from __future__ import annotations

import itertools
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from tests.web.conftest import STUDY, WebWorld

from clestudy.store import QUERY_STATUSES, TRANSITIONS, verify_audit
from clestudy.web import RULES

EXAMPLES = int(os.environ.get("CLESTUDY_QUERY_STATE_EXAMPLES", "8"))
USERS = (
    "admin1", "investigator1", "coordinator1", "monitor1", "statistician1", "monitor2",
    "coordinator2",
)  # fmt: skip
FIELDS = ("weight", "vsdat")
API = f"/api/v1/studies/{STUDY}/queries"


def _machine(world: WebWorld, serial: itertools.count[int]) -> type[RuleBasedStateMachine]:
    class QueryLifeCycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.subject = f"Q-{next(serial)}"
            world.store.add_subject(self.subject, arm="lenalidomide", site="site01", actor="setup")
            world.store.save_record(self.subject, "week_0", "vs",
                                    {"vsdat": "2030-01-07", "weight": "70"}, actor="setup")  # fmt: skip
            self.status = dict.fromkeys(FIELDS, "none")
            self.messages = dict.fromkeys(FIELDS, 0)
            self.client = world.client()

        def _path(self, field: str) -> str:
            return f"{API}/{self.subject}/week_0/vs/1/{field}"

        @rule(
            action=st.sampled_from(list(TRANSITIONS)),
            user=st.sampled_from(USERS),
            field=st.sampled_from(FIELDS),
            text=st.sampled_from(["", "a reason", None]),
        )
        def act(self, action: str, user: str, field: str, text: str | None) -> None:
            path = self._path(field) + ("" if action == "raise" else f"/{action}")
            body = {} if text is None else {"text": text}
            got = self.client.post(path, json=body, headers=world.token(user))
            role, site = world.accounts.get_user(user).role, world.accounts.get_user(user).sites
            transition = TRANSITIONS[action]
            if not RULES[transition.right].allows(role):
                expected = 403
            elif role != "admin" and "site01" not in site:
                expected = 404
            elif transition.text_required and not (text or "").strip():
                expected = 422
            elif self.status[field] not in transition.allowed_from:
                expected = 409
            else:
                expected = 201 if action == "raise" else 200
            assert got.status_code == expected, (action, user, field, text, got.text)
            if expected in (200, 201):
                self.status[field] = transition.to
                self.messages[field] += 1
                assert got.json()["status"] == transition.to

        @invariant()
        def only_documented_states(self) -> None:
            for field in FIELDS:  # read through the store: the API's GET is tested elsewhere
                query = world.store.query(self.subject, "week_0", "vs", field)
                assert query.status in ("none", *QUERY_STATUSES)
                assert (query.status, len(query.messages)) == (
                    self.status[field], self.messages[field],
                )  # fmt: skip
                statuses = ["none", *(m.status for m in query.messages)]
                for before, message in zip(statuses, query.messages, strict=False):
                    assert before in TRANSITIONS[message.action].allowed_from
                    assert message.status == TRANSITIONS[message.action].to

        def teardown(self) -> None:
            assert verify_audit(world.url).ok

    return QueryLifeCycle


def test_no_sequence_of_api_calls_leaves_the_documented_life_cycle(world: WebWorld) -> None:
    machine = _machine(world, itertools.count(1))
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
