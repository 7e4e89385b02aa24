//! Metrics, through the `metrics` facade: nothing is recorded until the application installs a
//! recorder (e.g. `metrics-exporter-prometheus`), and then each call is a few atomic operations.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `tencent_chat_callbacks_requests_total` | counter | `command`, `outcome` (`ok`, `answered`, `refused`, `failed`) |
//! | `tencent_chat_callbacks_request_duration_seconds` | histogram | `command` |
//! | `tencent_chat_callbacks_failure_policy_total` | counter | `command`, `policy`, `reason` |
//! | `tencent_chat_callbacks_dead_letters_total` | counter | `command`, `reason` |
//! | `tencent_chat_callbacks_deadline_misses_total` | counter | `command` |
//!
//! The `command` label is a command this version knows, or `unknown`: a label taken from request
//! input as it is would let any client create series without bound.

use std::time::Duration;

use crate::policy::FailurePolicy;

/// How a request ended, as counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    /// 200 with `ErrorCode` 0.
    Ok,
    /// 200 with another answer: a decision, or the failure policy's refusal.
    Answered,
    /// 4xx.
    Refused,
    /// 5xx.
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Answered => "answered",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// `command` if this version knows it, else `unknown`.
fn label(command: &str) -> &'static str {
    crate::Command::from_name(command).map_or("unknown", crate::Command::name)
}

pub(crate) fn request_finished(command: &str, elapsed: Duration, outcome: Outcome) {
    let command = label(command);
    metrics::counter!("tencent_chat_callbacks_requests_total", "command" => command, "outcome" => outcome.as_str())
        .increment(1);
    metrics::histogram!("tencent_chat_callbacks_request_duration_seconds", "command" => command)
        .record(elapsed.as_secs_f64());
}

pub(crate) fn failure_policy_used(command: &str, policy: FailurePolicy, reason: &'static str) {
    metrics::counter!(
        "tencent_chat_callbacks_failure_policy_total",
        "command" => label(command), "policy" => policy.as_str(), "reason" => reason
    )
    .increment(1);
}

pub(crate) fn dead_lettered(command: &str, reason: &str) {
    let reason = reason.to_owned();
    metrics::counter!("tencent_chat_callbacks_dead_letters_total", "command" => label(command), "reason" => reason)
        .increment(1);
}

pub(crate) fn deadline_missed(command: &str) {
    metrics::counter!("tencent_chat_callbacks_deadline_misses_total", "command" => label(command)).increment(1);
}
