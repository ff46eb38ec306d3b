"""A failed web sign-in naming no account: the text typed is stored nowhere, the source is kept
(docs/security.md, "Accounts and sessions")."""

from __future__ import annotations

from sqlalchemy import inspect, text
from tests.web.conftest import PASSWORD, WebWorld, csrf_of

from clestudy.store._accounts import UNKNOWN_USER

TYPED = "correct-horse-in-the-username-box"


def test_a_password_typed_as_the_username_lands_in_no_table(world: WebWorld) -> None:
    client = world.client()
    token = csrf_of(client.get("/login").text)
    done = client.post(
        "/login", data={"username": TYPED, "password": PASSWORD, "csrf_token": token}
    )
    assert done.status_code == 401
    last = world.accounts.account_events()[-1]
    assert (last.action, last.actor, last.username) == ("login_failure", UNKNOWN_USER, UNKNOWN_USER)
    assert last.detail["source"] == "testclient"  # Starlette's test client address
    assert last.detail["typed"].startswith("argon2id:")
    engine = world.accounts.engine
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert not any(TYPED in str(value) for value in row), table
