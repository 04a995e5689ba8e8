//! Bearer tokens: 192 random bits, shown once, stored as their SHA-256, compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix of device tokens (`cbd_…`), so a leaked token is recognisable.
pub const DEVICE_PREFIX: &str = "cbd_";
/// Prefix of admin and pipeline API tokens (`cba_…`).
pub const API_PREFIX: &str = "cba_";

/// A new random token with the given prefix (24 random bytes, base64url).
pub fn mint(prefix: &str) -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What is stored for a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Constant-time comparison of a presented token with a stored hash.
pub fn matches(token: &str, stored: &[u8]) -> bool {
    hash(token).ct_eq(stored).into()
}

/// A random value for CSRF tokens and the like (hex).
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(buf.as_mut_slice());
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_are_unique_and_match_their_hash() {
        let a = mint(DEVICE_PREFIX);
        let b = mint(DEVICE_PREFIX);
        assert_ne!(a, b);
        assert!(a.len() >= 4 + 32);
        assert!(matches(&a, &hash(&a)));
        assert!(!matches(&b, &hash(&a)));
    }
}
