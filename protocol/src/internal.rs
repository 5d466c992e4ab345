//! The internal front/helper link: one postcard message per SOCK_SEQPACKET
//! datagram, at most `MAX_MESSAGE_BYTES` long. Decoding with that bound is
//! the only way bytes become a request, and a request variant carries
//! already-typed values, so an operation never sees raw input.

use crate::error::QgaError;
use crate::file_mode::OpenMode;
use crate::limits::{AUDIT_ID_MAX_BYTES, MAX_MESSAGE_BYTES};
use crate::mount_point::MountPoint;
use crate::password::{Password, UserName};
use crate::power::{ShutdownMode, SuspendMode};
use crate::qga::{
    GuestDiskStatsInfo, GuestExecCaptureOutputMode, GuestFsfreezeStatus, GuestLinuxCpuStats,
    GuestLoadAverage, GuestNetworkRoute, GuestOSInfo, GuestTimezone, GuestUser,
};
use crate::ssh::{self, PublicKeys};
use crate::system::{
    Disk, Filesystem, MemoryBlock, MemoryBlockChange, MemoryBlockResult, NetworkInterface, Vcpu,
    VcpuChange,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

/// One privileged operation the front asks for. Each variant is exactly one
/// qemu-ga command; `command_name` says which, for the helper's policy check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperRequest {
    GetTime,
    FsfreezeStatus,
    SetUserPassword {
        username: UserName,
        password: Password,
        /// The password is already hashed (chpasswd -e).
        crypted: bool,
    },
    Shutdown(ShutdownMode),
    Suspend(SuspendMode),
    /// Nanoseconds since the epoch, or None to read the RTC into the system
    /// clock. The helper checks the range.
    SetTime {
        time_ns: Option<i64>,
    },
    FileOpen {
        path: String,
        mode: OpenMode,
    },
    FileClose {
        handle: i64,
    },
    /// At most `FILE_CHUNK_BYTES` for a valid count. The front passes an
    /// invalid count through unchanged so the helper reports the handle
    /// error first, as qemu-ga does.
    FileRead {
        handle: i64,
        count: i64,
    },
    /// At most `FILE_CHUNK_BYTES`. Empty data writes nothing: it only
    /// checks the handle.
    FileWrite {
        handle: i64,
        #[serde(with = "byte_buf")]
        data: Vec<u8>,
    },
    /// `whence` is qemu-ga's code (0 set, 1 cur, 2 end); the helper rejects
    /// others after looking up the handle.
    FileSeek {
        handle: i64,
        offset: i64,
        whence: i64,
    },
    FileFlush {
        handle: i64,
    },
    GetVcpus,
    /// At most `MAX_VCPUS_PER_REQUEST` entries; the front splits longer lists.
    SetVcpus(Vec<VcpuChange>),
    GetMemoryBlocks,
    /// At most `MAX_MEMORY_BLOCKS_PER_REQUEST` entries; the front splits
    /// longer lists.
    SetMemoryBlocks(Vec<MemoryBlockChange>),
    GetMemoryBlockInfo,
    NetworkGetInterfaces,
    GetFsinfo,
    GetDisks,
    /// Freeze every freezable filesystem.
    FsfreezeFreeze,
    /// Freeze these mount points (`None`: all, as guest-fsfreeze-freeze).
    /// Names that match no mounted filesystem are skipped, as qemu-ga does.
    FsfreezeFreezeList(Option<Vec<MountPoint>>),
    FsfreezeThaw,
    /// Trim every mounted filesystem; `minimum` is passed to the kernel as
    /// qemu-ga passes it (an unsigned reinterpretation of the integer).
    Fstrim {
        minimum: Option<i64>,
    },
    /// Arguments, environment and input of the next `Exec`, in pieces that
    /// each fit one message; the helper collects them until `Exec`.
    ExecStage(ExecStage),
    Exec(ExecStart),
    ExecStatus {
        pid: i64,
    },
    /// A slice of the output of the process whose finished status the last
    /// `ExecStatus` returned.
    ExecOutput {
        pid: i64,
        stream: ExecStream,
        offset: u64,
    },
    GetHostName,
    GetUsers,
    GetTimezone,
    GetOsInfo,
    SshGetAuthorizedKeys {
        user: ssh::UserName,
    },
    SshAddAuthorizedKeys {
        user: ssh::UserName,
        keys: PublicKeys,
        reset: bool,
    },
    SshRemoveAuthorizedKeys {
        user: ssh::UserName,
        keys: PublicKeys,
    },
    GetDiskstats,
    GetCpustats,
    GetLoad,
    NetworkGetRoute,
}

impl HelperRequest {
    pub fn command_name(&self) -> &'static str {
        match self {
            HelperRequest::GetTime => "guest-get-time",
            HelperRequest::FsfreezeStatus => "guest-fsfreeze-status",
            HelperRequest::ExecStage(_) | HelperRequest::Exec(_) => "guest-exec",
            HelperRequest::ExecStatus { .. } | HelperRequest::ExecOutput { .. } => {
                "guest-exec-status"
            }
            HelperRequest::FsfreezeFreeze => "guest-fsfreeze-freeze",
            HelperRequest::FsfreezeFreezeList(_) => "guest-fsfreeze-freeze-list",
            HelperRequest::FsfreezeThaw => "guest-fsfreeze-thaw",
            HelperRequest::Fstrim { .. } => "guest-fstrim",
            HelperRequest::SetUserPassword { .. } => "guest-set-user-password",
            HelperRequest::Shutdown(_) => "guest-shutdown",
            HelperRequest::Suspend(mode) => mode.command_name(),
            HelperRequest::SetTime { .. } => "guest-set-time",
            HelperRequest::FileOpen { .. } => "guest-file-open",
            HelperRequest::FileClose { .. } => "guest-file-close",
            HelperRequest::FileRead { .. } => "guest-file-read",
            HelperRequest::FileWrite { .. } => "guest-file-write",
            HelperRequest::FileSeek { .. } => "guest-file-seek",
            HelperRequest::FileFlush { .. } => "guest-file-flush",
            HelperRequest::GetVcpus => "guest-get-vcpus",
            HelperRequest::SetVcpus(_) => "guest-set-vcpus",
            HelperRequest::GetMemoryBlocks => "guest-get-memory-blocks",
            HelperRequest::SetMemoryBlocks(_) => "guest-set-memory-blocks",
            HelperRequest::GetMemoryBlockInfo => "guest-get-memory-block-info",
            HelperRequest::NetworkGetInterfaces => "guest-network-get-interfaces",
            HelperRequest::GetFsinfo => "guest-get-fsinfo",
            HelperRequest::GetDisks => "guest-get-disks",
            HelperRequest::GetHostName => "guest-get-host-name",
            HelperRequest::GetUsers => "guest-get-users",
            HelperRequest::GetTimezone => "guest-get-timezone",
            HelperRequest::GetOsInfo => "guest-get-osinfo",
            HelperRequest::SshGetAuthorizedKeys { .. } => "guest-ssh-get-authorized-keys",
            HelperRequest::SshAddAuthorizedKeys { .. } => "guest-ssh-add-authorized-keys",
            HelperRequest::SshRemoveAuthorizedKeys { .. } => "guest-ssh-remove-authorized-keys",
            HelperRequest::GetDiskstats => "guest-get-diskstats",
            HelperRequest::GetCpustats => "guest-get-cpustats",
            HelperRequest::GetLoad => "guest-get-load",
            HelperRequest::NetworkGetRoute => "guest-network-get-route",
        }
    }
}

/// What an operation produced, one variant per kind of result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperReply {
    /// Nanoseconds since the epoch.
    Time(i64),
    FsfreezeStatus(GuestFsfreezeStatus),
    PasswordSet,
    /// The shutdown or suspend was started (or, for a suspend, is over):
    /// the host gets no reply, as from qemu-ga.
    PowerActionStarted,
    /// The command succeeded and has nothing to report.
    Done,
    FileHandle(i64),
    /// `count` bytes of the file now wait in the file-data pipe, to be
    /// read by the front before its next request. `eof`: the read reached
    /// the end of the file before the requested count.
    FileDataPiped {
        count: u32,
        eof: bool,
    },
    FileWritten(u64),
    FilePosition(i64),
    Vcpus(Vec<Vcpu>),
    /// How many entries of a guest-set-vcpus list were processed.
    VcpusProcessed(i64),
    MemoryBlocks(Vec<MemoryBlock>),
    MemoryBlockResults(Vec<MemoryBlockResult>),
    /// Memory block size in bytes.
    MemoryBlockSize(u64),
    NetworkInterfaces(Vec<NetworkInterface>),
    Filesystems(Vec<Filesystem>),
    Disks(Vec<Disk>),
    /// How many filesystems a freeze froze or a thaw thawed.
    FsfreezeCount(i64),
    /// One entry per mounted filesystem, in qemu-ga's order.
    Fstrim(Vec<FstrimPath>),
    ExecStaged,
    ExecStarted {
        pid: i64,
    },
    ExecStatus(ExecState),
    ExecOutput(#[serde(with = "byte_buf")] Vec<u8>),
    HostName(String),
    Users(Vec<GuestUser>),
    Timezone(GuestTimezone),
    OsInfo(Box<GuestOSInfo>),
    /// The keys of guest-ssh-get-authorized-keys, in qemu-ga's order.
    AuthorizedKeys(Vec<String>),
    Diskstats(Vec<GuestDiskStatsInfo>),
    Cpustats(Vec<GuestLinuxCpuStats>),
    Load(GuestLoadAverage),
    Routes(Vec<GuestNetworkRoute>),
}

/// guest-fstrim's result for one filesystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FstrimPath {
    pub path: String,
    /// The kernel's answer, or qemu-ga's error text for this path.
    pub outcome: Result<Trimmed, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trimmed {
    /// Bytes discarded.
    pub trimmed: i64,
    /// The minimum extent length the kernel used.
    pub minimum: i64,
}

/// A piece of a guest-exec request: strings are appended to the argument
/// list and the environment, bytes to the input, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStage {
    pub args: Vec<String>,
    pub env: Vec<String>,
    #[serde(with = "byte_buf")]
    pub input: Vec<u8>,
}

/// Starts the program with what was staged. The counts must match the
/// staged pieces, so a request can never pick up another one's leftovers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStart {
    pub path: String,
    pub capture: GuestExecCaptureOutputMode,
    pub args: u32,
    pub env: u32,
    /// Input length; `None` gives the program /dev/null as stdin.
    pub input: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecStream {
    Out,
    Err,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecExit {
    Code(i32),
    Signal(i32),
}

/// One captured stream of a finished process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedOutput {
    pub len: u64,
    pub truncated: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecState {
    /// True once the process ended and its captured output is complete.
    pub exited: bool,
    pub exit: Option<ExecExit>,
    /// Present for each captured stream of an exited process.
    pub out: Option<CapturedOutput>,
    pub err: Option<CapturedOutput>,
}

/// The front's exit status when the host channel itself failed (a serial
/// line hung up, a device error): with `-r` the helper opens the channel
/// again before starting the next front.
pub const FRONT_EXIT_CHANNEL_FAILED: u8 = 75;

/// Front to helper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToHelper {
    /// Echoed in the reply so a stale reply can never answer a newer request.
    pub seq: u32,
    pub request: HelperRequest,
    /// The host's `id` member as JSON text, at most `AUDIT_ID_MAX_BYTES`,
    /// for the helper's audit log only (it is a label, never trusted).
    pub id: Option<String>,
}

/// Helper to front.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromHelper {
    Reply {
        seq: u32,
        result: Result<HelperReply, QgaError>,
    },
    /// Sent when a front starts, after each policy reload and after each
    /// freeze or thaw: what the front needs to refuse early and to answer
    /// `guest-info`. The helper still checks every request itself.
    State(AgentState),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentState {
    /// One flag per row of `COMMANDS`, in table order: enabled by policy and
    /// available in this build.
    pub enabled: Vec<bool>,
    pub frozen: bool,
    /// One per row of `COMMANDS`: the policy rule that enables or disables
    /// the command, for the front's audit log.
    pub rules: Vec<String>,
}

/// A host-supplied text (a request id, an unknown command name) cut to
/// `AUDIT_ID_MAX_BYTES` for the audit log, so a huge one cannot flood it.
pub fn audit_label(text: &str) -> String {
    if text.len() <= AUDIT_ID_MAX_BYTES {
        return text.to_string();
    }
    let mut end = AUDIT_ID_MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[derive(Debug, PartialEq, Eq)]
pub enum LinkError {
    TooLarge(usize),
    Malformed(String),
    TrailingBytes(usize),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::TooLarge(n) => {
                write!(f, "message of {n} bytes exceeds {MAX_MESSAGE_BYTES}")
            }
            LinkError::Malformed(e) => write!(f, "malformed message: {e}"),
            LinkError::TrailingBytes(n) => write!(f, "{n} bytes after the message"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Encodes one message, refusing anything the other side would refuse.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, LinkError> {
    let bytes = postcard::to_allocvec(message).map_err(|e| LinkError::Malformed(e.to_string()))?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(LinkError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Decodes exactly one message from one datagram: no more than the bound,
/// no bytes left over.
pub fn decode<T: DeserializeOwned>(datagram: &[u8]) -> Result<T, LinkError> {
    if datagram.len() > MAX_MESSAGE_BYTES {
        return Err(LinkError::TooLarge(datagram.len()));
    }
    let (message, rest) =
        postcard::take_from_bytes(datagram).map_err(|e| LinkError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(LinkError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// File and exec data as one postcard byte string (a length and the bytes) rather
/// than a sequence of separately encoded elements.
mod byte_buf {
    use serde::{de, Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(data)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl<'de> de::Visitor<'de> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_byte_buf(Bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = ToHelper {
            seq: 7,
            request: HelperRequest::GetTime,
            id: Some("\"a\"".into()),
        };
        assert_eq!(decode::<ToHelper>(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn rejects_trailing_and_truncated_and_oversized() {
        let mut bytes = encode(&ToHelper {
            seq: 300,
            request: HelperRequest::FsfreezeStatus,
            id: None,
        })
        .unwrap();
        bytes.push(0);
        assert_eq!(decode::<ToHelper>(&bytes), Err(LinkError::TrailingBytes(1)));
        assert!(matches!(
            decode::<ToHelper>(&bytes[..1]),
            Err(LinkError::Malformed(_))
        ));
        let big = vec![0u8; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            decode::<ToHelper>(&big),
            Err(LinkError::TooLarge(_))
        ));
    }

    #[test]
    fn audit_labels_are_bounded_on_a_char_boundary() {
        assert_eq!(audit_label("42"), "42");
        let long = "\u{e9}".repeat(AUDIT_ID_MAX_BYTES);
        let cut = audit_label(&long);
        assert!(cut.ends_with("...") && cut.len() <= AUDIT_ID_MAX_BYTES + 3);
    }

    #[test]
    fn a_full_file_chunk_fits_one_message() {
        use crate::limits::FILE_CHUNK_BYTES;
        let data: Vec<u8> = (0..FILE_CHUNK_BYTES).map(|i| i as u8).collect();
        let request = ToHelper {
            seq: u32::MAX,
            request: HelperRequest::FileWrite {
                handle: i64::MAX,
                data: data.clone(),
            },
            id: None,
        };
        let bytes = encode(&request).unwrap();
        assert!(bytes.len() < FILE_CHUNK_BYTES + 32, "{}", bytes.len());
        assert_eq!(decode::<ToHelper>(&bytes).unwrap(), request);
    }

    #[test]
    fn unknown_variant_is_malformed() {
        // seq = 1, variant index 200 (varint 0xC8 0x01)
        assert!(matches!(
            decode::<ToHelper>(&[1, 0xC8, 0x01]),
            Err(LinkError::Malformed(_))
        ));
    }
}
