"""A bare Python relay: the floor for any Python gateway (uvicorn + aiohttp + orjson, no logic).

It reads the request, parses it only to see `stream`, forwards the original bytes to the upstream
and passes the response back: whole for a completion, chunk by chunk for a stream.

    python relay.py --port 28402 --upstream http://127.0.0.1:28400/json/v1/chat/completions \
        --stream-upstream http://127.0.0.1:28400/sse/v1/chat/completions
"""

from __future__ import annotations

import argparse

import aiohttp
import orjson
import uvicorn


def make_app(upstream: str, stream_upstream: str):
    state: dict[str, aiohttp.ClientSession] = {}

    async def lifespan(receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
                state["session"] = aiohttp.ClientSession(connector=connector)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await state["session"].close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        stream = bool(orjson.loads(body).get("stream"))
        url = stream_upstream if stream else upstream
        async with state["session"].post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
            content_type = resp.headers.get("Content-Type", "application/json").encode()
            if not stream:
                data = await resp.read()
                await send({"type": "http.response.start", "status": resp.status,
                            "headers": [(b"content-type", content_type),
                                        (b"content-length", str(len(data)).encode())]})
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": resp.status,
                        "headers": [(b"content-type", content_type)]})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18101)
    parser.add_argument("--upstream", required=True, help="URL for non-streaming requests")
    parser.add_argument("--stream-upstream", required=True, help="URL for stream: true requests")
    args = parser.parse_args()
    uvicorn.run(make_app(args.upstream, args.stream_upstream), host=args.host, port=args.port,
                loop="uvloop", http="httptools", access_log=False, log_level="warning", lifespan="on")


if __name__ == "__main__":
    main()
