"""`simulacra experiment report`: every study side by side, agents' d vs the published human d.

Results are recomputed from each run folder (never from memory of a live run), shown as a rich table, and
written as one self-contained HTML file (jinja2 template beside this module; the matplotlib plot of agent d
against human d is embedded as base64 PNG).
"""

from __future__ import annotations

import base64
import io
import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from experiments.behavioral import stats
from experiments.behavioral.runner import REPORT, analyze_run, experiment_studies
from experiments.runs.folder import RunFolder
from simulacra.terminal import print_lines, print_table, print_wrapped
from simulacra.workspace import atomic_write_text

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
TEST_LABEL = {"chi_square": "chi-square", "t_test": "t-test", "anova_interaction": "ANOVA interaction"}


def fmt_p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def fmt_num(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:.{digits}f}"


def fmt_statistic(study: dict[str, Any]) -> str:
    stat, df = study.get("statistic"), study.get("df")
    if stat is None:
        return "n/a"
    df_text = f"{df:g}" if df is not None else "?"
    if study["test"] == "chi_square":
        return f"chi2(1) = {stat:.2f}"
    if study["test"] == "t_test":
        return f"t({df_text}) = {stat:.2f}"
    return f"F(1, {df_text}) = {stat:.2f}"


def fmt_d(study: dict[str, Any]) -> str:
    d = study.get("d")
    if d is None:
        return "n/a"
    low, high = study.get("d_low"), study.get("d_high")
    if low is None or high is None:
        return f"{d:.2f}"
    return f"{d:.2f} [{low:.2f}, {high:.2f}]"


def collect(runs: Sequence[RunFolder]) -> list[dict[str, Any]]:
    """Fresh results for each run (also rewrites each run's results.json), plus its study definitions."""
    collected = []
    for folder in runs:
        results = analyze_run(folder)
        results["definitions"] = {s.id: s for s in experiment_studies(folder)}
        collected.append(results)
    return collected


def report_path(folder: RunFolder) -> Path:
    return folder.path / REPORT


def plain_report(collected: Sequence[dict[str, Any]]) -> str:
    """The summary as plain text, one block per run and one line per study (for pipes and narrow terminals)."""
    lines: list[str] = []
    for results in collected:
        model = results.get("model", {}).get("name", "?")
        lines.append(f"run {results['run_id']} ({results['agents']} agents, model {model}, seed {results['seed']}, {results['status']})")
        for study in results["studies"]:
            human = "replicated" if study.get("human_replicated") else "not replicated" if study.get("human_replicated") is not None else "n/a"
            n = str(study["n"]) + (f" (-{study['n_excluded']})" if study["n_excluded"] else "")
            lines.append(
                f"  {study['study_id']}: {TEST_LABEL.get(study['test'], study['test'])}, n {n}, {fmt_statistic(study)}, "
                f"p {fmt_p(study['p'])}, d {fmt_d(study)};"
            )
            lines.append(f"    human d {fmt_num(study.get('human_d'))}, p {study.get('human_p') or 'n/a'}; "
                         f"agents: {study['verdict']}; humans: {human}")
            if study.get("note"):
                lines.append(f"    note: {study['note']}")
        r = results.get("effect_size_r")
        lines.append(
            f"  replicated: agents {results['replicated']}/{len(results['studies'])}, humans {results['human_replicated']}/"
            f"{len(results['studies'])}; same verdict as humans in {results['same_verdict_as_humans']}; "
            f"r(agent d, human d) = {fmt_num(r)} over {results['effect_size_pairs']} studies"
        )
    return "\n".join(lines)


def print_report(console: Any, collected: Sequence[dict[str, Any]]) -> None:
    """A rich table on a wide terminal; plain lines when piped or narrower than the table needs."""

    if not console.is_terminal or console.width < 120:
        print_lines(console, plain_report(collected).splitlines())  # wrapped to the width, words whole
        return
    for results in collected:
        model = results.get("model", {}).get("name", "?")
        table = Table(
            title=escape(f"run {results['run_id']}  ({results['agents']} agents, model {model}, seed {results['seed']}, {results['status']})"),
            title_justify="left",
        )
        table.add_column("study", no_wrap=True)
        for column in ("test", "n", "statistic", "p", "agents' d [95% CI]", "human d", "human p", "agents", "humans"):
            table.add_column(column, justify="right" if column in ("n", "p", "human d", "human p") else "left")
        for study in results["studies"]:
            verdict = study["verdict"]
            style = "green" if verdict == "replicated" else "red" if verdict == "not replicated" else "yellow"
            human = "replicated" if study.get("human_replicated") else "not replicated" if study.get("human_replicated") is not None else "n/a"
            table.add_row(
                escape(study["study_id"]),
                TEST_LABEL.get(study["test"], study["test"]),
                str(study["n"]) + (f" (-{study['n_excluded']})" if study["n_excluded"] else ""),
                fmt_statistic(study),
                fmt_p(study["p"]),
                fmt_d(study),
                fmt_num(study.get("human_d")),
                study.get("human_p") or "n/a",
                f"[{style}]{verdict}[/{style}]",
                human,
            )
        print_table(console, table)
        r = results.get("effect_size_r")
        console.print(
            f"replicated: agents {results['replicated']}/{len(results['studies'])}, humans {results['human_replicated']}/"
            f"{len(results['studies'])}; same verdict as humans in {results['same_verdict_as_humans']}; "
            f"r(agent d, human d) = {fmt_num(r)} over {results['effect_size_pairs']} studies"
            + ("" if r is not None else " (needs 3 or more studies with a finite d)")
        )
        for study in results["studies"]:
            if study.get("note"):
                print_wrapped(console, f"  {study['study_id']}: {study['note']}", style="dim")


def effect_plot_png(collected: Sequence[dict[str, Any]]) -> str:
    """Agent d against human d for every study (with 95% CIs), identity line; base64 PNG."""
    import matplotlib  # matplotlib (~0.5 s) only when a plot is drawn; Agg: rendered to PNG, no display

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # after use("Agg")
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 5.2), dpi=110)
    values: list[float] = []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, results in enumerate(collected):
        color = colors[index % len(colors)]
        label_done = False
        for study in results["studies"]:
            human, agent = study.get("human_d"), study.get("d")
            if human is None:
                continue
            paper = study.get("paper_agents_d", {}).get("interview")
            if paper is not None and index == 0:
                ax.scatter([human], [paper], marker="o", facecolors="none", edgecolors="grey", s=40,
                           label=None if values else "paper: interview agents")
                values += [human, paper]
            if agent is None:
                continue
            low, high = study.get("d_low"), study.get("d_high")
            err = [[agent - low], [high - agent]] if low is not None and high is not None else None
            ax.errorbar([human], [agent], yerr=err, fmt="o", color=color, capsize=3,
                        label=None if label_done else f"run {results['run_id']}")
            label_done = True
            short = study["title"].split(":")[0].split(",")[0].split(" & ")[0].split(" ")[0]
            offset = (6, 6) if len(values) % 4 == 0 else (6, -10)
            ax.annotate(short, (human, agent), textcoords="offset points", xytext=offset, fontsize=7)
            values += [human, agent] + ([low, high] if low is not None and high is not None else [])
    finite = [v for v in values if v is not None and math.isfinite(v)] or [0.0, 1.0]
    lo, hi = min(min(finite), 0.0), max(finite)
    pad = (hi - lo) * 0.08 or 1.0
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], linestyle="--", color="lightgrey", linewidth=1, label="agents = humans")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(lo - pad, hi + pad)
    if hi > 4:  # d spans decades (0.04 to 12 in the paper): linear near 0, logarithmic beyond 1
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_yscale("symlog", linthresh=1.0)
        plain = matplotlib.ticker.FuncFormatter(lambda value, _pos: f"{value:g}")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("published human Cohen's d")
    ax.set_ylabel("agents' Cohen's d (95% CI)")
    ax.set_title("Effect sizes: agents vs humans")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def render_html(collected: Sequence[dict[str, Any]]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(p=fmt_p, num=fmt_num, statistic=fmt_statistic, d=fmt_d, test=lambda t: TEST_LABEL.get(t, t))
    template = env.get_template("report.html.j2")
    return template.render(
        runs=collected,
        plot=effect_plot_png(collected),
        conversions=stats.__doc__,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def write_html(collected: Sequence[dict[str, Any]], path: Path) -> Path:
    atomic_write_text(Path(path), render_html(collected))
    return Path(path)


def write_experiment_report(runs: Sequence[Any], *, out: Path | None = None, as_json: bool = False, console: Any = None) -> Path:
    """Results of one or more experiment runs (ids, folders or RunFolders): terminal summary (or JSON) and HTML."""

    console = console or Console()
    folders = [r if isinstance(r, RunFolder) else RunFolder.resolve(r) for r in runs]
    collected = collect(folders)
    if out is None:
        out = report_path(folders[0]) if len(folders) == 1 else folders[0].path / "report-combined.html"
    path = write_html(collected, Path(out))
    if as_json:
        payload = [{k: v for k, v in results.items() if k != "definitions"} for results in collected]
        print(json.dumps({"report": str(path), "runs": payload}, indent=2, default=str))
    else:
        print_report(console, collected)
        print_wrapped(console, f"report: {path}")
    return path
