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
        HelperRequest::GetHostName => ops::sysinfo::host_name().map(HelperReply::HostName),
        HelperRequest::GetUsers => ops::users::users().map(HelperReply::Users),
        HelperRequest::GetTimezone => ops::timezone::timezone().map(HelperReply::Timezone),
        HelperRequest::GetOsInfo => {
            ops::sysinfo::os_info().map(|i| HelperReply::OsInfo(Box::new(i)))
        }
        HelperRequest::SshGetAuthorizedKeys { user } => {
            ops::ssh_keys::get(&user).map(HelperReply::AuthorizedKeys)
        }
        HelperRequest::SshAddAuthorizedKeys { user, keys, reset } => {
            ops::ssh_keys::add(&user, &keys, reset).map(|()| HelperReply::AuthorizedKeysUpdated)
        }
        HelperRequest::SshRemoveAuthorizedKeys { user, keys } => {
            ops::ssh_keys::remove(&user, &keys).map(|()| HelperReply::AuthorizedKeysUpdated)
        }
        HelperRequest::GetDiskstats => ops::stats::diskstats().map(HelperReply::Diskstats),
        HelperRequest::GetCpustats => ops::stats::cpustats().map(HelperReply::Cpustats),
        HelperRequest::GetLoad => ops::stats::load().map(HelperReply::Load),
        HelperRequest::NetworkGetRoute => ops::routes::routes().map(HelperReply::Routes),
    }
}
