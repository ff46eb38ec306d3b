"""``clestudy export sdtm``: one SAS transport v5 file per dataset, ``define.xml`` and a manifest.

Each dataset of :func:`clestudy.interop._sdtm.sdtm_datasets` is checked against the rules of
:mod:`clestudy.interop._sdtm_rules` and written with pyreadstat (Apache-2.0, ReadStat) as
``NAME.xpt`` in version 5 (``file_format_version=5``: the version FDA's Data Standards Catalog
accepts; pyreadstat's default is 8), with its dataset label and variable labels. ``define.xml``
(:mod:`clestudy.interop._define_xml`) describes them, and ``manifest.json`` names the SDTMIG
version, the CDISC CT package, where its NCI codes were read and the codelists written without
them, the forms not tabulated, the long texts continued in SUPP-- and the adverse-event terms
left without a MedDRA coding.
"""

from __future__ import annotations

from pathlib import Path

import pyreadstat

from clestudy.errors import ClestudyError
from clestudy.interop._manifest import staged_output, write_manifest
from clestudy.interop._sdtm import Dataset, sdtm_datasets, untabulated_forms
from clestudy.interop._sdtm_meddra import CTCAE_MEDDRA_VERSION, AeCoding, read_ae_coding
from clestudy.interop._sdtm_rules import dataset_problems
from clestudy.interop._sdtm_terminology import CODE_SOURCE, missing_codes
from clestudy.interop._sdtm_vars import CT_VERSION, SDTMIG_VERSION
from clestudy.store import Store
from clestudy.store._service import utc_timestamp

__all__ = ["export_sdtm", "read_ae_coding", "write_xpt"]


def write_xpt(dataset: Dataset, path: Path) -> None:
    """Write one dataset as a SAS transport v5 file, after checking it conforms.

    Raises
    ------
    ClestudyError
        Naming every rule the dataset breaks (a bug in the mapping, never the user's input).
    """
    problems = dataset_problems(
        dataset.name, dataset.frame, dataset.labels, dataset.label, dataset.keys
    )
    if problems:
        raise ClestudyError(f"SDTM {dataset.name} does not conform: {'; '.join(problems)}")
    pyreadstat.write_xport(
        dataset.frame,
        str(path),
        file_label=dataset.label,
        column_labels=list(dataset.labels),
        table_name=dataset.name,
        file_format_version=5,
    )


def _ae_coding_note(datasets: list[Dataset], coding: AeCoding | None) -> dict[str, object]:
    """The manifest's account of the MedDRA coding (:mod:`clestudy.interop._sdtm_meddra`)."""
    source = (
        f"sponsor coding file {Path(coding.source).name}"
        if coding
        else "none given: AELLT/AELLTCD from CTCAE v5.0 terms only"
    )
    return {
        "dictionary": "MedDRA",
        "version": coding.meddra_version if coding else CTCAE_MEDDRA_VERSION,
        "source": source,
        "uncoded_terms": [t for d in datasets for t in d.uncoded_terms],
    }


def export_sdtm(
    store: Store, out_dir: Path, *, created: str | None = None, ae_coding: AeCoding | None = None
) -> tuple[Path, ...]:
    """Write ``NAME.xpt`` per dataset, ``define.xml`` and ``manifest.json`` into ``out_dir``;
    ``ae_coding`` is the sponsor's MedDRA coding file (:func:`read_ae_coding`), if any."""
    from clestudy.interop._define_xml import define_document

    datasets = sdtm_datasets(store, ae_coding=ae_coding)
    created = created or utc_timestamp(store.clock())
    with staged_output(out_dir) as scratch:
        written = []
        for dataset in datasets:
            path = scratch / f"{dataset.name.lower()}.xpt"
            write_xpt(dataset, path)
            written.append(path)
        define = scratch / "define.xml"
        define_document(store.protocol, datasets, created=created).write(
            str(define), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
        written.append(define)
        without_code = [
            f"{d.name}.{note}"
            for d in datasets
            for name, codes in d.codelists.items()
            for note in missing_codes(name, codes)
        ]
        notes = {
            "sdtm": {
                "sdtmig_version": SDTMIG_VERSION,
                "controlled_terminology": f"CDISC SDTM CT {CT_VERSION}",
                "datasets": [d.name for d in datasets],
                "forms_not_tabulated": untabulated_forms(store.protocol),
                "nci_codes": {"source": CODE_SOURCE.as_dict(), "without_code": without_code},
                "long_text_in_supp": [note for d in datasets for note in d.long_text],
                "ae_coding": _ae_coding_note(datasets, ae_coding),
            }
        }
        write_manifest(scratch, store, export_format="sdtm", files=written, notes=notes)
    return (*(out_dir / p.name for p in written), out_dir / "manifest.json")
