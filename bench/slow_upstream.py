"""A paced upstream: the same canned responses as the nginx upstream, but streams send one event per
interval (nginx cannot pace). For holding thousands of open streams through a gateway.

    python slow_upstream.py --port 28450 --interval 1

Paths as in nginx_upstream.py: /json/..., /sse/..., /anthropic-json/..., /anthropic-sse/... . Plain asyncio
HTTP/1.1 with keep-alive; request bodies by Content-Length or chunked.
"""

from __future__ import annotations

import argparse
import asyncio

import nginx_upstream

BODIES = {prefix: (name, body()) for prefix, (name, body) in nginx_upstream.LOCATIONS.items()}


def events(text: str) -> list[bytes]:
    return [(part + "\n\n").encode() for part in text.split("\n\n") if part]


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> None:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                return
    await reader.readexactly(int(headers.get("content-length", "0")))


async def respond(writer: asyncio.StreamWriter, path: str, interval: float) -> None:
    match = next(((name, text) for prefix, (name, text) in BODIES.items() if path.startswith(prefix)), None)
    if match is None:
        writer.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
        return
    name, text = match
    if name.endswith(".json"):
        body = text.encode()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(body), body))
        return
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
    for i, event in enumerate(events(text)):
        if i:
            await asyncio.sleep(interval)
        writer.write(b"%x\r\n%s\r\n" % (len(event), event))
        await writer.drain()
    writer.write(b"0\r\n\r\n")


def handler(interval: float):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_line = await reader.readline()
                if not request_line:
                    return
                headers = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, val = line.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = val.strip()
                await read_body(reader, headers)
                await respond(writer, request_line.split(b" ")[1].decode(), interval)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    return handle


async def serve(port: int, interval: float) -> None:
    server = await asyncio.start_server(handler(interval), "127.0.0.1", port, backlog=8192)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=28450)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between stream events")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.run(serve(args.port, args.interval))
    except ImportError:
        asyncio.run(serve(args.port, args.interval))


if __name__ == "__main__":
    main()
