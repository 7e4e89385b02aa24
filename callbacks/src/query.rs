//! The query string Tencent appends to the webhook URL.

use std::borrow::Cow;

use crate::DispatchError;

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
}

impl<'a> CallbackQuery<'a> {
    /// Parses a raw query string, without the leading `?`.
    pub(crate) fn parse(query: &'a str) -> Result<Self, DispatchError> {
        let mut parsed = CallbackQuery::default();
        for (name, value) in pairs(query) {
            let (slot, canonical) = match () {
                _ if name.eq_ignore_ascii_case("SdkAppid") => (&mut parsed.sdk_app_id, "SdkAppid"),
                _ if name.eq_ignore_ascii_case("CallbackCommand") => (&mut parsed.callback_command, "CallbackCommand"),
                _ if name.eq_ignore_ascii_case("contenttype") => (&mut parsed.content_type, "contenttype"),
                _ if name.eq_ignore_ascii_case("ClientIP") => (&mut parsed.client_ip, "ClientIP"),
                _ if name.eq_ignore_ascii_case("OptPlatform") => (&mut parsed.opt_platform, "OptPlatform"),
                _ if name.eq_ignore_ascii_case("Sign") => (&mut parsed.sign, "Sign"),
                _ if name.eq_ignore_ascii_case("RequestTime") => (&mut parsed.request_time, "RequestTime"),
                _ if name.eq_ignore_ascii_case("RequestID") => (&mut parsed.request_id, "RequestID"),
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(DispatchError::RepeatedParameter(canonical));
            }
        }
        Ok(parsed)
    }
}

/// The `name=value` pairs of a query. Pairs without escapes (all of the vendor's) are borrowed
/// as they are; the rest are decoded by `form_urlencoded`, the same as the whole query would be.
fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|pair| !pair.is_empty()).map(|pair| {
        if pair.bytes().any(|b| b == b'%' || b == b'+') {
            // A pair holds no `&`, so it decodes to exactly one pair.
            form_urlencoded::parse(pair.as_bytes()).next().unwrap_or_default()
        } else {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (Cow::Borrowed(name), Cow::Borrowed(value))
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
        )
        .unwrap();
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
        let q = CallbackQuery::parse("SDKAppID=1&CallbackCommand=Group%2ECallbackAfterCreateGroup").unwrap();
        assert_eq!(q.sdk_app_id.as_deref(), Some("1"));
        assert_eq!(q.callback_command.as_deref(), Some("Group.CallbackAfterCreateGroup"));
    }

    #[test]
    fn refuses_a_repeated_parameter() {
        let err = CallbackQuery::parse("SdkAppid=1&sdkappid=2").unwrap_err();
        assert!(matches!(err, DispatchError::RepeatedParameter("SdkAppid")), "{err:?}");
        assert!(CallbackQuery::parse("Extra=1&Extra=2").is_ok());
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
        assert_eq!(CallbackQuery::parse("SdkAppid").unwrap().sdk_app_id.as_deref(), Some(""));
    }
}
