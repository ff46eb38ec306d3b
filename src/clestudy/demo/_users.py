"""Demo accounts: one user per role, over two sites, with passwords that are demo data.

The demo subjects are all at ``site01`` (the only site of the built-in protocols), so
``coordinator2`` at ``site02`` shows site isolation: signed in, they see no subject. The passwords
are printed by ``clestudy demo`` and written here in the clear on purpose: they protect nothing
but a synthetic study and must never be used for a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clestudy.store import open_accounts

__all__ = ["DEMO_USERS", "DemoLogin", "add_demo_users"]


@dataclass(frozen=True)
class DemoLogin:
    """One demo account and its (demo-only) password."""

    username: str
    role: str
    sites: tuple[str, ...]
    password: str


DEMO_USERS = (
    DemoLogin("admin", "admin", ("site01", "site02"), "admin-demo-password"),
    DemoLogin("investigator", "investigator", ("site01",), "investigator-demo-password"),
    DemoLogin("coordinator", "coordinator", ("site01",), "coordinator-demo-password"),
    DemoLogin("coordinator2", "coordinator", ("site02",), "coordinator2-demo-password"),
    DemoLogin("monitor", "monitor", ("site01", "site02"), "monitor-demo-password"),
    DemoLogin("statistician", "statistician", ("site01", "site02"), "statistician-demo-password"),
)


def add_demo_users(url: str, *, actor: str, **settings: Any) -> tuple[DemoLogin, ...]:
    """Create the demo accounts in the database at ``url`` (audited) and return their logins.

    ``settings`` go to :func:`~clestudy.store.open_accounts` (tests pass a cheaper hasher).
    """
    with open_accounts(url, **settings) as accounts:
        for login in DEMO_USERS:
            accounts.add_user(
                login.username,
                role=login.role,
                sites=login.sites,
                password=login.password,
                actor=actor,
                full_name=f"Demo {login.role}",
            )
    return DEMO_USERS
