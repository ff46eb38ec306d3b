"""Verification and locking in the web app and the API: field-level SDV, bulk locks, the listing.

Pages: the lock and verification listing (``/studies/{study}/lock-status``, filters and CSV),
its bulk lock and unlock forms (one transaction over the filtered forms, visits or subjects),
and the field-level verification of a record (``.../verify-fields``). API: the same listing as
paginated JSON, bulk ``lock``/``unlock`` and field-level ``verify``. Every list and every bulk
action is limited to the user's sites (admins: all); the store refuses writes under a lock.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clestudy.errors import InputError, NotFoundError, RecordLockedError, StaleVersionError
from clestudy.store import LockChange, LockSelection, Store
from clestudy.store._lock_status import STATUS_FILTERS, LockStatusRow, as_csv
from clestudy.web._access import SubjectNotFoundError, subject_for
from clestudy.web._api import _ERRORS, ErrorOut
from clestudy.web._auth import Permission, Principal
from clestudy.web._rules import LOCK, READ, UNLOCK, VERIFY
from clestudy.web._views import (
    RECORD,
    Locker,
    Reader,
    Unlocker,
    Verifier,
    render,
    study_store,
)

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)

LISTING = "/studies/{study}/lock-status"
FILTERS = ("site", "subject", "visit", "form", "status")


def _sites(principal: Principal, site: str | None) -> tuple[str, ...] | None:
    """The sites a user's list or bulk action covers: the filter, within the user's sites."""
    if principal.user.role == "admin":
        return (site,) if site else None
    mine = tuple(principal.user.sites)
    return tuple(s for s in mine if s == site) if site else mine


def _one(value: str | None) -> tuple[str, ...] | None:
    return (value,) if value else None


def _listing(store: Store, principal: Principal, filters: dict[str, str]) -> list[LockStatusRow]:
    return store.lock_status(
        sites=_sites(principal, filters.get("site")), subjects=_one(filters.get("subject")),
        visits=_one(filters.get("visit")), forms=_one(filters.get("form")),
        statuses=_one(filters.get("status")),
    )  # fmt: skip


def _query_filters(request: Request) -> dict[str, str]:
    return {k: request.query_params.get(k, "").strip() for k in FILTERS}


def _selection(
    principal: Principal, filters: dict[str, str], instance: int | None
) -> LockSelection:
    return LockSelection(
        subjects=_one(filters.get("subject")), sites=_sites(principal, filters.get("site")),
        visits=_one(filters.get("visit")), forms=_one(filters.get("form")), instance=instance,
    )  # fmt: skip


# -- pages --------------------------------------------------------------------------------------


def _page(
    request: Request, study: str, principal: Principal, *, status: int = 200,
    notice: str | None = None, error: str | None = None, filters: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    store = study_store(request, study)
    filters = filters or _query_filters(request)
    try:
        rows = _listing(store, principal, filters)
    except InputError as exc:
        rows, error, status = [], str(exc), 422
    return render(
        request, "lock_status.html", principal, status, title="Lock and verification status",
        protocol=store.protocol, study=study, rows=rows, filters=filters,
        statuses=STATUS_FILTERS, notice=notice, error=error,
        query=urlencode({k: v for k, v in filters.items() if v}),
        may_lock=LOCK.allows(principal.user.role), may_unlock=UNLOCK.allows(principal.user.role),
        sites=sorted({s.id for s in store.protocol.sites if principal.sees_site(s.id)}),
    )  # fmt: skip


@router.get(LISTING, response_class=HTMLResponse)
def lock_status_page(request: Request, study: str, principal: Reader) -> HTMLResponse:
    return _page(request, study, principal)


@router.get(LISTING + ".csv")
def lock_status_csv(request: Request, study: str, principal: Reader) -> Response:
    store = study_store(request, study)
    try:
        rows = _listing(store, principal, _query_filters(request))
    except InputError as exc:
        return Response(f"error: {exc}\n", status_code=422, media_type="text/plain")
    return Response(
        as_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study}-lock-status.csv"'},
    )


def _describe(change: LockChange) -> str:
    verb = "Locked" if change.locked else "Unlocked"
    text = f"{verb} {len(change.changed)} {change.level}(s)"
    if change.skipped:
        text += f"; {len(change.skipped)} skipped ({change.skipped[0][0]}: {change.skipped[0][1]}"
        text += ", ...)" if len(change.skipped) > 1 else ")"
    return text + "."


async def _bulk(request: Request, study: str, principal: Principal, locked: bool) -> Response:
    store = study_store(request, study)
    posted = await request.form()
    level = str(posted.get("level") or "").strip()
    reason = str(posted.get("reason") or "").strip() or None
    filters = {k: str(posted.get(k) or "").strip() for k in FILTERS}
    if level not in ("form", "visit", "subject"):
        return _page(request, study, principal, status=422, error="Choose a level to lock.",
                     filters=filters)  # fmt: skip

    def run() -> LockChange:
        selection = _selection(principal, filters, None)
        if locked:
            return store.lock(selection, level=level, actor=principal.username, reason=reason)  # type: ignore[arg-type]
        return store.unlock(selection, level=level, actor=principal.username, reason=reason or "")  # type: ignore[arg-type]

    try:
        change = await run_in_threadpool(run)
    except InputError as exc:
        return _page(request, study, principal, status=422, error=f"Not done: {exc}",
                     filters=filters)  # fmt: skip
    return _page(request, study, principal, notice=_describe(change), filters=filters)


@router.post(LISTING + "/lock", response_class=HTMLResponse)
async def bulk_lock(request: Request, study: str, principal: Locker) -> Response:
    return await _bulk(request, study, principal, True)


@router.post(LISTING + "/unlock", response_class=HTMLResponse)
async def bulk_unlock(request: Request, study: str, principal: Unlocker) -> Response:
    return await _bulk(request, study, principal, False)


@router.post(RECORD + "/verify-fields", response_class=HTMLResponse)
async def verify_fields_page(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Verifier,
) -> Response:  # fmt: skip
    from clestudy.web._entry import _form_context, _form_page

    context = await run_in_threadpool(
        _form_context, request, study, subject, visit, form, instance, principal
    )
    store: Store = context["store"]
    posted = await request.form()
    fields = [str(v) for v in posted.getlist("field")]
    version_text = str(posted.get("version") or "").strip()
    if context["record"] is None or not version_text.isdigit():
        return _form_page(request, principal, context, status=409, notice="Save the record first.")
    try:
        await run_in_threadpool(
            lambda: store.verify_fields(
                subject, visit, form, fields, expected_version=int(version_text),
                actor=principal.username, instance=instance,
            )
        )  # fmt: skip
    except (StaleVersionError, RecordLockedError) as exc:
        return _form_page(request, principal, context, status=409, notice=f"Not done: {exc}")
    except InputError as exc:
        return _form_page(request, principal, context, status=422, notice=f"Not done: {exc}")
    return RedirectResponse(context["action"], status_code=303)


# -- the API ------------------------------------------------------------------------------------

ApiReader = Annotated[Principal, Depends(Permission(READ, api=True))]
ApiLocker = Annotated[Principal, Depends(Permission(LOCK, api=True))]
ApiUnlocker = Annotated[Principal, Depends(Permission(UNLOCK, api=True))]
ApiVerifier = Annotated[Principal, Depends(Permission(VERIFY, api=True))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LockStatusPage(_Model):
    """One page of the listing."""

    items: list[LockStatusRow]  # the store's dataclass: its fields are the API's
    total: int
    page: int
    page_size: int


class LockIn(_Model):
    """A bulk lock or unlock: the level, the filters selecting its targets, and a reason."""

    level: Literal["form", "visit", "subject"]
    site: str | None = None
    subject: str | None = None
    visit: str | None = None
    form: str | None = None
    instance: int | None = Field(default=None, ge=1)
    reason: str | None = None


class LockOut(_Model):
    """What a bulk lock or unlock changed, and what it skipped with why."""

    level: str
    locked: bool
    changed: list[str]
    skipped: list[list[str]]


class VerifyIn(_Model):
    """Fields to mark source-verified (``null``: the whole form) on the version they were read."""

    fields: list[str] | None = None
    expected_version: int = Field(ge=1)
    reason: str | None = None


class VerifyOut(_Model):
    """The record's verified fields and status afterwards."""

    verified: list[str]
    status: str
    version: int


def _problem(exc: Exception, status: int = 422) -> JSONResponse:
    body: dict[str, Any] = {"error": str(exc)}
    if status == 422:
        body = {"error": "invalid request", "errors": [{"field": "", "message": str(exc)}]}
    return JSONResponse(body, status_code=status)


@api_router.get("/studies/{study}/lock-status", response_model=LockStatusPage)
def api_lock_status(
    request: Request, study: str, principal: ApiReader,
    site: str | None = None, subject: str | None = None, visit: str | None = None,
    form: str | None = None, status: str | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1)] = None,
) -> Any:  # fmt: skip
    """The lock and verification listing of the user's sites, a page at a time."""
    settings = request.app.state.web.settings
    size = min(page_size or settings.page_size, settings.max_page_size)
    filters = {"site": site or "", "subject": subject or "", "visit": visit or "",
               "form": form or "", "status": status or ""}  # fmt: skip
    try:
        rows = _listing(study_store(request, study), principal, filters)
    except InputError as exc:
        return _problem(exc)
    start = (page - 1) * size
    return LockStatusPage(
        items=rows[start : start + size],
        total=len(rows), page=page, page_size=size,
    )  # fmt: skip


def _api_bulk(
    request: Request, study: str, body: LockIn, principal: Principal, locked: bool
) -> Any:
    store = study_store(request, study)
    filters = {"site": body.site or "", "subject": body.subject or "", "visit": body.visit or "",
               "form": body.form or ""}  # fmt: skip
    selection = _selection(principal, filters, body.instance)
    try:
        if locked:
            change = store.lock(selection, level=body.level, actor=principal.username,
                                reason=body.reason)  # fmt: skip
        else:
            change = store.unlock(selection, level=body.level, actor=principal.username,
                                  reason=body.reason or "")  # fmt: skip
    except NotFoundError as exc:
        if body.subject and "not enrolled" in str(exc):
            raise SubjectNotFoundError(body.subject) from None
        return _problem(exc)
    except InputError as exc:
        return _problem(exc)
    return LockOut(
        level=change.level, locked=change.locked, changed=list(change.changed),
        skipped=[list(s) for s in change.skipped],
    )  # fmt: skip


@api_router.post("/studies/{study}/lock", response_model=LockOut)
def api_lock(request: Request, study: str, body: LockIn, principal: ApiLocker) -> Any:
    """Lock the selected forms, visits or subjects of the user's sites, in one transaction."""
    return _api_bulk(request, study, body, principal, True)


@api_router.post("/studies/{study}/unlock", response_model=LockOut)
def api_unlock(request: Request, study: str, body: LockIn, principal: ApiUnlocker) -> Any:
    """Unlock the selected forms, visits or subjects (a reason is required), in one transaction."""
    return _api_bulk(request, study, body, principal, False)


def _visible_subject(request: Request, study: str, subject: str, principal: ApiVerifier) -> str:
    """404 for another site's subject before the body is read (as for an unknown one)."""
    subject_for(study_store(request, study), principal, subject)
    return subject


@api_router.post(
    RECORD + "/verify",
    response_model=VerifyOut,
    responses={409: {"model": ErrorOut, "description": "Stale version or locked record"}},
)
def api_verify(
    request: Request, study: str, subject: Annotated[str, Depends(_visible_subject)], visit: str,
    form: str, instance: Annotated[int, Path(ge=1, le=100_000)], body: VerifyIn,
    principal: ApiVerifier,
) -> Any:  # fmt: skip
    """Mark fields (or, with ``fields`` null, the whole form) of a record source-verified."""
    store = study_store(request, study)
    try:
        if body.fields is None:
            state = store.verify_record(
                subject, visit, form, expected_version=body.expected_version,
                actor=principal.username, instance=instance, reason=body.reason,
            )  # fmt: skip
            version, status = state.version, state.status
        else:
            store.verify_fields(
                subject, visit, form, body.fields, expected_version=body.expected_version,
                actor=principal.username, instance=instance, reason=body.reason,
            )  # fmt: skip
            record = store.records(subject_id=subject, visit_id=visit, form_id=form)
            found = next(r for r in record if r.instance == instance)
            version, status = found.version, found.status
    except (StaleVersionError, RecordLockedError) as exc:
        return _problem(exc, 409)
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        return _problem(exc)
    review = store.record_review(subject, visit, form, instance)
    return VerifyOut(verified=list(review.verified), status=status, version=version)
