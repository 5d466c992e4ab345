//! guest-shutdown and guest-suspend-* through the real agent. The programs
//! they run are recording scripts and /sys/power/state is a fixture file:
//! really shutting down or suspending is not possible on a test machine
//! (the QEMU guest tests do that). What is tested is the agent's part: the
//! argv it runs, the order in which it tries the ways to suspend, the sysfs
//! write, the error texts and that a success sends no reply.

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use tests::qemu_ga::QemuGa;
use tests::{error_of, Agent, AgentOptions, Client, TempDir};

const POLICY: &str =
    "[allow]\ncommands = [\"guest-shutdown\", \"guest-suspend-*\", \"guest-ping\"]\n";

/// A directory of fake programs and a fake sysfs.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture {
            dir: TempDir::new("power"),
        };
        std::fs::create_dir_all(fixture.dir.0.join("sys/power")).unwrap();
        fixture
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    /// A program that appends its arguments, each in brackets, as one line
    /// to `<name>.argv`, then runs `then` (shell).
    fn program(&self, name: &str, then: &str) -> String {
        let script = self.path(name);
        let log = self.path(&format!("{name}.argv"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\n{{ for a in \"$@\"; do printf '[%s]' \"$a\"; done; echo; }} >> '{}'\n{then}\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        format!("--program={name}={}", script.display())
    }

    fn argv(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(&format!("{name}.argv")))
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    fn set_sleep_states(&self, states: &str) {
        std::fs::write(self.sleep_state_file(), states).unwrap();
    }

    fn sleep_state_file(&self) -> PathBuf {
        self.path("sys/power/state")
    }

    fn start_agent(&self, policy: &str, mut args: Vec<String>) -> Agent {
        args.push(format!("--sysfs-root={}", self.path("sys").display()));
        Agent::start_with(AgentOptions {
            policy,
            extra_args: args,
        })
    }
}

/// `--program` options that make systemd and pm-utils absent.
fn without_systemd_and_pm_utils() -> Vec<String> {
    ["systemctl", "pm-is-supported"]
        .iter()
        .map(|p| format!("--program={p}=/nonexistent/{p}"))
        .collect()
}

/// Sends a command that must not answer on success: the next reply on the
/// connection is the one to the ping sent after it.
fn expect_no_reply(host: &mut Client, request: &str) {
    host.send(request.as_bytes());
    let ping = host.request(r#"{"execute":"guest-ping","id":"after"}"#);
    assert_eq!(
        ping,
        json!({"return": {}, "id": "after"}),
        "{request} must send nothing on success"
    );
}

#[test]
fn shutdown_runs_qemu_gas_argv_for_each_mode_and_sends_no_reply() {
    let fixture = Fixture::new();
    let agent = fixture.start_agent(POLICY, vec![fixture.program("shutdown", "exit 0")]);
    let mut host = agent.connect();
    for (arguments, flag) in [
        (None, "-P"),
        (Some("powerdown"), "-P"),
        (Some("halt"), "-H"),
        (Some("reboot"), "-r"),
    ] {
        let request = match arguments {
            None => json!({"execute": "guest-shutdown", "id": 1}),
            Some(mode) => {
                json!({"execute": "guest-shutdown", "arguments": {"mode": mode}, "id": 1})
            }
        };
        expect_no_reply(&mut host, &request.to_string());
        assert_eq!(
            fixture.argv("shutdown").last().unwrap(),
            &format!("[-h][{flag}][+0][hypervisor initiated shutdown]")
        );
    }
    assert_eq!(fixture.argv("shutdown").len(), 4);
}

#[test]
fn shutdown_failures_and_bad_modes_get_qemu_gas_errors() {
    let fixture = Fixture::new();
    let failing = fixture.start_agent(POLICY, vec![fixture.program("shutdown", "exit 1")]);
    let mut host = failing.connect();
    let reply = host.request(r#"{"execute":"guest-shutdown","arguments":{"mode":"sideways"}}"#);
    assert_eq!(
        error_of(&reply).1,
        "mode is invalid (valid values are: halt|powerdown|reboot"
    );
    assert!(
        fixture.argv("shutdown").is_empty(),
        "nothing ran for a bad mode"
    );
    let reply = host.request(r#"{"execute":"guest-shutdown"}"#);
    assert_eq!(error_of(&reply).1, "child process has failed to shutdown");
    assert_eq!(fixture.argv("shutdown").len(), 1);
    drop(host);
    drop(failing);

    let killed = fixture.start_agent(POLICY, vec![fixture.program("shutdown", "kill -KILL $$")]);
    let reply = killed.connect().request(r#"{"execute":"guest-shutdown"}"#);
    assert_eq!(
        error_of(&reply).1,
        "child process has terminated abnormally"
    );
    drop(killed);

    let missing = fixture.start_agent(
        POLICY,
        vec!["--program=shutdown=/nonexistent/shutdown".into()],
    );
    let reply = missing.connect().request(r#"{"execute":"guest-shutdown"}"#);
    assert_eq!(error_of(&reply).1, "child process has failed to shutdown");
}

#[test]
fn a_policy_that_denies_shutdown_runs_nothing() {
    let fixture = Fixture::new();
    let agent = fixture.start_agent(
        "[allow]\ncommands = [\"guest-ping\"]\n",
        vec![fixture.program("shutdown", "exit 0")],
    );
    let reply = agent.connect().request(r#"{"execute":"guest-shutdown"}"#);
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".into(),
            "Command guest-shutdown has been disabled".into()
        )
    );
    assert!(fixture.argv("shutdown").is_empty());
}

#[test]
fn suspend_without_the_state_in_sysfs_is_unsupported() {
    let fixture = Fixture::new();
    fixture.set_sleep_states("freeze disk\n");
    let agent = fixture.start_agent(POLICY, without_systemd_and_pm_utils());
    let mut host = agent.connect();
    for command in ["guest-suspend-ram", "guest-suspend-hybrid"] {
        let reply = host.request(&json!({"execute": command}).to_string());
        assert_eq!(
            error_of(&reply),
            (
                "GenericError".into(),
                "the requested suspend mode is not supported by the guest".into()
            ),
            "{command}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(fixture.sleep_state_file()).unwrap(),
        "freeze disk\n"
    );
    // No sysfs at all: unsupported too.
    std::fs::remove_file(fixture.sleep_state_file()).unwrap();
    let reply = host.request(r#"{"execute":"guest-suspend-disk"}"#);
    assert_eq!(
        error_of(&reply).1,
        "the requested suspend mode is not supported by the guest"
    );
}

#[test]
fn suspend_through_sysfs_writes_the_state_and_sends_no_reply() {
    let fixture = Fixture::new();
    let agent = fixture.start_agent(POLICY, without_systemd_and_pm_utils());
    let mut host = agent.connect();
    for (command, word) in [("guest-suspend-ram", "mem"), ("guest-suspend-disk", "disk")] {
        fixture.set_sleep_states("freeze mem disk\n");
        expect_no_reply(&mut host, &json!({"execute": command, "id": 5}).to_string());
        assert_eq!(
            std::fs::read_to_string(fixture.sleep_state_file()).unwrap(),
            word,
            "{command}"
        );
    }
}

#[test]
fn suspend_prefers_systemd_when_its_unit_exists() {
    let fixture = Fixture::new();
    fixture.set_sleep_states("freeze mem disk\n");
    let systemctl = fixture.program(
        "systemctl",
        // `systemctl status UNIT` exits 3 for an existing, inactive unit.
        "if [ \"$1\" = status ]; then exit 3; fi; exit 0",
    );
    let pm = fixture.program("pm-is-supported", "exit 0");
    let agent = fixture.start_agent(POLICY, vec![systemctl, pm]);
    let mut host = agent.connect();
    for (command, unit, verb) in [
        ("guest-suspend-ram", "systemd-suspend", "suspend"),
        ("guest-suspend-disk", "systemd-hibernate", "hibernate"),
        (
            "guest-suspend-hybrid",
            "systemd-hybrid-sleep",
            "hybrid-sleep",
        ),
    ] {
        expect_no_reply(&mut host, &json!({"execute": command}).to_string());
        let argv = fixture.argv("systemctl");
        assert_eq!(
            argv[argv.len() - 2..],
            [format!("[status][{unit}]"), format!("[{verb}]")],
            "{command}"
        );
    }
    assert!(fixture.argv("pm-is-supported").is_empty());
    assert_eq!(
        std::fs::read_to_string(fixture.sleep_state_file()).unwrap(),
        "freeze mem disk\n"
    );
}

#[test]
fn suspend_falls_back_to_pm_utils_when_systemd_lacks_the_unit() {
    let fixture = Fixture::new();
    let systemctl = fixture.program("systemctl", "exit 4");
    let supported = fixture.program("pm-is-supported", "exit 0");
    let pm_suspend = fixture.program("pm-suspend", "exit 0");
    let agent = fixture.start_agent(POLICY, vec![systemctl, supported, pm_suspend]);
    let mut host = agent.connect();
    expect_no_reply(&mut host, r#"{"execute":"guest-suspend-ram"}"#);
    assert_eq!(fixture.argv("systemctl"), ["[status][systemd-suspend]"]);
    assert_eq!(fixture.argv("pm-is-supported"), ["[--suspend]"]);
    assert_eq!(fixture.argv("pm-suspend"), [""], "run without arguments");
}

#[test]
fn a_failing_suspend_program_reports_its_status() {
    let fixture = Fixture::new();
    fixture.set_sleep_states("freeze\n");
    let systemctl = fixture.program(
        "systemctl",
        "if [ \"$1\" = status ]; then exit 3; fi; exit 1",
    );
    let agent = fixture.start_agent(
        POLICY,
        vec![systemctl, "--program=pm-is-supported=/nonexistent/p".into()],
    );
    let reply = agent
        .connect()
        .request(r#"{"execute":"guest-suspend-ram"}"#);
    assert_eq!(
        error_of(&reply).1,
        "the helper program 'systemctl suspend' returned an unexpected exit status code (1)"
    );
}

/// Requests Debian's qemu-ga refuses before doing anything, compared reply
/// for reply. (Nothing here may reach its shutdown or suspend code.)
#[test]
fn errors_match_qemu_ga() {
    let fixture = Fixture::new();
    let agent = fixture.start_agent(POLICY, vec![fixture.program("shutdown", "exit 0")]);
    let reference = QemuGa::start(&[]);
    let requests = [
        r#"{"execute":"guest-shutdown","arguments":{"mode":"sideways"}}"#,
        r#"{"execute":"guest-shutdown","arguments":{"mode":""}}"#,
        r#"{"execute":"guest-shutdown","arguments":{"mode":"Halt"},"id":3}"#,
        r#"{"execute":"guest-shutdown","arguments":{"mode":3}}"#,
        r#"{"execute":"guest-shutdown","arguments":{"when":"now"}}"#,
        r#"{"execute":"guest-suspend-ram","arguments":{"x":1}}"#,
        r#"{"execute":"guest-suspend-disk","arguments":{"mode":"disk"}}"#,
        r#"{"execute":"guest-suspend-hybrid","arguments":{"x":null}}"#,
    ];
    let mut ours = agent.connect();
    let mut theirs = reference.connect();
    for request in requests {
        let want = theirs.request(request);
        assert!(want.get("error").is_some(), "{request}: {want}");
        assert_eq!(ours.request(request), want, "{request}");
    }
    assert!(fixture.argv("shutdown").is_empty());
}

/// The shutdown program runs under the power filter, one more than the
/// helper's: it reads its own count, and a syscall outside the filter
/// (mount's) kills the next one.
#[test]
fn power_programs_run_under_their_own_filter() {
    let fixture = Fixture::new();
    let record = fixture.path("filters");
    let then = format!(
        "while read -r k v; do [ \"$k\" = Seccomp_filters: ] && echo \"$v\" > '{}'; done < /proc/$$/status; exit 0",
        record.display()
    );
    let agent = fixture.start_agent(POLICY, vec![fixture.program("shutdown", &then)]);
    let mut host = agent.connect();
    expect_no_reply(&mut host, r#"{"execute":"guest-shutdown"}"#);
    let helper: u32 = tests::status_field(agent.helper_pid(), "Seccomp_filters")
        .parse()
        .unwrap();
    let program: u32 = std::fs::read_to_string(&record)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(program, helper + 1);
    drop(host);
    drop(agent);

    let mount = format!(
        "exec /bin/mount -t tmpfs none '{}'",
        fixture.path("sys").display()
    );
    let agent = fixture.start_agent(POLICY, vec![fixture.program("shutdown", &mount)]);
    let mut host = agent.connect();
    let reply = host.request(r#"{"execute":"guest-shutdown"}"#);
    assert_eq!(
        error_of(&reply).1,
        "child process has terminated abnormally"
    );
    let log = agent.log_text();
    assert!(
        log.contains("killed by SIGSYS: a syscall outside the power filter"),
        "{log}"
    );
}
