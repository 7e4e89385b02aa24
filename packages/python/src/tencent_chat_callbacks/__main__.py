"""`python -m tencent_chat_callbacks serve`: a receiver that logs every callback as its typed
event, with the flags and environment variables of the Rust crate's `example-server`; a starting
point for a service of your own (copy `main` and replace the handlers).

Each flag falls back to an environment variable (`TENCENT_CHAT_<FLAG>`); the token is best given
as `TENCENT_CHAT_TOKEN`, since a command line is visible to every user of the machine (`ps`).
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import sys
import typing as _t

from . import CALLBACKS, Context, Dispatcher, UnhandledEvent
from ._log import LOGGER, clip
from .dead_letter import DEFAULT_DEAD_LETTER_MAX_BYTES, JsonLinesSink
from .dispatcher import DEFAULT_HANDLER_DEADLINE, DEFAULT_MAX_BODY_BYTES
from .policy import FailurePolicy
from .server import DEFAULT_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_REQUEST_TIMEOUT, Server

EVENTS = logging.getLogger("tencent_chat_callbacks.event")
"""Where `serve` writes one line per event."""


def _env(name: str) -> _t.Optional[str]:
    value = os.environ.get(f"TENCENT_CHAT_{name}")
    return value if value else None


def _listen(value: str) -> _t.Tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, not {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _policy(value: str) -> FailurePolicy:
    try:
        return FailurePolicy.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parser() -> argparse.ArgumentParser:
    """The command line of `serve`."""
    top = argparse.ArgumentParser(prog="python -m tencent_chat_callbacks", description=__doc__.split("\n\n")[0])
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="receive callbacks and log each one as its typed event")
    serve.add_argument("--listen", type=_listen, default=_listen(_env("LISTEN") or "127.0.0.1:8080"), help="HOST:PORT (default 127.0.0.1:8080)")
    serve.add_argument("--path", default=_env("PATH") or "/callback", help="the path callbacks are posted to (default /callback)")
    serve.add_argument("--sdkappid", type=int, default=_env("SDKAPPID"), help="the app's SDKAppID [TENCENT_CHAT_SDKAPPID]; without it any app is accepted")
    serve.add_argument("--token", default=_env("TOKEN"), help="the callback token set in the console; prefer TENCENT_CHAT_TOKEN")
    serve.add_argument(
        "--on-failure", type=_policy, default=_policy(_env("ON_FAILURE") or "vendor"), help="vendor, allow or refuse: how undecidable before-callbacks are answered [TENCENT_CHAT_ON_FAILURE]"
    )
    serve.add_argument("--dead-letter", default=_env("DEAD_LETTER"), help="a JSON-lines file for callbacks that could not be handled [TENCENT_CHAT_DEAD_LETTER]")
    serve.add_argument(
        "--dead-letter-max-bytes", type=int, default=int(_env("DEAD_LETTER_MAX_BYTES") or DEFAULT_DEAD_LETTER_MAX_BYTES), help="the dead-letter file's size budget (default 1 GiB)"
    )
    serve.add_argument("--max-body-bytes", type=int, default=int(_env("MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES), help="the largest body accepted (default 1 MiB)")
    serve.add_argument(
        "--request-timeout", type=float, default=float(_env("REQUEST_TIMEOUT") or DEFAULT_REQUEST_TIMEOUT), help="seconds a client gets to send a whole request (default 10)"
    )
    serve.add_argument("--handler-deadline", type=float, default=float(_env("HANDLER_DEADLINE") or DEFAULT_HANDLER_DEADLINE), help=argparse.SUPPRESS)
    serve.add_argument(
        "--allow-source",
        action="append",
        default=[s for s in (_env("ALLOW_SOURCE") or "").split(",") if s],
        metavar="CIDR",
        help="a network requests may come from (repeatable) [TENCENT_CHAT_ALLOW_SOURCE, comma-separated]",
    )
    serve.add_argument(
        "--trust-forwarded-for",
        action="append",
        default=[s for s in (_env("TRUST_FORWARDED_FOR") or "").split(",") if s],
        metavar="CIDR",
        help="a proxy whose X-Forwarded-For names the source (repeatable) [TENCENT_CHAT_TRUST_FORWARDED_FOR]",
    )
    serve.add_argument(
        "--max-connections-per-source",
        type=int,
        default=int(_env("MAX_CONNECTIONS_PER_SOURCE") or DEFAULT_MAX_CONNECTIONS_PER_SOURCE),
        help="connections one address may hold open (default 256)",
    )
    return top


def log_event(event: object, ctx: Context) -> None:
    """One line per event, values in `repr` form (so escaped), as `example-server` writes them."""
    EVENTS.info("command=%r app=%d platform=%r client_ip=%r %r", ctx.command, ctx.app_id, ctx.platform or "-", ctx.client_ip or "-", event)


def log_unknown(event: UnhandledEvent, ctx: Context) -> None:
    log_event(event.body, ctx)


def dispatcher(args: argparse.Namespace) -> Dispatcher:
    """The dispatcher `serve` runs: a handler per known command and a fallback for the others."""
    sink = JsonLinesSink(args.dead_letter, max_bytes=args.dead_letter_max_bytes) if args.dead_letter else None
    result = Dispatcher(
        app_id=args.sdkappid,
        token=args.token,
        max_body_bytes=args.max_body_bytes,
        handler_deadline=args.handler_deadline,
        on_failure=args.on_failure,
        dead_letters=sink,
        allow_sources=args.allow_source or None,
    )
    for command in CALLBACKS:
        result.on(command, log_event)
    result.fallback(log_unknown)
    return result


def main(argv: _t.Optional[_t.Sequence[str]] = None) -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = parser().parse_args(argv)
    arguments = sys.argv[1:] if argv is None else list(argv)
    if any(a == "--token" or a.startswith("--token=") for a in arguments):
        LOGGER.warning("the token was given on the command line, where `ps` shows it; set TENCENT_CHAT_TOKEN instead")
    try:
        receiver = dispatcher(args)
        for network in args.trust_forwarded_for:
            ipaddress.ip_network(network, strict=False)
    except (OSError, ValueError) as error:
        LOGGER.error("cannot start: %s", clip(str(error)))
        return 2
    if args.sdkappid is not None:
        LOGGER.info("accepting callbacks for SdkAppid %d", args.sdkappid)
    else:
        LOGGER.warning("no --sdkappid given: accepting callbacks for ANY SdkAppid")
    if args.token:
        LOGGER.info("webhook authentication on: Sign and RequestTime are required")
    else:
        LOGGER.warning(
            "no token given (TENCENT_CHAT_TOKEN): Sign is NOT checked, so anyone who can reach this port can post callbacks; "
            "set the token configured in the console"
        )
    if not args.allow_source:
        LOGGER.warning(
            "no --allow-source given: requests are accepted from any address; anyone who saw one signed URL can post "
            "callbacks until its RequestTime expires"
        )
    LOGGER.info("before-callbacks that cannot be decided are answered by this policy: %s", args.on_failure.value)
    server = Server(
        receiver,
        path=args.path,
        request_timeout=args.request_timeout,
        max_connections_per_source=args.max_connections_per_source,
        trust_forwarded_for=args.trust_forwarded_for,
    )
    host, port = args.listen

    def ready(bound_host: str, bound_port: int) -> None:
        LOGGER.info("listening on http://%s:%d%s", bound_host, bound_port, args.path)

    asyncio.run(server.serve(host, port, ready=ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
