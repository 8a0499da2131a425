"""A stream parser that can also relay its upstream's bytes as they came.

When the client speaks the provider's own wire format (an Anthropic Messages client on an Anthropic
endpoint, a Responses client on a Responses endpoint), the stream is passed through byte for byte:
each feed yields the whole SSE events received so far as one `Delta(raw=...)`, ahead of the parsed
deltas accounting reads. An upstream failure event is cut from the relayed bytes (the gateway sends
its own error event in the client's format instead)."""

from __future__ import annotations

from ..types import Delta
from .base import FramedStreamParser
from .framing import SSEDecoder


class RelayingSSEParser(FramedStreamParser):
    failure_events: tuple[bytes, ...] = (b"event: error",)  # where the relayed bytes stop on a failure

    def __init__(self, relay: bool = False) -> None:
        super().__init__(SSEDecoder())
        self._relay = relay
        self._raw = b""  # relayed bytes past the last whole event

    def feed(self, data: bytes) -> list[Delta]:
        if not self._relay:
            return super().feed(data)
        raw = self._raw + data if self._raw else data
        deltas = super().feed(data)
        whole, self._raw = split_events(raw)
        if self.pending_error is not None:
            cuts = [i for i in (whole.find(marker) for marker in self.failure_events) if i >= 0]
            whole = whole[:min(cuts)] if cuts else whole
        return [Delta(raw=whole), *deltas] if whole else deltas

    def close(self) -> list[Delta]:
        rest, self._raw = self._raw, b""
        deltas = super().close()
        return [Delta(raw=rest), *deltas] if self._relay and rest.strip() else deltas


def split_events(raw: bytes) -> tuple[bytes, bytes]:
    """(the whole SSE events at the start of `raw`, the rest): split after the last blank line."""
    lf, crlf = raw.rfind(b"\n\n"), raw.rfind(b"\r\n\r\n")
    end = max(lf + 2 if lf >= 0 else 0, crlf + 4 if crlf >= 0 else 0)
    return raw[:end], raw[end:]
