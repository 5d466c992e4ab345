//! guest-set-user-password through the real agent and the real chpasswd
//! (with its PAM stack), in a throwaway root: a temporary directory with
//! etc/passwd, etc/shadow, etc/group, the host's PAM configuration for
//! chpasswd and the PAM modules it loads. The agent runs with
//! `--password-root`, so chpasswd works there (`-R`) and the machine's own
//! accounts are never touched.

use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tests::qemu_ga::QemuGa;
use tests::{error_of, Agent, AgentOptions, TempDir};

const POLICY: &str = "[allow]\ncommands = [\"guest-set-user-password\", \"guest-ping\"]\n";
const USER: &str = "qga-test-user";
const SHADOW_BEFORE: &str = "root:*:19000:0:99999:7:::\nqga-test-user:!:19000:0:99999:7:::\n";

/// A root directory chpasswd can work in.
struct PasswordRoot {
    dir: TempDir,
}

impl PasswordRoot {
    fn new() -> PasswordRoot {
        let dir = TempDir::new("password-root");
        let root = &dir.0;
        let etc = root.join("etc");
        std::fs::create_dir_all(etc.join("pam.d")).unwrap();
        std::fs::write(
            etc.join("passwd"),
            format!("root:x:0:0:root:/root:/bin/sh\n{USER}:x:4242:4242::/nonexistent:/bin/sh\n"),
        )
        .unwrap();
        std::fs::write(etc.join("group"), format!("root:x:0:\n{USER}:x:4242:\n")).unwrap();
        std::fs::write(etc.join("shadow"), SHADOW_BEFORE).unwrap();
        std::fs::set_permissions(etc.join("shadow"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        for file in ["chpasswd", "common-password"] {
            std::fs::copy(
                Path::new("/etc/pam.d").join(file),
                etc.join("pam.d").join(file),
            )
            .unwrap_or_else(|e| panic!("/etc/pam.d/{file}: {e}"));
        }
        // libpam loads modules by the path it was built with, inside the root.
        let modules = pam_module_dir();
        let inside = root.join(modules.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        for module in ["pam_unix.so", "pam_deny.so", "pam_permit.so"] {
            std::fs::copy(modules.join(module), inside.join(module)).unwrap();
        }
        PasswordRoot { dir }
    }

    fn path(&self) -> &Path {
        &self.dir.0
    }

    fn shadow(&self) -> String {
        std::fs::read_to_string(self.path().join("etc/shadow")).unwrap()
    }

    fn hash_of(&self, user: &str) -> String {
        self.shadow()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{user}:")))
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_else(|| panic!("no shadow entry for {user}"))
            .to_string()
    }

    fn start_agent(&self, policy: &str) -> Agent {
        Agent::start_with(AgentOptions {
            policy,
            extra_args: vec![format!("--password-root={}", self.path().display())],
        })
    }
}

fn pam_module_dir() -> PathBuf {
    let arch = std::env::consts::ARCH;
    [
        format!("/lib/{arch}-linux-gnu/security"),
        format!("/usr/lib/{arch}-linux-gnu/security"),
        "/lib/security".to_string(),
        "/usr/lib/security".to_string(),
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|d| d.join("pam_unix.so").exists())
    .expect("PAM modules (libpam-modules)")
}

fn set_password(username: &str, password: &[u8], crypted: bool) -> String {
    json!({
        "execute": "guest-set-user-password",
        "arguments": {"username": username, "password": b64(password), "crypted": crypted}
    })
    .to_string()
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What libcrypt computes for `password` with the salt and settings of
/// `hash`: equal to `hash` exactly when `hash` is of `password`.
fn crypt(password: &str, hash: &str) -> String {
    let out = Command::new("perl")
        .args(["-e", "print crypt($ARGV[0], $ARGV[1])", password, hash])
        .output()
        .expect("perl");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_plain_password_is_hashed_into_the_shadow_file() {
    let root = PasswordRoot::new();
    let agent = root.start_agent(POLICY);
    let mut host = agent.connect();
    // A colon is allowed in a password: chpasswd splits at the first one.
    let password = "c0rrect:horse battery";
    let reply = host.request(&set_password(USER, password.as_bytes(), false));
    assert_eq!(reply, json!({"return": {}}));
    let hash = root.hash_of(USER);
    assert!(
        hash.starts_with("$y$") || hash.starts_with("$6$"),
        "PAM hashes with yescrypt or SHA-512: {hash}"
    );
    assert!(!root.shadow().contains(password));
    assert_eq!(
        crypt(password, &hash),
        hash,
        "the hash is of the password sent"
    );
    assert_ne!(crypt("wrong", &hash), hash);
    assert!(
        root.shadow().starts_with("root:*:19000:"),
        "other entries kept"
    );

    let log = agent.log_text();
    assert!(log.contains("password set"), "{log}");
    for secret in [password.to_string(), b64(password.as_bytes())] {
        assert!(!log.contains(&secret), "the password is in the log:\n{log}");
    }
}

#[test]
fn a_crypted_password_is_stored_as_given() {
    let root = PasswordRoot::new();
    let agent = root.start_agent(POLICY);
    let mut host = agent.connect();
    let hash = "$6$qgasalt$0wXvKpI6W1pRj7OQbKl6hM6w8kZ3y9pXq1mUYbq5C0qkP1Yb4X2e8eB5Yy7c1n3Vt0sZx5yQ9a7b3c1d2e4f6.";
    let reply = host.request(&set_password(USER, hash.as_bytes(), true));
    assert_eq!(reply, json!({"return": {}}));
    assert_eq!(root.hash_of(USER), hash);
    assert!(!agent.log_text().contains(hash));
}

#[test]
fn refused_requests_leave_the_account_files_byte_identical() {
    let root = PasswordRoot::new();
    let agent = root.start_agent(POLICY);
    let mut host = agent.connect();
    let files = |root: &PasswordRoot| {
        ["etc/shadow", "etc/passwd", "etc/group"]
            .map(|f| std::fs::read(root.path().join(f)).unwrap())
    };
    let before = files(&root);
    let cases: Vec<(String, &str)> = vec![
        (
            set_password("nobody-here", b"pw", false),
            "child process has failed to set user password",
        ),
        (
            set_password(USER, b"first\nqga-test-user:second", false),
            "forbidden characters in raw password",
        ),
        (
            set_password(USER, b"nul\0byte", false),
            "forbidden characters in raw password",
        ),
        (
            r#"{"execute":"guest-set-user-password","arguments":{"username":"qga-test-user","password":"!!!","crypted":false}}"#.into(),
            "Base64 data contains invalid characters",
        ),
        (
            set_password("root:0", b"pw", false),
            "forbidden characters in username",
        ),
        (
            set_password("qga-test-user\nroot", b"pw", false),
            "forbidden characters in username",
        ),
    ];
    for (request, want) in &cases {
        let reply = host.request(request);
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), want.to_string()),
            "{request}"
        );
        assert_eq!(files(&root), before, "{request}");
    }
    // The connection survives every refusal.
    assert_eq!(
        host.request(r#"{"execute":"guest-ping"}"#),
        json!({"return": {}})
    );
    drop(host);
    drop(agent);

    let denied = root.start_agent("[allow]\ncommands = [\"guest-ping\"]\n");
    let reply = denied.connect().request(&set_password(USER, b"pw", false));
    assert_eq!(
        error_of(&reply),
        (
            "CommandNotFound".into(),
            "Command guest-set-user-password has been disabled".into()
        )
    );
    assert_eq!(files(&root), before);
    assert!(
        !root.path().join("etc/.pwd.lock").exists(),
        "chpasswd never ran"
    );
}

/// The same refusals from Debian's qemu-ga. Every request here fails before
/// qemu-ga changes anything (the account does not exist on this machine).
#[test]
fn errors_match_qemu_ga() {
    let root = PasswordRoot::new();
    let agent = root.start_agent(POLICY);
    let reference = QemuGa::start(&[]);
    let missing = "qga-no-such-account";
    let requests = [
        set_password(missing, b"pw", false),
        set_password(missing, b"pw", true),
        set_password(missing, b"a\nb", false),
        set_password("a:b", b"pw", false),
        set_password("a\nb", b"pw", false),
        r#"{"execute":"guest-set-user-password","arguments":{"username":"x","password":"Y Wjj","crypted":false}}"#.into(),
        r#"{"execute":"guest-set-user-password","arguments":{"username":"x","password":"YWJj"}}"#.into(),
        r#"{"execute":"guest-set-user-password","arguments":{"username":"x","password":"YWJj","crypted":"yes"}}"#.into(),
        r#"{"execute":"guest-set-user-password","arguments":{"username":"x","password":7,"crypted":false}}"#.into(),
    ];
    let mut ours = agent.connect();
    let mut theirs = reference.connect();
    for request in &requests {
        let want: Value = theirs.request(request);
        assert!(want.get("error").is_some(), "{request}: {want}");
        assert_eq!(ours.request(request), want, "{request}");
    }
}
