"""Validated clinical instruments: pure functions with versioned definitions.

Each calculator cites its source in its docstring, rejects invalid input with
:class:`InstrumentInputError` (naming the item, the value and the allowed values) and never clamps
or guesses. :func:`derive` is the entry point the store uses to compute a form's derived scores.
The study-level settings and their defaults are listed in ``docs/instruments.md``.
"""

from clestudy.instruments._cbc import (
    CBC_SCHEDULES,
    DEFAULT_CBC_SCHEDULE,
    cbc_due_dates,
    cbc_overdue,
    cbc_schedule_setting,
)
from clestudy.instruments._checks import InstrumentInputError
from clestudy.instruments._clasi import (
    CLASI_AREAS,
    CLASI_FIELDS,
    ClasiScore,
    clasi_activity_severity,
    clasi_from_fields,
    clasi_score,
)
from clestudy.instruments._clasi_response import (
    CLASI_RESPONSE_RULES,
    DEFAULT_CLASI_RESPONSE_RULE,
    ResponseResult,
    clasi_response,
    clasi_response_rule_setting,
)
from clestudy.instruments._criteria import CriteriaResult
from clestudy.instruments._ctcae_clinical import (
    CTCAE_CLINICAL_TERMS,
    ClinicalGrade,
    ctcae_clinical_grade,
)
from clestudy.instruments._ctcae_lab import (
    ABNORMAL_BASELINE_ARMS,
    CTCAE_LAB_TERMS,
    CTCAE_VERSIONS,
    DEFAULT_ABNORMAL_BASELINE_ARM,
    DEFAULT_CTCAE_VERSION,
    LabGrade,
    ctcae_lab_grade,
    ctcae_settings,
)
from clestudy.instruments._derive import (
    INSTRUMENT_FIELDS,
    INSTRUMENT_VERSIONS,
    DerivedScore,
    derive,
)
from clestudy.instruments._pregnancy import PregnancyTestCheck, pregnancy_test_check
from clestudy.instruments._registry import (
    INSTRUMENTS,
    get_instrument,
    instrument_inputs,
    instrument_table,
)
from clestudy.instruments._remission import (
    DEFAULT_DORIS_PREDNISOLONE_RULE,
    DORIS_PREDNISOLONE_RULES,
    LLDAS_MAINTENANCE_CEILINGS_MG,
    LLDAS_MAJOR_ORGAN_DESCRIPTORS,
    doris_remission,
    lldas,
)
from clestudy.instruments._renal import (
    CREATININE_UNITS,
    DEFAULT_RENAL_JURISDICTION,
    RENAL_JURISDICTIONS,
    SEX_CODES,
    WEIGHT_BASES,
    CreatinineClearance,
    RenalDoseCheck,
    cockcroft_gault,
    lenalidomide_renal_check,
    renal_jurisdiction_setting,
)
from clestudy.instruments._schedule import ScheduledCheck
from clestudy.instruments._score_json import SCORE_INSTRUMENTS, score_payload
from clestudy.instruments._selena_flare import (
    SFI_MILD_MANIFESTATIONS,
    SFI_MILD_MEDICATIONS,
    SFI_SEVERE_MANIFESTATIONS,
    SFI_SEVERE_MEDICATIONS,
    NewMedication,
    SelenaFlare,
    SelenaVisit,
    selena_flare,
)
from clestudy.instruments._sledai import (
    DEFAULT_SLEDAI2K_ARTHRITIS_RULE,
    DEFAULT_SLEDAI2K_WINDOW_DAYS,
    SLEDAI2K_DESCRIPTORS,
    SLEDAI2K_SEROLOGY,
    Sledai2kScore,
    sledai2k_score,
)
from clestudy.instruments._spec import InputSpec, Instrument
from clestudy.instruments._sri4 import BILAG_DOMAINS, BILAG_GRADES, sri_response
from clestudy.instruments._steroids import (
    DEFAULT_BETAMETHASONE_MG,
    DEFAULT_DEFLAZACORT_MG,
    STEROID_DRUGS,
    SteroidDose,
    SteroidExposure,
    prednisone_equivalent,
    steroid_exposure,
    steroid_settings,
)
from clestudy.instruments._thalidomide import (
    DEFAULT_SNAP_RULE,
    DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G,
    SNAP_RULES,
    ThalidomideNeuropathyCheck,
    thalidomide_neuropathy_check,
    thalidomide_settings,
)

__all__ = [
    "ABNORMAL_BASELINE_ARMS",
    "BILAG_DOMAINS",
    "BILAG_GRADES",
    "CBC_SCHEDULES",
    "CLASI_AREAS",
    "CLASI_FIELDS",
    "CLASI_RESPONSE_RULES",
    "CREATININE_UNITS",
    "CTCAE_CLINICAL_TERMS",
    "CTCAE_LAB_TERMS",
    "CTCAE_VERSIONS",
    "DEFAULT_ABNORMAL_BASELINE_ARM",
    "DEFAULT_BETAMETHASONE_MG",
    "DEFAULT_CBC_SCHEDULE",
    "DEFAULT_CLASI_RESPONSE_RULE",
    "DEFAULT_CTCAE_VERSION",
    "DEFAULT_DEFLAZACORT_MG",
    "DEFAULT_DORIS_PREDNISOLONE_RULE",
    "DEFAULT_RENAL_JURISDICTION",
    "DEFAULT_SLEDAI2K_ARTHRITIS_RULE",
    "DEFAULT_SLEDAI2K_WINDOW_DAYS",
    "DEFAULT_SNAP_RULE",
    "DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G",
    "DORIS_PREDNISOLONE_RULES",
    "INSTRUMENTS",
    "INSTRUMENT_FIELDS",
    "INSTRUMENT_VERSIONS",
    "LLDAS_MAINTENANCE_CEILINGS_MG",
    "LLDAS_MAJOR_ORGAN_DESCRIPTORS",
    "RENAL_JURISDICTIONS",
    "SCORE_INSTRUMENTS",
    "SEX_CODES",
    "SFI_MILD_MANIFESTATIONS",
    "SFI_MILD_MEDICATIONS",
    "SFI_SEVERE_MANIFESTATIONS",
    "SFI_SEVERE_MEDICATIONS",
    "SLEDAI2K_DESCRIPTORS",
    "SLEDAI2K_SEROLOGY",
    "SNAP_RULES",
    "STEROID_DRUGS",
    "WEIGHT_BASES",
    "ClasiScore",
    "ClinicalGrade",
    "CreatinineClearance",
    "CriteriaResult",
    "DerivedScore",
    "InputSpec",
    "Instrument",
    "InstrumentInputError",
    "LabGrade",
    "NewMedication",
    "PregnancyTestCheck",
    "RenalDoseCheck",
    "ResponseResult",
    "ScheduledCheck",
    "SelenaFlare",
    "SelenaVisit",
    "Sledai2kScore",
    "SteroidDose",
    "SteroidExposure",
    "ThalidomideNeuropathyCheck",
    "cbc_due_dates",
    "cbc_overdue",
    "cbc_schedule_setting",
    "clasi_activity_severity",
    "clasi_from_fields",
    "clasi_response",
    "clasi_response_rule_setting",
    "clasi_score",
    "cockcroft_gault",
    "ctcae_clinical_grade",
    "ctcae_lab_grade",
    "ctcae_settings",
    "derive",
    "doris_remission",
    "get_instrument",
    "instrument_inputs",
    "instrument_table",
    "lenalidomide_renal_check",
    "lldas",
    "prednisone_equivalent",
    "pregnancy_test_check",
    "renal_jurisdiction_setting",
    "score_payload",
    "selena_flare",
    "sledai2k_score",
    "sri_response",
    "steroid_exposure",
    "steroid_settings",
    "thalidomide_neuropathy_check",
    "thalidomide_settings",
]
