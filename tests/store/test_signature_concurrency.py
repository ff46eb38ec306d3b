"""Signing while others edit the same subject: every signature either still covers exactly the
data it hashed or was voided by the edit that followed it; never a valid signature over changed
data (``audit verify`` recomputes every valid signature's hash). On SQLite and, when configured,
PostgreSQL, where the subject's chain lock orders the signing and the edits."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tests.store.test_signature_store import PASSWORD, VS0, accounts  # noqa: F401 - the fixture

from clestudy.errors import StaleVersionError
from clestudy.store import Accounts, Store, open_store, verify_audit

OpenStudy = Callable[..., Store]
STUDY = "lenalidomide-cle-open-label"
ROUNDS = 8


def test_signing_and_editing_at_once_never_leave_a_valid_signature_over_changed_data(
    open_study: OpenStudy,
    db_url: str,
    accounts: Accounts,  # noqa: F811
) -> None:
    setup = open_study(db_url, STUDY)
    setup.add_subject("S1", arm="lenalidomide", site="site01", actor="coord")
    setup.save_record("S1", "week_0", "vs", VS0, actor="coord")
    problems: list[str] = []

    def edit() -> None:
        with open_store(db_url, STUDY) as store:
            for n in range(ROUNDS):
                current = store.records(subject_id="S1")[0]
                try:
                    store.save_record("S1", "week_0", "vs", {"weight": f"{70 + n}.5"},
                                      actor="coord", reason="re-weighed",
                                      expected_version=current.version)  # fmt: skip
                except StaleVersionError:
                    continue
                except Exception as exc:  # reported below, not lost in the thread
                    problems.append(f"edit: {exc!r}")

    def sign() -> None:
        with open_store(db_url, STUDY) as store:
            for _ in range(ROUNDS):
                try:
                    store.sign("S1", meaning="review", signer="inv", password=PASSWORD,
                               accounts=accounts)  # fmt: skip
                except Exception as exc:
                    problems.append(f"sign: {exc!r}")

    threads = [threading.Thread(target=edit), threading.Thread(target=sign)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    signatures = setup.signatures()
    assert len(signatures) == ROUNDS
    result = verify_audit(db_url)
    assert result.ok, result.describe()
    current = setup.records(subject_id="S1")[0]
    valid = [s for s in signatures if s.status == "valid"]
    assert all(s.records == [{"record": "week_0/vs", "version": current.version}] for s in valid)
