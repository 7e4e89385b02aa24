//! Finds a callback page's parts in a [`Document`], whatever shape it came in.
//!
//! A page has a title, a last-updated date, a request sample (with `//` comments and other
//! slips, repaired into JSON), a request field table and usually a response field table. Each
//! part is found by its heading (`headings.rs`): the first code block after the request
//! sample heading, the table rows after a field-table heading. A page that lacks a part this
//! reader needs fails with the reason, never with an empty result.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::Error;
use crate::document::{Block, Document};
use crate::headings::{Part, Role, Side, classify};
use crate::repair::{Repair, repair};
use crate::shape::{self, Shape};

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
    /// Reads a type cell: `String`, `Uint64`, `Array of String`, `Array<Object>`, `String[]`,
    /// `字符串`, …; the item type of an array is [`DocType::parse_items`].
    pub fn parse(cell: &str) -> Option<DocType> {
        parse_type(cell).map(|(ty, _)| ty)
    }

    /// The item type an array type cell names (`Array of String` → `String`), if any.
    pub fn parse_items(cell: &str) -> Option<DocType> {
        parse_type(cell).and_then(|(_, items)| items)
    }

    fn base(word: &str) -> Option<DocType> {
        Some(match word {
            "string" | "str" | "字符串" => DocType::String,
            "integer" | "int" | "uint" | "uint32" | "uint64" | "int32" | "int64" | "long" | "整数" | "整型" => {
                DocType::Integer
            }
            "number" | "double" | "float" | "数值" => DocType::Number,
            "boolean" | "bool" | "布尔" | "布尔值" => DocType::Boolean,
            "array" | "数组" => DocType::Array,
            "object" | "json object" | "对象" => DocType::Object,
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

/// A type cell as (type, item type).
fn parse_type(cell: &str) -> Option<(DocType, Option<DocType>)> {
    let lower = crate::document::collapse(&cell.to_lowercase());
    if let Some(ty) = DocType::base(&lower) {
        return Some((ty, None));
    }
    let array = |items: &str| {
        let items = items.trim();
        // `Array of Strings`: the plural only counts after `of`.
        let singular = items.strip_suffix('s').filter(|_| DocType::base(items).is_none());
        DocType::base(items).or_else(|| singular.and_then(DocType::base)).map(|items| (DocType::Array, Some(items)))
    };
    if let Some(items) = lower.strip_suffix("[]") {
        return array(items);
    }
    if let Some(rest) = lower.strip_prefix("array") {
        let rest = rest.trim();
        if let Some(items) = rest.strip_prefix("of ") {
            return array(items);
        }
        let inner = rest.strip_prefix(['<', '(', '[']).and_then(|r| r.strip_suffix(['>', ')', ']']));
        return inner.and_then(array);
    }
    if let Some(items) = lower.strip_suffix(" array").or_else(|| lower.strip_suffix("数组")) {
        return array(items);
    }
    None
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json_type())
    }
}

/// Whether a table cell can be a field name: a wire key (`Owner_Account`) or a nested path
/// (`Info.Action`, `Events[].EventTime`).
pub(crate) fn is_field_name(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && cell.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
}

/// One row of a field table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocField {
    /// The field name as the table spells it: a wire key, or a path such as `Info.Action` or
    /// `Events[].EventTime` for a nested field.
    pub name: String,
    /// Its type.
    pub ty: DocType,
    /// The item type of an array, when the type cell names one (`Array of String`).
    pub items: Option<DocType>,
    /// Whether the table marks it required; `None` when the table has no such column.
    pub required: Option<bool>,
    /// The description, joined into one line.
    pub description: String,
}

impl DocField {
    /// The path of keys from the top of the payload, `[]` markers dropped: `Events[].X` is
    /// `["Events", "X"]`.
    pub fn path(&self) -> Vec<&str> {
        self.name.split('.').map(|s| s.trim_end_matches("[]")).filter(|s| !s.is_empty()).collect()
    }

    /// Whether the field sits inside another (its name is a path).
    pub fn is_nested(&self) -> bool {
        self.path().len() > 1
    }

    /// Whether the path marks `key` (one of its segments) as an array, as in `Events[].X`.
    pub fn marks_array(&self, key: &str) -> bool {
        self.name.split('.').any(|s| s.strip_suffix("[]") == Some(key))
    }

    /// A table row as a field: a name, a type cell, optionally a required cell, then the
    /// description. Header rows and rows of other tables give `None`.
    fn from_row(row: &[String]) -> Option<DocField> {
        let (name, rest) = row.split_first()?;
        let name = name.trim_matches('`');
        let (type_cell, rest) = rest.split_first()?;
        if !is_field_name(name) {
            return None;
        }
        let (ty, items) = parse_type(type_cell)?;
        let (required, rest) = match rest.first().and_then(|c| required_cell(c)) {
            Some(required) => (Some(required), &rest[1..]),
            None => (None, rest),
        };
        let description = rest.iter().filter(|c| !c.is_empty()).cloned().collect::<Vec<_>>().join(" ");
        Some(DocField { name: name.to_owned(), ty, items, required, description })
    }
}

fn required_cell(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "mandatory" | "required" | "是" | "必填" | "必选" | "必须" => Some(true),
        "no" | "optional" | "否" | "选填" | "可选" | "非必填" => Some(false),
        _ => None,
    }
}

/// What a page says about one callback.
#[derive(Debug, Clone)]
pub struct Page {
    /// Where the page was read from.
    pub source: String,
    /// The shape the page was published in.
    pub shape: Shape,
    /// The page title.
    pub title: String,
    /// The `CallbackCommand` the page documents.
    pub command: String,
    /// The page's own URL, when the page states it.
    pub doc_url: Option<String>,
    /// The last-updated date, `YYYY-MM-DD`.
    pub updated: Option<String>,
    /// The request field table (rows of every table under the request-fields heading).
    pub fields: Vec<DocField>,
    /// The response field table.
    pub response_fields: Vec<DocField>,
    /// The request sample, repaired into valid JSON; an empty object when it cannot be read
    /// (see [`Page::sample_problem`]).
    pub sample: Value,
    /// Why the request sample could not be read, when it could not: the page is then read from
    /// its field table alone, which is never refused for its sample.
    pub sample_problem: Option<String>,
    /// The page line of the sample's first line. `None` for HTML, which keeps no line numbers:
    /// then the lines in [`Page::repairs`] count from the sample's first line.
    pub sample_line: Option<usize>,
    /// The repairs the sample needed.
    pub repairs: Vec<Repair>,
}

impl Page {
    /// Reads the page at `path`. A page that does not state its address takes it from the
    /// sidecar `fetch` left beside it, if any.
    pub fn read(path: &Path) -> Result<Page, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut page = Page::parse(&path.display().to_string(), &text)?;
        if page.doc_url.is_none() {
            page.doc_url = crate::fetch::sidecar_of(path).map(|sidecar| sidecar.url);
        }
        Ok(page)
    }

    /// Reads a page's text in whatever shape it has; `source` names it in errors.
    pub fn parse(source: &str, text: &str) -> Result<Page, Error> {
        let (shape, document) = shape::read(text);
        Page::from_document(source, shape, &document)
    }

    /// Finds the parts of a callback page in a document.
    pub fn from_document(source: &str, shape: Shape, doc: &Document) -> Result<Page, Error> {
        let err = |message: String| Error::page(source, message);
        let parts = Parts::find(doc);

        let Some(sample_heading) = parts.sample_heading else {
            return Err(err("no request sample: expected a heading such as `Sample request` or `请求包示例`".into()));
        };
        let sample_line = parts.sample.as_ref().and_then(|(_, line)| *line);
        let read_sample = match &parts.sample {
            None => Err(format!("the request sample heading `{sample_heading}` has no code after it")),
            Some((code, line)) => match repair(code, line.unwrap_or(1)) {
                Ok((sample, repairs)) if sample.is_object() => Ok((sample, repairs)),
                Ok(_) => Err("the request sample is not a JSON object".to_owned()),
                Err(e) => Err(format!("request sample: {e}")),
            },
        };
        let Some(fields_heading) = parts.fields_heading else {
            return Err(err(
                "no request field table: expected a heading such as `Request fields` or `请求包字段`".into()
            ));
        };
        if parts.fields.is_empty() {
            return Err(err(format!(
                "the request field table under `{fields_heading}` has no rows of name, type, description"
            )));
        }

        // A readable field table is enough: an unreadable sample becomes a warning, not a refusal.
        let (sample, repairs, sample_problem) = match read_sample {
            Ok((sample, repairs)) => (sample, repairs, None),
            Err(problem) => (Value::Object(serde_json::Map::new()), Vec::new(), Some(problem)),
        };
        let command = match sample.get("CallbackCommand").and_then(Value::as_str) {
            Some(command) => command.to_owned(),
            None => command_from_text(doc, &parts.fields).ok_or_else(|| match &sample_problem {
                Some(problem) => {
                    err(format!("no CallbackCommand: the text names none, and the sample cannot be read ({problem})"))
                }
                None => err("no CallbackCommand: neither the sample nor the text names one".into()),
            })?,
        };
        let prose: Vec<&str> = doc.prose().collect();
        let updated_at = prose.iter().position(|l| date_in(l).is_some());
        let updated = updated_at.and_then(|i| date_in(prose[i]));
        let title = doc
            .blocks
            .iter()
            .find_map(|b| match b {
                Block::Heading { text, level: Some(1) } => Some(text.clone()),
                _ => None,
            })
            .or_else(|| updated_at.and_then(|i| title_before(&prose[..i])))
            .unwrap_or_else(|| command.clone());
        let doc_url = doc.url.clone().or_else(|| prose.iter().find_map(|l| doc_url_in(l)));

        Ok(Page {
            source: source.to_owned(),
            shape,
            title,
            command,
            doc_url,
            updated,
            fields: parts.fields,
            response_fields: parts.response_fields,
            sample,
            sample_problem,
            sample_line,
            repairs,
        })
    }

    /// Whether `doc` has a request-sample heading, the mark of a callback page.
    pub fn has_sample_heading(doc: &Document) -> bool {
        Parts::find(doc).sample_heading.is_some()
    }

    fn top_level_field(&self, name: &str) -> Option<&DocField> {
        self.fields.iter().find(|f| !f.is_nested() && f.name.eq_ignore_ascii_case(name))
    }

    /// The type the table gives the top-level field `name` (matched without regard to case);
    /// a field the table only shows through nested rows (`Info.Action`) is an object, or an
    /// array when a row marks it so (`Events[].X`).
    pub fn documented_type(&self, name: &str) -> Option<DocType> {
        if let Some(field) = self.top_level_field(name) {
            return Some(field.ty);
        }
        let nested: Vec<&DocField> =
            self.fields.iter().filter(|f| f.is_nested() && f.path()[0].eq_ignore_ascii_case(name)).collect();
        match nested.first() {
            None => None,
            Some(_) if nested.iter().any(|f| f.marks_array(f.path()[0])) => Some(DocType::Array),
            Some(_) => Some(DocType::Object),
        }
    }

    /// Every documented top-level request field with the spelling used on the wire: the
    /// sample's spelling when the table spells a field differently (`groupID` in a table,
    /// `GroupId` in the sample), then fields the table shows only through nested rows, then
    /// fields only in the sample, in sample order.
    pub fn wire_fields(&self) -> Vec<String> {
        let sample = self.sample.as_object().expect("checked in from_document");
        let spelled = |name: &str| sample.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned();
        let mut names: Vec<String> = Vec::new();
        let mut add = |name: String| {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                names.push(name);
            }
        };
        for field in self.fields.iter().filter(|f| !f.is_nested()) {
            add(spelled(&field.name).unwrap_or_else(|| field.name.clone()));
        }
        for field in self.fields.iter().filter(|f| f.is_nested()) {
            let top = field.path()[0];
            add(spelled(top).unwrap_or_else(|| top.to_owned()));
        }
        sample.keys().for_each(|key| add(key.clone()));
        names
    }

    /// Top-level fields whose table type is an integer but whose sample value is a string of
    /// digits.
    pub fn numbers_sent_as_strings(&self) -> Vec<String> {
        let sample = self.sample.as_object().expect("checked in from_document");
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

/// The parts found by heading, before any checks.
#[derive(Default)]
struct Parts {
    sample_heading: Option<String>,
    sample: Option<(String, Option<usize>)>,
    fields_heading: Option<String>,
    fields: Vec<DocField>,
    response_fields: Vec<DocField>,
}

impl Parts {
    /// Walks the blocks, tracking the section each is in. A section runs until the next
    /// heading that announces something, or an unknown heading of the same or a higher level.
    /// A deeper one stays in the section; when it names an object or array field of the table
    /// above (`#### MsgBody`), the rows of the tables under it are that field's (`MsgBody.X`).
    fn find(doc: &Document) -> Parts {
        let mut parts = Parts::default();
        let mut section: Option<(Side, Part, Option<u8>)> = None;
        let mut within: Option<String> = None;
        for block in &doc.blocks {
            match block {
                Block::Heading { text, level } => match classify(text) {
                    Some(Role::Part(side, part)) => {
                        let side = match (side, part) {
                            (Side::Either, Part::Sample) if parts.sample_heading.is_some() => Side::Response,
                            (Side::Either, Part::Fields) if parts.fields_heading.is_some() => Side::Response,
                            (Side::Either, _) => Side::Request,
                            (side, _) => side,
                        };
                        match (side, part) {
                            (Side::Request, Part::Sample) if parts.sample_heading.is_none() => {
                                parts.sample_heading = Some(text.clone());
                            }
                            (Side::Request, Part::Fields) if parts.fields_heading.is_none() => {
                                parts.fields_heading = Some(text.clone());
                            }
                            _ => {}
                        }
                        section = Some((side, part, *level));
                        within = None;
                    }
                    Some(Role::End) => (section, within) = (None, None),
                    None => {
                        if section.is_some_and(|(.., open)| match (open, level) {
                            (Some(open), Some(level)) => *level <= open,
                            _ => true,
                        }) {
                            section = None;
                        }
                        within = match section {
                            Some((Side::Request, Part::Fields, _)) => container_named(text, &parts.fields),
                            Some((Side::Response, Part::Fields, _)) => container_named(text, &parts.response_fields),
                            _ => None,
                        };
                    }
                },
                Block::Code { text, line } => {
                    if matches!(section, Some((Side::Request, Part::Sample, _))) && parts.sample.is_none() {
                        parts.sample = Some((text.clone(), *line));
                    }
                }
                Block::Table(rows) => {
                    let target = match section {
                        Some((Side::Request, Part::Fields, _)) => &mut parts.fields,
                        Some((Side::Response, Part::Fields, _)) => &mut parts.response_fields,
                        _ => continue,
                    };
                    let rows = rows.iter().filter_map(|row| DocField::from_row(row));
                    target.extend(rows.map(|mut field| {
                        if let Some(container) = &within {
                            field.name = format!("{container}.{}", field.name);
                        }
                        field
                    }));
                }
                Block::Text(_) => {}
            }
        }
        parts
    }
}

/// The path prefix for rows under a sub-heading that names an object or array field already in
/// the table (`MsgBody` → `MsgBody[]` for an array).
fn container_named(heading: &str, fields: &[DocField]) -> Option<String> {
    heading.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).find_map(|word| {
        let field = fields.iter().rev().find(|f| {
            matches!(f.ty, DocType::Object | DocType::Array)
                && f.path().last().is_some_and(|last| last.eq_ignore_ascii_case(word))
        })?;
        Some(if field.ty == DocType::Array { format!("{}[]", field.name) } else { field.name.clone() })
    })
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

/// The title of a page without a level-1 heading: the nearest prose above the date with at
/// least two Latin words, other than the `PDF` button and the like; failing that, the nearest
/// with at least five Chinese characters (a page in Chinese; buttons such as `专注模式` have four).
fn title_before(prose: &[&str]) -> Option<String> {
    let near = || prose.iter().rev().take(8);
    let latin = near().find(|line| {
        let latin_words = line.split_whitespace().filter(|w| w.chars().any(|c| c.is_ascii_alphabetic())).count();
        latin_words >= 2 && line.is_ascii()
    });
    let han = || near().find(|line| line.chars().filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c)).count() >= 5);
    latin.or_else(han).map(|line| line.to_string())
}

/// The command the `CallbackCommand` row of the field table or of any other table (the query
/// parameters: `Fixed value: Group.CallbackAfterSendMsg`), or the prose next to the word
/// `CallbackCommand`, names.
fn command_from_text(doc: &Document, fields: &[DocField]) -> Option<String> {
    let row = fields.iter().find(|f| f.name == "CallbackCommand");
    if let Some(command) = row.and_then(|f| crate::commands::find_commands(&f.description).next()) {
        return Some(command);
    }
    let rows = doc.blocks.iter().flat_map(|b| match b {
        Block::Table(rows) => rows.as_slice(),
        _ => &[],
    });
    for row in rows.filter(|row| row.first().is_some_and(|c| c == "CallbackCommand")) {
        if let Some(command) = row[1..].iter().find_map(|cell| crate::commands::find_commands(cell).next()) {
            return Some(command);
        }
    }
    let prose: Vec<&str> = doc.prose().collect();
    let at = prose.iter().position(|l| l.contains("CallbackCommand"))?;
    prose[at..prose.len().min(at + 3)].iter().find_map(|l| crate::commands::find_commands(l).next())
}

fn doc_url_in(line: &str) -> Option<String> {
    let start = line.find("https://")?;
    let url: String = line[start..].chars().take_while(|c| !c.is_whitespace() && *c != ')').collect();
    url.contains("/document/").then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_cells_in_their_spellings() {
        assert_eq!(parse_type("Uint64"), Some((DocType::Integer, None)));
        assert_eq!(parse_type("Array of String"), Some((DocType::Array, Some(DocType::String))));
        assert_eq!(parse_type("Array of Objects"), Some((DocType::Array, Some(DocType::Object))));
        assert_eq!(parse_type("Numbers"), None);
        assert_eq!(parse_type("Array<Object>"), Some((DocType::Array, Some(DocType::Object))));
        assert_eq!(parse_type("String[]"), Some((DocType::Array, Some(DocType::String))));
        assert_eq!(parse_type("Object Array"), Some((DocType::Array, Some(DocType::Object))));
        assert_eq!(parse_type("整数"), Some((DocType::Integer, None)));
        assert_eq!(parse_type("Type"), None);
        assert_eq!(parse_type("类型"), None);
    }

    #[test]
    fn sub_tables_under_a_field_named_heading_are_that_fields() {
        let text = "## Request packet fields\n\n| Field | Type | Description |\n|---|---|---|\n\
                    | MsgBody | Array | The message |\n| Info | Object | More |\n\n\
                    ### MsgBody elements\n\n| Field | Type | Description |\n|---|---|---|\n| MsgType | String | Kind |\n\n\
                    ### Info 说明\n\n| Field | Type | Description |\n|---|---|---|\n| Note | String | A note |\n\n\
                    ### Remarks\n\n| Field | Type | Description |\n|---|---|---|\n| Plain | String | Top level |\n\n\
                    ## Response packet fields\n\n| Field | Type | Description |\n|---|---|---|\n| Extra | String | x |\n";
        let (_, doc) = crate::shape::read(text);
        let parts = Parts::find(&doc);
        let names: Vec<&str> = parts.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["MsgBody", "Info", "MsgBody[].MsgType", "Info.Note", "Plain"]);
        assert_eq!(parts.response_fields[0].name, "Extra");
    }

    #[test]
    fn the_command_from_the_query_parameter_table_when_the_sample_has_none() {
        let text = "<html><body><main><h1>T</h1><table><tr><td>CallbackCommand</td>\
                    <td>Fixed value: Group.CallbackAfterX.</td></tr></table><h3>Sample requests</h3>\
                    <pre>{\"A\": 1}</pre><h3>Request fields</h3><table><tr><td>A</td><td>Integer</td>\
                    <td>a</td></tr></table></main></body></html>";
        let page = Page::parse("p.html", text).unwrap();
        assert_eq!(page.command, "Group.CallbackAfterX");
        assert_eq!(page.title, "T");
    }

    #[test]
    fn rows_with_and_without_a_required_column() {
        let row = |cells: &[&str]| DocField::from_row(&cells.iter().map(|c| c.to_string()).collect::<Vec<_>>());
        let field = row(&["`Info.Action`", "String", "是", "What happened"]).unwrap();
        assert_eq!(field.name, "Info.Action");
        assert_eq!(field.required, Some(true));
        assert_eq!(field.path(), ["Info", "Action"]);
        let field = row(&["Events[].Kind", "Integer", "Which kind"]).unwrap();
        assert_eq!((field.required, field.path(), field.marks_array("Events")), (None, vec!["Events", "Kind"], true));
        assert!(row(&["Field", "Type", "Description"]).is_none());
        assert!(row(&["字段", "类型", "说明"]).is_none());
    }
}
