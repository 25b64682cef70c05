"""`simulacra experiment ...`: list, validate, run and report the behavioral experiments. Mounted by
experiments/commands.py. A thin layer over `definition`, `runner` and `report`; heavy imports stay inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from simulacra.terminal import print_table, print_wrapped

from experiments.runs.options import DEBIAS_HELP, SCORING_HELP, answer_options

console = Console()
experiment_app = typer.Typer(
    no_args_is_help=True,
    help="Behavioral experiments (the five studies of Park et al. 2024, or your own): run them on agents and compare with humans.",
)


@experiment_app.command("list")
def list_studies(
    as_json: bool = typer.Option(False, "--json", help="Print the studies as JSON (for scripts)."),
) -> None:
    """The studies you can run: built-in ones and your own in $SIMULACRA_HOME/studies/."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from experiments.behavioral.definition import BUILTIN_DIR, load_study_file, study_files, user_studies_dir

    rows = []
    for name, path in study_files().items():
        study = load_study_file(path)
        rows.append({
            "id": study.id, "title": study.title, "design": study.design, "test": study.analysis.test,
            "human_d": study.published.d if study.published else None,
            "source": "built-in" if path.parent == BUILTIN_DIR else str(path),
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not console.is_terminal:
        for row in rows:
            human = f"{row['human_d']:g}" if row["human_d"] is not None else "-"
            typer.echo(f"{row['id']}\t{row['title']}\t{row['design']}\t{row['test']}\thuman d {human}\t{row['source']}")
        return
    table = Table(title="experiments")
    table.add_column("id", overflow="fold", min_width=max((len(r["id"]) for r in rows), default=2))  # ids whole
    for column in ("title", "design", "test", "human d", "source"):
        table.add_column(column, overflow="fold")
    for row in rows:
        human = f"{row['human_d']:g}" if row["human_d"] is not None else "-"
        table.add_row(*(escape(x) for x in (row["id"], row["title"], row["design"], row["test"], human, row["source"])))
    print_table(console, table)
    console.print(f"[dim]add your own: a YAML file in {escape(str(user_studies_dir()))} (check it with `simulacra experiment validate FILE`)[/dim]")


@experiment_app.command("validate")
def validate(files: List[Path] = typer.Argument(..., help="Study YAML files to check.")) -> None:
    """Check study definition files; errors name the file, line and field."""
    from rich.markup import escape

    from experiments.behavioral.definition import load_study_file
    from simulacra.errors import SimulacraError

    bad = 0
    for path in files:
        try:
            study = load_study_file(path)
        except SimulacraError as exc:
            bad += 1
            console.print(f"[red]invalid[/red] {escape(str(exc))}", highlight=False)
            continue
        console.print(
            f"[green]ok[/green] {escape(str(path))}: {study.id} ({study.design}, {len(study.conditions)} conditions, "
            f"{len(study.steps)} step(s), {study.analysis.test})",
            highlight=False,
        )
    if bad:
        raise typer.Exit(1)


class _Limited:
    """The first `limit` agents of a bank (by id), for trying a study on a few agents."""

    def __init__(self, bank: object, limit: int | None):
        self.bank = bank
        self.limit = limit

    def ids(self) -> list[str]:
        ids = sorted(self.bank.ids())  # type: ignore[attr-defined]
        return ids[: self.limit] if self.limit else ids

    def load(self, agent_id: str):  # noqa: ANN201
        return self.bank.load(agent_id)  # type: ignore[attr-defined]


def _open_bank(path: Path | None):  # noqa: ANN202
    from simulacra.agents.bank import AgentBank
    from simulacra.errors import SimulacraError
    from simulacra.workspace import Workspace

    root = path or Workspace.default().agents
    if not Path(root).is_dir():
        raise SimulacraError(f"agent bank {root} does not exist (build agents first, or pass --agents PATH)")
    return AgentBank(Path(root))


@experiment_app.command("run")
def run(
    studies: List[str] = typer.Argument(..., help="Study ids (see `simulacra experiment list`), YAML paths, or `all`."),
    agents: Optional[Path] = typer.Option(None, "--agents", help="Agent bank folder (default: the workspace's agents/)."),
    seed: int = typer.Option(0, help="Seed for the random assignment to conditions."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name the run (default: derived from studies, agents, model and seed, so the same command resumes)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use only the first N agents (by id)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the answers that failed validation."),
    new_run: bool = typer.Option(False, "--new-run", help="When the run folder holds a run made with other prompts, agents or studies, start a new run folder instead of refusing."),
    concurrency: Optional[int] = typer.Option(None, min=1, help="Agents in flight at once (default: 1 on the embedded model, else the endpoint's max_concurrency)."),
    scoring: Optional[str] = typer.Option(None, help=SCORING_HELP),
    debias: Optional[str] = typer.Option(None, help=DEBIAS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON (for scripts) in place of the tables."),
    executor: str = typer.Option("local", "--executor", help="local (this process) or ray: answer on a pool of Ray actors (pip install 'simulacra\\[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="With --executor ray: join a cluster (auto, or ray://host:port); default: a local one."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="With --executor ray: Ray actors (default: the cluster's CPUs)."),
) -> None:
    """Randomly assign agents to conditions, ask them, test the effect, and write results and report.html."""
    import asyncio
    import json

    from experiments.behavioral.definition import load_studies
    from experiments.behavioral.report import collect, print_report, report_path, write_html
    from experiments.pipeline import plan_experiment, run_async
    from experiments.runs.executors import answering
    from experiments.runs.identity import check_run_id
    from simulacra.config import load_settings
    from simulacra.llm import describe_backend
    from simulacra.workspace import Workspace

    if run_id:
        check_run_id(run_id)
    definitions = load_studies(list(studies))
    settings = load_settings()
    workspace = Workspace.default()
    spec = plan_experiment(definitions, _Limited(_open_bank(agents), limit), model=describe_backend(settings),
                           temperature=settings.llm.temperature, max_tokens=settings.llm.max_tokens, seed=seed,
                           run_id=run_id, options=answer_options(scoring, debias))
    label = f"{len(definitions)} stud{'y' if len(definitions) == 1 else 'ies'}"

    async def go(llm, runs_on):  # noqa: ANN001,ANN202
        try:
            return await run_async(spec, runs_on, workspace=workspace, new_run=new_run, retry_failed=retry_failed,
                                   concurrency=concurrency, console=None if as_json else Console(stderr=True),
                                   progress_label=label)
        finally:
            if llm is not None:
                await llm.aclose()

    with answering(executor, settings, workspace, address=ray_address, workers=workers) as (llm, runs_on):
        outcome = asyncio.run(go(llm, runs_on))
    collected = collect([outcome.folder])
    path = write_html(collected, report_path(outcome.folder))
    if as_json:
        results = {k: v for k, v in collected[0].items() if k != "definitions"}
        typer.echo(json.dumps({"run_id": outcome.run_id, "folder": str(outcome.folder.path), "asked": outcome.asked,
                               "already": outcome.reused, "failed": outcome.failed, "report": str(path),
                               "results": results}, indent=2, default=str))
    else:
        console.print(f"run {outcome.run_id}: {outcome.asked} answer(s) asked, {outcome.reused} already stored, "
                      f"{outcome.failed} failed", markup=False, highlight=False)
        print_report(console, collected)
        print_wrapped(console, f"report: {path}")
    if outcome.failed:
        console.print(f"{outcome.failed} answer(s) failed (invalid model output); run the same command with "
                      "--retry-failed to ask them again", style="yellow", markup=False, highlight=False)


@experiment_app.command("report")
def report(
    runs: List[str] = typer.Argument(..., help="Experiment run ids (under the workspace's runs/) or run folders."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default: report.html in the run folder)."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON (for scripts)."),
) -> None:
    """All studies side by side: agents' d vs the published human d, verdicts, r of effect sizes (terminal + HTML)."""
    from experiments.behavioral.report import write_experiment_report

    write_experiment_report(runs, out=out, as_json=as_json, console=console)


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
