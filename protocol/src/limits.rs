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

/// Largest `count` accepted by `guest-file-read` (qemu-ga: 48 MiB).
pub const MAX_FILE_READ_BYTES: i64 = 48 << 20;

/// Largest slice of file data carried in one internal message. The front
/// splits bigger reads and writes into slices of this size.
pub const FILE_CHUNK_BYTES: usize = 128 << 10;

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

/// Largest system file the information commands read: /proc tables,
/// os-release, utmp (qemu-ga reads any size). What the helper sends back
/// must still fit one internal message.
pub const MAX_SYSTEM_FILE_BYTES: usize = 4 << 20;

/// Largest authorized_keys file guest-ssh-* reads, so that the keys fit one
/// reply (qemu-ga reads any size).
pub const MAX_AUTHORIZED_KEYS_BYTES: usize = 128 << 10;
