//! `agent-helper --check-policy` and `--explain` as an admin runs them:
//! output and exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tests::{bin_dir, TempDir};

fn helper(args: &[&str]) -> Output {
    let dir = TempDir::new("cli-conf");
    let conf = dir.0.join("qemu-ga.conf");
    std::fs::write(&conf, "").unwrap();
    Command::new(bin_dir().join("agent-helper"))
        .arg("-c")
        .arg(&conf)
        .args(args)
        .output()
        .expect("run agent-helper")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/policies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_example_checks_clean() {
    let files = examples();
    assert_eq!(files.len(), 4);
    for file in files {
        let out = helper(&["--check-policy", file.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stderr), "", "{} has warnings", file.display());
        let stdout = text(&out.stdout);
        assert!(stdout.starts_with(&format!("{}: valid\n", file.display())));
        assert!(stdout.contains("guest-ping "), "{stdout}");
    }
}

#[test]
fn check_policy_reports_problems_with_their_place_and_exits_1() {
    let dir = TempDir::new("cli-check");
    let file = dir.0.join("p.toml");
    std::fs::write(
        &file,
        "[allow]\ncommands = [\"guest-pnig\"]\n[rules.guest-file-open]\npath = [\"/x\"]\n",
    )
    .unwrap();
    let shown = file.display().to_string();
    let out = helper(&["--check-policy", &shown]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "{shown}:2:13: error: unknown command \"guest-pnig\" (did you mean \"guest-ping\"?)\n\
             {shown}:4:1: error: unknown key `path` in [rules.guest-file-open] (did you mean \
             `paths`?); expected one of `paths`, `deny-paths`, `modes`\n"
        )
    );
    assert_eq!(text(&out.stdout), format!("{shown}: invalid (2 errors)\n"));
}

#[test]
fn check_policy_shows_the_qemu_ga_lists_and_their_warnings() {
    let file = examples()
        .into_iter()
        .find(|f| f.ends_with("monitoring.toml"))
        .unwrap();
    let out = helper(&[
        "--check-policy",
        file.to_str().unwrap(),
        "-b",
        "guest-get-users,guest-get-usres",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stderr),
        "-b/--block-rpcs: warning: unknown command \"guest-get-usres\" in block-rpcs (did you \
         mean \"guest-get-users\"?), ignored\n"
    );
    let row = text(&out.stdout)
        .lines()
        .find(|l| l.starts_with("guest-get-users "))
        .unwrap()
        .to_string();
    assert!(
        row.contains("deny     block-rpcs \"guest-get-users\" from -b/--block-rpcs"),
        "{row}"
    );
}

#[test]
fn explain_names_the_deciding_rule_and_says_paths_are_lexical() {
    let file = examples()
        .into_iter()
        .find(|f| f.ends_with("monitoring.toml"))
        .unwrap();
    let shown = file.to_str().unwrap();
    let out = helper(&[
        "--explain",
        shown,
        r#"{"execute":"guest-file-open","arguments":{"path":"/var/log/../../etc/shadow"}}"#,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains(
        "path: \"/var/log/../../etc/shadow\" -> \"/etc/shadow\" (resolved lexically: . and .. \
         removed, symlinks not followed"
    ));
    assert!(stdout.contains("decision: refused\n"), "{stdout}");
    assert!(
        stdout.contains("rule: [rules.guest-file-open] paths at "),
        "{stdout}"
    );
    assert!(
        stdout.contains("no pattern matches \"/etc/shadow\""),
        "{stdout}"
    );

    let out = helper(&[
        "--explain",
        shown,
        r#"{"execute":"guest-file-open","arguments":{"path":"/var/log/syslog","mode":"r"}}"#,
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("decision: allowed\n"));

    let out = helper(&["--explain", shown, r#"{"execute":"guest-shutdown"}"#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stdout).contains("mode: \"powerdown\"\n"));

    let out = helper(&["--explain", shown, "{\"execute\": 1}"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "agent-helper: invalid request: 'execute' must be a string\n"
    );
}

#[test]
fn explain_never_prints_a_password() {
    let file = examples()
        .into_iter()
        .find(|f| f.ends_with("cloud-provisioning.toml"))
        .unwrap();
    let out = helper(&[
        "--explain",
        file.to_str().unwrap(),
        r#"{"execute":"guest-set-user-password","arguments":{"username":"cloud-user","password":"c2VjcmV0LXB3","crypted":false}}"#,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!all.contains("c2VjcmV0LXB3"), "{all}");
    assert!(
        all.contains("user: \"cloud-user\", crypted: false"),
        "{all}"
    );
}
