// The official AsyncAPI parser accepts schema/dist/asyncapi.json with no error.
// Run with: npm ci && node asyncapi.mjs   (from tests/consumers/typescript)
import { readFile } from "node:fs/promises";
import { Parser } from "@asyncapi/parser";
import { check, dist, finish } from "./common.mjs";

const document = await readFile(new URL("asyncapi.json", dist), "utf8");
const { diagnostics } = await new Parser().parse(document);
const errors = diagnostics.filter((d) => d.severity === 0);
for (const error of errors) console.log(`  ${error.code}: ${error.message} at ${error.path.join("/")}`);
check("the AsyncAPI parser accepts asyncapi.json", errors.length === 0, `${errors.length} error(s)`);
finish("asyncapi");
