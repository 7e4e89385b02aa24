// tencent-chat-callbacks: the runtime (copied by `cargo codegen` from codegen/templates/npm/).
//
// `Webhooks` makes the same checks, in the same order, with the same statuses, as the Rust
// crate's `Dispatcher`:
// 1. 413 if the body exceeds the limit;
// 2. 400 if `SdkAppid` or `CallbackCommand` is missing, malformed or repeated;
// 3. 403 if `SdkAppid` is not the configured app id;
// 4. with a token: 401 if `Sign` or `RequestTime` is missing, `RequestTime` is too far from the
//    clock, or `Sign` does not match;
// 5. 400 if the body names another command than the query; otherwise `OK` at once when no handler
//    takes the command;
// 6. 400 if the body is not JSON of the command's type (checked against model.cjs, which is
//    generated from the same schemas as the Rust types);
// 7. the handler's answer; 500 if it throws.
"use strict";

const crypto = require("node:crypto");
const model = require("./model.cjs");
const bundle = require("./callbacks.schema.json");

/** The default largest distance, in seconds, between `RequestTime` and the receiver's clock. */
const DEFAULT_MAX_SKEW = 300;
/** The default largest body accepted: 1 MiB. */
const DEFAULT_MAX_BODY_BYTES = 1 << 20;
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
    if (Math.abs(clock - Number(requestTime)) > maxSkew) return "`RequestTime` is too far from this server's clock";
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

/** A refusal: its HTTP status and the reason sent as `ErrorInfo`. A handler may throw one. */
class DispatchError extends Error {
  constructor(status, message) {
    super(message);
    this.name = "DispatchError";
    this.status = status;
  }

  reply() {
    return { status: this.status, body: JSON.stringify({ ActionStatus: "FAIL", ErrorCode: 1, ErrorInfo: this.message }) };
  }
}

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

/** The query parameters the dispatcher reads, by canonical name (matched without regard to ASCII case). */
function parseQuery(query) {
  const found = new Map();
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
    if (found.has(canonical)) throw new DispatchError(400, `query parameter \`${canonical}\` appears more than once`);
    found.set(canonical, value);
  }
  return found;
}

function parseJson(text) {
  return JSON.parse(text);
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
  const found = bodyCommand(text);
  if (found !== null && found !== command) {
    throw new DispatchError(400, `the body's CallbackCommand \`${found}\` differs from the query's \`${command}\``);
  }
}

const U32_MAX = 4294967295;
const I32_MIN = -2147483648;
const I32_MAX = 2147483647;
const U64_MAX = 18446744073709551615;
const I64_MIN = -9223372036854775808;
const I64_MAX = 9223372036854775807;

/** Where `value` does not fit type `ty` of model.cjs, or `null`. */
function mismatch(ty, value, path) {
  if (typeof ty === "string") {
    switch (ty) {
      case "string":
        return typeof value === "string" ? null : `${path}: expected a string`;
      case "bool":
        return typeof value === "boolean" ? null : `${path}: expected a boolean`;
      case "f64":
        return typeof value === "number" ? null : `${path}: expected a number`;
      case "i32":
        if (typeof value === "string") return DIGITS.test(value) && Number(value) <= I32_MAX ? null : `${path}: expected a 32-bit integer`;
        return Number.isInteger(value) && value >= I32_MIN && value <= I32_MAX ? null : `${path}: expected a 32-bit integer`;
      case "u32":
        if (typeof value === "string") return DIGITS.test(value) && Number(value) <= U32_MAX ? null : `${path}: expected a 32-bit unsigned integer`;
        return Number.isInteger(value) && value >= 0 && value <= U32_MAX ? null : `${path}: expected a 32-bit unsigned integer`;
      case "i64":
        // A string of digits is read as an integer, as in Rust.
        if (typeof value === "string") return DIGITS.test(value) ? null : `${path}: expected an integer`;
        return Number.isInteger(value) && value >= I64_MIN && value <= I64_MAX ? null : `${path}: expected an integer`;
      case "u64":
        if (typeof value === "string") return DIGITS.test(value) ? null : `${path}: expected an unsigned integer`;
        return Number.isInteger(value) && value >= 0 && value <= U64_MAX ? null : `${path}: expected an unsigned integer`;
      case "stringOrList":
        if (typeof value === "string") return null;
        if (!Array.isArray(value)) return `${path}: expected a string or an array of strings`;
        return value.every((item) => typeof item === "string") ? null : `${path}: expected strings`;
      case "lenient":
        if (typeof value === "string") return DIGITS.test(value) ? null : `${path}: expected digits`;
        return Number.isInteger(value) && value >= 0 && value <= U64_MAX ? null : `${path}: expected an unsigned integer or digits`;
      default:
        return named(ty, value, path);
    }
  }
  if ("array" in ty) {
    if (!Array.isArray(value)) return `${path}: expected an array`;
    for (let i = 0; i < value.length; i++) {
      const problem = mismatch(ty.array, value[i], `${path}[${i}]`);
      if (problem !== null) return problem;
    }
    return null;
  }
  if ("map" in ty) {
    if (!isObject(value)) return `${path}: expected an object`;
    for (const [key, item] of Object.entries(value)) {
      const problem = mismatch(ty.map, item, `${path}.${key}`);
      if (problem !== null) return problem;
    }
    return null;
  }
  if ("const" in ty) return value === ty.const ? null : `${path}: expected ${JSON.stringify(ty.const)}`;
  return `${path}: unknown type`;
}

function named(key, value, path) {
  const shape = model.types[key];
  if (shape.enum) return typeof value === "string" ? null : `${path}: expected a string`;
  if (shape.untagged) {
    // One of a few JSON types, told apart by the type alone, as in Rust.
    const problems = shape.untagged.map((member) => mismatch(member, value, path));
    return problems.includes(null) ? null : problems.join("; or ");
  }
  if (!isObject(value)) return `${path}: expected an object`;
  if (shape.union) {
    const { tag, content, members } = shape.union;
    if (!(tag in value)) return `${path}: missing \`${tag}\``;
    if (typeof value[tag] !== "string") return `${path}.${tag}: expected a string`;
    const member = Object.prototype.hasOwnProperty.call(members, value[tag]) ? members[value[tag]] : undefined;
    // A member this version does not list keeps its content, whatever it is.
    if (member === undefined) return null;
    return mismatch(member, value[content] === undefined ? null : value[content], `${path}.${content}`);
  }
  for (const [main, ty, required, aliases = []] of shape.struct) {
    // A field may arrive under another spelling (`x-aliases`); it is checked under the one sent.
    const wire = [main, ...aliases].find((name) => Object.prototype.hasOwnProperty.call(value, name)) ?? main;
    const present = Object.prototype.hasOwnProperty.call(value, wire);
    if (!present || (value[wire] === null && !required)) {
      if (required) return `${path}: missing field \`${main}\``;
      continue;
    }
    const problem = mismatch(ty, value[wire], path === "." ? wire : `${path}.${wire}`);
    if (problem !== null) return problem;
  }
  return null;
}

function decode(command, text) {
  if (!/^\s*\{/.test(text) && /\S/.test(text)) {
    throw new DispatchError(400, `the body is not a valid \`${command}\`: at \`.\`: expected a JSON object`);
  }
  let problem;
  let value;
  try {
    value = parseJson(text);
    problem = mismatch(model.commands[command].type, value, ".");
  } catch (error) {
    problem = `.: ${error.message}`;
  }
  if (problem !== null) {
    checkBodyCommand(command, text);
    throw new DispatchError(400, `the body is not a valid \`${command}\`: at ${problem}`);
  }
  return value;
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
    this.clock = options.clock ?? (() => Date.now() / 1000);
    this.handlers = new Map();
    this.fallbackHandler = null;
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

  /** Handles one request: the raw query string (without `?`) and the raw body. Never rejects. */
  async dispatch(query, body) {
    try {
      const prepared = this.prepare(query, body);
      if (typeof prepared !== "function") return prepared;
      const result = await prepared();
      if (result === undefined || result === null) return { status: 200, body: OK_BODY };
      if (!isObject(result)) throw new TypeError("a handler returns nothing or a reply object");
      return { status: 200, body: JSON.stringify(result) };
    } catch (error) {
      if (error instanceof DispatchError) return error.reply();
      const message = error instanceof Error ? error.message : String(error);
      return new DispatchError(500, `the handler failed: ${message}`).reply();
    }
  }

  prepare(query, body) {
    if (byteLength(body) > this.maxBodyBytes) {
      throw new DispatchError(413, `the body is larger than the limit of ${this.maxBodyBytes} bytes`);
    }
    const params = parseQuery(query);
    if (!params.has("SdkAppid")) throw new DispatchError(400, "missing query parameter `SdkAppid`");
    const appIdText = params.get("SdkAppid");
    if (!DIGITS.test(appIdText)) {
      throw new DispatchError(400, `query parameter \`SdkAppid\` is invalid: \`${appIdText}\` is not a number`);
    }
    const appId = Number(appIdText);
    if (this.appId !== null && BigInt(appIdText) !== BigInt(this.appId)) {
      throw new DispatchError(403, `SdkAppid \`${appIdText}\` is not this app's`);
    }
    if (this.token !== null) {
      if (!params.has("Sign") || !params.has("RequestTime")) {
        throw new DispatchError(401, "missing `Sign` or `RequestTime`: this endpoint requires webhook authentication");
      }
      const problem = signatureProblem(this.token, params.get("RequestTime"), params.get("Sign"), this.clock(), this.maxClockSkew);
      if (problem !== null) throw new DispatchError(401, problem);
    }
    if (!params.has("CallbackCommand")) throw new DispatchError(400, "missing query parameter `CallbackCommand`");
    const command = params.get("CallbackCommand");
    const handler = this.handlers.get(command);
    let text;
    try {
      text = toText(body);
    } catch {
      text = null;
    }
    if (handler === undefined && this.fallbackHandler === null) {
      // Even unhandled, a body of another command is refused, never acknowledged.
      if (text !== null) checkBodyCommand(command, text);
      return { status: 200, body: OK_BODY };
    }
    if (text === null) throw new DispatchError(400, `the body is not a valid \`${command}\`: at \`.\`: not UTF-8`);
    const requestTime = params.get("RequestTime");
    const ctx = {
      appId,
      command,
      clientIp: params.get("ClientIP") ?? null,
      platform: params.get("OptPlatform") ?? null,
      requestTime: requestTime !== undefined && DIGITS.test(requestTime) ? Number(requestTime) : null,
      requestId: params.get("RequestID") ?? null,
      rawBody: text,
    };
    if (handler !== undefined) {
      const event = decode(command, text);
      return () => handler(event, ctx);
    }
    let value;
    try {
      value = parseJson(text);
    } catch (error) {
      throw new DispatchError(400, `the body is not a valid \`${command}\`: at \`.\`: ${error.message}`);
    }
    checkBodyCommand(command, text);
    const fallback = this.fallbackHandler;
    return () => fallback({ command, body: value }, ctx);
  }

  /**
   * A Node `http` request listener, also an Express middleware: answers POSTs to `path` (every
   * path when `path` is `null`), 405 to other methods there, and passes other paths to `next`
   * (or answers 404 without one). Reads the body itself, unless a body parser ran first: a Buffer
   * or string in `req.body` (from `express.raw()` or `express.text()`) is used as it is, a parsed
   * JSON body is encoded again.
   */
  middleware(options = {}) {
    const path = options.path === undefined ? "/callback" : options.path;
    return (req, res, next) => {
      const url = req.url ?? "/";
      const at = url.indexOf("?");
      const pathname = at < 0 ? url : url.slice(0, at);
      const query = at < 0 ? "" : url.slice(at + 1);
      const send = (reply, extra = {}) => {
        res.writeHead(reply.status, { "content-type": "application/json", "content-length": Buffer.byteLength(reply.body), ...extra });
        res.end(reply.body);
      };
      if (path !== null && pathname !== path) {
        if (typeof next === "function") return next();
        return send(new DispatchError(404, `no callback endpoint at \`${pathname}\``).reply());
      }
      if (req.method !== "POST") return send(new DispatchError(405, "callbacks are POST requests").reply(), { allow: "POST" });
      const answer = (body) => this.dispatch(query, body).then((reply) => send(reply));
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
      let refused = false;
      req.on("data", (chunk) => {
        if (refused) return;
        size += chunk.length;
        if (size > this.maxBodyBytes) {
          refused = true;
          send(new DispatchError(413, `the body is larger than the limit of ${this.maxBodyBytes} bytes`).reply());
          req.resume();
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => {
        if (!refused) answer(Buffer.concat(chunks));
      });
      req.on("error", (error) => {
        if (typeof next === "function") next(error);
      });
    };
  }
}

const commands = Object.keys(model.commands).sort();

/** A `$ref` to one command's body schema inside the bundle, for validators given the bundle. */
function schemaRef(command) {
  const target = bundle.$defs.CallbackBodies.properties[command];
  if (target === undefined) throw new RangeError(`no schema for ${JSON.stringify(command)}`);
  return `${bundle.$id}${target.$ref}`;
}

module.exports = {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_SKEW,
  DispatchError,
  Webhooks,
  bundle,
  commands,
  decision,
  isCallbackCommand,
  schemaRef,
  sign,
  verifySign,
};

// Type guards for the members of the tagged unions, from model.cjs.
for (const [name, [key, tag]] of Object.entries(model.guards)) {
  const union = model.types[key].union;
  const known = Object.keys(union.members);
  module.exports[name] =
    tag === null
      ? (value) => isObject(value) && typeof value[union.tag] === "string" && !known.includes(value[union.tag])
      : (value) => isObject(value) && value[union.tag] === tag;
}
