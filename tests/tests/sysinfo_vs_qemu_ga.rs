//! The same system-information requests to Debian's qemu-ga and to this
//! agent on this machine, results compared field by field. Only requests
//! that cannot change the machine are sent: set requests name CPUs and
//! memory blocks that do not exist, or ask for the state they already have.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use tests::qemu_ga::QemuGa;
use tests::{Agent, Client};

const POLICY: &str = r#"default = "allow""#;

struct Both {
    reference: Client,
    ours: Client,
    _qemu_ga: QemuGa,
    _agent: Agent,
}

impl Both {
    fn start() -> Both {
        let agent = Agent::start(POLICY);
        let qemu_ga = QemuGa::start(&[]);
        Both {
            reference: qemu_ga.connect(),
            ours: agent.connect(),
            _qemu_ga: qemu_ga,
            _agent: agent,
        }
    }

    fn ask(&mut self, request: &str) -> (Value, Value) {
        (self.reference.request(request), self.ours.request(request))
    }

    /// Asks until both answers list the same values of `field`, one per
    /// element of the result (mounts, loop devices and interfaces of other
    /// tests can come and go between the two requests).
    fn ask_stable(&mut self, request: &str, field: &str) -> (Value, Value) {
        let key_of = |reply: &Value| values_of(result(reply), field);
        let mut last = self.ask(request);
        for _ in 0..5 {
            if key_of(&last.0) == key_of(&last.1) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            last = self.ask(request);
        }
        last
    }
}

fn result(reply: &Value) -> &Value {
    reply
        .get("return")
        .unwrap_or_else(|| panic!("expected a result, got {reply}"))
}

/// `field` of each element of a list.
fn values_of(list: &Value, field: &str) -> Vec<Value> {
    list.as_array()
        .map(|a| a.iter().map(|e| e[field].clone()).collect())
        .unwrap_or_default()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn vcpus_and_memory_blocks_are_identical() {
    let mut both = Both::start();
    for command in [
        "guest-get-vcpus",
        "guest-get-memory-block-info",
        "guest-get-memory-blocks",
    ] {
        let (reference, ours) = both.ask(&format!(r#"{{"execute":"{command}"}}"#));
        assert_eq!(ours, reference, "{command}");
    }
}

#[test]
fn set_requests_that_change_nothing_answer_alike() {
    let mut both = Both::start();
    let (vcpus, _) = both.ask(r#"{"execute":"guest-get-vcpus"}"#);
    let online: Vec<Value> = result(&vcpus)
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["online"] == true)
        .map(|v| json!({"logical-id": v["logical-id"], "online": true}))
        .collect();
    let (blocks, _) = both.ask(r#"{"execute":"guest-get-memory-blocks"}"#);
    let online_block = result(&blocks)
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["online"] == true)
        .map(|b| b["phys-index"].clone())
        .expect("an online memory block");
    let missing_cpu = json!({"logical-id": 4095, "online": true});
    let requests = [
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": online}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [online[0], missing_cpu, online[0]]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [missing_cpu]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": -1, "online": true}]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": []}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": "x", "online": true}]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 18446744073709551615u64, "online": true}]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 1, "online": 1}]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 1, "online": true, "can-offline": 3}]}}),
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": [{"logical-id": 1, "online": true, "x": 0}]}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [
            {"phys-index": online_block, "online": true},
            {"phys-index": 1000000, "online": true},
            {"phys-index": 1000000, "online": false},
            {"phys-index": -1, "online": false}]}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": []}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [{"phys-index": 1}]}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [{"phys-index": 1.5, "online": true}]}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": [{"phys-index": "x", "online": true}]}}),
        json!({"execute": "guest-set-memory-blocks", "arguments": {"mem-blks": {}}}),
        json!({"execute": "guest-get-memory-block-info", "arguments": {"size": 1}}),
        json!({"execute": "guest-network-get-interfaces", "arguments": {"x": 1}}),
        json!({"execute": "guest-get-vcpus", "arguments": {"x": 1}}),
    ];
    for request in requests {
        let request = request.to_string();
        let (reference, ours) = both.ask(&request);
        assert_eq!(ours, reference, "{request}");
    }
}

#[test]
fn network_interfaces_match_except_moving_counters() {
    let mut both = Both::start();
    let (reference, ours) =
        both.ask_stable(r#"{"execute":"guest-network-get-interfaces"}"#, "name");
    let (reference, ours) = (result(&reference), result(&ours));
    assert_eq!(values_of(ours, "name"), values_of(reference, "name"));
    for (r, o) in reference
        .as_array()
        .unwrap()
        .iter()
        .zip(ours.as_array().unwrap())
    {
        assert_eq!(keys(o), keys(r), "{o} vs {r}");
        assert_eq!(
            o["hardware-address"], r["hardware-address"],
            "{}",
            r["name"]
        );
        assert_eq!(o["ip-addresses"], r["ip-addresses"], "{}", r["name"]);
        assert_eq!(
            keys(&o["statistics"]),
            keys(&r["statistics"]),
            "{}",
            r["name"]
        );
    }
}

#[test]
fn filesystems_match_except_moving_usage() {
    let mut both = Both::start();
    let (reference, ours) = both.ask_stable(r#"{"execute":"guest-get-fsinfo"}"#, "mountpoint");
    let (reference, ours) = (result(&reference), result(&ours));
    assert_eq!(
        ours.as_array().unwrap().len(),
        reference.as_array().unwrap().len()
    );
    for (r, o) in reference
        .as_array()
        .unwrap()
        .iter()
        .zip(ours.as_array().unwrap())
    {
        assert_eq!(keys(o), keys(r), "{o} vs {r}");
        for field in ["name", "mountpoint", "type", "disk", "total-bytes"] {
            assert_eq!(o[field], r[field], "{field} of {}", r["mountpoint"]);
        }
    }
}

#[test]
fn disks_are_identical() {
    let mut both = Both::start();
    let (reference, ours) = both.ask_stable(r#"{"execute":"guest-get-disks"}"#, "name");
    assert_eq!(ours, reference);
}
