//! guest-get-time.

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::NoArgs;
use serde_json::json;

pub async fn get_time(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetTime).await? {
        HelperReply::Time(ns) => Ok(Some(json!(ns))),
        other => Err(unexpected(other)),
    }
}
