"""The dispatcher: from a raw query string and body to an `HttpReply`, a status and a JSON body,
with no web framework. It makes the same checks, in the same order, with the same statuses and
answers, as the Rust crate's `Dispatcher`:

1. 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
2. 403 if the request's source is not in `allow_sources`, or `SdkAppid` is not the app id;
3. with a token: 401 if `Sign` or `RequestTime` is missing, `RequestTime` is too far from the
   clock, or `Sign` does not match;
4. 413 if the body exceeds the limit; 503 if `max_in_flight` requests are already being handled;
5. 400 if the body names another command than the query; otherwise `OK` at once when no handler
   takes the command;
6. 400 if the body is not JSON of the command's type (a `Push.*` batch keeps its good events:
   the bad ones are dead-lettered one by one);
7. the handler's answer; 500 if it raises, with a generic `ErrorInfo` naming the request id (the
   exception goes to the log); a handler still running at `handler_deadline` is answered
   without (`OK` for an after-callback, which goes on to finish).

Steps 1 to 3 read only the query string (`Dispatcher.admit`), so a server refuses a forged
request before reading its body. For a before-callback every failure is answered by the
`FailurePolicy` (by default, the status above, which the vendor treats by its console policy).
Every authenticated request that fails after step 3 is written to the dead-letter sink, if one is
set, with its raw body. Refusals are logged (escaped, clipped; those of strangers rate-limited)
to the `tencent_chat_callbacks` logger.

Every refusal is `{"ActionStatus": "FAIL", "ErrorCode": 1, "ErrorInfo": <why>}`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import difflib
import inspect
import ipaddress
import itertools
import json
import os
import threading
import time
import typing as _t
from urllib.parse import parse_qsl

import pydantic

from . import signature
from ._base import Callback, CallbackModel, Decision
from ._batch import RejectedItem, decode_partially
from ._commands import CALLBACKS
from ._log import LOGGER, RefusalLimiter, clip
from .dead_letter import DeadLetter, DeadLetterSink
from .policy import FailurePolicy

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""The default largest body accepted: 1 MiB."""

DEFAULT_MAX_IN_FLIGHT = 1024
"""The default number of requests handled at once; past it, requests are shed at once (503, or
the failure policy for a before-callback) instead of queueing past the vendor's 2 s."""

DEFAULT_HANDLER_DEADLINE = 1.5
"""The default time, in seconds, a handler gets before the dispatcher answers without it: inside
the 2 s the vendor waits, leaving room for the network."""

MAX_JSON_DEPTH = 128
"""JSON decoded as a value (a fallback's body, the content of a union member this version does not
know) nested this deep is refused (400), as the Rust decoder's recursion limit does; fields the
models do not declare are not counted, as Rust skips them."""

OK_BODY = b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}'
"""The plain acknowledgement."""

E = _t.TypeVar("E", bound=Callback)

_REFUSAL_LOG_LINES_PER_SECOND = 20


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


def _reply_body(action_status: str, error_code: int, info: str) -> bytes:
    return json.dumps(
        {"ActionStatus": action_status, "ErrorCode": error_code, "ErrorInfo": info},
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class DispatchError(Exception):
    """Why a request was refused or failed; `status` is its HTTP status. A handler may raise one
    to refuse a request itself with that status."""

    def __init__(self, status: int, message: str, *, reason: _t.Optional[str] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or ("undecodable" if status == 400 else "handler_failed" if status >= 500 else "refused")
        """Why, as counted and dead-lettered: `refused`, `undecodable`, `handler_failed`, ..."""

    def reply(self) -> HttpReply:
        """The refusal as an `HttpReply`: its status and a `FAIL` body."""
        return HttpReply(self.status, _reply_body("FAIL", 1, self.message))


class Refusal(DispatchError):
    """What a handler raises to refuse a request itself, rather than fail on it.

    Any other exception is a failure: the app could not handle a genuine event, so it is logged,
    dead-lettered (`handler_failed`) and answered by the failure policy. A refusal says the body is
    at fault, or that the handler leaves the answer to the policy on purpose:
    `Refusal.invalid_body(command, message)` is answered 400 (or by the policy, for a
    before-callback), logged and dead-lettered as `undecodable`, as a body that does not decode
    is; `Refusal.undecided()` is answered by the policy and neither logged nor dead-lettered. An
    after-callback has no policy to leave it to: left undecided, it is a failure, since the vendor
    would not send the event again."""

    @classmethod
    def invalid_body(cls, command: str, message: str) -> Refusal:
        """A body that is not a `command` event, for the reason given as `message` (400)."""
        return cls(400, _invalid_body(command, ".", message).message, reason="undecodable")

    @classmethod
    def undecided(cls) -> Refusal:
        """A before-callback left to the failure policy on purpose (503 under `vendor`)."""
        return cls(503, "the handler left this callback to the failure policy", reason="undecided")


_KEEPS_NO_BODY = frozenset({"body_too_large", "undecided"})
"""Failures whose body is not dead-lettered, as the Rust crate's `Reason::keeps_body` says: one
too large to have been read, and a before-callback the handler left to the policy on purpose."""


def _body_too_large(limit: int) -> DispatchError:
    return DispatchError(413, f"the body is larger than the limit of {limit} bytes", reason="body_too_large")


def _invalid_body(command: str, path: str, message: str) -> DispatchError:
    return DispatchError(400, f"the body is not a valid `{clip(command)}`: at `{clip(path)}`: {clip(message)}", reason="undecodable")


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
allow), a `Decision`, or a reply model; may be `async`."""

_QUERY_NAMES = ("SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "Sign", "RequestTime", "RequestID")
_LOWERED = {name.lower(): name for name in _QUERY_NAMES}


def _parse_query(query: str) -> _t.Tuple[_t.Dict[str, str], _t.Optional[str]]:
    """The parameters the dispatcher reads, by canonical name (matched without regard to ASCII
    case; others ignored), and the first one that appears more than once."""
    found: _t.Dict[str, str] = {}
    repeated: _t.Optional[str] = None
    for pair in query.split("&"):
        if not pair:
            continue
        if "%" in pair or "+" in pair:
            decoded = parse_qsl(pair, keep_blank_values=True, errors="replace")
            name, value = decoded[0] if decoded else ("", "")
        else:
            name, _, value = pair.partition("=")
        canonical = _LOWERED.get(name.lower()) if name.isascii() else None
        if canonical is None:
            continue
        if canonical in found:
            repeated = repeated or canonical
            continue
        found[canonical] = value
    return found, repeated


def parse_query(query: str) -> _t.Dict[str, str]:
    """The parameters the dispatcher reads, by canonical name; names match without regard to
    ASCII case and others are ignored. Raises `DispatchError` (400) for a repeated parameter."""
    found, repeated = _parse_query(query)
    if repeated is not None:
        raise DispatchError(400, f"query parameter `{repeated}` appears more than once", reason="refused")
    return found


def _reject_constant(name: str) -> _t.NoReturn:
    raise ValueError(f"{name} is not JSON")


def _too_deep(body: bytes) -> bool:
    """Whether arrays and objects nest `MAX_JSON_DEPTH` deep (brackets inside strings not counted)."""
    if body.count(b"[") + body.count(b"{") < MAX_JSON_DEPTH:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth >= MAX_JSON_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _load_json(body: bytes, *, as_value: bool = False) -> _t.Any:
    """The body as JSON, as strictly as the Rust side reads it: UTF-8, no NaN or Infinity (and,
    `as_value`, not nested past `MAX_JSON_DEPTH`). Raises `ValueError`."""
    if as_value and _too_deep(body):
        raise ValueError("recursion limit exceeded")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("recursion limit exceeded") from None


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
        raise DispatchError(
            400, f"the body's CallbackCommand `{clip(found)}` differs from the query's `{clip(command)}`", reason="command_mismatch"
        )


def _describe(error: pydantic.ValidationError, value: _t.Any) -> str:
    """The first problem of `error` on one line, as `at `<path>`: <what>`, the path written as the
    Rust crate writes it (`MsgBody[0].MsgContent.Text`, `.` for the whole body); no input is quoted."""
    return "at `{}`: {}".format(*_where(error, value))


def _where(error: pydantic.ValidationError, value: _t.Any) -> _t.Tuple[str, str]:
    details = error.errors(include_url=False, include_input=False)
    if not details:
        return ".", "invalid"
    first = details[0]
    path = ""
    here = value
    for part in first["loc"]:
        # pydantic's location goes on through union members and validators; like Rust's, the
        # path stops there (inside a tagged union, at the element).
        if isinstance(here, dict) and isinstance(part, str) and part in here:
            path += f".{part}" if path else part
            here = here[part]
        elif isinstance(here, list) and isinstance(part, int) and 0 <= part < len(here):
            path += f"[{part}]"
            here = here[part]
        else:
            break
    if first["type"] == "missing":
        name = first["loc"][-1] if first["loc"] else "?"
        return path or ".", f"missing field `{name}`"
    return path or ".", str(first["msg"]).splitlines()[0]


def _decode(model: _t.Type[E], command: str, body: bytes) -> _t.Tuple[E, _t.List[RejectedItem]]:
    stripped = body.lstrip(b" \t\r\n")
    if stripped and not stripped.startswith(b"{"):
        raise _invalid_body(command, ".", "expected a JSON object")
    try:
        value = _load_json(body)
    except ValueError as error:
        raise _invalid_body(command, ".", str(error).splitlines()[0]) from None
    try:
        event = model.model_validate(value)
    except pydantic.ValidationError as error:
        _check_body_command(command, body)
        partial = decode_partially(model, value, _describe)
        if partial is not None:
            return partial
        path, message = _where(error, value)
        raise _invalid_body(command, path, message) from None
    if _kept_too_deep(event):
        raise _invalid_body(command, ".", "recursion limit exceeded")
    return event, []


def _kept_too_deep(event: CallbackModel) -> bool:
    """Whether JSON kept as it is (the content of an unknown union member) reaches `MAX_JSON_DEPTH`,
    counted from the root of the body as Rust's decoder counts it."""
    stack: _t.List[_t.Tuple[_t.Any, int]] = [(event, 1)]
    while stack:
        value, depth = stack.pop()
        if depth >= MAX_JSON_DEPTH and isinstance(value, (dict, list, CallbackModel)):
            return True
        if isinstance(value, CallbackModel):
            # Declared fields only: Rust skips the others without decoding them.
            stack.extend((getattr(value, name), depth + 1) for name in type(value).model_fields)
        elif isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return False


@dataclasses.dataclass
class _Head:
    """What the query string says about a request, and when it arrived."""

    app_id: int
    command: str
    client_ip: _t.Optional[str]
    platform: _t.Optional[str]
    request_time: _t.Optional[int]
    request_id: _t.Optional[str]
    received_at: float
    started: float
    local_id: _t.Optional[str] = None

    def kind(self) -> _t.Optional[str]:
        model = CALLBACKS.get(self.command)
        return model.KIND if model is not None else None


@dataclasses.dataclass(frozen=True)
class Admitted:
    """A request whose query string passed every check of `Dispatcher.admit`."""

    head: _Head

    @property
    def command(self) -> str:
        """`CallbackCommand`, as sent."""
        return self.head.command


class _Late:
    """Handlers that outlived their deadline, tracked so `drain` can wait for them and
    dead-letter the ones it abandons."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running: _t.Dict[_t.Any, DeadLetter] = {}

    def add(self, future: _t.Any, letter: DeadLetter) -> None:
        with self._lock:
            self.running[future] = letter

    def remove(self, future: _t.Any) -> None:
        with self._lock:
            self.running.pop(future, None)

    def take_all(self) -> _t.Dict[_t.Any, DeadLetter]:
        with self._lock:
            running, self.running = self.running, {}
            return running


def _run_to_completion(call: _t.Callable[[], _t.Any]) -> _t.Any:
    """Calls a handler on a worker thread; an `async` one runs on an event loop of its own there."""
    result = call()
    if inspect.isawaitable(result):

        async def wait() -> _t.Any:
            return await result

        return asyncio.run(wait())
    return result


def _is_async(handler: _t.Any) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(getattr(handler, "__call__", None))


Network = _t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class Dispatcher:
    """Receives callbacks: checks the query string, decodes the body into the command's model,
    calls the handler registered for the command and answers in the vendor's format.

    `app_id` is the app's SDKAppID (`None` accepts any app: for development only); with `token`
    (the one set in the console) every request must be signed. `clock` returns Unix seconds.
    `on_failure` is the `FailurePolicy` of every before-callback, `on_failure_of` overrides it
    per command; `dead_letters` is a sink (`JsonLinesSink`) for authenticated requests that could
    not be handled; `allow_sources` lists the networks requests may come from (CIDR strings),
    checked against the `source` a server passes to `admit`. `handler_deadline` (seconds; `None`
    for none) bounds how long a handler runs before the request is answered without it: for it,
    `dispatch` runs handlers on worker threads and `dispatch_async` runs plain functions there.
    """

    def __init__(
        self,
        *,
        app_id: _t.Optional[int],
        token: _t.Optional[str] = None,
        max_clock_skew: _t.Optional[float] = signature.DEFAULT_MAX_SKEW,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        handler_deadline: _t.Optional[float] = DEFAULT_HANDLER_DEADLINE,
        on_failure: _t.Union[FailurePolicy, str] = FailurePolicy.VENDOR,
        on_failure_of: _t.Optional[_t.Mapping[str, _t.Union[FailurePolicy, str]]] = None,
        dead_letters: _t.Optional[DeadLetterSink] = None,
        allow_sources: _t.Optional[_t.Iterable[str]] = None,
        clock: _t.Callable[[], float] = time.time,
    ):
        if token is not None and not token:
            raise ValueError("the token is empty; leave it unset to turn authentication off")
        self.app_id = app_id
        self.token = token
        self.max_clock_skew = max_clock_skew
        self.max_body_bytes = max_body_bytes
        self.max_in_flight = max_in_flight
        self.handler_deadline = handler_deadline
        self.on_failure = FailurePolicy.parse(on_failure)
        self.on_failure_of: _t.Dict[str, FailurePolicy] = {}
        for command, policy in (on_failure_of or {}).items():
            model = CALLBACKS.get(command)
            if model is None or model.KIND != "before":
                raise ValueError(f"`{clip(command)}` is not a before-callback; a failure policy applies only to before-callbacks")
            self.on_failure_of[command] = FailurePolicy.parse(policy)
        self.dead_letters = dead_letters
        self.allow_sources: _t.Optional[_t.List[Network]] = (
            None if allow_sources is None else [ipaddress.ip_network(s, strict=False) for s in allow_sources]
        )
        self.clock = clock
        self._routes: _t.Dict[str, _t.Tuple[_t.Type[Callback], _t.Callable[..., _t.Any]]] = {}
        self._fallback: _t.Optional[_t.Callable[[UnhandledEvent, Context], _t.Any]] = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._refusals = RefusalLimiter(_REFUSAL_LOG_LINES_PER_SECOND, 1.0)
        self._losses = RefusalLimiter(_REFUSAL_LOG_LINES_PER_SECOND, 1.0)
        self._ids = itertools.count()
        self._late = _Late()
        self._executor: _t.Optional[concurrent.futures.ThreadPoolExecutor] = None
        if token is None:
            LOGGER.warning(
                "no webhook token is set: any client that knows the URL can post callbacks and decide "
                "before-callbacks; set the token configured in the console"
            )
        if app_id is None:
            LOGGER.warning("callbacks for ANY SdkAppid are accepted; set the app id in production")
        if dead_letters is None:
            LOGGER.warning("no dead-letter sink is set: callbacks that fail are only logged, not kept")

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

    # -- the two steps: the query string, then the body --------------------------------------

    def admit(self, query: str, *, source: _t.Optional[str] = None) -> _t.Union[Admitted, HttpReply]:
        """Checks a request's query string alone (and its source address, with `allow_sources`):
        a server calls this before reading the body, so a forged request never gets its body read
        (nor a `100 Continue`), then `dispatch_admitted`. Returns the refusal as an `HttpReply`."""
        params, repeated = _parse_query(query)
        command = params.get("CallbackCommand") if repeated != "CallbackCommand" else None

        def refuse(error: DispatchError) -> HttpReply:
            return self._refuse_unauthenticated(command, params, error)

        if self.allow_sources is not None and not _source_allowed(source, self.allow_sources):
            return refuse(DispatchError(403, f"the source `{clip(source or '-')}` is not allowed", reason="refused"))
        if repeated is not None:
            return refuse(DispatchError(400, f"query parameter `{repeated}` appears more than once", reason="refused"))
        if "SdkAppid" not in params:
            return refuse(DispatchError(400, "missing query parameter `SdkAppid`", reason="refused"))
        app_id = signature.parse_request_time(params["SdkAppid"])
        if app_id is None:
            return refuse(
                DispatchError(400, f"query parameter `SdkAppid` is invalid: `{clip(params['SdkAppid'])}` is not a number", reason="refused")
            )
        if self.app_id is not None and app_id != self.app_id:
            return refuse(DispatchError(403, f"SdkAppid `{app_id}` is not this app's", reason="refused"))
        now = self.clock()
        if self.token is not None:
            if "Sign" not in params or "RequestTime" not in params:
                return refuse(
                    DispatchError(401, "missing `Sign` or `RequestTime`: this endpoint requires webhook authentication", reason="refused")
                )
            why = _signature_problem(self.token, params["RequestTime"], params["Sign"], now, self.max_clock_skew)
            if why is not None:
                return refuse(DispatchError(401, why, reason="refused"))
        if command is None:
            return refuse(DispatchError(400, "missing query parameter `CallbackCommand`", reason="refused"))
        request_time = params.get("RequestTime")
        return Admitted(
            _Head(
                app_id=app_id,
                command=command,
                client_ip=params.get("ClientIP"),
                platform=params.get("OptPlatform"),
                request_time=signature.parse_request_time(request_time) if request_time is not None else None,
                request_id=params.get("RequestID"),
                received_at=now,
                started=time.monotonic(),
            )
        )

    def refuse_admitted(self, admitted: Admitted, error: DispatchError) -> HttpReply:
        """Answers an admitted request whose body could not be read: too large, cut off, too slow."""
        return self._fail(admitted.head, error, None)

    def dispatch(self, query: str, body: _t.Union[bytes, str], *, source: _t.Optional[str] = None) -> HttpReply:
        """Handles one request: `query` is the raw query string (without `?`), `body` the raw body
        (a `str` is encoded as UTF-8). Never raises, whatever the input or the handler does."""
        admitted = self.admit(query, source=source)
        if isinstance(admitted, HttpReply):
            return admitted
        return self.dispatch_admitted(admitted, body)

    async def dispatch_async(self, query: str, body: _t.Union[bytes, str], *, source: _t.Optional[str] = None) -> HttpReply:
        """Like `dispatch`, awaiting `async` handlers on the running loop."""
        admitted = self.admit(query, source=source)
        if isinstance(admitted, HttpReply):
            return admitted
        return await self.dispatch_admitted_async(admitted, body)

    def dispatch_admitted(self, admitted: Admitted, body: _t.Union[bytes, str]) -> HttpReply:
        """Handles the body of a request that `admit` let in (handlers on a worker thread when a
        deadline is set, so it can be kept)."""
        head = admitted.head
        raw = body.encode() if isinstance(body, str) else bytes(body)
        shed = self._take_slot(head, raw)
        if shed is not None:
            return shed
        try:
            try:
                call = self._start(head, raw)
            except DispatchError as error:
                return self._fail(head, error, raw)
            if isinstance(call, HttpReply):
                return call
            if self.handler_deadline is None:
                return self._outcome(head, raw, lambda: _run_to_completion(call))
            future = self._pool().submit(_run_to_completion, call)
            left = max(0.0, self.handler_deadline - (time.monotonic() - head.started))
            try:
                future.result(timeout=left)
            except concurrent.futures.TimeoutError:
                return self._deadline_missed(head, raw, future)
            except BaseException:  # noqa: BLE001 - the outcome below reports it
                pass
            return self._outcome(head, raw, future.result)
        finally:
            self._give_back_slot()

    async def dispatch_admitted_async(self, admitted: Admitted, body: _t.Union[bytes, str]) -> HttpReply:
        """Handles the body of a request that `admit` let in, on the running event loop."""
        head = admitted.head
        raw = body.encode() if isinstance(body, str) else bytes(body)
        shed = self._take_slot(head, raw)
        if shed is not None:
            return shed
        try:
            try:
                call = self._start(head, raw)
            except DispatchError as error:
                return self._fail(head, error, raw)
            if isinstance(call, HttpReply):
                return call
            loop = asyncio.get_running_loop()
            future: "asyncio.Future[_t.Any]"
            if _is_async(call.handler):
                try:
                    awaitable = call()
                except BaseException as error:  # noqa: BLE001 - a failure while creating the coroutine
                    return self._outcome(head, raw, lambda: _raise(error))
                future = asyncio.ensure_future(awaitable)
            else:
                future = loop.run_in_executor(self._pool(), _run_to_completion, call)
            if self.handler_deadline is not None:
                left = max(0.0, self.handler_deadline - (time.monotonic() - head.started))
                done, _ = await asyncio.wait({future}, timeout=left)
                if not done:
                    return self._deadline_missed(head, raw, future)
            else:
                await asyncio.wait({future})
            return self._outcome(head, raw, future.result)
        finally:
            self._give_back_slot()

    async def drain(self, timeout: float) -> int:
        """Waits up to `timeout` seconds for every handler still running past its deadline, then
        abandons the rest, writing each to the dead-letter sink with reason `shutdown`. Returns
        how many were abandoned. Call it when shutting down, after the server stopped taking
        requests."""
        waiting = {
            (asyncio.wrap_future(f) if isinstance(f, concurrent.futures.Future) else f): f for f in list(self._late.running)
        }
        if waiting:
            await asyncio.wait(set(waiting), timeout=timeout)
        abandoned = 0
        for future, letter in self._late.take_all().items():
            if future.done():
                continue
            future.cancel()
            abandoned += 1
            LOGGER.error(
                "shutting down with the handler still running; the event is dead-lettered command=%s request_id=%s",
                clip(letter.command),
                clip(letter.request_id),
            )
            self._write_dead_letter(letter)
        return abandoned

    @property
    def handlers_past_deadline(self) -> int:
        """How many handlers are running past their deadline right now."""
        return sum(1 for f in list(self._late.running) if not f.done())

    # -- internals -------------------------------------------------------------------------

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=max(1, min(self.max_in_flight, 64)), thread_name_prefix="tencent-chat-callbacks"
                )
            return self._executor

    def _take_slot(self, head: _Head, body: bytes) -> _t.Optional[HttpReply]:
        """A place among the requests in flight (counted once the body has arrived), or the
        answer that sheds this one."""
        with self._lock:
            if self._in_flight < self.max_in_flight:
                self._in_flight += 1
                return None
        return self._fail(head, DispatchError(503, "too many callbacks are being handled; try again later", reason="overloaded"), body)

    def _give_back_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _start(self, head: _Head, body: bytes) -> _t.Union[HttpReply, "_Call"]:
        """Everything up to the handler call: a reply, or the call to make."""
        if len(body) > self.max_body_bytes:
            raise _body_too_large(self.max_body_bytes)
        route = self._routes.get(head.command)
        if route is None and self._fallback is None:
            # Even unhandled, a body of another command is refused, never acknowledged.
            _check_body_command(head.command, body)
            return HttpReply(200, OK_BODY)
        ctx = Context(
            app_id=head.app_id,
            command=head.command,
            client_ip=head.client_ip,
            platform=head.platform,
            request_time=head.request_time,
            request_id=head.request_id,
            raw_body=body,
        )
        if route is not None:
            model, handler = route
            event, rejected = _decode(model, head.command, body)
            for item in rejected:
                self._dead_letter_batch_item(head, item)
            return _Call(handler, event, ctx)
        try:
            value = _load_json(body, as_value=True)
        except ValueError as error:
            raise _invalid_body(head.command, ".", str(error).splitlines()[0]) from None
        _check_body_command(head.command, body)
        fallback = self._fallback
        assert fallback is not None
        return _Call(fallback, UnhandledEvent(head.command, value), ctx)

    def _outcome(self, head: _Head, body: bytes, result: _t.Callable[[], _t.Any]) -> HttpReply:
        """The answer to a finished handler: its reply, or its failure."""
        try:
            return _reply(result())
        except DispatchError as error:
            return self._fail(head, error, body)
        except Exception as error:  # noqa: BLE001 - any handler error becomes a 500 reply
            return self._fail(head, _handler_failed(error), body)

    def _deadline_missed(self, head: _Head, body: bytes, future: _t.Any) -> HttpReply:
        request_id = self._request_id(head)
        letter = self._letter(head, "shutdown", "the server shut down while the handler ran", body)
        self._late.add(future, letter)

        def finished(done: _t.Any) -> None:
            self._late.remove(done)
            if done.cancelled():
                return
            error = done.exception()
            if error is None:
                try:
                    _reply(done.result())
                    return
                except Exception as bad:  # noqa: BLE001
                    error = bad
            failure = error if isinstance(error, DispatchError) else _handler_failed(error)
            LOGGER.error(
                "a handler that missed its deadline then failed; the event is dead-lettered command=%s request_id=%s error=%s",
                clip(head.command),
                clip(request_id),
                failure.message,
            )
            self._write_dead_letter(self._letter(head, "deadline_then_failed", failure.message, body))

        future.add_done_callback(finished)
        if head.kind() == "before":
            return self._fail(head, DispatchError(504, "the handler did not decide within the deadline", reason="deadline_missed"), None)
        LOGGER.warning(
            "the handler missed its deadline; answering OK while it finishes command=%s request_id=%s", clip(head.command), clip(request_id)
        )
        return HttpReply(200, OK_BODY)

    def _fail(self, head: _Head, error: DispatchError, body: _t.Optional[bytes]) -> HttpReply:
        """The answer to an authenticated request that failed: logged, dead-lettered when its body
        is known, and answered by the failure policy for a before-callback."""
        request_id = self._request_id(head)
        if error.reason == "undecided" and head.kind() != "before":
            error = _handler_failed(RuntimeError("it left a callback undecided that is not a before-callback"))
        # Shedding is what overload looks like: one line per shed request would add to the load. A
        # before-callback the handler left to the policy is not a failure at all.
        log = error.reason != "undecided" and (error.reason != "overloaded" or self._refusals.admit() is not None)
        if log:
            LOGGER.log(
                40 if error.status >= 500 else 30,
                "%s command=%s client_ip=%s request_id=%s reason=%s error=%s",
                "callback failed" if error.status >= 500 else "callback refused",
                clip(head.command),
                clip(head.client_ip or "-"),
                clip(request_id),
                error.reason,
                error.message,
            )
        if body is not None and error.reason not in _KEEPS_NO_BODY:
            self._write_dead_letter(self._letter(head, error.reason, error.message, body))
        return self._answer(head.command, head.kind(), error, request_id, log)

    def _refuse_unauthenticated(self, command: _t.Optional[str], params: _t.Mapping[str, str], error: DispatchError) -> HttpReply:
        """The answer to a request whose query string failed a check: logged at most 20 times a
        second, never dead-lettered (nothing vouches for it), and answered by the failure policy
        when it names a before-callback."""
        request_id = params.get("RequestID", "-")
        suppressed = self._refusals.admit()
        if suppressed is not None:
            LOGGER.warning(
                "callback refused command=%s client_ip=%s request_id=%s suppressed_since_last=%d error=%s",
                clip(command or "-"),
                clip(params.get("ClientIP", "-")),
                clip(request_id),
                suppressed,
                error.message,
            )
        model = CALLBACKS.get(command) if command is not None else None
        return self._answer(command, model.KIND if model is not None else None, error, request_id, suppressed is not None)

    def _answer(self, command: _t.Optional[str], kind: _t.Optional[str], error: DispatchError, request_id: str, log: bool) -> HttpReply:
        """A failure's own status, or for a before-callback the failure policy's answer."""
        if error.reason in ("handler_failed", "handler_panicked"):
            # The handler's own words go to the log, not to whoever sent the request.
            own = HttpReply(error.status, _reply_body("FAIL", 1, f"the callback could not be handled (request {clip(request_id)})"))
        else:
            own = error.reply()
        if command is None or kind != "before":
            return own
        policy = self.on_failure_of.get(command, self.on_failure)
        if log:
            LOGGER.error(
                "a before-callback could not be decided; answering by the failure policy command=%s request_id=%s reason=%s policy=%s",
                clip(command),
                clip(request_id),
                error.reason,
                policy.value,
            )
        if policy is FailurePolicy.ALLOW:
            return HttpReply(200, OK_BODY)
        if policy is FailurePolicy.REFUSE:
            return HttpReply(200, _reply_body("OK", 1, f"refused by the failure policy (request {clip(request_id)})"))
        return own

    def _request_id(self, head: _Head) -> str:
        """The vendor's `RequestID`, or an id of this dispatcher's when it sent none."""
        if head.request_id is not None:
            return head.request_id
        if head.local_id is None:
            head.local_id = f"local-{os.getpid()}-{next(self._ids)}"
        return head.local_id

    def _letter(self, head: _Head, reason: str, detail: str, body: bytes) -> DeadLetter:
        return DeadLetter.of(
            body,
            command=head.command,
            reason=reason,
            detail=detail,
            app_id=head.app_id,
            request_id=self._request_id(head),
            received_at_ms=int(head.received_at * 1000),
            client_ip=head.client_ip,
            platform=head.platform,
        )

    def _dead_letter_batch_item(self, head: _Head, item: RejectedItem) -> None:
        LOGGER.error(
            "an event of a batch could not be decoded; the others are handled and it is dead-lettered "
            "command=%s request_id=%s index=%d reason=%s",
            clip(head.command),
            clip(self._request_id(head)),
            item.index,
            clip(item.reason),
        )
        letter = self._letter(head, "batch_item_undecodable", item.reason, item.body)
        letter.index = item.index
        self._write_dead_letter(letter)

    def _write_dead_letter(self, letter: DeadLetter) -> None:
        sink = self.dead_letters
        try:
            if sink is None:
                written, why = False, "no dead-letter sink is configured"
            else:
                written, why = sink.write(letter) is not False, "the dead-letter budget is used up"
        except Exception as error:  # noqa: BLE001 - a sink's failure is logged, never raised
            written, why = False, f"the dead letter could not be written ({clip(str(error))})"
        if not written and self._losses.admit() is not None:
            LOGGER.error("%s: this event is lost command=%s request_id=%s reason=%s", why, clip(letter.command), clip(letter.request_id), letter.reason)


@dataclasses.dataclass(frozen=True)
class _Call:
    """A handler call to make."""

    handler: _t.Callable[..., _t.Any]
    event: _t.Any
    ctx: Context

    def __call__(self) -> _t.Any:
        return self.handler(self.event, self.ctx)


def _raise(error: BaseException) -> _t.NoReturn:
    raise error


def _handler_failed(error: BaseException) -> DispatchError:
    return DispatchError(500, f"the handler failed: {clip(str(error) or type(error).__name__)}", reason="handler_failed")


def _source_allowed(source: _t.Optional[str], networks: _t.Sequence[Network]) -> bool:
    if source is None:
        return False
    try:
        address = ipaddress.ip_address(source.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == network.version and address in network for network in networks)


def _signature_problem(token: str, request_time: str, sign: str, now: float, max_skew: _t.Optional[float]) -> _t.Optional[str]:
    """Why `Sign` and `RequestTime` fail, in the Rust crate's words, or `None`."""
    sent_at = signature.parse_request_time(request_time)
    if sent_at is None:
        return "`RequestTime` is not a Unix time in seconds"
    if max_skew is not None:
        skew = abs(int(now) - sent_at)
        if skew > max_skew:
            return f"`RequestTime` is {skew} s away from this server's clock; at most {int(max_skew)} s is allowed"
    if signature.check(token, request_time, sign, now=now, max_skew=None) is not None:
        return "`Sign` does not match the configured token"
    return None


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
    raise TypeError(f"it returned {type(result).__name__}, not None, a Decision or a reply model")
