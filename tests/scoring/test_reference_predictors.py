"""Reference predictors learn from other people only: hand-computed cases and perturbation checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import CompositeKNN, DemographicKNN, Logistic, Majority, reference_predictors
from surveys.model import Option, Question, QuestionKind


def question(qid: str, k: int = 2) -> Question:
    return Question(id=qid, text=qid, kind=QuestionKind.categorical, options=[Option(code=str(i + 1), label=f"o{i}") for i in range(k)])


def panel(w1, w2=None, demographics=None, k=2) -> PanelMatrix:
    w1 = np.array(w1, dtype=np.int16)
    items = [f"q{j}" for j in range(w1.shape[1])]
    people = np.array([f"p{i}" for i in range(w1.shape[0])], dtype=object)
    demo = pd.DataFrame(demographics or {}, index=[str(p) for p in people])
    return PanelMatrix(people, items, {q: question(q, k) for q in items}, w1,
                       np.array(w2 if w2 is not None else w1, dtype=np.int16), demo)


def test_majority_leaves_the_person_out_by_hand():
    # item q0 answers: p0 0, p1 0, p2 1, p3 1, p4 1
    p = panel([[0], [0], [1], [1], [1]])
    proba = Majority().predict_proba(p, ["q0"])
    # for p2 the others are 0, 0, 1, 1 -> tie -> first option (0); for p0 the others are 0, 1, 1, 1 -> 1
    assert Majority().predict(p, ["q0"])[:, 0].tolist() == [1, 1, 0, 0, 0]
    # distribution of p0: counts (1, 3) + .5 smoothing -> (1.5, 3.5) / 5
    assert proba[0, 0, :2] == pytest.approx([0.3, 0.7])


def test_composite_knn_votes_of_the_most_similar_others():
    # q0 is the target; q1..q3 the other items. p0 agrees with p1 and p2 on q1..q3, with p3 on none.
    w1 = [[0, 1, 1, 1], [1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    p = panel(w1)
    knn = CompositeKNN(k=2, min_overlap=1, shrink=0.0)
    # p0's neighbours: p1, p2 (3/3 agreement on q1..q3; q0 excluded) -> both say 1
    assert knn.predict(p, ["q0"])[0, 0] == 1
    # p0's own q0 answer never counts: flipping it changes nothing for p0
    w1_flipped = [row[:] for row in w1]
    w1_flipped[0][0] = 1
    assert np.allclose(knn.predict_proba(panel(w1_flipped), ["q0"])[0], knn.predict_proba(p, ["q0"])[0])


def test_near_duplicates_never_inform_the_target():
    # q1 is a copy of q0 (a near-duplicate); q2 is noise. Excluding q1 must stop it from carrying q0.
    rng = np.random.default_rng(0)
    q0 = rng.integers(0, 2, 60)
    w1 = np.stack([q0, q0, rng.integers(0, 2, 60)], axis=1)
    p = panel(w1)
    leaky = CompositeKNN(k=5, min_overlap=1).predict(p, ["q0"])[:, 0]
    clean = CompositeKNN({"q0": {"q1"}}, k=5, min_overlap=1).predict(p, ["q0"])[:, 0]
    assert (leaky == q0).mean() == 1.0
    assert (clean == q0).mean() < 0.8
    logistic_clean = Logistic({"q0": {"q1"}}, folds=3).predict(p, ["q0"])[:, 0]
    assert (logistic_clean == q0).mean() < 0.8


def test_demographic_knn_uses_the_nearest_others():
    demo = {"age": [30, 31, 70, 71, 72], "sex": ["f", "f", "m", "m", "m"]}
    w1 = [[0], [0], [1], [1], [1]]
    p = panel(w1, demographics=demo)
    knn = DemographicKNN(k=1, fields=("age", "sex"))
    # p0's nearest other is p1 (age 31, f) -> 0; p2's nearest is p3 -> 1
    assert knn.predict(p, ["q0"])[:, 0].tolist() == [0, 0, 1, 1, 1]


def named_panel(item: str, answers: np.ndarray, demographics: dict) -> PanelMatrix:
    people = np.array([f"p{i}" for i in range(len(answers))], dtype=object)
    w1 = np.asarray(answers, dtype=np.int16)[:, None]
    return PanelMatrix(people, [item], {item: question(item, 4)}, w1, w1.copy(),
                       pd.DataFrame(demographics, index=[str(p) for p in people]))


def test_demographic_knn_drops_a_field_that_is_the_target_or_its_near_duplicate():
    # 120 people; the demographic field `degree` IS each person's answer; age carries nothing about it
    rng = np.random.default_rng(0)
    answers = rng.integers(0, 4, 120)
    demo = {"age": rng.integers(20, 80, 120).tolist(), "degree": [f"d{a}" for a in answers]}
    knn = DemographicKNN(k=1, fields=("age", "degree"))
    # control: a target item under another name -> the degree field is used, and the nearest other shares it
    leaky = knn.predict(named_panel("q0", answers, demo), ["q0"])[:, 0]
    assert (leaky == answers).mean() == 1.0
    # the target is `degree` itself: the field is dropped, only age is left -> about chance (1/4)
    clean = knn.predict(named_panel("degree", answers, demo), ["degree"])[:, 0]
    assert (clean == answers).mean() < 0.45
    # a near-duplicate of the target (educ ~ degree) is dropped too
    near = DemographicKNN({"educ": {"degree"}}, k=1, fields=("age", "degree")).predict(named_panel("educ", answers, demo), ["educ"])[:, 0]
    assert (near == answers).mean() < 0.45


@pytest.mark.parametrize("name", ["majority", "demographic_knn", "composite_knn", "logistic"])
def test_no_predictor_learns_from_the_person_it_predicts(name):
    rng = np.random.default_rng(1)
    w1 = rng.integers(0, 3, size=(40, 6)).astype(np.int16)
    demo = {"age": rng.integers(20, 80, 40).tolist(), "sex": rng.choice(["f", "m"], 40).tolist()}
    base = panel(w1, demographics=demo, k=3)
    predictor = reference_predictors([name], k=5, folds=4)[0]
    before = predictor.predict_proba(base, ["q0"])
    for option in range(3):  # the person's own answer to the target, whatever it is, changes nothing for them
        changed = w1.copy()
        changed[5, 0] = option
        after = predictor.predict_proba(panel(changed, demographics=demo, k=3), ["q0"])
        assert np.allclose(after[5], before[5]), (name, option)
    assert np.allclose(before.sum(axis=2), 1.0)
