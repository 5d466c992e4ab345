use super::*;

fn policy(text: &str) -> Policy {
    Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn error_of(text: &str) -> String {
    Policy::parse(text, "p.toml").unwrap_err().to_string()
}

#[test]
fn empty_file_denies_everything_but_sync() {
    let p = policy("");
    for c in COMMANDS {
        let want = ALWAYS_ENABLED.contains(&c.name);
        assert_eq!(p.decide_command(c.name).allowed, want, "{}", c.name);
    }
}

#[test]
fn decisions_table() {
    let p = policy(
        r#"
default = "deny"
[allow]
commands = ["guest-get-*", "guest-ping", "guest-info"]
[deny]
commands = ["guest-get-time"]
"#,
    );
    let cases = [
        ("guest-ping", true, "allow \"guest-ping\" at p.toml:4:28"),
        (
            "guest-get-vcpus",
            true,
            "allow \"guest-get-*\" at p.toml:4:13",
        ),
        (
            "guest-get-time",
            false,
            "deny \"guest-get-time\" at p.toml:6:13",
        ),
        ("guest-shutdown", false, "default = \"deny\" at p.toml:2:11"),
    ];
    for (name, allowed, rule) in cases {
        let d = p.decide_command(name);
        assert_eq!((d.allowed, d.rule.as_str()), (allowed, rule), "{name}");
    }
}

#[test]
fn deny_beats_allow_whatever_the_order_and_default() {
    for default in ["allow", "deny"] {
        let p = policy(&format!(
            "default = \"{default}\"\n[deny]\ncommands = [\"guest-file-*\"]\n[allow]\ncommands = [\"*\"]\n"
        ));
        assert!(!p.decide_command("guest-file-open").allowed);
        assert!(p.decide_command("guest-ping").allowed);
    }
}

#[test]
fn default_allow_allows_unlisted() {
    let p = policy("default = \"allow\"\n");
    assert!(p.decide_command("guest-shutdown").allowed);
}

#[test]
fn unknown_key_has_line_and_column() {
    assert_eq!(
        error_of("default = \"deny\"\n[allow]\ncomands = []\n"),
        "p.toml:3:1: error: unknown field `comands`, expected `commands`"
    );
}

#[test]
fn unknown_command_suggests_the_nearest() {
    assert_eq!(
        error_of("[allow]\ncommands = [\"guest-pnig\"]\n"),
        "p.toml:2:13: error: unknown command \"guest-pnig\" (did you mean \"guest-ping\"?)"
    );
}

#[test]
fn bad_default_and_bad_glob_are_both_reported() {
    let e = error_of("default = \"maybe\"\n[deny]\ncommands = [\"Guest Ping\", \"nothing-*\"]\n");
    let lines: Vec<_> = e.lines().collect();
    assert_eq!(lines.len(), 3, "{e}");
    assert!(lines[0].starts_with("p.toml:1:11: error: expected \"allow\" or \"deny\""));
    assert!(lines[1].starts_with("p.toml:3:13: error: invalid command pattern \"Guest Ping\""));
    assert_eq!(
        lines[2],
        "p.toml:3:27: error: pattern \"nothing-*\" matches no known command"
    );
}

#[test]
fn toml_syntax_error_has_location() {
    let e = error_of("[allow]\ncommands = [\"guest-ping\"\n");
    assert_eq!(e, "p.toml:3:1: error: invalid array: expected `]`");
}

#[test]
fn enabled_flags_follow_table_order() {
    let p = policy("[allow]\ncommands = [\"guest-info\"]\n");
    let flags = p.enabled_flags();
    assert_eq!(flags.len(), COMMANDS.len());
    let on: Vec<_> = COMMANDS
        .iter()
        .zip(&flags)
        .filter(|(_, &f)| f)
        .map(|(c, _)| c.name)
        .collect();
    assert_eq!(on, ["guest-sync-delimited", "guest-sync", "guest-info"]);
}
