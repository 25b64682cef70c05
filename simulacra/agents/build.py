"""Building agents: from our interview transcripts, from genagents agent folders, from GSS demographic rows.

A transcript becomes one observation per interview exchange (the interviewer's utterance and the
answer), each scored for importance by the model (several per call) and embedded; then four experts
write reflections, stored as reflection memories with their expert tag and evidence pointers.

genagents folders (`<id>/meta.json`, `scratch.json`, `memory_stream/nodes.json`, optionally
`memory_stream/embeddings.json`) keep their memories, times and importance; their embeddings are reused
when they match our embedder's dimension (genagents used OpenAI's, ours is MiniLM by default).
A folder with a scratchpad but no memories (the GSS demographic agents) becomes a `DemographicAgent`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Callable, Sequence

from simulacra.agents.bank import AgentBank, check_agent_id
from simulacra.agents.base import Agent
from simulacra.agents.baselines import DemographicAgent
from simulacra.agents.importance import score_importance
from simulacra.agents.interview import InterviewAgent
from simulacra.agents.memory import MemoryNode
from simulacra.agents.profile import clean_demographics, display_name, persona_line
from simulacra.agents.reflection import EXPERT_FOCUS, expert_observations
from simulacra.agents.router import EXPERTS
from simulacra.config import load_settings
from simulacra.errors import DataFileError, SimulacraError
from simulacra.llm import LLM, provenance
from simulacra.transcript import Transcript, check_usable, read_transcript

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _noop(_message: str) -> None:
    return None


def _agent_id(text: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._@-]+", "-", text).strip("-._") or "agent"
    return check_agent_id(clean[:200])


def observations_from_transcript(transcript: Transcript, speaker: str) -> list[tuple[str, str | None]]:
    """(memory text, question id) per exchange, written as "Interviewer: ...\\n\\n<speaker>: ..."."""
    out = []
    for asked, answered, question_id in transcript.exchanges():
        if not answered.strip():
            continue
        text = f"Interviewer: {asked.strip()}\n\n{speaker}: {answered.strip()}" if asked.strip() else f"{speaker}: {answered.strip()}"
        out.append((text, question_id))
    return out


async def add_expert_reflections(
    agent: InterviewAgent,
    llm: LLM,
    *,
    experts: Sequence[str] = EXPERTS,
    limit: int | None = None,
    score: bool = True,
    progress: Progress = _noop,
) -> int:
    """Ask each expert for observations (once per agent: experts that already wrote are skipped)."""
    settings = load_settings()
    mode = agent.resolve_context_mode(llm, settings.memory.context_mode)
    count = lambda text: llm.count_tokens(text)  # noqa: E731
    todo = [e for e in experts if not agent.reflections(e)]
    if not todo:
        return 0
    # Every expert reads the same text (the transcript, or the memories retrieved for all their fields
    # together), so on a local model the four calls share one warm prompt prefix.
    if mode == "full":
        evidence = agent.observations()
    else:
        evidence = agent.retrieve([EXPERT_FOCUS[e] for e in todo], settings.memory.token_budget, count, update=False)
    context = "\n\n".join(m.text.strip() for m in evidence)
    new: list[MemoryNode] = []
    with provenance.about(agent.scored_as):  # the model calls read this person's words: tag the cache entries
        for expert in todo:
            progress(f"{expert} reflects")
            for text in await expert_observations(llm, expert, context, limit=limit):
                new.append(agent.add_memory(text, "reflection", evidence=[m.id for m in evidence], expert=expert))
        if new and score:
            progress(f"scoring importance of {len(new)} reflections")
            for node, importance in zip(new, await score_importance(llm, [n.text for n in new], batch_size=16)):
                node.importance = importance
    return len(new)


async def build_agent_from_transcript(
    source: Path | str | Transcript,
    llm: LLM,
    *,
    bank: AgentBank | None = None,
    reflections: bool = True,
    reflection_limit: int | None = None,
    agent_id: str | None = None,
    score: bool = True,
    progress: Progress = _noop,
    store: Any = None,
    force: bool = False,
) -> InterviewAgent:
    """An interview agent from a transcript (JSONL path or `Transcript`), saved in `bank` when given. Without a
    bank, `store` (a MemoryStore) holds the memory vectors while building (a Ray builder: in-process, or the
    chromadb server); the caller saves the agent. A transcript marked unusable is refused unless `force`."""
    transcript = source if isinstance(source, Transcript) else read_transcript(Path(source))
    if not force:

        check_usable(transcript)  # e.g. a closed-loop interview that stopped on non-answers (interviewer/agent_loop.py)
    meta = transcript.meta or {}
    demographics = clean_demographics(meta.get("demographics") or {})
    name = meta.get("name") or display_name(meta.get("demographics") or {}) or None
    speaker = (str(name).split()[0] if name else "Me")
    agent = InterviewAgent(
        id=_agent_id(agent_id or transcript.respondent),
        respondent=transcript.respondent if agent_id and agent_id != transcript.respondent else None,
        name=name,
        demographics=demographics,
        persona=str(meta.get("persona") or persona_line(demographics) or (f"I am {name}." if name else "")),
        speaker=speaker,
        origin={"kind": "transcript", "respondent": transcript.respondent, "model": llm.model},
    )
    exchanges = observations_from_transcript(transcript, speaker)
    if not exchanges:
        raise SimulacraError(f"transcript {transcript.respondent!r} has no answered exchanges to build an agent from")
    if score:
        progress(f"scoring importance of {len(exchanges)} exchanges")
        with provenance.about(transcript.respondent, agent.scored_as):  # their words: tag the cache entries
            importances = await score_importance(llm, [text for text, _ in exchanges])
    else:
        importances = [50.0] * len(exchanges)
    for (text, question_id), importance in zip(exchanges, importances):
        agent.add_memory(text, "observation", importance=importance, question_id=question_id)
    if bank is not None:
        agent.attach(bank.store)
    elif store is not None:
        agent.attach(store)
    if reflections:
        await add_expert_reflections(agent, llm, limit=reflection_limit, score=score, progress=progress)
    if bank is not None:
        bank.save(agent)
    return agent


# -- genagents ------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataFileError(path, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataFileError(path, f"not UTF-8 text (byte {exc.start + 1} of the file); save it as UTF-8", line=line) from None
    except ValueError:  # an integer longer than Python reads from text (4,300 digits)
        raise DataFileError(path, "a number is too long (more than 4,300 digits)") from None


def genagents_folders(folder: Path) -> list[Path]:
    """An agent folder (has meta.json or scratch.json) or a population (a folder of such folders)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataFileError(folder, "not a folder")
    if (folder / "meta.json").is_file() or (folder / "scratch.json").is_file():
        return [folder]
    found = sorted(p for p in folder.iterdir() if p.is_dir() and ((p / "meta.json").is_file() or (p / "scratch.json").is_file()))
    if not found:
        raise DataFileError(folder, "no genagents agent here (expected meta.json / scratch.json, or sub-folders with them)")
    return found


def _genagents_nodes(path: Path) -> list[MemoryNode]:
    raw = _read_json(path)
    if not isinstance(raw, list):
        raise DataFileError(path, "expected a list of memory nodes")
    nodes = []
    seen: set[int] = set()
    for position, item in enumerate(raw):
        if not isinstance(item, dict) or "content" not in item:
            raise DataFileError(path, "each node needs a 'content'", field=f"[{position}]")
        text = str(item["content"]).strip()
        if not text or text.rstrip(":") in {"Interviewer", ""} or re.fullmatch(r"Interviewer:\s*", text):
            continue  # genagents' first node is an empty "Interviewer:" line
        try:
            node_id = int(item.get("node_id", position))
            created = int(item.get("created", position + 1))
            last = int(item.get("last_retrieved", created))
            importance = float(item.get("importance", 50) or 0)
        except (TypeError, ValueError) as exc:
            raise DataFileError(path, f"bad number ({exc})", field=f"[{position}]") from None
        kind = "reflection" if item.get("node_type") == "reflection" else "observation"
        pointer = item.get("pointer_id")
        try:
            evidence = [int(p) for p in (pointer if isinstance(pointer, list) else [pointer] if pointer is not None else [])]
        except (TypeError, ValueError):
            raise DataFileError(path, f"pointer_id must be a node id or a list of node ids, not {pointer!r}",
                                field=f"[{position}].pointer_id") from None
        if node_id in seen:  # memory ids are unique (the vector store refuses repeats)
            raise DataFileError(path, f"node_id {node_id} appears twice", field=f"[{position}].node_id")
        seen.add(node_id)
        nodes.append(
            MemoryNode(id=node_id, kind=kind, text=text, created=created, last_retrieved=last,
                       importance=min(100.0, max(0.0, importance)), evidence=evidence)
        )
    return nodes


def _genagents_embeddings(path: Path, nodes: Sequence[MemoryNode], dimension: int) -> dict[int, list[float]]:
    if not path.is_file():
        return {}
    raw = _read_json(path)
    if not isinstance(raw, dict):
        return {}
    out = {}
    for node in nodes:
        vector = raw.get(node.text) or raw.get(node.text + "\n\n")
        if isinstance(vector, list) and len(vector) == dimension and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in vector):
            out[node.id] = vector  # anything else (text, nan) is not a vector: the memory is re-embedded
    if raw and not out:
        log.info("%s: embeddings of another model (dimension differs); memories are re-embedded", path)
    return out


async def import_genagents(
    folder: Path | str,
    llm: LLM | None,
    bank: AgentBank | None = None,
    *,
    reflections: bool = True,
    reflection_limit: int | None = None,
    progress: Progress = _noop,
    replace: bool = False,
) -> list[Agent]:
    """Import a genagents agent folder or population into `bank` (default: the workspace's).

    An agent id already in the bank is refused (nothing is imported) unless `replace`, which first deletes
    the old agent with its memories and reflections."""
    bank = bank or AgentBank()
    agents: list[Agent] = []
    folders = genagents_folders(Path(folder))
    existing = []
    for agent_folder in folders:
        meta = _read_json(agent_folder / "meta.json") if (agent_folder / "meta.json").is_file() else {}
        agent_id = _agent_id(str((meta.get("id") if isinstance(meta, dict) else None) or agent_folder.name))
        if bank.exists(agent_id):
            existing.append(agent_id)
    if existing and not replace:
        shown = ", ".join(existing[:5]) + (f" and {len(existing) - 5} more" if len(existing) > 5 else "")
        raise SimulacraError(
            f"agent {shown} already exist{'s' if len(existing) == 1 else ''} in {bank.root}: importing would replace "
            "its memories and reflections; pass --replace to do that, or import into another bank (--agents DIR)"
        )
    for agent_id in existing:
        bank.delete(agent_id)
    for agent_folder in folders:
        meta = _read_json(agent_folder / "meta.json") if (agent_folder / "meta.json").is_file() else {}
        scratch = _read_json(agent_folder / "scratch.json") if (agent_folder / "scratch.json").is_file() else {}
        if not isinstance(meta, dict) or not isinstance(scratch, dict):
            raise DataFileError(agent_folder, "meta.json and scratch.json must hold JSON objects")
        agent_id = _agent_id(str(meta.get("id") or agent_folder.name))
        demographics = clean_demographics(scratch)
        name = display_name(scratch)
        nodes_path = agent_folder / "memory_stream" / "nodes.json"
        nodes = _genagents_nodes(nodes_path) if nodes_path.is_file() else []
        progress(f"importing {agent_id} ({len(nodes)} memories)")
        if not nodes:
            agent: Agent = DemographicAgent(id=agent_id, name=name, demographics=demographics)
            bank.save(agent)
            agents.append(agent)
            continue
        interview = InterviewAgent(
            id=agent_id,
            name=name,
            demographics=demographics,
            persona=persona_line(demographics),
            speaker=(name.split()[0] if name else "Me"),
            memories=nodes,
            clock=max(max(n.created, n.last_retrieved) for n in nodes),
            origin={"kind": "genagents", "folder": str(agent_folder)},
        )
        interview.attach(bank.store)
        dimension = len(bank.store.embedder.embed(["dimension probe"])[0])
        vectors = _genagents_embeddings(agent_folder / "memory_stream" / "embeddings.json", nodes, dimension)
        bank.store.index(interview.id, nodes, vectors)
        if reflections and llm is not None:
            await add_expert_reflections(interview, llm, limit=reflection_limit, progress=progress)
            interview.origin["model"] = llm.model
        bank.save(interview)
        agents.append(interview)
    return agents


def import_demographic_csv(
    path: Path | str,
    bank: AgentBank | None = None,
    *,
    limit: int | None = None,
    ids: Sequence[str] = (),
) -> list[DemographicAgent]:
    """Demographic agents from a CSV with an `agent_id` column (e.g. gss_demographic_agents_scratch.csv)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no such file")
    bank = bank or AgentBank()
    wanted = set(ids)
    agents: list[DemographicAgent] = []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "agent_id" not in reader.fieldnames:
            raise DataFileError(path, "needs an 'agent_id' column", line=1, field="agent_id")
        for line, row in enumerate(reader, start=2):
            agent_id = (row.get("agent_id") or "").strip()
            if not agent_id:
                raise DataFileError(path, "empty agent_id", line=line, field="agent_id")
            if wanted and agent_id not in wanted:
                continue
            fields = {k: v for k, v in row.items() if k != "agent_id" and k is not None}
            agent = DemographicAgent(id=_agent_id(agent_id), name=display_name(fields), demographics=clean_demographics(fields))
            bank.save(agent)
            agents.append(agent)
            if limit is not None and len(agents) >= limit:
                break
    return agents
