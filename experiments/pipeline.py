"""The one pipeline every command that answers questions goes through (after inspect_ai's Task -> eval -> log):

    spec = RunSpec.build(agents, instruments, ...)      # planned by the command (experiments.runs.spec)
    outcome = run(spec, executor)                        # the only code that produces answers
    metrics = score(outcome.folder)                      # reads the run folder only
    result = report(outcome.folder)                      # metrics.json + report.html in the run folder

`run` opens the spec's run folder (created, or resumed when the same spec ran before), keeps the spec's human
answers in it, has the executor answer everything pending (a `LocalExecutor` on the workspace's model unless
another is given, e.g. a `RayExecutor`), and exports the answers. Batches and behavioral experiments alike.
`simulacra run`, `benchmark gss-panel`, `demo`, `study evaluate`, `experiment run` and `interview-yield` are
each plan -> spec -> run -> score -> print.
"""

from __future__ import annotations

import asyncio
from typing import Any

from simulacra.config import load_settings
from simulacra.llm import open_llm
from simulacra.workspace import Workspace

from experiments.behavioral.runner import execute_experiment, plan_experiment
from experiments.reports.report import ReportResult, write_report
from experiments.runs.executors.local import LocalExecutor
from experiments.runs.folder import RunFolder
from experiments.runs.progress import ProgressBar
from experiments.runs.runner import Estimate, RunOutcome, estimate_run, run_batch
from experiments.runs.spec import Exclusions, RunSpec, TruthSpec
from experiments.scoring.evaluate import EvalSettings
from experiments.scoring.results import Metrics
from experiments.scoring.score import check_truth, load_truth, score_folder

__all__ = ["RunSpec", "Exclusions", "TruthSpec", "EvalSettings", "plan_experiment", "open_folder", "estimate", "run", "run_async",
           "score", "report", "check_truth", "load_truth"]


def open_folder(spec: RunSpec, *, workspace: Workspace | None = None, new_run: bool = False) -> RunFolder:
    """The spec's run folder in the workspace's runs/ (created, or reopened to resume)."""
    workspace = workspace or Workspace.default()
    return RunFolder.open(spec, workspace.runs, new_run=new_run)


def estimate(spec: RunSpec, llm_settings: Any, *, workspace: Workspace | None = None, new_run: bool = False,
             retry_failed: bool = False) -> tuple[Estimate, RunFolder]:
    """What running (or resuming) the spec would cost, without opening a model (`--dry-run`)."""
    folder = open_folder(spec, workspace=workspace, new_run=new_run)
    return estimate_run(folder, spec.live_agents, spec.live_instruments, llm_settings, batch_size=spec.batch_size,
                        retry_failed=retry_failed), folder


async def run_async(
    spec: RunSpec,
    executor: Any = None,
    *,
    llm: Any = None,
    workspace: Workspace | None = None,
    new_run: bool = False,
    retry_failed: bool = False,
    console: Any = None,
    progress_label: str = "answering",
    concurrency: int | None = None,
    questions_per_call: int | None = None,
) -> RunOutcome:
    """Run (or resume) the spec; see the module docstring. `executor` answers (default: a LocalExecutor on `llm`,
    else on the workspace's model). A progress bar is shown on `console` when one is given.

    Raises RunInterrupted when the endpoint goes away and RunStopped (or the original error) on another fault;
    everything answered so far is saved either way and the same call resumes."""
    workspace = workspace or Workspace.default()
    if executor is None:
        if llm is None:
            llm = open_llm(load_settings(), workspace)
        executor = LocalExecutor(llm)
    folder = open_folder(spec, workspace=workspace, new_run=new_run)
    bar = ProgressBar(progress_label, console) if console is not None else None
    on_progress = bar.update if bar is not None else None
    try:
        if bar is not None:
            bar.__enter__()
        if spec.kind == "experiment":
            return await execute_experiment(folder, spec, executor, retry_failed=retry_failed, concurrency=concurrency,
                                            on_progress=on_progress)
        # the answer options travel in the folder's manifest (the spec wrote them): the runner reads them there and
        # keeps its rule of one question a call on a model that keeps the agent's prefix warm (the embedded one)
        return await run_batch(folder, spec.live_agents, spec.live_instruments, executor, batch_size=spec.batch_size,
                               retry_failed=retry_failed, on_progress=on_progress,
                               concurrency=concurrency, questions_per_call=questions_per_call)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def run(spec: RunSpec, executor: Any = None, **kwargs: Any) -> RunOutcome:
    """`run_async` for synchronous callers (commands, notebooks)."""
    return asyncio.run(run_async(spec, executor, **kwargs))


def score(folder: RunFolder | RunOutcome, truth: Any = None, settings: EvalSettings | None = None) -> Metrics:
    """The run's metrics from its folder alone: against `truth` (a ResponseSet, a response set name or a file), else
    the human answers the run names or keeps. Raises SimulacraError when the answers score nobody in the run."""
    folder = folder.folder if isinstance(folder, RunOutcome) else folder
    return score_folder(folder, truth, settings)


def report(folder: RunFolder | RunOutcome, truth: Any = None, settings: EvalSettings | None = None) -> ReportResult:
    """Score the run and write metrics.json and report.html into its folder (only when scoring succeeded)."""
    folder = folder.folder if isinstance(folder, RunOutcome) else folder
    return write_report(folder, truth, settings)
