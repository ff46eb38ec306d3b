"""The web layer: data capture in the browser (FastAPI, Jinja2, htmx) and the JSON API.

A layer beside :mod:`clestudy.cli` over the same store service: every change goes through
:class:`clestudy.store.Store`, with the authenticated user as the audit actor. See
``docs/web.md`` (running it, pages, API) and ``docs/security.md`` (sessions, CSRF, routes and
their permission rules).
"""

from clestudy.web._app import create_app, route_rules
from clestudy.web._rules import RULES, Rule
from clestudy.web._settings import WebSettings

__all__ = ["RULES", "Rule", "WebSettings", "create_app", "route_rules"]
