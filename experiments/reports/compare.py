"""`simulacra compare RUN_A RUN_B ...`: the same metrics side by side, differences, and paired tests.

Each run is scored from its folder (its metrics.json when present, else evaluated against its human
answers). People are paired by respondent within each condition and instrument; for every per-person
metric the difference (later run minus the first) is tested with the Wilcoxon signed-rank test and the
paired t-test (scipy). The first run is the reference.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table
from scipy import stats

from experiments.reports.report import CONDITION_LABELS, TEMPLATES, _ordered, fmt, is_reference
from experiments.runs.folder import RunFolder
from experiments.scoring.evaluate import EvalSettings
from experiments.scoring.results import SCHEMA_VERSION, load_metrics
from experiments.scoring.score import score_folder
from simulacra.errors import SimulacraError
from simulacra.terminal import print_table
from simulacra.workspace import atomic_write_json, atomic_write_text, private_dir

PAIRED_METRICS = ["accuracy", "normalized_accuracy", "normalized_accuracy_paper", "correlation", "normalized_correlation",
                  "numeric_mae", "mae"]
LOWER_IS_BETTER = {"numeric_mae", "mae"}


def run_metrics(folder: RunFolder, truth_spec: str | None, settings: EvalSettings) -> dict[str, Any]:
    """A run's metrics: its metrics.json, or computed now when --truth is given or nothing is saved."""

    saved = folder.path / "metrics.json"
    if saved.is_file() and not truth_spec:
        data = json.loads(saved.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("schema_version", 1) == SCHEMA_VERSION:
            return load_metrics(saved)
        # an older metrics.json: score the run again from its folder (its saved or named human answers)
    return score_folder(folder, truth_spec, settings).as_dict()


def paired_test(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Wilcoxon signed-rank and paired t-test of b - a (p-values; None when they cannot be computed)."""

    n = len(a)
    out: dict[str, Any] = {"n": n, "mean_a": None, "mean_b": None, "difference": None, "wilcoxon_p": None, "t_p": None}
    if n == 0:
        return out
    diffs = [y - x for x, y in zip(a, b)]
    out["mean_a"] = sum(a) / n
    out["mean_b"] = sum(b) / n
    out["difference"] = sum(diffs) / n
    if n < 2:
        return out
    if all(abs(d) < 1e-12 for d in diffs):
        out["wilcoxon_p"] = out["t_p"] = 1.0
        return out
    try:
        out["wilcoxon_p"] = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    except ValueError:
        pass
    t = stats.ttest_rel(b, a)
    out["t_p"] = None if math.isnan(t.pvalue) else float(t.pvalue)
    return out


def compare_metrics(named: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Headline means side by side and paired tests of each later run against the first."""
    reference_name, reference = named[0]
    headline: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    conditions = _ordered({c for _, metrics in named for c in metrics["conditions"]})
    instruments = sorted({i for _, metrics in named for i in metrics.get("families", {})})
    for instrument in instruments:
        for condition in conditions:
            for metric in PAIRED_METRICS:
                row: dict[str, Any] = {"instrument": instrument, "condition": condition, "metric": metric, "runs": {}}
                for name, metrics in named:
                    stat = metrics["conditions"].get(condition, {}).get(instrument, {}).get(metric)
                    row["runs"][name] = stat
                if any(v and v.get("mean") is not None for v in row["runs"].values()):
                    headline.append(row)
                people_a = _people(reference, condition, instrument, metric)
                for name, metrics in named[1:]:
                    people_b = _people(metrics, condition, instrument, metric)
                    shared = sorted(set(people_a) & set(people_b))
                    if not shared:
                        continue
                    result = paired_test([people_a[p] for p in shared], [people_b[p] for p in shared])
                    tests.append({"instrument": instrument, "condition": condition, "metric": metric, "a": reference_name, "b": name,
                                  "lower_is_better": metric in LOWER_IS_BETTER, **result})
    return {
        "runs": [{"name": name, "id": metrics["run"]["id"], "model": metrics["run"].get("model", {}), "truth": metrics["truth"]["name"]}
                 for name, metrics in named],
        "reference": reference_name,
        "headline": headline,
        "paired_tests": tests,
    }


def _people(metrics: dict[str, Any], condition: str, instrument: str, metric: str) -> dict[str, float]:
    return {
        p["respondent"]: p[metric]
        for p in metrics.get("per_person", [])
        if p["condition"] == condition and p["instrument"] == instrument and p.get(metric) is not None
    }


def compare_runs(folders: list[RunFolder], truth_spec: str | None, out_dir: Path, settings: EvalSettings | None = None) -> tuple[dict[str, Any], Path, Path]:
    if len(folders) < 2:
        raise SimulacraError("compare needs at least two runs")
    settings = settings or EvalSettings()
    names = _unique_names([f.path.name for f in folders])
    named = [(name, run_metrics(folder, truth_spec, settings)) for name, folder in zip(names, folders)]
    result = compare_metrics(named)
    private_dir(out_dir)
    json_path = out_dir / "compare.json"
    atomic_write_json(json_path, result)
    html_path = out_dir / "compare.html"
    atomic_write_text(html_path, render_compare_html(result))
    return result, json_path, html_path


def default_out_dir(runs_root: Path, folders: list[RunFolder]) -> Path:
    digest = hashlib.sha256("|".join(str(f.path.resolve()) for f in folders).encode()).hexdigest()[:8]
    return runs_root / f"compare-{digest}"


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


def _pvalue(p: float | None) -> str:
    if p is None:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def render_compare_html(result: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = fmt
    env.filters["p"] = _pvalue
    return env.get_template("compare.html.j2").render(
        result=result, labels=CONDITION_LABELS, generated=time.strftime("%Y-%m-%d %H:%M:%S")
    )


def print_comparison(result: dict[str, Any], console: Any = None) -> None:
    console = console or Console()
    names = [r["name"] for r in result["runs"]]
    table = Table(title="runs side by side (means over people)", title_justify="left")
    for column in ("instrument", "condition", "metric", *names):
        table.add_column(column, justify="left" if column in ("instrument", "condition", "metric") else "right")
    for row in result["headline"]:
        if row["metric"] not in ("accuracy", "normalized_accuracy", "normalized_accuracy_paper", "normalized_correlation", "mae", "numeric_mae"):
            continue
        table.add_row(row["instrument"], CONDITION_LABELS.get(row["condition"], row["condition"]), row["metric"],
                      *[fmt((row["runs"].get(n) or {}).get("mean")) for n in names],
                      style="dim" if is_reference(row["condition"]) else None)
    print_table(console, table)  # wrapped cells or plain lines when narrower than the table
    tests = [t for t in result["paired_tests"] if not is_reference(t["condition"])]
    if tests:
        paired = Table(title=f"paired tests against {result['reference']}", title_justify="left")
        for column in ("instrument", "condition", "metric", "run", "n", "difference", "Wilcoxon p", "paired t p"):
            paired.add_column(column, justify="left" if column in ("instrument", "condition", "metric", "run") else "right")
        for t in tests:
            paired.add_row(t["instrument"], CONDITION_LABELS.get(t["condition"], t["condition"]), t["metric"], t["b"], str(t["n"]),
                           fmt(t["difference"]), _pvalue(t["wilcoxon_p"]), _pvalue(t["t_p"]))
        print_table(console, paired)
