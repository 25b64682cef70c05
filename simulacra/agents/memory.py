"""The memory stream: observations (one per interview exchange) and reflections, and how they are retrieved.

Each memory has text, a created time and a last-retrieved time (both on the agent's own clock of integer
steps), an importance (0-100, scored once by the model), evidence pointers (the memories a reflection
was drawn from) and, for expert reflections, the expert's tag.

Retrieval scores every memory by recency (`decay ** (now - last_retrieved)`), importance and relevance
(cosine similarity to the query), min-max normalizes each component over the candidates, sums them with
configurable weights, takes the best memories until the token budget is spent, marks them retrieved (so
recency follows use, as in the paper's architecture), and returns them in time order. The genagents code
ranked recency by list position and returned memories in score order; here recency is a real
retrieval time and the context reads chronologically.

Vectors live in chromadb (`MemoryStore`): an embedded persistent store in the agent bank by default,
a chromadb server when `[memory] chroma_url` is set.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Sequence
from urllib.parse import urlparse

import numpy as np
from pydantic import BaseModel, Field

from simulacra.embeddings import Embedder, chroma_embedding_function, open_embedder
from simulacra.errors import ConfigError
from simulacra.workspace import private_dir

log = logging.getLogger(__name__)

MemoryKind = Literal["observation", "reflection"]


class MemoryNode(BaseModel):
    id: int
    kind: MemoryKind = "observation"
    text: str
    created: int
    last_retrieved: int
    importance: float = Field(default=50.0, ge=0, le=100)
    evidence: list[int] = Field(default_factory=list)
    expert: str | None = None
    question_id: str | None = None  # the interview question an observation answers


class RetrievalWeights(BaseModel):
    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0
    decay: float = Field(default=0.99, gt=0, le=1)


def min_max(values: dict[int, float]) -> dict[int, float]:
    """Scale to 0-1; a component that does not vary gives every memory 0.5 (it cannot rank them)."""
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high - low < 1e-12:
        return {key: 0.5 for key in values}
    return {key: (value - low) / (high - low) for key, value in values.items()}


def score_memories(
    nodes: Sequence[MemoryNode],
    relevance: dict[int, float],
    now: int,
    weights: RetrievalWeights = RetrievalWeights(),
) -> dict[int, float]:
    """Weighted sum of min-max normalized recency, importance and relevance, per memory id."""
    recency = min_max({n.id: weights.decay ** max(0, now - n.last_retrieved) for n in nodes})
    importance = min_max({n.id: n.importance for n in nodes})
    related = min_max({n.id: relevance.get(n.id, 0.0) for n in nodes})
    return {
        n.id: weights.recency * recency[n.id] + weights.importance * importance[n.id] + weights.relevance * related[n.id]
        for n in nodes
    }


def select_within_budget(
    nodes: Sequence[MemoryNode],
    scores: dict[int, float],
    budget: int,
    count_tokens: Callable[[str], int],
    limit: int | None = None,
) -> list[MemoryNode]:
    """Best-scored memories that fit `budget` tokens together (skipping ones too long to fit), in time order."""
    chosen: list[MemoryNode] = []
    spent = 0
    for node in sorted(nodes, key=lambda n: (-scores[n.id], n.created, n.id)):
        if limit is not None and len(chosen) >= limit:
            break
        cost = count_tokens(node.text) + 2
        if spent + cost > budget:
            continue
        chosen.append(node)
        spent += cost
    return sorted(chosen, key=lambda n: (n.created, n.id))


def _collection_name(agent_id: str) -> str:
    """chromadb names: 3-512 characters of [a-zA-Z0-9._-], starting and ending alphanumeric."""
    clean = re.sub(r"[^a-zA-Z0-9._-]", "-", agent_id).strip("._-")
    if clean != agent_id or len(clean) > 400:
        clean = f"{clean[:400]}-{hashlib.sha256(agent_id.encode()).hexdigest()[:10]}"
    return f"agent-{clean}".rstrip("._-") or "agent-x"


class MemoryStore:
    """Memory vectors in chromadb, one collection per agent, ids = memory ids.

    Our own embedding function is passed on both create and get (chromadb's default would try to download
    a model). Only through chromadb's public API: relevance is its `query` (cosine space) asked for every
    memory of the agent, deletion is `delete_collection`. The memory texts are not stored in chromadb
    (they live in the agent folder): its tables hold ids, vectors and non-personal metadata only.
    """

    def __init__(self, client: Any, embedder: Embedder, where: str):
        self.client = client
        self.embedder = embedder
        self.where = where
        self._function = chroma_embedding_function(embedder)
        self._lock = threading.Lock()

    # -- opening -----------------------------------------------------------------------------------------
    @staticmethod
    def _chroma_settings():
        from chromadb.config import Settings as ChromaSettings  # chromadb takes ~1 s to import: only when a store opens

        return ChromaSettings(anonymized_telemetry=False, allow_reset=False)

    @classmethod
    def persistent(cls, path: Path, embedder: Embedder | None = None) -> "MemoryStore":
        import chromadb  # (see _chroma_settings)

        private_dir(Path(path))
        client = chromadb.PersistentClient(path=str(path), settings=cls._chroma_settings())
        return cls(client, embedder or open_embedder(), str(path))

    @classmethod
    def server(cls, url: str, embedder: Embedder | None = None) -> "MemoryStore":
        import chromadb  # (see _chroma_settings)

        parsed = urlparse(url if "://" in url else f"http://{url}")
        if not parsed.hostname:
            raise ConfigError(f"[memory] chroma_url {url!r} is not a URL (e.g. http://localhost:8000)")
        ssl = parsed.scheme == "https"
        client = chromadb.HttpClient(
            host=parsed.hostname, port=parsed.port or (443 if ssl else 8000), ssl=ssl, settings=cls._chroma_settings()
        )
        return cls(client, embedder or open_embedder(), url)

    @classmethod
    def ephemeral(cls, embedder: Embedder | None = None) -> "MemoryStore":
        import chromadb  # (see _chroma_settings)

        client = chromadb.EphemeralClient(settings=cls._chroma_settings())
        return cls(client, embedder or open_embedder(), "memory")

    @classmethod
    def for_bank(cls, bank_root: Path, chroma_url: str | None = None, embedder: Embedder | None = None) -> "MemoryStore":
        if chroma_url:
            return cls.server(chroma_url, embedder)
        return cls.persistent(Path(bank_root) / "chroma", embedder)

    # -- collections -------------------------------------------------------------------------------------
    def _collection(self, agent_id: str):
        return self.client.get_or_create_collection(
            name=_collection_name(agent_id),
            embedding_function=self._function,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"agent_id": agent_id, "embedder": self.embedder.name},
        )

    def index(self, agent_id: str, nodes: Iterable[MemoryNode], vectors: dict[int, list[float]] | None = None) -> int:
        """Embed and store the memories not stored yet (a bank copied without its store re-indexes itself)."""
        nodes = list(nodes)
        collection = self._collection(agent_id)
        present = set(collection.get(ids=[str(n.id) for n in nodes], include=[])["ids"]) if nodes else set()
        missing = [n for n in nodes if str(n.id) not in present]
        if missing:
            given = vectors or {}
            embeddings = [given.get(n.id) for n in missing]
            todo = [i for i, e in enumerate(embeddings) if e is None]
            if todo:
                fresh = self.embedder.embed([missing[i].text for i in todo])
                for i, vector in zip(todo, fresh):
                    embeddings[i] = vector
            collection.upsert(
                ids=[str(n.id) for n in missing],
                embeddings=[np.asarray(e, dtype=np.float32) for e in embeddings],
                metadatas=[{"kind": n.kind, "expert": n.expert or "", "created": n.created} for n in missing],
            )
        return len(missing)

    def relevance(self, agent_id: str, query: str) -> dict[int, float]:
        """Cosine similarity of `query` to each stored memory of the agent: chromadb's query over the agent's
        collection (cosine space: similarity = 1 - distance), asked for all of its memories, so the ranking
        (recency, importance, relevance, each normalized over every memory) sees every candidate."""
        collection = self._collection(agent_id)
        total = collection.count()
        if not total:
            return {}
        vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        got = collection.query(query_embeddings=[vector], n_results=total, include=["distances"])
        ids, distances = got["ids"][0], (got.get("distances") or [[]])[0]
        return {int(memory_id): 1.0 - float(distance) for memory_id, distance in zip(ids, distances)}

    def count(self, agent_id: str) -> int:
        return self._collection(agent_id).count()

    def delete(self, agent_id: str) -> None:
        try:
            self.client.delete_collection(_collection_name(agent_id))
        except Exception:  # chromadb raises its own NotFound type; nothing to delete is fine
            pass
