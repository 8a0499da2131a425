"""Configuration: env expansion, defaults, and problems reported with their field paths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchpoint.config import load_config
from switchpoint.config.catalogue import build_catalogue
from switchpoint.errors import ConfigError

DESIGN_EXAMPLE = """
listen: 127.0.0.1:8080
database: sqlite:///switchpoint.db
state: memory
admin_key: ${SWITCHPOINT_ADMIN_KEY}
providers:
  openai:    {type: openai,    base_url: https://api.openai.com/v1, api_key: ${OPENAI_API_KEY}}
  anthropic: {type: anthropic, base_url: https://api.anthropic.com, api_key: ${ANTHROPIC_API_KEY}}
  groq:      {type: openai,    base_url: https://api.groq.com/openai/v1, api_key: ${GROQ_API_KEY}}
  local:     {type: ollama,    base_url: http://127.0.0.1:11434}
models:
  - id: meta-llama/llama-3.3-70b-instruct
    name: Llama 3.3 70B Instruct
    context_length: 131072
    endpoints:
      - provider: groq
        model: llama-3.3-70b-versatile
        pricing: {prompt: "0.00000059", completion: "0.00000079"}
      - provider: local
        model: llama3.3:70b
        pricing: {prompt: "0", completion: "0"}
keys:
  - name: ci
    key: ${SWITCHPOINT_TEST_KEY}
    limit: 5.0
    limit_reset: daily
"""
ENV = {"SWITCHPOINT_ADMIN_KEY": "admin-0123456789abcdef", "GROQ_API_KEY": "gk", "OPENAI_API_KEY": "ok",
       "SWITCHPOINT_TEST_KEY": "sk-sp-v1-ci-0123456789abcdef"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return path


def test_design_example_loads(tmp_path):
    config = load_config(write(tmp_path, DESIGN_EXAMPLE), env=ENV)
    assert config.providers["groq"].api_key == "gk"
    assert "anthropic" not in config.providers  # its key is unset and no configured model needs it
    assert any("anthropic" in w for w in config.warnings)
    assert config.keys[0].limit == 5.0 and config.keys[0].limit_reset == "daily"
    assert config.admin_key == "admin-0123456789abcdef"
    catalogue = build_catalogue(config, {n: p.type for n, p in config.providers.items()})
    model = catalogue.get("meta-llama/llama-3.3-70b-instruct")
    assert [e.provider for e in model.endpoints] == ["groq", "local"]  # config replaces the bundled entry
    assert catalogue.get("openai/gpt-4o").endpoints[0].provider == "openai"  # bundled entries extend it


def test_missing_variable_for_a_used_provider_is_an_error(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "GROQ_API_KEY"}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, DESIGN_EXAMPLE), env=env)
    assert ("providers.groq.api_key", "environment variable GROQ_API_KEY is not set "
            "(use ${GROQ_API_KEY:-default} for a default)") in caught.value.problems


def test_defaults_and_typed_expansion(tmp_path):
    text = "listen: ${HOST:-0.0.0.0}:${PORT:-9000}\nserver: {max_body_bytes: ${LIMIT:-1000}}\n"
    config = load_config(write(tmp_path, text), env={"LIMIT": "2048"})
    assert config.listen == "0.0.0.0:9000" and config.port == 9000
    assert config.server.max_body_bytes == 2048


def test_every_problem_has_a_field_path(tmp_path):
    text = """
listen: nowhere
providers:
  a: {type: martian, base_url: http://x}
  b: {type: openai, timeout: -1, colour: blue}
models:
  - id: not-a-model-id
  - id: v/m
    endpoints: [{provider: zzz, model: m, pricing: {prompt: "abc"}}]
keys:
  - {name: k, key: short}
"""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    problems = dict(caught.value.problems)
    assert "providers.a.type" in problems
    assert "providers.b.timeout" in problems
    assert problems["providers.b.colour"] == "unknown setting"
    assert "models[0].id" in problems
    assert "models[1].endpoints[0].pricing.prompt" in problems
    assert "keys[0].key" in problems


def test_no_file_means_environment_defaults():
    config = load_config(None, env={"OPENAI_API_KEY": "x", "OLLAMA_HOST": "10.0.0.5:11434"})
    assert set(config.providers) == {"openai", "ollama"}
    assert config.providers["ollama"].base_url == "http://10.0.0.5:11434"
    assert config.database == "sqlite:///switchpoint.db" and config.state == "memory"


def test_config_check_command(tmp_path):
    bad = write(tmp_path, "listen: 1\nproviders: {x: {type: openai, api_key: ${NOPE}}}\n"
                          "models: [{id: a/b, endpoints: [{provider: x, model: m}]}]\n")
    result = subprocess.run([sys.executable, "-m", "switchpoint.cli.main", "config", "check", "--config", str(bad)],
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1
    assert "providers.x.api_key: environment variable NOPE is not set" in result.stderr
    good = write(tmp_path, "providers: {x: {type: openai, base_url: 'http://h/v1', api_key: k}}\n")
    result = subprocess.run([sys.executable, "-m", "switchpoint.cli.main", "config", "check", "--config", str(good)],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "ok" in result.stdout


def test_provider_body_limit_and_tls_settings(tmp_path):
    from switchpoint.server.services import build_providers

    from ..net.test_transport import _certificate

    cert, _ = _certificate(tmp_path)
    text = f"""
providers:
  a: {{type: openai, base_url: https://a.test/v1, tls: {{ca_file: {cert}}}, max_body_bytes: 1000}}
  b: {{type: openai, base_url: https://b.test/v1, tls: {{verify: false}}}}
  c: {{type: openai, base_url: https://c.test/v1}}
"""
    config = load_config(write(tmp_path, text), env={})
    a, b, c = (config.providers[name] for name in "abc")
    assert (a.tls.ca_file, a.tls.verify, a.max_body_bytes) == (str(cert), True, 1000)
    assert (b.tls.ca_file, b.tls.verify) == (None, False)
    assert (c.tls.ca_file, c.tls.verify, c.max_body_bytes) == (None, True, 64 * 1024 * 1024)
    warnings: list[str] = []
    build_providers(config, warnings)  # what `serve` prints at start
    assert warnings == ["provider 'b': tls.verify is false: its certificate is not checked, so anyone on the "
                        "network path can read and alter its traffic"]
    (tmp_path / "not.pem").write_text("not a certificate")
    text = f"""
providers:
  a: {{type: openai, base_url: https://a.test/v1, tls: {{ca_file: {tmp_path / "missing.pem"}}}}}
  b: {{type: openai, base_url: https://b.test/v1, tls: {{ca_file: {tmp_path / "not.pem"}}}, max_body_bytes: 0}}
  c: {{type: openai, base_url: https://c.test/v1, tls: {{verify: false, pin: x}}}}
  d: {{type: openai, base_url: https://d.test/v1, tls: {{ca_file: {cert}, verify: false}}}}
"""
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    problems = dict(caught.value.problems)
    assert "cannot be read as PEM certificates" in problems["providers.a.tls.ca_file"]
    assert "No such file" in problems["providers.a.tls.ca_file"]
    assert "cannot be read as PEM certificates" in problems["providers.b.tls.ca_file"]
    assert "greater than 0" in problems["providers.b.max_body_bytes"]
    assert problems["providers.c.tls.pin"] == "unknown setting"
    assert problems["providers.d.tls"] == "ca_file is unused with verify: false; set one or the other"


def test_provider_types_own_their_settings(tmp_path):
    from switchpoint.config.provider_types import provider_types
    from switchpoint.providers.registry import PROVIDER_TYPES
    from switchpoint.server.services import build_providers

    assert {name: cls.Options for name, cls in PROVIDER_TYPES.items()} == dict(provider_types())
    good = write(tmp_path, """
providers:
  az: {type: azure, base_url: https://acme.openai.azure.test, api_key: k, api_version: 2025-04-01-preview}
  az2: {type: azure, base_url: https://acme.openai.azure.test, api_key: k}
""")
    config = load_config(good, env={})
    assert config.providers["az"].options == {"api_version": "2025-04-01-preview"}
    assert config.providers["az2"].options == {}
    providers = build_providers(config, [])
    assert providers["az"].options.api_version == "2025-04-01-preview"
    assert providers["az2"].options.api_version == "2024-10-21"


def test_a_setting_of_another_type_is_a_problem_with_its_path(tmp_path):
    bad = write(tmp_path, """
providers:
  o: {type: openai, base_url: http://h/v1, api_version: 2024-10-21, options: {x: 1}}
  az: {type: azure, base_url: https://a.test, api_version: [1], timeout: 0}
  m: {type: martian, base_url: http://x, colour: blue}
""")
    with pytest.raises(ConfigError) as caught:
        load_config(bad, env={})
    problems = dict(caught.value.problems)
    assert problems.pop("providers.o.api_version") == "unknown setting"
    assert problems.pop("providers.o.options") == "unknown setting"
    assert problems.pop("providers.az.api_version") == "Input should be a valid string"
    assert "providers.az.timeout" in problems
    assert problems.pop("providers.m.type") == ("unknown provider type 'martian' (known: anthropic, azure, gemini, "
                                                "ollama, openai, openrouter)")


def test_endpoint_weight_defaults_to_one_accepts_zero_and_rejects_negative(tmp_path):
    text = """
providers: {x: {type: openai, base_url: 'http://h/v1', api_key: k}}
models:
  - id: v/m
    endpoints: [{provider: x, model: a}, {provider: x, model: b, weight: 0}, {provider: x, model: c, weight: 2.5}]
"""
    config = load_config(write(tmp_path, text), env={})
    endpoints = build_catalogue(config, {"x": "openai"}).get("v/m").endpoints
    assert [e.weight for e in endpoints] == [1.0, 0.0, 2.5]
    bad = text.replace("weight: 0}", "weight: -1}")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, bad), env={})
    assert "models[0].endpoints[1].weight" in dict(caught.value.problems)
