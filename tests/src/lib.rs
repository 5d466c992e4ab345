//! Shared harness for the integration tests: start the real agent-helper
//! (as root, as in production) on a unix socket in a private directory, talk
//! to it like a host does, and look at its processes through /proc.

pub mod reference;

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Where cargo put the workspace binaries (target/<profile>/), found from
/// the running test executable (target/<profile>/deps/<test>).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    for bin in ["agent-helper", "agent-front"] {
        assert!(
            dir.join(bin).exists(),
            "{} missing: build the workspace first (cargo build --workspace)",
            dir.join(bin).display()
        );
    }
    dir.to_path_buf()
}

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "these tests start the agent as in production and must run as root"
    );
}

/// A private directory under /tmp, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("qga-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running agent-helper (and the front it started) on a unix socket.
pub struct Agent {
    pub dir: TempDir,
    pub socket: PathBuf,
    pub policy: PathBuf,
    pub log: PathBuf,
    child: Child,
}

pub struct AgentOptions<'a> {
    pub policy: &'a str,
    pub extra_args: Vec<String>,
}

impl Agent {
    pub fn start(policy: &str) -> Agent {
        Self::start_with(AgentOptions {
            policy,
            extra_args: Vec::new(),
        })
    }

    pub fn start_with(options: AgentOptions) -> Agent {
        Self::start_with_env(options, &[])
    }

    /// Starts the agent with extra environment variables (TZ, QGA_OS_RELEASE
    /// and the like, which the agent reads as qemu-ga does).
    pub fn start_with_env(options: AgentOptions, env: &[(&str, &str)]) -> Agent {
        require_root();
        let dir = TempDir::new("agent");
        let socket = dir.0.join("qga.sock");
        let policy = dir.0.join("policy.toml");
        let log = dir.0.join("agent.log");
        std::fs::write(&policy, options.policy).expect("write policy");
        let child = Command::new(bin_dir().join("agent-helper"))
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("agent.pid"))
            .arg("-l")
            .arg(&log)
            .arg("--policy")
            .arg(&policy)
            .arg("-v")
            .args(&options.extra_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .spawn()
            .expect("start agent-helper");
        let mut agent = Agent {
            dir,
            socket,
            policy,
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
                panic!("agent-helper exited early: {status}\n{}", self.log_text());
            }
            if self.socket.exists() && self.log_text().contains("agent ready") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not come up\n{}", self.log_text());
    }

    pub fn helper_pid(&self) -> u32 {
        self.child.id()
    }

    /// The helper's child that runs agent-front, if one is running.
    pub fn front_pid(&self) -> Option<u32> {
        children_of(self.helper_pid()).into_iter().find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "agent-front" || c.trim() == "hostile-front")
        })
    }

    /// Waits until a front other than `old` is running.
    pub fn wait_new_front(&self, old: u32) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(pid) = self.front_pid().filter(|&p| p != old) {
                return pid;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no new front after {old}\n{}", self.log_text());
    }

    pub fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill on our own child.
        unsafe { libc::kill(self.helper_pid() as i32, signal) };
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.signal(libc::SIGTERM);
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

/// Processes whose parent is `pid`.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in entries.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // The ppid is the second field after the parenthesised command.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// One field of /proc/PID/status.
pub fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// A host connection.
pub struct Client {
    stream: UnixStream,
    pending: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let stream = UnixStream::connect(path).expect("connect to agent");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client {
            stream,
            pending: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to agent");
    }

    /// The next reply line, without its newline (a leading 0xFF is kept).
    pub fn recv_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return line[..line.len() - 1].to_vec();
            }
            let mut buf = [0u8; 65536];
            let n = self.stream.read(&mut buf).expect("read reply from agent");
            assert!(n > 0, "agent closed the connection");
            self.pending.extend_from_slice(&buf[..n]);
        }
    }

    /// Waits up to `wait` for any output; true if some arrived.
    pub fn has_output_within(&mut self, wait: Duration) -> bool {
        if !self.pending.is_empty() {
            return true;
        }
        self.stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut buf = [0u8; 4096];
        let got = match self.stream.read(&mut buf) {
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                n > 0
            }
            Err(_) => false,
        };
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        got
    }

    pub fn recv_json(&mut self) -> Value {
        let line = self.recv_line();
        serde_json::from_slice(&line).unwrap_or_else(|e| {
            panic!(
                "reply {:?} is not JSON: {e}",
                String::from_utf8_lossy(&line)
            )
        })
    }

    /// Sends one request and returns its reply.
    pub fn request(&mut self, request: &str) -> Value {
        self.send(request.as_bytes());
        self.recv_json()
    }

    pub fn into_stream(self) -> UnixStream {
        self.stream
    }
}

/// The `error` member of a reply, as (class, desc).
pub fn error_of(reply: &Value) -> (String, String) {
    let e = reply
        .get("error")
        .unwrap_or_else(|| panic!("expected an error reply, got {reply}"));
    (
        e["class"].as_str().unwrap_or_default().to_string(),
        e["desc"].as_str().unwrap_or_default().to_string(),
    )
}
