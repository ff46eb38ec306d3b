"""Methods paragraph, reproducibility stamp, ``--as-of`` replay and the audit line of the report."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from clestudy.cli import main
from clestudy.demo._open_label import populate_open_label
from clestudy.demo._run import DEMO_SEED
from clestudy.errors import AuditChainError, InputError
from clestudy.protocol import AnalysisSpec
from clestudy.report import write_report
from clestudy.report._asof import audit_cut, parse_as_of, replay_study
from clestudy.report._provenance import _json
from clestudy.store import audit_events, open_store, verify_audit

STUDY = "lenalidomide-cle-open-label"
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 4, 11, 30, tzinfo=dt.UTC)


def _study(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, STUDY, actor="test") as store:
        populate_open_label(store, np.random.default_rng(DEMO_SEED))
    return url


def _change_everything(url: str) -> None:
    """After the cut-off: an edit, a deletion, a new AE and a new subject."""
    with open_store(url, STUDY, actor="test") as store:
        store.save_record("L01", "week_52", "vs", {"weight": "69.0"}, expected_version=1,
                          actor="test", reason="corrected")  # fmt: skip
        store.delete_record("L05", "week_52", "labs", actor="test", reason="entered in error")
        store.save_record("L01", "week_12", "ae", {
            "aeterm": "Rash", "aestdat": "2009-06-01", "aetoxgr": 1, "aeser": False,
            "aerel": "RELATED", "aeout": "RECOVERED/RESOLVED", "aeacn": "DOSE REDUCED",
        }, actor="test")  # fmt: skip
        store.add_subject("L06", arm="lenalidomide", site="site01", actor="test")


def test_as_of_reproduces_an_earlier_report_byte_for_byte(tmp_path: Path) -> None:
    url = _study(tmp_path)
    write_report(url, tmp_path / "then.html", now=NOW)
    cut = str(audit_events(url)[-1]["occurred_at"])
    _change_everything(url)
    write_report(url, tmp_path / "now.html", now=NOW)
    write_report(url, tmp_path / "replayed.html", now=NOW, as_of=cut)
    then = (tmp_path / "then.html").read_bytes()
    assert (tmp_path / "replayed.html").read_bytes() == then
    assert (tmp_path / "now.html").read_bytes() != then
    # a different generation time changes the stamp's "Generated" line and nothing else
    write_report(url, tmp_path / "later.html", now=LATER, as_of=cut)
    later = (tmp_path / "later.html").read_text(encoding="utf-8")
    assert later.replace("2026-12-04 11:30 UTC", "2026-12-03 10:00 UTC") == then.decode("utf-8")
    assert later.count("2026-12-04 11:30 UTC") == 1


def test_as_of_before_an_amendment_reports_against_the_protocol_then(tmp_path: Path) -> None:
    url = _study(tmp_path)
    write_report(url, tmp_path / "then.html", now=NOW)
    cut = str(audit_events(url)[-1]["occurred_at"])
    with open_store(url, STUDY, actor="test") as store:
        old = store.protocol
        ifn = AnalysisSpec(endpoint="ifn_score", before_visit="week_0", after_visit="week_12")
        amended = old.model_copy(update={
            "version": "1.4", "title": "Lenalidomide in CLE, amended",
            "analysis_plan": (*old.analysis_plan, ifn),
        })  # fmt: skip
        store.amend_protocol(amended, actor="test", reason="the interferon score is analysed")
    _change_everything(url)
    write_report(url, tmp_path / "now.html", now=NOW)
    now = (tmp_path / "now.html").read_text(encoding="utf-8")
    assert "Lenalidomide in CLE, amended" in now and "version 1.4" in now
    write_report(url, tmp_path / "replayed.html", now=NOW, as_of=cut)
    assert (tmp_path / "replayed.html").read_bytes() == (tmp_path / "then.html").read_bytes()


def test_as_of_refuses_a_protocol_snapshot_its_audit_event_does_not_vouch_for(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    with open_store(url, STUDY, actor="test") as store:
        store.add_subject("L01", arm="lenalidomide", site="site01", actor="test")
    cut = str(audit_events(url)[-1]["occurred_at"])
    with open_store(url, STUDY, actor="test") as store:
        store.amend_protocol(store.protocol.model_copy(update={"version": "1.4"}), actor="test",
                             reason="a new version")  # fmt: skip
    with sqlite3.connect(tmp_path / "study.db") as conn:  # the 1.3 snapshot edited afterwards
        conn.execute("UPDATE protocol_snapshot SET protocol_json = replace(protocol_json, "
                     "'Lenalidomide', 'Thalidomide') WHERE version = '1.3'")  # fmt: skip
    # audit verify, run before every replay, checks every protocol snapshot against its event
    with pytest.raises(
        AuditChainError, match=rf"protocol snapshot {STUDY}@1\.3: the row's sha256 .* differs"
    ):
        write_report(url, tmp_path / "r.html", as_of=cut)
    # and the replay itself refuses the snapshot too, verified or not
    with (
        open_store(url, STUDY, actor="test") as store,
        pytest.raises(InputError, match=r"snapshot of protocol version 1\.3 .* is not the one"),
    ):
        replay_study(store, audit_cut(url, cut))


def test_as_of_through_the_cli_and_its_errors(tmp_path: Path) -> None:
    url = _study(tmp_path)
    out = tmp_path / "r.html"
    assert main(["report", "--db", url, "--out", str(out), "--as-of", "2000-01-01"]) != 0
    with pytest.raises(InputError, match="no event at or before 2000-01-01"):
        write_report(url, out, as_of="2000-01-01")
    with pytest.raises(InputError, match="--as-of 'yesterday': expected a date"):
        parse_as_of("yesterday")
    assert main(["report", "--db", url, "--out", str(out), "--as-of", "2999-01-01"]) == 0
    assert "Data as of (newest audit event)" in out.read_text(encoding="utf-8")


def test_stamp_names_the_versions_and_hashes(tmp_path: Path) -> None:
    url = _study(tmp_path)
    out = tmp_path / "r.html"
    write_report(url, out, now=NOW)
    html = out.read_text(encoding="utf-8")
    stamp = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", html))
    with open_store(url, STUDY) as store:
        protocol = hashlib.sha256(
            _json(store.protocol.model_dump(mode="json")).encode()
        ).hexdigest()
        records = store.records()
    assert stamp[f"Protocol {STUDY}"] == f"version 1.3, sha256 {protocol}"
    assert stamp[f"Data {STUDY}"].startswith(f"{len(records)} records, sha256 ")
    assert stamp["Audit trail head"] == verify_audit(url).head_hash
    assert stamp["Generated"] == "2026-12-03 10:00 UTC"
    assert stamp["clestudy version"]


def test_methods_paragraph_names_the_tests_run(tmp_path: Path) -> None:
    url = _study(tmp_path)
    out = tmp_path / "r.html"
    sections = write_report(url, out, now=NOW)
    html = out.read_text(encoding="utf-8")
    methods = html[html.index('<h2 id="methods">') : html.index('<h2 id="provenance">')]
    assert "CLASI activity (points) (Week 0 (baseline) → Week 12, primary)" in methods
    assert "decision rule(s) both" in methods
    assert "No adjustment for multiple comparisons was prespecified" in methods
    assert "Mann-Whitney U" in methods
    for method in sections[0].methods:  # every method the engine reports is named
        assert method.replace("'", "&#39;") in methods
    assert re.search(r"Software: Python 3\.\d+\.\d+, clestudy \S+, numpy \S+, scipy \S+", methods)


def test_a_row_that_fails_verification_is_named_not_event_none(tmp_path: Path) -> None:
    url = _study(tmp_path)
    with sqlite3.connect(tmp_path / "study.db") as conn:
        conn.execute('UPDATE form_record SET values_json = \'{"weight":"1"}\' WHERE id = 1')
    audit = verify_audit(url)
    assert audit.first_broken_seq is None and not audit.ok  # a row, not an event, fails
    out = tmp_path / "r.html"
    write_report(url, out, now=NOW)
    html = out.read_text(encoding="utf-8")
    assert "event None" not in html
    assert f"audit trail: BROKEN: {audit.describe()}".replace("'", "&#39;") in html
