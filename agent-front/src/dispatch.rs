//! From one parsed request to the bytes of its reply: envelope checks in
//! qemu-ga's order, the command gate (unknown, disabled, frozen), then the
//! command itself (`commands`), and the reply in qemu-ga's format.

use crate::commands;
use crate::json::writer::{qdict_order, write_value};
use crate::json::StreamItem;
use crate::link::{CallError, HelperLink};
use protocol::commands::{self as table, Availability, CommandSpec, Side};
use protocol::error::DisabledReason;
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
    let Some(spec) = table::lookup(request.execute) else {
        audit(request.execute, false, "unknown command", id);
        return Outcome::Reply(error_reply(
            &QgaError::command_not_found(request.execute),
            id,
        ));
    };
    if let Err(e) = gate(spec, link) {
        audit(spec.name, false, &e.desc, id);
        return Outcome::Reply(error_reply(&e, id));
    }
    if spec.side == Side::Front {
        audit(spec.name, true, "policy", id);
    }
    match commands::run(spec.name, request.arguments, link).await {
        Ok(Some(result)) => Outcome::Reply(return_reply(spec, result, id)),
        Ok(None) => Outcome::Reply(Vec::new()),
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

/// Early refusal from the helper's last word on policy and frozen state;
/// the helper checks again for every request it runs.
fn gate(spec: &CommandSpec, link: &HelperLink) -> Result<(), QgaError> {
    if link.state.frozen && !spec.allowed_while_frozen {
        return Err(QgaError::disabled(spec.name, DisabledReason::Frozen));
    }
    if spec.availability != Availability::Available {
        return Err(QgaError::disabled(spec.name, DisabledReason::Unavailable));
    }
    if !enabled(spec, link) {
        return Err(QgaError::disabled(spec.name, DisabledReason::Policy));
    }
    Ok(())
}

/// Whether a command would run now: available, allowed by policy, and not
/// shut out by the frozen state. Also what `guest-info` reports.
pub fn enabled(spec: &CommandSpec, link: &HelperLink) -> bool {
    let index = table::index_of(spec.name);
    let frozen_out = link.state.frozen && !spec.allowed_while_frozen;
    let by_policy = index.and_then(|i| link.state.enabled.get(i).copied()) == Some(true);
    spec.availability == Availability::Available && by_policy && !frozen_out
}

fn audit(command: &str, allowed: bool, reason: &str, id: Option<&Value>) {
    let id = id.map(|v| v.to_string());
    tracing::info!(target: "audit", side = "front", command, allowed, reason, id = id.as_deref());
}

fn return_reply(spec: &CommandSpec, result: Value, id: Option<&Value>) -> Vec<u8> {
    let mut reply = Map::new();
    reply.insert("return".into(), result);
    if let Some(id) = id {
        reply.insert("id".into(), id.clone());
    }
    let mut out = Vec::new();
    if spec.name == "guest-sync-delimited" {
        out.push(0xFF);
    }
    finish(&Value::Object(reply), out)
}

fn error_reply(error: &QgaError, id: Option<&Value>) -> Vec<u8> {
    let mut reply = Map::new();
    reply.insert(
        "error".into(),
        json!({"class": error.class.as_str(), "desc": error.desc}),
    );
    if let Some(id) = id {
        reply.insert("id".into(), id.clone());
    }
    finish(&Value::Object(reply), Vec::new())
}

fn finish(reply: &Value, mut out: Vec<u8>) -> Vec<u8> {
    write_value(reply, &mut out);
    out.push(b'\n');
    out
}
