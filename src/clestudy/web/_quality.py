"""The discrepancy list in the browser and the API: data-quality runs, filters, CSV, exclusions.

One list (:meth:`clestudy.store.Store.data_quality`): the save-time discrepancies and the latest
data-quality run's findings, each linked to its form. Every role that reads subjects sees it,
limited to the subjects of its sites (admins: all); ``dq-run`` (admin, monitor) starts a run and
``dq-exclude`` (admin, monitor) excludes a finding confirmed correct, or revokes an exclusion,
each with a reason. An exclusion of another site's finding gets the same 404 as an unknown one.
``discrepancy-resolve`` (admin, investigator, coordinator) resolves an open save-time
discrepancy with a reason (:meth:`Store.resolve_discrepancy`); its route addresses the record and
the check, and takes :class:`~clestudy.web._queries.SiteScoped`, so another site's subject gets
the same 404 as an unknown one before the body is read.
Roles have no per-form access today, so the list is scoped by site only.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from clestudy.errors import InputError, NotFoundError
from clestudy.store import Store
from clestudy.store._discrepancies import DiscrepancyState
from clestudy.store._quality import QualityItem, QualityRun, quality_csv
from clestudy.web._access import SubjectNotFoundError
from clestudy.web._api import ErrorOut, ValidationOut
from clestudy.web._auth import Permission, Principal
from clestudy.web._queries import SiteScoped
from clestudy.web._rules import DQ_EXCLUDE, DQ_RESOLVE, DQ_RUN, READ
from clestudy.web._views import RECORD, Reader, render, study_store

__all__ = ["api_router", "router"]

router = APIRouter(include_in_schema=False)
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No valid API token"},
    403: {"model": ErrorOut, "description": "The role may not do this"},
    404: {"model": ErrorOut, "description": "Unknown study or finding, or another site's"},
    422: {"model": ValidationOut, "description": "Invalid request"},
}
api_router = APIRouter(prefix="/api/v1", tags=["api"], responses=_ERRORS)

Runner = Annotated[Principal, Depends(Permission(DQ_RUN))]
Excluder = Annotated[Principal, Depends(Permission(DQ_EXCLUDE))]
ApiReader = Annotated[Principal, Depends(Permission(READ, api=True))]
ApiRunner = Annotated[Principal, Depends(Permission(DQ_RUN, api=True))]
ApiExcluder = Annotated[Principal, Depends(Permission(DQ_EXCLUDE, api=True))]
Resolver = Annotated[Principal, Depends(SiteScoped(DQ_RESOLVE))]
ApiResolver = Annotated[Principal, Depends(SiteScoped(DQ_RESOLVE, api=True))]
Instance = Annotated[int, Path(ge=1, le=100_000)]

#: A save-time discrepancy: its record and its check id.
DISCREPANCY = "/studies/{study}/discrepancies/{subject}/{visit}/{form}/{instance}/{check}"

_FILTERS = ("site", "subject", "form", "rule", "status", "source")


def _sites(principal: Principal) -> Collection[str] | None:
    return None if principal.user.role == "admin" else tuple(principal.user.sites)


def _filters(request: Request) -> dict[str, str]:
    return {k: v for k in _FILTERS if (v := request.query_params.get(k, "").strip())}


def _items(store: Store, principal: Principal, filters: dict[str, str]) -> list[QualityItem]:
    return store.data_quality(
        sites=_sites(principal), site=filters.get("site"), subject_id=filters.get("subject"),
        form_id=filters.get("form"), rule=filters.get("rule"), status=filters.get("status"),
        source=filters.get("source"),
    )  # fmt: skip


def _latest(store: Store) -> QualityRun | None:
    runs = store.quality_runs()
    return runs[-1] if runs else None


def record_link(study: str, item: QualityItem) -> str:
    """The data-entry page of the item's record (or of the absent form, to enter it)."""
    return RECORD.format(
        study=study, subject=item.subject_id, visit=item.visit_id, form=item.form_id,
        instance=item.instance,
    )  # fmt: skip


def _page(
    request: Request, study: str, principal: Principal, *, status: int = 200,
    error: str | None = None, notice: str | None = None,
) -> HTMLResponse:  # fmt: skip
    store = study_store(request, study)
    filters = _filters(request)
    try:
        items = _items(store, principal, filters)
    except InputError as exc:
        items, error, status = [], str(exc), 422
    return render(
        request, "quality.html", principal, status, title=f"{store.protocol.title}: data quality",
        protocol=store.protocol, study=study, items=items, run=_latest(store), filters=filters,
        may_run=DQ_RUN.allows(principal.user.role),
        may_exclude=DQ_EXCLUDE.allows(principal.user.role),
        may_resolve=DQ_RESOLVE.allows(principal.user.role), link=record_link, error=error,
        notice=notice, sites=[s.id for s in store.protocol.sites if principal.sees_site(s.id)],
        csv_query=str(request.url.query),
    )  # fmt: skip


@router.get("/studies/{study}/quality", response_class=HTMLResponse)
def quality_page(request: Request, study: str, principal: Reader) -> HTMLResponse:
    return _page(request, study, principal)


@router.get("/studies/{study}/quality.csv")
def quality_csv_export(request: Request, study: str, principal: Reader) -> Response:
    store = study_store(request, study)
    try:
        items = _items(store, principal, _filters(request))
    except InputError as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    return Response(
        quality_csv(items),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{study}-data-quality.csv"'},
    )


@router.post("/studies/{study}/quality/run", response_class=HTMLResponse)
async def run_rules(request: Request, study: str, principal: Runner) -> Response:
    store = study_store(request, study)
    await run_in_threadpool(lambda: store.run_quality_rules(actor=principal.username))
    return RedirectResponse(f"/studies/{study}/quality", status_code=303)


async def _exclusion(request: Request, study: str, principal: Principal, action: str) -> Response:
    store = study_store(request, study)
    posted = await request.form()
    key = str(posted.get("key") or "").strip()
    reason = str(posted.get("reason") or "")
    if not key:
        return _page(request, study, principal, status=422, error="Choose a finding.")
    try:
        if action == "exclude":
            await run_in_threadpool(
                lambda: store.exclude_finding(
                    key, reason=reason, actor=principal.username, sites=_sites(principal)
                )
            )
        else:
            await run_in_threadpool(
                lambda: store.revoke_exclusion(
                    key, reason=reason, actor=principal.username, sites=_sites(principal)
                )
            )
    except NotFoundError:
        raise SubjectNotFoundError(key) from None
    except InputError as exc:
        return _page(request, study, principal, status=422, error=f"Not done: {exc}")
    return RedirectResponse(f"/studies/{study}/quality", status_code=303)


@router.post("/studies/{study}/quality/exclude", response_class=HTMLResponse)
async def exclude(request: Request, study: str, principal: Excluder) -> Response:
    return await _exclusion(request, study, principal, "exclude")


@router.post("/studies/{study}/quality/revoke", response_class=HTMLResponse)
async def revoke(request: Request, study: str, principal: Excluder) -> Response:
    return await _exclusion(request, study, principal, "revoke")


@router.post(DISCREPANCY + "/resolve", response_class=HTMLResponse)
async def resolve(
    request: Request, study: str, subject: str, visit: str, form: str, instance: int,
    check: str, principal: Resolver,
) -> Response:  # fmt: skip
    """Resolve an open save-time discrepancy with a reason (a missing reason: 422, the form)."""
    store = study_store(request, study)
    posted = await request.form()
    reason = str(posted.get("reason") or "")
    try:
        await run_in_threadpool(
            lambda: store.resolve_discrepancy(
                subject, visit, form, check, reason=reason, actor=principal.username,
                instance=instance,
            )
        )  # fmt: skip
    except NotFoundError:
        raise SubjectNotFoundError(f"{subject}/{visit}/{form}/{check}") from None
    except InputError as exc:
        error = f"Not done: {exc}"
        return await run_in_threadpool(
            lambda: _page(request, study, principal, status=422, error=error)
        )
    return RedirectResponse(f"/studies/{study}/quality", status_code=303)


# -- the JSON API -------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QualityRunOut(_Model):
    """A stored data-quality run."""

    run: int
    run_at: str
    run_by: str
    as_of: str
    protocol_version: str
    data_sha256: str
    findings_sha256: str
    counts: dict[str, int]


class QualityItemOut(_Model):
    """One line of the discrepancy list."""

    key: str
    source: str
    rule: str
    category: str
    severity: str
    status: str
    site: str
    subject_id: str
    visit_id: str
    form_id: str
    instance: int
    fields: list[str]
    message: str
    detail: str | None
    run: int | None


class QualityListOut(_Model):
    """The discrepancy list and the run its dq-rule findings come from."""

    run: QualityRunOut | None
    items: list[QualityItemOut]


class ExclusionIn(_Model):
    """A finding's key and why it is excluded (or why the exclusion is revoked)."""

    key: str = Field(min_length=1)
    reason: str


class ResolveIn(_Model):
    """Why the discrepancy's value stands (required)."""

    reason: str = Field(min_length=1)


class DiscrepancyOut(_Model):
    """A save-time discrepancy as stored (``record`` is ``SUBJECT/VISIT/FORM[#N]``)."""

    record: str
    check_id: str
    severity: str
    fields: list[str]
    message: str
    status: str
    resolution: str | None
    opened_at: str
    updated_at: str
    updated_by: str


def _discrepancy_out(d: DiscrepancyState) -> DiscrepancyOut:
    return DiscrepancyOut(**{**d.__dict__, "fields": list(d.fields)})


def _run_out(run: QualityRun) -> QualityRunOut:
    return QualityRunOut(**run.__dict__)


def _item_out(item: QualityItem) -> QualityItemOut:
    return QualityItemOut(**{**item.__dict__, "fields": list(item.fields)})


def _problem(message: str, field: str) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid request", "errors": [{"field": field, "message": message}]},
        status_code=422,
    )


@api_router.get("/studies/{study}/quality", response_model=QualityListOut)
def api_list(
    request: Request, study: str, principal: ApiReader,
    site: Annotated[str | None, Query()] = None, subject: Annotated[str | None, Query()] = None,
    form: Annotated[str | None, Query()] = None, rule: Annotated[str | None, Query()] = None,
    status: Annotated[str | None, Query()] = None, source: Annotated[str | None, Query()] = None,
) -> Any:  # fmt: skip
    """The discrepancy list of the user's sites (save-time discrepancies and the latest run)."""
    store = study_store(request, study)
    filters = {
        k: v
        for k, v in zip(_FILTERS, (site, subject, form, rule, status, source), strict=True)
        if v
    }
    try:
        items = _items(store, principal, filters)
    except InputError as exc:
        return _problem(str(exc), "status" if "status" in str(exc) else "source")
    run = _latest(store)
    return QualityListOut(run=_run_out(run) if run else None, items=[_item_out(i) for i in items])


@api_router.post("/studies/{study}/quality/runs", response_model=QualityRunOut, status_code=201)
def api_run(request: Request, study: str, principal: ApiRunner) -> QualityRunOut:
    """Run every data-quality rule over the study (stored and audited)."""
    store = study_store(request, study)
    return _run_out(store.run_quality_rules(actor=principal.username))


@api_router.post(
    "/studies/{study}/quality/exclusions", response_model=QualityItemOut, status_code=201,
    responses={409: {"model": ErrorOut, "description": "Already excluded over the same data"}},
)  # fmt: skip
def api_exclude(request: Request, study: str, body: ExclusionIn, principal: ApiExcluder) -> Any:
    """Exclude a finding of the latest run, confirmed correct, with a reason (audited)."""
    store = study_store(request, study)
    try:
        item = store.exclude_finding(
            body.key, reason=body.reason, actor=principal.username, sites=_sites(principal)
        )
    except NotFoundError:
        raise SubjectNotFoundError(body.key) from None
    except InputError as exc:
        if "already excluded" in str(exc):
            return JSONResponse({"error": str(exc)}, status_code=409)
        return _problem(str(exc), "reason" if "reason" in str(exc) else "key")
    return _item_out(item)


@api_router.post(
    "/studies/{study}/quality/revocations", status_code=204, response_model=None,
    response_class=Response,
)  # fmt: skip
def api_revoke(request: Request, study: str, body: ExclusionIn, principal: ApiExcluder) -> Response:
    """Revoke an exclusion, with a reason (audited): the finding is open again."""
    store = study_store(request, study)
    try:
        store.revoke_exclusion(
            body.key, reason=body.reason, actor=principal.username, sites=_sites(principal)
        )
    except NotFoundError:
        raise SubjectNotFoundError(body.key) from None
    except InputError as exc:
        return _problem(str(exc), "reason")
    return Response(status_code=204)


@api_router.post(
    DISCREPANCY + "/resolve", response_model=DiscrepancyOut,
    responses={409: {"model": ErrorOut, "description": "Already resolved"}},
)  # fmt: skip
def api_resolve(
    request: Request, study: str, subject: str, visit: str, form: str, instance: Instance,
    check: str, body: ResolveIn, principal: ApiResolver,
) -> Any:  # fmt: skip
    """Resolve an open save-time discrepancy with a reason (audited ``resolve``)."""
    store = study_store(request, study)
    try:
        done = store.resolve_discrepancy(
            subject, visit, form, check, reason=body.reason, actor=principal.username,
            instance=instance,
        )  # fmt: skip
    except NotFoundError:
        raise SubjectNotFoundError(f"{subject}/{visit}/{form}/{check}") from None
    except InputError as exc:
        if "already resolved" in str(exc):
            return JSONResponse({"error": str(exc)}, status_code=409)
        return _problem(str(exc), "reason")
    return _discrepancy_out(done)
