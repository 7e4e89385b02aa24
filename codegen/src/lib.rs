//! The code generator of `tencent-chat-callbacks`.
//!
//! It reads the JSON Schemas in `schema/` (the source of truth) and writes:
//!
//! - `callbacks/src/generated/`: one module per namespace, `common.rs` and `mod.rs`;
//! - `callbacks/macros/src/generated/commands.rs`: the command table the proc-macro checks
//!   handler registrations against.
//!
//! Output is deterministic and formatted with `prettyplease`, so [`check`] can compare it byte
//! for byte with what is checked in. The library depends on nothing else in the workspace; the
//! `codegen` binary also runs the vendor-page tooling of `tencent-chat-callbacks-vendor`
//! (`import`, `drift`, `fetch`).

mod catalogue;
pub mod diff;
mod emit;
mod model;
mod naming;
mod publish;
mod published;
mod python;
mod typescript;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where the generator reads and writes, relative to a root directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The directory of schemas.
    pub schema_dir: PathBuf,
    /// The directory of generated Rust modules; it holds nothing but generated files.
    pub rust_dir: PathBuf,
    /// The macro crate's generated command table.
    pub macro_table: PathBuf,
    /// A Markdown file whose coverage table, between `<!-- coverage:start… -->` and
    /// `<!-- coverage:end -->`, is generated; `None` for none.
    pub readme: Option<PathBuf>,
    /// The directory of published schemas and packages for other languages; `None` for none.
    pub dist_dir: Option<PathBuf>,
}

impl Layout {
    /// The layout of this workspace, rooted at `root`.
    pub fn workspace(root: &Path) -> Layout {
        Layout {
            schema_dir: root.join("schema"),
            rust_dir: root.join("callbacks/src/generated"),
            macro_table: root.join("callbacks/macros/src/generated/commands.rs"),
            readme: Some(root.join("docs/coverage.md")),
            dist_dir: Some(root.join("schema/dist")),
        }
    }
}

/// One generated file, with its full contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Where the file goes.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
}

/// What can go wrong while generating.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A schema is invalid or uses a form the generator does not support.
    #[error("schema/{file}{}: {message}", if pointer.is_empty() { String::new() } else { format!(" at {pointer}") })]
    Schema {
        /// The schema file's name.
        file: String,
        /// The JSON pointer of the offending part, empty for the whole file.
        pointer: String,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Generated files differ from what the schemas produce.
    #[error("generated code is stale; run `cargo codegen` to update:\n{}", list(stale))]
    Stale {
        /// Files that differ, are missing, or should no longer exist.
        stale: Vec<PathBuf>,
    },
    /// A vendor documentation page cannot be read.
    #[error("{page}: {message}")]
    Page {
        /// The page's path.
        page: String,
        /// Why it cannot be read.
        message: String,
    },
    /// The generator produced invalid Rust: a bug in the generator.
    #[error("internal error: generated invalid Rust in {0}")]
    Internal(String),
}

fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| format!("  {}", p.display())).collect::<Vec<_>>().join("\n")
}

impl Error {
    pub(crate) fn schema(file: &str, pointer: &str, message: impl Into<String>) -> Error {
        Error::Schema { file: file.to_owned(), pointer: pointer.to_owned(), message: message.into() }
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }
}

/// Generates every output file from the schemas, without touching the disk beyond reading them.
pub fn generate(layout: &Layout) -> Result<Vec<GeneratedFile>, Error> {
    let catalog = model::Catalog::load(&layout.schema_dir)?;
    let mut files: Vec<GeneratedFile> = emit::rust_modules(&catalog)?
        .into_iter()
        .map(|e| GeneratedFile { path: layout.rust_dir.join(e.relative_path), contents: e.contents })
        .collect();
    let table = emit::macro_table(&catalog)?;
    files.push(GeneratedFile { path: layout.macro_table.clone(), contents: table.contents });
    if let Some(readme) = &layout.readme {
        let text = fs::read_to_string(readme).map_err(|e| Error::io(readme, e))?;
        let contents = emit::coverage_table(&catalog, &text)
            .ok_or_else(|| Error::Internal(format!("{} has no coverage markers", readme.display())))?;
        files.push(GeneratedFile { path: readme.clone(), contents });
    }
    if let Some(dist) = &layout.dist_dir {
        let version = env!("CARGO_PKG_VERSION");
        let published = publish::publish(&catalog, version)?;
        // The first-party packages carry the bundle as published.
        let bundle = published.iter().find(|f| f.relative_path == published::BUNDLE).map(|f| f.contents.clone());
        let bundle = bundle.ok_or_else(|| Error::Internal(format!("no {}", published::BUNDLE)))?;
        let mut packages = python::package(&catalog, version, &bundle);
        packages.extend(typescript::package(&catalog, version, &bundle));
        // The per-command schemas too, which the envelope schema refers to: it resolves offline.
        for file in published.iter().filter(|f| f.relative_path.starts_with("commands/")) {
            for package in [python::PACKAGE_DIR, typescript::DIR] {
                let relative_path = format!("{package}/{}", file.relative_path);
                packages.push(publish::Published { relative_path, contents: file.contents.clone() });
            }
        }
        for file in published.into_iter().chain(packages).chain(envelope_schema(&layout.schema_dir)?) {
            files.push(GeneratedFile { path: dist.join(file.relative_path), contents: file.contents });
        }
    }
    Ok(files)
}

/// The relay's envelope schema (hand-written in `schema/envelope/`, referring to the per-command
/// schemas by `$id`), published next to them and in both packages.
fn envelope_schema(schema_dir: &Path) -> Result<Vec<publish::Published>, Error> {
    let source = schema_dir.join("envelope/envelope.schema.json");
    if !source.exists() {
        return Ok(Vec::new());
    }
    let contents = fs::read_to_string(&source).map_err(|e| Error::io(&source, e))?;
    let places = ["envelope.schema.json", "packages/npm/envelope.schema.json"];
    let python = "packages/python/src/tencent_chat_callbacks/envelope.schema.json";
    Ok(places
        .into_iter()
        .chain([python])
        .map(|relative_path| publish::Published { relative_path: relative_path.into(), contents: contents.clone() })
        .collect())
}

/// Regenerates and writes every file, removing the generated files the schemas no longer produce
/// (and the directories of published files that leaves empty). Returns the files whose contents
/// changed or that were removed.
pub fn write(layout: &Layout) -> Result<Vec<PathBuf>, Error> {
    let files = generate(layout)?;
    let mut changed = Vec::new();
    for file in &files {
        if fs::read_to_string(&file.path).ok().as_deref() != Some(file.contents.as_str()) {
            if let Some(parent) = file.path.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fs::write(&file.path, &file.contents).map_err(|e| Error::io(&file.path, e))?;
            changed.push(file.path.clone());
        }
    }
    for leftover in leftovers(layout, &files)? {
        fs::remove_file(&leftover).map_err(|e| Error::io(&leftover, e))?;
        if let Some(dist) = &layout.dist_dir {
            // `remove_dir` fails on a directory that still holds something, which ends the climb.
            let mut dir = leftover.parent();
            while let Some(empty) = dir.filter(|d| d.starts_with(dist) && d != dist) {
                if fs::remove_dir(empty).is_err() {
                    break;
                }
                dir = empty.parent();
            }
        }
        changed.push(leftover);
    }
    Ok(changed)
}

/// Fails with [`Error::Stale`] naming every file that [`write`] would change. Writes nothing.
pub fn check(layout: &Layout) -> Result<(), Error> {
    let files = generate(layout)?;
    let mut stale: Vec<PathBuf> = files
        .iter()
        .filter(|f| fs::read_to_string(&f.path).ok().as_deref() != Some(f.contents.as_str()))
        .map(|f| f.path.clone())
        .collect();
    stale.extend(leftovers(layout, &files)?);
    if stale.is_empty() { Ok(()) } else { Err(Error::Stale { stale }) }
}

/// Directories that tools run inside a generated package leave behind; never looked into.
const TOOL_DIRS: &[&str] = &["node_modules", "__pycache__"];

/// Files that the schemas no longer produce, in the directories that hold nothing but generated
/// files: the Rust modules, and the whole published directory with its subdirectories (the
/// per-command schemas, the packages), so a file or package the generator stopped writing is
/// stale too.
fn leftovers(layout: &Layout, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut pending = vec![layout.rust_dir.clone()];
    pending.extend(layout.dist_dir.clone());
    while let Some(dir) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            let in_dist = layout.dist_dir.as_ref().is_some_and(|dist| path.starts_with(dist));
            let is_dir = entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir();
            if is_dir && in_dist {
                if !TOOL_DIRS.iter().any(|name| entry.file_name() == *name) {
                    pending.push(path);
                }
            } else if !files.iter().any(|f| f.path == path) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
