"""The OpenAI/OpenRouter chat completions API (and legacy completions and embeddings): request bodies
into canonical requests (`request`), canonical results into its JSON, SSE chunks and error envelope
(`render`)."""
