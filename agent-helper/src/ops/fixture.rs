//! Sysfs- and procfs-like trees in a private temporary directory, for the
//! operations' unit tests. They stand in where the real thing cannot be
//! changed safely on a shared build machine: offlining its CPUs or memory,
//! or inventing disks, controllers and mounts. The same operations run on
//! the real /sys and /proc in the integration tests and in the test guest.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::system::SystemPaths;

pub struct Fixture {
    pub root: PathBuf,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("qga-fixture-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create fixture root");
        Fixture { root }
    }

    /// Paths pointing into this tree (`sys/`, `proc/`, `udev/`).
    pub fn paths(&self) -> SystemPaths {
        SystemPaths {
            sysfs_root: self.root.join("sys"),
            procfs_root: self.root.join("proc"),
            udev_data_dir: self.root.join("udev"),
            ..SystemPaths::default()
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn dir(&self, relative: &str) -> &Self {
        std::fs::create_dir_all(self.path(relative)).expect("create fixture dir");
        self
    }

    pub fn file(&self, relative: &str, content: &str) -> &Self {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create fixture dir");
        }
        std::fs::write(&path, content).expect("write fixture file");
        self
    }

    /// A symlink at `relative` whose target is `target` as written
    /// (relative targets resolve as they would in sysfs).
    pub fn link(&self, relative: &str, target: impl AsRef<Path>) -> &Self {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create fixture dir");
        }
        symlink(target, &path).expect("create fixture symlink");
        self
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path(relative)).expect("read fixture file")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
