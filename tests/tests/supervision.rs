//! The helper keeps the agent alive: a dead front is replaced and the host
//! can talk again on the same channel.

use serde_json::json;
use std::time::Duration;
use tests::Agent;

const POLICY: &str = "[allow]\ncommands = [\"guest-ping\", \"guest-get-time\"]\n";

#[test]
fn killed_front_is_restarted_and_the_host_can_ping_again() {
    let agent = Agent::start(POLICY);
    let first = agent.wait_new_front(0);
    // SAFETY: killing the agent's front process.
    unsafe { libc::kill(first as i32, libc::SIGKILL) };
    let second = agent.wait_new_front(first);
    assert_ne!(first, second);
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    let log = agent.log_text();
    assert!(log.contains("front exited"), "{log}");
    assert!(log.contains("killed by SIGKILL"), "{log}");
}

#[test]
fn front_crash_loop_is_backed_off_not_spun() {
    let agent = Agent::start(POLICY);
    let mut pid = agent.wait_new_front(0);
    for _ in 0..4 {
        // SAFETY: killing the agent's front process.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        pid = agent.wait_new_front(pid);
    }
    let log = agent.log_text();
    let delays: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split("delay_ms=").nth(1))
        .filter_map(|d| d.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(delays.len() >= 4, "{log}");
    assert!(
        delays.windows(2).all(|w| w[1] >= w[0]),
        "delays grow: {delays:?}"
    );
    assert!(
        delays.last().unwrap() > delays.first().unwrap(),
        "{delays:?}"
    );
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
}

#[test]
fn sigterm_stops_helper_and_front_and_removes_the_socket() {
    let mut agent = Agent::start(POLICY);
    let front = agent.wait_new_front(0);
    agent.signal(libc::SIGTERM);
    for _ in 0..200 {
        if !agent.is_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!agent.is_running(), "helper still running");
    assert!(
        !std::path::Path::new(&format!("/proc/{front}")).exists() || {
            // a zombie reaped later is fine; a live front is not
            std::fs::read_to_string(format!("/proc/{front}/stat"))
                .map_or(true, |s| s.contains(") Z"))
        }
    );
    assert!(!agent.socket.exists());
}

/// A stop and a continue (an admin's SIGSTOP, a debugger attaching, the
/// freezer of a suspend or of a cgroup) interrupt the poll each process
/// waits in; the kernel resumes it with restart_syscall, which both
/// seccomp filters must allow.
#[test]
fn stopped_and_continued_processes_carry_on() {
    let mut agent = Agent::start(POLICY);
    let front = agent.wait_new_front(0);
    let helper = agent.helper_pid();
    for pid in [helper, front, helper, front] {
        // SAFETY: stopping and continuing the agent's own processes.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, libc::SIGCONT) };
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(agent.is_running(), "helper survived: {}", agent.log_text());
    let mut host = agent.connect();
    assert!(host.request(r#"{"execute":"guest-get-time"}"#)["return"].is_i64());
    assert_eq!(agent.wait_new_front(0), front, "the same front serves");
    let log = agent.log_text();
    assert!(!log.contains("front exited"), "{log}");
}
