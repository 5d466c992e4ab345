//! The helper's event loop: requests from the front, signals (a dead front,
//! SIGHUP reloads, SIGTERM), and restarting a dead front with back-off.

use crate::channel;
use crate::cli::Method;
use crate::dispatch::{self, Context};
use crate::launch::{FrontLauncher, RunningFront};
use crate::policy_source::{self, PolicySource};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use protocol::internal::{self, AgentState, FromHelper, ToHelper};
use protocol::limits::{
    CHANNEL_RETRY_INTERVAL_MS, FRONT_RESTART_MAX_DELAY_MS, FRONT_RESTART_MIN_DELAY_MS,
    FRONT_STABLE_AFTER_MS, MAX_MESSAGE_BYTES,
};
use protocol::QgaError;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the channel comes from, to open it again with `-r`.
pub struct ChannelSource {
    pub method: Method,
    pub path: PathBuf,
    pub retry: bool,
}

pub struct Supervisor {
    pub launcher: FrontLauncher,
    pub source: ChannelSource,
    /// None while waiting for the channel path (`-r`).
    pub channel: Option<OwnedFd>,
    /// The log file, handed to each front as its stderr.
    pub log: Option<OwnedFd>,
    pub signals: SignalFd,
    pub policy_source: PolicySource,
    pub ctx: Context,
    front: Option<Front>,
    restart_at: Option<Instant>,
    reopen_at: Option<Instant>,
    restart_delay: Duration,
    bad_messages: RateLimitedLog,
    buf: Vec<u8>,
}

struct Front {
    running: RunningFront,
    started: Instant,
    /// False once the front closed its end.
    link_open: bool,
}

/// Why the loop ended.
pub enum Exit {
    Signal(Signal),
}

impl Supervisor {
    pub fn new(
        launcher: FrontLauncher,
        source: ChannelSource,
        channel: Option<OwnedFd>,
        log: Option<OwnedFd>,
        signals: SignalFd,
        policy_source: PolicySource,
        ctx: Context,
    ) -> Self {
        Supervisor {
            launcher,
            source,
            channel,
            log,
            signals,
            policy_source,
            ctx,
            front: None,
            restart_at: None,
            reopen_at: None,
            restart_delay: Duration::from_millis(FRONT_RESTART_MIN_DELAY_MS),
            bad_messages: RateLimitedLog::default(),
            buf: vec![0; MAX_MESSAGE_BYTES + 1],
        }
    }

    pub fn has_channel(&self) -> bool {
        self.channel.is_some()
    }

    /// The guest-file handles.
    pub fn files(&self) -> &crate::ops::files::FileTable {
        &self.ctx.files
    }

    /// Tries the channel path again after qemu-ga's retry interval.
    pub fn schedule_reopen(&mut self) {
        self.reopen_at = Some(Instant::now() + Duration::from_millis(CHANNEL_RETRY_INTERVAL_MS));
    }

    fn reopen_channel(&mut self) {
        self.reopen_at = None;
        match channel::open(self.source.method, &self.source.path) {
            Ok(fd) => {
                tracing::info!(path = %self.source.path.display(), "channel open");
                self.channel = Some(fd);
                if let Err(e) = self.start_front() {
                    tracing::error!(error = %e, "cannot start front");
                    self.schedule_restart(false);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "channel unavailable; waiting for it (-r)");
                self.schedule_reopen();
            }
        }
    }

    pub fn start_front(&mut self) -> io::Result<()> {
        let channel = self
            .channel
            .as_ref()
            .ok_or_else(|| io::Error::other("no channel"))?;
        let running = self
            .launcher
            .spawn(channel.as_fd(), self.log.as_ref().map(|l| l.as_fd()))?;
        tracing::info!(pid = running.pid.as_raw(), "front started");
        self.front = Some(Front {
            running,
            started: Instant::now(),
            link_open: true,
        });
        self.bad_messages = RateLimitedLog::default();
        self.ctx.exec.front_restarted();
        self.send_state();
        Ok(())
    }

    pub fn run(&mut self) -> Exit {
        loop {
            let timeout = match self.restart_at.into_iter().chain(self.reopen_at).min() {
                Some(at) => {
                    let ms = at.saturating_duration_since(Instant::now()).as_millis();
                    PollTimeout::try_from(ms.min(60_000) as i32).unwrap_or(PollTimeout::ZERO)
                }
                None => PollTimeout::NONE,
            };
            let exec_fds = self.ctx.exec.poll_interest();
            let (signal_ready, link_ready, exec_ready) = {
                let link = self
                    .front
                    .as_ref()
                    .filter(|f| f.link_open)
                    .map(|f| f.running.link.as_fd());
                let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
                if let Some(link) = link {
                    fds.push(PollFd::new(link, PollFlags::POLLIN));
                }
                let first_exec = fds.len();
                for &(fd, events) in &exec_fds {
                    // SAFETY: the exec table owns these fds and nothing
                    // closes them while this poll set exists.
                    let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
                    fds.push(PollFd::new(fd, events));
                }
                match nix::poll::poll(&mut fds, timeout) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => {
                        tracing::error!(error = %e, "poll failed");
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                }
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                let exec_ready: Vec<RawFd> = fds[first_exec..]
                    .iter()
                    .zip(&exec_fds)
                    .filter(|(f, _)| ready(f))
                    .map(|(_, &(fd, _))| fd)
                    .collect();
                (ready(&fds[0]), first_exec > 1 && ready(&fds[1]), exec_ready)
            };
            // Output first, so a child's last words are read before its
            // exit is noted.
            for fd in exec_ready {
                self.ctx.exec.on_ready(fd);
            }
            if signal_ready {
                if let Some(exit) = self.on_signals() {
                    return exit;
                }
            }
            if link_ready {
                self.on_link();
            }
            if self.reopen_at.is_some_and(|at| Instant::now() >= at) {
                self.reopen_channel();
            }
            if self.restart_at.is_some_and(|at| Instant::now() >= at) {
                self.restart_at = None;
                if self.channel.is_none() {
                    // The front starts once the channel is open again.
                    continue;
                }
                if let Err(e) = self.start_front() {
                    tracing::error!(error = %e, "cannot start front");
                    self.schedule_restart(false);
                }
            }
        }
    }

    fn on_signals(&mut self) -> Option<Exit> {
        while let Ok(Some(info)) = self.signals.read_signal() {
            let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            match signal {
                Signal::SIGCHLD => self.reap(),
                Signal::SIGHUP => self.reload_policy(),
                Signal::SIGTERM | Signal::SIGINT => {
                    self.stop_front();
                    return Some(Exit::Signal(signal));
                }
                _ => {}
            }
        }
        None
    }

    fn reap(&mut self) {
        loop {
            match nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(status) => {
                    let Some(pid) = status.pid() else { continue };
                    let is_front = self.front.as_ref().is_some_and(|f| f.running.pid == pid);
                    if !is_front {
                        // A guest-exec child: its status waits in the exec
                        // table for guest-exec-status.
                        if !self.ctx.exec.on_child_exit(status) {
                            tracing::debug!(pid = pid.as_raw(), "unknown child reaped");
                        }
                        continue;
                    }
                    let front = self.front.take();
                    let ran_long = front.is_some_and(|f| {
                        f.started.elapsed() >= Duration::from_millis(FRONT_STABLE_AFTER_MS)
                    });
                    tracing::warn!(pid = pid.as_raw(), reason = %describe_exit(&status), "front exited");
                    let channel_failed = matches!(status, WaitStatus::Exited(_, code)
                        if code == i32::from(internal::FRONT_EXIT_CHANNEL_FAILED));
                    if channel_failed && self.source.retry {
                        // As qemu-ga with -r: close the channel, wait, and
                        // open the path again.
                        tracing::warn!(path = %self.source.path.display(), "channel failed; reopening it (-r)");
                        self.channel = None;
                        self.schedule_reopen();
                        continue;
                    }
                    self.schedule_restart(ran_long);
                }
            }
        }
    }

    fn schedule_restart(&mut self, ran_long: bool) {
        let min = Duration::from_millis(FRONT_RESTART_MIN_DELAY_MS);
        let max = Duration::from_millis(FRONT_RESTART_MAX_DELAY_MS);
        self.restart_delay = if ran_long {
            min
        } else {
            (self.restart_delay * 2).min(max)
        };
        tracing::info!(
            delay_ms = self.restart_delay.as_millis() as u64,
            "restarting front"
        );
        self.restart_at = Some(Instant::now() + self.restart_delay);
    }

    fn stop_front(&mut self) {
        if let Some(front) = self.front.take() {
            match nix::sys::signal::kill(front.running.pid, Signal::SIGKILL) {
                Ok(()) => {
                    let _ = nix::sys::wait::waitpid(front.running.pid, None);
                }
                // Waiting would hang; the front's parent-death signal ends
                // it when the helper exits.
                Err(e) => tracing::error!(error = %e, "cannot stop the front"),
            }
        }
    }

    fn reload_policy(&mut self) {
        let path = self.policy_source.path.display().to_string();
        match self.policy_source.load() {
            Ok(policy) => {
                policy_source::log_warnings(&policy);
                self.ctx.policy = policy;
                tracing::info!(path, "policy reloaded");
                self.send_state();
            }
            Err(errors) => {
                tracing::error!(
                    path,
                    errors = %errors.to_string().replace('\n', "; "),
                    "policy reload failed; the previous policy stays in force"
                );
            }
        }
    }

    pub fn send_state(&mut self) {
        let state = FromHelper::State(AgentState {
            enabled: self.ctx.policy.enabled_flags(),
            frozen: self.ctx.frozen,
            rules: self.ctx.policy.command_rules(),
        });
        self.send(&state);
    }

    fn send(&mut self, message: &FromHelper) {
        let Some(front) = self.front.as_mut().filter(|f| f.link_open) else {
            return;
        };
        let bytes = match internal::encode(message) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a message for the front");
                // A reply that never comes would leave the request waiting
                // for ever: the request gets an error instead.
                let FromHelper::Reply { seq, .. } = message else {
                    return;
                };
                let refusal = FromHelper::Reply {
                    seq: *seq,
                    result: Err(QgaError::internal("result too large for the internal link")),
                };
                match internal::encode(&refusal) {
                    Ok(b) => b,
                    Err(_) => return,
                }
            }
        };
        // Blocking send, bounded by the socket's send timeout
        // (LINK_SEND_TIMEOUT_MS): the front reads its replies promptly; one
        // that stops reading is broken or hostile and is stopped (and, as
        // after any exit, started again).
        let r = nix::sys::socket::send(
            front.running.link.as_raw_fd(),
            &bytes,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
        );
        match r {
            Ok(_) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                tracing::warn!(
                    pid = front.running.pid.as_raw(),
                    "the front stopped reading its replies; stopping it"
                );
                front.link_open = false;
                let _ = nix::sys::signal::kill(front.running.pid, Signal::SIGKILL);
            }
            Err(e) => {
                tracing::warn!(error = %e, "send to front failed");
                front.link_open = false;
            }
        }
    }

    fn on_link(&mut self) {
        let Some(front) = self.front.as_mut() else {
            return;
        };
        let fd = front.running.link.as_raw_fd();
        // SAFETY: buf is valid for its length; MSG_TRUNC makes recv return
        // the datagram's real length so an oversized one is detected.
        let n = unsafe {
            libc::recv(
                fd,
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock && e.kind() != io::ErrorKind::Interrupted {
                front.link_open = false;
            }
            return;
        }
        let n = n as usize;
        if n == 0 {
            // The front closed its end: it is exiting; SIGCHLD follows.
            front.link_open = false;
            return;
        }
        if n > MAX_MESSAGE_BYTES {
            self.bad_messages
                .note(|| tracing::warn!(bytes = n, "oversized message from front dropped"));
            return;
        }
        let message: ToHelper = match internal::decode(&self.buf[..n]) {
            Ok(m) => m,
            Err(e) => {
                self.bad_messages
                    .note(|| tracing::warn!(error = %e, "malformed message from front dropped"));
                return;
            }
        };
        let was_frozen = self.ctx.frozen;
        let file_data = front.running.file_data.as_fd();
        let result = dispatch::handle(
            message.request,
            message.id.as_deref(),
            &mut self.ctx,
            file_data,
        );
        // The new frozen state goes first, so the front gates (and answers
        // guest-info for) the very next request with it.
        if self.ctx.frozen != was_frozen {
            self.send_state();
        }
        // `send` turns a reply the link cannot carry into an error reply.
        self.send(&FromHelper::Reply {
            seq: message.seq,
            result,
        });
    }

    /// On a clean stop, filesystems this agent froze are thawed (running the
    /// hook), so stopping the agent never leaves the guest frozen. A crash
    /// leaves the statedir record instead, for the next run to act on.
    pub fn thaw_before_exit(&mut self) {
        if !self.ctx.frozen {
            return;
        }
        match self.ctx.fsfreeze.thaw(&mut self.ctx.frozen) {
            Ok(count) => tracing::info!(count, "thawed filesystems before exiting"),
            Err(e) => tracing::error!(error = %e, "thaw before exiting failed"),
        }
    }
}

fn describe_exit(status: &WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, Signal::SIGSYS, _) => {
            "killed by SIGSYS: a syscall outside its seccomp filter".into()
        }
        WaitStatus::Signaled(_, signal, _) => format!("killed by {signal}"),
        other => format!("{other:?}"),
    }
}

/// Logs the first few problems caused by one front, then every thousandth,
/// so a hostile front cannot flood the log.
#[derive(Default)]
struct RateLimitedLog {
    count: u64,
}

impl RateLimitedLog {
    const FIRST: u64 = 10;
    const EVERY: u64 = 1000;

    fn note(&mut self, log: impl FnOnce()) {
        self.count += 1;
        if self.count <= Self::FIRST || self.count.is_multiple_of(Self::EVERY) {
            log();
        }
    }
}
