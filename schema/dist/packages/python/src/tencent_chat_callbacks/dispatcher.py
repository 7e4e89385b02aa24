"""The dispatcher: from a raw query string and body to an `HttpReply`, a status and a JSON body,
with no web framework. It makes the same checks, in the same order, with the same statuses, as
the Rust crate's `Dispatcher`:

1. 413 if the body exceeds the limit;
2. 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
3. 403 if `SdkAppid` is not the configured app id;
4. with a token: 401 if `Sign` or `RequestTime` is missing, `RequestTime` is too far from the
   clock, or `Sign` does not match;
5. 400 if the body names another command than the query; otherwise `OK` at once when no handler
   takes the command;
6. 400 if the body is not JSON of the command's type;
7. the handler's answer; 500 if it raises.

Every refusal is `{"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": <why>}`.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import time
import typing as _t
from urllib.parse import parse_qsl

import pydantic

from . import signature
from ._base import Callback, CallbackModel, Decision
from ._commands import CALLBACKS

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""The default largest body accepted: 1 MiB."""

OK_BODY = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'
"""The plain acknowledgement."""

E = _t.TypeVar("E", bound=Callback)


@dataclasses.dataclass(frozen=True)
class HttpReply:
    """The HTTP answer to one callback request, as the Rust crate's `HttpReply`; its body is a
    reply model's JSON (`common.Reply` or a before-callback's `<Type>Reply`)."""

    status: int
    """The HTTP status code."""
    body: bytes
    """The JSON body, in the vendor's format."""

    content_type: _t.ClassVar[str] = "application/json"

    def json(self) -> _t.Any:
        """The body, decoded."""
        return json.loads(self.body)


class DispatchError(Exception):
    """Why a request was refused or failed; `status` is its HTTP status. A handler may raise one
    to refuse a request itself with that status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def reply(self) -> HttpReply:
        """The refusal as an `HttpReply`: its status and a `FAIL` body."""
        body = json.dumps({"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": self.message}, separators=(",", ":"))
        return HttpReply(self.status, body.encode())


_SIGNATURE_ERRORS = {
    "invalid-request-time": "`RequestTime` is not a Unix time in seconds",
    "stale-request-time": "`RequestTime` is too far from this server's clock",
    "bad-signature": "`Sign` does not match the configured token",
}


@dataclasses.dataclass(frozen=True)
class Context:
    """What the request carried besides the typed body."""

    app_id: int
    command: str
    client_ip: _t.Optional[str]
    platform: _t.Optional[str]
    request_time: _t.Optional[int]
    request_id: _t.Optional[str]
    raw_body: bytes


@dataclasses.dataclass(frozen=True)
class UnhandledEvent:
    """A callback no typed handler takes, given to the fallback: its command and decoded body."""

    command: str
    body: _t.Any


Handler = _t.Callable[[E, Context], _t.Any]
"""A handler: called with the typed body and the context; returns `None` (acknowledge or
allow), a `Decision`, or a reply model; may be `async` (then use `dispatch_async`)."""

_QUERY_NAMES = ("SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "Sign", "RequestTime", "RequestID")


def parse_query(query: str) -> _t.Dict[str, str]:
    """The parameters the dispatcher reads, by canonical name; names match without regard to
    ASCII case and others are ignored. Raises `DispatchError` (400) for a repeated parameter."""
    lowered = {name.lower(): name for name in _QUERY_NAMES}
    found: _t.Dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        if "%" in pair or "+" in pair:
            decoded = parse_qsl(pair, keep_blank_values=True, errors="replace")
            name, value = decoded[0] if decoded else ("", "")
        else:
            name, _, value = pair.partition("=")
        canonical = lowered.get(name.lower()) if name.isascii() else None
        if canonical is None:
            continue
        if canonical in found:
            raise DispatchError(400, f"query parameter `{canonical}` appears more than once")
        found[canonical] = value
    return found


def _reject_constant(name: str) -> _t.NoReturn:
    raise ValueError(f"{name} is not JSON")


def _load_json(body: bytes) -> _t.Any:
    """The body as JSON, as strictly as the Rust side reads it: UTF-8, no NaN or Infinity."""
    return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)


def _body_command(body: bytes) -> _t.Optional[str]:
    """The body's own `CallbackCommand`, when it is a JSON object that has one as a string."""
    try:
        value = _load_json(body)
    except ValueError:
        return None
    command = value.get("CallbackCommand") if isinstance(value, dict) else None
    return command if isinstance(command, str) else None


def _check_body_command(command: str, body: bytes) -> None:
    found = _body_command(body)
    if found is not None and found != command:
        raise DispatchError(400, f"the body's CallbackCommand `{found}` differs from the query's `{command}`")


def _decode(model: _t.Type[E], command: str, body: bytes) -> E:
    stripped = body.lstrip(b" \t\r\n")
    if stripped and not stripped.startswith(b"{"):
        raise DispatchError(400, f"the body is not a valid `{command}`: at `.`: expected a JSON object")
    try:
        return model.model_validate(_load_json(body))
    except (ValueError, pydantic.ValidationError) as error:
        _check_body_command(command, body)
        where = "."
        if isinstance(error, pydantic.ValidationError) and error.errors():
            where = ".".join(str(part) for part in error.errors()[0]["loc"]) or "."
        raise DispatchError(400, f"the body is not a valid `{command}`: at `{where}`: {error}") from None


class Dispatcher:
    """Receives callbacks: checks the query string, decodes the body into the command's model,
    calls the handler registered for the command and answers in the vendor's format.

    `app_id` is the app's SDKAppID (`None` accepts any app: for development only); with `token`
    (the one set in the console) every request must be signed. `clock` returns Unix seconds.
    """

    def __init__(
        self,
        *,
        app_id: _t.Optional[int],
        token: _t.Optional[str] = None,
        max_clock_skew: _t.Optional[float] = signature.DEFAULT_MAX_SKEW,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: _t.Callable[[], float] = time.time,
    ):
        if token is not None and not token:
            raise ValueError("the token is empty; leave it unset to turn authentication off")
        self.app_id = app_id
        self.token = token
        self.max_clock_skew = max_clock_skew
        self.max_body_bytes = max_body_bytes
        self.clock = clock
        self._routes: _t.Dict[str, _t.Tuple[_t.Type[Callback], _t.Callable[..., _t.Any]]] = {}
        self._fallback: _t.Optional[_t.Callable[[UnhandledEvent, Context], _t.Any]] = None

    @_t.overload
    def on(self, event: _t.Type[E]) -> _t.Callable[[Handler[E]], Handler[E]]: ...
    @_t.overload
    def on(self, event: _t.Type[E], handler: Handler[E]) -> Handler[E]: ...
    @_t.overload
    def on(self, event: str) -> _t.Callable[[Handler[_t.Any]], Handler[_t.Any]]: ...
    @_t.overload
    def on(self, event: str, handler: Handler[_t.Any]) -> Handler[_t.Any]: ...

    def on(self, event: _t.Any, handler: _t.Any = None) -> _t.Any:
        """Registers `handler` for a command, named by its model (`group.AfterCreateGroup`) or by
        its command string; without `handler`, a decorator."""
        model = _model_of(event)
        if handler is None:
            return lambda h: self.on(model, h)
        if model.COMMAND in self._routes:
            raise ValueError(f"two handlers are registered for `{model.COMMAND}`")
        self._routes[model.COMMAND] = (model, handler)
        return handler

    def fallback(self, handler: _t.Callable[[UnhandledEvent, Context], _t.Any]) -> _t.Callable[[UnhandledEvent, Context], _t.Any]:
        """Registers the handler of every callback no typed handler takes (usable as a decorator)."""
        self._fallback = handler
        return handler

    def dispatch(self, query: str, body: _t.Union[bytes, str]) -> HttpReply:
        """Handles one request: `query` is the raw query string (without `?`), `body` the raw body
        (a `str` is encoded as UTF-8).
        Handlers must be plain functions; an `async` one is answered 500 (use `dispatch_async`)."""
        try:
            prepared = self._prepare(query, body)
            if isinstance(prepared, HttpReply):
                return prepared
            result = prepared()
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise DispatchError(500, "the handler failed: it is async; call `dispatch_async`")
            return _reply(result)
        except DispatchError as error:
            return error.reply()
        except Exception as error:  # noqa: BLE001 - any handler error becomes a 500 reply
            return DispatchError(500, f"the handler failed: {error}").reply()

    async def dispatch_async(self, query: str, body: _t.Union[bytes, str]) -> HttpReply:
        """Like `dispatch`, awaiting handlers that are `async`."""
        try:
            prepared = self._prepare(query, body)
            if isinstance(prepared, HttpReply):
                return prepared
            result = prepared()
            if inspect.isawaitable(result):
                result = await result
            return _reply(result)
        except DispatchError as error:
            return error.reply()
        except Exception as error:  # noqa: BLE001 - any handler error becomes a 500 reply
            return DispatchError(500, f"the handler failed: {error}").reply()

    def _prepare(self, query: str, body: _t.Union[bytes, str]) -> _t.Union[HttpReply, _t.Callable[[], _t.Any]]:
        """Everything up to the handler call: a reply, or the call to make."""
        if isinstance(body, str):
            body = body.encode()
        if len(body) > self.max_body_bytes:
            raise DispatchError(413, f"the body is larger than the limit of {self.max_body_bytes} bytes")
        params = parse_query(query)
        if "SdkAppid" not in params:
            raise DispatchError(400, "missing query parameter `SdkAppid`")
        app_id = signature.parse_request_time(params["SdkAppid"])
        if app_id is None:
            raise DispatchError(400, f"query parameter `SdkAppid` is invalid: `{params['SdkAppid']}` is not a number")
        if self.app_id is not None and app_id != self.app_id:
            raise DispatchError(403, f"SdkAppid `{app_id}` is not this app's")
        if self.token is not None:
            if "Sign" not in params or "RequestTime" not in params:
                raise DispatchError(401, "missing `Sign` or `RequestTime`: this endpoint requires webhook authentication")
            why = signature.check(
                self.token, params["RequestTime"], params["Sign"], now=self.clock(), max_skew=self.max_clock_skew
            )
            if why is not None:
                raise DispatchError(401, _SIGNATURE_ERRORS[why])
        if "CallbackCommand" not in params:
            raise DispatchError(400, "missing query parameter `CallbackCommand`")
        command = params["CallbackCommand"]

        route = self._routes.get(command)
        if route is None and self._fallback is None:
            # Even unhandled, a body of another command is refused, never acknowledged.
            _check_body_command(command, body)
            return HttpReply(200, OK_BODY)
        request_time = params.get("RequestTime")
        ctx = Context(
            app_id=app_id,
            command=command,
            client_ip=params.get("ClientIP"),
            platform=params.get("OptPlatform"),
            request_time=signature.parse_request_time(request_time) if request_time is not None else None,
            request_id=params.get("RequestID"),
            raw_body=body,
        )
        if route is not None:
            model, handler = route
            event = _decode(model, command, body)
            return lambda: handler(event, ctx)
        try:
            value = _load_json(body)
        except ValueError as error:
            raise DispatchError(400, f"the body is not a valid `{command}`: at `.`: {error}") from None
        _check_body_command(command, body)
        fallback = self._fallback
        assert fallback is not None
        return lambda: fallback(UnhandledEvent(command, value), ctx)


def _model_of(event: _t.Any) -> _t.Type[Callback]:
    if isinstance(event, type) and issubclass(event, Callback):
        return event
    if isinstance(event, str):
        if event in CALLBACKS:
            return CALLBACKS[event]
        close = difflib.get_close_matches(event, list(CALLBACKS), n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        raise ValueError(f"unknown command `{event}`{hint}")
    raise TypeError(f"expected a callback model or a command, not {event!r}")


def _reply(result: _t.Any) -> HttpReply:
    if result is None:
        return HttpReply(200, OK_BODY)
    if isinstance(result, Decision):
        return HttpReply(200, result.to_reply().to_json())
    if isinstance(result, CallbackModel):
        return HttpReply(200, result.to_json())
    raise DispatchError(500, f"the handler failed: it returned {type(result).__name__}, not None, a Decision or a reply model")
