//! Plain-text pages: what a browser's select-all and copy gives (the shape of the seeds).
//!
//! Nothing marks a heading but its words, so a line is a heading when it is one of the known
//! ones ([`crate::headings`]). After a sample heading, the JSON block (from a line opening with
//! `{` to its matching `}`, or to the next heading when the count never closes) is code; after a field-table heading, the lines up to the next
//! heading are a table written one cell per line.

use crate::document::{Block, Document};
use crate::headings::{Part, Role, classify};
use crate::page::{DocType, is_field_name};

pub(super) fn read(text: &str) -> Document {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut doc = Document::default();
    let mut part = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(role) = classify(line) {
            doc.push_heading(line, None);
            part = match role {
                Role::Part(_, part) => Some(part),
                Role::End => None,
            };
            i += 1;
            if part == Some(Part::Fields) {
                let end = (i..lines.len()).find(|&j| classify(lines[j]).is_some()).unwrap_or(lines.len());
                let rows = table(&lines[i..end]);
                if rows.is_empty() {
                    lines[i..end].iter().for_each(|l| doc.push_text(l));
                } else {
                    doc.push_table(rows);
                }
                i = end;
            }
            continue;
        }
        if part == Some(Part::Sample) && line.starts_with('{') {
            // A block that never closes by the count (a sample whose line breaks were lost, its
            // `//` comments hiding the rest of the line) runs to the next heading.
            let end = json_end(&lines, i)
                .or_else(|| (i + 1..lines.len()).find(|&j| classify(lines[j]).is_some()).map(|j| j - 1))
                .unwrap_or(lines.len() - 1);
            doc.blocks.push(Block::Code { text: lines[i..=end].join("\n"), line: Some(i + 1) });
            part = None;
            i = end + 1;
            continue;
        }
        doc.push_text(line);
        i += 1;
    }
    doc
}

/// The line closing the JSON block that opens on line `start`, counting brackets outside
/// strings and `//` comments; `None` if it never closes.
fn json_end(lines: &[&str], start: usize) -> Option<usize> {
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
            return Some(i);
        }
    }
    None
}

/// Rows of a table written one cell per line: a row starts at a field name followed by a type
/// cell and runs until the next row starts. Header cells never precede a type cell, so they are
/// left out.
fn table(lines: &[&str]) -> Vec<Vec<String>> {
    let cells: Vec<&str> = lines.iter().copied().filter(|l| !l.is_empty()).collect();
    let starts: Vec<usize> = (0..cells.len().saturating_sub(1))
        .filter(|&i| is_field_name(cells[i]) && DocType::parse(cells[i + 1]).is_some())
        .collect();
    starts
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let end = starts.get(n + 1).copied().unwrap_or(cells.len());
            cells[i..end].iter().map(|c| c.to_string()).collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_code_and_one_cell_per_line_tables() {
        let text = "Menu\nSample request\n\n{\n\"A\": \"}\", // x\n\"B\": [1]\n}\nRequest fields\nField\nType\n\
                    Description\nA\nString\nOne;\ntwo\nB\nArray\nNumbers\nReference\n";
        let doc = read(text);
        assert_eq!(
            doc.blocks,
            [
                Block::Text("Menu".into()),
                Block::Heading { text: "Sample request".into(), level: None },
                Block::Code { text: "{\n\"A\": \"}\", // x\n\"B\": [1]\n}".into(), line: Some(4) },
                Block::Heading { text: "Request fields".into(), level: None },
                Block::Table(vec![
                    vec!["A".into(), "String".into(), "One;".into(), "two".into()],
                    vec!["B".into(), "Array".into(), "Numbers".into()],
                ]),
                Block::Heading { text: "Reference".into(), level: None },
            ]
        );
    }
}
