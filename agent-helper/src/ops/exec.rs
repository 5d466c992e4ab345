//! guest-exec and guest-exec-status: start a program the host asked for,
//! feed it its input, capture its output, and keep its status until
//! guest-exec-status collects it once (then it is forgotten, as in qemu-ga).
//!
//! Everything happens on the helper's single-threaded event loop: the pipes
//! are non-blocking and polled by the supervisor (`poll_interest` and
//! `on_ready`), and the supervisor hands every reaped exit status of an
//! exec child to `on_child_exit`.
//!
//! Which program runs: a path without `/` is looked up in `SEARCH_PATH`, a
//! relative one from `/`, and every symlink and `..` is resolved. The policy
//! judges that resolved path (it must name it in `[rules.guest-exec]
//! programs`), and exactly that path is executed, with the host's path as
//! `argv[0]`.
//!
//! What a program gets (documented in the README):
//! - the helper's credentials: root, with only the helper's capabilities
//!   (`privileges.rs`), `no_new_privs`, the helper's seccomp filter and on
//!   top of it the guest-exec filter (`child_filters`), which a process can
//!   never shed (a syscall outside them kills the program with SIGSYS,
//!   reported as `signal: 31`);
//! - the environment `BASE_ENVIRONMENT` plus the request's `env` entries (an
//!   entry for a name already there replaces it), nothing inherited from
//!   the helper;
//! - stdin from `input-data` through a pipe, or /dev/null without it;
//!   stdout and stderr to pipes when captured, /dev/null otherwise;
//! - `/` as working directory, default signal handling and an empty signal
//!   mask, and no other open file descriptor.

use crate::child_filters::{self, ChildKind};
use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, Pid};
use protocol::internal::{CapturedOutput, ExecExit, ExecStage, ExecStart, ExecState, ExecStream};
use protocol::limits::{
    EXEC_CHUNK_BYTES, MAX_EXEC_ARGV_BYTES, MAX_EXEC_BUFFERED_BYTES, MAX_EXEC_INPUT_BYTES,
    MAX_EXEC_OUTPUT_BYTES, MAX_EXEC_PROCESSES,
};
use protocol::qga::GuestExecCaptureOutputMode as Capture;
use protocol::QgaError;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The environment every guest-exec program starts from: systemd's default
/// search path, which is what qemu-ga's programs get under systemd.
pub const BASE_ENVIRONMENT: &[&str] =
    &["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

/// Where a program named without a `/` is looked for, in order: the same
/// directories as the `PATH` above (qemu-ga searches its own `PATH`, which
/// under systemd is this one).
pub const SEARCH_PATH: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

/// The policy's verdict on a resolved program.
pub type ProgramJudge<'a> = &'a dyn Fn(&Path) -> Result<(), QgaError>;

/// Bytes read from one pipe per wake-up, so one chatty program cannot hold
/// up the loop.
const READ_CHUNK: usize = 64 << 10;

/// Counted per string by the kernel on top of its bytes and NUL: the
/// pointer in argv or envp.
const POINTER_BYTES: usize = 8;

/// The program a guest-exec path names: found through `SEARCH_PATH` when it
/// has no `/`, taken from `/` (where programs start) when relative, then
/// resolved (symlinks, `.`, `..`). When that fails: the path as far as it
/// could be made absolute, for the policy, and why it failed.
pub fn resolve_program(given: &str) -> Result<PathBuf, (PathBuf, Errno)> {
    let candidate = if given.contains('/') {
        Path::new("/").join(given)
    } else if given.is_empty() {
        return Err((PathBuf::new(), Errno::ENOENT));
    } else {
        match SEARCH_PATH
            .iter()
            .map(|dir| Path::new(dir).join(given))
            .find(|p| p.is_file())
        {
            Some(found) => found,
            // Nothing absolute to judge: the policy refuses a bare name.
            None => return Err((PathBuf::from(given), Errno::ENOENT)),
        }
    };
    std::fs::canonicalize(&candidate).map_err(|e| {
        let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT));
        (policy::path_glob::normalize_lexically(&candidate), errno)
    })
}

#[derive(Default)]
pub struct ExecTable {
    processes: Vec<Process>,
    staged: Staged,
    collected: Option<Collected>,
}

/// Pieces of the next guest-exec, sent ahead of it.
#[derive(Default)]
struct Staged {
    args: Vec<String>,
    env: Vec<String>,
    input: Vec<u8>,
    argv_bytes: usize,
    /// More arguments and environment than any kernel takes: the strings
    /// are dropped and the start fails with E2BIG, as the kernel would.
    too_big: bool,
}

struct Process {
    pid: Pid,
    status: Option<WaitStatus>,
    stdin: Option<Input>,
    out: Option<Captured>,
    err: Option<Captured>,
}

struct Input {
    pipe: OwnedFd,
    data: Vec<u8>,
    written: usize,
}

struct Captured {
    /// None once the program's end is closed.
    pipe: Option<OwnedFd>,
    data: Vec<u8>,
    truncated: bool,
}

/// The output of the process whose finished status was just returned,
/// until the front has fetched it.
struct Collected {
    pid: i64,
    out: Vec<u8>,
    err: Vec<u8>,
    out_fetched: bool,
    err_fetched: bool,
}

impl Process {
    fn exited(&self) -> bool {
        let open = |c: &Option<Captured>| c.as_ref().is_some_and(|c| c.pipe.is_some());
        self.status.is_some() && !open(&self.out) && !open(&self.err)
    }

    fn buffered(&self) -> usize {
        let captured = |c: &Option<Captured>| c.as_ref().map_or(0, |c| c.data.len());
        self.stdin.as_ref().map_or(0, |i| i.data.len()) + captured(&self.out) + captured(&self.err)
    }
}

impl ExecTable {
    /// Bytes held for all exec children: staged and unwritten input,
    /// captured output.
    fn buffered(&self) -> usize {
        let collected = self
            .collected
            .as_ref()
            .map_or(0, |c| c.out.len() + c.err.len());
        self.staged.input.len()
            + collected
            + self.processes.iter().map(Process::buffered).sum::<usize>()
    }

    pub fn stage(&mut self, stage: ExecStage) -> Result<(), QgaError> {
        if self.staged.input.len() + stage.input.len() > MAX_EXEC_INPUT_BYTES {
            self.staged = Staged::default();
            return Err(QgaError::exec_limit(&format!(
                "input-data is larger than {} MiB",
                MAX_EXEC_INPUT_BYTES >> 20
            )));
        }
        if self.buffered() + stage.input.len() > MAX_EXEC_BUFFERED_BYTES {
            self.staged = Staged::default();
            return Err(buffers_full());
        }
        let staged = &mut self.staged;
        for s in stage.args.iter().chain(&stage.env) {
            staged.argv_bytes += s.len() + 1 + POINTER_BYTES;
        }
        if staged.argv_bytes > MAX_EXEC_ARGV_BYTES {
            staged.too_big = true;
        }
        if !staged.too_big {
            staged.args.extend(stage.args);
            staged.env.extend(stage.env);
        }
        staged.input.extend_from_slice(&stage.input);
        Ok(())
    }

    /// Drops what was staged for a guest-exec that will not start.
    pub fn discard_staged(&mut self) {
        self.staged = Staged::default();
    }

    /// Starts a program with what was staged for it, if `judge` allows the
    /// program the path resolves to; returns its pid.
    pub fn start(&mut self, start: ExecStart, judge: ProgramJudge) -> Result<i64, QgaError> {
        let staged = std::mem::take(&mut self.staged);
        let path = until_nul(&start.path);
        let program = match resolve_program(path) {
            Ok(resolved) => {
                judge(&resolved)?;
                Ok(resolved)
            }
            // A program the policy would not allow stays a refusal, whether
            // or not it exists.
            Err((lexical, errno)) => {
                judge(&lexical)?;
                Err(errno)
            }
        };
        let input_matches = match start.input {
            None => staged.input.is_empty(),
            Some(n) => n == staged.input.len() as u64,
        };
        let counts_match = staged.too_big
            || (staged.args.len() as u64 == u64::from(start.args)
                && staged.env.len() as u64 == u64::from(start.env));
        if !input_matches || !counts_match {
            return Err(QgaError::internal("guest-exec pieces do not match"));
        }
        if self.processes.len() >= MAX_EXEC_PROCESSES {
            return Err(QgaError::exec_limit(&format!(
                "{MAX_EXEC_PROCESSES} processes have not been collected with guest-exec-status"
            )));
        }
        // The kernel finds the file before it counts the arguments.
        let program = program.map_err(|errno| QgaError::exec_failed(path, errno.desc()))?;
        if staged.too_big {
            return Err(QgaError::exec_failed(path, Errno::E2BIG.desc()));
        }
        let input = start.input.map(|_| staged.input);
        let process = spawn(
            &program,
            path,
            &staged.args,
            &staged.env,
            input,
            start.capture,
        )
        .map_err(|e| QgaError::exec_failed(path, e.desc()))?;
        let pid = i64::from(process.pid.as_raw());
        tracing::info!(pid, program = %program.display(), "guest-exec started");
        self.processes.push(process);
        Ok(pid)
    }

    /// The status of a process; a finished one is removed, and its output
    /// kept until fetched with `output`.
    pub fn status(&mut self, pid: i64) -> Result<ExecState, QgaError> {
        let index = self
            .processes
            .iter()
            .position(|p| i64::from(p.pid.as_raw()) == pid)
            .ok_or_else(|| QgaError::invalid_parameter("pid"))?;
        if !self.processes[index].exited() {
            return Ok(ExecState {
                exited: false,
                exit: None,
                out: None,
                err: None,
            });
        }
        let process = self.processes.remove(index);
        let exit = match process.status {
            Some(WaitStatus::Exited(_, code)) => Some(ExecExit::Code(code)),
            Some(WaitStatus::Signaled(_, signal, _)) => Some(ExecExit::Signal(signal as i32)),
            _ => None,
        };
        let summary = |c: &Option<Captured>| {
            c.as_ref().map(|c| CapturedOutput {
                len: c.data.len() as u64,
                truncated: c.truncated,
            })
        };
        let state = ExecState {
            exited: true,
            exit,
            out: summary(&process.out),
            err: summary(&process.err),
        };
        let out = process.out.map(|c| c.data).unwrap_or_default();
        let err = process.err.map(|c| c.data).unwrap_or_default();
        self.collected = (!out.is_empty() || !err.is_empty()).then_some(Collected {
            pid,
            out_fetched: out.is_empty(),
            err_fetched: err.is_empty(),
            out,
            err,
        });
        tracing::info!(pid, exit = ?state.exit, "guest-exec status collected");
        Ok(state)
    }

    /// A slice of collected output; the whole of it is dropped once every
    /// stream was read to its end.
    pub fn output(
        &mut self,
        pid: i64,
        stream: ExecStream,
        offset: u64,
    ) -> Result<Vec<u8>, QgaError> {
        let c = self
            .collected
            .as_mut()
            .filter(|c| c.pid == pid)
            .ok_or_else(|| QgaError::invalid_parameter("pid"))?;
        let (data, fetched) = match stream {
            ExecStream::Out => (&c.out, &mut c.out_fetched),
            ExecStream::Err => (&c.err, &mut c.err_fetched),
        };
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o < data.len())
            .ok_or_else(|| QgaError::internal("guest-exec output offset out of range"))?;
        let end = (start + EXEC_CHUNK_BYTES).min(data.len());
        let slice = data[start..end].to_vec();
        if end == data.len() {
            *fetched = true;
        }
        if c.out_fetched && c.err_fetched {
            self.collected = None;
        }
        Ok(slice)
    }

    /// A new front knows nothing of a half-staged request or of output it
    /// did not fetch.
    pub fn front_restarted(&mut self) {
        self.staged = Staged::default();
        self.collected = None;
    }

    /// The pipes the event loop should wait on.
    pub fn poll_interest(&self) -> Vec<(RawFd, PollFlags)> {
        let mut fds = Vec::new();
        for p in &self.processes {
            if let Some(input) = &p.stdin {
                fds.push((input.pipe.as_raw_fd(), PollFlags::POLLOUT));
            }
            for c in [&p.out, &p.err].into_iter().flatten() {
                if let Some(pipe) = &c.pipe {
                    fds.push((pipe.as_raw_fd(), PollFlags::POLLIN));
                }
            }
        }
        fds
    }

    /// One of the fds from `poll_interest` is ready.
    pub fn on_ready(&mut self, fd: RawFd) {
        let room = MAX_EXEC_BUFFERED_BYTES.saturating_sub(self.buffered());
        for p in &mut self.processes {
            if p.stdin.as_ref().is_some_and(|i| i.pipe.as_raw_fd() == fd) {
                if !feed(p.stdin.as_mut().expect("checked above")) {
                    p.stdin = None;
                }
                return;
            }
            for c in [&mut p.out, &mut p.err].into_iter().flatten() {
                if c.pipe.as_ref().is_some_and(|pipe| pipe.as_raw_fd() == fd) {
                    drain(c, room);
                    return;
                }
            }
        }
    }

    /// A reaped child: true if it was one of ours.
    pub fn on_child_exit(&mut self, status: WaitStatus) -> bool {
        let Some(pid) = status.pid() else {
            return false;
        };
        match self.processes.iter_mut().find(|p| p.pid == pid) {
            Some(p) => {
                if let WaitStatus::Signaled(_, nix::sys::signal::Signal::SIGSYS, _) = status {
                    tracing::error!(
                        pid = pid.as_raw(),
                        "guest-exec program {}",
                        child_filters::describe_sigsys(ChildKind::GuestExec)
                    );
                }
                tracing::debug!(pid = pid.as_raw(), ?status, "guest-exec child ended");
                p.status = Some(status);
                true
            }
            None => false,
        }
    }
}

fn buffers_full() -> QgaError {
    QgaError::exec_limit(&format!(
        "the agent already holds {} MiB of guest-exec data; collect finished processes with guest-exec-status",
        MAX_EXEC_BUFFERED_BYTES >> 20
    ))
}

/// Writes what the pipe takes. False when the input is done or the
/// program closed its end: the pipe is then closed.
fn feed(input: &mut Input) -> bool {
    while input.written < input.data.len() {
        match nix::unistd::write(input.pipe.as_fd(), &input.data[input.written..]) {
            Ok(n) => input.written += n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return true,
            Err(_) => return false,
        }
    }
    false
}

/// Reads what is there; keeps at most `MAX_EXEC_OUTPUT_BYTES` per stream
/// and `room` in all, drops and marks the rest as qemu-ga does.
fn drain(c: &mut Captured, room: usize) {
    let Some(pipe) = &c.pipe else { return };
    let mut buf = vec![0u8; READ_CHUNK];
    match nix::unistd::read(pipe.as_raw_fd(), &mut buf) {
        Ok(0) => c.pipe = None,
        Ok(n) => {
            let keep = n
                .min(MAX_EXEC_OUTPUT_BYTES.saturating_sub(c.data.len()))
                .min(room);
            c.data.extend_from_slice(&buf[..keep]);
            if keep < n {
                c.truncated = true;
            }
        }
        Err(Errno::EINTR | Errno::EAGAIN) => {}
        Err(_) => c.pipe = None,
    }
}

fn until_nul(s: &str) -> &str {
    // A C program, qemu-ga included, sees a string up to its first NUL.
    s.split('\0').next().unwrap_or_default()
}

fn c_string(s: &str) -> CString {
    CString::new(until_nul(s)).unwrap_or_default()
}

/// The base environment with the requested entries added; an entry for a
/// name the base has replaces it.
fn environment(requested: &[String]) -> Vec<CString> {
    let name = |entry: &str| entry.split('=').next().unwrap_or_default().to_string();
    let requested_names: Vec<String> = requested.iter().map(|e| name(until_nul(e))).collect();
    BASE_ENVIRONMENT
        .iter()
        .filter(|base| !requested_names.contains(&name(base)))
        .map(|base| c_string(base))
        .chain(requested.iter().map(|e| c_string(e)))
        .collect()
}

fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
}

fn dev_null(write: bool) -> Result<OwnedFd, Errno> {
    let flags = if write {
        nix::fcntl::OFlag::O_WRONLY
    } else {
        nix::fcntl::OFlag::O_RDONLY
    };
    let fd = nix::fcntl::open(
        "/dev/null",
        flags | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) })
}

fn set_nonblocking(fd: &OwnedFd) -> Result<(), Errno> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Forks and execs `program`, with `argv0` first in its arguments. An exec
/// failure comes back from the child through a close-on-exec pipe, so the
/// host gets the real errno.
fn spawn(
    program: &Path,
    argv0: &str,
    args: &[String],
    env: &[String],
    input: Option<Vec<u8>>,
    capture: Capture,
) -> Result<Process, Errno> {
    use std::os::unix::ffi::OsStrExt;
    // A resolved path has no NUL: it came from the kernel.
    let c_path = CString::new(program.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let argv: Vec<CString> = std::iter::once(c_string(argv0))
        .chain(args.iter().map(|a| c_string(a)))
        .collect();
    let envp = environment(env);

    // Child ends first, then the helper's ends.
    let (stdin_child, stdin_ours) = match &input {
        Some(_) => {
            let (r, w) = pipe()?;
            (r, Some(w))
        }
        None => (dev_null(false)?, None),
    };
    let null_out = dev_null(true)?;
    let (out_pipe, err_pipe) = match capture {
        Capture::None => (None, None),
        Capture::Stdout | Capture::Merged => (Some(pipe()?), None),
        Capture::Stderr => (None, Some(pipe()?)),
        Capture::Separated => (Some(pipe()?), Some(pipe()?)),
    };
    let stdout_child = out_pipe
        .as_ref()
        .map_or(null_out.as_raw_fd(), |p| p.1.as_raw_fd());
    let stderr_child = match (capture, &err_pipe) {
        (Capture::Merged, _) => stdout_child,
        (_, Some(p)) => p.1.as_raw_fd(),
        (_, None) => null_out.as_raw_fd(),
    };
    let (report_ours, report_child) = pipe()?;

    let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let filter = child_filters::filter(ChildKind::GuestExec);

    // SAFETY: the helper is single-threaded; the child only makes syscalls
    // on values prepared above, then execs or exits.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Child => {
            let errno = become_program(
                [stdin_child.as_raw_fd(), stdout_child, stderr_child],
                &c_path,
                &argv_ptrs,
                &envp_ptrs,
                filter,
            );
            let bytes = errno.to_ne_bytes();
            // SAFETY: write a small buffer to our own pipe, then leave
            // without running any of the helper's destructors.
            unsafe {
                libc::write(report_child.as_raw_fd(), bytes.as_ptr().cast(), bytes.len());
                libc::_exit(127)
            }
        }
        ForkResult::Parent { child } => {
            drop(report_child);
            drop(stdin_child);
            drop(null_out);
            let out_ours = out_pipe.map(|(r, _w)| r);
            let err_ours = err_pipe.map(|(r, _w)| r);
            if let Some(errno) = exec_error(&report_ours) {
                let _ = nix::sys::wait::waitpid(child, None);
                return Err(errno);
            }
            let stdin = match (stdin_ours, input) {
                (Some(pipe), Some(data)) if !data.is_empty() => {
                    set_nonblocking(&pipe)?;
                    Some(Input {
                        pipe,
                        data,
                        written: 0,
                    })
                }
                // Empty input: closing our end gives the program EOF.
                _ => None,
            };
            let captured = |pipe: Option<OwnedFd>| -> Result<Option<Captured>, Errno> {
                pipe.map(|p| {
                    set_nonblocking(&p)?;
                    Ok(Captured {
                        pipe: Some(p),
                        data: Vec::new(),
                        truncated: false,
                    })
                })
                .transpose()
            };
            Ok(Process {
                pid: child,
                status: None,
                stdin,
                out: captured(out_ours)?,
                err: captured(err_ours)?,
            })
        }
    }
}

/// Waits for the child's report: EOF means the exec succeeded.
fn exec_error(report: &OwnedFd) -> Option<Errno> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(report.as_raw_fd(), &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    (got == buf.len()).then(|| Errno::from_raw(i32::from_ne_bytes(buf)))
}

/// Runs in the child: returns the errno of the step that failed.
fn become_program(
    stdio: [RawFd; 3],
    path: &CString,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
    filter: &seccompiler::BpfProgram,
) -> i32 {
    // SAFETY: plain syscalls on valid fds and C strings prepared before
    // fork; nothing here allocates.
    unsafe {
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // The helper ignores SIGPIPE; a program expects the default.
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
        for (target, fd) in stdio.into_iter().enumerate() {
            if libc::dup2(fd, target as RawFd) < 0 {
                return Errno::last_raw();
            }
        }
        if libc::chdir(c"/".as_ptr()) < 0 {
            return Errno::last_raw();
        }
        // Whatever the helper inherited without close-on-exec stays out
        // of the program.
        const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
        if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) < 0 {
            return Errno::last_raw();
        }
        // Last, so that only the exec runs under it.
        if let Err(e) = child_filters::apply_in_child(filter) {
            return e.raw_os_error().unwrap_or(libc::EPERM);
        }
        libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
        Errno::last_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_is_the_base_plus_requests() {
        let names = |env: &[CString]| -> Vec<String> {
            env.iter()
                .map(|e| e.to_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(names(&environment(&[])), BASE_ENVIRONMENT);
        let requested = ["A=1".to_string(), "B".to_string()];
        let mut want: Vec<String> = BASE_ENVIRONMENT.iter().map(|s| s.to_string()).collect();
        want.extend(requested.iter().cloned());
        assert_eq!(names(&environment(&requested)), want);
        assert_eq!(
            names(&environment(&["PATH=/opt/bin".to_string()])),
            ["PATH=/opt/bin"]
        );
    }

    #[test]
    fn strings_end_at_the_first_nul_as_in_c() {
        assert_eq!(until_nul("/bin/echo\0junk"), "/bin/echo");
        assert_eq!(c_string("a\0b").as_bytes(), b"a");
    }

    fn allow_any(_: &Path) -> Result<(), QgaError> {
        Ok(())
    }

    fn start_true(args: u32, input: Option<u64>) -> ExecStart {
        ExecStart {
            path: "/bin/true".into(),
            capture: Capture::None,
            args,
            env: 0,
            input,
        }
    }

    #[test]
    fn staged_input_is_bounded_and_dropped_on_refusal() {
        let mut table = ExecTable::default();
        let big = ExecStage {
            input: vec![0; MAX_EXEC_INPUT_BYTES + 1],
            ..Default::default()
        };
        let e = table.stage(big).unwrap_err();
        assert!(e.desc.starts_with("guest-exec refused: "), "{}", e.desc);
        assert_eq!(table.buffered(), 0);
    }

    #[test]
    fn start_needs_exactly_what_was_staged() {
        let mut table = ExecTable::default();
        table
            .stage(ExecStage {
                args: vec!["a".into()],
                ..Default::default()
            })
            .unwrap();
        let e = table.start(start_true(2, None), &allow_any).unwrap_err();
        assert!(e.desc.contains("pieces do not match"), "{}", e.desc);
        // The leftovers are gone: a request without pieces now works.
        let pid = table.start(start_true(0, None), &allow_any).unwrap();
        assert!(pid > 0);
        let _ = nix::sys::wait::waitpid(Pid::from_raw(pid as i32), None);
    }

    #[test]
    fn arguments_past_any_kernel_limit_fail_like_the_kernel() {
        let mut table = ExecTable::default();
        let huge = "x".repeat(100_000);
        let mut sent = 0;
        while sent <= MAX_EXEC_ARGV_BYTES {
            table
                .stage(ExecStage {
                    args: vec![huge.clone()],
                    ..Default::default()
                })
                .unwrap();
            sent += huge.len();
        }
        let e = table
            .start(start_true(u32::MAX, None), &allow_any)
            .unwrap_err();
        assert!(e.desc.ends_with("(Argument list too long)'"), "{}", e.desc);
        assert!(table.staged.args.is_empty());
    }

    #[test]
    fn unknown_pids_and_uncollected_output_are_refused() {
        let mut table = ExecTable::default();
        assert_eq!(table.status(1).unwrap_err().desc, "Invalid parameter 'pid'");
        assert_eq!(
            table.output(1, ExecStream::Out, 0).unwrap_err().desc,
            "Invalid parameter 'pid'"
        );
    }

    #[test]
    fn programs_resolve_through_the_search_path_and_symlinks() {
        let true_path = std::fs::canonicalize("/bin/true").unwrap();
        assert_eq!(resolve_program("/bin/true"), Ok(true_path.clone()));
        assert_eq!(resolve_program("true"), Ok(true_path.clone()));
        // Relative to /, where programs start.
        assert_eq!(resolve_program("bin/../bin/true"), Ok(true_path));
        assert_eq!(
            resolve_program("/no/such/../prog"),
            Err((PathBuf::from("/no/prog"), Errno::ENOENT))
        );
        assert_eq!(
            resolve_program("no-such-program"),
            Err((PathBuf::from("no-such-program"), Errno::ENOENT))
        );
        assert_eq!(resolve_program(""), Err((PathBuf::new(), Errno::ENOENT)));
    }

    #[test]
    fn the_judge_sees_the_resolved_program_and_its_refusal_stands() {
        let mut table = ExecTable::default();
        table
            .stage(ExecStage {
                input: b"x".to_vec(),
                ..Default::default()
            })
            .unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let refuse = |p: &Path| {
            seen.borrow_mut().push(p.to_path_buf());
            Err(QgaError::denied_by_policy("guest-exec", "test"))
        };
        let missing = ExecStart {
            path: "/no/such/prog".into(),
            ..start_true(0, Some(1))
        };
        let e = table.start(missing, &refuse).unwrap_err();
        assert_eq!(e.desc, "Command guest-exec denied by policy (test)");
        let e = table.start(start_true(0, None), &refuse).unwrap_err();
        assert_eq!(e.desc, "Command guest-exec denied by policy (test)");
        assert_eq!(
            *seen.borrow(),
            [
                PathBuf::from("/no/such/prog"),
                std::fs::canonicalize("/bin/true").unwrap()
            ]
        );
        assert_eq!(table.buffered(), 0, "the staged input is gone");
        // Allowed but missing: qemu-ga's error for it.
        let e = table
            .start(
                ExecStart {
                    path: "/no/such/prog".into(),
                    ..start_true(0, None)
                },
                &allow_any,
            )
            .unwrap_err();
        assert_eq!(
            e.desc,
            "Guest agent command failed, error was 'Failed to execute child process \u{201C}/no/such/prog\u{201D} (No such file or directory)'"
        );
    }
}
