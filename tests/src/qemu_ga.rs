//! Debian's qemu-ga, the reference implementation, started on a unix socket
//! in a private directory so differential tests can send it the same
//! requests as this agent.

use crate::{Client, TempDir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const QEMU_GA: &str = "/usr/sbin/qemu-ga";

pub struct QemuGa {
    pub dir: TempDir,
    socket: PathBuf,
    child: Child,
    client: Option<Client>,
}

impl QemuGa {
    pub fn start() -> QemuGa {
        assert!(
            Path::new(QEMU_GA).exists(),
            "{QEMU_GA} missing: install qemu-guest-agent (see .ci/run)"
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
            .arg("-l")
            .arg(dir.0.join("qemu-ga.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        let mut ga = QemuGa {
            dir,
            socket,
            child,
            client: None,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !ga.socket.exists() {
            if let Ok(Some(status)) = ga.child.try_wait() {
                panic!("qemu-ga exited early: {status}");
            }
            assert!(Instant::now() < deadline, "qemu-ga did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        ga.client = Some(Client::connect(&ga.socket));
        ga
    }

    /// Sends one request on the one connection and returns the reply.
    pub fn request(&mut self, request: &str) -> Value {
        self.client.as_mut().expect("connected").request(request)
    }

    /// Stops qemu-ga (dropping it does the same).
    pub fn stop(self) {}
}

impl Drop for QemuGa {
    fn drop(&mut self) {
        self.client = None;
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
