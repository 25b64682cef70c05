"""Batch commands: `simulacra run`, `report`, `compare`, `benchmark gss-panel` and `demo`.

A thin layer over experiments.runs / evaluate / report / compare / gss_benchmark / demo. Heavy
libraries are imported inside the commands so `simulacra --help` stays fast.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

from simulacra.terminal import print_wrapped

from experiments.runs.options import (
    DEBIAS_HELP,
    EXECUTOR_HELP,
    LEAVE_OUT_HELP,
    RAY_ADDRESS_HELP,
    SCORING_HELP,
    WORKERS_HELP,
    answer_options,
)

console = Console()
WEIGHTS_HELP = ("Survey weight column of the human answers (e.g. wtssall, wtssnr; 2006 panel: wtpan12): population figures "
                "(the majority reference, 1-TV/TV_unif) are weighted by it; individual accuracy stays unweighted, as in the paper.")
benchmark_app = typer.Typer(no_args_is_help=True, help="Real-data benchmarks (GSS panels).")
runs_app = typer.Typer(no_args_is_help=True, help="The run folders of this workspace: batches and behavioral experiments.")


# -- shared helpers ------------------------------------------------------------------------------------
def _say(text: str, style: str | None = None) -> None:
    """Plain text (no markup), never broken inside a word or path: readable piped, narrow or wide (wrapped between
    words to the width, continuation lines indented)."""
    print_wrapped(console, text, style=style)


def _echo_json(data: Any) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _print_estimate(estimate: Any, settings: Any, folder: Any, as_json: bool = False) -> None:
    prices = {"price_input_per_1k": settings.llm.price_input_per_1k, "price_output_per_1k": settings.llm.price_output_per_1k}
    if as_json:
        _echo_json({"dry_run": True, "run_id": folder.path.name, "folder": str(folder.path), **estimate.as_dict(), **prices})
        return
    rows = [
        ("agents with work left", str(estimate.agents)),
        ("answers to ask", str(estimate.pending_answers)),
        ("answers already stored", str(estimate.already_answered)),
        ("model calls", str(estimate.calls)),
        ("prompt tokens (estimate)", f"{estimate.prompt_tokens:,}"),
        ("completion tokens (estimate)", f"{estimate.completion_tokens:,}"),
        ("cost (estimate)", f"${estimate.cost_usd:.4f} at ${prices['price_input_per_1k']}/1k in, ${prices['price_output_per_1k']}/1k out"),
    ]
    _say("dry run: nothing was sent to the model")
    for label, value in rows:
        _say(f"  {label:<30} {value}")
    _say("Token counts are estimated at about 4 characters a token; the response cache makes repeated calls free.", "dim")
    _say(f"run folder: {folder.path}", "dim")


def _finish_message(folder: Any) -> None:
    manifest = folder.refresh_manifest()
    counts = manifest.counts
    usage = manifest.usage
    _say(
        f"run {manifest.id}: {counts.get('ok', 0)} valid, {counts.get('failed', 0)} failed of "
        f"{counts.get('expected', 0)} answers · {int(usage.get('prompt_tokens', 0)):,} + {int(usage.get('completion_tokens', 0)):,} tokens · "
        f"${usage.get('cost_usd', 0.0):.4f} → {folder.path}",
        "green",
    )
    if counts.get("failed"):
        _say("some answers failed (invalid model output); rerun with --retry-failed to ask them again", "yellow")


def _report(folder: Any, truth: Optional[str] = None, settings: Any = None, as_json: bool = False) -> Any:
    """Score the run (pipeline.report: metrics.json + report.html) and print the summary."""
    from experiments.pipeline import report as write_report
    from experiments.reports.report import print_summary

    result = write_report(folder, truth, settings)
    if as_json:
        _echo_json({"run_id": folder.path.name, "kind": "batch", "report": str(result.html_path),
                    "metrics_path": str(result.metrics_path), "metrics": result.metrics})
        return result
    print_summary(result.metrics, console)
    _say(f"report: {result.html_path}\nmetrics: {result.metrics_path}")
    return result


def _answer(spec: Any, executor: str, ray_address: Optional[str], workers: Optional[int], *, new_run: bool,
            retry_failed: bool, dry_run: bool, as_json: bool) -> Any:
    """The common tail of every answering command: --dry-run estimate, or run the spec on the chosen executor
    (resumable); returns the run folder, or None after a dry run."""
    from simulacra.config import load_settings
    from simulacra.workspace import Workspace

    from experiments.pipeline import estimate, open_folder, run_async
    from experiments.runs.executors import answering

    workspace = Workspace.default()
    settings = load_settings()
    if dry_run:
        found, folder = estimate(spec, settings.llm, workspace=workspace, new_run=new_run, retry_failed=retry_failed)
        _print_estimate(found, settings, folder, as_json)
        return None
    folder = open_folder(spec, workspace=workspace, new_run=new_run)
    try:
        with answering(executor, settings, workspace, address=ray_address, workers=workers) as (_llm, runs_on):
            asyncio.run(run_async(spec, runs_on, workspace=workspace, new_run=new_run, retry_failed=retry_failed,
                                  console=console))
    finally:
        _finish_message(folder)
    return folder


def _say_unmapped(lines: List[str], panel_file: Optional[Path]) -> None:
    """What the panel file holds that no option matched (count, item, value): left out as missing, never guessed."""
    if not lines:
        if panel_file:
            _say(f"{panel_file}: every value mapped to an option or a missing code")
        return
    _say(f"{panel_file or 'the panel'}: values that match no option (left out as missing; see surveys/README.md):", "yellow")
    for line in lines:
        _say(f"  {line}", "yellow")


# -- simulacra run -------------------------------------------------------------------------------------
def run(
    agents_dir: Optional[Path] = typer.Option(None, "--agents", "--bank", help="Agent bank folder (default: the workspace's agents/)."),
    agent_ids: Optional[List[str]] = typer.Option(None, "--agent", help="Only these agents (repeat the option); default: the whole bank."),
    instruments: Optional[List[str]] = typer.Option(None, "--instrument", "-i", help="Instrument id (gss, bfi44, games) or file; repeat for several. Default: gss."),
    questions: Optional[str] = typer.Option(None, help="Only these question ids (comma-separated)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N questions of each instrument."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name of the run folder in the workspace's runs/ (default: derived from agents, questions and model, so a rerun resumes)."),
    batch_size: int = typer.Option(5, help="Questions per agent batch (one transaction; one model call on endpoints, one question a call on the embedded model)."),
    samples: int = typer.Option(1, min=1, help="Answers per question and agent (distinct samples)."),
    truth: Optional[str] = typer.Option(None, help="Human answers for the report (response set name or CSV); writes the report at the end."),
    weights: Optional[str] = typer.Option(None, "--weights", help=WEIGHTS_HELP + " Needs --truth."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the answers stored as failed (a fresh model call; the failed attempt is kept in the run's history)."),
    new_run: bool = typer.Option(False, "--new-run", help="When the run folder holds a run made with other agents, wording, settings or prompt templates, start a new run folder instead of refusing."),
    scoring: Optional[str] = typer.Option(None, help=SCORING_HELP),
    debias: Optional[str] = typer.Option(None, help=DEBIAS_HELP),
    leave_out: Optional[str] = typer.Option(None, "--leave-out", help=LEAVE_OUT_HELP),
    folds: Optional[int] = typer.Option(None, help="With --leave-out kfold: the number of folds (default 5)."),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the number of calls and estimated tokens and cost, then stop."),
    as_json: bool = typer.Option(False, "--json", help="With --dry-run: print the estimate as JSON (for scripts)."),
) -> None:
    """Agents x instruments -> a run folder with every answer (resumable: run the same command again to continue)."""
    from simulacra.agents.bank import AgentBank
    from simulacra.config import load_settings
    from simulacra.errors import SimulacraError
    from simulacra.llm import describe_backend
    from surveys.instruments import load_instrument

    from experiments.runs.identity import check_run_id
    from experiments.runs.spec import RunSpec, select_questions
    from experiments.scoring.leakage import exclusions_for

    if run_id:
        check_run_id(run_id)  # before anything is read: a bad name is the first thing said
    settings = load_settings()
    bank = AgentBank(agents_dir)
    ids = list(agent_ids or bank.ids())
    if not ids:
        raise SimulacraError(f"no agents in {bank.root}: build or import some first (see `simulacra agents --help`)")
    agents = [bank.load(agent_id) for agent_id in ids]
    loaded = [load_instrument(i) for i in (instruments or ["gss"])]
    wanted = [q.strip() for q in questions.split(",") if q.strip()] if questions else None
    chosen = select_questions(loaded, wanted, limit)
    targets = [q.id for i in chosen for q in i.questions]
    fields = sorted({f for agent in agents for f in agent.demographics})
    spec = RunSpec.build(
        agents, chosen, model=describe_backend(settings), options=answer_options(scoring, debias, leave_out, folds),
        samples=samples, batch_size=batch_size, temperature=settings.llm.temperature, max_tokens=settings.llm.max_tokens,
        truth=truth, weights=weights, exclusions=exclusions_for(targets, fields), run_id=run_id, extra={"bank": str(bank.root)},
    )
    folder = _answer(spec, executor, ray_address, workers, new_run=new_run, retry_failed=retry_failed, dry_run=dry_run,
                     as_json=as_json)
    if folder is not None and truth:
        _report(folder)


# -- simulacra report ------------------------------------------------------------------------------------
def report(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run id (in the workspace's runs/) or run folder: a batch or a behavioral experiment."),
    truth: Optional[str] = typer.Option(None, help="Human answers: a response set (gss-panel-2016-2020, gss-panel-2006) or a CSV; default: what the run names."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples of people for confidence intervals."),
    seed: int = typer.Option(0, help="Seed of the bootstrap and the random floor."),
    parity_field: Optional[List[str]] = typer.Option(None, "--parity-field", help="Demographic field(s) for parity differences (default: all with 2-12 groups)."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON (for scripts) in place of the summary table."),
) -> None:
    """Score a run: a batch against human answers (metrics.json, report.html, a summary table); a behavioral
    experiment with its studies' tests and effect sizes against the published human ones."""
    from experiments.runs.folder import RunFolder

    folder = RunFolder.resolve(run_ref)
    if folder.manifest.kind == "experiment":
        from experiments.behavioral.report import write_experiment_report
        from simulacra.errors import SimulacraError

        if truth:
            raise SimulacraError(f"run {folder.path.name} is a behavioral experiment: it is scored against the studies' "
                                 "published results, not a --truth file")
        write_experiment_report([folder], as_json=as_json, console=console)
        return
    from experiments.pipeline import EvalSettings

    _report(folder, truth, EvalSettings(bootstrap=bootstrap, seed=seed, parity_fields=parity_field or None), as_json=as_json)


# -- simulacra compare -----------------------------------------------------------------------------------
def _compare_target(out: Optional[Path], default: Path) -> Path:
    """The folder for compare's files: new, or one that already holds a comparison (never a stranger's folder)."""
    from simulacra.errors import SimulacraError

    target = Path(out).expanduser() if out else default
    if target.exists():
        if not target.is_dir():
            raise SimulacraError(f"--out {target} is a file; give a folder for compare.html and compare.json")
        own = {"compare.json", "compare.html", "report.html"}
        others = [p.name for p in target.iterdir() if p.name not in own and not p.name.startswith(".")]
        if others:
            raise SimulacraError(f"--out {target} already holds other files ({', '.join(sorted(others)[:3])}); "
                                 "give a new folder (it is created, readable only by you) or one of an earlier comparison")
    return target


def compare(
    runs: List[str] = typer.Argument(..., metavar="RUN_A RUN_B ...", help="Two or more runs (ids or folders); the first is the reference."),
    truth: Optional[str] = typer.Option(None, help="Score every run against these human answers (default: each run's metrics.json)."),
    out: Optional[Path] = typer.Option(None, help="Folder for compare.html and compare.json (default: runs/compare-<hash>/)."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples when a run is scored here."),
    as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON (for scripts)."),
) -> None:
    """The same metrics for several runs side by side (batches: differences and paired tests per metric;
    behavioral experiments: every study's effect sizes and verdicts per run)."""
    from simulacra.errors import SimulacraError
    from simulacra.workspace import Workspace, private_dir

    from experiments.reports.compare import default_out_dir
    from experiments.runs.folder import RunFolder

    folders = [RunFolder.resolve(r) for r in runs]
    if len(folders) < 2:
        raise SimulacraError("compare needs at least two runs")
    kinds = {f.manifest.kind for f in folders}
    if len(kinds) > 1:
        raise SimulacraError("compare batches with batches and experiments with experiments: "
                             + ", ".join(f"{f.path.name} ({f.manifest.kind})" for f in folders))
    target = _compare_target(out, default_out_dir(Workspace.default().runs, folders))
    if kinds == {"experiment"}:
        from experiments.behavioral.report import write_experiment_report

        private_dir(target)
        write_experiment_report(folders, out=target / "compare.html", as_json=as_json, console=console)
        return
    from experiments.reports.compare import compare_runs, print_comparison
    from experiments.pipeline import EvalSettings

    result, json_path, html_path = compare_runs(folders, truth, target, EvalSettings(bootstrap=bootstrap))
    if as_json:
        _echo_json({"comparison": str(html_path), "data": str(json_path), "result": result})
        return
    print_comparison(result, console)
    _say(f"comparison: {html_path}\ndata: {json_path}")


# -- simulacra benchmark gss-panel --------------------------------------------------------------------------
@benchmark_app.command("gss-panel")
def gss_panel(
    panel: str = typer.Option("2016-2020", help="GSS panel: 2016-2020 or 2006 (2006-2008-2010, waves 1 and 2)."),
    people: Optional[int] = typer.Option(None, min=1, help="Re-interviewed people to build agents for (default 20; with --references-only: everyone)."),
    items: Optional[int] = typer.Option(None, min=1, help="GSS items to answer (default 20; 177 for the whole battery; with --references-only: every item asked in both waves)."),
    seed: int = typer.Option(0, help="Seed for choosing people and items."),
    context_items: int = typer.Option(20, min=0, help="Further wave-1 answers in each composite agent's context."),
    condition: Optional[List[str]] = typer.Option(None, "--condition", help="demographic and/or composite (default both); `stats` = the reference conditions only (same as --references-only)."),
    references_only: bool = typer.Option(False, "--references-only", help="Only the statistical reference conditions (no model): the full-panel table in seconds to minutes."),
    design: str = typer.Option("same-wave", help="same-wave (the paper's: scored on wave 1) or cross-wave (agents see wave 1, scored on wave 2)."),
    panel_file: Optional[Path] = typer.Option(None, "--panel-file", help="A GSS panel extract of your own, long (like the 2006 file) or wide (like the 2016-2020 file); see surveys/README.md."),
    min_items: Optional[int] = typer.Option(None, min=1, help="People with fewer scored items are excluded (and counted); default 20 (a run with fewer than 40 items: half the items asked)."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="With --references-only: also write the table as markdown to this file."),
    weights: Optional[str] = typer.Option(None, "--weights", help=WEIGHTS_HELP),
    batch_size: int = typer.Option(5, min=1, help="Questions per agent batch (one transaction; one model call on endpoints)."),
    composite_group: int = typer.Option(1, min=1, help="Items a composite agent predicts per call, left out of its context together (1 = only the predicted item, as in the paper)."),
    scoring: Optional[str] = typer.Option(None, help=SCORING_HELP),
    debias: Optional[str] = typer.Option(None, help=DEBIAS_HELP),
    leave_out: Optional[str] = typer.Option(None, "--leave-out", help=LEAVE_OUT_HELP),
    folds: Optional[int] = typer.Option(None, help="With --leave-out kfold: the number of folds (default 5)."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run folder name (default: derived, so a rerun resumes)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the answers stored as failed."),
    new_run: bool = typer.Option(False, "--new-run", help="Start a new run folder when the existing one was made with other agents, settings or prompts."),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print calls and estimated tokens and cost, then stop."),
    as_json: bool = typer.Option(False, "--json", help="With --dry-run: print the estimate as JSON."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples for confidence intervals."),
    adaptive: Optional[List[str]] = typer.Option(None, "--adaptive", help="K items asked adaptively per person, the rest predicted (no model unless --adaptive-agents): a curve over K, e.g. --adaptive 5,10,20,40 (repeatable); beside K random items, the best fixed K and all other items. See experiments/faithfulness/README.md."),
    adaptive_design: str = typer.Option("both", "--adaptive-design", help="With --adaptive: halves (K asked from one half of the items, the other half predicted: every condition on the same cells), unasked (every item not asked predicted), or both."),
    adaptive_agents: int = typer.Option(0, "--adaptive-agents", min=0, help="With --adaptive: also N people's composite agents (the configured model) built from each condition's K answers, answering items of the half never asked; through the pipeline, beside the statistical predictors on the same cells (0 = none)."),
    adaptive_agent_items: int = typer.Option(12, "--adaptive-agent-items", min=2, help="With --adaptive-agents: target items each agent answers."),
    adaptive_agent_k: Optional[int] = typer.Option(None, "--adaptive-agent-k", min=1, help="With --adaptive-agents: the K the agents are built from (default 10 when given in --adaptive, else the smallest)."),
) -> None:
    """Demographic and composite agents of real GSS panel respondents, scored against their wave 1, normalized by their wave 2."""
    from simulacra.config import load_settings
    from simulacra.llm import describe_backend

    from experiments.faithfulness.gss_benchmark import CONDITIONS, plan_gss_benchmark
    from experiments.runs.identity import check_run_id
    from experiments.pipeline import EvalSettings

    if run_id:
        check_run_id(run_id)
    if adaptive:
        _adaptive_benchmark(adaptive, panel, panel_file, design, seed, people, items, bootstrap, min_items, run_id, as_json,
                            adaptive_design, agents=(adaptive_agents, adaptive_agent_items, adaptive_agent_k),
                            executor=(executor, ray_address, workers))
        return
    if references_only or "stats" in (condition or []):
        from experiments.faithfulness.reference_table import DEFAULT_REFERENCE_BOOTSTRAP, markdown as to_markdown, print_reference_table, reference_table

        if not as_json:
            console.print(f"loading the GSS {panel_file or panel} panel; reference conditions only (no model) ...")
        table = reference_table(panel, panel_file=str(panel_file) if panel_file else None, design=design, min_items=min_items or 20,
                                bootstrap=bootstrap if bootstrap != 1000 else DEFAULT_REFERENCE_BOOTSTRAP, seed=seed,
                                people=people, items=items, weights=weights)
        if as_json:
            _echo_json(table.as_dict())
        else:
            print_reference_table(table, console)
            _say_unmapped(table.unmapped, panel_file)
        if markdown:
            markdown.write_text(to_markdown(table), encoding="utf-8")
        return

    settings = load_settings()
    if not as_json:
        console.print(f"loading the GSS {panel_file or panel} panel ...")
    plan = plan_gss_benchmark(panel, people=people or 20, items=items or 20, seed=seed, context_items=context_items,
                              conditions=condition or CONDITIONS, group_size=composite_group, design=design,
                              panel_file=str(panel_file) if panel_file else None, weights=weights)
    if not as_json:
        if plan.panel_data is not None:
            from surveys.responses import describe_unmapped

            _say_unmapped(describe_unmapped(plan.panel_data), panel_file)
        console.print(f"{len(plan.people)} people x {len(plan.items)} items, {len(plan.agents)} agents")
    spec = plan.spec(model=describe_backend(settings), options=answer_options(scoring, debias, leave_out, folds),
                     batch_size=batch_size, temperature=settings.llm.temperature, max_tokens=settings.llm.max_tokens,
                     run_id=run_id)
    folder = _answer(spec, executor, ray_address, workers, new_run=new_run, retry_failed=retry_failed, dry_run=dry_run,
                     as_json=as_json)
    if folder is not None:
        _report(folder, None, EvalSettings(bootstrap=bootstrap, seed=seed, min_items=min_items))


def _adaptive_benchmark(values: List[str], panel: str, panel_file: Optional[Path], design: str, seed: int,
                        people: Optional[int], items: Optional[int], bootstrap: int, min_items: Optional[int],
                        run_id: Optional[str], as_json: bool, item_design: str = "both",
                        agents: tuple[int, int, Optional[int]] = (0, 12, None),
                        executor: tuple[str, Optional[str], Optional[int]] = ("local", None, None)) -> None:
    """`benchmark gss-panel --adaptive K[,K...]`: the adaptive short-form curve (pure statistics), in a run folder;
    with --adaptive-agents N, also composite agents of N people built from the K answers (a model, its own run)."""
    from simulacra.config import load_settings
    from simulacra.errors import SimulacraError
    from simulacra.llm import describe_backend
    from simulacra.workspace import Workspace

    from experiments.faithfulness.adaptive_agents import run_agents
    from experiments.runs.executors import answering

    from experiments.faithfulness.adaptive_benchmark import DEFAULT_BOOTSTRAP, AdaptiveSettings, print_result, run_adaptive

    try:
        ks = tuple(int(part) for value in values for part in value.split(",") if part.strip())
    except ValueError:
        raise SimulacraError(f"--adaptive {','.join(values)}: give whole numbers, e.g. --adaptive 5,10,20,40") from None
    if item_design not in ("halves", "unasked", "both"):
        raise SimulacraError(f"--adaptive-design {item_design}: choose halves, unasked or both")
    settings = AdaptiveSettings(ks=ks, seed=seed, bootstrap=bootstrap if bootstrap != 1000 else DEFAULT_BOOTSTRAP,
                                min_items=min_items or 20,
                                designs=("halves", "unasked") if item_design == "both" else (item_design,))
    n_agents, agent_items, agent_k = agents
    agent_k = agent_k or (10 if 10 in ks else min(ks))
    if n_agents and agent_k not in ks:
        raise SimulacraError(f"--adaptive-agent-k {agent_k}: not one of --adaptive {','.join(map(str, ks))}")
    if n_agents and "halves" not in settings.designs:
        raise SimulacraError("--adaptive-agents needs the halves design (--adaptive-design halves or both)")
    hook = None
    if n_agents:
        llm_settings, workspace = load_settings(), Workspace.default()

        def hook(result: Any) -> None:
            if not as_json:
                console.print(f"composite agents of {n_agents} people from K={agent_k} answers, {agent_items} items each "
                              f"({describe_backend(llm_settings)['model']}) ...")
            with answering(executor[0], llm_settings, workspace, address=executor[1], workers=executor[2]) as (_llm, runs_on):
                run_agents(result, k=agent_k, people=n_agents, items=agent_items, seed=seed, bootstrap=settings.bootstrap,
                           executor=runs_on, workspace=workspace, console=None if as_json else console,
                           spec_kwargs={"model": describe_backend(llm_settings), "temperature": llm_settings.llm.temperature,
                                        "max_tokens": llm_settings.llm.max_tokens,
                                        "label": Path(panel_file).name.split(".")[0] if panel_file else f"gss-panel-{panel}"})
    if not as_json:
        model_note = f"composite agents of {n_agents} people" if n_agents else "no model"
        console.print(f"loading the GSS {panel_file or panel} panel; adaptive short forms K = {', '.join(map(str, ks))} ({model_note}) ...")
    result, folder = run_adaptive(panel, panel_file=str(panel_file) if panel_file else None, design=design,
                                  settings=settings, people=people, items=items, run_id=run_id,
                                  progress=None if as_json else (lambda text: _say(text, "dim")), agents=hook,
                                  extra={"agents": {"people": n_agents, "items": agent_items, "k": agent_k}} if n_agents else None)
    if as_json:
        _echo_json({"run_id": folder.path.name, "metrics_path": str(folder.path / "metrics.json"), **result.as_dict()})
        return
    print_result(result, console, str(folder.path))
    _say_unmapped(result.unmapped, panel_file)


# -- simulacra demo ----------------------------------------------------------------------------------------
def demo(
    people: int = typer.Option(3, min=1, help="GSS panel people (each as a demographic and a composite agent)."),
    items: int = typer.Option(8, min=1, help="GSS items in the battery."),
    interview: bool = typer.Option(True, "--interview/--no-interview", help="Include the real sample interview agent (genagents sample)."),
    reflections: bool = typer.Option(False, "--reflections/--no-reflections", help="Generate the sample agent's expert reflections (slower)."),
    seed: int = typer.Option(0, help="Seed for choosing people and items."),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
) -> None:
    """The main job in a few minutes: real people as agents answer a GSS battery; a report is written."""
    from experiments.demo import DemoOptions, run_demo

    result = run_demo(DemoOptions(people=people, items=items, interview=interview, reflections=reflections, seed=seed),
                      console=console, executor=executor, ray_address=ray_address, workers=workers)
    console.print(f"\n[bold green]demo report:[/bold green] {result.html_path}")


# -- simulacra runs list | show ------------------------------------------------------------------------------
@runs_app.command("list")
def runs_list(as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON (for scripts).")) -> None:
    """Every run folder of the workspace: id (whole), kind, status, answers, agents, model."""
    from experiments.runs.summary import list_runs

    rows = list_runs()
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        _say("no runs yet (see `simulacra run --help` and `simulacra experiment run --help`)")
        return
    for row in rows:  # one plain tab-separated line a run: ids are never cut, whatever the width
        counts = row.get("counts", {})
        typer.echo(f"{row['id']}\t{row['kind']}\t{row['status']}\t{counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed "
             f"of {counts.get('expected', 0)}\t{row['agents']} agents\t{row.get('model') or '-'}"
             + (f"\t{row['error']}" if row.get("error") else ""))


@runs_app.command("show")
def runs_show(
    run_ref: str = typer.Argument(..., metavar="RUN", help="Run id (in the workspace's runs/) or run folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON (for scripts)."),
) -> None:
    """One run: what made it (agents, instruments, model, prompt hashes), its sessions with code versions, counts."""
    from experiments.runs.folder import RunFolder
    from experiments.runs.summary import describe_run

    data = describe_run(RunFolder.resolve(run_ref))
    if as_json:
        _echo_json(data)
        return
    m = data["manifest"]
    _say(f"run {m['id']} ({m['kind']}, {m['status']}) in {data['path']}")
    _say(f"  model: {', '.join(f'{k} {v}' for k, v in m['model'].items() if k != 'seed')}")
    _say(f"  agents: {len(m['agents'])} ({', '.join(sorted({a['source'] for a in m['agents']}))})")
    for ins in m["instruments"]:
        _say(f"  instrument {ins['id']}: {len(ins['questions'])} questions")
    counts = m.get("counts", {})
    _say(f"  answers: {counts.get('ok', 0)} ok, {counts.get('failed', 0)} failed of {counts.get('expected', 0)}")
    _say(f"  prompt templates: {len(m.get('prompt_hashes', {}))} pinned")
    for line in environment_lines(m.get("environment") or {}):
        _say(f"  {line}")
    for session in data["sessions"]:
        code = session.get("code_version", {})
        commit = (code.get("git_commit") or "")[:12] + (" (dirty)" if code.get("git_dirty") else "")
        _say(f"  session {session['id']}: {session['outcome']}, {session['answers_written']} answers, "
             f"{int(session['usage'].get('calls', 0))} calls, simulacra {code.get('simulacra', '?')} {commit}".rstrip())


def environment_lines(env: dict[str, Any]) -> list[str]:
    """The manifest's environment in a few lines: the model file's hash or the endpoint's fingerprint, libraries."""
    if not env:
        return ["environment: not recorded (a run from before simulacra recorded it)"]
    if env.get("error"):
        return [f"environment: not recorded ({env['error']})"]
    model = env.get("model") or {}
    if model.get("kind") == "endpoint":
        shown = f"model: endpoint {model.get('model')} at {model.get('base_url')}, system_fingerprint " \
                f"{model.get('system_fingerprint') or '(none sent)'}"
    else:
        digest = model.get("sha256") or ""
        shown = f"model: {model.get('file') or model.get('local_model')} sha256 {digest[:16]}" + \
                ("" if model.get("verified") else " (not a known digest)")
    libraries = env.get("libraries") or {}
    wanted = ("numpy", "pandas", "scikit-learn", "openai", "llama-cpp-python", "chromadb")
    versions = ", ".join(f"{name} {libraries[name]}" for name in wanted if libraries.get(name))
    return [shown, f"simulacra {env.get('simulacra')}, python {env.get('python')}; {versions}"]


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("report")(report)
    app.command("compare")(compare)
    app.add_typer(benchmark_app, name="benchmark")
    app.add_typer(runs_app, name="runs")
    app.command("demo")(demo)
