//! Every command the front knows how to run, one module per area. Protocol
//! commands are answered here; the others decode their arguments, become one
//! typed helper request, and turn the helper's reply into qemu-ga's result.

mod fsfreeze;
mod protocol_cmds;
mod time;

mod ssh;
mod sysinfo;

use crate::args;
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::QgaError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The command's result (`None` for commands that send nothing on success).
pub type CommandResult = Result<Option<Value>, CallError>;

pub type Arguments<'a> = Option<&'a Map<String, Value>>;

pub async fn run(name: &str, arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match name {
        "guest-sync" | "guest-sync-delimited" => protocol_cmds::sync(arguments),
        "guest-ping" => protocol_cmds::ping(arguments),
        "guest-info" => protocol_cmds::info(arguments, link),
        "guest-get-time" => time::get_time(arguments, link).await,
        "guest-fsfreeze-status" => fsfreeze::status(arguments, link).await,
        "guest-get-host-name" => sysinfo::host_name(arguments, link).await,
        "guest-get-users" => sysinfo::users(arguments, link).await,
        "guest-get-timezone" => sysinfo::timezone(arguments, link).await,
        "guest-get-osinfo" => sysinfo::os_info(arguments, link).await,
        "guest-ssh-get-authorized-keys" => ssh::get(arguments, link).await,
        "guest-ssh-add-authorized-keys" => ssh::add(arguments, link).await,
        "guest-ssh-remove-authorized-keys" => ssh::remove(arguments, link).await,
        "guest-get-diskstats" => sysinfo::diskstats(arguments, link).await,
        "guest-get-cpustats" => sysinfo::cpustats(arguments, link).await,
        "guest-get-load" => sysinfo::load(arguments, link).await,
        "guest-network-get-route" => sysinfo::routes(arguments, link).await,
        // The gate only lets available commands through, and every
        // available command has an arm above.
        other => Err(CallError::Request(QgaError::internal(&format!(
            "no handler for {other}"
        )))),
    }
}

/// Decodes arguments with qemu-ga's error texts.
fn decode<T: DeserializeOwned>(arguments: Arguments<'_>) -> Result<T, CallError> {
    args::decode(arguments).map_err(CallError::Request)
}

/// Runs one request in the helper.
async fn call(link: &mut HelperLink, request: HelperRequest) -> Result<HelperReply, CallError> {
    link.call(request).await
}

/// The helper answered with a reply of the wrong kind.
fn unexpected(reply: HelperReply) -> CallError {
    CallError::Request(QgaError::internal(&format!(
        "unexpected reply from helper: {reply:?}"
    )))
}

fn to_value<T: Serialize>(v: &T) -> Value {
    // Serializing the agent's own plain structs into a Value cannot fail.
    serde_json::to_value(v).unwrap_or(Value::Null)
}
