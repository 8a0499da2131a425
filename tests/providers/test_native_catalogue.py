"""The bundled catalogue's native-provider models: endpoints resolve, prices and limits are listed."""

from __future__ import annotations

from decimal import Decimal

from switchpoint.config.catalogue import build_catalogue
from switchpoint.config.schema import Config, ProviderConfig


def catalogue():  # type: ignore[no-untyped-def]
    config = Config(providers={name: ProviderConfig(type=name) for name in ("anthropic", "gemini", "ollama")})
    return build_catalogue(config, {"anthropic": "anthropic", "gemini": "gemini", "ollama": "ollama"})


def test_claude_prices_include_cache_rates() -> None:
    model = catalogue().get("anthropic/claude-sonnet-4.5")
    [endpoint] = model.endpoints
    assert (endpoint.provider_type, endpoint.model) == ("anthropic", "claude-sonnet-4-5")
    price = endpoint.price
    assert (price.prompt, price.completion, price.cache_read, price.cache_write) == \
        (Decimal("0.000003"), Decimal("0.000015"), Decimal("0.0000003"), Decimal("0.00000375"))
    assert (endpoint.max_output_tokens, endpoint.context_length) == (64000, 200000)
    assert {"reasoning", "tools", "structured_outputs", "top_k"} <= endpoint.supported_parameters


def test_gemini_and_embeddings() -> None:
    cat = catalogue()
    flash = cat.get("google/gemini-2.5-flash").endpoints[0]
    assert (flash.model, flash.price.prompt, flash.price.completion) == ("gemini-2.5-flash", Decimal("0.0000003"), Decimal("0.0000025"))
    assert cat.get("google/gemini-embedding-001").is_embedding


def test_every_native_model_is_served_and_ollama_is_free() -> None:
    cat = catalogue()
    native = [m for m in cat.models.values() if m.id.split("/")[0] in ("anthropic", "google", "ollama")]
    assert len(native) >= 20
    assert all(m.endpoints for m in native)
    local = [m for m in native if m.id.startswith("ollama/")]
    assert all(e.price.is_free and e.provider_type == "ollama" for m in local for e in m.endpoints)
    assert {"ollama/llama3.3", "ollama/qwen3", "ollama/gpt-oss-20b", "ollama/mistral", "ollama/gemma3",
            "ollama/nomic-embed-text"} <= {m.id for m in local}
