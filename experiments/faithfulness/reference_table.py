"""The full-panel reference table: every statistical reference condition on a whole GSS panel, no model.

`simulacra benchmark gss-panel --references-only` (or `--condition stats`): all re-interviewed people with
at least `min_items` scored items, every item asked in both waves; each reference predicts each person from
the other people only (see `experiments.scoring.references`). Seconds to a few minutes on two cores (the
logistic regressions take most of it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from experiments.scoring.evaluate import retest_interval
from experiments.scoring.panel import PanelMatrix
from experiments.scoring.references import LABELS, REFERENCE_ORDER
from experiments.scoring.score import weighting_note
from experiments.scoring.survey import SurveySettings, score_survey
from simulacra.errors import SimulacraError
from simulacra.terminal import print_lines, print_table
from surveys.instruments import load_instrument
from surveys.loaders import load_gss_panel, load_panel_file
from surveys.responses import describe_unmapped

DEFAULT_REFERENCE_BOOTSTRAP = 200


@dataclass
class ReferenceTable:
    panel: str
    design: str
    people: int
    items: int
    min_items: int
    bootstrap: int
    seconds: float
    retest_interval: str
    conditions: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""
    unmapped: list[str] = field(default_factory=list)  # values of the panel file no option could be matched to
    weights: str | None = None  # survey weight column of the population figures (majority, 1-TV/TV_unif); None: unweighted
    weighting: str = "unweighted"  # the same in words (experiments.scoring.score.weighting_note)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_panel(panel: str = "2016-2020", panel_file: str | None = None, y_versions: str = "merge", weights: str | None = None):
    gss = load_instrument("gss")
    if panel_file:
        return load_panel_file(panel_file, gss, y_versions=y_versions, weights=weights), gss  # type: ignore[arg-type]
    if panel not in ("2016-2020", "2006"):
        raise SimulacraError(f"unknown GSS panel {panel!r}: choose 2016-2020 or 2006, or give --panel-file")
    return load_gss_panel(panel, gss, y_versions=y_versions, weights=weights), gss  # type: ignore[arg-type]


def panel_cells(responses: Any, gss: Any, *, design: str, seed: int, items: int | None = None,
                people: int | None = None) -> tuple[PanelMatrix, list[str], np.ndarray]:
    """The panel as a matrix, the items answered in both waves by someone (a seeded subset of `items`) and the
    people who answered one of them in both waves (a seeded subset of `people`): the cells every statistic of the
    panel is computed on."""
    matrix = PanelMatrix.from_responses(responses, gss.questions)
    matrix.scored_wave = 1 if design == "same-wave" else 2
    pairs = (matrix.w1 >= 0) & (matrix.w2 >= 0)
    rng = np.random.default_rng(seed)
    target_idx = np.flatnonzero(pairs.any(axis=0))
    if items is not None and items < len(target_idx):
        target_idx = np.sort(rng.choice(target_idx, size=items, replace=False))
    targets = [matrix.items[j] for j in target_idx]
    rows = np.flatnonzero(pairs[:, target_idx].sum(axis=1) >= 1)
    if people is not None and people < len(rows):
        rows = np.sort(rng.choice(rows, size=people, replace=False))
    if not targets or not len(rows):
        raise SimulacraError(f"{responses.source}: no person answered any item in both waves")
    return matrix, targets, rows


def reference_table(panel: str = "2016-2020", *, panel_file: str | None = None, design: str = "same-wave",
                    min_items: int = 20, bootstrap: int = DEFAULT_REFERENCE_BOOTSTRAP, seed: int = 0,
                    references: Sequence[str] = REFERENCE_ORDER, people: int | None = None, items: int | None = None,
                    k: int = 25, weights: str | None = None) -> ReferenceTable:
    """Score the reference conditions (and the random floor) on the whole panel (or a seeded subset). `weights`: a
    survey weight column of the panel (e.g. wtssall): the population figures (the majority reference, 1-TV/TV_unif)
    are weighted by it; individual accuracy is not."""

    if design not in ("same-wave", "cross-wave"):
        raise SimulacraError(f"unknown design {design!r}: choose same-wave or cross-wave")
    started = time.perf_counter()
    responses, gss = load_panel(panel, panel_file, weights=weights)
    matrix, targets, rows = panel_cells(responses, gss, design=design, seed=seed, items=items, people=people)
    settings = SurveySettings(min_items=min_items, bootstrap=bootstrap, seed=seed, references=list(references), k=k,
                              population=False, parity_min_group=30, min_item_people=30)
    result = score_survey(matrix, targets, rows, {}, settings)
    return ReferenceTable(
        panel=responses.name, design=design, people=len(rows), items=len(targets), min_items=min_items, bootstrap=bootstrap,
        seconds=time.perf_counter() - started, retest_interval=retest_interval(responses), conditions=result.conditions,
        source=str(responses.source), unmapped=describe_unmapped(responses),
        weights=responses.weight_column if responses.weighted else None, weighting=weighting_note(responses),
    )


def fmt_stat(stat: dict[str, Any] | None, ci: bool = False) -> str:
    """A statistic block as text: its mean to three decimals, with its interval when `ci`."""
    if not stat or stat.get("mean") is None:
        return "–"
    text = f"{stat['mean']:.3f}"
    if ci and stat.get("ci"):
        text += f" [{stat['ci'][0]:.3f}, {stat['ci'][1]:.3f}]"
    return text


TABLE_COLUMNS = [("accuracy", "accuracy", False),
                 ("normalized_accuracy", "norm. by own retest (mean of ratios)", True),
                 ("normalized_accuracy_ratio_of_means", "norm. by own retest (ratio of means)", False),
                 ("normalized_accuracy_paper", "norm. (paper 2-wk)", True),
                 ("correlation", "correlation", False),
                 ("normalized_correlation", "norm. corr. (mean of per-person ratios)", False),
                 ("normalized_correlation_ratio_of_means", "norm. corr. (ratio of mean r)", False)]


def rows_of(table: ReferenceTable) -> list[list[str]]:
    out = []
    for name, block in table.conditions.items():
        label = LABELS.get(name, block.get("label", name))
        dist = block.get("distribution") or {}
        out.append([label, str(block.get("people", 0))] + [fmt_stat(block.get(key), ci) for key, _, ci in TABLE_COLUMNS]
                   + [f"{dist['log_loss']:.3f}" if dist.get("log_loss") is not None else "–",
                      f"{dist['population_tv_score']:.3f}" if dist.get("population_tv_score") is not None else "–"])
    return out


HEADER = ["condition", "people"] + [title for _, title, _ in TABLE_COLUMNS] + ["log-loss", "1-TV/TV_unif"]


def retest_line(table: ReferenceTable) -> str:
    block = next(iter(table.conditions.values()))
    retest = block.get("retest_agreement") or {}
    excluded = block.get("excluded_people", 0)
    return (f"per-person retest agreement (wave 1 vs wave 2, same items): {fmt_stat(retest, True)}; "
            f"{block.get('people', 0)} people with >= {table.min_items} scored items ({excluded} excluded); retest interval: {table.retest_interval}")


def by_sample_lines(table: ReferenceTable) -> list[str]:
    lines = []
    for name, block in table.conditions.items():
        samples = block.get("by_sample") or {}
        if samples:
            parts = [f"{s} sample ({v['people']} people): norm. by own retest {fmt_stat(v['normalized_accuracy'], True)}"
                     + (f", norm. (paper 2-wk) {fmt_stat(v['normalized_accuracy_paper'], True)}" if v.get("normalized_accuracy_paper") else "")
                     for s, v in samples.items()]
            lines.append(f"{LABELS.get(name, name)}: " + "; ".join(parts))
    return lines


def spread_lines(table: ReferenceTable) -> list[str]:
    """The spread over people of each condition's per-person normalized accuracy (own retest)."""
    lines = []
    for name, block in table.conditions.items():
        s = (block.get("spread") or {}).get("normalized_accuracy") or {}
        if s.get("sd") is not None:
            lines.append(f"{LABELS.get(name, block.get('label', name))}: per-person normalized accuracy (own retest) SD {s['sd']:.3f}, "
                         f"quartiles {s['q25']:.3f} / {s['median']:.3f} / {s['q75']:.3f}, range {s['min']:.3f}-{s['max']:.3f}")
    return lines


def print_reference_table(table: ReferenceTable, console: Any = None) -> None:
    console = console or Console()
    title = (f"reference conditions on {table.panel} ({table.design}): {table.people} people x {table.items} items, "
             f"two-way bootstrap {table.bootstrap} (people x items), {table.seconds:.0f} s")
    rich_table = Table(title=title, title_justify="left", padding=(0, 1))
    for i, name in enumerate(HEADER):
        rich_table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows_of(table):
        rich_table.add_row(*row)
    print_table(console, rich_table)  # narrower than the table (80 columns, a pipe): wrapped cells or plain lines
    print_lines(console, [retest_line(table), f"weights: {table.weighting}"])
    print_lines(console, by_sample_lines(table) + spread_lines(table), style="dim")


def markdown(table: ReferenceTable) -> str:
    lines = [f"Reference conditions on {table.panel} ({table.design}): {table.people} people x {table.items} items; "
             f"95% intervals from a two-way bootstrap ({table.bootstrap} replicates over people and items); {table.seconds:.0f} s.", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row) + " |" for row in rows_of(table)]
    lines += ["", retest_line(table), "", f"Weights: {table.weighting}.", ""]
    lines += [f"- {line}" for line in by_sample_lines(table) + spread_lines(table)]
    return "\n".join(lines) + "\n"
