//! Tooling for the vendor's documentation pages, used by `cargo codegen import`, `drift` and
//! `fetch`.
//!
//! A page arrives in one of three shapes — plain text copied from a browser, Markdown (the shape
//! of the vendor's documentation sources and their mirrors) or the HTML the vendor's site serves —
//! and [`shape`] recognises which from the content and reads it into one intermediate
//! [`Document`](document::Document) of headings, paragraphs, tables and code blocks. Everything
//! after that works on the document alone:
//!
//! - [`page`] finds a callback page's parts (title, date, command, field tables, the sample,
//!   repaired into JSON, each change reported as a [`Repair`]);
//! - [`import`] drafts a schema from a page, nested fields as nested objects;
//! - [`commands`] reads a command-list page (a table or list of `Namespace.Command` names);
//! - [`drift`] compares pages and command lists with `schema/`;
//! - [`fetch`] downloads pages politely (timeout, retries with back-off, conditional requests).
//!
//! This crate depends on nothing else in the workspace.

pub mod commands;
pub mod document;
pub mod drift;
pub mod fetch;
mod headings;
pub mod import;
pub mod page;
mod repair;
pub mod shape;

pub use repair::Repair;

use std::io;
use std::path::{Path, PathBuf};

/// The name of the shared definitions file in a schema directory.
pub(crate) const COMMON_FILE: &str = "common.json";

/// What can go wrong while reading, comparing or fetching pages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A vendor documentation page cannot be read.
    #[error("{page}: {message}")]
    Page {
        /// The page's path.
        page: String,
        /// Why it cannot be read.
        message: String,
    },
    /// A schema in the schema directory cannot be used.
    #[error("schema/{file}: {message}")]
    Schema {
        /// The schema file's name.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// A page could not be downloaded, after every retry.
    #[error("{url}: {message}")]
    Fetch {
        /// The page's address.
        url: String,
        /// Why the last attempt failed.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(path: &Path, source: io::Error) -> Error {
        Error::Io { path: path.to_owned(), source }
    }

    pub(crate) fn page(page: &str, message: impl Into<String>) -> Error {
        Error::Page { page: page.to_owned(), message: message.into() }
    }
}
