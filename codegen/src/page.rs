//! Reads a vendor documentation page, saved as plain text, into its parts.
//!
//! The pages (see the seeds) carry navigation in several languages, a title, a last-updated date,
//! a request sample with `//` comments, and field tables written one cell per line. Everything is
//! found by shape, and a page that lacks a part this reader needs fails with the reason, never
//! with an empty result.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::repair::{Repair, repair};

/// A field type as the vendor's tables write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    /// `String`.
    String,
    /// `Integer` (and its spellings such as `Int`, `Uint64`).
    Integer,
    /// `Number`.
    Number,
    /// `Boolean`.
    Boolean,
    /// `Array`.
    Array,
    /// `Object`.
    Object,
}

impl DocType {
    fn parse(cell: &str) -> Option<DocType> {
        Some(match cell.trim().to_ascii_lowercase().as_str() {
            "string" => DocType::String,
            "integer" | "int" | "uint32" | "uint64" | "int32" | "int64" => DocType::Integer,
            "number" | "double" | "float" => DocType::Number,
            "boolean" | "bool" => DocType::Boolean,
            "array" => DocType::Array,
            "object" => DocType::Object,
            _ => return None,
        })
    }

    /// The JSON Schema `type` this stands for.
    pub fn json_type(self) -> &'static str {
        match self {
            DocType::String => "string",
            DocType::Integer => "integer",
            DocType::Number => "number",
            DocType::Boolean => "boolean",
            DocType::Array => "array",
            DocType::Object => "object",
        }
    }

    /// The type of a sample value.
    pub fn of(value: &Value) -> Option<DocType> {
        Some(match value {
            Value::String(_) => DocType::String,
            Value::Number(n) if n.is_i64() || n.is_u64() => DocType::Integer,
            Value::Number(_) => DocType::Number,
            Value::Bool(_) => DocType::Boolean,
            Value::Array(_) => DocType::Array,
            Value::Object(_) => DocType::Object,
            Value::Null => return None,
        })
    }
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_type())
    }
}

/// One row of a field table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocField {
    /// The field name as the table spells it.
    pub name: String,
    /// Its type.
    pub ty: DocType,
    /// Whether the table marks it required; `None` when the table has no such column.
    pub required: Option<bool>,
    /// The description, joined into one line.
    pub description: String,
}

/// What a page says about one callback.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the page was read from.
    pub source: String,
    /// The page title.
    pub title: String,
    /// The `CallbackCommand` the page documents.
    pub command: String,
    /// The page's own URL, when the text contains one.
    pub doc_url: Option<String>,
    /// The last-updated date, `YYYY-MM-DD`.
    pub updated: Option<String>,
    /// The request field table.
    pub fields: Vec<DocField>,
    /// The response field table.
    pub response_fields: Vec<DocField>,
    /// The request sample, repaired into valid JSON.
    pub sample: Value,
    /// The repairs the sample needed.
    pub repairs: Vec<Repair>,
}

/// Headings, compared in lowercase after trimming.
const SAMPLE_HEADINGS: &[&str] = &["sample request", "sample request packet", "sample request packets"];
const FIELD_HEADINGS: &[&str] = &["request fields", "request packet fields", "request field description"];
const RESPONSE_SAMPLE_HEADINGS: &[&str] = &["sample response", "response packet example", "sample response packet"];
const RESPONSE_FIELD_HEADINGS: &[&str] =
    &["response fields", "response packet fields", "response packet field description", "response field description"];
const END_HEADINGS: &[&str] = &["reference", "references"];

impl Page {
    /// Reads the page at `path`.
    pub fn read(path: &Path) -> Result<Page, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        Page::parse(&path.display().to_string(), &text)
    }

    /// Reads a page's text; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Page, crate::Error> {
        let err = |message: String| crate::Error::Page { page: source.to_owned(), message };
        let lines: Vec<&str> = text.lines().map(str::trim).collect();

        let sample_at = find_heading(&lines, 0, SAMPLE_HEADINGS)
            .ok_or_else(|| err("no request sample: expected a heading such as `Sample request`".into()))?;
        let (sample_text, first_line) = json_block(&lines, sample_at).map_err(err)?;
        let (sample, repairs) = repair(&sample_text, first_line).map_err(|e| err(format!("request sample: {e}")))?;
        if !sample.is_object() {
            return Err(err("the request sample is not a JSON object".into()));
        }

        let fields_at = find_heading(&lines, sample_at, FIELD_HEADINGS)
            .ok_or_else(|| err("no request field table: expected a heading such as `Request fields`".into()))?;
        let fields_end = find_heading(&lines, fields_at, RESPONSE_SAMPLE_HEADINGS)
            .or_else(|| find_heading(&lines, fields_at, RESPONSE_FIELD_HEADINGS))
            .unwrap_or(lines.len());
        let fields = table(&lines[fields_at + 1..fields_end]);
        if fields.is_empty() {
            return Err(err(format!(
                "line {}: the request field table has no rows of name, type, description",
                fields_at + 1
            )));
        }

        let response_fields = match find_heading(&lines, fields_end, RESPONSE_FIELD_HEADINGS) {
            Some(at) => {
                let end = find_heading(&lines, at, END_HEADINGS).unwrap_or(lines.len());
                table(&lines[at + 1..end])
            }
            None => Vec::new(),
        };

        let command = match sample.get("CallbackCommand").and_then(Value::as_str) {
            Some(command) => command.to_owned(),
            None => command_from_text(&lines)
                .ok_or_else(|| err("no CallbackCommand: neither the sample nor the text names one".into()))?,
        };
        let updated_at = lines.iter().position(|l| date_in(l).is_some() && !l.starts_with('"'));
        let updated = updated_at.and_then(|i| date_in(lines[i]));
        let title = updated_at.and_then(|i| title_before(&lines[..i])).unwrap_or_else(|| command.clone());
        let doc_url = lines.iter().find_map(|l| doc_url_in(l));

        Ok(Page {
            source: source.to_owned(),
            title,
            command,
            doc_url,
            updated,
            fields,
            response_fields,
            sample,
            repairs,
        })
    }

    /// The type the table gives `name` (matched without regard to case).
    pub fn documented_type(&self, name: &str) -> Option<DocType> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name)).map(|f| f.ty)
    }

    /// Every documented request field with the spelling used on the wire: the sample's spelling
    /// when the table spells a field differently (`groupID` in a table, `GroupId` in the sample),
    /// then fields only in the sample, in sample order.
    pub fn wire_fields(&self) -> Vec<String> {
        let sample = self.sample.as_object().expect("checked in parse");
        let mut names: Vec<String> = self
            .fields
            .iter()
            .map(|f| sample.keys().find(|k| k.eq_ignore_ascii_case(&f.name)).cloned().unwrap_or_else(|| f.name.clone()))
            .collect();
        for key in sample.keys() {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(key)) {
                names.push(key.clone());
            }
        }
        names
    }

    /// Fields whose table type is an integer but whose sample value is a string of digits.
    pub fn numbers_sent_as_strings(&self) -> Vec<String> {
        let sample = self.sample.as_object().expect("checked in parse");
        sample
            .iter()
            .filter(|(key, value)| {
                self.documented_type(key) == Some(DocType::Integer)
                    && value.as_str().is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }
}

fn find_heading(lines: &[&str], from: usize, headings: &[&str]) -> Option<usize> {
    (from..lines.len()).find(|&i| headings.contains(&lines[i].to_ascii_lowercase().as_str()))
}

/// The JSON block after line `from`: from the first line starting with `{` to its matching `}`,
/// counting brackets outside strings and comments. Returns the text and its first page line.
fn json_block(lines: &[&str], from: usize) -> Result<(String, usize), String> {
    let start = (from + 1..lines.len())
        .find(|&i| lines[i].starts_with('{'))
        .ok_or_else(|| format!("line {}: no `{{` opens the request sample", from + 1))?;
    let mut depth = 0i32;
    for (i, line) in lines.iter().enumerate().skip(start) {
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if in_string => {
                    chars.next();
                }
                '"' => in_string = !in_string,
                '/' if !in_string && chars.peek() == Some(&'/') => break,
                '{' | '[' if !in_string => depth += 1,
                '}' | ']' if !in_string => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            return Ok((lines[start..=i].join("\n"), start + 1));
        }
    }
    Err(format!("line {}: the request sample never closes its `{{`", start + 1))
}

/// Rows of a table written one cell per line: a row starts at a name followed by a type cell.
/// With a required column (`Yes`, `Mandatory`, …) after the type, it is read too. A description
/// runs until the next row starts. Header cells never precede a type cell, so they are skipped.
fn table(lines: &[&str]) -> Vec<DocField> {
    let cells: Vec<&str> = lines.iter().copied().filter(|l| !l.is_empty()).collect();
    let is_name = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let starts: Vec<usize> = (0..cells.len().saturating_sub(1))
        .filter(|&i| is_name(cells[i]) && DocType::parse(cells[i + 1]).is_some())
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let end = starts.get(n + 1).copied().unwrap_or(cells.len());
            let mut rest = &cells[(i + 2).min(end)..end];
            let required = rest.first().and_then(|c| required_cell(c));
            if required.is_some() {
                rest = &rest[1..];
            }
            DocField {
                name: cells[i].to_owned(),
                ty: DocType::parse(cells[i + 1]).expect("filtered above"),
                required,
                description: rest.join(" "),
            }
        })
        .collect()
}

fn required_cell(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "yes" | "mandatory" | "required" => Some(true),
        "no" | "optional" => Some(false),
        _ => None,
    }
}

/// A `YYYY-MM-DD` date in the line.
fn date_in(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    (0..bytes.len().saturating_sub(9)).find_map(|i| {
        let candidate = &line.get(i..i + 10)?;
        let b = candidate.as_bytes();
        let shape = b.iter().enumerate().all(|(j, c)| if j == 4 || j == 7 { *c == b'-' } else { c.is_ascii_digit() });
        let bounded = i == 0 || !bytes[i - 1].is_ascii_digit();
        (shape && bounded).then(|| candidate.to_string())
    })
}

/// The title: the nearest line above the date with at least two Latin words, other than the
/// `PDF` button and the like.
fn title_before(lines: &[&str]) -> Option<String> {
    lines.iter().rev().take(8).find_map(|line| {
        let latin_words = line.split_whitespace().filter(|w| w.chars().any(|c| c.is_ascii_alphabetic())).count();
        (latin_words >= 2 && line.is_ascii()).then(|| line.to_string())
    })
}

/// A command such as `Group.CallbackAfterCreateGroup` in lines that mention `CallbackCommand`.
fn command_from_text(lines: &[&str]) -> Option<String> {
    let is_command = |w: &str| {
        let (namespace, name) = w.split_once('.')?;
        let ok = |s: &str| s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric());
        (ok(namespace) && ok(name) && namespace.starts_with(|c: char| c.is_ascii_uppercase())).then(|| w.to_owned())
    };
    let at = lines.iter().position(|l| *l == "CallbackCommand")?;
    lines[at + 1..lines.len().min(at + 3)]
        .iter()
        .flat_map(|l| l.split(|c: char| c.is_whitespace() || c == ':'))
        .find_map(|w| is_command(w.trim_end_matches('.')))
}

fn doc_url_in(line: &str) -> Option<String> {
    let start = line.find("https://")?;
    let url: String = line[start..].chars().take_while(|c| !c.is_whitespace() && *c != ')').collect();
    url.contains("/document/").then_some(url)
}
