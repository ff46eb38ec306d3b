"""Immune profiling: FCS files to cell populations, qPCR to interferon scores, skin IHC.

Files in, tidy tables out. FlowKit does the FCS reading and the gate geometry; this package
validates the inputs, runs batches in parallel processes, and turns results into DataFrames with
snake_case columns, and maps results to form values (:class:`LabValues`). It knows nothing of
the store: :func:`clestudy.store.save_lab_values` stores them.

Examples
--------
>>> from clestudy.immuno import DEFAULT_IFN_GENES, RICE_2013_THRESHOLD
>>> len(DEFAULT_IFN_GENES), RICE_2013_THRESHOLD
(6, 2.466)
"""

from clestudy.immuno._batch import default_workers, gate_batch
from clestudy.immuno._errors import (
    FcsFileError,
    GatingStrategyError,
    ManifestError,
    MeasurementFileError,
    PlateFileError,
)
from clestudy.immuno._fields import (
    beads_from_manifest,
    flow_field_values,
    parse_field_map,
    population_rows,
)
from clestudy.immuno._gating import (
    DEFAULT_MIN_EVENTS,
    OFFSET_ERROR_HINT,
    POPULATION_COLUMNS,
    BeadCount,
    FlowOptions,
    SampleResult,
    gate_fcs,
    population_records,
    read_sample,
)
from clestudy.immuno._ihc import (
    IHC_MANIFEST_COLUMNS,
    IHC_MARKERS,
    ihc_densities,
    ihc_wide,
    read_ihc_manifest,
    read_qupath_csv,
)
from clestudy.immuno._lab_values import (
    LabValues,
    flow_lab_values,
    ihc_lab_values,
    qpcr_lab_values,
)
from clestudy.immuno._manifest import FLOW_MANIFEST_COLUMNS, read_manifest
from clestudy.immuno._qpcr import (
    DEFAULT_IFN_GENES,
    DEFAULT_REFERENCE_GENES,
    RICE_2013_THRESHOLD,
    IfnScoreResult,
    QpcrSettings,
    ifn_score,
    ifn_score_records,
    read_plate_csv,
)
from clestudy.immuno._strategy import (
    TEMPLATE_STRATEGIES,
    GateRef,
    load_strategy,
    strategy_channels,
    strategy_gates,
    template_path,
    use_matrix_file,
)
from clestudy.immuno._zscore import ifn_zscore

__all__ = [
    "DEFAULT_IFN_GENES",
    "DEFAULT_MIN_EVENTS",
    "DEFAULT_REFERENCE_GENES",
    "FLOW_MANIFEST_COLUMNS",
    "IHC_MANIFEST_COLUMNS",
    "IHC_MARKERS",
    "OFFSET_ERROR_HINT",
    "POPULATION_COLUMNS",
    "RICE_2013_THRESHOLD",
    "TEMPLATE_STRATEGIES",
    "BeadCount",
    "FcsFileError",
    "FlowOptions",
    "GateRef",
    "GatingStrategyError",
    "IfnScoreResult",
    "LabValues",
    "ManifestError",
    "MeasurementFileError",
    "PlateFileError",
    "QpcrSettings",
    "SampleResult",
    "beads_from_manifest",
    "default_workers",
    "flow_field_values",
    "flow_lab_values",
    "gate_batch",
    "gate_fcs",
    "ifn_score",
    "ifn_score_records",
    "ifn_zscore",
    "ihc_densities",
    "ihc_lab_values",
    "ihc_wide",
    "load_strategy",
    "parse_field_map",
    "population_records",
    "population_rows",
    "qpcr_lab_values",
    "read_ihc_manifest",
    "read_manifest",
    "read_plate_csv",
    "read_qupath_csv",
    "read_sample",
    "strategy_channels",
    "strategy_gates",
    "template_path",
    "use_matrix_file",
]
