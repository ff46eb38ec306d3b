"""Interoperability: analysis exports, REDCap and CDISC ODM in and out, SDTM out, de-identification.

Foreign formats are translated to and from clestudy's own objects (protocols and records); every
import goes through :meth:`clestudy.store.Store.save_records`, never around the store. The core
(protocol, instruments, stats, immuno) never imports this package.
"""

from clestudy.interop._analysis import ANALYSIS_FORMATS, ExportResult, export_analysis
from clestudy.interop._import_plan import ImportPlan
from clestudy.interop._manifest import MANIFEST_NAME, audit_head, file_sha256
from clestudy.interop._odm import export_odm
from clestudy.interop._odm_import import import_odm
from clestudy.interop._redcap import export_redcap, import_redcap
from clestudy.interop._sdtm_export import export_sdtm, read_ae_coding

__all__ = [
    "ANALYSIS_FORMATS",
    "MANIFEST_NAME",
    "ExportResult",
    "ImportPlan",
    "audit_head",
    "export_analysis",
    "export_odm",
    "export_redcap",
    "export_sdtm",
    "file_sha256",
    "import_odm",
    "import_redcap",
    "read_ae_coding",
]
