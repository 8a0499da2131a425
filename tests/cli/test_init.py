from __future__ import annotations

import stat

import yaml
from click.testing import CliRunner

from switchpoint.cli.main import cli
from switchpoint.config import load_config


def test_wizard_writes_config_and_private_env(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    for var in ("GROQ_API_KEY", "SWITCHPOINT_ADMIN_KEY", "SWITCHPOINT_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    answers = "\n".join(["openai,groq,ollama",   # providers
                         "127.0.0.1:9090",       # listen
                         "",                     # database: default
                         "y",                    # use OPENAI_API_KEY from the environment
                         "gsk-typed-in"]) + "\n"  # groq key, typed (hidden)
    result = CliRunner().invoke(cli, ["init", "--dir", str(tmp_path)], input=answers, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "3 providers" in result.output
    config = yaml.safe_load((tmp_path / "switchpoint.yaml").read_text())
    assert config["listen"] == "127.0.0.1:9090"
    assert config["providers"]["openai"]["api_key"] == "${OPENAI_API_KEY}"
    assert config["providers"]["ollama"] == {"type": "ollama", "base_url": "http://127.0.0.1:11434"}
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert env["OPENAI_API_KEY"] == "sk-from-environment" and env["GROQ_API_KEY"] == "gsk-typed-in"
    assert env["SWITCHPOINT_ADMIN_KEY"].startswith("sk-sp-admin-")
    assert "gsk-typed-in" not in result.output and "gsk-typed-in" not in (tmp_path / "switchpoint.yaml").read_text()
    loaded = load_config(tmp_path / "switchpoint.yaml", env=env)
    assert loaded.providers["groq"].api_key == "gsk-typed-in" and loaded.port == 9090


def test_wizard_rejects_unknown_providers_and_keeps_files(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "switchpoint.yaml").write_text("listen: 127.0.0.1:1\n")
    result = CliRunner().invoke(cli, ["init", "--dir", str(tmp_path)], input="n\n")
    assert result.exit_code == 1 and (tmp_path / "switchpoint.yaml").read_text() == "listen: 127.0.0.1:1\n"
    result = CliRunner().invoke(cli, ["init", "--dir", str(tmp_path), "--force"],
                                input="openia\nollama\n\n\n", catch_exceptions=False)
    assert "unknown provider(s): openia" in result.output
    assert result.exit_code == 0 and "ollama" in (tmp_path / "switchpoint.yaml").read_text()
