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
* **Deferred API check.** A busy API route (the record save) declares
  :class:`DeferredPermission`: the dependency refuses a request without a
  Bearer token at once (401) and hands the route a :class:`PendingPrincipal`, which the route
  resolves (token, user, role: the same checks, the same 401 and 403) in the worker thread that
  then saves, so the request crosses to a worker thread once rather than twice. An invalid
  body of such a route is answered only after its credentials are checked
  (:func:`resolve_pending`): 401 and 403 still come before 422.

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
from clestudy.store import SubjectScope
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
    "DeferredPermission",
    "ForbiddenError",
    "LoginRequiredError",
    "PendingPrincipal",
    "Permission",
    "Principal",
    "csrf_token",
    "resolve_pending",
    "set_cookie",
]

SESSION_COOKIE = "clestudy_session"
LOGIN_COOKIE = "clestudy_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: ``request.state`` attribute of a deferred API check not resolved yet (:func:`resolve_pending`).
_PENDING = "clestudy_pending_principal"


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

    @property
    def scope(self) -> SubjectScope:
        """The subjects the user may save to: not deleted, of their sites (admins: every site)."""
        return SubjectScope(None if self.user.role == "admin" else frozenset(self.user.sites))


def _allowed(rule: Rule, principal: Principal, *, api: bool) -> Principal:
    if not rule.allows(principal.user.role):
        raise ForbiddenError(
            f"your role ({principal.user.role}) may not do this ({rule.name})", api=api
        )
    return principal


@dataclass(frozen=True)
class PendingPrincipal:
    """An API request's Bearer token and its route's rule, not checked yet: :meth:`resolve`
    checks them (blocking: call it in a worker thread) and gives the :class:`Principal`."""

    accounts: Accounts
    token: str
    rule: Rule

    def resolve(self) -> Principal:
        """The token's user, if the token is active, its user not suspended, and the rule allows
        the user's role.

        Raises
        ------
        LoginRequiredError
            An unknown, revoked or suspended user's token (401).
        ForbiddenError
            A role the rule does not allow (403).
        """
        try:
            user = self.accounts.token_user(self.token)
        except ClestudyError:
            raise LoginRequiredError(api=True) from None
        return _allowed(self.rule, Principal(user), api=True)


async def resolve_pending(request: Request) -> None:
    """Check the credentials of a deferred API route whose request FastAPI refused before the
    route ran (an invalid body): raises as :meth:`PendingPrincipal.resolve`, so that a request
    without valid credentials gets 401 (or 403) rather than the body's 422. Does nothing for any
    other request."""
    pending: PendingPrincipal | None = getattr(request.state, _PENDING, None)
    if pending is not None:
        await run_in_threadpool(pending.resolve)


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
        return f"{type(self).__name__}({self.rule.name!r}, api={self.api})"

    async def __call__(self, request: Request) -> Principal | None:
        if self.rule.public:
            if not self.api:
                await check_csrf(request, request.cookies.get(LOGIN_COOKIE))
            return None
        if self.api:
            return await run_in_threadpool(self._pending(request).resolve)
        return _allowed(self.rule, await self._browser_user(request), api=False)

    def _pending(self, request: Request) -> PendingPrincipal:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise LoginRequiredError(api=True)
        return PendingPrincipal(request.app.state.web.accounts, token.strip(), self.rule)

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


class DeferredPermission(Permission):
    """:class:`Permission` for an API route that checks the credentials in its own worker
    thread: a request without a Bearer token is refused here (401); any other gets a
    :class:`PendingPrincipal`, which the route resolves (see the module docstring)."""

    def __init__(self, rule: Rule) -> None:
        if rule.public:
            raise ValueError(f"a public route has no credentials to check ({rule.name})")
        super().__init__(rule, api=True)

    async def __call__(self, request: Request) -> PendingPrincipal:  # type: ignore[override]
        pending = self._pending(request)
        setattr(request.state, _PENDING, pending)
        return pending
