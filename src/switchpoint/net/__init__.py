"""Our HTTP: the upstream HTTP/1.1 client (`transport`: pool, TLS, gzip/deflate, proxies through
`proxy`, per-provider `settings`) on asyncio and httptools, and the server's HTTP/1.1 protocol
(`server`, `cycle`) under uvicorn. Both write through the per-loop `outbox`, and share the per-loop
timers of `loops`. Why our own, with the measurements, and what it does not support:
docs/upstream-client.md."""
