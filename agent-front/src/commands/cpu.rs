//! guest-get-vcpus and guest-set-vcpus.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::{CallError, HelperLink};
use protocol::internal::{HelperReply, HelperRequest};
use protocol::limits::MAX_VCPUS_PER_REQUEST;
use protocol::qga::{GuestLogicalProcessor, NoArgs, SetVcpusArgs};
use protocol::system::VcpuChange;
use serde_json::json;

pub async fn get_vcpus(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetVcpus).await? {
        HelperReply::Vcpus(vcpus) => {
            let list: Vec<GuestLogicalProcessor> = vcpus.into_iter().map(Into::into).collect();
            Ok(Some(to_value(&list)))
        }
        other => Err(unexpected(other)),
    }
}

/// The count of entries processed in order up to the first failure; an
/// error only when the very first entry fails. A list longer than one
/// internal request goes in slices, and a slice not processed whole ends
/// the command the same way.
pub async fn set_vcpus(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: SetVcpusArgs = decode(arguments)?;
    let changes: Vec<VcpuChange> = args
        .vcpus
        .iter()
        .map(|v| VcpuChange {
            logical_id: v.logical_id,
            online: v.online,
        })
        .collect();
    let mut processed: i64 = 0;
    for slice in changes.chunks(MAX_VCPUS_PER_REQUEST) {
        let done = match call(link, HelperRequest::SetVcpus(slice.to_vec())).await {
            Ok(HelperReply::VcpusProcessed(n)) => n,
            Ok(other) => return Err(unexpected(other)),
            Err(CallError::Request(_)) if processed > 0 => break,
            Err(e) => return Err(e),
        };
        processed += done;
        if done < slice.len() as i64 {
            break;
        }
    }
    Ok(Some(json!(processed)))
}
