//! `import` and `drift` on the vendor's seed pages (when `../shared/seeds` is there) and on
//! synthetic pages of the same shape, written for these tests.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tencent_chat_callbacks_pages::Repair;
use tencent_chat_callbacks_pages::drift::{Finding, drift, drift_dir, json_type};
use tencent_chat_callbacks_pages::import::draft;
use tencent_chat_callbacks_pages::page::{DocType, Page};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema_dir() -> PathBuf {
    root().join("schema")
}

fn test_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pages").join(name)
}

/// The vendor's seed pages, when the shared folder is beside the workspace.
fn seeds() -> Option<PathBuf> {
    let dir = root().join("../shared/seeds");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: {} is not there", dir.display());
        None
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// Field name → type, resolved through `$ref`s, for a schema in `schema_dir()`'s company.
fn field_types(schema: &Value) -> Vec<(String, String)> {
    let common = read_json(&schema_dir().join("common.json"));
    let properties = schema["properties"].as_object().unwrap();
    let mut types: Vec<(String, String)> = properties
        .iter()
        .map(|(name, property)| (name.clone(), json_type(property, schema, &common).unwrap_or("any").to_owned()))
        .collect();
    types.sort();
    types
}

#[test]
fn drafts_of_the_seed_pages_match_the_curated_schemas() {
    let Some(seeds) = seeds() else { return };
    let mut pages: Vec<PathBuf> = fs::read_dir(&seeds).unwrap().map(|e| e.unwrap().path()).collect();
    pages.sort();
    assert_eq!(pages.len(), 5);
    for path in pages {
        let page = Page::read(&path).unwrap();
        let curated = read_json(&schema_dir().join(format!("{}.json", page.command)));
        let draft = draft(&page);
        assert_eq!(field_types(&draft), field_types(&curated), "{}", page.command);
        assert_eq!(draft["x-callback"]["docUpdated"], curated["x-callback"]["docUpdated"], "{}", page.command);
        assert_eq!(draft["x-callback"]["kind"], "after");
        assert!(!page.title.is_empty() && page.title.is_ascii(), "{}: title {:?}", page.command, page.title);
    }
}

#[test]
fn the_seed_pages_show_their_quirks_in_the_report() {
    let Some(seeds) = seeds() else { return };
    let read = |prefix: &str| {
        let path = fs::read_dir(&seeds)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix));
        Page::read(&path.unwrap()).unwrap()
    };
    let official_account = read("004");
    let commas = official_account.repairs.iter().filter(|r| matches!(r, Repair::CommaInserted { .. })).count();
    assert_eq!(commas, 2, "the official-account sample lacks two commas");
    let create = read("001");
    assert_eq!(create.numbers_sent_as_strings(), ["EventTime"]);
    let draft = draft(&create);
    assert_eq!(draft["properties"]["GroupId"]["x-import-note"], "the field table spells it `groupID`");
    let attributes = read("000");
    assert_eq!(draft_note(&attributes, "OptionType"), Some("in the sample, not in the field table".to_owned()));
}

fn draft_note(page: &Page, field: &str) -> Option<String> {
    draft(page)["properties"][field]["x-import-note"].as_str().map(str::to_owned)
}

#[test]
fn the_seed_pages_show_no_drift_against_schema() {
    let Some(seeds) = seeds() else { return };
    let reports = drift_dir(&seeds, &schema_dir()).unwrap();
    assert_eq!(reports.pages.len(), 5);
    assert!(reports.lists.is_empty() && reports.unlisted.is_empty());
    for report in reports.pages {
        assert!(report.findings.is_empty(), "{report}");
    }
}

#[test]
fn a_deliberately_edited_schema_is_reported_field_by_field() {
    let Some(seeds) = seeds() else { return };
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(schema_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let edited = dir.path().join("Group.CallbackAfterCreateGroup.json");
    let mut schema = read_json(&edited);
    let properties = schema["properties"].as_object_mut().unwrap();
    properties.remove("Name");
    properties.insert("Topic".into(), json!({ "description": "Not on the page.", "type": "string" }));
    properties["Owner_Account"] = json!({ "description": "Now a number.", "type": "integer" });
    schema["required"] = json!(["CallbackCommand", "GroupId", "Owner_Account"]);
    schema["x-callback"]["docUpdated"] = json!("2024-01-01");
    fs::write(&edited, serde_json::to_string_pretty(&schema).unwrap()).unwrap();

    let reports = drift_dir(&seeds, dir.path()).unwrap().pages;
    let report = reports.iter().find(|r| r.command == "Group.CallbackAfterCreateGroup").unwrap();
    let findings = &report.findings;
    assert!(findings.contains(&Finding::MissingFromSchema("Name".into())), "{report}");
    assert!(findings.contains(&Finding::MissingFromDocs("Topic".into())), "{report}");
    assert!(
        findings.contains(&Finding::TypeDiffers {
            field: "Owner_Account".into(),
            docs: DocType::String,
            schema: "integer".into()
        }),
        "{report}"
    );
    assert!(
        findings
            .iter()
            .any(|f| matches!(f, Finding::SampleInvalid(e) if e.iter().any(|e| e.contains("Owner_Account")))),
        "{report}"
    );
    assert!(
        findings.contains(&Finding::PageNewer { page: "2025-03-10".into(), schema: "2024-01-01".into() }),
        "{report}"
    );
    assert_eq!(findings.len(), 5, "{report}");
    let text = report.to_string();
    assert!(text.contains("field `Name` is documented but missing from the schema"), "{text}");
    let others = reports.iter().filter(|r| r.command != "Group.CallbackAfterCreateGroup");
    assert!(others.clone().all(|r| r.findings.is_empty()));
}

#[test]
fn a_synthetic_page_imports_with_every_repair_reported() {
    let path = test_page("widget-move.txt");
    let text = fs::read_to_string(&path).unwrap();
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let page = Page::read(&path).unwrap();

    assert_eq!(page.command, "Demo.CallbackBeforeWidgetMove");
    assert_eq!(page.title, "Before a Widget Is Moved");
    assert_eq!(page.updated.as_deref(), Some("2026-01-15"));
    assert_eq!(page.doc_url.as_deref(), Some("https://docs.example.test/document/product/1/1"));
    let mut expected = vec![
        Repair::CommentStripped { line: line_of("// the command") },
        Repair::CommentStripped { line: line_of("// a URL") },
        Repair::CommaInserted { line: line_of("// a URL") },
        Repair::TrailingCommaRemoved { line: line_of("\"Steps\"") },
        Repair::CommentStripped { line: line_of("// an object") },
        Repair::CommaInserted { line: line_of("// an object") },
        Repair::CommentStripped { line: line_of("// quoted") },
    ];
    expected.sort_by_key(Repair::line);
    assert_eq!(page.repairs, expected);
    assert_eq!(page.sample["Link"], "https://example.test/a//b", "a `//` inside a string is kept");
    assert_eq!(page.numbers_sent_as_strings(), ["EventTime"]);
    let link = page.fields.iter().find(|f| f.name == "Link").unwrap();
    assert_eq!(link.description, "Where it points; may span two lines");

    let draft = draft(&page);
    assert_eq!(draft["x-callback"]["kind"], "before");
    assert_eq!(draft["properties"]["CallbackCommand"]["const"], "Demo.CallbackBeforeWidgetMove");
    assert_eq!(draft["properties"]["Owner"]["$ref"], "#/$defs/Owner");
    assert_eq!(draft["$defs"]["Owner"]["properties"]["Name"]["type"], "string");
    assert_eq!(draft["properties"]["Steps"]["items"]["type"], "integer");
    assert_eq!(draft["properties"]["Shiny"]["type"], "boolean");
    assert_eq!(draft["properties"]["Weight"]["x-import-note"], "in the field table, not in the sample");
    assert!(!draft["required"].as_array().unwrap().contains(&json!("Weight")));
    assert_eq!(draft["examples"][0], page.sample);
    let response = &draft["$defs"]["Reply"];
    assert_eq!(response["properties"]["Refused_Account"]["type"], "array");
    assert_eq!(response["properties"]["Refused_Account"]["description"], "Widgets that may not move");
}

#[test]
fn every_kind_of_drift_is_reported_for_a_synthetic_page() {
    let page = Page::read(&test_page("widget-move.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    fs::copy(schema_dir().join("common.json"), dir.path().join("common.json")).unwrap();
    assert_eq!(drift(&page, dir.path()).unwrap().findings, [Finding::NoSchema]);

    let mut schema = draft(&page);
    let properties = schema["properties"].as_object_mut().unwrap();
    properties.remove("Weight");
    properties.insert("Colour".into(), json!({ "type": "string" }));
    properties["Shiny"] = json!({ "type": "string" });
    schema["x-callback"]["docUpdated"] = json!("2025-12-31");
    fs::write(dir.path().join("Demo.CallbackBeforeWidgetMove.json"), schema.to_string()).unwrap();

    let findings = drift(&page, dir.path()).unwrap().findings;
    assert_eq!(
        findings,
        [
            Finding::MissingFromSchema("Weight".into()),
            Finding::MissingFromDocs("Colour".into()),
            Finding::TypeDiffers { field: "Shiny".into(), docs: DocType::Boolean, schema: "string".into() },
            Finding::SampleInvalid(vec!["at `/Shiny`: true is not of type \"string\"".into()]),
            Finding::PageNewer { page: "2026-01-15".into(), schema: "2025-12-31".into() },
        ]
    );
}

#[test]
fn unreadable_pages_fail_loudly_with_the_page_and_the_reason() {
    let cases = [
        ("no-command.txt", "no CallbackCommand: neither the sample nor the text names one"),
        ("no-table.txt", "no request field table"),
        // A broken sample alone refuses no page; here nothing else names the command.
        (
            "broken-sample.txt",
            "the text names none, and the sample cannot be read (request sample: the sample is not JSON even after repair",
        ),
        ("unknown-format.txt", "no request sample"),
    ];
    for (name, reason) in cases {
        let error = Page::read(&test_page(name)).unwrap_err().to_string();
        assert!(error.contains(name) && error.contains(reason), "{name}: {error}");
    }
    let dir = tempfile::tempdir().unwrap();
    fs::copy(test_page("no-table.txt"), dir.path().join("no-table.txt")).unwrap();
    let error = drift_dir(dir.path(), &schema_dir()).unwrap_err().to_string();
    assert!(error.contains("no-table.txt") && error.contains("no request field table"), "{error}");
    let empty = tempfile::tempdir().unwrap();
    assert!(drift_dir(empty.path(), &schema_dir()).unwrap_err().to_string().contains("no pages in it"));
}
