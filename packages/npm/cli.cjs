#!/usr/bin/env node
// tencent-chat-callbacks: `npx tencent-chat-callbacks serve`, a receiver that logs every callback as its typed event, with the flags
// and environment variables of the Rust crate's `example-server`; a starting point for a service
// of your own. Each flag falls back to `TENCENT_CHAT_<FLAG>`; the token is best given as
// `TENCENT_CHAT_TOKEN`, since a command line is visible to every user of the machine (`ps`).
"use strict";

const { parseArgs } = require("node:util");
const { JsonLinesSink, Webhooks, commands, DEFAULT_DEAD_LETTER_MAX_BYTES, DEFAULT_HANDLER_DEADLINE, DEFAULT_MAX_BODY_BYTES } = require("./index.cjs");
const { DEFAULT_MAX_CONNECTIONS_PER_SOURCE, serve } = require("./server.cjs");
const { clip } = require("./log.cjs");

const USAGE = `usage: tencent-chat-callbacks serve [options]

  --listen HOST:PORT                 where to listen (default 127.0.0.1:8080)
  --path PATH                        the path callbacks are posted to (default /callback)
  --sdkappid ID                      the app's SDKAppID [TENCENT_CHAT_SDKAPPID]; without it any app is accepted
  --token TOKEN                      the callback token; prefer TENCENT_CHAT_TOKEN
  --on-failure vendor|allow|refuse   how undecidable before-callbacks are answered [TENCENT_CHAT_ON_FAILURE]
  --dead-letter FILE                 a JSON-lines file for callbacks that could not be handled [TENCENT_CHAT_DEAD_LETTER]
  --dead-letter-max-bytes N          the dead-letter file's size budget (default 1 GiB)
  --max-body-bytes N                 the largest body accepted (default 1 MiB)
  --request-timeout SECS             seconds a client gets to send a whole request (default 10)
  --allow-source CIDR                a network requests may come from (repeatable) [TENCENT_CHAT_ALLOW_SOURCE, comma-separated]
  --trust-forwarded-for CIDR         a proxy whose X-Forwarded-For names the source (repeatable) [TENCENT_CHAT_TRUST_FORWARDED_FOR]
  --max-connections-per-source N     connections one address may hold open (default 256)
`;

function line(level, message) {
  process.stderr.write(`${new Date().toISOString()} ${level} tencent_chat_callbacks: ${message}\n`);
}
const logger = { info: (m) => line("INFO", m), warn: (m) => line("WARN", m), error: (m) => line("ERROR", m) };

// JSON with the characters that could forge or reorder a log line escaped too.
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_JSON = /[\u007f-\u009f\u00ad\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
function safeJson(value) {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One line per event, as `example-server` writes them. */
function logEvent(event, ctx) {
  line("INFO", `event: command=${safeJson(ctx.command)} app=${ctx.appId} platform=${safeJson(ctx.platform ?? "-")} client_ip=${safeJson(ctx.clientIp ?? "-")} ${safeJson(event)}`);
}

function env(name) {
  const value = process.env[`TENCENT_CHAT_${name}`];
  return value === undefined || value === "" ? undefined : value;
}

function number(name, text, fallback) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new TypeError(`--${name}: not a number: ${clip(text)}`);
  return value;
}

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      listen: { type: "string" },
      path: { type: "string" },
      sdkappid: { type: "string" },
      token: { type: "string" },
      "on-failure": { type: "string" },
      "dead-letter": { type: "string" },
      "dead-letter-max-bytes": { type: "string" },
      "max-body-bytes": { type: "string" },
      "request-timeout": { type: "string" },
      "handler-deadline": { type: "string" },
      "allow-source": { type: "string", multiple: true },
      "trust-forwarded-for": { type: "string", multiple: true },
      "max-connections-per-source": { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help || positionals[0] !== "serve") {
    process.stdout.write(USAGE);
    return values.help ? 0 : 2;
  }
  if (argv.some((a) => a === "--token" || a.startsWith("--token="))) {
    logger.warn("the token was given on the command line, where `ps` shows it; set TENCENT_CHAT_TOKEN instead");
  }
  const listen = values.listen ?? env("LISTEN") ?? "127.0.0.1:8080";
  const at = listen.lastIndexOf(":");
  const host = listen.slice(0, at).replace(/^\[|\]$/g, "") || "127.0.0.1";
  const port = Number(listen.slice(at + 1));
  if (at < 0 || !Number.isInteger(port)) throw new TypeError(`--listen: expected HOST:PORT, not ${clip(listen)}`);
  const appIdText = values.sdkappid ?? env("SDKAPPID");
  if (appIdText !== undefined && !/^[0-9]{1,19}$/.test(appIdText)) throw new TypeError(`--sdkappid: not a number: ${clip(appIdText)}`);
  const token = values.token ?? env("TOKEN") ?? null;
  const onFailure = (values["on-failure"] ?? env("ON_FAILURE") ?? "vendor").toLowerCase();
  const deadLetter = values["dead-letter"] ?? env("DEAD_LETTER");
  const allowSources = values["allow-source"] ?? (env("ALLOW_SOURCE") ?? "").split(",").filter((s) => s !== "");
  const path = values.path ?? env("PATH") ?? "/callback";
  const trustForwardedFor = values["trust-forwarded-for"] ?? (env("TRUST_FORWARDED_FOR") ?? "").split(",").filter((s) => s !== "");
  const sink =
    deadLetter === undefined
      ? null
      : new JsonLinesSink(deadLetter, { maxBytes: number("dead-letter-max-bytes", values["dead-letter-max-bytes"] ?? env("DEAD_LETTER_MAX_BYTES"), DEFAULT_DEAD_LETTER_MAX_BYTES) });
  const webhooks = new Webhooks({
    appId: appIdText === undefined ? null : Number(appIdText),
    token,
    onFailure,
    deadLetters: sink,
    allowSources: allowSources.length > 0 ? allowSources : null,
    maxBodyBytes: number("max-body-bytes", values["max-body-bytes"] ?? env("MAX_BODY_BYTES"), DEFAULT_MAX_BODY_BYTES),
    handlerDeadline: number("handler-deadline", values["handler-deadline"] ?? env("HANDLER_DEADLINE"), DEFAULT_HANDLER_DEADLINE),
    logger,
  });
  for (const command of commands) webhooks.on(command, logEvent);
  webhooks.fallback((event, ctx) => logEvent(event.body, ctx));
  if (appIdText !== undefined) logger.info(`accepting callbacks for SdkAppid ${appIdText}`);
  else logger.warn("no --sdkappid given: accepting callbacks for ANY SdkAppid");
  if (token !== null) logger.info("webhook authentication on: Sign and RequestTime are required");
  else {
    logger.warn(
      "no token given (TENCENT_CHAT_TOKEN): Sign is NOT checked, so anyone who can reach this port can post callbacks; set the token configured in the console",
    );
  }
  if (allowSources.length === 0) {
    logger.warn("no --allow-source given: requests are accepted from any address; anyone who saw one signed URL can post callbacks until its RequestTime expires");
  }
  logger.info(`before-callbacks that cannot be decided are answered by this policy: ${onFailure}`);
  return serve(webhooks, {
    host,
    port,
    path,
    logger,
    trustForwardedFor,
    requestTimeout: number("request-timeout", values["request-timeout"] ?? env("REQUEST_TIMEOUT"), 10),
    maxConnectionsPerSource: number("max-connections-per-source", values["max-connections-per-source"] ?? env("MAX_CONNECTIONS_PER_SOURCE"), DEFAULT_MAX_CONNECTIONS_PER_SOURCE),
    ready: (address) => logger.info(`listening on http://${address.address}:${address.port}${path}`),
  }).then(() => 0);
}

Promise.resolve()
  .then(() => main(process.argv.slice(2)))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      logger.error(`cannot start: ${clip(error instanceof Error ? error.message : String(error))}`);
      process.exitCode = 2;
    },
  );
