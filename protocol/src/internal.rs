//! The internal front/helper link: one postcard message per SOCK_SEQPACKET
//! datagram, at most `MAX_MESSAGE_BYTES` long. Decoding with that bound is
//! the only way bytes become a request, and a request variant carries
//! already-typed values, so an operation never sees raw input.

use crate::error::QgaError;
use crate::limits::{AUDIT_ID_MAX_BYTES, MAX_MESSAGE_BYTES};
use crate::qga::GuestFsfreezeStatus;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

/// One privileged operation the front asks for. Each variant is exactly one
/// qemu-ga command; `command_name` says which, for the helper's policy check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperRequest {
    GetTime,
    FsfreezeStatus,
}

impl HelperRequest {
    pub fn command_name(&self) -> &'static str {
        match self {
            HelperRequest::GetTime => "guest-get-time",
            HelperRequest::FsfreezeStatus => "guest-fsfreeze-status",
        }
    }
}

/// What an operation produced, one variant per kind of result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperReply {
    /// Nanoseconds since the epoch.
    Time(i64),
    FsfreezeStatus(GuestFsfreezeStatus),
}

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
    fn unknown_variant_is_malformed() {
        // seq = 1, variant index 200 (varint 0xC8 0x01)
        assert!(matches!(
            decode::<ToHelper>(&[1, 0xC8, 0x01]),
            Err(LinkError::Malformed(_))
        ));
    }
}
