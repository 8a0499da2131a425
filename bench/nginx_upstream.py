"""The fixed upstream: nginx answering every POST with a canned provider response.

Four locations, one per case, so each gateway needs no logic in the upstream to pick a shape:
  /json/...            OpenAI chat completion (non-streaming)
  /sse/...             OpenAI chat completion stream, 50 `data:` chunks then [DONE]
  /anthropic-json/...  Anthropic Messages response
  /anthropic-sse/...   Anthropic Messages stream, 50 events
Streams are sent with chunked transfer encoding (no Content-Length), like the real providers.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness import Process, serve

SENTENCE = "The quick brown fox jumps over the lazy dog."
EXPECT = "dog."  # every successful response, translated or not, carries this text
STREAM_CHUNKS = 50


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _pieces() -> list[str]:
    """The sentence cut into STREAM_CHUNKS - 3 deltas (a role, a finish and a usage chunk frame them)."""
    words = SENTENCE.split(" ")
    count = STREAM_CHUNKS - 3
    filler = [" ..." for _ in range(count - len(words))]
    return [words[0]] + filler + [" " + w for w in words[1:]]


def openai_json() -> str:
    return _dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1763700000, "model": "gpt-bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": SENTENCE}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22},
    })


def openai_sse() -> str:
    def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
        body = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1763700000,
                "model": "gpt-bench", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {_dumps(body)}\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in _pieces()]
    events.append(chunk({}, "stop"))
    usage = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1763700000, "model": "gpt-bench",
             "choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22}}
    events.append(f"data: {_dumps(usage)}\n\n")
    assert len(events) == STREAM_CHUNKS
    return "".join(events) + "data: [DONE]\n\n"


def anthropic_json() -> str:
    return _dumps({
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
        "content": [{"type": "text", "text": SENTENCE}], "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 10},
    })


def anthropic_sse() -> str:
    def event(name: str, data: dict) -> str:
        return f"event: {name}\ndata: {_dumps({'type': name, **data})}\n\n"

    start = {"message": {"id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-bench",
                         "content": [], "stop_reason": None, "stop_sequence": None,
                         "usage": {"input_tokens": 12, "output_tokens": 1}}}
    events = [event("message_start", start),
              event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
               for piece in _pieces()[: STREAM_CHUNKS - 6]]
    rest = "".join(_pieces()[STREAM_CHUNKS - 6:])
    events.append(event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": rest}}))
    events.append(event("content_block_stop", {"index": 0}))
    events.append(event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                          "usage": {"output_tokens": 10}}))
    events.append(event("message_stop", {}))
    assert len(events) == STREAM_CHUNKS
    return "".join(events)


# URL prefix -> (file name, body). The extension picks the Content-Type.
LOCATIONS = {
    "/json/": ("openai.json", openai_json),
    "/sse/": ("openai.sse", openai_sse),
    "/anthropic-json/": ("anthropic.json", anthropic_json),
    "/anthropic-sse/": ("anthropic.sse", anthropic_sse),
}


def nginx_conf(port: int, workdir: Path) -> str:
    """An nginx.conf serving LOCATIONS on 127.0.0.1:port from files under workdir/_/."""
    rewrites = "\n".join(f"    location {prefix} {{ rewrite ^ /_/{name} last; }}"
                         for prefix, (name, _) in LOCATIONS.items())
    # The static handler refuses POST with 405; error_page re-serves the same file as a GET.
    # sub_filter (a no-op substitution) drops Content-Length, so streams go out chunked.
    return f"""worker_processes 1;
daemon off;
user root;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx.error.log warn;
worker_rlimit_nofile 65536;
events {{ worker_connections 32768; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/client_body;
  proxy_temp_path {workdir}/proxy;
  fastcgi_temp_path {workdir}/fastcgi;
  uwsgi_temp_path {workdir}/uwsgi;
  scgi_temp_path {workdir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_buffer_size 64k;
  open_file_cache max=16;
  etag off;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
{rewrites}
    location /_/ {{
      internal;
      root {workdir};
      error_page 405 =200 $uri;
      types {{ application/json json; text/event-stream sse; }}
      sub_filter_types text/event-stream;
      sub_filter_once on;
      sub_filter 'data' 'data';
    }}
    location / {{ return 404; }}
  }}
}}
"""


def write_conf(port: int, workdir: Path) -> Path:
    """Write the bodies and nginx.conf into workdir; return the conf path."""
    workdir = workdir.resolve()
    (workdir / "_").mkdir(parents=True, exist_ok=True)
    for name, body in LOCATIONS.values():
        (workdir / "_" / name).write_text(body())
    path = workdir / "nginx.conf"
    path.write_text(nginx_conf(port, workdir))
    return path


def start_nginx(port: int, workdir: Path, cpus: str) -> Process:
    """nginx serving the canned responses on 127.0.0.1:port, pinned to cpus; returns once it listens."""
    conf = write_conf(port, workdir / "nginx")
    return serve("nginx", ["nginx", "-c", str(conf)], port, cpus, workdir / "logs")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write the upstream nginx.conf (run it with nginx -c).")
    parser.add_argument("--port", type=int, default=28400)
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent / "out" / "nginx")
    args = parser.parse_args()
    print(write_conf(args.port, args.dir))
