//! The validated values of the guest-ssh-*-authorized-keys requests. Both
//! are checked when they are made (in the front) and again when they are
//! decoded (in the helper), so an operation never sees a value that failed
//! qemu-ga's checks. A key's text is never shown by `Debug`, so it cannot
//! reach a log line by accident.

use crate::error::QgaError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// qemu-ga hands strings to C, which ends them at the first NUL.
fn c_string(s: &str) -> &str {
    s.split('\0').next().unwrap_or_default()
}

/// The account whose keys are read or changed, as qemu-ga looks it up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    /// The name as qemu-ga's passwd lookup sees it: up to the first NUL.
    pub fn new(name: &str) -> UserName {
        UserName(c_string(name).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        if name.contains('\0') {
            return Err("user name with a NUL byte".into());
        }
        Ok(UserName(name))
    }
}

impl From<UserName> for String {
    fn from(name: UserName) -> String {
        name.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Public keys in authorized_keys format that passed qemu-ga's check: none
/// starts with `#` (a comment) or holds a newline (a second line).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct PublicKeys(Vec<String>);

impl PublicKeys {
    /// Checks keys in order; the first bad one is reported with qemu-ga's
    /// text. Each key is taken up to its first NUL, as qemu-ga does.
    pub fn check(keys: &[String]) -> Result<PublicKeys, QgaError> {
        let keys: Vec<String> = keys.iter().map(|k| c_string(k).to_string()).collect();
        if let Some(bad) = keys.iter().find(|k| !is_acceptable(k)) {
            return Err(QgaError::ssh_invalid_key(bad));
        }
        Ok(PublicKeys(keys))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

fn is_acceptable(key: &str) -> bool {
    !key.starts_with('#') && !key.contains('\n') && !key.contains('\0')
}

impl TryFrom<Vec<String>> for PublicKeys {
    type Error = String;

    fn try_from(keys: Vec<String>) -> Result<Self, String> {
        if keys.iter().all(|k| is_acceptable(k)) {
            Ok(PublicKeys(keys))
        } else {
            Err("a public key failed the check".into())
        }
    }
}

impl From<PublicKeys> for Vec<String> {
    fn from(keys: PublicKeys) -> Vec<String> {
        keys.0
    }
}

impl fmt::Debug for PublicKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKeys(<{} keys>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::internal::{decode, encode};

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn qemu_ga_key_check() {
        assert!(PublicKeys::check(&keys(&["ssh-ed25519 AAAA x", "", "  k"])).is_ok());
        assert_eq!(
            PublicKeys::check(&keys(&["ok", "#c", "a\nb"]))
                .unwrap_err()
                .desc,
            "invalid OpenSSH public key: '#c'"
        );
        assert_eq!(
            PublicKeys::check(&keys(&["a\nb"])).unwrap_err().desc,
            "invalid OpenSSH public key: 'a\nb'"
        );
        // C strings end at the NUL: what follows is never looked at.
        let cut = PublicKeys::check(&keys(&["k1\0\n#"])).unwrap();
        assert_eq!(cut.as_slice(), ["k1"]);
        assert_eq!(UserName::new("root\0x").as_str(), "root");
    }

    #[test]
    fn decoding_checks_again() {
        let good = PublicKeys::check(&keys(&["k1", "k2"])).unwrap();
        let bytes = encode(&good).unwrap();
        assert_eq!(decode::<PublicKeys>(&bytes).unwrap(), good);
        let bad = encode(&keys(&["#not a key"])).unwrap();
        assert!(decode::<PublicKeys>(&bad).is_err());
        let bad_user = encode(&"a\0b".to_string()).unwrap();
        assert!(decode::<UserName>(&bad_user).is_err());
    }

    #[test]
    fn debug_never_shows_keys() {
        let k = PublicKeys::check(&keys(&["ssh-rsa SECRET"])).unwrap();
        assert!(!format!("{k:?}").contains("SECRET"));
    }
}
