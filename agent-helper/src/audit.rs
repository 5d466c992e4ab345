//! The helper's audit log: one event per decision, target "audit", in the
//! format docs/policy.md describes (the front's events share it). Values
//! are written quoted and escaped, so nothing the host sends can forge a
//! line. No password and no file content is ever part of an event.

use policy::AuditArguments;
use tracing::field::debug as quoted;

/// Records one decision of the helper.
pub fn decision(
    command: &str,
    id: Option<&str>,
    allowed: bool,
    rule: &str,
    arguments: AuditArguments<'_>,
) {
    let AuditArguments {
        path,
        mode,
        user,
        crypted,
        mountpoints,
        offlining,
        online_after,
        program,
    } = arguments;
    tracing::info!(
        target: "audit",
        side = "helper",
        command,
        id,
        allowed,
        rule,
        path = path.map(quoted),
        mode,
        user,
        crypted,
        mountpoints = mountpoints.map(quoted),
        offlining,
        online_after,
        program = program.map(quoted),
        "decision"
    );
}
