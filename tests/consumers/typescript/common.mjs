// Shared by the checks in this directory: where the published files and the fixtures are, a
// pass/fail tally that ends with the "N passed, N failed" line, and the check on generated names.
import { readFileSync, readdirSync } from "node:fs";

export const root = new URL("../../../", import.meta.url);
export const dist = new URL("schema/dist/", root);
export const here = new URL(".", import.meta.url);

export const readJson = (url) => JSON.parse(readFileSync(url, "utf8"));

/** schema/dist/catalogue.json: command → request and reply type names and files. */
export const catalogue = readJson(new URL("catalogue.json", dist));
/** The bundle. */
export const bundle = readJson(new URL(catalogue.bundle, dist));
/** The self-contained file of a command. */
export const commandSchema = (command) => readJson(new URL(catalogue.commands[command].request.schema, dist));

/** Every fixture: { command, sample } from tests/fixtures/<Command>/sample.json. */
export const fixtures = readdirSync(new URL("tests/fixtures/", root), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort()
  .map((command) => ({ command, sample: readJson(new URL(`tests/fixtures/${command}/sample.json`, root)) }));

/** tests/data/msg-body-elements.json: one message element of every known kind. */
export const elements = readJson(new URL("tests/data/msg-body-elements.json", root));

/** Replies every command's reply schema must accept. */
export const replies = [
  { ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "" },
  { ActionStatus: "FAIL", ErrorCode: 1, ErrorInfo: "refused" },
];

let passed = 0;
let failed = 0;
export function check(name, ok, detail = "") {
  if (ok) passed += 1;
  else failed += 1;
  if (!ok || process.env.VERBOSE) console.log(`${ok ? "ok" : "FAILED"} ${name}${detail ? `: ${detail}` : ""}`);
  return ok;
}
/** Prints the tally and exits non-zero on any failure. */
export function finish(what) {
  console.log(`${what}: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/**
 * Generated type names that are numbered copies of another name (`EventTime1` beside
 * `EventTime`), or names no title asked for when `titles` is given.
 */
export function numberedDuplicates(names) {
  const all = new Set(names);
  return [...all].filter((name) => {
    const match = /^(.*\D)(\d+)$/.exec(name);
    return match !== null && (all.has(match[1]) || [...all].some((other) => other !== name && other.startsWith(match[1]) && /^\d+$/.test(other.slice(match[1].length))));
  });
}

/** The titles of a schema's definitions: the type names generators should use. */
export const titlesOf = (schema) => [schema.title, ...Object.values(schema.$defs ?? {}).map((def) => def.title)].filter(Boolean);
