"""`simulacra agents ...` commands: a thin layer over `simulacra.agents` (build, import, list, show, ask)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

agents_app = typer.Typer(no_args_is_help=True)
console = Console()

BANK_OPTION = typer.Option(None, "--agents", "--bank", help="Agent bank folder (default: the workspace's agents/).")


def _bank(folder: Optional[Path]):
    from simulacra.agents.bank import AgentBank

    return AgentBank(folder)


def _progress(message: str) -> None:
    console.print(f"[dim]· {message}[/dim]", highlight=False)


@agents_app.command("build")
def build(
    transcripts: List[Path] = typer.Argument(..., help="Transcript files (JSONL, as the interviewer writes them)."),
    bank: Optional[Path] = BANK_OPTION,
    reflections: bool = typer.Option(True, "--reflections/--no-reflections", help="Generate the four experts' reflections."),
    reflection_limit: Optional[int] = typer.Option(None, help="At most this many observations per expert (default 19)."),
    agent_id: Optional[str] = typer.Option(None, "--id", help="Agent id (default: the respondent id; one transcript only)."),
) -> None:
    """Build interview agents from transcripts: memory stream, importance, expert reflections."""
    from simulacra.agents.build import build_agent_from_transcript
    from simulacra.errors import SimulacraError
    from simulacra.llm import open_llm

    if agent_id and len(transcripts) > 1:
        raise SimulacraError("--id names one agent: give one transcript with it")
    target = _bank(bank)
    llm = open_llm()

    async def run() -> None:
        for path in transcripts:
            console.print(f"building an agent from {path}")
            agent = await build_agent_from_transcript(
                path, llm, bank=target, reflections=reflections, reflection_limit=reflection_limit,
                agent_id=agent_id, progress=_progress,
            )
            console.print(
                f"[green]saved[/green] {agent.id}: {len(agent.observations())} observations, "
                f"{len(agent.reflections())} reflections → {target.path(agent.id)}"
            )

    asyncio.run(run())
    console.print(f"[dim]{llm.usage.calls} model calls, {llm.usage.prompt_tokens_evaluated} prompt tokens evaluated[/dim]")


@agents_app.command("import-genagents")
def import_genagents_cmd(
    folder: Path = typer.Argument(..., help="A genagents agent folder, or a population folder of them."),
    bank: Optional[Path] = BANK_OPTION,
    reflections: bool = typer.Option(True, "--reflections/--no-reflections", help="Generate expert reflections."),
    reflection_limit: Optional[int] = typer.Option(None, help="At most this many observations per expert."),
    replace: bool = typer.Option(False, "--replace", help="Replace agents with the same id (their memories and reflections are lost)."),
) -> None:
    """Import genagents agents (meta.json, scratch.json, memory_stream/nodes.json)."""
    from simulacra.agents.build import import_genagents
    from simulacra.llm import open_llm

    target = _bank(bank)
    llm = open_llm() if reflections else None
    agents = asyncio.run(
        import_genagents(folder, llm, target, reflections=reflections, reflection_limit=reflection_limit, progress=_progress,
                         replace=replace)
    )
    console.print(f"[green]imported[/green] {len(agents)} agent(s) into {target.root}")


@agents_app.command("import-demographic")
def import_demographic_cmd(
    csv_file: Path = typer.Argument(..., help="CSV with agent_id and demographic columns (gss_demographic_agents_scratch.csv)."),
    bank: Optional[Path] = BANK_OPTION,
    limit: Optional[int] = typer.Option(None, help="Import at most this many agents."),
    ids: List[str] = typer.Option([], "--id", help="Import only these agent ids (repeatable)."),
) -> None:
    """Import demographic agents (one per CSV row)."""
    from simulacra.agents.build import import_demographic_csv

    target = _bank(bank)
    agents = import_demographic_csv(csv_file, target, limit=limit, ids=ids)
    console.print(f"[green]imported[/green] {len(agents)} demographic agent(s) into {target.root}")


@agents_app.command("list")
def list_cmd(bank: Optional[Path] = BANK_OPTION) -> None:
    """List the agents in the bank."""
    target = _bank(bank)
    summaries = target.list()
    if not summaries:
        console.print(f"no agents in {target.root}")
        return
    table = Table(title=f"agents in {target.root}")
    for column in ("id", "source", "name", "observations", "reflections", "experts"):
        table.add_column(column)
    for s in summaries:
        table.add_row(s.id, s.source, s.name or "", str(s.observations), str(s.reflections), ", ".join(s.experts))
    console.print(table)


@agents_app.command("show")
def show(
    agent_id: str = typer.Argument(..., help="Agent id."),
    bank: Optional[Path] = BANK_OPTION,
    memories: int = typer.Option(5, help="Show this many memories (most important first)."),
) -> None:
    """Show an agent: persona, memory counts, each expert's reflections."""
    from simulacra.agents.baselines import CompositeAgent, PersonaAgent
    from simulacra.agents.interview import InterviewAgent
    from simulacra.agents.profile import persona_line
    from simulacra.agents.router import EXPERTS

    agent = _bank(bank).load(agent_id)
    console.print(f"[bold]{agent.id}[/bold] ({agent.source}){' · ' + agent.name if agent.name else ''}")
    if isinstance(agent, InterviewAgent):
        console.print(f"persona: {agent.persona or '(none)'}", highlight=False)
        console.print(f"{len(agent.observations())} observations, {len(agent.reflections())} reflections, clock {agent.clock}")
        for node in sorted(agent.observations(), key=lambda m: -m.importance)[:memories]:
            console.print(f"  [{node.importance:.0f}] {node.text[:160].replace(chr(10), ' ')}…", highlight=False, markup=False)
        for expert in EXPERTS:
            notes = agent.reflections(expert)
            if notes:
                console.print(f"[bold]{expert}[/bold] ({len(notes)})")
                for note in notes:
                    console.print(f"  - {note.text}", highlight=False, markup=False)
    elif isinstance(agent, PersonaAgent):
        console.print(agent.persona, highlight=False, markup=False)
    elif isinstance(agent, CompositeAgent):
        console.print(f"{len(agent.known_answers)} known answers over {len(agent.questions)} items")
    else:
        console.print(persona_line(agent.demographics), highlight=False, markup=False)


@agents_app.command("ask")
def ask(
    agent_id: str = typer.Argument(..., help="Agent id."),
    question: str = typer.Argument(..., help="The question."),
    options: List[str] = typer.Option([], "--options", "-o", help="An answer option (repeat for each); makes it multiple choice."),
    minimum: Optional[float] = typer.Option(None, "--min", help="Lowest number allowed (a number question, with --max)."),
    maximum: Optional[float] = typer.Option(None, "--max", help="Highest number allowed."),
    logprobs: bool = typer.Option(False, "--logprobs", help="Score the options by log-probability instead of generating."),
    context_mode: Optional[str] = typer.Option(None, help="full | retrieved | auto (default: the setting)."),
    bank: Optional[Path] = BANK_OPTION,
) -> None:
    """Ask one agent one question (open, multiple choice with --options, or a number with --min/--max)."""
    from simulacra.agents.answering import AnswerOptions
    from simulacra.agents.interview import InterviewAgent
    from simulacra.errors import SimulacraError
    from simulacra.llm import open_llm
    from surveys.model import Option, Question, QuestionKind

    target = _bank(bank)
    agent = target.load(agent_id)
    if options:
        if len(options) < 2:
            raise SimulacraError("--options: give at least two options")
        q = Question(id="ask", text=question, kind=QuestionKind.categorical,
                     options=[Option(code=str(i + 1), label=o) for i, o in enumerate(options)])
    elif minimum is not None or maximum is not None:
        if minimum is None or maximum is None or minimum >= maximum:
            raise SimulacraError("a number question needs both --min and --max, with --min below --max")
        q = Question(id="ask", text=question, kind=QuestionKind.numeric, min=minimum, max=maximum)
    else:
        q = Question(id="ask", text=question, kind=QuestionKind.open)
    if context_mode not in (None, "auto", "full", "retrieved"):
        raise SimulacraError(f"--context-mode {context_mode!r}: use full, retrieved or auto")
    llm = open_llm()
    answer_options = AnswerOptions(scoring="logprobs" if logprobs else "generate", batch_size=1)
    kwargs = {"context_mode": context_mode} if isinstance(agent, InterviewAgent) and context_mode else {}
    answers = asyncio.run(agent.answer([q], llm=llm, options=answer_options, **kwargs))
    answer = answers[0]
    if isinstance(agent, InterviewAgent):
        target.save(agent)  # retrieval updated the memories' last-retrieved times
    if answer.status.value != "ok":
        console.print(f"[red]the model's answer stayed invalid[/red]: {answer.error}", highlight=False)
        raise typer.Exit(1)
    shown = answer.value
    if q.is_choice:
        shown = q.option(str(answer.value)).label
    console.print(f"[bold]{shown}[/bold]", highlight=False)
    if answer.reasoning:
        console.print(f"[dim]{answer.reasoning}[/dim]", highlight=False, markup=False)
    if answer.probabilities:
        for code, p in sorted(answer.probabilities.items(), key=lambda kv: -kv[1]):
            console.print(f"  {q.option(code).label}: {p:.2f}", highlight=False, markup=False)
