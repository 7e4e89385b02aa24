//! The intermediate model every page shape is read into: a flat sequence of blocks in reading
//! order. Headings, tables and code blocks are what the page readers look for; text blocks carry
//! the rest (the title's neighbours, the date, the page address, list items).

/// A page as a sequence of blocks, whatever shape it was published in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The blocks in reading order.
    pub blocks: Vec<Block>,
    /// The page's own address when the markup states it (an HTML canonical link).
    pub url: Option<String>,
}

/// One block of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A heading; `level` is 1 to 6, or `None` where the shape has no levels (plain text).
    Heading {
        /// The heading's text, whitespace collapsed.
        text: String,
        /// Its level.
        level: Option<u8>,
    },
    /// A paragraph, a list item or a line of plain text, whitespace collapsed.
    Text(String),
    /// A table: rows of cells, the header row (if any) first, each cell's whitespace collapsed.
    Table(Vec<Vec<String>>),
    /// Preformatted text: a fenced or indented code block, or `<pre>`.
    Code {
        /// The code, line breaks kept.
        text: String,
        /// The 1-based line of the source page on which the code's first line stands, where
        /// the shape keeps line numbers (HTML does not).
        line: Option<usize>,
    },
}

impl Document {
    /// Appends a text block, unless it is blank.
    pub(crate) fn push_text(&mut self, text: &str) {
        let text = collapse(text);
        if !text.is_empty() {
            self.blocks.push(Block::Text(text));
        }
    }

    /// Appends a heading, unless it is blank.
    pub(crate) fn push_heading(&mut self, text: &str, level: Option<u8>) {
        let text = collapse(text);
        if !text.is_empty() {
            self.blocks.push(Block::Heading { text, level });
        }
    }

    /// Appends a table, dropping empty rows; an empty table is dropped.
    pub(crate) fn push_table(&mut self, rows: Vec<Vec<String>>) {
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| row.iter().map(|c| collapse(c)).collect::<Vec<_>>())
            .filter(|row| row.iter().any(|c| !c.is_empty()))
            .collect();
        if !rows.is_empty() {
            self.blocks.push(Block::Table(rows));
        }
    }

    /// Appends a code block. Non-breaking spaces (which HTML pages put in indentation) become
    /// plain spaces, so the sample repair sees only JSON's whitespace.
    pub(crate) fn push_code(&mut self, text: &str, line: Option<usize>) {
        self.blocks.push(Block::Code { text: text.replace('\u{a0}', " "), line });
    }

    /// Every piece of prose text: headings and text blocks, in order.
    pub fn prose(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Heading { text, .. } | Block::Text(text) => Some(text.as_str()),
            _ => None,
        })
    }
}

/// Collapses runs of whitespace (including non-breaking spaces) into one space and trims.
pub(crate) fn collapse(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}').filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ")
}
