"""Batch commands: `simulacra run`, `report`, `compare`, `benchmark gss-panel` and `demo`.

A thin layer over experiments.runs / evaluate / report / compare / gss_benchmark / demo. Heavy
libraries are imported inside the commands so `simulacra --help` stays fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, List, Optional, Sequence

import typer
from rich.console import Console

console = Console()
benchmark_app = typer.Typer(no_args_is_help=True, help="Real-data benchmarks (GSS panels).")


# -- shared helpers ------------------------------------------------------------------------------------
def _settings_summary(settings: Any) -> dict[str, Any]:
    return {"temperature": settings.llm.temperature, "max_tokens": settings.llm.max_tokens}


def _print_estimate(estimate: Any, settings: Any) -> None:
    from rich.table import Table

    table = Table(title="dry run: nothing was sent to the model", show_header=False, title_justify="left")
    table.add_row("agents with work left", str(estimate.agents))
    table.add_row("answers to ask", str(estimate.pending_answers))
    table.add_row("answers already stored", str(estimate.already_answered))
    table.add_row("model calls", str(estimate.calls))
    table.add_row("prompt tokens (estimate)", f"{estimate.prompt_tokens:,}")
    table.add_row("completion tokens (estimate)", f"{estimate.completion_tokens:,}")
    prices = f"at ${settings.llm.price_input_per_1k}/1k in, ${settings.llm.price_output_per_1k}/1k out"
    table.add_row("cost (estimate)", f"${estimate.cost_usd:.4f} {prices}")
    console.print(table)
    console.print("[dim]Token counts are estimated at about 4 characters a token; the response cache makes repeated calls free.[/dim]")


def _finish_message(folder: Any) -> None:
    manifest = folder.refresh_manifest()
    counts = manifest.counts
    usage = manifest.usage
    console.print(
        f"[green]run {manifest.id}[/green]: {counts.get('ok', 0)} valid, {counts.get('failed', 0)} failed of "
        f"{counts.get('expected', 0)} answers · {int(usage.get('prompt_tokens', 0)):,} + {int(usage.get('completion_tokens', 0)):,} tokens · "
        f"${usage.get('cost_usd', 0.0):.4f} → {folder.path}"
    )
    if counts.get("failed"):
        console.print("[yellow]some answers failed (invalid model output); rerun with --retry-failed to ask them again[/yellow]")


def _report(folder: Any, truth_spec: Optional[str], bootstrap: int, seed: int, parity_fields: Optional[List[str]] = None) -> Any:
    from experiments.evaluate import EvalSettings
    from experiments.report import load_truth, print_summary, write_report

    truth = load_truth(truth_spec, folder)
    result = write_report(folder, truth, EvalSettings(bootstrap=bootstrap, seed=seed, parity_fields=parity_fields or None))
    print_summary(result.metrics, console)
    console.print(f"report: [bold]{result.html_path}[/bold]\nmetrics: {result.metrics_path}")
    return result


# -- simulacra run -------------------------------------------------------------------------------------
def run(
    agents_dir: Optional[Path] = typer.Option(None, "--agents", "--bank", help="Agent bank folder (default: the workspace's agents/)."),
    agent_ids: Optional[List[str]] = typer.Option(None, "--agent", help="Only these agents (repeat the option); default: the whole bank."),
    instruments: Optional[List[str]] = typer.Option(None, "--instrument", "-i", help="Instrument id (gss, bfi44, games) or file; repeat for several. Default: gss."),
    questions: Optional[str] = typer.Option(None, help="Only these question ids (comma-separated)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N questions of each instrument."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name of the run folder (default: derived from agents, questions and model, so a rerun resumes)."),
    batch_size: int = typer.Option(5, help="Questions per agent batch (one transaction; one model call on endpoints, one question a call on the embedded model)."),
    samples: int = typer.Option(1, min=1, help="Answers per question and agent (distinct samples)."),
    truth: Optional[str] = typer.Option(None, help="Human answers for the report (response set name or CSV); writes the report at the end."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the answers stored as failed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the number of calls and estimated tokens and cost, then stop."),
) -> None:
    """Agents x instruments -> a run folder with every answer (resumable: run the same command again to continue)."""
    from types import SimpleNamespace

    from simulacra.agents.bank import AgentBank
    from simulacra.config import load_settings
    from simulacra.errors import SimulacraError
    from simulacra.llm import describe_backend, open_llm
    from simulacra.workspace import Workspace
    from surveys.instruments import load_instrument

    from experiments.runs.runner import BatchRunner, execute_run, open_run

    workspace = Workspace.default()
    settings = load_settings()
    bank = AgentBank(agents_dir)
    ids = list(agent_ids or bank.ids())
    if not ids:
        raise SimulacraError(f"no agents in {bank.root}: build or import some first (see `simulacra agents --help`)")
    agents = [bank.load(agent_id) for agent_id in ids]
    loaded = [load_instrument(i) for i in (instruments or ["gss"])]
    wanted = [q.strip() for q in questions.split(",") if q.strip()] if questions else None
    chosen = []
    for instrument in loaded:
        items = [q for q in instrument.questions if wanted is None or q.id in wanted]
        if limit is not None:
            items = items[:limit]
        if items:
            chosen.append(instrument.model_copy(update={"questions": items}))
    if wanted:
        missing = set(wanted) - {q.id for i in chosen for q in i.questions}
        if missing:
            raise SimulacraError(f"no question {', '.join(sorted(missing))} in {', '.join(i.id for i in loaded)}")
    if not chosen:
        raise SimulacraError("no questions to ask")
    folder = open_run(
        workspace.runs, agents, chosen, model=describe_backend(settings),
        settings={**_settings_summary(settings), "samples": samples, "batch_size": batch_size, "bank": str(bank.root)},
        run_id=run_id, truth=truth,
    )
    if dry_run:
        stub = SimpleNamespace(settings=settings.llm, keeps_prefix_warm=False)
        _print_estimate(BatchRunner(folder, stub, batch_size=batch_size, retry_failed=retry_failed).estimate(agents, chosen), settings)
        console.print(f"[dim]run folder: {folder.path}[/dim]")
        return
    llm = open_llm(settings, workspace)
    try:
        asyncio.run(execute_run(folder, agents, chosen, llm, batch_size=batch_size, retry_failed=retry_failed, console=console))
    finally:
        _finish_message(folder)
    if truth:
        _report(folder, truth, 1000, 0)


# -- simulacra report ------------------------------------------------------------------------------------
def report(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run id (in the workspace's runs/) or run folder."),
    truth: Optional[str] = typer.Option(None, help="Human answers: a response set (gss-panel-2016-2020, gss-panel-2006) or a CSV; default: what the run names."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples of people for confidence intervals."),
    seed: int = typer.Option(0, help="Seed of the bootstrap and the random floor."),
    parity_field: Optional[List[str]] = typer.Option(None, "--parity-field", help="Demographic field(s) for parity differences (default: all with 2-12 groups)."),
) -> None:
    """Score a run against human answers: metrics.json, a self-contained report.html, and a summary table."""
    from experiments.runs.folder import RunFolder

    _report(RunFolder.resolve(run_ref), truth, bootstrap, seed, parity_field)


# -- simulacra compare -----------------------------------------------------------------------------------
def compare(
    runs: List[str] = typer.Argument(..., metavar="RUN_A RUN_B ...", help="Two or more runs (ids or folders); the first is the reference."),
    truth: Optional[str] = typer.Option(None, help="Score every run against these human answers (default: each run's metrics.json)."),
    out: Optional[Path] = typer.Option(None, help="Folder for compare.html and compare.json (default: runs/compare-<hash>/)."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples when a run is scored here."),
) -> None:
    """The same metrics for several runs side by side, with differences and paired tests per metric."""
    from simulacra.workspace import Workspace

    from experiments.compare import compare_runs, default_out_dir, print_comparison
    from experiments.evaluate import EvalSettings
    from experiments.runs.folder import RunFolder

    folders = [RunFolder.resolve(r) for r in runs]
    target = out or default_out_dir(Workspace.default().runs, folders)
    result, json_path, html_path = compare_runs(folders, truth, target, EvalSettings(bootstrap=bootstrap))
    print_comparison(result, console)
    console.print(f"comparison: [bold]{html_path}[/bold]\ndata: {json_path}")


# -- simulacra benchmark gss-panel --------------------------------------------------------------------------
@benchmark_app.command("gss-panel")
def gss_panel(
    panel: str = typer.Option("2016-2020", help="GSS panel: 2016-2020 or 2006 (2006-2008-2010, waves 1 and 2)."),
    people: int = typer.Option(20, min=1, help="Re-interviewed people to build agents for."),
    items: int = typer.Option(20, min=1, help="GSS items to answer (177 for the whole battery)."),
    seed: int = typer.Option(0, help="Seed for choosing people and items."),
    context_items: int = typer.Option(20, min=0, help="Further wave-1 answers in each composite agent's context."),
    condition: Optional[List[str]] = typer.Option(None, "--condition", help="demographic and/or composite (default both)."),
    batch_size: int = typer.Option(5, min=1, help="Questions per agent batch (one transaction; one model call on endpoints)."),
    composite_group: int = typer.Option(1, min=1, help="Items a composite agent predicts per call, left out of its context together (1 = only the predicted item, as in the paper)."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run folder name (default: derived, so a rerun resumes)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the answers stored as failed."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print calls and estimated tokens and cost, then stop."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples for confidence intervals."),
) -> None:
    """Demographic and composite agents of real GSS panel respondents, scored against their wave 1, normalized by their wave 2."""
    from types import SimpleNamespace

    from simulacra.config import load_settings
    from simulacra.llm import describe_backend, open_llm
    from simulacra.workspace import Workspace

    from experiments.gss_benchmark import CONDITIONS, plan_gss_benchmark
    from experiments.runs.folder import TRUTH_IN_RUN, save_truth
    from experiments.runs.runner import BatchRunner, execute_run, open_run

    workspace = Workspace.default()
    settings = load_settings()
    console.print(f"loading the GSS {panel} panel ...")
    plan = plan_gss_benchmark(panel, people=people, items=items, seed=seed, context_items=context_items,
                              conditions=condition or CONDITIONS, group_size=composite_group)
    console.print(f"{len(plan.people)} people x {len(plan.items)} items, {len(plan.agents)} agents")
    folder = open_run(
        workspace.runs, plan.agents, [plan.instrument], model=describe_backend(settings),
        settings={**_settings_summary(settings), "samples": 1, "batch_size": batch_size},
        run_id=run_id, truth=TRUTH_IN_RUN, label=f"gss-panel-{panel}", respondents=plan.respondents, extra=plan.describe(),
    )
    if not (folder.path / "truth" / "responses.csv").is_file():
        save_truth(folder, plan.truth)
    if dry_run:
        stub = SimpleNamespace(settings=settings.llm, keeps_prefix_warm=False)
        _print_estimate(BatchRunner(folder, stub, batch_size=batch_size, retry_failed=retry_failed).estimate(plan.agents, [plan.instrument]), settings)
        console.print(f"[dim]run folder: {folder.path}[/dim]")
        return
    llm = open_llm(settings, workspace)
    try:
        asyncio.run(execute_run(folder, plan.agents, [plan.instrument], llm, batch_size=batch_size, retry_failed=retry_failed, console=console))
    finally:
        _finish_message(folder)
    _report(folder, None, bootstrap, seed)


# -- simulacra demo ----------------------------------------------------------------------------------------
def demo(
    people: int = typer.Option(3, min=1, help="GSS panel people (each as a demographic and a composite agent)."),
    items: int = typer.Option(8, min=1, help="GSS items in the battery."),
    interview: bool = typer.Option(True, "--interview/--no-interview", help="Include the real sample interview agent (genagents sample)."),
    reflections: bool = typer.Option(False, "--reflections/--no-reflections", help="Generate the sample agent's expert reflections (slower)."),
    seed: int = typer.Option(0, help="Seed for choosing people and items."),
) -> None:
    """The main job in a few minutes: real people as agents answer a GSS battery; a report is written."""
    from experiments.demo import DemoOptions, run_demo

    result = run_demo(DemoOptions(people=people, items=items, interview=interview, reflections=reflections, seed=seed), console=console)
    console.print(f"\n[bold green]demo report:[/bold green] {result.html_path}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("report")(report)
    app.command("compare")(compare)
    app.add_typer(benchmark_app, name="benchmark")
    app.command("demo")(demo)
