//! The one reading of the vendor's numeric strings: `SdkAppid`, `RequestTime`, and integers a
//! body sends quoted (`EventTime`).

/// A `u64` written as 1 to 19 ASCII digits, and nothing else: no sign, space, dot or exponent.
pub(crate) fn parse_digits(value: &str) -> Option<u64> {
    let digits = !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
    // 19 digits stay below `u64::MAX`, so the sum cannot overflow.
    digits.then(|| value.bytes().fold(0, |n, digit| n * 10 + u64::from(digit - b'0')))
}
