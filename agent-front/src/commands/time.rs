//! guest-get-time and guest-set-time.

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{NoArgs, SetTimeArgs};
use serde_json::json;

pub async fn get_time(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetTime).await? {
        HelperReply::Time(ns) => Ok(Some(json!(ns))),
        other => Err(unexpected(other)),
    }
}

/// Sets the system clock (and then the RTC) to `time`, or without `time`
/// the system clock from the RTC; the helper checks the range.
pub async fn set_time(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: SetTimeArgs = decode(arguments)?;
    match call(link, HelperRequest::SetTime { time_ns: a.time }).await? {
        HelperReply::Done => Ok(Some(json!({}))),
        other => Err(unexpected(other)),
    }
}
