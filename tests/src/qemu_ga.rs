//! Debian's qemu-ga, the reference implementation, run side by side with
//! this agent: started on a unix socket in a private directory (its own
//! statedir, pidfile and log), spoken to with the same `Client`, stopped
//! on drop. Differential tests send both agents the same requests and
//! compare the replies.

use crate::{Client, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs it.
pub const QEMU_GA: &str = "/usr/sbin/qemu-ga";

pub struct QemuGa {
    /// Its statedir; also holds the socket, pidfile and log.
    pub dir: TempDir,
    pub socket: PathBuf,
    pub log: PathBuf,
    child: Child,
}

impl QemuGa {
    /// Whether the reference agent is installed (the tests that need it
    /// fail with a clear message when it is not).
    pub fn installed() -> bool {
        Path::new(QEMU_GA).exists()
    }

    /// Starts qemu-ga in the foreground with `extra_args` (for example
    /// `["-b", "guest-ping"]`) and waits until its socket accepts.
    pub fn start(extra_args: &[&str]) -> QemuGa {
        Self::start_with_env(extra_args, &[])
    }

    /// Like `start`, with extra environment variables (`QGA_OS_RELEASE`,
    /// `TZ`, which qemu-ga reads).
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> QemuGa {
        crate::require_root();
        assert!(
            Self::installed(),
            "{QEMU_GA} missing: install Debian's qemu-guest-agent package"
        );
        let dir = TempDir::new("qemu-ga");
        let socket = dir.0.join("qga.sock");
        let log = dir.0.join("qemu-ga.log");
        let child = Command::new(QEMU_GA)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("qemu-ga.pid"))
            .arg("-l")
            .arg(&log)
            .args(extra_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        let mut agent = QemuGa {
            dir,
            socket,
            log,
            child,
        };
        agent.wait_ready();
        agent
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("qemu-ga exited early: {status}\n{}", self.log_text());
            }
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("qemu-ga did not come up\n{}", self.log_text());
    }

    /// A host connection. qemu-ga serves one at a time: drop the previous
    /// one first.
    pub fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(self) {}
}

impl Drop for QemuGa {
    fn drop(&mut self) {
        crate::terminate(&mut self.child);
    }
}
