"""The FastAPI application: HTML pages, the JSON API, static files and one error mapping.

:func:`create_app` builds the app over one database (every study in it). Errors are translated
once, here: no login → the login page (HTML) or 401 (API); a role without the route's permission
→ 403; an unknown subject or one of another site → the same 404 body; a store validation error →
422 listing every problem; a stale or locked edit → 409.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clestudy.store import Accounts, open_accounts
from clestudy.web._access import Studies, StudyNotFoundError, SubjectNotFoundError
from clestudy.web._auth import ForbiddenError, LoginRequiredError, Permission, resolve_pending
from clestudy.web._rules import PUBLIC, Rule
from clestudy.web._settings import WebSettings

__all__ = ["NOT_FOUND", "WebState", "create_app", "route_rules", "templates"]

_HERE = Path(__file__).parent
#: The one body of every 404 of the API (unknown id and another site's id alike).
NOT_FOUND = {"error": "not found"}
#: The page templates (package data).
templates = Jinja2Templates(directory=str(_HERE / "templates"))


@dataclass
class WebState:
    """What every request shares: the database's studies, the accounts store and the settings."""

    studies: Studies
    accounts: Accounts
    settings: WebSettings
    #: Rules of routes that are not API routes (the static files, the OpenAPI schema).
    extra_rules: dict[tuple[str, str], Rule]
    #: The routers of the pages and the API, as declared (their routes carry their rules).
    routers: tuple[APIRouter, ...] = ()


def route_rules(app: FastAPI) -> dict[tuple[str, str], Rule | None]:
    """``(method, path) -> rule`` of every route of the app (``None``: no rule declared).

    Read from the routes themselves: an API route's rule is its
    :class:`~clestudy.web._auth.Permission` dependency; the static files and the OpenAPI schema
    have theirs in :attr:`WebState.extra_rules`. A route without a rule maps to ``None``.
    """
    web: WebState = app.state.web
    found: dict[tuple[str, str], Rule | None] = {}
    for router in web.routers:
        for route in router.routes:
            if isinstance(route, APIRoute):
                rules = [
                    d.call.rule
                    for d in route.dependant.dependencies
                    if isinstance(d.call, Permission)
                ]
                for method in sorted(route.methods or ()):
                    found[(method, route.path)] = rules[0] if len(rules) == 1 else None
    for route in app.router.routes:
        if isinstance(route, Mount):
            found[("GET", route.path)] = web.extra_rules.get(("GET", route.path))
        elif isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found[(method, route.path)] = web.extra_rules.get((method, route.path))
    return found


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page(request: Request, name: str, status: int, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, {"user": None, **context}, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> Response:
        if exc.api or _is_api(request):
            return JSONResponse(
                {"error": "authentication required"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = "/login?next=" + quote(request.url.path, safe="/")
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(ForbiddenError)
    async def _forbidden(request: Request, exc: ForbiddenError) -> Response:
        if exc.api or _is_api(request):
            return JSONResponse({"error": str(exc)}, status_code=403)
        return _page(request, "error.html", 403, title="Not allowed", message=str(exc))

    async def _not_found(request: Request, exc: Exception) -> Response:
        if _is_api(request):
            return JSONResponse(NOT_FOUND, status_code=404)
        return _page(request, "error.html", 404, title="Not found", message="Not found.")

    app.add_exception_handler(SubjectNotFoundError, _not_found)
    app.add_exception_handler(StudyNotFoundError, _not_found)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        # FastAPI answers a body that is not JSON text with 400; the API's contract is 422 with
        # its problems listed, as for every other invalid request
        if exc.status_code == 400 and _is_api(request):
            problem = {"field": "body", "message": str(exc.detail), "check_id": ""}
            return JSONResponse({"error": "invalid request", "errors": [problem]}, status_code=422)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        try:  # a route that defers its credential check: 401 and 403 before 422
            await resolve_pending(request)
        except LoginRequiredError as refused:
            return await _login(request, refused)
        except ForbiddenError as refused:
            return await _forbidden(request, refused)
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "errors": errors}, status_code=422)


#: Headers every response gets (unless the route set its own).
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)
_NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Pure ASGI middleware that adds :data:`_SECURITY_HEADERS` to every response, and
    ``Cache-Control: no-store`` to pages (not to ``/static/`` or ``/api/``).

    It only edits the response's start message on its way out: no task, stream or ``Request``
    per request (Starlette's ``BaseHTTPMiddleware`` makes all three).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = _SECURITY_HEADERS
        if not scope["path"].startswith(("/static/", "/api/")):
            extra = (*_SECURITY_HEADERS, _NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    db_url: str,
    *,
    settings: WebSettings | None = None,
    accounts: Accounts | None = None,
) -> FastAPI:
    """The clestudy web app over the database at ``db_url``.

    Parameters
    ----------
    db_url : str
        A clestudy database (``sqlite:///...`` or ``postgresql+psycopg://...``); its studies are
        opened on first use.
    settings : WebSettings, optional
        Idle timeout, cookie and paging settings.
    accounts : optional
        The accounts store; default ``clestudy.store.open_accounts(db_url)`` (tests pass one
        with a controlled clock).
    """
    from clestudy.web import (  # the routers import the app helpers
        _admin,
        _api,
        _entry,
        _locking,
        _pages,
        _quality,
        _queries,
        _query_api,
        _randomization,
        _signatures,
    )

    owns_accounts = accounts is None
    if accounts is None:
        accounts = open_accounts(db_url)
    settings = settings or WebSettings()
    studies = Studies(db_url, settings.clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        studies.close()
        if owns_accounts:
            accounts.close()

    app = FastAPI(
        title="clestudy",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
        lifespan=lifespan,
    )
    routers = (
        _pages.router,
        _entry.router,
        _admin.router,
        _api.router,
        _signatures.router,
        _signatures.api_router,
        _randomization.router,
        _randomization.api_router,
        _locking.router,
        _locking.api_router,
        _queries.router,
        _query_api.api_router,
        _quality.router,
        _quality.api_router,
    )
    app.state.web = WebState(
        studies=studies,
        accounts=accounts,
        settings=settings,
        extra_rules={("GET", "/api/v1/openapi.json"): PUBLIC, ("GET", "/static"): PUBLIC},
        routers=routers,
    )
    _install_errors(app)
    app.add_middleware(SecurityHeaders)
    # the API's routers are included first: a request is matched against the routes in this
    # order and no page path starts with /api/, so an API call (the busy path) is not tried
    # against every page first; each group keeps its order (the OpenAPI schema follows the API's)
    for router in sorted(routers, key=lambda r: not r.prefix.startswith("/api/")):
        app.include_router(router)
    app.router.routes.append(
        Mount("/static", app=StaticFiles(directory=str(_HERE / "static")), name="static")
    )
    return app


def _version() -> str:
    from clestudy import __version__

    return __version__
