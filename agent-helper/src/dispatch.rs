//! The helper's request handling: the policy and frozen-state checks sit in
//! front of one `match` over the closed set of requests, and each arm calls
//! one operation. The front is not trusted: everything is checked here again.

use crate::ops;
use crate::system::SystemPaths;
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
    /// What is frozen, the statedir record and the hook.
    pub fsfreeze: ops::fsfreeze::Fsfreeze,
    /// Where operations find programs, sysfs and the account files.
    pub system: SystemPaths,
    /// Open guest-file handles; they outlive any one front.
    pub files: ops::files::FileTable,
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
        HelperRequest::FsfreezeFreeze => ctx
            .fsfreeze
            .freeze(&mut ctx.frozen, None)
            .map(HelperReply::FsfreezeCount),
        HelperRequest::FsfreezeFreezeList(mountpoints) => ctx
            .fsfreeze
            .freeze(&mut ctx.frozen, mountpoints.as_deref())
            .map(HelperReply::FsfreezeCount),
        HelperRequest::FsfreezeThaw => ctx
            .fsfreeze
            .thaw(&mut ctx.frozen)
            .map(HelperReply::FsfreezeCount),
        HelperRequest::Fstrim { minimum } => ops::fstrim::trim(minimum).map(HelperReply::Fstrim),
        HelperRequest::SetUserPassword {
            username,
            password,
            crypted,
        } => ops::password::set_user_password(&ctx.system, &username, &password, crypted)
            .map(|()| HelperReply::PasswordSet),
        HelperRequest::Shutdown(mode) => {
            ops::power::shutdown(&ctx.system, mode).map(|()| HelperReply::PowerActionStarted)
        }
        HelperRequest::Suspend(mode) => {
            ops::power::suspend(&ctx.system, mode).map(|()| HelperReply::PowerActionStarted)
        }
        HelperRequest::SetTime { time_ns } => {
            ops::time::set_time(time_ns).map(|()| HelperReply::Done)
        }
        HelperRequest::FileOpen { path, mode } => {
            ctx.files.open(&path, mode).map(HelperReply::FileHandle)
        }
        HelperRequest::FileClose { handle } => ctx.files.close(handle).map(|()| HelperReply::Done),
        HelperRequest::FileRead { handle, count } => ctx
            .files
            .read(handle, count)
            .map(|(data, eof)| HelperReply::FileData { data, eof }),
        HelperRequest::FileWrite { handle, data } => {
            ctx.files.write(handle, &data).map(HelperReply::FileWritten)
        }
        HelperRequest::FileSeek {
            handle,
            offset,
            whence,
        } => ctx
            .files
            .seek(handle, offset, whence)
            .map(HelperReply::FilePosition),
        HelperRequest::FileFlush { handle } => ctx.files.flush(handle).map(|()| HelperReply::Done),
        HelperRequest::GetVcpus => ops::cpu::get_vcpus(&ctx.system).map(HelperReply::Vcpus),
        HelperRequest::SetVcpus(changes) => {
            within_limit(changes.len(), MAX_VCPUS_PER_REQUEST)?;
            ops::cpu::set_vcpus(&ctx.system, &changes).map(HelperReply::VcpusProcessed)
        }
        HelperRequest::GetMemoryBlocks => {
            ops::memory::get_memory_blocks(&ctx.system).map(HelperReply::MemoryBlocks)
        }
        HelperRequest::SetMemoryBlocks(changes) => {
            within_limit(changes.len(), MAX_MEMORY_BLOCKS_PER_REQUEST)?;
            Ok(HelperReply::MemoryBlockResults(
                ops::memory::set_memory_blocks(&ctx.system, &changes),
            ))
        }
        HelperRequest::GetMemoryBlockInfo => {
            ops::memory::get_memory_block_info(&ctx.system).map(HelperReply::MemoryBlockSize)
        }
        HelperRequest::NetworkGetInterfaces => {
            ops::network::get_interfaces(&ctx.system).map(HelperReply::NetworkInterfaces)
        }
        HelperRequest::GetFsinfo => {
            ops::fsinfo::get_fsinfo(&ctx.system).map(HelperReply::Filesystems)
        }
        HelperRequest::GetDisks => ops::disks::get_disks(&ctx.system).map(HelperReply::Disks),
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
