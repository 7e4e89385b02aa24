//! The importer on one synthetic callback page written in each published shape — Markdown in
//! English, Markdown in Chinese, the vendor site's HTML, plain text in Chinese (`pages.rs` has
//! more in plain text): the shape is recognised, the parts found, nested fields drafted as
//! nested objects, every repair reported with its line, and the drafts agree with each other.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tencent_chat_callbacks_pages::Repair;
use tencent_chat_callbacks_pages::drift::{Finding, drift_dir, json_type};
use tencent_chat_callbacks_pages::import::draft;
use tencent_chat_callbacks_pages::page::{DocType, Page};
use tencent_chat_callbacks_pages::shape::Shape;

const COMMAND: &str = "Demo.CallbackAfterGadgetRename";

fn test_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages").join(name)
}

fn common() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/common.json");
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Top-level field name → JSON type, through the draft's own `$ref`s.
fn field_types(schema: &Value) -> Vec<(String, String)> {
    let common = common();
    let mut types: Vec<(String, String)> = schema["properties"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, property)| (name.clone(), json_type(property, schema, &common).unwrap_or("any").to_owned()))
        .collect();
    types.sort();
    types
}

/// The 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &str, needle: &str) -> usize {
    fs::read_to_string(test_page(file)).unwrap().lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn repairs_at(comment: usize, comma: usize, trailing: usize) -> Vec<Repair> {
    vec![
        Repair::CommentStripped { line: comment },
        Repair::CommaInserted { line: comma },
        Repair::TrailingCommaRemoved { line: trailing },
    ]
}

#[test]
fn each_shape_is_recognised_and_its_parts_found() {
    let cases = [
        ("gadget-rename.en.md", Shape::Markdown, "After a Gadget Is Renamed", None),
        ("gadget-rename.zh.md", Shape::Markdown, "小部件改名之后回调", None),
        (
            "gadget-rename.html",
            Shape::Html,
            "After a Gadget Is Renamed",
            Some("https://docs.example.test/document/product/9/3"),
        ),
        ("gadget-rename.zh.txt", Shape::Text, "小部件改名之后回调", None),
    ];
    for (file, shape, title, url) in cases {
        let page = Page::read(&test_page(file)).unwrap();
        assert_eq!(page.shape, shape, "{file}");
        assert_eq!(page.command, COMMAND, "{file}");
        assert_eq!(page.title, title, "{file}");
        assert_eq!(page.updated.as_deref(), Some("2026-02-20"), "{file}");
        assert_eq!(page.doc_url.as_deref(), url, "{file}");
        assert_eq!(page.sample["Info"]["Action"], "Rename", "{file}: the sample, not the URL sample");
        assert_eq!(page.numbers_sent_as_strings(), ["EventTime"], "{file}");
        assert!(!page.fields.iter().any(|f| f.name == "SdkAppid"), "{file}: the URL parameters are not request fields");
        assert_eq!(page.response_fields.first().map(|f| f.name.as_str()), Some("ActionStatus"), "{file}");
    }
}

#[test]
fn every_repair_is_reported_on_its_line_in_each_shape() {
    for file in ["gadget-rename.en.md", "gadget-rename.zh.md", "gadget-rename.zh.txt"] {
        let page = Page::read(&test_page(file)).unwrap();
        assert_eq!(page.sample_line, Some(line_of(file, "\"CallbackCommand\"") - 1), "{file}");
        let expected =
            repairs_at(line_of(file, "\"CallbackCommand\""), line_of(file, "\"NewName\""), line_of(file, "\"Tags\""));
        assert_eq!(page.repairs, expected, "{file}");
    }
    // HTML keeps no line numbers: lines count from the sample's first line.
    let page = Page::read(&test_page("gadget-rename.html")).unwrap();
    assert_eq!(page.sample_line, None);
    assert_eq!(page.repairs, repairs_at(2, 4, 5));
    assert_eq!(page.sample["Tags"], json!(["blue", "small"]));
}

#[test]
fn the_three_shapes_draft_the_same_fields() {
    let drafts: Vec<Value> =
        ["gadget-rename.en.md", "gadget-rename.zh.md", "gadget-rename.html", "gadget-rename.zh.txt"]
            .iter()
            .map(|file| draft(&Page::read(&test_page(file)).unwrap()))
            .collect();
    let expected: Vec<(String, String)> = [
        ("CallbackCommand", "string"),
        ("EventTime", "integer"),
        ("Events", "array"),
        ("Gadget_Account", "string"),
        ("Info", "object"),
        ("NewName", "string"),
        ("Tags", "array"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    for draft in &drafts {
        assert_eq!(field_types(draft), expected, "{draft:#}");
        assert_eq!(draft["x-callback"]["command"], COMMAND);
        assert_eq!(draft["x-callback"]["kind"], "after");
        assert_eq!(draft["x-callback"]["docUpdated"], "2026-02-20");
        // Nested fields are named objects; arrays carry their item type.
        assert_eq!(draft["properties"]["Info"]["$ref"], "#/$defs/Info");
        assert_eq!(draft["$defs"]["Info"]["properties"]["Action"]["type"], "string");
        assert_eq!(draft["$defs"]["Info"]["properties"]["Reason"]["type"], "string");
        assert_eq!(draft["properties"]["Events"]["items"]["$ref"], "#/$defs/Event");
        assert_eq!(draft["$defs"]["Event"]["properties"]["Kind"]["type"], "integer");
        assert_eq!(draft["$defs"]["Event"]["properties"]["At"]["type"], "integer");
        assert_eq!(draft["properties"]["Tags"]["items"]["type"], "string");
        assert_eq!(draft["examples"][0]["Events"][0]["Kind"], 1);
    }
    let (en, zh, html, text) = (&drafts[0], &drafts[1], &drafts[2], &drafts[3]);
    // The English tables document the nested rows; the descriptions follow them.
    for d in [en, html] {
        assert_eq!(d["$defs"]["Event"]["properties"]["At"]["description"], "When the step ran, in seconds");
        assert_eq!(d["$defs"]["Info"]["required"], json!(["Action", "Reason"]));
        assert!(d["$defs"]["Info"]["properties"]["Action"].get("x-import-note").is_none());
    }
    assert_eq!(text["$defs"]["Event"]["properties"]["At"]["description"], "步骤执行的时间， 单位为秒");
    assert_eq!(text["$defs"]["Info"]["properties"]["Action"]["description"], "改动的类型");
    // The Chinese table documents the top level only: the sample shows the nesting.
    assert_eq!(zh["$defs"]["Info"]["properties"]["Action"]["x-import-note"], "in the sample, not in the field table");
    assert_eq!(zh["properties"]["Gadget_Account"]["description"], "被改名的小部件");
    // `选填` (optional) keeps a field out of `required` even though the sample has it.
    assert!(!zh["required"].as_array().unwrap().contains(&json!("Tags")));
    assert!(en["required"].as_array().unwrap().contains(&json!("Tags")));
    // A response with a field of its own gets its own definition.
    assert_eq!(zh["$defs"]["Reply"]["properties"]["Hint"]["type"], "string");
    assert_eq!(en["$defs"]["Reply"]["$ref"], "common.json#/$defs/Reply");
}

#[test]
fn drift_reads_every_shape_and_nested_fields() {
    let schemas = tempfile::tempdir().unwrap();
    let pages = tempfile::tempdir().unwrap();
    fs::write(schemas.path().join("common.json"), common().to_string()).unwrap();
    for file in ["gadget-rename.en.md", "gadget-rename.zh.md", "gadget-rename.html", "gadget-rename.zh.txt"] {
        fs::copy(test_page(file), pages.path().join(file)).unwrap();
    }
    let schema_path = schemas.path().join(format!("{COMMAND}.json"));
    let mut schema = draft(&Page::read(&test_page("gadget-rename.en.md")).unwrap());
    fs::write(&schema_path, schema.to_string()).unwrap();
    let report = drift_dir(pages.path(), schemas.path()).unwrap();
    assert_eq!((report.pages.len(), report.drifted()), (4, 0), "{report}");

    schema["$defs"]["Info"]["properties"].as_object_mut().unwrap().remove("Reason");
    schema["$defs"]["Event"]["properties"]["Kind"] = json!({ "type": "string" });
    fs::write(&schema_path, schema.to_string()).unwrap();
    let report = drift_dir(pages.path(), schemas.path()).unwrap();
    assert_eq!(report.drifted(), 4, "{report}");
    for page in &report.pages {
        let findings = &page.findings;
        assert!(findings.iter().any(|f| matches!(f, Finding::SampleInvalid(_))), "{page}");
        // Only the pages whose tables list the nested rows can say which rows drifted.
        let nested_rows = !page.page.ends_with(".zh.md");
        assert_eq!(findings.contains(&Finding::MissingFromSchema("Info.Reason".into())), nested_rows, "{page}");
        let kind =
            Finding::TypeDiffers { field: "Events[].Kind".into(), docs: DocType::Integer, schema: "string".into() };
        assert_eq!(findings.contains(&kind), nested_rows, "{page}");
    }
}

/// `text` with the sample's lines joined into one, as some stored copies of the vendor's pages
/// have it: every `//` comment then runs into the next member.
fn sample_on_one_line(text: &str) -> String {
    let at = text.find("\"CallbackCommand\": \"Demo.CallbackAfterGadgetRename\"").expect("the sample");
    let start = text[..at].rfind('{').expect("the sample's opening brace");
    let mut depth = 0;
    let end = start
        + text[start..]
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '{' => 1,
                    '}' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .expect("the sample's closing brace")
            .0;
    let joined: String = text[start..=end].lines().map(str::trim).collect();
    format!("{}{joined}{}", &text[..start], &text[end + 1..])
}

/// Issue 19: a sample whose line breaks were lost is repaired, in every shape, to the same draft
/// as the page laid out line by line, each run-on comment reported.
#[test]
fn a_sample_on_one_line_imports_like_the_page_with_line_breaks() {
    for file in ["gadget-rename.en.md", "gadget-rename.zh.md", "gadget-rename.html", "gadget-rename.zh.txt"] {
        let text = fs::read_to_string(test_page(file)).unwrap();
        let one_line = sample_on_one_line(&text);
        let line = one_line.lines().find(|l| l.contains("\"CallbackCommand\": \"Demo")).unwrap();
        assert!(line.contains("\"EventTime\"") && line.contains("// "), "{file}: the sample is one line now: {line}");
        let page = Page::parse(file, &one_line).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(page.sample_problem, None, "{file}");
        assert!(page.repairs.iter().any(|r| matches!(r, Repair::CommentCutShort { .. })), "{file}: {:?}", page.repairs);
        let original = Page::read(&test_page(file)).unwrap();
        assert_eq!(page.sample, original.sample, "{file}");
        assert_eq!(field_types(&draft(&page)), field_types(&draft(&original)), "{file}");
    }
}

/// Issue 19: a page whose field table is readable is never refused for its sample: the draft
/// comes from the table, and says why the sample was left out.
#[test]
fn a_page_with_an_unreadable_sample_drafts_from_its_table() {
    let text = fs::read_to_string(test_page("gadget-rename.zh.md")).unwrap();
    let text = text
        .replace(
            "| SdkAppid | 应用 |",
            "| SdkAppid | 应用 |\n| CallbackCommand | 固定为 Demo.CallbackAfterGadgetRename |",
        )
        .replace("\"Gadget_Account\": \"g-7\",", "\"Gadget_Account\": \"g-7,");
    let page = Page::parse("broken.zh.md", &text).unwrap();
    let problem = page.sample_problem.clone().expect("the sample's problem");
    assert!(problem.contains("a string is not closed on its line"), "{problem}");
    assert_eq!(page.command, COMMAND);
    let draft = draft(&page);
    let fields: Vec<String> = field_types(&draft).into_iter().map(|(name, _)| name).collect();
    assert_eq!(fields, ["CallbackCommand", "EventTime", "Events", "Gadget_Account", "Info", "NewName", "Tags"]);
    assert!(draft.get("examples").is_none(), "no empty example: {draft:#}");
    assert!(draft["$comment"].as_str().unwrap().contains(&problem));
}
