"""The save path's per-object lookups (``protocol._model.IdentityCache``) never serve a stale or
another object's answer: a changed copy of a frozen model gets its own index, and a show-if's
remembered answer is keyed by the typed values it read."""

from __future__ import annotations

from clestudy.protocol import FieldSpec, FormSpec, hidden_fields, load_protocol
from clestudy.protocol._model import IdentityCache

AE_FORM = load_protocol("lenalidomide-cle-open-label").form("ae")


def _form() -> FormSpec:
    assert AE_FORM is not None
    return AE_FORM


def test_a_copy_with_other_fields_is_looked_up_in_its_own_fields() -> None:
    form = _form()
    assert form.field("aeterm") is not None
    renamed = tuple(
        f.model_copy(update={"id": "aeterm_x"}) if f.id == "aeterm" else f for f in form.fields
    )
    copy = form.model_copy(update={"fields": renamed})
    assert copy.field("aeterm") is None
    assert copy.field("aeterm_x") is not None
    assert form.field("aeterm") is not None and form.field("aeterm_x") is None
    assert form.model_copy() == form  # no cached index leaks into model equality


def test_the_first_field_of_an_id_wins_as_a_search_would() -> None:
    first = FieldSpec(id="a", label="first", type="text")
    second = FieldSpec(id="a", label="second", type="text")
    form = FormSpec.model_construct(id="f", name="f", fields=(first, second))
    found = form.field("a")
    assert found is not None and found.label == "first"


def test_an_identity_cache_makes_once_per_object_and_stays_bounded() -> None:
    made: list[object] = []

    def make(obj: tuple[int, ...]) -> int:
        made.append(obj)
        return sum(obj)

    cache: IdentityCache[tuple[int, ...], int] = IdentityCache(make, maximum=2)
    a, b, c = (1, 2), (3, 4), (5, 6)
    assert [cache.get(a), cache.get(a), cache.get(b), cache.get(c)] == [3, 3, 7, 11]
    assert made == [a, b, c]
    assert len(cache._entries) == 2  # the oldest entry went first
    assert cache.get(a) == 3 and made[-1] is a  # made again, not taken for another tuple's


def test_remembered_show_if_answers_follow_the_values_read() -> None:
    form = _form()
    ongoing = {"aeout": "RECOVERING/RESOLVING"}
    resolved = {"aeout": "RECOVERED/RESOLVED"}
    for _ in range(3):  # the second and third answers come from the remembered ones
        assert list(hidden_fields(form, ongoing)) == ["aeendat"]
        assert hidden_fields(form, resolved) == {}
        assert hidden_fields(form, {}) == {}  # a blank outcome keeps the end date shown
    answer = hidden_fields(form, ongoing)
    answer.clear()  # the caller's copy: the remembered answer is untouched
    assert list(hidden_fields(form, ongoing)) == ["aeendat"]


def test_remembered_answers_follow_each_read_field() -> None:
    flag = FieldSpec(id="flag", label="flag", type="boolean")
    count = FieldSpec(id="count", label="count", type="integer")
    shown_if_true = FieldSpec(id="note", label="note", type="text", show_if="flag == True")
    shown_if_one = FieldSpec(id="other", label="other", type="text", show_if="count == 1")
    form = FormSpec(id="f", name="f", fields=(flag, count, shown_if_true, shown_if_one))
    assert hidden_fields(form, {"flag": True, "count": 2}) == {"other": "count == 1"}
    assert hidden_fields(form, {"flag": False, "count": 1}) == {"note": "flag == True"}
    assert list(hidden_fields(form, {"flag": True, "count": 1})) == []
