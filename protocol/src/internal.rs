//! The internal front/helper link: one postcard message per SOCK_SEQPACKET
//! datagram, at most `MAX_MESSAGE_BYTES` long. Decoding with that bound is
//! the only way bytes become a request, and a request variant carries
//! already-typed values, so an operation never sees raw input.

use crate::error::QgaError;
use crate::limits::MAX_MESSAGE_BYTES;
use crate::qga::GuestFsfreezeStatus;
use crate::qga::{
    GuestDiskStatsInfo, GuestLinuxCpuStats, GuestLoadAverage, GuestNetworkRoute, GuestOSInfo,
    GuestTimezone, GuestUser,
};
use crate::ssh::{PublicKeys, UserName};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::fmt;

/// One privileged operation the front asks for. Each variant is exactly one
/// qemu-ga command; `command_name` says which, for the helper's policy check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HelperRequest {
    GetTime,
    FsfreezeStatus,
    GetHostName,
    GetUsers,
    GetTimezone,
    GetOsInfo,
    SshGetAuthorizedKeys {
        user: UserName,
    },
    SshAddAuthorizedKeys {
        user: UserName,
        keys: PublicKeys,
        reset: bool,
    },
    SshRemoveAuthorizedKeys {
        user: UserName,
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
    HostName(String),
    Users(Vec<GuestUser>),
    Timezone(GuestTimezone),
    OsInfo(Box<GuestOSInfo>),
    /// The keys of guest-ssh-get-authorized-keys, in qemu-ga's order.
    AuthorizedKeys(Vec<String>),
    /// guest-ssh-add/remove-authorized-keys finished.
    AuthorizedKeysUpdated,
    Diskstats(Vec<GuestDiskStatsInfo>),
    Cpustats(Vec<GuestLinuxCpuStats>),
    Load(GuestLoadAverage),
    Routes(Vec<GuestNetworkRoute>),
}

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
