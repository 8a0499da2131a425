"""The `search:` section: defaults, the key from the environment, wrong values named with their path."""

from __future__ import annotations

import pytest

from switchpoint.config import load_config
from switchpoint.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "switchpoint.yaml"
    path.write_text(text)
    return path


def test_search_section_defaults_and_expanded_key(tmp_path):
    config = load_config(write(tmp_path, "search: {api_key: ${EXA_API_KEY}}\n"), env={"EXA_API_KEY": "exa-123"})
    search = config.search
    assert search is not None
    assert (search.engine, search.api_key, search.base_url, search.timeout) == ("exa", "exa-123", "https://api.exa.ai", 15.0)
    assert (search.max_results, search.mode, search.max_characters) == (5, "auto", 4000)
    assert (search.pricing.result, search.pricing.request) == ("0.004", "0")
    assert load_config(write(tmp_path, "listen: 127.0.0.1:8080\n"), env={}).search is None


def test_search_problems_name_their_field(tmp_path):
    text = ("search:\n  engine: brave\n  max_results: 50\n  timeout: 0\n  pricing: {result: 'four'}\n"
            "  api_key: ${EXA_API_KEY}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    message = str(caught.value)
    for path in ("search.engine", "search.max_results", "search.timeout", "search.pricing.result", "EXA_API_KEY"):
        assert path in message
