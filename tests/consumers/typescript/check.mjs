// Checks the published schemas with TypeScript's own tools:
// 1. json-schema-to-typescript generates types from the bundle;
// 2. `tsc --noEmit` compiles consumer.ts against those types and the npm package's index.d.ts;
// 3. the official AsyncAPI parser accepts asyncapi.json without errors.
// Run with: npm ci && node check.mjs   (from tests/consumers/typescript)
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { compile } from "json-schema-to-typescript";
import { Parser } from "@asyncapi/parser";

const dist = new URL("../../../schema/dist/", import.meta.url);
let failed = 0;
let passed = 0;
const check = (name, ok, detail = "") => {
  if (ok) passed += 1;
  else failed += 1;
  console.log(`${ok ? "ok" : "FAILED"} ${name}${detail ? `: ${detail}` : ""}`);
};

// 1. Types from the bundle.
const bundle = JSON.parse(await readFile(new URL("callbacks.schema.json", dist), "utf8"));
const types = await compile(bundle, "TencentChatCallbacks", {
  bannerComment: "// Generated from schema/dist/callbacks.schema.json by json-schema-to-typescript.",
  unreachableDefinitions: true,
  additionalProperties: true,
  cwd: new URL(".", dist).pathname,
});
await mkdir(new URL("generated/", import.meta.url), { recursive: true });
await writeFile(new URL("generated/bundle.ts", import.meta.url), types);
check("json-schema-to-typescript compiles the bundle", types.length > 0);

// 2. The consumer compiles.
try {
  execFileSync(process.execPath, [new URL("node_modules/typescript/bin/tsc", import.meta.url).pathname, "--noEmit", "-p", "."], {
    cwd: new URL(".", import.meta.url).pathname,
    stdio: "inherit",
  });
  check("tsc --noEmit compiles consumer.ts", true);
} catch {
  check("tsc --noEmit compiles consumer.ts", false);
}

// 3. AsyncAPI.
const document = await readFile(new URL("asyncapi.json", dist), "utf8");
const { diagnostics } = await new Parser().parse(document);
const errors = diagnostics.filter((d) => d.severity === 0);
for (const error of errors) console.log(`  ${error.code}: ${error.message} at ${error.path.join("/")}`);
check("the AsyncAPI parser accepts asyncapi.json", errors.length === 0, `${errors.length} error(s), ${diagnostics.length - errors.length} other diagnostic(s)`);

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
