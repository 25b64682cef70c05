"""run_environment: what a run's manifest records about the libraries, the model file and the endpoint; and the
SHA-256 check of model files."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from types import SimpleNamespace

import pytest

import simulacra
from simulacra.config import LLMSettings, Settings
from simulacra.environment import run_environment
from simulacra.errors import ConfigError
from simulacra.llm.models import smollm2_path
from simulacra.llm.openai_backend import OpenAIBackend
from simulacra.model_files import KNOWN_SHA256, file_sha256, verify_model_file


def test_embedded_model_file_and_versions():
    env = run_environment(Settings())
    json.dumps(env)  # plain data, ready for a manifest
    assert env["simulacra"] == simulacra.__version__
    assert env["libraries"]["numpy"] == metadata.version("numpy")
    assert env["libraries"]["llama-cpp-python"] == metadata.version("llama-cpp-python")
    assert "no-such-lib" not in env["libraries"]
    model = env["model"]
    path = smollm2_path()
    assert model["kind"] == "embedded" and model["file"] == path.name
    assert model["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest() == KNOWN_SHA256["smollm2"][1]
    assert model["verified"] is True
    embedder = env["embedder"]
    assert embedder["kind"] == "local" and embedder["backend"] == "numpy"
    assert embedder["files"]["model.safetensors"] == KNOWN_SHA256["minilm:model.safetensors"][1]


def test_endpoint_model_and_fingerprint():
    settings = LLMSettings(base_url="http://127.0.0.1:9/v1", model="gpt-test")
    backend = OpenAIBackend(settings)
    env = run_environment(settings)
    assert env["model"]["kind"] == "endpoint" and env["model"]["model"] == "gpt-test"
    assert env["model"]["system_fingerprint"] is None  # nothing answered yet
    backend.system_fingerprint = "fp_b"
    backend.system_fingerprints = {"fp_a", "fp_b"}
    env = run_environment(settings, SimpleNamespace(backend=backend))  # an LLM wrapping the backend
    assert env["model"]["system_fingerprint"] == "fp_b" and env["model"]["system_fingerprints"] == ["fp_a", "fp_b"]
    assert "sha256" not in env["model"]


async def test_the_backend_keeps_the_fingerprint_of_replies(monkeypatch):
    backend = OpenAIBackend(LLMSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    replies = iter(["fp_1", None, "fp_2"])

    async def create(**_):
        return SimpleNamespace(system_fingerprint=next(replies))

    monkeypatch.setattr(backend._client.chat.completions, "create", create)
    for _ in range(3):
        await backend._call(model="m", messages=[])
    assert backend.system_fingerprint == "fp_2" and backend.system_fingerprints == {"fp_1", "fp_2"}


def test_a_model_file_with_another_digest_is_refused(tmp_path):
    fake = tmp_path / KNOWN_SHA256["smollm2"][0]
    fake.write_bytes(b"GGUF not really a model")
    with pytest.raises(ConfigError) as caught:
        verify_model_file(fake, "smollm2")
    message = str(caught.value)
    assert str(fake) in message and hashlib.sha256(fake.read_bytes()).hexdigest() in message and "\n" not in message
    assert file_sha256(fake) == hashlib.sha256(b"GGUF not really a model").hexdigest()
    fake.write_bytes(b"changed, and longer than before")  # size changes: hashed again, not served from memory
    assert file_sha256(fake) == hashlib.sha256(b"changed, and longer than before").hexdigest()
