"""Data capture in a real browser: enrolment, the CLASI grid with its live score, partial and
complete saves, a change that needs a reason, an out-of-window visit and the adverse-event log.

Each test works on a subject of its own (see ``conftest.SUBJECTS``), so they run in any order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from playwright.sync_api import Page, expect
from tests.web.browser._support import PageChecker, Served
from tests.web.conftest import STUDY

from clestudy.store import open_store

Login = Callable[[Page, str], None]


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _record_path(subject: str, visit: str, form: str, instance: int = 1) -> str:
    return f"/studies/{STUDY}/subjects/{subject}/records/{visit}/{form}/{instance}"


def _blank_fields_to_zero(page: Page) -> int:
    """Answer every still blank list of the form with its lowest value (0, or "No"), as a rater
    would for the areas without lesions; return how many were set. Only the fields the test
    then changes by hand fire the live preview."""
    count: int = page.evaluate(
        """() => {
            let n = 0;
            for (const sel of document.querySelectorAll('#record-form select')) {
                if (sel.value !== '') continue;
                const zero = [...sel.options].find(o => o.value === '0' || o.value === 'false');
                if (zero) { sel.value = zero.value; n += 1; }
            }
            return n;
        }"""
    )
    return count


def _save(page: Page) -> None:
    page.get_by_test_id("save").click()
    page.wait_for_load_state("networkidle")


def test_enrolling_a_subject(page: Page, served: Served, login: Login, pages: PageChecker) -> None:
    login(page, "coord_a")
    page.goto(served.url(f"/studies/{STUDY}"))
    expect(page.get_by_test_id("subjects-site01")).to_contain_text("A-01")
    pages.check(page, "subjects")

    page.get_by_test_id("enrol-link").click()
    expect(page.get_by_role("heading", name="Enrol a subject")).to_be_visible()
    # a site-01 coordinator may enrol at site01 only
    expect(page.locator("#site option")).to_have_text(["site01"])
    pages.check(page, "enrol")
    page.get_by_label("Subject id").fill("A-90")
    page.get_by_label("Site").select_option("site01")
    page.get_by_role("button", name="Enrol").click()

    expect(page).to_have_url(served.url(f"/studies/{STUDY}/subjects/A-90"))
    expect(page.get_by_role("heading", name="Subject A-90")).to_be_visible()
    expect(page.get_by_test_id("visit-status-week_0")).to_have_text("not started")
    pages.check(page, "schedule")

    page.goto(served.url(f"/studies/{STUDY}/enrol"))  # the same id twice is refused, with why
    page.get_by_label("Subject id").fill("A-90")
    page.get_by_role("button", name="Enrol").click()
    expect(page.get_by_test_id("enrol-error")).to_contain_text("A-90 is already enrolled")


def test_baseline_clasi_shows_the_live_score_as_values_are_entered(
    page: Page, served: Served, login: Login, pages: PageChecker
) -> None:
    login(page, "coord_a")
    page.goto(served.url(_record_path("A-01", "week_0", "clasi")))
    expect(page.get_by_test_id("clasi-grid")).to_be_visible()
    expect(page.get_by_test_id("record-status")).to_have_text("not started")
    expect(page.get_by_test_id("score-pending")).to_be_visible()

    assert _blank_fields_to_zero(page) > 50  # the grid's area items and the global items
    page.get_by_label("Scalp: erythema").select_option("2")  # the change fires the preview
    activity = page.get_by_test_id("score-clasi-clasi_activity")
    expect(activity).to_have_text("2")
    expect(page.get_by_test_id("score-clasi-clasi_damage")).to_have_text("0")

    page.get_by_label("Nose (incl. malar area): erythema").select_option("3")
    expect(activity).to_have_text("5")  # 2 + 3: the server's CLASI, recomputed as she types
    page.get_by_label("Scalp: scale/hypertrophy").select_option("1")
    expect(activity).to_have_text("6")
    pages.check(page, "form")

    page.get_by_label("Date of assessment").fill(_today().isoformat())
    _save(page)
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    expect(page.get_by_test_id("record-status")).to_have_text("complete")
    expect(activity).to_have_text("6")  # the stored score, as saved


def test_partial_save_stays_incomplete_until_the_form_is_completed(
    page: Page, served: Served, login: Login
) -> None:
    login(page, "coord_a")
    page.goto(served.url(_record_path("A-02", "week_0", "clasi")))
    page.get_by_label("Date of assessment").fill(_today().isoformat())
    page.get_by_label("Ears: erythema").select_option("1")
    _save(page)
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    expect(page.get_by_test_id("record-status")).to_have_text("incomplete")
    expect(page.get_by_test_id("score-pending")).to_be_visible()  # no score from blanks

    page.goto(served.url(f"/studies/{STUDY}/subjects/A-02"))
    expect(page.get_by_test_id("visit-status-week_0")).to_have_text("incomplete")

    # completing the form: every other item answered, which is a change of a saved record
    page.goto(served.url(_record_path("A-02", "week_0", "clasi")))
    expect(page.get_by_label("Ears: erythema")).to_have_value("1")  # the partial save is kept
    assert _blank_fields_to_zero(page) > 50
    page.get_by_label("Reason for change (required to change a saved value)").fill(
        "rest of the assessment entered"
    )
    _save(page)
    expect(page.get_by_test_id("record-status")).to_have_text("complete")
    expect(page.get_by_test_id("score-clasi-clasi_activity")).to_have_text("1")
    expect(page.get_by_test_id("score-clasi-clasi_activity_severity")).to_have_text("mild")


def test_an_edit_is_refused_without_a_reason_then_saved_with_one(
    page: Page, served: Served, login: Login, pages: PageChecker
) -> None:
    login(page, "coord_a")
    page.goto(served.url(_record_path("A-03", "week_0", "vs")))
    page.get_by_label("Date of measurement").fill(_today().isoformat())
    page.get_by_label("Weight").fill("70.5")
    _save(page)
    expect(page.get_by_test_id("record-status")).to_have_text("complete")

    page.get_by_label("Weight").fill("72.0")
    _save(page)
    expect(page.get_by_test_id("notice")).to_contain_text("a reason for change is required")
    expect(page.get_by_test_id("msg-reason")).to_contain_text("reason for change is required")
    expect(page.get_by_label("Weight")).to_have_value("72.0")  # the entry is kept, not lost
    expect(page.get_by_test_id("record-meta")).to_contain_text("version 1")  # nothing saved

    page.get_by_label("Reason for change (required to change a saved value)").fill(
        "transcription error"
    )
    _save(page)
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")
    expect(page.get_by_test_id("record-meta")).to_contain_text("version 2")

    page.get_by_test_id("audit-link").click()
    history = page.get_by_test_id("audit-table")
    expect(history).to_contain_text("70.5 → 72.0")
    expect(history.get_by_test_id("audit-reason")).to_contain_text(["", "transcription error"])
    expect(history.get_by_test_id("audit-actor")).to_have_text(["coord_a", "coord_a"])
    pages.check(page, "audit")


def test_a_visit_outside_its_window_is_flagged(page: Page, served: Served, login: Login) -> None:
    login(page, "coord_a")
    baseline = _today() - dt.timedelta(days=100)
    page.goto(served.url(_record_path("A-04", "week_0", "vs")))
    page.get_by_label("Date of measurement").fill(baseline.isoformat())
    _save(page)
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    # week 6 is due on study day 42 (window 35 to 49); today is study day 100
    page.goto(served.url(_record_path("A-04", "week_6", "vs")))
    page.get_by_label("Date of measurement").fill(_today().isoformat())
    page.get_by_label("Weight").fill("68")  # a change fires the live checks
    warning = page.get_by_test_id("msg-vsdat")
    expect(warning).to_contain_text("is study day 100")
    expect(warning).to_contain_text("visit 'week_6' allows days 35 to 49")
    expect(warning).to_contain_text("builtin.visit_window")
    _save(page)  # a warning does not block the save; it opens a discrepancy
    expect(page.get_by_test_id("notice")).to_have_text("Saved.")

    page.goto(served.url(f"/studies/{STUDY}/subjects/A-04"))
    expect(page.get_by_test_id("out-of-window-week_6")).to_have_text("out of window")
    expect(page.get_by_test_id("out-of-window-week_0")).to_have_count(0)
    with open_store(served.db_url, STUDY, migrate=False) as store:
        opened = store.discrepancies(status="open", subject_id="A-04")
    window = [d for d in opened if d.check_id == "builtin.visit_window"]
    assert [(d.record, d.updated_by) for d in window] == [("A-04/week_6/vs", "coord_a")]


def test_the_adverse_event_log_holds_two_instances(
    page: Page, served: Served, login: Login
) -> None:
    login(page, "coord_a")
    page.goto(served.url(f"/studies/{STUDY}/subjects/A-05"))
    for number, (term, grade) in enumerate((("Rash", "1"), ("Neutropenia", "3")), start=1):
        page.get_by_test_id("add-week_6-ae").click()
        expect(page).to_have_url(served.url(_record_path("A-05", "week_6", "ae", number)))
        expect(page.get_by_role("heading", level=1)).to_contain_text(f"#{number}")
        page.get_by_label("Reported term").fill(term)
        page.get_by_label("Start date").fill(_today().isoformat())
        page.get_by_label("Grade").select_option(grade)
        page.get_by_label("Serious").select_option("false")
        _save(page)
        expect(page.get_by_test_id("record-status")).to_have_text("complete")
        page.get_by_role("link", name="Subject A-05").click()

    expect(page.get_by_test_id("form-week_6-ae-1")).to_have_text("#1")
    expect(page.get_by_test_id("form-week_6-ae-2")).to_have_text("#2")
    page.get_by_test_id("form-week_6-ae-2").click()
    expect(page.get_by_label("Reported term")).to_have_value("Neutropenia")
    with open_store(served.db_url, STUDY, migrate=False) as store:
        log = [r for r in store.records(form_id="ae") if r.subject_id == "A-05"]
    assert [(r.instance, r.values["aeterm"], r.values["aetoxgr"], r.updated_by) for r in log] == [
        (1, "Rash", 1, "coord_a"),
        (2, "Neutropenia", 3, "coord_a"),
    ]
