// The runtime (index.cjs), declared by hand in codegen/templates/npm/runtime.d.ts.

import type { IncomingMessage, ServerResponse } from "node:http";

/** The default largest distance, in seconds, between `RequestTime` and the receiver's clock: 300. */
export declare const DEFAULT_MAX_SKEW: number;
/** The default largest body accepted: 1 MiB. */
export declare const DEFAULT_MAX_BODY_BYTES: number;

/** The `Sign` the vendor sends for `token` and `requestTime`: lowercase hex SHA-256 of the two, concatenated. */
export declare function sign(token: string, requestTime: string | number): string;

/**
 * Whether `sign` is the signature of `token` and `requestTime` (the query's `RequestTime`, Unix
 * seconds as digits), compared in constant time, with `requestTime` at most `maxSkew` seconds
 * (default 300; `null` skips the check) from `now` (Unix seconds; default: the system clock).
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

/** A refusal: its HTTP status and the reason sent as `ErrorInfo`. A handler may throw one to answer with that status. */
export declare class DispatchError extends Error {
  constructor(status: number, message: string);
  readonly status: number;
  /** The refusal as an `HttpReply`: its status and a `FAIL` body. */
  reply(): HttpReply;
}

export interface WebhooksOptions {
  /** The app's SDKAppID; `null` accepts any app (for development only). */
  appId: number | null;
  /** The token set in the console; with it, every request must be signed. */
  token?: string | null;
  /** How far `RequestTime` may be from the clock, in seconds (default 300); `null` turns the check off. */
  maxClockSkew?: number | null;
  /** The largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** The clock `RequestTime` is compared with, in Unix seconds. */
  clock?: () => number;
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
  dispatch(query: string, body: string | Uint8Array): Promise<HttpReply>;
  /** Serves the dispatcher at `path` (default `/callback`; `null` for every path). */
  middleware(options?: { path?: string | null }): Middleware;
}
