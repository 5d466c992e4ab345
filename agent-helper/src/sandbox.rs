//! Seccomp filters built by the helper, as tables: syscall and the reason
//! it is needed. Two filters: the helper's own, and the one a new front
//! gets between fork and exec (the front then adds its own, tighter one).

use crate::cli::SeccompMode;
use seccompiler::BpfProgram;

#[path = "../../agent-front/src/seccomp_rules.rs"]
mod rules;
use rules::{build_filter, Enforcement, Row, When, FRONT_SYSCALLS};

/// What a freshly exec'd front needs before its own filter is in place:
/// the kernel's exec, the dynamic loader, Rust's runtime start-up and tokio's
/// runtime construction. Everything the front does later is in
/// `rules::FRONT_SYSCALLS`, which this filter also allows.
const FRONT_STARTUP_SYSCALLS: &[Row] = &[
    (
        libc::SYS_execveat,
        When::Always,
        "exec the front from the helper's open binary fd",
    ),
    (
        libc::SYS_execve,
        When::Always,
        "the loader re-exec path on some libc versions",
    ),
    (
        libc::SYS_openat,
        When::Always,
        "dynamic loader opens shared libraries",
    ),
    (
        libc::SYS_newfstatat,
        When::Always,
        "dynamic loader inspects shared libraries",
    ),
    (
        libc::SYS_fstat,
        When::Always,
        "dynamic loader inspects shared libraries",
    ),
    (
        libc::SYS_pread64,
        When::Always,
        "dynamic loader reads ELF headers",
    ),
    (
        libc::SYS_mprotect,
        When::Always,
        "dynamic loader applies RELRO",
    ),
    (
        libc::SYS_access,
        When::Always,
        "dynamic loader checks preload files",
    ),
    (
        libc::SYS_arch_prctl,
        When::Always,
        "libc thread-local storage set-up",
    ),
    (
        libc::SYS_set_tid_address,
        When::Always,
        "libc thread set-up",
    ),
    (
        libc::SYS_set_robust_list,
        When::Always,
        "libc thread set-up",
    ),
    (
        libc::SYS_rseq,
        When::Always,
        "libc restartable sequences registration",
    ),
    (
        libc::SYS_prlimit64,
        When::Always,
        "Rust runtime reads the stack limit",
    ),
    (
        libc::SYS_poll,
        When::Always,
        "Rust runtime checks that fds 0-2 are open",
    ),
    (
        libc::SYS_rt_sigaction,
        When::Always,
        "Rust runtime sets SIGPIPE and overflow handlers",
    ),
    (
        libc::SYS_sched_getaffinity,
        When::Always,
        "Rust runtime sizes its thread pools",
    ),
    (
        libc::SYS_fcntl,
        When::Always,
        "the front makes its inherited fds non-blocking",
    ),
    (
        libc::SYS_epoll_create1,
        When::Always,
        "tokio reactor creation",
    ),
    (libc::SYS_eventfd2, When::Always, "tokio reactor wake-up fd"),
    (
        libc::SYS_seccomp,
        When::Always,
        "the front installs its own tighter filter",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "seccomp installation sets no_new_privs again",
    ),
    (libc::SYS_getpid, When::Always, "tracing and tokio start-up"),
    (libc::SYS_gettid, When::Always, "tracing and tokio start-up"),
    (
        libc::SYS_readlink,
        When::Always,
        "Rust runtime resolves its executable",
    ),
    (libc::SYS_lseek, When::Always, "dynamic loader"),
    (
        libc::SYS_statx,
        When::Always,
        "Rust standard library file metadata",
    ),
    (libc::SYS_getcwd, When::Always, "Rust runtime start-up"),
    (
        libc::SYS_ioctl,
        When::Always,
        "Rust runtime checks whether stderr is a terminal",
    ),
];

/// The helper's own filter: its event loop, the work of its operations, and
/// what a child does between fork and exec (the child inherits this filter).
const HELPER_SYSCALLS: &[Row] = &[
    // event loop and link
    (
        libc::SYS_poll,
        When::Always,
        "wait for the front, signals and restart timers",
    ),
    (
        libc::SYS_ppoll,
        When::Always,
        "wait for the front, signals and restart timers",
    ),
    (
        libc::SYS_read,
        When::Always,
        "signalfd, policy and state files",
    ),
    (
        libc::SYS_write,
        When::Always,
        "log lines, state files, pidfile",
    ),
    (libc::SYS_writev, When::Always, "log lines"),
    (
        libc::SYS_recvfrom,
        When::Always,
        "receive requests from the front",
    ),
    (libc::SYS_sendto, When::Always, "send replies to the front"),
    (
        libc::SYS_socketpair,
        When::Always,
        "a new internal link for each front",
    ),
    (
        libc::SYS_setsockopt,
        When::Always,
        "size the internal link's buffers",
    ),
    (libc::SYS_close, When::Always, "close finished fds"),
    (
        libc::SYS_wait4,
        When::Always,
        "reap a dead front or operation child",
    ),
    (
        libc::SYS_waitid,
        When::Always,
        "reap a dead front or operation child",
    ),
    (libc::SYS_kill, When::Always, "stop the front on shutdown"),
    (
        libc::SYS_clone,
        When::Always,
        "fork a front or an operation child",
    ),
    (
        libc::SYS_clone3,
        When::Always,
        "fork a front or an operation child",
    ),
    (libc::SYS_getpid, When::Always, "logging"),
    (libc::SYS_gettid, When::Always, "logging"),
    (libc::SYS_exit, When::Always, "thread exit"),
    (libc::SYS_exit_group, When::Always, "process exit"),
    // memory and runtime
    (libc::SYS_mmap, When::Always, "memory allocation"),
    (libc::SYS_munmap, When::Always, "memory allocation"),
    (libc::SYS_mremap, When::Always, "memory allocation"),
    (libc::SYS_brk, When::Always, "memory allocation"),
    (
        libc::SYS_madvise,
        When::Always,
        "memory allocator returning pages",
    ),
    (
        libc::SYS_mprotect,
        When::Always,
        "memory allocator (guard pages)",
    ),
    (libc::SYS_futex, When::Always, "standard library locks"),
    (
        libc::SYS_clock_gettime,
        When::Always,
        "time stamps, guest-get-time, restart back-off",
    ),
    (libc::SYS_getrandom, When::Always, "hash map seeds"),
    (
        libc::SYS_rt_sigprocmask,
        When::Always,
        "signal mask for signalfd and for children",
    ),
    (
        libc::SYS_rt_sigaction,
        When::Always,
        "reset signal handlers in children",
    ),
    (
        libc::SYS_rt_sigreturn,
        When::Always,
        "return from a signal handler",
    ),
    (
        libc::SYS_sigaltstack,
        When::Always,
        "Rust runtime stack-overflow guard",
    ),
    // files: policy reload, statedir, pidfile
    (
        libc::SYS_openat,
        When::Always,
        "read the policy on reload; statedir files",
    ),
    (libc::SYS_newfstatat, When::Always, "file metadata"),
    (libc::SYS_fstat, When::Always, "file metadata"),
    (libc::SYS_statx, When::Always, "file metadata"),
    (libc::SYS_lseek, When::Always, "file positions"),
    (libc::SYS_fcntl, When::Always, "fd flags, pidfile lock"),
    (
        libc::SYS_unlink,
        When::Always,
        "remove the pidfile and state markers",
    ),
    (
        libc::SYS_unlinkat,
        When::Always,
        "remove the pidfile and state markers",
    ),
    (libc::SYS_rename, When::Always, "atomic state file updates"),
    (
        libc::SYS_renameat,
        When::Always,
        "atomic state file updates",
    ),
    (libc::SYS_fsync, When::Always, "state files reach the disk"),
    (
        libc::SYS_ioctl,
        When::Always,
        "terminal checks by the logger",
    ),
    // between fork and exec of the front
    (
        libc::SYS_dup2,
        When::Always,
        "place the channel and link fds at 3 and 4",
    ),
    (
        libc::SYS_dup3,
        When::Always,
        "place the channel and link fds at 3 and 4",
    ),
    (
        libc::SYS_close_range,
        When::Always,
        "close every other fd before exec",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "capability bounding set, no_new_privs, parent-death signal",
    ),
    (
        libc::SYS_capget,
        When::Always,
        "verify the dropped capability sets",
    ),
    (libc::SYS_capset, When::Always, "clear the capability sets"),
    (
        libc::SYS_setgroups,
        When::Always,
        "drop supplementary groups",
    ),
    (
        libc::SYS_setresgid,
        When::Always,
        "become the front's group",
    ),
    (libc::SYS_setresuid, When::Always, "become the front's user"),
    (
        libc::SYS_seccomp,
        When::Always,
        "install the front's launch filter",
    ),
    (libc::SYS_execveat, When::Always, "exec the front"),
    (
        libc::SYS_getuid,
        When::Always,
        "verify the front's uid change",
    ),
    (
        libc::SYS_geteuid,
        When::Always,
        "verify the front's uid change",
    ),
    (
        libc::SYS_set_robust_list,
        When::Always,
        "a forked child's libc set-up",
    ),
    // system information
    (
        libc::SYS_uname,
        When::Always,
        "guest-get-osinfo and guest-get-host-name read the kernel's names",
    ),
    // ssh authorized keys, and looking up their user
    (
        libc::SYS_mkdirat,
        When::Always,
        "create a user's ~/.ssh for guest-ssh-add-authorized-keys",
    ),
    (
        libc::SYS_fchown,
        When::Always,
        "give a new ~/.ssh and authorized_keys to their user",
    ),
    (
        libc::SYS_fchmod,
        When::Always,
        "set the modes of ~/.ssh (0700) and authorized_keys (0600)",
    ),
    (
        libc::SYS_getdents64,
        When::Always,
        "check a new ~/.ssh is empty before giving it away; NSS lists \
         systemd's userdb sockets",
    ),
    (
        libc::SYS_readlinkat,
        When::Always,
        "NSS (libnss_systemd) resolves its record directories",
    ),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "NSS asks nscd and systemd-userdbd over local sockets",
    ),
    (
        libc::SYS_connect,
        When::Always,
        "NSS connects to nscd or systemd-userdbd",
    ),
    (
        libc::SYS_recvmsg,
        When::Always,
        "nscd hands its passwd cache over as a file descriptor",
    ),
    (
        libc::SYS_timerfd_create,
        When::Always,
        "libnss_systemd times its userdb queries",
    ),
    (
        libc::SYS_timerfd_settime,
        When::Always,
        "libnss_systemd times its userdb queries",
    ),
];

fn build(tables: &[&[Row]], mode: SeccompMode) -> Result<BpfProgram, String> {
    let enforcement = match mode {
        SeccompMode::Kill => Enforcement::Kill,
        SeccompMode::Log => Enforcement::Log,
    };
    build_filter(tables, enforcement)
}

pub fn front_launch_filter(mode: SeccompMode) -> Result<BpfProgram, String> {
    build(&[FRONT_STARTUP_SYSCALLS, FRONT_SYSCALLS], mode)
}

/// A filter stays in force across fork and exec, so every front started
/// after the helper sandboxed itself runs under the helper's filter too: it
/// must also pass everything a front does.
pub fn helper_filter(mode: SeccompMode) -> Result<BpfProgram, String> {
    build(
        &[HELPER_SYSCALLS, FRONT_STARTUP_SYSCALLS, FRONT_SYSCALLS],
        mode,
    )
}

/// Installs the helper's filter on the calling (only) thread.
pub fn install_helper_filter(mode: SeccompMode) -> Result<(), String> {
    let program = helper_filter(mode)?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}
