//! What a before-callback is answered when the app could not decide it.
//!
//! The vendor treats every answer to a before-callback that is not HTTP 200 with a JSON body —
//! a refusal of the request, a server error, no answer within 2 s — as a failed delivery, and then
//! applies the failure policy set in its console, which by default lets the action through. A
//! receiver that answers 400 to a body it cannot decode therefore lets an unmoderated message
//! through. [`FailurePolicy`] decides this answer in the receiver instead.

use std::fmt;

use crate::log_safe::Clipped;
use crate::{HttpReply, Reply};

/// How a before-callback is answered when it cannot be decided: the request failed
/// authentication, its body could not be decoded, the handler failed, panicked or missed its
/// deadline, or the receiver is overloaded.
///
/// After-callbacks are not affected: they always get the failure's own status, so that the
/// vendor's retry (where it is turned on) can deliver them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Answer with the failure's own HTTP status (4xx, 5xx), so that the vendor's console policy
    /// decides — by default, allow. The default, because it changes nothing the vendor documents.
    #[default]
    Vendor,
    /// Answer HTTP 200 with `ErrorCode` 0: allow the action (fail open, explicitly).
    Allow,
    /// Answer HTTP 200 with the command's refusal (`ErrorCode` 1): fail closed.
    Refuse,
}

/// What a failure policy makes of a before-callback that could not be decided.
pub(crate) enum Decided {
    /// Answer this, HTTP 200.
    Reply(HttpReply),
    /// Answer with the failure's own status.
    OwnStatus,
}

impl FailurePolicy {
    /// The answer to a before-callback that could not be decided, `request_id` naming it in a
    /// refusal's `ErrorInfo`.
    pub(crate) fn decide(self, request_id: &str) -> Decided {
        match self {
            FailurePolicy::Allow => Decided::Reply(HttpReply::ok(&Reply::ok())),
            FailurePolicy::Refuse => {
                let info = format!("refused by the failure policy (request {})", Clipped(request_id));
                Decided::Reply(HttpReply::ok(&Reply { error_code: 1, error_info: info, ..Reply::ok() }))
            }
            FailurePolicy::Vendor => Decided::OwnStatus,
        }
    }

    /// The policy's name as the example binaries accept it: `vendor`, `allow` or `refuse`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailurePolicy::Vendor => "vendor",
            FailurePolicy::Allow => "allow",
            FailurePolicy::Refuse => "refuse",
        }
    }
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not `vendor`, `allow` or `refuse`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown failure policy `{0}`: expected `vendor`, `allow` or `refuse`")]
pub struct UnknownFailurePolicy(String);

impl std::str::FromStr for FailurePolicy {
    type Err = UnknownFailurePolicy;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "vendor" => Ok(FailurePolicy::Vendor),
            "allow" => Ok(FailurePolicy::Allow),
            "refuse" => Ok(FailurePolicy::Refuse),
            _ => Err(UnknownFailurePolicy(crate::log_safe::clip(name))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for policy in [FailurePolicy::Vendor, FailurePolicy::Allow, FailurePolicy::Refuse] {
            assert_eq!(policy.as_str().parse::<FailurePolicy>(), Ok(policy));
        }
        assert_eq!("REFUSE".parse::<FailurePolicy>(), Ok(FailurePolicy::Refuse));
        assert!("deny".parse::<FailurePolicy>().is_err());
    }
}
