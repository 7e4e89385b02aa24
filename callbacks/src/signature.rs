//! Webhook authentication: `Sign = lowercase hex SHA-256(token ‖ RequestTime)`.
//!
//! The vendor signs only the token and the timestamp, never the body, and documents no freshness
//! window. [`verify`] therefore also bounds how far `RequestTime` may be from the receiver's clock,
//! which limits how long a captured URL can be replayed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a request failed authentication (401, as
/// [`DispatchError::Signature`](crate::DispatchError::Signature)); [`verify`] returns all but
/// [`Missing`](SignatureError::Missing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A token is configured but the request has no `Sign` or no `RequestTime`.
    #[error("missing `Sign` or `RequestTime`: this endpoint requires webhook authentication")]
    Missing,
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

/// The default largest distance between `RequestTime` and the receiver's clock: 60 s either way.
/// The vendor signs each request when it sends it, so a minute absorbs clock skew; it is also how
/// long a captured signed URL can be replayed with any body, so it is kept to the one-minute
/// validity the vendor's TRTC webhook page states and every third-party verifier uses.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Computes the signature the vendor sends for `token` and `request_time`: 64 lowercase hex digits.
pub fn sign(token: &str, request_time: &str) -> String {
    lowercase_hex(&digest(token, request_time)).into_iter().map(char::from).collect()
}

/// SHA-256 of the token followed by `RequestTime`: what `Sign` is the hex of.
fn digest(token: &str, request_time: &str) -> [u8; 32] {
    Sha256::new().chain_update(token).chain_update(request_time).finalize().into()
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
    // Compare the expected signature, written as the vendor writes it (64 lowercase hex digits),
    // with `Sign` in constant time. The length is public: any other is refused at once.
    let expected = lowercase_hex(&digest(token, request_time));
    let Ok(sent) = <[u8; 64]>::try_from(sign_param.as_bytes()) else {
        return Err(SignatureError::BadSignature);
    };
    if bool::from(words(&expected).ct_eq(&words(&sent))) { Ok(()) } else { Err(SignatureError::BadSignature) }
}

/// `digest` as 64 lowercase hex digits.
fn lowercase_hex(digest: &[u8; 32]) -> [u8; 64] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0; 64];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
    hex
}

/// 64 bytes as eight words, so the constant-time comparison makes eight steps, not 64.
fn words(bytes: &[u8; 64]) -> [u64; 8] {
    std::array::from_fn(|i| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("eight bytes")))
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
