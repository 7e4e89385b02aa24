// json-schema-to-typescript generates types from the bundle and from every per-command file;
// every type is named by a title (no numbered copies such as `EventTime1`), and `tsc --strict`
// compiles the generated files together with consumer.ts, which narrows message elements and
// callback bodies with them.
// Run with: npm ci && node jstt.mjs   (from tests/consumers/typescript)
import { mkdir, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { compile } from "json-schema-to-typescript";
import { bundle, catalogue, check, commandSchema, finish, here, numberedDuplicates, titlesOf } from "./common.mjs";

const out = new URL("generated/jstt/", here);
await rm(out, { recursive: true, force: true });
await mkdir(new URL("commands/", out), { recursive: true });
const options = { bannerComment: "", unreachableDefinitions: true, additionalProperties: true, format: false };

/** Generates `schema` into `file`, checking the names it declares. */
async function generate(name, schema, file) {
  let types;
  try {
    types = await compile(schema, schema.title, options);
  } catch (error) {
    return check(`json-schema-to-typescript generates ${name}`, false, error.message);
  }
  await writeFile(new URL(file, out), types);
  const declared = [...types.matchAll(/^export (?:type|interface) (\w+)/gm)].map((m) => m[1]);
  const numbered = numberedDuplicates(declared);
  check(`${name}: no numbered duplicate names`, numbered.length === 0, numbered.join(", "));
  const missing = titlesOf(schema).filter((title) => !declared.includes(title));
  check(`${name}: every title names a type`, missing.length === 0, missing.join(", "));
  const unasked = declared.filter((type) => !titlesOf(schema).includes(type));
  check(`${name}: every type is named by a title`, unasked.length === 0, unasked.join(", "));
}

await generate("the bundle", bundle, "bundle.ts");
for (const command of Object.keys(catalogue.commands)) {
  await generate(command, commandSchema(command), `commands/${command}.ts`);
}

// tsconfig.json compiles consumer.ts (which imports the bundle's types) and every generated file.
try {
  execFileSync(process.execPath, [new URL("node_modules/typescript/bin/tsc", here).pathname, "-p", "tsconfig.json"], {
    cwd: here.pathname,
    stdio: "inherit",
  });
  check("tsc --strict compiles the generated types and consumer.ts", true);
} catch {
  check("tsc --strict compiles the generated types and consumer.ts", false);
}
finish("json-schema-to-typescript");
