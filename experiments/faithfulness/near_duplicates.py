"""Compute the near-duplicate table: GSS item pairs that predict each other on the 2016-2020 panel.

    python -m experiments.faithfulness.near_duplicates [--threshold 0.8] [--min-gain 0.5]

For each pair (a, b) of choice items, among people who answered both in wave 1: the accuracy of predicting
a by the most common a-answer given b's answer (the conditional mode), and the same for b from a. A pair is
listed when both directions reach `threshold` AND the prediction removes at least `min-gain` of the error
left by predicting each item's own most common answer in at least one direction (so that two items that
nearly everyone answers the same way are not listed merely for being lopsided). Writes experiments/scoring/data/near_duplicates.csv.
"""

from __future__ import annotations

import argparse
import csv
import itertools

import numpy as np

from experiments.faithfulness.leakage import DATA, KNOWN_PAIRS


def conditional_mode_accuracy(a: np.ndarray, b: np.ndarray, ka: int, kb: int) -> tuple[float, float, int]:
    """(accuracy of a from b, accuracy of a's own majority, pairs) over people who answered both."""
    both = (a >= 0) & (b >= 0)
    n = int(both.sum())
    if n == 0:
        return 0.0, 0.0, 0
    table = np.bincount(b[both].astype(int) * ka + a[both].astype(int), minlength=ka * kb).reshape(kb, ka)
    return float(table.max(axis=1).sum() / n), float(table.sum(axis=0).max() / n), n


def compute(threshold: float = 0.8, min_gain: float = 0.5, min_pairs: int = 100) -> list[dict]:
    from surveys.instruments import load_instrument
    from surveys.loaders import load_gss_panel

    from experiments.scoring.panel import PanelMatrix

    gss = load_instrument("gss")
    panel = PanelMatrix.from_responses(load_gss_panel("2016-2020", gss), gss.questions)
    k = panel.n_options
    rows = []
    for i, j in itertools.combinations(range(len(panel.items)), 2):
        a, b = panel.w1[:, i], panel.w1[:, j]
        a_from_b, a_major, n = conditional_mode_accuracy(a, b, k[i], k[j])
        if n < min_pairs or a_from_b < threshold:
            continue
        b_from_a, b_major, _ = conditional_mode_accuracy(b, a, k[j], k[i])
        if b_from_a < threshold:
            continue
        gain = max((a_from_b - a_major) / max(1 - a_major, 1e-9), (b_from_a - b_major) / max(1 - b_major, 1e-9))
        if gain < min_gain:
            continue
        rows.append({"item_a": panel.items[i], "item_b": panel.items[j], "a_from_b": round(a_from_b, 4),
                     "b_from_a": round(b_from_a, 4), "a_majority": round(a_major, 4), "b_majority": round(b_major, 4),
                     "gain": round(gain, 4), "pairs": n, "reason": "predict each other on the 2016-2020 panel"})
    listed = {(r["item_a"], r["item_b"]) for r in rows} | {(r["item_b"], r["item_a"]) for r in rows}
    for a, b in KNOWN_PAIRS:
        if (a, b) not in listed and a in panel.items and b in panel.items:
            i, j = panel.items.index(a), panel.items.index(b)
            a_from_b, a_major, n = conditional_mode_accuracy(panel.w1[:, i], panel.w1[:, j], k[i], k[j])
            b_from_a, b_major, _ = conditional_mode_accuracy(panel.w1[:, j], panel.w1[:, i], k[j], k[i])
            rows.append({"item_a": a, "item_b": b, "a_from_b": round(a_from_b, 4), "b_from_a": round(b_from_a, 4),
                         "a_majority": round(a_major, 4), "b_majority": round(b_major, 4), "gain": None, "pairs": n,
                         "reason": "the same quantity in two codings"})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--min-gain", type=float, default=0.5)
    args = parser.parse_args(argv)
    rows = compute(args.threshold, args.min_gain)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    with open(DATA, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["item_a", "item_b"])
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(row)
    print(f"{len(rows)} pairs -> {DATA}")


if __name__ == "__main__":
    main()
