//! guest-get-memory-blocks, guest-set-memory-blocks and
//! guest-get-memory-block-info.

use super::{call, decode, to_value, unexpected, Arguments, CommandResult};
use crate::link::HelperLink;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::limits::MAX_MEMORY_BLOCKS_PER_REQUEST;
use protocol::qga::{
    GuestMemoryBlock, GuestMemoryBlockInfo, GuestMemoryBlockResponse, NoArgs, SetMemoryBlocksArgs,
};
use protocol::system::MemoryBlockChange;

pub async fn get_blocks(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetMemoryBlocks).await? {
        HelperReply::MemoryBlocks(blocks) => {
            let list: Vec<GuestMemoryBlock> = blocks.into_iter().map(Into::into).collect();
            Ok(Some(to_value(&list)))
        }
        other => Err(unexpected(other)),
    }
}

/// One response per requested block, in order; a list longer than one
/// internal request goes in slices.
pub async fn set_blocks(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    let args: SetMemoryBlocksArgs = decode(arguments)?;
    let changes: Vec<MemoryBlockChange> = args
        .mem_blks
        .iter()
        .map(|b| MemoryBlockChange {
            phys_index: b.phys_index,
            online: b.online,
        })
        .collect();
    let mut responses: Vec<GuestMemoryBlockResponse> = Vec::with_capacity(changes.len());
    for slice in changes.chunks(MAX_MEMORY_BLOCKS_PER_REQUEST) {
        match call(link, HelperRequest::SetMemoryBlocks(slice.to_vec())).await? {
            HelperReply::MemoryBlockResults(results) => {
                responses.extend(results.into_iter().map(Into::into));
            }
            other => return Err(unexpected(other)),
        }
    }
    Ok(Some(to_value(&responses)))
}

pub async fn get_block_info(arguments: Arguments<'_>, link: &mut HelperLink) -> CommandResult {
    decode::<NoArgs>(arguments)?;
    match call(link, HelperRequest::GetMemoryBlockInfo).await? {
        HelperReply::MemoryBlockSize(size) => Ok(Some(to_value(&GuestMemoryBlockInfo { size }))),
        other => Err(unexpected(other)),
    }
}
