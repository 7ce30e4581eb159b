//! Random identifiers and their hashes.
//!
//! Session ids and tokens carry 256 bits from the OS RNG. Stores keep only the
//! SHA-256 of a credential; logs show only a short prefix of that hash.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A new 256-bit random credential, base64url without padding (43 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The OS RNG failing is unrecoverable: no safe credential can be issued.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The storage key of a credential: hex SHA-256.
pub fn hash_credential(credential: &str) -> String {
    sha256_hex(credential.as_bytes())
}

/// Hex SHA-256 of some bytes (a credential, an image as registered).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A log-safe handle for a hashed credential or identifier: 12 hex characters.
pub fn log_id(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// Characters of a session key that name the session to the page.
const SESSION_NAME_LEN: usize = 16;

/// A session's public name: the first 16 hex characters of its key (the
/// SHA-256 of its cookie). A page names its session by it in every call,
/// and the session's cookie is named after it, so one browser holds one
/// cookie per capture session. Not a secret: it cannot be turned back into
/// the cookie, and a cookie whose hash does not start with it is refused.
pub fn session_name(session_key: &str) -> &str {
    session_key.get(..SESSION_NAME_LEN).unwrap_or(session_key)
}

/// Whether `s` has the shape of a [`session_name`].
pub fn valid_session_name(s: &str) -> bool {
    s.len() == SESSION_NAME_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How many trailing characters of an identifier a screen may show: the
/// GP's own desktop four, a phone three.
pub const DESKTOP_TAIL: usize = 4;
/// See [`DESKTOP_TAIL`].
pub const PHONE_TAIL: usize = 3;

/// The last `n` characters of an identifier, behind "···".
pub fn masked_tail(id: &str, n: usize) -> String {
    let tail: String = id.chars().skip(id.chars().count().saturating_sub(n)).collect();
    format!("···{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_long_random_and_url_safe() {
        let tokens: HashSet<String> = (0..1000).map(|_| random_token()).collect();
        assert_eq!(tokens.len(), 1000);
        for t in &tokens {
            assert_eq!(t.len(), 43);
            assert!(t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }

    #[test]
    fn hashes_are_stable_and_do_not_contain_the_credential() {
        let h = hash_credential("abc");
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(log_id(&h), "ba7816bf8f01");
    }

    #[test]
    fn a_session_is_named_by_its_keys_prefix() {
        let key = hash_credential("a cookie");
        let name = session_name(&key);
        assert!(valid_session_name(name));
        assert!(key.starts_with(name));
        assert!(!valid_session_name(&key));
        assert!(!valid_session_name("ABCDEF0123456789"));
        assert!(!valid_session_name("0123456789abcde"));
    }

    #[test]
    fn masked_tails_show_only_the_end() {
        assert_eq!(masked_tail("14e52e16edb7a435bfa05e307afd008b", DESKTOP_TAIL), "···008b");
        assert_eq!(masked_tail("ZZZ0016", PHONE_TAIL), "···016");
        assert_eq!(masked_tail("ab", PHONE_TAIL), "···ab");
    }
}
