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
from rich.markup import escape
from rich.table import Table

console = Console()

surveys_app = typer.Typer(help="Survey instruments: list, show and validate.", no_args_is_help=True)
responses_app = typer.Typer(help="Human response sets (GSS panels, your CSVs): load and summarize.", no_args_is_help=True)


@surveys_app.command("list")
def list_command() -> None:
    """The instruments shipped with simulacra (use a file path anywhere an id is accepted)."""
    from surveys.instruments import list_instruments, load_instrument

    table = Table(title="instruments")
    for column in ("id", "title", "questions", "kinds"):  # narrow: cells wrap at spaces, ids fold, counts stay whole
        table.add_column(column, overflow="fold", no_wrap=column == "questions", justify="right" if column == "questions" else "left")
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


def is_panel_file(path: Path) -> bool:
    """True when a file is a GSS panel extract (long 2006-style or wide 2016-2020-style), not a response CSV.

    Response CSVs are long (`question` and `value` columns) or wide (a `respondent` column and no `wave`);
    a panel file has a `wave` column, or `<var>_1a`/`_1b` and `<var>_2` columns, or (without a `respondent`
    column) `<var>_1` and `<var>_2` columns or a `yearid`/`firstid` column. Gzip-compressed files too.
    """
    import zlib

    import pandas as pd

    from surveys.errors import DataFileError

    try:
        header = pd.read_csv(path, nrows=0, dtype=str, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError) as exc:
        raise DataFileError(path, f"cannot read as CSV: {' '.join(str(exc).split())}") from None  # pandas ends it with a newline
    except (EOFError, zlib.error) as exc:  # a damaged or cut-off .gz (gzip.BadGzipFile is an OSError)
        raise DataFileError(path, f"cannot read the compressed file: damaged or incomplete ({exc})") from None
    columns = {str(c).strip().lower() for c in header.columns}
    if {"question", "value"} <= columns:
        return False
    if "wave" in columns:
        return True
    seconds = {c[:-2] for c in columns if c.endswith("_2")}
    if {c[:-3] for c in columns if c.endswith(("_1a", "_1b"))} & seconds:
        return True
    if "respondent" in columns:  # a wide response CSV (its question ids may end in _1 / _2)
        return False
    return bool({c[:-2] for c in columns if c.endswith("_1")} & seconds) or bool({"yearid", "firstid"} & columns)


def load_any(source: str, instrument: Optional[str] = None, weights: Optional[str] = None):
    """A named response set, a response CSV (wide or long) or a GSS panel file, as the benchmark reads it."""
    from surveys.loaders import RESPONSE_SETS, load_gss_panel, load_panel_file, load_responses

    if source in RESPONSE_SETS:
        return load_gss_panel(RESPONSE_SETS[source], instrument, weights=weights)  # type: ignore[arg-type]
    path = Path(source).expanduser()
    if path.is_file() and is_panel_file(path):
        return load_panel_file(path, instrument, weights=weights)
    responses = load_responses(source, instrument)
    return responses.with_weights(weights) if weights else responses


@surveys_app.command("import-qsf")
def import_qsf_command(
    file: Path = typer.Argument(..., help="A Qualtrics survey export (.qsf)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Instrument file to write (.yaml or .json; default: beside the QSF, .yaml)."),
    instrument_id: Optional[str] = typer.Option(None, "--id", help="Instrument id (default: from the survey name)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output file."),
) -> None:
    """Convert a Qualtrics questionnaire into an instrument file (multiple choice, matrix, slider, text entry)."""
    from surveys.errors import SimulacraError
    from surveys.instruments import read_instrument_file, save_instrument
    from surveys.qsf import import_qsf

    target = out or file.with_suffix(".yaml")
    if target.exists() and not force:
        raise SimulacraError(f"{target}: exists; use --force to replace it")
    result = import_qsf(file, instrument_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    save_instrument(result.instrument, target)
    inst = read_instrument_file(target)  # the file passes `surveys validate`
    kinds = Counter(q.kind.value for q in inst.questions)
    print(f"wrote {target}: instrument {inst.id!r}, {len(inst.questions)} questions ({', '.join(f'{k} {n}' for k, n in kinds.items())})")
    if result.unsupported:
        print(f"{len(result.unsupported)} questions not imported (unsupported type):")
        for qid, kind, tag, reason in result.unsupported:
            print(f"  {qid} ({tag}, {kind}): {reason}")
    if result.skipped:
        print(f"{len(result.skipped)} elements are not questions (skipped): " + ", ".join(f"{q} ({k})" for q, k in result.skipped))
    for note in result.notes:
        print(f"note: {note}")


@responses_app.command("load")
def load_command(
    source: str = typer.Argument(..., help="gss-panel-2016 | gss-panel-2016-2020 | gss-panel-2006, a wide/long CSV file, or a GSS panel file (long or wide, as `benchmark --panel-file` reads)."),
    instrument: Optional[str] = typer.Option(None, "--instrument", "-i", help="Instrument id or file (default: gss for panels; guessed for CSVs)."),
    summary: bool = typer.Option(False, "--summary", help="Show retest pairs, per-item and per-person agreement, and what could not be mapped."),
    items: int = typer.Option(20, "--items", help="Rows of the per-item agreement table (0 = all)."),
    unmapped: Optional[int] = typer.Option(None, "--unmapped", help="List this many (item, value) pairs that could not be mapped (default 10, with --summary 50; 0 = all)."),
    weights: Optional[str] = typer.Option(None, "--weights", "-w", help="Weight column (e.g. wtssall): population-level figures are weighted."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the loaded answers as a long CSV (respondent,question,wave,value)."),
) -> None:
    """Load human responses and describe them."""
    responses = load_any(source, instrument, weights)
    data = responses.data
    per_wave = data.groupby("wave").size()
    console.print(
        f"[bold]{escape(responses.name)}[/bold] ({responses.instrument}): {len(responses.respondents):,} people, "
        f"{len(responses.questions)} items, waves {', '.join(str(w) for w in per_wave.index)} "
        f"({', '.join(f'{n:,}' for n in per_wave)} answers); {len(responses.unmapped):,} values not mapped",
        highlight=False,
    )
    if responses.weighted:
        console.print(responses.weight_summary(), highlight=False, markup=False)
    if summary:
        _print_summary(responses, items)
    _print_unmapped(responses, unmapped if unmapped is not None else (50 if summary else 10), reasons=summary)
    if export:
        _export(responses, export)


def _print_unmapped(responses, limit: int, reasons: bool = False) -> None:
    from surveys.responses import describe_unmapped

    for line in describe_unmapped(responses, limit=limit or None, reasons=reasons):
        print(line)  # plain lines: they read in 80 columns and when piped


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
        table.add_column("item", overflow="fold")  # ids fold, never cut; the numbers never wrap
        table.add_column("n_pairs", justify="right", no_wrap=True)
        table.add_column("agreement", justify="right", no_wrap=True)
        rows = by_item if items <= 0 else by_item.head(items)
        for row in rows.itertuples(index=False):
            table.add_row(row.item, f"{row.n_pairs:,}", f"{row.agreement:.3f}")
        console.print(table)
        if len(rows) < len(by_item):
            console.print(f"[dim]... {len(by_item) - len(rows)} more items (use --items 0 for all)[/dim]")


@responses_app.command("export")
def export_command(
    source: str = typer.Argument(..., help="A response set name (gss-panel-2016, ...), a response CSV or a GSS panel file."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write into."),
    formats: str = typer.Option("sav,dta,csv", "--format", "-f", help="Comma-separated: sav (SPSS), dta (Stata), csv (wide + long). A codebook is always written."),
    instrument: Optional[str] = typer.Option(None, "--instrument", "-i", help="Instrument id or file (default: gss for panels; guessed for CSVs)."),
    weights: Optional[str] = typer.Option(None, "--weights", "-w", help="Weight column to carry into the files (e.g. wtssall)."),
    name: Optional[str] = typer.Option(None, "--name", help="File name stem (default: the response set's name)."),
) -> None:
    """Export answers for analysis: SPSS/Stata files with variable and value labels, CSVs and a codebook."""
    import re

    from surveys.exports import export_responses, parse_formats
    from surveys.instruments import load_instrument

    chosen = parse_formats(formats)  # a typo fails before anything is loaded
    responses = load_any(source, instrument, weights)
    inst = load_instrument(instrument or responses.instrument or "gss")
    people = responses.demographics.add_prefix("demo_")  # per person: into the wide files (the weight is one of them)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name or responses.name).strip("._") or "responses"
    paths = export_responses(responses.data, inst, out, chosen, name=stem, file_label=f"{responses.name} ({inst.id})", people=people)
    print(f"{len(responses.respondents):,} people, {len(responses.data):,} answers, {len(responses.questions)} items:")
    for kind, path in paths.items():
        print(f"  {kind:<9} {path}")
    for line in describe_unmapped_lines(responses):
        print(line)


def describe_unmapped_lines(responses, limit: int = 10) -> list[str]:
    from surveys.responses import describe_unmapped

    return describe_unmapped(responses, limit=limit or None)


def _export(responses, path: Path) -> None:
    import os
    import tempfile

    from surveys.exports import csv_safe_frame

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as fh:
            csv_safe_frame(responses.data).to_csv(fh, index=False)  # opened in spreadsheets: no formulas
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
