//! What the helper remembers across restarts, in the statedir, under the
//! same names qemu-ga uses so either agent picks up where the other left
//! off: `qga.state.isfrozen` exists while filesystems are frozen, and
//! `qga.state` holds the next guest-file handle (`[global]\nfd_counter=N\n`),
//! so handle numbers keep growing across restarts.

use crate::ops::mounts::{escape, unescape};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first guest-file handle of a fresh statedir (qemu-ga's too).
pub const FIRST_FILE_HANDLE: i64 = 1000;

#[derive(Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn open(dir: &Path) -> io::Result<StateDir> {
        let meta = std::fs::metadata(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("statedir {}: {e}", dir.display())))?;
        if !meta.is_dir() {
            return Err(io::Error::other(format!(
                "statedir {} is not a directory",
                dir.display()
            )));
        }
        Ok(StateDir {
            dir: dir.to_path_buf(),
        })
    }

    fn frozen_marker(&self) -> PathBuf {
        self.dir.join("qga.state.isfrozen")
    }

    /// True when a previous run froze filesystems and did not thaw them.
    pub fn is_frozen(&self) -> bool {
        self.frozen_marker().exists()
    }

    /// Records, before anything is frozen, that filesystems are about to be
    /// and which: qemu-ga's marker file (qemu-ga only checks that it exists)
    /// holding one escaped mount point per line, so a helper restarted after
    /// a crash knows it is frozen and what to thaw. Written to a temporary
    /// name, synced, then renamed, so the record is whole or absent.
    pub fn record_frozen(&self, mountpoints: &[PathBuf]) -> io::Result<()> {
        let mut text = Vec::new();
        for m in mountpoints {
            text.extend_from_slice(&escape(m.as_os_str().as_bytes()));
            text.push(b'\n');
        }
        self.replace_atomically("qga.state.isfrozen", &text)
    }

    /// Writes `name` in the statedir as a whole: a temporary file, synced,
    /// then renamed over it, so a crash leaves the old or the new content,
    /// never half of one, and a planted symlink is never followed.
    fn replace_atomically(&self, name: &str, content: &[u8]) -> io::Result<()> {
        let temporary = self.dir.join(format!("{name}.new"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temporary, self.dir.join(name))
    }

    /// The mount points a previous run recorded as frozen (none for the
    /// empty marker qemu-ga leaves).
    pub fn frozen_mountpoints(&self) -> Vec<PathBuf> {
        let Ok(text) = std::fs::read(self.frozen_marker()) else {
            return Vec::new();
        };
        text.split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| PathBuf::from(OsString::from_vec(unescape(line))))
            .collect()
    }

    /// Removes the marker once everything is thawed.
    pub fn clear_frozen(&self) -> io::Result<()> {
        match std::fs::remove_file(self.frozen_marker()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn persistent_state(&self) -> PathBuf {
        self.dir.join("qga.state")
    }

    /// The next guest-file handle. A missing or unreadable record starts
    /// again at 1000: handles do not outlive the agent, so reuse is safe.
    pub fn load_fd_counter(&self) -> i64 {
        self.recorded_fd_counter()
            .filter(|&n| n >= FIRST_FILE_HANDLE)
            .unwrap_or(FIRST_FILE_HANDLE)
    }

    /// The counter as the record holds it, if there is a readable one.
    pub fn recorded_fd_counter(&self) -> Option<i64> {
        std::fs::read_to_string(self.persistent_state())
            .ok()
            .and_then(|text| parse_fd_counter(&text))
    }

    /// Records the next guest-file handle, atomically.
    pub fn store_fd_counter(&self, next: i64) -> io::Result<()> {
        self.replace_atomically(
            "qga.state",
            format!("[global]\nfd_counter={next}\n").as_bytes(),
        )
    }
}

/// `fd_counter` in the `[global]` group of a GLib key file.
fn parse_fd_counter(text: &str) -> Option<i64> {
    let mut in_global = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_global = line == "[global]";
        } else if in_global {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "fd_counter" {
                    return value.trim().parse().ok();
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_counter_parses_qemu_gas_record() {
        assert_eq!(parse_fd_counter("[global]\nfd_counter=1010\n"), Some(1010));
        assert_eq!(
            parse_fd_counter("# c\n[other]\nfd_counter=5\n[global]\nfd_counter = 1234\n"),
            Some(1234)
        );
        assert_eq!(parse_fd_counter("[global]\nfd_counter=x\n"), None);
        assert_eq!(parse_fd_counter(""), None);
    }

    #[test]
    fn fd_counter_round_trips_and_defaults() {
        let dir = std::env::temp_dir().join(format!("qga-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = StateDir::open(&dir).unwrap();
        assert_eq!(state.load_fd_counter(), FIRST_FILE_HANDLE);
        state.store_fd_counter(1007).unwrap();
        assert_eq!(state.load_fd_counter(), 1007);
        assert_eq!(
            std::fs::read_to_string(dir.join("qga.state")).unwrap(),
            "[global]\nfd_counter=1007\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn frozen_record_round_trips_and_clears() {
        let dir = std::env::temp_dir().join(format!("qga-state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let state = StateDir::open(&dir).unwrap();
        assert!(!state.is_frozen());
        let paths = [PathBuf::from("/"), PathBuf::from("/mnt/a b\nc")];
        state.record_frozen(&paths).unwrap();
        assert!(state.is_frozen());
        assert_eq!(state.frozen_mountpoints(), paths);
        state.clear_frozen().unwrap();
        assert!(!state.is_frozen());
        state.clear_frozen().unwrap();
        // qemu-ga's empty marker: frozen, nothing recorded.
        std::fs::write(dir.join("qga.state.isfrozen"), b"").unwrap();
        assert!(state.is_frozen());
        assert!(state.frozen_mountpoints().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
