//! Seccomp filters built by the helper, as tables: syscall and the reason
//! it is needed. Here: the helper's own filter, and the one a new front
//! gets between fork and exec (the front then adds its own, tighter one).
//! The filters of the programs the helper runs are in `child_filters`.

use crate::child_filters;
use crate::cli::SeccompMode;
use seccompiler::BpfProgram;

#[path = "../../agent-front/src/seccomp_rules.rs"]
pub(crate) mod rules;
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
/// what a child does between fork and its own filter (a front's, or a
/// program's from `child_filters`).
const HELPER_SYSCALLS: &[Row] = &[
    // event loop and link
    (
        libc::SYS_poll,
        When::Always,
        "wait for the front, signals and restart timers",
    ),
    (
        libc::SYS_restart_syscall,
        When::Always,
        "resume a poll or sleep a stop interrupted (SIGSTOP, a debugger, \
         the freezer of suspend and of cgroups)",
    ),
    (
        libc::SYS_tgkill,
        When::ArgEquals(2, libc::SIGABRT as u64),
        "abort() after a panic raises SIGABRT, so a panic is reported as one, not as a filter kill",
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
        "size the internal link's buffers and bound the wait to send on it",
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
        "place the channel, link and file-data fds at 3, 4 and 5",
    ),
    (
        libc::SYS_dup3,
        When::Always,
        "place the channel, link and file-data fds at 3, 4 and 5",
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
    // running programs: the helper's side of it (the child's side, from
    // its exec on, is in `child_filters`, whose tables this filter also
    // includes)
    (
        libc::SYS_pipe2,
        When::Always,
        "stdin and output pipes of a program the helper runs; each front's file-data pipe",
    ),
    (
        libc::SYS_splice,
        When::Always,
        "guest-file-read data from the file into the front's file-data pipe",
    ),
    (
        libc::SYS_clock_nanosleep,
        When::Always,
        "wait for a program that closed its output but has not exited",
    ),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "NSS asks nscd and systemd-userdbd (guest-ssh-*)",
    ),
    (
        libc::SYS_connect,
        When::Always,
        "NSS reaches nscd or systemd-userdbd",
    ),
    (
        libc::SYS_fchown,
        When::Always,
        "guest-ssh-add-authorized-keys gives a new ~/.ssh and authorized_keys \
         to their user",
    ),
    (
        libc::SYS_fchmod,
        When::Always,
        "guest-ssh-* set the modes of ~/.ssh (0700) and authorized_keys \
         (0600); a file created by guest-file-open gets mode 0666 whatever \
         the umask",
    ),
    (
        libc::SYS_uname,
        When::Always,
        "guest-get-osinfo and guest-get-host-name read the kernel's names",
    ),
    // guest-set-time
    (
        libc::SYS_clock_settime,
        When::Always,
        "guest-set-time sets the system clock",
    ),
    (
        libc::SYS_faccessat,
        When::Always,
        "guest-set-time checks hwclock is executable",
    ),
    // system information and hotplug: vCPUs, memory blocks, network
    // interfaces, filesystems and disks
    (
        libc::SYS_getdents64,
        When::Always,
        "list sysfs directories: CPUs, memory blocks, block devices, slaves; \
         check a new ~/.ssh is empty before giving it away; NSS lists \
         systemd's userdb sockets",
    ),
    (
        libc::SYS_pread64,
        When::Always,
        "read sysfs attributes from offset 0, as qemu-ga does",
    ),
    (
        libc::SYS_pwrite64,
        When::Always,
        "online/offline a CPU or memory block through its sysfs attribute",
    ),
    (
        libc::SYS_readlink,
        When::Always,
        "resolve sysfs device paths (realpath) and PCI driver links",
    ),
    (
        libc::SYS_statfs,
        When::Always,
        "guest-get-fsinfo: used and total bytes of each mount (statvfs)",
    ),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_NETLINK as u64),
        "getifaddrs: a route netlink socket for the interface dump",
    ),
    (
        libc::SYS_bind,
        When::Always,
        "getifaddrs binds its netlink socket",
    ),
    (
        libc::SYS_getsockname,
        When::Always,
        "getifaddrs reads its netlink port id",
    ),
    (
        libc::SYS_sendto,
        When::Always,
        "getifaddrs sends its link and address dump requests",
    ),
    (
        libc::SYS_recvmsg,
        When::Always,
        "getifaddrs reads the netlink dump; nscd hands its passwd cache \
         over as a file descriptor",
    ),
    // ssh authorized keys and looking up their user (socket, connect,
    // recvmsg, fchown, fchmod and getdents64 above serve them too)
    (
        libc::SYS_mkdirat,
        When::Always,
        "create a user's ~/.ssh for guest-ssh-add-authorized-keys",
    ),
    (
        libc::SYS_readlinkat,
        When::Always,
        "NSS (libnss_systemd) resolves its record directories",
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
    // guest-fsfreeze-*, guest-fstrim (the mount table and the statedir
    // record use openat, read, write, fsync, rename and unlink above; ioctl
    // above carries FIFREEZE, FITHAW and FITRIM on an open mount point)
    (
        libc::SYS_access,
        When::Always,
        "check that the fsfreeze hook is executable, as qemu-ga does",
    ),
    // -r/--retry-path: opening the channel again after start-up (an
    // AF_UNIX socket, bind and connect have rows above)
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_VSOCK as u64),
        "-r: create the vsock-listen socket again",
    ),
    (
        libc::SYS_listen,
        When::Always,
        "-r: listen on the channel socket",
    ),
    // guest-exec: the child until its filter (pipe2, dup2 and
    // close_range have rows above)
    (
        libc::SYS_chdir,
        When::Always,
        "guest-exec: the program starts in /",
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

/// A filter stays in force across fork and exec, and filters stack, so
/// every front and every program started after the helper sandboxed itself
/// runs under the helper's filter too: it must also pass everything a front
/// does and every row of every child filter.
pub fn helper_filter(mode: SeccompMode, password_root: bool) -> Result<BpfProgram, String> {
    build(&helper_tables(password_root), mode)
}

fn helper_tables(password_root: bool) -> Vec<&'static [Row]> {
    let mut tables = vec![HELPER_SYSCALLS, FRONT_STARTUP_SYSCALLS, FRONT_SYSCALLS];
    tables.extend_from_slice(child_filters::ALL_TABLES);
    if password_root {
        tables.push(child_filters::PASSWORD_ROOT);
    }
    tables
}

/// Installs the helper's filter on the calling (only) thread.
pub fn install_helper_filter(mode: SeccompMode, password_root: bool) -> Result<(), String> {
    let program = helper_filter(mode, password_root)?;
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::child_filters::ChildKind;

    fn has(table: &[Row], nr: i64) -> bool {
        table.iter().any(|row| row.0 == nr)
    }

    #[test]
    fn chroot_only_with_a_password_root() {
        let mut tables = vec![HELPER_SYSCALLS, FRONT_STARTUP_SYSCALLS, FRONT_SYSCALLS];
        tables.extend_from_slice(child_filters::ALL_TABLES);
        for table in tables {
            assert!(!has(table, libc::SYS_chroot));
        }
        assert!(has(child_filters::PASSWORD_ROOT, libc::SYS_chroot));
        for password_root in [false, true] {
            for mode in [SeccompMode::Kill, SeccompMode::Log] {
                helper_filter(mode, password_root).unwrap();
            }
        }
    }

    #[test]
    fn a_panic_ends_helper_and_front_by_sigabrt_not_sigsys() {
        let helper = helper_filter(SeccompMode::Kill, false).unwrap();
        let front = build(&[FRONT_SYSCALLS], SeccompMode::Kill).unwrap();
        for (who, program) in [("helper", helper), ("front", front)] {
            // SAFETY: abort() raises SIGABRT; nothing it does allocates.
            let status = child_filters::wait_status_under(&program, || unsafe { libc::abort() });
            assert!(
                libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGABRT,
                "{who}: wait status {status:#x}"
            );
        }
    }

    #[test]
    fn every_row_has_a_reason() {
        let mut tables = vec![
            HELPER_SYSCALLS,
            child_filters::PASSWORD_ROOT,
            FRONT_STARTUP_SYSCALLS,
        ];
        tables.extend_from_slice(child_filters::ALL_TABLES);
        for table in tables {
            assert!(table.iter().all(|row| !row.2.is_empty()));
        }
    }

    /// Filters stack: a row of a child's table that the helper's filter
    /// did not also allow would kill the program anyway.
    #[test]
    fn the_helper_filter_allows_every_child_row() {
        let rows = |tables: &[&[Row]]| -> Vec<String> {
            tables
                .iter()
                .flat_map(|t| t.iter())
                .map(|(nr, when, _)| format!("{nr} {when:?}"))
                .collect()
        };
        for password_root in [false, true] {
            let helper = rows(&helper_tables(password_root));
            for kind in ChildKind::ALL {
                for row in rows(kind.tables()) {
                    assert!(helper.contains(&row), "{row} of the {} filter", kind.name());
                }
            }
        }
        assert!(rows(&helper_tables(true)).contains(&format!(
            "{} {:?}",
            libc::SYS_chroot,
            When::Always
        )));
    }
}
