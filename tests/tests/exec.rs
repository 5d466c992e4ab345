//! guest-exec and guest-exec-status through the real agent: programs really
//! run, with their input, output, exit status and environment, and the
//! replies have qemu-ga's shapes and errors (compared with Debian's qemu-ga
//! where it is installed).

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::{error_of, Agent, Client, TempDir};

/// The programs these tests run through guest-exec.
const PROGRAMS: &[&str] = &[
    "/bin/sh",
    "/bin/echo",
    "/bin/cat",
    "/bin/readlink",
    "/bin/true",
    "/bin/sleep",
    "/usr/bin/env",
];

/// Allows the commands and `PROGRAMS` as the policy sees them, resolved (on
/// a merged-/usr system /bin/sh is /usr/bin/dash), plus `extra` patterns,
/// and the two paths the error tests expect exec's own errors for.
fn policy_with(extra: &[String]) -> String {
    let programs: Vec<String> = PROGRAMS
        .iter()
        .map(|p| resolved(p))
        .chain(["/nonexistent".to_string(), "/etc/passwd".to_string()])
        .chain(extra.iter().cloned())
        .collect();
    format!(
        r#"
default = "deny"
[allow]
commands = ["guest-ping", "guest-exec", "guest-exec-status", "guest-fsfreeze-*"]
[rules.guest-exec]
programs = {programs:?}
"#
    )
}

fn policy() -> String {
    policy_with(&[])
}

fn resolved(path: &str) -> String {
    std::fs::canonicalize(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .display()
        .to_string()
}

const MIB16: usize = 16 << 20;

fn exec(host: &mut Client, arguments: Value) -> i64 {
    let reply = host.request(&json!({"execute": "guest-exec", "arguments": arguments}).to_string());
    reply["return"]["pid"]
        .as_i64()
        .unwrap_or_else(|| panic!("guest-exec {arguments}: {reply}"))
}

fn status(host: &mut Client, pid: i64) -> Value {
    host.request(&json!({"execute": "guest-exec-status", "arguments": {"pid": pid}}).to_string())
}

/// Polls guest-exec-status until the process exited; returns that reply's
/// `return` and how many polls said it was still running.
fn wait_exited(host: &mut Client, pid: i64) -> (Value, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut running = 0;
    loop {
        let reply = status(host, pid);
        let result = reply
            .get("return")
            .unwrap_or_else(|| panic!("status of {pid}: {reply}"))
            .clone();
        if result["exited"] == true {
            return (result, running);
        }
        assert_eq!(result, json!({"exited": false}), "a running process");
        running += 1;
        assert!(Instant::now() < deadline, "{pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn run(host: &mut Client, arguments: Value) -> Value {
    let pid = exec(host, arguments);
    wait_exited(host, pid).0
}

fn b64(data: &[u8]) -> String {
    protocol::qbase64::encode(data)
}

fn unb64(v: &Value) -> Vec<u8> {
    protocol::qbase64::decode(v.as_str().expect("base64 string")).expect("valid base64")
}

#[test]
fn echo_status_polled_until_exited_then_forgotten() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let pid = exec(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", "sleep 0.3; /bin/echo hi"], "capture-output": true}),
    );
    assert!(pid > 1);
    let (result, running) = wait_exited(&mut host, pid);
    assert!(running >= 1, "the first status came before the sleep ended");
    assert_eq!(
        result,
        json!({"exited": true, "exitcode": 0, "out-data": "aGkK", "out-truncated": false})
    );
    let (class, desc) = error_of(&status(&mut host, pid));
    assert_eq!(
        (class.as_str(), desc.as_str()),
        ("GenericError", "Invalid parameter 'pid'")
    );
    // Plain /bin/echo, and an argument list passed as is.
    let result = run(
        &mut host,
        json!({"path": "/bin/echo", "arg": ["a b", "", "c"], "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"a b  c\n");
}

#[test]
fn exit_codes_and_signals() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    for (script, want) in [
        ("exit 0", json!({"exited": true, "exitcode": 0})),
        ("exit 3", json!({"exited": true, "exitcode": 3})),
        ("exit 255", json!({"exited": true, "exitcode": 255})),
        ("kill -TERM $$", json!({"exited": true, "signal": 15})),
        ("kill -KILL $$", json!({"exited": true, "signal": 9})),
    ] {
        // Captured but silent: no out-data at all, as qemu-ga.
        let result = run(
            &mut host,
            json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": true}),
        );
        assert_eq!(result, want, "{script}");
        let result = run(&mut host, json!({"path": "/bin/sh", "arg": ["-c", script]}));
        assert_eq!(result, want, "{script} without capture");
    }
}

#[test]
fn binary_output_and_capture_modes() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let script = r"printf '\000\377\001'; printf 'e\n' >&2";
    let args = |capture: Value| json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": capture});
    let result = run(&mut host, args(json!(true)));
    assert_eq!(unb64(&result["out-data"]), b"\x00\xff\x01");
    assert_eq!(unb64(&result["err-data"]), b"e\n");
    assert_eq!(result["out-truncated"], false);
    assert_eq!(result["err-truncated"], false);
    assert_eq!(run(&mut host, args(json!("separated"))), result);
    // qemu-ga 8.0's modes.
    let out_only = run(&mut host, args(json!("stdout")));
    assert_eq!(unb64(&out_only["out-data"]), b"\x00\xff\x01");
    assert!(out_only.get("err-data").is_none(), "{out_only}");
    let err_only = run(&mut host, args(json!("stderr")));
    assert_eq!(unb64(&err_only["err-data"]), b"e\n");
    assert!(err_only.get("out-data").is_none(), "{err_only}");
    let merged = run(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", "echo 1; echo 2 >&2; echo 3"], "capture-output": "merged"}),
    );
    assert_eq!(unb64(&merged["out-data"]), b"1\n2\n3\n");
    assert!(merged.get("err-data").is_none(), "{merged}");
    for nothing in [json!(false), json!("none")] {
        assert_eq!(
            run(&mut host, args(nothing)),
            json!({"exited": true, "exitcode": 0})
        );
    }
}

#[test]
fn output_is_truncated_at_16_mib_per_stream() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    // Exactly the limit is complete; one byte more is truncated, and the
    // program still runs to its end (the rest is read and dropped).
    let script = format!(
        "head -c {MIB16} /dev/zero; head -c {} /dev/zero >&2; head -c 3000000 /dev/zero >&2; exit 7",
        MIB16 + 1
    );
    let result = run(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": true}),
    );
    assert_eq!(result["exitcode"], 7);
    assert_eq!(unb64(&result["out-data"]).len(), MIB16);
    assert_eq!(result["out-truncated"], false);
    assert_eq!(unb64(&result["err-data"]).len(), MIB16);
    assert_eq!(result["err-truncated"], true);
}

#[test]
fn input_data_reaches_stdin() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    // Larger than one internal message, every byte value.
    let input: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let result = run(
        &mut host,
        json!({"path": "/bin/cat", "input-data": b64(&input), "capture-output": true}),
    );
    assert_eq!(result["exitcode"], 0);
    assert!(unb64(&result["out-data"]) == input, "cat echoed the input");
    // Empty input is an empty pipe; no input is /dev/null.
    let result = run(
        &mut host,
        json!({"path": "/bin/cat", "input-data": "", "capture-output": true}),
    );
    assert_eq!(result, json!({"exited": true, "exitcode": 0}));
    let result = run(
        &mut host,
        json!({"path": "/bin/readlink", "arg": ["/proc/self/fd/0"], "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"/dev/null\n");
    // qemu-ga's lenient decoding: an incomplete last group is dropped.
    let result = run(
        &mut host,
        json!({"path": "/bin/cat", "input-data": "aGVsbG8", "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"hel");
}

#[test]
fn environment_is_clean_plus_requested_entries() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let base = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n";
    let result = run(
        &mut host,
        json!({"path": "/usr/bin/env", "capture-output": true}),
    );
    assert_eq!(String::from_utf8(unb64(&result["out-data"])).unwrap(), base);
    let result = run(
        &mut host,
        json!({"path": "/usr/bin/env", "env": ["A=1", "B=two words", "C"], "capture-output": true}),
    );
    assert_eq!(
        String::from_utf8(unb64(&result["out-data"])).unwrap(),
        format!("{base}A=1\nB=two words\nC\n")
    );
    let result = run(
        &mut host,
        json!({"path": "/usr/bin/env", "env": ["PATH=/opt"], "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"PATH=/opt\n");
}

#[test]
fn program_starts_in_root_with_only_stdio_and_the_helper_sandbox() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let script = "pwd; ls /proc/self/fd; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status";
    let result = run(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": true}),
    );
    let text = String::from_utf8(unb64(&result["out-data"])).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "/");
    // 0-2 and the fd ls opened to list the directory: nothing inherited.
    let fds: Vec<&str> = lines[1..]
        .iter()
        .take_while(|l| !l.contains(':'))
        .copied()
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
}

#[test]
fn unknown_pids_are_invalid() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    for pid in [
        json!(1),
        json!(-1),
        json!(1i64 << 40),
        json!(agent.helper_pid()),
    ] {
        let reply = host.request(
            &json!({"execute": "guest-exec-status", "arguments": {"pid": pid}}).to_string(),
        );
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), "Invalid parameter 'pid'".into())
        );
    }
}

#[test]
fn argument_and_exec_errors_as_qemu_ga() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    for (arguments, want) in [
        (json!({}), "Parameter 'path' is missing"),
        (json!({"path": 1}), "Invalid parameter type for 'path', expected: string"),
        (json!({"path": "/bin/echo", "arg": "x"}), "Invalid parameter type for 'arg', expected: array"),
        (json!({"path": "/bin/echo", "arg": [1]}), "Invalid parameter type for 'arg[0]', expected: string"),
        (json!({"path": "/bin/echo", "env": [true]}), "Invalid parameter type for 'env[0]', expected: string"),
        (json!({"path": "/bin/echo", "bogus": 1}), "Parameter 'bogus' is unexpected"),
        (json!({"path": "/bin/cat", "input-data": "!!!"}), "Base64 data contains invalid characters"),
        (json!({"path": "/bin/cat", "input-data": "aGVs bG8="}), "Base64 data contains invalid characters"),
        (
            json!({"path": "/bin/echo", "capture-output": "everything"}),
            "Parameter 'capture-output' does not accept value 'everything'",
        ),
        (
            json!({"path": "/bin/echo", "capture-output": 1}),
            "Invalid parameter type for 'capture-output', expected: GuestExecCaptureOutput",
        ),
        (
            json!({"path": "/nonexistent"}),
            "Guest agent command failed, error was 'Failed to execute child process \u{201C}/nonexistent\u{201D} (No such file or directory)'",
        ),
        (
            json!({"path": "/etc/passwd"}),
            "Guest agent command failed, error was 'Failed to execute child process \u{201C}/etc/passwd\u{201D} (Permission denied)'",
        ),
        (
            json!({"path": "/bin/echo", "arg": ["x".repeat(200_000)]}),
            "Guest agent command failed, error was 'Failed to execute child process \u{201C}/bin/echo\u{201D} (Argument list too long)'",
        ),
    ] {
        let reply = host.request(&json!({"execute": "guest-exec", "arguments": arguments}).to_string());
        assert_eq!(error_of(&reply), ("GenericError".into(), want.into()), "{arguments}");
    }
    for (arguments, want) in [
        (json!({}), "Parameter 'pid' is missing"),
        (
            json!({"pid": "1"}),
            "Invalid parameter type for 'pid', expected: integer",
        ),
    ] {
        let reply = host
            .request(&json!({"execute": "guest-exec-status", "arguments": arguments}).to_string());
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), want.into()),
            "{arguments}"
        );
    }
    // Nothing was left behind by the failures: the next exec just works.
    assert_eq!(run(&mut host, json!({"path": "/bin/true"}))["exitcode"], 0);
}

#[test]
fn exec_is_refused_unless_the_policy_allows_the_program() {
    // Not allowed at all: disabled, as qemu-ga's -b does it.
    let agent = Agent::start("[allow]\ncommands = [\"guest-ping\"]\n");
    let mut host = agent.connect();
    for command in ["guest-exec", "guest-exec-status"] {
        let reply = host.request(
            &json!({"execute": command, "arguments": {"path": "/bin/true", "pid": 1}}).to_string(),
        );
        assert_eq!(
            error_of(&reply),
            (
                "CommandNotFound".into(),
                format!("Command {command} has been disabled")
            )
        );
    }
    drop(host);
    drop(agent);
    // Allowed without a program list: still disabled.
    let agent = Agent::start(
        "[allow]\ncommands = [\"guest-ping\", \"guest-exec\", \"guest-exec-status\"]\n",
    );
    let mut host = agent.connect();
    let reply = host.request(r#"{"execute":"guest-exec","arguments":{"path":"/bin/true"}}"#);
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".into(),
            "Command guest-exec has been disabled".into()
        )
    );
    drop(host);
    drop(agent);
    // With a program list, the program the path resolves to must be on it;
    // a symlink to a listed program is that program, a symlink to another
    // one is not, whatever its own name.
    let links = TempDir::new("exec-links");
    let dir = resolved(&links.0.to_string_lossy());
    std::os::unix::fs::symlink(resolved("/bin/echo"), links.0.join("say")).unwrap();
    std::os::unix::fs::symlink("/usr/bin/id", links.0.join("echo")).unwrap();
    let agent = Agent::start(&policy_with(&[format!("{dir}/echo")]));
    let mut host = agent.connect();
    let result = run(
        &mut host,
        json!({"path": format!("{dir}/say"), "arg": ["linked"], "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"linked\n");
    for path in [format!("{dir}/echo"), "/usr/bin/id".into(), "id".into()] {
        let reply = host.request(
            &json!({"execute": "guest-exec", "arguments": {"path": path, "arg": ["x"]}})
                .to_string(),
        );
        let (class, desc) = error_of(&reply);
        assert_eq!(class, "GenericError", "{path}");
        assert!(
            desc.starts_with("Command guest-exec denied by policy (")
                && desc.contains(&resolved("/usr/bin/id")),
            "{path}: {desc}"
        );
    }
    let log = agent.log_text();
    assert!(
        log.contains(&format!("program=\"{}\"", resolved("/usr/bin/id"))),
        "{log}"
    );
    // Nothing was left staged by the refusals.
    assert_eq!(run(&mut host, json!({"path": "/bin/true"}))["exitcode"], 0);
}

/// A name without a slash is found as qemu-ga finds it under systemd, and
/// then judged like any other path.
#[test]
fn bare_names_are_looked_up_in_the_search_path() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let result = run(
        &mut host,
        json!({"path": "echo", "arg": ["found"], "capture-output": true}),
    );
    assert_eq!(result["exitcode"], 0);
    assert_eq!(unb64(&result["out-data"]), b"found\n");
    // argv[0] stays what the host wrote.
    let result = run(
        &mut host,
        json!({"path": "sh", "arg": ["-c", "echo $0"], "capture-output": true}),
    );
    assert_eq!(unb64(&result["out-data"]), b"sh\n");
    let reply = host.request(r#"{"execute":"guest-exec","arguments":{"path":"no-such-program"}}"#);
    let (class, desc) = error_of(&reply);
    assert_eq!(class, "GenericError");
    assert!(
        desc.starts_with("Command guest-exec denied by policy ("),
        "{desc}"
    );
}

#[test]
fn finished_processes_are_bounded_until_collected() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let max = protocol::limits::MAX_EXEC_PROCESSES;
    let pids: Vec<i64> = (0..max)
        .map(|_| exec(&mut host, json!({"path": "/bin/true"})))
        .collect();
    let reply = host.request(r#"{"execute":"guest-exec","arguments":{"path":"/bin/true"}}"#);
    let (class, desc) = error_of(&reply);
    assert_eq!(class, "GenericError");
    assert!(desc.starts_with("guest-exec refused: "), "{desc}");
    // Collecting one makes room for one.
    wait_exited(&mut host, pids[0]);
    let pid = exec(&mut host, json!({"path": "/bin/true"}));
    for pid in pids[1..].iter().copied().chain([pid]) {
        assert_eq!(wait_exited(&mut host, pid).0["exitcode"], 0);
    }
}

#[test]
fn status_survives_a_front_restart() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let pid = exec(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", "sleep 0.5; echo done"], "capture-output": true}),
    );
    drop(host);
    let front = agent.wait_new_front(0);
    // SAFETY: killing the agent's front process.
    unsafe { libc::kill(front as i32, libc::SIGKILL) };
    agent.wait_new_front(front);
    let mut host = agent.connect();
    let (result, _) = wait_exited(&mut host, pid);
    assert_eq!(unb64(&result["out-data"]), b"done\n");
}

/// qemu-ga keeps a guest-exec child running while filesystems are frozen,
/// refuses guest-exec and guest-exec-status until the thaw, then reports
/// the full result. Needs guest-fsfreeze-freeze-list in this build.
#[test]
fn frozen_filesystems_hold_back_status_not_the_child() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let spec = protocol::commands::lookup("guest-fsfreeze-freeze-list").unwrap();
    if spec.availability != protocol::commands::Availability::Available {
        eprintln!("skipped: guest-fsfreeze-freeze-list is not implemented in this build");
        return;
    }
    let dir = TempDir::new("exec-freeze");
    let mount = LoopMount::new(&dir.0);
    let target = mount.dir.join("f");
    let pid = exec(
        &mut host,
        json!({"path": "/bin/sh", "arg": ["-c", format!("sleep 1; echo x > {}; echo done", target.display())], "capture-output": true}),
    );
    let frozen = host.request(
        &json!({"execute": "guest-fsfreeze-freeze-list", "arguments": {"mountpoints": [mount.dir]}})
            .to_string(),
    );
    assert_eq!(frozen, json!({"return": 1}));
    for command in ["guest-exec-status", "guest-exec"] {
        let reply = host.request(
            &json!({"execute": command, "arguments": {"pid": pid, "path": "/bin/true"}})
                .to_string(),
        );
        assert_eq!(
            error_of(&reply).1,
            format!("Command {command} has been disabled: the agent is in frozen state")
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        host.request(r#"{"execute":"guest-fsfreeze-thaw"}"#),
        json!({"return": 1})
    );
    let (result, _) = wait_exited(&mut host, pid);
    assert_eq!(unb64(&result["out-data"]), b"done\n");
}

struct LoopMount {
    dir: std::path::PathBuf,
}

impl LoopMount {
    fn new(base: &Path) -> LoopMount {
        let image = base.join("fs.img");
        let dir = base.join("mnt");
        std::fs::create_dir_all(&dir).unwrap();
        let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
        ok(Command::new("truncate").arg("-s").arg("32M").arg(&image));
        ok(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&image));
        ok(Command::new("mount")
            .arg("-o")
            .arg("loop")
            .arg(&image)
            .arg(&dir));
        LoopMount { dir }
    }
}

impl Drop for LoopMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

/// Debian's qemu-ga on a unix socket, for side-by-side comparison.
struct Reference {
    dir: TempDir,
    child: Child,
}

impl Reference {
    fn start() -> Option<Reference> {
        let binary = Path::new("/usr/sbin/qemu-ga");
        if !binary.exists() {
            return None;
        }
        let dir = TempDir::new("exec-ref");
        let socket = dir.0.join("sock");
        let child = Command::new(binary)
            // systemd's search path, as this agent's
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(&dir.0)
            .arg("-f")
            .arg(dir.0.join("pid"))
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "qemu-ga did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Reference { dir, child })
    }

    fn connect(&self) -> Client {
        Client::connect(&self.dir.0.join("sock"))
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same requests to qemu-ga and to this agent give the same replies,
/// pids aside.
#[test]
fn replies_match_qemu_ga() {
    let Some(reference) = Reference::start() else {
        eprintln!("skipped: /usr/sbin/qemu-ga is not installed");
        return;
    };
    let agent = Agent::start(&policy());
    let script = "printf 'out\\000\\377'; echo err >&2; exit 3";
    let programs = [
        json!({"path": "/bin/echo", "arg": ["hi"], "capture-output": true}),
        json!({"path": "echo", "arg": ["found", "in", "PATH"], "capture-output": true}),
        json!({"path": "/bin/sh", "arg": ["-c", script], "capture-output": true}),
        json!({"path": "/bin/sh", "arg": ["-c", script]}),
        json!({"path": "/bin/sh", "arg": ["-c", "kill -TERM $$"], "capture-output": true}),
        json!({"path": "/bin/cat", "input-data": "aGVsbG8gd29ybGQ=", "capture-output": true}),
        json!({"path": "/bin/cat", "input-data": "a===\naGk=", "capture-output": true}),
        json!({"path": "/bin/cat", "input-data": "", "capture-output": true}),
        json!({"path": "/bin/true", "capture-output": true}),
        json!({"path": "/usr/bin/env", "env": ["A=1"], "arg": ["-u", "PATH"], "capture-output": true}),
    ];
    let errors = [
        json!({"path": "/nonexistent"}),
        json!({"path": "/etc/passwd", "capture-output": true}),
        json!({"path": "/bin/cat", "input-data": "-_"}),
        json!({"path": "/bin/echo", "arg": [1]}),
        json!({"path": "/bin/echo", "stray": 1}),
        json!({}),
    ];
    let mut ours = agent.connect();
    let mut theirs = reference.connect();
    for arguments in &programs {
        let a = run(&mut ours, arguments.clone());
        let b = run(&mut theirs, arguments.clone());
        assert_eq!(a, b, "{arguments}");
    }
    for arguments in &errors {
        let request = json!({"execute": "guest-exec", "arguments": arguments, "id": 7}).to_string();
        assert_eq!(
            ours.request(&request),
            theirs.request(&request),
            "{arguments}"
        );
    }
    for pid in [json!(1), json!(-5), json!("x")] {
        let request =
            json!({"execute": "guest-exec-status", "arguments": {"pid": pid}}).to_string();
        assert_eq!(ours.request(&request), theirs.request(&request), "{pid}");
    }
    // Running: the same one-member reply; collected: forgotten by both.
    let sleeper = json!({"path": "/bin/sleep", "arg": ["0.5"]});
    let (a, b) = (exec(&mut ours, sleeper.clone()), exec(&mut theirs, sleeper));
    assert_eq!(status(&mut ours, a), status(&mut theirs, b));
    assert_eq!(wait_exited(&mut ours, a).0, wait_exited(&mut theirs, b).0);
    assert_eq!(
        error_of(&status(&mut ours, a)),
        error_of(&status(&mut theirs, b))
    );
}

/// A running program is under the helper's filters plus its own guest-exec
/// filter, applied by the child before the exec.
#[test]
fn a_program_runs_under_one_filter_more_than_the_helper() {
    let agent = Agent::start(&policy());
    let mut host = agent.connect();
    let pid = exec(&mut host, json!({"path": "/bin/sleep", "arg": ["10"]}));
    let helper: u32 = tests::status_field(agent.helper_pid(), "Seccomp_filters")
        .parse()
        .unwrap();
    let program: u32 = tests::status_field(pid as u32, "Seccomp_filters")
        .parse()
        .unwrap();
    assert!(helper >= 1);
    assert_eq!(program, helper + 1);
    // SAFETY: kill with a pid this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    assert_eq!(wait_exited(&mut host, pid).0["signal"], 9);
}

/// A syscall outside the guest-exec filter (mount's) kills the program
/// with SIGSYS, reported as qemu-ga reports a signal, and logged with the
/// filter's name.
#[test]
fn a_syscall_outside_the_filter_kills_the_program_and_is_logged() {
    let mount = resolved("/bin/mount");
    let agent = Agent::start(&policy_with(std::slice::from_ref(&mount)));
    let mut host = agent.connect();
    let dir = TempDir::new("exec-mount");
    let target = dir.0.display().to_string();
    let result = run(
        &mut host,
        json!({"path": mount, "arg": ["-t", "tmpfs", "none", target]}),
    );
    assert_eq!(result, json!({"exited": true, "signal": 31}));
    let log = agent.log_text();
    assert!(
        log.contains("killed by SIGSYS: a syscall outside the guest-exec filter"),
        "{log}"
    );
}
