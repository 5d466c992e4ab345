//! One seccomp filter per kind of program the helper runs, as tables: the
//! syscall, when it is allowed, and why that kind of program needs it.
//!
//! A child is forked under the helper's filter and adds the filter of its
//! kind just before its exec; filters stack and the strictest wins, so the
//! program gets at most what its kind's table allows. The helper's own
//! filter includes every table here (`sandbox::helper_filter`), so a row
//! here can never be refused by the filter underneath.
//!
//! The filters are compiled once, at start-up, with the helper's action
//! for a syscall outside them (`--seccomp kill|log`). A child only hands
//! the ready program to the kernel: no allocation between fork and exec.
//!
//! The sets were found with `strace -f` on the real programs (chpasswd with
//! its PAM stack, util-linux hwclock, systemctl, Debian's fsfreeze hook
//! with a hook.d script, shells and coreutils) and in the busybox test
//! guest; a site whose programs need more sees it with `--seccomp log`.

use crate::cli::SeccompMode;
use crate::sandbox::rules::{build_filter, Enforcement, Row, When};
use seccompiler::BpfProgram;
use std::io;
use std::sync::OnceLock;

/// The kinds of program the helper runs, each under its own filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// guest-set-user-password: chpasswd with its PAM stack.
    Password,
    /// guest-set-time: hwclock.
    Clock,
    /// guest-shutdown and guest-suspend-*: shutdown, systemctl, pm-utils,
    /// or a minimal guest's script around busybox.
    Power,
    /// The fsfreeze hook: an admin's shell script and the tools it runs.
    FsfreezeHook,
    /// guest-exec: whatever program the policy allows.
    GuestExec,
}

impl ChildKind {
    pub const ALL: [ChildKind; 5] = [
        ChildKind::Password,
        ChildKind::Clock,
        ChildKind::Power,
        ChildKind::FsfreezeHook,
        ChildKind::GuestExec,
    ];

    /// How log lines name the kind's filter.
    pub fn name(self) -> &'static str {
        match self {
            ChildKind::Password => "password",
            ChildKind::Clock => "clock",
            ChildKind::Power => "power",
            ChildKind::FsfreezeHook => "fsfreeze hook",
            ChildKind::GuestExec => "guest-exec",
        }
    }

    /// The tables whose union is the kind's filter (`CHILD_BASE` first).
    pub fn tables(self) -> &'static [&'static [Row]] {
        match self {
            ChildKind::Password => &[CHILD_BASE, PASSWORD],
            ChildKind::Clock => &[CHILD_BASE, CLOCK],
            ChildKind::Power => &[CHILD_BASE, SHELL, POWER],
            ChildKind::FsfreezeHook => &[CHILD_BASE, SHELL, FSFREEZE_HOOK],
            ChildKind::GuestExec => &[CHILD_BASE, SHELL, GUEST_EXEC],
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Every table of every kind, for the helper's own filter.
pub const ALL_TABLES: &[&[Row]] = &[
    CHILD_BASE,
    SHELL,
    PASSWORD,
    CLOCK,
    POWER,
    FSFREEZE_HOOK,
    GUEST_EXEC,
];

/// Only when passwords are changed in another root than `/` (tests): the
/// `chroot` that `chpasswd -R` makes. Production filters leave it out.
pub const PASSWORD_ROOT: &[Row] = &[
    (
        libc::SYS_chroot,
        When::Always,
        "chpasswd -R enters the password root",
    ),
    (
        libc::SYS_chdir,
        When::Always,
        "chpasswd -R enters the password root",
    ),
];

// ioctl requests from <linux/rtc.h>, which the libc crate does not carry.
const RTC_UIE_ON: u64 = 0x7003;
const RTC_UIE_OFF: u64 = 0x7004;
const RTC_RD_TIME: u64 = 0x8024_7009;
const RTC_SET_TIME: u64 = 0x4024_700a;

/// Every kind: the exec itself, the dynamic loader, libc's start-up, the
/// terminal check of stdio, and exit. Also what the child does after its
/// filter if the exec fails (report the errno on a pipe, exit).
pub const CHILD_BASE: &[Row] = &[
    (libc::SYS_execve, When::Always, "the exec of the program"),
    // Reading the clock is a syscall wherever the clock source has no vDSO
    // path, as in many virtual machines (busybox's hwclock in the test
    // guest was killed for gettimeofday).
    (
        libc::SYS_clock_gettime,
        When::Always,
        "read the clock without the vDSO",
    ),
    (
        libc::SYS_gettimeofday,
        When::Always,
        "read the clock without the vDSO",
    ),
    (
        libc::SYS_time,
        When::Always,
        "read the clock without the vDSO",
    ),
    (
        libc::SYS_restart_syscall,
        When::Always,
        "resume a wait a stop interrupted (SIGSTOP, the freezer of suspend)",
    ),
    (
        libc::SYS_brk,
        When::Always,
        "the loader and malloc grow the heap",
    ),
    (
        libc::SYS_mmap,
        When::Always,
        "the loader maps libraries; malloc",
    ),
    (
        libc::SYS_munmap,
        When::Always,
        "the loader unmaps; malloc returns memory",
    ),
    (libc::SYS_mprotect, When::Always, "the loader applies RELRO"),
    (
        libc::SYS_openat,
        When::Always,
        "the loader opens libraries; programs open their files",
    ),
    (
        libc::SYS_read,
        When::Always,
        "the loader reads ELF headers; programs read input",
    ),
    (
        libc::SYS_pread64,
        When::Always,
        "the loader reads program headers",
    ),
    (
        libc::SYS_write,
        When::Always,
        "output, and the exec failure report to the helper",
    ),
    (
        libc::SYS_close,
        When::Always,
        "the loader and programs close files",
    ),
    (
        libc::SYS_newfstatat,
        When::Always,
        "the loader inspects libraries; programs stat files",
    ),
    (libc::SYS_fstat, When::Always, "libc inspects open files"),
    (libc::SYS_statx, When::Always, "coreutils stat files"),
    (libc::SYS_lseek, When::Always, "stdio file positions"),
    (
        libc::SYS_access,
        When::Always,
        "the loader checks /etc/ld.so.preload",
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
        "libc reads the stack limit",
    ),
    (
        libc::SYS_getrandom,
        When::Always,
        "libc's malloc and stack protector seeds",
    ),
    (libc::SYS_futex, When::Always, "libc locks"),
    (
        libc::SYS_rt_sigaction,
        When::Always,
        "programs install signal handlers",
    ),
    (
        libc::SYS_rt_sigprocmask,
        When::Always,
        "programs block signals around critical sections",
    ),
    (
        libc::SYS_rt_sigreturn,
        When::Always,
        "return from a signal handler",
    ),
    (libc::SYS_fcntl, When::Always, "fd flags and close-on-exec"),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::TCGETS),
        "isatty() on stdio",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::TIOCGWINSZ),
        "the terminal width, when stdio is one",
    ),
    (libc::SYS_exit, When::Always, "thread exit"),
    (libc::SYS_exit_group, When::Always, "process exit"),
];

/// Shell scripts (dash, busybox ash) and the common tools they run:
/// power programs (pm-utils, a minimal guest's shutdown), the fsfreeze
/// hook and guest-exec programs are often scripts.
const SHELL: &[Row] = &[
    (libc::SYS_vfork, When::Always, "the shell starts commands"),
    (
        libc::SYS_clone,
        When::Always,
        "the shell forks for subshells and $(...)",
    ),
    (
        libc::SYS_wait4,
        When::Always,
        "the shell waits for its commands",
    ),
    (
        libc::SYS_pipe2,
        When::Always,
        "the shell's pipes and $(...)",
    ),
    (
        libc::SYS_dup,
        When::Always,
        "the shell saves fds around redirections",
    ),
    (libc::SYS_dup2, When::Always, "the shell's redirections"),
    (libc::SYS_getpid, When::Always, "the shell sets $$"),
    (libc::SYS_getppid, When::Always, "the shell sets $PPID"),
    (
        libc::SYS_getuid,
        When::Always,
        "the shell and tools read their ids",
    ),
    (
        libc::SYS_geteuid,
        When::Always,
        "the shell and tools read their ids",
    ),
    (
        libc::SYS_getgid,
        When::Always,
        "the shell and tools read their ids",
    ),
    (
        libc::SYS_getegid,
        When::Always,
        "the shell and tools read their ids",
    ),
    (libc::SYS_getcwd, When::Always, "the shell's start-up"),
    (
        libc::SYS_faccessat2,
        When::Always,
        "the shell's test -x and command lookup",
    ),
    (
        libc::SYS_faccessat,
        When::Always,
        "the shell's test -x on older libcs",
    ),
    (
        libc::SYS_getdents64,
        When::Always,
        "the shell expands globs (hook.d/*)",
    ),
    (
        libc::SYS_readlink,
        When::Always,
        "tools resolve /proc/self/exe",
    ),
    (
        libc::SYS_uname,
        When::Always,
        "busybox and tools read the kernel name",
    ),
    (libc::SYS_umask, When::Always, "the shell's umask"),
    (libc::SYS_writev, When::Always, "tools write their messages"),
    (libc::SYS_fadvise64, When::Always, "coreutils reading files"),
    (libc::SYS_clock_nanosleep, When::Always, "sleep"),
    (libc::SYS_nanosleep, When::Always, "sleep in busybox"),
    (libc::SYS_kill, When::Always, "the shell's kill builtin"),
    (
        libc::SYS_rt_sigsuspend,
        When::Always,
        "busybox ash waits for its children",
    ),
    (
        libc::SYS_sync,
        When::Always,
        "sync before a freeze or power-off",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::TIOCGPGRP),
        "the shell's job control checks",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::TIOCSPGRP),
        "the shell's job control checks",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::FIONREAD),
        "tools ask how much input is waiting",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, libc::FIOCLEX),
        "tools set close-on-exec",
    ),
];

/// chpasswd with its PAM stack (pam_unix), at `/` or under `-R`.
const PASSWORD: &[Row] = &[
    (
        libc::SYS_getuid,
        When::Always,
        "chpasswd checks who runs it",
    ),
    (
        libc::SYS_getgid,
        When::Always,
        "chpasswd reads its group ids",
    ),
    (
        libc::SYS_getpid,
        When::Always,
        "names its lock files after its pid",
    ),
    (
        libc::SYS_setreuid,
        When::Always,
        "chpasswd makes its real ids root's",
    ),
    (
        libc::SYS_setregid,
        When::Always,
        "chpasswd makes its real ids root's",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "libcap-ng probes the capability sets",
    ),
    (
        libc::SYS_readlink,
        When::Always,
        "libaudit resolves /proc/self/exe",
    ),
    (
        libc::SYS_statfs,
        When::Always,
        "libselinux looks for selinuxfs",
    ),
    (libc::SYS_fstatfs, When::Always, "libselinux checks /proc"),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "logs to /dev/log; NSS asks nscd",
    ),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_NETLINK as u64),
        "sends its audit record",
    ),
    (libc::SYS_connect, When::Always, "reaches /dev/log and nscd"),
    (
        libc::SYS_sendto,
        When::Always,
        "the audit record and syslog",
    ),
    (libc::SYS_recvfrom, When::Always, "the audit reply"),
    (
        libc::SYS_recvmsg,
        When::Always,
        "nscd hands its passwd cache over as a file descriptor",
    ),
    (libc::SYS_poll, When::Always, "waits for the audit reply"),
    (
        libc::SYS_alarm,
        When::Always,
        "bounds its wait for the account files' lock",
    ),
    (
        libc::SYS_umask,
        When::Always,
        "creates the new shadow file private",
    ),
    (
        libc::SYS_fchown,
        When::Always,
        "gives the new shadow file the old one's owner",
    ),
    (
        libc::SYS_fchmod,
        When::Always,
        "gives the new shadow file the old one's mode",
    ),
    (libc::SYS_fsync, When::Always, "flushes the new shadow file"),
    (
        libc::SYS_fdatasync,
        When::Always,
        "flushes the new shadow file",
    ),
    (
        libc::SYS_link,
        When::Always,
        "takes the account files' lock with a hard link",
    ),
    (libc::SYS_unlink, When::Always, "removes its lock files"),
    (
        libc::SYS_rename,
        When::Always,
        "replaces /etc/shadow with the new file",
    ),
    (
        libc::SYS_utimensat,
        When::Always,
        "keeps the times on its shadow- backup",
    ),
    (
        libc::SYS_clone,
        When::Always,
        "runs nscd -i and sss_cache to flush caches",
    ),
    (
        libc::SYS_wait4,
        When::Always,
        "waits for nscd -i and sss_cache",
    ),
];

/// hwclock (util-linux, or busybox in a minimal guest) with /dev/rtc.
const CLOCK: &[Row] = &[
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, RTC_RD_TIME),
        "reads the RTC",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, RTC_SET_TIME),
        "hwclock -w sets the RTC",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, RTC_UIE_ON),
        "waits for the RTC's update tick",
    ),
    (
        libc::SYS_ioctl,
        When::ArgEquals(1, RTC_UIE_OFF),
        "waits for the RTC's update tick",
    ),
    (
        libc::SYS_select,
        When::Always,
        "waits for the RTC's update tick",
    ),
    (
        libc::SYS_pselect6,
        When::Always,
        "waits for the RTC's update tick",
    ),
    (
        libc::SYS_nanosleep,
        When::Always,
        "sleeps until the moment to set the RTC",
    ),
    (
        libc::SYS_clock_nanosleep,
        When::Always,
        "sleeps until the moment to set the RTC",
    ),
    (
        libc::SYS_settimeofday,
        When::Always,
        "hwclock -s sets the system clock from the RTC",
    ),
    (
        libc::SYS_clock_settime,
        When::Always,
        "hwclock -s sets the system clock from the RTC",
    ),
    (
        libc::SYS_dup,
        When::Always,
        "checks stdout and stderr can be closed",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "libcap-ng probes the capability sets",
    ),
    (
        libc::SYS_readlink,
        When::Always,
        "libaudit resolves /proc/self/exe",
    ),
    (libc::SYS_fstatfs, When::Always, "libselinux checks /proc"),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_NETLINK as u64),
        "sends its audit record",
    ),
    (libc::SYS_sendto, When::Always, "sends its audit record"),
    (libc::SYS_recvfrom, When::Always, "the audit reply"),
    (libc::SYS_poll, When::Always, "waits for the audit reply"),
    (
        libc::SYS_uname,
        When::Always,
        "busybox reads the kernel name",
    ),
    (libc::SYS_getuid, When::Always, "checks who runs it"),
    (libc::SYS_geteuid, When::Always, "checks who runs it"),
];

/// shutdown and systemctl (asking systemd over its sockets), pm-utils
/// (shell scripts), and a minimal guest's script around busybox poweroff.
const POWER: &[Row] = &[
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "systemctl talks to systemd and logind",
    ),
    (
        libc::SYS_connect,
        When::Always,
        "systemctl reaches systemd's sockets",
    ),
    (
        libc::SYS_sendmsg,
        When::Always,
        "systemctl sends requests to systemd",
    ),
    (
        libc::SYS_recvmsg,
        When::Always,
        "systemctl reads systemd's answers",
    ),
    (libc::SYS_sendto, When::Always, "systemctl's bus messages"),
    (libc::SYS_recvfrom, When::Always, "systemctl's bus messages"),
    (
        libc::SYS_getsockopt,
        When::Always,
        "systemctl checks its peer's credentials and buffer sizes",
    ),
    (
        libc::SYS_setsockopt,
        When::Always,
        "systemctl sizes its bus buffers",
    ),
    (
        libc::SYS_getsockname,
        When::Always,
        "systemctl's bus connection set-up",
    ),
    (libc::SYS_poll, When::Always, "systemctl waits for systemd"),
    (libc::SYS_ppoll, When::Always, "systemctl waits for systemd"),
    (
        libc::SYS_statfs,
        When::Always,
        "systemctl checks its runtime filesystems",
    ),
    (
        libc::SYS_fstatfs,
        When::Always,
        "systemctl checks its runtime filesystems",
    ),
    (
        libc::SYS_readlinkat,
        When::Always,
        "systemctl resolves unit paths",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "systemctl reads its process name",
    ),
    (
        libc::SYS_gettid,
        When::Always,
        "systemd's libraries check they run on the main thread",
    ),
    (
        libc::SYS_reboot,
        When::Always,
        "a shutdown program without an init system to ask (busybox poweroff -f) powers off itself",
    ),
];

/// The fsfreeze hook: Debian's script runs every script in fsfreeze-hook.d
/// (database flushes and the like). Beyond the shell rows: logging, and
/// clients of local services. No mount, ptrace, module or kexec syscalls,
/// and no ioctl but the terminal ones: a hook must not freeze or thaw
/// filesystems itself.
const FSFREEZE_HOOK: &[Row] = &[
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "logger and clients of local services (databases)",
    ),
    (
        libc::SYS_connect,
        When::Always,
        "logger and clients of local services",
    ),
    (libc::SYS_sendto, When::Always, "logger and local clients"),
    (libc::SYS_recvfrom, When::Always, "local clients' replies"),
    (
        libc::SYS_poll,
        When::Always,
        "local clients wait for replies",
    ),
    (libc::SYS_fsync, When::Always, "scripts flush their files"),
    (
        libc::SYS_fdatasync,
        When::Always,
        "scripts flush their files",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "tools name themselves or probe capabilities",
    ),
    (libc::SYS_unlink, When::Always, "scripts remove their files"),
    (
        libc::SYS_unlinkat,
        When::Always,
        "scripts remove their files",
    ),
    (
        libc::SYS_rename,
        When::Always,
        "scripts replace their files",
    ),
];

/// guest-exec: any program the admin's policy names, from a shell to a
/// site's own tool, so the table is broad: what general programs use
/// (processes, files, local sockets, any ioctl). It is still bounded by the
/// helper's own filter, so it grants nothing the helper lacks: no mount,
/// ptrace, module loading, kexec, bpf or new namespaces.
const GUEST_EXEC: &[Row] = &[
    (
        libc::SYS_ioctl,
        When::Always,
        "programs of any kind use device and terminal ioctls",
    ),
    (libc::SYS_clone3, When::Always, "programs start threads"),
    (libc::SYS_waitid, When::Always, "programs wait for children"),
    (libc::SYS_dup3, When::Always, "programs move fds"),
    (
        libc::SYS_close_range,
        When::Always,
        "programs close fds before exec",
    ),
    (libc::SYS_chdir, When::Always, "programs change directory"),
    (libc::SYS_gettid, When::Always, "threaded programs"),
    (
        libc::SYS_getgroups,
        When::Always,
        "id and permission checks",
    ),
    (
        libc::SYS_setresuid,
        When::Always,
        "programs that run a command as another user",
    ),
    (
        libc::SYS_setresgid,
        When::Always,
        "programs that run a command as another user",
    ),
    (
        libc::SYS_setgroups,
        When::Always,
        "programs that run a command as another user",
    ),
    (
        libc::SYS_capget,
        When::Always,
        "programs inspect their capabilities",
    ),
    (
        libc::SYS_prctl,
        When::Always,
        "programs name threads or probe capabilities",
    ),
    (
        libc::SYS_get_mempolicy,
        When::Always,
        "ps (procps probes the NUMA policy)",
    ),
    (
        libc::SYS_set_mempolicy,
        When::Always,
        "ps (procps probes the NUMA policy)",
    ),
    (
        libc::SYS_sched_getaffinity,
        When::Always,
        "programs size their thread pools",
    ),
    (libc::SYS_sched_yield, When::Always, "threaded programs"),
    (libc::SYS_madvise, When::Always, "allocators return pages"),
    (libc::SYS_mremap, When::Always, "allocators grow buffers"),
    (libc::SYS_sigaltstack, When::Always, "stack-overflow guards"),
    (libc::SYS_poll, When::Always, "programs wait for input"),
    (libc::SYS_ppoll, When::Always, "programs wait for input"),
    (libc::SYS_select, When::Always, "programs wait for input"),
    (libc::SYS_pselect6, When::Always, "programs wait for input"),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_UNIX as u64),
        "clients of local services",
    ),
    (
        libc::SYS_socket,
        When::ArgEquals(0, libc::AF_NETLINK as u64),
        "ip and ss read the kernel's tables",
    ),
    (libc::SYS_connect, When::Always, "clients of local services"),
    (libc::SYS_bind, When::Always, "netlink clients bind"),
    (libc::SYS_getsockname, When::Always, "netlink clients"),
    (libc::SYS_getsockopt, When::Always, "socket clients"),
    (libc::SYS_setsockopt, When::Always, "socket clients"),
    (libc::SYS_sendto, When::Always, "socket clients"),
    (libc::SYS_recvfrom, When::Always, "socket clients"),
    (libc::SYS_sendmsg, When::Always, "socket clients"),
    (libc::SYS_recvmsg, When::Always, "socket clients"),
    (libc::SYS_statfs, When::Always, "df and friends"),
    (libc::SYS_fstatfs, When::Always, "df and friends"),
    (libc::SYS_readlinkat, When::Always, "programs resolve links"),
    (
        libc::SYS_pwrite64,
        When::Always,
        "programs write at offsets",
    ),
    (
        libc::SYS_mkdirat,
        When::Always,
        "programs create directories",
    ),
    (libc::SYS_unlink, When::Always, "programs remove files"),
    (libc::SYS_unlinkat, When::Always, "programs remove files"),
    (libc::SYS_rename, When::Always, "programs replace files"),
    (libc::SYS_renameat, When::Always, "programs replace files"),
    (libc::SYS_link, When::Always, "programs link files"),
    (libc::SYS_fchown, When::Always, "programs set owners"),
    (libc::SYS_fchmod, When::Always, "programs set modes"),
    (libc::SYS_utimensat, When::Always, "programs set file times"),
    (libc::SYS_fsync, When::Always, "programs flush files"),
    (libc::SYS_fdatasync, When::Always, "programs flush files"),
    (libc::SYS_alarm, When::Always, "programs bound their waits"),
    (
        libc::SYS_timerfd_create,
        When::Always,
        "programs time their waits",
    ),
    (
        libc::SYS_timerfd_settime,
        When::Always,
        "programs time their waits",
    ),
];

/// The compiled filter of each kind, indexed by `ChildKind::index`.
struct Compiled {
    filters: Vec<BpfProgram>,
}

static COMPILED: OnceLock<Compiled> = OnceLock::new();

fn compile(mode: SeccompMode, password_root: bool) -> Result<Compiled, String> {
    let enforcement = match mode {
        SeccompMode::Kill => Enforcement::Kill,
        SeccompMode::Log => Enforcement::Log,
    };
    let filters = ChildKind::ALL
        .iter()
        .map(|&kind| {
            let mut tables = kind.tables().to_vec();
            if kind == ChildKind::Password && password_root {
                tables.push(PASSWORD_ROOT);
            }
            build_filter(&tables, enforcement).map_err(|e| format!("{} filter: {e}", kind.name()))
        })
        .collect::<Result<_, _>>()?;
    Ok(Compiled { filters })
}

/// Compiles every kind's filter with the helper's action on a forbidden
/// syscall; called once at start-up, before any program runs.
pub fn prepare(mode: SeccompMode, password_root: bool) -> Result<(), String> {
    let compiled = compile(mode, password_root)?;
    // A second call (tests) keeps the first set.
    let _ = COMPILED.set(compiled);
    Ok(())
}

/// The ready filter of a kind. Without `prepare` (unit tests), the
/// production default: kill, no password root.
pub fn filter(kind: ChildKind) -> &'static BpfProgram {
    let compiled = COMPILED.get_or_init(|| {
        compile(SeccompMode::Kill, false).expect("the child filter tables compile")
    });
    &compiled.filters[kind.index()]
}

/// Installs a compiled filter on the calling process. Meant for a child
/// between fork and exec: two syscalls on memory prepared before the fork,
/// no allocation, no lock.
pub fn apply_in_child(program: &BpfProgram) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: program.len() as libc::c_ushort,
        // seccompiler's sock_filter has the kernel's layout, as libc's.
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prctl with integer arguments; seccomp reads `prog` and the
    // program it points to, both valid for the call.
    unsafe {
        // The helper runs with no_new_privs already; set it in case the
        // caller does not (the kernel requires it or CAP_SYS_ADMIN).
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The log line's words for a program killed by a signal of its filter.
pub fn describe_sigsys(kind: ChildKind) -> String {
    format!(
        "killed by SIGSYS: a syscall outside the {} filter",
        kind.name()
    )
}

/// For tests: forks; the child applies `program`, runs `body` and exits 0
/// if that returns. The child's wait status. `body` must not allocate or
/// lock: the test harness has other threads.
#[cfg(test)]
pub fn wait_status_under(program: &BpfProgram, body: impl FnOnce()) -> libc::c_int {
    // SAFETY: the child makes raw syscalls only (and whatever `body` does,
    // under the same rule) and leaves with _exit.
    unsafe {
        let pid = libc::fork();
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            // No core file from a SIGSYS or SIGABRT.
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            if apply_in_child(program).is_err() {
                libc::_exit(99);
            }
            body();
            libc::_exit(0);
        }
        let mut status = 0;
        assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIFREEZE: u64 = 0xc004_5877;

    /// Forks; the child applies `program`, makes `syscall` with `args` and
    /// exits 0 if that returned. The child's wait status.
    fn in_filtered_child(program: &BpfProgram, syscall: i64, args: [u64; 3]) -> libc::c_int {
        wait_status_under(program, || {
            // SAFETY: a raw syscall with integer arguments.
            unsafe { libc::syscall(syscall, args[0], args[1], args[2], 0u64, 0u64) };
        })
    }

    fn killed_by_sigsys(status: libc::c_int) -> bool {
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS
    }

    fn exited_0(status: libc::c_int) -> bool {
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
    }

    /// Outside every kind's table (null arguments: harmless if a filter
    /// were missing).
    const FORBIDDEN_TO_ALL: &[(&str, i64)] = &[
        ("mount", libc::SYS_mount),
        ("ptrace", libc::SYS_ptrace),
        ("init_module", libc::SYS_init_module),
        ("kexec_load", libc::SYS_kexec_load),
        ("bpf", libc::SYS_bpf),
        ("unshare", libc::SYS_unshare),
    ];

    #[test]
    fn each_kind_kills_a_syscall_outside_it_and_allows_one_inside() {
        for kind in ChildKind::ALL {
            let filter = filter(kind);
            assert!(
                exited_0(in_filtered_child(filter, libc::SYS_getrandom, [0, 0, 0])),
                "{}: getrandom",
                kind.name()
            );
            for &(name, nr) in FORBIDDEN_TO_ALL {
                assert!(
                    killed_by_sigsys(in_filtered_child(filter, nr, [0, 0, 0])),
                    "{}: {name} was not killed",
                    kind.name()
                );
            }
        }
    }

    #[test]
    fn only_guest_exec_may_issue_any_ioctl() {
        for kind in ChildKind::ALL {
            let fifreeze = in_filtered_child(filter(kind), libc::SYS_ioctl, [0, FIFREEZE, 0]);
            // Both on stdin, which is no filesystem: harmless either way.
            let tcgets = in_filtered_child(filter(kind), libc::SYS_ioctl, [0, libc::TCGETS, 0]);
            assert!(exited_0(tcgets), "{}: TCGETS", kind.name());
            if kind == ChildKind::GuestExec {
                assert!(exited_0(fifreeze));
            } else {
                assert!(killed_by_sigsys(fifreeze), "{}: FIFREEZE", kind.name());
            }
        }
        let rtc_read = |kind| in_filtered_child(filter(kind), libc::SYS_ioctl, [0, RTC_RD_TIME, 0]);
        assert!(exited_0(rtc_read(ChildKind::Clock)));
        assert!(killed_by_sigsys(rtc_read(ChildKind::Password)));
    }

    #[test]
    fn only_the_right_kinds_set_clocks_power_off_or_change_users() {
        // Each syscall below runs only where a table allows it; arguments
        // the kernel refuses (EFAULT, EINVAL) or ignores keep that harmless.
        let cases: &[(i64, [u64; 3], &[ChildKind])] = &[
            (libc::SYS_settimeofday, [1, 1, 0], &[ChildKind::Clock]),
            (libc::SYS_reboot, [0, 0, 0], &[ChildKind::Power]),
            // -1, -1: no change.
            (
                libc::SYS_setreuid,
                [u64::MAX, u64::MAX, 0],
                &[ChildKind::Password],
            ),
        ];
        for &(nr, args, allowed) in cases {
            for kind in ChildKind::ALL {
                let status = in_filtered_child(filter(kind), nr, args);
                if allowed.contains(&kind) {
                    assert!(exited_0(status), "{} syscall {nr}", kind.name());
                } else {
                    assert!(killed_by_sigsys(status), "{} syscall {nr}", kind.name());
                }
            }
        }
    }

    #[test]
    fn log_mode_lets_the_syscall_through() {
        let compiled = compile(SeccompMode::Log, false).unwrap();
        let hook = &compiled.filters[ChildKind::FsfreezeHook.index()];
        assert!(exited_0(in_filtered_child(
            hook,
            libc::SYS_mount,
            [0, 0, 0]
        )));
    }

    #[test]
    fn chroot_only_with_a_password_root() {
        let with_root = compile(SeccompMode::Kill, true).unwrap();
        let without = compile(SeccompMode::Kill, false).unwrap();
        let password = ChildKind::Password.index();
        // chroot with a null path fails with EFAULT once allowed.
        assert!(exited_0(in_filtered_child(
            &with_root.filters[password],
            libc::SYS_chroot,
            [0, 0, 0]
        )));
        assert!(killed_by_sigsys(in_filtered_child(
            &without.filters[password],
            libc::SYS_chroot,
            [0, 0, 0]
        )));
    }
}
