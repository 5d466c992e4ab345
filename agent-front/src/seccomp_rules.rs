//! Seccomp rules as data, shared by both binaries (agent-helper includes
//! this file): the row type, the front's own table, and the one function
//! that turns tables into a BPF program.
//!
//! `FRONT_SYSCALLS` lists the syscalls the front makes once its own filter
//! is in force, one row each with the reason. Filters stack and survive
//! exec, so the helper's filters must allow all of these too.

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use std::collections::BTreeMap;

/// What happens on a syscall outside the tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// Production: the process dies with SIGSYS.
    Kill,
    /// Bring-up on a new distribution: allowed, but logged by the kernel.
    Log,
}

/// When a listed syscall is allowed.
#[derive(Clone, Copy, Debug)]
pub enum When {
    Always,
    /// Only when argument `index` (0-based) equals `value`.
    ArgEquals(u8, u64),
}

/// (syscall, when, why the front needs it)
pub const FRONT_SYSCALLS: &[Row] = &[
    (
        libc::SYS_read,
        When::Always,
        "read host requests from the channel and file data from the file-data pipe",
    ),
    (
        libc::SYS_write,
        When::Always,
        "write replies to the host and log lines to stderr",
    ),
    (libc::SYS_writev, When::Always, "log lines to stderr"),
    (
        libc::SYS_recvfrom,
        When::Always,
        "receive replies from the helper",
    ),
    (
        libc::SYS_sendto,
        When::Always,
        "send requests to the helper",
    ),
    (
        libc::SYS_accept4,
        When::Always,
        "accept the next host on a unix-listen channel",
    ),
    (
        libc::SYS_close,
        When::Always,
        "close a finished host connection",
    ),
    (libc::SYS_epoll_wait, When::Always, "tokio reactor"),
    (
        libc::SYS_poll,
        When::Always,
        "wait until the host or the helper takes more bytes (the reactor watches input only)",
    ),
    (
        libc::SYS_restart_syscall,
        When::Always,
        "resume a poll or sleep a stop interrupted (SIGSTOP, a debugger, \
         the freezer of suspend and of cgroups)",
    ),
    (libc::SYS_epoll_pwait, When::Always, "tokio reactor"),
    (
        libc::SYS_epoll_ctl,
        When::Always,
        "tokio reactor: register host connections",
    ),
    (
        libc::SYS_futex,
        When::Always,
        "tokio runtime synchronisation",
    ),
    (libc::SYS_mmap, When::Always, "memory allocation"),
    (libc::SYS_munmap, When::Always, "memory allocation"),
    (
        libc::SYS_mremap,
        When::Always,
        "memory allocation (growing buffers)",
    ),
    (libc::SYS_brk, When::Always, "memory allocation"),
    (
        libc::SYS_madvise,
        When::Always,
        "memory allocator returning pages",
    ),
    (
        libc::SYS_clock_gettime,
        When::Always,
        "tokio timers and log timestamps",
    ),
    (libc::SYS_getrandom, When::Always, "hash map seeds"),
    (libc::SYS_sched_yield, When::Always, "tokio runtime"),
    (
        libc::SYS_rt_sigprocmask,
        When::Always,
        "Rust runtime signal masking",
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
    (
        libc::SYS_getpid,
        When::Always,
        "abort() after a panic names its own process",
    ),
    (
        libc::SYS_gettid,
        When::Always,
        "abort() after a panic names its own thread",
    ),
    (
        libc::SYS_tgkill,
        When::ArgEquals(2, libc::SIGABRT as u64),
        "abort() after a panic raises SIGABRT, so a panic is reported as one, not as a filter kill",
    ),
    (libc::SYS_exit, When::Always, "thread exit"),
    (libc::SYS_exit_group, When::Always, "process exit"),
    (
        libc::SYS_fcntl,
        When::ArgEquals(1, libc::F_GETFD as u64),
        "debug builds check an fd is open before closing it",
    ),
];

/// One table row: (syscall number, when it is allowed, reason).
pub type Row = (i64, When, &'static str);

/// Builds one filter from several tables. A syscall listed both always and
/// conditionally is allowed always.
pub fn build_filter(tables: &[&[Row]], enforcement: Enforcement) -> Result<BpfProgram, String> {
    let mut rules: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    for &(nr, when, _reason) in tables.iter().flat_map(|t| t.iter()) {
        let entry = rules.entry(nr).or_insert_with(|| Some(Vec::new()));
        match (when, entry.as_mut()) {
            (When::Always, _) => *entry = None,
            (When::ArgEquals(index, value), Some(conditions)) => {
                let condition =
                    SeccompCondition::new(index, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
                        .map_err(|e| e.to_string())?;
                conditions.push(SeccompRule::new(vec![condition]).map_err(|e| e.to_string())?);
            }
            (When::ArgEquals(..), None) => {}
        }
    }
    // An empty rule list means "allow unconditionally" to seccompiler.
    let rules: BTreeMap<i64, Vec<SeccompRule>> = rules
        .into_iter()
        .map(|(nr, conditions)| (nr, conditions.unwrap_or_default()))
        .collect();
    let mismatch = match enforcement {
        Enforcement::Kill => SeccompAction::KillProcess,
        Enforcement::Log => SeccompAction::Log,
    };
    let arch = if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        TargetArch::x86_64
    };
    SeccompFilter::new(rules, mismatch, SeccompAction::Allow, arch)
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}
