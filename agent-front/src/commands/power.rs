//! guest-shutdown and guest-suspend-*: like qemu-ga, nothing is sent back
//! when they succeed (the host learns it from the guest going away).

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::power::{ShutdownMode, SuspendMode};
use protocol::qga::{NoArgs, ShutdownArgs};

pub async fn shutdown(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: ShutdownArgs = decode(arguments)?;
    let mode = ShutdownMode::from_arg(args.mode.as_deref()).map_err(CallError::Request)?;
    no_reply(call(link, HelperRequest::Shutdown(mode)).await?)
}

pub async fn suspend(
    mode: SuspendMode,
    arguments: Arguments<'_>,
    link: &mut HelperLink,
) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    no_reply(call(link, HelperRequest::Suspend(mode)).await?)
}

fn no_reply(reply: HelperReply) -> CommandResult {
    match reply {
        HelperReply::PowerActionStarted => Ok(None),
        other => Err(unexpected(other)),
    }
}
