//! What the helper remembers across restarts, in the statedir, under the
//! same names qemu-ga uses so either agent picks up where the other left
//! off: `qga.state.isfrozen` exists while filesystems are frozen.

use crate::ops::mounts::{escape, unescape};
use std::ffi::OsString;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
        let temporary = self.dir.join("qga.state.isfrozen.new");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, self.frozen_marker())
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
