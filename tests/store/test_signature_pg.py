"""PostgreSQL least privilege for signatures: as ``clestudy_app`` an investigator signs and a
later edit voids (INSERT only), while UPDATE, DELETE, TRUNCATE and disabling the triggers of
``signature`` and ``signature_void`` are refused by the privilege system (migration 0007)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.store.test_accounts_pg import PASSWORD, STUDY, Urls, urls  # noqa: F401 - the fixture

from clestudy.store import make_engine, open_accounts, open_store, verify_audit

pytestmark = pytest.mark.postgres


def _signed_and_voided(urls: Urls) -> None:  # noqa: F811
    with open_store(urls.owner, STUDY):  # the owner migrates and registers
        pass
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with open_store(urls.app, STUDY) as store, open_accounts(urls.app, hasher=hasher) as acc:
        acc.add_user("ines", role="investigator", sites=["site01"], password=PASSWORD,
                     actor="op")  # fmt: skip
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"},
                          actor="c")  # fmt: skip
        store.sign("P01", meaning="review", signer="ines", password=PASSWORD, accounts=acc)
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "15"},
                          actor="c", expected_version=1, reason="dose")  # fmt: skip
        assert [s.status for s in store.signatures()] == ["void"]
    assert verify_audit(urls.owner).ok


@pytest.mark.parametrize("table", ["signature", "signature_void"])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {t} SET id = id",
        "DELETE FROM {t}",
        "TRUNCATE {t} CASCADE",
        "ALTER TABLE {t} DISABLE TRIGGER USER",
    ],
)
def test_the_app_role_signs_but_cannot_rewrite_signatures(
    urls: Urls,  # noqa: F811
    table: str,
    statement: str,
) -> None:
    _signed_and_voided(urls)
    engine = make_engine(urls.app)
    try:
        with (
            pytest.raises(DBAPIError, match=f"(permission denied|must be owner).*{table}"),
            engine.begin() as conn,
        ):
            conn.execute(text(statement.format(t=table)))
    finally:
        engine.dispose()
    assert verify_audit(urls.owner).ok
