//! `-d/--daemonize`: the agent forks into the background like qemu-ga (new
//! session, `/` as working directory, umask 077, standard fds on
//! /dev/null), but the foreground process waits until the daemon holds the
//! pidfile lock and serves, so a start that fails (another agent on the
//! same pidfile, a missing channel) still fails visibly with exit status 1.

use nix::unistd::ForkResult;
use std::os::fd::{AsRawFd, OwnedFd};

const READY: &[u8] = b"ready";

/// Held by the daemon until it serves.
pub struct Readiness {
    report: OwnedFd,
    dev_null: OwnedFd,
}

/// Returns in the daemon only; the foreground process exits here with the
/// daemon's verdict.
pub fn daemonize() -> Result<Readiness, String> {
    let dev_null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| format!("/dev/null: {e}"))?;
    let (wait_end, report) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: nothing but this thread runs yet (no front, no runtime).
    match unsafe { nix::unistd::fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Parent { .. } => {
            drop(report);
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            loop {
                match nix::unistd::read(wait_end.as_raw_fd(), &mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(_) => break,
                }
            }
            // The daemon printed its own error before it exited.
            std::process::exit(if got == READY { 0 } else { 1 })
        }
        ForkResult::Child => {
            drop(wait_end);
            nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            std::env::set_current_dir("/").map_err(|e| format!("chdir /: {e}"))?;
            for fd in [0, 1] {
                redirect(&dev_null, fd)?;
            }
            // stderr stays until the daemon is ready, for its start-up errors.
            Ok(Readiness { report, dev_null })
        }
    }
}

impl Readiness {
    /// The agent serves: release the foreground process and let go of the
    /// terminal.
    pub fn done(self) {
        let _ = nix::unistd::write(&self.report, READY);
        let _ = redirect(&self.dev_null, 2);
    }
}

fn redirect(to: &OwnedFd, fd: i32) -> Result<(), String> {
    // SAFETY: dup2 onto a standard fd from an open one.
    if unsafe { libc::dup2(to.as_raw_fd(), fd) } < 0 {
        return Err(format!("dup2: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}
