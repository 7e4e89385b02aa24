//! `cargo codegen drift`: what a vendor page says that `schema/` does not, field by field.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::{Retrieve, Uri};
use serde_json::Value;

use crate::Error;
use crate::model::COMMON_FILE;
use crate::page::{DocType, Page};

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

/// Compares every page (`*.txt`) of `pages_dir` with `schema_dir`, sorted by file name. A page
/// that cannot be read is an error, never an empty report.
pub fn drift_dir(pages_dir: &Path, schema_dir: &Path) -> Result<Vec<Report>, Error> {
    let mut pages: Vec<PathBuf> = fs::read_dir(pages_dir)
        .map_err(|e| Error::io(pages_dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| Error::io(pages_dir, e)))
        .collect::<Result<_, _>>()?;
    pages.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    pages.sort();
    if pages.is_empty() {
        return Err(Error::Page { page: pages_dir.display().to_string(), message: "no `.txt` pages in it".into() });
    }
    pages.iter().map(|path| drift(&Page::read(path)?, schema_dir)).collect()
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

    let validator = jsonschema::options()
        .with_retriever(SchemaDir(schema_dir.to_owned()))
        .build(&schema)
        .map_err(|e| Error::schema(&format!("{}.json", page.command), "", e.to_string()))?;
    let errors: Vec<String> =
        validator.iter_errors(&page.sample).map(|e| format!("at `{}`: {e}", e.instance_path())).collect();
    if !errors.is_empty() {
        findings.push(Finding::SampleInvalid(errors));
    }

    let recorded = schema.pointer("/x-callback/docUpdated").and_then(Value::as_str);
    if let (Some(updated), Some(recorded)) = (&page.updated, recorded)
        && updated.as_str() > recorded
    {
        findings.push(Finding::PageNewer { page: updated.clone(), schema: recorded.to_owned() });
    }
    Ok(report(findings))
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
