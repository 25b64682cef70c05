"""Configuration: environment variables over an optional `simulacra.toml`, over defaults.

With nothing configured, simulacra uses the embedded local model (no API key, no network).
Setting a base URL (or an API key alone, which means OpenAI) switches every call to that endpoint.

simulacra.toml (looked up in $SIMULACRA_CONFIG, ./simulacra.toml, then $SIMULACRA_HOME/simulacra.toml):

    [llm]
    base_url = "http://localhost:11434/v1"   # OpenAI, vLLM, Ollama, llama.cpp server ...
    api_key = "..."                          # or SIMULACRA_API_KEY / OPENAI_API_KEY
    model = "llama3.1"
    temperature = 0.0
    max_concurrency = 4
    price_input_per_1k = 0.0                 # USD per 1k prompt tokens
    price_output_per_1k = 0.0                # USD per 1k completion tokens
    context_size = 8192
    structured_output = "json_schema"        # json_schema | json_object | none
    local_model = "smollm2"                  # smollm2 | qwen2.5-1.5b | /path/to/model.gguf

    [embeddings]
    base_url = ""                            # empty: the local MiniLM model
    model = "all-MiniLM-L6-v2"

    [memory]
    chroma_url = ""                          # empty: embedded persistent chromadb in the workspace
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from simulacra.errors import ConfigError

ENV_PREFIX = "SIMULACRA_"


class LLMSettings(BaseModel):
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    max_concurrency: int = Field(default=4, ge=1)
    price_input_per_1k: float = Field(default=0.0, ge=0)
    price_output_per_1k: float = Field(default=0.0, ge=0)
    context_size: int | None = None
    structured_output: Literal["json_schema", "json_object", "none"] = "json_schema"
    local_model: str = "smollm2"
    local_threads: int = 2
    request_timeout: float = 600.0
    max_retries: int = 3

    @property
    def uses_endpoint(self) -> bool:
        return bool(self.base_url or self.api_key)


class EmbeddingSettings(BaseModel):
    base_url: str | None = None
    api_key: str | None = None
    model: str = "all-MiniLM-L6-v2"


class MemorySettings(BaseModel):
    chroma_url: str | None = None
    context_mode: Literal["auto", "full", "retrieved"] = "auto"
    token_budget: int = 1500


class Settings(BaseModel):
    llm: LLMSettings = LLMSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    memory: MemorySettings = MemorySettings()
    config_file: str | None = None


# environment variable -> (section, key)
_ENV_MAP: dict[str, tuple[str, str]] = {
    "BASE_URL": ("llm", "base_url"),
    "API_KEY": ("llm", "api_key"),
    "MODEL": ("llm", "model"),
    "TEMPERATURE": ("llm", "temperature"),
    "MAX_TOKENS": ("llm", "max_tokens"),
    "MAX_CONCURRENCY": ("llm", "max_concurrency"),
    "PRICE_INPUT_PER_1K": ("llm", "price_input_per_1k"),
    "PRICE_OUTPUT_PER_1K": ("llm", "price_output_per_1k"),
    "CONTEXT_SIZE": ("llm", "context_size"),
    "STRUCTURED_OUTPUT": ("llm", "structured_output"),
    "LOCAL_MODEL": ("llm", "local_model"),
    "LOCAL_THREADS": ("llm", "local_threads"),
    "REQUEST_TIMEOUT": ("llm", "request_timeout"),
    "MAX_RETRIES": ("llm", "max_retries"),
    "EMBEDDINGS_BASE_URL": ("embeddings", "base_url"),
    "EMBEDDINGS_API_KEY": ("embeddings", "api_key"),
    "EMBEDDING_MODEL": ("embeddings", "model"),
    "CHROMA_URL": ("memory", "chroma_url"),
    "CONTEXT_MODE": ("memory", "context_mode"),
    "TOKEN_BUDGET": ("memory", "token_budget"),
}


def _find_config_file() -> Path | None:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"SIMULACRA_CONFIG points to {path}, which is not a file")
        return path
    for candidate in (Path("simulacra.toml"), Path(os.environ.get("SIMULACRA_HOME", "simulacra-data")) / "simulacra.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings: defaults < simulacra.toml < environment < explicit overrides ("llm.model"="...")."""
    data: dict[str, dict[str, Any]] = {"llm": {}, "embeddings": {}, "memory": {}}
    path = config_file or _find_config_file()
    if path is not None:
        try:
            parsed = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        for section, values in parsed.items():
            if section not in data or not isinstance(values, dict):
                raise ConfigError(f"{path}: unknown section [{section}] (expected [llm], [embeddings], [memory])")
            data[section].update(values)
    for suffix, (section, key) in _ENV_MAP.items():
        value = os.environ.get(ENV_PREFIX + suffix)
        if value not in (None, ""):
            data[section][key] = value
    # A bare OPENAI_API_KEY does not leave the offline default (that must be asked for); it is only
    # used as the key of an endpoint that was configured without one.
    if data["llm"].get("base_url") and not data["llm"].get("api_key"):
        data["llm"]["api_key"] = os.environ.get("OPENAI_API_KEY") or "not-needed"
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        data.setdefault(section, {})[key] = value
    try:
        settings = Settings(**data, config_file=str(path) if path else None)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        source = f"{path}" if path else "environment"
        raise ConfigError(f"{source}: setting '{field}' is invalid: {first['msg']}") from exc
    return settings
