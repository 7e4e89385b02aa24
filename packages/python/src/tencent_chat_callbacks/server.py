"""`Server`: a `Dispatcher` on a socket, with the limits a public endpoint needs and a graceful
shutdown, as the Rust crate's `axum::Server`: asyncio streams and h11's HTTP/1.1 parser, so each
limit is the package's own rather than a general server's defaults.

- Headers must arrive within `header_timeout` (also how long an idle keep-alive connection is
  kept); a whole request, headers and body however framed, within `request_timeout`. A request
  past it is answered 408 and its connection closed.
- The query string (and the source address) is checked before the body is read: a refusal is
  sent at once with `Connection: close`, without a `100 Continue`; so is a `Content-Length` over
  the limit (413), and a body that grows past it while read.
- Behind a proxy listed in `trust_forwarded_for` (CIDR strings), a request's source is the
  address the proxy appended to `X-Forwarded-For` (the rightmost one not itself a trusted
  proxy); from anywhere else the header is ignored, so it cannot be used to pass the allow-list.
- At most `max_connections` connections are open, `max_connections_per_source` from one address;
  more are closed as soon as accepted, so slow or idle connections from one address cannot crowd
  out another's.
- Nothing is logged per request but the dispatcher's refusals and failures (no access log: the
  query string carries `Sign`).
- `serve` stops on SIGTERM or SIGINT: the listener closes, idle connections are closed, requests
  in flight finish, then handlers still running past their deadline get the rest of
  `drain_timeout` before they are dead-lettered with reason `shutdown` (`Dispatcher.drain`).
"""

from __future__ import annotations

import asyncio
import collections
import http
import ipaddress
import signal
import time
import typing as _t

import h11

from ._log import LOGGER, RefusalLimiter
from .dispatcher import Admitted, Dispatcher, DispatchError, HttpReply, _body_too_large

DEFAULT_HEADER_TIMEOUT = 10.0
"""How long, in seconds, a client may take to send a request's headers, or stay idle between requests."""
DEFAULT_REQUEST_TIMEOUT = 10.0
"""How long, in seconds, a client may take to send a whole request, headers and body."""
DEFAULT_MAX_CONNECTIONS = 4096
"""How many connections are served at once."""
DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 256
"""How many connections one source address may hold open."""
DEFAULT_DRAIN_TIMEOUT = 30.0
"""How long, in seconds, a shutdown waits for requests and handlers to finish."""

_KNOWN_STATUSES = {s.value for s in http.HTTPStatus}
_MAX_HEAD_BYTES = 16 * 1024
_READ_SIZE = 64 * 1024


def _stop_on_signal(signum: int, stop: asyncio.Event) -> None:
    LOGGER.info("%s received", signal.Signals(signum).name)
    stop.set()


class _Closed(Exception):
    """The connection is done: the peer left, or it was answered and must close."""


class Server:
    """Serves `dispatcher` at `path` over HTTP/1.1 until stopped; see the module's documentation."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        *,
        path: str = "/callback",
        header_timeout: float = DEFAULT_HEADER_TIMEOUT,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_connections_per_source: int = DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
        drain_timeout: float = DEFAULT_DRAIN_TIMEOUT,
        trust_forwarded_for: _t.Optional[_t.Iterable[str]] = None,
    ):
        self.dispatcher = dispatcher
        self.trust_forwarded_for = [ipaddress.ip_network(n, strict=False) for n in trust_forwarded_for or ()]
        self.path = path
        self.header_timeout = header_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.max_connections_per_source = max_connections_per_source
        self.drain_timeout = drain_timeout
        self._per_source: _t.Dict[str, int] = collections.Counter()
        self._open = 0
        self._busy: _t.Set["asyncio.Task[None]"] = set()
        self._idle: _t.Dict["asyncio.Task[None]", asyncio.StreamWriter] = {}
        self._stopping = False
        self._refusals = RefusalLimiter(10, 1.0)

    async def serve(self, host: str, port: int, *, stop: _t.Optional[asyncio.Event] = None, ready: _t.Optional[_t.Callable[[str, int], None]] = None) -> None:
        """Serves until `stop` is set, or (without `stop`) until SIGTERM or SIGINT, then drains."""
        loop = asyncio.get_running_loop()
        if stop is None:
            stop = asyncio.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, _stop_on_signal, signum, stop)
        server = await asyncio.start_server(self._connection, host, port, limit=_READ_SIZE, backlog=1024)
        address = server.sockets[0].getsockname()
        if ready is not None:
            ready(address[0], address[1])
        await stop.wait()
        started = time.monotonic()
        self._stopping = True
        server.close()
        LOGGER.info("shutting down: no new connections; finishing requests in flight")
        for writer in list(self._idle.values()):
            writer.close()
        busy = set(self._busy)
        if busy:
            _, pending = await asyncio.wait(busy, timeout=self.drain_timeout)
            if pending:
                LOGGER.warning("requests still in flight at the drain timeout were cut off")
                for task in pending:
                    task.cancel()
        late = self.dispatcher.handlers_past_deadline
        if late:
            LOGGER.info("waiting for %d handler(s) still running past their deadline", late)
        abandoned = await self.dispatcher.drain(max(0.0, self.drain_timeout - (time.monotonic() - started)))
        LOGGER.info("shut down (%d handler(s) abandoned)", abandoned)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if peer else "-"
        if self._stopping or self._open >= self.max_connections or self._per_source[source] >= self.max_connections_per_source:
            if self._refusals.admit() is not None:
                LOGGER.warning("connection limit reached; closing a new connection (source %s)", source)
            writer.close()
            return
        self._open += 1
        self._per_source[source] += 1
        task = asyncio.current_task()
        assert task is not None
        try:
            await self._serve_connection(reader, writer, source, task)
        except (_Closed, ConnectionError, h11.RemoteProtocolError, asyncio.IncompleteReadError):
            pass
        finally:
            self._busy.discard(task)
            self._idle.pop(task, None)
            self._open -= 1
            self._per_source[source] -= 1
            if self._per_source[source] <= 0:
                del self._per_source[source]
            writer.close()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str, task: "asyncio.Task[None]") -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD_BYTES)
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._idle[task] = writer
            started = loop.time()
            head_deadline = started + min(self.header_timeout, self.request_timeout)
            try:
                event = await self._next_event(conn, reader, head_deadline, idle=True)
            except asyncio.TimeoutError:
                if conn.their_state is h11.IDLE and not conn.trailing_data[0]:
                    raise _Closed from None  # an idle keep-alive connection: closed quietly
                await self._send(conn, writer, DispatchError(408, "the request headers did not arrive in time").reply(), close=True)
                raise _Closed from None
            self._idle.pop(task, None)
            self._busy.add(task)
            if not isinstance(event, h11.Request):
                raise _Closed
            reply, close = await self._handle(conn, reader, writer, event, source, started + self.request_timeout)
            await self._send(conn, writer, reply, close=close or self._stopping)
            self._busy.discard(task)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                raise _Closed
            conn.start_next_cycle()

    async def _handle(
        self, conn: h11.Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: h11.Request, source: str, deadline: float
    ) -> _t.Tuple[HttpReply, bool]:
        """The reply to one request, and whether the connection must close after it."""
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        if path != self.path:
            return DispatchError(404, "no callback endpoint here").reply(), True
        if request.method != b"POST":
            return DispatchError(405, "callbacks are sent with POST").reply(), True
        headers = {name.lower(): value for name, value in request.headers}
        forwarded = headers.get(b"x-forwarded-for")
        if forwarded is not None and self.trust_forwarded_for:
            source = forwarded_source(source, forwarded.decode("latin-1"), self.trust_forwarded_for)
        admitted = self.dispatcher.admit(query, source=source)
        if isinstance(admitted, HttpReply):
            return admitted, True
        limit = self.dispatcher.max_body_bytes
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return self.dispatcher.refuse_admitted(admitted, _body_too_large(limit)), True
        if headers.get(b"expect", b"").lower() == b"100-continue":
            # Only now, with the request admitted, is the client told to send its body.
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            await writer.drain()
        body = await self._body(conn, reader, admitted, limit, deadline)
        if isinstance(body, HttpReply):
            return body, True
        return await self.dispatcher.dispatch_admitted_async(admitted, body), False

    async def _body(self, conn: h11.Connection, reader: asyncio.StreamReader, admitted: Admitted, limit: int, deadline: float) -> _t.Union[bytes, HttpReply]:
        chunks = bytearray()
        while True:
            try:
                event = await self._next_event(conn, reader, deadline, idle=False)
            except asyncio.TimeoutError:
                error = DispatchError(408, "the request did not arrive in full within the request timeout", reason="request_timeout")
                return self.dispatcher.refuse_admitted(admitted, error)
            if isinstance(event, h11.Data):
                chunks.extend(event.data)
                if len(chunks) > limit:
                    return self.dispatcher.refuse_admitted(admitted, _body_too_large(limit))
            elif isinstance(event, h11.EndOfMessage):
                return bytes(chunks)
            else:
                raise _Closed

    async def _next_event(self, conn: h11.Connection, reader: asyncio.StreamReader, deadline: float, *, idle: bool) -> _t.Any:
        loop = asyncio.get_running_loop()
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                left = deadline - loop.time()
                if left <= 0:
                    raise asyncio.TimeoutError
                data = await asyncio.wait_for(reader.read(_READ_SIZE), timeout=left)
                conn.receive_data(data)
                continue
            if event is h11.PAUSED or isinstance(event, h11.ConnectionClosed):
                raise _Closed
            return event

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, reply: HttpReply, *, close: bool) -> None:
        headers = [("content-type", reply.content_type), ("content-length", str(len(reply.body)))]
        if reply.status == 405:
            headers.append(("allow", "POST"))
        if close:
            headers.append(("connection", "close"))
        try:
            phrase = http.HTTPStatus(reply.status).phrase.encode() if reply.status in _KNOWN_STATUSES else b""
            data = conn.send(h11.Response(status_code=reply.status, headers=headers, reason=phrase)) or b""
            data += conn.send(h11.Data(data=reply.body)) or b""
            data += conn.send(h11.EndOfMessage()) or b""
        except h11.LocalProtocolError:
            raise _Closed from None
        writer.write(data)
        await writer.drain()


def _trusted(address: str, proxies: _t.Sequence[_t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == network.version and ip in network for network in proxies)


def forwarded_source(
    peer: str, forwarded_for: str, proxies: _t.Sequence[_t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]]
) -> str:
    """The client's address: `peer`, unless `peer` is a trusted proxy; then the rightmost entry of
    `X-Forwarded-For` that is not a trusted proxy (entries left of it could be forged by the client)."""
    if not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


__all__ = [
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_MAX_CONNECTIONS_PER_SOURCE",
    "DEFAULT_REQUEST_TIMEOUT",
    "Server",
    "forwarded_source",
]
