//! Shared harness for the integration tests: start the real agent-helper
//! (as root, as in production) on a unix socket in a private directory, talk
//! to it like a host does, and look at its processes through /proc.

pub mod qemu_ga;

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
    extra_args: Vec<String>,
    /// Extra environment variables of the helper (and so of its programs).
    env: Vec<(String, String)>,
    /// How many "agent ready" lines the log held before the latest start.
    starts_logged: usize,
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
    /// and the like, which the agent reads as qemu-ga does); a restart keeps
    /// them.
    pub fn start_with_env(options: AgentOptions, env: &[(&str, &str)]) -> Agent {
        require_root();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|&(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let dir = TempDir::new("agent");
        let socket = dir.0.join("qga.sock");
        let policy = dir.0.join("policy.toml");
        let log = dir.0.join("agent.log");
        std::fs::write(&policy, options.policy).expect("write policy");
        // An empty qemu-ga config of its own, so the machine's
        // /etc/qemu/qemu-ga.conf cannot change what a test sees; a test can
        // name another with -c in its extra arguments (the last -c wins).
        std::fs::write(dir.0.join("qemu-ga.conf"), "").expect("write qemu-ga.conf");
        let child = spawn_helper(&dir.0, &socket, &log, &policy, &options.extra_args, &env);
        let mut agent = Agent {
            dir,
            socket,
            policy,
            log,
            extra_args: options.extra_args,
            env,
            starts_logged: 0,
            child,
        };
        agent.wait_ready();
        agent
    }

    /// Stops the agent with SIGTERM and starts it again with the same
    /// statedir, socket, policy and log, as a service manager would.
    pub fn restart(&mut self) {
        self.stop();
        self.respawn();
    }

    /// Starts the helper again with this agent's settings and waits for it.
    fn respawn(&mut self) {
        self.starts_logged = self.log_text().matches("agent ready").count();
        self.child = spawn_helper(
            &self.dir.0,
            &self.socket,
            &self.log,
            &self.policy,
            &self.extra_args,
            &self.env,
        );
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent-helper exited early: {status}\n{}", self.log_text());
            }
            // A helper that starts frozen logs nothing until the thaw.
            let frozen_start = self.dir.0.join("qga.state.isfrozen").exists();
            if self.socket.exists()
                && (frozen_start
                    || self.log_text().matches("agent ready").count() > self.starts_logged)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not come up\n{}", self.log_text());
    }

    /// Kills the helper with SIGKILL, as a crash would (its front dies with
    /// it), and starts it again with the same statedir, socket, policy and
    /// log.
    pub fn crash_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The crashed helper left its socket; readiness must not be judged
        // by it.
        let _ = std::fs::remove_file(&self.socket);
        self.respawn();
    }

    /// SIGTERM, then SIGKILL if the helper has not exited within 5 s.
    fn stop(&mut self) {
        terminate(&mut self.child);
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
        self.stop();
    }
}

fn spawn_helper(
    statedir: &Path,
    socket: &Path,
    log: &Path,
    policy: &Path,
    extra_args: &[String],
    env: &[(String, String)],
) -> Child {
    Command::new(bin_dir().join("agent-helper"))
        .arg("-c")
        .arg(statedir.join("qemu-ga.conf"))
        .args(["-m", "unix-listen", "-p"])
        .arg(socket)
        .arg("-t")
        .arg(statedir)
        .arg("-f")
        .arg(statedir.join("agent.pid"))
        .arg("-l")
        .arg(log)
        .arg("--policy")
        .arg(policy)
        .arg("-v")
        .args(extra_args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .spawn()
        .expect("start agent-helper")
}

/// Stops a child the test started: SIGTERM, then SIGKILL if it has not
/// exited within 5 s. A child already reaped is left alone (its pid may
/// belong to another process by now).
pub fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SAFETY: signalling our own, not yet reaped, child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
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

/// The open flags of a process's fd, from /proc/PID/fdinfo (octal there).
pub fn fd_flags(pid: u32, fd: &str) -> u32 {
    let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/fdinfo/{fd}: {e}"));
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .unwrap_or_else(|| panic!("no flags in /proc/{pid}/fdinfo/{fd}: {info}"))
}

/// CPU time a process has used (user + system), in clock ticks, from the
/// text of its /proc/PID/stat; None when the text is not one.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: fields count from
    // the last ')'; utime and stime are the 14th and 15th of the line.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// A host connection.
pub struct Client {
    stream: UnixStream,
    pending: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        Client::from_stream(UnixStream::connect(path).expect("connect to agent"))
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
            // A read with a timeout is not restarted after a signal (or a
            // freeze of the test's processes); try again.
            let n = match self.stream.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r.expect("read reply from agent"),
            };
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

    /// A client on an already connected stream socket (vsock, say).
    pub fn from_stream(stream: UnixStream) -> Client {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client {
            stream,
            pending: Vec::new(),
        }
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
pub mod vm;

impl Agent {
    /// Starts the agent on another channel: `channel_args` are its `-m`/`-p`
    /// options (and `-r`), `extra_args` anything else. Returns once the log
    /// says the agent is ready; `socket` is then meaningless unless the
    /// channel is a unix socket at that path.
    pub fn start_on(policy: &str, channel_args: &[&str], extra_args: &[&str]) -> Agent {
        require_root();
        let dir = TempDir::new("agent");
        let policy_path = dir.0.join("policy.toml");
        let log = dir.0.join("agent.log");
        std::fs::write(&policy_path, policy).expect("write policy");
        // As in `start_with`: the machine's qemu-ga config stays out.
        std::fs::write(dir.0.join("qemu-ga.conf"), "").expect("write qemu-ga.conf");
        let child = Command::new(bin_dir().join("agent-helper"))
            .arg("-c")
            .arg(dir.0.join("qemu-ga.conf"))
            .args(channel_args)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("agent.pid"))
            .arg("-l")
            .arg(&log)
            .arg("--policy")
            .arg(&policy_path)
            .arg("-v")
            .args(extra_args)
            .stdin(Stdio::null())
            .spawn()
            .expect("start agent-helper");
        let mut agent = Agent {
            socket: dir.0.join("qga.sock"),
            dir,
            policy: policy_path,
            log,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            starts_logged: 0,
            child,
        };
        agent.wait_log("agent ready", Duration::from_secs(10));
        agent
    }

    /// Waits until the log contains `text`; panics with the log otherwise.
    pub fn wait_log(&mut self, text: &str, wait: Duration) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if self.log_text().contains(text) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent-helper exited early: {status}\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no '{text}' in the log\n{}", self.log_text());
    }

    /// How often `text` appears in the log.
    pub fn log_count(&self, text: &str) -> usize {
        self.log_text().matches(text).count()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_ticks_counts_fields_after_the_last_parenthesis() {
        let stat = "42 (a) (b c) S 1 42 42 0 -1 4194304 127 0 0 0 7 5 0 0 20 0 1 0";
        assert_eq!(super::cpu_ticks(stat), Some(12));
        assert_eq!(super::cpu_ticks("42 (short) S 1"), None);
        assert_eq!(super::cpu_ticks("not a stat line"), None);
    }
}
