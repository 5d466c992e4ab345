//! The helper's request handling: the policy and frozen-state checks sit in
//! front of one `match` over the closed set of requests, and each arm calls
//! one operation. The front is not trusted: everything is checked here again.

use crate::ops;
use policy::Policy;
use protocol::commands::{self, Availability};
use protocol::error::DisabledReason;
use protocol::internal::{HelperReply, HelperRequest};
use protocol::qga::GuestFsfreezeStatus;
use protocol::QgaError;

pub struct Context {
    pub policy: Policy,
    pub frozen: bool,
    /// What is frozen, the statedir record and the hook.
    pub fsfreeze: ops::fsfreeze::Fsfreeze,
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
    }
}
