"""`simulacra interview`: text sessions in the terminal and agent-as-respondent runs."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Optional

import typer


def interview(
    respondent: Optional[str] = typer.Option(
        None, "--respondent", "-r", help="Respondent id (letters, digits, - and _): names the transcript file."
    ),
    respondent_agent: Optional[str] = typer.Option(
        None, "--respondent-agent", help="Interview this agent from the agent bank instead of a person."
    ),
    script_name: str = typer.Option("default", "--script", "-s", help="Packaged script name or path to a script YAML."),
    max_minutes: Optional[float] = typer.Option(
        None, "--max-minutes", min=0.1, help="Shorten every question's budget proportionally to fit this many minutes."
    ),
    blocks: Optional[str] = typer.Option(None, "--blocks", help="Comma-separated block ids to keep (plus intro and closing)."),
    name: Optional[str] = typer.Option(None, "--name", help="How the interviewer addresses the respondent (default: from the id)."),
    clock: str = typer.Option(
        "speech", "--clock",
        help="speech: time estimated from words at a speaking rate (keeps the script's pace when typing); wall: real time.",
    ),
    words_per_minute: float = typer.Option(150.0, "--words-per-minute", min=30, help="Speaking rate of the speech clock."),
    agents_dir: Optional[Path] = typer.Option(None, "--agents", help="Agent bank folder (default: the workspace's agents/)."),
    echo: bool = typer.Option(False, "--echo", help="Agent mode: print the conversation as it goes."),
    embeddings: bool = typer.Option(
        True, "--embeddings/--no-embeddings",
        help="Judge whether answers and follow-ups are on topic by embedding similarity as well as shared words "
        "(offline all-MiniLM-L6-v2; without it an answer is never called off topic).",
    ),
) -> None:
    """Run an interview: typed in the terminal, or with an agent answering (--respondent-agent).

    Every turn is saved to transcripts/<respondent>.jsonl as it happens; running the same command again
    resumes where it stopped. The transcript feeds `simulacra agents build`. The interviewer's decisions use
    the "interviewer" role's model ([roles.interviewer] in simulacra.toml, else [llm]); an agent answers with
    the agents' model.
    """
    from rich.console import Console

    from interviewer.clock import SpeakingRateClock, WallClock
    from interviewer.errors import InterviewError
    from interviewer.script import load_script, select_blocks, shorten
    from interviewer.storage import TranscriptStore, validate_respondent

    console = Console()
    if not respondent and not respondent_agent:
        raise InterviewError("give --respondent NAME for a typed interview, or --respondent-agent AGENT_ID")
    if clock not in ("speech", "wall"):
        raise InterviewError(f"--clock must be 'speech' or 'wall', not {clock!r}")
    script = load_script(script_name)
    if blocks:
        script = select_blocks(script, [b.strip() for b in blocks.split(",") if b.strip()])
    if max_minutes:
        script = shorten(script, max_minutes)
    the_clock = SpeakingRateClock(words_per_minute) if clock == "speech" or respondent_agent else WallClock()
    store = TranscriptStore()
    respondent_id = validate_respondent(respondent or _agent_respondent_id(respondent_agent or ""))
    similarity_fn = None
    if embeddings:
        from interviewer.validation import embedding_similarity

        similarity_fn = embedding_similarity()

    if respondent_agent:
        asyncio.run(_run_agent(script, respondent_id, respondent_agent, store, the_clock, name, agents_dir, echo, console,
                               similarity_fn))
    else:
        asyncio.run(_run_text(script, respondent_id, store, the_clock, name, console, similarity_fn))


def _agent_respondent_id(agent_id: str) -> str:
    """The transcript name of an agent's interview: `agent-<id>` with characters files cannot take replaced."""
    return "agent-" + (re.sub(r"[^A-Za-z0-9_-]+", "_", agent_id).strip("_") or "unnamed")[:90]


async def _run_text(script, respondent_id, store, clock, name, console, similarity_fn=None) -> None:
    from rich.markup import escape

    from interviewer.engine import InterviewSession
    from interviewer.text_session import format_clock, run_text_session
    from simulacra.llm import open_llm

    llm = open_llm(role="interviewer")
    session = InterviewSession.open(script, respondent_id, llm, store, clock, name=name, similarity_fn=similarity_fn)
    if session.finished:
        console.print(f"The interview of {escape(respondent_id)} is already finished: {store.path(respondent_id)}")
        return
    console.print(f"[bold]{escape(script.title)}[/bold] · {escape(respondent_id)} · transcript {store.path(respondent_id)}")
    try:
        outcome = await run_text_session(session, console, console.input)
    finally:
        await llm.aclose()
    if outcome == "finished":
        console.print(
            f"[green]Finished[/green] in {format_clock(session.elapsed())} ({len(session.turns)} turns). "
            f"Build an agent from it: simulacra agents build {store.path(respondent_id)}"
        )


async def _run_agent(script, respondent_id, agent_id, store, clock, name, agents_dir, echo, console, similarity_fn=None) -> None:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from interviewer.agent_loop import interview_agent
    from interviewer.engine import InterviewSession
    from interviewer.text_session import format_clock
    from simulacra.agents.bank import AgentBank
    from simulacra.llm import open_llm

    agent = AgentBank(agents_dir).load(agent_id)
    llm = open_llm(role="interviewer")  # the interviewer's decisions
    agent_llm = open_llm(role="agents")  # the agent's answers (the same model unless [roles.interviewer] says otherwise)
    session = InterviewSession.open(
        script, respondent_id, llm, store, clock, name=name or agent.name,
        meta={"respondent_agent": agent_id, "agent_source": agent.source}, similarity_fn=similarity_fn,
    )
    if session.finished:
        console.print(f"The interview of agent {escape(agent_id)} is already finished: {store.path(respondent_id)}")
        return
    console.print(f"Interviewing agent [bold]{escape(agent_id)}[/bold] with {escape(script.title)} "
                  f"({script.question_count} questions, {format_clock(script.total_budget_s)} planned)")
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=not echo,
    ) as bar:
        task = bar.add_task("questions", total=script.question_count, completed=session.progress.question_number)

        def on_turn(utterance, answer):
            bar.update(task, completed=session.progress.question_number,
                       description=f"{session.progress.block_label or ''}"[:28])
            if echo:
                bar.console.print(f"[bold cyan]{escape(script.interviewer_name)}:[/bold cyan] {escape(utterance.text)}")
                if answer is not None:
                    bar.console.print(f"[bold]{escape(agent.name or agent_id)}:[/bold] {escape(answer)}\n")

        try:
            await interview_agent(session, agent, agent_llm, on_turn=on_turn)
        finally:
            await llm.aclose()
            await agent_llm.aclose()
    if session.unusable_reason:  # the closed loop refused garbage (interviewer/agent_loop.py): one line, exit 1
        from interviewer.agent_loop import AgentNotInterviewable

        raise AgentNotInterviewable(f"interview stopped: {session.unusable_reason}; {store.path(respondent_id)} is "
                                    "marked unusable (simulacra agents build refuses it without --force)")
    follow_ups = sum(1 for t in session.turns if t.kind == "follow_up")
    calls = llm.usage.calls + agent_llm.usage.calls
    cached = llm.usage.cached_calls + agent_llm.usage.cached_calls
    console.print(
        f"[green]Finished[/green]: {len(session.turns)} turns, {follow_ups} follow-ups, "
        f"{format_clock(session.elapsed())} of interview time (speaking-rate estimate), "
        f"{calls} model calls ({cached} cached; interviewer {llm.model}, agent {agent_llm.model}), "
        f"{len(session.notes.bullets)} notes."
    )
    console.print(f"Transcript: {store.path(respondent_id)}  ·  next: simulacra agents build {store.path(respondent_id)}")


def register(app: typer.Typer) -> None:
    app.command()(interview)
