use super::*;
use std::path::Path;

fn policy(text: &str) -> Policy {
    Policy::parse(text, "p.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn error_of(text: &str) -> String {
    Policy::parse(text, "p.toml").unwrap_err().to_string()
}

/// Runs a table of (request, allowed, text the rule must contain).
fn check(p: &Policy, cases: &[(PolicyRequest, bool, &str)]) {
    for (request, allowed, rule) in cases {
        let d = p.decide(request);
        assert_eq!(d.allowed, *allowed, "{request:?}: {}", d.rule);
        assert!(
            d.rule.contains(rule),
            "{request:?}: rule {:?} lacks {rule:?}",
            d.rule
        );
    }
}

#[test]
fn empty_file_denies_everything_but_sync() {
    let p = policy("");
    for c in COMMANDS {
        let want = ALWAYS_ENABLED.contains(&c.name);
        assert_eq!(p.decide_command(c.name).allowed, want, "{}", c.name);
        assert_eq!(p.decide(&PolicyRequest::Other(c.name)).allowed, want);
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
        ("guest-nope", false, "unknown command"),
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
        "p.toml:3:1: error: unknown key `comands` in [allow] (did you mean `commands`?); \
         expected `commands`"
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
fn inline_tables_and_dotted_keys_are_the_same_policy() {
    let a = policy("[rules.guest-file-open]\npaths = [\"/srv/**\"]\n[allow]\ncommands = [\"guest-file-open\"]\n");
    let b = policy("allow.commands = [\"guest-file-open\"]\nrules = { guest-file-open = { paths = [\"/srv/**\"] } }\n");
    for p in [a, b] {
        let open = |path: &'static str| PolicyRequest::FileOpen {
            path: Path::new(path),
            mode: "r",
        };
        assert!(p.decide(&open("/srv/x")).allowed);
        assert!(!p.decide(&open("/etc/x")).allowed);
    }
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

const FILES: &str = r#"
[allow]
commands = ["guest-file-*"]

[rules.guest-file-open]
paths = ["/var/log/**", "/srv/export/*.csv"]
deny-paths = ["/var/log/secure*", "/var/log/**/private/**"]
modes = ["r", "a"]
"#;

#[test]
fn file_open_rules_table() {
    let p = policy(FILES);
    let open = |path: &'static str, mode: &'static str| PolicyRequest::FileOpen {
        path: Path::new(path),
        mode,
    };
    check(
        &p,
        &[
            (
                open("/var/log/syslog", "r"),
                true,
                "paths \"/var/log/**\" at p.toml:6:10 matches \"/var/log/syslog\"",
            ),
            (open("/var/log/apt/history.log", "rb"), true, "/var/log/**"),
            (
                open("/var/log/syslog", "a+"),
                false,
                "mode \"a+\" is not allowed",
            ),
            (open("/var/log/syslog", "w"), false, "modes at p.toml:8:1"),
            (open("/var/log/syslog", "ab"), true, "/var/log/**"),
            (
                open("/var/log/secure.1", "r"),
                false,
                "deny-paths \"/var/log/secure*\" at p.toml:7:15 matches \"/var/log/secure.1\"",
            ),
            (
                open("/var/log/app/private/key", "r"),
                false,
                "deny-paths \"/var/log/**/private/**\"",
            ),
            (open("/srv/export/a.csv", "r"), true, "/srv/export/*.csv"),
            (
                open("/srv/export/sub/a.csv", "r"),
                false,
                "no pattern matches",
            ),
            (
                open("/etc/shadow", "r"),
                false,
                "[rules.guest-file-open] paths at p.toml:6:1: no pattern matches \"/etc/shadow\"",
            ),
            // Only resolved paths are judged; anything else is refused.
            (
                open("/var/log/../../etc/shadow", "r"),
                false,
                "not a resolved absolute path",
            ),
            (open("var/log/syslog", "r"), false, "not a resolved"),
            // Without the arguments, the rules cannot be checked.
            (
                PolicyRequest::Other("guest-file-open"),
                false,
                "needs the request's arguments",
            ),
            // The other file commands have no rules: the command rule decides.
            (
                PolicyRequest::Other("guest-file-read"),
                true,
                "allow \"guest-file-*\"",
            ),
        ],
    );
}

#[test]
fn a_command_without_rules_takes_any_arguments() {
    let p = policy("[allow]\ncommands = [\"guest-file-open\", \"guest-shutdown\"]\n");
    check(
        &p,
        &[
            (
                PolicyRequest::FileOpen {
                    path: Path::new("/etc/shadow"),
                    mode: "w",
                },
                true,
                "allow \"guest-file-open\"",
            ),
            (
                PolicyRequest::Other("guest-shutdown"),
                true,
                "allow \"guest-shutdown\"",
            ),
        ],
    );
}

#[test]
fn password_rules_table() {
    let p = policy(
        r#"
[allow]
commands = ["guest-set-user-password"]
[rules.guest-set-user-password]
users = ["cloud-*", "admin"]
deny-users = ["cloud-root"]
crypted = false
"#,
    );
    let set = |user: &'static str, crypted| PolicyRequest::SetUserPassword { user, crypted };
    check(
        &p,
        &[
            (set("cloud-user", false), true, "users \"cloud-*\""),
            (set("admin", false), true, "users \"admin\""),
            (set("cloud-root", false), false, "deny-users \"cloud-root\""),
            (set("root", false), false, "no pattern matches \"root\""),
            (
                set("cloud-user", true),
                false,
                "pre-hashed (crypted) passwords are not accepted",
            ),
        ],
    );
}

#[test]
fn ssh_key_rules_table() {
    let p = policy(
        r#"
[allow]
commands = ["guest-ssh-*"]
[rules.guest-ssh-add-authorized-keys]
users = ["cloud-user"]
[rules.guest-ssh-remove-authorized-keys]
deny-users = ["root"]
"#,
    );
    let keys = |command: &'static str, user: &'static str| PolicyRequest::SshKeys { command, user };
    check(
        &p,
        &[
            (
                keys("guest-ssh-add-authorized-keys", "cloud-user"),
                true,
                "users \"cloud-user\"",
            ),
            (
                keys("guest-ssh-add-authorized-keys", "root"),
                false,
                "no pattern matches \"root\"",
            ),
            (
                keys("guest-ssh-remove-authorized-keys", "root"),
                false,
                "deny-users \"root\"",
            ),
            (
                keys("guest-ssh-remove-authorized-keys", "ann"),
                true,
                "allow \"guest-ssh-*\"",
            ),
            // No rules for reading keys: any user.
            (keys("guest-ssh-get-authorized-keys", "root"), true, "allow"),
            (
                keys("guest-file-open", "root"),
                false,
                "does not manage authorized keys",
            ),
        ],
    );
}

#[test]
fn mountpoint_rules_table() {
    let p = policy(
        r#"
[allow]
commands = ["guest-fsfreeze-*", "guest-fstrim", "guest-ping"]
[rules.guest-fsfreeze-freeze-list]
mountpoints = ["/", "/srv/**"]
deny-mountpoints = ["/srv/scratch"]
[rules.guest-fstrim]
mountpoints = ["/data"]
"#,
    );
    let list = |mountpoints: Vec<&'static str>| PolicyRequest::Mountpoints {
        command: "guest-fsfreeze-freeze-list",
        mountpoints: mountpoints.into_iter().map(Path::new).collect(),
    };
    let trim = |m: &'static str| PolicyRequest::Mountpoints {
        command: "guest-fstrim",
        mountpoints: vec![Path::new(m)],
    };
    check(
        &p,
        &[
            (list(vec!["/", "/srv/db"]), true, "mountpoints \"/\""),
            (
                list(vec!["/", "/home"]),
                false,
                "no pattern matches \"/home\"",
            ),
            (list(vec!["/srv/scratch"]), false, "deny-mountpoints"),
            (list(vec![]), true, "allow \"guest-fsfreeze-*\""),
            (trim("/data"), true, "mountpoints \"/data\""),
            (trim("/"), false, "no pattern matches \"/\""),
            // freeze-all has no rules table: every filesystem.
            (
                PolicyRequest::Mountpoints {
                    command: "guest-fsfreeze-freeze",
                    mountpoints: vec![Path::new("/home")],
                },
                true,
                "allow \"guest-fsfreeze-*\"",
            ),
            // A view that does not fit its command is refused.
            (
                PolicyRequest::Mountpoints {
                    command: "guest-ping",
                    mountpoints: vec![],
                },
                false,
                "does not take mountpoints",
            ),
        ],
    );
}

#[test]
fn cpu_memory_and_shutdown_rules_table() {
    let p = policy(
        r#"
[allow]
commands = ["guest-set-vcpus", "guest-set-memory-blocks", "guest-shutdown"]
[rules.guest-set-vcpus]
min-online = 2
[rules.guest-set-memory-blocks]
offline = false
[rules.guest-shutdown]
modes = ["reboot", "powerdown"]
"#,
    );
    let vcpus = |offlining, online_after| PolicyRequest::SetVcpus {
        offlining,
        online_after,
    };
    check(
        &p,
        &[
            (vcpus(false, 4), true, "allow \"guest-set-vcpus\""),
            (vcpus(true, 2), true, "allow"),
            (
                vcpus(true, 1),
                false,
                "1 vCPUs would be online, fewer than 2",
            ),
            (
                PolicyRequest::SetMemoryBlocks { offlining: true },
                false,
                "memory blocks may not be taken offline",
            ),
            (
                PolicyRequest::SetMemoryBlocks { offlining: false },
                true,
                "allow",
            ),
            (PolicyRequest::Shutdown { mode: "reboot" }, true, "allow"),
            (
                PolicyRequest::Shutdown { mode: "halt" },
                false,
                "mode \"halt\" is not allowed (allowed: \"reboot\", \"powerdown\")",
            ),
        ],
    );
    let no_offline = policy(
        "[allow]\ncommands = [\"guest-set-vcpus\"]\n[rules.guest-set-vcpus]\noffline = false\n",
    );
    check(
        &no_offline,
        &[
            (vcpus(true, 7), false, "vCPUs may not be taken offline"),
            (vcpus(false, 8), true, "allow"),
        ],
    );
}

#[test]
fn exec_is_refused_unless_programs_are_named() {
    let bare = policy("[allow]\ncommands = [\"guest-exec\", \"guest-exec-status\"]\n");
    let run = |path: &'static str| PolicyRequest::Exec {
        path: Path::new(path),
    };
    assert!(!bare.decide_command("guest-exec").allowed);
    assert!(bare.decide_command("guest-exec-status").allowed);
    check(
        &bare,
        &[(
            run("/usr/bin/uptime"),
            false,
            "guest-exec runs programs: refused unless [rules.guest-exec] programs names them",
        )],
    );
    let named = policy(
        r#"
[allow]
commands = ["guest-exec"]
[rules.guest-exec]
programs = ["/usr/bin/uptime", "/usr/lib/backup/*"]
deny-programs = ["/usr/lib/backup/restore"]
"#,
    );
    assert!(named.decide_command("guest-exec").allowed);
    check(
        &named,
        &[
            (run("/usr/bin/uptime"), true, "programs \"/usr/bin/uptime\""),
            (run("/usr/lib/backup/run"), true, "/usr/lib/backup/*"),
            (run("/usr/lib/backup/restore"), false, "deny-programs"),
            (run("/bin/sh"), false, "no pattern matches \"/bin/sh\""),
            (run("uptime"), false, "not a resolved absolute path"),
            (
                PolicyRequest::Other("guest-exec"),
                false,
                "needs the request's arguments",
            ),
        ],
    );
}

fn lists(block: &str, allow: Option<&str>) -> RpcLists {
    let mut lists = RpcLists::default();
    if !block.is_empty() {
        lists.add_block(block, &rpc_lists::command_line_origin("-b/--block-rpcs"));
    }
    if let Some(allow) = allow {
        lists.add_allow(allow, &rpc_lists::command_line_origin("-a/--allow-rpcs"));
    }
    lists
}

#[test]
fn qemu_ga_lists_can_only_take_commands_away() {
    let p =
        policy("default = \"allow\"\n[deny]\ncommands = [\"guest-exec\"]\n").with_rpc_lists(lists(
            "guest-file-open,guest-sync",
            Some("guest-ping,guest-info;guest-file-open, guest-exec"),
        ));
    let cases = [
        ("guest-ping", true, "default = \"allow\""),
        ("guest-info", true, "default = \"allow\""),
        // The block list wins over the allow list.
        (
            "guest-file-open",
            false,
            "block-rpcs \"guest-file-open\" from -b/--block-rpcs",
        ),
        // The allow list does not override the policy's deny.
        ("guest-exec", false, "deny \"guest-exec\""),
        (
            "guest-get-time",
            false,
            "allow-rpcs from -a/--allow-rpcs does not name it",
        ),
        // Protocol synchronisation cannot be blocked.
        ("guest-sync", true, "built-in"),
        ("guest-sync-delimited", true, "built-in"),
    ];
    for (name, allowed, rule) in cases {
        let d = p.decide_command(name);
        assert_eq!(d.allowed, allowed, "{name}: {}", d.rule);
        assert!(d.rule.contains(rule), "{name}: {}", d.rule);
    }
    let warnings: Vec<String> = p.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "-b/--block-rpcs: warning: \"guest-sync\" in block-rpcs stays enabled: protocol \
             synchronisation is always enabled"
        ]
    );
}

#[test]
fn unknown_names_in_qemu_ga_lists_are_warnings_with_a_suggestion() {
    let p = Policy::deny_all().with_rpc_lists(lists("guest-exce,guest-frobnicate", Some("")));
    let warnings: Vec<String> = p.diagnostics().iter().map(|d| d.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "-b/--block-rpcs: warning: unknown command \"guest-exce\" in block-rpcs (did you mean \
             \"guest-exec\"?), ignored",
            "-b/--block-rpcs: warning: unknown command \"guest-frobnicate\" in block-rpcs, ignored",
            "allow-rpcs: warning: allow-rpcs is empty: every command but guest-sync and \
             guest-sync-delimited is refused",
        ]
    );
}

#[test]
fn rules_for_a_command_denied_anyway_are_a_warning_even_when_blocked_by_a_list() {
    let text =
        "[allow]\ncommands = [\"guest-file-open\"]\n[rules.guest-file-open]\nmodes = [\"r\"]\n";
    assert!(policy(text).diagnostics().is_empty());
    let blocked = policy(text).with_rpc_lists(lists("guest-file-open", None));
    let warnings: Vec<String> = blocked
        .diagnostics()
        .iter()
        .map(|d| d.to_string())
        .collect();
    assert_eq!(
        warnings,
        ["p.toml:3:8: warning: [rules.guest-file-open] never applies: guest-file-open is denied \
          by block-rpcs \"guest-file-open\" from -b/--block-rpcs"]
    );
}

#[test]
fn effective_table_shows_verdicts_rules_and_limits() {
    let table = report::effective_table(&policy(FILES));
    let lines: Vec<&str> = table.lines().collect();
    let row = |name: &str| {
        let i = lines
            .iter()
            .position(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{table}"));
        (lines[i], &lines[i + 1..])
    };
    let (open, after) = row("guest-file-open");
    assert!(
        open.contains("allow    allow \"guest-file-*\" at p.toml:3:13"),
        "{open}"
    );
    assert_eq!(
        after[0].trim(),
        "paths: \"/var/log/**\", \"/srv/export/*.csv\""
    );
    assert_eq!(
        after[1].trim(),
        "deny-paths: \"/var/log/secure*\", \"/var/log/**/private/**\""
    );
    assert_eq!(after[2].trim(), "modes: \"r\", \"a\"");
    let (shutdown, _) = row("guest-shutdown");
    assert!(
        shutdown.contains("deny     default = \"deny\" (built-in)"),
        "{shutdown}"
    );
    let (sync, _) = row("guest-sync");
    assert!(sync.contains("allow    built-in"), "{sync}");
    assert!(lines[0].starts_with("command "));
}

#[test]
fn check_report_counts_problems() {
    let bad = Policy::parse("[allow]\ncommands = [\"guest-pnig\"]\n", "p.toml");
    let report = CheckReport::new("p.toml", &bad);
    assert!(!report.valid);
    assert_eq!(report.verdict, "p.toml: invalid (1 error)");
    assert!(report.table.is_none());
    let good = Policy::parse(FILES, "p.toml");
    let report = CheckReport::new("p.toml", &good);
    assert!(report.valid);
    assert_eq!(report.verdict, "p.toml: valid");
    assert!(report.to_string().contains("guest-file-open"));
}
