"""Numeric-item MAE, the people bootstrap and the BFI/games profile engine against numbers worked out by hand
(the derivations are in the comments). Choice items: tests/scoring/test_scoring_stats.py."""

from __future__ import annotations

import math

import pytest

import numpy as np

from experiments.scoring import metrics as m
from experiments.scoring import profiles as pf
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






def test_scaled_mae_on_0_1_by_the_items_range():
    # N: |2/10 - 7/10| = .5 ; A (ordinal): |0 - 1| = 1 -> mean .75
    mae, n = m.scaled_mae(QS, {"N": 2, "A": "1"}, {"N": 7, "A": "3"})
    assert n == 2
    assert mae == pytest.approx(0.75)




def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.2, 0.4, 0.5, 0.9, 0.7, 0.3]
    first = m.bootstrap_ci(values, n_boot=500, seed=3)
    again = m.bootstrap_ci(values, n_boot=500, seed=3)
    other = m.bootstrap_ci(values, n_boot=500, seed=4)
    assert first == again
    assert first != other
    assert first[0] < sum(values) / len(values) < first[1]
    assert min(values) <= first[0] and first[1] <= max(values)





# a three-score profile: items a1, a2 -> score A; b1 -> B; c1 -> C
GROUPS = {"a1": "A", "a2": "A", "b1": "B", "c1": "C"}
HUMAN = {"a1": 4.0, "a2": 2.0, "b1": 5.0, "c1": 1.0}  # profile (3, 5, 1)
R_P = 4 / math.sqrt(42 / 9 * 8)  # agent (5, 4, 2) vs (3, 5, 1): sum dxdy = 4, sum dx2 = 42/9, sum dy2 = 8 -> .654654


def test_profile_person_by_hand():
    p = pf.ProfileData(agent={"a1": 5.0, "a2": 5.0, "b1": 4.0, "c1": 2.0}, human=HUMAN,
                       retest={"a1": 3.0, "a2": 3.0, "b1": 4.0, "c1": 2.0})  # retest profile (3, 4, 2)
    cells = pf.ProfileCells.from_people([p], GROUPS)
    row = {k: v[0] for k, v in pf.profile_person_values(cells).items()}
    assert row["correlation"] == pytest.approx(R_P)
    assert row["retest_correlation"] == pytest.approx(1.0)  # dt = (0, 1, -1), dy = (0, 2, -2)
    assert row["normalized_correlation"] == pytest.approx(R_P)
    assert row["mae"] == pytest.approx((2 + 1 + 1) / 3) and row["retest_mae"] == pytest.approx((0 + 1 + 1) / 3)
    # an item drawn twice and another not at all (a bootstrap replicate; items in order a1, a2, b1, c1):
    # A = a1 only -> human (4, 5, 1)
    row = {k: v[0] for k, v in pf.profile_person_values(cells, item_weights=np.array([2.0, 0.0, 1.0, 1.0])).items()}
    # x = (5, 4, 2), y = (4, 5, 1): dx = (4, 1, -5)/3, dy = (2, 5, -7)/3 -> 48/9 / sqrt(42/9 * 78/9) = 48 / sqrt(3276)
    assert row["correlation"] == pytest.approx(48 / math.sqrt(3276))
    # a trait with no drawn item is left out: only B and C drawn -> two scores, (4, 2) vs (5, 1): r = 1
    row = {k: v[0] for k, v in pf.profile_person_values(cells, item_weights=np.array([0.0, 0.0, 1.0, 1.0])).items()}
    assert row["scores"] == 2 and row["correlation"] == pytest.approx(1.0) and row["mae"] == pytest.approx(1.0)


def test_profile_ratio_guard_and_ratio_of_means_by_hand():
    agent_p = {"a1": 5.0, "a2": 5.0, "b1": 4.0, "c1": 2.0}
    people = [
        pf.ProfileData(agent_p, HUMAN, {"a1": 3.0, "a2": 3.0, "b1": 4.0, "c1": 2.0}),  # r = .6547, retest r = 1
        pf.ProfileData(dict(HUMAN), HUMAN, {"a1": 1.0, "a2": 1.0, "b1": 3.0, "c1": 5.0}),  # r = 1, retest (1, 3, 5): r = -.5
        pf.ProfileData(agent_p, HUMAN, {"a1": 3.0, "a2": 3.0, "b1": 3.0, "c1": 3.0}),  # retest does not vary: undefined
    ]
    stats = pf.profile_statistics(pf.ProfileCells.from_people(people, GROUPS))
    # the paper's per-person ratio: person 0 only; persons 1 (retest r <= 0) and 2 (undefined) excluded, counted
    assert stats["normalized_correlation"] == pytest.approx(R_P)
    assert stats["correlation_excluded_people"] == 2 and stats["people_with_retest"] == 3
    # ratio of mean correlations over the people with both: (R_P + 1) / 2 over (1 - .5) / 2
    assert stats["normalized_correlation_ratio_of_means"] == pytest.approx(((R_P + 1) / 2) / 0.25)
    assert stats["correlation"] == pytest.approx((R_P + 1 + R_P) / 3)  # plain mean over people
    summary = pf.profile_summary(people, GROUPS, n_boot=200, seed=0)
    assert summary["normalized_correlation"]["mean"] == pytest.approx(R_P) and summary["normalized_correlation"]["n"] == 1
    assert summary["correlation_excluded_people"] == 2 and summary["bootstrap"].startswith("two-way")
    assert summary["correlation"]["ci"] is not None
    again = pf.profile_summary(people, GROUPS, n_boot=200, seed=0)
    assert again == summary


def test_profile_values_reverse_keys_bfi_and_scales_games():
    from surveys.instruments import load_instrument

    bfi = load_instrument("bfi44")
    key = bfi.scoring["traits"]["E"]
    reverse = key["reverse"][0]
    forward = next(q for q in key["items"] if q not in key["reverse"])
    values = pf.profile_values(bfi, "bfi", {forward: "4", reverse: "4", "not_an_item": "9"})
    assert values == {forward: 4.0, reverse: 2.0}
    assert pf.profile_groups(bfi, "bfi")[reverse] == "E"
    games = load_instrument("games")
    assert pf.profile_values(games, "games", {"dictator": 2.5})["dictator"] == pytest.approx(0.5)  # $2.5 of $5
