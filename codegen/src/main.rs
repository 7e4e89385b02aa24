//! `cargo codegen`: regenerates the Rust code derived from `schema/`, or with `--check` verifies
//! that the checked-in code is fresh.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tencent_chat_callbacks_codegen::{Layout, check, write};

/// Generates the typed callbacks and the macro's command table from the JSON Schemas in `schema/`.
#[derive(Parser)]
#[command(name = "cargo codegen")]
struct Args {
    /// Write nothing; fail, naming each stale file, if the generated code is not up to date.
    #[arg(long)]
    check: bool,
    /// The workspace root (defaults to the one this tool was built in).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let layout = Layout::workspace(&args.root);
    let result = if args.check {
        check(&layout).map(|()| "generated code is up to date".to_owned())
    } else {
        write(&layout).map(|changed| match changed.len() {
            0 => "generated code is up to date".to_owned(),
            n => format!("updated {n} file(s)"),
        })
    };
    match result {
        Ok(message) => {
            eprintln!("{message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
