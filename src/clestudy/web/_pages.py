"""The HTML pages around the data: login, studies, subjects by site, enrolment, visit schedule,
dashboard.

Server-rendered Jinja2. Every route declares its permission rule (:mod:`clestudy.web._views`);
the user it returns is the audit actor of any change.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clestudy.errors import (
    ClestudyError,
    InputError,
)
from clestudy.store import Store, SubjectState
from clestudy.web._access import (
    subject_for,
    subject_records,
    visible_subjects,
)
from clestudy.web._auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Principal,
    csrf_token,
    new_login_secret,
    set_cookie,
)
from clestudy.web._randomization import randomization_context
from clestudy.web._rules import ENROL
from clestudy.web._views import (
    Authenticated,
    Enroller,
    Public,
    Reader,
    SubjectReader,
    render,
    study_store,
)
from clestudy.web._visits import visit_schedule

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a local path is a redirect target after login (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/studies"


# -- login and logout ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, _: Public, next: str = "/studies") -> HTMLResponse:
    secret = request.cookies.get(LOGIN_COOKIE) or new_login_secret()
    response = render(
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
        source = request.client.host if request.client else None
        user = await run_in_threadpool(accounts.authenticate, username, password, source=source)
        token = await run_in_threadpool(accounts.create_session, user.username)
    except ClestudyError:
        secret = request.cookies.get(LOGIN_COOKIE) or new_login_secret()
        response: Response = render(
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
    return render(request, "studies.html", principal, title="Studies", studies=rows)


def _subject_summary(store: Store, subjects: list[SubjectState]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {s.subject_id: {} for s in subjects}
    for record in store.records():
        if record.subject_id in counts:
            mine = counts[record.subject_id]
            mine[record.status] = mine.get(record.status, 0) + 1
    return counts


@router.get("/studies/{study}", response_class=HTMLResponse)
def subjects_page(request: Request, study: str, principal: Reader) -> HTMLResponse:
    store = study_store(request, study)
    subjects = visible_subjects(store, principal)
    by_site: dict[str, list[SubjectState]] = {}
    for subject in subjects:
        by_site.setdefault(subject.site, []).append(subject)
    return render(
        request, "subjects.html", principal, title=f"{store.protocol.title}: subjects",
        protocol=store.protocol, by_site=by_site, counts=_subject_summary(store, subjects),
        may_enrol=ENROL.allows(principal.user.role),
    )  # fmt: skip


def _enrol_sites(store: Store, principal: Principal) -> list[str]:
    return [s.id for s in store.protocol.sites if principal.sees_site(s.id)]


@router.get("/studies/{study}/enrol", response_class=HTMLResponse)
def enrol_page(request: Request, study: str, principal: Enroller) -> HTMLResponse:
    store = study_store(request, study)
    return render(
        request, "enrol.html", principal, title="Enrol a subject", protocol=store.protocol,
        sites=_enrol_sites(store, principal), values={}, error=None,
    )  # fmt: skip


@router.post("/studies/{study}/enrol", response_class=HTMLResponse)
async def enrol(request: Request, study: str, principal: Enroller) -> Response:
    store = study_store(request, study)
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
        return render(
            request, "enrol.html", principal, 422, title="Enrol a subject", protocol=store.protocol,
            sites=_enrol_sites(store, principal), values=values, error=error,
        )  # fmt: skip
    return RedirectResponse(f"/studies/{study}/subjects/{values['subject_id']}", status_code=303)


@router.get("/studies/{study}/subjects/{subject}", response_class=HTMLResponse)
def subject_page(
    request: Request, study: str, subject: str, principal: SubjectReader
) -> HTMLResponse:
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    schedule = visit_schedule(store.protocol, subject_records(store, subject), store.clock().date())
    return render(
        request, "subject.html", principal, title=f"Subject {subject}", protocol=store.protocol,
        subject=found, schedule=schedule, study=study,
        rand=randomization_context(store, principal, subject),
    )  # fmt: skip


@router.get("/studies/{study}/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, study: str, principal: Reader) -> HTMLResponse:
    store = study_store(request, study)
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
    return render(
        request, "dashboard.html", principal, title=f"{store.protocol.title}: dashboard",
        protocol=store.protocol, rows=rows, study=study,
    )  # fmt: skip
