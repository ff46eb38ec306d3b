"""Electronic signatures in the ODM 1.3.2 export: a ``Signature`` with its ``SignatureDef``
(meaning and attestation), on the subject for a casebook and on the visit for a visit, and a
voided signature as an annotated ``Context`` transaction; valid against the official XSD."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher, profiles
from lxml import etree
from tests.interop.test_odm import NS, _export, _find, schema  # noqa: F401 - the fixture

from clestudy.store import MEANINGS, open_accounts, open_store

STUDY = "pediatric-cle-chart-review"
PASSWORD = "investigator passphrase"


def test_signatures_and_their_voiding_are_exported_and_valid(
    tmp_path: Path,
    schema: etree.XMLSchema,  # noqa: F811
) -> None:
    url = f"sqlite:///{tmp_path / 'signed.db'}"
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with open_store(url, STUDY, actor="dm") as store, open_accounts(url, hasher=hasher) as acc:
        acc.add_user("ines", role="investigator", sites=["site01"], password=PASSWORD,
                     actor="dm", full_name="Ines Vargas")  # fmt: skip
        store.add_subject("P01", arm="lenalidomide", site="site01", actor="coordinator")
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "20"},
                          actor="coordinator")  # fmt: skip
        visit = store.sign("P01", visit_id="initiation", meaning="approval", signer="ines",
                           password=PASSWORD, accounts=acc)  # fmt: skip
        casebook = store.sign("P01", meaning="review", signer="ines", password=PASSWORD,
                              accounts=acc)  # fmt: skip
        store.save_record("P01", "initiation", "steroids", {"prednisone_mg_day": "15"},
                          actor="monitor", reason="source", expected_version=1)  # fmt: skip
        document = _export(store, tmp_path / "out")
    assert schema.validate(document), schema.error_log
    root = document.getroot()
    defs = {
        d.get("OID"): (d.findtext("odm:Meaning", namespaces=NS),
                       d.findtext("odm:LegalReason", namespaces=NS))
        for d in root.iterfind(".//odm:AdminData/odm:SignatureDef", namespaces=NS)
    }  # fmt: skip
    assert defs == {
        "SD.approval.1": (MEANINGS["approval"], visit.attestation),
        "SD.review.2": (MEANINGS["review"], casebook.attestation),
    }
    signatures = root.findall(".//odm:Signature", namespaces=NS)
    parents = [s.getparent() for s in signatures]
    assert [str(p.tag).split("}")[1] for p in parents if p is not None] == [
        "StudyEventData", "SubjectData",
    ]  # fmt: skip
    on_visit = signatures[0]
    assert _find(on_visit, "odm:UserRef").get("UserOID") == "USR.ines"
    assert _find(on_visit, "odm:SignatureRef").get("SignatureOID") == "SD.approval.1"
    assert on_visit.findtext("odm:DateTimeStamp", namespaces=NS) == visit.signed_at
    assert _find(on_visit, "odm:LocationRef").get("LocationOID") == "LOC.site01"
    comments = [c.text or "" for c in root.iterfind(".//odm:Annotation/odm:Comment", namespaces=NS)]
    assert any(visit.data_sha256 in c and "initiation/steroids v1" in c for c in comments)
    voided = [c for c in comments if " is void: " in c]
    assert len(voided) == 2 and all("steroids, update" in c for c in voided)
