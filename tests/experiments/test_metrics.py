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


def test_fisher_mean_clips_r_one_at_n_minus_one_over_n():
    # n = 10 values: r = 1 counts as .9 ; atanh(.9) = 1.472219, atanh(.5) = .549306 -> tanh(1.010763) = .766077
    assert m.fisher_mean([1.0, 0.5], n=10) == pytest.approx(math.tanh((math.atanh(0.9) + math.atanh(0.5)) / 2))
    assert m.fisher_mean([1.0, 0.5], n=10) == pytest.approx(0.766077, abs=1e-6)
    with pytest.raises(ValueError):
        m.fisher_mean([1.0, 0.5])  # never the old 0.999999 clip (z = 7.25)


# a three-score profile: items a1, a2 -> score A; b1 -> B; c1 -> C
GROUPS = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
HUMAN = {"a1": 4.0, "a2": 2.0, "b1": 5.0, "c1": 1.0}  # profile (3, 5, 1)
R_P = 4 / math.sqrt(42 / 9 * 8)  # agent (5, 4, 2) vs (3, 5, 1): sum dxdy = 4, sum dx2 = 42/9, sum dy2 = 8 -> .654654


def test_profile_person_by_hand():
    p = m.ProfileData(agent={"a1": 5.0, "a2": 5.0, "b1": 4.0, "c1": 2.0}, human=HUMAN,
                      retest={"a1": 3.0, "a2": 3.0, "b1": 4.0, "c1": 2.0})  # retest profile (3, 4, 2)
    row = m.profile_person(p, GROUPS)
    assert row["correlation"] == pytest.approx(R_P)
    assert row["retest_correlation"] == pytest.approx(1.0)  # dt = (0, 1, -1), dy = (0, 2, -2)
    assert row["normalized_correlation"] == pytest.approx(R_P)
    assert row["mae"] == pytest.approx((2 + 1 + 1) / 3) and row["retest_mae"] == pytest.approx((0 + 1 + 1) / 3)
    # an item drawn twice and another not at all (a bootstrap replicate): A = a1 only -> human (4, 5, 1)
    row = m.profile_person(p, GROUPS, weights={"a1": 2.0, "b1": 1.0, "c1": 1.0})
    # x = (5, 4, 2), y = (4, 5, 1): dx = (4, 1, -5)/3, dy = (2, 5, -7)/3 -> 48/9 / sqrt(42/9 * 78/9) = 48 / sqrt(3276)
    assert row["correlation"] == pytest.approx(48 / math.sqrt(3276))


def test_profile_ratio_guard_and_ratio_of_means_by_hand():
    agent_p = {"a1": 5.0, "a2": 5.0, "b1": 4.0, "c1": 2.0}
    people = [
        m.ProfileData(agent_p, HUMAN, {"a1": 3.0, "a2": 3.0, "b1": 4.0, "c1": 2.0}),  # r = .6547, retest r = 1
        m.ProfileData(dict(HUMAN), HUMAN, {"a1": 1.0, "a2": 1.0, "b1": 3.0, "c1": 5.0}),  # r = 1, retest (1, 3, 5): r = -.5
        m.ProfileData(agent_p, HUMAN, {"a1": 3.0, "a2": 3.0, "b1": 3.0, "c1": 3.0}),  # retest does not vary: undefined
    ]
    stats = m.profile_statistics([m.profile_person(p, GROUPS) for p in people])
    # the paper's per-person ratio: person 0 only; persons 1 (retest r <= 0) and 2 (undefined) excluded, counted
    assert stats["normalized_correlation"] == pytest.approx(R_P)
    assert stats["correlation_excluded_people"] == 2 and stats["people_with_retest"] == 3
    # ratio of mean correlations over the people with both: (R_P + 1) / 2 over (1 - .5) / 2
    assert stats["normalized_correlation_ratio_of_means"] == pytest.approx(((R_P + 1) / 2) / 0.25)
    assert stats["correlation"] == pytest.approx((R_P + 1 + R_P) / 3)  # plain mean over people
    summary = m.profile_summary(people, GROUPS, n_boot=200, seed=0)
    assert summary["normalized_correlation"]["mean"] == pytest.approx(R_P) and summary["normalized_correlation"]["n"] == 1
    assert summary["correlation_excluded_people"] == 2 and summary["bootstrap"].startswith("two-way")
    assert summary["correlation"]["ci"] is not None
    again = m.profile_summary(people, GROUPS, n_boot=200, seed=0)
    assert again == summary


def test_profile_values_reverse_keys_bfi_and_scales_games():
    from surveys.instruments import load_instrument

    bfi = load_instrument("bfi44")
    key = bfi.scoring["traits"]["E"]
    reverse = key["reverse"][0]
    forward = next(q for q in key["items"] if q not in key["reverse"])
    values = m.profile_values(bfi, "bfi", {forward: "4", reverse: "4", "not_an_item": "9"})
    assert values == {forward: 4.0, reverse: 2.0}
    assert m.profile_groups(bfi, "bfi")[reverse] == "E"
    games = load_instrument("games")
    assert m.profile_values(games, "games", {"dictator": 2.5})["dictator"] == pytest.approx(0.5)  # $2.5 of $5
