"""The access log as `switchpoint serve` writes it: batched lines, byte for byte what logging would
have written, one per request; and the choice between batching and plain logging records."""

from __future__ import annotations

import asyncio
import io
import logging
import re
import signal
import threading
import urllib.error
import urllib.request

import yaml
from prometheus_client import CollectorRegistry

from switchpoint.accounting.keys import key_label
from switchpoint.server.access import LOG_FORMAT, AccessLog, plain_stream
from switchpoint.server.metrics import Counters

from ..conftest import TEST_KEY, base_config, free_port
from .test_shutdown import start_server

ARGS = ("GET", "/api/v1/key", "/api/v1/key", 200, f"Bearer {TEST_KEY}".encode(), 0.0042, "req-1")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def counts() -> Counters:
    return Counters("t_http_requests", "t", ("route", "method", "status"), CollectorRegistry())


def isolated_logger(name: str, handler: logging.Handler | None, *, propagate: bool = False) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers = [] if handler is None else [handler]
    logger.propagate = propagate
    logger.setLevel(logging.INFO)
    return logger


def plain_handler(stream: io.StringIO, fmt: str = LOG_FORMAT) -> logging.StreamHandler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    return handler


def test_plain_stream_only_for_serves_own_handler():
    stream = io.StringIO()
    assert plain_stream(isolated_logger("t.access.plain", plain_handler(stream))) is stream
    assert plain_stream(isolated_logger("t.access.fmt", plain_handler(stream, "%(message)s"))) is None
    assert plain_stream(isolated_logger("t.access.none", None)) is None
    two = isolated_logger("t.access.two", plain_handler(stream))
    two.addHandler(plain_handler(io.StringIO()))
    assert plain_stream(two) is None
    filtered = isolated_logger("t.access.filtered", plain_handler(stream))
    filtered.addFilter(lambda record: True)
    assert plain_stream(filtered) is None
    quiet = plain_handler(stream)
    quiet.setLevel(logging.WARNING)
    assert plain_stream(isolated_logger("t.access.quiet", quiet)) is None
    file_handler = logging.FileHandler("/dev/null")
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    assert plain_stream(isolated_logger("t.access.file", file_handler)) is None
    file_handler.close()


def test_a_batched_line_reads_as_logging_writes_it():
    """The same line through logging's own formatter and through the batch: equal but for the time."""
    through_logging, batched = io.StringIO(), io.StringIO()
    logger = isolated_logger("switchpoint.access", plain_handler(through_logging))
    try:
        AccessLog(counts()).done(*ARGS)
        log = AccessLog(counts(), stream=batched)
        log.done(*ARGS)
        log.done(*ARGS[:3], 404, None, 0.5, "req-2")
    finally:
        logger.handlers, logger.propagate = [], True
    expected = through_logging.getvalue()
    lines = batched.getvalue().splitlines()
    assert len(lines) == 2  # outside an event loop each line is written at once
    assert re.sub(STAMP, "T", lines[0]) == re.sub(STAMP, "T", expected.rstrip("\n"))
    assert re.fullmatch(f"{STAMP} INFO switchpoint.access: GET /api/v1/key 200 key={re.escape(key_label(TEST_KEY))}"
                        r" 4\.2ms id=req-1", lines[0])
    assert lines[1].endswith("GET /api/v1/key 404 key=- 500.0ms id=req-2")


async def test_lines_of_one_loop_turn_are_written_together():
    writes: list[str] = []

    class Stream(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(text)
            return len(text)

    log = AccessLog(counts(), stream=Stream())
    for n in range(5):
        log.done(*ARGS[:6], f"req-{n}")
    assert writes == []
    await asyncio.sleep(0)
    assert len(writes) == 1
    assert [line.rsplit(" ", 1)[1] for line in writes[0].splitlines()] == [f"id=req-{n}" for n in range(5)]


def test_a_broken_stream_falls_back_to_logging(caplog):
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(32, "Broken pipe")

    log = AccessLog(counts(), stream=Broken())
    with caplog.at_level(logging.INFO, logger="switchpoint.access"):
        log.done(*ARGS)  # this line is lost with the stream, and said so
        log.done(*ARGS[:6], "req-after")
    messages = [r.getMessage() for r in caplog.records if r.name == "switchpoint.access"]
    assert any("access log stream failed" in m and "Broken pipe" in m for m in messages)
    assert messages[-1].endswith("id=req-after")


def test_serve_writes_one_line_per_request(upstream, tmp_path):
    path = tmp_path / "switchpoint.yaml"
    path.write_text(yaml.safe_dump(base_config(upstream, tmp_path)))
    port = free_port()
    process = start_server(path, port)

    def call(n: int) -> None:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/key", headers={
            "Authorization": f"Bearer {TEST_KEY}", "X-Request-Id": f"req-serve-{n}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    threads = [threading.Thread(target=call, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/credits", timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    lines = [line for line in output.splitlines()
             if " switchpoint.access: " in line and " /healthz " not in line]  # start_server's polls
    label = re.escape(key_label(TEST_KEY))
    ids = sorted(int(m.group(1)) for line in lines
                 if (m := re.fullmatch(f"{STAMP} INFO switchpoint.access: GET /api/v1/key 200 key={label} "
                                       r"\d+\.\dms id=req-serve-(\d+)", line)))
    assert ids == list(range(40)), output
    assert re.fullmatch(f"{STAMP} INFO switchpoint.access: GET /api/v1/credits 401 key=- "
                        r"\d+\.\dms id=\S+", lines[-1]), output
    assert len(lines) == 41
