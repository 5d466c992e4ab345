//! `--explain FILE 'REQUEST'`: the decision the policy takes for one host
//! request, and the rule that takes it, without starting the agent.
//! Paths are resolved lexically here (`.` and `..` removed, symlinks not
//! followed): the agent itself judges the path it really opens. Exit 0 if
//! allowed, 2 if refused, 1 if the policy or the request is invalid.

use crate::cli::PolicyQuery;
use crate::policy_source::PolicySource;
use policy::path_glob::normalize_lexically;
use policy::PolicyRequest;
use protocol::commands;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const LEXICAL_NOTE: &str = "resolved lexically: . and .. removed, symlinks not followed; the \
                            agent judges the path it really opens";

pub fn run(query: PolicyQuery, request: &str) -> ExitCode {
    let (shown, source) = PolicySource::for_query(query);
    let policy = match source.load() {
        Ok(p) => p,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("{shown}: invalid");
            return ExitCode::from(1);
        }
    };
    let (name, arguments) = match envelope(request) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("agent-helper: invalid request: {e}");
            return ExitCode::from(1);
        }
    };
    println!("policy: {shown}");
    println!("command: {name}");
    let Some(spec) = commands::lookup(&name) else {
        println!("decision: refused");
        println!("rule: unknown command (qemu-ga: The command {name} has not been found)");
        return ExitCode::from(2);
    };
    let owned = match Arguments::read(spec.name, &arguments) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("agent-helper: invalid arguments for {name}: {e}");
            return ExitCode::from(1);
        }
    };
    for line in &owned.notes {
        println!("{line}");
    }
    let decision = policy.decide(&owned.view(spec.name));
    println!(
        "decision: {}",
        if decision.allowed {
            "allowed"
        } else {
            "refused"
        }
    );
    println!("rule: {}", decision.rule);
    if let Some(why) = spec.availability.refusal() {
        println!("note: {name} is {why}: the agent refuses it whatever the policy says");
    }
    if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// `execute` and `arguments` of a request.
fn envelope(request: &str) -> Result<(String, Map<String, Value>), String> {
    let value: Value = serde_json::from_str(request).map_err(|e| e.to_string())?;
    let Value::Object(mut object) = value else {
        return Err("expected a JSON object like {\"execute\": \"guest-ping\"}".into());
    };
    let name = match object.remove("execute") {
        Some(Value::String(name)) => name,
        Some(_) => return Err("'execute' must be a string".into()),
        None => return Err("the request lacks 'execute'".into()),
    };
    let arguments = match object.remove("arguments") {
        None => Map::new(),
        Some(Value::Object(a)) => a,
        Some(_) => return Err("'arguments' must be an object".into()),
    };
    Ok((name, arguments))
}

/// The arguments the policy looks at, owned, with what to print about them.
#[derive(Default)]
struct Arguments {
    path: Option<PathBuf>,
    mode: Option<String>,
    user: Option<String>,
    crypted: bool,
    mountpoints: Vec<PathBuf>,
    offlining: bool,
    online_after: u32,
    notes: Vec<String>,
}

impl Arguments {
    fn read(command: &str, args: &Map<String, Value>) -> Result<Arguments, String> {
        let mut a = Arguments::default();
        match command {
            "guest-file-open" => {
                let path = string(args, "path")?.ok_or("'path' is missing")?;
                let mode = string(args, "mode")?.unwrap_or_else(|| "r".into());
                let resolved = normalize_lexically(Path::new(&path));
                a.notes
                    .push(format!("path: {path:?} -> {resolved:?} ({LEXICAL_NOTE})"));
                a.notes.push(format!("mode: {mode:?}"));
                a.path = Some(resolved);
                a.mode = Some(mode);
            }
            "guest-set-user-password" => {
                let user = string(args, "username")?.ok_or("'username' is missing")?;
                a.crypted = matches!(args.get("crypted"), Some(Value::Bool(true)));
                a.notes
                    .push(format!("user: {user:?}, crypted: {}", a.crypted));
                a.user = Some(user);
            }
            "guest-ssh-get-authorized-keys"
            | "guest-ssh-add-authorized-keys"
            | "guest-ssh-remove-authorized-keys" => {
                let user = string(args, "username")?.ok_or("'username' is missing")?;
                a.notes.push(format!("user: {user:?}"));
                a.user = Some(user);
            }
            "guest-fsfreeze-freeze-list" if args.contains_key("mountpoints") => {
                let Some(Value::Array(list)) = args.get("mountpoints") else {
                    return Err("'mountpoints' must be an array of strings".into());
                };
                for m in list {
                    let m = m
                        .as_str()
                        .ok_or("'mountpoints' must be an array of strings")?;
                    a.mountpoints.push(normalize_lexically(Path::new(m)));
                }
                a.notes
                    .push(format!("mountpoints: {:?} ({LEXICAL_NOTE})", a.mountpoints));
            }
            "guest-fsfreeze-freeze" | "guest-fsfreeze-freeze-list" | "guest-fstrim" => {
                a.notes.push(
                    "mountpoints: every mounted filesystem; the agent checks each against \
                     the rules when it runs the request, and skips the ones they refuse"
                        .into(),
                );
            }
            "guest-set-vcpus" => {
                let Some(Value::Array(vcpus)) = args.get("vcpus") else {
                    return Err("'vcpus' is missing or not an array".into());
                };
                let mut wanted = Vec::new();
                for v in vcpus {
                    let id = v.get("logical-id").and_then(Value::as_u64);
                    let online = v.get("online").and_then(Value::as_bool);
                    let (Some(id), Some(online)) = (id, online) else {
                        return Err("each vCPU needs 'logical-id' and 'online'".into());
                    };
                    wanted.push((id, online));
                }
                a.offlining = wanted.iter().any(|(_, online)| !online);
                let now = online_cpus();
                let mut after = now.clone();
                for (id, online) in &wanted {
                    after.retain(|c| c != id);
                    if *online {
                        after.push(*id);
                    }
                }
                a.online_after = after.len() as u32;
                a.notes.push(format!(
                    "vcpus: {} online now, {} after the request (counted from this machine's \
                     /sys/devices/system/cpu), offlining: {}",
                    now.len(),
                    a.online_after,
                    a.offlining
                ));
            }
            "guest-set-memory-blocks" => {
                let Some(Value::Array(blocks)) = args.get("mem-blks") else {
                    return Err("'mem-blks' is missing or not an array".into());
                };
                a.offlining = blocks
                    .iter()
                    .any(|b| b.get("online").and_then(Value::as_bool) == Some(false));
                a.notes.push(format!("offlining: {}", a.offlining));
            }
            "guest-shutdown" => {
                let mode = string(args, "mode")?.unwrap_or_else(|| "powerdown".into());
                a.notes.push(format!("mode: {mode:?}"));
                a.mode = Some(mode);
            }
            "guest-exec" => {
                let given = string(args, "path")?.ok_or("'path' is missing")?;
                // The agent's own lookup, on this machine.
                let program = match crate::ops::exec::resolve_program(&given) {
                    Ok(found) => {
                        a.notes.push(format!(
                            "program: {given:?} -> {found:?} (found through the search path if \
                             it has no /, symlinks followed, as the agent finds it on this machine)"
                        ));
                        found
                    }
                    Err((lexical, errno)) => {
                        a.notes.push(format!(
                            "program: {given:?} -> {lexical:?} (not found on this machine: {}; \
                             {LEXICAL_NOTE})",
                            errno.desc()
                        ));
                        lexical
                    }
                };
                a.path = Some(program);
            }
            _ => {}
        }
        Ok(a)
    }

    fn view<'a>(&'a self, command: &'a str) -> PolicyRequest<'a> {
        let path = self.path.as_deref().unwrap_or(Path::new(""));
        let mode = self.mode.as_deref().unwrap_or("");
        match command {
            "guest-file-open" => PolicyRequest::FileOpen { path, mode },
            "guest-set-user-password" => PolicyRequest::SetUserPassword {
                user: self.user.as_deref().unwrap_or(""),
                crypted: self.crypted,
            },
            "guest-ssh-get-authorized-keys"
            | "guest-ssh-add-authorized-keys"
            | "guest-ssh-remove-authorized-keys" => PolicyRequest::SshKeys {
                command,
                user: self.user.as_deref().unwrap_or(""),
            },
            "guest-fsfreeze-freeze" | "guest-fsfreeze-freeze-list" | "guest-fstrim" => {
                PolicyRequest::Mountpoints {
                    command,
                    mountpoints: self.mountpoints.iter().map(PathBuf::as_path).collect(),
                }
            }
            "guest-set-vcpus" => PolicyRequest::SetVcpus {
                offlining: self.offlining,
                online_after: self.online_after,
            },
            "guest-set-memory-blocks" => PolicyRequest::SetMemoryBlocks {
                offlining: self.offlining,
            },
            "guest-shutdown" => PolicyRequest::Shutdown { mode },
            "guest-exec" => PolicyRequest::Exec { path },
            other => PolicyRequest::Other(other),
        }
    }
}

fn string(args: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match args.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("'{key}' must be a string")),
    }
}

/// The logical ids of the online CPUs (cpu0 often has no `online` file: it
/// cannot go offline).
fn online_cpus() -> Vec<u64> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/sys/devices/system/cpu") else {
        return out;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cpu"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let online =
            std::fs::read_to_string(entry.path().join("online")).map_or(true, |s| s.trim() == "1");
        if online {
            out.push(id);
        }
    }
    out
}
