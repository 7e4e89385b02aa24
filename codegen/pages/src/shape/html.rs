//! HTML pages, read with `scraper` (an HTML5 parser, html5ever).
//!
//! The vendor's pages wrap the content in navigation, menus and scripts. The reader starts at the
//! content block (`<main>`, `<article>` or `role="main"`, else `<body>`) and skips elements that
//! are never content wherever they are (`<nav>`, `<aside>`, `<script>`, menus, hidden elements).

use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};

use crate::document::{Block, Document};

/// Elements skipped with everything inside them.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "aside", "footer", "menu", "form", "button", "select", "svg",
    "iframe", "head", "dialog",
];

/// ARIA roles of page furniture.
const SKIPPED_ROLES: &[&str] = &["navigation", "menu", "menubar", "banner", "contentinfo", "search", "complementary"];

/// Words that mark a class or id as page furniture (`top-menu`, `sidebar`, `breadcrumb`).
const FURNITURE: &[&str] = &["nav", "navbar", "menu", "sidebar", "breadcrumb", "breadcrumbs", "toc", "footer"];

/// Elements whose text is one block, unless they hold blocks of their own.
const PROSE: &[&str] = &["p", "li", "dt", "dd", "caption", "figcaption", "blockquote", "summary"];

/// Elements that are blocks when nested inside a prose element.
const BLOCKS: &[&str] = &["pre", "table", "ul", "ol", "dl", "p", "div", "h1", "h2", "h3", "h4", "h5", "h6"];

/// Reads an HTML page.
pub(super) fn read(text: &str) -> Document {
    let html = Html::parse_document(text);
    let mut doc = Document {
        url: first_attr(&html, "link[rel=canonical]", "href")
            .or_else(|| first_attr(&html, "meta[property='og:url']", "content")),
        ..Document::default()
    };
    let root = ["main", "article", "[role=main]", "body"]
        .iter()
        .find_map(|css| html.select(&selector(css)).next())
        .unwrap_or_else(|| html.root_element());
    walk(root, &mut doc);
    if !doc.blocks.iter().any(|b| matches!(b, Block::Heading { level: Some(1), .. }))
        && let Some(title) = html.select(&selector("title")).next()
    {
        doc.blocks.insert(0, Block::Heading { text: text_of(title), level: Some(1) });
    }
    doc
}

fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("the selectors in this file are valid")
}

fn first_attr(html: &Html, css: &str, attr: &str) -> Option<String> {
    html.select(&selector(css)).find_map(|e| e.value().attr(attr)).map(str::to_owned)
}

fn skipped(element: ElementRef<'_>) -> bool {
    let e = element.value();
    SKIPPED.contains(&e.name())
        || e.attr("hidden").is_some()
        || e.attr("aria-hidden") == Some("true")
        || e.attr("role").is_some_and(|r| SKIPPED_ROLES.contains(&r))
        || e.classes()
            .chain(e.id())
            .any(|name| name.split(['-', '_']).any(|w| FURNITURE.contains(&w.to_ascii_lowercase().as_str())))
}

fn walk(element: ElementRef<'_>, doc: &mut Document) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => doc.push_text(text),
            Node::Element(_) => {
                let child = ElementRef::wrap(child).expect("an element node");
                if !skipped(child) {
                    block(child, doc);
                }
            }
            _ => {}
        }
    }
}

fn block(element: ElementRef<'_>, doc: &mut Document) {
    let name = element.value().name();
    match name {
        "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
            let level = name[1..].parse().ok();
            doc.push_heading(&text_of(element), level);
        }
        "pre" => doc.push_code(&element.text().collect::<String>(), None),
        "table" => {
            let rows = element
                .select(&selector("tr"))
                .map(|tr| {
                    tr.children()
                        .filter_map(ElementRef::wrap)
                        .filter(|c| matches!(c.value().name(), "th" | "td"))
                        .map(text_of)
                        .collect()
                })
                .collect();
            doc.push_table(rows);
        }
        _ if PROSE.contains(&name) && !has_blocks(element) => doc.push_text(&text_of(element)),
        _ => walk(element, doc),
    }
}

fn has_blocks(element: ElementRef<'_>) -> bool {
    element.descendants().filter_map(ElementRef::wrap).skip(1).any(|e| BLOCKS.contains(&e.value().name()))
}

/// An element's text, with a space for each `<br>` and around block elements, skipping what
/// [`skipped`] skips.
fn text_of(element: ElementRef<'_>) -> String {
    let mut out = String::new();
    collect_text(element, &mut out);
    crate::document::collapse(&out)
}

fn collect_text(element: ElementRef<'_>, out: &mut String) {
    for child in element.children() {
        match child.value() {
            Node::Text(text) => out.push_str(text),
            Node::Element(e) if e.name() == "br" => out.push(' '),
            Node::Element(_) => {
                let child = ElementRef::wrap(child).expect("an element node");
                if !skipped(child) {
                    let spaced = !matches!(child.value().name(), "a" | "span" | "code" | "b" | "strong" | "em" | "i");
                    if spaced {
                        out.push(' ');
                    }
                    collect_text(child, out);
                    if spaced {
                        out.push(' ');
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_without_the_furniture() {
        let text = r#"<!DOCTYPE html><html><head><title>T | Site</title>
            <link rel="canonical" href="https://docs.example.test/document/product/1/2"></head>
            <body><nav><ul><li>Menu Group.CallbackAfterX</li></ul></nav>
            <div class="doc-side-menu"><h2>Menu</h2><ul><li>Group.CallbackAfterY</li></ul></div>
            <script>var x = "<h2>not a heading</h2>";</script>
            <main><div id="breadcrumb">Docs &gt; Widgets</div><h1>Widget &amp; Co</h1><p>Last updated: <span>2026-02-03</span></p>
            <h3>Sample request</h3><pre><code>{
&nbsp;&nbsp;"A": 1 // one
}</code></pre>
            <table><thead><tr><th>Field</th><th>Type</th></tr></thead>
            <tbody><tr><td>A</td><td>Integer<br>number</td></tr></tbody></table>
            <div hidden><h2>Hidden</h2></div></main>
            <footer>© someone</footer></body></html>"#;
        let doc = read(text);
        assert_eq!(doc.url.as_deref(), Some("https://docs.example.test/document/product/1/2"));
        assert_eq!(
            doc.blocks,
            [
                Block::Heading { text: "Widget & Co".into(), level: Some(1) },
                Block::Text("Last updated: 2026-02-03".into()),
                Block::Heading { text: "Sample request".into(), level: Some(3) },
                Block::Code { text: "{\n  \"A\": 1 // one\n}".into(), line: None },
                Block::Table(vec![vec!["Field".into(), "Type".into()], vec!["A".into(), "Integer number".into()]]),
            ]
        );
    }

    #[test]
    fn the_title_element_stands_in_for_a_missing_h1() {
        let doc = read("<html><head><title>Only a title</title></head><body><h2>Part</h2></body></html>");
        assert_eq!(doc.blocks[0], Block::Heading { text: "Only a title".into(), level: Some(1) });
    }
}
