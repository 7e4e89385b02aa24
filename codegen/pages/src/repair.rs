//! Repairs a vendor sample payload into valid JSON, reporting every change.
//!
//! Vendor samples carry `//` comments, and some lack commas between members or keep a trailing
//! comma. The repair works on tokens, not on text patterns, so a `//` inside a string (a URL) is
//! never taken for a comment.
//!
//! Some stored copies of a page lost the sample's line breaks: the whole sample is one line, and
//! each `//` comment runs into the next member (`"A": 1, // one"B": 2}`). When the sample does not
//! repair as written, it is repaired again with each comment ending where the next key (a string
//! followed by `:`) or bracket begins, and each such comment is reported as cut short.

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
    /// A `//` comment was removed up to the next key or bracket only, not to the end of its line,
    /// because the sample's line breaks were lost.
    CommentCutShort {
        /// The page line.
        line: usize,
    },
}

impl Repair {
    /// The page line the change was made on.
    pub fn line(&self) -> usize {
        match self {
            Repair::CommentStripped { line }
            | Repair::CommaInserted { line }
            | Repair::TrailingCommaRemoved { line }
            | Repair::CommentCutShort { line } => *line,
        }
    }
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::CommentStripped { line } => write!(f, "line {line}: comment stripped"),
            Repair::CommaInserted { line } => write!(f, "line {line}: missing comma inserted"),
            Repair::TrailingCommaRemoved { line } => write!(f, "line {line}: trailing comma removed"),
            Repair::CommentCutShort { line } => {
                write!(f, "line {line}: comment stripped up to the next key or bracket (the line breaks were lost)")
            }
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
    match repair_with(text, first_line, Comments::ToEndOfLine) {
        Ok(repaired) => Ok(repaired),
        // A sample whose line breaks were lost: only worth trying when it has comments at all.
        Err(error) if text.contains("//") => repair_with(text, first_line, Comments::ToNextMember).map_err(|_| error),
        Err(error) => Err(error),
    }
}

/// Where a `//` comment ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Comments {
    /// At the end of its line, as written.
    ToEndOfLine,
    /// Where the next key or bracket begins, for a sample that lost its line breaks.
    ToNextMember,
}

fn repair_with(text: &str, first_line: usize, comments: Comments) -> Result<(Value, Vec<Repair>), String> {
    let (tokens, comment_lines) = tokenize(text, first_line, comments)?;
    let mut repairs: Vec<Repair> = comment_lines
        .into_iter()
        .map(|line| match comments {
            Comments::ToEndOfLine => Repair::CommentStripped { line },
            Comments::ToNextMember => Repair::CommentCutShort { line },
        })
        .collect();

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
    repairs.sort_by_key(Repair::line);
    let value = serde_json::from_str(&out).map_err(|e| format!("the sample is not JSON even after repair: {e}"))?;
    Ok((value, repairs))
}

/// Splits `text` into JSON tokens, dropping `//` comments (whose lines are returned).
fn tokenize(text: &str, first_line: usize, comment_end: Comments) -> Result<(Vec<Token>, Vec<usize>), String> {
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
                i = match comment_end {
                    Comments::ToEndOfLine => line_end(bytes, i),
                    Comments::ToNextMember => next_member(bytes, i + 2),
                };
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

/// The index of the newline ending the line that `from` is on, or the end of the text.
fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |p| from + p)
}

/// Where a comment starting at `from` ends in a sample that lost its line breaks: at the next
/// bracket, or at the next string followed by `:` (a key), or at the end of its line. A string
/// in the comment that is not a key (`"send msg succeed"`) stays part of the comment.
fn next_member(bytes: &[u8], from: usize) -> usize {
    let end = line_end(bytes, from);
    let mut i = from;
    while i < end {
        match bytes[i] {
            b'{' | b'}' | b'[' | b']' => return i,
            b'"' => {
                let Some(close) = bytes[i + 1..end].iter().position(|b| *b == b'"').map(|p| i + 1 + p) else {
                    return end;
                };
                let after = bytes[close + 1..end].iter().position(|b| !b.is_ascii_whitespace()).map(|p| close + 1 + p);
                if after.is_some_and(|a| bytes[a] == b':') {
                    return i;
                }
                i = close + 1;
            }
            _ => i += 1,
        }
    }
    end
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

    /// The one-line stored copies: each comment runs into the next key or bracket.
    #[test]
    fn a_sample_that_lost_its_line_breaks_is_repaired() {
        let text = r#"{"CallbackCommand": "Group.CallbackAfterReadReceipt", // 已读回执后回调"GroupId": "@TGS#2TTV7VSII", // 群组 ID"GroupMsgReceiptList": [ // 已读回执信息{"MsgSeq": 1,"UnreadNum": 6 // 群消息未读数"ReadReceiptMembers":[{"Member_Account":"user0"}]}],"EventTime":"1670574414123"//毫秒级别,事件触发时间戳}"#;
        let (value, repairs) = repair(text, 7).unwrap();
        assert_eq!(
            value,
            json!({
                "CallbackCommand": "Group.CallbackAfterReadReceipt",
                "GroupId": "@TGS#2TTV7VSII",
                "GroupMsgReceiptList": [{"MsgSeq": 1, "UnreadNum": 6, "ReadReceiptMembers": [{"Member_Account": "user0"}]}],
                "EventTime": "1670574414123"
            })
        );
        let cut = repairs.iter().filter(|r| matches!(r, Repair::CommentCutShort { line: 7 })).count();
        assert_eq!(cut, 5, "{repairs:?}");
        assert!(repairs.contains(&Repair::CommaInserted { line: 7 }), "the comma the lost comment hid: {repairs:?}");
    }

    /// A string inside a comment that is not followed by `:` stays in the comment.
    #[test]
    fn a_quoted_word_in_a_run_on_comment_stays_in_it() {
        let text = r#"{"ErrorInfo": "send msg succeed", // 若消息发送成功,则为"send msg succeed""UnreadMsgNum": 7}"#;
        let (value, repairs) = repair(text, 1).unwrap();
        assert_eq!(value, json!({"ErrorInfo": "send msg succeed", "UnreadMsgNum": 7}));
        assert_eq!(repairs, [Repair::CommentCutShort { line: 1 }]);
    }

    /// Comments are cut short only when the sample does not repair as written: a comment that
    /// names a key on a sample with line breaks is stripped whole.
    #[test]
    fn comments_run_to_the_end_of_their_line_when_that_repairs() {
        let text = "{\n\"A\": 1, // like \"B\": 2\n\"C\": 3\n}";
        let (value, repairs) = repair(text, 1).unwrap();
        assert_eq!(value, json!({"A": 1, "C": 3}));
        assert_eq!(repairs, [Repair::CommentStripped { line: 2 }]);
    }

    #[test]
    fn what_cannot_be_repaired_says_why() {
        assert!(repair("{\"A\" 1}", 1).unwrap_err().contains("not JSON even after repair"));
        assert!(repair("{\"A\": \"open\n}", 4).unwrap_err().contains("line 4: a string is not closed"));
        assert!(repair("{\"A\": <1>}", 1).unwrap_err().contains("unexpected character `<`"));
    }
}
