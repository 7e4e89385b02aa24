//! The query string Tencent appends to the webhook URL.

use std::borrow::Cow;

/// The query parameters of one callback request, read by name.
///
/// Parameter names are matched without regard to ASCII case (vendor pages spell the app id both
/// `SdkAppid` and `SDKAppID`); unknown parameters, such as the undocumented `RequestID`, are kept
/// when known and otherwise ignored. A parameter this type reads may appear only once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CallbackQuery<'a> {
    /// `SdkAppid`: the app the callback is for.
    pub(crate) sdk_app_id: Option<Cow<'a, str>>,
    /// `CallbackCommand`: which callback this is.
    pub(crate) callback_command: Option<Cow<'a, str>>,
    /// `contenttype`: always `json` in practice.
    pub(crate) content_type: Option<Cow<'a, str>>,
    /// `ClientIP`: the IP of the client that caused the event, when there is one.
    pub(crate) client_ip: Option<Cow<'a, str>>,
    /// `OptPlatform`: the kind of client that caused the event, when there is one.
    pub(crate) opt_platform: Option<Cow<'a, str>>,
    /// `Sign`: present when webhook authentication is on.
    pub(crate) sign: Option<Cow<'a, str>>,
    /// `RequestTime`: the signing time, Unix seconds; present with `Sign`.
    pub(crate) request_time: Option<Cow<'a, str>>,
    /// `RequestID`: undocumented, but sent in real traffic.
    pub(crate) request_id: Option<Cow<'a, str>>,
    /// The first parameter this type reads that appeared more than once (its first value is
    /// kept, so that a refusal can still name the command and follow its failure policy).
    pub(crate) repeated: Option<&'static str>,
}

impl<'a> CallbackQuery<'a> {
    /// Parses a raw query string, without the leading `?`. Never fails: a repeated parameter is
    /// recorded in [`CallbackQuery::repeated`] for the caller to refuse.
    pub(crate) fn parse(query: &'a str) -> Self {
        let mut parsed = CallbackQuery::default();
        for (name, value) in pairs(query) {
            let Some(param) = Param::named(&name) else { continue };
            let slot = match param {
                Param::SdkAppid => &mut parsed.sdk_app_id,
                Param::CallbackCommand => &mut parsed.callback_command,
                Param::ContentType => &mut parsed.content_type,
                Param::ClientIp => &mut parsed.client_ip,
                Param::OptPlatform => &mut parsed.opt_platform,
                Param::Sign => &mut parsed.sign,
                Param::RequestTime => &mut parsed.request_time,
                Param::RequestId => &mut parsed.request_id,
            };
            if slot.is_some() {
                parsed.repeated.get_or_insert(param.name());
            } else {
                *slot = Some(value);
            }
        }
        parsed
    }
}

/// A query parameter [`CallbackQuery`] reads.
#[derive(Debug, Clone, Copy)]
enum Param {
    SdkAppid,
    CallbackCommand,
    ContentType,
    ClientIp,
    OptPlatform,
    Sign,
    RequestTime,
    RequestId,
}

impl Param {
    const ALL: [Param; 8] = [
        Param::SdkAppid,
        Param::CallbackCommand,
        Param::ContentType,
        Param::ClientIp,
        Param::OptPlatform,
        Param::Sign,
        Param::RequestTime,
        Param::RequestId,
    ];

    /// The parameter's name as the vendor spells it.
    fn name(self) -> &'static str {
        match self {
            Param::SdkAppid => "SdkAppid",
            Param::CallbackCommand => "CallbackCommand",
            Param::ContentType => "contenttype",
            Param::ClientIp => "ClientIP",
            Param::OptPlatform => "OptPlatform",
            Param::Sign => "Sign",
            Param::RequestTime => "RequestTime",
            Param::RequestId => "RequestID",
        }
    }

    /// The parameter called `name`, in any ASCII case. The vendor's own spellings are matched
    /// exactly first, which is cheaper; only other spellings are compared without case.
    fn named(name: &str) -> Option<Param> {
        let exact = Param::ALL.into_iter().find(|param| param.name() == name);
        exact.or_else(|| Param::ALL.into_iter().find(|param| param.name().eq_ignore_ascii_case(name)))
    }
}

/// The `name=value` pairs of a query. Pairs without escapes (all of the vendor's) are borrowed as
/// they are; the rest are decoded by `form_urlencoded`, the same as the whole query would be.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    // One vectorised look for escapes over the whole query spares each pair its own.
    let escaped = memchr::memchr2(b'%', b'+', query.as_bytes()).is_some();
    let mut rest = query;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            // `=` and `&` are ASCII, so every piece is whole UTF-8.
            let bytes = rest.as_bytes();
            let (name_end, value_start) = match memchr::memchr2(b'=', b'&', bytes) {
                Some(at) if bytes[at] == b'=' => (at, at + 1),
                Some(at) => (at, at),
                None => (bytes.len(), bytes.len()),
            };
            let end = memchr::memchr(b'&', &bytes[value_start..]).map_or(bytes.len(), |at| value_start + at);
            let (pair, name, value) = (&rest[..end], &rest[..name_end], &rest[value_start..end]);
            rest = rest.get(end + 1..).unwrap_or("");
            if pair.is_empty() {
                continue;
            }
            if escaped && pair.bytes().any(|b| b == b'%' || b == b'+') {
                // A pair holds no `&`, so it decodes to exactly one pair.
                return form_urlencoded::parse(pair.as_bytes()).next();
            }
            return Some((Cow::Borrowed(name), Cow::Borrowed(value)));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_parameters_by_name_in_any_order_and_ignores_extras() {
        let q = CallbackQuery::parse(
            "OptPlatform=Web&contenttype=json&RequestID=52c6&Extra=1&SdkAppid=1400000000\
             &CallbackCommand=Group.CallbackAfterCreateGroup&ClientIP=127.0.0.1&Sign=ab&RequestTime=1669872112",
        );
        assert_eq!(q.sdk_app_id.as_deref(), Some("1400000000"));
        assert_eq!(q.callback_command.as_deref(), Some("Group.CallbackAfterCreateGroup"));
        assert_eq!(q.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(q.opt_platform.as_deref(), Some("Web"));
        assert_eq!(q.content_type.as_deref(), Some("json"));
        assert_eq!(q.sign.as_deref(), Some("ab"));
        assert_eq!(q.request_time.as_deref(), Some("1669872112"));
        assert_eq!(q.request_id.as_deref(), Some("52c6"));
    }

    #[test]
    fn decodes_percent_escapes_and_accepts_other_spellings() {
        let q = CallbackQuery::parse("SDKAppID=1&CallbackCommand=Group%2ECallbackAfterCreateGroup");
        assert_eq!(q.sdk_app_id.as_deref(), Some("1"));
        assert_eq!(q.callback_command.as_deref(), Some("Group.CallbackAfterCreateGroup"));
    }

    #[test]
    fn refuses_a_repeated_parameter() {
        let q = CallbackQuery::parse("SdkAppid=1&sdkappid=2&CallbackCommand=A.B&CallbackCommand=C.D");
        assert_eq!(q.repeated, Some("SdkAppid"));
        // The first value is kept, so the refusal can still follow the command's failure policy.
        assert_eq!((q.sdk_app_id.as_deref(), q.callback_command.as_deref()), (Some("1"), Some("A.B")));
        assert_eq!(CallbackQuery::parse("Extra=1&Extra=2").repeated, None);
    }

    #[test]
    fn the_fast_path_reads_pairs_like_form_urlencoded() {
        let queries = ["a=1&b=&c&=d&&e=f=g", "x=%41+b&y=plain", "name%3D=1", "%E4%BD%A0=%E5%A5%BD", "a=%ZZ&b=%", "+=+"];
        for query in queries {
            let fast: Vec<_> = pairs(query).collect();
            let reference: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
            assert_eq!(fast, reference, "{query}");
        }
    }

    #[test]
    fn empty_and_odd_queries_parse_without_panicking() {
        for q in ["", "&&&", "=", "SdkAppid", "%", "%ZZ=%ZZ", "a=b=c"] {
            let _ = CallbackQuery::parse(q);
        }
        assert_eq!(CallbackQuery::parse("SdkAppid").sdk_app_id.as_deref(), Some(""));
    }
}
