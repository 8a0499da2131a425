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
        if b"\r" not in buf and not self._data and self._event is None:
            return self._feed_plain(buf)
        return self._feed_lines(buf)

    def _feed_plain(self, buf: bytes) -> list[tuple[str | None, bytes]]:
        """Fast path for LF-framed streams: whole events are split at once; an event that is one
        `data: ...` line (nearly all of them) needs no line-by-line parsing."""
        events = buf.split(b"\n\n")
        self._buf = events.pop()
        out: list[tuple[str | None, bytes]] = []
        for block in events:
            if block.startswith(b"data: ") and b"\n" not in block:
                out.append((None, block[6:]))
            elif block:
                out.extend(self._feed_lines(block + b"\n\n", keep_rest=False))
        if self._buf.startswith(b"\n"):  # a lone blank line ends nothing; keep framing exact
            self._buf = self._buf[1:]
        return out

    def _feed_lines(self, buf: bytes, keep_rest: bool = True) -> list[tuple[str | None, bytes]]:
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
        if keep_rest:
            self._buf = buf[start:]
        return out

    def close(self) -> list[tuple[str | None, bytes]]:
        """End of body: what is left may be several lines of an event with no closing blank line."""
        rest, self._buf = self._buf, b""
        out = self._feed_lines(rest + b"\n", keep_rest=False) if rest else []
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
