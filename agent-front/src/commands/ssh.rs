//! guest-ssh-get-authorized-keys, guest-ssh-add-authorized-keys and
//! guest-ssh-remove-authorized-keys. The keys are checked here with
//! qemu-ga's check and text before the user is looked up (qemu-ga's
//! order); the helper checks them again.

use super::{call, decode, unexpected, Arguments, CommandResult};
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{
    GuestAuthorizedKeys, SshAddAuthorizedKeysArgs, SshGetAuthorizedKeysArgs,
    SshRemoveAuthorizedKeysArgs,
};
use protocol::ssh::{PublicKeys, UserName};
use serde_json::json;

pub async fn get(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: SshGetAuthorizedKeysArgs = decode(arguments)?;
    let request = HelperRequest::SshGetAuthorizedKeys {
        user: UserName::new(&a.username),
    };
    match call(link, request).await? {
        HelperReply::AuthorizedKeys(keys) => {
            Ok(Some(super::to_value(&GuestAuthorizedKeys { keys })))
        }
        other => Err(unexpected(other)),
    }
}

pub async fn add(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: SshAddAuthorizedKeysArgs = decode(arguments)?;
    let request = HelperRequest::SshAddAuthorizedKeys {
        keys: PublicKeys::check(&a.keys).map_err(CallError::Request)?,
        user: UserName::new(&a.username),
        reset: a.reset.unwrap_or(false),
    };
    updated(call(link, request).await?)
}

pub async fn remove(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let a: SshRemoveAuthorizedKeysArgs = decode(arguments)?;
    let request = HelperRequest::SshRemoveAuthorizedKeys {
        keys: PublicKeys::check(&a.keys).map_err(CallError::Request)?,
        user: UserName::new(&a.username),
    };
    updated(call(link, request).await?)
}

fn updated(reply: HelperReply) -> CommandResult {
    match reply {
        HelperReply::Done => Ok(Some(json!({}))),
        other => Err(unexpected(other)),
    }
}
