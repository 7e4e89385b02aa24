"""An ASGI application around a `Dispatcher`, for uvicorn, hypercorn or any ASGI server, with no
web framework::

    import uvicorn
    from tencent_chat_callbacks import Dispatcher, group
    from tencent_chat_callbacks.asgi import CallbackApp

    dispatcher = Dispatcher(app_id=1400000000, token="secret")

    @dispatcher.on(group.AfterCreateGroup)
    async def created(event: group.AfterCreateGroup, ctx):
        print(event.operator_account, "created", event.group_id)

    uvicorn.run(CallbackApp(dispatcher, path="/callback"), port=8080, access_log=False)

The query string is checked before the body is read: a request that fails authentication (or
comes from a source `allow_sources` does not list), or announces a `Content-Length` over the
limit, is answered at once, with `Connection: close` and without reading the body, so the server
sends no `100 Continue`. The body must arrive within `request_timeout` seconds (408 otherwise).
Besides the dispatcher's own answers, a request with another method than POST gets 405, one to
another path 404. `path` is matched below the scope's `root_path`, so the app works mounted
(Starlette's or FastAPI's `Mount`).

uvicorn sets no timeout on reading headers and logs every URL, `Sign` included, unless
`access_log=False`; `python -m tencent_chat_callbacks serve` (`server.Server`) sets both right.
"""

from __future__ import annotations

import asyncio
import time
import typing as _t

from .dispatcher import Dispatcher, DispatchError, HttpReply, _body_too_large

Scope = _t.MutableMapping[str, _t.Any]
Message = _t.MutableMapping[str, _t.Any]
Receive = _t.Callable[[], _t.Awaitable[Message]]
Send = _t.Callable[[Message], _t.Awaitable[None]]

DEFAULT_REQUEST_TIMEOUT = 10.0
"""How long, in seconds, a client may take to send a body once its headers arrived."""


class CallbackApp:
    """Serves `dispatcher` at `path` (any path when `None`), below the scope's `root_path`."""

    def __init__(self, dispatcher: Dispatcher, *, path: _t.Optional[str] = "/callback", request_timeout: float = DEFAULT_REQUEST_TIMEOUT):
        self.dispatcher = dispatcher
        self.path = path
        self.request_timeout = request_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        path = _relative_path(scope)
        if self.path is not None and path != self.path:
            await _send(send, DispatchError(404, "no callback endpoint here").reply(), close=True)
            return
        if scope["method"] != "POST":
            await _send(send, DispatchError(405, "callbacks are sent with POST").reply(), close=True, allow=True)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client")
        admitted = self.dispatcher.admit(query, source=client[0] if client else None)
        if isinstance(admitted, HttpReply):
            # Answered before the body: the connection is closed, so nothing of the body is read.
            await _send(send, admitted, close=True)
            return
        limit = self.dispatcher.max_body_bytes
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            await _send(send, self.dispatcher.refuse_admitted(admitted, _body_too_large(limit)), close=True)
            return
        body = bytearray()

        async def read() -> _t.Optional[HttpReply]:
            more = True
            while more:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return None
                body.extend(message.get("body", b""))
                more = message.get("more_body", False)
                if len(body) > limit:
                    return self.dispatcher.refuse_admitted(admitted, _body_too_large(limit))
            return HttpReply(0, b"")

        left = max(0.0, self.request_timeout - (time.monotonic() - started))
        try:
            outcome = await asyncio.wait_for(read(), timeout=left)
        except asyncio.TimeoutError:
            error = DispatchError(408, "the request did not arrive in full within the request timeout", reason="request_timeout")
            await _send(send, self.dispatcher.refuse_admitted(admitted, error), close=True)
            return
        if outcome is None:
            return
        if outcome.status:
            await _send(send, outcome, close=True)
            return
        reply = await self.dispatcher.dispatch_admitted_async(admitted, bytes(body))
        await _send(send, reply)


def _relative_path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root: str = scope.get("root_path", "") or ""
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


def _content_length(scope: Scope) -> _t.Optional[int]:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send(send: Send, reply: HttpReply, *, close: bool = False, allow: bool = False) -> None:
    headers = [(b"content-type", reply.content_type.encode()), (b"content-length", str(len(reply.body)).encode())]
    if allow:
        headers.append((b"allow", b"POST"))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


__all__ = ["DEFAULT_REQUEST_TIMEOUT", "CallbackApp"]
