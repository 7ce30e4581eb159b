//! The storage key of a capture session.

use serde::{Deserialize, Serialize};

/// The key a capture session is stored under: a hash of its cookie, never
/// the cookie itself. A type of its own, so that a session's key and an
/// image's id, both strings, cannot trade places in a call. Stored and
/// serialised as the bare string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn new(key: impl Into<String>) -> Self {
        SessionKey(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SessionKey {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_stored_as_the_bare_string() {
        let key = SessionKey::new("abc123");
        assert_eq!(serde_json::to_string(&key).unwrap(), r#""abc123""#);
        assert_eq!(serde_json::from_str::<SessionKey>(r#""abc123""#).unwrap(), key);
        assert_eq!(format!("session:{key}"), "session:abc123");
    }
}
