//! qemu-ga's options and config file through the real agent: `-b` and `-a`
//! can only take commands away from what the policy allows (a block always
//! wins), the config file's lists apply too, and `-D` and `-b help` print
//! what Debian's qemu-ga prints.

use std::path::Path;
use std::process::{Command, Output};
use tests::{bin_dir, error_of, Agent, AgentOptions, Client, TempDir};

const POLICY: &str = r#"
[allow]
commands = ["guest-ping", "guest-info", "guest-get-time", "guest-fsfreeze-status"]
"#;

const QEMU_GA: &str = "/usr/sbin/qemu-ga";

fn start(args: &[&str]) -> Agent {
    Agent::start_with(AgentOptions {
        policy: POLICY,
        extra_args: args.iter().map(|s| s.to_string()).collect(),
    })
}

fn enabled(host: &mut Client, name: &str) -> bool {
    let info = host.request(r#"{"execute":"guest-info"}"#);
    info["return"]["supported_commands"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()["enabled"]
        .as_bool()
        .unwrap()
}

fn assert_disabled(host: &mut Client, name: &str) {
    let reply = host.request(&format!(r#"{{"execute":"{name}"}}"#));
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".to_string(),
            format!("Command {name} has been disabled")
        )
    );
    assert!(!enabled(host, name), "{name} still listed as enabled");
}

#[test]
fn block_rpcs_refuse_what_the_policy_allows() {
    let agent = start(&["-b", "guest-get-time,guest-nope"]);
    let mut host = agent.connect();
    assert_disabled(&mut host, "guest-get-time");
    assert_eq!(
        host.request(r#"{"execute":"guest-fsfreeze-status"}"#)["return"],
        "thawed"
    );
    let log = agent.log_text();
    assert!(
        log.contains(r#"rule="block-rpcs \"guest-get-time\" from -b/--block-rpcs""#),
        "{log}"
    );
    // Unknown names are ignored, as by qemu-ga, but not silently.
    assert!(
        log.contains("-b/--block-rpcs: warning: unknown command \"guest-nope\" in block-rpcs"),
        "{log}"
    );
}

#[test]
fn allow_rpcs_restrict_to_the_list_and_a_block_still_wins() {
    let agent = start(&[
        "-a",
        "guest-ping,guest-info,guest-get-time,guest-exec",
        "--block-rpcs=guest-get-time",
    ]);
    let mut host = agent.connect();
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        serde_json::json!({"return": {}})
    );
    // Not in the allow list.
    assert_disabled(&mut host, "guest-fsfreeze-status");
    // In the allow list, but blocked.
    assert_disabled(&mut host, "guest-get-time");
    // In the allow list, but not allowed by the policy.
    assert!(!enabled(&mut host, "guest-exec"));
}

#[test]
fn the_config_file_lists_apply_and_the_command_line_adds_to_them() {
    let dir = TempDir::new("qga-conf");
    let conf = dir.0.join("qemu-ga.conf");
    std::fs::write(
        &conf,
        "# as a distribution ships it\n[general]\nblock-rpcs=guest-get-time\n",
    )
    .unwrap();
    let agent = start(&["-c", conf.to_str().unwrap(), "-b", "guest-fsfreeze-status"]);
    let mut host = agent.connect();
    assert_disabled(&mut host, "guest-get-time");
    assert_disabled(&mut host, "guest-fsfreeze-status");
    let log = agent.log_text();
    assert!(
        log.contains(&format!(
            r#"rule="block-rpcs \"guest-get-time\" from {}:3:1""#,
            conf.display()
        )),
        "{log}"
    );
}

fn helper(args: &[&str], env_conf: Option<&Path>) -> Output {
    let mut command = Command::new(bin_dir().join("agent-helper"));
    command.args(args);
    match env_conf {
        Some(c) => command.env("QGA_CONF", c),
        None => command.env_remove("QGA_CONF"),
    };
    command.output().expect("run agent-helper")
}

#[test]
fn a_config_file_named_but_missing_or_broken_stops_the_agent() {
    let dir = TempDir::new("qga-conf-bad");
    let conf = dir.0.join("qemu-ga.conf");
    let out = helper(&["-c", conf.to_str().unwrap(), "-D"], None);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "agent-helper: config file {} does not exist\n",
            conf.display()
        )
    );
    std::fs::write(&conf, "[general]\nverbose=yes\n").unwrap();
    let out = helper(&["-D"], Some(&conf));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains(":2: key 'verbose' has a value that cannot be interpreted as a boolean: 'yes'"));
}

/// The same arguments and config to both agents' `-D`. qemu-ga 7.2 reads
/// its config only from $QGA_CONF, so both get it that way.
fn dump_both(args: &[&str], conf: &Path) -> (String, Option<String>) {
    let ours = helper(&[&["-D"], args].concat(), Some(conf));
    assert!(ours.status.success(), "{ours:?}");
    let theirs = Path::new(QEMU_GA).exists().then(|| {
        let out = Command::new(QEMU_GA)
            .arg("-D")
            .args(args)
            .env("QGA_CONF", conf)
            .output()
            .expect("run qemu-ga");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    });
    (String::from_utf8(ours.stdout).unwrap(), theirs)
}

#[test]
fn dump_conf_prints_the_effective_config_as_qemu_ga_does() {
    let dir = TempDir::new("qga-dump");
    let conf = dir.0.join("qemu-ga.conf");
    std::fs::write(
        &conf,
        "[general]\n  method = unix-listen\npath=/run/qga.sock\nverbose=1\n\
         statedir=/var/lib/a\\sb\nblock-rpcs=guest-exec,guest-file-open\n",
    )
    .unwrap();
    let (ours, theirs) = dump_both(
        &[
            "-p",
            "/run/other sock",
            "-l",
            "/var/log/qga.log",
            "-b",
            "guest-ping,,guest-info",
        ],
        &conf,
    );
    assert_eq!(
        ours,
        "[general]\ndaemon=false\nmethod=unix-listen\npath=/run/other sock\n\
         logfile=/var/log/qga.log\npidfile=/var/run/qemu-ga.pid\nstatedir=/var/lib/a b\n\
         verbose=true\nretry-path=false\n\
         block-rpcs=guest-file-open,guest-exec,guest-info,,guest-ping\n"
    );
    match theirs {
        Some(theirs) => assert_eq!(ours, theirs),
        None => eprintln!("{QEMU_GA} not installed: compared with the expected text only"),
    }
    std::fs::write(&conf, "").unwrap();
    let (ours, theirs) = dump_both(&[], &conf);
    assert!(ours.contains("method=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\n"));
    if let Some(theirs) = theirs {
        assert_eq!(ours, theirs);
    }
    // -d and -r, from the command line or the config file, and the serial
    // line's default path.
    for (text, args) in [
        ("", &["-d", "-r", "-m", "isa-serial"][..]),
        (
            "[general]\ndaemon=true\nretry-path=1\nmethod=isa-serial\n",
            &[][..],
        ),
    ] {
        std::fs::write(&conf, text).unwrap();
        let (ours, theirs) = dump_both(args, &conf);
        assert_eq!(
            ours,
            "[general]\ndaemon=true\nmethod=isa-serial\npath=/dev/ttyS0\n\
             pidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\n\
             retry-path=true\nblock-rpcs=\n",
            "{text:?} {args:?}"
        );
        if let Some(theirs) = theirs {
            assert_eq!(ours, theirs);
        }
    }
}

#[test]
fn block_rpcs_help_lists_the_commands_as_qemu_ga_does() {
    let out = helper(&["-b", "help"], None);
    assert!(out.status.success());
    let ours = String::from_utf8(out.stdout).unwrap();
    assert_eq!(ours.lines().count(), protocol::COMMANDS.len());
    assert!(ours.starts_with("guest-sync-delimited\nguest-sync\nguest-ping\n"));
    if Path::new(QEMU_GA).exists() {
        let theirs = Command::new(QEMU_GA).args(["-b", "help"]).output().unwrap();
        let theirs = String::from_utf8(theirs.stdout).unwrap();
        // qemu-ga 7.2's list as it prints it, then the newer commands this
        // agent also has (they can be blocked too).
        let newer = ours.strip_prefix(theirs.as_str()).unwrap_or_else(|| {
            panic!("qemu-ga's list first:\n{ours}\n{theirs}");
        });
        assert_eq!(newer, "guest-get-load\nguest-network-get-route\n");
    }
    let allow_help = helper(&["--allow-rpcs=help"], None);
    assert_eq!(String::from_utf8(allow_help.stdout).unwrap(), ours);
}
