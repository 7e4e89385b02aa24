// tencent-chat-callbacks: `createServer` and `serve`, a `Webhooks` on a socket of its own,
// with the limits of the Rust crate's
// `axum::Server`, from node:http:
// - headers within `headerTimeout` seconds (also how long an idle keep-alive connection is kept),
//   the whole request, headers and body however framed, within `requestTimeout` (node answers
//   408 and closes past either);
// - the query string (and source address) checked before the body is read: a refusal, or an
//   announced size over the limit, is answered at once with `Connection: close`, and a client
//   that sent `Expect: 100-continue` gets `100 Continue` only once admitted;
// - at most `maxConnections` connections, `maxConnectionsPerSource` from one address (more are
//   closed as soon as accepted), so one address's slow or idle connections cannot crowd out another's;
// - no access log (the query string carries `Sign`);
// - `serve` stops on SIGTERM or SIGINT: the listener and idle connections close, requests in
//   flight finish, then handlers past their deadline get the rest of `drainTimeout` before they
//   are dead-lettered with reason `shutdown`.
"use strict";

const http = require("node:http");

const DEFAULT_HEADER_TIMEOUT = 10;
const DEFAULT_MAX_CONNECTIONS = 4096;
const DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 256;
const DEFAULT_DRAIN_TIMEOUT = 30;

/** An `http.Server` answering callbacks at `options.path` (default `/callback`) with `webhooks`. */
function createServer(webhooks, options = {}) {
  const headerTimeout = options.headerTimeout ?? DEFAULT_HEADER_TIMEOUT;
  const requestTimeout = options.requestTimeout ?? 10;
  const perSource = options.maxConnectionsPerSource ?? DEFAULT_MAX_CONNECTIONS_PER_SOURCE;
  const server = http.createServer({
    headersTimeout: Math.min(headerTimeout, requestTimeout) * 1000,
    requestTimeout: requestTimeout * 1000,
    keepAliveTimeout: headerTimeout * 1000,
    // How often node looks for requests past their timeouts (its default is 30 s).
    connectionsCheckingInterval: 250,
    maxHeaderSize: 16 * 1024,
  });
  server.maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const open = new Map();
  server.on("connection", (socket) => {
    const source = socket.remoteAddress ?? "-";
    const count = open.get(source) ?? 0;
    if (count >= perSource) {
      socket.destroy();
      return;
    }
    open.set(source, count + 1);
    socket.once("close", () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left <= 0) open.delete(source);
      else open.set(source, left);
    });
  });
  const middleware = webhooks.middleware({
    path: options.path ?? "/callback",
    requestTimeout,
    expectContinue: true,
    trustForwardedFor: options.trustForwardedFor ?? [],
  });
  const listener = (req, res) => {
    // While draining, each answer closes its connection, so none is left waiting for the next request.
    if (server.draining === true) res.shouldKeepAlive = false;
    middleware(req, res);
  };
  server.on("request", listener);
  // With this listener node sends no `100 Continue` by itself: the middleware does, once admitted.
  server.on("checkContinue", listener);
  server.on("clientError", (error, socket) => {
    if (socket.writable && !socket.writableEnded) {
      const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : error.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      // Closed for good, not only for writing: a client still sending must not keep it open.
      socket.once("finish", () => socket.destroy());
    } else socket.destroy();
  });
  return server;
}

/**
 * Serves `webhooks` on `options.port` (and `options.host`, default 127.0.0.1) until SIGTERM or
 * SIGINT (or `options.signal` aborts), then drains. Resolves once shut down, to the number of
 * handlers abandoned; `options.ready(address)` is called once listening.
 */
async function serve(webhooks, options = {}) {
  const logger = options.logger ?? webhooks.logger;
  const server = createServer(webhooks, options);
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", resolve);
  });
  if (typeof options.ready === "function") options.ready(server.address());
  await new Promise((resolve) => {
    const stop = (name) => {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      if (name !== null) logger.info(`${name} received`);
      resolve();
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    options.signal?.addEventListener("abort", () => stop(null), { once: true });
  });
  const started = performance.now();
  const drainTimeout = (options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT) * 1000;
  logger.info("shutting down: no new connections; finishing requests in flight");
  server.draining = true;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  let timer;
  const cutOff = new Promise((resolve) => {
    timer = setTimeout(() => resolve("timeout"), drainTimeout);
  });
  if ((await Promise.race([closed, cutOff])) === "timeout") {
    logger.warn("requests still in flight at the drain timeout were cut off");
    server.closeAllConnections();
  }
  clearTimeout(timer);
  const late = webhooks.handlersPastDeadline;
  if (late > 0) logger.info(`waiting for ${late} handler(s) still running past their deadline`);
  const abandoned = await webhooks.drain(Math.max(0, drainTimeout - (performance.now() - started)) / 1000);
  logger.info(`shut down (${abandoned} handler(s) abandoned)`);
  return abandoned;
}

module.exports = { DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_SOURCE, createServer, serve };
