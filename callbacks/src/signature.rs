//! Webhook authentication: `Sign = lowercase hex SHA-256(token ‖ RequestTime)`.
//!
//! The vendor signs only the token and the timestamp, never the body, and documents no freshness
//! window. [`verify`] therefore also bounds how far `RequestTime` may be from the receiver's clock,
//! which limits how long a captured URL can be replayed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;

use crate::sha256::{Digest, Sha256};

/// Why [`verify`] refused a signature; [`DispatchError::Signature`](crate::DispatchError::Signature) (401) carries it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// `RequestTime` is not a Unix time in seconds.
    #[error("`RequestTime` is not a Unix time in seconds")]
    InvalidRequestTime,
    /// `RequestTime` is too far from the receiver's clock.
    #[error("`RequestTime` is {skew_secs} s away from this server's clock; at most {max_secs} s is allowed")]
    StaleRequestTime {
        /// How far it is, in seconds.
        skew_secs: u64,
        /// The configured maximum, in seconds.
        max_secs: u64,
    },
    /// `Sign` is not the signature of the token and `RequestTime`.
    #[error("`Sign` does not match the configured token")]
    BadSignature,
}

/// The default largest distance between `RequestTime` and the receiver's clock: 5 minutes
/// either way, which absorbs clock skew and the vendor's retries while bounding replays.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);

/// Computes the signature the vendor sends for `token` and `request_time`: 64 lowercase hex digits.
pub fn sign(token: &str, request_time: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(token.as_bytes());
    hasher.update(request_time.as_bytes());
    hex::encode(hasher.finalize())
}

/// Checks a request's `Sign` and `RequestTime` against the token, at time `now`.
///
/// - `RequestTime` must be a Unix time in seconds, within `max_skew` of `now` (`None` skips this).
/// - `Sign` must equal [`sign`]`(token, RequestTime)` exactly: lowercase hex, compared in constant time.
pub fn verify(
    token: &str,
    request_time: &str,
    sign_param: &str,
    now: SystemTime,
    max_skew: Option<Duration>,
) -> Result<(), SignatureError> {
    let sent_at = parse_request_time(request_time)?;
    if let Some(max_skew) = max_skew {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let skew = now.abs_diff(sent_at);
        if skew > max_skew.as_secs() {
            return Err(SignatureError::StaleRequestTime { skew_secs: skew, max_secs: max_skew.as_secs() });
        }
    }
    // Compare digests, not hex strings: decode `Sign` (only 64 lowercase hex digits qualify,
    // which is public, so checking that first leaks nothing) and compare 32 bytes.
    let lowercase_hex = sign_param.len() == 64 && sign_param.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let mut sent = [0u8; 32];
    if !lowercase_hex || hex::decode_to_slice(sign_param, &mut sent).is_err() {
        return Err(SignatureError::BadSignature);
    }
    let expected: [u8; 32] = Sha256::new().chain_update(token).chain_update(request_time).finalize().into();
    if bool::from(expected.ct_eq(&sent)) { Ok(()) } else { Err(SignatureError::BadSignature) }
}

/// `RequestTime` is ASCII digits only: no sign, no spaces, no exponent.
fn parse_request_time(request_time: &str) -> Result<u64, SignatureError> {
    crate::digits::parse_digits(request_time).ok_or(SignatureError::InvalidRequestTime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "xxxxyyyy";
    const TIME: &str = "1669872112";
    /// The worked example of the vendor's webhook overview.
    const VENDOR_SIGN: &str = "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn the_vendor_worked_example_signs_and_verifies() {
        assert_eq!(sign(TOKEN, TIME), VENDOR_SIGN);
        assert_eq!(verify(TOKEN, TIME, VENDOR_SIGN, at(1669872112), Some(DEFAULT_MAX_CLOCK_SKEW)), Ok(()));
    }

    #[test]
    fn a_wrong_uppercase_or_short_sign_is_refused() {
        let now = at(1669872112);
        let wrong = VENDOR_SIGN.replace('7', "8");
        for bad in [wrong.as_str(), &VENDOR_SIGN.to_uppercase(), &VENDOR_SIGN[..63], "", "not hex"] {
            assert_eq!(verify(TOKEN, TIME, bad, now, None), Err(SignatureError::BadSignature), "{bad:?}");
        }
        assert_eq!(verify("other-token", TIME, VENDOR_SIGN, now, None), Err(SignatureError::BadSignature));
    }

    #[test]
    fn request_time_must_be_digits_within_the_window() {
        let window = Some(Duration::from_secs(300));
        assert_eq!(verify(TOKEN, TIME, VENDOR_SIGN, at(1669872112 + 300), window), Ok(()));
        assert_eq!(verify(TOKEN, TIME, VENDOR_SIGN, at(1669872112 - 300), window), Ok(()));
        assert_eq!(
            verify(TOKEN, TIME, VENDOR_SIGN, at(1669872112 + 301), window),
            Err(SignatureError::StaleRequestTime { skew_secs: 301, max_secs: 300 })
        );
        assert_eq!(
            verify(TOKEN, TIME, VENDOR_SIGN, at(1669872112 - 301), window),
            Err(SignatureError::StaleRequestTime { skew_secs: 301, max_secs: 300 })
        );
        assert_eq!(verify(TOKEN, TIME, VENDOR_SIGN, at(0), None), Ok(()));
        for bad in ["", "-1", "+1669872112", " 1669872112", "1.5", "1e9", "99999999999999999999"] {
            assert_eq!(
                verify(TOKEN, bad, VENDOR_SIGN, at(0), None),
                Err(SignatureError::InvalidRequestTime),
                "{bad:?}"
            );
        }
    }
}
