"""`simulacra surveys ...` (instruments) and `simulacra responses ...` (human response sets).

A thin layer over surveys.instruments / surveys.loaders / surveys.scoring; heavy imports happen inside
the commands so `simulacra --help` stays fast. Errors (DataFileError) reach the root command, which prints
them as one line and exits 1.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()

surveys_app = typer.Typer(help="Survey instruments: list, show and validate.", no_args_is_help=True)
responses_app = typer.Typer(help="Human response sets (GSS panels, your CSVs): load and summarize.", no_args_is_help=True)


@surveys_app.command("list")
def list_command() -> None:
    """The instruments shipped with simulacra (use a file path anywhere an id is accepted)."""
    from surveys.instruments import list_instruments, load_instrument

    table = Table(title="instruments")
    for column in ("id", "title", "questions", "kinds"):
        table.add_column(column)
    for instrument_id in list_instruments():
        instrument = load_instrument(instrument_id)
        kinds = Counter(q.kind.value for q in instrument.questions)
        table.add_row(instrument.id, instrument.title, str(len(instrument.questions)), ", ".join(f"{k} {n}" for k, n in kinds.items()))
    console.print(table)


@surveys_app.command("show")
def show_command(
    instrument: str = typer.Argument(..., help="Instrument id (gss, bfi44, games) or an instrument file."),
    limit: int = typer.Option(10, "--limit", "-n", help="Show at most this many questions (0 = all)."),
    question: Optional[list[str]] = typer.Option(None, "--question", "-q", help="Show only these question ids."),
    full: bool = typer.Option(False, "--full", help="Print full question text and metadata."),
) -> None:
    """Questions of an instrument with their kind and options."""
    from rich.markup import escape

    from surveys.instruments import load_instrument

    inst = load_instrument(instrument)
    questions = [inst.question(q) if q in {x.id for x in inst.questions} else _unknown(inst.id, q) for q in question] if question else inst.questions
    shown = questions if limit <= 0 else questions[:limit]
    console.print(f"[bold]{escape(inst.id)}[/bold]: {escape(inst.title)} ({len(inst.questions)} questions)", highlight=False)
    if inst.description:
        console.print(f"[dim]{escape(inst.description)}[/dim]", highlight=False)
    for q in shown:
        text = q.text if full or len(q.text) <= 240 else q.text[:237] + "..."
        console.print(f"\n[bold cyan]{escape(q.id)}[/bold cyan] [magenta]{q.kind.value}[/magenta]  {escape(q.description or '')}", highlight=False)
        console.print(f"  {text}", highlight=False, markup=False)
        if q.options:
            console.print("  " + " | ".join(f"{o.code}={o.label}" for o in q.options), highlight=False, markup=False)
        if q.kind.value == "numeric":
            console.print(f"  range {q.min:g} to {q.max:g}{' ' + q.unit if q.unit else ''}", highlight=False)
        if full and q.meta:
            for key, value in q.meta.items():
                console.print(f"  [dim]{escape(key)}: {escape(str(value))}[/dim]", highlight=False)
    if len(shown) < len(questions):
        console.print(f"\n[dim]... {len(questions) - len(shown)} more (use --limit 0 for all)[/dim]")


def _unknown(instrument_id: str, question_id: str):
    from surveys.errors import SimulacraError

    raise SimulacraError(f"instrument {instrument_id} has no question {question_id!r}")


@surveys_app.command("validate")
def validate_command(file: Path = typer.Argument(..., help="An instrument file (.yaml, .yml or .json).")) -> None:
    """Check an instrument file; on a problem, name the file, line and field."""
    from surveys.instruments import read_instrument_file

    inst = read_instrument_file(file)
    kinds = Counter(q.kind.value for q in inst.questions)
    console.print(
        f"[green]ok[/green] {file}: instrument {inst.id!r}, {len(inst.questions)} questions "
        f"({', '.join(f'{k} {n}' for k, n in kinds.items())})",
        highlight=False,
    )


@responses_app.command("load")
def load_command(
    source: str = typer.Argument(..., help="gss-panel-2016 | gss-panel-2016-2020 | gss-panel-2006, or a wide/long CSV file."),
    instrument: Optional[str] = typer.Option(None, "--instrument", "-i", help="Instrument id or file (default: gss for panels; guessed for CSVs)."),
    summary: bool = typer.Option(False, "--summary", help="Show retest pairs, per-item and per-person agreement, and what could not be mapped."),
    items: int = typer.Option(20, "--items", help="Rows of the per-item agreement table (0 = all)."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the loaded answers as a long CSV (respondent,question,wave,value)."),
) -> None:
    """Load human responses and describe them."""
    from surveys.loaders import load_responses

    responses = load_responses(source, instrument)
    data = responses.data
    per_wave = data.groupby("wave").size()
    console.print(
        f"[bold]{responses.name}[/bold] ({responses.instrument}): {len(responses.respondents):,} people, "
        f"{len(responses.questions)} items, waves {', '.join(str(w) for w in per_wave.index)} "
        f"({', '.join(f'{n:,}' for n in per_wave)} answers); {len(responses.unmapped):,} values not mapped",
        highlight=False,
    )
    if summary:
        _print_summary(responses, items)
    if export:
        _export(responses, export)


def _print_summary(responses, items: int) -> None:
    from surveys.scoring import person_agreement, retest_agreement

    if not responses.demographics.empty:
        console.print(f"demographics: {', '.join(map(str, responses.demographics.columns))}", highlight=False)
    by_item = retest_agreement(responses)
    if by_item.empty:
        console.print("no retest pairs (answers in both wave 1 and wave 2)")
    else:
        by_person = person_agreement(responses)
        console.print(
            f"retest pairs: {int(by_item.n_pairs.sum()):,} over {len(by_item)} items and {len(by_person):,} people; "
            f"mean per-item agreement {by_item.agreement.mean():.3f}, "
            f"mean per-person agreement {by_person.agreement.mean():.3f} (sd {by_person.agreement.std():.3f})",
            highlight=False,
        )
        table = Table(title="per-item wave-1 vs wave-2 agreement")
        table.add_column("item")
        table.add_column("n_pairs", justify="right")
        table.add_column("agreement", justify="right")
        rows = by_item if items <= 0 else by_item.head(items)
        for row in rows.itertuples(index=False):
            table.add_row(row.item, f"{row.n_pairs:,}", f"{row.agreement:.3f}")
        console.print(table)
        if len(rows) < len(by_item):
            console.print(f"[dim]... {len(by_item) - len(rows)} more items (use --items 0 for all)[/dim]")
    if responses.unmapped:
        reasons = Counter((u.question, u.reason) for u in responses.unmapped)
        console.print(f"[yellow]{len(responses.unmapped):,} values could not be mapped[/yellow]:")
        for (question, reason), count in reasons.most_common(10):
            console.print(f"  {question}: {reason} ({count}x)", highlight=False, markup=False)


def _export(responses, path: Path) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
            responses.data.to_csv(fh, index=False)
        os.chmod(tmp, 0o600)  # answers are personal data
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    console.print(f"wrote {path} ({len(responses.data):,} answers)")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the root app."""
    app.add_typer(surveys_app, name="surveys", help="Survey instruments: list, show and validate.")
    app.add_typer(responses_app, name="responses", help="Human response sets: load and summarize.")
