//! The values of guest-set-user-password, checked once with qemu-ga's rules.
//! A `UserName` or a `Password` can only hold what may go into chpasswd's
//! `user:password` line, and decoding an internal message checks them again,
//! so the helper never sees anything else whatever the front sends.

use crate::error::QgaError;
use crate::qbase64;
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// An account name without the characters that would break chpasswd's
/// line format (newline, `:`) or a C string (NUL).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn new(name: String) -> Result<UserName, QgaError> {
        if name.contains(['\n', ':', '\0']) {
            return Err(QgaError::username_forbidden_characters());
        }
        Ok(UserName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = QgaError;
    fn try_from(name: String) -> Result<Self, QgaError> {
        UserName::new(name)
    }
}

impl From<UserName> for String {
    fn from(name: UserName) -> String {
        name.0
    }
}

impl fmt::Debug for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// A new password, clear text or already hashed, as bytes: no newline (it
/// would start another chpasswd line) and no NUL (qemu-ga would silently
/// cut the password there). It never prints and is wiped when dropped.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<u8>")]
pub struct Password(Vec<u8>);

impl Password {
    pub fn new(bytes: Vec<u8>) -> Result<Password, QgaError> {
        let password = Password(bytes);
        if password.0.contains(&b'\n') || password.0.contains(&0) {
            return Err(QgaError::password_forbidden_characters());
        }
        Ok(password)
    }

    /// The host's base64 argument, decoded as qemu-ga decodes it.
    pub fn from_base64(encoded: &str) -> Result<Password, QgaError> {
        Password::new(qbase64::decode(encoded)?)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<Vec<u8>> for Password {
    type Error = QgaError;
    fn try_from(bytes: Vec<u8>) -> Result<Self, QgaError> {
        Password::new(bytes)
    }
}

impl Serialize for Password {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the wipe from being optimised away as a dead store.
        std::hint::black_box(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_ga_rules() {
        assert!(UserName::new("alice".into()).is_ok());
        for bad in ["a:b", "a\nb", "a\0b"] {
            assert_eq!(
                UserName::new(bad.into()).unwrap_err(),
                QgaError::username_forbidden_characters()
            );
        }
        assert_eq!(
            Password::from_base64("czNjcjN0").unwrap().as_bytes(),
            b"s3cr3t"
        );
        // A colon is fine in a password: chpasswd splits at the first one.
        assert_eq!(Password::from_base64("YTpi").unwrap().as_bytes(), b"a:b");
        for bad in ["YQpi", "YQBi"] {
            assert_eq!(
                Password::from_base64(bad).unwrap_err(),
                QgaError::password_forbidden_characters()
            );
        }
        assert_eq!(
            Password::from_base64("!!").unwrap_err(),
            QgaError::base64_invalid()
        );
    }

    #[test]
    fn password_never_prints() {
        let p = Password::from_base64("czNjcjN0").unwrap();
        assert!(!format!("{p:?}").contains("s3cr3t"));
    }

    #[test]
    fn decoding_a_message_checks_again() {
        let bytes = postcard::to_allocvec(&("a:b".to_string(), b"x\ny".to_vec())).unwrap();
        assert!(postcard::from_bytes::<(UserName, Vec<u8>)>(&bytes).is_err());
        let bytes = postcard::to_allocvec(&("ab".to_string(), b"x\ny".to_vec())).unwrap();
        assert!(postcard::from_bytes::<(UserName, Password)>(&bytes).is_err());
        let bytes = postcard::to_allocvec(&("ab".to_string(), b"xy".to_vec())).unwrap();
        let (name, password) = postcard::from_bytes::<(UserName, Password)>(&bytes).unwrap();
        assert_eq!((name.as_str(), password.as_bytes()), ("ab", &b"xy"[..]));
    }
}
