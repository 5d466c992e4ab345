//! From one parsed request to the bytes of its reply: envelope checks in
//! qemu-ga's order, the command gate (unknown, disabled, frozen), then the
//! command itself (`commands`), and the reply in qemu-ga's format.

use crate::commands;
use crate::commands::Output;
use crate::json::writer::{
    qdict_order, size_hint, write_file_read_result, write_members, write_value, Member,
};
use crate::json::StreamItem;
use crate::link::{CallError, HelperLink};
use protocol::commands::{self as table, Availability, CommandSpec, Side};
use protocol::error::DisabledReason;
use protocol::internal::audit_label;
use protocol::QgaError;
use serde_json::{json, Map, Value};

/// What a request produced.
pub enum Outcome {
    /// Bytes to send to the host (possibly none, for commands without a
    /// success response).
    Reply(Vec<u8>),
    /// The helper link failed: the front must exit so a fresh one starts.
    LinkLost(std::io::Error),
}

struct Request<'a> {
    execute: &'a str,
    arguments: Option<&'a Map<String, Value>>,
}

pub async fn handle(item: StreamItem, link: &mut HelperLink) -> Outcome {
    let value = match item {
        StreamItem::Error(e) => return Outcome::Reply(error_reply(&e, None)),
        StreamItem::Value(v) => v,
    };
    let Value::Object(object) = &value else {
        return Outcome::Reply(error_reply(&QgaError::input_not_object(), None));
    };
    let id = object.get("id");
    let request = match envelope(object) {
        Ok(r) => r,
        Err(e) => return Outcome::Reply(error_reply(&e, id)),
    };
    let audit_id = id.map(|v| audit_label(&v.to_string()));
    let Some(spec) = table::lookup(request.execute) else {
        let name = audit_label(request.execute);
        audit(&name, audit_id.as_deref(), false, "unknown command");
        return Outcome::Reply(error_reply(
            &QgaError::command_not_found(request.execute),
            id,
        ));
    };
    if let Err((e, rule)) = gate(spec, link) {
        audit(spec.name, audit_id.as_deref(), false, &rule);
        return Outcome::Reply(error_reply(&e, id));
    }
    // The helper audits the commands it runs, with the rule that decided.
    if spec.side == Side::Front {
        audit(
            spec.name,
            audit_id.as_deref(),
            true,
            policy_rule(spec, link),
        );
    }
    link.request_id = audit_id;
    let outcome = commands::run(spec.name, request.arguments, link).await;
    link.request_id = None;
    match outcome {
        Ok(Output::Json(Some(result))) => Outcome::Reply(return_reply(
            spec,
            &|out| write_value(&result, out),
            size_hint(&result),
            id,
        )),
        Ok(Output::Json(None)) => Outcome::Reply(Vec::new()),
        Ok(Output::FileRead { data, eof }) => Outcome::Reply(return_reply(
            spec,
            &|out| write_file_read_result(&data, eof, out),
            data.len() / 3 * 4 + FILE_READ_RESULT_FRAME_BYTES,
            id,
        )),
        Err(CallError::Request(e)) => Outcome::Reply(error_reply(&e, id)),
        Err(CallError::Link(e)) => Outcome::LinkLost(e),
    }
}

/// The top-level members, checked in the order qemu-ga visits them.
fn envelope(object: &Map<String, Value>) -> Result<Request<'_>, QgaError> {
    let mut execute = None;
    let mut arguments = None;
    for (key, value) in qdict_order(object) {
        match key.as_str() {
            "execute" => match value {
                Value::String(s) => execute = Some(s.as_str()),
                _ => return Err(QgaError::input_member_wrong_type("execute", "a string")),
            },
            "arguments" => match value {
                Value::Object(m) => arguments = Some(m),
                _ => return Err(QgaError::input_member_wrong_type("arguments", "an object")),
            },
            "id" => {}
            other => return Err(QgaError::input_member_unexpected(other)),
        }
    }
    let execute = execute.ok_or_else(QgaError::input_lacks_execute)?;
    Ok(Request { execute, arguments })
}

/// Early refusal from the helper's last word on policy and frozen state,
/// with the rule for the audit log; the helper checks again for every
/// request it runs.
fn gate(spec: &CommandSpec, link: &HelperLink) -> Result<(), (QgaError, String)> {
    if link.state.frozen && !spec.allowed_while_frozen {
        return Err((
            QgaError::disabled(spec.name, DisabledReason::Frozen),
            table::FROZEN_REFUSAL.into(),
        ));
    }
    if let Some(rule) = spec.availability.refusal() {
        return Err((
            QgaError::disabled(spec.name, DisabledReason::Unavailable),
            rule.into(),
        ));
    }
    if !enabled(spec, link) {
        return Err((
            QgaError::disabled(spec.name, DisabledReason::Policy),
            policy_rule(spec, link).into(),
        ));
    }
    Ok(())
}

/// The policy rule that enables or disables a command, as the helper sent it.
fn policy_rule<'a>(spec: &CommandSpec, link: &'a HelperLink) -> &'a str {
    table::index_of(spec.name)
        .and_then(|i| link.state.rules.get(i))
        .map_or("policy", String::as_str)
}

/// Whether a command would run now: available, allowed by policy, and not
/// shut out by the frozen state. Also what `guest-info` reports.
pub fn enabled(spec: &CommandSpec, link: &HelperLink) -> bool {
    let index = table::index_of(spec.name);
    let frozen_out = link.state.frozen && !spec.allowed_while_frozen;
    let by_policy = index.and_then(|i| link.state.enabled.get(i).copied()) == Some(true);
    spec.availability == Availability::Available && by_policy && !frozen_out
}

/// One audit event per decision the front takes; the format is the
/// helper's (docs/policy.md, "Audit log").
fn audit(command: &str, id: Option<&str>, allowed: bool, rule: &str) {
    tracing::info!(target: "audit", side = "front", command, id, allowed, rule, "decision");
}

/// About what a guest-file-read result prints besides its base64.
const FILE_READ_RESULT_FRAME_BYTES: usize = 64;

/// `{"return": ..., "id": ...}`, the result printed by `result`.
fn return_reply(
    spec: &CommandSpec,
    result: &dyn Fn(&mut Vec<u8>),
    result_size: usize,
    id: Option<&Value>,
) -> Vec<u8> {
    let delimited = spec.name == "guest-sync-delimited";
    reply("return", result, result_size, id, delimited)
}

fn error_reply(error: &QgaError, id: Option<&Value>) -> Vec<u8> {
    let body = json!({"class": error.class.as_str(), "desc": error.desc});
    reply(
        "error",
        &|out| write_value(&body, out),
        size_hint(&body),
        id,
        false,
    )
}

/// `{"<kind>": ..., "id": ...}` and a newline (after qemu-ga's 0xFF
/// sentinel when `delimited`), the body printed by `body` into an output
/// sized once for about `body_size` bytes of it.
fn reply(
    kind: &str,
    body: &dyn Fn(&mut Vec<u8>),
    body_size: usize,
    id: Option<&Value>,
    delimited: bool,
) -> Vec<u8> {
    let id_size = id.map_or(0, size_hint);
    let mut out = Vec::with_capacity(body_size + id_size + 32);
    if delimited {
        out.push(0xFF);
    }
    let print_id = |out: &mut Vec<u8>| {
        if let Some(id) = id {
            write_value(id, out);
        }
    };
    let members: &[Member] = if id.is_some() {
        &[(kind, body), ("id", &print_id)]
    } else {
        &[(kind, body)]
    };
    write_members(members, &mut out);
    out.push(b'\n');
    out
}
