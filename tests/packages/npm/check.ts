// End-to-end check of the packed npm package `tencent-chat-callbacks`, installed into a scratch
// project (tests/tests/packages.rs): compiled with `strict: true`, then run with the workspace
// root as its argument. The `@ts-expect-error` lines are part of the check: each must stay an
// error, or `tsc` fails.
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import express from "express";
import { checkCommonJs } from "./check-cjs.cjs";
import {
  JsonLinesSink,
  MemorySink,
  Refusal,
  Webhooks,
  bundle,
  commandSchemas,
  commands,
  decision,
  envelope,
  isKnownMsgBodyElement,
  isCallbackCommand,
  isUnknownMsgBodyElement,
  isTextMsgBodyElement,
  schemaRef,
  sign,
  verifySign,
  type BeforeCallbackCommand,
  type CallbackBodies,
  type CallbackCommand,
  type CallbackReplies,
  type Context,
  type FailurePolicy,
  type HttpReply,
  type common,
  type c2c,
} from "tencent-chat-callbacks";

const root = process.argv[2] ?? "";
const TOKEN = "xxxxyyyy";
const TIME = "1669872112";
const VENDOR_SIGN = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

let passed = 0;
const failed: string[] = [];
function check(name: string, condition: boolean, detail: unknown = ""): void {
  if (condition) passed++;
  else failed.push(`${name}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
}

// Types: what a team writes, checked by tsc.
function texts(body: c2c.BeforeSendMsg): string[] {
  const out: string[] = [];
  for (const element of body.MsgBody) {
    if (isTextMsgBodyElement(element)) out.push(element.MsgContent.Text ?? "");
    else if (isUnknownMsgBodyElement(element)) out.push(`<${element.MsgType}>`);
  }
  return out;
}
function narrowed(element: common.MsgBodyElement): string {
  if (!isKnownMsgBodyElement(element)) return `<${element.MsgType}>`;
  switch (element.MsgType) {
    case "TIMTextElem":
      return element.MsgContent.Text ?? "";
    case "TIMFaceElem":
      return `[face ${element.MsgContent.Index}]`;
    default:
      return element.MsgType;
  }
}
// @ts-expect-error: before the known members are told apart, MsgContent is not narrowed
export const notNarrowed = (element: common.MsgBodyElement) => element.MsgType === "TIMTextElem" && element.MsgContent.Text;
const groupType: common.GroupType = "SomeTypeAddedLater";
const reply: CallbackReplies["C2C.CallbackBeforeSendMsg"] = decision("C2C.CallbackBeforeSendMsg").drop();
// Checked by tsc, never run.
function typedHandlers(webhooks: Webhooks): void {
  // @ts-expect-error: Group.CallbackBeforeCreateGroup has no silent drop
  decision("Group.CallbackBeforeCreateGroup").drop();
  // @ts-expect-error: only before-callbacks take decisions
  decision("Group.CallbackAfterCreateGroup");
  webhooks.on("Group.CallbackAfterCreateGroup", (event, ctx: Context) => {
    const id: string = event.GroupId;
    const time: number | string | undefined = event.EventTime; // absent in older copies of the pages
    void [id, time, ctx.appId];
  });
  // @ts-expect-error: the body has no such field
  webhooks.on("Group.CallbackAfterCreateGroup", (event) => event.NoSuchField);
  // @ts-expect-error: not a command
  webhooks.on("Group.CallbackAfterCreateGroop", () => undefined);
  // @ts-expect-error: a reply needs ActionStatus, ErrorCode and ErrorInfo
  webhooks.on("Group.CallbackAfterCreateGroup", () => ({ ErrorCode: 0 }));
}
// @ts-expect-error: the HTTP answer is HttpReply; the only Reply is the body type, common.Reply
export type NoTopLevelReply = import("tencent-chat-callbacks").Reply;
export type BodyReply = common.Reply;
void [groupType, reply, typedHandlers, narrowed];

function signatures(): void {
  const now = Number(TIME);
  check("the worked example signs", sign(TOKEN, TIME) === VENDOR_SIGN, sign(TOKEN, TIME));
  check("the worked example verifies", verifySign(TOKEN, TIME, VENDOR_SIGN, { now }));
  check("60 s is inside the window", verifySign(TOKEN, TIME, VENDOR_SIGN, { now: now + 60 }));
  check("61 s is outside the window", !verifySign(TOKEN, TIME, VENDOR_SIGN, { now: now + 61 }));
  check("61 s early is outside the window", !verifySign(TOKEN, TIME, VENDOR_SIGN, { now: now - 61 }));
  check("no window with maxSkew null", verifySign(TOKEN, TIME, VENDOR_SIGN, { now: 0, maxSkew: null }));
  check("the default clock is now", !verifySign(TOKEN, TIME, VENDOR_SIGN));
  for (const bad of [VENDOR_SIGN.toUpperCase(), VENDOR_SIGN.slice(0, 63), "", "zz".repeat(32), VENDOR_SIGN.replace(/7/g, "8")]) {
    check(`sign ${JSON.stringify(bad)} is refused`, !verifySign(TOKEN, TIME, bad, { now }));
  }
  check("another token is refused", !verifySign("other", TIME, VENDOR_SIGN, { now }));
  for (const badTime of ["", "-1", "+1669872112", "1.5", "1e9", "99999999999999999999"]) {
    check(`RequestTime ${JSON.stringify(badTime)} is refused`, !verifySign(TOKEN, badTime, VENDOR_SIGN, { maxSkew: null }));
  }
}

function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(root, "tests/fixtures", name, "sample.json"), "utf8")) as Record<string, unknown>;
}

async function fixtures(): Promise<void> {
  const names = readdirSync(join(root, "tests/fixtures")).sort();
  check("a command for every fixture", JSON.stringify(names) === JSON.stringify([...commands]), names);
  check(
    "schemaRef points into the bundle",
    schemaRef("Group.CallbackAfterCreateGroup") === `${bundle.$id}#/$defs/AfterCreateGroup`,
    schemaRef("Group.CallbackAfterCreateGroup"),
  );
  for (const name of names) {
    if (!isCallbackCommand(name)) {
      check(`${name} is a command`, false);
      continue;
    }
    let seen: unknown = null;
    const webhooks = new Webhooks({ appId: null }).on(name, (event) => {
      seen = event;
    });
    const body = JSON.stringify({ ...fixture(name), ANewVendorField: [1] });
    const result = await webhooks.dispatch(`SdkAppid=1&CallbackCommand=${name}`, body);
    check(`${name} is accepted`, result.status === 200 && seen !== null, result);
  }
}

async function fallback(): Promise<void> {
  const seen: string[] = [];
  const webhooks = new Webhooks({ appId: 1 }).fallback((event, ctx) => {
    seen.push(`${event.command} ${ctx.command} ${JSON.stringify(event.body)}`);
  });
  let result: HttpReply = await webhooks.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", '{"A":1}');
  check("fallback: an unknown command reaches it", result.status === 200 && seen.join() === 'Future.CallbackNew Future.CallbackNew {"A":1}', seen);
  result = await webhooks.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", "{");
  check("fallback: invalid JSON is refused", result.status === 400, result);
  result = await webhooks.dispatch("SdkAppid=1&CallbackCommand=Future.CallbackNew", '{"CallbackCommand":"Other.Thing"}');
  check("fallback: another command's body is refused", result.status === 400, result);
}

async function decisions(): Promise<void> {
  const answers = decision("C2C.CallbackBeforeSendMsg");
  check("refuse", JSON.stringify(answers.refuse()) === '{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":""}');
  check("refuseWith", answers.refuseWith(120099, "muted").ErrorCode === 120099);
  let threw = false;
  try {
    answers.refuseWith(1, "out of range");
  } catch (error) {
    threw = error instanceof RangeError;
  }
  check("refuseWith checks the range", threw);
  const changed = answers.modify({ MsgBody: [{ MsgType: "TIMTextElem", MsgContent: { Text: "[gift]" } }] });
  check("modify", JSON.stringify(changed) === '{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"[gift]"}}]}', changed);
}

interface Case {
  name: string;
  query: string;
  config?: Partial<Defaults>;
  fixture?: string;
  patch?: Record<string, unknown>;
  body?: string;
  body_bytes?: number[];
  status: number;
  ActionStatus: string;
  ErrorCode: number;
  ErrorInfo?: string;
  ErrorInfo_prefix?: string;
  dead_letters?: Array<{ reason: string; index?: number }>;
  handled_events?: number;
}
interface Defaults {
  app_id: number | null;
  token: string | null;
  now: number;
  max_body_bytes: number | null;
  max_in_flight: number | null;
  handler_deadline_ms: number | null;
  on_failure: FailurePolicy;
  on_failure_of: Partial<Record<BeforeCallbackCommand, FailurePolicy>>;
}
interface Table {
  placeholders: { "{auth}": { value: string } };
  defaults: Defaults;
  cases: Case[];
}

function caseBody(c: Case): string | Buffer {
  if (c.body !== undefined) return c.body;
  if (c.body_bytes !== undefined) return Buffer.from(c.body_bytes);
  const body = fixture(c.fixture ?? "");
  for (const [key, value] of Object.entries(c.patch ?? {})) {
    if (value === null) delete body[key];
    else body[key] = value === "__null__" ? null : value;
  }
  return JSON.stringify(body);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function moderate(event: CallbackBodies["C2C.CallbackBeforeSendMsg"]): CallbackReplies["C2C.CallbackBeforeSendMsg"] {
  const answers = decision("C2C.CallbackBeforeSendMsg");
  const first = event.MsgBody[0];
  // Among the members this version lists, comparing MsgType narrows MsgContent.
  if (first === undefined || !isKnownMsgBodyElement(first) || first.MsgType !== "TIMTextElem") return answers.allow();
  const text = first.MsgContent.Text ?? "";
  if (text.includes("refuse")) return answers.refuse();
  if (text.includes("drop")) return answers.drop();
  if (text.includes("code")) return answers.refuseWith(120001, "refused by the app");
  return answers.allow();
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

function tableWebhooks(config: Defaults, sink: MemorySink, batches: number[]): Webhooks {
  return new Webhooks({
    appId: config.app_id,
    token: config.token,
    clock: () => config.now,
    ...(config.max_body_bytes === null ? {} : { maxBodyBytes: config.max_body_bytes }),
    ...(config.max_in_flight === null ? {} : { maxInFlight: config.max_in_flight }),
    ...(config.handler_deadline_ms === null ? {} : { handlerDeadline: config.handler_deadline_ms / 1000 }),
    onFailure: config.on_failure,
    onFailureOf: config.on_failure_of,
    deadLetters: sink,
    logger: silent,
  })
    .on("Group.CallbackAfterCreateGroup", () => undefined)
    .on("Group.CallbackAfterGroupDestroyed", async () => {
      throw new Error("this handler fails on purpose");
    })
    .on("Group.CallbackAfterMemberExit", () => {
      throw Refusal.undecided();
    })
    .on("Group.CallbackAfterNewMemberJoin", async () => {
      await sleep(300);
    })
    .on("Push.OfflinePush", (event) => {
      batches.push(event.Events.length);
    })
    .on("C2C.CallbackBeforeSendMsg", async (event) => {
      const first = event.MsgBody[0];
      const text = first !== undefined && isTextMsgBodyElement(first) ? (first.MsgContent.Text ?? "") : "";
      if (text.includes("fail")) throw new Error("this handler fails on purpose");
      if (text.includes("undecided")) throw Refusal.undecided();
      if (text.includes("invalid")) throw Refusal.invalidBody("C2C.CallbackBeforeSendMsg", "the handler refuses this body");
      if (text.includes("slow")) await sleep(300);
      return moderate(event);
    });
}

async function caseTable(): Promise<void> {
  const table = JSON.parse(readFileSync(join(root, "tests/cases/dispatch.json"), "utf8")) as Table;
  const auth = table.placeholders["{auth}"].value;
  for (const c of table.cases) {
    const config: Defaults = { ...table.defaults, ...c.config };
    const sink = new MemorySink();
    const batches: number[] = [];
    const sent = caseBody(c);
    const result = await tableWebhooks(config, sink, batches).dispatch(c.query.replace("{auth}", auth), typeof sent === "string" ? Buffer.from(sent) : sent);
    const body = JSON.parse(result.body) as { ActionStatus: string; ErrorCode: number; ErrorInfo: string };
    const got = [result.status, body.ActionStatus, body.ErrorCode];
    const expected = [c.status, c.ActionStatus, c.ErrorCode];
    const name = `case ${JSON.stringify(c.name)}`;
    check(name, JSON.stringify(got) === JSON.stringify(expected), `expected ${JSON.stringify(expected)}, got ${result.body} (${result.status})`);
    if (c.ErrorInfo !== undefined) check(`${name}: ErrorInfo`, body.ErrorInfo === c.ErrorInfo, body.ErrorInfo);
    if (c.ErrorInfo_prefix !== undefined) check(`${name}: ErrorInfo prefix`, body.ErrorInfo.startsWith(c.ErrorInfo_prefix), body.ErrorInfo);
    check(`${name}: ErrorInfo is one line`, !body.ErrorInfo.includes("\n"), body.ErrorInfo);
    if (c.dead_letters !== undefined) {
      const written = sink.letters.map((l) => (l.index === undefined ? { reason: l.reason } : { reason: l.reason, index: l.index }));
      check(`${name}: dead letters`, JSON.stringify(written) === JSON.stringify(c.dead_letters), written);
      check(`${name}: no dead letter holds Sign`, sink.letters.every((l) => !JSON.stringify(l).includes("Sign")));
    }
    if (c.handled_events !== undefined) check(`${name}: batch events handled`, batches[0] === c.handled_events, batches);
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function servers(): Promise<void> {
  const received: string[] = [];
  const webhooks = new Webhooks({ appId: 1400000000, token: TOKEN, clock: () => Number(TIME) + 5, maxBodyBytes: 4096 })
    .on("Group.CallbackAfterCreateGroup", (event, ctx) => {
      received.push(`${event.Operator_Account} created ${event.GroupId} from ${ctx.clientIp ?? "?"}`);
    })
    .on("C2C.CallbackBeforeSendMsg", (event) => moderate(event));
  const query = `SdkAppid=1400000000&contenttype=json&ClientIP=10.0.0.1&OptPlatform=RESTAPI&Sign=${VENDOR_SIGN}&RequestTime=${TIME}`;
  const created = readFileSync(join(root, "tests/fixtures/Group.CallbackAfterCreateGroup/sample.json"), "utf8");
  const send = fixture("C2C.CallbackBeforeSendMsg");
  (send.MsgBody as Array<{ MsgContent: { Text: string } }>)[0]!.MsgContent.Text = "drop me";

  const app = express();
  app.use(webhooks.middleware({ path: "/callback" }));
  app.get("/health", (_req, res) => {
    res.send("fine");
  });
  const parsedFirst = express();
  parsedFirst.use(express.json({ type: "*/*" }));
  parsedFirst.use(webhooks.middleware({ path: "/callback" }));
  const plain = createServer(webhooks.middleware({ path: null }));
  for (const [label, server] of [
    ["Express", createServer(app)],
    ["Express after express.json()", createServer(parsedFirst)],
    ["node:http", plain],
  ] as const) {
    const base = await listen(server);
    try {
      const post = (q: string, body: string, method = "POST") =>
        fetch(`${base}/callback?${q}`, { method, ...(method === "POST" ? { body } : {}), headers: { "content-type": "application/json" } });
      received.length = 0;
      let response = await post(`${query}&CallbackCommand=Group.CallbackAfterCreateGroup`, created);
      let body = (await response.json()) as { ActionStatus: string; ErrorCode: number };
      check(`${label}: a signed callback is acknowledged`, response.status === 200 && body.ErrorCode === 0, body);
      check(`${label}: JSON content type`, response.headers.get("content-type") === "application/json");
      check(`${label}: the handler ran`, received.join() === "group_root created @TGS#2J4SZEAEL from 10.0.0.1", received);
      response = await post(`${query}&CallbackCommand=C2C.CallbackBeforeSendMsg`, JSON.stringify(send));
      body = (await response.json()) as typeof body;
      check(`${label}: a decision is sent`, response.status === 200 && body.ErrorCode === 2, body);
      response = await post(`${query.replace(VENDOR_SIGN, "0".repeat(64))}&CallbackCommand=Group.CallbackAfterCreateGroup`, created);
      check(`${label}: a bad signature gets 401`, response.status === 401);
      response = await post(`${query}&CallbackCommand=Group.CallbackAfterCreateGroup`, "", "GET");
      check(`${label}: GET gets 405`, response.status === 405 && response.headers.get("allow") === "POST");
      if (!label.includes("express.json")) {
        // (After a body parser, the parser's own limit applies.)
        response = await post(`${query}&CallbackCommand=Group.CallbackAfterCreateGroup`, `{${" ".repeat(5000)}}`);
        check(`${label}: a large body gets 413`, response.status === 413, response.status);
      }
      if (label === "Express") {
        response = await fetch(`${base}/health`);
        check("Express: other routes still work", response.status === 200 && (await response.text()) === "fine");
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }
}

/** The envelope schema resolves from the package alone: its body references are shipped inside it. */
function envelopeResolves(): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(Object.values(commandSchemas()));
  const validate = ajv.compile(envelope);
  const body = fixture("Group.CallbackAfterCreateGroup");
  const relayed = { command: "Group.CallbackAfterCreateGroup", app_id: 1400000000, request_id: "r1", received_at: 1, dedup_key: "k", body };
  check("an envelope validates from the package alone", validate(relayed), ajv.errorsText(validate.errors));
  check("an envelope with a bad body is refused through its command's schema", !validate({ ...relayed, body: { ...body, GroupId: 5 } }));
  check("every command's schema ships", Object.keys(commandSchemas()).length === readdirSync(join(root, "schema/dist/commands")).length);
}

/** Dead letters within a budget and as base64 when not UTF-8, and refusals of strangers rate-limited. */
async function receivePathParts(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "letters-"));
  const path = join(dir, "letters.jsonl");
  const sink = new JsonLinesSink(path, { maxBytes: 600 });
  const webhooks = new Webhooks({ appId: 1, deadLetters: sink, logger: silent }).on("Group.CallbackAfterCreateGroup", () => undefined);
  const query = "SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup&RequestID=bin";
  const reply = await webhooks.dispatch(query, Buffer.from([0xff, 0xfe, 0x7b]));
  check("a body that is not UTF-8 is refused with 400", reply.status === 400, reply);
  const letters = JsonLinesSink.read(path);
  check("a body that is not UTF-8 is dead-lettered as base64", letters.length === 1 && letters[0]?.body_base64 === "//57", letters);
  for (let i = 0; i < 5; i++) await webhooks.dispatch(query, `{${" ".repeat(200)}`);
  const size = statSync(path).size;
  check("the dead-letter file stays within its budget", size <= 600 && sink.dropped >= 1, { size, dropped: sink.dropped });
  sink.close();
  rmSync(dir, { recursive: true });

  const lines: string[] = [];
  const keep = { info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
  const guarded = new Webhooks({ appId: 1, token: TOKEN, logger: keep });
  lines.length = 0;
  // The budget is per one-second window from the first line, so the bound follows how long the
  // flood took; the flood outgrows it fourfold, or an unlimited log would pass too.
  const started = Date.now();
  const allowed = (): number => 20 * (Math.floor((Date.now() - started) / 1000) + 1);
  let sent = 0;
  while (sent < 200 || sent < 4 * allowed()) {
    await guarded.dispatch(`SdkAppid=1&CallbackCommand=Group.CallbackAfterCreateGroup&ClientIP=1%0AFORGED${sent}%1B`, "{}");
    sent++;
  }
  const bound = allowed();
  const refused = lines.filter((l) => l.startsWith("callback refused"));
  check("a flood of forged requests is logged at most 20 lines a second", refused.length >= 1 && refused.length <= bound, { refused: refused.length, sent, bound });
  check("no log line carries a raw line break or escape", refused.every((l) => !l.includes("\n") && !l.includes("\u001b")), refused.slice(0, 2));
  check("log values are escaped as in Rust", refused[0]?.includes("client_ip=1\\nFORGED0\\u{1b}") === true, refused[0]);

  // A before-callback its handler leaves to the policy is not a failure: nothing is logged.
  const quiet = new Webhooks({ appId: null, token: null, onFailure: "refuse", logger: keep }).on("C2C.CallbackBeforeSendMsg", () => {
    throw Refusal.undecided();
  });
  lines.length = 0;
  const left = await quiet.dispatch("SdkAppid=1&CallbackCommand=C2C.CallbackBeforeSendMsg", JSON.stringify(fixture("C2C.CallbackBeforeSendMsg")));
  check("a before-callback left undecided is answered by the policy", (JSON.parse(left.body) as { ErrorCode: number }).ErrorCode === 1, left);
  check("a before-callback left undecided is not logged", lines.length === 0, lines);
}

function everyCommandIsTyped(command: CallbackCommand): keyof CallbackBodies {
  return command;
}
void everyCommandIsTyped;

signatures();
await fixtures();
await decisions();
await fallback();
await caseTable();
await servers();
envelopeResolves();
await receivePathParts();
for (const problem of await checkCommonJs()) check(`CommonJS: ${problem}`, false);
check("CommonJS entry point", true);
for (const failure of failed) console.log(`FAILED ${failure}`);
console.log(`${passed} passed, ${failed.length} failed`);
process.exitCode = failed.length === 0 ? 0 : 1;
