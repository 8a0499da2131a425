"""Incremental decoders for the streaming framings upstreams use (SSE and NDJSON). Pure, no I/O."""

from __future__ import annotations


class SSEDecoder:
    """Feeds raw bytes, yields (event, data) pairs. Handles CRLF, comments and multi-line data."""

    __slots__ = ("_buf", "_event", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._event: str | None = None
        self._data: list[bytes] = []

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        buf = self._buf + chunk if self._buf else chunk
        out: list[tuple[str | None, bytes]] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            line = buf[start:nl]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            self._line(line, out)
        self._buf = buf[start:]
        return out

    def close(self) -> list[tuple[str | None, bytes]]:
        out: list[tuple[str | None, bytes]] = []
        if self._buf:
            self._line(self._buf.rstrip(b"\r"), out)
            self._buf = b""
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[tuple[str | None, bytes]]) -> None:
        if not line:
            if self._data:
                out.append((self._event, b"\n".join(self._data)))
            self._event = None
            self._data = []
        elif line[0] == 58:  # ':' comment (keep-alive)
            return
        elif line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value[:1] == b" " else value)
        elif line.startswith(b"event:"):
            self._event = line[6:].strip().decode()
        # id:, retry: and unknown fields are ignored per the SSE spec.


class NDJSONDecoder:
    """Feeds raw bytes, yields complete non-empty lines."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk
        *lines, self._buf = buf.split(b"\n")
        return [line for line in (raw.strip() for raw in lines) if line]

    def close(self) -> list[bytes]:
        rest, self._buf = self._buf.strip(), b""
        return [rest] if rest else []
