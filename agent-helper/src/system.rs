//! Where the operations find the system they act on: the programs they run
//! and the kernel and account files they read and write. Production uses
//! the defaults (qemu-ga's programs, `/sys`, `/proc`, udev's database, `/`);
//! tests point them at fixtures and recording scripts with command-line
//! options, and the same code runs either way.

use crate::runner::PROGRAM_PATH;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A program an operation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Chpasswd,
    Shutdown,
    Systemctl,
    PmIsSupported,
    PmHibernate,
    PmSuspend,
    PmSuspendHybrid,
}

impl Program {
    pub const ALL: &'static [Program] = &[
        Program::Chpasswd,
        Program::Shutdown,
        Program::Systemctl,
        Program::PmIsSupported,
        Program::PmHibernate,
        Program::PmSuspend,
        Program::PmSuspendHybrid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Program::Chpasswd => "chpasswd",
            Program::Shutdown => "shutdown",
            Program::Systemctl => "systemctl",
            Program::PmIsSupported => "pm-is-supported",
            Program::PmHibernate => "pm-hibernate",
            Program::PmSuspend => "pm-suspend",
            Program::PmSuspendHybrid => "pm-suspend-hybrid",
        }
    }

    pub fn from_name(name: &str) -> Option<Program> {
        Program::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// qemu-ga runs shutdown from a fixed path and looks the others up in
    /// its PATH; the helper searches a fixed list of directories instead.
    fn fixed_path(self) -> Option<&'static str> {
        match self {
            Program::Shutdown => Some("/sbin/shutdown"),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SystemPaths {
    /// Where sysfs is mounted (`/sys`).
    pub sysfs_root: PathBuf,
    /// The root whose /etc/passwd and /etc/shadow guest-set-user-password
    /// changes; `None` is the real one (chpasswd then runs without `-R`).
    pub password_root: Option<PathBuf>,
    /// Programs run from another path than the default.
    pub program_overrides: Vec<(Program, PathBuf)>,
    /// Where procfs is mounted (`/proc`).
    pub procfs_root: PathBuf,
    /// udev's device database (`/run/udev/data`): disk serials and
    /// device-mapper names.
    pub udev_data_dir: PathBuf,
}

impl Default for SystemPaths {
    fn default() -> Self {
        SystemPaths {
            sysfs_root: PathBuf::from("/sys"),
            password_root: None,
            program_overrides: Vec::new(),
            procfs_root: PathBuf::from("/proc"),
            udev_data_dir: PathBuf::from("/run/udev/data"),
        }
    }
}

impl SystemPaths {
    /// The program's executable, or `None` when it is not installed.
    pub fn program(&self, program: Program) -> Option<PathBuf> {
        let candidate = |path: PathBuf| is_executable(&path).then_some(path);
        if let Some((_, path)) = self.program_overrides.iter().find(|(p, _)| *p == program) {
            return candidate(path.clone());
        }
        if let Some(path) = program.fixed_path() {
            return candidate(PathBuf::from(path));
        }
        PROGRAM_PATH
            .split(':')
            .find_map(|dir| candidate(Path::new(dir).join(program.name())))
    }

    /// `relative` below the sysfs root, as text: qemu-ga's messages quote
    /// these paths, and with the default root they read exactly the same.
    pub fn sys(&self, relative: &str) -> String {
        under(&self.sysfs_root, relative)
    }

    /// `relative` below the procfs root, as text.
    pub fn proc(&self, relative: &str) -> String {
        under(&self.procfs_root, relative)
    }

    /// `/etc/passwd` of the password root.
    pub fn passwd_file(&self) -> PathBuf {
        self.password_root
            .as_deref()
            .unwrap_or(Path::new("/"))
            .join("etc/passwd")
    }
}

fn under(root: &Path, relative: &str) -> String {
    let root = root.to_string_lossy();
    format!("{}/{relative}", root.trim_end_matches('/'))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &p in Program::ALL {
            assert_eq!(Program::from_name(p.name()), Some(p));
        }
        assert_eq!(Program::from_name("rm"), None);
    }

    #[test]
    fn overrides_win_and_missing_programs_are_none() {
        let mut paths = SystemPaths::default();
        paths
            .program_overrides
            .push((Program::Systemctl, PathBuf::from("/bin/true")));
        paths
            .program_overrides
            .push((Program::PmSuspend, PathBuf::from("/nonexistent/pm-suspend")));
        assert_eq!(
            paths.program(Program::Systemctl),
            Some(PathBuf::from("/bin/true"))
        );
        assert_eq!(paths.program(Program::PmSuspend), None);
        assert_eq!(paths.passwd_file(), PathBuf::from("/etc/passwd"));
    }

    #[test]
    fn kernel_paths_default_to_the_real_ones() {
        let paths = SystemPaths::default();
        assert_eq!(
            paths.sys("devices/system/cpu/cpu1/"),
            "/sys/devices/system/cpu/cpu1/"
        );
        assert_eq!(paths.proc("net/dev"), "/proc/net/dev");
        let moved = SystemPaths {
            sysfs_root: PathBuf::from("/tmp/fixture/sys/"),
            ..SystemPaths::default()
        };
        assert_eq!(moved.sys("block"), "/tmp/fixture/sys/block");
    }
}
