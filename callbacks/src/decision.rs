//! Support for before-callback decisions: app-defined error codes checked against the range the
//! command documents.

/// An app-defined error code that a before-callback passes to the client, known to lie in
/// `MIN..=MAX`, the range the command documents. Build it with [`AppErrorCode::new`], or through
/// a decision's `refuse_with`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppErrorCode<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> AppErrorCode<MIN, MAX> {
    /// `code`, or an error when it is outside `MIN..=MAX`.
    pub fn new(code: i64) -> Result<Self, ErrorCodeOutOfRange> {
        if (MIN..=MAX).contains(&code) {
            Ok(AppErrorCode(code))
        } else {
            Err(ErrorCodeOutOfRange { code, min: MIN, max: MAX })
        }
    }

    /// The code.
    pub const fn get(self) -> i64 {
        self.0
    }
}

/// An app-defined error code outside the range the command documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("error code {code} is outside {min}..={max}, the range this callback passes to clients")]
pub struct ErrorCodeOutOfRange {
    /// The code given.
    pub code: i64,
    /// The smallest code allowed.
    pub min: i64,
    /// The largest code allowed.
    pub max: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_checked_against_the_range_inclusively() {
        assert_eq!(AppErrorCode::<10, 20>::new(10).map(AppErrorCode::get), Ok(10));
        assert_eq!(AppErrorCode::<10, 20>::new(20).map(AppErrorCode::get), Ok(20));
        let error = AppErrorCode::<10, 20>::new(21).unwrap_err();
        assert_eq!(error, ErrorCodeOutOfRange { code: 21, min: 10, max: 20 });
        assert_eq!(error.to_string(), "error code 21 is outside 10..=20, the range this callback passes to clients");
        assert!(AppErrorCode::<10, 20>::new(9).is_err());
    }
}
