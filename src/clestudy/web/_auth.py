"""Who is asking: browser sessions, API tokens, CSRF tokens and the permission dependency.

* **Browser.** The session cookie holds the opaque token of ``Accounts.create_session``
  (``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS or when the settings say so). Each
  request asks the accounts store for the session's user, which refuses an idle, ended or
  suspended session, so a suspension takes effect on the next request.
* **CSRF.** Every POST/PUT/PATCH/DELETE of the HTML app carries a synchronizer token, in the form
  field ``csrf_token`` or (htmx) the ``X-CSRF-Token`` header. The token is an HMAC of the
  session token, so it is bound to the session, needs no storage and is the same in every worker;
  an attacker who cannot read the ``HttpOnly`` cookie cannot compute it. The login form, which has
  no session yet, uses the same HMAC of a random pre-login cookie.
* **API.** ``/api/v1`` takes ``Authorization: Bearer <token>`` (``Accounts.token_user``) and no
  cookie, so it needs no CSRF token.

The permission check is one dependency, :class:`Permission`, which every route declares with its
:class:`~clestudy.web._rules.Rule`. The user it returns is the only source of the audit actor.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from clestudy.errors import ClestudyError
from clestudy.web._rules import Rule

if TYPE_CHECKING:
    from starlette.responses import Response

    from clestudy.store import Accounts, User
    from clestudy.web._settings import WebSettings

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "ForbiddenError",
    "LoginRequiredError",
    "Permission",
    "Principal",
    "csrf_token",
    "set_cookie",
]

SESSION_COOKIE = "clestudy_session"
LOGIN_COOKIE = "clestudy_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequiredError(Exception):
    """No valid session (HTML: redirect to the login page) or token (API: 401)."""

    def __init__(self, *, api: bool) -> None:
        super().__init__("authentication required")
        self.api = api


class ForbiddenError(Exception):
    """The user's role may not use this route (403), or the CSRF token is missing or wrong."""

    def __init__(self, message: str, *, api: bool) -> None:
        super().__init__(message)
        self.api = api


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request and, in the browser, its session's CSRF token."""

    user: User
    csrf: str | None = None

    @property
    def username(self) -> str:
        """The audit actor of every change this request makes."""
        return self.user.username

    def sees_site(self, site: str) -> bool:
        """Admins see every site; everyone else the sites of their account."""
        return self.user.role == "admin" or site in self.user.sites


def csrf_token(secret: str) -> str:
    """The CSRF token bound to ``secret`` (a session token or a pre-login cookie).

    >>> csrf_token("abc") == csrf_token("abc") != csrf_token("abd")
    True
    """
    return hmac.new(secret.encode(), b"clestudy-csrf/1", hashlib.sha256).hexdigest()


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set an ``HttpOnly``, ``SameSite=Lax`` cookie, ``Secure`` over HTTPS or by setting."""
    settings: WebSettings = request.app.state.web.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or settings.secure_cookies,
        path="/",
    )


async def _sent_csrf(request: Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # starlette caches it for the route's own Form parameters
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: Request, secret: str | None) -> None:
    """Refuse an unsafe request whose CSRF token does not match ``secret``'s."""
    if request.method not in _UNSAFE:
        return
    sent = await _sent_csrf(request)
    if secret is None or not hmac.compare_digest(sent, csrf_token(secret)):
        raise ForbiddenError(
            "the form expired or did not come from this site; reload and retry", api=False
        )


def new_login_secret() -> str:
    """A random pre-login secret for the login form's CSRF token."""
    return secrets.token_urlsafe(32)


class Permission:
    """The dependency that authenticates a request and applies its route's rule.

    Parameters
    ----------
    rule : Rule
        Who may use the route.
    api : bool
        ``True`` for ``/api/v1`` (Bearer token, no cookie, no CSRF); ``False`` for the HTML app
        (session cookie, CSRF on unsafe methods).

    A public route returns ``None`` without asking for credentials (the login form still checks
    its CSRF token).
    """

    def __init__(self, rule: Rule, *, api: bool = False) -> None:
        self.rule = rule
        self.api = api

    def __repr__(self) -> str:
        return f"Permission({self.rule.name!r}, api={self.api})"

    async def __call__(self, request: Request) -> Principal | None:
        if self.rule.public:
            if not self.api:
                await check_csrf(request, request.cookies.get(LOGIN_COOKIE))
            return None
        principal = await (self._api_user(request) if self.api else self._browser_user(request))
        if not self.rule.allows(principal.user.role):
            raise ForbiddenError(
                f"your role ({principal.user.role}) may not do this ({self.rule.name})",
                api=self.api,
            )
        return principal

    async def _api_user(self, request: Request) -> Principal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise LoginRequiredError(api=True)
        accounts: Accounts = request.app.state.web.accounts
        try:
            user = await run_in_threadpool(accounts.token_user, token.strip())
        except ClestudyError:
            raise LoginRequiredError(api=True) from None
        return Principal(user)

    async def _browser_user(self, request: Request) -> Principal:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise LoginRequiredError(api=False)
        web = request.app.state.web
        try:
            user = await run_in_threadpool(
                lambda: web.accounts.session_user(token, idle_timeout=web.settings.idle_timeout)
            )
        except ClestudyError:
            raise LoginRequiredError(api=False) from None
        await check_csrf(request, token)
        return Principal(user, csrf_token(token))
