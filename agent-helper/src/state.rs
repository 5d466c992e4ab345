//! What the helper remembers across restarts, in the statedir, under the
//! same names qemu-ga uses so either agent picks up where the other left
//! off: `qga.state.isfrozen` exists while filesystems are frozen.

use std::io;
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
}
