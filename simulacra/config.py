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
    structured_output = "auto"               # auto | json_schema | json_object_schema | json_object | none
    local_model = "smollm2"                  # smollm2 | qwen2.5-1.5b | /path/to/model.gguf

    [roles.interviewer]                      # optional: the interviewer's own model (same keys as [llm])
    local_model = "qwen2.5-1.5b"             # keys not set here come from [llm]; base_url = "" means embedded

    [embeddings]
    base_url = ""                            # empty: the local MiniLM model
    model = "all-MiniLM-L6-v2"

    [memory]
    chroma_url = ""                          # empty: embedded persistent chromadb in the workspace

Roles: `load_settings().llm` is the agents' model; `load_settings().for_role("interviewer")` is the
interviewer's, from [roles.interviewer] and SIMULACRA_INTERVIEWER_* (e.g. SIMULACRA_INTERVIEWER_MODEL) over
[llm]. A role that names its own base_url does not inherit [llm]'s api_key (a key is never sent to a server
it was not configured for).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from simulacra.errors import ConfigError

ENV_PREFIX = "SIMULACRA_"


class LLMSettings(BaseModel):
    base_url: str | None = None
    # An inference fleet (simulacra.llm.fleet): several OpenAI-compatible replicas, "URL" or "URL#limit";
    # SIMULACRA_BASE_URLS=url,url. Calls are routed by the agent's prefix key (prefix affinity).
    base_urls: list[str] = Field(default_factory=list)
    api_key: str | None = None
    model: str | None = None
    temperature: float = 0.0
    max_tokens: int = 512
    max_concurrency: int = Field(default=4, ge=1)
    price_input_per_1k: float = Field(default=0.0, ge=0)
    price_output_per_1k: float = Field(default=0.0, ge=0)
    context_size: int | None = None
    # How structured output is asked for on an endpoint. "auto" negotiates: json_schema response_format, then
    # llama-cpp-python's json_object with a schema, then plain json_object, then prompt-only (the schema is
    # described in the prompt); the first the server accepts is remembered per endpoint and model. The
    # other values force one mode (a server that rejects it gives a RequestRejectedError). Replies are
    # validated in every mode. The embedded model always uses a grammar built from the schema.
    structured_output: Literal["auto", "json_schema", "json_object_schema", "json_object", "none"] = "auto"
    local_model: str = "smollm2"
    local_threads: int = 2
    request_timeout: float = 600.0
    max_retries: int = 3

    @field_validator("base_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def uses_endpoint(self) -> bool:
        return bool(self.base_url or self.api_key or self.base_urls)

    @property
    def uses_fleet(self) -> bool:
        return bool(self.base_urls)

    def pinned(self) -> dict[str, Any]:
        """What a run manifest pins about this model: which model, how it samples and asks for structure.

        No secrets (the api_key is left out). Seed behaviour: first passes use the configured temperature
        (0: greedy, deterministic on llama.cpp, nearly so on most servers) with no seed; sample k > 0 at a
        temperature > 0 uses seed 1000*k; a retry round r > 0 samples at temperature 0.7 (when the configured
        one is 0) with seed r + 1000*k.
        """
        return {
            "kind": "endpoint" if self.uses_endpoint else "embedded",
            "base_url": (self.base_url or (",".join(self.base_urls) if self.base_urls else "https://api.openai.com/v1"))
            if self.uses_endpoint else None,
            "model": (self.model or "gpt-4o-mini") if self.uses_endpoint else self.local_model,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "structured_output": self.structured_output if self.uses_endpoint else "grammar",
            "seed": "none on first passes (sample k>0: 1000*k); retry round r: seed r+1000*k, temperature 0.7 if 0",
        }


class EmbeddingSettings(BaseModel):
    base_url: str | None = None
    api_key: str | None = None
    model: str = "all-MiniLM-L6-v2"


class MemorySettings(BaseModel):
    chroma_url: str | None = None
    context_mode: Literal["auto", "full", "retrieved"] = "auto"
    token_budget: int = 1500


ROLES = ("agents", "interviewer")


class Settings(BaseModel):
    llm: LLMSettings = LLMSettings()
    embeddings: EmbeddingSettings = EmbeddingSettings()
    memory: MemorySettings = MemorySettings()
    # per-role LLM settings already merged over [llm]; a role without its own table is absent (uses `llm`)
    roles: dict[str, LLMSettings] = {}
    config_file: str | None = None

    def for_role(self, role: str = "agents") -> LLMSettings:
        """The LLM settings of one role: "agents" (answering, reflections) or "interviewer" (its decisions).

        A role with no [roles.<role>] table and no SIMULACRA_<ROLE>_* variables uses [llm] unchanged.
        """
        if role not in ROLES:
            raise ConfigError(f"unknown model role {role!r} (expected one of: {', '.join(ROLES)})")
        return self.roles.get(role, self.llm)


# environment variable -> (section, key)
_ENV_MAP: dict[str, tuple[str, str]] = {
    "BASE_URL": ("llm", "base_url"),
    "BASE_URLS": ("llm", "base_urls"),
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


def _role_settings(role: str, llm: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """[llm] with the role's own keys on top. An api_key follows only its own base_url."""
    merged = {**llm, **own}
    if "base_url" in own and (own["base_url"] or None) != (llm.get("base_url") or None) and "api_key" not in own:
        merged.pop("api_key", None)
    for key in ("base_url", "api_key", "model"):  # "" in a role table means "not set" (e.g. embedded)
        if merged.get(key) == "":
            merged[key] = None
    if merged.get("base_url") and not merged.get("api_key"):
        merged["api_key"] = os.environ.get("OPENAI_API_KEY") or "not-needed"
    return merged


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings: defaults < simulacra.toml < environment < explicit overrides ("llm.model"="...")."""
    data: dict[str, dict[str, Any]] = {"llm": {}, "embeddings": {}, "memory": {}}
    roles: dict[str, dict[str, Any]] = {}
    path = config_file or _find_config_file()
    if path is not None:
        try:
            parsed = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
        for section, values in parsed.items():
            if section == "roles" and isinstance(values, dict):
                for role, table in values.items():
                    if role not in ROLES or not isinstance(table, dict):
                        raise ConfigError(f"{path}: unknown table [roles.{role}] (expected [roles.interviewer])")
                    roles.setdefault(role, {}).update(table)
                continue
            if section not in data or not isinstance(values, dict):
                raise ConfigError(
                    f"{path}: unknown section [{section}] (expected [llm], [roles.interviewer], [embeddings], [memory])"
                )
            data[section].update(values)
    for suffix, (section, key) in _ENV_MAP.items():
        value = os.environ.get(ENV_PREFIX + suffix)
        if value not in (None, ""):
            data[section][key] = value
        if section == "llm":
            for role in ROLES[1:]:  # SIMULACRA_INTERVIEWER_MODEL ...; "" is kept: it can unset a key
                role_value = os.environ.get(f"{ENV_PREFIX}{role.upper()}_{suffix}")
                if role_value is not None and (role_value != "" or key in ("base_url", "api_key", "model")):
                    roles.setdefault(role, {})[key] = role_value
    # A bare OPENAI_API_KEY does not leave the offline default (that must be asked for); it is only
    # used as the key of an endpoint that was configured without one.
    if (data["llm"].get("base_url") or data["llm"].get("base_urls")) and not data["llm"].get("api_key"):
        data["llm"]["api_key"] = os.environ.get("OPENAI_API_KEY") or "not-needed"
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        if section == "roles":
            role, _, key = key.partition(".")
            roles.setdefault(role, {})[key] = value
            continue
        data.setdefault(section, {})[key] = value
    try:
        merged_roles = {role: _role_settings(role, data["llm"], own) for role, own in roles.items()}
        settings = Settings(**data, roles=merged_roles, config_file=str(path) if path else None)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        source = f"{path}" if path else "environment"
        raise ConfigError(f"{source}: setting '{field}' is invalid: {first['msg']}") from exc
    return settings
