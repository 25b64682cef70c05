"""The three tests the five studies use, each with Cohen's d and a 95% confidence interval.

Every effect is signed so that a positive d is the hypothesised direction. Conversions to d:

- Chi-square (2 x 2 table: condition x event): phi = (ad - bc) / sqrt(r1 r2 c1 c2), chi2 = N phi^2 (Pearson,
  no continuity correction), d = 2 phi / sqrt(1 - phi^2) (the r-to-d conversion, Rosenthal 1994). 95% CI:
  Fisher z of phi, z +/- 1.96 / sqrt(N - 3), back-transformed, then converted to d. A completely separated
  table (phi = +/-1, d infinite) gets 0.5 added to every cell before phi is computed for d (Haldane-Anscombe);
  the test itself always uses the raw counts.
- ANOVA interaction (2 x 2): the interaction is a one-degree-of-freedom contrast of the cell means
  L = sum c_ij mean_ij (c = +/-1), SS = L^2 / sum(1 / n_ij) (equal to the Type III sum of squares, so it holds
  for unequal cells), F = SS / MSE with MSE the pooled within-cell variance on N - 4 df. d = 2 sqrt(F / df_error)
  (d = 2t / sqrt(df) with t = sqrt(F)), signed by L.
- Independent-samples t-test: Student's t with pooled variance; d = (mean1 - mean2) / pooled sd.
- CI of d for the t-test and the ANOVA: d +/- 1.96 * SE, SE = sqrt((n1 + n2)/(n1 n2) + d^2 / (2 (n1 + n2)))
  (Hedges & Olkin 1985); for the interaction the two "groups" are taken as N' = df_error + 2 split equally.

Degenerate data (an empty group, no variation at all) is reported as n/a with a note saying why, never a crash.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from scipy import stats

Z95 = 1.959963984540054


@dataclass
class TestResult:
    test: str  # chi_square | t_test | anova_interaction
    statistic: float | None  # chi2, t or F
    df: float | None  # degrees of freedom (chi2, t) or error df (F; numerator df is 1)
    p: float | None
    d: float | None  # Cohen's d, positive = hypothesised direction
    d_low: float | None
    d_high: float | None
    n: int
    groups: dict[str, Any] = field(default_factory=dict)  # per group/cell: n and proportion or mean
    note: str = ""
    estimate: float | None = None  # raw difference in the hypothesised direction (proportions, means, contrast)

    @property
    def direction(self) -> int:
        """+1 as hypothesised, -1 opposite, 0 no difference (or unknown)."""
        value = self.d if self.d is not None else self.estimate
        return 0 if value is None or value == 0 else (1 if value > 0 else -1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def phi_to_d(phi: float) -> float:
    return 2 * phi / math.sqrt(1 - phi * phi)


def d_confidence(d: float, n1: float, n2: float) -> tuple[float, float]:
    """Normal-approximation 95% CI of d (Hedges & Olkin)."""
    se = math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))
    return d - Z95 * se, d + Z95 * se


# -- chi-square ------------------------------------------------------------------------------------
def chi_square_2x2(higher: tuple[int, int], lower: tuple[int, int]) -> TestResult:
    """`higher`/`lower` = (events, non-events) in the group hypothesised to have more / fewer events."""
    a, b = (int(x) for x in higher)
    c, d_ = (int(x) for x in lower)
    n = a + b + c + d_
    groups = {
        "higher": {"n": a + b, "events": a, "proportion": a / (a + b) if a + b else None},
        "lower": {"n": c + d_, "events": c, "proportion": c / (c + d_) if c + d_ else None},
    }
    margins = (a + b, c + d_, a + c, b + d_)
    if a + b == 0 or c + d_ == 0:
        return TestResult("chi_square", None, 1, None, None, None, None, n, groups, "a condition has no answers")
    if a + c == 0 or b + d_ == 0:
        note = "every answer fell in the same category, so there is no difference to test"
        return TestResult("chi_square", 0.0, 1, 1.0, 0.0, None, None, n, groups, note, 0.0)
    phi = (a * d_ - b * c) / math.sqrt(math.prod(margins))
    chi2 = n * phi * phi
    p = float(stats.chi2.sf(chi2, 1))
    note = ""
    phi_for_d = phi
    if abs(phi) >= 1.0:
        a2, b2, c2, d2 = a + 0.5, b + 0.5, c + 0.5, d_ + 0.5
        phi_for_d = (a2 * d2 - b2 * c2) / math.sqrt((a2 + b2) * (c2 + d2) * (a2 + c2) * (b2 + d2))
        note = "complete separation: 0.5 added to each cell to keep d finite"
    d = phi_to_d(phi_for_d)
    low = high = None
    if n > 3:
        z = math.atanh(phi_for_d)
        half = Z95 / math.sqrt(n - 3)
        low, high = phi_to_d(math.tanh(z - half)), phi_to_d(math.tanh(z + half))
    estimate = a / (a + b) - c / (c + d_)
    return TestResult("chi_square", chi2, 1, p, d, low, high, n, groups, note, estimate)


# -- t-test ----------------------------------------------------------------------------------------
def t_test(higher: Sequence[float], lower: Sequence[float]) -> TestResult:
    """Student's independent-samples t-test of `higher` - `lower`, with Cohen's d on the pooled sd."""
    x = np.asarray(higher, dtype=float)
    y = np.asarray(lower, dtype=float)
    n1, n2 = len(x), len(y)
    groups = {
        "higher": {"n": n1, "mean": float(x.mean()) if n1 else None, "sd": float(x.std(ddof=1)) if n1 > 1 else None},
        "lower": {"n": n2, "mean": float(y.mean()) if n2 else None, "sd": float(y.std(ddof=1)) if n2 > 1 else None},
    }
    df = n1 + n2 - 2
    if n1 < 1 or n2 < 1 or df < 1:
        return TestResult("t_test", None, None, None, None, None, None, n1 + n2, groups, "too few answers for a t-test")
    diff = float(x.mean() - y.mean())
    ss = float(((x - x.mean()) ** 2).sum() + ((y - y.mean()) ** 2).sum())
    pooled = math.sqrt(ss / df)
    return _from_contrast("t_test", diff, pooled, math.sqrt(1 / n1 + 1 / n2), df, n1 + n2, n1, n2, groups, square=False)


def _from_contrast(
    test: str, estimate: float, pooled_sd: float, se_factor: float, df: int, n: int,
    n1: float, n2: float, groups: dict[str, Any], *, square: bool,
) -> TestResult:
    """Shared tail of the t-test and the interaction F: statistic, p, d and its CI, degenerate cases."""
    if pooled_sd == 0.0:
        if estimate == 0.0:
            return TestResult(test, 0.0, df, 1.0, 0.0, None, None, n, groups, "no variation within conditions and no difference to test", 0.0)
        note = "no variation within conditions: the difference is exact, d is undefined"
        return TestResult(test, None, df, 0.0, None, None, None, n, groups, note, estimate)
    t = estimate / (pooled_sd * se_factor)
    if square:
        statistic = t * t
        p = float(stats.f.sf(statistic, 1, df))
        d = math.copysign(2 * math.sqrt(statistic / df), estimate)
    else:
        statistic = t
        p = float(2 * stats.t.sf(abs(t), df))
        d = estimate / pooled_sd
    low, high = d_confidence(d, n1, n2)
    return TestResult(test, statistic, df, p, d, low, high, n, groups, "", estimate)


# -- 2 x 2 ANOVA interaction -----------------------------------------------------------------------
def anova_interaction_2x2(cells: Mapping[str, Sequence[float]], contrast: Mapping[str, int]) -> TestResult:
    """Interaction F of a 2 x 2 between-subjects ANOVA; `contrast` (+/-1 per cell) is the hypothesised sign."""
    arrays = {cell: np.asarray(values, dtype=float) for cell, values in cells.items()}
    groups = {
        cell: {"n": len(v), "mean": float(v.mean()) if len(v) else None, "sd": float(v.std(ddof=1)) if len(v) > 1 else None}
        for cell, v in arrays.items()
    }
    n = sum(len(v) for v in arrays.values())
    df = n - 4
    if any(len(v) == 0 for v in arrays.values()) or df < 1:
        return TestResult("anova_interaction", None, None, None, None, None, None, n, groups, "too few answers in some condition")
    estimate = sum(contrast[cell] * float(v.mean()) for cell, v in arrays.items())
    sse = sum(float(((v - v.mean()) ** 2).sum()) for v in arrays.values())
    pooled = math.sqrt(sse / df)
    se_factor = math.sqrt(sum(1 / len(v) for v in arrays.values()))
    half = (df + 2) / 2
    return _from_contrast("anova_interaction", estimate, pooled, se_factor, df, n, half, half, groups, square=True)


def two_way_anova_2x2(cells: Mapping[tuple[int, int], Sequence[float]]) -> dict[str, dict[str, float]]:
    """Full 2 x 2 table (Type III SS via +/-1 contrasts of cell means) for display: A, B, A x B, error."""
    arrays = {key: np.asarray(v, dtype=float) for key, v in cells.items()}
    n = sum(len(v) for v in arrays.values())
    df_error = n - 4
    sse = sum(float(((v - v.mean()) ** 2).sum()) for v in arrays.values())
    mse = sse / df_error
    inv_n = sum(1 / len(v) for v in arrays.values())
    codes = {
        "A": {k: (1 if k[0] == 0 else -1) for k in arrays},
        "B": {k: (1 if k[1] == 0 else -1) for k in arrays},
        "AxB": {k: (1 if k[0] == k[1] else -1) for k in arrays},
    }
    table: dict[str, dict[str, float]] = {}
    for effect, c in codes.items():
        estimate = sum(c[k] * float(v.mean()) for k, v in arrays.items())
        ss = estimate * estimate / inv_n
        f = ss / mse if mse > 0 else math.inf
        table[effect] = {"ss": ss, "df": 1, "F": f, "p": float(stats.f.sf(f, 1, df_error))}
    table["error"] = {"ss": sse, "df": df_error, "ms": mse}
    return table


# -- across studies --------------------------------------------------------------------------------
def effect_size_correlation(agent_d: Sequence[float | None], human_d: Sequence[float | None]) -> tuple[float | None, int]:
    """Pearson r of agent vs human d over studies where both are finite; None with fewer than 3 pairs."""
    pairs = [(a, h) for a, h in zip(agent_d, human_d) if _finite(a) is not None and _finite(h) is not None]
    if len(pairs) < 3:
        return None, len(pairs)
    xs, ys = zip(*pairs)
    if len(set(xs)) < 2 or len(set(ys)) < 2:
        return None, len(pairs)
    return float(stats.pearsonr(xs, ys)[0]), len(pairs)
