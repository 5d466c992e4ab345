//! guest-fsfreeze-status.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::NoArgs;

pub async fn status(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::FsfreezeStatus).await? {
        HelperReply::FsfreezeStatus(s) => Ok(Some(to_value(&s))),
        other => Err(unexpected(other)),
    }
}
