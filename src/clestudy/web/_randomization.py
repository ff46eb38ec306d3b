"""Randomization in the browser and the API: randomize, unblind, and the admin's list page.

* ``POST .../subjects/{subject}/randomize`` (rule ``randomize``): allocates the subject
  (``Store.randomize``). The page (an htmx confirm on the subject page) and the API answer with
  the randomization number, and with the arm only for a role that is not blinded.
* ``POST .../subjects/{subject}/unblind`` (rule ``unblind``, a reason required): reveals the arm
  to this user in this response only, and writes an ``unblinding`` audit event.
* ``/studies/{study}/randomization`` (rule ``randomization-admin``): the list's state and the
  balance report, generating a permuted-block list (the seed is shown once) or uploading a table.

Errors: 404 for an unknown subject and another site's alike; 422 (page or JSON
``{"error", "errors": [{"field", "message"}]}``) for a refused randomization or unblinding.
Messages never name an arm (the store's refusals do not).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from clestudy.errors import InputError, NotFoundError
from clestudy.store import Store, SubjectRandomization
from clestudy.web._access import SubjectNotFoundError, subject_for
from clestudy.web._auth import Permission, Principal
from clestudy.web._blinding import BLINDED, is_blinded
from clestudy.web._rules import RANDOMIZATION_ADMIN, RANDOMIZE, UNBLIND
from clestudy.web._views import render, study_store

__all__ = ["api_router", "randomization_context", "router"]

router = APIRouter(include_in_schema=False)

Randomizer = Annotated[Principal, Depends(Permission(RANDOMIZE))]
Unblinder = Annotated[Principal, Depends(Permission(UNBLIND))]
ListAdmin = Annotated[Principal, Depends(Permission(RANDOMIZATION_ADMIN))]

SUBJECT = "/studies/{study}/subjects/{subject}"
#: The most rows per stratum a generation from the web may ask for.
MAX_PER_STRATUM = 10_000


def randomization_context(store: Store, principal: Principal, subject_id: str) -> dict[str, Any]:
    """What the subject page shows of randomization (``{}`` for a study without it)."""
    spec = store.protocol.randomization
    if spec is None:
        return {}
    found = store.randomization(subject_id)
    blinded = is_blinded(store, principal)
    return {
        "randomized": found is not None,
        "number": found.number if found else None,
        "arm": (BLINDED if blinded else _arm_name(store, found.arm)) if found else None,
        "blinded": blinded,
        "may_randomize": RANDOMIZE.allows(principal.user.role),
        "may_unblind": UNBLIND.allows(principal.user.role) and found is not None,
    }


def _arm_name(store: Store, arm_id: str) -> str:
    return next((a.name for a in store.protocol.arms if a.id == arm_id), arm_id)


def _visible_arm(store: Store, principal: Principal, found: SubjectRandomization) -> str:
    return BLINDED if is_blinded(store, principal) else found.arm


# -- pages -----------------------------------------------------------------------------------


@router.post(SUBJECT + "/randomize", response_class=HTMLResponse)
async def randomize_page(
    request: Request, study: str, subject: str, principal: Randomizer
) -> Response:
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    error = None
    try:
        await run_in_threadpool(lambda: store.randomize(subject, actor=principal.username))
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        error = str(exc)
    if request.headers.get("HX-Request") == "true":
        context = randomization_context(store, principal, subject)
        return render(
            request, "_randomization.html", principal, 422 if error else 200,
            subject=found, study=study, rand=context, rand_error=error,
        )  # fmt: skip
    if error is not None:
        return render(
            request, "randomized.html", principal, 422, title=f"Randomize {subject}",
            subject=found, study=study, error=error, rand={},
        )  # fmt: skip
    return RedirectResponse(f"/studies/{study}/subjects/{subject}", status_code=303)


@router.post(SUBJECT + "/unblind", response_class=HTMLResponse)
async def unblind_page(
    request: Request, study: str, subject: str, principal: Unblinder
) -> Response:
    store = study_store(request, study)
    found = subject_for(store, principal, subject)
    form = await request.form()
    reason = str(form.get("reason") or "").strip()
    try:
        shown = await run_in_threadpool(
            lambda: store.unblind(subject, actor=principal.username, reason=reason)
        )
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        return render(
            request, "randomized.html", principal, 422, title=f"Unblind {subject}",
            subject=found, study=study, error=str(exc), rand={},
        )  # fmt: skip
    return render(
        request, "randomized.html", principal, title=f"Unblinded: {subject}", subject=found,
        study=study, error=None, rand={"number": shown.number, "arm": _arm_name(store, shown.arm),
                                       "unblinded": True, "reason": reason},
    )  # fmt: skip


def _list_page(
    request: Request, store: Store, principal: Principal, status: int = 200, **extra: Any
) -> HTMLResponse:
    spec = store.protocol.randomization
    report = store.allocation_report() if spec is not None else []
    context: dict[str, Any] = {"error": None, "summary": None, **extra}
    return render(
        request, "randomization.html", principal, status, title="Randomization",
        protocol=store.protocol, spec=spec, report=report,
        used=sum(sum(b.used.values()) for b in report),
        remaining=sum(b.remaining for b in report), **context,
    )  # fmt: skip


@router.get("/studies/{study}/randomization", response_class=HTMLResponse)
def randomization_page(request: Request, study: str, principal: ListAdmin) -> HTMLResponse:
    return _list_page(request, study_store(request, study), principal)


@router.post("/studies/{study}/randomization/generate", response_class=HTMLResponse)
async def generate_page(request: Request, study: str, principal: ListAdmin) -> HTMLResponse:
    store = study_store(request, study)
    form = await request.form()
    per_stratum_text = str(form.get("per_stratum") or "").strip()
    seed_text = str(form.get("seed") or "").strip()
    try:
        if not per_stratum_text.isdigit() or not 1 <= int(per_stratum_text) <= MAX_PER_STRATUM:
            raise InputError(f"rows per stratum: a whole number from 1 to {MAX_PER_STRATUM}")
        if seed_text and not seed_text.isdigit():
            raise InputError("seed: a non-negative whole number, or empty for a random one")
        seed = int(seed_text) if seed_text else None
        summary = await run_in_threadpool(
            lambda: store.generate_allocation(
                per_stratum=int(per_stratum_text), actor=principal.username, seed=seed
            )
        )
    except InputError as exc:
        return _list_page(request, store, principal, 422, error=str(exc))
    return _list_page(request, store, principal, summary=summary)


@router.post("/studies/{study}/randomization/upload", response_class=HTMLResponse)
async def upload_page(request: Request, study: str, principal: ListAdmin) -> HTMLResponse:
    store = study_store(request, study)
    form = await request.form()
    upload = form.get("table")
    try:
        if not isinstance(upload, UploadFile):
            raise InputError("table: choose a CSV file to upload")
        name = upload.filename or "table.csv"
        try:
            text = (await upload.read()).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"{name}: not UTF-8 text") from None
        summary = await run_in_threadpool(
            lambda: store.upload_allocation(text, actor=principal.username, source=name)
        )
    except InputError as exc:
        return _list_page(request, store, principal, 422, error=str(exc))
    return _list_page(request, store, principal, summary=summary)


# -- API -------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RandomizationOut(_Model):
    """A subject's allocation; ``arm`` is ``"blinded"`` for a blinded role."""

    subject_id: str
    number: str
    arm: str


class UnblindIn(_Model):
    """Why the arm is revealed (emergency or final unblinding)."""

    reason: str


class ArmBalanceOut(_Model):
    """One stratum of the balance report."""

    stratum: str
    used: dict[str, int]
    remaining: int


_API_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid API token"},
    403: {"description": "The role may not do this"},
    404: {"description": "Unknown study or subject, or another site's"},
    422: {"description": "Refused: not randomized, already randomized, incomplete strata, ..."},
}

api_router = APIRouter(prefix="/api/v1", tags=["api"], responses=_API_ERRORS)

ApiRandomizer = Annotated[Principal, Depends(Permission(RANDOMIZE, api=True))]
ApiUnblinder = Annotated[Principal, Depends(Permission(UNBLIND, api=True))]
ApiListAdmin = Annotated[Principal, Depends(Permission(RANDOMIZATION_ADMIN, api=True))]


def _refused(field: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "refused", "errors": [{"field": field, "message": message, "check_id": ""}]},
        status_code=422,
    )


@api_router.post(SUBJECT + "/randomize", response_model=RandomizationOut)
def api_randomize(request: Request, study: str, subject: str, principal: ApiRandomizer) -> Any:
    """Randomize the subject (once); the arm is ``"blinded"`` for a blinded role."""
    store = study_store(request, study)
    subject_for(store, principal, subject)
    try:
        found = store.randomize(subject, actor=principal.username)
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        return _refused("subject_id", str(exc))
    return RandomizationOut(
        subject_id=subject, number=found.number, arm=_visible_arm(store, principal, found)
    )


@api_router.post(
    SUBJECT + "/unblind",
    response_model=RandomizationOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": UnblindIn.model_json_schema()}},
        }
    },
)
async def api_unblind(request: Request, study: str, subject: str, principal: ApiUnblinder) -> Any:
    """Reveal the subject's arm to this user, with a reason (audited as ``unblinding``)."""
    store = study_store(request, study)
    subject_for(store, principal, subject)  # 404 before the body is looked at
    try:
        body = UnblindIn.model_validate(json.loads(await request.body() or b"null"))
    except (ValueError, TypeError):
        return _refused("reason", 'the body must be {"reason": "..."}')
    try:
        found = await run_in_threadpool(
            lambda: store.unblind(subject, actor=principal.username, reason=body.reason)
        )
    except NotFoundError:
        raise SubjectNotFoundError(subject) from None
    except InputError as exc:
        return _refused("reason" if "reason" in str(exc) else "subject_id", str(exc))
    return RandomizationOut(subject_id=subject, number=found.number, arm=found.arm)


@api_router.get("/studies/{study}/randomization/report", response_model=list[ArmBalanceOut])
def api_report(request: Request, study: str, principal: ApiListAdmin) -> Any:
    """Allocation balance by stratum (used rows per arm, unused rows left)."""
    store = study_store(request, study)
    try:
        report = store.allocation_report()
    except InputError as exc:
        return _refused("study", str(exc))
    return [ArmBalanceOut(stratum=b.stratum, used=b.used, remaining=b.remaining) for b in report]
