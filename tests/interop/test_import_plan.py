"""An import checks each value once: the REDCap reader's checked values are what the store's own
check would keep, so the store saves them without parsing them again, and the plan compares them
with the database as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.interop.test_redcap import REPRESENTABLE, _project
from tests.interop.test_redcap_formats import _validation_project

from clestudy.interop import import_redcap
from clestudy.interop._import_plan import ImportPlan, plan_records
from clestudy.interop._redcap_project import read_project
from clestudy.protocol import check_values
from clestudy.store import CheckedValues, open_store


@pytest.mark.parametrize("name", [*REPRESENTABLE, "every-type"])
def test_checked_values_pass_the_store_check_unchanged(
    fixtures: Path, name: str, tmp_path: Path
) -> None:
    """The store trusts checked values because its own check returns them unchanged: here for
    every record of every representable fixture project, and a record holding every field and
    validation type."""
    if name == "every-type":
        dictionary, data = _validation_project(fixtures, tmp_path)
    else:
        dictionary, data = _project(fixtures, name)
    project = read_project(dictionary, data, name)
    assert project.records
    for item in project.records:
        form = project.protocol.form(item.form_id)
        assert isinstance(item.values, CheckedValues) and item.values.form is form
        assert check_values(form, item.values, where="again", require=False) == (item.values, [])


def test_the_plan_compares_checked_values_with_the_stored_ones(
    fixtures: Path, tmp_path: Path
) -> None:
    dictionary, data = _project(fixtures, "dag")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    import_redcap(url, dictionary, data, study="dag", actor="importer")
    project = read_project(dictionary, data, "dag")
    with open_store(url, "dag") as store:
        plan = ImportPlan("dag", new_study=False)
        batch = plan_records(project.protocol, project.subjects, project.records, store, plan)
    assert batch == [] and len(plan.unchanged) == len(project.records) == 3
