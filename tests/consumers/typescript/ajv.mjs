// Ajv 8 in strict mode (draft 2020-12, every strict option an error; the only set-up is the four
// integer formats, which Ajv knows only when told) compiles
// the bundle and every per-command file, validates every fixture against its command's schema
// (both files) and the bundle's top-level union, accepts standard replies under every reply
// schema, and rejects bad payloads.
// Run with: npm ci && node ajv.mjs   (from tests/consumers/typescript)
import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";
import { bundle, catalogue, check, commandSchema, elements, finish, fixtures, replies, root } from "./common.mjs";

const ajv = new Ajv2020({ strict: true, allErrors: true });
// Every integer states its width as `format` (OpenAPI's names); each format checks its range. A
// 64-bit bound is not exact as a JavaScript number, so those two check within the nearest doubles.
for (const [format, [min, max]] of Object.entries({
  int32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1],
  int64: [-(2 ** 63), 2 ** 63],
  uint64: [0, 2 ** 64],
})) {
  ajv.addFormat(format, { type: "number", validate: (x) => Number.isInteger(x) && x >= min && x <= max });
}
const errorsOf = (validate) => ajv.errorsText(validate.errors);
const compile = (name, schema) => {
  try {
    return ajv.compile(schema);
  } catch (error) {
    check(`compiles ${name}`, false, error.message);
    return null;
  }
};

const whole = compile("the bundle", bundle);
const inBundle = (type) => compile(`the bundle's ${type}`, { $ref: `${bundle.$id}#/$defs/${type}` });
const commands = Object.keys(catalogue.commands);
check("every fixture has a command in the catalogue", JSON.stringify(fixtures.map((f) => f.command)) === JSON.stringify(commands));
check("the bundle maps every command to its request and reply",
  commands.every((c) => bundle.$defs.CallbackBodies.properties[c]?.$ref === `#/$defs/${catalogue.commands[c].request.type}`
    && bundle.$defs.CallbackReplies.properties[c]?.$ref === `#/$defs/${catalogue.commands[c].reply.type}`));

// A standard reply with the reply's other required fields filled in with empty values.
const empty = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} };
const completeReply = (base, schema) => ({
  ...base,
  ...Object.fromEntries((schema.required ?? []).filter((k) => !(k in base)).map((k) => [k, empty[schema.properties[k].type]])),
});

const validators = {};
for (const command of commands) {
  const { request, reply } = catalogue.commands[command];
  const own = commandSchema(command);
  const ownRequest = compile(request.schema, own);
  const ownReply = compile(reply.schema, { $ref: `${own.$id}#/$defs/${reply.type}` });
  const bundleRequest = inBundle(request.type);
  const bundleReply = inBundle(reply.type);
  validators[command] = ownRequest;
  for (const [name, validate] of [[`${command} reply in its own file`, ownReply], [`${command} reply in the bundle`, bundleReply]]) {
    for (const body of replies.map((r) => completeReply(r, bundle.$defs[reply.type]))) if (validate) check(`${name} accepts ${JSON.stringify(body)}`, validate(body), errorsOf(validate));
  }
  const fixture = fixtures.find((f) => f.command === command);
  if (!fixture) continue;
  if (ownRequest) check(`${command}: valid under its own file`, ownRequest(fixture.sample), errorsOf(ownRequest));
  if (bundleRequest) check(`${command}: valid under the bundle's ${request.type}`, bundleRequest(fixture.sample), errorsOf(bundleRequest));
  if (whole && "CallbackCommand" in fixture.sample) check(`${command}: valid under the bundle's oneOf`, whole(fixture.sample), errorsOf(whole));
}

const elementList = compile("a list of MsgBodyElement", { type: "array", items: { $ref: `${bundle.$id}#/$defs/MsgBodyElement` } });
if (elementList) check("every kind of message element is valid", elementList(elements), errorsOf(elementList));

// Bad payloads, and the forward compatibility the schemas promise.
const sample = (command) => structuredClone(fixtures.find((f) => f.command === command).sample);
const send = "C2C.CallbackBeforeSendMsg";
const rejects = (name, command, edit) => {
  const payload = sample(command);
  edit(payload);
  check(`rejects ${name}`, !validators[command](payload));
};
rejects("a missing GroupId", "Group.CallbackAfterCreateGroup", (p) => delete p.GroupId);
rejects("an EventTime that is not digits", "Group.CallbackAfterCreateGroup", (p) => (p.EventTime = "12:00"));
rejects("a text element whose text is a number", send, (p) => p.MsgBody.push({ MsgType: "TIMTextElem", MsgContent: { Text: 5 } }));
rejects("an element without a type", send, (p) => p.MsgBody.push({ MsgContent: { Text: "x" } }));
rejects("a known element with content of another kind", send, (p) => p.MsgBody.push({ MsgType: "TIMLocationElem", MsgContent: { Text: "x" } }));
const future = sample(send);
future.NewVendorField = { any: "thing" };
future.MsgBody.push({ MsgType: "TIMStreamElem", MsgContent: { Chunks: [] } });
check("accepts new fields and new element types", validators[send](future), errorsOf(validators[send]));
const profile = sample("Profile.CallbackPortraitSet");
profile.ProfileItem.push({ Tag: "Tag_Profile_Custom_Level", Value: 3 }, { Tag: "Tag_Profile_IM_NewField", Value: "x" });
check("accepts app-defined and new profile fields", validators["Profile.CallbackPortraitSet"](profile), errorsOf(validators["Profile.CallbackPortraitSet"]));

// Widths: 32-bit unsigned numbers above 2^31 (a real MsgRandom of 4,000,000,000) are valid, one
// past 2^32 - 1 is not.
const wide = JSON.parse(readFileSync(new URL("tests/data/wide-integers.json", root), "utf8"));
for (const { command, body } of wide) {
  check(`${command}: accepts 32-bit unsigned numbers above 2^31`, validators[command](body), errorsOf(validators[command]));
  const key = "MsgRandom" in body ? "MsgRandom" : "Random";
  check(`${command}: rejects a ${key} of 2^32`, !validators[command]({ ...body, [key]: 2 ** 32 }));
}

finish("ajv");
