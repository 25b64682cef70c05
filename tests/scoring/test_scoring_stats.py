"""Hand-computed fixtures for the statistics of `experiments.scoring.stats`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from experiments.scoring import stats as st


def cells(predicted, truth, retest, *, ordinal=None, n_options=None, failed=None, asked=None) -> st.Cells:
    truth = np.array(truth)
    m = truth.shape[1]
    return st.Cells(
        asked=np.ones(truth.shape, bool) if asked is None else np.array(asked, bool),
        predicted=np.array(predicted), failed=np.zeros(truth.shape, bool) if failed is None else np.array(failed, bool),
        truth=truth, retest=np.array(retest),
        ordinal=np.zeros(m, bool) if ordinal is None else np.array(ordinal, bool),
        n_options=np.full(m, 2) if n_options is None else np.array(n_options),
    )


# two people x four binary nominal items
TRUTH = [[0, 1, 0, 1], [1, 1, 0, 0]]
RETEST = [[0, 1, 1, 1], [1, 0, 1, 0]]  # person 0 agrees with self on 3/4, person 1 on 2/4
PRED = [[0, 1, 0, 0], [1, 1, 1, 1]]  # person 0: 3/4 right, person 1: 2/4 right


def test_accuracy_mean_of_ratios_and_ratio_of_means():
    out = st.statistics(st.person_sums(cells(PRED, TRUTH, RETEST)), min_items=1)
    assert out["accuracy"] == pytest.approx((0.75 + 0.5) / 2)
    assert out["retest_agreement"] == pytest.approx((0.75 + 0.5) / 2)
    assert out["normalized_accuracy"] == pytest.approx((0.75 / 0.75 + 0.5 / 0.5) / 2)  # 1.0
    assert out["normalized_accuracy_ratio_of_means"] == pytest.approx(0.625 / 0.625)
    # a case where the two differ: person 1 right on all four
    out = st.statistics(st.person_sums(cells([[0, 1, 0, 0], TRUTH[1]], TRUTH, RETEST)), min_items=1)
    assert out["normalized_accuracy"] == pytest.approx((1.0 + 2.0) / 2)
    assert out["normalized_accuracy_ratio_of_means"] == pytest.approx(((0.75 + 1.0) / 2) / 0.625)


def test_normalized_correlation_is_a_ratio_of_fisher_z_means():
    # ordinal 3-option items, one person: truth positions (0, .5, 1, .5), agent (0, .5, 1, 1), retest (0, 1, 1, .5)
    c = cells([[0, 1, 2, 2]], [[0, 1, 2, 1]], [[0, 2, 2, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out = st.statistics(st.person_sums(c), min_items=1)
    x, y, z = np.array([0, .5, 1, 1]), np.array([0, .5, 1, .5]), np.array([0, 1, 1, .5])
    r_agent = np.corrcoef(x, y)[0, 1]
    r_retest = np.corrcoef(z, y)[0, 1]
    assert out["correlation"] == pytest.approx(r_agent)
    assert out["normalized_correlation"] == pytest.approx(math.atanh(r_agent) / math.atanh(r_retest))
    # two people: the ratio of the mean z's, not the mean of per-person ratios
    c2 = cells([[0, 1, 2, 2], [0, 1, 2, 1]], [[0, 1, 2, 1]] * 2, [[0, 2, 2, 1], [0, 2, 2, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out2 = st.statistics(st.person_sums(c2), min_items=1)
    za = (math.atanh(r_agent) + math.atanh(st.R_CLIP)) / 2
    zr = math.atanh(r_retest)
    assert out2["normalized_correlation"] == pytest.approx(za / zr)
    assert out2["correlation"] == pytest.approx(math.tanh(za))


def test_nominal_items_use_one_hot_with_weights_one_over_k():
    # one person, two nominal 2-option items, agent right on the first only: one-hot x = (1,0, 1,0), y = (1,0, 0,1)
    c = cells([[0, 0]], [[0, 1]], [[0, 1]])
    r = st.statistics(st.person_sums(c), min_items=1)["correlation"]
    x, y = np.array([1, 0, 1, 0.]), np.array([1, 0, 0, 1.])
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1])  # equal weights 1/2 -> plain Pearson: 0


def test_people_below_min_items_are_excluded_and_counted():
    truth = [[0, 1, 0, 1], [1, -1, -1, -1]]  # person 1 has one scored item
    c = cells(PRED, truth, [[0, 1, 1, 1], [1, 0, 1, 0]])
    out = st.statistics(st.person_sums(c), min_items=2)
    assert out["people"] == 1 and out["excluded_people"] == 1
    assert out["accuracy"] == pytest.approx(0.75)


def test_failed_answers_scored_as_wrong_or_excluded():
    pred = [[0, 1, -1, 0], [1, 1, 1, 1]]
    failed = [[False, False, True, False], [False] * 4]
    c = cells(pred, TRUTH, RETEST, failed=failed)
    wrong = st.statistics(st.person_sums(c, "failed_as_wrong"), min_items=1)
    excluded = st.statistics(st.person_sums(c, "failed_excluded"), min_items=1)
    assert wrong["accuracy"] == pytest.approx((2 / 4 + 2 / 4) / 2)
    # excluded: person 0 scored on items 0, 1, 3: 2/3 right, retest there 3/3; person 1: 2/4 and 2/4
    assert excluded["accuracy"] == pytest.approx((2 / 3 + 2 / 4) / 2)
    assert excluded["normalized_accuracy"] == pytest.approx((2 / 3 + 1.0) / 2)
    # as wrong: person 0 2/4 right, retest 3/4 -> 2/3; person 1 -> 1
    assert wrong["normalized_accuracy"] == pytest.approx((2 / 3 + 1.0) / 2)
    assert wrong["retest_agreement"] == pytest.approx((3 / 4 + 2 / 4) / 2)


def test_two_way_bootstrap_is_seeded_and_resamples_people_and_items():
    b = st.Bootstrap(n_people=3, n_items=4, replicates=2, seed=7)
    draws = list(b.draws())
    rng = np.random.default_rng(7)
    p0 = rng.integers(0, 3, 3)
    i0 = np.bincount(rng.integers(0, 4, 4), minlength=4)
    assert np.array_equal(draws[0][0], p0) and np.array_equal(draws[0][1], i0)
    assert draws[0][1].sum() == 4  # item weights are draw counts
    # item weights enter as multiplicities: person 0 of PRED/TRUTH is right on items 0-2, wrong on 3
    sums = st.person_sums(cells(PRED, TRUTH, RETEST))
    out = st.statistics(sums, np.array([0]), np.array([3.0, 0, 0, 1]), min_items=1)
    assert out["accuracy"] == pytest.approx(3 / 4)  # item 0 drawn three times, item 3 once
    # people as multiplicities: person 1 drawn twice, person 0 once -> (.75 + .5 + .5) / 3
    out = st.statistics(sums, np.array([0, 1, 1]), None, min_items=1)
    assert out["accuracy"] == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    s1 = st.summarize(sums, st.Bootstrap(2, 4, 200, 3), min_items=1)
    s2 = st.summarize(sums, st.Bootstrap(2, 4, 200, 3), min_items=1)
    assert s1 == s2 and s1["accuracy"]["ci"] is not None


def test_paired_difference_uses_the_same_draws():
    a = st.person_sums(cells(PRED, TRUTH, RETEST))
    same = st.paired_difference(a, a, st.Bootstrap(2, 4, 100, 0), min_items=1)
    assert same["difference"] == 0 and same["ci"] == [0.0, 0.0]
    perfect = st.person_sums(cells(TRUTH, TRUTH, RETEST))
    diff = st.paired_difference(perfect, a, st.Bootstrap(2, 4, 100, 0), min_items=1)
    # perfect: (1/.75 + 1/.5)/2 = 5/3 ; a: 1.0
    assert diff["difference"] == pytest.approx(5 / 3 - 1)
    assert diff["ci"][0] >= 0


def test_parity_only_for_groups_large_enough_with_an_interval():
    scores = np.array([1.0, 0.8, 0.9, 0.5, 0.6, 0.7, 0.2])
    groups = ["a", "a", "a", "b", "b", "b", "c"]
    out = st.parity(scores, groups, min_group=3, boot_replicates=200, seed=0)
    assert out["groups"] == pytest.approx({"a": 0.9, "b": 0.6})
    assert out["too_small"] == ["c"] and out["sizes"]["c"] == 1
    assert out["best"] == "a" and out["worst"] == "b" and out["difference"] == pytest.approx(0.3)
    assert out["ci"] is not None and out["ci"][0] <= 0.3 <= out["ci"][1] + 1e-9
    none = st.parity(scores, groups, min_group=4)
    assert none["difference"] is None and none["too_small"] == ["a", "b", "c"]
