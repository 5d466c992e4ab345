//! Debian's qemu-ga, the reference implementation, started on a unix socket
//! in a private directory so tests can send it the same requests as the
//! agent and compare the answers. Never send it a request that would act
//! on this machine (a valid guest-shutdown, a guest-suspend-*, a password
//! for an existing account): it is the real thing.

use crate::{Client, TempDir};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU_GA: &str = "/usr/sbin/qemu-ga";

pub struct ReferenceAgent {
    pub dir: TempDir,
    pub socket: PathBuf,
    child: Child,
}

impl ReferenceAgent {
    pub fn start() -> ReferenceAgent {
        assert!(
            Path::new(QEMU_GA).exists(),
            "{QEMU_GA} missing: install qemu-guest-agent (.ci/run does)"
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
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "qemu-ga did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        ReferenceAgent { dir, socket, child }
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }
}

impl Drop for ReferenceAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
