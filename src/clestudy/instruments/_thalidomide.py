"""Thalidomide neuropathy check: sural SNAP amplitude decline and cumulative dose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clestudy.instruments._checks import check_choice, check_number, exact

__all__ = [
    "DEFAULT_SNAP_RULE",
    "DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G",
    "SNAP_RULES",
    "ThalidomideNeuropathyCheck",
    "thalidomide_neuropathy_check",
    "thalidomide_settings",
]

SNAP_RULES: Mapping[str, tuple[int | None, int]] = MappingProxyType(
    {
        # Zara G et al., J Neurol Neurosurg Psychiatry 2008: sural SAP reduction >= 40 % used as
        # the stop criterion (no reduction step).
        "zara-2008": (None, 40),
        # Briani C et al. (CLE, PubMed 16373260): sural SNAP decline >= 50 % defined neuropathy;
        # in practice the dose was lowered at 50 % and stopped at 70 % (MDedge report).
        "briani-2006": (50, 70),
    }
)
"""Rule name -> (reduce-dose decline %, stop decline %), both inclusive."""

DEFAULT_SNAP_RULE = "zara-2008"
"""Default ``thalidomide_snap_rule``: stop at a >= 40 % sural SNAP decline, the most conservative
published criterion in clestudy's reference (reference/instruments.md 6.5)."""

DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G = 20.0
"""Cumulative thalidomide dose above which the check flags the subject (> 20 g), the CRF
recommendation of reference/instruments.md 6.5. Setting ``thalidomide_cumulative_flag_g``."""


@dataclass(frozen=True)
class ThalidomideNeuropathyCheck:
    """The neuropathy check of one nerve-conduction study against baseline.

    Attributes
    ----------
    snap_decline_percent : float
        ``100 * (baseline - current) / baseline`` (negative when the amplitude rose).
    action : str
        ``"continue"``, ``"reduce dose"`` or ``"stop"`` under ``rule``.
    cumulative_dose_flag : bool
        Cumulative dose above the flag (default > 20 g).
    rule : str
    reasons : tuple of str
    """

    snap_decline_percent: float
    action: str
    cumulative_dose_flag: bool
    rule: str
    reasons: tuple[str, ...]


def thalidomide_neuropathy_check(
    baseline_snap_uv: float,
    current_snap_uv: float,
    cumulative_dose_g: float,
    *,
    rule: str = DEFAULT_SNAP_RULE,
    cumulative_flag_g: float = DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G,
) -> ThalidomideNeuropathyCheck:
    """Check sural sensory nerve action potential (SNAP) decline and cumulative dose.

    .. math:: decline\\% = 100 \\times (SNAP_{baseline} - SNAP_{current}) / SNAP_{baseline}

    Action: ``"stop"`` when the decline reaches the rule's stop percentage, ``"reduce dose"``
    when it reaches its reduce percentage (``briani-2006`` only), else ``"continue"``. The
    cumulative dose is flagged above ``cumulative_flag_g``. Clinically significant neuropathy
    stops the drug whatever the amplitude (THALOMID PI); that judgement stays with the clinician
    and the CTCAE neuropathy grade.

    Parameters
    ----------
    baseline_snap_uv : float
        Baseline sural SNAP amplitude (uV), > 0.
    current_snap_uv : float
        Amplitude at this study (uV), >= 0.
    cumulative_dose_g : float
        Cumulative thalidomide dose (g), >= 0.
    rule : {"zara-2008", "briani-2006"}
        Study setting ``thalidomide_snap_rule``.
    cumulative_flag_g : float
        Study setting ``thalidomide_cumulative_flag_g``.

    Notes
    -----
    Sources: Briani C, et al. (CLE; PubMed 16373260); Zara G, et al. J Neurol Neurosurg
    Psychiatry 2008; Bastuji-Garin S, et al. J Invest Dermatol 2002;119:1020 (dose-dependent
    risk); reference/instruments.md 6.5.
    Validated against: the 40/50/70 % boundaries and the 20 g flag in
    tests/instruments/test_safety_schedules.py.

    Examples
    --------
    >>> c = thalidomide_neuropathy_check(10.0, 5.5, 12.0)
    >>> c.snap_decline_percent, c.action, c.cumulative_dose_flag
    (45.0, 'stop', False)
    >>> thalidomide_neuropathy_check(10.0, 5.5, 21.0, rule="briani-2006").action
    'continue'
    """
    checked_rule = check_choice("thalidomide", "rule", rule, tuple(SNAP_RULES))
    baseline = exact(
        check_number(
            "thalidomide",
            "baseline_snap_uv",
            baseline_snap_uv,
            minimum=0,
            strict_minimum=True,
            unit="uV",
        )
    )
    current = exact(
        check_number("thalidomide", "current_snap_uv", current_snap_uv, minimum=0, unit="uV")
    )
    dose = exact(
        check_number("thalidomide", "cumulative_dose_g", cumulative_dose_g, minimum=0, unit="g")
    )
    flag_at = exact(
        check_number(
            "thalidomide",
            "cumulative_flag_g",
            cumulative_flag_g,
            minimum=0,
            strict_minimum=True,
            unit="g",
        )
    )
    decline = 100 * (baseline - current) / baseline
    reduce_at, stop_at = SNAP_RULES[checked_rule]
    reasons: list[str] = []
    if decline >= stop_at:
        action = "stop"
        reasons.append(f"sural SNAP decline {float(decline):g} % >= {stop_at} % ({checked_rule})")
    elif reduce_at is not None and decline >= reduce_at:
        action = "reduce dose"
        reasons.append(f"sural SNAP decline {float(decline):g} % >= {reduce_at} % ({checked_rule})")
    else:
        action = "continue"
    flagged = dose > flag_at
    if flagged:
        reasons.append(f"cumulative dose {float(dose):g} g > {float(flag_at):g} g")
    return ThalidomideNeuropathyCheck(float(decline), action, flagged, checked_rule, tuple(reasons))


def thalidomide_settings(settings: Mapping[str, object]) -> tuple[str, float]:
    """Read ``thalidomide_snap_rule`` and ``thalidomide_cumulative_flag_g`` (defaults
    ``"zara-2008"`` and 20 g).

    Examples
    --------
    >>> thalidomide_settings({})
    ('zara-2008', 20.0)
    """
    rule = settings.get("thalidomide_snap_rule", DEFAULT_SNAP_RULE)
    flag = settings.get("thalidomide_cumulative_flag_g", DEFAULT_THALIDOMIDE_CUMULATIVE_FLAG_G)
    return (
        check_choice("thalidomide", "thalidomide_snap_rule", rule, tuple(SNAP_RULES)),
        check_number(
            "thalidomide",
            "thalidomide_cumulative_flag_g",
            flag,
            minimum=0,
            strict_minimum=True,
            unit="g",
        ),
    )
