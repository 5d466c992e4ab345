//! The example policies shipped in examples/policies/, each with a table of
//! host requests and what the policy answers. Read a table as the
//! documentation of its example: what the host asks, whether it is
//! allowed, and (part of) the rule that decides.

use policy::rpc_lists::command_line_origin;
use policy::{Policy, PolicyRequest, RpcLists};
use protocol::commands::{ALWAYS_ENABLED, COMMANDS};
use std::path::Path;

fn example(name: &str) -> Policy {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/policies")
        .join(name);
    let policy = Policy::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let warnings = policy.diagnostics();
    assert!(warnings.is_empty(), "{name} has warnings: {warnings:#?}");
    policy
}

const ALLOW: bool = true;
const DENY: bool = false;

/// Checks each (request, verdict, text the rule contains).
fn expect(policy: &Policy, cases: &[(PolicyRequest, bool, &str)]) {
    for (request, allowed, because) in cases {
        let d = policy.decide(request);
        assert_eq!(d.allowed, *allowed, "{request:?}: {}", d.rule);
        assert!(
            d.rule.contains(because),
            "{request:?}: {} lacks {because}",
            d.rule
        );
    }
}

fn run(command: &str) -> PolicyRequest<'_> {
    PolicyRequest::Other(command)
}

fn open<'a>(path: &'a str, mode: &'a str) -> PolicyRequest<'a> {
    PolicyRequest::FileOpen {
        path: Path::new(path),
        mode,
    }
}

fn mounts<'a>(command: &'a str, mountpoints: &[&'a str]) -> PolicyRequest<'a> {
    PolicyRequest::Mountpoints {
        command,
        mountpoints: mountpoints.iter().map(|m| Path::new(*m)).collect(),
    }
}

fn password(user: &str, crypted: bool) -> PolicyRequest<'_> {
    PolicyRequest::SetUserPassword { user, crypted }
}

fn keys<'a>(command: &'a str, user: &'a str) -> PolicyRequest<'a> {
    PolicyRequest::SshKeys { command, user }
}

#[test]
fn monitoring_reads_state_and_logs_and_changes_nothing() {
    let p = example("monitoring.toml");
    expect(
        &p,
        &[
            (run("guest-ping"), ALLOW, "allow \"guest-ping\""),
            (run("guest-get-vcpus"), ALLOW, "allow \"guest-get-*\""),
            (run("guest-get-fsinfo"), ALLOW, "allow \"guest-get-*\""),
            (run("guest-network-get-interfaces"), ALLOW, "allow"),
            // Logs, read-only.
            (open("/var/log/syslog", "r"), ALLOW, "paths \"/var/log/**\""),
            (open("/var/log/apt/history.log", "rb"), ALLOW, "/var/log/**"),
            (
                open("/var/log/syslog", "w"),
                DENY,
                "mode \"w\" is not allowed",
            ),
            (
                open("/var/log/syslog", "r+"),
                DENY,
                "mode \"r+\" is not allowed",
            ),
            (
                open("/var/log/syslog", "a"),
                DENY,
                "mode \"a\" is not allowed",
            ),
            // Authentication logs stay private.
            (
                open("/var/log/auth.log", "r"),
                DENY,
                "deny-paths \"/var/log/auth.log*\"",
            ),
            (open("/var/log/auth.log.1", "r"), DENY, "deny-paths"),
            (
                open("/var/log/secure", "r"),
                DENY,
                "deny-paths \"/var/log/secure*\"",
            ),
            // Nothing outside /var/log.
            (
                open("/etc/shadow", "r"),
                DENY,
                "no pattern matches \"/etc/shadow\"",
            ),
            (open("/var/lib/secret", "r"), DENY, "no pattern matches"),
            (run("guest-file-read"), ALLOW, "allow \"guest-file-read\""),
            (run("guest-file-write"), DENY, "default = \"deny\""),
            // No changes of any kind.
            (run("guest-set-time"), DENY, "default = \"deny\""),
            (run("guest-shutdown"), DENY, "default = \"deny\""),
            (run("guest-fsfreeze-freeze"), DENY, "default = \"deny\""),
            (password("root", false), DENY, "default = \"deny\""),
            (
                keys("guest-ssh-get-authorized-keys", "root"),
                DENY,
                "default",
            ),
            (run("guest-exec"), DENY, "default = \"deny\""),
        ],
    );
}

#[test]
fn backup_freezes_thaws_lists_and_trims_only() {
    let p = example("backup.toml");
    expect(
        &p,
        &[
            (run("guest-fsfreeze-status"), ALLOW, "allow"),
            (run("guest-fsfreeze-thaw"), ALLOW, "allow"),
            (run("guest-get-fsinfo"), ALLOW, "allow"),
            // A listed freeze: data filesystems only.
            (
                mounts("guest-fsfreeze-freeze-list", &["/", "/srv/db"]),
                ALLOW,
                "mountpoints \"/srv/**\"",
            ),
            (
                mounts("guest-fsfreeze-freeze-list", &["/", "/boot/efi"]),
                DENY,
                "deny-mountpoints \"/boot/efi\"",
            ),
            (
                mounts("guest-fsfreeze-freeze-list", &["/mnt/usb"]),
                DENY,
                "no pattern matches \"/mnt/usb\"",
            ),
            // Freeze everything: each filesystem is checked, the EFI
            // partition skipped.
            (
                mounts("guest-fsfreeze-freeze", &["/mnt/usb"]),
                ALLOW,
                "allow",
            ),
            (
                mounts("guest-fsfreeze-freeze", &["/boot/efi"]),
                DENY,
                "deny-mountpoints",
            ),
            // Trim: the large data filesystems.
            (mounts("guest-fstrim", &["/srv/data"]), ALLOW, "/srv/**"),
            (
                mounts("guest-fstrim", &["/boot"]),
                DENY,
                "no pattern matches \"/boot\"",
            ),
            // Nothing else.
            (run("guest-get-time"), DENY, "default = \"deny\""),
            (open("/etc/fstab", "r"), DENY, "default = \"deny\""),
            (run("guest-shutdown"), DENY, "default = \"deny\""),
            (run("guest-exec"), DENY, "default = \"deny\""),
        ],
    );
}

#[test]
fn cloud_provisioning_sets_one_users_password_and_keys() {
    let p = example("cloud-provisioning.toml");
    expect(
        &p,
        &[
            (run("guest-get-osinfo"), ALLOW, "allow"),
            (password("cloud-user", false), ALLOW, "users \"cloud-user\""),
            (
                password("cloud-user", true),
                DENY,
                "pre-hashed (crypted) passwords",
            ),
            (password("root", false), DENY, "no pattern matches \"root\""),
            (
                keys("guest-ssh-add-authorized-keys", "cloud-user"),
                ALLOW,
                "users",
            ),
            (
                keys("guest-ssh-add-authorized-keys", "root"),
                DENY,
                "no pattern matches \"root\"",
            ),
            (
                keys("guest-ssh-get-authorized-keys", "admin"),
                DENY,
                "no pattern matches",
            ),
            (
                keys("guest-ssh-remove-authorized-keys", "cloud-user"),
                ALLOW,
                "users",
            ),
            (
                open("/home/cloud-user/.ssh/authorized_keys", "w"),
                DENY,
                "default = \"deny\"",
            ),
            (run("guest-exec"), DENY, "default = \"deny\""),
            (run("guest-shutdown"), DENY, "default = \"deny\""),
        ],
    );
}

/// Fedora's and RHEL's list, as their sysconfig file passes it to qemu-ga.
const DISTRO_BLOCK_LIST: &str = "guest-file-open,guest-file-close,guest-file-read,\
    guest-file-write,guest-file-seek,guest-file-flush,guest-exec,guest-exec-status";

#[test]
fn distro_default_blocks_files_and_exec_and_allows_the_rest() {
    let p = example("distro-default.toml");
    expect(
        &p,
        &[
            (run("guest-shutdown"), ALLOW, "default = \"allow\""),
            (run("guest-fsfreeze-freeze"), ALLOW, "default = \"allow\""),
            // No argument rules: the host may set any user's password.
            (password("root", true), ALLOW, "default = \"allow\""),
            (open("/etc/shadow", "r"), DENY, "deny \"guest-file-open\""),
            (run("guest-file-read"), DENY, "deny \"guest-file-read\""),
            (run("guest-exec-status"), DENY, "deny \"guest-exec-status\""),
        ],
    );
}

#[test]
fn distro_default_means_what_qemu_ga_with_the_distro_block_list_means() {
    let policy = example("distro-default.toml");
    let mut lists = RpcLists::default();
    lists.add_block(DISTRO_BLOCK_LIST, &command_line_origin("-b/--block-rpcs"));
    let qemu_ga_style = Policy::parse("default = \"allow\"\n", "allow-all.toml")
        .unwrap()
        .with_rpc_lists(lists);
    for c in COMMANDS {
        let blocked = DISTRO_BLOCK_LIST.split(',').any(|b| b == c.name);
        let want = !blocked || ALWAYS_ENABLED.contains(&c.name);
        // guest-exec needs a program list in any policy; blocked anyway.
        assert_eq!(policy.decide_command(c.name).allowed, want, "{}", c.name);
        assert_eq!(
            qemu_ga_style.decide_command(c.name).allowed,
            want,
            "{}",
            c.name
        );
    }
}
