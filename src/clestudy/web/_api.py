"""The JSON API under ``/api/v1``: the same store service and permission rules as the pages.

Authentication is ``Authorization: Bearer <token>`` (a per-user API token of the accounts
store); no cookie is read, so no CSRF token is needed. The audit actor is the token's user: no
request field can set it (unknown body fields are refused with 422).

Errors: 401 without a valid token, 403 for a role without the route's permission, 404 (one body,
:data:`~clestudy.web._app.NOT_FOUND`) for an unknown subject and another site's alike, 409 for a
stale edit (with the current version and values) or a locked record, 422 listing every problem
of an invalid record, each with its field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clestudy.errors import (
    InputError,
    NotFoundError,
    RecordLockedError,
    RecordValidationError,
    StaleVersionError,
)
from clestudy.store import RecordState, Store, SubjectState
from clestudy.web._access import (
    SubjectNotFoundError,
    field_messages,
    find_record,
    form_at,
    subject_for,
    subject_records,
    visible_subjects,
)
from clestudy.web._auth import DeferredPermission, PendingPrincipal, Permission, Principal
from clestudy.web._rules import ENROL, ENTER, READ, READ_SUBJECT

__all__ = ["router"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectOut(_Model):
    """An enrolled subject."""

    subject_id: str
    arm: str
    site: str
    status: str


class SubjectPage(_Model):
    """One page of a list of subjects."""

    items: list[SubjectOut]
    total: int
    page: int
    page_size: int


class RecordOut(_Model):
    """A record as stored."""

    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    values: dict[str, Any]
    derived: dict[str, Any]
    version: int
    status: str
    updated_at: str
    updated_by: str


class RecordPut(_Model):
    """A save: the values, the version the edit was made on (``null`` to create) and a reason."""

    values: dict[str, Any]
    expected_version: int | None = Field(default=None, ge=1)
    reason: str | None = None
    mode: Literal["patch", "replace"] = "patch"


class EnrolIn(_Model):
    """A subject to enrol (``arm`` empty in a randomized study: randomization assigns it)."""

    subject_id: str
    arm: str = ""
    site: str
    reason: str | None = None


class StudyOut(_Model):
    """A study of the database."""

    study_id: str
    title: str
    protocol_version: str


class ErrorOut(BaseModel):
    """An error."""

    error: str


class Problem(BaseModel):
    """One problem of an invalid request, with its field (empty: the whole record)."""

    field: str
    message: str
    check_id: str = ""


class ValidationOut(BaseModel):
    """Every problem of an invalid request."""

    error: str
    errors: list[Problem]


class ConflictOut(BaseModel):
    """A refused edit: the record's current version, status and values."""

    error: str
    version: int | None
    status: str | None
    values: dict[str, Any] | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid API token"},
    403: {"model": ErrorOut, "description": "The role may not do this"},
    404: {"model": ErrorOut, "description": "Unknown study or subject, or another site's"},
    422: {"model": ValidationOut, "description": "Invalid request"},
}

router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)

Reader = Annotated[Principal, Depends(Permission(READ, api=True))]
SubjectReader = Annotated[Principal, Depends(Permission(READ_SUBJECT, api=True))]
Enroller = Annotated[Principal, Depends(Permission(ENROL, api=True))]
Editor = Annotated[Principal, Depends(Permission(ENTER, api=True))]
#: The record save's check, resolved in the save's worker thread (``clestudy.web._auth``).
DeferredEditor = Annotated[PendingPrincipal, Depends(DeferredPermission(ENTER))]
Instance = Annotated[int, Path(ge=1, le=100_000)]


def _store(request: Request, study: str) -> Store:
    store: Store = request.app.state.web.studies.store(study)
    return store


def _subject_out(s: SubjectState) -> SubjectOut:
    return SubjectOut(subject_id=s.subject_id, arm=s.arm, site=s.site, status=s.status)


def _record_out(r: RecordState) -> RecordOut:
    return RecordOut(
        subject_id=r.subject_id, visit_id=r.visit_id, form_id=r.form_id, instance=r.instance,
        values=dict(r.values), derived=r.derived, version=r.version, status=r.status,
        updated_at=r.updated_at, updated_by=r.updated_by,
    )  # fmt: skip


@router.get("/studies", response_model=list[StudyOut])
def list_studies(request: Request, _: Reader) -> list[StudyOut]:
    """The studies of the database."""
    studies = request.app.state.web.studies
    out = []
    for study_id in studies.ids():
        protocol = studies.store(study_id).protocol
        out.append(
            StudyOut(study_id=protocol.id, title=protocol.title, protocol_version=protocol.version)
        )
    return out


@router.get("/studies/{study}/subjects", response_model=SubjectPage)
def list_subjects(
    request: Request,
    study: str,
    principal: Reader,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int | None, Query(ge=1)] = None,
) -> SubjectPage:
    """The subjects of the user's sites (admins: all), a page at a time, in enrolment order."""
    settings = request.app.state.web.settings
    size = min(page_size or settings.page_size, settings.max_page_size)
    subjects = visible_subjects(_store(request, study), principal)
    start = (page - 1) * size
    return SubjectPage(
        items=[_subject_out(s) for s in subjects[start : start + size]],
        total=len(subjects),
        page=page,
        page_size=size,
    )


@router.post(
    "/studies/{study}/subjects",
    response_model=SubjectOut,
    status_code=201,
    responses={409: {"model": ErrorOut, "description": "Already enrolled"}},
)
def enrol_subject(request: Request, study: str, body: EnrolIn, principal: Enroller) -> Any:
    """Enrol a subject at one of the user's sites (admins: any site)."""
    store = _store(request, study)
    if not principal.sees_site(body.site):
        return JSONResponse(
            {
                "error": "invalid request",
                "errors": [
                    {
                        "field": "site",
                        "message": f"site {body.site!r} is not one of your sites",
                        "check_id": "",
                    }
                ],
            },
            status_code=422,
        )
    try:
        subject = store.add_subject(
            body.subject_id, arm=body.arm, site=body.site, actor=principal.username,
            reason=body.reason,
        )  # fmt: skip
    except InputError as exc:
        status = 409 if "already enrolled" in str(exc) else 422
        if status == 409:
            return JSONResponse({"error": str(exc)}, status_code=409)
        name = next((n for n in ("arm", "site", "subject_id") if n in str(exc)), "")
        field = "subject_id" if name == "" or "subject id" in str(exc) else name
        return JSONResponse(
            {
                "error": "invalid request",
                "errors": [{"field": field, "message": str(exc), "check_id": ""}],
            },
            status_code=422,
        )
    return _subject_out(subject)


@router.get("/studies/{study}/subjects/{subject}", response_model=SubjectOut)
def get_subject(request: Request, study: str, subject: str, principal: SubjectReader) -> SubjectOut:
    """One subject."""
    return _subject_out(subject_for(_store(request, study), principal, subject))


@router.get("/studies/{study}/subjects/{subject}/records", response_model=list[RecordOut])
def list_records(
    request: Request, study: str, subject: str, principal: SubjectReader
) -> list[RecordOut]:
    """The subject's current records."""
    store = _store(request, study)
    subject_for(store, principal, subject)
    return [_record_out(r) for r in subject_records(store, subject)]


RECORD = "/studies/{study}/subjects/{subject}/records/{visit}/{form}/{instance}"


@router.get(RECORD, response_model=RecordOut)
def get_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    principal: SubjectReader,
) -> RecordOut:  # fmt: skip
    """One record (404 when it was never saved)."""
    store = _store(request, study)
    subject_for(store, principal, subject)
    form_at(store, visit, form, instance)
    record = find_record(store, subject, visit, form, instance)
    if record is None:
        raise SubjectNotFoundError(f"{subject}/{visit}/{form}")
    return _record_out(record)


def _conflict(
    store: Store, subject: str, visit: str, form: str, instance: int, message: str
) -> JSONResponse:
    current = find_record(store, subject, visit, form, instance)
    return JSONResponse(
        {
            "error": message,
            "version": current.version if current else None,
            "status": current.status if current else None,
            "values": dict(current.values) if current else None,
        },
        status_code=409,
    )


@router.put(
    RECORD,
    response_model=RecordOut,
    responses={409: {"model": ConflictOut, "description": "Stale version or locked record"}},
)
async def put_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    body: RecordPut, pending: DeferredEditor,
) -> Any:  # fmt: skip
    """Create (``expected_version`` null) or edit a record; the audit actor is the token's user."""
    # the token check, the save (with its site check) and the response's JSON in one worker
    # thread: FastAPI would check the token in one, run a sync route in another and validate and
    # serialise its returned model again in a third
    return await run_in_threadpool(
        _save_record, request, study, subject, visit, form, instance, body, pending
    )


def _save_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    body: RecordPut, pending: PendingPrincipal,
) -> Response:  # fmt: skip
    principal = pending.resolve()
    store = _store(request, study)
    form_at(store, visit, form, instance)
    where = f"{subject}/{visit}/{form}" + (f"#{instance}" if instance != 1 else "")
    try:
        # the save reads the subject's site and refuses another site's subject, or a deleted
        # one, as it refuses an unknown id (the NotFoundError below: the one 404)
        saved = store.save_record(
            subject, visit, form, body.values, actor=principal.username, reason=body.reason,
            expected_version=body.expected_version, instance=instance, mode=body.mode,
            scope=principal.scope,
        )  # fmt: skip
    except StaleVersionError as exc:
        return _conflict(store, subject, visit, form, instance, str(exc))
    except RecordLockedError as exc:
        return _conflict(store, subject, visit, form, instance, str(exc))
    except RecordValidationError as exc:
        problems = field_messages(str(exc), where)
        return JSONResponse(
            {
                "error": "invalid record",
                "errors": [
                    {"field": p.field, "message": p.message, "check_id": p.check_id}
                    for p in problems
                ],
            },
            status_code=422,
        )
    except NotFoundError:
        raise SubjectNotFoundError(where) from None
    except InputError as exc:
        message = str(exc).removeprefix(f"record {where}: ")
        field = "reason" if "reason" in message else ""
        return JSONResponse(
            {
                "error": "invalid record",
                "errors": [{"field": field, "message": message, "check_id": ""}],
            },
            status_code=422,
        )
    # the model is validated once, here, and written as JSON by pydantic, as FastAPI would
    return Response(_record_out(saved).model_dump_json(), media_type="application/json")
