//! The shipped confinement: the AppArmor profiles parse with the real
//! parser, the SELinux module compiles and packages with the real tools, and
//! every place that lists the helper's capabilities agrees with the table in
//! the helper's code.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is the package installed? see .ci/run)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

#[test]
fn apparmor_profiles_parse() {
    let dir = repo().join("dist/apparmor");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        run(Command::new("apparmor_parser")
            .args(["-Q", "-K", "-T"])
            .arg(entry.path()));
        seen += 1;
    }
    assert!(seen >= 1);
}

#[test]
fn apparmor_parser_rejects_a_broken_profile() {
    // Proves the check above can fail.
    let dir = tests::TempDir::new("aa");
    let bad = dir.0.join("bad");
    std::fs::write(&bad, "profile broken { /x rw, garbage }\n").unwrap();
    let out = Command::new("apparmor_parser")
        .args(["-Q", "-K", "-T"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn selinux_module_compiles_and_packages() {
    let src = repo().join("dist/selinux");
    let out = tests::TempDir::new("selinux");
    let module = out.0.join("qga_privsep.mod");
    let package = out.0.join("qga_privsep.pp");
    run(Command::new("checkmodule")
        .args(["-M", "-m", "-o"])
        .arg(&module)
        .arg(src.join("qga_privsep.te")));
    run(Command::new("semodule_package")
        .arg("-o")
        .arg(&package)
        .arg("-m")
        .arg(&module)
        .arg("-f")
        .arg(src.join("qga_privsep.fc")));
    assert!(std::fs::metadata(&package).unwrap().len() > 0);
}

/// Capability names (lower case, without the CAP_ prefix) a text mentions
/// in the given style.
fn caps_in(text: &str, prefix: &str, suffix_chars: &[char]) -> BTreeSet<String> {
    text.split(prefix)
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after = rest[name.len()..].chars().next();
            (!name.is_empty() && after.is_some_and(|c| suffix_chars.contains(&c)))
                .then(|| name.to_lowercase())
        })
        .collect()
}

#[test]
fn capability_lists_agree_with_the_helper() {
    let source = std::fs::read_to_string(repo().join("agent-helper/src/privileges.rs")).unwrap();
    let table = source
        .split("pub const KEPT_CAPABILITIES")
        .nth(1)
        .and_then(|rest| rest.split("];").next())
        .expect("KEPT_CAPABILITIES table");
    let kept = caps_in(table, "Capability::CAP_", &[',']);
    assert!(kept.contains("sys_admin") && kept.len() >= 5, "{kept:?}");

    let unit = std::fs::read_to_string(repo().join("dist/systemd/qga-privsep.service")).unwrap();
    let bounding_line: String = unit
        .split("CapabilityBoundingSet=")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .split('\n')
        .take_while(|l| !l.contains('='))
        .collect::<Vec<_>>()
        .join(" ");
    let unit_caps = caps_in(&format!(" {bounding_line} "), "CAP_", &[' ', '\\']);
    assert_eq!(unit_caps, kept, "systemd CapabilityBoundingSet");

    let aa = std::fs::read_to_string(repo().join("dist/apparmor/usr.sbin.agent-helper")).unwrap();
    let helper_profile = aa.split("profile agent-front").next().unwrap();
    assert_eq!(
        caps_in(helper_profile, "capability ", &[',']),
        kept,
        "AppArmor helper profile"
    );

    let te = std::fs::read_to_string(repo().join("dist/selinux/qga_privsep.te")).unwrap();
    let line = te
        .lines()
        .find(|l| l.starts_with("allow qga_helper_t self:capability"))
        .unwrap();
    let listed: BTreeSet<String> = line
        .split(['{', '}'])
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    assert_eq!(listed, kept, "SELinux helper capabilities");
}
