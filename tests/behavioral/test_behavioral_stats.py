"""The three tests and their Cohen's d, on tables small enough to work out by hand, then against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import linalg, stats as sps

from experiments.behavioral import stats


# -- chi-square ------------------------------------------------------------------------------------
def test_chi_square_matches_a_hand_computed_table():
    # higher group: 30 events of 40; lower group: 15 of 40. Margins: rows 40/40, columns 45/35, N = 80.
    # Expected cells 22.5, 17.5, 22.5, 17.5; every |O - E| = 7.5, so
    # chi2 = 7.5^2 * (2/22.5 + 2/17.5) = 80/7 = 11.428571...
    # phi = (30*25 - 10*15) / sqrt(40*40*45*35) = 600 / sqrt(2,520,000) = sqrt(1/7)
    # d = 2 phi / sqrt(1 - phi^2) = 2 sqrt(1/7) / sqrt(6/7) = 2 / sqrt(6) = 0.8164966
    result = stats.chi_square_2x2((30, 10), (15, 25))
    assert result.statistic == pytest.approx(80 / 7)
    assert result.d == pytest.approx(2 / math.sqrt(6))
    assert result.df == 1 and result.n == 80
    assert result.groups["higher"]["proportion"] == pytest.approx(0.75)
    assert result.estimate == pytest.approx(0.75 - 0.375)
    # 95% CI: Fisher z of phi +/- 1.96 / sqrt(N - 3), back to phi, then to d
    z = math.atanh(math.sqrt(1 / 7))
    low_phi, high_phi = math.tanh(z - 1.959964 / math.sqrt(77)), math.tanh(z + 1.959964 / math.sqrt(77))
    assert result.d_low == pytest.approx(2 * low_phi / math.sqrt(1 - low_phi**2), rel=1e-5)
    assert result.d_high == pytest.approx(2 * high_phi / math.sqrt(1 - high_phi**2), rel=1e-5)
    assert result.d_low < result.d < result.d_high

    chi2, p, dof, expected = sps.chi2_contingency([[30, 10], [15, 25]], correction=False)
    assert result.statistic == pytest.approx(chi2)
    assert result.p == pytest.approx(p)
    assert dof == 1 and expected[0][0] == pytest.approx(22.5)


def test_chi_square_effect_is_signed_by_the_hypothesis():
    as_hypothesised = stats.chi_square_2x2((30, 10), (15, 25))
    reversed_ = stats.chi_square_2x2((15, 25), (30, 10))
    assert reversed_.statistic == pytest.approx(as_hypothesised.statistic)
    assert reversed_.d == pytest.approx(-as_hypothesised.d)
    assert as_hypothesised.direction == 1 and reversed_.direction == -1


def test_chi_square_without_variation_or_with_complete_separation():
    nobody_differs = stats.chi_square_2x2((10, 0), (10, 0))
    assert nobody_differs.p == 1.0 and nobody_differs.d == 0.0 and nobody_differs.direction == 0
    separated = stats.chi_square_2x2((10, 0), (0, 10))
    assert separated.statistic == pytest.approx(20.0)  # N phi^2 with phi = 1
    assert separated.p == pytest.approx(sps.chi2.sf(20.0, 1))
    # d from the table with 0.5 added to each cell: phi = (10.5^2 - 0.5^2) / (11 * 11) = 110/121
    phi = 110 / 121
    assert separated.d == pytest.approx(2 * phi / math.sqrt(1 - phi * phi))
    assert "separation" in separated.note
    empty = stats.chi_square_2x2((0, 0), (3, 4))
    assert empty.p is None and empty.d is None


# -- t-test ----------------------------------------------------------------------------------------
def test_t_test_and_d_match_hand_computation_and_scipy():
    higher, lower = [5, 6, 7, 8], [3, 4, 5, 6]
    # means 6.5 and 4.5; each group's sum of squares 2.25 + 0.25 + 0.25 + 2.25 = 5; pooled variance 10/6
    # d = 2 / sqrt(10/6) = 1.5491933; t = 2 / (sqrt(10/6) * sqrt(1/4 + 1/4)) = 2.1908902, df = 6
    result = stats.t_test(higher, lower)
    assert result.d == pytest.approx(2 / math.sqrt(10 / 6))
    assert result.statistic == pytest.approx(2 / (math.sqrt(10 / 6) * math.sqrt(0.5)))
    assert result.df == 6
    se = math.sqrt(8 / 16 + result.d**2 / 16)  # (n1+n2)/(n1 n2) + d^2 / (2 (n1+n2))
    assert result.d_low == pytest.approx(result.d - 1.959964 * se, rel=1e-5)
    assert result.d_high == pytest.approx(result.d + 1.959964 * se, rel=1e-5)

    scipy_t = sps.ttest_ind(higher, lower, equal_var=True)
    assert result.statistic == pytest.approx(scipy_t.statistic)
    assert result.p == pytest.approx(scipy_t.pvalue)


def test_t_test_degenerate_inputs():
    same = stats.t_test([4, 4, 4], [4, 4])
    assert same.p == 1.0 and same.d == 0.0
    exact = stats.t_test([5, 5, 5], [2, 2, 2])
    assert exact.p == 0.0 and exact.d is None and exact.direction == 1
    assert stats.t_test([5], []).p is None


# -- ANOVA interaction -----------------------------------------------------------------------------
CELLS = {  # factor A (a1, a2) x factor B (b1, b2), three people per cell
    "a1+b1": [1, 2, 3],  # mean 2
    "a1+b2": [4, 5, 6],  # mean 5
    "a2+b1": [2, 3, 4],  # mean 3
    "a2+b2": [3, 4, 5],  # mean 4
}
# Hypothesis: B raises the outcome more under a1 than under a2: (a1b2 - a1b1) - (a2b2 - a2b1) > 0
CONTRAST = {"a1+b1": -1, "a1+b2": 1, "a2+b1": 1, "a2+b2": -1}


def _regression_interaction(cells: dict[str, list[float]]) -> tuple[float, float, int]:
    """Interaction F as the drop in fit from the full to the additive model (scipy least squares)."""
    y, a, b = [], [], []
    for cell, values in cells.items():
        level_a, level_b = cell.split("+")
        for value in values:
            y.append(value)
            a.append(1.0 if level_a == "a2" else 0.0)
            b.append(1.0 if level_b == "b2" else 0.0)
    y_, a_, b_ = np.array(y), np.array(a), np.array(b)
    ones = np.ones_like(y_)
    full = np.column_stack([ones, a_, b_, a_ * b_])
    additive = np.column_stack([ones, a_, b_])
    sse_full = float(((y_ - full @ linalg.lstsq(full, y_)[0]) ** 2).sum())
    sse_add = float(((y_ - additive @ linalg.lstsq(additive, y_)[0]) ** 2).sum())
    df = len(y) - 4
    f = (sse_add - sse_full) / (sse_full / df)
    return f, float(sps.f.sf(f, 1, df)), df


def test_anova_interaction_matches_hand_computation():
    # Grand mean 3.5; row means 3.5 / 3.5; column means 2.5 / 4.5.
    # Interaction residuals m_ij - m_i. - m_.j + m: -0.5, 0.5, 0.5, -0.5; SS_AB = 3 * (4 * 0.25) = 3.
    # Within-cell SS = 2 per cell = 8 on 12 - 4 = 8 df, so MSE = 1 and F = 3 / 1 = 3.
    # d = 2 sqrt(F / df_error) = 2 sqrt(3/8) = 1.2247449, positive: contrast = 5 - 2 - (4 - 3) = 2 > 0.
    result = stats.anova_interaction_2x2(CELLS, CONTRAST)
    assert result.statistic == pytest.approx(3.0)
    assert result.df == 8
    assert result.d == pytest.approx(2 * math.sqrt(3 / 8))
    assert result.estimate == pytest.approx(2.0)
    assert result.p == pytest.approx(sps.f.sf(3.0, 1, 8))
    se = math.sqrt(4 / 10 + result.d**2 / 20)  # two equal groups of N' = df + 2 = 10
    assert result.d_low == pytest.approx(result.d - 1.959964 * se, rel=1e-5)

    flipped = stats.anova_interaction_2x2(CELLS, {cell: -sign for cell, sign in CONTRAST.items()})
    assert flipped.statistic == pytest.approx(3.0) and flipped.d == pytest.approx(-result.d)


def test_anova_interaction_agrees_with_scipy_regression_balanced_and_unbalanced():
    f, p, df = _regression_interaction(CELLS)
    result = stats.anova_interaction_2x2(CELLS, CONTRAST)
    assert (result.statistic, result.p, result.df) == (pytest.approx(f), pytest.approx(p), df)

    unbalanced = {"a1+b1": [1, 2, 3, 2, 1], "a1+b2": [4, 5, 6, 7], "a2+b1": [2, 3], "a2+b2": [3, 4, 5, 5, 6, 2]}
    f, p, df = _regression_interaction(unbalanced)
    result = stats.anova_interaction_2x2(unbalanced, CONTRAST)
    assert result.statistic == pytest.approx(f)
    assert result.p == pytest.approx(p)
    assert result.df == df == 13


def test_two_way_table_main_effects_match_hand_computation():
    keyed = {(0, 0): CELLS["a1+b1"], (0, 1): CELLS["a1+b2"], (1, 0): CELLS["a2+b1"], (1, 1): CELLS["a2+b2"]}
    table = stats.two_way_anova_2x2(keyed)
    # SS_A = 0 (row means equal); SS_B = 3 * 2 * ((2.5 - 3.5)^2 + (4.5 - 3.5)^2) = 12; SS_AB = 3; SSE = 8
    assert table["A"]["ss"] == pytest.approx(0.0)
    assert table["B"]["ss"] == pytest.approx(12.0) and table["B"]["F"] == pytest.approx(12.0)
    assert table["AxB"]["ss"] == pytest.approx(3.0)
    assert table["error"]["ss"] == pytest.approx(8.0) and table["error"]["df"] == 8
    # the between-cells SS of a one-way ANOVA on the four cells is SS_A + SS_B + SS_AB when balanced
    one_way = sps.f_oneway(*CELLS.values())
    assert one_way.statistic == pytest.approx((0 + 12 + 3) / 3 / 1.0)


def test_anova_with_an_empty_cell_cannot_be_computed():
    cells = dict(CELLS, **{"a2+b2": []})
    result = stats.anova_interaction_2x2(cells, CONTRAST)
    assert result.p is None and result.d is None and "too few" in result.note


# -- across studies --------------------------------------------------------------------------------
def test_effect_size_correlation_uses_finite_pairs_only():
    human = [9.45, 0.40, 0.90, 0.040, 0.33]
    agents = [12.59, 1.48, 2.98, 0.094, 2.97]  # the paper's interview agents: r = 0.98
    r, pairs = stats.effect_size_correlation(agents, human)
    assert pairs == 5
    assert r == pytest.approx(sps.pearsonr(agents, human)[0])
    assert round(r, 2) == 0.98
    r, pairs = stats.effect_size_correlation([1.0, None, 2.0, float("inf"), 3.0], human)
    assert pairs == 3 and r == pytest.approx(sps.pearsonr([1.0, 2.0, 3.0], [9.45, 0.90, 0.33])[0])
    assert stats.effect_size_correlation([1.0, 2.0], [1.0, 3.0]) == (None, 2)
