"""The registry of study-level settings: every key a protocol's ``settings:`` may hold.

Each entry names the instrument that reads the setting, its kind, the values the instrument accepts
(taken from the instrument module's own constants), its default (the module's ``DEFAULT_*``) and
where the choice is documented. A value is checked by the instrument's own settings reader, so a
protocol is refused at load with exactly the message the instrument would give at report time.

=====================================  =========  ==============================================
setting                                kind       read by
=====================================  =========  ==============================================
``cbc_schedule``                       choice     lenalidomide CBC monitoring schedule
``clasi_response_rule``                choice     CLASI response
``ctcae_version``                      choice     CTCAE lab grading
``ctcae_abnormal_baseline_arm``        choice     CTCAE lab grading
``lenalidomide_renal_jurisdiction``    choice     lenalidomide renal dose check
``sledai2k_window_days``               integer    SLEDAI-2K
``sledai2k_arthritis_rule``            choice     SLEDAI-2K
``betamethasone_mg_per_5mg_prednisone`` number    prednisone equivalents
``deflazacort_mg_per_5mg_prednisone``  number     prednisone equivalents
``thalidomide_snap_rule``              choice     thalidomide neuropathy check
``thalidomide_cumulative_flag_g``      number     thalidomide neuropathy check
``reason_for_change_required``         boolean    the store (editing a saved record)
``queries_from_edit_checks``           boolean    the store (a query per edit-check warning)
``redcap_record_id_row``               text       REDCap export (the imported record id row)
``redcap_longitudinal``                boolean    REDCap export (events; default: > 1 visit)
``redcap_dags``                        boolean    REDCap export (data access groups)
=====================================  =========  ==============================================
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from clestudy.errors import InputError
from clestudy.instruments._cbc import CBC_SCHEDULES, DEFAULT_CBC_SCHEDULE, cbc_schedule_setting
from clestudy.instruments._checks import InstrumentInputError, check_bool
from clestudy.instruments._clasi_response import (
    CLASI_RESPONSE_RULES,
    DEFAULT_CLASI_RESPONSE_RULE,
    clasi_response_rule_setting,
)
from clestudy.instruments._ctcae_lab import (
    ABNORMAL_BASELINE_ARMS,
    CTCAE_VERSIONS,
    DEFAULT_ABNORMAL_BASELINE_ARM,
    DEFAULT_CTCAE_VERSION,
    ctcae_settings,
)
from clestudy.instruments._renal import (
    DEFAULT_RENAL_JURISDICTION,
    RENAL_JURISDICTIONS,
    renal_jurisdiction_setting,
)
from clestudy.instruments._sledai import (
    _ARTHRITIS_RULES,
    _WINDOWS,
    DEFAULT_SLEDAI2K_ARTHRITIS_RULE,
    DEFAULT_SLEDAI2K_WINDOW_DAYS,
    sledai2k_settings,
)
from clestudy.instruments._steroids import (
    DEFAULT_BETAMETHASONE_MG,
    DEFAULT_DEFLAZACORT_MG,
    steroid_settings,
)
from clestudy.instruments._thalidomide import (
    DEFAULT_SNAP_RULE,
    DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G,
    SNAP_RULES,
    thalidomide_settings,
)

__all__ = ["DEFAULT_REASON_FOR_CHANGE_REQUIRED", "SETTINGS", "SettingSpec", "settings_problems"]

SettingValue = str | int | float | bool

DEFAULT_REASON_FOR_CHANGE_REQUIRED = True
"""Editing a saved record needs a reason by default (21 CFR 11.10(e): audit trails record changes;
ICH E6(R3) 4.2.2 expects the reason where appropriate)."""


DEFAULT_QUERIES_FROM_EDIT_CHECKS = False
"""Off by default: a warning already opens a discrepancy the site sees on save; turning each
into a query is the data manager's decision per study, as in REDCap, where data-quality results
become queries only when someone raises them (Data Resolution Workflow), while OpenClinica opens
a Failed Validation Check note automatically (docs/data-management.md, "Queries")."""


def _queries_setting(settings: Mapping[str, object]) -> bool:
    value = settings.get("queries_from_edit_checks", DEFAULT_QUERIES_FROM_EDIT_CHECKS)
    return check_bool("store", "queries_from_edit_checks", value)


def _reason_setting(settings: Mapping[str, object]) -> bool:
    value = settings.get("reason_for_change_required", DEFAULT_REASON_FOR_CHANGE_REQUIRED)
    return check_bool("store", "reason_for_change_required", value)


def _redcap_setting(name: str, kind: str) -> Callable[[Mapping[str, object]], object]:
    """A reader for a setting the REDCap importer writes and the exporter reads back."""

    def read(settings: Mapping[str, object]) -> object:
        value = settings.get(name)
        if value is None:
            return None
        if kind == "boolean":
            return check_bool("redcap", name, value)
        if not isinstance(value, str):
            raise InstrumentInputError(f"redcap: {name}: got {value!r}; allowed: text")
        return value

    return read


@dataclass(frozen=True)
class SettingSpec:
    """One study-level setting.

    Attributes
    ----------
    name
        The key under ``settings:``.
    kind
        ``choice`` (one of ``choices``), ``integer`` (one of ``choices``), ``number`` (a real
        number the instrument bounds) or ``boolean``.
    choices
        The accepted values of a choice or integer setting, from the instrument's constants.
    default
        The value used when the protocol does not set it (the instrument's ``DEFAULT_*``);
        ``None`` when the reader derives it (e.g. ``redcap_longitudinal``: more than one visit).
    reader
        The instrument's own settings reader; it raises on a value the instrument refuses.
    source
        Where the setting and its default are documented.
    """

    name: str
    kind: Literal["choice", "integer", "number", "boolean", "text"]
    default: SettingValue | None
    reader: Callable[[Mapping[str, object]], object]
    source: str
    choices: tuple[SettingValue, ...] = ()


def _registry() -> Iterator[SettingSpec]:
    yield SettingSpec(
        "cbc_schedule", "choice", DEFAULT_CBC_SCHEDULE, cbc_schedule_setting,
        "clestudy.instruments._cbc (REVLIMID US PI)", CBC_SCHEDULES,
    )  # fmt: skip
    yield SettingSpec(
        "clasi_response_rule", "choice", DEFAULT_CLASI_RESPONSE_RULE, clasi_response_rule_setting,
        "clestudy.instruments._clasi_response (Klein 2011, doi:10.1001/archdermatol.2010.435)",
        CLASI_RESPONSE_RULES,
    )  # fmt: skip
    yield SettingSpec(
        "ctcae_version", "choice", DEFAULT_CTCAE_VERSION, ctcae_settings,
        "clestudy.instruments._ctcae_lab (NCI CTCAE v5.0, 2017; v6.0)", CTCAE_VERSIONS,
    )  # fmt: skip
    yield SettingSpec(
        "ctcae_abnormal_baseline_arm", "choice", DEFAULT_ABNORMAL_BASELINE_ARM, ctcae_settings,
        "clestudy.instruments._ctcae_lab; docs/instruments.md", ABNORMAL_BASELINE_ARMS,
    )  # fmt: skip
    yield SettingSpec(
        "lenalidomide_renal_jurisdiction", "choice", DEFAULT_RENAL_JURISDICTION,
        renal_jurisdiction_setting, "clestudy.instruments._renal (US PI; EU SmPC)",
        tuple(RENAL_JURISDICTIONS),
    )  # fmt: skip
    yield SettingSpec(
        "sledai2k_window_days", "integer", DEFAULT_SLEDAI2K_WINDOW_DAYS, sledai2k_settings,
        "clestudy.instruments._sledai (Gladman 2002; Touma 2010)", _WINDOWS,
    )  # fmt: skip
    yield SettingSpec(
        "sledai2k_arthritis_rule", "choice", DEFAULT_SLEDAI2K_ARTHRITIS_RULE, sledai2k_settings,
        "clestudy.instruments._sledai", _ARTHRITIS_RULES,
    )  # fmt: skip
    yield SettingSpec(
        "betamethasone_mg_per_5mg_prednisone", "number", DEFAULT_BETAMETHASONE_MG,
        steroid_settings, "clestudy.instruments._steroids (BNF)",
    )  # fmt: skip
    yield SettingSpec(
        "deflazacort_mg_per_5mg_prednisone", "number", DEFAULT_DEFLAZACORT_MG, steroid_settings,
        "clestudy.instruments._steroids (BNF; Lupus 2018, doi:10.1177/0961203317751854)",
    )  # fmt: skip
    yield SettingSpec(
        "thalidomide_snap_rule", "choice", DEFAULT_SNAP_RULE, thalidomide_settings,
        "clestudy.instruments._thalidomide (Zara 2008; Briani 2006)", tuple(SNAP_RULES),
    )  # fmt: skip
    yield SettingSpec(
        "thalidomide_cumulative_flag_g", "number", DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G,
        thalidomide_settings, "clestudy.instruments._thalidomide (CRF recommendation)",
    )  # fmt: skip
    yield SettingSpec(
        "reason_for_change_required", "boolean", DEFAULT_REASON_FOR_CHANGE_REQUIRED,
        _reason_setting, "clestudy.store (21 CFR 11.10(e); ICH E6(R3) 4.2.2)",
    )  # fmt: skip
    yield SettingSpec(
        "queries_from_edit_checks", "boolean", DEFAULT_QUERIES_FROM_EDIT_CHECKS,
        _queries_setting, "clestudy.store._queries (docs/data-management.md, Queries)",
    )  # fmt: skip
    for name, kind in (
        ("redcap_record_id_row", "text"),
        ("redcap_longitudinal", "boolean"),
        ("redcap_dags", "boolean"),
    ):
        yield SettingSpec(
            name, "boolean" if kind == "boolean" else "text", None, _redcap_setting(name, kind),
            "clestudy.interop (written by `import redcap`, read by `export redcap`)",
        )  # fmt: skip


SETTINGS: Mapping[str, SettingSpec] = {spec.name: spec for spec in _registry()}
"""Every study-level setting, by name."""


def _problem(spec: SettingSpec, value: object) -> str | None:
    try:
        spec.reader({spec.name: value})
    except InputError as exc:
        message = str(exc)
        quoted = [c for c in spec.choices if isinstance(c, str) and c == str(value)]
        if quoted and not isinstance(value, str):
            message += f" (write it in quotes: '{quoted[0]}')"
        return message
    return None


def settings_problems(settings: Mapping[str, object]) -> list[tuple[str, str]]:
    """Every problem of a protocol's ``settings``, as (key, message) in the protocol's order.

    Examples
    --------
    >>> settings_problems({"clasi_response_rule": "4-point", "ctcae_version": 5.0})
    [('ctcae_version', "ctcae: ctcae_version: got 5.0; allowed: 5.0 or 6.0 (write it in quotes: '5.0')")]
    >>> settings_problems({"clasi_rule": "4-point"})[0][1]
    "unknown setting 'clasi_rule' (did you mean 'clasi_response_rule'?); see docs/instruments.md"
    """
    problems: list[tuple[str, str]] = []
    for key, value in settings.items():
        spec = SETTINGS.get(key)
        if spec is None:
            close = difflib.get_close_matches(key, list(SETTINGS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append((key, f"unknown setting '{key}'{hint}; see docs/instruments.md"))
            continue
        problem = _problem(spec, value)
        if problem is not None:
            problems.append((key, problem))
    return problems
