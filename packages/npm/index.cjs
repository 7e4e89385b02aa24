// tencent-chat-callbacks: the runtime.
//
// `Webhooks` makes the same checks, in the same order, with the same statuses and answers, as the
// Rust crate's `Dispatcher`:
// 1. 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
// 2. 403 if the source is not in `allowSources`, or `SdkAppid` is not the configured app id;
// 3. with a token: 401 if `Sign` or `RequestTime` is missing, `RequestTime` is too far from the
//    clock, or `Sign` does not match;
// 4. 503 if `maxInFlight` requests are being handled; 413 if the body exceeds the limit;
// 5. 400 if the body names another command than the query; otherwise `OK` at once when no handler
//    takes the command;
// 6. 400 if the body is not JSON of the command's type (decode.cjs; a `Push.*` batch keeps its
//    good events, the bad ones are dead-lettered one by one);
// 7. the handler's answer; 500 if it throws, with a generic `ErrorInfo` naming the request id (the
//    error goes to the log); a handler still running at `handlerDeadline` is answered without
//    (`OK` for an after-callback, which goes on to finish).
// Steps 1-3 read only the query string (`admit`), so a server refuses a forged request before
// reading its body. For a before-callback every failure is answered by the failure policy
// (`onFailure`, `onFailureOf`: `vendor`, the failure's own status, by default; `allow`; `refuse`).
// Every authenticated request that fails after step 3 is written to `deadLetters`, with its body.
"use strict";

const crypto = require("node:crypto");
const net = require("node:net");
const model = require("./model.cjs");
const bundle = require("./callbacks.schema.json");
const { decodeBody, isObject, parseJson } = require("./decode.cjs");
const { DEFAULT_DEAD_LETTER_MAX_BYTES, JsonLinesSink, MemorySink, deadLetter } = require("./dead-letter.cjs");
const { RefusalLimiter, clip, consoleLogger } = require("./log.cjs");

/** The default largest distance, in seconds, between `RequestTime` and the receiver's clock. */
const DEFAULT_MAX_SKEW = 60;
/** The default largest body accepted: 1 MiB. */
const DEFAULT_MAX_BODY_BYTES = 1 << 20;
/** The default number of requests handled at once; past it, requests are shed (503, or the failure policy). */
const DEFAULT_MAX_IN_FLIGHT = 1024;
/** The default time, in seconds, a handler gets before the request is answered without it: 1.5. */
const DEFAULT_HANDLER_DEADLINE = 1.5;
/** The default time, in seconds, a client gets to send a body once its headers arrived: 10. */
const DEFAULT_REQUEST_TIMEOUT = 10;
const OK_BODY = '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}';
const DIGITS = /^[0-9]{1,19}$/;
const LOWER_HEX_64 = /^[0-9a-f]{64}$/;

/** The `Sign` the vendor sends: lowercase hex SHA-256 of the token followed by `RequestTime`. */
function sign(token, requestTime) {
  return crypto.createHash("sha256").update(`${token}${requestTime}`, "utf8").digest("hex");
}

/** Why a signature fails, or `null` when it is good. */
function signatureProblem(token, requestTime, signParam, now, maxSkew) {
  if (typeof requestTime !== "string" || !DIGITS.test(requestTime)) return "`RequestTime` is not a Unix time in seconds";
  if (maxSkew !== null && maxSkew !== undefined) {
    const clock = Math.trunc(now === undefined ? Date.now() / 1000 : now);
    const skew = Math.abs(clock - Number(requestTime));
    if (skew > maxSkew) return `\`RequestTime\` is ${skew} s away from this server's clock; at most ${maxSkew} s is allowed`;
  }
  // Only 64 lowercase hex digits can match; that is public, so checking it first leaks nothing.
  if (typeof signParam !== "string" || !LOWER_HEX_64.test(signParam)) return "`Sign` does not match the configured token";
  const expected = crypto.createHash("sha256").update(`${token}${requestTime}`, "utf8").digest();
  return crypto.timingSafeEqual(expected, Buffer.from(signParam, "hex")) ? null : "`Sign` does not match the configured token";
}

/** Whether `sign` authenticates `requestTime` for `token`, compared in constant time. */
function verifySign(token, requestTime, signParam, options = {}) {
  const maxSkew = options.maxSkew === undefined ? DEFAULT_MAX_SKEW : options.maxSkew;
  return signatureProblem(token, String(requestTime), signParam, options.now, maxSkew) === null;
}

/** Why a request was refused or failed: its HTTP status and the reason sent as `ErrorInfo`. A handler may throw one. */
class DispatchError extends Error {
  constructor(status, message, options = {}) {
    super(message);
    this.name = "DispatchError";
    this.status = status;
    /** Why, as logged and dead-lettered: `refused`, `undecodable`, `handler_failed`, ... */
    this.reason = options.reason ?? (status === 400 ? "undecodable" : status >= 500 ? "handler_failed" : "refused");
  }

  reply() {
    return { status: this.status, body: replyBody("FAIL", 1, this.message) };
  }
}

/**
 * What a handler throws to refuse a request itself, rather than fail on it. Any other error is a
 * failure: logged, dead-lettered (`handler_failed`) and answered by the failure policy.
 * `Refusal.invalidBody(command, message)`: the body is not an event the handler takes (400, or
 * the policy for a before-callback; logged and dead-lettered as `undecodable`).
 * `Refusal.undecided()`: a before-callback left to the failure policy on purpose (neither logged
 * nor dead-lettered); an after-callback has no policy to leave it to, so there it is a failure.
 */
class Refusal extends DispatchError {
  static invalidBody(command, message) {
    return new Refusal(400, invalidBody(command, ".", message).message, { reason: "undecodable" });
  }

  static undecided() {
    return new Refusal(503, "the handler left this callback to the failure policy", { reason: "undecided" });
  }

  constructor(status, message, options = {}) {
    super(status, message, options);
    this.name = "Refusal";
  }
}

function replyBody(actionStatus, errorCode, info) {
  return JSON.stringify({ ActionStatus: actionStatus, ErrorCode: errorCode, ErrorInfo: info });
}

/**
 * Failures whose body is not dead-lettered, as the Rust crate's `Reason::keeps_body` says: one too
 * large to have been read, and a before-callback the handler left to the policy on purpose.
 */
const KEEPS_NO_BODY = new Set(["body_too_large", "undecided"]);

const bodyTooLarge = (limit) => new DispatchError(413, `the body is larger than the limit of ${limit} bytes`, { reason: "body_too_large" });
const invalidBody = (command, path, message) =>
  new DispatchError(400, `the body is not a valid \`${clip(command)}\`: at \`${clip(path)}\`: ${clip(message)}`, { reason: "undecodable" });

const QUERY_NAMES = ["SdkAppid", "CallbackCommand", "contenttype", "ClientIP", "OptPlatform", "Sign", "RequestTime", "RequestID"];
const CANONICAL = new Map(QUERY_NAMES.map((name) => [name.toLowerCase(), name]));

function decodeComponent(text) {
  const spaced = text.replace(/\+/g, " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Like the Rust side, a malformed escape is kept as it is (and invalid UTF-8 replaced).
    return Buffer.from(spaced.replace(/%([0-9a-fA-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))), "latin1").toString("utf8");
  }
}

/** The query parameters the dispatcher reads, by canonical name, and the first one repeated. */
function readQuery(query) {
  const found = new Map();
  let repeated = null;
  for (const pair of query.split("&")) {
    if (pair === "") continue;
    const at = pair.indexOf("=");
    let name = at < 0 ? pair : pair.slice(0, at);
    let value = at < 0 ? "" : pair.slice(at + 1);
    if (/[%+]/.test(pair)) {
      name = decodeComponent(name);
      value = decodeComponent(value);
    }
    // eslint-disable-next-line no-control-regex
    const canonical = /^[\x00-\x7f]*$/.test(name) ? CANONICAL.get(name.toLowerCase()) : undefined;
    if (canonical === undefined) continue;
    if (found.has(canonical)) repeated ??= canonical;
    else found.set(canonical, value);
  }
  return { params: found, repeated };
}

/** The body's own `CallbackCommand`, when it is a JSON object that carries one as a string. */
function bodyCommand(text) {
  let value;
  try {
    value = parseJson(text);
  } catch {
    return null;
  }
  return isObject(value) && typeof value.CallbackCommand === "string" ? value.CallbackCommand : null;
}

function checkBodyCommand(command, text) {
  const found = text === null ? null : bodyCommand(text);
  if (found !== null && found !== command) {
    throw new DispatchError(400, `the body's CallbackCommand \`${clip(found)}\` differs from the query's \`${clip(command)}\``, {
      reason: "command_mismatch",
    });
  }
}

function decode(command, text) {
  if (!/^\s*\{/.test(text) && /\S/.test(text)) throw invalidBody(command, ".", "expected a JSON object");
  let decoded;
  try {
    decoded = decodeBody(command, text);
  } catch (error) {
    throw invalidBody(command, ".", String(error.message).split("\n")[0]);
  }
  if (decoded.problem !== undefined) {
    checkBodyCommand(command, text);
    throw invalidBody(command, decoded.problem.path, decoded.problem.message);
  }
  return decoded;
}

/** The failure policies, as the Rust crate names them. */
const POLICIES = ["vendor", "allow", "refuse"];

function policyOf(name) {
  const policy = String(name).toLowerCase();
  if (!POLICIES.includes(policy)) throw new TypeError(`unknown failure policy \`${clip(name)}\`: expected \`vendor\`, \`allow\` or \`refuse\``);
  return policy;
}

function kindOf(command) {
  return command !== null && isCallbackCommand(command) ? (model.commands[command].decision === null ? "after" : "before") : null;
}

function parseNetwork(cidr) {
  const [address, bits] = String(cidr).split("/");
  const family = net.isIP(address);
  if (family === 0) throw new TypeError(`not a network: \`${clip(cidr)}\``);
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new TypeError(`not a network: \`${clip(cidr)}\``);
  return { address, prefix, type: family === 4 ? "ipv4" : "ipv6" };
}

function allowList(cidrs) {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const network = parseNetwork(cidr);
    list.addSubnet(network.address, network.prefix, network.type);
  }
  return list;
}

function sourceAllowed(list, source) {
  if (typeof source !== "string") return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(source);
  const address = mapped ? mapped[1] : source;
  const family = net.isIP(address);
  return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: `peer`, unless `peer` is in `proxies` (a BlockList); then the rightmost
 * entry of `X-Forwarded-For` that is not a trusted proxy (entries left of it could be forged).
 */
function forwardedSource(peer, forwardedFor, proxies) {
  if (!sourceAllowed(proxies, peer)) return peer;
  const hops = String(forwardedFor)
    .split(",")
    .map((hop) => hop.trim())
    .filter((hop) => hop !== "");
  for (let i = hops.length - 1; i >= 0; i--) if (!sourceAllowed(proxies, hops[i])) return hops[i];
  return hops[0] ?? peer;
}

/** A request whose query string passed every check of `Webhooks.admit`. */
class Admitted {
  constructor(head) {
    this.head = head;
  }

  /** `CallbackCommand`, as sent. */
  get command() {
    return this.head.command;
  }
}

let nextRequestId = 0;

/** Receives callbacks: `on(command, handler)` registers typed handlers; `dispatch` and `middleware` answer requests. */
class Webhooks {
  constructor(options) {
    if (options === undefined || !("appId" in options)) {
      throw new TypeError("set `appId` (the app's SDKAppID), or `appId: null` to accept any app");
    }
    if (options.token !== undefined && options.token !== null && options.token === "") {
      throw new TypeError("the token is empty; leave it unset to turn authentication off");
    }
    this.appId = options.appId;
    this.token = options.token ?? null;
    this.maxClockSkew = options.maxClockSkew === undefined ? DEFAULT_MAX_SKEW : options.maxClockSkew;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxInFlight = options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.handlerDeadline = options.handlerDeadline === undefined ? DEFAULT_HANDLER_DEADLINE : options.handlerDeadline;
    this.onFailure = policyOf(options.onFailure ?? "vendor");
    this.onFailureOf = new Map();
    for (const [command, policy] of Object.entries(options.onFailureOf ?? {})) {
      if (kindOf(command) !== "before") {
        throw new TypeError(`\`${clip(command)}\` is not a before-callback; a failure policy applies only to before-callbacks`);
      }
      this.onFailureOf.set(command, policyOf(policy));
    }
    this.deadLetters = options.deadLetters ?? null;
    this.allowSources = options.allowSources === undefined || options.allowSources === null ? null : allowList(options.allowSources);
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.logger = options.logger ?? consoleLogger;
    this.handlers = new Map();
    this.fallbackHandler = null;
    this.inFlight = 0;
    this.refusals = new RefusalLimiter(20, 1000);
    this.losses = new RefusalLimiter(20, 1000);
    this.late = new Map();
    if (this.token === null) {
      this.logger.warn(
        "no webhook token is set: any client that knows the URL can post callbacks and decide before-callbacks; set the token configured in the console",
      );
    }
    if (this.appId === null) this.logger.warn("callbacks for ANY SdkAppid are accepted; set the app id in production");
    if (this.deadLetters === null) this.logger.warn("no dead-letter sink is set: callbacks that fail are only logged, not kept");
  }

  /** Registers the handler of one command. */
  on(command, handler) {
    if (!isCallbackCommand(command)) throw new TypeError(`unknown command \`${command}\``);
    if (this.handlers.has(command)) throw new TypeError(`two handlers are registered for \`${command}\``);
    this.handlers.set(command, handler);
    return this;
  }

  /** Registers the handler of every callback no typed handler takes. */
  fallback(handler) {
    this.fallbackHandler = handler;
    return this;
  }

  /**
   * Checks a request's query string alone (and its source address, with `allowSources`): a
   * server calls this before reading the body, so a forged request never gets its body read (nor
   * a `100 Continue`), then `dispatchAdmitted`. Returns an `Admitted`, or the refusal.
   */
  admit(query, options = {}) {
    const { params, repeated } = readQuery(query);
    const command = repeated === "CallbackCommand" ? null : (params.get("CallbackCommand") ?? null);
    const refuse = (error) => this.refuseUnauthenticated(command, params, error);
    const refused = (status, message) => refuse(new DispatchError(status, message, { reason: "refused" }));
    if (this.allowSources !== null && !sourceAllowed(this.allowSources, options.source)) {
      return refused(403, `the source \`${clip(options.source ?? "-")}\` is not allowed`);
    }
    if (repeated !== null) return refused(400, `query parameter \`${repeated}\` appears more than once`);
    if (!params.has("SdkAppid")) return refused(400, "missing query parameter `SdkAppid`");
    const appIdText = params.get("SdkAppid");
    if (!DIGITS.test(appIdText)) return refused(400, `query parameter \`SdkAppid\` is invalid: \`${clip(appIdText)}\` is not a number`);
    if (this.appId !== null && BigInt(appIdText) !== BigInt(this.appId)) {
      return refused(403, `SdkAppid \`${BigInt(appIdText)}\` is not this app's`);
    }
    const now = this.clock();
    if (this.token !== null) {
      if (!params.has("Sign") || !params.has("RequestTime")) {
        return refused(401, "missing `Sign` or `RequestTime`: this endpoint requires webhook authentication");
      }
      const problem = signatureProblem(this.token, params.get("RequestTime"), params.get("Sign"), now, this.maxClockSkew);
      if (problem !== null) return refused(401, problem);
    }
    if (command === null) return refused(400, "missing query parameter `CallbackCommand`");
    const requestTime = params.get("RequestTime");
    return new Admitted({
      appId: Number(appIdText),
      command,
      clientIp: params.get("ClientIP") ?? null,
      platform: params.get("OptPlatform") ?? null,
      requestTime: requestTime !== undefined && DIGITS.test(requestTime) ? Number(requestTime) : null,
      requestId: params.get("RequestID") ?? null,
      receivedAt: now,
      started: performance.now(),
      localId: null,
    });
  }

  /** Answers an admitted request whose body could not be read: too large, cut off, too slow. */
  refuseAdmitted(admitted, error) {
    return this.fail(admitted.head, error, null);
  }

  /** Handles one request: the raw query string (without `?`) and the raw body. Never rejects. */
  async dispatch(query, body, options = {}) {
    const admitted = this.admit(query, options);
    if (!(admitted instanceof Admitted)) return admitted;
    return this.dispatchAdmitted(admitted, body);
  }

  /** Handles the body of a request that `admit` let in. Never rejects. */
  async dispatchAdmitted(admitted, body) {
    const head = admitted.head;
    const raw = typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (this.inFlight >= this.maxInFlight) {
      return this.fail(head, new DispatchError(503, "too many callbacks are being handled; try again later", { reason: "overloaded" }), raw);
    }
    this.inFlight++;
    try {
      let call;
      try {
        call = this.start(head, raw);
      } catch (error) {
        return this.fail(head, error instanceof DispatchError ? error : handlerFailed(error), raw);
      }
      if (typeof call !== "function") return call;
      let work;
      try {
        work = Promise.resolve(call());
      } catch (error) {
        work = Promise.reject(error);
      }
      if (this.handlerDeadline === null) return this.outcome(head, raw, await settle(work));
      const left = Math.max(0, this.handlerDeadline * 1000 - (performance.now() - head.started));
      let timer;
      const deadline = new Promise((resolve) => {
        timer = setTimeout(() => resolve(null), left);
      });
      const settled = await Promise.race([settle(work), deadline]);
      clearTimeout(timer);
      if (settled === null) return this.deadlineMissed(head, raw, work);
      return this.outcome(head, raw, settled);
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Waits up to `timeout` seconds for every handler still running past its deadline, then
   * abandons the rest, writing each to the dead-letter sink with reason `shutdown`. Resolves to
   * how many were abandoned. Call it at shutdown, after the server stopped taking requests.
   */
  async drain(timeout) {
    const running = [...this.late.keys()];
    if (running.length > 0) {
      let timer;
      await Promise.race([
        Promise.allSettled(running),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeout * 1000);
        }),
      ]);
      clearTimeout(timer);
    }
    const abandoned = [...this.late.values()];
    this.late.clear();
    for (const letter of abandoned) {
      this.logger.error(
        `shutting down with the handler still running; the event is dead-lettered command=${clip(letter.command)} request_id=${clip(letter.request_id)}`,
      );
      this.writeDeadLetter(letter);
    }
    return abandoned.length;
  }

  /** How many handlers are running past their deadline right now. */
  get handlersPastDeadline() {
    return this.late.size;
  }

  /** Everything up to the handler call: a reply, or the call to make. */
  start(head, raw) {
    if (raw.byteLength > this.maxBodyBytes) throw bodyTooLarge(this.maxBodyBytes);
    const command = head.command;
    const handler = this.handlers.get(command);
    let text;
    try {
      text = toText(raw);
    } catch {
      text = null;
    }
    if (handler === undefined && this.fallbackHandler === null) {
      // Even unhandled, a body of another command is refused, never acknowledged.
      checkBodyCommand(command, text);
      return { status: 200, body: OK_BODY };
    }
    if (text === null) throw invalidBody(command, ".", "the body is not UTF-8");
    const ctx = {
      appId: head.appId,
      command,
      clientIp: head.clientIp,
      platform: head.platform,
      requestTime: head.requestTime,
      requestId: head.requestId,
      rawBody: text,
    };
    if (handler !== undefined) {
      const { event, rejected } = decode(command, text);
      for (const item of rejected) this.deadLetterBatchItem(head, item);
      return () => handler(event, ctx);
    }
    let value;
    try {
      value = parseJson(text, true);
    } catch (error) {
      throw invalidBody(command, ".", String(error.message).split("\n")[0]);
    }
    checkBodyCommand(command, text);
    const fallback = this.fallbackHandler;
    return () => fallback({ command, body: value }, ctx);
  }

  /** The answer to a finished handler: its reply, or its failure. */
  outcome(head, raw, settled) {
    if (settled.ok) {
      const result = settled.value;
      if (result === undefined || result === null) return { status: 200, body: OK_BODY };
      if (isObject(result)) return { status: 200, body: JSON.stringify(result) };
      return this.fail(head, handlerFailed(new TypeError("a handler returns nothing or a reply object")), raw);
    }
    const error = settled.error;
    return this.fail(head, error instanceof DispatchError ? error : handlerFailed(error), raw);
  }

  deadlineMissed(head, raw, work) {
    const requestId = this.requestId(head);
    const letter = this.letter(head, "shutdown", "the server shut down while the handler ran", raw);
    this.late.set(work, letter);
    settle(work).then((settled) => {
      this.late.delete(work);
      let failure = null;
      if (!settled.ok) failure = settled.error instanceof DispatchError ? settled.error : handlerFailed(settled.error);
      else if (settled.value !== undefined && settled.value !== null && !isObject(settled.value)) {
        failure = handlerFailed(new TypeError("a handler returns nothing or a reply object"));
      }
      if (failure === null) return;
      this.logger.error(
        `a handler that missed its deadline then failed; the event is dead-lettered command=${clip(head.command)} request_id=${clip(requestId)} error=${failure.message}`,
      );
      this.writeDeadLetter(this.letter(head, "deadline_then_failed", failure.message, raw));
    });
    if (kindOf(head.command) === "before") {
      return this.fail(head, new DispatchError(504, "the handler did not decide within the deadline", { reason: "deadline_missed" }), null);
    }
    this.logger.warn(`the handler missed its deadline; answering OK while it finishes command=${clip(head.command)} request_id=${clip(requestId)}`);
    return { status: 200, body: OK_BODY };
  }

  /** An authenticated request that failed: logged, dead-lettered when its body is known, answered by the policy. */
  fail(head, error, raw) {
    const requestId = this.requestId(head);
    if (error.reason === "undecided" && kindOf(head.command) !== "before") {
      error = handlerFailed(new Error("it left a callback undecided that is not a before-callback"));
    }
    // Shedding is what overload looks like: one line per shed request would add to the load. A
    // before-callback the handler left to the policy is not a failure at all.
    const log = error.reason !== "undecided" && (error.reason !== "overloaded" || this.refusals.admit() !== null);
    if (log) {
      const line = `command=${clip(head.command)} client_ip=${clip(head.clientIp ?? "-")} request_id=${clip(requestId)} reason=${error.reason} error=${error.message}`;
      if (error.status >= 500) this.logger.error(`callback failed ${line}`);
      else this.logger.warn(`callback refused ${line}`);
    }
    if (raw !== null && !KEEPS_NO_BODY.has(error.reason)) this.writeDeadLetter(this.letter(head, error.reason, error.message, raw));
    return this.answer(head.command, kindOf(head.command), error, requestId, log);
  }

  /** A request whose query string failed a check: logged through the rate limit, never dead-lettered. */
  refuseUnauthenticated(command, params, error) {
    const requestId = params.get("RequestID") ?? "-";
    const suppressed = this.refusals.admit();
    if (suppressed !== null) {
      this.logger.warn(
        `callback refused command=${clip(command ?? "-")} client_ip=${clip(params.get("ClientIP") ?? "-")} request_id=${clip(requestId)} suppressed_since_last=${suppressed} error=${error.message}`,
      );
    }
    return this.answer(command, kindOf(command), error, requestId, suppressed !== null);
  }

  /** A failure's own status, or for a before-callback the failure policy's answer. */
  answer(command, kind, error, requestId, log) {
    const own =
      error.reason === "handler_failed"
        ? // The handler's own words go to the log, not to whoever sent the request.
          { status: error.status, body: replyBody("FAIL", 1, `the callback could not be handled (request ${clip(requestId)})`) }
        : error.reply();
    if (command === null || kind !== "before") return own;
    const policy = this.onFailureOf.get(command) ?? this.onFailure;
    if (log) {
      this.logger.error(
        `a before-callback could not be decided; answering by the failure policy command=${clip(command)} request_id=${clip(requestId)} reason=${error.reason} policy=${policy}`,
      );
    }
    if (policy === "allow") return { status: 200, body: OK_BODY };
    if (policy === "refuse") return { status: 200, body: replyBody("OK", 1, `refused by the failure policy (request ${clip(requestId)})`) };
    return own;
  }

  /** The vendor's `RequestID`, or an id of this process's when it sent none. */
  requestId(head) {
    if (head.requestId !== null) return head.requestId;
    head.localId ??= `local-${process.pid}-${nextRequestId++}`;
    return head.localId;
  }

  letter(head, reason, detail, raw) {
    return deadLetter(raw, {
      command: head.command,
      reason,
      detail,
      app_id: head.appId,
      request_id: this.requestId(head),
      received_at_ms: Math.trunc(head.receivedAt * 1000),
      client_ip: head.clientIp,
      platform: head.platform,
    });
  }

  deadLetterBatchItem(head, item) {
    this.logger.error(
      `an event of a batch could not be decoded; the others are handled and it is dead-lettered command=${clip(head.command)} request_id=${clip(this.requestId(head))} index=${item.index} reason=${clip(item.reason)}`,
    );
    const letter = this.letter(head, "batch_item_undecodable", item.reason, Buffer.from(item.body, "utf8"));
    letter.index = item.index;
    this.writeDeadLetter(letter);
  }

  writeDeadLetter(letter) {
    let why = null;
    try {
      if (this.deadLetters === null) why = "no dead-letter sink is configured";
      else if (this.deadLetters.write(letter) === false) why = "the dead-letter budget is used up";
    } catch (error) {
      why = `the dead letter could not be written (${clip(error instanceof Error ? error.message : String(error))})`;
    }
    if (why !== null && this.losses.admit() !== null) {
      this.logger.error(`${why}: this event is lost command=${clip(letter.command)} request_id=${clip(letter.request_id)} reason=${letter.reason}`);
    }
  }

  /**
   * A Node `http` request listener, also an Express middleware: answers POSTs to `path` (every
   * path when `path` is `null`), 405 to other methods there, and passes other paths to `next`
   * (or answers 404 without one). The query string is checked before the body is read; a refusal
   * is sent with `Connection: close`; behind a proxy listed in `trustForwardedFor` (CIDRs), the
   * source is the one it appended to `X-Forwarded-For`. Reads the body itself (within `requestTimeout` seconds),
   * unless a body parser ran first: a Buffer or string in `req.body` is used as it is, a parsed
   * JSON body is encoded again.
   */
  middleware(options = {}) {
    const path = options.path === undefined ? "/callback" : options.path;
    const requestTimeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT;
    const proxies = options.trustForwardedFor?.length ? allowList(options.trustForwardedFor) : null;
    return (req, res, next) => {
      const url = req.url ?? "/";
      const at = url.indexOf("?");
      const pathname = at < 0 ? url : url.slice(0, at);
      const query = at < 0 ? "" : url.slice(at + 1);
      let sent = false;
      const send = (reply, extra = {}) => {
        if (sent || res.headersSent) return;
        sent = true;
        res.writeHead(reply.status, { "content-type": "application/json", "content-length": Buffer.byteLength(reply.body), ...extra });
        res.end(reply.body);
      };
      // Answered before the body is read: the connection is closed, so none of it is read.
      const refuse = (reply, extra = {}) => send(reply, { connection: "close", ...extra });
      if (path !== null && pathname !== path) {
        if (typeof next === "function") return next();
        return refuse(new DispatchError(404, "no callback endpoint here").reply());
      }
      if (req.method !== "POST") return refuse(new DispatchError(405, "callbacks are sent with POST").reply(), { allow: "POST" });
      let source = req.socket?.remoteAddress;
      const forwarded = req.headers["x-forwarded-for"];
      if (proxies !== null && source !== undefined && forwarded !== undefined) source = forwardedSource(source, forwarded, proxies);
      const admitted = this.admit(query, { source });
      if (!(admitted instanceof Admitted)) return refuse(admitted);
      const limit = this.maxBodyBytes;
      const announced = Number(req.headers["content-length"]);
      if (Number.isFinite(announced) && announced > limit) return refuse(this.refuseAdmitted(admitted, bodyTooLarge(limit)));
      // Under `createServer`, a client that waits for `100 Continue` is told to go on only now.
      if (options.expectContinue === true && /^100-continue$/i.test(String(req.headers.expect ?? ""))) res.writeContinue();
      const answer = (body) => this.dispatchAdmitted(admitted, body).then((reply) => send(reply));
      if (Buffer.isBuffer(req.body) || typeof req.body === "string") {
        answer(req.body);
        return;
      }
      if (req.body !== undefined && req.readableEnded) {
        // A JSON body parser ran first and consumed the stream: its result is encoded again. The
        // vendor signs no body, so this loses no check, only exotic spellings of the JSON.
        answer(JSON.stringify(req.body));
        return;
      }
      const chunks = [];
      let size = 0;
      let done = false;
      const stop = (reply) => {
        done = true;
        clearTimeout(timer);
        refuse(reply);
        req.removeAllListeners("data");
        req.resume();
      };
      const timer = setTimeout(() => {
        if (done) return;
        const error = new DispatchError(408, "the request did not arrive in full within the request timeout", { reason: "request_timeout" });
        stop(this.refuseAdmitted(admitted, error));
        res.once("finish", () => req.socket?.destroy());
      }, requestTimeout * 1000);
      req.on("data", (chunk) => {
        if (done) return;
        size += chunk.length;
        if (size > limit) {
          stop(this.refuseAdmitted(admitted, bodyTooLarge(limit)));
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        answer(Buffer.concat(chunks));
      });
      req.on("error", (error) => {
        done = true;
        clearTimeout(timer);
        if (typeof next === "function") next(error);
      });
    };
  }
}

/** A promise's outcome, as a value: `{ ok: true, value }` or `{ ok: false, error }`. */
function settle(promise) {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error) => ({ ok: false, error }),
  );
}

function handlerFailed(error) {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return new DispatchError(500, `the handler failed: ${clip(message)}`, { reason: "handler_failed" });
}

const decisionCache = new Map();

/** The answers a before-callback accepts, each building the reply to return from the handler. */
function decision(command) {
  const facts = model.commands[command];
  if (facts === undefined || facts.decision === null) throw new TypeError(`\`${command}\` is not a before-callback`);
  const cached = decisionCache.get(command);
  if (cached !== undefined) return cached;
  const d = facts.decision;
  const reply = (code, info = "", fields = {}) => ({ ActionStatus: "OK", ErrorCode: code, ErrorInfo: info, ...fields });
  const only = (allowed, fields, what) => {
    const out = {};
    for (const [key, value] of Object.entries(fields)) {
      if (!allowed.includes(key)) throw new TypeError(`\`${command}\` takes no \`${key}\` ${what}`);
      if (value !== undefined && value !== null) out[key] = value;
    }
    return out;
  };
  const answers = { allow: () => reply(0) };
  if (d.modify.length > 0) answers.modify = (fields) => reply(0, "", only(d.modify, fields, "change"));
  if (d.allowWith.length > 0) answers.allowWith = (fields) => reply(0, "", only(d.allowWith, fields, "answer"));
  if (d.refuse) answers.refuse = () => reply(1);
  if (d.drop) answers.drop = () => reply(2);
  if (d.refuse && d.appErrorCodes !== null) {
    const [low, high] = d.appErrorCodes;
    answers.refuseWith = (code, reason) => {
      if (!Number.isInteger(code) || code < low || code > high) {
        throw new RangeError(`error code ${code} is outside the range ${low}..=${high} this command accepts`);
      }
      return reply(code, String(reason));
    };
  }
  Object.freeze(answers);
  decisionCache.set(command, answers);
  return answers;
}

/** Whether `command` is a command this version knows. */
function isCallbackCommand(command) {
  return typeof command === "string" && Object.prototype.hasOwnProperty.call(model.commands, command);
}

function toText(body) {
  if (typeof body === "string") return body;
  // Bodies must be UTF-8, as on the Rust side.
  return new TextDecoder("utf-8", { fatal: true }).decode(body);
}

function byteLength(body) {
  return typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.byteLength;
}

const commands = Object.keys(model.commands).sort();

/** A `$ref` to one command's body schema inside the bundle, for validators given the bundle. */
function schemaRef(command) {
  const target = bundle.$defs.CallbackBodies.properties[command];
  if (target === undefined) throw new RangeError(`no schema for ${JSON.stringify(command)}`);
  return `${bundle.$id}${target.$ref}`;
}

/** Every per-command schema shipped in the package (the envelope refers to them), by command. */
function commandSchemas() {
  const folder = require("node:path").join(__dirname, "commands");
  const out = {};
  for (const name of require("node:fs").readdirSync(folder).sort()) {
    if (name.endsWith(".schema.json")) out[name.slice(0, -".schema.json".length)] = require(`./commands/${name}`);
  }
  return out;
}

/** The relay's envelope schema; add `commandSchemas()` to the same validator so its references resolve offline. */
const envelope = require("./envelope.schema.json");

const { createServer, serve } = require("./server.cjs");

module.exports = {
  Admitted,
  DEFAULT_DEAD_LETTER_MAX_BYTES,
  DEFAULT_HANDLER_DEADLINE,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_SKEW,
  DEFAULT_REQUEST_TIMEOUT,
  DispatchError,
  Refusal,
  JsonLinesSink,
  MemorySink,
  Webhooks,
  bundle,
  commandSchemas,
  commands,
  createServer,
  decision,
  envelope,
  isCallbackCommand,
  schemaRef,
  serve,
  sign,
  verifySign,
};

// Type guards for the members of the tagged unions, from model.cjs: a tag selects one member,
// `true` every member this version lists, `null` every other one.
for (const [name, [key, tag]] of Object.entries(model.guards)) {
  const union = model.types[key].union;
  const known = Object.keys(union.members);
  const listed = (value) => isObject(value) && typeof value[union.tag] === "string" && known.includes(value[union.tag]);
  module.exports[name] =
    tag === null
      ? (value) => isObject(value) && typeof value[union.tag] === "string" && !known.includes(value[union.tag])
      : tag === true
        ? listed
        : (value) => isObject(value) && value[union.tag] === tag;
}
