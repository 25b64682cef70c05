"""`simulacra study create|invite|status|export|evaluate`: the paper's study for one's own participants.

A study (see `interviewer/study/model.py` for the YAML) is stored in `<workspace>/studies/<id>/`. Respondents
get the interview app's link tokens (`/study#<token>`: the interview first when the study has one, then the
surveys; after the retest delay the same link opens the retest). `export` writes their answers (waves 1 and
2) in the long CSV format; `evaluate` builds the study's agents (interview, combined, composite, demographic,
persona; the last two from the unscored `about_you` instrument) from its transcripts and answers, runs them
with the shared run library on the scored instruments and scores them normalized by each person's own retest.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from simulacra.terminal import print_table

from experiments.runs.options import EXECUTOR_HELP, RAY_ADDRESS_HELP, WORKERS_HELP
from experiments.studies import (
    study_store,
    CONDITIONS,
    create_study,
    evaluate_study,
    export_study,
    invite_respondents,
)

console = Console()


def _say(text: str, style: str | None = None) -> None:
    console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


study_app = typer.Typer(help="Studies: interview, surveys and a retest for your own participants; export and evaluate.",
                        no_args_is_help=True)


# -- commands ---------------------------------------------------------------------------------------------
@study_app.command("create")
def create_cmd(
    file: Path = typer.Argument(..., help="The study YAML (id, interview, instruments, order, retest_days)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a study of the same id that has no participants."),
) -> None:
    """Validate a study file and store it in the workspace (studies/<id>/)."""
    study, folder = create_study(file, replace=replace)
    count = len(study.all_questions())
    interview = f"interview '{study.spec.interview.script}' first" if study.spec.interview.required else "no interview"
    _say(f"study {study.id}: {interview}; {', '.join(i.id for i in study.instruments)} ({count} questions, "
         f"order {study.spec.order}); retest after {study.spec.retest_days:g} days -> {folder}", "green")
    for instrument_id, info in study.adaptive.items():
        limits = [f"at most {info.max_items} items"] if info.max_items else []
        limits += [f"{info.budget_seconds / 60:g} minutes of expected answering time"] if info.budget_seconds else []
        _say(f"{instrument_id}: adaptive, {' and '.join(limits)}, chosen among {info.items} items from the answers of "
             f"{info.people} people of {info.population} (frozen in {info.population_file})")
    if study.spec.interview.required:
        _say(f"serve it with: simulacra serve --script {study.spec.interview.script}")


@study_app.command("invite")
def invite_cmd(
    study: str = typer.Argument(..., help="Study id."),
    count: int = typer.Argument(1, min=0, help="How many new respondents."),
    base_url: str = typer.Option("http://127.0.0.1:8000", "--base-url", help="Where `simulacra serve` is reached."),
    label: Optional[str] = typer.Option(None, help="The operator's note on these invitations."),
    respondent: Optional[List[str]] = typer.Option(None, "--respondent", help="A new link for this respondent (repeat)."),
    as_json: bool = typer.Option(False, "--json", help="Print the links as JSON."),
) -> None:
    """Print respondent links (one per line: respondent, link). Each link is shown once; keep it safe."""
    rows = invite_respondents(study, count, base_url=base_url, label=label, respondents=respondent or ())
    if as_json:
        typer.echo(json.dumps([{"respondent": r, "link": link} for r, link in rows], indent=2))
        return
    for r, link in rows:
        typer.echo(f"{r}\t{link}")


@study_app.command("status")
def status_cmd(
    study: Optional[str] = typer.Argument(None, help="Study id (default: every study)."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Each participant's progress: invited, consented, interview, survey, waiting for retest, retest, done,
    stopped or full (quota)."""
    from interviewer.study.web import overview
    from interviewer.web.tokens import SessionRegistry

    store = study_store()
    if study:
        store.load(study)
    registry = SessionRegistry(store.workspace.sessions / "web")
    data = overview(store, registry)
    if study:
        data["studies"] = [s for s in data["studies"] if s["id"] == study]
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    if not data["studies"]:
        _say("no studies yet: simulacra study create FILE")
    for item in data["studies"]:
        table = Table(title=f"study {item['id']} ({', '.join(item['instruments'])}; retest after {item['retest_days']:g} days)")
        for column in ("respondent", "phase", "interview", "round 1", "round 2", "retest opens"):
            table.add_column(column, overflow="fold")
        for p in item["participants"]:
            interview = "finished" if p["interview_finished"] else ("-" if not item["interview"]["required"] else "not finished")
            totals = p.get("totals") or {"1": p["total"], "2": p["total"]}
            opens = f"{p['retest_at'] or ''}{' (opened early)' if p.get('retest_opened_at') else ''}"
            table.add_row(p["respondent"], p.get("status", p["phase"]), interview, f"{p['answered']['1']}/{totals['1']}",
                          f"{p['answered']['2']}/{totals['2']}", opens)
        print_table(console, table)  # narrower than the table: wrapped cells (words whole) or plain lines


@study_app.command("export")
def export_cmd(
    study: str = typer.Argument(..., help="Study id."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder (default: studies/<id>/export/)."),
    with_external_ids: bool = typer.Option(False, "--with-external-ids",
                                           help="Also write external_ids.csv (participant-platform ids; personal data)."),
) -> None:
    """Write the human answers (waves 1 and 2) as long CSV (all instruments, and one file per instrument for
    `simulacra report RUN --truth <that file>`), with answer times, item order, wave completion times and
    retest intervals."""
    for path in export_study(study, out, with_external_ids=with_external_ids):
        _say(str(path))


@study_app.command("open-retest")
def open_retest_cmd(
    study: str = typer.Argument(..., help="Study id."),
    participant: Optional[str] = typer.Argument(None, help="Respondent id (default: everyone waiting for the retest)."),
) -> None:
    """Open the retest now (before the study's retest delay), logged in studies/<id>/log.jsonl."""
    from interviewer.study.web import open_retest

    opened = open_retest(study_store(), study, participant, by="cli")
    if not opened:
        _say(f"study {study}: nobody is waiting for the retest" if participant is None
             else f"study {study}: the retest of {participant} is already open")
        return
    for respondent in opened:
        _say(f"retest open for {respondent} (their study link now opens round 2)", "green")


@study_app.command("evaluate")
def evaluate_cmd(
    study: str = typer.Argument(..., help="Study id."),
    condition: Optional[List[str]] = typer.Option(None, "--condition", help=f"Agent condition(s): {', '.join(CONDITIONS)} (default: all)."),
    reflections: bool = typer.Option(True, "--reflections/--no-reflections", help="Expert reflections for interview agents."),
    bootstrap: int = typer.Option(1000, min=0, help="Bootstrap resamples for intervals."),
    min_items: Optional[int] = typer.Option(None, min=1, help="People with fewer scored items are left out of the averages (default, as for every run: 20, or half the items asked when fewer than 40 were asked)."),
    executor: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help=WORKERS_HELP),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="Run folder name (default: derived, so a rerun resumes)."),
    new_run: bool = typer.Option(False, "--new-run", help="Start a new run folder when the agents or settings changed."),
    population: Optional[str] = typer.Option(None, "--population", help="A response set (file or name) whose wave-1 answers the references also learn from (default: wave 1 of the GSS 2016-2020 panel for GSS items)."),
) -> None:
    """Build the study's agents, run them on its instruments and write the report (normalized by each
    person's own retest)."""
    from experiments.reports.report import print_summary
    from simulacra.config import load_settings
    from simulacra.llm import describe_backend, open_llm
    from simulacra.workspace import Workspace

    from experiments.runs.executors import answering

    workspace = Workspace.default()
    settings = load_settings()
    with answering(executor, settings, workspace, address=ray_address, workers=workers) as (local, runs_on):
        llm = local or open_llm(settings, workspace)  # builds interview agents here; answers on `runs_on`
        folder, result, notes = asyncio.run(evaluate_study(
            study, llm, workspace=workspace, model=describe_backend(settings), conditions=condition or CONDITIONS,
            reflections=reflections, bootstrap=bootstrap, min_items=min_items, run_id=run_id, new_run=new_run,
            show_progress=True, progress=lambda message: _say(message, "dim"), executor=runs_on, population=population))
    for note in notes:
        _say(note, "yellow")
    print_summary(result.metrics, console)
    _say(f"run {folder.path.name}\nreport: {result.html_path}\nmetrics: {result.metrics_path}")


def register(app: typer.Typer) -> None:

    app.add_typer(study_app, name="study")
