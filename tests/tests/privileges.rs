//! The front really is unprivileged and both processes really are
//! sandboxed: read from /proc of the running agent.

use serde_json::json;
use tests::{status_field, Agent};

const POLICY: &str = "[allow]\ncommands = [\"guest-ping\"]\n";

#[test]
fn front_has_no_privileges_and_both_run_under_seccomp() {
    let agent = Agent::start(POLICY);
    let front = agent.wait_new_front(0);
    let helper = agent.helper_pid();

    let uids: Vec<u32> = status_field(front, "Uid")
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert_eq!(uids.len(), 4);
    assert!(uids.iter().all(|&u| u != 0), "front uids {uids:?}");
    let gids = status_field(front, "Gid");
    assert!(
        gids.split_whitespace().all(|g| g != "0"),
        "front gids {gids}"
    );
    assert!(!status_field(front, "Groups")
        .split_whitespace()
        .any(|g| g == "0"));
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status_field(front, set), "0000000000000000", "front {set}");
    }
    assert_eq!(status_field(front, "NoNewPrivs"), "1");
    assert_eq!(status_field(front, "Seccomp"), "2");
    // The front stacks its own filter on the launch filter and the helper's.
    let filters: u32 = status_field(front, "Seccomp_filters").parse().unwrap();
    assert!(filters >= 2, "front has {filters} filters");

    assert_eq!(
        status_field(helper, "Uid").split_whitespace().next(),
        Some("0")
    );
    assert_eq!(status_field(helper, "Seccomp"), "2");

    // And it still works while sandboxed.
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
}

#[test]
fn front_holds_only_the_fds_it_was_given() {
    let agent = Agent::start(POLICY);
    let front = agent.wait_new_front(0);
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    let mut targets = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{front}/fd"))
        .unwrap()
        .flatten()
    {
        let target = std::fs::read_link(entry.path()).unwrap();
        targets.push(target.to_string_lossy().into_owned());
    }
    for t in &targets {
        let expected = t == "/dev/null"
            || t.starts_with("socket:")
            || t.starts_with("anon_inode:")
            || t.starts_with("pipe:")
            || t.ends_with("agent.log");
        assert!(expected, "unexpected fd in front: {t} (all: {targets:?})");
    }
    // One pipe, the file-data pipe at fd 5, and only its read end.
    let pipes: Vec<&String> = targets.iter().filter(|t| t.starts_with("pipe:")).collect();
    assert_eq!(pipes.len(), 1, "{targets:?}");
    let fd5 = std::fs::read_link(format!("/proc/{front}/fd/5")).unwrap();
    assert_eq!(&fd5.to_string_lossy(), pipes[0]);
    assert_eq!(
        tests::fd_flags(front, "5") & libc::O_ACCMODE as u32,
        libc::O_RDONLY as u32
    );
}

#[test]
fn forbidden_syscall_in_the_front_is_fatal_and_the_helper_restarts_it() {
    let agent = tests::Agent::start_with(tests::AgentOptions {
        policy: POLICY,
        extra_args: vec!["--sandbox-selftest".into()],
    });
    // Each front dies on its probe; wait for the helper to have seen two.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let log = agent.log_text();
        let deaths = log.matches("killed by SIGSYS").count();
        if deaths >= 2 {
            assert!(log.contains("sandbox self-test: calling openat"), "{log}");
            assert!(!log.contains("sandbox self-test failed"), "{log}");
            assert!(log.matches("front started").count() >= 2, "{log}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no SIGSYS deaths:\n{log}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn helper_keeps_only_the_capabilities_its_operations_need() {
    let agent = Agent::start(POLICY);
    let helper = agent.helper_pid();
    let bounding = u64::from_str_radix(&status_field(helper, "CapBnd"), 16).unwrap();
    let effective = u64::from_str_radix(&status_field(helper, "CapEff"), 16).unwrap();
    assert_eq!(bounding, effective, "nothing kept in reserve");
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_SETUID: u32 = 7;
    const CAP_NET_ADMIN: u32 = 12;
    const CAP_SYS_MODULE: u32 = 16;
    const CAP_SYS_PTRACE: u32 = 19;
    const CAP_MKNOD: u32 = 27;
    for kept in [CAP_SYS_ADMIN, CAP_SETUID] {
        assert!(effective & (1 << kept) != 0, "cap {kept} kept");
    }
    for dropped in [CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_MKNOD] {
        assert!(bounding & (1 << dropped) == 0, "cap {dropped} dropped");
    }
    assert_eq!(status_field(helper, "CapAmb"), "0000000000000000");
    assert_eq!(status_field(helper, "CapInh"), "0000000000000000");
}
