"""What every HTML page module shares: rendering, the study's store, the permission aliases."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from clestudy.store import Store
from clestudy.web._app import templates
from clestudy.web._auth import Permission, Principal
from clestudy.web._rules import (
    ADMIN,
    AUTHENTICATED,
    ENROL,
    ENTER,
    LOCK,
    PUBLIC,
    READ,
    READ_SUBJECT,
    UNLOCK,
    VERIFY,
)

__all__ = [
    "RECORD",
    "Admin",
    "Authenticated",
    "Editor",
    "Enroller",
    "Locker",
    "Public",
    "Reader",
    "SubjectReader",
    "Unlocker",
    "Verifier",
    "render",
    "study_store",
]

Public = Annotated[Principal | None, Depends(Permission(PUBLIC))]
Authenticated = Annotated[Principal, Depends(Permission(AUTHENTICATED))]
Reader = Annotated[Principal, Depends(Permission(READ))]
SubjectReader = Annotated[Principal, Depends(Permission(READ_SUBJECT))]
Enroller = Annotated[Principal, Depends(Permission(ENROL))]
Editor = Annotated[Principal, Depends(Permission(ENTER))]
Verifier = Annotated[Principal, Depends(Permission(VERIFY))]
Locker = Annotated[Principal, Depends(Permission(LOCK))]
Unlocker = Annotated[Principal, Depends(Permission(UNLOCK))]
Admin = Annotated[Principal, Depends(Permission(ADMIN))]

RECORD = "/studies/{study}/subjects/{subject}/records/{visit}/{form}/{instance}"


def render(
    request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render a page template with the user and the session's CSRF token."""
    context.setdefault("title", "")
    user = principal.user if principal else None
    csrf = principal.csrf if principal else None
    response = templates.TemplateResponse(
        request, name, {"user": user, "csrf": csrf, **context}, status_code=status
    )
    return cast("HTMLResponse", response)


def study_store(request: Request, study: str) -> Store:
    """The open store of a study (404 for an unknown study)."""
    store: Store = request.app.state.web.studies.store(study)
    return store
