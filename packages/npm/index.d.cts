// The declarations of the runtime (index.cjs), written by hand. The types of the callback bodies,
// the command maps and the type guards are generated into model.d.cts and re-exported here.

import type {
  BeforeCallbackCommand,
  CallbackBodies,
  CallbackCommand,
  CallbackReplies,
  Decisions,
  common,
} from "./model.cjs";

export * from "./model.cjs";

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The default largest distance, in seconds, between `RequestTime` and the receiver's clock: 60. */
export declare const DEFAULT_MAX_SKEW: number;
/** The default largest body accepted: 1 MiB. */
export declare const DEFAULT_MAX_BODY_BYTES: number;
/** The default number of requests handled at once: 1024. */
export declare const DEFAULT_MAX_IN_FLIGHT: number;
/** The default time, in seconds, a handler gets before the request is answered without it: 1.5. */
export declare const DEFAULT_HANDLER_DEADLINE: number;
/** The default time, in seconds, a client gets to send a body once its headers arrived: 10. */
export declare const DEFAULT_REQUEST_TIMEOUT: number;
/** The default size budget of a dead-letter file: 1 GiB. */
export declare const DEFAULT_DEAD_LETTER_MAX_BYTES: number;

/** The `Sign` the vendor sends for `token` and `requestTime`: lowercase hex SHA-256 of the two, concatenated. */
export declare function sign(token: string, requestTime: string | number): string;

/**
 * Whether `sign` is the signature of `token` and `requestTime` (the query's `RequestTime`, Unix
 * seconds as digits), compared in constant time, with `requestTime` at most `maxSkew` seconds
 * (default 60; `null` skips the check) from `now` (Unix seconds; default: the system clock).
 */
export declare function verifySign(
  token: string,
  requestTime: string,
  sign: string,
  options?: { now?: number; maxSkew?: number | null },
): boolean;

/** Whether `command` is a command this version knows. */
export declare function isCallbackCommand(command: unknown): command is CallbackCommand;

/** The answers a before-callback accepts, each building the reply to return from its handler. */
export declare function decision<C extends BeforeCallbackCommand>(command: C): Decisions[C];

/** Every command this version knows, sorted. */
export declare const commands: readonly CallbackCommand[];

/** The bundled JSON Schema (draft 2020-12) of every callback. */
export declare const bundle: { $id: string; $defs: Record<string, unknown> };

/** The JSON Schema of the relay's envelope; its bodies refer to `commandSchemas()`. */
export declare const envelope: { $id: string; [keyword: string]: unknown };

/** Every per-command schema shipped in the package, by command: add them and `envelope` to one validator (Ajv's `addSchema`) and the envelope resolves offline. */
export declare function commandSchemas(): Record<string, { $id: string; [keyword: string]: unknown }>;

/**
 * A `$ref` to one command's body schema inside the bundle (`<bundle.$id>#/$defs/<Type>`), for
 * validators given the bundle, such as Ajv's `getSchema` after `addSchema(bundle)`.
 */
export declare function schemaRef(command: CallbackCommand): string;

/** What the request carried besides the typed body. */
export interface Context {
  appId: number;
  command: string;
  clientIp: string | null;
  platform: string | null;
  requestTime: number | null;
  requestId: string | null;
  /** The body as received. */
  rawBody: string;
}

/** What a handler may return: nothing (acknowledge, or allow), or the reply to send. */
export type HandlerResult<C extends CallbackCommand> = void | undefined | CallbackReplies[C];

/** A handler of one command. */
export type Handler<C extends CallbackCommand> = (
  event: CallbackBodies[C],
  ctx: Context,
) => HandlerResult<C> | Promise<HandlerResult<C>>;

/** A callback no typed handler takes, as given to the fallback. */
export interface UnhandledEvent {
  command: string;
  body: unknown;
}

/**
 * The HTTP answer to one request, as the Rust crate's `HttpReply`: a status and a JSON body in the
 * vendor's format (a reply body such as `common.Reply` or a before-callback's `<Type>Reply`).
 */
export interface HttpReply {
  status: number;
  body: string;
}

/** Why a request was refused or failed: its HTTP status and the reason sent as `ErrorInfo`. A handler may throw one to answer with that status. */
export declare class DispatchError extends Error {
  constructor(status: number, message: string, options?: { reason?: string });
  readonly status: number;
  /** Why, as logged and dead-lettered: `refused`, `undecodable`, `command_mismatch`, `handler_failed`, ... */
  readonly reason: string;
  /** The refusal as an `HttpReply`: its status and a `FAIL` body. */
  reply(): HttpReply;
}

/**
 * What a handler throws to refuse a request itself, rather than fail on it. Any other error is a
 * failure: logged, dead-lettered (`handler_failed`) and answered by the failure policy.
 */
export declare class Refusal extends DispatchError {
  /** The body is not a `command` event, for the reason given as `message`: 400 (or the policy, for a before-callback), logged and dead-lettered as `undecodable`. */
  static invalidBody(command: string, message: string): Refusal;
  /** A before-callback left to the failure policy on purpose: neither logged nor dead-lettered. An after-callback has no policy to leave it to, so there it is a failure. */
  static undecided(): Refusal;
}

/**
 * How a before-callback is answered when it cannot be decided (authentication failed, the body
 * does not decode, the handler failed or missed its deadline, overload): `vendor` answers the
 * failure's own status, so the vendor's console policy decides (by default, allow); `allow`
 * answers 200 with `ErrorCode` 0; `refuse` answers 200 with `ErrorCode` 1. After-callbacks always
 * get the failure's own status.
 */
export type FailurePolicy = "vendor" | "allow" | "refuse";

/** One callback that was not handled, in the Rust crate's format (one JSON line each in a file). */
export interface DeadLetter {
  command: string;
  /** `undecodable`, `command_mismatch`, `handler_failed`, `deadline_then_failed`, `overloaded`, `shutdown`, `batch_item_undecodable`. */
  reason: string;
  detail: string;
  app_id: number;
  request_id: string;
  received_at_ms: number;
  client_ip?: string | null;
  platform?: string | null;
  /** For one event of a batch: its index; `body` then holds that event alone. */
  index?: number;
  /** The body as received, when it is UTF-8. */
  body?: string;
  /** The body as received, base64-encoded, when it is not UTF-8. */
  body_base64?: string;
}

/** Where dead letters go: `write` returns `false` when a letter was dropped (over a budget) and throws when it could not be written; both are logged. */
export interface DeadLetterSink {
  write(letter: DeadLetter): boolean | void;
}

/** Appends each letter as one JSON line to `path`, within `maxBytes` (default 1 GiB) for the whole file. */
export declare class JsonLinesSink implements DeadLetterSink {
  constructor(path: string, options?: { maxBytes?: number });
  readonly path: string;
  readonly maxBytes: number;
  /** How many letters were dropped past the budget. */
  readonly dropped: number;
  write(letter: DeadLetter): boolean;
  close(): void;
  /** Every letter of a file written by a sink, in order. */
  static read(path: string): DeadLetter[];
}

/** Keeps letters in `letters`: for tests, and for apps that forward them elsewhere. */
export declare class MemorySink implements DeadLetterSink {
  readonly letters: DeadLetter[];
  write(letter: DeadLetter): boolean;
}

/** Where the dispatcher logs: refusals (`warn`), failures (`error`). Values from requests are escaped and clipped. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface WebhooksOptions {
  /** The app's SDKAppID; `null` accepts any app (for development only). */
  appId: number | null;
  /** The token set in the console; with it, every request must be signed. */
  token?: string | null;
  /** How far `RequestTime` may be from the clock, in seconds (default 60); `null` turns the check off. */
  maxClockSkew?: number | null;
  /** The largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** How many requests are handled at once (default 1024); past it, requests are shed with 503 (or the failure policy). */
  maxInFlight?: number;
  /** Seconds a handler gets before the request is answered without it (default 1.5); `null` for no deadline. */
  handlerDeadline?: number | null;
  /** How every before-callback is answered when it cannot be decided (default `vendor`). */
  onFailure?: FailurePolicy;
  /** The failure policy of single before-callbacks, overriding `onFailure`. */
  onFailureOf?: Partial<Record<BeforeCallbackCommand, FailurePolicy>>;
  /** Where authenticated callbacks that could not be handled are written, with their body. */
  deadLetters?: DeadLetterSink | null;
  /** The networks (CIDR) requests may come from, checked against the `source` given to `admit`. */
  allowSources?: readonly string[] | null;
  /** The clock `RequestTime` is compared with, in Unix seconds. */
  clock?: () => number;
  /** Where refusals and failures are logged (default: `console`). */
  logger?: Logger;
}

/** A request whose query string passed every check of `Webhooks.admit`. */
export declare class Admitted {
  private constructor();
  /** `CallbackCommand`, as sent. */
  readonly command: string;
}

/** A Node `http` request listener that is also an Express middleware. */
export type Middleware = (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next?: (error?: unknown) => void) => void;

/** Receives callbacks: typed handlers by command, one dispatcher for every request. */
export declare class Webhooks {
  constructor(options: WebhooksOptions);
  /** Registers the handler of `command`; it receives the typed body. */
  on<C extends CallbackCommand>(command: C, handler: Handler<C>): this;
  /** Registers the handler of every callback no typed handler takes. */
  fallback(handler: (event: UnhandledEvent, ctx: Context) => unknown): this;
  /** Answers one request: the raw query string (without `?`) and the raw body. Never rejects. */
  dispatch(query: string, body: string | Uint8Array, options?: { source?: string }): Promise<HttpReply>;
  /** Checks the query string (and `source`, the peer address) alone, before a body is read: an `Admitted`, or the refusal. */
  admit(query: string, options?: { source?: string | undefined }): Admitted | HttpReply;
  /** Answers the body of an admitted request. Never rejects. */
  dispatchAdmitted(admitted: Admitted, body: string | Uint8Array): Promise<HttpReply>;
  /** Answers an admitted request whose body could not be read (too large, too slow). */
  refuseAdmitted(admitted: Admitted, error: DispatchError): HttpReply;
  /** Waits up to `timeout` seconds for handlers past their deadline; dead-letters the rest (`shutdown`) and resolves to their number. */
  drain(timeout: number): Promise<number>;
  /** How many handlers are running past their deadline. */
  readonly handlersPastDeadline: number;
  /** Serves the dispatcher at `path` (default `/callback`; `null` for every path); a body must arrive within `requestTimeout` seconds (default 10). */
  middleware(options?: { path?: string | null; requestTimeout?: number; trustForwardedFor?: readonly string[] }): Middleware;
}

/** The limits of `createServer` and `serve`, in seconds and counts. */
export interface ServerOptions {
  /** The path callbacks are posted to (default `/callback`). */
  path?: string;
  /** Seconds a client gets to send the headers of a request, or stay idle between requests (default 10). */
  headerTimeout?: number;
  /** Seconds a client gets to send a whole request, headers and body (default 10); past it, 408 and the connection closed. */
  requestTimeout?: number;
  /** How many connections are served at once (default 4096). */
  maxConnections?: number;
  /** How many connections one source address may hold open (default 256). */
  maxConnectionsPerSource?: number;
  /** Proxies (CIDR) whose `X-Forwarded-For` names a request's source; from elsewhere the header is ignored. */
  trustForwardedFor?: readonly string[];
}

/**
 * An `http.Server` answering callbacks with `webhooks`: header and request timeouts, refusals
 * before the body with `Connection: close`, `100 Continue` only once admitted, connection caps,
 * no access log. Call `listen` on it yourself, or use `serve`.
 */
export declare function createServer(webhooks: Webhooks, options?: ServerOptions): Server;

/**
 * Serves `webhooks` until SIGTERM or SIGINT (or `signal` aborts), then drains: the listener and
 * idle connections close, requests in flight finish, handlers past their deadline get the rest of
 * `drainTimeout` seconds (default 30) before they are dead-lettered. Resolves to how many were abandoned.
 */
export declare function serve(
  webhooks: Webhooks,
  options?: ServerOptions & {
    host?: string;
    port?: number;
    drainTimeout?: number;
    signal?: AbortSignal;
    logger?: Logger;
    ready?: (address: AddressInfo) => void;
  },
): Promise<number>;
