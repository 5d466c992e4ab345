//! guest-network-get-interfaces.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{GuestNetworkInterface, NoArgs};

pub async fn get_interfaces(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::NetworkGetInterfaces).await? {
        HelperReply::NetworkInterfaces(interfaces) => {
            let list: Vec<GuestNetworkInterface> = interfaces.into_iter().map(Into::into).collect();
            Ok(Some(to_value(&list)))
        }
        other => Err(unexpected(other)),
    }
}
