//! guest-get-fsinfo and guest-get-disks.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{GuestDiskInfo, GuestFilesystemInfo, NoArgs};

pub async fn get_fsinfo(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetFsinfo).await? {
        HelperReply::Filesystems(filesystems) => {
            let list: Vec<GuestFilesystemInfo> = filesystems.into_iter().map(Into::into).collect();
            Ok(Some(to_value(&list)))
        }
        other => Err(unexpected(other)),
    }
}

pub async fn get_disks(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetDisks).await? {
        HelperReply::Disks(disks) => {
            let list: Vec<GuestDiskInfo> = disks.into_iter().map(Into::into).collect();
            Ok(Some(to_value(&list)))
        }
        other => Err(unexpected(other)),
    }
}
