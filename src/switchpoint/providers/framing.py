"""Incremental decoders for the streaming framings upstreams use (SSE and NDJSON). Pure, no I/O.

Both are linear in their input: the bytes of an unfinished line are kept as the pieces they arrived
in and joined once, when the line's end arrives, and only new bytes are searched for line ends. (A
decoder that appended each read to its buffer copied that buffer every read: a 200 MB line took the
gateway to 389 MiB and most of a core, and slowed every other client.) One line, or one event, may
hold at most `max_event` bytes; past that the stream fails as MALFORMED before more is held."""

from __future__ import annotations

from ..errors import MALFORMED, UpstreamError

# The largest SSE line or event, or NDJSON line, accepted. A streamed event is one delta: a few hundred
# bytes of text, or a whole tool call's arguments or an image, a few MB at most.
MAX_EVENT = 16 * 1024 * 1024


def too_long(what: str, limit: int) -> UpstreamError:
    return UpstreamError(MALFORMED, f"the provider's stream has {what} longer than {limit} bytes; "
                                    "the stream was abandoned")


class SSEDecoder:
    """Feeds raw bytes, yields (event, data) pairs. Handles CRLF, comments and multi-line data."""

    __slots__ = ("_held", "_held_size", "_event", "_data", "_data_size", "max_event")

    def __init__(self, max_event: int = MAX_EVENT) -> None:
        self._held: list[bytes] = []   # an unfinished line (or event, on the fast path), as it arrived
        self._held_size = 0
        self._event: str | None = None
        self._data: list[bytes] = []
        self._data_size = 0
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[tuple[str | None, bytes]]:
        if self._held:
            if b"\n" not in chunk:  # the line goes on: keep the piece, copy nothing
                self._hold(chunk)
                return []
            self._held.append(chunk)
            buf = b"".join(self._held)  # each held byte is copied once, when its line ends
            self._held, self._held_size = [], 0
        else:
            buf = chunk
        if b"\r" not in buf and not self._data and self._event is None:
            return self._feed_plain(buf)
        return self._feed_lines(buf)

    def _hold(self, rest: bytes) -> None:
        if rest:
            self._held.append(rest)
            self._held_size += len(rest)
            if self._held_size > self.max_event:
                raise too_long("a line", self.max_event)

    def _feed_plain(self, buf: bytes) -> list[tuple[str | None, bytes]]:
        """Fast path for LF-framed streams: whole events are split at once; an event that is one
        `data: ...` line (nearly all of them) needs no line-by-line parsing."""
        events = buf.split(b"\n\n")
        rest = events.pop()
        out: list[tuple[str | None, bytes]] = []
        limit = self.max_event
        for block in events:
            if len(block) > limit:
                raise too_long("an event", limit)
            if block.startswith(b"data: ") and b"\n" not in block:
                out.append((None, block[6:]))
            elif block:
                out.extend(self._feed_lines(block + b"\n\n", keep_rest=False))
        if b"\n" in rest:  # whole lines of an unfinished event: parse them now, hold only the last line
            out.extend(self._feed_lines(rest))
        elif rest:
            self._hold(rest)
        return out

    def _feed_lines(self, buf: bytes, keep_rest: bool = True) -> list[tuple[str | None, bytes]]:
        out: list[tuple[str | None, bytes]] = []
        start = 0
        limit = self.max_event
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            if nl - start > limit:
                raise too_long("a line", limit)
            line = buf[start:nl]
            start = nl + 1
            if line.endswith(b"\r"):
                line = line[:-1]
            self._line(line, out)
        if keep_rest:
            self._hold(buf[start:])
        return out

    def close(self) -> list[tuple[str | None, bytes]]:
        """End of body: what is left may be several lines of an event with no closing blank line."""
        rest = b"".join(self._held)
        self._held, self._held_size = [], 0
        out = self._feed_lines(rest + b"\n", keep_rest=False) if rest else []
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[tuple[str | None, bytes]]) -> None:
        if not line:
            if self._data:
                out.append((self._event, b"\n".join(self._data)))
            self._event = None
            self._data = []
            self._data_size = 0
        elif line[0] == 58:  # ':' comment (keep-alive)
            return
        elif line.startswith(b"data:"):
            value = line[5:]
            value = value[1:] if value[:1] == b" " else value
            self._data.append(value)
            self._data_size += len(value) + 1
            if self._data_size > self.max_event:
                raise too_long("an event", self.max_event)
        elif line.startswith(b"event:"):
            self._event = line[6:].strip().decode()
        # id:, retry: and unknown fields are ignored per the SSE spec.


class NDJSONDecoder:
    """Feeds raw bytes, yields complete non-empty lines."""

    __slots__ = ("_held", "_held_size", "max_event")

    def __init__(self, max_event: int = MAX_EVENT) -> None:
        self._held: list[bytes] = []  # an unfinished line, as it arrived
        self._held_size = 0
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\n" not in chunk:
            if chunk:
                self._held.append(chunk)
                self._held_size += len(chunk)
                if self._held_size > self.max_event:
                    raise too_long("a line", self.max_event)
            return []
        if self._held:
            self._held.append(chunk)
            chunk = b"".join(self._held)
        *lines, rest = chunk.split(b"\n")
        self._held, self._held_size = ([rest], len(rest)) if rest else ([], 0)
        if len(lines[0]) > self.max_event:  # the others came whole in this read, which is far smaller
            raise too_long("a line", self.max_event)
        return [line for line in (raw.strip() for raw in lines) if line]

    def close(self) -> list[bytes]:
        rest = b"".join(self._held).strip()
        self._held, self._held_size = [], 0
        return [rest] if rest else []
