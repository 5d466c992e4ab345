//! A host talking qemu-ga's protocol to the real two-process agent on a unix
//! socket.

use serde_json::json;
use std::time::Duration;
use tests::{error_of, Agent};

const POLICY: &str = r#"
default = "deny"
[allow]
commands = ["guest-ping", "guest-info", "guest-get-time", "guest-fsfreeze-status"]
"#;

#[test]
fn ping_sync_and_a_command_through_the_helper() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    assert_eq!(
        host.request(r#"{"execute":"guest-sync","arguments":{"id":1234567890123}}"#),
        json!({"return": 1234567890123i64})
    );
    let reply = host.request(r#"{"execute":"guest-get-time","id":"t1"}"#);
    assert_eq!(reply["id"], "t1");
    let ns = reply["return"].as_i64().expect("time is an integer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!((now - ns).abs() < 10_000_000_000, "{ns} vs {now}");
    assert_eq!(ns % 1000, 0, "qemu-ga counts whole microseconds");
    assert_eq!(
        host.request(r#"{"execute":"guest-fsfreeze-status"}"#),
        json!({"return": "thawed"})
    );
}

#[test]
fn sync_delimited_puts_the_sentinel_first_and_0xff_resets_the_parser() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    // Half a request, then the sentinel: the half is dropped with one error.
    host.send(b"{\"execute\":\"guest-pi");
    host.send(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}");
    let (class, desc) = error_of(&host.recv_json());
    assert_eq!(class, "GenericError");
    assert!(desc.starts_with("JSON parse error, stray '"), "{desc}");
    let line = host.recv_line();
    assert_eq!(line[0], 0xFF, "sentinel byte first");
    assert_eq!(&line[1..], br#"{"return": 42}"#);
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
}

#[test]
fn guest_info_lists_every_command_with_enabled_per_policy() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let info = host.request(r#"{"execute":"guest-info"}"#);
    assert_eq!(info["return"]["version"], protocol::QGA_COMPAT_VERSION);
    let listed = info["return"]["supported_commands"].as_array().unwrap();
    assert_eq!(listed.len(), protocol::COMMANDS.len());
    // qemu-ga lists in reverse registration order; the newest commands
    // (after 7.2's last, guest-get-cpustats) come first.
    assert_eq!(listed[0]["name"], "guest-network-get-route");
    assert_eq!(listed.last().unwrap()["name"], "guest-sync-delimited");
    for entry in listed {
        let name = entry["name"].as_str().unwrap();
        let want = matches!(
            name,
            "guest-ping"
                | "guest-info"
                | "guest-get-time"
                | "guest-fsfreeze-status"
                | "guest-sync"
                | "guest-sync-delimited"
        );
        assert_eq!(entry["enabled"], want, "{name}");
        let silent = matches!(
            name,
            "guest-shutdown" | "guest-suspend-disk" | "guest-suspend-ram" | "guest-suspend-hybrid"
        );
        assert_eq!(entry["success-response"], !silent, "{name}");
    }
}

#[test]
fn errors_keep_the_connection_open() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"execute":"guest-shutdown"}"#,
            "CommandNotFound",
            "Command guest-shutdown has been disabled",
        ),
        (
            r#"{"execute":"guest-nope"}"#,
            "CommandNotFound",
            "The command guest-nope has not been found",
        ),
        (
            r#"{"execute":"guest-sync"}"#,
            "GenericError",
            "Parameter 'id' is missing",
        ),
        (
            r#"{"execute":"guest-sync","arguments":{"id":"x"}}"#,
            "GenericError",
            "Invalid parameter type for 'id', expected: integer",
        ),
        (
            r#"{"execute":"guest-ping","arguments":{"x":1}}"#,
            "GenericError",
            "Parameter 'x' is unexpected",
        ),
        (
            r#"{"arguments":{}}"#,
            "GenericError",
            "QMP input lacks member 'execute'",
        ),
        (
            r#"{"execute":1}"#,
            "GenericError",
            "QMP input member 'execute' must be a string",
        ),
        (
            r#"{"execute":"guest-ping","foo":1}"#,
            "GenericError",
            "QMP input member 'foo' is unexpected",
        ),
        (
            r#"[1,2]"#,
            "GenericError",
            "QMP input must be a JSON object",
        ),
        (
            r#"{"execute" "guest-ping"}"#,
            "GenericError",
            "JSON parse error, missing : in object pair",
        ),
        (
            r#"{"execute":"guest-ping",}"#,
            "GenericError",
            "JSON parse error, expecting value",
        ),
    ];
    for (request, class, desc) in cases {
        let reply = host.request(request);
        assert_eq!(
            error_of(&reply),
            (class.to_string(), desc.to_string()),
            "{request}"
        );
        assert_eq!(
            host.request(r#"{"execute":"guest-ping"}"#),
            json!({"return": {}})
        );
    }
}

#[test]
fn id_is_echoed_on_success_and_on_errors_after_parsing() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    for id in [
        json!("abc"),
        json!(7),
        json!(null),
        json!({"k": [1]}),
        json!([1, "x"]),
    ] {
        let request = json!({"execute": "guest-ping", "id": id}).to_string();
        assert_eq!(host.request(&request), json!({"return": {}, "id": id}));
        let request = json!({"execute": "guest-nope", "id": id}).to_string();
        assert_eq!(host.request(&request)["id"], id);
    }
    let reply = host.request(r#"{"id":"m"}"#);
    assert_eq!(reply["id"], "m");
    assert_eq!(error_of(&reply).1, "QMP input lacks member 'execute'");
}

#[test]
fn stream_framing_several_per_write_split_writes_and_blank_input() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    host.send(b"{\"execute\":\"guest-ping\",\"id\":1}{\"execute\":\"guest-ping\",\"id\":2}\n \r\n");
    assert_eq!(host.recv_json()["id"], 1);
    assert_eq!(host.recv_json()["id"], 2);
    for b in br#"{"execute": "guest-ping", "id": 3}"# {
        host.send(&[*b]);
    }
    assert_eq!(host.recv_json()["id"], 3);
    host.send(b"\n\n   \t\n");
    assert!(
        !host.has_output_within(Duration::from_millis(300)),
        "whitespace gets no reply"
    );
}

#[test]
fn output_is_qemu_ga_formatted() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    host.send(br#"{"execute":"guest-ping","id":"caf\u00e9"}"#);
    assert_eq!(host.recv_line(), br#"{"return": {}, "id": "caf\u00E9"}"#);
    host.send(br#"{'execute':'guest-nope'}"#);
    assert_eq!(
        host.recv_line(),
        br#"{"error": {"class": "CommandNotFound", "desc": "The command guest-nope has not been found"}}"#
    );
}

#[test]
fn reconnecting_host_gets_a_working_agent_and_a_clean_parser() {
    let agent = Agent::start(POLICY);
    {
        let mut host = agent.connect();
        assert_eq!(
            host.request(r#"{"execute":"guest-ping"}"#),
            json!({"return": {}})
        );
        host.send(b"{\"execute\":\"guest-pi"); // left half-sent
    }
    for _ in 0..3 {
        let mut host = agent.connect();
        assert_eq!(
            host.request(r#"{"execute":"guest-ping"}"#),
            json!({"return": {}})
        );
    }
}

#[test]
fn second_client_waits_until_the_first_leaves() {
    let agent = Agent::start(POLICY);
    let mut first = agent.connect();
    assert_eq!(
        first.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    let mut second = agent.connect();
    second.send(br#"{"execute":"guest-ping","id":2}"#);
    assert!(
        !second.has_output_within(Duration::from_millis(300)),
        "served one at a time"
    );
    drop(first);
    assert_eq!(second.recv_json(), json!({"return": {}, "id": 2}));
}
