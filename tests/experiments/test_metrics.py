"""Metric functions against numbers worked out by hand (the derivations are in the comments)."""

from __future__ import annotations

import math

import pytest

from experiments.scoring import metrics as m
from surveys.model import Option, Question, QuestionKind


def q(qid, kind, codes=(), lo=None, hi=None):
    return Question(
        id=qid, text=qid, kind=kind, options=[Option(code=c, label=f"label {c}") for c in codes], min=lo, max=hi
    )


A = q("A", QuestionKind.ordinal, ["1", "2", "3"])
B = q("B", QuestionKind.ordinal, ["1", "2", "3"])
C = q("C", QuestionKind.categorical, ["x", "y"])
N = q("N", QuestionKind.numeric, lo=0, hi=10)
QS = {x.id: x for x in (A, B, C, N)}


def test_accuracy_counts_failed_items_as_wrong_and_skips_items_without_truth():
    truth = {"A": "1", "B": "2", "C": "x"}
    # A right, B wrong, C failed (wrong), N has no truth: 1 / 3
    acc, n = m.accuracy(QS, {"A": "1", "B": "3", "N": 4}, truth, failed={"C"})
    assert n == 3
    assert acc == pytest.approx(1 / 3)


def test_weighted_correlation_one_hot_nominal_with_1_over_k_weights():
    # agent:  A=1 -> 0.0, B=3 -> 1.0, C=x -> one-hot [1, 0] with weights [1/2, 1/2]
    # human:  A=2 -> 0.5, B=3 -> 1.0, C=x -> [1, 0]
    # x = [0, 1, 1, 0], y = [.5, 1, 1, 0], w = [1, 1, .5, .5], sum w = 3
    # mx = 1.5/3 = .5, my = 2/3; cov = (1/12 + 1/6 + 1/12 + 1/6)/3 = 1/6
    # vx = .75/3 = 1/4; vy = (15/36)/3 = 5/36; r = (1/6) / sqrt(1/4 * 5/36) = 2/sqrt(5)
    r, n = m.answer_correlation(QS, {"A": "1", "B": "3", "C": "x"}, {"A": "2", "B": "3", "C": "x"})
    assert n == 3
    assert r == pytest.approx(2 / math.sqrt(5))


def test_correlation_is_none_when_a_side_does_not_vary():
    r, _ = m.answer_correlation(QS, {"A": "2", "B": "2"}, {"A": "1", "B": "3"})
    assert r is None


def test_fisher_mean_is_not_the_plain_mean():
    # atanh(.5) = 0.549306, atanh(.8) = 1.098612, mean 0.823959, tanh -> 0.677219
    assert m.fisher_mean([0.5, 0.8]) == pytest.approx(0.677219, abs=1e-6)
    assert m.fisher_mean([0.5, None]) == pytest.approx(0.5)
    assert m.fisher_mean([]) is None


def test_scaled_mae_on_0_1_by_the_items_range():
    # N: |2/10 - 7/10| = .5 ; A (ordinal): |0 - 1| = 1 -> mean .75
    mae, n = m.scaled_mae(QS, {"N": 2, "A": "1"}, {"N": 7, "A": "3"})
    assert n == 2
    assert mae == pytest.approx(0.75)


def test_parity_difference_best_minus_worst_group():
    # F: (2/3 + 1/2) / 2 = 7/12 ; M: 1.0 -> 1 - 7/12 = 5/12
    parity = m.parity_difference({"p1": 2 / 3, "p2": 1.0, "p3": 0.5, "p4": None}, {"p1": "F", "p2": "M", "p3": "F", "p4": "M"})
    assert parity.best == "M" and parity.worst == "F"
    assert parity.difference == pytest.approx(5 / 12)
    assert parity.sizes == {"F": 2, "M": 1}


def test_parity_needs_two_groups():
    assert m.parity_difference({"p1": 1.0}, {"p1": "F"}).difference is None


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.2, 0.4, 0.5, 0.9, 0.7, 0.3]
    first = m.bootstrap_ci(values, n_boot=500, seed=3)
    again = m.bootstrap_ci(values, n_boot=500, seed=3)
    other = m.bootstrap_ci(values, n_boot=500, seed=4)
    assert first == again
    assert first != other
    assert first[0] < sum(values) / len(values) < first[1]
    assert min(values) <= first[0] and first[1] <= max(values)


def test_random_floor_expectations():
    # 1/3, 1/3 and 1/2 averaged
    assert m.random_choice_accuracy([A, B, C]) == pytest.approx((1 / 3 + 1 / 3 + 1 / 2) / 3)
    # E|U - .2| = (.04 + .64) / 2
    assert m.uniform_expected_abs_error(0.2) == pytest.approx(0.34)


def test_ratio_leaves_out_a_zero_ceiling():
    assert m.ratio(0.5, 0.0) is None
    assert m.ratio(0.5, 0.75) == pytest.approx(2 / 3)
