//! Every command the front knows how to run, one module per area. Protocol
//! commands are answered here; the others decode their arguments, become one
//! typed helper request, and turn the helper's reply into qemu-ga's result.

mod cpu;
mod disks;
mod exec;
mod files;
mod fsfreeze;
mod fstrim;
mod memory;
mod network;
mod password;
mod power;
mod protocol_cmds;
mod ssh;
mod sysinfo;
mod time;

use crate::args;
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::power::SuspendMode;
use protocol::QgaError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// The command's result (`None` for commands that send nothing on success).
pub type CommandResult = Result<Option<Value>, CallError>;

/// What a command gives the host on success.
pub enum Output {
    /// A JSON result, or none (no reply at all, as after guest-shutdown).
    Json(Option<Value>),
    /// guest-file-read's bytes, printed as base64 straight into the reply
    /// (`json::writer::write_file_read_result`).
    FileRead { data: Vec<u8>, eof: bool },
}

pub type Arguments<'a> = Option<&'a Map<String, Value>>;

pub async fn run(
    name: &str,
    arguments: Arguments<'_>,
    link: &mut HelperLink,
) -> Result<Output, CallError> {
    if name == "guest-file-read" {
        return files::read(arguments, link).await;
    }
    run_json(name, arguments, link).await.map(Output::Json)
}

async fn run_json(name: &str, arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    match name {
        "guest-sync" | "guest-sync-delimited" => protocol_cmds::sync(arguments),
        "guest-ping" => protocol_cmds::ping(arguments),
        "guest-info" => protocol_cmds::info(arguments, link),
        "guest-get-time" => time::get_time(arguments, link).await,
        "guest-fsfreeze-status" => fsfreeze::status(arguments, link).await,
        "guest-exec" => exec::exec(arguments, link).await,
        "guest-exec-status" => exec::status(arguments, link).await,
        "guest-fsfreeze-freeze" => fsfreeze::freeze(arguments, link).await,
        "guest-fsfreeze-freeze-list" => fsfreeze::freeze_list(arguments, link).await,
        "guest-fsfreeze-thaw" => fsfreeze::thaw(arguments, link).await,
        "guest-fstrim" => fstrim::fstrim(arguments, link).await,
        "guest-set-user-password" => password::set_user_password(arguments, link).await,
        "guest-shutdown" => power::shutdown(arguments, link).await,
        "guest-suspend-disk" => power::suspend(SuspendMode::Disk, arguments, link).await,
        "guest-suspend-ram" => power::suspend(SuspendMode::Ram, arguments, link).await,
        "guest-suspend-hybrid" => power::suspend(SuspendMode::Hybrid, arguments, link).await,
        "guest-set-time" => time::set_time(arguments, link).await,
        "guest-file-open" => files::open(arguments, link).await,
        "guest-file-close" => files::close(arguments, link).await,
        "guest-file-write" => files::write(arguments, link).await,
        "guest-file-seek" => files::seek(arguments, link).await,
        "guest-file-flush" => files::flush(arguments, link).await,
        "guest-get-vcpus" => cpu::get_vcpus(arguments, link).await,
        "guest-set-vcpus" => cpu::set_vcpus(arguments, link).await,
        "guest-get-memory-blocks" => memory::get_blocks(arguments, link).await,
        "guest-set-memory-blocks" => memory::set_blocks(arguments, link).await,
        "guest-get-memory-block-info" => memory::get_block_info(arguments, link).await,
        "guest-network-get-interfaces" => network::get_interfaces(arguments, link).await,
        "guest-get-fsinfo" => disks::get_fsinfo(arguments, link).await,
        "guest-get-disks" => disks::get_disks(arguments, link).await,
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
