"""Real-socket checks of a packaged callback server, the same for each: run by
tests/tests/packages.rs as

    python3 receive_path.py WORKSPACE_ROOT -- COMMAND...

where `COMMAND...` starts the server under test (`python -m tencent_chat_callbacks serve`, the
npm package's `tencent-chat-callbacks serve`, or `example-server`, run by
examples/server/tests/server.rs), which takes `example-server`'s flags and environment. Only the standard library is used, and raw sockets, so each check sees exactly what
goes over the wire: whether a `100 Continue` came, when the connection closed, what the log holds.
Prints one line per failure and `N passed, M failed` last.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as _t

TOKEN = "receive-path-token"
APP_ID = "1400000000"
REQUEST_TIMEOUT = 2.0

passed = 0
failed: _t.List[str] = []


def check(name: str, condition: bool, detail: object = "") -> None:
    global passed
    if condition:
        passed += 1
    else:
        failed.append(f"{name}: {detail!r}"[:600])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def signed(command: str, extra: str = "") -> str:
    now = str(int(time.time()))
    sign = hashlib.sha256(f"{TOKEN}{now}".encode()).hexdigest()
    return f"SdkAppid={APP_ID}&CallbackCommand={command}&contenttype=json&ClientIP=10.1.2.3&OptPlatform=RESTAPI&Sign={sign}&RequestTime={now}{extra}"


class Response(_t.NamedTuple):
    status: int
    headers: _t.Dict[str, str]
    body: bytes
    informational: _t.List[int]
    elapsed: float


def read_response(conn: socket.socket, started: float) -> _t.Optional[Response]:
    """One response (after any 1xx), or `None` if the connection closed first."""
    data = b""
    informational: _t.List[int] = []
    while True:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if 100 <= status < 200:
            informational.append(status)
            continue
        length = int(headers.get("content-length", "0"))
        while len(data) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return Response(status, headers, data[:length], informational, time.monotonic() - started)


def closed_within(conn: socket.socket, seconds: float) -> _t.Optional[float]:
    """How long until the peer closed the connection (reading and dropping data), or `None`."""
    started = time.monotonic()
    conn.settimeout(0.2)
    while time.monotonic() - started < seconds:
        try:
            if not conn.recv(65536):
                return time.monotonic() - started
        except socket.timeout:
            continue
        except ConnectionError:
            return time.monotonic() - started
    return None


class ServerUnderTest:
    def __init__(self, command: _t.List[str], flags: _t.List[str], workdir: pathlib.Path):
        self.port = free_port()
        self.log_path = workdir / f"server-{self.port}.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, TENCENT_CHAT_TOKEN=TOKEN)
        self.process = subprocess.Popen(
            [*command, "--listen", f"127.0.0.1:{self.port}", "--sdkappid", APP_ID, *flags],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError(f"the server did not start: {self.log_text()}")

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        conn.settimeout(5)
        return conn

    def post(self, query: str, body: bytes, *, headers: str = "", send_body: bool = True) -> _t.Tuple[_t.Optional[Response], socket.socket]:
        conn = self.connect()
        started = time.monotonic()
        head = f"POST /callback?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        conn.sendall(head.encode() + (body if send_body else b""))
        return read_response(conn, started), conn

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


def fixture(root: pathlib.Path, command: str) -> bytes:
    return (root / "tests/fixtures" / command / "sample.json").read_bytes()


def main_checks(root: pathlib.Path, command: _t.List[str], workdir: pathlib.Path) -> None:
    dead = workdir / "dead-letters.jsonl"
    flags = ["--on-failure", "refuse", "--dead-letter", str(dead), "--request-timeout", str(REQUEST_TIMEOUT), "--allow-source", "127.0.0.0/8", "--allow-source", "::1/128"]
    server = ServerUnderTest(command, flags, workdir)
    created = fixture(root, "Group.CallbackAfterCreateGroup")
    try:
        # A genuine callback, and its typed event in the log.
        query = signed("Group.CallbackAfterCreateGroup", "&RequestID=rp-1")
        reply, conn = server.post(query, created)
        conn.close()
        check("a signed callback is acknowledged", reply is not None and reply.status == 200 and json.loads(reply.body)["ErrorCode"] == 0, reply)
        time.sleep(0.2)
        log = server.log_text()
        event_lines = [line for line in log.splitlines() if "Group.CallbackAfterCreateGroup" in line and "group_root" in line]
        check("the typed event is logged on one line", len(event_lines) == 1, log[-2000:])
        sign = query.split("Sign=")[1].split("&")[0]
        check("the log never holds Sign (no access log of the query string)", sign not in log, log[-2000:])

        # Refused before the body: no 100 Continue, Connection: close, the connection closed.
        reply, conn = server.post(signed("Group.CallbackAfterCreateGroup").replace("Sign=", "Sign=0"), created, headers="Expect: 100-continue\r\n", send_body=False)
        check("a forged request is refused at once", reply is not None and reply.status == 401 and reply.elapsed < 1.5, reply)
        check("a forged request gets no 100 Continue", reply is not None and reply.informational == [], reply)
        check("a refusal before the body says Connection: close", reply is not None and reply.headers.get("connection", "").lower() == "close", reply)
        check("a refusal before the body closes the connection", closed_within(conn, 3) is not None)
        conn.close()

        # A genuine request that waits for 100 Continue gets it, then its answer.
        conn = server.connect()
        started = time.monotonic()
        conn.sendall(f"POST /callback?{signed('Group.CallbackAfterCreateGroup')} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(created)}\r\nExpect: 100-continue\r\n\r\n".encode())
        first = b""
        while b"\r\n\r\n" not in first:
            chunk = conn.recv(65536)
            if not chunk:
                break
            first += chunk
        check("an admitted request waiting for it gets 100 Continue", first.startswith(b"HTTP/1.1 100"), first)
        conn.sendall(created)
        reply = read_response(conn, started)
        conn.close()
        check("then its body is handled", reply is not None and reply.status == 200, reply)

        # An announced body over the limit: 413 at once.
        conn = server.connect()
        started = time.monotonic()
        conn.sendall(f"POST /callback?{signed('Group.CallbackAfterCreateGroup')} HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n".encode())
        reply = read_response(conn, started)
        check("an announced 100 MB body gets 413 at once", reply is not None and reply.status == 413 and reply.elapsed < 1.5, reply)
        check("the 413 says Connection: close", reply is not None and reply.headers.get("connection", "").lower() == "close", reply)
        conn.close()

        # A streamed (chunked) body past the limit is cut off while read.
        conn = server.connect()
        started = time.monotonic()
        conn.sendall(f"POST /callback?{signed('Group.CallbackAfterCreateGroup')} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        try:
            for _ in range(40):
                conn.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
        except OSError:
            pass
        reply = read_response(conn, started)
        check("a chunked body past the limit gets 413", reply is not None and reply.status == 413, reply)
        conn.close()

        # A trickled body is closed at the request timeout.
        conn = server.connect()
        conn.sendall(f"POST /callback?{signed('Group.CallbackAfterCreateGroup')} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{{".encode())
        started = time.monotonic()
        closed = None
        reply = None
        conn.settimeout(0.5)
        while time.monotonic() - started < REQUEST_TIMEOUT + 4:
            try:
                conn.sendall(b" ")
                data = conn.recv(65536)
                if not data:
                    closed = time.monotonic() - started
                    break
                reply = data
            except socket.timeout:
                continue
            except OSError:
                closed = time.monotonic() - started
                break
        check("a trickled body is closed within the request timeout", closed is not None and closed < REQUEST_TIMEOUT + 3, (closed, reply))
        check("a trickled body is answered 408", reply is not None and reply.startswith(b"HTTP/1.1 408"), reply)
        conn.close()

        # Slow headers and silent connections are closed too.
        conn = server.connect()
        conn.settimeout(0.25)
        started = time.monotonic()
        closed = None
        for piece in b"POST /callback?SdkAppid=1 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100:
            try:
                conn.sendall(bytes([piece]))
                if not conn.recv(65536):
                    closed = time.monotonic() - started
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = time.monotonic() - started
                break
            if time.monotonic() - started > REQUEST_TIMEOUT + 4:
                break
        check("trickled headers are closed within the timeout", closed is not None and closed < REQUEST_TIMEOUT + 3, closed)
        conn.close()
        conn = server.connect()
        closed = closed_within(conn, REQUEST_TIMEOUT + 4)
        check("a silent connection is closed within the timeout", closed is not None, closed)
        conn.close()

        # The failure policy, a dead letter without Sign, and a batch split.
        reply, conn = server.post(signed("C2C.CallbackBeforeSendMsg", "&RequestID=rp-2"), b"{")
        conn.close()
        body = json.loads(reply.body) if reply is not None else {}
        check("under refuse, an undecodable before-callback is refused with 200", reply is not None and reply.status == 200 and body.get("ErrorCode") == 1, reply)
        reply, conn = server.post(signed("Group.CallbackAfterCreateGroup", "&RequestID=rp-3"), b'{"CallbackCommand": "Group.CallbackAfterCreateGroup"}')
        conn.close()
        check("an undecodable after-callback gets 400", reply is not None and reply.status == 400, reply)
        push = json.loads(fixture(root, "Push.OfflinePush"))
        push["Events"][1]["MsgSeq"] = "not a number"
        reply, conn = server.post(signed("Push.OfflinePush", "&RequestID=rp-4"), json.dumps(push).encode())
        conn.close()
        check("a batch with one bad event is acknowledged", reply is not None and reply.status == 200, reply)
        time.sleep(0.3)
        letters = [json.loads(line) for line in dead.read_text().splitlines() if line.strip()] if dead.exists() else []
        reasons = [(l.get("request_id"), l.get("reason"), l.get("index")) for l in letters]
        check(
            "dead letters: the undecodable requests and the bad batch event alone",
            reasons == [("rp-2", "undecodable", None), ("rp-3", "undecodable", None), ("rp-4", "batch_item_undecodable", 1)],
            reasons,
        )
        check("no dead letter holds Sign or RequestTime", all("Sign" not in json.dumps(l) and "RequestTime" not in json.dumps(l) for l in letters))
        check("the bad batch event is stored alone", bool(letters) and len(json.loads(letters[-1].get("body", "{}")).get("Events", [])) == 1, letters[-1:])

        # Request values cannot forge a log line or drive the terminal.
        forged = signed("Group.CallbackAfterCreateGroup").replace("ClientIP=10.1.2.3", "ClientIP=1%0AFORGED%20line%1B%5B31m")
        reply, conn = server.post(forged, b'{"CallbackCommand": 5}')
        conn.close()
        time.sleep(0.2)
        log = server.log_text()
        check("no forged log line", not any(line.startswith("FORGED") for line in log.splitlines()), log[-1500:])
        check("no raw escape byte in the log", "\x1b" not in log)

        # SIGTERM: a request in flight finishes, then the server exits.
        conn = server.connect()
        body = created
        conn.sendall(f"POST /callback?{signed('Group.CallbackAfterCreateGroup')} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body[:20])
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        started = time.monotonic()
        conn.sendall(body[20:])
        reply = read_response(conn, started)
        conn.close()
        check("SIGTERM: the request in flight is answered", reply is not None and reply.status == 200, reply)
        try:
            code = server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            code = None
        check("SIGTERM: the server exits cleanly", code == 0, (code, server.log_text()[-1500:]))
    finally:
        server.stop()


def allow_list_checks(root: pathlib.Path, command: _t.List[str], workdir: pathlib.Path) -> None:
    server = ServerUnderTest(command, ["--allow-source", "10.0.0.0/8", "--on-failure", "refuse"], workdir)
    try:
        reply, conn = server.post(signed("Group.CallbackAfterCreateGroup"), fixture(root, "Group.CallbackAfterCreateGroup"), headers="Expect: 100-continue\r\n", send_body=False)
        check("a source outside the allow-list gets 403 at once, without 100 Continue", reply is not None and reply.status == 403 and reply.informational == [], reply)
        conn.close()
        reply, conn = server.post(signed("C2C.CallbackBeforeSendMsg", "&RequestID=rp-5"), fixture(root, "C2C.CallbackBeforeSendMsg"))
        conn.close()
        body = json.loads(reply.body) if reply is not None else {}
        check("a before-callback from outside the allow-list follows the failure policy", reply is not None and reply.status == 200 and body.get("ErrorCode") == 1, reply)
        reply, conn = server.post(signed("Group.CallbackAfterCreateGroup"), b"{}", headers="X-Forwarded-For: 10.1.1.1\r\n")
        conn.close()
        check("X-Forwarded-For from a proxy not trusted is ignored", reply is not None and reply.status == 403, reply)
    finally:
        server.stop()
    trusted = ["--allow-source", "10.0.0.0/8", "--trust-forwarded-for", "127.0.0.0/8", "--trust-forwarded-for", "::1/128"]
    server = ServerUnderTest(command, trusted, workdir)
    created = fixture(root, "Group.CallbackAfterCreateGroup")
    try:
        for forwarded, status in [("10.1.1.1", 200), ("10.1.1.1, 127.0.0.9", 200), ("10.1.1.1, 203.0.113.9", 403), (None, 403)]:
            extra = "" if forwarded is None else f"X-Forwarded-For: {forwarded}\r\n"
            reply, conn = server.post(signed("Group.CallbackAfterCreateGroup"), created, headers=extra)
            conn.close()
            check(f"behind a trusted proxy, X-Forwarded-For {forwarded!r} gets {status}", reply is not None and reply.status == status, reply)
    finally:
        server.stop()


def main() -> None:
    root = pathlib.Path(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1 :]
    with tempfile.TemporaryDirectory() as scratch:
        workdir = pathlib.Path(scratch)
        main_checks(root, command, workdir)
        allow_list_checks(root, command, workdir)
    for failure in failed:
        print(f"FAILED {failure}")
    print(f"{passed} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
