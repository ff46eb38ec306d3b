"""Forms from the protocol: the CLASI grid and the SLEDAI-2K check list are found from the
protocol's derived scores, and a posted form reads back into raw values."""

from __future__ import annotations

from starlette.datastructures import FormData
from tests.web.conftest import two_site_protocol

from clestudy.instruments import SLEDAI2K_DESCRIPTORS
from clestudy.protocol import Protocol, load_protocol
from clestudy.web._forms import form_layout, posted_values


def _sledai_protocol() -> Protocol:
    fields = [{"id": "sledai_date", "label": "Date", "type": "date"}] + [
        {"id": name, "label": name.replace("_", " "), "type": "boolean"}
        for name in SLEDAI2K_DESCRIPTORS
    ]
    return Protocol.model_validate(
        {
            "id": "sledai-test", "title": "t", "version": "1",
            "arms": [{"id": "a", "name": "A"}], "sites": [{"id": "site01", "name": "S"}],
            "visits": [{"id": "v0", "name": "V0", "day": 0, "forms": ["sledai"]}],
            "forms": [{"id": "sledai", "name": "SLEDAI-2K", "fields": fields}],
            "derived_scores": [{"id": "sledai", "instrument": "sledai2k", "form": "sledai"}],
        }
    )  # fmt: skip


def test_sledai_form_is_a_weighted_checklist() -> None:
    protocol = _sledai_protocol()
    form = protocol.form("sledai")
    assert form is not None
    layout = form_layout(protocol, form)
    assert [s.kind for s in layout.sections] == ["fields", "sledai_checklist"]
    checklist = layout.sections[1]
    assert [f.id for f in checklist.fields] == list(SLEDAI2K_DESCRIPTORS)
    assert checklist.weights["seizure"] == 8
    assert sum(checklist.weights.values()) == 105  # Gladman 2002: the weights sum to 105
    posted = FormData([("seizure", "false"), ("seizure", "true"), ("fever", "false")])
    values = posted_values(layout, posted)
    assert (values["seizure"], values["fever"], values["sledai_date"]) == ("true", "false", None)


def test_clasi_grid_has_13_areas_and_keeps_scalp_scarring_out() -> None:
    protocol = two_site_protocol()
    form = protocol.form("clasi")
    assert form is not None
    layout = form_layout(protocol, form)
    grids = [s for s in layout.sections if s.kind == "clasi_grid"]
    assert len(grids) == 1
    assert len(grids[0].grid) == 13
    area, cells = grids[0].grid[0]
    assert area == "scalp"
    assert cells[3] is None  # no area scarring on the scalp: scalp_scarring is its own item
    plain = [f.id for s in layout.sections if s.kind == "fields" for f in s.fields]
    assert "scalp_scarring" in plain


def test_multiple_choice_reads_every_ticked_code_and_none_as_blank() -> None:
    protocol = load_protocol("pediatric-cle-chart-review")
    form = protocol.form("skin")
    assert form is not None
    multi = form.field("skin_manifestations")
    assert multi is not None
    assert multi.type == "multiple_choice"
    layout = form_layout(protocol, form)
    codes = [c.code for c in multi.choices][:2]
    assert posted_values(layout, FormData([(multi.id, c) for c in codes]))[multi.id] == codes
    assert posted_values(layout, FormData([]))[multi.id] is None
