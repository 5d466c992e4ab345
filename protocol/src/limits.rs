//! Every bound the agent enforces, in one place. The README's "Limits"
//! table lists the same values next to qemu-ga's.

/// Largest JSON request the front accepts from the host, in bytes (qemu-ga:
/// 64 MiB, `MAX_TOKEN_SIZE`). A base64 `guest-file-write` of qemu-ga's
/// largest chunk must fit.
pub const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Deepest nesting of `[` and `{` in one request (qemu-ga: 1024).
pub const MAX_JSON_NESTING: usize = 1024;

/// Most tokens in one request (qemu-ga: 2 Mi tokens).
pub const MAX_JSON_TOKENS: usize = 2 << 20;

/// Largest postcard message on the internal socket, either direction. One
/// message is one SOCK_SEQPACKET datagram; it must fit the socket's send
/// buffer, which the helper sets to `LINK_SOCKET_BUFFER_BYTES`.
pub const MAX_MESSAGE_BYTES: usize = 160 << 10;

/// Send/receive buffer the helper asks for on both ends of the internal
/// socketpair (the kernel doubles it, capped by net.core.wmem_max).
pub const LINK_SOCKET_BUFFER_BYTES: usize = 256 << 10;

/// How long the helper waits for room on the internal socket before it
/// takes the front for broken (it stopped reading its replies) and stops
/// it. A working front drains the socket at once; one that does not would
/// otherwise hold the helper in `send` for ever, deaf to signals.
pub const LINK_SEND_TIMEOUT_MS: u64 = 2_000;

/// Largest `count` accepted by `guest-file-read` (qemu-ga: 48 MiB).
pub const MAX_FILE_READ_BYTES: i64 = 48 << 20;

/// Largest slice of file data in one internal request: a guest-file-write
/// message, or what one guest-file-read request puts in the file-data pipe.
/// The front splits bigger reads and writes into slices of this size.
pub const FILE_CHUNK_BYTES: usize = 128 << 10;

/// Capacity of the file-data pipe (helper to front). A pipe holds a number
/// of pages, not bytes, and a chunk spliced from an unaligned position
/// spans one page more than its size: two chunks' worth means the helper's
/// non-blocking splice of a chunk always fits the emptied pipe.
pub const FILE_DATA_PIPE_BYTES: usize = 2 * FILE_CHUNK_BYTES;

/// Most guest-file handles open at once (qemu-ga has no bound).
pub const MAX_OPEN_FILE_HANDLES: usize = 128;

/// Shortest and longest wait before the helper restarts a dead front, in
/// milliseconds; the wait doubles after each death that came soon after a
/// start.
pub const FRONT_RESTART_MIN_DELAY_MS: u64 = 100;
pub const FRONT_RESTART_MAX_DELAY_MS: u64 = 5_000;

/// A front that ran at least this long before dying is restarted after the
/// shortest delay again.
pub const FRONT_STABLE_AFTER_MS: u64 = 10_000;

/// How long the front waits after the virtio-serial port reported that the
/// host is gone before reading again (qemu-ga waits the same way instead of
/// spinning on POLLHUP).
pub const CHANNEL_HANGUP_RETRY_MS: u64 = 100;

/// Most bytes kept of one guest-exec child's stdout, and of its stderr
/// (qemu-ga: 16 MiB, `GUEST_EXEC_MAX_OUTPUT`). More is read and dropped, and
/// the status says `out-truncated`/`err-truncated`.
pub const MAX_EXEC_OUTPUT_BYTES: usize = 16 << 20;

/// Most guest-exec children the helper keeps track of, running or finished
/// and not yet collected by guest-exec-status (qemu-ga has no bound).
pub const MAX_EXEC_PROCESSES: usize = 32;

/// Most bytes the helper holds for all guest-exec children together:
/// captured output not yet collected plus input not yet written (qemu-ga
/// has no bound). Output past it is dropped and marked truncated; a
/// guest-exec whose input does not fit is refused.
pub const MAX_EXEC_BUFFERED_BYTES: usize = 256 << 20;

/// Largest decoded `input-data` of one guest-exec: what a request of
/// `MAX_REQUEST_BYTES` can carry in base64.
pub const MAX_EXEC_INPUT_BYTES: usize = 48 << 20;

/// Longest single argument or environment entry, with its terminating NUL
/// (Linux's `MAX_ARG_STRLEN`); longer ones fail with E2BIG as on qemu-ga.
pub const MAX_EXEC_STRING_BYTES: usize = 128 << 10;

/// Most bytes of arguments and environment of one guest-exec, counting each
/// string's NUL and pointer. Above Linux's own ceiling (6 MiB), so a host
/// sees the kernel's E2BIG before it ever meets this bound.
pub const MAX_EXEC_ARGV_BYTES: usize = 8 << 20;

/// Longest program path, with its NUL (Linux's `PATH_MAX`).
pub const MAX_EXEC_PATH_BYTES: usize = 4096;

/// Largest slice of guest-exec arguments, input or output carried in one
/// internal message.
pub const EXEC_CHUNK_BYTES: usize = 128 << 10;

/// How long the helper waits before trying a missing or failed channel
/// path again with `-r/--retry-path` (qemu-ga: 5 s, `QGA_RETRY_INTERVAL`).
pub const CHANNEL_RETRY_INTERVAL_MS: u64 = 5_000;
/// Longest run of the fsfreeze hook, in seconds (qemu-ga waits without
/// limit). A hook that takes longer is killed and the freeze or thaw reports
/// it as terminated abnormally.
pub const FSFREEZE_HOOK_TIMEOUT_SECS: u64 = 600;
/// Longest host request id the audit log records, in bytes of its JSON
/// text; a longer one is cut and marked with "...".
pub const AUDIT_ID_MAX_BYTES: usize = 128;

/// Longest chpasswd may run before it is killed (qemu-ga waits forever).
pub const PASSWORD_PROGRAM_TIMEOUT_MS: u64 = 30_000;

/// Longest a shutdown program or a suspend support check may run before it
/// is killed (qemu-ga waits forever; libvirt gives guest-shutdown 60 s).
pub const POWER_PROGRAM_TIMEOUT_MS: u64 = 60_000;

/// Longest a suspend program (`systemctl suspend`, `pm-suspend`) may run.
/// The time limit counts monotonic time, which stands still while the guest
/// sleeps, so a program that returns only after the resume is not cut off.
pub const SUSPEND_PROGRAM_TIMEOUT_MS: u64 = 300_000;
/// Longest wait for `hwclock` in guest-set-time (qemu-ga waits without
/// limit). Writing the RTC waits for a second boundary, so a second or two
/// is normal.
pub const HWCLOCK_TIMEOUT_MS: u64 = 30_000;

/// Longest path guest-file-open forwards to the helper, in bytes. The
/// kernel refuses longer ones anyway (PATH_MAX, 4096 with the NUL).
pub const MAX_PATH_BYTES: usize = 4096;

/// Most guest-set-vcpus entries in one internal request. The front sends a
/// longer list in slices of this size and stops at the first slice that
/// was not processed whole, which keeps qemu-ga's "stop at the first
/// failure" result.
pub const MAX_VCPUS_PER_REQUEST: usize = 4096;

/// Most guest-set-memory-blocks entries in one internal request; the front
/// sends a longer list in slices and joins the results.
pub const MAX_MEMORY_BLOCKS_PER_REQUEST: usize = 4096;

/// Largest system file the information commands read: /proc tables,
/// os-release, utmp (qemu-ga reads any size). What the helper sends back
/// must still fit one internal message.
pub const MAX_SYSTEM_FILE_BYTES: usize = 4 << 20;

/// Largest authorized_keys file guest-ssh-* reads, so that the keys fit one
/// reply (qemu-ga reads any size).
pub const MAX_AUTHORIZED_KEYS_BYTES: usize = 128 << 10;
