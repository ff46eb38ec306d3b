"""A ``pg_dump`` of a study restores into a fresh PostgreSQL database whose audit trail verifies,
with and without an anchor taken before the dump; one tampered row of the restore fails it.

This is the backup and restore procedure of ``docs/deployment.md``, run with the server's own
client tools (``createdb``, ``pg_dump``, ``pg_restore``) against the PostgreSQL lane's
server. The two databases are made for the test and dropped at its end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from tests.conftest import missing_input
from tests.store.conftest import PG_ENV
from tests.store.test_tamper import STUDY, OpenStudy, _populate

from clestudy.cli import main

pytestmark = pytest.mark.postgres

TOOLS = ("pg_dump", "pg_restore", "createdb")


def _libpq(url: URL) -> str:
    """The URL as the client tools take it (``postgresql://``, no SQLAlchemy driver)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, f"{' '.join(argv[:2])}: {done.stderr}"


@pytest.fixture
def two_databases() -> Iterator[tuple[URL, URL]]:
    """Two fresh, empty databases on the lane's server (the study's, the restore's)."""
    base = os.environ.get(PG_ENV)
    if not base:
        missing_input(f"PostgreSQL lane: {PG_ENV} is not set, so no server to test against")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:  # the lane is configured: its client tools must be there too
        missing_input(
            f"PostgreSQL client tools not installed: {', '.join(missing)}",
            required=f"{PG_ENV} is set",
        )
    server = make_url(base)
    tag = uuid.uuid4().hex[:10]
    urls = (server.set(database=f"clestudy_src_{tag}"), server.set(database=f"clestudy_rst_{tag}"))
    for url in urls:
        _run("createdb", f"--maintenance-db={_libpq(server)}", str(url.database))
    try:
        yield urls
    finally:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for url in urls:  # WITH (FORCE): a pool left open must not keep the database alive
                conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        admin.dispose()


def test_dump_restores_and_the_audit_trail_verifies(
    two_databases: tuple[URL, URL],
    open_study: OpenStudy,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, restored = two_databases
    src, dst = source.render_as_string(False), restored.render_as_string(False)
    _populate(open_study, src)  # 8 audited events (tests/store/test_tamper.py, `_populate`)
    anchor = tmp_path / "anchor.json"
    assert main(["audit", "anchor", "--db", src, "--out", str(anchor)]) == 0
    dump = tmp_path / "study.dump"
    _run("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), _libpq(source))
    _run("pg_restore", "--no-owner", "--exit-on-error", "--dbname", _libpq(restored), str(dump))
    capsys.readouterr()

    assert main(["audit", "verify", "--db", dst]) == 0, capsys.readouterr().err
    assert main(["audit", "verify", "--db", dst, "--anchor", str(anchor)]) == 0
    out = capsys.readouterr().out
    assert "8 events" in out, out
    from clestudy.store import open_store

    with open_store(dst, STUDY) as store:  # the restore is a working study database
        assert [s.subject_id for s in store.subjects()] == ["L01", "L02"]
        assert len(list(store.records(form_id="clasi"))) == 2

    # one row changed behind the store's back in the restore: verify fails and names it
    engine = create_engine(dst)
    with engine.begin() as conn:
        conn.execute(text("UPDATE subject SET arm = 'placebo' WHERE subject_key = 'L02'"))
    engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", dst, "--anchor", str(anchor)]) == 1
    err = capsys.readouterr().err
    assert "L02" in err and "arm" in err, err
    # the source is untouched
    assert main(["audit", "verify", "--db", src, "--anchor", str(anchor)]) == 0
