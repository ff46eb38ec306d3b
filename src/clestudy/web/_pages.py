"""The HTML pages: login, studies, subjects, visit schedule, data entry, audit, dashboard.

Server-rendered Jinja2; htmx only refreshes the live part of the data-entry page (derived scores
and field messages, :func:`preview_record`). Every route declares its permission rule
(:class:`~clestudy.web._auth.Permission`); the user it returns is the audit actor of any change.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clestudy.errors import (
    ClestudyError,
    InputError,
    NotFoundError,
    RecordLockedError,
    RecordValidationError,
    StaleVersionError,
)
from clestudy.store import RecordState, Store, SubjectState
from clestudy.web._access import (
    FieldMessage,
    Preview,
    SubjectNotFoundError,
    field_messages,
    find_record,
    form_at,
    preview,
    subject_for,
    subject_records,
    visible_subjects,
)
from clestudy.web._app import templates
from clestudy.web._audit_view import record_history
from clestudy.web._auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Permission,
    Principal,
    csrf_token,
    new_login_secret,
    set_cookie,
)
from clestudy.web._forms import form_layout, posted_values, shown_value
from clestudy.web._rules import AUTHENTICATED, ENROL, ENTER, PUBLIC, READ, READ_SUBJECT
from clestudy.web._visits import visit_schedule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

Public = Annotated[Principal | None, Depends(Permission(PUBLIC))]
Authenticated = Annotated[Principal, Depends(Permission(AUTHENTICATED))]
Reader = Annotated[Principal, Depends(Permission(READ))]
SubjectReader = Annotated[Principal, Depends(Permission(READ_SUBJECT))]
Enroller = Annotated[Principal, Depends(Permission(ENROL))]
Editor = Annotated[Principal, Depends(Permission(ENTER))]

RECORD = "/studies/{study}/subjects/{subject}/records/{visit}/{form}/{instance}"


def _render(
    request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    context.setdefault("title", "")
    user = principal.user if principal else None
    csrf = principal.csrf if principal else None
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf": csrf, **context}, status_code=status
    )
    return cast("HTMLResponse", response)


def _store(request: Request, study: str) -> Store:
    store: Store = request.app.state.web.studies.store(study)
    return store


def _safe_next(target: str | None) -> str:
    """Only a local path is a redirect target after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/studies"


# -- login and logout ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, _: Public, next: str = "/studies") -> HTMLResponse:
    secret = request.cookies.get(LOGIN_COOKIE) or new_login_secret()
    response = _render(
        request,
        "login.html",
        None,
        title="Log in",
        next=_safe_next(next),
        login_csrf=csrf_token(secret),
    )
    set_cookie(response, request, LOGIN_COOKIE, secret, max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, _: Public) -> Response:
    form = await request.form()
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    accounts = request.app.state.web.accounts
    try:
        user = await run_in_threadpool(accounts.authenticate, username, password)
        token = await run_in_threadpool(accounts.create_session, user.username)
    except ClestudyError:
        secret = request.cookies.get(LOGIN_COOKIE) or new_login_secret()
        response: Response = _render(
            request, "login.html", None, 401, title="Log in", next=target,
            login_csrf=csrf_token(secret), error="Wrong user name or password, or the account "
            "is locked or suspended.",
        )  # fmt: skip
        set_cookie(response, request, LOGIN_COOKIE, secret, max_age=3600)
        return response
    response = RedirectResponse(target, status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token, max_age=60 * 60 * 24)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, _: Authenticated) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(request.app.state.web.accounts.end_session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- studies and subjects -----------------------------------------------------------------------


@router.get("/")
def home(_: Authenticated) -> Response:
    return RedirectResponse("/studies", status_code=303)


@router.get("/studies", response_class=HTMLResponse)
def studies_page(request: Request, principal: Reader) -> HTMLResponse:
    studies = request.app.state.web.studies
    rows = []
    for study_id in studies.ids():
        store = studies.store(study_id)
        rows.append((store.protocol, len(visible_subjects(store, principal))))
    return _render(request, "studies.html", principal, title="Studies", studies=rows)


def _subject_summary(store: Store, subjects: list[SubjectState]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {s.subject_id: {} for s in subjects}
    for record in store.records():
        if record.subject_id in counts:
            mine = counts[record.subject_id]
            mine[record.status] = mine.get(record.status, 0) + 1
    return counts


@router.get("/studies/{study}", response_class=HTMLResponse)
def subjects_page(request: Request, study: str, principal: Reader) -> HTMLResponse:
    store = _store(request, study)
    subjects = visible_subjects(store, principal)
    by_site: dict[str, list[SubjectState]] = {}
    for subject in subjects:
        by_site.setdefault(subject.site, []).append(subject)
    return _render(
        request, "subjects.html", principal, title=f"{store.protocol.title}: subjects",
        protocol=store.protocol, by_site=by_site, counts=_subject_summary(store, subjects),
        may_enrol=ENROL.allows(principal.user.role),
    )  # fmt: skip


def _enrol_sites(store: Store, principal: Principal) -> list[str]:
    return [s.id for s in store.protocol.sites if principal.sees_site(s.id)]


@router.get("/studies/{study}/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, study: str, principal: Enroller) -> HTMLResponse:
    store = _store(request, study)
    return _render(
        request, "enrol.html", principal, title="Enrol a subject", protocol=store.protocol,
        sites=_enrol_sites(store, principal), values={}, error=None,
    )  # fmt: skip


@router.post("/studies/{study}/enrol", response_class=HTMLResponse)
async def enrol(request: Request, study: str, principal: Enroller) -> Response:
    store = _store(request, study)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("subject_id", "arm", "site", "reason")}
    error = None
    if values["site"] not in _enrol_sites(store, principal):
        error = f"site {values['site']!r} is not one of your sites"
    else:
        try:
            await run_in_threadpool(
                lambda: store.add_subject(
                    values["subject_id"], arm=values["arm"], site=values["site"],
                    actor=principal.username, reason=values["reason"] or None,
                )
            )  # fmt: skip
        except InputError as exc:
            error = str(exc)
    if error is not None:
        return _render(
            request, "enrol.html", principal, 422, title="Enrol a subject", protocol=store.protocol,
            sites=_enrol_sites(store, principal), values=values, error=error,
        )  # fmt: skip
    return RedirectResponse(f"/studies/{study}/subjects/{values['subject_id']}", status_code=303)


@router.get("/studies/{study}/subjects/{subject}", response_class=HTMLResponse)
def subject_page(
    request: Request, study: str, subject: str, principal: SubjectReader
) -> HTMLResponse:
    store = _store(request, study)
    found = subject_for(store, principal, subject)
    schedule = visit_schedule(store.protocol, subject_records(store, subject), store.clock().date())
    return _render(
        request, "subject.html", principal, title=f"Subject {subject}", protocol=store.protocol,
        subject=found, schedule=schedule, study=study,
    )  # fmt: skip


@router.get("/studies/{study}/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, study: str, principal: Reader) -> HTMLResponse:
    store = _store(request, study)
    subjects = visible_subjects(store, principal)
    records = store.records()
    today = store.clock().date()
    rows = [
        (
            s,
            visit_schedule(
                store.protocol, [r for r in records if r.subject_id == s.subject_id], today
            ),
        )
        for s in subjects
    ]
    return _render(
        request, "dashboard.html", principal, title=f"{store.protocol.title}: dashboard",
        protocol=store.protocol, rows=rows, study=study,
    )  # fmt: skip


# -- data entry ---------------------------------------------------------------------------------


def _form_context(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Principal,
) -> dict[str, Any]:  # fmt: skip
    store = _store(request, study)
    found = subject_for(store, principal, subject)
    spec = form_at(store, visit, form, instance)
    record = find_record(store, subject, visit, form, instance)
    return {
        "store": store,
        "protocol": store.protocol,
        "study": study,
        "subject": found,
        "visit": store.protocol.visit(visit),
        "form": spec,
        "instance": instance,
        "record": record,
        "layout": form_layout(store.protocol, spec),
        "editable": ENTER.allows(principal.user.role)
        and (record is None or record.status != "locked"),
        "action": RECORD.format(
            study=study, subject=subject, visit=visit, form=form, instance=instance
        ),
        "shown": shown_value,
    }


def _form_page(
    request: Request, principal: Principal, context: dict[str, Any], *, status: int = 200,
    values: dict[str, Any] | None = None, messages: list[FieldMessage] | None = None,
    derived: dict[str, Any] | None = None, conflict: RecordState | None = None,
    notice: str | None = None, reason: str = "",
) -> HTMLResponse:  # fmt: skip
    record: RecordState | None = context["record"]
    return _render(
        request, "record.html", principal, status,
        title=f"{context['form'].name}: {context['subject'].subject_id}",
        values=values if values is not None else (record.values if record else {}),
        messages=messages or [], derived=derived if derived is not None else (record.derived if record else {}),
        conflict=conflict, notice=notice, reason=reason, version=(record.version if record else ""),
        **context,
    )  # fmt: skip


@router.get(RECORD, response_class=HTMLResponse)
def record_page(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: SubjectReader, saved: bool = False,
) -> HTMLResponse:  # fmt: skip
    context = _form_context(request, study, subject, visit, form, instance, principal)
    return _form_page(request, principal, context, notice="Saved." if saved else None)


@router.post(RECORD, response_class=HTMLResponse)
async def save_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Editor,
) -> Response:  # fmt: skip
    context = await run_in_threadpool(
        _form_context, request, study, subject, visit, form, instance, principal
    )
    store: Store = context["store"]
    posted = await request.form()
    raw = posted_values(context["layout"], posted)
    version_text = str(posted.get("version") or "").strip()
    expected = int(version_text) if version_text.isdigit() else None
    reason = str(posted.get("reason") or "").strip()
    where = f"{subject}/{visit}/{form}" + (f"#{instance}" if instance != 1 else "")
    try:
        await run_in_threadpool(
            lambda: store.save_record(
                subject, visit, form, raw, actor=principal.username, reason=reason or None,
                expected_version=expected, instance=instance, mode="replace",
            )
        )  # fmt: skip
    except StaleVersionError:
        current = await run_in_threadpool(find_record, store, subject, visit, form, instance)
        context["record"] = current
        notice = (
            "This record was changed by someone else while you edited it"
            + (
                f" ({current.updated_by}, {current.updated_at}, now version {current.version})"
                if current
                else ""
            )
            + ". Your entries are kept below, the current saved values beside them; "
            "review them and save again to apply yours."
        )
        return _form_page(
            request, principal, context, status=409, values=raw, conflict=current,
            notice=notice, reason=reason,
        )  # fmt: skip
    except RecordLockedError as exc:
        return _form_page(request, principal, context, status=409, values=raw, notice=str(exc))
    except RecordValidationError as exc:
        result = await run_in_threadpool(_preview_of, store, subject, visit, context, raw, instance)
        messages = result.messages if result.errors else field_messages(str(exc), where)
        return _form_page(
            request, principal, context, status=422, values=raw, messages=messages,
            derived=result.derived, notice="Not saved: correct the fields marked below.",
            reason=reason,
        )  # fmt: skip
    except NotFoundError:
        raise SubjectNotFoundError(where) from None
    except InputError as exc:
        message = str(exc).removeprefix(f"record {where}: ")
        return _form_page(
            request, principal, context, status=422, values=raw,
            messages=[FieldMessage("reason", "error", message)], notice=f"Not saved: {message}",
            reason=reason,
        )  # fmt: skip
    return RedirectResponse(context["action"] + "?saved=1", status_code=303)


def _preview_of(
    store: Store, subject: str, visit: str, context: dict[str, Any], raw: dict[str, Any],
    instance: int,
) -> Preview:  # fmt: skip
    return preview(store, subject, visit, context["form"], raw, instance)


@router.post(RECORD + "/preview", response_class=HTMLResponse)
async def preview_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Editor,
) -> HTMLResponse:  # fmt: skip
    context = await run_in_threadpool(
        _form_context, request, study, subject, visit, form, instance, principal
    )
    raw = posted_values(context["layout"], await request.form())
    result = await run_in_threadpool(
        _preview_of, context["store"], subject, visit, context, raw, instance
    )
    return _render(
        request, "_live.html", principal, result=result, form=context["form"],
        protocol=context["protocol"],
    )  # fmt: skip


@router.get(RECORD + "/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: SubjectReader,
) -> HTMLResponse:  # fmt: skip
    store = _store(request, study)
    subject_for(store, principal, subject)
    spec = form_at(store, visit, form, instance)
    history = record_history(
        store, request.app.state.web.studies.db_url, subject, visit, form, instance
    )
    return _render(
        request, "audit.html", principal, title=f"History of {subject}/{visit}/{form}",
        study=study, subject=subject, visit=store.protocol.visit(visit), form=spec,
        instance=instance, history=history, today=dt.date.today(),
    )  # fmt: skip
