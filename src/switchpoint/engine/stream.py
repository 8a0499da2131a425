"""A streamed chat generation: fail over until the first output arrives, then relay deltas.

The server drives it: `await start()` (may raise the client's error: nothing was sent yet), iterate
`deltas()` (an UpstreamError here is a mid-stream failure: becomes an error chunk), then
`await finish(...)` exactly once, which prices, settles and records the generation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from ..accounting.budget import Reservation
from ..errors import SwitchpointError, UpstreamError
from ..net.transport import Transport, UpstreamResponse
from ..observability.context import current_scope
from ..plugins import StreamEdit
from ..providers.base import Provider, StreamParser
from ..routing import Candidate
from ..types import ChatRequest, Delta, Usage
from .attempts import Attempts
from .context import Planner, RequestContext, target
from .hedging import race
from .settlement import Settlement


@dataclass(slots=True)
class Opened:
    """An upstream stream read up to its first output (or its end)."""

    response: UpstreamResponse
    parser: StreamParser
    chunks: AsyncIterator[bytes]
    pending: list[Delta]
    ended: bool

    def discard(self) -> None:
        self.response.close()


class ChatStream:
    def __init__(self, planner: Planner, attempts: Attempts, books: Settlement, transport: Transport,
                 request: ChatRequest, ctx: RequestContext) -> None:
        self.planner = planner
        self.attempts = attempts
        self.books = books
        self.transport = transport
        self.request = request
        self.ctx = ctx
        self.record = books.new_record(ctx, request.model, streamed=True)
        self.candidate: Candidate | None = None
        self.reservation: Reservation | None = None
        self.response: UpstreamResponse | None = None
        self.parser: StreamParser | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._pending: list[Delta] = []
        self._ended = False
        self._finished = False
        self.edit: StreamEdit | None = None  # plugins' edits of the answer (annotations, healed JSON)
        self.output_chars = 0
        self.usage: Usage | None = None
        scope = current_scope()
        self.capture = scope.output if scope is not None else None  # output text, for keys that log content

    async def start(self) -> None:
        try:
            planned = await self.planner.admit(self.request, self.ctx, self.record)
            run = await self.planner.run_plugins(self.request, self.ctx, planned, self.record)
        except SwitchpointError:
            self._finished = True
            raise
        open_one: Callable[[ChatRequest, Provider, Candidate, float], Awaitable[Opened]] = self._open
        if run is not None:
            self.request, self.edit, open_one = run.request, run.stream_edit(), run.adapt(self._open)
        try:
            delay = self.planner.hedge_delay(planned)
            if delay is not None and len(planned.candidates) > 1:
                opened, cand, reservation = await race(self.attempts, self.request, self.ctx, planned.candidates,
                                                       self.record, open_one, delay, Opened.discard)
            else:
                opened, cand, reservation = await self.attempts.attempt_all(self.request, self.ctx, planned.candidates,
                                                                     self.record, open_one)
        except SwitchpointError as err:
            self._finished = True
            self.books.finish_failed(self.record, err, self.ctx.started)
            raise
        self.candidate, self.reservation = cand, reservation
        self.response, self.parser, self._chunks = opened.response, opened.parser, opened.chunks
        self._pending, self._ended = opened.pending, opened.ended
        self.record.ttft_ms = (self.attempts.clock() - self.ctx.started) * 1000
        self.books.served(self.record, cand, opened.parser.upstream_id, opened.parser.upstream_model, planned.auto)
        self.planner.served(planned, cand, self.record)

    async def _open(self, request: ChatRequest, provider: Provider, cand: Candidate, timeout: float) -> Opened:
        upstream = provider.build_chat(request, target(cand))
        response = await self.transport.send(upstream, first_byte_timeout=timeout, read_timeout=timeout,
                                                     provider=provider.connection.name)
        if response.status >= 400:
            try:
                body = await response.read()
            finally:
                response.release()
            raise provider.parse_error(response.status, response.headers, body)
        parser = provider.stream_parser(request, target(cand))
        chunks = response.chunks().__aiter__()
        pending: list[Delta] = []
        ended = False
        try:
            while True:  # read until the first output (or the end), so a failure here can still fail over
                try:
                    data = await chunks.__anext__()
                except StopAsyncIteration:
                    pending.extend(parser.close())
                    ended = True
                    break
                deltas = parser.feed(data)
                if parser.pending_error is not None:  # nothing was sent yet: fail over instead
                    raise parser.pending_error
                pending.extend(deltas)
                if any(d.has_output() or d.finish_reason for d in deltas):
                    break
        except BaseException:
            response.close()
            raise
        return Opened(response, parser, chunks, pending, ended)

    async def batches(self) -> AsyncIterator[list[Delta]]:
        """Deltas grouped as they arrived: one list per upstream read, so the server writes each
        group to the client at once instead of one write per delta."""
        pending, self._pending = self._pending, []
        if pending:
            pending = self._deliver(pending)
            if pending:
                yield pending
        if self._chunks is None or self.parser is None:
            return
        if not self._ended:
            parser = self.parser
            try:
                async for data in self._chunks:
                    batch = parser.feed(data)
                    if batch:
                        batch = self._deliver(batch)
                        if batch:
                            yield batch
                batch = parser.close()
            except UpstreamError as err:  # a mid-stream failure: its text goes to the client and the ledger
                raise self.attempts.redactor.error(err) from None
            if batch:
                batch = self._deliver(batch)
                if batch:
                    yield batch
            self._ended = True
        if self.edit is not None:
            rest = self.edit.close()
            if rest:
                yield rest

    def _deliver(self, batch: list[Delta]) -> list[Delta]:
        """The batch counted as the upstream sent it, then as the client gets it (plugins' edits)."""
        self._track(batch)
        return self.edit.batch(batch) if self.edit is not None else batch

    def _track(self, batch: list[Delta]) -> None:
        for delta in batch:
            if delta.content:
                self.output_chars += len(delta.content)
                if self.capture is not None:
                    self.capture.append(delta.content)
            if delta.reasoning:
                self.output_chars += len(delta.reasoning)
            if delta.tool_calls:
                self.output_chars += sum(len(tc.arguments) for tc in delta.tool_calls)
            if delta.finish_reason and delta.index == 0:
                self.record.finish_reason = delta.finish_reason
                self.record.native_finish_reason = delta.native_finish_reason

    async def finish(self, *, error: SwitchpointError | UpstreamError | None = None,
                     cancelled: bool = False) -> Usage:
        """Price, settle and record the generation. Safe to call once; later calls return the usage."""
        if self._finished:
            return self.usage or Usage()
        self._finished = True
        record = self.record
        if self.response is not None:
            if self._ended and error is None and not cancelled:
                self.response.release()
            else:
                self.response.close()  # abandons the upstream request: the provider stops generating
        now = self.attempts.clock()
        record.latency_ms = (now - self.ctx.started) * 1000
        if record.ttft_ms is not None:
            record.generation_ms = record.latency_ms - record.ttft_ms
        if cancelled:
            record.status, record.http_status = "cancelled", 499
            record.error = "client disconnected" if self.candidate is not None else "client disconnected before the first token"
        elif error is not None:
            record.status = "error"
            record.http_status = getattr(error, "status", None) or 502
            record.error = error.message
            record.finish_reason = "error"
            code = error.metadata.get("provider_code") if isinstance(error, SwitchpointError) else None
            if code and record.attempts:  # the served attempt failed mid-stream: keep the provider's code
                record.attempts[-1].update(error=error.message, code=code)
        parser_usage = self.parser.usage if self.parser is not None else None
        usage = parser_usage if parser_usage is not None and self._ended else None
        if usage is None:
            usage = parser_usage or self.books.estimate_usage(self.ctx, self.output_chars)
            if parser_usage is None or not self._ended:
                usage.estimated = True
        self.usage = usage
        if self.candidate is not None:
            await self.books.settle(record, self.candidate, self.reservation, usage, self.ctx)
        else:  # the client left before the first token: recorded, at no cost
            self.books.record_unserved(record)
        return usage


def mid_stream_error(exc: UpstreamError, provider: str) -> SwitchpointError:
    """The client's error for a failure after the stream started. The response is already a 200 and
    nothing can fail over, so the error chunk and the ledger keep the provider's own status (and its
    code, in metadata.provider_code) instead of the failover class a failure before the first byte
    maps to (a mid-stream 402 or 500 is not a 502)."""
    err = exc.to_client_error(provider)
    if exc.status is not None and exc.status >= 400:
        err.status = exc.status
    return err
