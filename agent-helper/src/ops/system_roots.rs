//! Where the operations read kernel state: the sysfs and procfs mount
//! points and udev's device database. The defaults are the real ones; tests
//! and containers point them at other trees (`--sysfs-root`,
//! `--procfs-root`, `--udev-data-dir`), and the same code runs either way.

use std::path::{Path, PathBuf};

pub const DEFAULT_SYSFS_ROOT: &str = "/sys";
pub const DEFAULT_PROCFS_ROOT: &str = "/proc";
pub const DEFAULT_UDEV_DATA_DIR: &str = "/run/udev/data";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemRoots {
    pub sysfs: PathBuf,
    pub procfs: PathBuf,
    pub udev_data: PathBuf,
}

impl Default for SystemRoots {
    fn default() -> Self {
        SystemRoots {
            sysfs: PathBuf::from(DEFAULT_SYSFS_ROOT),
            procfs: PathBuf::from(DEFAULT_PROCFS_ROOT),
            udev_data: PathBuf::from(DEFAULT_UDEV_DATA_DIR),
        }
    }
}

impl SystemRoots {
    /// `relative` below the sysfs root, as text: qemu-ga's messages quote
    /// these paths, and with the default root they read exactly the same.
    pub fn sys(&self, relative: &str) -> String {
        under(&self.sysfs, relative)
    }

    pub fn proc(&self, relative: &str) -> String {
        under(&self.procfs, relative)
    }
}

fn under(root: &Path, relative: &str) -> String {
    let root = root.to_string_lossy();
    format!("{}/{relative}", root.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_are_the_real_ones() {
        let roots = SystemRoots::default();
        assert_eq!(
            roots.sys("devices/system/cpu/cpu1/"),
            "/sys/devices/system/cpu/cpu1/"
        );
        assert_eq!(roots.proc("net/dev"), "/proc/net/dev");
        let moved = SystemRoots {
            sysfs: PathBuf::from("/tmp/fixture/sys/"),
            ..SystemRoots::default()
        };
        assert_eq!(moved.sys("block"), "/tmp/fixture/sys/block");
    }
}
