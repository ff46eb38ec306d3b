"""`clestudy demo` end to end: database, audit trail, report; and tamper detection via the CLI."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
from pathlib import Path

import pytest

from clestudy.cli import main
from clestudy.store import endpoint_table, open_store, verify_audit


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out)]) == 0
    return out


def test_demo_prints_report_path_and_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Report: {(tmp_path / 'report.html').resolve()}" in out
    assert "Synthetic demo study" in out
    assert f"clestudy serve --db sqlite:///{(tmp_path / 'clestudy.db').resolve()}" in out
    # a second run refuses to overwrite, unless asked to replace
    assert main(["demo", "--out", str(tmp_path)]) == 2
    assert "already exists; use --replace" in capsys.readouterr().err
    assert main(["demo", "--out", str(tmp_path), "--replace"]) == 0
    assert verify_audit(f"sqlite:///{tmp_path / 'clestudy.db'}").ok


def test_demo_database_holds_both_studies_through_the_store(demo_dir: Path) -> None:
    url = f"sqlite:///{demo_dir / 'clestudy.db'}"
    with open_store(url, "lenalidomide-cle-open-label") as adult:
        assert [s.subject_id for s in adult.subjects()] == ["L01", "L02", "L03", "L04", "L05"]
        clasi = endpoint_table(adult, ["clasi_activity"], ["week_0", "week_12"])
        pivot = clasi.pivot(index="subject", columns="visit", values="clasi_activity")
        falls = pivot["week_0"] - pivot["week_12"]
        assert (falls >= 4).sum() == 4, "four responders and one non-responder"
        aes = adult.records(form_id="ae")
        assert any("Systemic lupus" in str(r.values["aeterm"]) for r in aes)
        derived = adult.records(form_id="clasi")[0].derived["clasi"]
        assert derived["instrument"] == "clasi" and derived["version"]
    with open_store(url, "pediatric-cle-chart-review") as ped:
        wide = endpoint_table(ped, ["prednisone_mg_day"])
        pivot = wide.pivot(index="subject", columns="visit", values="prednisone_mg_day")
        assert (pivot["month_6"] < pivot["initiation"]).all(), "steroids tapered in everyone"
    assert verify_audit(url).ok


def test_report_is_standalone_with_tables_and_figure(demo_dir: Path) -> None:
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "SYNTHETIC DATA" in html
    assert "Table 1. Baseline characteristics" in html
    assert "Table 2. Prespecified paired comparisons" in html
    # open-label: spaghetti of CLASI activity, damage and the interferon score, waterfall, swimmer,
    # biomarkers before/after by response group, immune heatmap; chart review: spaghetti of
    # prednisone, ESR and lymphocytes, swimmer
    assert html.count("<svg") == html.count("<figure>") == 11
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "no external assets"
    assert "<script" not in html and "<link" not in html
    for text in ("Wilcoxon p, exact", "Wilcoxon p, normal approx.", "CI; achieved level"):
        assert text in html
    assert "93.75 %" in html, "HL interval's achieved level at n = 5 (15/16 = 0.9375)"
    assert "scipy.stats.ttest_rel" in html and "normal approximation without continuity" in html
    assert "the exact two-sided Wilcoxon p cannot be below 0.0625" in html


def test_report_reproduces_seed_003_summary(demo_dir: Path) -> None:
    """Wu et al. (seed 003): prednisone 23 (10.9) -> 11 (7.4) mg, p = 0.005; ESR 26.2 (8.9) ->
    19.2 (7.5) mm/hr, p = 0.015; the exact Wilcoxon p cannot reach 0.05 at n = 5."""
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="pediatric-cle-chart-review"') :]
    for printed in ("23.0 (10.9)", "11.0 (7.4)", "26.2 (8.9)", "19.2 (7.5)"):
        assert printed in section
    assert "p = 0.0046" in section  # rounds to the abstract's 0.005
    assert "p = 0.0147" in section  # rounds to the abstract's 0.015
    assert "not significant" in section


def test_report_shows_clasi_severity_and_response(demo_dir: Path) -> None:
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    assert "CLASI activity by visit (severity band) and response" in html
    assert "(moderate)" in html and "(mild)" in html
    assert "non-responder" in html and ">responder<" in html


def test_audit_verify_passes_then_names_the_edited_event(
    demo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "copy.db"
    with sqlite3.connect(demo_dir / "clestudy.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    assert main(["audit", "verify", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("audit trail OK: ")
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_event_no_update")
        conn.execute("UPDATE audit_event SET reason = 'edited' WHERE seq = 7")
    assert main(["audit", "verify", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert err == "error: audit event 7: stored hash does not match the event's content\n"
    assert main(["audit", "verify", "--db", str(db), "--json"]) == 1
    assert '"first_broken_seq": 7' in capsys.readouterr().out


def test_each_endpoint_names_its_own_methods_and_deciding_p(demo_dir: Path) -> None:
    """The methods note is numbered and every outcome row cites the numbers of its methods, so a
    reader sees which endpoint used the exact null distribution and which the tied permutation."""
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="pediatric-cle-chart-review"') :]
    section = section[: section.index("</section>")]
    notes = {
        int(n): text.strip()
        for n, text in re.findall(r"<br><sup>(\d+)</sup> ([^<]+)", section, flags=re.S)
    }
    exact = next(n for n, t in notes.items() if "exact null distribution" in t)
    permutation = next(n for n, t in notes.items() if "exact permutation distribution" in t)
    refs = {
        label.strip(): {int(x) for x in sup.split(",")}
        for label, sup in re.findall(
            r'<tr class="result">\s*<td>([^<(]+)[^<]*(?:<em>\(primary\)</em>)?'
            r'<sup title="methods">([\d,]+)</sup>',
            section,
        )
    }
    prednisone = next(v for k, v in refs.items() if k.lower().startswith("prednisone"))
    lymphocytes = next(v for k, v in refs.items() if "lymphocyte" in k.lower())
    assert exact in prednisone and permutation not in prednisone
    assert permutation in lymphocytes and exact not in lymphocytes  # tied differences
    assert "decided by wilcoxon_exact, p = 0.0625" in section


def _readme_tour() -> list[str]:
    """The `clestudy ...` lines of the README's tour block, backslash continuations joined."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("## A short tour") :]
    block = block[block.index("```sh") + 5 : block.index("```", block.index("```sh") + 5)]
    joined = block.replace("\\\n", " ")
    return [line.split("#")[0].strip() for line in joined.splitlines() if line.startswith("clestudy ")]  # fmt: skip


@pytest.mark.parametrize("subcommand", ["audit verify", "audit log", "stats paired"])
def test_readme_tour_commands_run_on_the_demo_output(
    demo_dir: Path, subcommand: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a new user pastes after `make demo` works as written (on the demo's own files)."""
    line = next(c for c in _readme_tour() if c.startswith(f"clestudy {subcommand} "))
    argv = shlex.split(line.replace("clestudy-demo/", f"{demo_dir}/"))[1:]
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    if "--json" in argv:
        rows = json.loads(out)
        assert rows[0]["measure"] == "prednisone_mg_day" and rows[0]["n_pairs"] == 5
        assert rows[0]["mean_before"] == pytest.approx(23.0)
    else:
        assert out.strip()


def test_demo_passes_the_edit_checks_but_the_planted_late_visit(demo_dir: Path) -> None:
    """Every demo record is complete and the only discrepancies are the ones planted on purpose:
    L04's week-24 visit, three weeks late, flagged on each of its dated forms; the report lists
    them as open."""
    url = f"sqlite:///{demo_dir / 'clestudy.db'}"
    found = []
    for study in ("lenalidomide-cle-open-label", "pediatric-cle-chart-review"):
        with open_store(url, study) as store:
            assert {r.status for r in store.records()} == {"complete"}
            found += [(study, d.record, d.check_id, d.status) for d in store.discrepancies()]
    assert found == [
        ("lenalidomide-cle-open-label", f"L04/week_24/{form}", "builtin.visit_window", "open")
        for form in ("vs", "clasi", "labs")
    ]
    html = (demo_dir / "report.html").read_text(encoding="utf-8")
    section = html.split("<h3>Open discrepancies</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", section)
    assert [r[:3] for r in rows] == [
        ("L04/week_24/vs", "builtin.visit_window", "vsdat"),
        ("L04/week_24/clasi", "builtin.visit_window", "rsdat"),
        ("L04/week_24/labs", "builtin.visit_window", "lbdat"),
    ]
    assert rows[0][3] == (
        "field &#39;vsdat&#39; 2009-09-07 is study day 189 (baseline 2009-03-02); visit "
        "&#39;week_24&#39; allows days 154 to 182"
    )
