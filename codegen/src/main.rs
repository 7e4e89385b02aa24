//! `cargo codegen`: regenerates the Rust code derived from `schema/`, or with `--check` verifies
//! that the checked-in code is fresh. `import`, `drift` and `fetch` work on the vendor's
//! documentation pages through `tencent-chat-callbacks-pages`; `diff` compares schema versions.

use std::error::Error as StdError;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tencent_chat_callbacks_codegen::{Layout, check, diff, write};
use tencent_chat_callbacks_pages::fetch::{self, Fetcher, Outcome};
use tencent_chat_callbacks_pages::page::Page;
use tencent_chat_callbacks_pages::{drift, import};

/// Generates the typed callbacks and the macro's command table from the JSON Schemas in `schema/`.
#[derive(Parser)]
#[command(name = "cargo codegen")]
struct Args {
    /// Write nothing; fail, naming each stale file, if the generated code is not up to date.
    #[arg(long)]
    check: bool,
    /// The workspace root [default: the workspace the command is run in].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Drafts a schema from each vendor documentation page (plain text, Markdown or HTML,
    /// recognised from the content), reporting every repair made to its sample.
    Import {
        /// The pages.
        #[arg(required = true)]
        pages: Vec<PathBuf>,
        /// Where the drafts are written, as `<CallbackCommand>.json` [default: target/schema-drafts
        /// in the workspace the command is run in].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compares every page of a directory (`.txt`, `.md`, `.html`) with `schema/`: callback pages
    /// field by field, command-list pages command by command. Exits 1 on drift, 2 when a page
    /// cannot be read.
    Drift {
        /// The directory of pages.
        pages_dir: PathBuf,
    },
    /// Downloads vendor pages into a directory, with a sidecar per page recording its date and
    /// validators; an unchanged page (304) is not rewritten. Exits 2 when a page cannot be had.
    Fetch {
        /// The pages' addresses.
        #[arg(required = true)]
        urls: Vec<String>,
        /// Where the pages go [default: target/vendor-pages in the workspace the command is run in].
        #[arg(long)]
        out: Option<PathBuf>,
        /// The limit on one attempt, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
        /// How many times a failed attempt is retried.
        #[arg(long, default_value_t = 3)]
        retries: u32,
        /// The wait before the first retry, in milliseconds; it doubles for each further one.
        #[arg(long, default_value_t = 2000)]
        backoff_ms: u64,
        /// The pause between two pages, in milliseconds, to spare the vendor's site.
        #[arg(long, default_value_t = 1000)]
        pause_ms: u64,
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

type Result<T> = std::result::Result<T, Box<dyn StdError>>;

fn main() -> ExitCode {
    let args = Args::parse();
    let layout = Layout::workspace(&args.root.clone().unwrap_or_else(current_workspace));
    let result: Result<ExitCode> = match args.command {
        None if args.check => check(&layout).map(|()| report("generated code is up to date")).map_err(Into::into),
        None => write(&layout)
            .map(|changed| match changed.len() {
                0 => report("generated code is up to date"),
                n => report(&format!("updated {n} file(s)")),
            })
            .map_err(Into::into),
        Some(Command::Import { pages, out }) => {
            run_import(&pages, &out.unwrap_or_else(|| current_workspace().join("target/schema-drafts")))
        }
        Some(Command::Drift { pages_dir }) => run_drift(&pages_dir, &layout.schema_dir),
        Some(Command::Fetch { urls, out, timeout, retries, backoff_ms, pause_ms }) => {
            let options = fetch::Options {
                timeout: Duration::from_secs(timeout),
                retries,
                backoff: Duration::from_millis(backoff_ms),
                ..fetch::Options::default()
            };
            let out = out.unwrap_or_else(|| current_workspace().join("target/vendor-pages"));
            Ok(run_fetch(&urls, &out, options, Duration::from_millis(pause_ms)))
        }
        Some(Command::Diff { old, new }) => run_diff(&old, &new),
    };
    result.unwrap_or_else(|error| {
        eprintln!("error: {error}");
        ExitCode::from(2)
    })
}

/// The workspace the command is run in: the nearest directory, from the current one up, whose
/// `Cargo.toml` has a `[workspace]` table, else the current directory. Never where this binary
/// was built: a binary built in one checkout and run in another reads and writes where it is run.
fn current_workspace() -> PathBuf {
    let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    here.ancestors()
        .find(|dir| {
            fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|line| line.trim() == "[workspace]"))
        })
        .unwrap_or(&here)
        .to_owned()
}

fn report(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::SUCCESS
}

fn run_import(pages: &[PathBuf], out: &Path) -> Result<ExitCode> {
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for path in pages {
        let page = Page::read(path)?;
        let target = out.join(format!("{}.json", page.command));
        let json = serde_json::to_string_pretty(&import::draft(&page)).expect("a JSON value encodes") + "\n";
        fs::write(&target, json).map_err(|e| format!("{}: {e}", target.display()))?;
        println!("{} ({}) -> {}", path.display(), page.shape, target.display());
        if let Some(problem) = &page.sample_problem {
            println!("  warning: drafted from the field table only, the sample cannot be read: {problem}");
        }
        let counted = if page.sample_line.is_none() { " (counted from the sample's first line)" } else { "" };
        for repair in &page.repairs {
            println!("  repaired {repair}{counted}");
        }
        for field in page.numbers_sent_as_strings() {
            println!("  note: `{field}` is an integer in the field table but a string of digits in the sample");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_drift(pages_dir: &Path, schema_dir: &Path) -> Result<ExitCode> {
    let report = drift::drift_dir(pages_dir, schema_dir)?;
    println!("{report}");
    Ok(if report.drifted() == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run_fetch(urls: &[String], out: &Path, options: fetch::Options, pause: Duration) -> ExitCode {
    let fetcher = Fetcher::new(options);
    let mut failed = 0;
    for (n, url) in urls.iter().enumerate() {
        if n > 0 {
            std::thread::sleep(pause);
        }
        match fetcher.fetch(url, out) {
            Ok(page) => {
                let outcome = match page.outcome {
                    Outcome::Downloaded => "downloaded",
                    Outcome::Unchanged => "unchanged",
                };
                let modified = page.sidecar.last_modified.as_deref().unwrap_or("not stated");
                println!(
                    "{url} -> {} ({outcome}, {} attempt(s); fetched {}, page last modified {modified})",
                    page.path.display(),
                    page.attempts,
                    page.sidecar.fetched,
                );
            }
            Err(error) => {
                eprintln!("error: {error}");
                failed += 1;
            }
        }
    }
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(2) }
}

fn run_diff(old: &Path, new: &Path) -> Result<ExitCode> {
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
