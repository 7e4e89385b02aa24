//! Recognises a page's shape from its content and reads it into a [`Document`].

mod html;
mod markdown;
mod text;

use std::fmt;

use crate::document::Document;

/// The shapes a vendor page is published in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Text copied from a browser: navigation noise, headings on lines of their own, tables
    /// written one cell per line.
    Text,
    /// Markdown: `#` headings of any level, GitHub tables, fenced code.
    Markdown,
    /// HTML as the vendor's site serves it, navigation and scripts around the content.
    Html,
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shape::Text => "plain text",
            Shape::Markdown => "Markdown",
            Shape::Html => "HTML",
        })
    }
}

/// Recognises the shape of `text` from its content, never from a file name: HTML opens with a
/// doctype or an `<html>` element (or has a `<body>`); Markdown has an ATX heading, a code fence
/// or a table delimiter row on a line of its own; a fragment that opens with a tag and closes
/// one is HTML too; anything else is plain text.
pub fn detect(text: &str) -> Shape {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let head: String = start.chars().take(512).collect::<String>().to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body") {
        return Shape::Html;
    }
    let markdown_line = |line: &str| {
        let line = line.trim_end();
        let hashes = line.bytes().take_while(|&b| b == b'#').count();
        let heading = (1..=6).contains(&hashes) && line[hashes..].starts_with(' ');
        let fence = line.trim_start().starts_with("```") || line.trim_start().starts_with("~~~");
        let delimiter = line.starts_with('|') && line.contains("---");
        heading || fence || delimiter
    };
    if start.lines().any(markdown_line) {
        Shape::Markdown
    } else if start.starts_with('<') && start.contains("</") {
        Shape::Html
    } else {
        Shape::Text
    }
}

/// Reads `text` in the shape it has. Returns the shape too, for reports.
pub fn read(text: &str) -> (Shape, Document) {
    let shape = detect(text);
    let document = match shape {
        Shape::Text => text::read(text),
        Shape::Markdown => markdown::read(text),
        Shape::Html => html::read(text),
    };
    (shape, document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_told_apart_by_content() {
        assert_eq!(detect("<!DOCTYPE html><html><body><h1>A</h1></body></html>"), Shape::Html);
        assert_eq!(detect("\u{feff}  <html lang=\"zh\">\n<p>x</p></html>"), Shape::Html);
        assert_eq!(detect("<div class=\"doc\"><h2>Fields</h2></div>"), Shape::Html);
        assert_eq!(detect("Intro\n\n## 请求包示例\n\n```json\n{}\n```\n"), Shape::Markdown);
        assert_eq!(detect("| a | b |\n|---|---|\n| 1 | 2 |\n"), Shape::Markdown);
        assert_eq!(detect("Title\n#hashtag is not a heading\nSample request\n{\n}\n"), Shape::Text);
        assert_eq!(detect("a < b and c > d </ no"), Shape::Text);
        assert_eq!(detect("<!-- note -->\n# Title\n\nText with <b>bold</b>\n"), Shape::Markdown);
    }
}
