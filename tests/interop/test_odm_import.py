"""ODM import: the OpenClinica 3 extract (lindsay-stevens/openclinica_scripts, MIT) becomes a
study with its records, and its audit logs and discrepancy notes are kept as imported history,
visible in the audit log and in the ODM export; bad files are refused naming file, line and
element, with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from tests.interop.test_odm import schema  # noqa: F401  (the XSD fixture)

from clestudy.cli import main
from clestudy.errors import InputError
from clestudy.interop import export_odm, import_odm
from clestudy.interop._odm_import import read_odm
from clestudy.store import IMPORTED_HISTORY, audit_events, open_store, verify_audit

STUDY = "r01-123456"


@pytest.fixture
def extract(fixtures: Path) -> Path:
    return fixtures / "odm" / "openclinica3_extract_with_dnotes.xml"


@pytest.fixture
def xsd(fixtures: Path) -> Path:
    return fixtures / "odm" / "xsd-1.3.2" / "ODM1-3-2.xsd"


def _history(url: str) -> list[dict[str, object]]:
    return [e for e in audit_events(url) if e["entity_type"] == IMPORTED_HISTORY]


def _mutated(extract: Path, tmp_path: Path, old: str, new: str) -> Path:
    text = extract.read_text(encoding="ascii")
    assert old in text
    path = tmp_path / "bad.xml"
    path.write_text(text.replace(old, new, 1), encoding="ascii")
    return path


def test_metadata_becomes_a_protocol(extract: Path, xsd: Path) -> None:
    content = read_odm(extract, schema=xsd)
    protocol = content.metadata.protocol
    assert protocol.id == STUDY and protocol.title.startswith("Docetaxel in Patients")
    assert [v.id for v in protocol.visits] == [
        "registrationvisit", "initialtreatment", "followuptreatment", "adverseevents",
    ]  # fmt: skip
    assert [s.id for s in protocol.sites] == [
        "s_r0112345", "s_r0112345_6657", "s_r0112345_7258", "s_r0112345_7640", "s_r0112345_8478",
    ]  # fmt: skip
    exam = protocol.form("physicalexam_english")
    assert exam is not None and not exam.repeating
    pulse = exam.field("pulse")
    assert pulse is not None and (pulse.type, pulse.unit, pulse.label) == (
        "integer", "per min", "Pulse Rate:",
    )  # fmt: skip
    # the English CRF's codes (1, 2, 99) join the list the item refers to (the Spanish 1, 4, 999)
    skin = exam.field("skin")
    assert skin is not None and [c.code for c in skin.choices] == ["1", "4", "999", "2", "99"]
    dose = protocol.form("agentadminis_v10__agent_dosetable")
    assert dose is not None and dose.repeating
    check = next(c for c in protocol.edit_checks if c.id == "physicalexam_english.pulse_range")
    assert (check.rule, check.severity) == ("pulse >= 60 and pulse <= 100", "warning")
    systolic = exam.field("systolic")  # a text item: its range check is kept, not evaluated
    assert systolic is not None and json.loads(systolic.annotations["odm_range_checks"])[0][:2] == [
        "GE", "110",
    ]  # fmt: skip
    assert (len(content.subjects), len(content.records), len(content.history)) == (13, 56, 183)


def test_extract_imports_with_its_audit_logs_and_notes(extract: Path, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    plan = import_odm(url, extract, actor="importer")
    assert plan.new_study and len(plan.new_subjects) == 13 and len(plan.creates) == 56
    assert plan.history == 183 and "sha256 " in plan.reason
    with open_store(url, STUDY) as store:
        records = {r.key: r for r in store.records()}
        sites = {s.subject_id: s.site for s in store.subjects()}
    exam = records["CAM101/registrationvisit/physicalexam_english"]
    assert (exam.values["pulse"], exam.values["weight"], exam.values["pedat"]) == (
        67, "145", "2011-07-01",
    )  # fmt: skip
    assert records["CAM101/initialtreatment/concomitantm_v10__conco_concomitantmedications#2"]
    assert sites["CAM101"] == "s_r0112345_6657" and sites["SMC101"] == "s_r0112345_8478"
    history = _history(url)
    assert len(history) == 183
    assert all(e["actor"] == "importer" and e["reason"] == plan.reason for e in history)
    update = next(e["after"] for e in history if e["after"]["id"] == "AL_1901")  # type: ignore[index]
    assert update == {
        "source": "OpenClinica", "kind": "audit-log", "id": "AL_1901", "who": "USR_6",
        "who_name": "Jon Smith", "when": "2011-07-06T20:30:27",
        "type": "Item data value updated", "old": "50", "new": "80",
        "entity": "I_PHYSI_HEIGHT", "item": "height",
    }  # fmt: skip
    note = next(e for e in history if e["after"]["id"] == "DN_7")  # type: ignore[index]
    assert note["entity_key"] == f"{STUDY}/CAM105/initialtreatment/physicalexam_english"
    assert note["after"]["thread"] == [  # type: ignore[index]
        {
            "status": "New", "when": "2011-07-06",
            "description": "Pulse was taken twice and was 59 BPM",
            "detail": "[Pulse rate ouf of expected range of 60-100(must be an integer)]",
            "who": "USR_2", "who_name": "Alicia Goodwin",
        }
    ]  # fmt: skip
    # the record's own history shows the imported entries beside clestudy's create, and the
    # pulse of 59 outside OpenClinica's range check opens a clestudy discrepancy as it opened DN_7
    mine = audit_events(url, entity_prefix=f"{STUDY}/CAM105/initialtreatment/physicalexam_english")
    assert {e["entity_type"] for e in mine} == {"form_record", IMPORTED_HISTORY, "discrepancy"}
    opened = next(e for e in mine if e["entity_type"] == "discrepancy")
    assert str(opened["entity_key"]).endswith("physicalexam_english.pulse_range")
    assert verify_audit(url).ok


def test_imported_history_is_in_the_odm_export(
    extract: Path,
    tmp_path: Path,
    schema: etree.XMLSchema,  # noqa: F811
) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_odm(url, extract, actor="importer")
    with open_store(url, STUDY) as store:
        path = export_odm(store, tmp_path / "out")[0]
    document = etree.parse(str(path), etree.XMLParser(no_network=True))
    assert schema.validate(document), schema.error_log
    comments = [c.text or "" for c in document.iter("{*}Comment")]
    kept = [json.loads(c.removeprefix("imported history: ")) for c in comments
            if c.startswith("imported history: ")]  # fmt: skip
    assert len(kept) == 183
    assert {k["id"] for k in kept} >= {"AL_835", "AL_1901", "DN_7", "DN_999"}


def test_dry_run_writes_nothing_and_reimport_changes_nothing(extract: Path, tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    url = f"sqlite:///{db}"
    preview = import_odm(url, extract, actor="importer", dry_run=True)
    assert preview.dry_run and len(preview.creates) == 56 and preview.history == 183
    assert not db.exists()
    import_odm(url, extract, actor="importer")
    events = audit_events(url)
    again = import_odm(url, extract, actor="importer")
    assert (again.creates, again.updates, again.new_subjects, again.history) == ([], [], [], 0)
    assert len(again.unchanged) == 56
    assert audit_events(url) == events


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '<ItemData ItemOID="I_PHYSI_PEDAT" Value="2011-07-01"/>',
            '<ItemData ItemOID="I_PHYSI_NOPE" Value="2011-07-01"/>',
            r"bad.xml: line 4773: <ItemData key=\"I_PHYSI_NOPE\">: item 'I_PHYSI_NOPE' is not "
            r"in group 'IG_PHYSI_UNGROUPED'",
        ),
        (
            '<ItemData ItemOID="I_PHYSI_PULSE" Value="67">',
            '<ItemData ItemOID="I_PHYSI_PULSE" Value="sixty">',
            r"bad.xml: line 4772: <ItemGroupData>: CAM101/registrationvisit/physicalexam_english: "
            r"field 'pulse': 'sixty' is not an integer",
        ),
        (
            '<StudyEventData StudyEventOID="SE_FOLLOWUPTREATMENT" StudyEventRepeatKey="1">',
            '<StudyEventData StudyEventOID="SE_FOLLOWUPTREATMENT" StudyEventRepeatKey="2">',
            r"line 4922: <StudyEventData>: StudyEventRepeatKey 2: a repeated study event cannot "
            r"be represented",
        ),
        ("</ClinicalData>", "</Clinical>", r"bad.xml: line 5502: not well-formed XML"),
    ],
)
def test_invalid_file_is_refused_naming_line_and_element(
    extract: Path, tmp_path: Path, old: str, new: str, message: str
) -> None:
    bad = _mutated(extract, tmp_path, old, new)
    db = tmp_path / "study.db"
    with pytest.raises(InputError, match=message):
        import_odm(f"sqlite:///{db}", bad, actor="importer")
    assert not db.exists()


def test_schema_violation_is_refused_with_its_line(
    extract: Path, xsd: Path, tmp_path: Path
) -> None:
    bad = _mutated(extract, tmp_path, 'Repeating="No" Type="Scheduled"', 'Repeating="Maybe" '
                   'Type="Scheduled"')  # fmt: skip
    with pytest.raises(
        InputError, match=r"bad.xml: line 59: .*StudyEventDef', attribute 'Repeating'.*'Maybe'"
    ):
        read_odm(bad, schema=xsd)


def test_not_odm_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text("<?xml version='1.0'?>\n<catalog/>\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"other.xml: line 2: <catalog>: not a CDISC ODM 1.3"):
        read_odm(path)


def test_cli_import_odm(extract: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "study.db"
    assert main(["import", "odm", str(extract), "--db", str(db), "--dry-run", "--json"]) == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["dry_run"] and preview["history"] == 183 and not db.exists()
    assert main(["import", "odm", str(extract), "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith(
        f"imported into {STUDY} (new study): 13 new subjects, 56 records created, 0 updated, "
        "0 unchanged, 183 entries of imported history"
    )
    missing = tmp_path / "missing.xml"
    assert main(["import", "odm", str(missing), "--db", str(db)]) == 2
    assert f"{missing}: no such file" in capsys.readouterr().err
