"""The data-entry pages: a record's form, its save, the live preview, its history, and the
review actions (verify, lock, unlock).

htmx refreshes only the live part of the form (derived scores and field messages,
:func:`preview_record`); saving is a plain form post, so the page works without JavaScript.

Show-if: the live preview also says which fields the entered values hide (the page's script
toggles them) and which of those hold a value. A save whose values hide a field that holds a
value (entered or stored) is not made at once: the page comes back asking "clear these fields?"
with a button that confirms (``confirm_clear``, the fields' ids); only then are the hidden fields
sent blank and the store clears them (listed in the audit event's ``cleared``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clestudy.errors import (
    InputError,
    NotFoundError,
    RecordLockedError,
    RecordValidationError,
    StaleVersionError,
)
from clestudy.protocol import hidden_fields
from clestudy.store import RecordState, Store
from clestudy.web._access import (
    FieldMessage,
    Preview,
    SubjectNotFoundError,
    field_messages,
    find_record,
    form_at,
    preview,
    subject_for,
)
from clestudy.web._audit_view import record_history
from clestudy.web._auth import (
    Principal,
)
from clestudy.web._forms import form_layout, posted_values, shown_value, to_clear
from clestudy.web._queries import query_badges, record_queries
from clestudy.web._rules import ENTER, LOCK, QUERY_RAISE, VERIFY
from clestudy.web._views import (
    RECORD,
    Editor,
    Locker,
    SubjectReader,
    Verifier,
    render,
    study_store,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


# -- data entry ---------------------------------------------------------------------------------


def _form_context(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Principal,
) -> dict[str, Any]:  # fmt: skip
    store = study_store(request, study)
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
        "may_verify": VERIFY.allows(principal.user.role),
        "may_lock": LOCK.allows(principal.user.role),
        "may_raise_query": QUERY_RAISE.allows(principal.user.role),
        "action": RECORD.format(
            study=study, subject=subject, visit=visit, form=form, instance=instance
        ),
        "shown": shown_value,
    }


def _form_page(
    request: Request, principal: Principal, context: dict[str, Any], *, status: int = 200,
    values: dict[str, Any] | None = None, messages: list[FieldMessage] | None = None,
    derived: dict[str, Any] | None = None, conflict: RecordState | None = None,
    notice: str | None = None, reason: str = "", clearing: dict[str, str] | None = None,
) -> HTMLResponse:  # fmt: skip
    record: RecordState | None = context["record"]
    shown = values if values is not None else (record.values if record else {})
    return render(
        request, "record.html", principal, status,
        title=f"{context['form'].name}: {context['subject'].subject_id}",
        values=shown, hidden=hidden_fields(context["form"], shown), clearing=clearing or {},
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
    record: RecordState | None = context["record"]
    store: Store = context["store"]
    key = record.key if record else None
    open_findings = [  # the warnings of the last save, still open, beside their fields
        FieldMessage(name, d.severity, d.message, d.check_id)
        for d in (store.discrepancies(status="open", subject_id=subject) if key else [])
        if d.record == key
        for name in (d.fields or ("",))
    ]
    if key:  # the record's queries; open and answered ones beside their fields (_queries.py)
        context["record_queries"] = record_queries(store, subject, key)
        open_findings += query_badges(context["record_queries"], context["action"])
    return _form_page(
        request, principal, context, messages=open_findings,
        notice="Saved." if saved else None,
    )  # fmt: skip


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
    record: RecordState | None = context["record"]
    clearing = to_clear(context["form"], raw, record.values if record else {})
    if not set(clearing) <= set(str(posted.get("confirm_clear") or "").split()):
        labels = {f.id: f.label for f in context["form"].fields}
        names = ", ".join(labels[n] for n in clearing)
        return _form_page(
            request, principal, context, values=raw, reason=reason, clearing=clearing,
            notice=f"Not saved yet: your answers hide {names}, which a save would clear.",
        )  # fmt: skip
    for name in hidden_fields(context["form"], raw):
        raw[name] = None  # a hidden field holds no value (confirmed above when it held one)
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
    record: RecordState | None = context["record"]
    hidden = hidden_fields(context["form"], raw)
    clearing = to_clear(context["form"], raw, record.values if record else {})
    for name in hidden:
        raw[name] = None  # preview what the save will store: hidden fields blank
    result = await run_in_threadpool(
        _preview_of, context["store"], subject, visit, context, raw, instance
    )
    return render(
        request, "_live.html", principal, result=result, form=context["form"],
        protocol=context["protocol"], hidden=hidden, clearing=clearing,
    )  # fmt: skip


@router.get(RECORD + "/audit", response_class=HTMLResponse)
def audit_page(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: SubjectReader,
) -> HTMLResponse:  # fmt: skip
    store = study_store(request, study)
    subject_for(store, principal, subject)
    spec = form_at(store, visit, form, instance)
    history = record_history(
        store, request.app.state.web.studies.db_url, subject, visit, form, instance
    )
    return render(
        request, "audit.html", principal, title=f"History of {subject}/{visit}/{form}",
        study=study, subject=subject, visit=store.protocol.visit(visit), form=spec,
        instance=instance, history=history, today=dt.date.today(),
    )  # fmt: skip


async def _change_status(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Principal, action: str,
) -> Response:  # fmt: skip
    """Verify, lock or unlock a record (the store's status life cycle), then show it again."""
    context = await run_in_threadpool(
        _form_context, request, study, subject, visit, form, instance, principal
    )
    store: Store = context["store"]
    posted = await request.form()
    version_text = str(posted.get("version") or "").strip()
    reason = str(posted.get("reason") or "").strip() or None
    if context["record"] is None or not version_text.isdigit():
        return _form_page(request, principal, context, status=409, notice="Save the record first.")
    version = int(version_text)

    def run() -> RecordState:
        if action == "verify":
            return store.verify_record(
                subject, visit, form, expected_version=version, actor=principal.username,
                instance=instance, reason=reason,
            )  # fmt: skip
        if action == "lock":
            return store.lock_record(
                subject, visit, form, expected_version=version, actor=principal.username,
                instance=instance, reason=reason,
            )  # fmt: skip
        return store.unlock_record(
            subject, visit, form, reason or "", expected_version=version,
            actor=principal.username, instance=instance,
        )  # fmt: skip

    try:
        await run_in_threadpool(run)
    except StaleVersionError:
        context["record"] = await run_in_threadpool(
            find_record, store, subject, visit, form, instance
        )
        return _form_page(
            request, principal, context, status=409,
            notice="The record changed since you opened it; review it and try again.",
        )  # fmt: skip
    except InputError as exc:
        return _form_page(request, principal, context, status=422, notice=f"Not done: {exc}")
    return RedirectResponse(context["action"], status_code=303)


@router.post(RECORD + "/verify", response_class=HTMLResponse)
async def verify_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Verifier,
) -> Response:  # fmt: skip
    return await _change_status(request, study, subject, visit, form, instance, principal, "verify")


@router.post(RECORD + "/lock", response_class=HTMLResponse)
async def lock_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Locker,
) -> Response:  # fmt: skip
    return await _change_status(request, study, subject, visit, form, instance, principal, "lock")


@router.post(RECORD + "/unlock", response_class=HTMLResponse)
async def unlock_record(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    principal: Locker,
) -> Response:  # fmt: skip
    return await _change_status(request, study, subject, visit, form, instance, principal, "unlock")
