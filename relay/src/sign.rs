//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): what lets the service
//! behind the relay tell the relay from anyone else. Tencent's `Sign` covers only the token and
//! the time, never the body, so the hop behind the relay is where a signature of the body belongs.
//!
//! A request carries `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`
//! (`v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`, keyed by the base64-decoded secret
//! after `whsec_`). Verifiers exist in many languages (`standardwebhooks` on PyPI and npm among
//! them); the relay's tests verify with both.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The prefix of a Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// The longest dedup key sent as it is as `webhook-id`; a longer one (or one that is not plain
/// printable ASCII, which a header cannot carry) is sent as its SHA-256, so the id stays stable.
const MAX_PLAIN_ID: usize = 200;

/// Signs requests with one secret.
#[derive(Clone)]
pub(crate) struct Signer {
    key: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    // The key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer for `whsec_<base64>`; the prefix is optional, as the reference libraries allow.
    pub(crate) fn from_secret(secret: &str) -> Result<Signer, String> {
        let encoded = secret.trim().strip_prefix(SECRET_PREFIX).unwrap_or(secret.trim());
        let key = STANDARD.decode(encoded).map_err(|e| format!("the secret is not whsec_ and base64: {e}"))?;
        if key.len() < 16 {
            return Err(format!("the secret is {} bytes; at least 16 are needed (24 to 64 advised)", key.len()));
        }
        Ok(Signer { key })
    }

    /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.
    pub(crate) fn signature(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }

    /// The three headers for `body` sent now under `id`.
    pub(crate) fn headers(&self, id: &str, body: &[u8]) -> [(&'static str, String); 3] {
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        [
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", self.signature(id, timestamp, body)),
        ]
    }
}

/// The `webhook-id` of an event: its dedup key, so that every redelivery has the same id and the
/// service can drop repeats by it. A key a header cannot carry as it is becomes `sha256:<hex>`.
pub(crate) fn webhook_id(dedup_key: &str) -> String {
    let plain = dedup_key.len() <= MAX_PLAIN_ID && dedup_key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if plain { dedup_key.to_owned() } else { format!("sha256:{}", hex::encode(Sha256::digest(dedup_key.as_bytes()))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries' own tests.
    #[test]
    fn the_reference_example_signs_the_same() {
        let signer = Signer::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = signer.signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_ne!(signer.signature("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, br#"{"test": 2432232314}"#), signature);
    }

    #[test]
    fn bad_secrets_are_refused() {
        assert!(Signer::from_secret("whsec_not base64!").is_err());
        assert!(Signer::from_secret("whsec_c2hvcnQ=").is_err(), "5 bytes");
        assert!(Signer::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok(), "the prefix is optional");
        assert_eq!(format!("{:?}", Signer::from_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap()), "Signer(..)");
    }

    #[test]
    fn ids_are_the_dedup_key_or_its_hash() {
        assert_eq!(webhook_id("C2C.CallbackAfterSendMsg:MsgKey=1_2_3"), "C2C.CallbackAfterSendMsg:MsgKey=1_2_3");
        let odd = webhook_id("C2C.CallbackAfterSendMsg:MsgKey=a\nb");
        assert!(odd.starts_with("sha256:") && odd.len() == 71, "{odd}");
        assert_eq!(odd, webhook_id("C2C.CallbackAfterSendMsg:MsgKey=a\nb"), "stable");
        assert!(webhook_id(&"x".repeat(300)).starts_with("sha256:"));
    }
}
