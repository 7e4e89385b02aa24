//! Markdown pages, read with `pulldown-cmark` (GitHub tables enabled).

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::document::Document;

/// Reads a Markdown page. Headings, tables and code blocks become blocks; paragraphs and list
/// items become text; raw HTML blocks are skipped (a `<br>` inside a table cell is a space).
pub(super) fn read(text: &str) -> Document {
    let mut doc = Document::default();
    let mut buf = String::new();
    let mut heading: Option<u8> = None;
    let mut code: Option<Option<usize>> = None;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut in_cell = false;

    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                doc.push_text(&std::mem::take(&mut buf));
                heading = Some(level_number(level));
            }
            Event::End(TagEnd::Heading(_)) => {
                doc.push_heading(&std::mem::take(&mut buf), heading.take());
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                doc.push_text(&std::mem::take(&mut buf));
                let fence_line = line_of(text, range.start);
                let line = match kind {
                    CodeBlockKind::Fenced(_) => fence_line + 1,
                    CodeBlockKind::Indented => fence_line,
                };
                code = Some(Some(line));
            }
            Event::End(TagEnd::CodeBlock) => {
                let line = code.take().flatten();
                doc.push_code(&std::mem::take(&mut buf), line);
            }
            Event::Start(Tag::Table(_)) => {
                doc.push_text(&std::mem::take(&mut buf));
                rows.clear();
            }
            Event::End(TagEnd::Table) => doc.push_table(std::mem::take(&mut rows)),
            Event::Start(Tag::TableHead | Tag::TableRow) => row.clear(),
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => rows.push(std::mem::take(&mut row)),
            Event::Start(Tag::TableCell) => {
                buf.clear();
                in_cell = true;
            }
            Event::End(TagEnd::TableCell) => {
                row.push(std::mem::take(&mut buf));
                in_cell = false;
            }
            Event::Start(Tag::Paragraph | Tag::Item | Tag::List(_) | Tag::BlockQuote(_)) if !in_cell => {
                doc.push_text(&std::mem::take(&mut buf));
            }
            Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::BlockQuote(_)) if !in_cell => {
                doc.push_text(&std::mem::take(&mut buf));
            }
            Event::Text(t) | Event::Code(t) => buf.push_str(&t),
            Event::SoftBreak | Event::HardBreak => buf.push(if code.is_some() { '\n' } else { ' ' }),
            Event::InlineHtml(_) => buf.push(' '),
            _ => {}
        }
    }
    doc.push_text(&buf);
    doc
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Block;

    #[test]
    fn blocks_in_reading_order_with_code_lines() {
        let text = "# Title\n\nLast updated: 2026-01-01\n\n### 请求包示例\n\n```json\n{\"A\": 1}\n```\n\n\
                    | Field | Type |\n|---|---|\n| A | Integer<br>number |\n\n- one\n- two\n";
        let doc = read(text);
        assert_eq!(
            doc.blocks,
            [
                Block::Heading { text: "Title".into(), level: Some(1) },
                Block::Text("Last updated: 2026-01-01".into()),
                Block::Heading { text: "请求包示例".into(), level: Some(3) },
                Block::Code { text: "{\"A\": 1}\n".into(), line: Some(8) },
                Block::Table(vec![vec!["Field".into(), "Type".into()], vec!["A".into(), "Integer number".into()]]),
                Block::Text("one".into()),
                Block::Text("two".into()),
            ]
        );
    }
}
