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

Checks: the file must be UTF-8 TOML; an unknown section or key is an error naming it and the nearest known
key (`modell` -> `model`); numbers must be finite and in range (temperature 0-2, max_tokens, concurrency,
threads, context size and token budget at least 1, prices and retries at least 0, a positive timeout), from
the file or the environment alike. The workspace is `$SIMULACRA_HOME` (default ./simulacra-data); an empty
`SIMULACRA_HOME` is an error rather than a silent "current folder" (see `simulacra.workspace`).

Roles: `load_settings().llm` is the agents' model; `load_settings().for_role("interviewer")` is the
interviewer's, from [roles.interviewer] and SIMULACRA_INTERVIEWER_* (e.g. SIMULACRA_INTERVIEWER_MODEL) over
[llm]. A role that names its own base_url does not inherit [llm]'s api_key (a key is never sent to a server
it was not configured for).
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simulacra.errors import ConfigError
from simulacra.workspace import home_setting
from surveys.errors import number_too_long

ENV_PREFIX = "SIMULACRA_"


class LLMSettings(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    base_url: str | None = None
    # An inference fleet (simulacra.llm.fleet): several OpenAI-compatible replicas, "URL" or "URL#limit";
    # SIMULACRA_BASE_URLS=url,url. Calls are routed by the agent's prefix key (prefix affinity).
    base_urls: list[str] = Field(default_factory=list)
    api_key: str | None = None
    model: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1)
    max_concurrency: int = Field(default=4, ge=1)
    price_input_per_1k: float = Field(default=0.0, ge=0)
    price_output_per_1k: float = Field(default=0.0, ge=0)
    context_size: int | None = Field(default=None, ge=1)
    # How structured output is asked for on an endpoint. "auto" negotiates: json_schema response_format, then
    # llama-cpp-python's json_object with a schema, then plain json_object, then prompt-only (the schema is
    # described in the prompt); the first the server accepts is remembered per endpoint and model. The
    # other values force one mode (a server that rejects it gives a RequestRejectedError). Replies are
    # validated in every mode. The embedded model always uses a grammar built from the schema.
    structured_output: Literal["auto", "json_schema", "json_object_schema", "json_object", "none"] = "auto"
    local_model: str = "smollm2"
    local_threads: int = Field(default=2, ge=1)
    request_timeout: float = Field(default=600.0, gt=0)
    max_retries: int = Field(default=3, ge=0)

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
    token_budget: int = Field(default=1500, ge=1)


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
    for candidate in (Path("simulacra.toml"), Path(home_setting()).expanduser() / "simulacra.toml"):
        if candidate.is_file():
            return candidate
    return None


SECTIONS: dict[str, type[BaseModel]] = {"llm": LLMSettings, "embeddings": EmbeddingSettings, "memory": MemorySettings}


def _check_keys(path: Path, table: str, values: dict[str, Any], model: type[BaseModel]) -> None:
    """An unknown key is a typo that would be silently ignored: name it and the nearest known key."""
    known = list(model.model_fields)
    for key in values:
        if key not in model.model_fields:
            near = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
            raise ConfigError(f"{path}: unknown key '{key}' in [{table}] ({hint})")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start + 1}); save the configuration as UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except ValueError as exc:  # an integer past Python's int-from-text limit
        raise ConfigError(str(number_too_long(path, text, exc))) from None


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
    origin: dict[tuple[str, ...], str] = {}  # (section, key) or ("roles", role, key) -> where the value came from
    if path is not None:
        parsed = _read_toml(Path(path))
        for section, values in parsed.items():
            if section == "roles" and isinstance(values, dict):
                for role, table in values.items():
                    if role not in ROLES or not isinstance(table, dict):
                        raise ConfigError(f"{path}: unknown table [roles.{role}] (expected [roles.interviewer])")
                    _check_keys(Path(path), f"roles.{role}", table, LLMSettings)
                    roles.setdefault(role, {}).update(table)
                    origin.update({("roles", role, key): str(path) for key in table})
                continue
            if section not in data or not isinstance(values, dict):
                near = difflib.get_close_matches(str(section), [*data, "roles"], n=1)
                hint = f"did you mean [{near[0]}]? " if near else ""
                raise ConfigError(
                    f"{path}: unknown section [{section}] ({hint}expected [llm], [roles.interviewer], [embeddings], [memory])"
                )
            _check_keys(Path(path), section, values, SECTIONS[section])
            data[section].update(values)
            origin.update({(section, key): str(path) for key in values})
    for suffix, (section, key) in _ENV_MAP.items():
        value = os.environ.get(ENV_PREFIX + suffix)
        if value not in (None, ""):
            data[section][key] = value
            origin[(section, key)] = ENV_PREFIX + suffix
        if section == "llm":
            for role in ROLES[1:]:  # SIMULACRA_INTERVIEWER_MODEL ...; "" is kept: it can unset a key
                role_value = os.environ.get(f"{ENV_PREFIX}{role.upper()}_{suffix}")
                if role_value is not None and (role_value != "" or key in ("base_url", "api_key", "model")):
                    roles.setdefault(role, {})[key] = role_value
                    origin[("roles", role, key)] = f"{ENV_PREFIX}{role.upper()}_{suffix}"
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
        loc = tuple(str(p) for p in first["loc"])
        field = ".".join(loc)
        # a role's [llm] keys are merged in: a bad [llm] value is named where it was set
        source = origin.get(loc) or (origin.get(("llm", loc[-1])) if loc[:1] == ("roles",) else None)
        source = source or (f"{path}" if path else "environment")
        shown = f" = {first['input']!r}" if isinstance(first.get("input"), (str, int, float)) else ""
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ConfigError(f"{source}: setting '{field}'{shown} is invalid: {first['msg']}") from None
    return settings
