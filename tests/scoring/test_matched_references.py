"""Matched references (#23 item 2): what each agent condition's matched reference sees, built from the manifest's
agent inputs, hand-made cases; the too-small rule. The benchmark and study paths are tested end to end in
tests/experiments/test_matched_benchmark.py and tests/study/test_study_references.py."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from experiments.scoring import stats as st
from experiments.scoring.matched import (NO_MATCH, matched_predictor, plan_matched, too_small)
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import DemographicKNN
from surveys.model import Option, Question, QuestionKind


def question(qid: str, k: int = 2) -> Question:
    return Question(id=qid, text=qid, kind=QuestionKind.categorical, options=[Option(code=str(i + 1), label=f"o{i}") for i in range(k)])


def panel(w1, items, demographics=None, k=2) -> PanelMatrix:
    w1 = np.array(w1, dtype=np.int16)
    people = np.array([f"p{i}" for i in range(w1.shape[0])], dtype=object)
    demo = pd.DataFrame(demographics or {}, index=[str(p) for p in people])
    return PanelMatrix(people, list(items), {q: question(q, k) for q in items}, w1, w1.copy(), demo)


def entry(source: str, **inputs) -> SimpleNamespace:
    return SimpleNamespace(source=source, inputs=inputs)


def test_demographic_fields_map_to_columns_or_items_and_unknown_ones_are_named():
    p = panel([[0, 1, 0]] * 4, ["target", "polviews", "relig"], {"age": [30, 40, 50, 60], "sex": ["m", "f", "m", "f"]})
    plan = plan_matched({"demographic": [entry("demographic", demographic_fields=["age", "political_views"]),
                                         entry("demographic", demographic_fields=["sex", "religion", "pets"])]}, p)
    spec = plan["demographic"]
    assert spec.kind == "demographic_knn"
    assert spec.fields == ["age", "pets", "political_views", "religion", "sex"]  # the union over the condition's agents
    assert spec.columns == {"age": "age", "political_views": "polviews", "religion": "relig", "sex": "sex"}
    assert spec.unavailable == ["pets"]
    assert "pets" in spec.describe() and "political_views (as polviews)" in spec.describe()
    predictor = matched_predictor(spec, p, ["target"], {})
    assert isinstance(predictor, DemographicKNN)
    assert set(predictor.fields) == {"age", "polviews", "relig", "sex"}


def test_composite_match_sees_only_the_known_items_minus_what_is_hidden_per_target():
    items = ["t1", "t2", "k1", "k2", "other"]
    p = panel([[0] * 5] * 4, items)
    entries = [entry("composite", known_items=["k1", "t2"], hidden_with={"t1": ["k1"]}),
               entry("composite", known_items=["k2", "gone"])]
    spec = plan_matched({"composite": entries, "persona": [entry("persona")]}, p, {"t2": ["k2"], "t1": []})["composite"]
    assert spec.known_items == ["gone", "k1", "k2", "t2"]
    assert spec.missing_items == ["gone"]
    assert spec.hidden == {"t1": ["k1"], "t2": ["k2"]}
    predictor = matched_predictor(spec, p, ["t1", "t2"], {"t1": {"t2"}})
    # what the similarity may use for each target: known items, never the target, its hidden and near-duplicates
    usable = {t: set(items) - predictor.excluded(t) for t in ("t1", "t2")}
    assert usable == {"t1": {"k2"}, "t2": {"k1"}}


def test_free_text_conditions_have_no_matched_reference():
    p = panel([[0]] * 3, ["t"])
    plan = plan_matched({"interview": [entry("interview", demographic_fields=["age"])], "persona": [entry("persona")]}, p)
    assert plan["interview"].kind == plan["persona"].kind == "none"
    assert plan["interview"].describe() == NO_MATCH == "no matched reference (free text)"
    assert matched_predictor(plan["interview"], p, ["t"], {}) is None


def test_demographic_knn_reads_an_items_wave1_code_as_a_categorical_field():
    # the target equals polviews' answer for everyone; with polviews as its field, kNN finds it; without, it cannot
    rng = np.random.default_rng(1)
    pol = rng.integers(0, 2, 80)
    p = panel(np.stack([pol, pol], axis=1), ["target", "polviews"], {"age": rng.integers(20, 80, 80)})
    with_item = DemographicKNN(k=5, fields=["polviews"]).predict(p, ["target"])[:, 0]
    without = DemographicKNN(k=5, fields=["age"]).predict(p, ["target"])[:, 0]
    assert (with_item == pol).mean() == 1.0
    assert (without == pol).mean() < 0.8
    # and never when polviews is the target itself (the field is excluded for it)
    alone = DemographicKNN(k=5, fields=["polviews"]).predict(p, ["polviews"])[:, 0]
    assert (alone == pol).mean() < 0.8


def _sums(people: int, items: int) -> st.PersonSums:
    p = panel(np.zeros((people, items), int), [f"q{j}" for j in range(items)])
    return st.person_sums(st.Cells.from_panel(p, np.zeros((people, items), np.int16)))


@pytest.mark.parametrize("people,items,small", [(3, 6, True), (9, 30, True), (30, 9, True), (10, 10, False)])
def test_too_small_to_judge_below_ten_people_or_ten_items(people, items, small):
    text = too_small(_sums(people, items), min_items=1)
    assert (text is not None) == small
    if small:
        assert text.startswith(f"too small to judge: {people} people and {items} items")
