// tencent-chat-callbacks: decoding a body as its command's type, checked against model.cjs, which is generated from the same schemas as
// the Rust types, with the Rust crate's rules:
// - unknown fields and unknown union members are kept; an optional field may be missing;
// - a number sent as a string holding one is read as that number (as Rust's lenient retry does);
// - integers are checked on their literal, so 2^64 is refused for a u64 (JSON.parse would round
//   it to a float equal to 2^64 - 1) and `5.0` for an integer, as serde refuses both;
// - JSON nested 128 deep is refused, as serde_json's recursion limit does;
// - a `Push.*` batch whose events do not all decode keeps the good ones: the bad ones are
//   returned to be dead-lettered one by one, each alone.
// Every problem is one line naming where it is, written as the Rust crate writes paths
// (`MsgBody[0].MsgContent.Text`, `.` for the whole body).
"use strict";

const model = require("./model.cjs");

/**
 * JSON decoded as a value (a fallback's body, the content of a union member this version does not
 * know) nested this deep, counted from the body's root, is refused, as Rust's recursion limit
 * does; fields the model does not declare are not counted, as Rust skips them.
 */
const MAX_JSON_DEPTH = 128;
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const DIGITS = /^[0-9]{1,19}$/;
const U64_MAX = 2n ** 64n - 1n;
/** The range of each integer width of model.cjs, and how a mismatch is worded. */
const INTEGER_RANGES = {
  i32: [-(2n ** 31n), 2n ** 31n - 1n, "a 32-bit integer"],
  u32: [0n, 2n ** 32n - 1n, "a 32-bit unsigned integer"],
  i64: [-(2n ** 63n), 2n ** 63n - 1n, "an integer"],
  u64: [0n, 2n ** 64n - 1n, "an unsigned integer"],
};

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether arrays and objects nest `MAX_JSON_DEPTH` deep (brackets inside strings not counted). */
function tooDeep(text) {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 0x5c) escaped = true;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth >= MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** The body as JSON; `asValue`, refused past `MAX_JSON_DEPTH`. Throws with a one-line message. */
function parseJson(text, asValue = false) {
  if (asValue && tooDeep(text)) throw new Error("recursion limit exceeded");
  return JSON.parse(text);
}

/** How deep arrays and objects nest in `value` (0 for a scalar), without recursion. */
function depthOf(value) {
  let deepest = 0;
  const stack = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop();
    if (typeof item !== "object" || item === null) continue;
    if (depth > deepest) deepest = depth;
    for (const inner of Array.isArray(item) ? item : Object.values(item)) stack.push([inner, depth + 1]);
  }
  return deepest;
}

/** How many arrays and objects hold the value at `path`, the root included. */
function containersAbove(path) {
  return path === "." ? 0 : 1 + (path.match(/\.|\[/g) ?? []).length;
}

/**
 * The literal of every number of `text` that JSON.parse could misread for an integer field (a
 * fraction, an exponent, or 16 digits and more), by path. `text` is valid JSON.
 */
function numberLiterals(text) {
  const found = new Map();
  const stack = [];
  const pathOf = () => {
    let path = "";
    for (const frame of stack) {
      if (frame.array) path += `[${frame.index}]`;
      else if (frame.key !== null) path += path === "" ? frame.key : `.${frame.key}`;
    }
    return path === "" ? "." : path;
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const top = stack[stack.length - 1];
    if (c === "{") {
      stack.push({ array: false, key: null, expectKey: true });
      i++;
    } else if (c === "[") {
      stack.push({ array: true, index: 0 });
      i++;
    } else if (c === "}" || c === "]") {
      stack.pop();
      i++;
    } else if (c === ",") {
      if (top.array) top.index++;
      else top.expectKey = true;
      i++;
    } else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (top !== undefined && !top.array && top.expectKey) {
        top.key = JSON.parse(text.slice(i, end + 1));
        top.expectKey = false;
      }
      i = end + 1;
    } else if (c === "-" || (c >= "0" && c <= "9")) {
      let end = i + 1;
      while (end < text.length && /[0-9.eE+-]/.test(text[end])) end++;
      const literal = text.slice(i, end);
      if (/[.eE]/.test(literal) || literal.replace("-", "").length >= 16) found.set(pathOf(), literal);
      i = end;
    } else i++;
  }
  return found;
}

/** A decoding problem: where, and what. */
function problem(path, message) {
  return { path, message };
}

/** Decodes values checked against model.cjs, reading number literals once, when needed. */
class Decoder {
  constructor(text) {
    this.text = text;
    this.literals = null;
    this.rename = null;
  }

  /** The literal of the number at `path`, if JSON.parse may have misread it. */
  literal(path) {
    if (this.literals === null) this.literals = numberLiterals(this.text);
    return this.literals.get(this.rename === null ? path : this.rename(path));
  }

  /** Whether the number `value` at `path` is an integer within [low, high] as written. */
  integer(value, path, low, high) {
    if (!Number.isFinite(value)) return false;
    const literal = this.literal(path);
    if (literal === undefined) return Number.isSafeInteger(value) && BigInt(value) >= low && BigInt(value) <= high;
    if (/[.eE]/.test(literal)) return false;
    const exact = BigInt(literal);
    return exact >= low && exact <= high;
  }

  /** Where `holder[key]` does not fit type `ty`, or `null`; numbers sent as strings are read in place. */
  check(ty, holder, key, path) {
    const value = holder[key];
    if (typeof ty !== "string") {
      if ("array" in ty) {
        if (!Array.isArray(value)) return problem(path, "expected an array");
        for (let i = 0; i < value.length; i++) {
          const found = this.check(ty.array, value, i, `${path}[${i}]`);
          if (found !== null) return found;
        }
        return null;
      }
      if ("map" in ty) {
        if (!isObject(value)) return problem(path, "expected an object");
        for (const item of Object.keys(value)) {
          const found = this.check(ty.map, value, item, `${path}.${item}`);
          if (found !== null) return found;
        }
        return null;
      }
      if ("const" in ty) return value === ty.const ? null : problem(path, `expected ${JSON.stringify(ty.const)}`);
      return problem(path, "unknown type");
    }
    switch (ty) {
      case "string":
        return typeof value === "string" ? null : problem(path, "expected a string");
      case "bool":
        return typeof value === "boolean" ? null : problem(path, "expected a boolean");
      case "f64":
        if (typeof value === "string" && JSON_NUMBER.test(value)) {
          holder[key] = Number(value);
          return null;
        }
        return typeof value === "number" ? null : problem(path, "expected a number");
      case "i32":
      case "u32":
      case "i64":
      case "u64": {
        const [low, high, what] = INTEGER_RANGES[ty];
        if (typeof value === "string") {
          // A number the vendor sent quoted is read as that number, as Rust's lenient retry does.
          if (!JSON_NUMBER.test(value) || /[.eE]/.test(value) || BigInt(value) < low || BigInt(value) > high) {
            return problem(path, `expected ${what}`);
          }
          holder[key] = Number(value);
          return null;
        }
        return typeof value === "number" && this.integer(value, path, low, high) ? null : problem(path, `expected ${what}`);
      }
      case "stringOrList":
        if (typeof value === "string") return null;
        if (!Array.isArray(value)) return problem(path, "expected a string or an array of strings");
        return value.every((item) => typeof item === "string") ? null : problem(path, "expected strings");
      case "lenient":
        if (typeof value === "string") return DIGITS.test(value) ? null : problem(path, "expected a non-negative integer, or a string of digits");
        return typeof value === "number" && this.integer(value, path, 0n, U64_MAX)
          ? null
          : problem(path, "expected a non-negative integer, or a string of digits");
      default:
        return this.named(ty, value, path);
    }
  }

  named(name, value, path) {
    const shape = model.types[name];
    if (shape.enum) return typeof value === "string" ? null : problem(path, "expected a string");
    if (shape.untagged) {
      // One of a few JSON types, told apart by the type alone, as in Rust.
      const holder = { value };
      const problems = shape.untagged.map((member) => this.check(member, holder, "value", path));
      return problems.includes(null) ? null : problems.find((found) => found !== null);
    }
    if (!isObject(value)) return problem(path, "expected an object");
    if (shape.union) {
      const { tag, content, members } = shape.union;
      if (!(tag in value)) return problem(path, `missing field \`${tag}\``);
      const at = (field) => (path === "." ? field : `${path}.${field}`);
      if (typeof value[tag] !== "string") return problem(at(tag), "expected a string");
      const member = Object.prototype.hasOwnProperty.call(members, value[tag]) ? members[value[tag]] : undefined;
      // A member this version does not list keeps its content as JSON, as deep as Rust decodes it.
      if (member === undefined) {
        const depth = containersAbove(path) + 1 + depthOf(value[content]);
        return depth >= MAX_JSON_DEPTH ? problem(path, "recursion limit exceeded") : null;
      }
      if (value[content] === undefined) value[content] = null;
      // As in Rust, a problem inside a member's content is reported at the element.
      const found = this.check(member, value, content, at(content));
      return found === null ? null : problem(path, found.message);
    }
    for (const [main, ty, required, aliases = []] of shape.struct) {
      // A field may arrive under another spelling (`x-aliases`); it is checked under the one sent.
      const wire = [main, ...aliases].find((name) => Object.prototype.hasOwnProperty.call(value, name)) ?? main;
      const present = Object.prototype.hasOwnProperty.call(value, wire);
      if (!present || (value[wire] === null && !required)) {
        if (required) return problem(path, `missing field \`${main}\``);
        continue;
      }
      const found = this.check(ty, value, wire, path === "." ? wire : `${path}.${wire}`);
      if (found !== null) return found;
    }
    return null;
  }
}

/** The top-level array whose items are events of `command`, if the body has one. */
function batchField(value, command) {
  for (const [name, items] of Object.entries(value)) {
    if (Array.isArray(items) && items.some((item) => isObject(item) && item.CallbackCommand === command)) return name;
  }
  return null;
}

/**
 * `text` decoded as `command`'s body: `{ event, rejected }` (the bad events of a batch, each
 * `{ index, body, reason }`), or `{ problem }` where it does not fit. Throws on JSON that does not
 * parse, with a one-line message.
 */
function decodeBody(command, text) {
  const type = model.commands[command].type;
  const value = parseJson(text);
  const decoder = new Decoder(text);
  const holder = { ".": value };
  const found = decoder.check(type, holder, ".", ".");
  if (found === null) return { event: holder["."], rejected: [] };
  const field = isObject(value) ? batchField(value, command) : null;
  if (field === null) return { problem: found };
  const items = value[field];
  // Paths inside a rebuilt batch are mapped back to the events' places in the body as sent.
  const remap = (indices) => (path) =>
    path.startsWith(`${field}[`) ? `${field}[${indices[Number(path.slice(field.length + 1, path.indexOf("]")))]}${path.slice(path.indexOf("]"))}` : path;
  const good = [];
  const goodIndices = [];
  const rejected = [];
  for (let index = 0; index < items.length; index++) {
    const alone = { ...value, [field]: [items[index]] };
    decoder.rename = remap([index]);
    const bad = decoder.check(type, { ".": alone }, ".", ".");
    if (bad === null) {
      good.push(alone[field][0]);
      goodIndices.push(index);
    } else {
      const reason = `at \`${decoder.rename(bad.path)}\`: ${bad.message}`;
      rejected.push({ index, body: JSON.stringify({ [field]: [items[index]] }), reason });
    }
  }
  if (rejected.length === 0) return { problem: found };
  const rebuilt = { ...value, [field]: good };
  decoder.rename = remap(goodIndices);
  const again = decoder.check(type, { ".": rebuilt }, ".", ".");
  decoder.rename = null;
  return again === null ? { event: rebuilt, rejected } : { problem: found };
}

module.exports = { MAX_JSON_DEPTH, decodeBody, isObject, parseJson };
