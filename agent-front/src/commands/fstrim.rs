//! guest-fstrim.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::{FstrimArgs, GuestFilesystemTrimResponse, GuestFilesystemTrimResult};

pub async fn fstrim(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: FstrimArgs = decode(arguments)?;
    let paths = match call(
        link,
        HelperRequest::Fstrim {
            minimum: args.minimum,
        },
    )
    .await?
    {
        HelperReply::Fstrim(paths) => paths,
        other => return Err(unexpected(other)),
    };
    // A trimmed filesystem reports `trimmed` and `minimum`; a failed one
    // only its `error`, as qemu-ga does.
    let paths = paths
        .into_iter()
        .map(|p| match p.outcome {
            Ok(t) => GuestFilesystemTrimResult {
                path: p.path,
                trimmed: Some(t.trimmed),
                minimum: Some(t.minimum),
                error: None,
            },
            Err(error) => GuestFilesystemTrimResult {
                path: p.path,
                trimmed: None,
                minimum: None,
                error: Some(error),
            },
        })
        .collect();
    Ok(Some(to_value(&GuestFilesystemTrimResponse { paths })))
}
