//! guest-fsfreeze-freeze, guest-fsfreeze-freeze-list and
//! guest-fsfreeze-thaw, with qemu-ga's semantics:
//!
//! - freeze: run the hook with `freeze`; record the frozen state; FIFREEZE
//!   each candidate filesystem in reverse mount order (a filesystem mounted
//!   inside another is frozen before it); EOPNOTSUPP (no freeze support) and
//!   EBUSY (already frozen, e.g. a bind mount of one already done) are
//!   skipped and not counted; any other failure thaws everything and reports
//!   the error. Freezing nothing leaves the agent thawed.
//! - thaw: FITHAW every candidate filesystem in mount order, repeating until
//!   the kernel refuses, and count those that thawed (a filesystem frozen by
//!   someone else is thawed and counted too, as qemu-ga does); clear the
//!   frozen state; run the hook with `thaw`.
//!
//! The helper is the authority on the frozen state. It keeps an open fd on
//! each filesystem it froze, so a thaw reaches it even if its mount point
//! was renamed or covered, and the statedir record names them, so a helper
//! restarted after a crash thaws them too.

use super::mounts::{self, Mount};
use super::strerror;
use crate::child_filters::ChildKind;
use crate::log_gate;
use crate::runner;
use crate::state::StateDir;
use protocol::limits::FSFREEZE_HOOK_TIMEOUT_SECS;
use protocol::mount_point::MountPoint;
use protocol::QgaError;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

// _IOWR('X', 119, int) and _IOWR('X', 120, int) from <linux/fs.h>.
const FIFREEZE: libc::c_ulong = 0xC004_5877;
const FITHAW: libc::c_ulong = 0xC004_5878;

/// A filesystem can be frozen more than once by different holders; thawing
/// repeats until the kernel says it is not frozen, but never forever.
const MAX_THAWS_PER_FILESYSTEM: usize = 16;

pub struct Fsfreeze {
    statedir: StateDir,
    hook: Option<PathBuf>,
    /// An open fd on each filesystem this helper froze, in freezing order.
    held: Vec<OwnedFd>,
    /// Mount points a previous run recorded as frozen.
    recorded: Vec<PathBuf>,
}

#[derive(Clone, Copy)]
enum HookPhase {
    Freeze,
    Thaw,
}

impl HookPhase {
    fn argument(self) -> &'static str {
        match self {
            HookPhase::Freeze => "freeze",
            HookPhase::Thaw => "thaw",
        }
    }
}

impl Fsfreeze {
    /// `frozen` is what the statedir said at start-up. When a previous run
    /// left filesystems frozen, logging is off from the start, before a
    /// single line could block on a frozen log file; the line saying so is
    /// counted among the dropped ones reported after the thaw.
    pub fn new(statedir: StateDir, hook: Option<PathBuf>, frozen: bool) -> Fsfreeze {
        let recorded = statedir.frozen_mountpoints();
        if frozen {
            log_gate::follow(true);
            tracing::warn!(
                recorded = recorded.len(),
                "a previous run left filesystems frozen: only the commands allowed \
                 while frozen run, and nothing is logged, until guest-fsfreeze-thaw"
            );
        }
        Fsfreeze {
            statedir,
            hook,
            held: Vec::new(),
            recorded,
        }
    }

    /// Freezes the candidate filesystems, or only those named in `only`.
    /// Returns how many were frozen.
    pub fn freeze(
        &mut self,
        frozen: &mut bool,
        only: Option<&[MountPoint]>,
    ) -> Result<i64, QgaError> {
        self.run_hook(HookPhase::Freeze)?;
        let mounts = mounts::read()?;
        let targets: Vec<&Mount> = mounts
            .iter()
            .rev()
            .filter(|m| match only {
                None => true,
                Some(list) => list.iter().any(|p| mounts::names(m, p.as_bytes())),
            })
            .collect();
        let dirs: Vec<PathBuf> = targets.iter().map(|m| m.dir.clone()).collect();
        // The last line logged until the thaw.
        tracing::info!(candidates = dirs.len(), "freezing filesystems");
        self.set_frozen(frozen, &dirs);
        match self.freeze_each(&targets) {
            Ok(0) => {
                self.set_thawed(frozen);
                Ok(0)
            }
            Ok(count) => Ok(count),
            Err(e) => {
                if let Err(thaw_error) = self.thaw(frozen) {
                    tracing::warn!(error = %thaw_error, "thaw after a failed freeze");
                }
                Err(e)
            }
        }
    }

    fn freeze_each(&mut self, targets: &[&Mount]) -> Result<i64, QgaError> {
        let mut count = 0;
        for mount in targets {
            let text = mount.dir_text();
            let fd = mounts::open(&mount.dir)
                .map_err(|errno| QgaError::fsfreeze_open_failed(&text, &strerror(errno)))?;
            match ioctl_no_arg(&fd, FIFREEZE) {
                Ok(()) => {
                    count += 1;
                    self.held.push(fd);
                }
                Err(libc::EOPNOTSUPP | libc::EBUSY) => {}
                Err(errno) => {
                    return Err(QgaError::fsfreeze_failed(&text, &strerror(errno)));
                }
            }
        }
        Ok(count)
    }

    /// Thaws every candidate filesystem, and any this helper holds or a
    /// previous run recorded. Returns how many were thawed.
    pub fn thaw(&mut self, frozen: &mut bool) -> Result<i64, QgaError> {
        let mounts = mounts::read()?;
        let mut count = 0;
        // Held filesystems first, in mount order (the reverse of freezing).
        while let Some(fd) = self.held.pop() {
            if thaw_fully(&fd) {
                count += 1;
            }
        }
        let recorded_elsewhere: Vec<PathBuf> = self
            .recorded
            .iter()
            .filter(|dir| !mounts.iter().any(|m| &m.dir == *dir))
            .cloned()
            .collect();
        let dirs = mounts
            .iter()
            .map(|m| &m.dir)
            .chain(recorded_elsewhere.iter());
        for dir in dirs {
            // A mount point that cannot be opened cannot be frozen by us
            // either; qemu-ga skips it the same way.
            let Ok(fd) = mounts::open(dir) else {
                continue;
            };
            if thaw_fully(&fd) {
                count += 1;
            }
        }
        self.set_thawed(frozen);
        tracing::info!(count, "filesystems thawed");
        self.run_hook(HookPhase::Thaw)?;
        Ok(count)
    }

    /// The state a restarted agent must find: recorded before the first
    /// FIFREEZE. A record that cannot be written is logged and the freeze
    /// goes on, as qemu-ga does: a thaw reaches every mounted filesystem
    /// without it.
    fn set_frozen(&mut self, frozen: &mut bool, dirs: &[PathBuf]) {
        if let Err(e) = self.statedir.record_frozen(dirs) {
            tracing::warn!(error = %e, "cannot record the frozen state; a restarted agent will not know it is frozen");
        }
        self.recorded = dirs.to_vec();
        *frozen = true;
        log_gate::follow(true);
    }

    fn set_thawed(&mut self, frozen: &mut bool) {
        log_gate::follow(false);
        if let Err(e) = self.statedir.clear_frozen() {
            tracing::warn!(error = %e, "cannot remove the frozen-state record");
        }
        self.recorded.clear();
        *frozen = false;
    }

    fn run_hook(&self, phase: HookPhase) -> Result<(), QgaError> {
        let Some(hook) = &self.hook else {
            return Ok(());
        };
        let shown = hook.display().to_string();
        if let Err(errno) = executable(hook) {
            return Err(QgaError::fsfreeze_hook_inaccessible(
                &shown,
                &strerror(errno),
            ));
        }
        tracing::info!(hook = %shown, phase = phase.argument(), "running fsfreeze hook");
        let timeout = Duration::from_secs(FSFREEZE_HOOK_TIMEOUT_SECS);
        let output = match runner::run(
            ChildKind::FsfreezeHook,
            hook,
            &[phase.argument()],
            None,
            timeout,
        ) {
            Ok(output) => output,
            Err(e) => {
                // qemu-ga's child exits with status 1 when exec fails.
                tracing::warn!(hook = %shown, error = %e, "cannot run fsfreeze hook");
                return Err(QgaError::fsfreeze_hook_failed(1));
            }
        };
        if !output.stdout.is_empty() || !output.stderr.is_empty() {
            tracing::info!(
                hook = %shown,
                stdout = %String::from_utf8_lossy(&output.stdout).trim_end(),
                stderr = %String::from_utf8_lossy(&output.stderr).trim_end(),
                "fsfreeze hook output"
            );
        }
        if output.success() {
            return Ok(());
        }
        match output.code {
            Some(status) => Err(QgaError::fsfreeze_hook_failed(status)),
            None => {
                tracing::warn!(
                    hook = %shown,
                    signal = output.signal,
                    timed_out = output.timed_out,
                    "fsfreeze hook was killed"
                );
                Err(QgaError::fsfreeze_hook_abnormal())
            }
        }
    }
}

fn ioctl_no_arg(fd: &OwnedFd, request: libc::c_ulong) -> Result<(), i32> {
    // SAFETY: FIFREEZE and FITHAW take no argument (the kernel ignores it).
    if unsafe { libc::ioctl(fd.as_raw_fd(), request, 0) } == 0 {
        Ok(())
    } else {
        Err(mounts::last_errno())
    }
}

/// FITHAW until the kernel refuses; true if at least one succeeded.
fn thaw_fully(fd: &OwnedFd) -> bool {
    let mut thawed = false;
    for _ in 0..MAX_THAWS_PER_FILESYSTEM {
        if ioctl_no_arg(fd, FITHAW).is_err() {
            break;
        }
        thawed = true;
    }
    thawed
}

/// access(X_OK), as qemu-ga checks the hook before running it.
fn executable(path: &Path) -> Result<(), i32> {
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::ENOENT)?;
    // SAFETY: access with a valid C string.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err(mounts::last_errno())
    }
}
