//! Before-callbacks through the relay: the envelope is POSTed to a decision endpoint, signed as
//! deliveries are, and its JSON reply becomes the answer to the vendor.

use std::time::Duration;

use bytes::Bytes;
use hyper::Uri;
use tencent_chat_callbacks::envelope::Envelope;

use crate::deliver::{SignedClient, http_url};

/// Why no decision came back; the relay then answers by its failure policy.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DecideError {
    #[error("the decision endpoint failed: {0}")]
    Exchange(String),
    #[error("the decision endpoint answered with status {0}")]
    Status(u16),
}

/// A client for the `--decide` endpoint.
#[derive(Debug)]
pub(crate) struct Decider {
    client: SignedClient,
    url: Uri,
    timeout: Duration,
}

impl Decider {
    /// A client for `url` that gives each decision at most `timeout`.
    pub(crate) fn new(url: &str, timeout: Duration, client: SignedClient) -> Result<Decider, String> {
        Ok(Decider { client, url: http_url("--decide", url)?, timeout })
    }

    /// POSTs the envelope and returns the reply body of a 200 answer.
    pub(crate) async fn decide(&self, envelope: &Envelope) -> Result<Bytes, DecideError> {
        let body = Bytes::from(envelope.to_json());
        let answer = self
            .client
            .post(&self.url, &envelope.dedup_key, body, self.timeout)
            .await
            .map_err(DecideError::Exchange)?;
        if answer.status != 200 {
            return Err(DecideError::Status(answer.status));
        }
        Ok(answer.body)
    }
}
