// The ES module entry point has the same exports as the CommonJS one, which it re-exports.
export * from "./index.cjs";
