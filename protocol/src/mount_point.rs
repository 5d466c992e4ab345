//! A mount point named by the host (guest-fsfreeze-freeze-list): an
//! absolute path without NUL bytes, no longer than the kernel's PATH_MAX.
//! Anything else can never name a mounted filesystem; qemu-ga compares each
//! name with the mount table and silently skips those that match nothing.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kernel's PATH_MAX, including the terminating NUL.
const PATH_MAX: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MountPoint(String);

#[derive(Debug, PartialEq, Eq)]
pub struct NotAMountPoint;

impl fmt::Display for NotAMountPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not an absolute path of at most PATH_MAX bytes without NUL")
    }
}

impl TryFrom<String> for MountPoint {
    type Error = NotAMountPoint;

    fn try_from(path: String) -> Result<Self, Self::Error> {
        if path.starts_with('/') && path.len() < PATH_MAX && !path.contains('\0') {
            Ok(MountPoint(path))
        } else {
            Err(NotAMountPoint)
        }
    }
}

impl From<MountPoint> for String {
    fn from(m: MountPoint) -> String {
        m.0
    }
}

impl MountPoint {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_nul_free_bounded_paths() {
        assert!(MountPoint::try_from("/mnt/data".to_string()).is_ok());
        assert!(MountPoint::try_from("/".to_string()).is_ok());
        for bad in ["", "mnt", "./x", "/a\0b"] {
            assert_eq!(MountPoint::try_from(bad.to_string()), Err(NotAMountPoint));
        }
        let long = format!("/{}", "a".repeat(PATH_MAX));
        assert_eq!(MountPoint::try_from(long), Err(NotAMountPoint));
    }

    #[test]
    fn a_hostile_peer_cannot_smuggle_a_relative_path() {
        let bytes = postcard::to_allocvec(&"relative".to_string()).unwrap();
        assert!(postcard::from_bytes::<MountPoint>(&bytes).is_err());
        let bytes = postcard::to_allocvec(&"/ok".to_string()).unwrap();
        assert_eq!(
            postcard::from_bytes::<MountPoint>(&bytes).unwrap().as_str(),
            "/ok"
        );
    }
}
