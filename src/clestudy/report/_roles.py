"""Which form plays which part in a study, read from the protocol's CDASH tags, never from ids.

A form's ``domain`` (CDASH/SDTM: ``DM``, ``AE``, ``CM``, ``EX``, ``LB``, ``VS``) says what it
collects and a field's ``cdash`` tag (``AETERM``, ``LBORRES (LBTESTCD=WBC)``) which variable it
holds, so the report finds demographics, adverse events, concomitant medication, exposure and labs
however a protocol names its forms and fields. An ``LB`` form with no ``LBORRES``-tagged field
holds study-specific measurements (flow cytometry, gene expression, immunohistochemistry): the
report treats it as the immune profile. Systemic-flare forms are those with a ``sledai2k`` or
``selena_flare`` derived score.

The diagnosis date, from which Table 1 computes age at diagnosis and disease duration, is the
``MHSTDAT`` (medical history start date) field of a non-repeating medical-history form (domain
``MH``): the form that records the disease under study, once per subject. A repeating MH form
lists many conditions, none of them singled out, so it is not read as the diagnosis. A protocol
without one gets "not collected" in Table 1, with a note.

References
----------
CDISC. Clinical Data Acquisition Standards Harmonization Implementation Guide (CDASHIG) v2.3,
2021, domains DM, AE, CM, EX, LB and VS. https://www.cdisc.org/standards/foundational/cdash
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clestudy.protocol import FieldSpec, FormSpec, Protocol

__all__ = ["FormRole", "StudyRoles", "cdash_key", "study_roles"]

_FLARE_INSTRUMENTS = frozenset({"sledai2k", "selena_flare", "selenaflare"})


def cdash_key(spec: FieldSpec) -> str | None:
    """The CDASH variable a field holds, upper case; for a result tagged with its test code
    (``LBORRES (LBTESTCD=WBC)``) the test code (``WBC``).

    >>> cdash_key(FieldSpec(id="x", label="x", type="text", cdash="aeterm"))
    'AETERM'
    >>> cdash_key(FieldSpec(id="y", label="y", type="decimal", cdash="LBORRES (LBTESTCD=WBC)"))
    'WBC'
    """
    if not spec.cdash:
        return None
    text = spec.cdash.strip().upper()
    if "=" in text and "(" in text:
        return text[text.index("=") + 1 :].rstrip(") ").strip()
    return text.split()[0]


@dataclass(frozen=True)
class FormRole:
    """A form and its fields by CDASH variable (``{"AETERM": "event_name", ...}``)."""

    form: FormSpec
    by_cdash: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The form's id."""
        return self.form.id

    def field_id(self, variable: str) -> str | None:
        """The id of the field holding CDASH ``variable``, or ``None``."""
        return self.by_cdash.get(variable)

    def numeric(self) -> list[FieldSpec]:
        """The form's integer and decimal fields, in protocol order."""
        return [f for f in self.form.fields if f.type in ("integer", "decimal")]


def _role(form: FormSpec) -> FormRole:
    tags = {key: f.id for f in form.fields if (key := cdash_key(f)) is not None}
    return FormRole(form, tags)


@dataclass(frozen=True)
class StudyRoles:
    """The forms of each part of the report; an empty tuple or ``None`` when the study lacks it."""

    demographics: FormRole | None
    adverse_events: FormRole | None
    exposure: tuple[FormRole, ...]
    conmeds: tuple[FormRole, ...]
    vitals: tuple[FormRole, ...]
    labs: tuple[FormRole, ...]
    immune: tuple[FormRole, ...]
    flare: tuple[FormRole, ...]
    graded_labs: dict[str, str]  # lab form id -> derived-score id of its CTCAE grades
    diagnosis: FormRole | None = None  # the non-repeating MH form holding MHSTDAT

    @property
    def diagnosis_date(self) -> tuple[str, str] | None:
        """(form id, field id) of the diagnosis date, or ``None`` (see the module docstring)."""
        if self.diagnosis is None:
            return None
        field_id = self.diagnosis.field_id("MHSTDAT")
        return None if field_id is None else (self.diagnosis.id, field_id)


def study_roles(protocol: Protocol) -> StudyRoles:
    """Sort the protocol's forms into the parts of the report by their CDASH domain and tags."""

    def domain(code: str) -> tuple[FormRole, ...]:
        return tuple(_role(f) for f in protocol.forms if (f.domain or "").upper() == code)

    lb = domain("LB")
    labs = tuple(r for r in lb if any(cdash_key(f) and f.cdash and "LBORRES" in f.cdash.upper()
                                      for f in r.form.fields))  # fmt: skip
    flare_forms = {d.form for d in protocol.derived_scores if d.instrument in _FLARE_INSTRUMENTS}
    demographics = domain("DM")
    adverse = domain("AE")
    history = [r for r in domain("MH") if not r.form.repeating and r.field_id("MHSTDAT")]
    return StudyRoles(
        demographics=demographics[0] if demographics else None,
        adverse_events=adverse[0] if adverse else None,
        exposure=domain("EX"),
        conmeds=domain("CM"),
        vitals=domain("VS"),
        labs=labs,
        immune=tuple(r for r in lb if r not in labs),
        flare=tuple(_role(f) for f in protocol.forms if f.id in flare_forms),
        graded_labs={d.form: d.id for d in protocol.derived_scores if d.instrument == "ctcaelabs"},
        diagnosis=history[0] if history else None,
    )
