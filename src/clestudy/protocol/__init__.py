"""Study protocols as data: the typed model, the YAML loader and record validation.

Examples
--------
>>> from clestudy.protocol import load_protocol
>>> p = load_protocol("lenalidomide-cle-open-label")
>>> [v.day for v in p.visits]
[0, 42, 84, 168, 364]
"""

from clestudy.protocol._builtin_checks import BUILTIN_CHECK_IDS
from clestudy.protocol._checks import CheckContext, EditFinding, run_edit_checks
from clestudy.protocol._field_types import FIELD_TYPES, FieldTypeSpec
from clestudy.protocol._loader import BUILTIN_PROTOCOLS, load_protocol, parse_protocol
from clestudy.protocol._model import (
    AnalysisSpec,
    Arm,
    Choice,
    DerivedScoreSpec,
    EditCheckSpec,
    Endpoint,
    FieldSpec,
    FieldType,
    FormSpec,
    MissingCode,
    Protocol,
    QualityRuleSpec,
    RandomizationSpec,
    ReferenceRange,
    Site,
    Visit,
)
from clestudy.protocol._quality import (
    BUILTIN_QUALITY_RULES,
    QualityFinding,
    QualityRecord,
    run_quality_rules,
)
from clestudy.protocol._records import StoredValue, check_values, validate_values
from clestudy.protocol._show_if import hidden_fields

__all__ = [
    "BUILTIN_CHECK_IDS",
    "BUILTIN_PROTOCOLS",
    "BUILTIN_QUALITY_RULES",
    "FIELD_TYPES",
    "AnalysisSpec",
    "Arm",
    "CheckContext",
    "Choice",
    "DerivedScoreSpec",
    "EditCheckSpec",
    "EditFinding",
    "Endpoint",
    "FieldSpec",
    "FieldType",
    "FieldTypeSpec",
    "FormSpec",
    "MissingCode",
    "Protocol",
    "QualityFinding",
    "QualityRecord",
    "QualityRuleSpec",
    "RandomizationSpec",
    "ReferenceRange",
    "Site",
    "StoredValue",
    "Visit",
    "check_values",
    "hidden_fields",
    "load_protocol",
    "parse_protocol",
    "run_edit_checks",
    "run_quality_rules",
    "validate_values",
]
