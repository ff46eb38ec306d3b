"""Queries in the browser: the study's list with filters and CSV, a field's query page with its
thread and the actions the user's role may take, and the record page's badges (the JSON API is
:mod:`clestudy.web._query_api`).

Every route declares its rule (``query-view``, ``query-raise``, ``query-answer``,
``query-close``; docs/security.md). Routes that address a field take :class:`SiteScoped`, a
:class:`~clestudy.web._auth.Permission` that also answers the uniform 404 for a subject the user
does not see *before* the request body is read, so another site's subject gets the same 404 as
an unknown one whatever the body. The actions are the store's (:meth:`Store.query_action`); an
action the life cycle refuses is a 409, a missing text a 422.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clestudy.errors import InputError, NotFoundError
from clestudy.store import QueryState, QueryTransitionError, Store
from clestudy.store._queries import TRANSITIONS, queries_csv
from clestudy.web._access import (
    FieldMessage,
    SubjectNotFoundError,
    find_record,
    form_at,
    subject_for,
)
from clestudy.web._auth import LoginRequiredError, Permission, Principal
from clestudy.web._rules import QUERY_ANSWER, QUERY_CLOSE, QUERY_RAISE, QUERY_VIEW, Rule
from clestudy.web._views import RECORD, render, study_store

__all__ = [
    "FIELD",
    "QueryBadge",
    "SiteScoped",
    "query_badges",
    "record_queries",
    "router",
    "visible_queries",
]

#: A field's query page, under the record page.
FIELD = RECORD + "/queries/{field}"
_ACTIONS: dict[str, Rule] = {"answer": QUERY_ANSWER, "close": QUERY_CLOSE, "reopen": QUERY_CLOSE,
                             "return": QUERY_CLOSE}  # fmt: skip


class SiteScoped(Permission):
    """The route's rule, then the uniform 404 for a subject outside the user's sites."""

    async def __call__(  # type: ignore[override]
        self, request: Request, study: str, subject: str
    ) -> Principal | None:
        principal = await super().__call__(request)
        if principal is None:  # a site-scoped rule is never public
            raise LoginRequiredError(api=self.api)
        store = await run_in_threadpool(study_store, request, study)
        await run_in_threadpool(subject_for, store, principal, subject)
        return principal


Viewer = Annotated[Principal, Depends(Permission(QUERY_VIEW))]
FieldViewer = Annotated[Principal, Depends(SiteScoped(QUERY_VIEW))]
Raiser = Annotated[Principal, Depends(SiteScoped(QUERY_RAISE))]
Answerer = Annotated[Principal, Depends(SiteScoped(QUERY_ANSWER))]
Closer = Annotated[Principal, Depends(SiteScoped(QUERY_CLOSE))]


def visible_queries(
    store: Store, principal: Principal, *, site: str | None = None, subject: str | None = None,
    status: str | None = None, form: str | None = None, field: str | None = None,
) -> list[QueryState]:  # fmt: skip
    """The queries of the user's sites (admins: all), filtered; another site's filter: none."""
    sites = None if principal.user.role == "admin" else list(principal.user.sites)
    if site:
        sites = [site] if sites is None or site in sites else []
    return store.queries(
        sites=sites, subject_id=subject or None, status=status or None, form_id=form or None,
        field_id=field or None,
    )  # fmt: skip


@dataclass(frozen=True)
class QueryBadge(FieldMessage):
    """A query beside its field on the record page (``messages_for`` renders it as a link)."""

    link: str = ""


def record_queries(store: Store, subject: str, record_key: str) -> list[QueryState]:
    """Every query of one record (closed ones too), in field order of raising."""
    return [q for q in store.queries(subject_id=subject) if q.record == record_key]


def query_badges(queries: Sequence[QueryState], record_url: str) -> list[QueryBadge]:
    """One badge per open or answered query, beside its field on the record page."""
    return [
        QueryBadge(q.field, "query", f"Query {q.status}", "", f"{record_url}/queries/{q.field}")
        for q in queries
        if q.status != "closed"
    ]


# -- the pages ----------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)


def _filters(request: Request) -> dict[str, str]:
    names = ("site", "subject", "status", "form", "field")
    return {n: str(request.query_params.get(n) or "").strip() for n in names}


@router.get("/studies/{study}/queries", response_class=HTMLResponse)
def queries_page(request: Request, study: str, principal: Viewer) -> HTMLResponse:
    store = study_store(request, study)
    filters = _filters(request)
    status = filters["status"] if filters["status"] in ("open", "answered", "closed") else ""
    found = visible_queries(store, principal, **{**filters, "status": status})
    sites = [s.id for s in store.protocol.sites if principal.sees_site(s.id)]
    return render(
        request, "queries.html", principal, title=f"Queries: {store.protocol.title}",
        study=study, protocol=store.protocol, queries=found, filters=filters, sites=sites,
        query_string=str(request.url.query), record_link=RECORD,
    )  # fmt: skip


@router.get("/studies/{study}/queries.csv")
def queries_csv_download(request: Request, study: str, principal: Viewer) -> Response:
    store = study_store(request, study)
    filters = _filters(request)
    status = filters["status"] if filters["status"] in ("open", "answered", "closed") else ""
    found = visible_queries(store, principal, **{**filters, "status": status})
    return Response(
        queries_csv(found), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study}-queries.csv"'},
    )  # fmt: skip


def _page(
    request: Request, principal: Principal, study: str, subject: str, visit: str, form: str,
    instance: int, field: str, *, status: int = 200, notice: str | None = None, text: str = "",
) -> HTMLResponse:  # fmt: skip
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    spec = form_at(store, visit, form, instance)
    field_spec = next((f for f in spec.fields if f.id == field), None)
    if field_spec is None:
        raise SubjectNotFoundError(f"{subject}/{visit}/{form}/{field}")
    query = store.query(subject, visit, form, field, instance=instance)
    record = find_record(store, subject, visit, form, instance)
    role = principal.user.role
    allowed = [
        action for action, rule in (("raise", QUERY_RAISE), *_ACTIONS.items())
        if rule.allows(role) and query.status in TRANSITIONS[action].allowed_from
        and record is not None
    ]  # fmt: skip
    record_url = RECORD.format(
        study=study, subject=subject, visit=visit, form=form, instance=instance
    )
    return render(
        request, "query.html", principal, status, title=f"Query on {field_spec.label}",
        study=study, protocol=store.protocol, subject=found, visit=store.protocol.visit(visit),
        form=spec, instance=instance, field=field_spec, query=query, record=record,
        value=None if record is None else record.values.get(field), allowed=allowed,
        transitions=TRANSITIONS, record_url=record_url, action=f"{record_url}/queries/{field}",
        notice=notice, text=text,
    )  # fmt: skip


@router.get(FIELD, response_class=HTMLResponse)
def query_page(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: FieldViewer, done: str = "",
) -> HTMLResponse:  # fmt: skip
    notice = (
        f"Query {done}."
        if done in ("raised", "answered", "closed", "reopened", "returned")
        else None
    )
    return _page(request, principal, study, subject, visit, form, instance, field, notice=notice)


_DONE = {"raise": "raised", "answer": "answered", "close": "closed", "reopen": "reopened",
         "return": "returned"}  # fmt: skip


async def _act(
    request: Request, action: str, study: str, subject: str, visit: str, form: str,
    instance: int, field: str, principal: Principal,
) -> Response:  # fmt: skip
    posted = await request.form()
    text = str(posted.get("text") or "")
    store = await run_in_threadpool(study_store, request, study)

    def run() -> QueryState:
        form_at(store, visit, form, instance)
        try:
            return store.query_action(
                action, subject, visit, form, field, text=text, actor=principal.username,
                instance=instance,
            )  # fmt: skip
        except NotFoundError:
            raise SubjectNotFoundError(f"{subject}/{visit}/{form}/{field}") from None

    try:
        await run_in_threadpool(run)
    except InputError as exc:  # a refused transition (409) or a missing or long text (422)
        status = 409 if isinstance(exc, QueryTransitionError) else 422
        notice = f"Not done: {exc}"
        return await run_in_threadpool(
            lambda: _page(request, principal, study, subject, visit, form, instance, field,
                          status=status, notice=notice, text=text)
        )  # fmt: skip
    target = RECORD.format(study=study, subject=subject, visit=visit, form=form, instance=instance)
    return RedirectResponse(f"{target}/queries/{field}?done={_DONE[action]}", status_code=303)


@router.post(FIELD, response_class=HTMLResponse)
async def raise_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: Raiser,
) -> Response:  # fmt: skip
    return await _act(request, "raise", study, subject, visit, form, instance, field, principal)


@router.post(FIELD + "/answer", response_class=HTMLResponse)
async def answer_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: Answerer,
) -> Response:  # fmt: skip
    return await _act(request, "answer", study, subject, visit, form, instance, field, principal)


@router.post(FIELD + "/close", response_class=HTMLResponse)
async def close_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: Closer,
) -> Response:  # fmt: skip
    return await _act(request, "close", study, subject, visit, form, instance, field, principal)


@router.post(FIELD + "/reopen", response_class=HTMLResponse)
async def reopen_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: Closer,
) -> Response:  # fmt: skip
    return await _act(request, "reopen", study, subject, visit, form, instance, field, principal)


@router.post(FIELD + "/return", response_class=HTMLResponse)
async def return_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    field: str, principal: Closer,
) -> Response:  # fmt: skip
    return await _act(request, "return", study, subject, visit, form, instance, field, principal)
