//! The generator on small schemas: expected output (snapshots), errors, and freshness of the
//! workspace's own generated code.

use std::fs;
use std::path::{Path, PathBuf};

use tencent_chat_callbacks_codegen::{Error, Layout, check, generate, write};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn case_layout(case: &str) -> Layout {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases").join(case);
    Layout {
        schema_dir: dir.join("schema"),
        rust_dir: dir.join("expected"),
        macro_table: dir.join("commands.rs"),
        readme: Some(dir.join("README.md")),
        dist_dir: Some(dir.join("dist")),
        python_package: Some(dir.join("packages/python")),
        npm_package: Some(dir.join("packages/npm")),
    }
}

/// The workspace's checked-in generated code is what the schemas produce. Run `cargo codegen`
/// when this fails.
#[test]
fn workspace_generated_code_is_fresh() {
    if let Err(error) = check(&Layout::workspace(&workspace_root())) {
        panic!("{error}");
    }
}

/// `tests/cases/*/expected/` is the output for `tests/cases/*/schema/`; it is also compiled by the
/// `tests` crate. Set `UPDATE_EXPECT=1` to rewrite it after an intended change.
#[test]
fn snapshots_match() {
    let cases = fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")).unwrap();
    for case in cases {
        let case = case.unwrap().file_name().to_string_lossy().into_owned();
        let layout = case_layout(&case);
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            write(&layout).unwrap();
        }
        if let Err(error) = check(&layout) {
            panic!("case `{case}`: {error}\n(set UPDATE_EXPECT=1 to accept the new output)");
        }
    }
}

#[test]
fn output_is_deterministic() {
    let layout = case_layout("basic");
    assert_eq!(generate(&layout).unwrap(), generate(&layout).unwrap());
}

#[test]
fn check_names_stale_missing_and_leftover_files_and_write_repairs_them() {
    let dir = tempfile::tempdir().unwrap();
    let source = case_layout("basic");
    let layout = Layout {
        schema_dir: source.schema_dir.clone(),
        rust_dir: dir.path().join("generated"),
        macro_table: dir.path().join("commands.rs"),
        readme: None,
        dist_dir: None,
        python_package: None,
        npm_package: None,
    };
    let Err(Error::Stale { stale }) = check(&layout) else { panic!("an empty directory must be stale") };
    assert!(stale.contains(&layout.rust_dir.join("demo.rs")), "{stale:?}");

    write(&layout).unwrap();
    check(&layout).unwrap();

    fs::write(layout.rust_dir.join("demo.rs"), "// edited by hand\n").unwrap();
    fs::write(layout.rust_dir.join("removed.rs"), "").unwrap();
    let Err(Error::Stale { stale }) = check(&layout) else { panic!("edits must be caught") };
    assert_eq!(stale, vec![layout.rust_dir.join("demo.rs"), layout.rust_dir.join("removed.rs")]);
    let message = Error::Stale { stale }.to_string();
    assert!(message.contains("run `cargo codegen`"), "{message}");

    write(&layout).unwrap();
    check(&layout).unwrap();
    assert!(!layout.rust_dir.join("removed.rs").exists());
}

/// Everything under the published directory is generated: a file the generator no longer writes
/// (such as a package it dropped), however deep, is stale, and `write` removes it with the
/// directories that leaves empty. Tool directories inside a package are not looked into.
#[test]
fn published_files_no_longer_generated_are_stale_and_removed_with_their_directories() {
    let dir = tempfile::tempdir().unwrap();
    let source = case_layout("basic");
    let layout = Layout {
        schema_dir: source.schema_dir.clone(),
        rust_dir: dir.path().join("generated"),
        macro_table: dir.path().join("commands.rs"),
        readme: None,
        dist_dir: Some(dir.path().join("dist")),
        python_package: None,
        npm_package: None,
    };
    write(&layout).unwrap();
    check(&layout).unwrap();

    let dist = dir.path().join("dist");
    let old_package = dist.join("python/src/old_package");
    fs::create_dir_all(&old_package).unwrap();
    fs::write(old_package.join("__init__.py"), "").unwrap();
    fs::create_dir_all(dist.join("npm")).unwrap();
    fs::write(dist.join("npm/index.js"), "").unwrap();
    let tool_dir = dist.join("packages/npm/node_modules/some-tool");
    fs::create_dir_all(&tool_dir).unwrap();
    fs::write(tool_dir.join("index.js"), "").unwrap();

    let Err(Error::Stale { stale }) = check(&layout) else { panic!("files of a dropped package must be stale") };
    assert_eq!(stale, vec![dist.join("npm/index.js"), old_package.join("__init__.py")]);

    write(&layout).unwrap();
    check(&layout).unwrap();
    assert!(!dist.join("npm").exists() && !dist.join("python").exists());
    assert!(dist.join("commands").is_dir() && tool_dir.join("index.js").exists());
}

/// A package holds hand-written files beside the generated ones: those are never stale, while a
/// module that says it is generated and is no longer written (a namespace that was removed) is,
/// as is any file of its `commands/` directory of schemas.
#[test]
fn in_a_package_only_files_that_say_they_are_generated_are_stale() {
    let dir = tempfile::tempdir().unwrap();
    let source = case_layout("basic");
    let python = dir.path().join("python");
    let layout = Layout {
        schema_dir: source.schema_dir.clone(),
        rust_dir: dir.path().join("generated"),
        macro_table: dir.path().join("commands.rs"),
        readme: None,
        dist_dir: None,
        python_package: Some(python.clone()),
        npm_package: None,
    };
    write(&layout).unwrap();
    let module_dir = python.join("src/tencent_chat_callbacks");
    fs::write(module_dir.join("dispatcher.py"), "# written by hand\n").unwrap();
    fs::write(module_dir.join("removed.py"), "\"\"\"Gone.\n\n@generated by `cargo codegen` from schema/.\n\"\"\"\n")
        .unwrap();
    fs::write(module_dir.join("commands/Gone.Command.schema.json"), "{}").unwrap();
    let Err(Error::Stale { stale }) = check(&layout) else { panic!("a removed generated module must be stale") };
    assert_eq!(stale, vec![module_dir.join("commands/Gone.Command.schema.json"), module_dir.join("removed.py")]);

    write(&layout).unwrap();
    check(&layout).unwrap();
    assert!(module_dir.join("dispatcher.py").exists());
}

/// Generates from `common.json` (from the basic case) and one callback schema, returning the error.
fn error_for(file: &str, schema: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let schema_dir = dir.path().join("schema");
    fs::create_dir(&schema_dir).unwrap();
    let common = fs::read_to_string(case_layout("basic").schema_dir.join("common.json")).unwrap();
    let mut common: serde_json::Value = serde_json::from_str(&common).unwrap();
    let namespace = file.split('.').next().unwrap();
    common["x-namespaces"] = serde_json::json!({ namespace: "The namespace under test." });
    fs::write(schema_dir.join("common.json"), common.to_string()).unwrap();
    fs::write(schema_dir.join(file), schema).unwrap();
    // A hand-written module beside the generated ones, as `callbacks/src/testing.rs` is.
    fs::write(dir.path().join("testing.rs"), "").unwrap();
    let layout = Layout {
        schema_dir,
        rust_dir: dir.path().join("out"),
        macro_table: dir.path().join("t.rs"),
        readme: None,
        dist_dir: None,
        python_package: None,
        npm_package: None,
    };
    match generate(&layout) {
        Ok(_) => panic!("{file} should not generate"),
        Err(error) => error.to_string(),
    }
}

fn callback(command: &str, properties: &str, required: &str) -> String {
    format!(
        r##"{{
  "x-callback": {{ "command": "{command}", "kind": "after", "docUrl": "u", "docUpdated": "d" }},
  "type": "object",
  "properties": {{ "CallbackCommand": {{ "const": "{command}" }}{properties} }},
  "required": [{required}],
  "$defs": {{ "Reply": {{ "$ref": "common.json#/$defs/Reply" }} }}
}}"##
    )
}

/// A callback whose `$defs` hold a tagged union with the given `oneOf` members.
fn union_callback(members: &str) -> String {
    callback("X.CallbackA", "", "").replace(
        r#""$defs": {"#,
        &format!(r#""$defs": {{ "U": {{ "description": "d", "type": "object", "oneOf": [{members}] }},"#),
    )
}

#[test]
fn unsupported_or_inconsistent_schemas_fail_naming_file_and_pointer() {
    let cases = [
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "Nested": { "description": "d", "type": "object" }"#, ""),
            "schema/X.CallbackA.json at /properties/Nested: name this object under `$defs`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "Bare": { "type": "string" }"#, ""),
            "at /properties/Bare: every property needs a `description`",
        ),
        ("X.CallbackA.json", callback("X.CallbackA", "", r#""Missing""#), "`Missing` is required but not a property"),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "").replace(r#"{ "Reply":"#, r#"{ "Response":"#),
            "at /$defs: missing the `Reply` definition (`$defs.Response` was renamed `$defs.Reply`)",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "")
                .replace(r#""docUpdated": "d""#, r#""docUpdated": "d", "dedupKey": "MsgKey""#),
            "at /x-callback/dedupKey: must name a property of the request",
        ),
        (
            "X.CallbackB.json",
            callback("X.CallbackA", "", ""),
            "the file of `X.CallbackA` must be named `X.CallbackA.json`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "R": { "description": "d", "$ref": "other.json#/$defs/Y" }"#, ""),
            "only `#/$defs/…` and `common.json#/$defs/…` are supported",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r##", "R": { "description": "d", "$ref": "#/$defs/Nope" }"##, ""),
            "`#/$defs/Nope` points at nothing",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "C": { "description": "d", "const": "fixed" }"#, ""),
            "`const` is only supported on a callback's `CallbackCommand`",
        ),
        (
            "X.CallbackA.json",
            union_callback(
                r#"{ "title": "T", "properties": { "Kind": { "const": "t" }, "Body": { "type": "string" } } }"#,
            ),
            "a tagged union needs exactly one catch-all member",
        ),
        (
            "X.CallbackA.json",
            union_callback(
                r#"{ "properties": { "Kind": { "const": "t" }, "Body": { "type": "string" } } },
                   { "properties": { "Kind": { "not": { "enum": ["t"] } } } }"#,
            ),
            "a member needs a `title`: its variant's name",
        ),
        (
            "X.CallbackA.json",
            union_callback(
                r#"{ "title": "T", "properties": { "Kind": { "const": "t" }, "Body": { "type": "string" } } },
                   { "title": "U", "properties": { "Sort": { "const": "u" }, "Body": { "type": "string" } } },
                   { "properties": { "Kind": { "not": { "enum": ["t"] } } } }"#,
            ),
            "every member must use the same tag property",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "").replace(r#""kind": "after","#, r#""kind": "after", "decision": {},"#),
            "at /x-callback/decision: only a before-callback takes decisions",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "").replace(r#""kind": "after""#, r#""kind": "before""#),
            "a before-callback must say which decisions it accepts",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "").replace(r#""kind": "after""#, r#""kind": "before", "decision": {}"#),
            "a before-callback's reply is an object with ActionStatus, ErrorCode and ErrorInfo",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "N": { "description": "d", "type": "integer", "x-aliases": "Old" }"#, ""),
            "at /properties/N: `x-aliases` must be a list of strings",
        ),
        (
            "X.CallbackA.json",
            callback(
                "X.CallbackA",
                r#", "N": { "description": "d", "type": "integer", "x-aliases": ["M"] }, "M": { "description": "d", "type": "integer" }"#,
                "",
            ),
            "at /properties/N: the alias `M` is a property of its own",
        ),
        (
            "X.CallbackA.json",
            callback(
                "X.CallbackA",
                r#", "L": { "description": "d", "type": "array", "items": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] } }"#,
                "",
            ),
            "at /properties/L: a list of strings-or-lists is not supported",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "D": { "description": "d", "type": "string", "default": "x" }"#, ""),
            "at /properties/D: `default` must be the empty value `\"\"`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "D": { "description": "d", "type": "integer", "default": 0 }"#, r#""D""#),
            "at /properties/D: a required property cannot have a `default`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "")
                .replace(r#""kind": "after""#, r#""kind": "before", "decision": {}"#)
                .replace(
                    r#""Reply": { "$ref": "common.json#/$defs/Reply" }"#,
                    r#""Reply": { "type": "object", "properties": {
                    "ActionStatus": { "$ref": "common.json#/$defs/ActionStatus" },
                    "ErrorCode": { "description": "d", "type": "integer" },
                    "ErrorInfo": { "description": "d", "type": "string" },
                    "Note": { "description": "d", "type": "string" } },
                  "required": ["ActionStatus", "ErrorCode", "ErrorInfo", "Note"] }"#,
                ),
            "`Note`: a before-callback's reply may require only lists besides the standard fields",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "N": { "description": "d", "type": "integer", "format": "int16" }"#, ""),
            "at /properties/N: an integer's `format` must be `int32`, `uint32`, `int64` or `uint64`",
        ),
        (
            "X.CallbackA.json",
            callback(
                "X.CallbackA",
                r#", "N": { "description": "d", "type": "integer", "format": "uint32", "minimum": 0, "maximum": 4294967296 }"#,
                "",
            ),
            "at /properties/N: the bound 4294967296 does not fit the format `uint32`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "N": { "description": "d", "type": "integer", "format": "uint64" }"#, ""),
            "at /properties/N: an unsigned `format` needs `minimum` 0 or more",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "A": { "description": "d", "type": "string", "x-aliases": ["B"] }"#, "")
                .replace(r#""required": [],"#, r#""required": [], "if": { "not": { "anyOf": [] } }, "then": { "required": ["A"] },"#),
            "at /if: a property required under any spelling is",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r#", "A": { "description": "d", "type": "string", "x-aliases": ["B"] }"#, r#""A""#)
                .replace(r#""required": ["A"],"#, r#""required": ["A"], "if": { "not": { "anyOf": [{ "required": ["B"] }] } }, "then": { "required": ["A"] },"#),
            "at /properties/A: required under any spelling (`if`/`then`), so it must not also be in `required`",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", r##", "C": { "description": "d", "$ref": "#/$defs/C" }"##, "").replace(
                r#""$defs": {"#,
                r#""$defs": { "C": { "anyOf": [{ "type": "integer" }, { "title": "M", "type": "object", "additionalProperties": { "type": "integer" } }] },"#,
            ),
            "at /$defs/C/anyOf/0: a member needs a `title`: its variant's name",
        ),
        ("X.CallbackA.json", "{ not json".to_owned(), "schema/X.CallbackA.json: not valid JSON"),
        (
            "Testing.CallbackA.json",
            callback("Testing.CallbackA", "", ""),
            "the namespace `Testing` would generate the module `testing`, which is a hand-written module",
        ),
        (
            "X.CallbackA.json",
            callback("X.CallbackA", "", "").replace(
                r#""$defs": {"#,
                r#""$defs": { "Stamp": { "type": "object", "description": "d", "properties": {} },"#,
            ),
            "type `Stamp` is also defined in common.json",
        ),
        ("X.CallbackA.json", r#"{ "type": "object" }"#.to_owned(), "missing `x-callback`"),
    ];
    for (file, schema, expected) in cases {
        let error = error_for(file, &schema);
        assert!(error.contains(expected), "expected `{expected}` in:\n{error}");
    }
}

/// The packages' manifests are written by hand, and carry the workspace's version.
#[test]
fn the_packages_carry_the_workspace_version() {
    let root = workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    for (file, line) in [
        ("packages/python/pyproject.toml", format!("version = \"{version}\"")),
        ("packages/python/src/tencent_chat_callbacks/__init__.py", format!("__version__ = \"{version}\"")),
        ("packages/npm/package.json", format!("\"version\": \"{version}\",")),
    ] {
        let text = fs::read_to_string(root.join(file)).unwrap();
        assert!(text.lines().any(|l| l.trim() == line), "{file} should say `{line}`");
    }
}
