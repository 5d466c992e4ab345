//! The commands the front answers by itself: guest-sync,
//! guest-sync-delimited (the 0xFF is added by the reply writer), guest-ping
//! and guest-info.

use super::{decode, to_value, Arguments, CommandResult};
use crate::dispatch::enabled;
use crate::link::HelperLink;
use protocol::qga::{GuestAgentCommandInfo, GuestAgentInfo, NoArgs, SyncArgs};
use protocol::{COMMANDS, QGA_COMPAT_VERSION};
use serde_json::json;

pub fn sync(arguments: Arguments<'_>) -> CommandResult {
    let a: SyncArgs = decode(arguments)?;
    Ok(Some(json!(a.id)))
}

pub fn ping(arguments: Arguments<'_>) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    Ok(Some(json!({})))
}

/// Every known command, newest first as qemu-ga lists them.
pub fn info(arguments: Arguments<'_>, link: &HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    let info = GuestAgentInfo {
        version: QGA_COMPAT_VERSION.to_string(),
        supported_commands: COMMANDS
            .iter()
            .rev()
            .map(|spec| GuestAgentCommandInfo {
                name: spec.name.to_string(),
                enabled: enabled(spec, link),
                success_response: spec.success_response,
            })
            .collect(),
    };
    Ok(Some(to_value(&info)))
}
