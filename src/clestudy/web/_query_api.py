"""The query API under ``/api/v1/studies/{study}/queries``: the list with filters and pages, a
field's query with its thread, and the actions raise, answer, close, reopen and return (send back).

Each route declares its rule; routes that address a field use
:class:`~clestudy.web._queries.SiteScoped`, so another site's subject gets the API's one 404
body before the request body is read. An action the life cycle refuses is a 409 (nothing is
written), a missing or too long text a 422 naming ``text``. The actor is the token's user.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from clestudy.errors import InputError, NotFoundError
from clestudy.store import QueryState, QueryTransitionError, Store
from clestudy.store._queries import MAX_TEXT
from clestudy.web._access import SubjectNotFoundError, form_at
from clestudy.web._auth import Permission, Principal
from clestudy.web._queries import SiteScoped, visible_queries
from clestudy.web._rules import QUERY_ANSWER, QUERY_CLOSE, QUERY_RAISE, QUERY_VIEW
from clestudy.web._views import study_store

__all__ = ["api_router"]

#: A field's query in the API.
API_FIELD = "/studies/{study}/queries/{subject}/{visit}/{form}/{instance}/{field}"
ApiViewer = Annotated[Principal, Depends(Permission(QUERY_VIEW, api=True))]
ApiFieldViewer = Annotated[Principal, Depends(SiteScoped(QUERY_VIEW, api=True))]
ApiRaiser = Annotated[Principal, Depends(SiteScoped(QUERY_RAISE, api=True))]
ApiAnswerer = Annotated[Principal, Depends(SiteScoped(QUERY_ANSWER, api=True))]
ApiCloser = Annotated[Principal, Depends(SiteScoped(QUERY_CLOSE, api=True))]
Instance = Annotated[int, Path(ge=1, le=100_000)]
Status = Literal["open", "answered", "closed"]


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
