//! Before-callbacks through the relay: the envelope is POSTed to a decision endpoint, whose JSON
//! reply becomes the answer to the vendor.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tencent_chat_callbacks::envelope::Envelope;

/// The largest decision reply read.
const MAX_REPLY_BYTES: usize = 1 << 20;

/// Why no decision came back; the relay then answers by its failure policy.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecideError {
    #[error("the decision endpoint did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the decision endpoint could not be reached: {0}")]
    Unreachable(String),
    #[error("the decision endpoint answered with status {0}")]
    Status(u16),
    #[error("the decision endpoint's reply could not be read: {0}")]
    Body(String),
}

/// A client for the `--decide` endpoint (plain HTTP, as it runs next to the relay).
pub(crate) struct Decider {
    client: Client<HttpConnector, Full<Bytes>>,
    url: Uri,
    timeout: Duration,
}

impl Decider {
    /// A client for `url` that gives each decision at most `timeout`.
    pub(crate) fn new(url: &str, timeout: Duration) -> Result<Decider, String> {
        let url: Uri = url.parse().map_err(|e| format!("--decide {url}: {e}"))?;
        if url.scheme_str() != Some("http") {
            return Err(format!("--decide {url}: only http:// endpoints are supported"));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Decider { client: Client::builder(TokioExecutor::new()).build(connector), url, timeout })
    }

    /// POSTs the envelope and returns the reply body of a 200 answer.
    pub(crate) async fn decide(&self, envelope: &Envelope) -> Result<Bytes, DecideError> {
        let request = hyper::Request::post(self.url.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(envelope.to_json())))
            .map_err(|e| DecideError::Unreachable(e.to_string()))?;
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| DecideError::Unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), MAX_REPLY_BYTES)
                .collect()
                .await
                .map_err(|e| DecideError::Body(e.to_string()))?
                .to_bytes();
            if status != 200 {
                return Err(DecideError::Status(status));
            }
            Ok(body)
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| DecideError::Timeout(self.timeout))?
    }
}
