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
//!
//! Without the `metrics` feature (on by default) the crate does not depend on `metrics` and these
//! functions do nothing, as they record nothing with the feature and no recorder installed.

#[cfg(not(feature = "metrics"))]
pub(crate) use disabled::{
    dead_letter_lost, dead_lettered, deadline_missed, dedup_conflict, failure_policy_used, request_finished,
};
#[cfg(feature = "metrics")]
pub(crate) use recorded::{
    dead_letter_lost, dead_lettered, deadline_missed, dedup_conflict, failure_policy_used, request_finished,
};

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

/// The calls, recording through the `metrics` facade.
#[cfg(feature = "metrics")]
mod recorded {
    use std::sync::OnceLock;
    use std::time::Duration;

    use metrics::{Key, Label, Level, Metadata};

    use super::Outcome;
    use crate::Command;
    use crate::policy::FailurePolicy;

    impl Outcome {
        const ALL: [Outcome; 4] = [Outcome::Ok, Outcome::Answered, Outcome::Refused, Outcome::Failed];

        fn as_str(self) -> &'static str {
            match self {
                Outcome::Ok => "ok",
                Outcome::Answered => "answered",
                Outcome::Refused => "refused",
                Outcome::Failed => "failed",
            }
        }
    }

    /// The keys every request records, built once per command: a request then records without
    /// allocating (the metric macros build a key, labels and all, at each call).
    struct RequestKeys {
        by_outcome: [Key; 4],
        duration: Key,
    }

    impl RequestKeys {
        fn new(command: &'static str) -> RequestKeys {
            RequestKeys {
                by_outcome: Outcome::ALL.map(|outcome| {
                    Key::from_parts(
                        "tencent_chat_callbacks_requests_total",
                        vec![
                            Label::from_static_parts("command", command),
                            Label::from_static_parts("outcome", outcome.as_str()),
                        ],
                    )
                }),
                duration: Key::from_parts(
                    "tencent_chat_callbacks_request_duration_seconds",
                    vec![Label::from_static_parts("command", command)],
                ),
            }
        }
    }

    static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

    /// The keys of `command` (`known`, when the caller knows it already): one entry per known
    /// command, in [`Command::ALL`] order, then `unknown`.
    fn request_keys(command: &str, known: Option<Command>) -> &'static RequestKeys {
        static KEYS: OnceLock<Vec<RequestKeys>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            Command::ALL.iter().map(|c| RequestKeys::new(c.name())).chain([RequestKeys::new("unknown")]).collect()
        });
        // `Command::ALL` lists the variants in declaration order, so a variant's discriminant is its index.
        let index = known.or_else(|| Command::from_name(command)).map_or(keys.len() - 1, |c| c as usize);
        &keys[index]
    }

    /// `command` if this version knows it, else `unknown`.
    fn label(command: &str) -> &'static str {
        Command::from_name(command).map_or("unknown", Command::name)
    }

    pub(crate) fn request_finished(command: &str, known: Option<Command>, elapsed: Duration, outcome: Outcome) {
        let keys = request_keys(command, known);
        metrics::with_recorder(|recorder| {
            recorder.register_counter(&keys.by_outcome[outcome as usize], &METADATA).increment(1);
            recorder.register_histogram(&keys.duration, &METADATA).record(elapsed.as_secs_f64());
        });
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

    pub(crate) fn dead_letter_lost(command: &str, reason: &str) {
        let reason = reason.to_owned();
        metrics::counter!("tencent_chat_callbacks_dead_letters_lost_total", "command" => label(command), "reason" => reason)
            .increment(1);
    }

    pub(crate) fn dedup_conflict(command: &str) {
        metrics::counter!("tencent_chat_callbacks_dedup_conflicts_total", "command" => label(command)).increment(1);
    }

    pub(crate) fn deadline_missed(command: &str) {
        metrics::counter!("tencent_chat_callbacks_deadline_misses_total", "command" => label(command)).increment(1);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn every_command_has_its_own_keys_and_strangers_share_one() {
            for &command in Command::ALL {
                let keys = request_keys(command.name(), None);
                assert!(std::ptr::eq(keys, request_keys("", Some(command))));
                assert!(keys.duration.labels().any(|l| l.value() == command.name()), "{command:?}");
            }
            let unknown = request_keys("Brand.New\nCommand", None);
            assert!(unknown.duration.labels().any(|l| l.value() == "unknown"));
        }
    }
}

/// The same calls, recording nothing.
#[cfg(not(feature = "metrics"))]
mod disabled {
    use std::time::Duration;

    use super::Outcome;
    use crate::Command;
    use crate::policy::FailurePolicy;

    pub(crate) fn request_finished(_command: &str, _known: Option<Command>, _elapsed: Duration, _outcome: Outcome) {}

    pub(crate) fn failure_policy_used(_command: &str, _policy: FailurePolicy, _reason: &'static str) {}

    pub(crate) fn dead_lettered(_command: &str, _reason: &str) {}

    pub(crate) fn dead_letter_lost(_command: &str, _reason: &str) {}

    pub(crate) fn dedup_conflict(_command: &str) {}

    pub(crate) fn deadline_missed(_command: &str) {}
}
