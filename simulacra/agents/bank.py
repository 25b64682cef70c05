"""The agent bank: a folder of agents, `<root>/<agent-id>/agent.json`, plus their memory vectors in
chromadb (`<root>/chroma/`, or a chromadb server when `[memory] chroma_url` is set).

The default bank is the workspace's `agents/` folder; any folder can be a bank (`--agents DIR`), so a
population can be built, copied and shared as a directory. A bank copied without its `chroma/` folder
still works: interview agents re-embed their memories on first use.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulacra.agents.base import Agent
from simulacra.agents.baselines import CompositeAgent, DemographicAgent, PersonaAgent
from simulacra.agents.interview import CombinedAgent, InterviewAgent
from simulacra.agents.memory import MemoryStore
from simulacra.config import Settings, load_settings
from simulacra.errors import DataFileError, SimulacraError
from simulacra.workspace import Workspace, atomic_write_json, private_dir
from surveys.names import check_name

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
AGENT_FILE = "agent.json"
AGENT_CLASSES: dict[str, type[Agent]] = {
    "interview": InterviewAgent,
    "demographic": DemographicAgent,
    "persona": PersonaAgent,
    "composite": CompositeAgent,
    "combined": CombinedAgent,
}


class UnknownAgentError(SimulacraError):
    """No agent with that id in the bank."""


class AgentSummary(BaseModel):
    id: str
    source: str
    name: str | None = None
    respondent: str | None = None  # whose human answers score it (the id when not set)
    fingerprint: str = ""
    observations: int = 0
    reflections: int = 0
    experts: list[str] = []
    path: str


def check_agent_id(agent_id: str, where: str | None = None) -> str:
    """Agent ids name folders: the one name rule of `surveys.names` (no paths)."""
    return check_name(agent_id, kind="agent", where=where)


class AgentBank:
    def __init__(self, root: Path | None = None, settings: Settings | None = None):
        self.root = Path(root) if root is not None else Workspace.default().agents
        self.settings = settings
        self._store: MemoryStore | None = None

    @property
    def store(self) -> MemoryStore:
        """The bank's memory store (opened on first use: chromadb and the embedder load lazily)."""
        if self._store is None:
            settings = self.settings or load_settings()
            self._store = MemoryStore.for_bank(private_dir(self.root), settings.memory.chroma_url)
        return self._store

    def path(self, agent_id: str) -> Path:
        return self.root / check_agent_id(agent_id) / AGENT_FILE

    def exists(self, agent_id: str) -> bool:
        return self.path(agent_id).is_file()

    def save(self, agent: Agent) -> Path:
        """Write agent.json atomically (0600) and make sure an interview agent's memories are embedded."""
        path = self.path(agent.id)
        private_dir(path.parent)
        if isinstance(agent, InterviewAgent):
            if agent._store is None or agent._store is not self.store:
                agent.attach(self.store)
            agent.ensure_indexed()
        atomic_write_json(path, {"format": FORMAT_VERSION, "agent": agent.model_dump(mode="json")})
        return path

    def load(self, agent_id: str) -> Agent:
        path = self.path(agent_id)
        if not path.is_file():
            raise UnknownAgentError(f"no agent {agent_id!r} in the bank {self.root} (see `simulacra agents list`)")
        agent = self._read(path)
        if isinstance(agent, InterviewAgent):
            agent.attach(self.store)
        return agent

    @staticmethod
    def _read(path: Path) -> Agent:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataFileError(path, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
        data: Any = record.get("agent") if isinstance(record, dict) else None
        if not isinstance(data, dict):
            raise DataFileError(path, "expected an object with an 'agent' entry", field="agent")
        source = data.get("source")
        cls = AGENT_CLASSES.get(source)  # type: ignore[arg-type]
        if cls is None:
            raise DataFileError(path, f"unknown agent source {source!r} (one of {', '.join(AGENT_CLASSES)})", field="agent.source")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise DataFileError(path, first["msg"], field="agent." + ".".join(map(str, first["loc"]))) from None

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{AGENT_FILE}"))

    def list(self) -> list[AgentSummary]:
        summaries = []
        for agent_id in self.ids():
            path = self.path(agent_id)
            try:
                agent = self._read(path)
            except DataFileError as exc:
                log.warning("skipping %s", exc)
                continue
            summary = AgentSummary(
                id=agent.id, source=agent.source, name=agent.name, respondent=agent.respondent or agent.id,
                fingerprint=agent.fingerprint(), path=str(path.parent),
            )
            if isinstance(agent, InterviewAgent):
                summary.observations = len(agent.observations())
                summary.reflections = len(agent.reflections())
                summary.experts = sorted({m.expert for m in agent.reflections() if m.expert})
            summaries.append(summary)
        return summaries

    def forget_vectors(self, agent_id: str) -> None:
        """Delete an agent's memory vectors (its chromadb collection, through the client API, so a chromadb
        server forgets them too) and keep its agent.json. Replacing an agent starts from an empty collection:
        no vector of the old memories stays beside the new ones (and none is mistaken for a new memory of
        the same number). An agent kept after all re-embeds its memories on first use."""
        self.store.delete(check_agent_id(agent_id))

    def delete(self, agent_id: str) -> None:
        folder = self.path(agent_id).parent
        if folder.is_dir():
            shutil.rmtree(folder)
        if self._store is not None or (self.root / "chroma").is_dir():
            self.store.delete(agent_id)
