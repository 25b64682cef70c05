"""A terminal progress bar for a run (answers done, failures, tokens, cost), fed by the runner's callback."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class ProgressBar:
    """A rich progress bar: answers done, failures, tokens and cost so far. Use as a context manager and
    pass `bar.update` as the runner's `on_progress`."""
    def __init__(self, label: str, console: Any = None):

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("answers · [red]{task.fields[failed]}[/red] failed · {task.fields[tokens]} tokens · ${task.fields[cost]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None, failed=0, tokens=0, cost="0.0000")

    def __enter__(self) -> "ProgressBar":
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)  # type: ignore[arg-type]

    def update(self, progress: Any) -> None:
        self._progress.update(
            self._task,
            total=progress.total,
            completed=progress.done,
            failed=progress.failed,
            tokens=progress.prompt_tokens + progress.completion_tokens,
            cost=f"{progress.cost_usd:.4f}",
        )
