"""User management for admins in the browser: the same ``Accounts`` methods as ``clestudy user``.

Every action is audited by the accounts store with the signed-in admin as its actor. Passwords are
typed into the form and go straight to ``Accounts.add_user`` / ``reset_password`` (hashed there,
never shown back). API tokens stay a CLI action (``clestudy user token create``), so a token is
never rendered in a page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from clestudy.errors import ClestudyError
from clestudy.store import ROLES, Accounts
from clestudy.web._auth import Principal
from clestudy.web._views import Admin, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _known_sites(request: Request) -> list[str]:
    studies = request.app.state.web.studies
    sites = {s.id for study in studies.ids() for s in studies.store(study).protocol.sites}
    return sorted(sites)


def _page(
    request: Request, principal: Principal, status: int = 200, *, error: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:  # fmt: skip
    accounts: Accounts = request.app.state.web.accounts
    return render(
        request, "users.html", principal, status, title="Users", users=accounts.list_users(),
        roles=ROLES, sites=_known_sites(request), error=error, notice=notice,
    )  # fmt: skip


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, principal: Admin) -> HTMLResponse:
    return _page(request, principal)


async def _act(
    request: Request, principal: Principal, action: Callable[[Accounts, dict[str, Any]], object],
    done: str,
) -> Response:  # fmt: skip
    posted = await request.form()
    fields: dict[str, Any] = {k: str(v).strip() for k, v in posted.items() if k != "sites"}
    fields["sites"] = [str(v) for v in posted.getlist("sites")]
    accounts: Accounts = request.app.state.web.accounts
    try:
        await run_in_threadpool(action, accounts, fields)
    except ClestudyError as exc:
        message = str(exc)
        return await run_in_threadpool(lambda: _page(request, principal, 422, error=message))
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.post("/admin/users", response_class=HTMLResponse)
async def add_user(request: Request, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.add_user(
            f.get("username", ""), role=f.get("role", ""), sites=f["sites"],
            password=f.get("password", ""), actor=principal.username,
            full_name=f.get("full_name", ""),
        ),
        "added",
    )  # fmt: skip


@router.post("/admin/users/{username}/role", response_class=HTMLResponse)
async def set_role(request: Request, username: str, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.set_role(username, f.get("role", ""), actor=principal.username), "role",
    )  # fmt: skip


@router.post("/admin/users/{username}/sites", response_class=HTMLResponse)
async def set_sites(request: Request, username: str, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.set_sites(username, f["sites"], actor=principal.username), "sites",
    )  # fmt: skip


@router.post("/admin/users/{username}/suspend", response_class=HTMLResponse)
async def suspend(request: Request, username: str, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.suspend(username, actor=principal.username, reason=f.get("reason", "")),
        "suspended",
    )  # fmt: skip


@router.post("/admin/users/{username}/reinstate", response_class=HTMLResponse)
async def reinstate(request: Request, username: str, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.reinstate(username, actor=principal.username, reason=f.get("reason", "")),
        "reinstated",
    )  # fmt: skip


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
async def reset_password(request: Request, username: str, principal: Admin) -> Response:
    return await _act(
        request, principal,
        lambda a, f: a.reset_password(username, f.get("password", ""), actor=principal.username),
        "password",
    )  # fmt: skip
