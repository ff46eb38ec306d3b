"""A site-scoped save (``SubjectScope``): another site's subject and a deleted one are refused as
an unknown id, inside the save's own read, with nothing written; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from clestudy.errors import NotFoundError
from clestudy.protocol import Site, load_protocol
from clestudy.store import RecordInput, Store, SubjectScope, open_store

STUDY = "lenalidomide-cle-open-label"
VS = {"vsdat": "2026-01-07", "weight": "70.5"}


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    protocol = load_protocol(STUDY)
    two_sites = protocol.model_copy(
        update={"sites": (*protocol.sites, Site(id="site02", name="Site 02"))}
    )
    with open_store(db_url, two_sites, actor="setup") as opened:
        opened.add_subject("A-01", arm="lenalidomide", site="site01", actor="setup")
        opened.add_subject("B-01", arm="lenalidomide", site="site02", actor="setup")
        opened.add_subject("A-02", arm="lenalidomide", site="site01", actor="setup")
        opened.delete_subject("A-02", actor="setup", reason="enrolled in error")
        yield opened


def _events(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one())


def _refusal(store: Store, subject: str, scope: SubjectScope | None) -> str:
    with pytest.raises(NotFoundError) as refused:
        store.save_record(subject, "week_0", "vs", dict(VS), actor="u", scope=scope)
    return str(refused.value)


def test_another_sites_subject_is_refused_as_an_unknown_one(store: Store) -> None:
    site01 = SubjectScope(frozenset({"site01"}))
    before = _events(store)
    other = _refusal(store, "B-01", site01)
    unknown = _refusal(store, "ZZ-99", site01)
    assert other == f"B-01/week_0/vs: subject 'B-01' is not enrolled in {STUDY}"
    assert unknown == f"ZZ-99/week_0/vs: subject 'ZZ-99' is not enrolled in {STUDY}"
    assert _events(store) == before  # nothing written
    assert store.records(subject_id="B-01") == []
    saved = store.save_record("A-01", "week_0", "vs", dict(VS), actor="u", scope=site01)
    assert saved.version == 1


def test_a_deleted_subject_is_refused_as_an_unknown_one_in_any_scope(store: Store) -> None:
    # unscoped (the CLI), the save names the deletion; scoped (the web), it is simply not there
    with pytest.raises(Exception, match="A-02 is deleted; restore it"):
        store.save_record("A-02", "week_0", "vs", dict(VS), actor="u")
    for scope in (SubjectScope(None), SubjectScope(frozenset({"site01"}))):
        assert _refusal(store, "A-02", scope).endswith("'A-02' is not enrolled in " + STUDY)


def test_an_admins_scope_sees_every_site(store: Store) -> None:
    saved = store.save_record("B-01", "week_0", "vs", dict(VS), actor="u", scope=SubjectScope(None))
    assert (saved.subject_id, saved.version) == ("B-01", 1)


def test_a_scoped_batch_with_one_subject_outside_saves_nothing(store: Store) -> None:
    items = [
        RecordInput("A-01", "week_0", "vs", dict(VS)),
        RecordInput("B-01", "week_0", "vs", dict(VS)),
    ]
    with pytest.raises(NotFoundError, match="'B-01' is not enrolled"):
        store.save_records(items, actor="u", scope=SubjectScope(frozenset({"site01"})))
    assert store.records(subject_id="A-01") == []


@given(
    sites=st.frozensets(st.sampled_from(["site01", "site02", "site03"])) | st.none(),
    site=st.sampled_from(["site01", "site02", "site03"]),
    deleted=st.booleans(),
)
def test_sees_is_not_deleted_and_of_the_sites(
    sites: frozenset[str] | None, site: str, deleted: bool
) -> None:
    expected = not deleted and (sites is None or site in sites)
    assert SubjectScope(sites).sees(site, deleted=deleted) is expected
