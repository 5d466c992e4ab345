//! guest-fsfreeze-status, guest-fsfreeze-freeze, guest-fsfreeze-freeze-list
//! and guest-fsfreeze-thaw.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::mount_point::MountPoint;
use protocol::qga::{FsfreezeFreezeListArgs, NoArgs};
use serde_json::json;

pub async fn status(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::FsfreezeStatus).await? {
        HelperReply::FsfreezeStatus(s) => Ok(Some(to_value(&s))),
        other => Err(unexpected(other)),
    }
}

pub async fn freeze(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    count(link, HelperRequest::FsfreezeFreeze).await
}

pub async fn freeze_list(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: FsfreezeFreezeListArgs = decode(arguments)?;
    // A name that is not an absolute path can match no mount point; qemu-ga
    // skips such names like any other that matches nothing.
    let mountpoints = args.mountpoints.map(|names| {
        names
            .into_iter()
            .filter_map(|name| MountPoint::try_from(name).ok())
            .collect()
    });
    count(link, HelperRequest::FsfreezeFreezeList(mountpoints)).await
}

pub async fn thaw(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    count(link, HelperRequest::FsfreezeThaw).await
}

/// Freeze and thaw answer with the number of filesystems they acted on.
async fn count(link: &mut HelperLink, request: HelperRequest) -> CommandResult {
    match call(link, request).await? {
        HelperReply::FsfreezeCount(n) => Ok(Some(json!(n))),
        other => Err(unexpected(other)),
    }
}
