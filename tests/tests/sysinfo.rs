//! vCPUs, memory blocks, network interfaces, filesystems and disks through
//! the real agent. The read-only commands run on this machine's real /sys
//! and /proc and are checked against them. The set commands run on a sysfs
//! fixture tree (`--sysfs-root`): offlining CPUs or memory of the shared
//! build machine is neither possible in its VM nor safe; the same code
//! changes real CPUs and memory blocks in the test guest.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use tests::{error_of, Agent, AgentOptions, TempDir};

const POLICY: &str = r#"default = "allow""#;

fn agent_with_sysfs(root: &Path) -> Agent {
    Agent::start_with(AgentOptions {
        policy: POLICY,
        extra_args: vec!["--sysfs-root".into(), root.display().to_string()],
    })
}

fn ok(reply: Value) -> Value {
    match reply.get("return") {
        Some(v) => v.clone(),
        None => panic!("expected a result, got {reply}"),
    }
}

#[test]
fn vcpus_are_those_of_sysfs_in_directory_order() {
    let agent = Agent::start(POLICY);
    let vcpus = ok(agent.connect().request(r#"{"execute":"guest-get-vcpus"}"#));
    let mut expected = Vec::new();
    for entry in std::fs::read_dir("/sys/devices/system/cpu")
        .unwrap()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("cpu").and_then(|n| n.parse::<i64>().ok()) else {
            continue;
        };
        let (online, can_offline) = match std::fs::read_to_string(entry.path().join("online")) {
            Ok(state) => (state.trim() != "0", true),
            Err(_) => (true, false),
        };
        expected.push(json!({"logical-id": id, "online": online, "can-offline": can_offline}));
    }
    assert!(!expected.is_empty());
    assert_eq!(vcpus, Value::Array(expected));
}

#[test]
fn memory_block_size_and_blocks_are_those_of_sysfs() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let memory = Path::new("/sys/devices/system/memory");
    let hex = std::fs::read_to_string(memory.join("block_size_bytes")).unwrap();
    let size = u64::from_str_radix(hex.trim(), 16).unwrap();
    assert_eq!(
        ok(host.request(r#"{"execute":"guest-get-memory-block-info"}"#)),
        json!({ "size": size })
    );
    let blocks = ok(host.request(r#"{"execute":"guest-get-memory-blocks"}"#));
    let listed: BTreeSet<u64> = blocks
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["phys-index"].as_u64().unwrap())
        .collect();
    let in_sysfs: BTreeSet<u64> = std::fs::read_dir(memory)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("memory")?.parse().ok())
        .collect();
    assert_eq!(listed, in_sysfs);
    for block in blocks.as_array().unwrap() {
        let dir = memory.join(format!("memory{}", block["phys-index"]));
        let state = std::fs::read_to_string(dir.join("state")).unwrap();
        assert_eq!(
            block["online"],
            json!(state.starts_with("online")),
            "{block}"
        );
        assert!(block["can-offline"].is_boolean());
    }
}

#[test]
fn loopback_is_listed_as_qemu_ga_lists_it() {
    let agent = Agent::start(POLICY);
    let interfaces = ok(agent
        .connect()
        .request(r#"{"execute":"guest-network-get-interfaces"}"#));
    let lo = interfaces
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "lo")
        .expect("lo is listed");
    assert_eq!(lo["hardware-address"], "00:00:00:00:00:00");
    let addresses = lo["ip-addresses"].as_array().unwrap();
    assert!(addresses
        .contains(&json!({"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8})));
    let keys: BTreeSet<&str> = lo["statistics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "rx-bytes",
            "rx-dropped",
            "rx-errs",
            "rx-packets",
            "tx-bytes",
            "tx-dropped",
            "tx-errs",
            "tx-packets"
        ])
    );
}

/// The statistics come from procfs `net/dev` (here a fixture copy with
/// known counters), the interfaces from the kernel itself.
#[test]
fn statistics_follow_procfs_net_dev() {
    let proc = TempDir::new("procfs");
    std::fs::create_dir_all(proc.0.join("net")).unwrap();
    std::fs::write(
        proc.0.join("net/dev"),
        "Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop fifo colls carrier compressed\n    lo: 11 12 13 14 0 0 0 0 21 22 23 24 0 0 0 0\n",
    )
    .unwrap();
    let agent = Agent::start_with(AgentOptions {
        policy: POLICY,
        extra_args: vec!["--procfs-root".into(), proc.0.display().to_string()],
    });
    let interfaces = ok(agent
        .connect()
        .request(r#"{"execute":"guest-network-get-interfaces"}"#));
    for interface in interfaces.as_array().unwrap() {
        if interface["name"] == "lo" {
            assert_eq!(
                interface["statistics"],
                json!({"rx-bytes": 11, "rx-packets": 12, "rx-errs": 13, "rx-dropped": 14,
                       "tx-bytes": 21, "tx-packets": 22, "tx-errs": 23, "tx-dropped": 24})
            );
        } else {
            // No line for it: no statistics, as qemu-ga.
            assert!(interface.get("statistics").is_none(), "{interface}");
        }
    }
}

/// The root mount's device numbers and type, from mountinfo.
fn root_mount() -> (String, String) {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table
        .lines()
        .rev()
        .find_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let dash = f.iter().position(|&x| x == "-")?;
            (f[4] == "/").then(|| (f[2].to_string(), f[dash + 1].to_string()))
        })
        .expect("a root mount")
}

#[test]
fn fsinfo_includes_the_root_mount() {
    let agent = Agent::start(POLICY);
    let filesystems = ok(agent.connect().request(r#"{"execute":"guest-get-fsinfo"}"#));
    let (devno, fs_type) = root_mount();
    let root = filesystems
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["mountpoint"] == "/")
        .expect("the root mount is listed");
    assert_eq!(root["type"], fs_type.as_str());
    let sysfs_device = std::fs::canonicalize(format!("/sys/dev/block/{devno}")).unwrap();
    assert_eq!(
        root["name"],
        sysfs_device.file_name().unwrap().to_str().unwrap()
    );
    let (used, total) = (
        root["used-bytes"].as_u64().unwrap(),
        root["total-bytes"].as_u64().unwrap(),
    );
    assert!(used > 0 && used <= total, "{root}");
    if !sysfs_device.to_string_lossy().contains("/devices/virtual/") {
        let disk = &root["disk"][0];
        assert!(disk["dev"].as_str().unwrap().starts_with("/dev/"), "{root}");
        assert!(
            disk["pci-controller"]["slot"].as_i64().unwrap() >= 0,
            "{root}"
        );
    }
}

#[test]
fn disks_include_the_root_disk() {
    let agent = Agent::start(POLICY);
    let disks = ok(agent.connect().request(r#"{"execute":"guest-get-disks"}"#));
    let (devno, _) = root_mount();
    let uevent = std::fs::read_to_string(format!("/sys/dev/block/{devno}/uevent")).unwrap();
    let devname = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVNAME="))
        .unwrap();
    let node = format!("/dev/{devname}");
    assert!(
        disks
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == node.as_str()),
        "{node} not in {disks}"
    );
}

/// A sysfs tree with cpu0 (no `online` file), cpu1 online, cpu2 offline;
/// memory blocks 0 (online, not removable), 1 (online), 7 (offline).
fn sysfs_fixture() -> TempDir {
    let dir = TempDir::new("sysfs");
    let sys = &dir.0;
    let write = |rel: &str, content: &str| {
        let path = sys.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    std::fs::create_dir_all(sys.join("devices/system/cpu/cpu0")).unwrap();
    write("devices/system/cpu/cpu1/online", "1\n");
    write("devices/system/cpu/cpu2/online", "0\n");
    write("devices/system/cpu/online", "0-1\n");
    write("devices/system/memory/block_size_bytes", "8000000\n");
    write("devices/system/memory/memory0/state", "online\n");
    write("devices/system/memory/memory0/removable", "0\n");
    write("devices/system/memory/memory1/state", "online\n");
    write("devices/system/memory/memory1/removable", "1\n");
    write("devices/system/memory/memory7/state", "offline\n");
    write("devices/system/memory/memory7/removable", "1\n");
    dir
}

fn read(root: &TempDir, rel: &str) -> String {
    std::fs::read_to_string(root.0.join(rel)).unwrap()
}

#[test]
fn set_vcpus_counts_up_to_the_first_failure() {
    let sys = sysfs_fixture();
    let agent = agent_with_sysfs(&sys.0);
    let mut host = agent.connect();
    let mut vcpus = ok(host.request(r#"{"execute":"guest-get-vcpus"}"#));
    vcpus
        .as_array_mut()
        .unwrap()
        .sort_by_key(|v| v["logical-id"].as_i64());
    assert_eq!(
        vcpus,
        json!([
            {"logical-id": 0, "online": true, "can-offline": false},
            {"logical-id": 1, "online": true, "can-offline": true},
            {"logical-id": 2, "online": false, "can-offline": true}
        ])
    );
    // Everything processed: the count.
    let reply = host.request(
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[
            {"logical-id":2,"online":true},{"logical-id":1,"online":false,"can-offline":true}]}}"#,
    );
    assert_eq!(ok(reply), json!(2));
    assert_eq!(read(&sys, "devices/system/cpu/cpu2/online"), "1\n");
    assert_eq!(read(&sys, "devices/system/cpu/cpu1/online"), "0\n");
    // A later entry fails: the count before it, nothing after it is done.
    let reply = host.request(
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[
            {"logical-id":1,"online":true},{"logical-id":0,"online":false},
            {"logical-id":2,"online":false}]}}"#,
    );
    assert_eq!(ok(reply), json!(1));
    assert_eq!(read(&sys, "devices/system/cpu/cpu1/online"), "1\n");
    assert_eq!(read(&sys, "devices/system/cpu/cpu2/online"), "1\n");
    // The first entry fails: qemu-ga's error, and the connection goes on.
    let reply = host.request(
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":0,"online":false}]}}"#,
    );
    assert_eq!(
        error_of(&reply),
        (
            "GenericError".into(),
            "logical processor #0 can't be offlined".into()
        )
    );
    let reply = host.request(
        r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":64,"online":true}]}}"#,
    );
    assert_eq!(
        error_of(&reply).1,
        format!(
            "open(\"{}/devices/system/cpu/cpu64/\"): No such file or directory",
            sys.0.display()
        )
    );
    assert_eq!(
        ok(host.request(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[]}}"#)),
        json!(0)
    );
    let reply =
        host.request(r#"{"execute":"guest-set-vcpus","arguments":{"vcpus":[{"logical-id":1}]}}"#);
    assert_eq!(error_of(&reply).1, "Parameter 'vcpus[0].online' is missing");
    assert_eq!(ok(host.request(r#"{"execute":"guest-ping"}"#)), json!({}));
}

/// Lists longer than one internal request keep the same semantics.
#[test]
fn long_set_vcpus_lists_keep_the_first_failure_rule() {
    let sys = sysfs_fixture();
    let agent = agent_with_sysfs(&sys.0);
    let mut host = agent.connect();
    let entry = json!({"logical-id": 1, "online": true});
    let mut list = vec![entry.clone(); 5000];
    let request = |list: &Vec<Value>| {
        json!({"execute": "guest-set-vcpus", "arguments": {"vcpus": list}}).to_string()
    };
    assert_eq!(ok(host.request(&request(&list))), json!(5000));
    // The failure sits in the second slice.
    list[4500] = json!({"logical-id": 99, "online": true});
    assert_eq!(ok(host.request(&request(&list))), json!(4500));
    // ... or starts it.
    list[4500] = entry;
    list[4096] = json!({"logical-id": 99, "online": true});
    assert_eq!(ok(host.request(&request(&list))), json!(4096));
}

#[test]
fn set_memory_blocks_answers_each_block() {
    let sys = sysfs_fixture();
    let agent = agent_with_sysfs(&sys.0);
    let mut host = agent.connect();
    assert_eq!(
        ok(host.request(r#"{"execute":"guest-get-memory-block-info"}"#)),
        json!({"size": 134217728})
    );
    let mut blocks = ok(host.request(r#"{"execute":"guest-get-memory-blocks"}"#));
    blocks
        .as_array_mut()
        .unwrap()
        .sort_by_key(|b| b["phys-index"].as_u64());
    assert_eq!(
        blocks,
        json!([
            {"phys-index": 0, "online": true, "can-offline": false},
            {"phys-index": 1, "online": true, "can-offline": true},
            {"phys-index": 7, "online": false, "can-offline": true}
        ])
    );
    let reply = host.request(
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[
            {"phys-index":7,"online":true},{"phys-index":1,"online":true},
            {"phys-index":500,"online":false},{"phys-index":-1,"online":true}]}}"#,
    );
    assert_eq!(
        ok(reply),
        json!([
            {"phys-index": 7, "response": "success"},
            {"phys-index": 1, "response": "success"},
            {"phys-index": 500, "response": "not-found", "error-code": 2},
            {"phys-index": 18446744073709551615u64, "response": "not-found", "error-code": 2}
        ])
    );
    assert!(read(&sys, "devices/system/memory/memory7/state").starts_with("online"));
    assert_eq!(
        read(&sys, "devices/system/memory/memory1/state"),
        "online\n"
    );
    // A block whose state cannot be changed (writes refused with ENOSPC).
    let state = sys.0.join("devices/system/memory/memory1/state");
    std::fs::remove_file(&state).unwrap();
    std::os::unix::fs::symlink("/dev/full", &state).unwrap();
    let reply = host.request(
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":1,"online":true}]}}"#,
    );
    assert_eq!(
        ok(reply),
        json!([{"phys-index": 1, "response": "operation-failed", "error-code": 28}])
    );
    // No memory directory at all: not supported, for each block.
    std::fs::remove_dir_all(sys.0.join("devices/system/memory")).unwrap();
    let reply = host.request(
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":0,"online":false}]}}"#,
    );
    assert_eq!(
        ok(reply),
        json!([{"phys-index": 0, "response": "operation-not-supported", "error-code": 2}])
    );
    assert_eq!(
        ok(host.request(r#"{"execute":"guest-get-memory-blocks"}"#)),
        json!([])
    );
}

/// Filesystems and disks of a machine this one is not: a device-mapper
/// volume over a partition of one virtio disk and a whole second one, with
/// serials in udev's database, described by fixture sysfs, procfs and udev
/// trees given on the command line.
#[test]
fn fsinfo_and_disks_follow_device_mapper_on_a_fixture() {
    let root = TempDir::new("machine");
    let at = |rel: &str| root.0.join(rel);
    let write = |rel: &str, content: &str| {
        std::fs::create_dir_all(at(rel).parent().unwrap()).unwrap();
        std::fs::write(at(rel), content).unwrap();
    };
    let link = |rel: &str, target: &Path| {
        std::fs::create_dir_all(at(rel).parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, at(rel)).unwrap();
    };
    let block = |dir: &str, name: &str, major: u32, minor: u32| {
        write(
            &format!("sys/devices/{dir}/uevent"),
            &format!("MAJOR={major}\nMINOR={minor}\nDEVNAME={name}\n"),
        );
        write(&format!("sys/devices/{dir}/size"), "2048\n");
        link(
            &format!("sys/dev/block/{major}:{minor}"),
            &at(&format!("sys/devices/{dir}")),
        );
    };
    std::fs::create_dir_all(at("sys/bus/pci/drivers/virtio-pci")).unwrap();
    for slot in ["04", "05"] {
        link(
            &format!("sys/devices/pci0000:00/0000:00:{slot}.0/driver"),
            &at("sys/bus/pci/drivers/virtio-pci"),
        );
    }
    let vda = "pci0000:00/0000:00:04.0/virtio2/block/vda";
    let vdb = "pci0000:00/0000:00:05.0/virtio3/block/vdb";
    block(vda, "vda", 252, 0);
    block(&format!("{vda}/vda1"), "vda1", 252, 1);
    block(vdb, "vdb", 252, 16);
    block("virtual/block/dm-0", "dm-0", 253, 0);
    for disk in [vda, vdb, "virtual/block/dm-0"] {
        std::fs::create_dir_all(at(&format!("sys/devices/{disk}/slaves"))).unwrap();
    }
    link(
        "sys/devices/virtual/block/dm-0/slaves/vda1",
        &at(&format!("sys/devices/{vda}/vda1")),
    );
    link(
        "sys/devices/virtual/block/dm-0/slaves/vdb",
        &at(&format!("sys/devices/{vdb}")),
    );
    for (name, dir) in [("vda", vda), ("vdb", vdb), ("dm-0", "virtual/block/dm-0")] {
        link(
            &format!("sys/block/{name}"),
            &at(&format!("sys/devices/{dir}")),
        );
    }
    write("udev/b252:1", "E:ID_SERIAL=SYSTEM\n");
    write("udev/b252:16", "E:ID_SERIAL=DATA\n");
    write("udev/b253:0", "E:DM_NAME=vg-data\n");
    write(
        "proc/self/mountinfo",
        "22 1 0:21 / /proc rw - proc proc rw\n\
         31 1 253:0 / / rw,relatime - xfs /dev/mapper/vg-data rw\n",
    );
    let agent = Agent::start_with(AgentOptions {
        policy: POLICY,
        extra_args: vec![
            "--sysfs-root".into(),
            at("sys").display().to_string(),
            "--procfs-root".into(),
            at("proc").display().to_string(),
            "--udev-data-dir".into(),
            at("udev").display().to_string(),
        ],
    });
    let mut host = agent.connect();
    let filesystems = ok(host.request(r#"{"execute":"guest-get-fsinfo"}"#));
    let fs = &filesystems[0];
    assert_eq!(filesystems.as_array().unwrap().len(), 1);
    assert_eq!(
        (&fs["name"], &fs["mountpoint"], &fs["type"]),
        (&json!("dm-0"), &json!("/"), &json!("xfs"))
    );
    let mut disks: Vec<Value> = fs["disk"].as_array().unwrap().clone();
    disks.sort_by_key(|d| d["serial"].as_str().map(str::to_string));
    assert_eq!(
        Value::Array(disks),
        json!([
            {"pci-controller": {"domain": 0, "bus": 0, "slot": 5, "function": 0},
             "bus-type": "virtio", "bus": 0, "target": 0, "unit": 0,
             "serial": "DATA", "dev": "/dev/vdb"},
            {"pci-controller": {"domain": 0, "bus": 0, "slot": 4, "function": 0},
             "bus-type": "virtio", "bus": 0, "target": 0, "unit": 0,
             "serial": "SYSTEM", "dev": "/dev/vda1"}
        ])
    );
    let disks = ok(host.request(r#"{"execute":"guest-get-disks"}"#));
    let dm = disks
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "/dev/dm-0")
        .expect("dm-0 listed");
    assert_eq!(dm["alias"], "vg-data");
    let mut deps: Vec<&str> = dm["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    deps.sort_unstable();
    assert_eq!(deps, ["/dev/vda1", "/dev/vdb"]);
    let vda1 = disks
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "/dev/vda1")
        .expect("the partition is listed");
    assert_eq!(
        vda1,
        &json!({"name": "/dev/vda1", "partition": true, "dependencies": ["/dev/vda"]})
    );
}
