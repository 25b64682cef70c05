"""`simulacra interview-yield`: a thin command over experiments.interview_yield (plan -> interviews -> RunSpec ->
run -> score -> print)."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import typer
from rich.console import Console

from simulacra.config import load_settings
from simulacra.terminal import print_markdown
from simulacra.workspace import Workspace

from experiments.interview_yield import markdown, run_interview_yield
from experiments.runs.executors import answering
from experiments.runs.options import EXECUTOR_HELP, RAY_ADDRESS_HELP, WORKERS_HELP


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


def register(app: Any) -> None:
    def command(
        panel: str = typer.Option("2016-2020", help="GSS panel: 2016-2020 or 2006-2010."),
        people: int = typer.Option(2, min=1, help="Panel respondents to interview (seeded choice)."),
        targets: int = typer.Option(6, min=1, help="Held-out GSS items (the twins never see them)."),
        context_items: int = typer.Option(12, min=0, help="Further GSS items the twins know."),
        script: str = typer.Option("default", help="Interview script (name or YAML path)."),
        blocks: str = typer.Option("life_story", help="Comma-separated script blocks to use; '' for all."),
        turns: int = typer.Option(6, min=1, help="Answers per interview."),
        lengths: str = typer.Option("2,4", help="Also build agents from the first N answers, for each N."),
        seed: int = typer.Option(0),
        embeddings: bool = typer.Option(False, "--embeddings/--no-embeddings", help="Embedding topic checks in the interview."),
        executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
        ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    ) -> None:
        """Information yield: interview GSS twins, build agents from the transcripts, answer and score held-out
        items through the pipeline (a run folder with yield.json, metrics.json and report.html)."""
        interview_yield(panel, people, targets, context_items, script, blocks, turns, lengths, seed, embeddings,
                        executor, ray_address, workers)

    app.command("interview-yield")(command)
