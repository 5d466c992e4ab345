//! The helper's request handling: the policy and frozen-state checks sit in
//! front of one `match` over the closed set of requests, and each arm calls
//! one operation. The front is not trusted: everything is checked here again.

use crate::ops;
use crate::ops::system_roots::SystemRoots;
use policy::Policy;
use protocol::commands::{self, Availability};
use protocol::error::DisabledReason;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::limits::{MAX_MEMORY_BLOCKS_PER_REQUEST, MAX_VCPUS_PER_REQUEST};
use protocol::qga::GuestFsfreezeStatus;
use protocol::QgaError;

pub struct Context {
    pub policy: Policy,
    pub frozen: bool,
    /// Where the operations read kernel state.
    pub roots: SystemRoots,
}

pub fn handle(request: HelperRequest, ctx: &mut Context) -> Result<HelperReply, QgaError> {
    let name = request.command_name();
    let decision = ctx.policy.decide_command(name);
    let spec = commands::lookup(name).ok_or_else(|| QgaError::command_not_found(name))?;
    let refusal = if ctx.frozen && !spec.allowed_while_frozen {
        Some(DisabledReason::Frozen)
    } else if spec.availability != Availability::Available {
        Some(DisabledReason::Unavailable)
    } else if !decision.allowed {
        Some(DisabledReason::Policy)
    } else {
        None
    };
    tracing::info!(
        target: "audit",
        side = "helper",
        command = name,
        allowed = refusal.is_none(),
        rule = %decision.rule,
        refusal = ?refusal,
    );
    if let Some(reason) = refusal {
        return Err(QgaError::disabled(name, reason));
    }
    match request {
        HelperRequest::GetTime => ops::time::get_time().map(HelperReply::Time),
        HelperRequest::FsfreezeStatus => Ok(HelperReply::FsfreezeStatus(if ctx.frozen {
            GuestFsfreezeStatus::Frozen
        } else {
            GuestFsfreezeStatus::Thawed
        })),
        HelperRequest::GetVcpus => ops::cpu::get_vcpus(&ctx.roots).map(HelperReply::Vcpus),
        HelperRequest::SetVcpus(changes) => {
            within_limit(changes.len(), MAX_VCPUS_PER_REQUEST)?;
            ops::cpu::set_vcpus(&ctx.roots, &changes).map(HelperReply::VcpusProcessed)
        }
        HelperRequest::GetMemoryBlocks => {
            ops::memory::get_memory_blocks(&ctx.roots).map(HelperReply::MemoryBlocks)
        }
        HelperRequest::SetMemoryBlocks(changes) => {
            within_limit(changes.len(), MAX_MEMORY_BLOCKS_PER_REQUEST)?;
            Ok(HelperReply::MemoryBlockResults(
                ops::memory::set_memory_blocks(&ctx.roots, &changes),
            ))
        }
        HelperRequest::GetMemoryBlockInfo => {
            ops::memory::get_memory_block_info(&ctx.roots).map(HelperReply::MemoryBlockSize)
        }
        HelperRequest::NetworkGetInterfaces => {
            ops::network::get_interfaces(&ctx.roots).map(HelperReply::NetworkInterfaces)
        }
        HelperRequest::GetFsinfo => {
            ops::fsinfo::get_fsinfo(&ctx.roots).map(HelperReply::Filesystems)
        }
        HelperRequest::GetDisks => ops::disks::get_disks(&ctx.roots).map(HelperReply::Disks),
    }
}

/// The front splits long lists; a longer one did not come from it.
fn within_limit(len: usize, limit: usize) -> Result<(), QgaError> {
    if len > limit {
        return Err(QgaError::internal(&format!(
            "{len} entries in one request exceed {limit}"
        )));
    }
    Ok(())
}
