"""Randomization guards: the scheme is frozen by the first randomization, and a stratification
value changed afterwards is recorded as a stratification error, never re-stratified.

(a) An amendment that changes the ``randomization`` section, or the strata it defines, once a
subject is randomized is refused; only ``blinded_roles`` may change. (b) Changing a
stratification field of a randomized subject keeps the assignment and its stratum, and opens the
discrepancy ``randomization.stratum`` naming the stratum at randomization (Yelland et al. 2015,
doi:10.1177/1740774515588097). SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clestudy.errors import InputError
from clestudy.protocol import Choice, Protocol, load_protocol
from clestudy.store import RecordInput, Store, audit_events, verify_audit

OpenStudy = Callable[..., Store]
PROTOCOL = load_protocol(Path(__file__).parents[1] / "randomization" / "randomized.yaml")
STUDY = PROTOCOL.id
STRATUM_CHECK = "randomization.stratum"


def _amended(version: str, **changes: object) -> Protocol:
    spec = PROTOCOL.randomization
    assert spec is not None
    return PROTOCOL.model_copy(
        update={"version": version, "randomization": spec.model_copy(update=changes)}
    )


def _with_sex_codes(version: str, *codes: str) -> Protocol:
    forms = []
    for form in PROTOCOL.forms:
        if form.id == "dm":
            fields = tuple(
                f.model_copy(update={"choices": tuple(Choice(code=c, label=c) for c in codes)})
                if f.id == "sex"
                else f
                for f in form.fields
            )
            form = form.model_copy(update={"fields": fields})
        forms.append(form)
    return PROTOCOL.model_copy(update={"version": version, "forms": tuple(forms)})


def _randomized(open_study: OpenStudy, url: str, sex: str = "F") -> Store:
    store = open_study(url, PROTOCOL)
    store.generate_allocation(per_stratum=4, actor="admin", seed=7)
    store.add_subject("R1", arm="", site="site01", actor="coordinator")
    store.save_record("R1", "week_0", "dm", {"sex": sex, "age": 40}, actor="coordinator")
    store.randomize("R1", actor="coordinator")
    return store


# -- (a) amendments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amendment", "message"),
    [
        (_amended("1.1", ratio={"placebo": 1, "lenalidomide": 2}, block_sizes=(3, 6)), "ratio"),
        (_amended("1.1", strata=()), "strata"),
        (_amended("1.1", block_sizes=(2, 4)), "block_sizes"),
        (_amended("1.1", method="table", block_sizes=()), "block_sizes, method"),
        (PROTOCOL.model_copy(update={"version": "1.1", "randomization": None}), "removed"),
        (
            _with_sex_codes("1.1", "F", "M", "X"),
            "turns strata sex=F, sex=M into sex=F, sex=M, sex=X",
        ),
    ],
)
def test_an_amendment_of_the_randomization_after_the_first_randomization_is_refused(
    open_study: OpenStudy, db_url: str, amendment: Protocol, message: str
) -> None:
    store = _randomized(open_study, db_url)
    with pytest.raises(InputError) as caught:
        store.amend_protocol(amendment, actor="dm", reason="new scheme", force=True)
    text = str(caught.value)
    assert "1 subject is randomized" in text and message in text, text
    assert store.protocol.version == PROTOCOL.version
    assert [e["action"] for e in audit_events(db_url, entity_prefix=f"{STUDY}@")] == ["register"]


def test_blinded_roles_may_change_after_randomization(open_study: OpenStudy, db_url: str) -> None:
    store = _randomized(open_study, db_url)
    store.amend_protocol(
        _amended("1.1", blinded_roles=("statistician", "monitor")), actor="dm", reason="blind"
    )
    assert store.protocol.randomization is not None
    assert store.protocol.randomization.blinded_roles == ("statistician", "monitor")
    assert verify_audit(db_url).ok


def test_the_scheme_may_change_while_no_subject_is_randomized(
    open_study: OpenStudy, db_url: str
) -> None:
    store = open_study(db_url, PROTOCOL)
    store.generate_allocation(per_stratum=4, actor="admin", seed=7)  # a list, still unused
    store.amend_protocol(_amended("1.1", strata=()), actor="dm", reason="no strata")
    assert store.protocol.randomization is not None
    assert store.protocol.randomization.strata == ()


# -- (b) a stratification value changed after randomization --------------------------------------


def test_a_changed_stratification_value_is_recorded_and_the_assignment_stands(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _randomized(open_study, db_url, sex="F")
    before = store.randomization("R1")
    assert before is not None
    store.save_record(
        "R1", "week_0", "dm", {"sex": "M", "age": 40}, actor="coordinator",
        reason="sex entered wrongly", expected_version=1,
    )  # fmt: skip
    after = store.randomization("R1")
    assert after == before  # same number, stratum and arm
    subject = store.subject("R1")
    assert subject is not None and subject.arm == before.arm
    (found,) = store.discrepancies(status="open", subject_id="R1")
    assert (found.check_id, found.fields, found.severity) == (STRATUM_CHECK, ("sex",), "warning")
    assert f"stratum at randomization was sex=F (number {before.number})" in found.message
    assert "now give sex=M" in found.message
    assert before.arm not in found.message  # the discrepancy never reveals the arm
    # back to the value at randomization: resolved by the save, as any edit-check warning
    store.save_record(
        "R1", "week_0", "dm", {"sex": "F", "age": 40}, actor="coordinator",
        reason="source checked", expected_version=2,
    )  # fmt: skip
    assert store.discrepancies(status="open", subject_id="R1") == []
    assert verify_audit(db_url).ok


def test_other_fields_and_subjects_not_yet_randomized_raise_nothing(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _randomized(open_study, db_url)
    store.save_record(
        "R1", "week_0", "dm", {"sex": "F", "age": 41}, actor="coordinator", reason="typo",
        expected_version=1,
    )  # fmt: skip
    store.add_subject("R2", arm="", site="site01", actor="coordinator")
    store.save_record("R2", "week_0", "dm", {"sex": "F", "age": 40}, actor="coordinator")
    store.save_record(
        "R2", "week_0", "dm", {"sex": "M", "age": 40}, actor="coordinator", reason="typo",
        expected_version=1,
    )  # fmt: skip
    assert store.discrepancies() == []


def test_a_cleared_stratification_value_is_recorded_too(open_study: OpenStudy, db_url: str) -> None:
    store = _randomized(open_study, db_url)
    store.save_record(
        "R1", "week_0", "dm", {"sex": None, "age": 40}, actor="coordinator", reason="unknown",
        expected_version=1,
    )  # fmt: skip
    (found,) = store.discrepancies(status="open")
    assert "stratum at randomization was sex=F" in found.message
    assert "sex now holds no value" in found.message


def test_the_preview_shows_the_stratification_warning_before_the_save(
    open_study: OpenStudy, db_url: str
) -> None:
    store = _randomized(open_study, db_url, sex="F")
    changed = store.preview_record(RecordInput("R1", "week_0", "dm", {"sex": "M", "age": 40}))
    (found,) = changed.findings
    assert (found.check_id, found.fields, found.severity) == (STRATUM_CHECK, ("sex",), "warning")
    assert "stratum at randomization was sex=F" in found.message
    same = store.preview_record(RecordInput("R1", "week_0", "dm", {"sex": "F", "age": 41}))
    assert same.findings == []
    assert store.discrepancies() == []  # a preview writes nothing
