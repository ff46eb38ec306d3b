"""The typed model of a study protocol (pydantic v2).

A protocol describes a study once, as data: its arms and sites, its visits with their target day
and window, its case report forms and their fields, which forms are collected at which visit, the
derived scores computed on save, the endpoints, and the statistical analysis plan. Every other
layer reads it: the store validates records against it, the analysis finds its endpoints in it, and
the report lays out its tables from it.

Field identifiers are lower-case snake_case. Where CDASH has a variable for the item, the field id
is that variable in lower case (``sex``, ``brthdat``, ``aeterm``) and ``cdash`` names it; lower case
also makes every field a valid REDCap variable name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from clestudy.instruments._settings import settings_problems
from clestudy.protocol._sdtm_mapping import SdtmMapping

__all__ = [
    "AnalysisSpec",
    "Arm",
    "Choice",
    "DerivedScoreSpec",
    "EditCheckSpec",
    "Endpoint",
    "FieldSpec",
    "FieldType",
    "FormSpec",
    "Protocol",
    "QualityRuleSpec",
    "RandomizationSpec",
    "ReferenceRange",
    "Site",
    "Visit",
]

Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
FieldType = Literal[
    "integer", "decimal", "text", "date", "boolean", "single_choice", "multiple_choice"
]
AnalysisRule = Literal["t-then-wilcoxon", "t", "wilcoxon", "both"]
Severity = Literal["error", "warning"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Strict):
    """A treatment arm."""

    id: Identifier
    name: str


class Site(_Strict):
    """A recruiting site."""

    id: Identifier
    name: str


class Choice(_Strict):
    """One coded answer of a choice field (the code is stored, the label is shown)."""

    code: str = Field(min_length=1, max_length=64)
    label: str
    exclusive: bool = Field(
        default=False,
        description="In a multiple choice, this code (e.g. 'none') cannot be ticked with others",
    )


class FieldSpec(_Strict):
    """One item of a case report form."""

    id: Identifier
    label: str
    type: FieldType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    allowed: tuple[int, ...] = Field(
        default=(), description="Integer fields: the only values allowed (e.g. 0, 3, 4, 5, 6)"
    )
    required: bool = False
    choices: tuple[Choice, ...] = ()
    cdash: str | None = Field(default=None, description="CDASH variable this item collects")
    help: str | None = None
    identifier: bool = Field(
        default=False,
        description="Holds a direct identifier (name, contact, MRN...); left out of de-identified "
        "exports (REDCap's 'Identifier?' flag)",
    )
    calculation: str | None = Field(
        default=None,
        description="A calculation imported from another system, kept as documented text; "
        "clestudy never executes it (the imported value is stored as entered)",
    )
    show_if: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="Show the field only when this expression (the edit-check language, over "
        "the form's other fields) is true; a hidden field holds no value "
        "(clestudy.protocol._show_if)",
    )
    branching_logic: str | None = Field(
        default=None,
        description="Show-if logic imported from another system (e.g. REDCap branching logic), "
        "kept verbatim so that an export gives it back; clestudy evaluates its translation in "
        "show_if, or, when it has none, flags the field and does not evaluate it",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Attributes of a foreign system with no clestudy meaning, kept verbatim so "
        "that an export back to that system loses nothing (e.g. a REDCap section header)",
    )

    @model_validator(mode="after")
    def _check(self) -> FieldSpec:
        is_choice = self.type in ("single_choice", "multiple_choice")
        if is_choice and not self.choices:
            raise ValueError(f"field '{self.id}' of type {self.type} needs choices")
        if not is_choice and self.choices:
            raise ValueError(f"field '{self.id}' of type {self.type} cannot have choices")
        if (self.min is not None or self.max is not None) and self.type not in (
            "integer",
            "decimal",
        ):
            raise ValueError(f"field '{self.id}': min/max apply only to integer and decimal fields")
        if self.allowed and self.type != "integer":
            raise ValueError(f"field '{self.id}': allowed values apply only to integer fields")
        outside = [
            v
            for v in self.allowed
            if (self.min is not None and v < self.min) or (self.max is not None and v > self.max)
        ]
        if outside:
            raise ValueError(f"field '{self.id}': allowed values {outside} are outside min/max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"field '{self.id}': min {self.min} is greater than max {self.max}")
        codes = [c.code for c in self.choices]
        if len(set(codes)) != len(codes):
            raise ValueError(f"field '{self.id}': duplicated choice codes")
        if self.type != "multiple_choice" and any(c.exclusive for c in self.choices):
            raise ValueError(f"field '{self.id}': exclusive choices apply only to multiple_choice")
        return self


class FormSpec(_Strict):
    """A case report form: an ordered list of fields, optionally repeating (e.g. adverse events)."""

    id: Identifier
    name: str
    domain: str | None = Field(default=None, description="CDASH/SDTM domain, e.g. DM, LB, AE")
    repeating: bool = False
    visit_date: Identifier | None = Field(
        default=None,
        description="The date field that dates the assessment (checked against the visit window)",
    )
    fields: tuple[FieldSpec, ...] = Field(min_length=1)

    def field(self, field_id: str) -> FieldSpec | None:
        """Return the field with this id, or ``None``."""
        return next((f for f in self.fields if f.id == field_id), None)


class Visit(_Strict):
    """A scheduled visit: target study day, allowed window, and the forms collected."""

    id: Identifier
    name: str
    day: int
    window_before: int = Field(default=0, ge=0)
    window_after: int = Field(default=0, ge=0)
    forms: tuple[Identifier, ...] = ()


class DerivedScoreSpec(_Strict):
    """A score computed on save by a named instrument over the fields of one form."""

    id: Identifier
    instrument: Identifier
    form: Identifier


class EditCheckSpec(_Strict):
    """A cross-field rule on one form, written in the safe expression language of
    :mod:`clestudy.protocol._expressions` (e.g. ``wbc >= neut + lym``).

    The rule is evaluated only when every field it names holds a value (completeness is the
    business of ``required``), and only when ``when`` (if given) is true. A rule that is false
    gives a finding: ``error`` refuses the save, ``warning`` saves and opens a discrepancy.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)
    form: Identifier
    rule: str = Field(min_length=1, max_length=500)
    when: str | None = Field(default=None, min_length=1, max_length=500)
    severity: Severity = "error"
    message: str = Field(min_length=1, max_length=500)
    fields: tuple[Identifier, ...] = Field(
        default=(), description="The fields the finding names (default: those the rule uses)"
    )
    source: str | None = Field(default=None, description="Where the rule comes from (citation)")


class QualityRuleSpec(_Strict):
    """A study-specific data-quality rule, run over the whole study by ``clestudy dq run``
    (:func:`clestudy.protocol.run_quality_rules`), never on save.

    ``rule`` is an expression of the edit-check language (:mod:`clestudy.protocol._expressions`)
    that must hold for every stored record of ``form``; a record where it is false gives one
    finding. Besides the record's own field ids and the context dates it may read another form of
    the same subject as ``VISIT__FORM__FIELD`` (instance 1), e.g.
    ``weight <= baseline__vs__weight * 1.5``. It is evaluated only when every name it reads holds a
    value, and only where ``when`` (if given) is true, as for edit checks.
    """

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=64)
    form: Identifier
    rule: str = Field(min_length=1, max_length=500)
    when: str | None = Field(default=None, min_length=1, max_length=500)
    severity: Severity = "warning"
    message: str = Field(min_length=1, max_length=500)
    fields: tuple[Identifier, ...] = Field(
        default=(), description="The fields the finding names (default: the form's fields it reads)"
    )
    source: str | None = Field(default=None, description="Where the rule comes from (citation)")


class ReferenceRange(_Strict):
    """The study laboratory's normal range of one lab field, so labs can be CTCAE-graded on save.

    CTCAE v5.0 grades most lab terms against the lower or upper limit of normal (LLN, ULN) of the
    laboratory that measured the value; they differ between laboratories, so the study states
    them here (or the form captures them per value). A range may be limited to one sex (CDISC
    SEX codes) and an age band in years (``age_min`` inclusive, ``age_max`` exclusive).
    """

    form: Identifier
    field: Identifier
    unit: str = Field(min_length=1, description="Must equal the field's unit")
    lln: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    uln: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    sex: Literal["F", "M"] | None = None
    age_min: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    age_max: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1, description="The laboratory and date of its ranges")

    @model_validator(mode="after")
    def _check(self) -> ReferenceRange:
        if self.lln is None and self.uln is None:
            raise ValueError("a reference range needs lln, uln or both")
        if self.lln is not None and self.uln is not None and self.lln >= self.uln:
            raise ValueError(f"lln {self.lln:g} must be below uln {self.uln:g}")
        if self.age_min is not None and self.age_max is not None and self.age_min >= self.age_max:
            raise ValueError(f"age_min {self.age_min:g} must be below age_max {self.age_max:g}")
        return self

    def applies(self, sex: str | None = None, age: float | None = None) -> bool:
        """Whether this range is the one for a subject of ``sex`` and ``age`` (years)."""
        if self.sex is not None and sex != self.sex:
            return False
        if self.age_min is not None and (age is None or age < self.age_min):
            return False
        return not (self.age_max is not None and (age is None or age >= self.age_max))


class Endpoint(_Strict):
    """An outcome measure: a form field or a derived-score value."""

    id: Identifier
    label: str
    form: Identifier
    item: Identifier = Field(description="a field id of the form, or a derived-score output")
    unit: str | None = None
    role: Literal["primary", "secondary", "exploratory", "safety"] = "secondary"


class AnalysisSpec(_Strict):
    """One prespecified comparison of an endpoint between two visits."""

    endpoint: Identifier
    before_visit: Identifier
    after_visit: Identifier
    rule: AnalysisRule = "t-then-wilcoxon"
    alpha: float = Field(default=0.05, gt=0, lt=1)


#: The account roles that a protocol may blind (admins run the allocation table, so never blind).
BlindableRole = Literal["investigator", "coordinator", "monitor", "statistician"]


class RandomizationSpec(_Strict):
    """How subjects of a randomized study are allocated to the arms, and who is blinded.

    Stratified randomization with permuted blocks of randomly varying size conceals the next
    allocation while keeping the arms balanced within each stratum: within a block of size
    ``b`` the arms appear exactly in the ratio, so at any point of a stratum's list the arm
    counts differ from the ratio by less than half a block, and varying ``b`` at random stops a
    site from predicting the last allocations of a block (ICH E9, section 2.3.2, "Randomisation";
    Efird J., "Blocked randomization with randomly selected block sizes", Int J Environ Res
    Public Health 2011;8(1):15-20, doi:10.3390/ijerph8010015).

    Attributes
    ----------
    method : {"permuted_blocks", "table"}
        ``permuted_blocks``: the list is generated from a seed given at generation (the seed is
        never stored, only a SHA-256 commitment); ``table``: an allocation table is uploaded.
    ratio : dict
        Arm id to its allocation weight, e.g. ``{placebo: 1, active: 1}`` or ``{placebo: 1,
        active: 2}``; names every arm of the protocol.
    visit, form : str
        Where the stratification fields are captured (the baseline form).
    strata : tuple of str
        The stratification fields of that form, categorical (single choice or yes/no); the
        stratum is the combination of their values. Empty: one stratum.
    block_sizes : tuple of int
        ``permuted_blocks`` only: the sizes a block is drawn from, each a multiple of the ratio
        sum (e.g. ``[4, 6]`` for 1:1).
    blinded_roles : tuple of str
        Roles that never see the arm (default none: open label, as both built-in studies).
    """

    method: Literal["permuted_blocks", "table"]
    ratio: dict[Identifier, int] = Field(min_length=2)
    visit: Identifier
    form: Identifier
    strata: tuple[Identifier, ...] = ()
    block_sizes: tuple[int, ...] = ()
    blinded_roles: tuple[BlindableRole, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> RandomizationSpec:
        bad = [arm for arm, weight in self.ratio.items() if weight < 1]
        if bad:
            raise ValueError(f"ratio: every weight must be a positive integer ({bad} are not)")
        total = sum(self.ratio.values())
        if self.method == "permuted_blocks":
            if not self.block_sizes:
                raise ValueError("permuted_blocks needs block_sizes (e.g. [4, 6])")
            wrong = [b for b in self.block_sizes if b < 1 or b % total]
            if wrong:
                raise ValueError(
                    f"block_sizes {wrong} are not positive multiples of the ratio sum {total}"
                )
            if len(set(self.block_sizes)) != len(self.block_sizes):
                raise ValueError(f"block_sizes {list(self.block_sizes)} repeat a size")
        elif self.block_sizes:
            raise ValueError("block_sizes apply only to method permuted_blocks")
        if len(set(self.strata)) != len(self.strata):
            raise ValueError(f"strata {list(self.strata)} repeat a field")
        return self


class Protocol(_Strict):
    """A whole study definition."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    title: str
    version: str
    description: str = ""
    synthetic_note: str | None = None
    arms: tuple[Arm, ...] = Field(min_length=1)
    sites: tuple[Site, ...] = Field(min_length=1)
    visits: tuple[Visit, ...] = Field(min_length=1)
    forms: tuple[FormSpec, ...] = Field(min_length=1)
    derived_scores: tuple[DerivedScoreSpec, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    analysis_plan: tuple[AnalysisSpec, ...] = ()
    edit_checks: tuple[EditCheckSpec, ...] = ()
    quality_rules: tuple[QualityRuleSpec, ...] = Field(
        default=(), description="Study-specific data-quality rules run by `clestudy dq run`"
    )
    reference_ranges: tuple[ReferenceRange, ...] = ()
    randomization: RandomizationSpec | None = Field(
        default=None, description="Randomized allocation to the arms; none: assigned at enrolment"
    )
    sdtm: SdtmMapping | None = Field(
        default=None,
        description="SDTM targets overriding the CDASH-driven ones (clestudy.protocol._sdtm_mapping)",
    )
    settings: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Study-level settings, each checked by the instrument that reads it "
        "(clestudy.instruments._settings)",
    )
    annotations: dict[str, str] = Field(
        default_factory=dict,
        description="Attributes of a foreign system with no clestudy meaning, kept verbatim so "
        "that an export back to that system loses nothing (e.g. a REDCap project's record id "
        "field)",
    )

    @model_serializer(mode="wrap")
    def _omit_no_randomization(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # a study without randomization serialises as before the section existed, so the
        # snapshots (and their SHA-256) of existing studies stay the same
        data: dict[str, object] = handler(self)
        for optional in ("randomization", "sdtm"):  # likewise a study without an sdtm: block
            if data.get(optional, True) is None:
                del data[optional]
        return data

    @field_validator("settings")
    @classmethod
    def _check_settings(
        cls, value: dict[str, str | int | float | bool]
    ) -> dict[str, str | int | float | bool]:
        problems = settings_problems(value)
        if problems:
            raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
        return value

    def form(self, form_id: str) -> FormSpec | None:
        """Return the form with this id, or ``None``."""
        return next((f for f in self.forms if f.id == form_id), None)

    def visit(self, visit_id: str) -> Visit | None:
        """Return the visit with this id, or ``None``."""
        return next((v for v in self.visits if v.id == visit_id), None)

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        """Return the endpoint with this id, or ``None``."""
        return next((e for e in self.endpoints if e.id == endpoint_id), None)

    def derived_for_form(self, form_id: str) -> tuple[DerivedScoreSpec, ...]:
        """The derived scores computed when a record of ``form_id`` is saved."""
        return tuple(d for d in self.derived_scores if d.form == form_id)

    def reference_range(
        self, form_id: str, field_id: str, *, sex: str | None = None, age: float | None = None
    ) -> ReferenceRange | None:
        """The study's reference range of a lab field for a subject, or ``None``.

        The first range in protocol order that applies wins, so list sex- and age-specific ranges
        before a general one.
        """
        return next(
            (
                r
                for r in self.reference_ranges
                if r.form == form_id and r.field == field_id and r.applies(sex, age)
            ),
            None,
        )

    def checks_for_form(self, form_id: str) -> tuple[EditCheckSpec, ...]:
        """The declared edit checks run when a record of ``form_id`` is saved."""
        return tuple(c for c in self.edit_checks if c.form == form_id)
