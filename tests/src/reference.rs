//! The reference implementation side by side: Debian's qemu-ga started on
//! a unix socket in a private directory, so a test can send it the same
//! requests as this agent and compare the replies.

use crate::{Client, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs qemu-ga.
pub const QEMU_GA: &str = "/usr/sbin/qemu-ga";

/// A running qemu-ga, stopped on drop.
pub struct ReferenceAgent {
    pub dir: TempDir,
    pub socket: PathBuf,
    child: Child,
}

impl ReferenceAgent {
    /// Starts qemu-ga with `extra_args` (e.g. `-b` lists) and extra
    /// environment variables.
    pub fn start(extra_args: &[&str], env: &[(&str, &str)]) -> ReferenceAgent {
        crate::require_root();
        assert!(
            Path::new(QEMU_GA).exists(),
            "{QEMU_GA} missing: install Debian's qemu-guest-agent (see .ci/run)"
        );
        let dir = TempDir::new("qemu-ga");
        let socket = dir.0.join("qga.sock");
        let child = Command::new(QEMU_GA)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("qemu-ga.pid"))
            .args(extra_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        let mut agent = ReferenceAgent { dir, socket, child };
        agent.wait_ready();
        agent
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("qemu-ga exited early: {status}");
            }
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("qemu-ga did not come up");
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }
}

impl Drop for ReferenceAgent {
    fn drop(&mut self) {
        // SAFETY: kill on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
