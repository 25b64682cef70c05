"""`simulacra agents ...` commands: a thin layer over `simulacra.agents` (build, import, list, show, ask)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

from simulacra.terminal import print_table

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
    ctx: typer.Context,
    transcripts: List[Path] = typer.Argument(..., help="Transcript files (JSONL, as the interviewer writes them)."),
    bank: Optional[Path] = BANK_OPTION,
    reflections: bool = typer.Option(True, "--reflections/--no-reflections", help="Generate the four experts' reflections."),
    reflection_limit: Optional[int] = typer.Option(None, help="At most this many observations per expert (default 19)."),
    agent_id: Optional[str] = typer.Option(None, "--id", help="Agent id (default: the respondent id; one transcript only)."),
    executor: str = typer.Option("local", "--executor", help="local, or ray: each transcript built on a Ray actor "
                                 "holding one model client (pip install 'simulacra\\[ray]')."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Join a Ray cluster (auto or "
                                              "ray://host:port); default: start a local one."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Ray actors (default: the cluster's CPUs)."),
    replace: bool = typer.Option(False, "--replace", help="Replace agents with the same id (their memories, "
                                 "reflections and memory vectors are lost)."),
    force: bool = typer.Option(False, "--force", help="Build even from a transcript marked unusable (a closed-loop "
                               "interview that stopped because the agent's answers were mostly non-answers)."),
) -> None:
    """Build interview agents from transcripts: memory stream, importance, expert reflections.

    An agent id already in the bank is refused unless --replace; replacing deletes the old agent's memory
    vectors before the new agent is built, so the store holds only the new memories'."""
    from simulacra.agents.bank import check_agent_id
    from simulacra.agents.build import build_agent_from_transcript
    from simulacra.errors import SimulacraError
    from simulacra.llm import open_llm

    if agent_id and len(transcripts) > 1:
        raise SimulacraError("--id names one agent: give one transcript with it")
    if agent_id:
        check_agent_id(agent_id, where="--id")
    if not force:  # refuse a transcript marked unusable before anything is built or replaced
        from simulacra.transcript import check_usable, read_transcript

        for path in transcripts:
            try:
                transcript = read_transcript(path)
            except SimulacraError:
                continue  # unreadable: the build says so for this file (and, on Ray, still builds the others)
            check_usable(transcript)
    target = _bank(bank)
    _refuse_or_clear_existing(target, transcripts, agent_id, replace)
    if executor != "local":
        # Executors other than local come from the root command (simulacra/ may not import experiments/): the
        # composition module hands `build_agents(name, transcripts, bank, *, address, workers, reflections,
        # reflection_limit, agent_id, progress, force) -> (agents saved, [(file, error)], usage)` in ctx.obj.
        build_agents = ctx.obj.get("build_agents") if isinstance(ctx.obj, dict) else None
        _build_elsewhere(build_agents, executor, transcripts, target, reflections=reflections,
                         reflection_limit=reflection_limit, agent_id=agent_id, address=ray_address, workers=workers,
                         force=force)
        return
    if ray_address or workers:
        raise SimulacraError("--ray-address and --workers go with --executor ray")
    llm = open_llm()

    async def run() -> None:
        for path in transcripts:
            console.print(f"building an agent from {path}")
            agent = await build_agent_from_transcript(
                path, llm, bank=target, reflections=reflections, reflection_limit=reflection_limit,
                agent_id=agent_id, progress=_progress, force=force,
            )
            console.print(
                f"[green]saved[/green] {agent.id}: {len(agent.observations())} observations, "
                f"{len(agent.reflections())} reflections → {target.path(agent.id)}"
            )

    asyncio.run(run())
    console.print(f"[dim]{llm.usage.calls} model calls, {llm.usage.prompt_tokens_evaluated} prompt tokens evaluated[/dim]")


def _refuse_or_clear_existing(target, transcripts: List[Path], agent_id: Optional[str], replace: bool) -> None:
    """Agents of these ids already in the bank: refused without --replace; with it, their memory vectors go now
    (before the build indexes the new memories into the same collection)."""
    from simulacra.agents.build import _agent_id
    from simulacra.errors import SimulacraError
    from simulacra.transcript import read_transcript

    ids = []
    for path in transcripts:
        if agent_id:
            ids.append(_agent_id(agent_id))
            continue
        try:
            ids.append(_agent_id(read_transcript(path).respondent))
        except SimulacraError:
            continue  # an unreadable transcript fails in the build with its own message
    existing = [i for i in dict.fromkeys(ids) if target.exists(i)]
    if existing and not replace:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise SimulacraError(f"agent(s) {shown} already in {target.root}: add --replace to rebuild them "
                             "(their memories and reflections are lost), or give another --id")
    for existing_id in existing:
        target.forget_vectors(existing_id)


def _build_elsewhere(build_agents, executor: str, transcripts: List[Path], target, **options) -> None:
    from rich.markup import escape

    from simulacra.errors import SimulacraError

    if build_agents is None:
        raise SimulacraError(f"unknown executor {executor!r} for agents build (local, or ray with the experiments "
                             "commands installed: pip install 'simulacra[ray]')")
    console.print(f"building {len(transcripts)} agent(s) on {executor}")
    built, errors, usage = build_agents(executor, transcripts, target, progress=_progress, **options)
    for agent in built:
        console.print(
            f"[green]saved[/green] {agent.id}: {len(agent.observations())} observations, "
            f"{len(agent.reflections())} reflections → {target.path(agent.id)}"
        )
    console.print(f"[dim]{usage.get('calls', 0)} model calls, {usage.get('prompt_tokens_evaluated', 0)} prompt "
                  "tokens evaluated[/dim]")
    if errors:  # a transcript's own error names its file already (DataFileError); others get the file in front
        lines = [message if str(path) in message else f"{path}: {message}" for path, message in errors]
        for line in lines:
            console.print(f"[red]not built[/red] {escape(line)}", highlight=False)
        raise SimulacraError(f"{len(errors)} of {len(transcripts)} transcript(s) not built: " + "; ".join(lines))


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


JSON_OPTION = typer.Option(False, "--json", help="Print JSON (for scripts) instead of a table.")


def _print_json(data: object) -> None:
    import json

    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@agents_app.command("build-persona")
def build_persona(
    persona_file: Path = typer.Argument(..., help="A UTF-8 text file holding the person's self-description paragraph."),
    agent_id: str = typer.Option(..., "--id", help="Agent id."),
    name: Optional[str] = typer.Option(None, help="The person's name."),
    respondent: Optional[str] = typer.Option(None, help="Whose human answers score this agent (default: the id)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an agent with the same id."),
    bank: Optional[Path] = BANK_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build a persona agent from a persona paragraph file (the paper's persona condition)."""
    from simulacra.agents.bank import check_agent_id
    from simulacra.agents.baselines import PersonaAgent
    from simulacra.errors import SimulacraError

    target = _bank(bank)
    check_agent_id(agent_id)
    if target.exists(agent_id) and not replace:
        raise SimulacraError(f"an agent {agent_id!r} is already in {target.root}: choose another --id or add --replace")
    agent = PersonaAgent.from_file(persona_file, agent_id, name=name, respondent=respondent)
    path = target.save(agent)
    if as_json:
        _print_json({"id": agent.id, "source": agent.source, "path": str(path), "fingerprint": agent.fingerprint()})
    else:
        console.print(f"saved persona agent {agent.id} → {path}", highlight=False, markup=False)


@agents_app.command("build-combined")
def build_combined(
    interview_id: str = typer.Argument(..., help="An interview agent in the bank (built from a transcript)."),
    responses: Path = typer.Option(..., "--responses", help="The person's survey answers: a CSV (wide, or long with --long)."),
    instrument: str = typer.Option("gss", help="Instrument id or file the answers belong to."),
    long: bool = typer.Option(False, "--long", help="The CSV is long (respondent, question, wave, value)."),
    wave: int = typer.Option(1, help="Which wave's answers the agent sees."),
    respondent: Optional[str] = typer.Option(None, help="The person's id in the CSV (default: the interview agent's)."),
    exclude: List[str] = typer.Option([], "--exclude", help="A question id never shown (repeatable): targets, near-duplicates."),
    agent_id: Optional[str] = typer.Option(None, "--id", help="New agent id (default: <interview id>.combined)."),
    replace: bool = typer.Option(False, "--replace", help="Replace an agent with the same id."),
    bank: Optional[Path] = BANK_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build a combined agent: an interview agent plus the person's known survey answers (the paper's best condition)."""
    from simulacra.agents.interview import CombinedAgent, InterviewAgent
    from simulacra.errors import SimulacraError
    from surveys.instruments import load_instrument
    from surveys.loaders import load_long_csv, load_wide_csv

    target = _bank(bank)
    interview = target.load(interview_id)
    if not isinstance(interview, InterviewAgent) or interview.source != "interview":
        raise SimulacraError(f"agent {interview_id!r} is a {interview.source} agent: give an interview agent")
    inst = load_instrument(instrument)
    answers = load_long_csv(responses, inst) if long else load_wide_csv(responses, inst, wave=wave)
    agent = CombinedAgent.from_responses(interview, answers, inst, respondent=respondent, wave=wave,
                                         agent_id=agent_id, exclude=exclude)
    if target.exists(agent.id) and not replace:
        raise SimulacraError(f"an agent {agent.id!r} is already in {target.root}: choose another --id or add --replace")
    path = target.save(agent)
    if as_json:
        _print_json({"id": agent.id, "source": agent.source, "respondent": agent.respondent, "path": str(path),
                     "known_answers": len(agent.known_answers), "fingerprint": agent.fingerprint()})
    else:
        console.print(f"saved combined agent {agent.id}: {len(agent.observations())} observations, "
                      f"{len(agent.known_answers)} known answers → {path}", highlight=False, markup=False)


@agents_app.command("list")
def list_cmd(bank: Optional[Path] = BANK_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List the agents in the bank (ids are printed whole: folded, never cut)."""
    target = _bank(bank)
    summaries = target.list()
    if as_json:
        _print_json([s.model_dump(mode="json") for s in summaries])
        return
    if not summaries:
        console.print(f"no agents in {target.root}", highlight=False, markup=False)
        return
    table = Table(title=f"agents in {target.root}", title_justify="left")
    table.add_column("id", overflow="fold", no_wrap=False, min_width=12)
    table.add_column("source", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("obs", justify="right", no_wrap=True)
    table.add_column("refl", justify="right", no_wrap=True)
    table.add_column("experts", overflow="fold")
    for s in summaries:
        table.add_row(s.id, s.source, s.name or "", str(s.observations), str(s.reflections), ", ".join(s.experts))
    print_table(console, table, markup=False, highlight=False)  # narrower: wrapped cells (ids folded, never cut) or plain lines


def _describe(agent, memories: int) -> dict:
    """What `agents show` prints, as data (JSON-ready)."""
    from simulacra.agents.router import EXPERTS

    data: dict = {
        "id": agent.id,
        "source": agent.source,
        "name": agent.name,
        "respondent": agent.respondent or agent.id,
        "fingerprint": agent.fingerprint(),
        "demographics": dict(agent.demographics),
    }
    if hasattr(agent, "persona"):
        data["persona"] = agent.persona
    if hasattr(agent, "memories"):
        observations = agent.observations()
        data["observations"] = len(observations)
        data["reflections"] = {e: [n.text for n in agent.reflections(e)] for e in EXPERTS if agent.reflections(e)}
        data["clock"] = agent.clock
        data["top_memories"] = [
            {"id": n.id, "importance": n.importance, "text": n.text}
            for n in sorted(observations, key=lambda m: -m.importance)[:memories]
        ]
    if hasattr(agent, "known_answers"):
        data["known_answers"] = len(agent.known_answers)
        data["items"] = len(agent.questions)
        data["exclude"] = list(agent.exclude)
    return data


@agents_app.command("show")
def show(
    agent_id: str = typer.Argument(..., help="Agent id."),
    bank: Optional[Path] = BANK_OPTION,
    memories: int = typer.Option(5, help="Show this many memories (most important first)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show an agent: persona, memory counts, each expert's reflections."""
    from simulacra.agents.profile import persona_line

    agent = _bank(bank).load(agent_id)
    data = _describe(agent, memories)
    if as_json:
        _print_json(data)
        return
    out = lambda text="", **kw: console.print(text, highlight=False, markup=False, **kw)  # noqa: E731
    out(f"{agent.id} ({agent.source}){' · ' + agent.name if agent.name else ''}", style="bold")
    if data["respondent"] != agent.id:
        out(f"scored as respondent {data['respondent']}")
    out(f"fingerprint {data['fingerprint']}")
    if "persona" in data:
        out(f"persona: {data['persona'] or '(none)'}")
    elif agent.demographics:
        out(persona_line(agent.demographics))
    if "observations" in data:
        out(f"{data['observations']} observations, {sum(map(len, data['reflections'].values()))} reflections, clock {data['clock']}")
        for node in data["top_memories"]:
            out(f"  [{node['importance']:.0f}] {node['text'][:160].replace(chr(10), ' ')}…")
        for expert, notes in data["reflections"].items():
            out(f"{expert} ({len(notes)})", style="bold")
            for note in notes:
                out(f"  - {note}")
    if "known_answers" in data:
        out(f"{data['known_answers']} known answers over {data['items']} items")


@agents_app.command("ask")
def ask(
    agent_id: str = typer.Argument(..., help="Agent id."),
    question: str = typer.Argument(..., help="The question."),
    options: List[str] = typer.Option([], "--options", "-o", help="An answer option (repeat for each); makes it multiple choice."),
    minimum: Optional[float] = typer.Option(None, "--min", help="Lowest number allowed (a number question, with --max)."),
    maximum: Optional[float] = typer.Option(None, "--max", help="Highest number allowed."),
    logprobs: bool = typer.Option(False, "--logprobs", help="Score the options by log-probability instead of generating."),
    debias: str = typer.Option("none", help="With --logprobs: none | permute | calibrate."),
    context_mode: Optional[str] = typer.Option(None, help="Interview agents: full | retrieved | auto (default: the setting)."),
    bank: Optional[Path] = BANK_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask one agent one question (open, multiple choice with --options, or a number with --min/--max)."""
    from simulacra.agents.base import AnswerOptions
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
    if debias not in ("none", "permute", "calibrate"):
        raise SimulacraError(f"--debias {debias!r}: use none, permute or calibrate")
    llm = open_llm()
    answer_options = AnswerOptions(
        scoring="logprobs" if logprobs else "generate", batch_size=1, context_mode=context_mode, debias=debias
    )
    answer = asyncio.run(agent.answer([q], llm=llm, options=answer_options))[0]
    target.save(agent)  # an interview agent's retrieval marks memories retrieved (not part of its fingerprint)
    label = q.option(str(answer.value)).label if q.is_choice and answer.status.value == "ok" else None
    if as_json:
        data = answer.model_dump(mode="json")
        data["label"] = label
        if answer.probabilities:
            data["labels"] = {code: q.option(code).label for code in answer.probabilities}
        _print_json(data)
        if answer.status.value != "ok":
            raise typer.Exit(1)
        return
    out = lambda text, **kw: console.print(text, highlight=False, markup=False, **kw)  # noqa: E731
    if answer.status.value != "ok":
        out(f"the model's answer stayed invalid: {answer.error}", style="red")
        raise typer.Exit(1)
    out(str(label if label is not None else answer.value), style="bold")
    if answer.reasoning:
        out(answer.reasoning, style="dim")
    if answer.probabilities:
        for code, p in sorted(answer.probabilities.items(), key=lambda kv: -kv[1]):
            out(f"  {q.option(code).label}: {p:.2f}")
