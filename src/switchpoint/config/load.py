"""Read switchpoint.yaml (or the built-in defaults), expand ${VAR} / ${VAR:-default}, validate."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .provider_types import split_options
from .schema import Config, ProviderConfig, cross_problems

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when libyaml is there
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

# Providers enabled from the environment when no config file names any (design.md §2).
ENV_PROVIDERS: dict[str, tuple[str, str, str]] = {
    # name: (type, base_url, key variable)
    "openai": ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    "gemini": ("gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY"),
    "groq": ("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "mistral": ("openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    "deepseek": ("openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    "moonshot": ("openai", "https://api.moonshot.ai/v1", "MOONSHOT_API_KEY"),
    "together": ("openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    "xai": ("openai", "https://api.x.ai/v1", "XAI_API_KEY"),
    "openrouter": ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
}
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "ollama": "http://127.0.0.1:11434",
    "openrouter": "https://openrouter.ai/api/v1",
}


def find_config_path(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Path | None:
    """--config, else $SWITCHPOINT_CONFIG, else ./switchpoint.yaml when it exists, else None (defaults)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("SWITCHPOINT_CONFIG"):
        return Path(env["SWITCHPOINT_CONFIG"])
    local = Path("switchpoint.yaml")
    return local if local.exists() else None


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate; raises ConfigError listing every problem with its field path."""
    env = dict(os.environ if env is None else env)
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise ConfigError([("(file)", f"{path} does not exist")])
        try:
            loaded = parse_yaml(path.read_text())
        except yaml.YAMLError as exc:
            raise ConfigError([("(file)", f"{path} is not valid YAML: {exc}")]) from None
        if not isinstance(loaded, dict):
            raise ConfigError([("(file)", "the top level must be a mapping of settings")])
        raw = loaded

    missing: list[tuple[str, str]] = []
    data = _expand(raw, env, "", missing)
    warnings: list[str] = []
    data, missing = _drop_unused_providers(data, missing, warnings)
    # Every problem in one run: unset variables, then whatever validation finds in the rest.
    problems = [(p, f"environment variable {var} is not set (use ${{{var}:-default}} for a default)")
                for p, var in missing]
    if path is not None and (data.get("database") is not None or not env.get("SWITCHPOINT_DATABASE")):
        data["database"] = beside_config(data.get("database") or DEFAULT_DATABASE, path, warnings)
    _apply_defaults(data, env, warnings)
    warnings += advice(data)
    problems += _provider_options(data)
    try:
        config = Config.model_validate({**data, "warnings": tuple(warnings)})
    except ValidationError as exc:
        unset = {p for p, _ in problems}
        found = [problem for problem in _problems(exc) if problem[0] not in unset]
        if all(err["loc"] for err in exc.errors()):  # field errors only: pydantic skipped the cross-field check
            found += [_split(line) for line in cross_problems(data)]
        problems += [problem for problem in found if problem not in problems]
    if problems:
        raise ConfigError(problems, warnings)
    return config


def _split(line: str) -> tuple[str, str]:
    head, _, tail = line.partition(": ")
    return (head, tail) if tail else ("(config)", line)


def advice(data: dict[str, Any]) -> list[str]:
    """Valid settings that are probably mistakes: an endpoint without pricing is free (the ledger
    records no cost for it), and a short admin key can be guessed."""
    out = []
    for i, model in enumerate(data.get("models") or []):
        if not isinstance(model, dict):
            continue
        for j, endpoint in enumerate(model.get("endpoints") or []):
            if isinstance(endpoint, dict) and endpoint.get("pricing") is None:
                out.append(f"models[{i}].endpoints[{j}]: no pricing, so requests to {model.get('id')} via "
                           f"{endpoint.get('provider')} cost nothing in the ledger and budgets; set pricing "
                           "(USD per token), or pricing: {prompt: \"0\", completion: \"0\"} if it is free")
    admin_key = data.get("admin_key")
    if isinstance(admin_key, str) and len(admin_key) < MIN_ADMIN_KEY:
        out.append(f"admin_key: {len(admin_key)} characters; use at least {MIN_ADMIN_KEY} random ones "
                   "(e.g. `openssl rand -hex 32`): it manages every key and the dashboard")
    return out


MIN_ADMIN_KEY = 32


DEFAULT_DATABASE = "sqlite:///switchpoint.db"


def beside_config(url: Any, path: Path, warnings: list[str]) -> Any:
    """A relative SQLite path in a config file is relative to the file's folder, so one config means
    one database wherever `serve` or a command runs (with no config file, ./switchpoint.db is in the
    current folder). Warns when a file of that name in the current folder may be the ledger meant."""
    if not isinstance(url, str) or not url.startswith(("sqlite:///", "sqlite+aiosqlite:///")):
        return url
    scheme, _, rest = url.partition(":///")
    file, sep, query = rest.partition("?")
    if not file or file.startswith("/") or file.startswith(":memory:") or file.startswith("file:"):
        return url
    folder = path.resolve().parent
    anchored = folder / file
    here = Path(file).resolve()
    if here != anchored and here.exists() and not anchored.exists():
        warnings.append(f"database: {file} is read beside the config, {anchored}, which does not exist yet; "
                        f"the current folder has {here}: give its absolute path (sqlite:///{here}) if that is "
                        "the ledger you mean")
    return f"{scheme}:///{anchored}{sep}{query}"


def parse_yaml(text: str) -> Any:
    """YAML with ${VAR} references allowed anywhere, including inside flow mappings such as
    `{type: openai, api_key: ${OPENAI_API_KEY}}` where a bare `{` would otherwise be a syntax error.
    References are swapped for plain placeholders before parsing and put back in the parsed values."""
    references: list[str] = []

    def protect(match: re.Match[str]) -> str:
        references.append(match.group(0))
        return f"__switchpoint_ref_{len(references) - 1}__"

    loaded = yaml.load(_VAR.sub(protect, text), Loader=_LOADER) or {}
    return _restore(loaded, references) if references else loaded


_PLACEHOLDER = re.compile(r"__switchpoint_ref_(\d+)__")


def _restore(node: Any, references: list[str]) -> Any:
    if isinstance(node, dict):
        return {k: _restore(v, references) for k, v in node.items()}
    if isinstance(node, list):
        return [_restore(v, references) for v in node]
    if isinstance(node, str) and "__switchpoint_ref_" in node:
        return _PLACEHOLDER.sub(lambda m: references[int(m.group(1))], node)
    return node


def _expand(node: Any, env: Mapping[str, str], path: str, missing: list[tuple[str, str]]) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, env, f"{path}.{k}" if path else str(k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, env, f"{path}[{i}]", missing) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        missing.append((path, name))
        return ""

    expanded = _VAR.sub(substitute, node)
    # A value that was only a variable keeps YAML-ish typing (numbers, null) after expansion.
    if _VAR.fullmatch(node):
        if expanded == "":
            return None
        try:
            typed = yaml.safe_load(expanded)
        except yaml.YAMLError:
            return expanded
        return typed if isinstance(typed, int | float | bool) else expanded
    return expanded


def _drop_unused_providers(data: dict[str, Any], missing: list[tuple[str, str]],
                           warnings: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A provider whose key variable is unset is skipped, unless a configured model routes to it."""
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return data, missing
    used = {
        ep.get("provider")
        for model in data.get("models") or [] if isinstance(model, dict)
        for ep in model.get("endpoints") or [] if isinstance(ep, dict)
    }
    keep: list[tuple[str, str]] = []
    dropped: set[str] = set()
    for path, var in missing:
        parts = path.split(".")
        if parts[0] == "providers" and len(parts) > 1 and parts[1] not in used:
            dropped.add(parts[1])
            continue
        keep.append((path, var))
    for name in sorted(dropped):
        warnings.append(f"provider '{name}' is disabled: its environment variable is not set")
        providers.pop(name, None)
    return data, keep


# Settings an environment variable gives when the config file does not (docs/reference.md).
ENV_SETTINGS = {
    "listen": "SWITCHPOINT_LISTEN",
    "admin_key": "SWITCHPOINT_ADMIN_KEY",
    "database": "SWITCHPOINT_DATABASE",
    "state": "SWITCHPOINT_STATE",
}


def _apply_defaults(data: dict[str, Any], env: Mapping[str, str], warnings: list[str]) -> None:
    if "providers" not in data:
        providers: dict[str, Any] = {}
        for name, (ptype, url, var) in ENV_PROVIDERS.items():
            if env.get(var):
                providers[name] = {"type": ptype, "base_url": url, "api_key": env[var]}
        host = env.get("OLLAMA_HOST") or "127.0.0.1:11434"
        providers["ollama"] = {"type": "ollama", "base_url": host if "://" in host else f"http://{host}"}
        data["providers"] = providers
    for provider in (data.get("providers") or {}).values():
        if isinstance(provider, dict) and not provider.get("base_url"):
            default = DEFAULT_BASE_URLS.get(provider.get("type", ""))
            if default:
                provider["base_url"] = default
    for key, var in ENV_SETTINGS.items():
        if data.get(key) is None and env.get(var):
            data[key] = env[var]
    if "admin_key" in data and data["admin_key"] is None:
        del data["admin_key"]
    _proxy_defaults(data, env)


# The `proxy` settings' environment variables, in the order they are looked up (lower case first, as
# curl and Python's urllib read them).
PROXY_VARS = {
    "https": ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
    "http": ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"),
    "no_proxy": ("no_proxy", "NO_PROXY"),
}


# The settings every provider type has; the rest of a provider's mapping belongs to its type.
_COMMON = frozenset(ProviderConfig.model_fields) - {"options"}


def _provider_options(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Each provider's type checked and its own settings validated by the type (provider_types.py)."""
    providers = data.get("providers")
    if not isinstance(providers, dict):
        return []  # reported by the schema
    problems: list[tuple[str, str]] = []
    for name, provider in providers.items():
        if isinstance(provider, dict):
            problems += split_options(str(name), provider, _COMMON)
    return problems


def _proxy_defaults(data: dict[str, Any], env: Mapping[str, str]) -> None:
    proxy = data.get("proxy")
    if proxy is None:
        proxy = data["proxy"] = {}
    if not isinstance(proxy, dict):
        return  # reported by the schema
    for key, names in PROXY_VARS.items():
        if key not in proxy:
            value = next((env[name] for name in names if env.get(name)), None)
            if value is not None:
                proxy[key] = value


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for err in exc.errors():
        path = ""
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = err["msg"].removeprefix("Value error, ")
        if not path:  # cross-field checks report "path: message" lines themselves
            for line in message.splitlines():
                head, _, tail = line.partition(": ")
                problems.append((head, tail) if tail else ("(config)", line))
            continue
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append((path, message))
    return problems
