"""`simulacra report`: metrics.json, a self-contained report.html, and a summary table in the terminal.

The report is computed from the run folder (manifest, instruments, responses.sqlite) and the human
answers; nothing is taken from a live run. Plots are matplotlib PNGs embedded as base64, so the HTML file
can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from experiments.runs.folder import RunFolder
from experiments.scoring.evaluate import CONDITION_ORDER, EvalSettings
from experiments.scoring.matched import matched_line
from experiments.scoring.score import score_folder
from simulacra.terminal import print_lines, print_table, print_wrapped
from simulacra.workspace import atomic_write_json, atomic_write_text

TEMPLATES = Path(__file__).parent / "templates"

# What each family's headline columns are (metric key, column title), in table order.
HEADLINES = {
    "survey": [
        ("accuracy", "accuracy"),
        ("retest_agreement", "retest"),
        ("normalized_accuracy", "norm. by own retest (mean of ratios)"),
        ("normalized_accuracy_ratio_of_means", "norm. by own retest (ratio of means)"),
        ("normalized_accuracy_paper", "norm. (paper 2-wk)"),
        ("correlation", "correlation"),
        ("normalized_correlation", "norm. corr. (mean of per-person ratios)"),
        ("normalized_correlation_ratio_of_means", "norm. corr. (ratio of mean r)"),
        ("numeric_mae", "numeric MAE"),
    ],
    "bfi": [("mae", "trait MAE"), ("correlation", "trait corr."), ("retest_correlation", "retest corr."),
            ("normalized_correlation", "norm. corr. (mean of per-person ratios)"), ("normalized_correlation_ratio_of_means", "norm. corr. (ratio of mean r)")],
    "games": [("mae", "MAE (0-1)"), ("correlation", "corr."), ("retest_correlation", "retest corr."),
              ("normalized_correlation", "norm. corr. (mean of per-person ratios)"), ("normalized_correlation_ratio_of_means", "norm. corr. (ratio of mean r)")],
}
CONDITION_LABELS = {
    "interview": "interview agents",
    "combined": "combined agents (interview + survey answers)",
    "composite": "composite agents",
    "demographic": "demographic agents",
    "persona": "persona agents",
    "majority": "ref: majority of other people",
    "demographic_knn": "ref: demographic kNN",
    "composite_knn": "ref: composite kNN",
    "logistic": "ref: logistic regression per item",
    "majority_floor": "majority-answer floor",
    "random_floor": "random floor",
}
for _c in ("interview", "combined", "composite", "demographic", "persona"):
    CONDITION_LABELS[f"{_c}+population"] = f"{_c} agents + population (mixed)"
    CONDITION_LABELS[f"{_c}+placebo"] = f"{_c} agents + population, placebo (another person's agent)"
    CONDITION_LABELS[f"{_c}+stacked"] = f"{_c} agents stacked on the logistic regression"
REFERENCE_NAMES = {"majority", "demographic_knn", "composite_knn", "logistic", "majority_floor", "random_floor"}


def is_reference(condition: str) -> bool:
    """Statistical reference conditions and floors (no language model)."""
    return condition in REFERENCE_NAMES or condition.endswith("_floor")


@dataclass
class ReportResult:
    metrics: dict[str, Any]
    metrics_path: Path
    html_path: Path


def fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_stat(stat: dict[str, Any] | None, digits: int = 3) -> str:
    if isinstance(stat, dict) and stat.get("no_valid_answers"):
        return "no valid answers"
    if not stat or stat.get("mean") is None:
        return "–"
    text = fmt(stat["mean"], digits)
    if stat.get("ci"):
        text += f" [{fmt(stat['ci'][0], 2)}, {fmt(stat['ci'][1], 2)}]"
    return text


def headline_rows(metrics: dict[str, Any], instrument: str) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    for condition in _ordered(metrics["conditions"]):
        block = metrics["conditions"][condition].get(instrument)
        if block:
            rows.append((condition, block))
    return rows


def _ordered(names) -> list[str]:
    names = list(names)
    return [c for c in CONDITION_ORDER if c in names] + sorted(n for n in names if n not in CONDITION_ORDER)


# -- plots -------------------------------------------------------------------------------------------------
def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt  # loaded by make_plots (Agg) before any figure exists

    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def make_plots(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """Bar charts of the headline metric per condition (with CIs), per-person spread, per-item scatter, parity."""
    import matplotlib  # matplotlib (~0.5 s) only when a report is drawn; Agg: rendered to PNG, no display

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg")

    plots: list[dict[str, str]] = []
    for instrument, family in metrics["families"].items():
        key = "normalized_accuracy" if family == "survey" else "normalized_correlation"
        rows = [(c, b.get(key) or b.get("accuracy" if family == "survey" else "correlation")) for c, b in headline_rows(metrics, instrument)]
        rows = [(c, s) for c, s in rows if s and s.get("mean") is not None]
        if rows:
            fig, ax = plt.subplots(figsize=(6.4, 3.2))
            means = [s["mean"] for _, s in rows]
            # a bootstrap interval of a ratio need not hold the point estimate (few resamples, few people):
            # the bar's whisker then stops at the mean instead of matplotlib refusing a negative error
            low = [max(0.0, s["mean"] - s["ci"][0]) if s.get("ci") else 0 for _, s in rows]
            high = [max(0.0, s["ci"][1] - s["mean"]) if s.get("ci") else 0 for _, s in rows]
            colors = ["#9aa5b1" if is_reference(c) else "#2b6cb0" for c, _ in rows]
            ax.barh([CONDITION_LABELS.get(c, c) for c, _ in rows], means, xerr=[low, high], color=colors, capsize=3)
            ax.invert_yaxis()
            ax.axvline(1.0, color="#c53030", lw=1, ls="--")
            ax.set_xlabel(key.replace("_", " ") + " (1 = as consistent as the person with themselves)")
            ax.set_title(f"{instrument}: {key.replace('_', ' ')} by condition (95% bootstrap CI)")
            plots.append({"title": f"{instrument}: headline by condition", "png": _png(fig)})
        people = [p for p in metrics["per_person"] if p["instrument"] == instrument and p.get(key) is not None]
        if people:
            conditions = _ordered({p["condition"] for p in people})
            fig, ax = plt.subplots(figsize=(6.4, 3.0))
            data = [[p[key] for p in people if p["condition"] == c] for c in conditions]
            ax.boxplot(data, orientation="horizontal", tick_labels=[CONDITION_LABELS.get(c, c) for c in conditions])
            ax.invert_yaxis()
            ax.set_xlabel(f"{key.replace('_', ' ')} per person")
            ax.set_title(f"{instrument}: spread across people")
            plots.append({"title": f"{instrument}: per person", "png": _png(fig)})
    items = [r for r in metrics["per_item"] if r.get("retest_agreement") is not None]
    agent_conditions = [c for c in _ordered(metrics["conditions"]) if not is_reference(c)]
    if items and agent_conditions:
        fig, ax = plt.subplots(figsize=(5.2, 4.2))
        for condition in agent_conditions:
            points = [(r["retest_agreement"], r.get(f"{condition}_accuracy")) for r in items if r.get(f"{condition}_accuracy") is not None]
            if points:
                ax.scatter(*zip(*points), label=CONDITION_LABELS.get(condition, condition), alpha=0.7, s=18)
        ax.plot([0, 1], [0, 1], color="#c53030", lw=1, ls="--")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("people's wave-1 vs wave-2 agreement")
        ax.set_ylabel("agent accuracy vs wave 1")
        ax.set_title("per item")
        ax.legend(fontsize=8)
        plots.append({"title": "per item: agent accuracy vs human retest", "png": _png(fig)})
    bars = []
    for instrument, by_condition in metrics["parity"].items():
        for condition, entry in by_condition.items():
            for field_name, parity in entry["fields"].items():
                if parity.get("difference") is not None:
                    bars.append((f"{CONDITION_LABELS.get(condition, condition)} · {field_name}", parity["difference"]))
    if bars:
        fig, ax = plt.subplots(figsize=(6.4, max(2.0, 0.28 * len(bars) + 0.8)))
        ax.barh([b[0] for b in bars], [b[1] for b in bars], color="#805ad5")
        ax.invert_yaxis()
        ax.set_xlabel("demographic parity difference (best group − worst group; groups large enough only)")
        plots.append({"title": "demographic parity difference", "png": _png(fig)})
    return plots


# -- writing -----------------------------------------------------------------------------------------------
def render_html(metrics: dict[str, Any], plots: list[dict[str, str]], title: str) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters["fmt"] = fmt
    env.filters["stat"] = fmt_stat
    tables = []
    for instrument, family in metrics["families"].items():
        rows = headline_rows(metrics, instrument)
        if rows:
            tables.append({"instrument": instrument, "family": family, "columns": HEADLINES[family], "rows": rows})
    conditions = [c for c in _ordered(metrics["conditions"])]
    item_columns = [c for c in conditions if c != "random_floor"]
    return env.get_template("report.html.j2").render(
        title=title,
        metrics=metrics,
        tables=tables,
        plots=plots,
        labels=CONDITION_LABELS,
        references=REFERENCE_NAMES,
        item_columns=item_columns,
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
    )


def write_report(folder: RunFolder, truth: Any = None, settings: EvalSettings | None = None) -> ReportResult:
    """Score the run (`experiments.scoring.score`) and write metrics.json and report.html, atomically and only
    when everything succeeded: a wrong or empty truth raises a SimulacraError before anything is written, so a
    good earlier metrics.json / report.html is never overwritten by a failed scoring. `truth`: a ResponseSet, a
    response set name or file, or None for the run's own."""
    metrics = score_folder(folder, truth, settings).as_dict()
    html = render_html(metrics, make_plots(metrics), f"simulacra report · {folder.path.name}")
    metrics_path = folder.path / "metrics.json"
    html_path = folder.path / "report.html"
    atomic_write_json(metrics_path, metrics)
    atomic_write_text(html_path, html)
    return ReportResult(metrics, metrics_path, html_path)


SHORT_LABELS = {"majority_floor": "majority", "random_floor": "random floor", "majority": "ref majority",
                "demographic_knn": "ref demographic kNN", "composite_knn": "ref composite kNN", "logistic": "ref logistic"}
SHORT_TITLES = {"accuracy": "acc.", "retest_agreement": "retest", "normalized_accuracy": "norm.acc", "correlation": "corr.",
                "normalized_correlation": "norm.corr", "normalized_correlation_ratio_of_means": "n.corr rom", "numeric_mae": "num.MAE", "coverage": "valid", "mae": "MAE",
                "retest_correlation": "retest r"}
CI_KEYS = {"survey": "normalized_accuracy", "bfi": "normalized_correlation", "games": "normalized_correlation"}


def print_summary(metrics: dict[str, Any], console: Any = None) -> None:
    """The headline table per instrument (agents beside the reference conditions), coverage and the verdicts."""

    console = console or Console()
    answers = metrics["answers"]
    truth = metrics["truth"]
    console.print(
        f"[bold]{metrics['run']['id']}[/bold] · {answers['ok']} valid / {answers['failed']} failed of "
        f"{answers['expected']} answers · scored against {truth['name']} wave {truth['wave']} "
        f"({truth.get('design', 'same-wave')}); retest wave {truth['retest_wave']}: {truth.get('retest_interval', '')}"
    )
    print_wrapped(console, f"weights: {truth.get('weighting') or 'unweighted'}", style="dim")
    for instrument, family in metrics["families"].items():
        rows = headline_rows(metrics, instrument)
        if not rows:
            continue
        if family == "survey":
            title = f"{instrument}: means over people"
            if console.width < SURVEY_TABLE_WIDTH:  # narrow or piped (80 columns): a table would cut every number
                print_lines(console, [title, *survey_lines(rows)])  # wrapped between fields: no line over the width
            else:
                print_table(console, survey_table(rows, title))
            console.print(f"[dim]{SURVEY_LEGEND}[/dim]")
            spread = [f"{SHORT_LABELS.get(c, c)} SD {s['sd']:.2f} (quartiles {s['q25']:.2f}/{s['median']:.2f}/{s['q75']:.2f})"
                      for c, b in rows for s in [((b.get("spread") or {}).get("normalized_accuracy") or {})] if s.get("sd") is not None]
            if spread:
                console.print("[dim]per-person norm. by own retest, spread over people (the paper, 2-week retest: SD 0.11): "
                              + "; ".join(spread) + "[/dim]")
        else:
            _profile_table(console, rows, instrument, family)
    print_verdicts(metrics, console)
    print_population_checks(metrics, console)
    for instrument, by_condition in metrics["parity"].items():
        worst = []
        for condition, entry in by_condition.items():
            fields = {f: p for f, p in entry.get("fields", {}).items() if p.get("difference") is not None}
            if is_reference(condition) or not fields:
                continue
            field_name, parity = max(fields.items(), key=lambda kv: kv[1]["difference"])
            ci = parity.get("ci_fixed_groups") or parity.get("ci")
            perm = parity.get("permutation") or {}
            worst.append(f"{CONDITION_LABELS.get(condition, condition)}: {parity['difference']:.3f}"
                         + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
                         + (f" permutation p={perm['p_value']:.3f}" if perm.get("p_value") is not None else "") + f" ({field_name})")
        if worst:
            console.print(f"[dim]{instrument} largest parity difference, norm. by own retest, best minus worst group "
                          f"(groups >= {metrics['settings'].get('parity_min_group')}; interval: the two named groups' gap, two-way "
                          "bootstrap; p: permutation test of no group difference): " + "; ".join(worst) + "[/dim]")
    for note in metrics.get("notes", []):
        print_wrapped(console, f"note: {note}", style="yellow")
    if metrics["unscored_agents"]:
        names = ", ".join(a["agent"] for a in metrics["unscored_agents"][:5])
        console.print(f"[dim]not scored (no human answers): {names}{' ...' if len(metrics['unscored_agents']) > 5 else ''}[/dim]")


SURVEY_COLUMNS = [("accuracy", "acc"), ("retest_agreement", "retest"), ("normalized_accuracy", "norm"),
                  ("normalized_accuracy_ratio_of_means", "rom"), ("normalized_accuracy_paper", "paper2wk"),
                  ("normalized_correlation", "n.corr")]
SURVEY_LEGEND = ("acc = raw accuracy; retest = the people's own wave agreement; norm = normalized accuracy by the person's "
                 "own retest, mean of per-person ratios (the paper's rule), with its 95% CI (two-way bootstrap, people x items); "
                 "rom = the same, ratio of means; paper2wk = norm. (paper 2-wk): accuracy / the paper's 2-week item consistency "
                 "on the same items (the only figure on the scale of the paper's 0.85); n.corr = mean of per-person "
                 "correlation ratios (retest r <= 0 or undefined: excluded, counted); valid = valid answers / answers asked on items the person answered in both waves; "
                 "people (-n) = excluded for too few scored items; ref = statistical reference (no model, other people only)")


SURVEY_TABLE_WIDTH = 100  # below this the table's cells would be cut to one or two characters


def survey_lines(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The survey table as plain lines for narrow or piped output: one condition a line, normalized accuracy
    (with its interval) first so the number that matters is never cut."""
    width = max((len(SHORT_LABELS.get(c, c)) for c, _ in rows), default=10)
    lines = []
    for condition, block in rows:
        label = SHORT_LABELS.get(condition, condition).ljust(width)
        cov = block.get("coverage") or {}
        valid = f"{cov['valid']}/{cov['asked']}" if cov.get("asked") else "–"
        people = f"{block.get('people', 0)}" + (f" (-{block['excluded_people']})" if block.get("excluded_people") else "")
        if block.get("no_valid_answers"):
            lines.append(f"{label}  no valid answers  valid 0/{cov.get('asked', 0)}")
            continue
        norm = block.get("normalized_accuracy") or {}
        ci = norm.get("ci")
        parts = [f"norm {fmt(norm.get('mean'), 3)}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")]
        for key, name in SURVEY_COLUMNS:
            if key != "normalized_accuracy":
                parts.append(f"{name} {fmt((block.get(key) or {}).get('mean'), 3)}")
        parts += [f"valid {valid}", f"people {people}"]
        lines.append(f"{label}  " + "  ".join(parts))
    return lines


def survey_table(rows: list[tuple[str, dict[str, Any]]], title: str):
    """A rich table: raw accuracy first, normalized accuracy (mean of ratios, with CI; ratio of means),
    norm. (paper 2-wk), normalized correlation (mean of per-person ratios), people (excluded), coverage."""

    table = Table(title=title, title_justify="left", padding=(0, 1))
    table.add_column("condition", no_wrap=True)
    table.add_column("people", justify="right", no_wrap=True)
    for key, name in SURVEY_COLUMNS:
        table.add_column(name, justify="right")
        if key == "normalized_accuracy":
            table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("valid", justify="right", no_wrap=True)
    for condition, block in rows:
        label = SHORT_LABELS.get(condition, condition)
        people = f"{block.get('people', 0)}" + (f" (-{block['excluded_people']})" if block.get("excluded_people") else "")
        if block.get("no_valid_answers"):
            cov = block.get("coverage") or {}
            table.add_row(label, "0", "no valid answers", *[""] * len(SURVEY_COLUMNS), f"0/{cov.get('asked', 0)}")
            continue
        cells = []
        for key, _ in SURVEY_COLUMNS:
            stat = block.get(key) or {}
            cells.append(fmt(stat.get("mean"), 3))
            if key == "normalized_accuracy":
                ci = stat.get("ci")
                cells.append(f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else "–")
        cov = block.get("coverage") or {}
        valid = f"{cov['valid']}/{cov['asked']}" if cov.get("asked") else "–"
        table.add_row(label, people, *cells, valid, style="dim" if is_reference(condition) else None)
    return table


def population_check_lines(metrics: dict[str, Any]) -> list[str]:
    """Per population-informed condition: its fitted weight (bootstrap interval) and the paired test against its
    placebo (the same mixture with another person's agent distribution for the item)."""
    lines = []
    for condition, by_instrument in metrics["conditions"].items():
        for instrument, block in by_instrument.items():
            placebo = block.get("placebo") if isinstance(block, dict) else None
            if not placebo:
                continue
            name = CONDITION_LABELS.get(condition, condition)
            weight = block.get("weight") or {}
            wci = weight.get("ci")
            if weight.get("fit") is not None:
                lines.append(f"{name} ({instrument}): agent weight {weight['fit']:.2f}"
                             + (f" [{wci[0]:.2f}, {wci[1]:.2f}]" if wci else "") + " (pooled fit, two-way bootstrap; "
                             "each person is predicted with a weight fitted on the others)")
            if placebo.get("difference") is None:
                lines.append(f"placebo check {name} ({instrument}): {placebo.get('verdict', 'not estimable')}")
                continue
            ci = placebo.get("ci")
            ll = placebo.get("log_loss_difference") or {}
            ll_text = ""
            if ll.get("difference") is not None:
                lci = ll.get("ci")
                ll_text = f"; log-loss placebo minus real {ll['difference']:+.3f}" + (f" [{lci[0]:+.3f}, {lci[1]:+.3f}]" if lci else "")
            lines.append(f"placebo check {name} ({instrument}): {placebo['difference']:+.3f}"
                         + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")
                         + f" normalized accuracy, real mixture minus placebo, paired{ll_text}: {placebo['verdict']}")
    return lines


def print_population_checks(metrics: dict[str, Any], console: Any) -> None:
    print_lines(console, population_check_lines(metrics))


def print_verdicts(metrics: dict[str, Any], console: Any) -> None:
    for verdict in metrics.get("verdicts", []):
        name = CONDITION_LABELS.get(verdict["condition"], verdict["condition"])
        if verdict.get("matched"):  # like-for-like first (#23 item 2), then the best reference
            console.print(matched_line(name, verdict["matched"]))
        if verdict.get("difference") is None:
            console.print(f"[bold]verdict[/bold] {name}: {verdict['verdict']}")
            continue
        ci = verdict.get("ci")
        interval = f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""
        console.print(
            f"[bold]verdict[/bold] {name}: {verdict['difference']:+.3f}{interval} normalized accuracy vs "
            f"{verdict.get('reference_label', verdict.get('reference'))} (best reference, {verdict['reference_value']:.3f}), "
            f"paired, two-way bootstrap: {verdict['verdict']}"
        )
    excluded = [(c, b) for c, by in metrics["conditions"].items() for b in by.values()
                if isinstance(b, dict) and b.get("failed_excluded") and (b.get("coverage") or {}).get("failed")]
    for condition, block in excluded:
        alt = block["failed_excluded"].get("normalized_accuracy") or {}
        console.print(f"[dim]{CONDITION_LABELS.get(condition, condition)}: {block['coverage']['failed']} failed answers; "
                      f"headline counts them wrong; excluding them: norm.acc {fmt(alt.get('mean'), 3)}[/dim]")


def _profile_table(console: Any, rows, instrument: str, family: str) -> None:
    columns = [(k, t) for k, t in HEADLINES[family] if any((b.get(k) or {}).get("mean") is not None for _, b in rows)]
    table = Table(title=f"{instrument} ({family}): means over people", title_justify="left", padding=(0, 1))
    table.add_column("condition", no_wrap=True)
    table.add_column("n", justify="right")
    for key, title in columns:
        table.add_column(SHORT_TITLES.get(key, title), justify="right")
    for condition, block in rows:
        table.add_row(SHORT_LABELS.get(condition, condition), str(block.get("people", 0)),
                      *[fmt((block.get(k) or {}).get("mean"), 2) for k, _ in columns], style="dim" if is_reference(condition) else None)
    print_table(console, table)  # wrapped cells or plain lines when narrower than the table
