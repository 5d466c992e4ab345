//! guest-set-user-password: the base64 is decoded and both values are
//! checked here, in qemu-ga's order, so bad input never reaches the helper.

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::password::{Password, UserName};
use protocol::qga::SetUserPasswordArgs;
use serde_json::json;

pub async fn set_user_password(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: SetUserPasswordArgs = decode(arguments)?;
    let password = Password::from_base64(&args.password).map_err(CallError::Request)?;
    let username = UserName::new(args.username).map_err(CallError::Request)?;
    let request = HelperRequest::SetUserPassword {
        username,
        password,
        crypted: args.crypted,
    };
    match call(link, request).await? {
        HelperReply::PasswordSet => Ok(Some(json!({}))),
        other => Err(unexpected(other)),
    }
}
