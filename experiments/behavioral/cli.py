"""`simulacra experiment ...`: list, validate, run and report the behavioral experiments. Mounted by
experiments/commands.py. A thin layer over `definition`, `runner` and `report`; heavy imports stay inside commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

console = Console()
experiment_app = typer.Typer(
    no_args_is_help=True,
    help="Behavioral experiments (the five studies of Park et al. 2024, or your own): run them on agents and compare with humans.",
)


@experiment_app.command("list")
def list_studies() -> None:
    """The studies you can run: built-in ones and your own in $SIMULACRA_HOME/studies/."""
    from rich.markup import escape
    from rich.table import Table

    from experiments.behavioral.definition import BUILTIN_DIR, load_study_file, study_files, user_studies_dir

    table = Table(title="experiments")
    table.add_column("id", no_wrap=True)
    for column in ("title", "design", "test", "human d", "source"):
        table.add_column(column)
    for name, path in study_files().items():
        study = load_study_file(path)
        human = f"{study.published.d:g}" if study.published else "-"
        origin = "built-in" if path.parent == BUILTIN_DIR else str(path)
        table.add_row(*(escape(x) for x in (study.id, study.title, study.design, study.analysis.test, human, origin)))
    console.print(table)
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
    from simulacra.errors import SimulacraError
    from simulacra.workspace import Workspace

    root = path or Workspace.default().agents
    if not Path(root).is_dir():
        raise SimulacraError(f"agent bank {root} does not exist (build agents first, or pass --agents PATH)")
    try:
        from simulacra.agents.bank import AgentBank
    except ImportError as exc:
        raise SimulacraError(f"the agent bank is not available in this installation: {exc}") from None
    return AgentBank(Path(root))


@experiment_app.command("run")
def run(
    studies: List[str] = typer.Argument(..., help="Study ids (see `simulacra experiment list`), YAML paths, or `all`."),
    agents: Optional[Path] = typer.Option(None, "--agents", help="Agent bank folder (default: the workspace's agents/)."),
    seed: int = typer.Option(0, help="Seed for the random assignment to conditions."),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Name the run; give an existing run id to resume it."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Use only the first N agents (by id)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again steps whose answers failed validation."),
    concurrency: Optional[int] = typer.Option(None, min=1, help="Agents in flight at once (default: 1 on the embedded model, else the endpoint's max_concurrency)."),
) -> None:
    """Randomly assign agents to conditions, ask them, test the effect, and write results and report.html."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from experiments.behavioral.definition import load_studies
    from experiments.behavioral.report import collect, print_report, write_html
    from experiments.behavioral.runner import run_experiment
    from simulacra.llm import open_llm

    definitions = load_studies(list(studies))
    bank = _Limited(_open_bank(agents), limit)
    llm = open_llm()

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"{len(definitions)} stud{'y' if len(definitions) == 1 else 'ies'}: agents", total=None)

        def on_progress(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        async def go():  # noqa: ANN202
            try:
                return await run_experiment(
                    definitions, bank, llm, run_id=run_id, seed=seed, retry_failed=retry_failed,
                    concurrency=concurrency, on_progress=on_progress,
                )
            finally:
                await llm.aclose()

        outcome = asyncio.run(go())

    console.print(f"run [bold]{outcome.folder.run_id}[/bold]: {outcome.asked} step(s) asked, {outcome.reused} already answered")
    collected = collect([outcome.folder])
    print_report(console, collected)
    path = write_html(collected, outcome.folder.report_path)
    console.print(f"report: {path}")
    if outcome.errors:
        for line in outcome.errors[:10]:
            console.print(f"[red]error[/red] {line}", highlight=False, markup=False)
        console.print(f"[yellow]{len(outcome.errors)} unit(s) failed; run again with --run-id {outcome.folder.run_id} to resume[/yellow]")
        raise typer.Exit(1)


@experiment_app.command("report")
def report(
    runs: List[str] = typer.Argument(..., help="Experiment run ids (under the workspace's runs/) or run folders."),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML file to write (default: report.html in the run folder)."),
) -> None:
    """All studies side by side: agents' d vs the published human d, verdicts, r of effect sizes (terminal + HTML)."""
    from experiments.behavioral.report import collect, print_report, write_html
    from experiments.behavioral.runner import RunFolder

    folders = [RunFolder.find(run) for run in runs]
    collected = collect(folders)
    print_report(console, collected)
    if out is None:
        out = folders[0].report_path if len(folders) == 1 else folders[0].path / "report-combined.html"
    console.print(f"report: {write_html(collected, out)}")


def register(app: typer.Typer) -> None:
    app.add_typer(experiment_app, name="experiment")
