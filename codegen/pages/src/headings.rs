//! What a heading announces, in English or Chinese: a sample or a field table, of the request or
//! the response, or the end of the page's content.

/// The part of a page a heading opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// A sample payload.
    Sample,
    /// A field table.
    Fields,
}

/// Whose part it is. `Either` is a bare `示例` or `Fields`: the request's when the request has
/// not had that part yet, else the response's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Request,
    Response,
    Either,
}

/// What a heading announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Part(Side, Part),
    /// The references after the content.
    End,
}

const EN: &[(&str, Side, Part)] = &[
    ("sample request", Side::Request, Part::Sample),
    ("sample request packet", Side::Request, Part::Sample),
    ("sample request packets", Side::Request, Part::Sample),
    ("sample requests", Side::Request, Part::Sample),
    ("request samples", Side::Request, Part::Sample),
    ("request examples", Side::Request, Part::Sample),
    ("sample request body", Side::Request, Part::Sample),
    ("request packet example", Side::Request, Part::Sample),
    ("request packet sample", Side::Request, Part::Sample),
    ("request example", Side::Request, Part::Sample),
    ("request sample", Side::Request, Part::Sample),
    ("example request", Side::Request, Part::Sample),
    ("request fields", Side::Request, Part::Fields),
    ("request field", Side::Request, Part::Fields),
    ("request packet fields", Side::Request, Part::Fields),
    ("request packet field", Side::Request, Part::Fields),
    ("request field description", Side::Request, Part::Fields),
    ("request packet field description", Side::Request, Part::Fields),
    ("request body fields", Side::Request, Part::Fields),
    ("sample response", Side::Response, Part::Sample),
    ("sample response packet", Side::Response, Part::Sample),
    ("sample response packets", Side::Response, Part::Sample),
    ("sample responses", Side::Response, Part::Sample),
    ("response samples", Side::Response, Part::Sample),
    ("response examples", Side::Response, Part::Sample),
    ("response packet example", Side::Response, Part::Sample),
    ("response packet sample", Side::Response, Part::Sample),
    ("response example", Side::Response, Part::Sample),
    ("response sample", Side::Response, Part::Sample),
    ("example response", Side::Response, Part::Sample),
    ("response fields", Side::Response, Part::Fields),
    ("response field", Side::Response, Part::Fields),
    ("response packet fields", Side::Response, Part::Fields),
    ("response packet field", Side::Response, Part::Fields),
    ("response field description", Side::Response, Part::Fields),
    ("response packet field description", Side::Response, Part::Fields),
    ("sample", Side::Either, Part::Sample),
    ("samples", Side::Either, Part::Sample),
    ("example", Side::Either, Part::Sample),
    ("examples", Side::Either, Part::Sample),
    ("fields", Side::Either, Part::Fields),
    ("field description", Side::Either, Part::Fields),
    ("field descriptions", Side::Either, Part::Fields),
];

/// Chinese headings, compared with spaces removed.
const ZH: &[(&str, Side, Part)] = &[
    ("请求包示例", Side::Request, Part::Sample),
    ("请求示例", Side::Request, Part::Sample),
    ("请求包样例", Side::Request, Part::Sample),
    ("请求包字段", Side::Request, Part::Fields),
    ("请求包字段说明", Side::Request, Part::Fields),
    ("请求字段说明", Side::Request, Part::Fields),
    ("请求包字段描述", Side::Request, Part::Fields),
    ("应答包示例", Side::Response, Part::Sample),
    ("应答示例", Side::Response, Part::Sample),
    ("应答包样例", Side::Response, Part::Sample),
    ("响应包示例", Side::Response, Part::Sample),
    ("回包示例", Side::Response, Part::Sample),
    ("应答包字段", Side::Response, Part::Fields),
    ("应答包字段说明", Side::Response, Part::Fields),
    ("应答字段说明", Side::Response, Part::Fields),
    ("响应包字段说明", Side::Response, Part::Fields),
    ("回包字段说明", Side::Response, Part::Fields),
    ("示例", Side::Either, Part::Sample),
    ("示例代码", Side::Either, Part::Sample),
    ("字段说明", Side::Either, Part::Fields),
];

const END: &[&str] = &["reference", "references", "参考", "参考文档", "相关文档"];

/// What `heading` announces, if anything. Case, surrounding space, a trailing colon and a leading
/// section number (`3.`, `3、`) do not matter.
pub(crate) fn classify(heading: &str) -> Option<Role> {
    let text = heading.trim().trim_end_matches([':', '：']).trim();
    let text = text.trim_start_matches(|c: char| c.is_ascii_digit());
    let text = text.strip_prefix(['.', '、']).unwrap_or(text).trim();
    let lower = crate::document::collapse(&text.to_lowercase());
    if END.contains(&lower.as_str()) {
        return Some(Role::End);
    }
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    EN.iter()
        .find(|(h, ..)| *h == lower)
        .or_else(|| ZH.iter().find(|(h, ..)| *h == compact))
        .map(|&(_, side, part)| Role::Part(side, part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_in_both_languages() {
        assert_eq!(classify("Sample request packets"), Some(Role::Part(Side::Request, Part::Sample)));
        assert_eq!(classify("Sample requests"), Some(Role::Part(Side::Request, Part::Sample)));
        assert_eq!(classify(" 请求包字段说明： "), Some(Role::Part(Side::Request, Part::Fields)));
        assert_eq!(classify("3. 应答包 示例"), Some(Role::Part(Side::Response, Part::Sample)));
        assert_eq!(classify("Response Packet Fields:"), Some(Role::Part(Side::Response, Part::Fields)));
        assert_eq!(classify("示例"), Some(Role::Part(Side::Either, Part::Sample)));
        assert_eq!(classify("字段说明"), Some(Role::Part(Side::Either, Part::Fields)));
        assert_eq!(classify("References"), Some(Role::End));
        assert_eq!(classify("Sample request URL"), None);
        assert_eq!(classify("请求参数说明"), None);
        assert_eq!(classify("Request parameters"), None);
        // Table header cells are not headings.
        assert_eq!(classify("字段"), None);
        assert_eq!(classify("Field"), None);
    }
}
