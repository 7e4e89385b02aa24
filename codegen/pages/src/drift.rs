//! `cargo codegen drift`: what the vendor's pages say that `schema/` does not — field by field
//! for a callback page, command by command for a command-list page.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri};
use serde_json::Value;

use crate::commands::CommandList;
use crate::page::{DocType, Page};
use crate::shape;
use crate::{COMMON_FILE, Error};

/// One disagreement between a page and its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// `schema/` has no schema for the page's command.
    NoSchema,
    /// The page documents a field the schema lacks.
    MissingFromSchema(String),
    /// The schema has a field the page does not document.
    MissingFromDocs(String),
    /// The page and the schema give a field different types.
    TypeDiffers {
        /// The field.
        field: String,
        /// The page's type.
        docs: DocType,
        /// The schema's type.
        schema: String,
    },
    /// The page's sample does not validate against the schema.
    SampleInvalid(Vec<String>),
    /// The page's sample cannot be read, so only its field table was compared.
    SampleUnreadable(String),
    /// The page was updated after the date the schema records.
    PageNewer {
        /// The page's date.
        page: String,
        /// The schema's `docUpdated`.
        schema: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::NoSchema => write!(f, "no schema in schema/ for this command"),
            Finding::MissingFromSchema(field) => write!(f, "field `{field}` is documented but missing from the schema"),
            Finding::MissingFromDocs(field) => write!(f, "field `{field}` is in the schema but not documented"),
            Finding::TypeDiffers { field, docs, schema } => {
                write!(f, "field `{field}`: the page says {docs}, the schema says {schema}")
            }
            Finding::SampleInvalid(errors) => write!(f, "the page's sample does not validate: {}", errors.join("; ")),
            Finding::SampleUnreadable(problem) => {
                write!(f, "the page's sample cannot be read, so only its field table was compared: {problem}")
            }
            Finding::PageNewer { page, schema } => {
                write!(f, "the page was updated on {page}, after the schema's recorded {schema}")
            }
        }
    }
}

/// The findings for one page.
#[derive(Debug, Clone)]
pub struct Report {
    /// The page's command.
    pub command: String,
    /// Where the page was read from.
    pub page: String,
    /// What disagrees; empty when the schema matches the page.
    pub findings: Vec<Finding>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.findings.is_empty() {
            return write!(f, "{}: no drift ({})", self.command, self.page);
        }
        write!(f, "{}: drift ({})", self.command, self.page)?;
        for finding in &self.findings {
            write!(f, "\n  - {finding}")?;
        }
        Ok(())
    }
}

/// The file extensions read as pages: plain text, Markdown and HTML.
pub const PAGE_EXTENSIONS: &[&str] = &["txt", "md", "markdown", "html", "htm"];

/// A page read from disk: a callback's page or a command list.
#[derive(Debug, Clone)]
pub enum VendorPage {
    /// A page documenting one callback.
    Callback(Box<Page>),
    /// A page listing commands.
    CommandList(CommandList),
}

impl VendorPage {
    /// Reads the page at `path`, in whatever shape: a page with a request-sample heading is a
    /// callback page (and fails if a part is missing); one without that names commands in
    /// tables or lists is a command list; anything else fails as a callback page would.
    pub fn read(path: &Path) -> Result<VendorPage, Error> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let source = path.display().to_string();
        let (shape, document) = shape::read(&text);
        if !Page::has_sample_heading(&document)
            && let Some(list) = CommandList::from_document(&source, &document)
        {
            return Ok(VendorPage::CommandList(list));
        }
        Page::from_document(&source, shape, &document).map(|page| VendorPage::Callback(Box::new(page)))
    }
}

/// What a command-list page names that `schema/` lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListReport {
    /// Where the list was read from.
    pub page: String,
    /// How many commands it names.
    pub listed: usize,
    /// Commands it names that have no schema: drift.
    pub missing: Vec<String>,
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.missing.is_empty() {
            return write!(f, "command list ({}): all {} listed commands have a schema", self.page, self.listed);
        }
        write!(
            f,
            "command list ({}): {} of {} listed commands have no schema",
            self.page,
            self.missing.len(),
            self.listed
        )?;
        for command in &self.missing {
            write!(f, "\n  - `{command}` is listed but has no schema in schema/")?;
        }
        Ok(())
    }
}

/// Everything `drift` found in a directory of pages.
#[derive(Debug, Clone, Default)]
pub struct DirReport {
    /// One report per callback page, sorted by file name.
    pub pages: Vec<Report>,
    /// One report per command-list page, sorted by file name.
    pub lists: Vec<ListReport>,
    /// For information, when there is a command list: schema commands no list names (the
    /// vendor may have dropped them, or lists them on another page).
    pub unlisted: Vec<String>,
}

impl DirReport {
    /// How many pages drifted: callback pages with findings and lists naming a command with no
    /// schema. Unlisted schema commands are information, not drift.
    pub fn drifted(&self) -> usize {
        self.pages.iter().filter(|r| !r.findings.is_empty()).count()
            + self.lists.iter().filter(|l| !l.missing.is_empty()).count()
    }

    /// How many pages were read.
    pub fn total(&self) -> usize {
        self.pages.len() + self.lists.len()
    }
}

impl fmt::Display for DirReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for report in &self.pages {
            writeln!(f, "{report}")?;
        }
        for list in &self.lists {
            writeln!(f, "{list}")?;
        }
        for command in &self.unlisted {
            writeln!(f, "info: `{command}` has a schema but no command list names it")?;
        }
        write!(f, "{} of {} page(s) drifted", self.drifted(), self.total())
    }
}

/// Compares every page of `pages_dir` (see [`PAGE_EXTENSIONS`]) with `schema_dir`, sorted by
/// file name. A page that cannot be read is an error, never an empty report.
pub fn drift_dir(pages_dir: &Path, schema_dir: &Path) -> Result<DirReport, Error> {
    let mut paths: Vec<PathBuf> = fs::read_dir(pages_dir)
        .map_err(|e| Error::io(pages_dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| Error::io(pages_dir, e)))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| PAGE_EXTENSIONS.contains(&e)));
    paths.sort();
    if paths.is_empty() {
        return Err(Error::page(
            &pages_dir.display().to_string(),
            "no pages in it (`.txt`, `.md`, `.markdown`, `.html`, `.htm`)",
        ));
    }
    let mut report = DirReport::default();
    let mut listed = std::collections::BTreeSet::new();
    let known = schema_commands(schema_dir)?;
    for path in &paths {
        match VendorPage::read(path)? {
            VendorPage::Callback(page) => report.pages.push(drift(&page, schema_dir)?),
            VendorPage::CommandList(list) => {
                let missing = list.commands.iter().filter(|c| !known.contains(*c)).cloned().collect();
                report.lists.push(ListReport { page: list.source.clone(), listed: list.commands.len(), missing });
                listed.extend(list.commands);
            }
        }
    }
    if !report.lists.is_empty() {
        report.unlisted = known.into_iter().filter(|c| !listed.contains(c)).collect();
    }
    Ok(report)
}

/// The commands `schema_dir` has a schema for: its `*.json` files but `common.json`.
pub fn schema_commands(schema_dir: &Path) -> Result<std::collections::BTreeSet<String>, Error> {
    let mut commands = std::collections::BTreeSet::new();
    for entry in fs::read_dir(schema_dir).map_err(|e| Error::io(schema_dir, e))? {
        let path = entry.map_err(|e| Error::io(schema_dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(command) = name.strip_suffix(".json").filter(|_| name != COMMON_FILE && path.is_file()) {
            commands.insert(command.to_owned());
        }
    }
    Ok(commands)
}

/// Compares one page with its schema in `schema_dir`.
pub fn drift(page: &Page, schema_dir: &Path) -> Result<Report, Error> {
    let report = |findings| Report { command: page.command.clone(), page: page.source.clone(), findings };
    let path = schema_dir.join(format!("{}.json", page.command));
    if !path.exists() {
        return Ok(report(vec![Finding::NoSchema]));
    }
    let schema = read_json(&path)?;
    let common = read_json(&schema_dir.join(COMMON_FILE))?;
    let empty = serde_json::Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);

    let mut findings = Vec::new();
    let documented = page.wire_fields();
    for field in &documented {
        if !properties.contains_key(field) {
            findings.push(Finding::MissingFromSchema(field.clone()));
        }
    }
    for field in properties.keys() {
        if !documented.contains(field) {
            findings.push(Finding::MissingFromDocs(field.clone()));
        }
    }
    for (field, property) in properties {
        let docs = page.documented_type(field).or_else(|| page.sample.get(field).and_then(DocType::of));
        let schema_type = json_type(property, &schema, &common);
        if let (Some(docs), Some(schema_type)) = (docs, schema_type)
            && docs.json_type() != schema_type
        {
            findings.push(Finding::TypeDiffers { field: field.clone(), docs, schema: schema_type.to_owned() });
        }
    }

    for field in page.fields.iter().filter(|f| f.is_nested()) {
        let path = field.path();
        match resolve(&schema, &common, &path) {
            None => findings.push(Finding::MissingFromSchema(field.name.clone())),
            Some((property, file)) => {
                if let Some(schema_type) = json_type(property, file, &common)
                    && field.ty.json_type() != schema_type
                {
                    let schema = schema_type.to_owned();
                    findings.push(Finding::TypeDiffers { field: field.name.clone(), docs: field.ty, schema });
                }
            }
        }
    }

    let validator = jsonschema::options()
        .with_retriever(SchemaDir(schema_dir.to_owned()))
        .build(&schema)
        .map_err(|e| Error::Schema { file: format!("{}.json", page.command), message: e.to_string() })?;
    if let Some(problem) = &page.sample_problem {
        findings.push(Finding::SampleUnreadable(problem.clone()));
    } else {
        let errors: Vec<String> =
            validator.iter_errors(&page.sample).map(|e| format!("at `{}`: {e}", e.instance_path())).collect();
        if !errors.is_empty() {
            findings.push(Finding::SampleInvalid(errors));
        }
    }

    let recorded = schema.pointer("/x-callback/docUpdated").and_then(Value::as_str);
    if let (Some(updated), Some(recorded)) = (&page.updated, recorded)
        && updated.as_str() > recorded
    {
        findings.push(Finding::PageNewer { page: updated.clone(), schema: recorded.to_owned() });
    }
    Ok(report(findings))
}

/// The property at a nested `path` of a schema, with the file it sits in, through `$ref`s and
/// array `items`; `None` where the schema has no such field.
fn resolve<'a>(schema: &'a Value, common: &'a Value, path: &[&str]) -> Option<(&'a Value, &'a Value)> {
    let mut file = schema;
    let mut node = schema;
    for key in path {
        // Into the object's definition and, for an array, into its items.
        loop {
            if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
                let (root, pointer) = match reference.split_once('#')? {
                    ("", pointer) => (file, pointer),
                    (COMMON_FILE, pointer) => (common, pointer),
                    _ => return None,
                };
                file = root;
                node = root.pointer(pointer)?;
            } else if let Some(items) = node.get("items") {
                node = items;
            } else {
                break;
            }
        }
        let properties = node.get("properties")?.as_object()?;
        node = properties.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)?;
    }
    Some((node, file))
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Page { page: path.display().to_string(), message: e.to_string() })
}

/// The JSON type of a property of the schema `file`, through `$ref`s (to the same file or to
/// `common.json`); an integer-or-digit-string counts as an integer and a `const` as a string.
pub fn json_type<'a>(property: &'a Value, file: &'a Value, common: &'a Value) -> Option<&'a str> {
    if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
        let (root, pointer) = match reference.split_once('#') {
            Some(("", pointer)) => (file, pointer),
            Some((COMMON_FILE, pointer)) => (common, pointer),
            _ => return None,
        };
        // A `#/…` reference inside the target resolves within the target's own file.
        return json_type(root.pointer(pointer)?, root, common);
    }
    if property.get("const").is_some_and(Value::is_string) {
        return Some("string");
    }
    if let Some(ty) = property.get("type").and_then(Value::as_str) {
        return Some(ty);
    }
    let members = property.get("anyOf").and_then(Value::as_array)?;
    members.iter().any(|m| m.get("type").and_then(Value::as_str) == Some("integer")).then_some("integer")
}

/// Serves `$ref`s to other schema files from the schema directory, by file name.
struct SchemaDir(PathBuf);

impl Retrieve for SchemaDir {
    fn retrieve(&self, uri: &Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = uri.as_str().rsplit('/').next().unwrap_or_default();
        Ok(serde_json::from_str(&fs::read_to_string(self.0.join(file))?)?)
    }
}
