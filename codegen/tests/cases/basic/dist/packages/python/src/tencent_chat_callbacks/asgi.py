"""An ASGI application around a `Dispatcher`, for uvicorn, hypercorn or any ASGI server, with no
web framework::

    import uvicorn
    from tencent_chat_callbacks import Dispatcher, group
    from tencent_chat_callbacks.asgi import CallbackApp

    dispatcher = Dispatcher(app_id=1400000000, token="secret")

    @dispatcher.on(group.AfterCreateGroup)
    async def created(event: group.AfterCreateGroup, ctx):
        print(event.operator_account, "created", event.group_id)

    uvicorn.run(CallbackApp(dispatcher, path="/callback"), port=8080)

Besides the dispatcher's own answers, a request with another method than POST gets 405, one to
another path 404, and a body past the dispatcher's limit 413 (read no further).
"""

from __future__ import annotations

import typing as _t

from .dispatcher import Dispatcher, DispatchError, HttpReply

Scope = _t.MutableMapping[str, _t.Any]
Message = _t.MutableMapping[str, _t.Any]
Receive = _t.Callable[[], _t.Awaitable[Message]]
Send = _t.Callable[[Message], _t.Awaitable[None]]


class CallbackApp:
    """Serves `dispatcher` at `path` (any path when `None`)."""

    def __init__(self, dispatcher: Dispatcher, *, path: _t.Optional[str] = "/callback"):
        self.dispatcher = dispatcher
        self.path = path

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
        if self.path is not None and scope["path"] != self.path:
            await _send(send, DispatchError(404, f"no callback endpoint at `{scope['path']}`").reply())
            return
        if scope["method"] != "POST":
            await _send(send, DispatchError(405, "callbacks are POST requests").reply(), allow=True)
            return
        body = bytearray()
        limit = self.dispatcher.max_body_bytes
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await _send(send, DispatchError(413, f"the body is larger than the limit of {limit} bytes").reply())
                return
        query = scope.get("query_string", b"").decode("latin-1")
        reply = await self.dispatcher.dispatch_async(query, bytes(body))
        await _send(send, reply)


async def _send(send: Send, reply: HttpReply, *, allow: bool = False) -> None:
    headers = [(b"content-type", reply.content_type.encode()), (b"content-length", str(len(reply.body)).encode())]
    if allow:
        headers.append((b"allow", b"POST"))
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


__all__ = ["CallbackApp"]
