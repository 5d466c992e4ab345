//! The policy through the real agent: SIGHUP reloads it on a live host
//! connection (both ways, with guest-info's flags following), an invalid
//! file leaves the old policy in force and is logged, warnings are logged
//! at start, and every decision is one audit event.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tests::{error_of, Agent, Client};

const TIME_ALLOWED: &str = r#"
[allow]
commands = ["guest-ping", "guest-info", "guest-get-time"]
"#;

const STATUS_ALLOWED: &str = r#"
[allow]
commands = ["guest-ping", "guest-info", "guest-fsfreeze-status"]
"#;

/// guest-info's `enabled` flag for one command.
pub fn enabled(host: &mut Client, name: &str) -> bool {
    let info = host.request(r#"{"execute":"guest-info"}"#);
    info["return"]["supported_commands"]
        .as_array()
        .expect("supported_commands")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed"))["enabled"]
        .as_bool()
        .expect("enabled flag")
}

/// Waits until the log holds `needle` at least `count` times.
fn wait_log(agent: &Agent, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if agent.log_text().matches(needle).count() >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("log never had {count} x {needle:?}:\n{}", agent.log_text());
}

/// The front learns of a reload from the helper asynchronously: wait until
/// guest-info shows the new flag on this connection.
fn wait_enabled(host: &mut Client, name: &str, want: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if enabled(host, name) == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{name} never became enabled={want}");
}

fn reload(agent: &Agent, policy: &str, reloads_so_far: usize) {
    std::fs::write(&agent.policy, policy).expect("write policy");
    agent.signal(libc::SIGHUP);
    wait_log(agent, "policy reloaded", reloads_so_far + 1);
}

fn disabled(name: &str) -> (String, String) {
    (
        "CommandNotFound".into(),
        format!("Command {name} has been disabled"),
    )
}

#[test]
fn sighup_swaps_the_policy_on_a_live_connection_both_ways() {
    let agent = Agent::start(TIME_ALLOWED);
    let mut host = agent.connect();
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert_eq!(
        error_of(&host.request(r#"{"execute":"guest-fsfreeze-status"}"#)),
        disabled("guest-fsfreeze-status")
    );
    assert!(enabled(&mut host, "guest-get-time"));
    assert!(!enabled(&mut host, "guest-fsfreeze-status"));

    reload(&agent, STATUS_ALLOWED, 0);
    wait_enabled(&mut host, "guest-fsfreeze-status", true);
    assert!(!enabled(&mut host, "guest-get-time"));
    assert_eq!(
        error_of(&host.request(r#"{"execute":"guest-get-time"}"#)),
        disabled("guest-get-time")
    );
    assert_eq!(
        host.request(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );

    reload(&agent, TIME_ALLOWED, 1);
    wait_enabled(&mut host, "guest-get-time", true);
    assert!(!enabled(&mut host, "guest-fsfreeze-status"));
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert_eq!(
        error_of(&host.request(r#"{"execute":"guest-fsfreeze-status"}"#)),
        disabled("guest-fsfreeze-status")
    );
}

#[test]
fn an_invalid_policy_on_reload_leaves_the_old_one_in_force_and_is_logged() {
    let agent = Agent::start(TIME_ALLOWED);
    let mut host = agent.connect();
    std::fs::write(
        &agent.policy,
        "[allow]\ncommands = [\"guest-ping\", \"guest-get-tiem\"]\n",
    )
    .unwrap();
    agent.signal(libc::SIGHUP);
    wait_log(&agent, "policy reload failed", 1);
    let log = agent.log_text();
    let shown = agent.policy.display().to_string();
    assert!(
        log.contains(&format!(
            "{shown}:2:27: error: unknown command \"guest-get-tiem\" (did you mean \
             \"guest-get-time\"?)"
        )),
        "{log}"
    );
    assert!(log.contains("the previous policy stays in force"), "{log}");
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert!(enabled(&mut host, "guest-get-time"));
    // A later valid file is taken again.
    reload(&agent, STATUS_ALLOWED, 0);
    wait_enabled(&mut host, "guest-get-time", false);
}

#[test]
fn a_file_that_disappears_on_reload_also_keeps_the_old_policy() {
    let agent = Agent::start(TIME_ALLOWED);
    let mut host = agent.connect();
    std::fs::remove_file(&agent.policy).unwrap();
    agent.signal(libc::SIGHUP);
    wait_log(&agent, "policy reload failed", 1);
    assert!(agent.log_text().contains("cannot read policy"));
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
}

#[test]
fn warnings_are_logged_at_start_and_on_reload() {
    let policy = "[allow]\ncommands = [\"guest-ping\"]\n[rules.guest-file-open]\nmodes = [\"r\"]\n";
    let agent = Agent::start(policy);
    wait_log(&agent, "policy warning", 1);
    let log = agent.log_text();
    assert!(
        log.contains("[rules.guest-file-open] never applies: guest-file-open is denied by"),
        "{log}"
    );
    reload(&agent, policy, 0);
    wait_log(&agent, "policy warning", 2);
}

/// The audit lines of the log.
fn audit_lines(agent: &Agent) -> Vec<String> {
    agent
        .log_text()
        .lines()
        .filter(|l| l.contains(" audit: decision "))
        .map(String::from)
        .collect()
}

#[test]
fn every_decision_is_one_audit_event_with_the_rule_and_the_request_id() {
    let agent = Agent::start(TIME_ALLOWED);
    let mut host = agent.connect();
    let shown = agent.policy.display().to_string();
    host.request(r#"{"execute":"guest-ping","id":"p-1"}"#);
    host.request(r#"{"execute":"guest-get-time","id":42}"#);
    host.request(r#"{"execute":"guest-fsfreeze-status","id":{"k":[1]}}"#);
    host.request(r#"{"execute":"guest-frobnicate"}"#);
    let long = "x".repeat(5000);
    host.request(&format!(r#"{{"execute":"guest-ping","id":"{long}"}}"#));
    let deadline = Instant::now() + Duration::from_secs(10);
    while audit_lines(&agent).len() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let lines = audit_lines(&agent);
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let expect = [
        format!(
            r#"side="front" command="guest-ping" id="\"p-1\"" allowed=true rule="allow \"guest-ping\" at {shown}:3:13""#
        ),
        format!(
            r#"side="helper" command="guest-get-time" id="42" allowed=true rule="allow \"guest-get-time\" at {shown}:3:41""#
        ),
        r#"side="front" command="guest-fsfreeze-status" id="{\"k\":[1]}" allowed=false rule="default = \"deny\" (built-in)""#.to_string(),
        r#"side="front" command="guest-frobnicate" allowed=false rule="unknown command""#.to_string(),
    ];
    for (line, want) in lines.iter().zip(&expect) {
        assert!(line.contains(want), "{line}\nlacks\n{want}");
    }
    // A huge id is cut, not copied into the log.
    assert!(lines[4].len() < 400, "{}", lines[4]);
    assert!(lines[4].contains("..."), "{}", lines[4]);
}

#[test]
fn guest_info_lists_every_command_with_the_policy_flags() {
    let agent = Agent::start(TIME_ALLOWED);
    let mut host = agent.connect();
    let info: Value = host.request(r#"{"execute":"guest-info"}"#);
    let on: Vec<&str> = info["return"]["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["enabled"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        on,
        [
            "guest-info",
            "guest-get-time",
            "guest-ping",
            "guest-sync",
            "guest-sync-delimited"
        ]
    );
}
