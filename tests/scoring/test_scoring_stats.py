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


def test_normalized_correlation_per_person_ratio_and_ratio_of_means():
    # ordinal 3-option items, one person: truth positions y = (0, .5, 1, .5), agent x = (0, .5, 1, 1), retest
    # z = (.5, 0, 1, .5). By hand: x - mx = (-.625, -.125, .375, .375), y - my = (-.5, 0, .5, 0): r_agent =
    # .5 / sqrt(.6875 * .5) = 0.8528; z - mz = (0, -.5, .5, 0): r_retest = .25 / sqrt(.5 * .5) = 0.5
    c = cells([[0, 1, 2, 2]], [[0, 1, 2, 1]], [[1, 0, 2, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out = st.statistics(st.person_sums(c), min_items=1)
    r_agent, r_retest = 0.5 / math.sqrt(0.6875 * 0.5), 0.5
    assert out["correlation"] == pytest.approx(0.75)  # r = 0.853 over n = 4 items: shown clipped at (n - 1) / n
    assert out["retest_correlation"] == pytest.approx(r_retest)  # below the clip
    assert out["normalized_correlation"] == pytest.approx(r_agent / r_retest)  # ratios use r itself, no z
    assert out["normalized_correlation_ratio_of_means"] == pytest.approx(r_agent / r_retest)
    # two people, the second answered exactly by the agent (r = 1): the paper's per-person ratio is the mean
    # of r / r_retest; the robust companion the ratio of the plain mean correlations; the Fisher-z mean clips
    # r = 1 at (n - 1) / n (not at 0.999999, z = 7.25)
    c2 = cells([[0, 1, 2, 2], [0, 1, 2, 1]], [[0, 1, 2, 1]] * 2, [[1, 0, 2, 1], [1, 0, 2, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out2 = st.statistics(st.person_sums(c2), min_items=1)
    assert out2["normalized_correlation"] == pytest.approx((r_agent / r_retest + 1 / r_retest) / 2)
    assert out2["normalized_correlation_ratio_of_means"] == pytest.approx(((r_agent + 1) / 2) / r_retest)
    assert out2["retest_correlation"] == pytest.approx(r_retest)
    assert out2["correlation_people"] == 2 and out2["correlation_excluded_people"] == 0


def test_fisher_mean_of_correlations_clips_r_one_at_n_minus_one_over_n():
    # ten ordinal 3-option items; person 0's agent is off on the last two items, person 1's agent is exact (r = 1)
    truth = [0, 1, 2, 0, 1, 2, 0, 1, 2, 1]
    off = truth[:8] + [0, 2]
    c = cells([off, truth], [truth, truth], [truth, truth], ordinal=[True] * 10, n_options=[3] * 10)
    out = st.statistics(st.person_sums(c), min_items=1)
    r0 = np.corrcoef(np.array(off) / 2, np.array(truth) / 2)[0, 1]
    assert r0 < 0.9
    assert out["correlation"] == pytest.approx(math.tanh((math.atanh(r0) + math.atanh(0.9)) / 2))
    assert out["retest_correlation"] == pytest.approx(0.9)  # both retests exact: r = 1 -> 9/10
    assert out["normalized_correlation"] == pytest.approx((r0 + 1) / 2)  # per-person r / 1


def test_a_retest_correlation_at_or_below_zero_is_excluded_from_the_ratio_and_counted():
    # person 0 as above; person 1's retest is the mirror of the truth (r_retest = -1): left out of the paper's
    # per-person ratio (counted), kept in the ratio of means
    truth = [[0, 1, 2, 1], [0, 1, 2, 1]]
    c = cells([[0, 1, 2, 2], [0, 1, 2, 1]], truth, [[1, 0, 2, 1], [2, 1, 0, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out = st.statistics(st.person_sums(c), min_items=1)
    r_agent, r_retest = 0.5 / math.sqrt(0.6875 * 0.5), 0.5  # as in the test above
    assert out["normalized_correlation"] == pytest.approx(r_agent / r_retest)  # person 0 only
    assert out["correlation_people"] == 1 and out["correlation_excluded_people"] == 1
    # the ratio of means keeps person 1, and their retest r = -1 brings the mean retest r below 0: no ratio
    assert (r_retest - 1) / 2 < 0 and math.isnan(out["normalized_correlation_ratio_of_means"])
    # an agent whose answers do not vary has no correlation: excluded and counted too
    flat = cells([[1, 1, 1, 1]], [truth[0]], [[0, 2, 2, 1]], ordinal=[True] * 4, n_options=[3] * 4)
    out = st.statistics(st.person_sums(flat), min_items=1)
    assert math.isnan(out["normalized_correlation"]) and out["correlation_excluded_people"] == 1


def test_normalized_accuracy_by_the_papers_item_consistency():
    # PRED / TRUTH: person 0 right on items 0, 1, 2; person 1 right on items 0, 1
    c = cells(PRED, TRUTH, RETEST)
    c.paper = np.array([0.8, 0.6, 0.9, 0.7])  # sum 3.0
    out = st.statistics(st.person_sums(c), min_items=1)
    assert out["normalized_accuracy_paper"] == pytest.approx((3 / 3.0 + 2 / 3.0) / 2)
    assert out["paper_consistency"] == pytest.approx(0.75)
    assert out["normalized_accuracy"] == pytest.approx(1.0)  # the own-retest figure is untouched
    # an item without the paper's consistency is left out of both numerator and denominator
    c.paper = np.array([0.8, np.nan, 0.9, 0.7])  # items 0, 2, 3: sum 2.4
    out = st.statistics(st.person_sums(c), min_items=1)
    # person 0 right on 0 and 2 -> 2 / 2.4 ; person 1 right on 0 -> 1 / 2.4
    assert out["normalized_accuracy_paper"] == pytest.approx((2 / 2.4 + 1 / 2.4) / 2)
    assert out["paper_consistency"] == pytest.approx(0.8)
    summary = st.summarize(st.person_sums(c), st.Bootstrap(2, 4, 50, 0), min_items=1)
    assert summary["normalized_accuracy_paper"]["ci"] is not None
    # no item with a paper consistency: no paper figure at all (not 0)
    c.paper = np.full(4, np.nan)
    assert "normalized_accuracy_paper" not in st.summarize(st.person_sums(c), None, min_items=1)


def test_paper_consistency_is_read_from_the_question_meta():
    from experiments.scoring.panel import PanelMatrix
    from surveys.model import Option, Question, QuestionKind

    def q(qid, meta):
        return Question(id=qid, text=qid, kind=QuestionKind.categorical, options=[Option(code="1", label="a"), Option(code="2", label="b")], meta=meta)

    questions = {"a": q("a", {"paper": {"item_2week_consistency": 0.733}}), "b": q("b", {})}
    panel = PanelMatrix(np.array(["p"], dtype=object), ["a", "b"], questions, np.zeros((1, 2), np.int16), np.zeros((1, 2), np.int16))
    values = st.paper_consistency(panel)
    assert values[0] == pytest.approx(0.733) and math.isnan(values[1])


def test_spread_of_per_person_ratios():
    out = st.spread(np.array([0.5, 1.0, 1.5, np.nan, 2.0]))
    assert out["people"] == 4
    assert out["sd"] == pytest.approx(math.sqrt(((0.75) ** 2 + 0.25 ** 2 + 0.25 ** 2 + 0.75 ** 2) / 3))
    assert out["median"] == pytest.approx(1.25) and out["q25"] == pytest.approx(0.875) and out["q75"] == pytest.approx(1.625)
    assert out["min"] == 0.5 and out["max"] == 2.0
    summary = st.summarize(st.person_sums(cells([[0, 1, 0, 0], TRUTH[1]], TRUTH, RETEST)), None, min_items=1)
    # per-person ratios 1.0 and 2.0
    assert summary["spread"]["normalized_accuracy"]["sd"] == pytest.approx(math.sqrt(0.5))


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


def test_parity_permutation_test_by_hand():
    # scores 1, 2 (group a) and 3, 4 (group b): observed gap 2. The 6 ways to split the four people 2 + 2 give
    # best-minus-worst gaps 2, 1, 0, 0, 1, 2: P(null >= 2) = 1/3
    out = st.parity(np.array([1.0, 2.0, 3.0, 4.0]), ["a", "a", "b", "b"], min_group=2, boot_replicates=0,
                    permutations=3000, seed=1)
    assert out["difference"] == pytest.approx(2.0)
    assert out["permutation"]["p_value"] == pytest.approx(1 / 3, abs=0.03)
    assert out["permutation"]["null_mean"] == pytest.approx((2 + 1 + 0 + 0 + 1 + 2) / 6, abs=0.05)
    assert out["permutation"]["null_interval"] == [0.0, 2.0]


def test_parity_with_no_group_difference_can_cover_zero_and_states_the_bias():
    rng = np.random.default_rng(0)
    scores = rng.normal(1.0, 0.2, 300)
    groups = rng.choice(["a", "b", "c"], 300)  # no difference by construction
    out = st.parity(scores, groups, min_group=30, boot_replicates=300, seed=0)
    assert out["ci"][0] > 0  # the re-formed best-minus-worst never covers 0 ...
    assert out["bootstrap_bias"] > 0  # ... and is biased upward
    assert out["ci_fixed_groups"][0] < 0 < out["ci_fixed_groups"][1]  # the named groups' gap covers 0
    assert out["permutation"]["p_value"] > 0.05
    # a real difference: group a is higher by 0.3
    shifted = scores + np.where(groups == "a", 0.3, 0.0)
    out = st.parity(shifted, groups, min_group=30, boot_replicates=300, seed=0)
    assert out["best"] == "a" and out["ci_fixed_groups"][0] > 0 and out["permutation"]["p_value"] < 0.01


def test_parity_two_way_resamples_items_too():
    # person values: normalized accuracy per person; groups fixed; the point estimate equals the hand value
    sums = st.person_sums(cells([[0, 1, 0, 0], TRUTH[1]], TRUTH, RETEST))  # ratios 1.0 and 2.0
    out = st.parity_two_way(sums, {"g": ["x", "y"]}, st.Bootstrap(2, 4, 200, 0), min_items=1, min_group=1,
                            permutations=0)["g"]
    assert out["best"] == "y" and out["difference"] == pytest.approx(1.0)
    assert out["bootstrap"].startswith("two-way")
    people_only = st.parity(np.array([1.0, 2.0]), ["x", "y"], min_group=1, boot_replicates=200, permutations=0)
    # with items resampled, person 1 (right on every item) keeps ratio 1 / retest, which varies with the items
    assert out["ci_fixed_groups"] != people_only["ci_fixed_groups"]


def test_political_ideology_is_a_default_parity_field_grouped_in_three():
    from experiments.scoring.panel import PanelMatrix
    from experiments.scoring.survey import SurveySettings, _parity, _polviews, _polviews_group
    from surveys.model import Option, Question, QuestionKind

    assert [_polviews_group(c) for c in ("1", "3", "4", "5", "7", 2.0, "8", None)] == [
        "liberal", "liberal", "moderate", "conservative", "conservative", "liberal", None, None]
    assert _polviews_group("slightly conservative") == "conservative"
    assert _polviews_group("moderate, middle of the road") == "moderate"
    # from the panel's wave-1 answers when the demographics do not carry it
    polviews = Question(id="polviews", text="polviews", kind=QuestionKind.ordinal,
                        options=[Option(code=str(c), label=str(c)) for c in range(1, 8)])
    answers = np.array([[0], [3], [6], [-1]], np.int16)  # codes 1, 4, 7, missing
    panel = PanelMatrix(np.array(["a", "b", "c", "d"], dtype=object), ["polviews"], {"polviews": polviews}, answers, answers)
    assert _polviews(panel, np.array([2, 0, 1, 3])) == ["conservative", "liberal", "moderate", None]
    # default fields: polviews is among them; two groups of 2 people, per-person normalized accuracy 1.0 vs 2.0
    sums = st.person_sums(cells([[0, 1, 0, 0], TRUTH[1], [0, 1, 0, 0], TRUTH[1]], TRUTH * 2, RETEST * 2))
    sub = PanelMatrix(np.array(["p0", "p1", "p2", "p3"], dtype=object), [], {}, np.zeros((4, 0), np.int16), np.zeros((4, 0), np.int16))
    out = _parity(sub, {"x": sums}, st.Bootstrap(4, 4, 20, 0), SurveySettings(min_items=1, parity_min_group=2, bootstrap=20),
                  ["liberal", "conservative", "liberal", "conservative"])
    field = out["x"]["fields"]["polviews"]
    assert field["best"] == "conservative" and field["difference"] == pytest.approx(1.0)
