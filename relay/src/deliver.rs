//! Delivery to an HTTP service: one signed POST of an envelope, and what its answer means for a
//! retry. The retry schedule lives here too, so the synchronous hand-off and the stream workers
//! count attempts the same way.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::sign::{Signer, webhook_id};

/// The largest reply body read (a decision; a delivery's reply is read only to reuse the
/// connection).
pub(crate) const MAX_REPLY_BYTES: usize = 1 << 20;

/// The longest `Retry-After` honoured; a service asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// A plain-HTTP client that signs every request it sends (when it has a secret).
#[derive(Debug, Clone)]
pub(crate) struct SignedClient {
    client: Client<HttpConnector, Full<Bytes>>,
    signer: Option<Signer>,
}

/// An answer to a POST.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Bytes,
}

impl SignedClient {
    pub(crate) fn new(signer: Option<Signer>) -> SignedClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(2)));
        SignedClient { client: Client::builder(TokioExecutor::new()).build(connector), signer }
    }

    /// POSTs `body` as JSON under `dedup_key`'s `webhook-id`, signed, within `timeout`.
    pub(crate) async fn post(
        &self,
        url: &Uri,
        dedup_key: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Answer, String> {
        let mut request = hyper::Request::post(url.clone()).header(hyper::header::CONTENT_TYPE, "application/json");
        if let Some(signer) = &self.signer {
            for (name, value) in signer.headers(&webhook_id(dedup_key), &body) {
                request = request.header(name, value);
            }
        }
        let request = request.body(Full::new(body)).map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| format!("unreachable: {e}"))?;
            let status = response.status().as_u16();
            let retry_after = response.headers().get(hyper::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
            let retry_after = retry_after.and_then(parse_retry_after);
            let body = http_body_util::Limited::new(response.into_body(), MAX_REPLY_BYTES)
                .collect()
                .await
                .map_err(|e| format!("the reply could not be read: {e}"))?
                .to_bytes();
            Ok(Answer { status, retry_after, body })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("no answer within {timeout:?}"))?
    }
}

/// `Retry-After` as seconds or as an HTTP date, capped at an hour.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let wait = match value.trim().parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value.trim()).ok()?.duration_since(SystemTime::now()).unwrap_or_default(),
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Parses an `http://` URL given to `flag`.
pub(crate) fn http_url(flag: &str, url: &str) -> Result<Uri, String> {
    let parsed: Uri = url.parse().map_err(|e| format!("{flag} {url}: {e}"))?;
    if parsed.scheme_str() != Some("http") {
        return Err(format!("{flag} {url}: only http:// endpoints are supported (terminate TLS in a sidecar)"));
    }
    Ok(parsed)
}

/// The service events are delivered to.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) client: SignedClient,
    pub(crate) url: Uri,
    /// How long one attempt may take.
    pub(crate) timeout: Duration,
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    /// A 2xx: the service has the event.
    Delivered,
    /// Anything else; worth another attempt, after `retry_after` at the earliest when the service
    /// said so.
    Failed { detail: String, retry_after: Option<Duration> },
}

impl Target {
    /// One signed POST of `envelope_json`, recorded in the delivery metrics.
    pub(crate) async fn attempt(&self, dedup_key: &str, envelope_json: Bytes) -> Attempt {
        let started = Instant::now();
        let answer = self.client.post(&self.url, dedup_key, envelope_json, self.timeout).await;
        metrics::histogram!("relay_delivery_seconds").record(started.elapsed().as_secs_f64());
        let attempt = match answer {
            Ok(answer) if (200..300).contains(&answer.status) => Attempt::Delivered,
            Ok(answer) => {
                Attempt::Failed { detail: format!("status {}", answer.status), retry_after: answer.retry_after }
            }
            Err(detail) => Attempt::Failed { detail, retry_after: None },
        };
        let outcome = if matches!(attempt, Attempt::Delivered) { "delivered" } else { "failed" };
        metrics::counter!("relay_delivery_attempts_total", "outcome" => outcome).increment(1);
        attempt
    }
}

/// When to try again: exponential back-off from `base`, capped at `max`, with full jitter over
/// the upper half (so replicas retrying one outage spread out), for `attempts` attempts in all.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    pub(crate) attempts: u32,
    pub(crate) base: Duration,
    pub(crate) max: Duration,
}

impl Schedule {
    /// The wait after failed attempt number `failed` (1-based), at least `retry_after`.
    pub(crate) fn wait(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self.base.saturating_mul(1 << failed.saturating_sub(1).min(20)).min(self.max);
        let jittered = exponential.mul_f64(0.5 + fastrand::f64() / 2.0);
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_the_cap_with_jitter_and_honours_retry_after() {
        let schedule = Schedule { attempts: 10, base: Duration::from_millis(100), max: Duration::from_secs(1) };
        for _ in 0..100 {
            let first = schedule.wait(1, None);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100), "{first:?}");
            let fourth = schedule.wait(4, None);
            assert!(fourth >= Duration::from_millis(400) && fourth <= Duration::from_millis(800), "{fourth:?}");
            let late = schedule.wait(30, None);
            assert!(late >= Duration::from_millis(500) && late <= Duration::from_secs(1), "{late:?}");
            assert!(schedule.wait(1, Some(Duration::from_secs(7))) == Duration::from_secs(7));
        }
    }

    #[test]
    fn retry_after_as_seconds_or_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("999999"), Some(MAX_RETRY_AFTER));
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
