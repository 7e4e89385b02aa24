//! Repairs a vendor sample payload into valid JSON, reporting every change.
//!
//! Vendor samples carry `//` comments, and some lack commas between members or keep a trailing
//! comma. The repair works on tokens, not on text patterns, so a `//` inside a string (a URL) is
//! never taken for a comment.

use std::fmt;

use serde_json::Value;

/// One change made to a sample, with the 1-based line of the page it was made on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// A `//` comment was removed.
    CommentStripped {
        /// The page line.
        line: usize,
    },
    /// A missing comma was inserted at the end of the value on this line.
    CommaInserted {
        /// The page line.
        line: usize,
    },
    /// A comma before a closing bracket was removed.
    TrailingCommaRemoved {
        /// The page line.
        line: usize,
    },
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::CommentStripped { line } => write!(f, "line {line}: comment stripped"),
            Repair::CommaInserted { line } => write!(f, "line {line}: missing comma inserted"),
            Repair::TrailingCommaRemoved { line } => write!(f, "line {line}: trailing comma removed"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A string, number or literal: something that can end a value.
    Scalar,
    Open,
    Close,
    Comma,
    Colon,
}

struct Token {
    kind: Kind,
    start: usize,
    end: usize,
    line: usize,
}

/// Repairs `text`, a sample that starts on page line `first_line`. Returns the parsed value and
/// the repairs made, or why it cannot be repaired.
pub(crate) fn repair(text: &str, first_line: usize) -> Result<(Value, Vec<Repair>), String> {
    let (tokens, comments) = tokenize(text, first_line)?;
    let mut repairs: Vec<Repair> = comments.into_iter().map(|line| Repair::CommentStripped { line }).collect();

    // Rebuild the text from the tokens, fixing commas between them.
    let mut out = String::with_capacity(text.len());
    let mut previous: Option<&Token> = None;
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(|t| t.kind);
        match token.kind {
            Kind::Comma if matches!(next, Some(Kind::Close)) => {
                repairs.push(Repair::TrailingCommaRemoved { line: token.line });
                continue;
            }
            Kind::Scalar | Kind::Open => {
                if let Some(previous) = previous.filter(|p| matches!(p.kind, Kind::Scalar | Kind::Close)) {
                    repairs.push(Repair::CommaInserted { line: previous.line });
                    out.push(',');
                }
            }
            _ => {}
        }
        out.push_str(&text[token.start..token.end]);
        out.push(if token.kind == Kind::Scalar { ' ' } else { '\n' });
        previous = Some(token);
    }
    repairs.sort_by_key(|r| match r {
        Repair::CommentStripped { line } | Repair::CommaInserted { line } | Repair::TrailingCommaRemoved { line } => {
            *line
        }
    });
    let value = serde_json::from_str(&out).map_err(|e| format!("the sample is not JSON even after repair: {e}"))?;
    Ok((value, repairs))
}

/// Splits `text` into JSON tokens, dropping `//` comments (whose lines are returned).
fn tokenize(text: &str, first_line: usize) -> Result<(Vec<Token>, Vec<usize>), String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut comments = Vec::new();
    let mut line = first_line;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let kind = match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            b if b.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                comments.push(line);
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' | b'[' => Kind::Open,
            b'}' | b']' => Kind::Close,
            b',' => Kind::Comma,
            b':' => Kind::Colon,
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    } else if bytes[i] == b'\n' {
                        return Err(format!("line {line}: a string is not closed on its line"));
                    }
                    i += 1;
                }
                if i >= bytes.len() {
                    return Err(format!("line {line}: a string is not closed"));
                }
                Kind::Scalar
            }
            b if b == b'-' || b.is_ascii_alphanumeric() => {
                while i + 1 < bytes.len() && (bytes[i + 1].is_ascii_alphanumeric() || b".+-".contains(&bytes[i + 1])) {
                    i += 1;
                }
                Kind::Scalar
            }
            other => return Err(format!("line {line}: unexpected character `{}`", other as char)),
        };
        i += 1;
        tokens.push(Token { kind, start, end: i, line });
    }
    Ok((tokens, comments))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strips_comments_but_not_urls() {
        let text = "{\n\"Url\": \"http://x.test/a//b\", // a link\n\"N\": 1 // one\n}";
        let (value, repairs) = repair(text, 10).unwrap();
        assert_eq!(value, json!({"Url": "http://x.test/a//b", "N": 1}));
        assert_eq!(repairs, [Repair::CommentStripped { line: 11 }, Repair::CommentStripped { line: 12 }]);
    }

    #[test]
    fn inserts_missing_commas_and_removes_trailing_ones() {
        let text = "{\n\"A\": \"x\"\n\"B\": [1, 2,]\n\"C\": {\"D\": true}\n\"E\": null,\n}";
        let (value, repairs) = repair(text, 1).unwrap();
        assert_eq!(value, json!({"A": "x", "B": [1, 2], "C": {"D": true}, "E": null}));
        assert_eq!(
            repairs,
            [
                Repair::CommaInserted { line: 2 },
                Repair::TrailingCommaRemoved { line: 3 },
                Repair::CommaInserted { line: 3 },
                Repair::CommaInserted { line: 4 },
                Repair::TrailingCommaRemoved { line: 5 },
            ]
        );
    }

    #[test]
    fn valid_json_needs_no_repair() {
        let (value, repairs) = repair(r#"{"A": [{"B": -1.5e3}], "C": "\"quoted\""}"#, 1).unwrap();
        assert_eq!(value, json!({"A": [{"B": -1500.0}], "C": "\"quoted\""}));
        assert!(repairs.is_empty());
    }

    #[test]
    fn what_cannot_be_repaired_says_why() {
        assert!(repair("{\"A\" 1}", 1).unwrap_err().contains("not JSON even after repair"));
        assert!(repair("{\"A\": \"open\n}", 4).unwrap_err().contains("line 4: a string is not closed"));
        assert!(repair("{\"A\": <1>}", 1).unwrap_err().contains("unexpected character `<`"));
    }
}
