//! Starting a front: a fresh image (fork + exec of agent-front from an fd the
//! helper opened at start), with the host channel at fd 3 and its end of a
//! new internal socketpair at fd 4 and the read end of a new file-data pipe
//! at fd 5, after dropping every privilege.

use crate::cli::SeccompMode;
use crate::sandbox;
use caps::CapSet;
use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType};
use nix::sys::time::{TimeVal, TimeValLike};
use nix::unistd::{ForkResult, Gid, Pid, Uid};
use protocol::limits::{FILE_DATA_PIPE_BYTES, LINK_SEND_TIMEOUT_MS, LINK_SOCKET_BUFFER_BYTES};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// fd numbers the front is told about on its command line.
const FRONT_CHANNEL_FD: RawFd = 3;
const FRONT_LINK_FD: RawFd = 4;
const FRONT_FILE_DATA_FD: RawFd = 5;

/// Everything needed to start a front, prepared once at start-up.
pub struct FrontLauncher {
    /// agent-front, opened before any privilege drop so the front user needs
    /// no access to it and it cannot be swapped under us.
    pub executable: OwnedFd,
    pub uid: Uid,
    pub gid: Gid,
    pub channel_kind: &'static str,
    pub verbose: bool,
    pub seccomp: SeccompMode,
    /// Pass the front its sandbox self-test flag.
    pub sandbox_selftest: bool,
    /// /dev/null, for the front's stdin and stdout.
    pub dev_null: OwnedFd,
}

pub struct RunningFront {
    pub pid: Pid,
    pub link: OwnedFd,
    /// Write end of the file-data pipe (non-blocking): guest-file-read data
    /// goes to the front this way, spliced from the file without a copy in
    /// the helper, while the link carries only the count.
    pub file_data: OwnedFd,
}

impl FrontLauncher {
    pub fn spawn(&self, channel: BorrowedFd, log: Option<BorrowedFd>) -> io::Result<RunningFront> {
        let (helper_end, front_end) = socket::socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        for end in [&helper_end, &front_end] {
            socket::setsockopt(end, sockopt::SndBuf, &LINK_SOCKET_BUFFER_BYTES)?;
            socket::setsockopt(end, sockopt::RcvBuf, &LINK_SOCKET_BUFFER_BYTES)?;
        }
        let timeout = TimeVal::milliseconds(LINK_SEND_TIMEOUT_MS as i64);
        socket::setsockopt(&helper_end, sockopt::SendTimeout, &timeout)?;
        let (file_data_front, file_data_helper) = file_data_pipe()?;
        // Everything the child needs is built before fork.
        let mut argv = vec![
            "agent-front".to_string(),
            "--channel-fd".into(),
            FRONT_CHANNEL_FD.to_string(),
            "--channel".into(),
            self.channel_kind.into(),
            "--link-fd".into(),
            FRONT_LINK_FD.to_string(),
            "--file-data-fd".into(),
            FRONT_FILE_DATA_FD.to_string(),
            "--seccomp".into(),
            match self.seccomp {
                SeccompMode::Kill => "kill".into(),
                SeccompMode::Log => "log".into(),
            },
        ];
        if self.verbose {
            argv.push("--verbose".into());
        }
        if self.sandbox_selftest {
            argv.push("--probe-forbidden-syscall".into());
        }
        let argv = to_cstrings(&argv)?;
        let envp = to_cstrings(&["PATH=/usr/sbin:/usr/bin:/sbin:/bin".to_string()])?;
        let filter = sandbox::front_launch_filter(self.seccomp).map_err(io::Error::other)?;
        // SAFETY: the helper is single-threaded, so the child may run
        // ordinary code until exec.
        match unsafe { nix::unistd::fork() }? {
            ForkResult::Parent { child } => Ok(RunningFront {
                pid: child,
                link: helper_end,
                file_data: file_data_helper,
            }),
            ForkResult::Child => {
                let fds = FrontFds {
                    channel,
                    link: front_end.as_fd(),
                    file_data: file_data_front.as_fd(),
                    log,
                };
                let err = self.become_front(fds, &argv, &envp, &filter);
                let message = format!("agent-helper: cannot start agent-front: {err}\n");
                // SAFETY: writing a buffer to stderr and exiting without
                // running the parent's destructors.
                unsafe {
                    libc::write(2, message.as_ptr().cast(), message.len());
                    libc::_exit(127)
                }
            }
        }
    }

    /// Runs in the child: returns only on failure.
    fn become_front(
        &self,
        fds: FrontFds,
        argv: &[CString],
        envp: &[CString],
        filter: &seccompiler::BpfProgram,
    ) -> io::Error {
        let step = || -> io::Result<()> {
            // Move the fds out of the way of 0-4 first, then into place.
            let channel = dup_above(fds.channel.as_raw_fd())?;
            let link = dup_above(fds.link.as_raw_fd())?;
            let file_data = dup_above(fds.file_data.as_raw_fd())?;
            let log = fds.log.map(|l| dup_above(l.as_raw_fd())).transpose()?;
            dup_onto(self.dev_null.as_raw_fd(), 0)?;
            dup_onto(self.dev_null.as_raw_fd(), 1)?;
            if let Some(log) = log {
                dup_onto(log, 2)?;
            }
            dup_onto(channel, FRONT_CHANNEL_FD)?;
            dup_onto(link, FRONT_LINK_FD)?;
            dup_onto(file_data, FRONT_FILE_DATA_FD)?;
            // Every other fd is closed by the exec (the executable's fd must
            // stay open until then).
            mark_cloexec_from(FRONT_FILE_DATA_FD + 1)?;
            // Signals blocked for the helper's signalfd must not stay
            // blocked in the front.
            nix::sys::signal::sigprocmask(
                nix::sys::signal::SigmaskHow::SIG_SETMASK,
                Some(&nix::sys::signal::SigSet::empty()),
                None,
            )?;
            drop_privileges(self.uid, self.gid)?;
            // After the uid change, which clears it: die with the helper.
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
            // apply_filter sets no_new_privs first, then the filter.
            seccompiler::apply_filter(filter).map_err(io::Error::other)?;
            let mut argv_ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            argv_ptrs.push(std::ptr::null());
            let mut envp_ptrs: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
            envp_ptrs.push(std::ptr::null());
            // SAFETY: null-terminated arrays of valid C strings.
            unsafe {
                libc::syscall(
                    libc::SYS_execveat,
                    self.executable.as_raw_fd(),
                    c"".as_ptr(),
                    argv_ptrs.as_ptr(),
                    envp_ptrs.as_ptr(),
                    libc::AT_EMPTY_PATH,
                );
            }
            Err(io::Error::last_os_error())
        };
        match step() {
            Ok(()) => io::Error::other("exec returned"),
            Err(e) => e,
        }
    }
}

/// The fds a new front gets, before they are moved to their numbers.
struct FrontFds<'a> {
    channel: BorrowedFd<'a>,
    link: BorrowedFd<'a>,
    file_data: BorrowedFd<'a>,
    log: Option<BorrowedFd<'a>>,
}

/// (read end for the front, write end for the helper), both non-blocking
/// and close-on-exec, sized so that a splice of one chunk into the emptied
/// pipe never comes up short for want of room.
fn file_data_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)?;
    // SAFETY: fcntl on an open fd with an integer argument.
    let size = unsafe {
        libc::fcntl(
            write_end.as_raw_fd(),
            libc::F_SETPIPE_SZ,
            FILE_DATA_PIPE_BYTES as libc::c_int,
        )
    };
    if size < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((read_end, write_end))
}

/// Clears every capability set and becomes the front's user. The bounding
/// set goes first (that needs CAP_SETPCAP, which the uid change removes).
fn drop_privileges(uid: Uid, gid: Gid) -> io::Result<()> {
    let caps_err = |e: caps::errors::CapsError| io::Error::other(e.to_string());
    caps::clear(None, CapSet::Ambient).map_err(caps_err)?;
    caps::clear(None, CapSet::Bounding).map_err(caps_err)?;
    nix::unistd::setgroups(&[gid])?;
    nix::unistd::setresgid(gid, gid, gid)?;
    nix::unistd::setresuid(uid, uid, uid)?;
    caps::clear(None, CapSet::Inheritable).map_err(caps_err)?;
    caps::clear(None, CapSet::Effective).map_err(caps_err)?;
    caps::clear(None, CapSet::Permitted).map_err(caps_err)?;
    for set in [
        CapSet::Effective,
        CapSet::Permitted,
        CapSet::Inheritable,
        CapSet::Bounding,
        CapSet::Ambient,
    ] {
        if !caps::read(None, set).map_err(caps_err)?.is_empty() {
            return Err(io::Error::other(format!(
                "capability set {set:?} not empty"
            )));
        }
    }
    if nix::unistd::geteuid().is_root() || nix::unistd::getuid().is_root() {
        return Err(io::Error::other("still root after setresuid"));
    }
    Ok(())
}

fn to_cstrings(items: &[String]) -> io::Result<Vec<CString>> {
    items
        .iter()
        .map(|s| CString::new(s.as_str()).map_err(io::Error::other))
        .collect()
}

fn dup_above(fd: RawFd) -> io::Result<RawFd> {
    // SAFETY: fcntl on an open fd with an integer argument.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(new)
    }
}

/// dup2 clears close-on-exec on the target, which is what the front needs.
fn dup_onto(fd: RawFd, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on open fds.
    if unsafe { libc::dup2(fd, target) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn mark_cloexec_from(first: RawFd) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: only sets close-on-exec on fds the child does not hand over.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
