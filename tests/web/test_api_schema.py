"""schemathesis against the JSON API's own OpenAPI schema (``/api/v1/openapi.json``), in process.

Every operation of the schema gets generated requests, each sent with a valid Bearer token of an
admin (every site) and of a site-01 coordinator (one site): schema-valid (positive) and
schema-invalid (negative) requests with generated path parameters (mostly unknown ids: the 404
path), and positive requests on real path parameters of the seeded study (subjects of both sites,
its visits and forms), so that the generated bodies reach the store. Every response must pass
schemathesis's checks: no 5xx (``not_a_server_error``), the status code, content type, headers
and body the schema declares, and schema-invalid requests refused (``negative_data_rejection``).

A body that is not JSON text gets the API's 422 with its problem listed, like every other invalid
request (FastAPI's own answer would be an undeclared 400):
:func:`test_a_body_that_is_not_json_gets_a_documented_status`.

One check is left out: ``positive_data_acceptance`` (a schema-valid request must not get 4xx).
The schema cannot carry the protocol's rules (a record's ``values`` are checked against the
study's forms, its visit schedule and edit checks; a subject id against the site list), so a
schema-valid request legitimately gets the API's 422 listing its problems.

schemathesis's pytest plugin (``schemathesis.pytest.from_fixture``) does not run under this
project's pytest, so each operation's Hypothesis strategy (``APIOperation.as_strategy``) drives a
plain ``@given`` test.

The examples per operation and strategy are bounded for CI by ``CLESTUDY_SCHEMA_EXAMPLES``
(default 8). The full run (docs/web.md):

    CLESTUDY_SCHEMA_EXAMPLES=500 .venv/bin/python -m pytest tests/web/test_api_schema.py
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import hypothesis.strategies as st
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import positive_data_acceptance
from tests.web.conftest import STUDY, WebWorld

EXAMPLES = int(os.environ.get("CLESTUDY_SCHEMA_EXAMPLES", "8"))
#: The users whose tokens every generated request is sent with: every site, and one site.
USERS = ("admin1", "coordinator1")
#: Real path parameters: a site-01 and a site-02 subject, a single and a repeating form.
REAL_PATHS = (
    {"study": STUDY, "subject": "S-01", "visit": "week_0", "form": "vs", "instance": 1},
    {"study": STUDY, "subject": "S-01", "visit": "week_0", "form": "clasi", "instance": 1},
    {"study": STUDY, "subject": "S-03", "visit": "week_6", "form": "ae", "instance": 2},
)


def _strategies(
    operation: APIOperation[Any, Any, Any, Any],
) -> Iterator[st.SearchStrategy[Case[Any]]]:
    names = {p.name for p in operation.path_parameters}
    yield operation.as_strategy(GenerationMode.POSITIVE)
    yield operation.as_strategy(GenerationMode.NEGATIVE)
    for real in REAL_PATHS:
        if names:
            fixed = {name: value for name, value in real.items() if name in names}
            yield operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)


def test_the_api_conforms_to_its_schema_and_never_fails_with_5xx(world: WebWorld) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", world.app)
    headers = [world.token(user) for user in USERS]
    checked = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"the OpenAPI schema has an invalid operation: {result.err()}")
        operation = result.ok()

        @given(case=st.one_of(*_strategies(operation)))
        @settings(
            max_examples=EXAMPLES * (2 + len(REAL_PATHS)),
            deadline=None,  # time is the benchmark's business (a shared CI machine)
            suppress_health_check=list(HealthCheck),
        )
        def check_operation(case: Case[Any]) -> None:
            for header in headers:
                case.call_and_validate(
                    headers=header,
                    excluded_checks=[positive_data_acceptance],
                )

        check_operation()
        checked.append(operation.label)
    assert "PUT /api/v1/studies/{study}/subjects/{subject}/records/" in " ".join(checked)
    assert len(checked) >= 6, checked


def test_a_body_that_is_not_json_gets_a_documented_status(world: WebWorld) -> None:
    client = world.client()
    for path, method in (
        (f"/api/v1/studies/{STUDY}/subjects", "POST"),
        (f"/api/v1/studies/{STUDY}/subjects/S-01/records/week_0/vs/1", "PUT"),
    ):
        response = client.request(
            method,
            path,
            content=b"\xff\xfe not json",
            headers={**world.token("admin1"), "Content-Type": "application/json"},
        )
        assert response.status_code == 422, (method, path, response.status_code, response.text)
        assert response.json()["error"] == "invalid request"
