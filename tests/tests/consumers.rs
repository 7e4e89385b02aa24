//! The published schemas (`schema/dist/`), proved with the tools other languages' teams use, on
//! every fixture (see `tests/consumers/`):
//!
//! - Ajv 8 in strict mode (draft 2020-12) compiles every file and validates every fixture;
//! - Python `jsonschema` does the same;
//! - json-schema-to-typescript generates well-named types from the bundle and from every
//!   per-command file, which `tsc --strict` compiles with a consumer;
//! - quicktype generates TypeScript (compiled by `tsc --strict`) and Go, with which a Go program
//!   decodes and re-encodes every fixture to the same JSON value;
//! - datamodel-code-generator generates well-named pydantic v2 models from the bundle and from
//!   every per-command file, which parse every fixture and dump it back to the same JSON value;
//! - the AsyncAPI parser accepts the AsyncAPI document;
//! - with no outside tool, Rust's `jsonschema` (no retriever) compiles every per-command file,
//!   proving it stands alone, and validates its fixture.
//!
//! They need `node` after `npm ci` in `tests/consumers/typescript`, `python3` with
//! `tests/consumers/python/requirements.txt`, and `go` (Debian's `golang-go`). `.ci/run`
//! installs them and sets `CONSUMER_CHECKS=required`, under which a missing tool fails the build; elsewhere
//! a test whose tool is missing is reported as ignored (`tests::needs!`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::workspace_root;

fn consumers(dir: &str) -> PathBuf {
    workspace_root().join("tests/consumers").join(dir)
}

/// Runs `program args` in `dir`, failing with its output unless it succeeds.
fn run(dir: &Path, program: &str, args: &[&str]) {
    run_with(dir, program, args, &[]);
}

/// [`run`] with extra environment variables.
fn run_with(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{program} {args:?} in {} failed:\n{text}", dir.display());
    println!("{text}");
}

tests::needs! { [node_consumers]
    #[test]
    fn ajv_strict_compiles_every_published_schema_and_validates_every_fixture() {
        run(&consumers("typescript"), "node", &["ajv.mjs"]);
    }
}

tests::needs! { [python_jsonschema]
    #[test]
    fn python_jsonschema_validates_every_fixture_and_rejects_bad_payloads() {
        run(&consumers("python"), "python3", &["check_schemas.py"]);
    }
}

tests::needs! { [node_consumers]
    #[test]
    fn json_schema_to_typescript_names_types_by_title_and_tsc_strict_compiles_them() {
        run(&consumers("typescript"), "node", &["jstt.mjs"]);
    }
}

tests::needs! { [node_consumers, go]
    #[test]
    fn quicktype_typescript_compiles_and_its_go_round_trips_every_fixture() {
        run(&consumers("typescript"), "node", &["quicktype.mjs"]);
        // The program uses only the standard library: no module downloads, a cache of our own.
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build");
        let env = [("GOCACHE", cache.to_str().expect("a UTF-8 path")), ("GOPROXY", "off"), ("GOFLAGS", "-mod=mod")];
        run_with(&consumers("go"), "go", &["run", "."], &env);
    }
}

tests::needs! { [python_datamodel]
    #[test]
    fn pydantic_models_from_datamodel_code_generator_round_trip_every_fixture() {
        run(&consumers("python"), "python3", &["check_pydantic.py"]);
    }
}

tests::needs! { [node_consumers]
    #[test]
    fn the_asyncapi_parser_accepts_the_asyncapi_document() {
        run(&consumers("typescript"), "node", &["asyncapi.mjs"]);
    }
}

/// Needs no outside tool, so it always runs: Rust's `jsonschema` compiles the bundle and every
/// per-command file, and each fixture is valid under its command's file.
#[test]
fn every_per_command_file_stands_alone_and_accepts_its_fixture() {
    let dist = workspace_root().join("schema/dist");
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    };
    jsonschema::validator_for(&read(dist.join("callbacks.schema.json"))).expect("the bundle compiles");
    let catalogue = read(dist.join("catalogue.json"));
    for fixture in tests::fixtures() {
        let entry = &catalogue["commands"][&fixture.command];
        let file =
            entry["request"]["schema"].as_str().unwrap_or_else(|| panic!("{}: not in the catalogue", fixture.command));
        let validator = jsonschema::validator_for(&read(dist.join(file)))
            .unwrap_or_else(|e| panic!("{file} does not compile: {e}"));
        let errors: Vec<String> = validator.iter_errors(&fixture.sample_json()).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", fixture.command);
    }
}

/// Needs no outside tool: a `MsgRandom` of 4,000,000,000 and a `MsgSeq` above 2^31 (valid 32-bit
/// unsigned numbers, as the vendor documents them) decode into the generated types with their
/// value, and are valid under the published per-command file; one past 2^32 - 1 is refused by both.
#[test]
fn numbers_above_two_to_the_31_decode_and_are_valid_published() {
    let dist = workspace_root().join("schema/dist");
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    };
    let catalogue = read(dist.join("catalogue.json"));
    let cases = read(workspace_root().join("tests/data/wide-integers.json"));
    let cases = cases.as_array().expect("a list of cases");
    assert_eq!(cases.len(), 3, "both before-sends' sibling and both after-sends");
    for case in cases {
        let command = case["command"].as_str().unwrap();
        let body = &case["body"];
        let file = catalogue["commands"][command]["request"]["schema"].as_str().unwrap();
        let validator = jsonschema::validator_for(&read(dist.join(file))).unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{command}: {errors:?}");
        let event = tencent_chat_callbacks::Event::from_json(command, &serde_json::to_vec(body).unwrap())
            .unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(&serde_json::to_value(&event).unwrap(), body, "{command}: re-encoded unchanged");

        let key = if body.get("MsgRandom").is_some() { "MsgRandom" } else { "Random" };
        let mut too_wide = body.clone();
        too_wide[key] = serde_json::Value::from(u64::from(u32::MAX) + 1);
        assert!(!validator.is_valid(&too_wide), "{command}: the published file refuses a {key} of 2^32");
        let decoded = tencent_chat_callbacks::Event::from_json(command, &serde_json::to_vec(&too_wide).unwrap());
        assert!(decoded.is_err(), "{command}: the Rust type refuses a {key} of 2^32");
    }
    // And the typed fields hold the values.
    let body = &cases.iter().find(|c| c["command"] == "C2C.CallbackAfterSendMsg").unwrap()["body"];
    let event: tencent_chat_callbacks::c2c::AfterSendMsg = serde_json::from_value(body.clone()).unwrap();
    assert_eq!((event.msg_random, event.msg_seq), (Some(4_000_000_000_u32), Some(3_000_000_000_u32)));
}
