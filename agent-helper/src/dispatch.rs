//! The helper's request handling: the policy and frozen-state checks sit in
//! front of one `match` over the closed set of requests, and each arm calls
//! one operation. The front is not trusted: everything is checked here again.

use crate::{audit, ops};
use policy::{Policy, PolicyRequest};
use protocol::commands::{self, FROZEN_REFUSAL};
use protocol::error::DisabledReason;
use protocol::internal::{audit_label, HelperReply, HelperRequest};
use protocol::qga::GuestFsfreezeStatus;
use protocol::QgaError;

pub struct Context {
    pub policy: Policy,
    pub frozen: bool,
}

pub fn handle(
    request: HelperRequest,
    id: Option<&str>,
    ctx: &mut Context,
) -> Result<HelperReply, QgaError> {
    let name = request.command_name();
    let spec = commands::lookup(name).ok_or_else(|| QgaError::command_not_found(name))?;
    let id = id.map(audit_label);
    let gate = Gate {
        policy: &ctx.policy,
        id: id.as_deref(),
    };
    let view = policy_view(&request);
    let shut_out = if ctx.frozen && !spec.allowed_while_frozen {
        Some((DisabledReason::Frozen, FROZEN_REFUSAL))
    } else {
        spec.availability
            .refusal()
            .map(|rule| (DisabledReason::Unavailable, rule))
    };
    if let Some((reason, rule)) = shut_out {
        audit::decision(name, gate.id, false, rule, view.audit_arguments());
        return Err(QgaError::disabled(name, reason));
    }
    gate.check(&view)?;
    match request {
        HelperRequest::GetTime => ops::time::get_time().map(HelperReply::Time),
        HelperRequest::FsfreezeStatus => Ok(HelperReply::FsfreezeStatus(if ctx.frozen {
            GuestFsfreezeStatus::Frozen
        } else {
            GuestFsfreezeStatus::Thawed
        })),
    }
}

/// What the policy sees of a request, before the operation runs.
///
/// A request whose arguments carry the risk gets its own view here, with
/// the arguments as the request has them (see the table in the policy
/// crate's documentation), e.g.
/// `HelperRequest::Shutdown { mode } => PolicyRequest::Shutdown { mode: mode.as_str() }`.
/// Checks that need the system's answer (the path a file open really
/// resolved to, the program a PATH search found, each filesystem a
/// freeze-all or fstrim touches) are made again by the operation through
/// its `Gate`. Every other request is `Other`, which the policy refuses for
/// a command that has argument rules: a request added without its view
/// fails closed.
fn policy_view(request: &HelperRequest) -> PolicyRequest<'_> {
    PolicyRequest::Other(request.command_name())
}

/// The policy check with its audit event, for the dispatcher and for
/// operations that must check again once they know more (the resolved
/// path of a file, each mounted filesystem).
pub struct Gate<'a> {
    pub policy: &'a Policy,
    /// The host's request id (JSON text, bounded), for the audit log.
    pub id: Option<&'a str>,
}

impl Gate<'_> {
    /// Decides `request`, records the decision, and turns a refusal into
    /// the host's error: qemu-ga's "has been disabled" when the command
    /// itself is refused (as for its `-b`), a policy denial naming the rule
    /// when only these arguments are.
    pub fn check(&self, request: &PolicyRequest) -> Result<(), QgaError> {
        let name = request.command();
        let decision = self.policy.decide(request);
        audit::decision(
            name,
            self.id,
            decision.allowed,
            &decision.rule,
            request.audit_arguments(),
        );
        if decision.allowed {
            Ok(())
        } else if !self.policy.decide_command(name).allowed {
            Err(QgaError::disabled(name, DisabledReason::Policy))
        } else {
            Err(QgaError::denied_by_policy(name, &decision.rule))
        }
    }
}
