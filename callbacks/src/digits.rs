//! The one reading of the vendor's numeric strings: `SdkAppid`, `RequestTime`, and integers a
//! body sends quoted (`EventTime`).

/// A `u64` written as 1 to 19 ASCII digits, and nothing else: no sign, space, dot or exponent.
pub(crate) fn parse_digits(value: &str) -> Option<u64> {
    let digits = !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
    digits.then(|| value.parse().ok()).flatten()
}
