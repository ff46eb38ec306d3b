"""Queries in the browser and the JSON API: lists with filters and CSV, a field's query page
with its thread and the actions the user's role may take, and the API under
``/api/v1/studies/{study}/queries``.

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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clestudy.errors import InputError, NotFoundError
from clestudy.store import QueryState, QueryTransitionError, Store
from clestudy.store._queries import MAX_TEXT, TRANSITIONS, queries_csv
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
    "api_router",
    "query_badges",
    "record_queries",
    "router",
    "visible_queries",
]

#: A field's query page, under the record page.
FIELD = RECORD + "/queries/{field}"
#: A field's query in the API.
API_FIELD = "/studies/{study}/queries/{subject}/{visit}/{form}/{instance}/{field}"
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
ApiViewer = Annotated[Principal, Depends(Permission(QUERY_VIEW, api=True))]
ApiFieldViewer = Annotated[Principal, Depends(SiteScoped(QUERY_VIEW, api=True))]
ApiRaiser = Annotated[Principal, Depends(SiteScoped(QUERY_RAISE, api=True))]
ApiAnswerer = Annotated[Principal, Depends(SiteScoped(QUERY_ANSWER, api=True))]
ApiCloser = Annotated[Principal, Depends(SiteScoped(QUERY_CLOSE, api=True))]
Instance = Annotated[int, Path(ge=1, le=100_000)]
Status = Literal["open", "answered", "closed"]


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


# -- the JSON API -------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryMessageOut(_Model):
    """One message of a query's thread."""

    seq: int
    action: str
    status: str
    author: str
    at: str
    text: str


class QuerySummaryOut(_Model):
    """A query (``status`` ``none``: the field holds no query), without its thread."""

    subject_id: str
    site: str
    visit_id: str
    form_id: str
    instance: int
    field: str
    status: str
    origin: str
    raised_at: str
    raised_by: str
    updated_at: str
    updated_by: str
    closed_at: str | None
    days_open: int | None
    messages: int


class QueryOut(QuerySummaryOut):
    """A query with its thread, oldest message first."""

    thread: list[QueryMessageOut]


class QueryPage(_Model):
    """One page of a query list."""

    items: list[QuerySummaryOut]
    total: int
    page: int
    page_size: int


class QueryTextIn(_Model):
    """The message of a query action (required except to close)."""

    text: str | None = Field(default=None, max_length=MAX_TEXT)


class _ErrorOut(BaseModel):
    error: str


def _summary(q: QueryState) -> dict[str, Any]:
    return {
        "subject_id": q.subject_id, "site": q.site, "visit_id": q.visit_id, "form_id": q.form_id,
        "instance": q.instance, "field": q.field, "status": q.status, "origin": q.origin,
        "raised_at": q.raised_at, "raised_by": q.raised_by, "updated_at": q.updated_at,
        "updated_by": q.updated_by, "closed_at": q.closed_at, "days_open": q.days_open,
        "messages": len(q.messages),
    }  # fmt: skip


def _query_out(q: QueryState) -> QueryOut:
    thread = [
        QueryMessageOut(seq=m.seq, action=m.action, status=m.status, author=m.author, at=m.at,
                        text=m.text)
        for m in q.messages
    ]  # fmt: skip
    return QueryOut(**_summary(q), thread=thread)


api_router = APIRouter(
    prefix="/api/v1",
    tags=["queries"],
    responses={
        401: {"model": _ErrorOut, "description": "No valid API token"},
        403: {"model": _ErrorOut, "description": "The role may not do this"},
        404: {"model": _ErrorOut, "description": "Unknown study, subject, form or field, or "
              "another site's subject"},
        422: {"description": "Invalid request"},
    },
)  # fmt: skip


@api_router.get("/studies/{study}/queries", response_model=QueryPage)
def api_list_queries(
    request: Request, study: str, principal: ApiViewer,
    site: str | None = None, subject: str | None = None, status: Status | None = None,
    form: str | None = None, field: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1)] = None,
) -> QueryPage:  # fmt: skip
    """The queries of the user's sites (admins: all), filtered, a page at a time."""
    settings = request.app.state.web.settings
    size = min(page_size or settings.page_size, settings.max_page_size)
    found = visible_queries(
        study_store(request, study), principal, site=site, subject=subject, status=status,
        form=form, field=field,
    )  # fmt: skip
    start = (page - 1) * size
    return QueryPage(
        items=[QuerySummaryOut(**_summary(q)) for q in found[start : start + size]],
        total=len(found), page=page, page_size=size,
    )  # fmt: skip


def _get(
    store: Store, subject: str, visit: str, form: str, instance: int, field: str
) -> QueryState:
    form_at(store, visit, form, instance)
    try:
        return store.query(subject, visit, form, field, instance=instance)
    except NotFoundError:
        raise SubjectNotFoundError(f"{subject}/{visit}/{form}/{field}") from None


@api_router.get(API_FIELD, response_model=QueryOut)
def api_get_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, principal: ApiFieldViewer,
) -> QueryOut:  # fmt: skip
    """The query on a field with its thread (``status`` ``none`` when none was raised)."""
    return _query_out(_get(study_store(request, study), subject, visit, form, instance, field))


def _api_act(
    request: Request, action: str, study: str, subject: str, visit: str, form: str,
    instance: int, field: str, body: QueryTextIn, principal: Principal,
) -> Any:  # fmt: skip
    store = study_store(request, study)
    _get(store, subject, visit, form, instance, field)  # 404 for an unknown form or field
    try:
        done = store.query_action(
            action, subject, visit, form, field, text=body.text, actor=principal.username,
            instance=instance,
        )  # fmt: skip
    except QueryTransitionError as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    except InputError as exc:
        problem = {"field": "text", "message": str(exc), "check_id": ""}
        return JSONResponse({"error": "invalid request", "errors": [problem]}, status_code=422)
    return JSONResponse(
        _query_out(done).model_dump(), status_code=201 if action == "raise" else 200
    )


_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": _ErrorOut, "description": "Not allowed from the query's status"}
}


@api_router.post(API_FIELD, response_model=QueryOut, status_code=201, responses=_CONFLICT)
def api_raise_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, body: QueryTextIn, principal: ApiRaiser,
) -> Any:  # fmt: skip
    """Raise a query on a field of a saved record (``text`` required)."""
    return _api_act(request, "raise", study, subject, visit, form, instance, field, body, principal)


@api_router.post(API_FIELD + "/answer", response_model=QueryOut, responses=_CONFLICT)
def api_answer_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, body: QueryTextIn, principal: ApiAnswerer,
) -> Any:  # fmt: skip
    """Answer an open query (``text`` required)."""
    return _api_act(
        request, "answer", study, subject, visit, form, instance, field, body, principal
    )


@api_router.post(API_FIELD + "/close", response_model=QueryOut, responses=_CONFLICT)
def api_close_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, body: QueryTextIn, principal: ApiCloser,
) -> Any:  # fmt: skip
    """Close an open or answered query (``text`` optional)."""
    return _api_act(request, "close", study, subject, visit, form, instance, field, body, principal)


@api_router.post(API_FIELD + "/reopen", response_model=QueryOut, responses=_CONFLICT)
def api_reopen_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, body: QueryTextIn, principal: ApiCloser,
) -> Any:  # fmt: skip
    """Re-open a closed query (``text`` required)."""
    return _api_act(
        request, "reopen", study, subject, visit, form, instance, field, body, principal
    )


@api_router.post(API_FIELD + "/return", response_model=QueryOut, responses=_CONFLICT)
def api_return_query(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    field: str, body: QueryTextIn, principal: ApiCloser,
) -> Any:  # fmt: skip
    """Send an answered query back to the site (``text`` required)."""
    return _api_act(
        request, "return", study, subject, visit, form, instance, field, body, principal
    )


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
