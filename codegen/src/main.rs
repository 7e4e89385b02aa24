//! `cargo codegen`: regenerates the Rust code derived from `schema/`, or with `--check` verifies
//! that the checked-in code is fresh. `import` and `drift` read vendor documentation pages.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tencent_chat_callbacks_codegen::page::Page;
use tencent_chat_callbacks_codegen::{Error, Layout, check, diff, drift, import, write};

/// Generates the typed callbacks and the macro's command table from the JSON Schemas in `schema/`.
#[derive(Parser)]
#[command(name = "cargo codegen")]
struct Args {
    /// Write nothing; fail, naming each stale file, if the generated code is not up to date.
    #[arg(long)]
    check: bool,
    /// The workspace root (defaults to the one this tool was built in).
    #[arg(long, global = true, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/.."))]
    root: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Drafts a schema from each vendor documentation page (plain text), reporting every repair
    /// made to its sample.
    Import {
        /// The pages.
        #[arg(required = true)]
        pages: Vec<PathBuf>,
        /// Where the drafts are written, as `<CallbackCommand>.json` [default: target/schema-drafts
        /// in the workspace].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compares every page (`*.txt`) of a directory with `schema/`; exits 1 on drift.
    Drift {
        /// The directory of pages.
        pages_dir: PathBuf,
    },
    /// Classifies the change from OLD to NEW (schema directories or published bundles) as a
    /// patch, minor or major version bump for consumers, field by field.
    Diff {
        /// The old schemas.
        old: PathBuf,
        /// The new schemas.
        new: PathBuf,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let layout = Layout::workspace(&args.root);
    let result = match args.command {
        None if args.check => check(&layout).map(|()| report("generated code is up to date")),
        None => write(&layout).map(|changed| match changed.len() {
            0 => report("generated code is up to date"),
            n => report(&format!("updated {n} file(s)")),
        }),
        Some(Command::Import { pages, out }) => {
            run_import(&pages, &out.unwrap_or_else(|| args.root.join("target/schema-drafts")))
        }
        Some(Command::Drift { pages_dir }) => run_drift(&pages_dir, &layout.schema_dir),
        Some(Command::Diff { old, new }) => run_diff(&old, &new),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::from(2)
    })
}

fn report(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::SUCCESS
}

fn run_import(pages: &[PathBuf], out: &Path) -> Result<ExitCode, Error> {
    fs::create_dir_all(out).map_err(|e| Error::Io { path: out.to_owned(), source: e })?;
    for path in pages {
        let page = Page::read(path)?;
        let target = out.join(format!("{}.json", page.command));
        let json = serde_json::to_string_pretty(&import::draft(&page)).expect("a JSON value encodes") + "\n";
        fs::write(&target, json).map_err(|e| Error::Io { path: target.clone(), source: e })?;
        println!("{} -> {}", path.display(), target.display());
        for repair in &page.repairs {
            println!("  repaired {repair}");
        }
        for field in page.numbers_sent_as_strings() {
            println!("  note: `{field}` is an integer in the field table but a string of digits in the sample");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_drift(pages_dir: &Path, schema_dir: &Path) -> Result<ExitCode, Error> {
    let reports = drift::drift_dir(pages_dir, schema_dir)?;
    for report in &reports {
        println!("{report}");
    }
    let drifted = reports.iter().filter(|r| !r.findings.is_empty()).count();
    println!("{drifted} of {} page(s) drifted", reports.len());
    Ok(if drifted == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run_diff(old: &Path, new: &Path) -> Result<ExitCode, Error> {
    let changes = diff::diff(old, new)?;
    for change in &changes {
        println!("{change}");
    }
    match diff::overall(&changes) {
        Some(verdict) => println!("overall: {verdict} ({} change(s))", changes.len()),
        None => println!("overall: no change"),
    }
    Ok(ExitCode::SUCCESS)
}
