//! SHA-256, for `Sign` and for dedup keys, from `hmac-sha256`: one file with no dependencies,
//! where `sha2` brought `digest`, `generic-array` and `typenum` into every dependent's build.
//! [`Sha256`] and [`Digest`] have the names and methods of `sha2`'s, so the callers read the same.

use std::ops::Deref;

/// The methods of `sha2::Digest` the crate uses.
pub(crate) trait Digest: Sized {
    /// A hasher with nothing hashed yet.
    fn new() -> Self;

    /// Hashes `data` next.
    fn update(&mut self, data: impl AsRef<[u8]>);

    /// Hashes `data` next, for chaining.
    fn chain_update(mut self, data: impl AsRef<[u8]>) -> Self {
        self.update(data);
        self
    }

    /// The digest of everything hashed.
    fn finalize(self) -> Output;

    /// The digest of `data` alone.
    fn digest(data: impl AsRef<[u8]>) -> Output {
        Self::new().chain_update(data).finalize()
    }
}

/// A SHA-256 hasher.
pub(crate) struct Sha256(hmac_sha256::Hash);

impl Digest for Sha256 {
    fn new() -> Self {
        Sha256(hmac_sha256::Hash::new())
    }

    fn update(&mut self, data: impl AsRef<[u8]>) {
        self.0.update(data);
    }

    fn finalize(self) -> Output {
        Output(self.0.finalize())
    }
}

/// A digest: 32 bytes, as bytes or as an array (`.into()`), like `sha2`'s output.
pub(crate) struct Output([u8; 32]);

impl Deref for Output {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Output {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Output> for [u8; 32] {
    fn from(output: Output) -> [u8; 32] {
        output.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-2's examples, and one input over a block long, hashed in pieces.
    #[test]
    fn known_digests() {
        let hex = |output: Output| hex::encode(output);
        assert_eq!(hex(Sha256::digest(b"")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hex(Sha256::digest("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(
            hex(Sha256::digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let mut pieces = Sha256::new();
        for _ in 0..1000 {
            pieces.update([b'a'; 1000]);
        }
        assert_eq!(hex(pieces.finalize()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        let bytes: [u8; 32] = Sha256::new().chain_update("ab").chain_update("c").finalize().into();
        assert_eq!(bytes[..], Sha256::digest("abc")[..]);
    }
}
