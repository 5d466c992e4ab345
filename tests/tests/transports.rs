//! The host channels besides unix-listen, and the daemon options: a serial
//! line (over a pty pair), vsock-listen, waiting for and reopening a
//! channel path (-r), and running in the background (-d) with the pidfile
//! lock.

use serde_json::{json, Value};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::{bin_dir, require_root, Agent, Client, TempDir};

const POLICY: &str = "[allow]\ncommands = [\"guest-ping\", \"guest-get-time\"]\n";

/// A pseudo-terminal pair: the agent gets the slave's path, the test plays
/// the host on the master.
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    path: PathBuf,
    pending: Vec<u8>,
}

impl Pty {
    fn open() -> Pty {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty fills two fds; the name, termios and size are not
        // asked for.
        let r = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty returned two new fds we now own.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let path =
            std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).expect("slave path");
        Pty {
            master,
            slave,
            path,
            pending: Vec::new(),
        }
    }

    fn send(&self, bytes: &[u8]) {
        let mut file = std::fs::File::from(self.master.try_clone().unwrap());
        file.write_all(bytes).expect("write to pty");
    }

    fn recv_line(&mut self, wait: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(i) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Some(line[..line.len() - 1].to_vec());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) } <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: read into a buffer of its length.
            let n =
                unsafe { libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                self.pending.extend_from_slice(&buf[..n as usize]);
            }
        }
    }

    fn request(&mut self, request: &str) -> Value {
        self.send(request.as_bytes());
        let line = self
            .recv_line(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no reply to {request} on {}", self.path.display()));
        serde_json::from_slice(&line).expect("JSON reply")
    }
}

fn ping() -> &'static str {
    r#"{"execute":"guest-ping"}"#
}

#[test]
fn isa_serial_over_a_pty_in_raw_mode() {
    let mut pty = Pty::open();
    let path = pty.path.to_str().unwrap().to_string();
    let agent = Agent::start_on(POLICY, &["-m", "isa-serial", "-p", &path], &[]);
    // Raw mode as qemu-ga sets it: nothing echoed or edited, 38400 baud.
    // SAFETY: tcgetattr fills a termios struct for an open terminal fd.
    let tio = unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(pty.slave.as_raw_fd(), &mut tio), 0);
        tio
    };
    assert_eq!(tio.c_lflag, 0, "no echo, no canonical mode, no signals");
    assert_eq!(tio.c_oflag, 0, "no output processing");
    assert_eq!(tio.c_iflag & (libc::ICRNL | libc::IXON | libc::ISTRIP), 0);
    // SAFETY: reading speeds from a filled termios struct.
    assert_eq!(unsafe { libc::cfgetospeed(&tio) }, libc::B38400);
    assert_eq!(tio.c_cc[libc::VMIN], 1);
    assert_eq!(pty.request(ping()), json!({"return": {}}));
    // Two requests in one write, replies in order, each on its own line.
    pty.send(
        b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":7}}\r\n{\"execute\":\"guest-ping\"}",
    );
    assert_eq!(
        pty.recv_line(Duration::from_secs(10)).unwrap(),
        br#"{"return": 7}"#
    );
    assert_eq!(
        pty.recv_line(Duration::from_secs(10)).unwrap(),
        br#"{"return": {}}"#
    );
    assert!(pty.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert!(agent.log_text().contains("channel=Serial"));
}

#[test]
fn vsock_listen_binds_cid_and_port() {
    require_root();
    let port = 20_000 + std::process::id() % 20_000;
    let address = format!("4294967295:{port}");
    let agent = Agent::start_on(POLICY, &["-m", "vsock-listen", "-p", &address], &[]);
    // The port is really taken: a second agent cannot listen on it.
    let dir = TempDir::new("vsock-second");
    let second = Command::new(bin_dir().join("agent-helper"))
        .args(["-m", "vsock-listen", "-p", &address, "-t"])
        .arg(&dir.0)
        .arg("-f")
        .arg(dir.0.join("pid"))
        .arg("--policy")
        .arg(&agent.policy)
        .stdin(Stdio::null())
        .output()
        .expect("run a second agent");
    assert_eq!(second.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("Address already in use"), "{stderr}");
    // Talking to it needs a transport that reaches this guest from itself.
    match vsock_connect(1, port) {
        Ok(fd) => {
            let stream = std::os::unix::net::UnixStream::from(fd);
            let mut host = Client::from_stream(stream);
            assert_eq!(host.request(ping()), json!({"return": {}}));
        }
        Err(e) => eprintln!(
            "skipped the vsock conversation: connecting to CID 1 (VMADDR_CID_LOCAL) port {port} \
             failed ({e}); this kernel has no vsock loopback transport (vsock_loopback is not \
             built or loadable), so only the listening socket was checked"
        ),
    }
}

fn vsock_connect(cid: u32, port: u32) -> std::io::Result<OwnedFd> {
    // SAFETY: socket, connect and poll with valid arguments; the fd is owned.
    unsafe {
        let fd = libc::socket(
            libc::AF_VSOCK,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_vm = std::mem::zeroed();
        addr.svm_family = libc::AF_VSOCK as libc::sa_family_t;
        addr.svm_cid = cid;
        addr.svm_port = port;
        let r = libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_vm).cast(),
            std::mem::size_of::<libc::sockaddr_vm>() as libc::socklen_t,
        );
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(e);
            }
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            };
            if libc::poll(&mut pfd, 1, 2000) <= 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
            }
            let mut err: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut err as *mut libc::c_int).cast(),
                &mut len,
            );
            if err != 0 {
                return Err(std::io::Error::from_raw_os_error(err));
            }
        }
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        Ok(fd)
    }
}

#[test]
fn retry_path_waits_for_a_unix_socket_directory_created_later() {
    require_root();
    let base = TempDir::new("retry-unix");
    let socket = base.0.join("later").join("qga.sock");
    let socket_arg = socket.to_str().unwrap().to_string();
    let mut agent = Agent::start_on(POLICY, &["-m", "unix-listen", "-p", &socket_arg, "-r"], &[]);
    assert!(agent.log_text().contains("waiting for it (-r)"));
    assert!(!socket.exists());
    std::fs::create_dir(base.0.join("later")).unwrap();
    // qemu-ga's retry interval is 5 s.
    agent.wait_log("channel open", Duration::from_secs(15));
    let mut host = Client::connect(&socket);
    assert_eq!(host.request(ping()), json!({"return": {}}));
}

#[test]
fn retry_path_waits_for_a_serial_path_and_reopens_it_after_a_hang_up() {
    let base = TempDir::new("retry-serial");
    let link = base.0.join("ttylink");
    let link_arg = link.to_str().unwrap().to_string();
    let mut agent = Agent::start_on(POLICY, &["-m", "isa-serial", "-p", &link_arg, "-r"], &[]);
    // The path appears after start.
    let mut first = Pty::open();
    point(&link, &first.path);
    agent.wait_log("channel open", Duration::from_secs(15));
    agent.wait_log("front ready", Duration::from_secs(10));
    assert_eq!(first.request(ping()), json!({"return": {}}));
    // The line goes away (its host end closes); the path now names another
    // line, which the agent opens after its retry interval.
    let mut second = Pty::open();
    point(&link, &second.path);
    drop(first);
    agent.wait_log("channel failed; reopening it", Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(20);
    while agent.log_count("channel open") < 2 {
        assert!(
            Instant::now() < deadline,
            "not reopened\n{}",
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    while agent.log_count("front ready") < 2 {
        assert!(
            Instant::now() < deadline,
            "no new front\n{}",
            agent.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(second.request(ping()), json!({"return": {}}));
}

/// Points a symlink at `target`, replacing it atomically.
fn point(link: &Path, target: &Path) {
    let tmp = link.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).unwrap();
    std::fs::rename(&tmp, link).unwrap();
}

#[test]
fn missing_channel_without_retry_path_is_an_error() {
    require_root();
    let dir = TempDir::new("no-retry");
    std::fs::write(dir.0.join("policy.toml"), POLICY).unwrap();
    let out = Command::new(bin_dir().join("agent-helper"))
        .args(["-m", "isa-serial", "-p"])
        .arg(dir.0.join("no-such-tty"))
        .arg("-t")
        .arg(&dir.0)
        .arg("-f")
        .arg(dir.0.join("pid"))
        .arg("--policy")
        .arg(dir.0.join("policy.toml"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-tty"), "{stderr}");
}

fn daemon_command(dir: &Path, socket: &Path) -> Command {
    let mut c = Command::new(bin_dir().join("agent-helper"));
    c.args(["-d", "-m", "unix-listen", "-p"])
        .arg(socket)
        .arg("-t")
        .arg(dir)
        .arg("-f")
        .arg(dir.join("agent.pid"))
        .arg("-l")
        .arg(dir.join("agent.log"))
        .arg("--policy")
        .arg(dir.join("policy.toml"))
        .stdin(Stdio::null());
    c
}

fn stat_field(pid: u32, index: usize) -> String {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, rest) = stat.rsplit_once(')').unwrap();
    rest.split_whitespace().nth(index).unwrap().to_string()
}

#[test]
fn daemonize_forks_writes_the_pidfile_and_a_second_agent_is_refused() {
    require_root();
    let dir = TempDir::new("daemon");
    std::fs::write(dir.0.join("policy.toml"), POLICY).unwrap();
    let socket = dir.0.join("qga.sock");
    let started = Instant::now();
    let out = daemon_command(&dir.0, &socket).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // The foreground process is gone; the daemon named in the pidfile runs
    // in its own session, from /.
    let pid: u32 = std::fs::read_to_string(dir.0.join("agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stop = Stop(pid);
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "agent-helper"
    );
    assert_eq!(stat_field(pid, 3), pid.to_string(), "session leader");
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    assert!(socket.exists());
    let mut host = Client::connect(&socket);
    assert_eq!(host.request(ping()), json!({"return": {}}));
    // Same pidfile: refused before it touches any channel.
    let other_socket = dir.0.join("other.sock");
    let out = daemon_command(&dir.0, &other_socket).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is locked: another agent is running"),
        "{stderr}"
    );
    assert!(!other_socket.exists());
    assert_eq!(host.request(ping()), json!({"return": {}}));
    drop(host);
    drop(stop);
    assert!(!dir.0.join("agent.pid").exists(), "pidfile removed on exit");
}

/// Stops a daemon this test started, and waits for it to be gone.
struct Stop(u32);

impl Drop for Stop {
    fn drop(&mut self) {
        // SAFETY: signalling the daemon this test started.
        unsafe { libc::kill(self.0 as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{}", self.0)).exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
