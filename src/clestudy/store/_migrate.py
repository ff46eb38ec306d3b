"""Run the packaged Alembic migrations programmatically."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

__all__ = ["upgrade_to_head"]


def upgrade_to_head(engine: Engine) -> None:
    """Bring the database schema to the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", "clestudy.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
