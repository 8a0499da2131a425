"""Fill a SQLite ledger with synthetic generations quickly (one INSERT ... SELECT over a recursive
counter), for scale tests and the dashboard benchmark."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-flash",
          "meta-llama/llama-3.3-70b-instruct", "deepseek/deepseek-chat", "mistralai/mistral-small",
          "openai/gpt-4.1", "anthropic/claude-haiku-4.5", "qwen/qwen3-32b", "moonshotai/kimi-k2",
          "x-ai/grok-4-fast", "google/gemini-2.5-pro"]
PROVIDERS = ["openai", "anthropic", "groq", "together", "openrouter"]
TEAMS = ["search", "support-bot", "ci", "notebooks", "ingest", "agents", "evals", "mobile"]


def key_hash(i: int) -> str:
    return f"{i:064x}"


def fill_ledger(db_path: Path, rows: int, *, days: int = 30, keys: int = 40, now_ms: int | None = None) -> float:
    """Insert `rows` generations spread evenly over the last `days` days; returns seconds taken.
    Each key uses three models; each model is served by two providers (as real traffic clusters)."""
    now_ms = now_ms or int(time.time() * 1000)
    span = days * 86_400_000
    started = time.perf_counter()
    db = sqlite3.connect(db_path)
    try:
        db.execute("PRAGMA synchronous=OFF")
        db.execute(f"""
            WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows - 1}),
            r AS (SELECT i, abs(random()) AS a, abs(random()) AS b FROM n),
            p AS (SELECT i, a, b, i % {keys} AS k, ((i % {keys}) * 5 + a % 3) % {len(MODELS)} AS m FROM r)
            INSERT INTO generations (id, created_at_ms, key_hash, api_type, model, provider, upstream_model,
                status, http_status, streamed, cache_hit, finish_reason, prompt_tokens, completion_tokens,
                cached_tokens, cache_write_tokens, reasoning_tokens, usage_estimated, cost_nanos, markup_nanos,
                latency_ms, ttft_ms, generation_ms, attempts)
            SELECT printf('gen-bench-%09d', i), {now_ms} - {span} + (i * {span} / {rows}), printf('%064x', k),
                'completions', {_case("m", MODELS)}, {_case(f"((m + b % 2) % {len(PROVIDERS)})", PROVIDERS)},
                'upstream-' || m, CASE WHEN b % 97 = 0 THEN 'error' ELSE 'success' END,
                CASE WHEN b % 97 = 0 THEN 502 ELSE 200 END, b % 2, 0, 'stop', 50 + a % 2000, 10 + b % 800,
                0, 0, 0, 0, (50 + a % 2000) * 150 + (10 + b % 800) * 600, 0,
                200 + a % 3000 + b % 1000, 80 + a % 700, 100 + b % 2000,
                '[{{"provider":"' || {_case(f"((m + b % 2) % {len(PROVIDERS)})", PROVIDERS)} || '","status":200}}]'
            FROM p
        """)
        db.executemany(
            "INSERT OR IGNORE INTO keys (hash, name, label, disabled, cache, log_content, source, created_at_ms,"
            " limit_nanos, limit_reset) VALUES (?, ?, ?, 0, 0, 0, 'api', ?, ?, ?)",
            [(key_hash(i), f"{TEAMS[i % len(TEAMS)]}-{i // len(TEAMS) + 1}", f"sk-sp-v1-{i:03d}...x{i:02d}",
              now_ms - span, (i % 4) * 250_000_000_000 or None, ("daily", "weekly", "monthly", None)[i % 4])
             for i in range(keys)])
        db.commit()
    finally:
        db.close()
    return time.perf_counter() - started


def _case(column: str, names: list[str]) -> str:
    """SQL choosing names[column] (column is an integer expression)."""
    whens = " ".join(f"WHEN {i} THEN '{name}'" for i, name in enumerate(names))
    return f"(CASE {column} {whens} END)"
