"""Electronic signatures in the browser and the API: the signing dialog and the signature lists.

An investigator signs a subject's casebook or one visit on the signing page (the "dialog"): it
shows what is signed (every record in scope, with its version and status), the signer (the
signed-in user: no field names anyone else), the meanings to choose from and the study's
attestation text, and asks for her password again (21 CFR 11.50, 11.200(a)(1);
:mod:`clestudy.store._signatures`). A wrong password counts toward the account lockout; a lockout
ends the session, so the next request goes to the login page.

Every role that may read the subject sees its signatures (rule ``read-subject``); only
investigators sign (rule ``sign``, site-scoped). A signature voided by a later change shows as a
banner on the subject page until the scope is signed again.

API: ``GET /api/v1/studies/{study}/subjects/{subject}/signatures`` and ``POST`` to sign, with
``{"meaning", "password", "visit"}``; a wrong password is a 422 naming the ``password`` field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clestudy.errors import ClestudyError, InputError, NotFoundError
from clestudy.store import MEANINGS, AuthenticationError, SignatureState, Store, SubjectState
from clestudy.web._access import SubjectNotFoundError, subject_for, subject_records
from clestudy.web._api import _ERRORS, ValidationOut
from clestudy.web._auth import Permission, Principal
from clestudy.web._rules import READ_SUBJECT, SIGN
from clestudy.web._views import SubjectReader, render, study_store

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)

Signer = Annotated[Principal, Depends(Permission(SIGN))]

SUBJECT = "/studies/{study}/subjects/{subject}"
#: What the signing page says after a wrong password (never which of the reasons it was).
WRONG_PASSWORD = "Wrong password, or the account is locked or suspended. Nothing was signed."


def _latest_void(signatures: list[SignatureState]) -> list[SignatureState]:
    """For each scope (the casebook, each visit), its newest signature when that one is void:
    the banners to show until the scope is signed again."""
    newest: dict[str | None, SignatureState] = {}
    for signature in signatures:
        newest[signature.visit_id] = signature
    return [s for s in newest.values() if s.status == "void"]


def _visit_name(store: Store, visit: str | None) -> str:
    if visit is None:
        return "the whole casebook"
    found = store.protocol.visit(visit)
    return f"visit {found.name if found else visit}"


def _panel_context(
    store: Store, study: str, subject: SubjectState, principal: Principal
) -> dict[str, Any]:
    signatures = store.signatures(subject_id=subject.subject_id)
    visits_with_data = sorted(
        {r.visit_id for r in subject_records(store, subject.subject_id)},
        key=[v.id for v in store.protocol.visits].index,
    )
    return {
        "study": study,
        "subject": subject,
        "protocol": store.protocol,
        "signatures": list(reversed(signatures)),
        "void_banners": _latest_void(signatures),
        "may_sign": SIGN.allows(principal.user.role),
        "visits_with_data": [store.protocol.visit(v) for v in visits_with_data],
        "scope_name": lambda visit: _visit_name(store, visit),
    }


@router.get(SUBJECT + "/signatures", response_class=HTMLResponse)
def signatures_page(
    request: Request, study: str, subject: str, principal: SubjectReader
) -> HTMLResponse:
    """The subject's signatures: the panel alone for htmx (the subject page loads it), else a
    page of its own."""
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    context = _panel_context(store, study, found, principal)
    if request.headers.get("HX-Request"):
        return render(request, "_signatures.html", principal, **context)
    return render(
        request, "signatures.html", principal, title=f"Signatures of {subject}", **context
    )


def _sign_context(
    store: Store, study: str, subject: SubjectState, visit: str | None, principal: Principal
) -> dict[str, Any]:
    records = [
        r
        for r in subject_records(store, subject.subject_id)
        if visit is None or r.visit_id == visit
    ]
    base = SUBJECT.format(study=study, subject=subject.subject_id)
    return {
        "study": study,
        "subject": subject,
        "protocol": store.protocol,
        "visit": store.protocol.visit(visit) if visit else None,
        "scope_name": _visit_name(store, visit),
        "records": records,
        "meanings": MEANINGS,
        "attestation": store.signature_attestation(),
        "signer": principal.user,
        "action": base + (f"/visits/{visit}/sign" if visit else "/sign"),
        "back": base,
    }


def _signing_target(request: Request, study: str, subject: str, visit: str | None,
                    principal: Principal) -> tuple[Store, SubjectState]:  # fmt: skip
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    if visit is not None and store.protocol.visit(visit) is None:
        raise SubjectNotFoundError(f"{subject}/{visit}")
    return store, found


def _sign_page(
    request: Request, principal: Principal, context: dict[str, Any], status: int = 200,
    error: str | None = None, meaning: str = "",
) -> HTMLResponse:  # fmt: skip
    return render(
        request, "sign.html", principal, status, title=f"Sign {context['scope_name']}",
        error=error, chosen=meaning, **context,
    )  # fmt: skip


def _dialog(
    request: Request, study: str, subject: str, visit: str | None, principal: Principal
) -> HTMLResponse:
    store, found = _signing_target(request, study, subject, visit, principal)
    return _sign_page(request, principal, _sign_context(store, study, found, visit, principal))


async def _sign(
    request: Request, study: str, subject: str, visit: str | None, principal: Principal
) -> Response:
    store, found = await run_in_threadpool(
        _signing_target, request, study, subject, visit, principal
    )
    form = await request.form()
    meaning = str(form.get("meaning") or "")
    password = str(form.get("password") or "")
    context = await run_in_threadpool(_sign_context, store, study, found, visit, principal)
    if meaning not in MEANINGS:
        return _sign_page(request, principal, context, 422, "Choose what your signature means.")
    if not password:
        return _sign_page(request, principal, context, 422, "Enter your password.", meaning)
    accounts = request.app.state.web.accounts
    try:
        await run_in_threadpool(
            lambda: store.sign(
                subject, visit_id=visit, meaning=meaning, signer=principal.username,
                password=password, accounts=accounts,
            )
        )  # fmt: skip
    except AuthenticationError:
        return _sign_page(request, principal, context, 422, WRONG_PASSWORD, meaning)
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        return _sign_page(request, principal, context, 422, f"Not signed: {exc}", meaning)
    return RedirectResponse(context["back"] + "?signed=1", status_code=303)


@router.get(SUBJECT + "/sign", response_class=HTMLResponse)
def casebook_dialog(request: Request, study: str, subject: str, principal: Signer) -> HTMLResponse:
    """The signing dialog for the subject's whole casebook."""
    return _dialog(request, study, subject, None, principal)


@router.post(SUBJECT + "/sign", response_class=HTMLResponse)
async def sign_casebook(request: Request, study: str, subject: str, principal: Signer) -> Response:
    """Sign the subject's casebook with the password re-entered."""
    return await _sign(request, study, subject, None, principal)


@router.get(SUBJECT + "/visits/{visit}/sign", response_class=HTMLResponse)
def visit_dialog(
    request: Request, study: str, subject: str, visit: str, principal: Signer
) -> HTMLResponse:
    """The signing dialog for one visit."""
    return _dialog(request, study, subject, visit, principal)


@router.post(SUBJECT + "/visits/{visit}/sign", response_class=HTMLResponse)
async def sign_visit(
    request: Request, study: str, subject: str, visit: str, principal: Signer
) -> Response:
    """Sign one visit with the password re-entered."""
    return await _sign(request, study, subject, visit, principal)


# -- the JSON API ------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoidCause(_Model):
    """The change that voided a signature: its audit event's entity, action and version."""

    entity_key: str
    action: str
    version: int | None


class SignedRecord(_Model):
    """A record a signature covers, with its version when it was signed."""

    record: str
    version: int


class SignatureOut(_Model):
    """An electronic signature (21 CFR 11.50): who, when, what it means, what it covers."""

    id: int
    key: str
    subject_id: str
    visit_id: str | None
    scope: Literal["subject", "visit"]
    signer: str
    signer_name: str
    meaning: Literal["review", "approval", "authorship"]
    attestation: str
    signed_at: str
    data_sha256: str
    records: list[SignedRecord]
    status: Literal["valid", "void"]
    voided_at: str | None
    voided_by: str | None
    voided_by_event: VoidCause | None


class SignIn(_Model):
    """A signature: its meaning, the signer's password re-entered, and the visit (omit to sign
    the whole casebook). The signer is the token's user."""

    meaning: Literal["review", "approval", "authorship"]
    password: str = Field(min_length=1, max_length=1024)
    visit: str | None = None


api_router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)

ApiSubjectReader = Annotated[Principal, Depends(Permission(READ_SUBJECT, api=True))]
ApiSigner = Annotated[Principal, Depends(Permission(SIGN, api=True))]


def _signature_out(s: SignatureState) -> SignatureOut:
    return SignatureOut.model_validate(
        {
            "id": s.id, "key": s.key, "subject_id": s.subject_id, "visit_id": s.visit_id,
            "scope": s.scope, "signer": s.signer, "signer_name": s.signer_name,
            "meaning": s.meaning, "attestation": s.attestation, "signed_at": s.signed_at,
            "data_sha256": s.data_sha256, "records": s.records, "status": s.status,
            "voided_at": s.voided_at, "voided_by": s.voided_by,
            "voided_by_event": s.voided_by_event,
        }
    )  # fmt: skip


def _api_subject(request: Request, study: str, subject: str, principal: ApiSigner) -> Store:
    """The study's store once the subject is known to be the signer's (else the uniform 404),
    before the body is read: another site's subject is a 404 whatever the body says."""
    store: Store = request.app.state.web.studies.store(study)
    subject_for(store, principal, subject)
    return store


@api_router.get(SUBJECT + "/signatures", response_model=list[SignatureOut])
def list_signatures(
    request: Request, study: str, subject: str, principal: ApiSubjectReader
) -> list[SignatureOut]:
    """The subject's signatures, oldest first, valid and void."""
    store: Store = request.app.state.web.studies.store(study)
    subject_for(store, principal, subject)
    return [_signature_out(s) for s in store.signatures(subject_id=subject)]


def _invalid(field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid request", "errors": [{"field": field, "message": message}]},
        status_code=422,
    )


@api_router.post(
    SUBJECT + "/signatures",
    response_model=SignatureOut,
    status_code=201,
    responses={
        422: {
            "model": ValidationOut,
            "description": "Invalid request, a wrong password or nothing to sign",
        }
    },
)
def sign(
    request: Request,
    study: str,
    subject: str,
    principal: ApiSigner,
    store: Annotated[Store, Depends(_api_subject)],
    body: SignIn,
) -> Any:
    """Sign the subject's casebook, or one visit, as the token's user with her password."""
    accounts = request.app.state.web.accounts
    try:
        signed = store.sign(
            subject, visit_id=body.visit, meaning=body.meaning, signer=principal.username,
            password=body.password, accounts=accounts,
        )  # fmt: skip
    except AuthenticationError:
        return _invalid("password", "wrong password, or the account is locked or suspended")
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except ClestudyError as exc:
        field = "visit" if "visit" in str(exc) and "nothing to sign" not in str(exc) else ""
        return _invalid(field, str(exc))
    return _signature_out(signed)
