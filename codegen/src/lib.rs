//! The code generator of `tencent-chat-callbacks`.
//!
//! It reads the JSON Schemas in `schema/` (the source of truth) and writes:
//!
//! - `callbacks/src/generated/`: one module per namespace, `common.rs` and `mod.rs` (`rust`);
//! - `callbacks/macros/src/generated/commands.rs`: the command table the proc-macro checks
//!   handler registrations against;
//! - `schema/dist/`: the published schemas (`schemas`);
//! - the generated modules of the Python and npm packages in `packages/` (`python`,
//!   `typescript`), beside their hand-written runtimes;
//! - the coverage table of `docs/coverage.md` (`coverage`).
//!
//! Every output is written from one typed model of the schemas (`model`).
//!
//! Output is deterministic and formatted with `prettyplease`, so [`check`] can compare it byte
//! for byte with what is checked in. The library depends on nothing else in the workspace; the
//! `codegen` binary also runs the vendor-page tooling of `tencent-chat-callbacks-pages`
//! (`import`, `drift`, `fetch`).

mod coverage;
pub mod diff;
mod model;
mod naming;
mod python;
mod rust;
mod schemas;
mod typescript;

use std::collections::BTreeSet;
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
    /// The directory of published schemas; it holds nothing but generated files. `None` for none.
    pub dist_dir: Option<PathBuf>,
    /// The Python package, whose generated modules sit beside its hand-written runtime; `None`
    /// for none.
    pub python_package: Option<PathBuf>,
    /// The npm package, likewise.
    pub npm_package: Option<PathBuf>,
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
            python_package: Some(root.join("packages/python")),
            npm_package: Some(root.join("packages/npm")),
        }
    }
}

/// One generated file, with its full contents. Each output writes its files relative to its own
/// directory; [`generate`] places them under the [`Layout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Where the file goes.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
}

impl GeneratedFile {
    pub(crate) fn new(path: impl Into<PathBuf>, contents: impl Into<String>) -> GeneratedFile {
        GeneratedFile { path: path.into(), contents: contents.into() }
    }

    /// The same file, under `dir`.
    fn under(self, dir: &Path) -> GeneratedFile {
        GeneratedFile { path: dir.join(self.path), contents: self.contents }
    }
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
    /// A file given to `cargo codegen diff` is not a bundle of schemas.
    #[error("{}: {message}", path.display())]
    NotABundle {
        /// The file or directory.
        path: PathBuf,
        /// Why it is not one.
        message: String,
    },
    /// The Markdown file of the coverage table has no `<!-- coverage:start… -->` and
    /// `<!-- coverage:end -->` markers to write it between.
    #[error("{}: no coverage markers (`<!-- coverage:start -->` … `<!-- coverage:end -->`)", .0.display())]
    NoCoverageMarkers(PathBuf),
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
    let catalog = model::Catalog::load(&layout.schema_dir, &hand_written_modules(&layout.rust_dir)?)?;
    let mut files: Vec<GeneratedFile> =
        rust::rust_modules(&catalog)?.into_iter().map(|f| f.under(&layout.rust_dir)).collect();
    files.push(GeneratedFile::new(&layout.macro_table, rust::macro_table(&catalog)?.contents));
    if let Some(readme) = &layout.readme {
        let text = fs::read_to_string(readme).map_err(|e| Error::io(readme, e))?;
        let contents =
            coverage::coverage_table(&catalog, &text).ok_or_else(|| Error::NoCoverageMarkers(readme.clone()))?;
        files.push(GeneratedFile::new(readme, contents));
    }
    let version = env!("CARGO_PKG_VERSION");
    let published = schemas::publish(&catalog, version)?;
    let envelope = envelope_schema(&layout.schema_dir)?;
    // The packages carry the bundle, the per-command schemas and the envelope schema, which
    // refers to them: all of it resolves offline.
    let carried: Vec<&GeneratedFile> = published
        .iter()
        .filter(|f| f.path == Path::new(schemas::BUNDLE) || f.path.starts_with("commands"))
        .chain(&envelope)
        .collect();
    if let Some(package) = &layout.python_package {
        let schemas_dir = package.join(python::PACKAGE_DIR);
        files.extend(python::package(&catalog).into_iter().map(|f| f.under(package)));
        files.extend(carried.iter().map(|f| (*f).clone().under(&schemas_dir)));
    }
    if let Some(package) = &layout.npm_package {
        files.extend(typescript::package(&catalog).into_iter().map(|f| f.under(package)));
        files.extend(carried.iter().map(|f| (*f).clone().under(package)));
    }
    if let Some(dist) = &layout.dist_dir {
        files.extend(published.into_iter().chain(envelope).map(|f| f.under(dist)));
    }
    Ok(files)
}

/// The modules written by hand beside the generated ones (the other files and directories of the
/// runtime crate's `src/`), whose names no namespace module may take.
fn hand_written_modules(rust_dir: &Path) -> Result<BTreeSet<String>, Error> {
    let Some(src) = rust_dir.parent() else { return Ok(BTreeSet::new()) };
    let generated = rust_dir.file_name();
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let path = entry.map_err(|e| Error::io(src, e))?.path();
        if path.file_name() == generated {
            continue;
        }
        if path.is_dir() || path.extension().is_some_and(|e| e == "rs") {
            names.extend(path.file_stem().map(|s| s.to_string_lossy().into_owned()));
        }
    }
    Ok(names)
}

/// The relay's envelope schema (hand-written in `schema/envelope/`, referring to the per-command
/// schemas by `$id`), published next to them and in both packages.
fn envelope_schema(schema_dir: &Path) -> Result<Vec<GeneratedFile>, Error> {
    let source = schema_dir.join("envelope/envelope.schema.json");
    if !source.exists() {
        return Ok(Vec::new());
    }
    let contents = fs::read_to_string(&source).map_err(|e| Error::io(&source, e))?;
    Ok(vec![GeneratedFile::new("envelope.schema.json", contents)])
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
        // `remove_dir` fails on a directory that still holds something, which ends the climb.
        let roots: Vec<&PathBuf> =
            layout.dist_dir.iter().chain(&layout.python_package).chain(&layout.npm_package).collect();
        let mut dir = leftover.parent();
        while let Some(empty) = dir.filter(|d| roots.iter().any(|root| d.starts_with(root) && d != root)) {
            if fs::remove_dir(empty).is_err() {
                break;
            }
            dir = empty.parent();
        }
        changed.push(leftover);
    }
    Ok(changed)
}

/// Fails with [`Error::Stale`] naming every file that [`write()`] would change. Writes nothing.
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

/// Directories that tools run inside a package leave behind; never looked into.
const TOOL_DIRS: &[&str] = &["node_modules", "__pycache__", "dist", "build"];

/// What a generated module of a package says in its first lines; such a file that the schemas no
/// longer produce is stale.
const GENERATED_MARKER: &str = "@generated by `cargo codegen`";

/// Files that the schemas no longer produce: in the directories that hold nothing but generated
/// files (the Rust modules, the published schemas with their subdirectories), any file; in the
/// packages, which also hold hand-written files, a file that says it is generated, and any file
/// of their `commands/` directories of schemas.
fn leftovers(layout: &Layout, files: &[GeneratedFile]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut pending: Vec<(PathBuf, bool)> = vec![(layout.rust_dir.clone(), true)];
    pending.extend(layout.dist_dir.iter().map(|d| (d.clone(), true)));
    pending.extend(layout.python_package.iter().chain(&layout.npm_package).map(|d| (d.clone(), false)));
    while let Some((dir, only_generated)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let path = entry.path();
            if entry.file_type().map_err(|e| Error::io(&path, e))?.is_dir() {
                if path != layout.rust_dir && !TOOL_DIRS.iter().any(|name| entry.file_name() == *name) {
                    pending.push((path, only_generated || entry.file_name() == "commands"));
                }
            } else if !files.iter().any(|f| f.path == path) && (only_generated || says_generated(&path)) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether the file says, in its first lines, that it is generated.
fn says_generated(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|text| text.lines().take(5).any(|line| line.contains(GENERATED_MARKER)))
}
