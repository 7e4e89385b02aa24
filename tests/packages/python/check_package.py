"""End-to-end check of the installed Python package `tencent-chat-callbacks`.

Run by tests/tests/packages.rs with the interpreter of a fresh virtual environment into which the
built wheel was installed, from a directory outside the source tree, with the workspace root as
the first argument. It checks the worked signature example, every fixture parsed and written back
equal by value, decisions, the shared case table (tests/cases/dispatch.json) through the
dispatcher, and the ASGI app under a real uvicorn on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import socket
import sys
import threading
import time
import typing as _t
import urllib.error
import urllib.request

import tencent_chat_callbacks as tcc
from tencent_chat_callbacks import c2c, common, group, push
from tencent_chat_callbacks.asgi import CallbackApp

ROOT = pathlib.Path(sys.argv[1])
TOKEN = "xxxxyyyy"
TIME = "1669872112"
VENDOR_SIGN = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061"

passed = 0
failed: _t.List[str] = []


def check(name: str, condition: bool, detail: object = "") -> None:
    global passed
    if condition:
        passed += 1
    else:
        failed.append(f"{name}: {detail}")


def installed_outside_the_source_tree() -> None:
    location = pathlib.Path(tcc.__file__).resolve()
    installed = "site-packages" in location.parts and (ROOT / "schema").resolve() not in location.parents
    check("the package is the installed one", installed, location)
    typed = location.parent / "py.typed"
    check("py.typed is installed", typed.is_file(), typed)


def signatures() -> None:
    now = int(TIME)
    check("the worked example signs", tcc.sign(TOKEN, TIME) == VENDOR_SIGN, tcc.sign(TOKEN, TIME))
    check("the worked example verifies", tcc.verify_sign(TOKEN, TIME, VENDOR_SIGN, now=now))
    check("60 s is inside the window", tcc.verify_sign(TOKEN, TIME, VENDOR_SIGN, now=now + 60))
    check("61 s is outside the window", not tcc.verify_sign(TOKEN, TIME, VENDOR_SIGN, now=now + 61))
    check("no window with max_skew=None", tcc.verify_sign(TOKEN, TIME, VENDOR_SIGN, now=0, max_skew=None))
    check("the default clock is now", not tcc.verify_sign(TOKEN, TIME, VENDOR_SIGN))
    for bad in [VENDOR_SIGN.upper(), VENDOR_SIGN[:63], "", "zz" * 32, VENDOR_SIGN.replace("7", "8")]:
        check(f"sign {bad!r} is refused", not tcc.verify_sign(TOKEN, TIME, bad, now=now))
    check("another token is refused", not tcc.verify_sign("other", TIME, VENDOR_SIGN, now=now))
    for bad_time in ["", "-1", "+1669872112", "1.5", "1e9", "99999999999999999999"]:
        check(f"RequestTime {bad_time!r} is refused", not tcc.verify_sign(TOKEN, bad_time, VENDOR_SIGN, max_skew=None))


def by_value(value: _t.Any) -> _t.Any:
    """JSON compared by value, with strings of digits read as the numbers they are."""
    if isinstance(value, dict):
        return {k: by_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [by_value(v) for v in value]
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        return int(value)
    return value


def fixtures() -> None:
    names = sorted(p.name for p in (ROOT / "tests/fixtures").iterdir() if p.is_dir())
    check("a model for every fixture", names == tcc.COMMANDS, set(names) ^ set(tcc.COMMANDS))
    for name in names:
        raw = (ROOT / "tests/fixtures" / name / "sample.json").read_bytes()
        body = json.loads(raw)
        model = tcc.parse(name, raw)
        check(f"{name} parses as {type(model).__name__}", type(model) is tcc.CALLBACKS[name] and model.COMMAND == name)
        back = json.loads(model.to_json())
        check(f"{name} writes back equal by value", by_value(back) == by_value(body), (back, body))
        # And exactly: a quoted EventTime stays quoted, a field left out is not added.
        check(f"{name} writes back exactly what it read", back == body, (back, body))
        body["ANewVendorField"] = {"kept": [1, "two"]}
        again = tcc.parse(name, body)
        check(f"{name} keeps unknown fields", json.loads(again.to_json()).get("ANewVendorField") == {"kept": [1, "two"]})


def models() -> None:
    raw = json.loads((ROOT / "tests/fixtures/Group.CallbackAfterCreateGroup/sample.json").read_text())
    event = tcc.parse("Group.CallbackAfterCreateGroup", raw)
    assert isinstance(event, group.AfterCreateGroup)
    check("snake_case attributes", event.group_id == raw["GroupId"] and event.operator_account == raw["Operator_Account"])
    check("a quoted EventTime is an int", event.event_time == int(raw["EventTime"]) and isinstance(event.event_time, int), event.event_time)
    check("a quoted EventTime is written back quoted", json.loads(event.to_json())["EventTime"] == raw["EventTime"], event.to_json())
    bare = tcc.parse("C2C.CallbackBeforeSendMsg", {"CallbackCommand": "C2C.CallbackBeforeSendMsg", "From_Account": "a", "To_Account": "b",
                                                   "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {}}]})
    check("a text element without Text reads as empty and is written back without it",
          json.loads(bare.to_json())["MsgBody"][0]["MsgContent"] == {}, bare.to_json())
    check("a known enum value is its member", event.type is common.GroupType.PUBLIC, repr(event.type))
    raw["Type"] = "BrandNewType"
    other = group.AfterCreateGroup.model_validate(raw)
    check("an unknown enum value is kept", other.type == "BrandNewType" and json.loads(other.to_json())["Type"] == "BrandNewType")
    for field, value in [("GroupId", 5), ("EventTime", "soon"), ("EventTime", True), ("EventTime", -1), ("Name", None)]:
        bad = dict(raw, **{field: value})
        try:
            tcc.parse("Group.CallbackAfterCreateGroup", bad)
            check(f"{field}={value!r} is refused", False, "accepted")
        except Exception as error:  # noqa: BLE001
            check(f"{field}={value!r} is refused", type(error).__name__ == "ValidationError", error)
    try:
        tcc.parse("Group.CallbackAfterCreateGroup", dict(raw, CallbackCommand="Group.CallbackAfterGroupFull"))
        check("a body of another command is refused", False)
    except Exception as error:  # noqa: BLE001
        check("a body of another command is refused", type(error).__name__ == "ValidationError", error)
    try:
        tcc.parse("Nope.Nothing", raw)
        check("an unknown command is refused", False)
    except tcc.UnknownCommandError:
        check("an unknown command is refused", True)

    send = json.loads((ROOT / "tests/fixtures/C2C.CallbackBeforeSendMsg/sample.json").read_text())
    send["MsgBody"].append({"MsgType": "TIMNewElem", "MsgContent": {"X": 1}})
    message = tcc.parse("C2C.CallbackBeforeSendMsg", send)
    assert isinstance(message, c2c.BeforeSendMsg)
    first, last = message.msg_body[0], message.msg_body[-1]
    check("a text element is its member", isinstance(first, common.TextMsgBodyElement) and first.msg_content.text == "red packet")
    check("an unknown element is Other, content kept", isinstance(last, common.UnknownMsgBodyElement) and last.msg_content == {"X": 1})

    # Decisions: only the answers the command accepts, with the reply the vendor reads.
    refuse = c2c.BeforeSendMsgDecision.refuse()
    check("refuse", json.loads(refuse.to_reply().to_json()) == {"ActionStatus": "OK", "ErrorCode": 1, "ErrorInfo": ""})
    code = c2c.BeforeSendMsgDecision.refuse_with(120099, "muted")
    check("refuse_with", json.loads(code.to_reply().to_json())["ErrorCode"] == 120099)
    try:
        c2c.BeforeSendMsgDecision.refuse_with(1, "out of range")
        check("refuse_with checks the range", False)
    except ValueError:
        check("refuse_with checks the range", True)
    changed = c2c.BeforeSendMsgDecision.modify(
        msg_body=[common.TextMsgBodyElement(msg_type="TIMTextElem", msg_content=common.TextContent(text="[gift]"))]
    )
    check(
        "modify",
        json.loads(changed.to_reply().to_json())
        == {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": "[gift]"}}]},
        changed.to_reply().to_json(),
    )
    check("no drop where the command has none", not hasattr(group.BeforeCreateGroupDecision, "drop"))


def decision_for(text: str) -> c2c.BeforeSendMsgDecision:
    if "refuse" in text:
        return c2c.BeforeSendMsgDecision.refuse()
    if "drop" in text:
        return c2c.BeforeSendMsgDecision.drop()
    if "code" in text:
        return c2c.BeforeSendMsgDecision.refuse_with(120001, "refused by the app")
    return c2c.BeforeSendMsgDecision.allow()


def first_text(event: c2c.BeforeSendMsg) -> _t.Optional[str]:
    first = event.msg_body[0] if event.msg_body else None
    return first.msg_content.text if isinstance(first, common.TextMsgBodyElement) else None


def refuse_or_fail(text: str, ctx: tcc.Context) -> None:
    """What the table's before-callback handler raises, before it decides."""
    if "fail" in text:
        raise RuntimeError("this handler fails on purpose")
    if "undecided" in text:
        raise tcc.Refusal.undecided()
    if "invalid" in text:
        raise tcc.Refusal.invalid_body(ctx.command, "the handler refuses this body")


def decide(event: c2c.BeforeSendMsg, ctx: tcc.Context) -> c2c.BeforeSendMsgDecision:
    """The table's before-callback handler."""
    text = first_text(event)
    if text is None:
        return c2c.BeforeSendMsgDecision.allow()
    refuse_or_fail(text, ctx)
    if "slow" in text:
        time.sleep(0.3)
    return decision_for(text)


def fail(event: group.AfterGroupDestroyed, ctx: tcc.Context) -> None:
    raise RuntimeError("this handler fails on purpose")


def undecided(event: group.AfterMemberExit, ctx: tcc.Context) -> None:
    raise tcc.Refusal.undecided()


def table_dispatcher(
    config: _t.Dict[str, _t.Any], sink: tcc.MemorySink, batches: _t.List[int], *, asynchronous: bool = False
) -> tcc.Dispatcher:
    deadline = config["handler_deadline_ms"]
    dispatcher = tcc.Dispatcher(
        app_id=config["app_id"],
        token=config["token"],
        max_body_bytes=config["max_body_bytes"] or tcc.dispatcher.DEFAULT_MAX_BODY_BYTES,
        max_in_flight=tcc.dispatcher.DEFAULT_MAX_IN_FLIGHT if config["max_in_flight"] is None else config["max_in_flight"],
        handler_deadline=tcc.dispatcher.DEFAULT_HANDLER_DEADLINE if deadline is None else deadline / 1000,
        on_failure=config["on_failure"],
        on_failure_of=config["on_failure_of"],
        dead_letters=sink,
        clock=lambda: config["now"],
    )

    def count(event: push.OfflinePush, ctx: tcc.Context) -> None:
        batches.append(len(event.events))

    if asynchronous:

        async def created(event: group.AfterCreateGroup, ctx: tcc.Context) -> None:
            await asyncio.sleep(0)

        async def moderate(event: c2c.BeforeSendMsg, ctx: tcc.Context) -> c2c.BeforeSendMsgDecision:
            text = first_text(event)
            if text is None:
                return c2c.BeforeSendMsgDecision.allow()
            refuse_or_fail(text, ctx)
            if "slow" in text:
                await asyncio.sleep(0.3)
            return decision_for(text)

        async def joined(event: group.AfterNewMemberJoin, ctx: tcc.Context) -> None:
            await asyncio.sleep(0.3)

        dispatcher.on(group.AfterCreateGroup, created)
        dispatcher.on(c2c.BeforeSendMsg, moderate)
        dispatcher.on(group.AfterNewMemberJoin, joined)
    else:
        dispatcher.on(group.AfterCreateGroup)(lambda event, ctx: None)
        dispatcher.on("C2C.CallbackBeforeSendMsg", decide)
        dispatcher.on(group.AfterNewMemberJoin, lambda event, ctx: time.sleep(0.3))
    dispatcher.on(group.AfterGroupDestroyed, fail)
    dispatcher.on(group.AfterMemberExit, undecided)
    dispatcher.on(push.OfflinePush, count)
    return dispatcher


def case_body(case: _t.Dict[str, _t.Any]) -> bytes:
    if "body" in case:
        return str(case["body"]).encode()
    if "body_bytes" in case:
        return bytes(case["body_bytes"])
    body = json.loads((ROOT / "tests/fixtures" / case["fixture"] / "sample.json").read_text())
    for key, value in case.get("patch", {}).items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = None if value == "__null__" else value
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def compare_case(case: _t.Dict[str, _t.Any], mode: str, reply: tcc.HttpReply, sink: tcc.MemorySink, batches: _t.List[int]) -> None:
    """One case of the shared table, as tests/tests/cases.rs compares it."""
    body = reply.json()
    name = f"case {case['name']!r} ({mode})"
    got = (reply.status, body["ActionStatus"], body["ErrorCode"])
    expected = (case["status"], case["ActionStatus"], case["ErrorCode"])
    check(name, got == expected, f"expected {expected}, got {got}: {body}")
    if "ErrorInfo" in case:
        check(f"{name}: ErrorInfo", body["ErrorInfo"] == case["ErrorInfo"], body["ErrorInfo"])
    if "ErrorInfo_prefix" in case:
        check(f"{name}: ErrorInfo prefix", str(body["ErrorInfo"]).startswith(case["ErrorInfo_prefix"]), body["ErrorInfo"])
    check(f"{name}: ErrorInfo is one line", "\n" not in str(body["ErrorInfo"]), body["ErrorInfo"])
    if "dead_letters" in case:
        written = [{"reason": l.reason, **({"index": l.index} if l.index is not None else {})} for l in sink.letters]
        check(f"{name}: dead letters", written == case["dead_letters"], written)
        check(f"{name}: no dead letter holds Sign", all("Sign" not in l.to_json() for l in sink.letters))
    if "handled_events" in case:
        check(f"{name}: batch events handled", batches[:1] == [case["handled_events"]], batches)


def case_table() -> None:
    table = json.loads((ROOT / "tests/cases/dispatch.json").read_text())
    auth = table["placeholders"]["{auth}"]["value"]
    for asynchronous in (False, True):
        for case in table["cases"]:
            config = dict(table["defaults"], **case.get("config", {}))
            sink = tcc.MemorySink()
            batches: _t.List[int] = []
            dispatcher = table_dispatcher(config, sink, batches, asynchronous=asynchronous)
            query = case["query"].replace("{auth}", auth)
            if asynchronous:
                reply = asyncio.run(dispatcher.dispatch_async(query, case_body(case)))
            else:
                reply = dispatcher.dispatch(query, case_body(case))
            compare_case(case, "dispatch_async" if asynchronous else "dispatch", reply, sink, batches)
    try:
        tcc.Dispatcher(app_id=1).on("Group.CallbackAfterCreateGroop", lambda e, c: None)
        check("a misspelt command is refused", False)
    except ValueError as error:
        check("a misspelt command is refused with a suggestion", "Group.CallbackAfterCreateGroup" in str(error), error)


def fallback() -> None:
    seen: _t.List[str] = []
    dispatcher = tcc.Dispatcher(app_id=1)

    @dispatcher.fallback
    def unhandled(event: tcc.UnhandledEvent, ctx: tcc.Context) -> None:
        seen.append(f"{event.command} {ctx.command} {json.dumps(event.body)}")

    reply: tcc.HttpReply = dispatcher.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", b'{"A": 1}')
    check("the HTTP answer is an HttpReply", isinstance(reply, tcc.HttpReply), reply)
    check("the only Reply is the body model, common.Reply", not hasattr(tcc, "Reply") and hasattr(common, "Reply"))
    check("fallback: an unknown command reaches it", reply.status == 200 and seen == ['Future.CallbackNew Future.CallbackNew {"A": 1}'], seen)
    reply = dispatcher.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", b"{")
    check("fallback: invalid JSON is refused", reply.status == 400, reply)
    reply = dispatcher.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", b'{"CallbackCommand": "Other.Thing"}')
    check("fallback: another command's body is refused", reply.status == 400, reply)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def post(url: str, body: bytes, method: str = "POST") -> _t.Tuple[int, _t.Dict[str, _t.Any], _t.Dict[str, str]]:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def asgi_under_uvicorn() -> None:
    import uvicorn

    received: _t.List[str] = []
    dispatcher = tcc.Dispatcher(app_id=1400000000, token=TOKEN, clock=lambda: int(TIME) + 5, max_body_bytes=4096)

    @dispatcher.on(group.AfterCreateGroup)
    async def created(event: group.AfterCreateGroup, ctx: tcc.Context) -> None:
        received.append(f"{event.operator_account} created {event.group_id} from {ctx.client_ip}")

    dispatcher.on(c2c.BeforeSendMsg, decide)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(CallbackApp(dispatcher), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    check("uvicorn starts", server.started)
    try:
        base = f"http://127.0.0.1:{port}/callback?SdkAppid=1400000000&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI&Sign={VENDOR_SIGN}&RequestTime={TIME}"
        created_body = (ROOT / "tests/fixtures/Group.CallbackAfterCreateGroup/sample.json").read_bytes()
        status, body, headers = post(base + "&CallbackCommand=Group.CallbackAfterCreateGroup", created_body)
        check("ASGI: a signed callback is acknowledged", (status, body["ErrorCode"]) == (200, 0), (status, body))
        check("ASGI: JSON content type", headers.get("content-type") == "application/json", headers)
        check("ASGI: the handler ran", received == ["group_root created @TGS#2J4SZEAEL from 10.0.0.1"], received)
        send = json.loads((ROOT / "tests/fixtures/C2C.CallbackBeforeSendMsg/sample.json").read_text())
        send["MsgBody"][0]["MsgContent"]["Text"] = "drop me"
        status, body, _ = post(base + "&CallbackCommand=C2C.CallbackBeforeSendMsg", json.dumps(send).encode())
        check("ASGI: a decision is sent", (status, body["ErrorCode"]) == (200, 2), (status, body))
        status, body, _ = post(base.replace(VENDOR_SIGN, "0" * 64) + "&CallbackCommand=Group.CallbackAfterCreateGroup", created_body)
        check("ASGI: a bad signature gets 401", (status, body["ActionStatus"]) == (401, "FAIL"), (status, body))
        status, body, headers = post(base + "&CallbackCommand=Group.CallbackAfterCreateGroup", b"", method="GET")
        check("ASGI: GET gets 405", status == 405 and headers.get("allow") == "POST", (status, headers))
        status, body, _ = post(base + "&CallbackCommand=Group.CallbackAfterCreateGroup", b"{" + b" " * 5000 + b"}")
        check("ASGI: a large body gets 413", status == 413, (status, body))
        status, body, _ = post(base.replace("/callback?", "/elsewhere?"), created_body)
        check("ASGI: another path gets 404", status == 404, (status, body))
        # Under uvicorn too, a forged request is refused before its body: no 100 Continue, and
        # the connection is closed (so a client reusing it cannot lose its next request).
        forged = base.replace(VENDOR_SIGN, "0" * 64) + "&CallbackCommand=Group.CallbackAfterCreateGroup"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            target = forged.split(f"127.0.0.1:{port}", 1)[1]
            conn.sendall(f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n".encode())
            answer = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                answer += chunk
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        check("ASGI: a forged request gets 401 without 100 Continue", answer.startswith(b"HTTP/1.1 401"), answer[:200])
        check("ASGI: the refusal says Connection: close and closes", b"connection: close" in head, head)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
    check("uvicorn stops", not thread.is_alive())


def mounted_under_starlette() -> None:
    """`CallbackApp` mounted below a prefix (Starlette's `Mount`, as FastAPI mounts apps) serves
    its path below the mount's `root_path`."""
    from starlette.applications import Starlette
    from starlette.routing import Mount

    dispatcher = tcc.Dispatcher(app_id=1, clock=lambda: int(TIME))
    seen: _t.List[str] = []
    dispatcher.on(group.AfterCreateGroup, lambda event, ctx: seen.append(event.group_id))
    app = Starlette(routes=[Mount("/hooks", app=CallbackApp(dispatcher, path="/callback"))])
    body = (ROOT / "tests/fixtures/Group.CallbackAfterCreateGroup/sample.json").read_bytes()

    async def call(path: str) -> int:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup",
            "headers": [(b"content-length", str(len(body)).encode())], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 80),
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        sent: _t.List[_t.Dict[str, _t.Any]] = []

        async def receive() -> _t.Dict[str, _t.Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: _t.MutableMapping[str, _t.Any]) -> None:
            sent.append(dict(message))

        await app(scope, receive, send)
        return int(sent[0]["status"])

    check("mounted under /hooks, POST /hooks/callback is served", asyncio.run(call("/hooks/callback")) == 200 and seen == ["@TGS#2J4SZEAEL"], seen)
    check("mounted under /hooks, POST /hooks/other gets 404", asyncio.run(call("/hooks/other")) == 404)


def envelope_resolves() -> None:
    """The envelope schema validates relayed events from the package alone: its references to
    the per-command schemas resolve to the copies shipped inside it."""
    from tencent_chat_callbacks import schemas

    validator = schemas.envelope_validator()
    body = json.loads((ROOT / "tests/fixtures/Group.CallbackAfterCreateGroup/sample.json").read_text())
    envelope = {"command": "Group.CallbackAfterCreateGroup", "app_id": 1400000000, "request_id": "r1", "received_at": 1,
                "dedup_key": "Group.CallbackAfterCreateGroup:x", "body": body}
    errors = [e.message for e in validator.iter_errors(envelope)]
    check("an envelope validates from the package alone", errors == [], errors)
    broken = dict(envelope, body=dict(body, GroupId=5))
    check("an envelope with a bad body is refused through its command's schema", not validator.is_valid(broken))
    check("every command's schema ships", sorted(schemas.command_schemas()) == sorted(p.name[: -len(".schema.json")] for p in (ROOT / "schema/dist/commands").iterdir()))


def receive_path_parts() -> None:
    """Dead letters within a budget and as base64 when not UTF-8, log values escaped and
    clipped, and refusals of strangers rate-limited."""
    import logging
    import tempfile

    from tencent_chat_callbacks import _log

    check("clip escapes line breaks", _log.clip("1\nINFO forged") == "1\\nINFO forged", _log.clip("1\nINFO forged"))
    check("clip escapes terminal controls", _log.clip("\x1b[31mred") == "\\u{1b}[31mred", _log.clip("\x1b[31mred"))
    check("clip escapes bidi overrides", _log.clip("a\u202eb") == "a\\u{202e}b")
    check("clip keeps printable text", _log.clip("群组 ok") == "群组 ok")
    check("clip cuts long values", _log.clip("x" * 60000) == "x" * 64 + f"…(+{60000 - 64} bytes)")

    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch) / "letters.jsonl"
        sink = tcc.JsonLinesSink(path, max_bytes=600)
        dispatcher = tcc.Dispatcher(app_id=1, dead_letters=sink)
        dispatcher.on(group.AfterCreateGroup, lambda event, ctx: None)
        query = "SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup&RequestID=bin"
        reply = dispatcher.dispatch(query, b"\xff\xfe{")
        check("a body that is not UTF-8 is refused with 400", reply.status == 400, reply)
        letters = tcc.JsonLinesSink.read(path)
        check("a body that is not UTF-8 is dead-lettered as base64", [l.body_base64 for l in letters] == ["//57"], letters)
        check("the letter gives the body back", letters[0].raw_body() == b"\xff\xfe{" if letters else False)
        for _ in range(5):
            dispatcher.dispatch(query, b"{" + b" " * 200)
        size = path.stat().st_size
        check("the dead-letter file stays within its budget", size <= 600 and sink.dropped >= 1, (size, sink.dropped))
        sink.close()

    records: _t.List[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("tencent_chat_callbacks")
    logger.addHandler(handler)
    try:
        dispatcher = tcc.Dispatcher(app_id=1, token=TOKEN)
        # The budget is per one-second window from the first line, so the bound follows how long
        # the flood took; the flood outgrows it fourfold, or an unlimited log would pass too.
        started = time.monotonic()

        def allowed() -> int:
            return 20 * (int(time.monotonic() - started) + 1)

        sent = 0
        while sent < 200 or sent < 4 * allowed():
            dispatcher.dispatch(f"SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup&ClientIP=1%0AFORGED{sent}", b"{}")
            sent += 1
        bound = allowed()
    finally:
        logger.removeHandler(handler)
    refused = [r.getMessage() for r in records if r.getMessage().startswith("callback refused")]
    check("a flood of forged requests is logged at most 20 lines a second", 1 <= len(refused) <= bound, (len(refused), sent, bound))
    check("no log line carries a raw line break", all("\n" not in line for line in refused), refused[:2])

    # A before-callback its handler leaves to the policy is not a failure: nothing is logged.
    def leave(event: c2c.BeforeSendMsg, ctx: tcc.Context) -> None:
        raise tcc.Refusal.undecided()

    quiet = tcc.Dispatcher(app_id=None, token=None, on_failure="refuse")
    quiet.on(c2c.BeforeSendMsg, leave)
    body = (ROOT / "tests/fixtures/C2C.CallbackBeforeSendMsg/sample.json").read_bytes()
    records.clear()
    logger.addHandler(handler)
    try:
        reply = quiet.dispatch("SdkAppid=1&CallbackCommand=C2C.CallbackBeforeSendMsg", body)
    finally:
        logger.removeHandler(handler)
    check("a before-callback left undecided is answered by the policy", json.loads(reply.body)["ErrorCode"] == 1, reply)
    check("a before-callback left undecided is not logged", [r.getMessage() for r in records] == [], [r.getMessage() for r in records])


def main() -> None:
    installed_outside_the_source_tree()
    signatures()
    fixtures()
    models()
    case_table()
    fallback()
    asgi_under_uvicorn()
    mounted_under_starlette()
    published_schemas()
    envelope_resolves()
    receive_path_parts()
    for failure in failed:
        print(f"FAILED {failure}")
    print(f"{passed} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


def published_schemas() -> None:
    """Every command's body and reply schema resolves in the shipped bundle; the envelope ships."""
    from tencent_chat_callbacks import schemas

    for name in tcc.COMMANDS:
        for key in (name, f"{name}.Reply"):
            target = schemas.schema(key)["$ref"].removeprefix("#/$defs/")
            check(f"the schema of {key} resolves", target in schemas.BUNDLE["$defs"], target)
    check("an unknown command has no schema", _raises(lambda: schemas.schema("Brand.New"), KeyError))
    check("the envelope schema ships", schemas.ENVELOPE["title"] != "", schemas.ENVELOPE.get("$id"))


def _raises(call: _t.Callable[[], object], error: type[BaseException]) -> bool:
    try:
        call()
    except error:
        return True
    return False


if __name__ == "__main__":
    main()
