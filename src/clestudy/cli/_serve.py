"""``clestudy serve``: run the web app (data entry, dashboard, JSON API) with uvicorn."""

from __future__ import annotations

import os

import typer

__all__ = ["app_factory", "register"]

_DB_ENV = "CLESTUDY_WEB_DB"

#: uvicorn's log levels, most quiet first (``warning`` drops the access log line per request).
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def app_factory() -> object:
    """Build the app for uvicorn's factory mode (each worker process calls it once)."""
    from clestudy.web import create_app

    return create_app(os.environ[_DB_ENV])


def serve(
    db: str = typer.Option(
        "sqlite:///clestudy-demo/clestudy.db",
        "--db",
        help="Database URL (sqlite:///file.db, postgresql+psycopg://...) or a path to a SQLite "
        "file.",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (several only on PostgreSQL; SQLite: 1)."
    ),
    log_level: str = typer.Option(
        "info",
        "--log-level",
        help="uvicorn's log level: critical, error, warning, info (the default: one access-log "
        "line per request) or debug.",
    ),
) -> None:
    """Serve the web app: login, subjects, visit schedules, data entry, dashboard, /api/v1."""
    import uvicorn  # imported here: keeps `clestudy --help` fast

    from clestudy.errors import InputError
    from clestudy.store import upgrade_database

    if log_level not in LOG_LEVELS:
        raise InputError(f"--log-level: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    db = db if "://" in db else f"sqlite:///{db}"  # a path, as every other command takes
    if workers > 1 and db.startswith("sqlite"):
        raise InputError(
            "--workers: a SQLite database serves one worker (one site); use PostgreSQL for several"
        )
    path = db.removeprefix("sqlite:///")
    if db.startswith("sqlite:///") and not os.path.exists(path):
        # serving would create an empty database nobody can sign in to
        raise InputError(
            f"--db: no database file at {path}: run `make demo` (or `clestudy demo`) for the "
            "demo study, or `clestudy study init` and `clestudy user add` for your own"
        )
    upgrade_database(db)  # migrate once, before the workers start
    os.environ[_DB_ENV] = db
    typer.echo(f"clestudy serving {db} on http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(
        "clestudy.cli._serve:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level=log_level,
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve")(serve)
