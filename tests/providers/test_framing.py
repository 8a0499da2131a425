"""The SSE and NDJSON decoders: the same events however the bytes are split, work linear in the input
(a long line is held as it arrived, not copied on every read), and a line or event past the limit
refused before more of it is held."""

from __future__ import annotations

import random
import tracemalloc
from pathlib import Path

import pytest

from switchpoint.errors import MALFORMED, UpstreamError
from switchpoint.providers.framing import MAX_EVENT, NDJSONDecoder, SSEDecoder

FIXTURES = Path(__file__).parent.parent / "fixtures"
MiB = 1 << 20


def sse_events(decoder: SSEDecoder, pieces: list[bytes]) -> list[tuple[str | None, bytes]]:
    out = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    return out + decoder.close()


def splits(data: bytes, rng: random.Random) -> list[bytes]:
    pieces, start = [], 0
    while start < len(data):
        size = rng.choice((1, 2, 3, 7, 64, 1000))
        pieces.append(data[start:start + size])
        start += size
    return pieces


HAND_MADE = (
    b": keep-alive\n\ndata: {\"a\":1}\n\nevent: ping\ndata: x\ndata: y\n\ndata:no-space\n\n"
    b"data: crlf\r\n\r\nid: 7\nretry: 10\ndata: with id\n\n\n\ndata: after blank lines\n\ndata: unterminated"
)
EXPECTED = [(None, b'{"a":1}'), ("ping", b"x\ny"), (None, b"no-space"), (None, b"crlf"), (None, b"with id"),
            (None, b"after blank lines"), (None, b"unterminated")]


def test_sse_events_are_the_same_however_the_bytes_are_split() -> None:
    assert sse_events(SSEDecoder(), [HAND_MADE]) == EXPECTED
    rng = random.Random(14)
    for _ in range(50):
        assert sse_events(SSEDecoder(), splits(HAND_MADE, rng)) == EXPECTED
    streams = sorted(FIXTURES.glob("*/*.sse"))
    assert len(streams) > 10
    for path in streams:
        raw = path.read_bytes()
        whole = sse_events(SSEDecoder(), [raw])
        assert whole
        assert sse_events(SSEDecoder(), [raw[i:i + 1] for i in range(len(raw))]) == whole, path.name
        assert sse_events(SSEDecoder(), splits(raw, rng)) == whole, path.name


def test_ndjson_lines_are_the_same_however_the_bytes_are_split() -> None:
    raw = b'{"a":1}\n\n  {"b":2}  \r\n{"c":3}'
    rng = random.Random(14)
    for pieces in ([raw], [raw[i:i + 1] for i in range(len(raw))], splits(raw, rng), splits(raw, rng)):
        decoder = NDJSONDecoder()
        lines = [line for piece in pieces for line in decoder.feed(piece)] + decoder.close()
        assert lines == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def allocated_by(feed, piece: bytes) -> int:
    """Bytes newly allocated (at the peak) while `feed(piece)` ran."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    feed(piece)
    return tracemalloc.get_traced_memory()[1] - before


@pytest.mark.parametrize("kind", ["sse", "sse-multiline", "ndjson"])
def test_a_long_line_fed_in_small_reads_is_not_copied_per_read(kind: str) -> None:
    """Each read of an unfinished 8 MiB line costs memory for that read only; the line is joined
    once, at its end. A decoder that re-copied its buffer per read would allocate the whole buffer
    at every read: ~8 MiB by the end, against the read's 4 KiB here."""
    decoder = NDJSONDecoder() if kind == "ndjson" else SSEDecoder()
    head = {"sse": b"data: ", "sse-multiline": b"event: big\ndata: first line\ndata: ", "ndjson": b""}[kind]
    line = b"x" * (8 * MiB)
    piece = 4096
    assert decoder.feed(head) == []
    tracemalloc.start()
    try:
        worst = 0
        for start in range(0, len(line), piece):
            worst = max(worst, allocated_by(decoder.feed, line[start:start + piece]))
        assert worst < 16 * piece  # list growth and bookkeeping only; the held bytes are the reads themselves
        out = decoder.feed(b"\n\n")
    finally:
        tracemalloc.stop()
    if kind == "ndjson":
        assert out == [line]
    elif kind == "sse":
        assert out == [(None, line)]
    else:
        assert out == [("big", b"first line\n" + line)]


def test_a_line_or_event_past_the_limit_is_refused() -> None:
    def refused(feed, pieces) -> str:
        with pytest.raises(UpstreamError) as caught:
            for piece in pieces:
                feed(piece)
        assert caught.value.kind == MALFORMED
        return caught.value.message

    assert 16 * MiB == MAX_EVENT
    block = b"y" * MiB
    # one endless line, as a broken upstream sends it: refused once the limit is passed, not at the end
    message = refused(SSEDecoder().feed, [b"data: "] + [block] * 17)
    assert message == ("the provider's stream has a line longer than 16777216 bytes; the stream was abandoned")
    assert "a line longer than 16777216" in refused(NDJSONDecoder().feed, [block] * 17)
    # an event of many lines, each small
    small = SSEDecoder(max_event=1000)
    assert "an event longer than 1000" in refused(small.feed, [b"data: " + b"z" * 100 + b"\n"] * 11)
    # a line that arrives whole, in one read
    assert "longer than 1000" in refused(SSEDecoder(max_event=1000).feed, [b"data: " + b"z" * 2000 + b"\n\n"])
    assert "longer than 1000" in refused(NDJSONDecoder(max_event=1000).feed, [b"z" * 2000 + b"\n"])
    # at the limit is fine
    assert SSEDecoder(max_event=1000).feed(b"data: " + b"z" * 994 + b"\n\n") == [(None, b"z" * 994)]
