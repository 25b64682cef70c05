"""A model per role: [roles.interviewer] and SIMULACRA_INTERVIEWER_* over [llm]."""

from __future__ import annotations

import pytest

from simulacra.config import load_settings
from simulacra.errors import ConfigError


@pytest.fixture(autouse=True)
def no_role_env(monkeypatch):
    for key in ("MODEL", "BASE_URL", "API_KEY", "LOCAL_MODEL", "TEMPERATURE", "STRUCTURED_OUTPUT"):
        monkeypatch.delenv(f"SIMULACRA_INTERVIEWER_{key}", raising=False)
    monkeypatch.delenv("SIMULACRA_STRUCTURED_OUTPUT", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_without_a_role_table_the_interviewer_uses_llm():
    settings = load_settings()
    assert settings.for_role("interviewer") == settings.llm == settings.for_role("agents")


def test_role_table_overrides_only_its_keys(tmp_path):
    config = tmp_path / "simulacra.toml"
    config.write_text(
        '[llm]\nbase_url = "http://127.0.0.1:8000/v1"\napi_key = "k1"\nmodel = "small"\ntemperature = 0.0\n'
        '[roles.interviewer]\nmodel = "large"\ntemperature = 0.4\n'
    )
    settings = load_settings(config)
    interviewer = settings.for_role("interviewer")
    assert settings.llm.model == "small" and interviewer.model == "large" and interviewer.temperature == 0.4
    assert interviewer.base_url == "http://127.0.0.1:8000/v1" and interviewer.api_key == "k1"  # same server: same key


def test_a_key_is_not_sent_to_another_server_and_empty_base_url_means_embedded(tmp_path):
    config = tmp_path / "simulacra.toml"
    config.write_text(
        '[llm]\nbase_url = "https://api.example.test/v1"\napi_key = "secret"\nmodel = "big"\n'
        '[roles.interviewer]\nbase_url = "http://127.0.0.1:8080/v1"\n'
    )
    other = load_settings(config).for_role("interviewer")
    assert other.base_url == "http://127.0.0.1:8080/v1" and other.api_key == "not-needed"

    config.write_text(
        '[llm]\nbase_url = "https://api.example.test/v1"\napi_key = "secret"\n'
        '[roles.interviewer]\nbase_url = ""\nlocal_model = "qwen2.5-1.5b"\n'
    )
    local = load_settings(config).for_role("interviewer")
    assert not local.uses_endpoint and local.local_model == "qwen2.5-1.5b" and local.api_key is None


def test_interviewer_environment_over_the_file(tmp_path, monkeypatch):
    config = tmp_path / "simulacra.toml"
    config.write_text('[roles.interviewer]\nlocal_model = "from-file"\n')
    monkeypatch.setenv("SIMULACRA_INTERVIEWER_LOCAL_MODEL", "qwen2.5-1.5b")
    monkeypatch.setenv("SIMULACRA_INTERVIEWER_TEMPERATURE", "0.3")
    settings = load_settings(config)
    assert settings.for_role("interviewer").local_model == "qwen2.5-1.5b"
    assert settings.for_role("interviewer").temperature == 0.3
    assert settings.llm.local_model == "smollm2" and settings.llm.temperature == 0.0


def test_bad_role_settings_name_the_field_and_unknown_roles_are_refused(tmp_path):
    config = tmp_path / "simulacra.toml"
    config.write_text('[roles.interviewer]\nmax_concurrency = "lots"\n')
    with pytest.raises(ConfigError, match="roles.interviewer.max_concurrency"):
        load_settings(config)
    config.write_text('[roles.critic]\nmodel = "x"\n')
    with pytest.raises(ConfigError, match=r"\[roles.critic\]"):
        load_settings(config)
    with pytest.raises(ConfigError, match="unknown model role"):
        load_settings().for_role("critic")


def test_structured_output_setting_accepts_auto_and_every_mode(monkeypatch):
    assert load_settings().llm.structured_output == "auto"
    for mode in ("json_schema", "json_object_schema", "json_object", "none", "auto"):
        monkeypatch.setenv("SIMULACRA_STRUCTURED_OUTPUT", mode)
        assert load_settings().llm.structured_output == mode
    monkeypatch.setenv("SIMULACRA_STRUCTURED_OUTPUT", "grammar")
    with pytest.raises(ConfigError, match="structured_output"):
        load_settings()
