// A service behind the relay, as a Node team would write one: it verifies each delivery with
// `standardwebhooks` from npm and prints one JSON line per request it got, as receiver.py does
// (the same control endpoint and output).
//
//     node receiver.mjs PORT SECRET

import fs from "node:fs";
import http from "node:http";
import { Webhook } from "standardwebhooks";

const [port, secret] = [Number(process.argv[2]), process.argv[3]];
const webhook = new Webhook(secret.replace(/^whsec_/, ""));
let answer = 200;

http
  .createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(request.url, "http://localhost");
      if (url.pathname === "/control") {
        answer = Number(url.searchParams.get("status"));
        response.writeHead(200, { "Content-Length": "0" }).end();
        return;
      }
      let envelope = {};
      let valid = true;
      try {
        envelope = webhook.verify(body, request.headers);
      } catch {
        valid = false;
      }
      const status = valid ? answer : 401;
      const line = { id: request.headers["webhook-id"] ?? null, valid, status, dedup_key: envelope.dedup_key ?? null };
      // Synchronously, so the line is out before the answer (stdout to a pipe is async otherwise).
      fs.writeSync(1, JSON.stringify(line) + "\n");
      const headers = { "Content-Length": "0" };
      if (status === 503) headers["Retry-After"] = "1";
      response.writeHead(status, headers).end();
    });
  })
  .listen(port, "127.0.0.1", () => process.stdout.write(JSON.stringify({ listening: port }) + "\n"));
