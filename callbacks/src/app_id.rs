//! [`AppId`]: an app's `SdkAppid`, as its own type.

use std::fmt;

/// An app's `SdkAppid`, the number the console shows (e.g. `1400000000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppId(pub u64);

impl fmt::Display for AppId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<u64> for AppId {
    fn from(id: u64) -> AppId {
        AppId(id)
    }
}
