"""ODM 1.3.2 export: valid against the official XSD (offline), metadata complete, and the
clinical data's transactions replay to the store's values with who, when, why and old values."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from clestudy.cli import main
from clestudy.interop import export_odm
from clestudy.interop._odm import ODM_NS
from clestudy.store import Store, audit_events, open_store

NS = {"odm": ODM_NS}


def _find(element: etree._Element, path: str) -> etree._Element:
    """The one child at ``path`` (ODM namespace), failing the test when it is missing."""
    found = element.find(path, namespaces=NS)
    assert found is not None, f"no {path} under {element.tag}"
    return found


def _attr(element: etree._Element, name: str) -> str:
    value = element.get(name)
    assert value is not None, f"{element.tag} has no {name}"
    return value


@pytest.fixture
def schema(fixtures: Path) -> etree.XMLSchema:
    """The ODM 1.3.2 schema, its imports (xml.xsd, xmldsig) resolved from the local folder."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    xsd = fixtures / "odm" / "xsd-1.3.2" / "ODM1-3-2.xsd"
    return etree.XMLSchema(etree.parse(str(xsd), parser))


def _export(store: Store, folder: Path) -> etree._ElementTree:
    paths = export_odm(store, folder)
    assert [p.name for p in paths] == ["odm.xml", "manifest.json"]
    return etree.parse(str(paths[0]), etree.XMLParser(no_network=True))


def test_demo_studies_validate_against_the_xsd(
    demo_store: Store, schema: etree.XMLSchema, tmp_path: Path
) -> None:
    document = _export(demo_store, tmp_path)
    assert schema.validate(document), schema.error_log
    root = document.getroot()
    assert root.get("ODMVersion") == "1.3.2" and root.get("FileType") == "Transactional"
    del root.attrib["CreationDateTime"]  # the validator really checks: a required attribute
    assert not schema.validate(document)


def test_metadata_names_every_visit_form_item_code_list_unit_and_range(
    demo_store: Store, tmp_path: Path
) -> None:
    root = _export(demo_store, tmp_path).getroot()
    protocol = demo_store.protocol
    names = {e.get("Name") for e in root.iterfind(".//odm:StudyEventDef", namespaces=NS)}
    assert names == {v.name for v in protocol.visits}
    items = {e.get("OID"): e for e in root.iterfind(".//odm:ItemDef", namespaces=NS)}
    units = {e.get("OID"): e.get("Name") for e in root.iterfind(".//odm:MeasurementUnit", namespaces=NS)}  # fmt: skip
    for form in protocol.forms:
        assert root.find(f".//odm:FormDef[@OID='F.{form.id}']", namespaces=NS) is not None
        for spec in form.fields:
            if spec.type == "multiple_choice":
                assert all(f"I.{form.id}.{spec.id}___{c.code}" in items for c in spec.choices)
                continue
            item = items[f"I.{form.id}.{spec.id}"]
            assert item.findtext("odm:Question/odm:TranslatedText", namespaces=NS) == spec.label
            checks = {c.get("Comparator"): float(_find(c, "odm:CheckValue").text or "nan")
                      for c in item.iterfind("odm:RangeCheck", namespaces=NS)}  # fmt: skip
            assert checks == {
                k: v for k, v in (("GE", spec.min), ("LE", spec.max)) if v is not None
            }
            unit_ref = item.find("odm:MeasurementUnitRef", namespaces=NS)
            assert (
                units[unit_ref.get("MeasurementUnitOID")] if unit_ref is not None else None
            ) == spec.unit
            if spec.type == "single_choice":
                codes = _find(root, f".//odm:CodeList[@OID='CL.{form.id}.{spec.id}']")
                decoded = {i.get("CodedValue"): i.findtext(".//odm:TranslatedText", namespaces=NS)
                           for i in codes.iterfind("odm:CodeListItem", namespaces=NS)}  # fmt: skip
                assert decoded == {c.code: c.label for c in spec.choices}


def _replay(root: etree._Element) -> dict[tuple[str, str, str, str], dict[str, str]]:
    """Apply every transaction in file order: (subject, event, form, repeat) -> item -> value."""
    state: dict[tuple[str, str, str, str], dict[str, str]] = {}
    for subject in root.iterfind(".//odm:SubjectData", namespaces=NS):
        for event in subject.iterfind("odm:StudyEventData", namespaces=NS):
            for form in event.iterfind("odm:FormData", namespaces=NS):
                key = (_attr(subject, "SubjectKey"), _attr(event, "StudyEventOID"),
                       _attr(form, "FormOID"), _attr(form, "FormRepeatKey"))  # fmt: skip
                cells = state.setdefault(key, {})
                for item in form.iterfind(".//odm:ItemData", namespaces=NS):
                    if item.get("IsNull") == "Yes":
                        cells.pop(_attr(item, "ItemOID"), None)
                    else:
                        cells[_attr(item, "ItemOID")] = _attr(item, "Value")
    return state


def _edited(tmp_path: Path) -> tuple[Store, str]:
    url = f"sqlite:///{tmp_path / 'edit.db'}"
    store = open_store(url, "pediatric-cle-chart-review", actor="dm")
    store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
    first = store.save_record("P01", "initiation", "steroids",
                              {"cmdat": "2011-03-01", "prednisone_mg_day": "20"}, actor="coordinator")  # fmt: skip
    store.save_record("P01", "initiation", "steroids", {"cmdat": "2011-03-01", "prednisone_mg_day": "15"},
                      actor="monitor", reason="transcription error", expected_version=first.version)  # fmt: skip
    return store, url


def test_clinical_data_replays_to_the_store(demo_store: Store, tmp_path: Path) -> None:
    from clestudy.interop._odm import _cells

    state = _replay(_export(demo_store, tmp_path).getroot())
    records = demo_store.records()
    assert len(state) == len(records) > 0
    for record in records:
        key = (
            record.subject_id,
            f"SE.{record.visit_id}",
            f"F.{record.form_id}",
            str(record.instance),
        )
        assert state[key] == _cells(demo_store.protocol, record.form_id, record.values), record.key


def test_audit_records_carry_who_when_why_and_the_old_value(
    tmp_path: Path, schema: etree.XMLSchema
) -> None:
    store, url = _edited(tmp_path)
    with store:
        document = _export(store, tmp_path / "out")
    assert schema.validate(document), schema.error_log
    items = document.getroot().findall(
        ".//odm:ItemData[@ItemOID='I.steroids.prednisone_mg_day']", namespaces=NS
    )
    assert [i.get("Value") for i in items] == ["20", "15"]
    update = next(e for e in audit_events(url) if e["action"] == "update")
    audit = _find(items[1], "odm:AuditRecord")
    assert _find(audit, "odm:UserRef").get("UserOID") == "USR.monitor"
    assert audit.findtext("odm:DateTimeStamp", namespaces=NS) == update["occurred_at"]
    assert audit.findtext("odm:ReasonForChange", namespaces=NS) == "transcription error"
    assert audit.findtext("odm:SourceID", namespaces=NS) == f"clestudy audit event {update['seq']}"
    assert items[1].findtext("odm:Annotation/odm:Comment", namespaces=NS) == "previous value: 20"
    assert _find(audit, "odm:LocationRef").get("LocationOID") == "LOC.site01"
    users = {u.findtext("odm:LoginName", namespaces=NS) for u in document.getroot().iterfind(".//odm:User", namespaces=NS)}  # fmt: skip
    assert users == {"coordinator", "monitor"}  # "dm" registered the study: not clinical data


def test_cli_export_odm(demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "odm", "--study", "pediatric-cle-chart-review", "--db", demo_url,
                 "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and out.splitlines() == [
        str(tmp_path / "odm.xml"),
        str(tmp_path / "manifest.json"),
    ]


def test_a_study_imported_from_redcap_exports_valid_odm(
    fixtures: Path, schema: etree.XMLSchema, tmp_path: Path
) -> None:
    from clestudy.interop import import_redcap

    folder = fixtures / "redcap" / "repeating-instruments"
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, folder / "dictionary.csv", folder / "data.csv", study="rep", actor="t")
    with open_store(url, "rep") as store:
        document = _export(store, tmp_path / "out")
        state = _replay(document.getroot())
        assert ("1", "SE.event_1_arm_1", "F.bp", "3") in state
    assert schema.validate(document), str(schema.error_log)
    form = document.getroot().find(".//odm:FormDef[@OID='F.bp']", namespaces=NS)
    assert form is not None and form.get("Repeating") == "Yes"
