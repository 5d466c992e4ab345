//! The internal front/helper link: one postcard message per SOCK_SEQPACKET
//! datagram, at most `MAX_MESSAGE_BYTES` long. Decoding with that bound is
//! the only way bytes become a request, and a request variant carries
//! already-typed values, so an operation never sees raw input.

use crate::error::QgaError;
use crate::limits::MAX_MESSAGE_BYTES;
use crate::qga::{GuestExecCaptureOutputMode, GuestFsfreezeStatus};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

/// One privileged operation the front asks for. Each variant is exactly one
/// qemu-ga command; `command_name` says which, for the helper's policy check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperRequest {
    GetTime,
    FsfreezeStatus,
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
        }
    }
}

/// What an operation produced, one variant per kind of result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperReply {
    /// Nanoseconds since the epoch.
    Time(i64),
    FsfreezeStatus(GuestFsfreezeStatus),
    ExecStaged,
    ExecStarted {
        pid: i64,
    },
    ExecStatus(ExecState),
    ExecOutput(Vec<u8>),
}

/// A piece of a guest-exec request: strings are appended to the argument
/// list and the environment, bytes to the input, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStage {
    pub args: Vec<String>,
    pub env: Vec<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = ToHelper {
            seq: 7,
            request: HelperRequest::GetTime,
        };
        assert_eq!(decode::<ToHelper>(&encode(&m).unwrap()).unwrap(), m);
    }

    #[test]
    fn rejects_trailing_and_truncated_and_oversized() {
        let mut bytes = encode(&ToHelper {
            seq: 300,
            request: HelperRequest::FsfreezeStatus,
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
    fn unknown_variant_is_malformed() {
        // seq = 1, variant index 200 (varint 0xC8 0x01)
        assert!(matches!(
            decode::<ToHelper>(&[1, 0xC8, 0x01]),
            Err(LinkError::Malformed(_))
        ));
    }
}
