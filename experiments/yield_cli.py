"""`simulacra interview-yield`: a thin command over experiments.interview_yield (plan -> interviews -> RunSpec ->
run -> score -> print)."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from simulacra.config import load_settings
from simulacra.terminal import print_markdown, print_table, print_wrapped
from simulacra.workspace import Workspace

from experiments.interview_yield import markdown, run_interview_yield
from experiments.runs.executors import answering
from experiments.runs.options import EXECUTOR_HELP, RAY_ADDRESS_HELP, WORKERS_HELP
from experiments.yield_advice import advice_lines, advise, load_advice_script, read_yield


def interview_yield(
    panel: str = "2016-2020",
    people: int = 2,
    targets: int = 6,
    context_items: int = 12,
    script: str = "default",
    blocks: str = "life_story",
    turns: int = 6,
    lengths: str = "2,4",
    seed: int = 0,
    embeddings: bool = False,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int | None = None,
) -> None:
    """Measure how much of what an interviewee knows reaches an agent built from the interview."""
    console = Console()
    workspace = Workspace.default()
    with answering(executor, load_settings(), workspace, address=ray_address, workers=workers) as (_llm, runs_on):
        result = asyncio.run(run_interview_yield(
            panel=panel, people=people, targets=targets, context_items=context_items, script_name=script,
            blocks=[b.strip() for b in blocks.split(",") if b.strip()], turns=turns,
            lengths=[int(n) for n in lengths.split(",") if n.strip()], seed=seed, embeddings=embeddings,
            progress=lambda message: console.print(f"[dim]{message}[/dim]"), executor=runs_on, workspace=workspace,
        ))
    print_markdown(console, markdown(result))  # the table reads in 80 columns and when piped (yield.md keeps markdown)


def print_advice(run: str, script: str | None = None, baseline: str | None = None, console: Any = None) -> None:
    """`interview-yield --advise RUN`: the script's blocks ranked by yield per minute (experiments.yield_advice)."""
    console = console or Console()
    report, path = read_yield(run)
    the_script = load_advice_script(report, script)
    name, base, rows = advise(report, the_script, baseline)
    table = Table(title=f"Blocks of {the_script.id} by yield per minute ({path.parent.name})")
    for column, justify in (("rank", "right"), ("block", "left"), ("minutes", "right"), ("accuracy", "right"),
                            (f"gain over {name}", "right"), ("gain per minute", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for rank, row in enumerate(rows, start=1):
        measured = row.per_minute is not None
        table.add_row(str(rank) if measured else "-", row.block, f"{row.minutes:.1f}",
                      f"{row.accuracy:.2f}" if row.accuracy is not None else "not measured",
                      f"{row.gain:+.2f}" if row.gain is not None else "-",
                      f"{row.per_minute:+.3f}" if row.per_minute is not None else "-")
    print_table(console, table)
    for line in advice_lines(report, the_script, rows, name, base):
        print_wrapped(console, line)


def register(app: Any) -> None:
    def command(
        panel: str = typer.Option("2016-2020", help="GSS panel: 2016-2020 or 2006-2010."),
        people: int = typer.Option(2, min=1, help="Panel respondents to interview (seeded choice)."),
        targets: int = typer.Option(6, min=1, help="Held-out GSS items (the twins never see them)."),
        context_items: int = typer.Option(12, min=0, help="Further GSS items the twins know."),
        script: Optional[str] = typer.Option(None, help="Interview script (name or YAML path; default: default, or with "
                                             "--advise the run's own script)."),
        blocks: str = typer.Option("life_story", help="Comma-separated script blocks to use; '' for all."),
        turns: int = typer.Option(6, min=1, help="Answers per interview."),
        lengths: str = typer.Option("2,4", help="Also build agents from the first N answers, for each N."),
        seed: int = typer.Option(0),
        embeddings: bool = typer.Option(False, "--embeddings/--no-embeddings", help="Embedding topic checks in the interview."),
        executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
        advise: Optional[str] = typer.Option(None, "--advise", help="Run nothing: read this interview-yield run (id, "
                                             "folder or yield.json) and print the script's blocks ranked by yield "
                                             "per minute, as advice for shortening the script."),
        baseline: Optional[str] = typer.Option(None, "--baseline", help="With --advise: the condition or reference "
                                               "the gain is measured from (default: no-interview, else majority)."),
    ) -> None:
        """Information yield: interview GSS twins, build agents from the transcripts, answer and score held-out
        items through the pipeline (a run folder with yield.json, metrics.json and report.html). With --advise
        RUN: which blocks of the script carry the most yield per minute."""
        if advise is not None:
            print_advice(advise, script, baseline)
            return
        interview_yield(panel, people, targets, context_items, script or "default", blocks, turns, lengths, seed,
                        embeddings, executor, ray_address, workers)

    app.command("interview-yield")(command)
