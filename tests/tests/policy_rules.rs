//! Argument rules through the real agent: files judged on the path the
//! kernel resolved (symlinks and `..` cannot escape, not even a symlink
//! swapped in while the agent opens), password users, shutdown modes and
//! vCPU and memory offlining. Nothing here changes the machine: programs
//! are recording scripts and sysfs is a fixture tree.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tests::{error_of, Agent, AgentOptions, Client, TempDir};

/// A directory with `allowed/` and `secret/`, the policy allowing only the
/// first, and the agent.
struct Files {
    root: PathBuf,
    agent: Agent,
    _dir: TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = TempDir::new("rules-files");
        // Patterns match resolved paths: resolve the temp dir itself.
        let root = std::fs::canonicalize(&dir.0).unwrap();
        std::fs::create_dir_all(root.join("allowed/sub")).unwrap();
        std::fs::create_dir_all(root.join("secret")).unwrap();
        std::fs::write(root.join("allowed/a.txt"), "allowed data").unwrap();
        std::fs::write(root.join("secret/s.txt"), "SECRET").unwrap();
        let r = root.display();
        let policy = format!(
            "[allow]\ncommands = [\"guest-ping\", \"guest-file-*\"]\n\
             [rules.guest-file-open]\npaths = [\"{r}/allowed/**\"]\n\
             deny-paths = [\"{r}/allowed/sub/private*\"]\nmodes = [\"r\", \"w\"]\n"
        );
        let agent = Agent::start(&policy);
        Files {
            root,
            agent,
            _dir: dir,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

fn open_reply(host: &mut Client, path: &Path, mode: &str) -> Value {
    host.request(
        &json!({"execute": "guest-file-open", "arguments": {"path": path, "mode": mode}})
            .to_string(),
    )
}

fn read_all(host: &mut Client, handle: i64) -> String {
    let reply = host.request(
        &json!({"execute": "guest-file-read", "arguments": {"handle": handle, "count": 4096}})
            .to_string(),
    );
    let b64 = reply["return"]["buf-b64"]
        .as_str()
        .unwrap_or_else(|| panic!("{reply}"));
    host.request(
        &json!({"execute": "guest-file-close", "arguments": {"handle": handle}}).to_string(),
    );
    String::from_utf8(B64.decode(b64).unwrap()).unwrap()
}

fn denied(reply: &Value) -> String {
    let (class, desc) = error_of(reply);
    assert_eq!(class, "GenericError", "{reply}");
    assert!(
        desc.starts_with("Command guest-file-open denied by policy ("),
        "{desc}"
    );
    desc
}

#[test]
fn files_are_judged_on_the_path_they_really_have() {
    let f = Files::new();
    let mut host = f.agent.connect();
    let handle = open_reply(&mut host, &f.path("allowed/a.txt"), "r")["return"]
        .as_i64()
        .expect("allowed file opens");
    assert_eq!(read_all(&mut host, handle), "allowed data");

    let desc = denied(&open_reply(&mut host, &f.path("secret/s.txt"), "r"));
    assert!(desc.contains("no pattern matches"), "{desc}");
    // `..` is resolved before the check.
    denied(&open_reply(
        &mut host,
        &f.path("allowed/../secret/s.txt"),
        "r",
    ));
    // A symlink inside the allowed tree to a file outside it.
    std::os::unix::fs::symlink(f.path("secret/s.txt"), f.path("allowed/link")).unwrap();
    let desc = denied(&open_reply(&mut host, &f.path("allowed/link"), "r"));
    assert!(
        desc.contains(&format!("{:?}", f.path("secret/s.txt"))),
        "judged on the real path: {desc}"
    );
    // A symlinked directory: a new file would land outside.
    std::os::unix::fs::symlink(f.path("secret"), f.path("allowed/dirlink")).unwrap();
    denied(&open_reply(&mut host, &f.path("allowed/dirlink/new"), "w"));
    assert!(!f.path("secret/new").exists(), "nothing created outside");
    // deny-paths beats paths; modes are limited.
    std::fs::write(f.path("allowed/sub/private.key"), "k").unwrap();
    denied(&open_reply(
        &mut host,
        &f.path("allowed/sub/private.key"),
        "r",
    ));
    let desc = denied(&open_reply(&mut host, &f.path("allowed/a.txt"), "a"));
    assert!(desc.contains("mode \"a\" is not allowed"), "{desc}");

    // Creating inside the allowed tree works, with qemu-ga's permissions.
    let reply = open_reply(&mut host, &f.path("allowed/sub/new.txt"), "w");
    assert!(reply["return"].is_i64(), "{reply}");
    let mode = std::fs::metadata(f.path("allowed/sub/new.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o666);

    // Two audit events for a symlink: the lexical check let it pass, the
    // check on the resolved path refused it.
    let log = f.agent.log_text();
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("audit: decision") && l.contains("allowed/link"))
        .collect();
    assert_eq!(events.len(), 1, "{log}");
    assert!(events[0].contains("allowed=true"), "{}", events[0]);
    assert!(
        log.lines().any(|l| l.contains("audit: decision")
            && l.contains("allowed=false")
            && l.contains(&format!("path={:?}", f.path("secret/s.txt")))),
        "{log}"
    );
}

#[test]
fn a_symlink_swapped_in_during_the_open_never_lets_the_secret_out() {
    let f = Files::new();
    let mut host = f.agent.connect();
    let flip = f.path("allowed/flip");
    let plain = f.path("allowed/plain");
    let link = f.path("allowed/link-to-secret");
    std::fs::write(&plain, "allowed data").unwrap();
    std::os::unix::fs::symlink(f.path("secret/s.txt"), &link).unwrap();
    std::fs::copy(&plain, &flip).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let (flip, plain, link) = (flip.clone(), plain.clone(), link.clone());
        let tmp = f.path("allowed/.tmp");
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // rename(2) replaces atomically: `flip` is always either the
                // plain file or a symlink to the secret.
                let _ = std::fs::remove_file(&tmp);
                if swaps.is_multiple_of(2) {
                    let _ = std::os::unix::fs::symlink(&link, &tmp);
                } else {
                    let _ = std::fs::hard_link(&plain, &tmp);
                }
                let _ = std::fs::rename(&tmp, &flip);
                swaps += 1;
            }
            swaps
        })
    };
    let (mut opened, mut refused) = (0, 0);
    for _ in 0..300 {
        let reply = open_reply(&mut host, &flip, "r");
        match reply["return"].as_i64() {
            Some(handle) => {
                assert_eq!(read_all(&mut host, handle), "allowed data");
                opened += 1;
            }
            None => {
                denied(&reply);
                refused += 1;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = flipper.join().unwrap();
    assert!(swaps > 100, "the path kept changing ({swaps} swaps)");
    assert_eq!(opened + refused, 300);
    eprintln!("{opened} opened (plain file), {refused} refused (symlink to the secret)");
}

fn recorder(dir: &Path, name: &str) -> String {
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\n",
            dir.join(format!("{name}.argv")).display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!("--program={name}={}", script.display())
}

#[test]
fn shutdown_modes_and_password_users_follow_their_rules() {
    let dir = TempDir::new("rules-power");
    std::fs::create_dir_all(dir.0.join("root/etc")).unwrap();
    let agent = Agent::start_with(AgentOptions {
        policy: r#"
[allow]
commands = ["guest-ping", "guest-shutdown", "guest-set-user-password"]
[rules.guest-shutdown]
modes = ["reboot"]
[rules.guest-set-user-password]
users = ["qga-no-such-user"]
crypted = false
"#,
        extra_args: vec![
            recorder(&dir.0, "shutdown"),
            recorder(&dir.0, "chpasswd"),
            // An empty root: even a mistake could not touch real accounts.
            format!("--password-root={}", dir.0.join("root").display()),
        ],
    });
    let mut host = agent.connect();
    let (class, desc) = error_of(&host.request(r#"{"execute":"guest-shutdown"}"#));
    assert_eq!(class, "GenericError");
    assert!(
        desc.contains("mode \"powerdown\" is not allowed (allowed: \"reboot\")"),
        "{desc}"
    );
    host.send(br#"{"execute":"guest-shutdown","arguments":{"mode":"reboot"}}"#);
    // Success sends nothing; the next reply is the ping's.
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    let argv = std::fs::read_to_string(dir.0.join("shutdown.argv")).unwrap();
    assert_eq!(argv.lines().count(), 1, "only the reboot ran: {argv}");
    assert!(argv.contains("-r"), "{argv}");

    let password = |user: &str, crypted: bool| {
        json!({"execute": "guest-set-user-password",
               "arguments": {"username": user, "password": "c2VjcmV0", "crypted": crypted}})
        .to_string()
    };
    let (_, desc) = error_of(&host.request(&password("root", false)));
    assert!(desc.contains("no pattern matches \"root\""), "{desc}");
    let (_, desc) = error_of(&host.request(&password("qga-no-such-user", true)));
    assert!(desc.contains("pre-hashed (crypted) passwords"), "{desc}");
    // Allowed by the policy: the operation itself answers (no such user).
    let (_, desc) = error_of(&host.request(&password("qga-no-such-user", false)));
    assert!(!desc.contains("denied by policy"), "{desc}");
    assert!(!dir.0.join("chpasswd.argv").exists(), "chpasswd never ran");
    assert!(
        !agent.log_text().contains("c2VjcmV0"),
        "no password in the log"
    );
}

/// cpu0 (no `online` file), cpu1 and cpu2 online; memory block 1 online.
fn sysfs(dir: &Path) {
    let write = |rel: &str, content: &str| {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    };
    std::fs::create_dir_all(dir.join("devices/system/cpu/cpu0")).unwrap();
    write("devices/system/cpu/cpu1/online", "1\n");
    write("devices/system/cpu/cpu2/online", "1\n");
    write("devices/system/memory/block_size_bytes", "8000000\n");
    write("devices/system/memory/memory1/state", "online\n");
    write("devices/system/memory/memory1/removable", "1\n");
}

#[test]
fn offlining_follows_the_cpu_and_memory_rules() {
    let dir = TempDir::new("rules-sysfs");
    sysfs(&dir.0);
    let agent = Agent::start_with(AgentOptions {
        policy: r#"
[allow]
commands = ["guest-ping", "guest-set-vcpus", "guest-set-memory-blocks"]
[rules.guest-set-vcpus]
min-online = 2
[rules.guest-set-memory-blocks]
offline = false
"#,
        extra_args: vec![format!("--sysfs-root={}", dir.0.display())],
    });
    let mut host = agent.connect();
    let vcpus =
        |list: &str| format!(r#"{{"execute":"guest-set-vcpus","arguments":{{"vcpus":{list}}}}}"#);
    // Three online; taking one offline leaves two: allowed.
    let reply = host.request(&vcpus(r#"[{"logical-id":2,"online":false}]"#));
    assert_eq!(reply, json!({"return": 1}));
    assert_eq!(
        std::fs::read_to_string(dir.0.join("devices/system/cpu/cpu2/online")).unwrap(),
        "0\n"
    );
    // Another would leave one.
    let (_, desc) = error_of(&host.request(&vcpus(r#"[{"logical-id":1,"online":false}]"#)));
    assert!(
        desc.contains("1 vCPUs would be online, fewer than 2"),
        "{desc}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("devices/system/cpu/cpu1/online")).unwrap(),
        "1\n"
    );
    // Bringing cpu2 back and taking cpu1 down in one request keeps two.
    let reply = host.request(&vcpus(
        r#"[{"logical-id":2,"online":true},{"logical-id":1,"online":false}]"#,
    ));
    assert_eq!(reply, json!({"return": 2}));

    let (_, desc) = error_of(&host.request(
        r#"{"execute":"guest-set-memory-blocks","arguments":{"mem-blks":[{"phys-index":1,"online":false}]}}"#,
    ));
    assert!(
        desc.contains("memory blocks may not be taken offline"),
        "{desc}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("devices/system/memory/memory1/state")).unwrap(),
        "online\n"
    );
}
