//! The system information commands and the ssh authorized_keys commands,
//! through the real agent, each compared with Debian's qemu-ga on the same
//! machine where qemu-ga 7.2 has the command: the same request to both, the
//! reply lines compared byte for byte.

use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tests::qemu_ga::QemuGa;
use tests::{error_of, Agent, AgentOptions, Client, TempDir};

const ALLOW_ALL: &str = "default = \"allow\"\n";

fn start_ours(env: &[(&str, &str)]) -> Agent {
    Agent::start_with_env(
        AgentOptions {
            policy: ALLOW_ALL,
            extra_args: Vec::new(),
        },
        env,
    )
}

/// One request, its reply line as text.
fn line(client: &mut Client, request: &str) -> String {
    client.send(request.as_bytes());
    String::from_utf8(client.recv_line()).expect("replies are ASCII")
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Asserts both agents give the same reply line to each request.
fn same_replies(ours: &mut Client, theirs: &mut Client, requests: &[&str]) {
    for request in requests {
        let expected = line(theirs, request);
        let got = line(ours, request);
        assert_eq!(got, expected, "reply to {request}");
    }
}

// ---- host name and os-release -----------------------------------------------

#[test]
fn osinfo_and_host_name_match_qemu_ga() {
    let agent = start_ours(&[]);
    let reference = QemuGa::start(&[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    same_replies(
        &mut ours,
        &mut theirs,
        &[
            r#"{"execute":"guest-get-osinfo"}"#,
            r#"{"execute":"guest-get-host-name","id":7}"#,
            r#"{"execute":"guest-get-osinfo","arguments":{"x":1}}"#,
        ],
    );
    let info = json_of(&line(&mut ours, r#"{"execute":"guest-get-osinfo"}"#));
    let uname = Command::new("uname").arg("-r").output().unwrap();
    assert_eq!(
        info["return"]["kernel-release"],
        String::from_utf8_lossy(&uname.stdout).trim()
    );
    let host = json_of(&line(&mut ours, r#"{"execute":"guest-get-host-name"}"#));
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(host["return"]["host-name"], hostname.trim());
}

fn set_host_name(name: &str) {
    // SAFETY: sethostname reads len bytes from a valid buffer.
    let r = unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) };
    assert_eq!(r, 0, "sethostname: {}", std::io::Error::last_os_error());
}

/// The test's own UTS namespace (entered on a thread of its own, which the
/// agents it starts inherit) lets it rename the machine: both agents report
/// the name as it is at the time of the request, and qemu-ga's error for a
/// name of 64 characters, which does not fit its buffer.
#[test]
fn host_name_follows_renames_like_qemu_ga() {
    std::thread::spawn(|| {
        // SAFETY: unshare affects this thread and the processes it starts.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWUTS) }, 0);
        set_host_name("qga-parity-test");
        let agent = start_ours(&[]);
        let reference = QemuGa::start(&[]);
        let (mut ours, mut theirs) = (agent.connect(), reference.connect());
        let request = r#"{"execute":"guest-get-host-name"}"#;
        for name in [
            "qga-parity-test",
            "renamed",
            &"h".repeat(63),
            &"h".repeat(64),
        ] {
            set_host_name(name);
            same_replies(&mut ours, &mut theirs, &[request]);
        }
        set_host_name("renamed");
        assert_eq!(
            json_of(&line(&mut ours, request)),
            json!({"return": {"host-name": "renamed"}})
        );
        set_host_name(&"h".repeat(64));
        assert_eq!(
            error_of(&json_of(&line(&mut ours, request))).1,
            "cannot get hostname: File name too long"
        );
    })
    .join()
    .unwrap();
}

/// os-release texts that exercise qemu-ga's reading: GLib's key-file rules
/// (comments, groups, duplicate keys, what makes a file unusable) and
/// qemu-ga's unquoting (single quotes kept, escapes, an unterminated quote).
const OS_RELEASE_CASES: &[&[u8]] = &[
    b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n\
      VERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
    b"# comment\n  ID=fedora\nNAME='Fedora Linux'\nVERSION=\"39 (Cloud \\\"Edition\\\" \\$x \\\\ \\n)\"\n\
      VARIANT=\"Cloud Edition\"\nVARIANT_ID=cloud;more words\nVERSION_ID=39\t\nPRETTY_NAME=\"unterminated\n",
    b"ID=a\r\nID=b\r\nNAME = spaced value \r\n\n[Other]\nVERSION=other\n[os-release]\nVARIANT_ID=back\n",
    b"ID=x\nthis line is not a key\n",
    b"ID=x\nNAME=\xff\xfe\n",
    b"ID=x\nNAME=cut\0ID=y\n",
    b"NAME[de]=Deutsch\nID=localized\n",
    b"Encoding=latin1\nID=x\n",
    b"ID=\nNAME=\"\"\nVERSION=\"\n",
    b"",
];

#[test]
fn osinfo_reads_os_release_as_qemu_ga_does() {
    let dir = TempDir::new("os-release");
    let file = dir.0.join("os-release");
    let path = file.to_str().unwrap();
    // qemu-ga reads QGA_OS_RELEASE instead of /etc/os-release when it is
    // set; so does the agent, and /etc stays untouched.
    let agent = start_ours(&[("QGA_OS_RELEASE", path)]);
    let reference = QemuGa::start_with_env(&[], &[("QGA_OS_RELEASE", path)]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let request = r#"{"execute":"guest-get-osinfo"}"#;
    for case in OS_RELEASE_CASES {
        std::fs::write(&file, case).unwrap();
        let expected = line(&mut theirs, request);
        assert_eq!(
            line(&mut ours, request),
            expected,
            "os-release {:?}",
            String::from_utf8_lossy(case)
        );
    }
    // The first case, field by field.
    std::fs::write(&file, OS_RELEASE_CASES[0]).unwrap();
    let info = &json_of(&line(&mut ours, request))["return"];
    assert_eq!(info["id"], "debian");
    assert_eq!(info["pretty-name"], "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(info["version"], "12 (bookworm)");
    assert_eq!(info["version-id"], "12");
    assert!(info.get("variant").is_none());
    // No file at all: only the kernel's fields.
    std::fs::remove_file(&file).unwrap();
    let expected = line(&mut theirs, request);
    let got = line(&mut ours, request);
    assert_eq!(got, expected);
    assert_eq!(members(&json_of(&got)["return"]).len(), 3, "{got}");
}

// ---- time zone --------------------------------------------------------------

#[test]
fn timezone_matches_qemu_ga() {
    // POSIX rules need no tzdata; a zoneinfo name is added when installed.
    let mut zones: Vec<Option<&str>> = vec![
        None,
        Some("JST-9"),
        Some("<+0530>-5:30"),
        Some("NST+3:30NDT,M3.2.0,M11.1.0"),
        Some("CET-1CEST,M3.5.0,M10.5.0/3"),
        Some("+05:30"),
        Some("garbage123"),
        Some("XYZ5ABC"),
        Some("UTC"),
    ];
    if Path::new("/usr/share/zoneinfo/America/St_Johns").exists() {
        zones.push(Some("America/St_Johns"));
        zones.push(Some(":Europe/Paris"));
    }
    let request = r#"{"execute":"guest-get-timezone"}"#;
    for tz in zones {
        let env: Vec<(&str, &str)> = tz.map(|z| ("TZ", z)).into_iter().collect();
        let agent = start_ours(&env);
        let reference = QemuGa::start_with_env(&[], &env);
        let expected = line(&mut reference.connect(), request);
        let got = line(&mut agent.connect(), request);
        assert_eq!(got, expected, "TZ={tz:?}");
        if tz == Some("JST-9") {
            assert_eq!(
                json_of(&got),
                json!({"return": {"zone": "JST", "offset": 32400}})
            );
        }
        if tz == Some("+05:30") {
            assert_eq!(
                json_of(&got),
                json!({"return": {"zone": "+05:30", "offset": 19800}})
            );
        }
    }
}

// ---- logged-in users --------------------------------------------------------

const UTMP: &str = "/var/run/utmp";

/// Login records the test writes into the real utmp file with the C
/// library's pututxline(), as login programs do; they are marked dead (or
/// the file removed, if the test created it) when the test ends, even on
/// failure.
struct UtmpRecords {
    created_file: bool,
    ids: Vec<[libc::c_char; 4]>,
}

fn c_chars<const N: usize>(s: &str) -> [libc::c_char; N] {
    let mut out = [0 as libc::c_char; N];
    for (dst, &b) in out.iter_mut().zip(s.as_bytes()) {
        *dst = b as libc::c_char;
    }
    out
}

impl UtmpRecords {
    fn new() -> UtmpRecords {
        let created_file = !Path::new(UTMP).exists();
        if created_file {
            std::fs::write(UTMP, b"").unwrap();
            std::fs::set_permissions(UTMP, std::fs::Permissions::from_mode(0o664)).unwrap();
        }
        UtmpRecords {
            created_file,
            ids: Vec::new(),
        }
    }

    fn put(&mut self, kind: libc::c_short, user: &str, host: &str, sec: i64, usec: i64) {
        let n = self.ids.len();
        let id: [libc::c_char; 4] =
            c_chars(&format!("q{:03}", (std::process::id() as usize + n) % 1000));
        // SAFETY: utmpx is plain old data; all zeroes is a valid value.
        let mut u: libc::utmpx = unsafe { std::mem::zeroed() };
        u.ut_type = kind;
        u.ut_pid = std::process::id() as libc::pid_t;
        u.ut_id = id;
        u.ut_line = c_chars(&format!("qgatest/{}/{n}", std::process::id()));
        u.ut_user = c_chars(user);
        u.ut_host = c_chars(host);
        u.ut_tv.tv_sec = sec as _;
        u.ut_tv.tv_usec = usec as _;
        // SAFETY: the C library's utmp functions with a valid record.
        let written = unsafe {
            libc::setutxent();
            let r = libc::pututxline(&u);
            libc::endutxent();
            r
        };
        assert!(!written.is_null(), "pututxline failed");
        self.ids.push(id);
    }
}

impl Drop for UtmpRecords {
    fn drop(&mut self) {
        if self.created_file {
            let _ = std::fs::remove_file(UTMP);
            return;
        }
        for (n, id) in self.ids.iter().enumerate() {
            // SAFETY: as in put(): a logout record for the same id and line.
            unsafe {
                let mut u: libc::utmpx = std::mem::zeroed();
                u.ut_type = libc::DEAD_PROCESS;
                u.ut_id = *id;
                u.ut_line = c_chars(&format!("qgatest/{}/{n}", std::process::id()));
                libc::setutxent();
                libc::pututxline(&u);
                libc::endutxent();
            }
        }
    }
}

#[test]
fn users_come_from_utmp_as_qemu_ga_reports_them() {
    let pid = std::process::id();
    let alice = format!("qa{pid}");
    let bob = format!("qb{pid}");
    // A name that fills ut_user has no NUL: qemu-ga's copy runs on into
    // ut_host, and so must ours.
    let long = format!("{:q<32}", format!("ql{pid}"));
    let mut utmp = UtmpRecords::new();
    utmp.put(libc::USER_PROCESS, &alice, "", 1_700_000_000, 123_456);
    utmp.put(libc::LOGIN_PROCESS, "LOGIN", "", 1_600_000_000, 0);
    utmp.put(libc::USER_PROCESS, &bob, "", 1_700_000_001, 999_999);
    utmp.put(libc::USER_PROCESS, &alice, "", 1_690_000_000, 500_000);
    utmp.put(
        libc::DEAD_PROCESS,
        &format!("qc{pid}"),
        "",
        1_500_000_000,
        0,
    );
    utmp.put(libc::USER_PROCESS, &long, "runon", 1_700_000_002, 1);

    let agent = start_ours(&[]);
    let reference = QemuGa::start(&[]);
    let request = r#"{"execute":"guest-get-users"}"#;
    let expected = line(&mut reference.connect(), request);
    let got = line(&mut agent.connect(), request);
    // Byte for byte: the same users, order, and login times printed as
    // C's %.17g.
    assert_eq!(got, expected);

    let users = json_of(&got)["return"].as_array().unwrap().clone();
    let mine: Vec<&Value> = users
        .iter()
        .filter(|u| u["user"].as_str().unwrap().contains(&pid.to_string()))
        .collect();
    assert_eq!(mine.len(), 3, "{got}");
    // One entry per user, with the earliest of their logins.
    assert_eq!(
        mine[0],
        &json!({"user": alice, "login-time": 1_690_000_000.5})
    );
    assert_eq!(
        mine[1],
        &json!({"user": bob, "login-time": 1_700_000_001.999_999})
    );
    assert_eq!(mine[2]["user"], format!("{long}runon").as_str());
    // Seventeen significant digits, as C's %.17g prints them.
    assert!(got.contains(r#""login-time": 1700000002.000001"#), "{got}");
    drop(utmp);
}

// ---- /proc statistics -------------------------------------------------------

fn members(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn diskstats_and_cpustats_match_qemu_ga() {
    let agent = start_ours(&[]);
    let reference = QemuGa::start(&[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());

    // qemu-ga is asked first; counters only grow in between.
    let before = json_of(&line(&mut theirs, r#"{"execute":"guest-get-diskstats"}"#));
    let after = json_of(&line(&mut ours, r#"{"execute":"guest-get-diskstats"}"#));
    let (before, after) = (
        before["return"].as_array().unwrap(),
        after["return"].as_array().unwrap(),
    );
    let names = |list: &Vec<Value>| -> Vec<(String, u64, u64)> {
        list.iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap().to_string(),
                    d["major"].as_u64().unwrap(),
                    d["minor"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(names(after), names(before));
    assert!(!after.is_empty());
    for (b, a) in before.iter().zip(after) {
        assert_eq!(members(&a["stats"]), members(&b["stats"]), "{}", a["name"]);
        for key in members(&a["stats"]) {
            if key != "ios-pgr" {
                assert!(
                    a["stats"][&key].as_u64() >= b["stats"][&key].as_u64(),
                    "{key} of {}",
                    a["name"]
                );
            }
        }
    }

    let before = json_of(&line(&mut theirs, r#"{"execute":"guest-get-cpustats"}"#));
    let after = json_of(&line(&mut ours, r#"{"execute":"guest-get-cpustats"}"#));
    let (before, after) = (
        before["return"].as_array().unwrap(),
        after["return"].as_array().unwrap(),
    );
    assert_eq!(after.len(), before.len());
    for (b, a) in before.iter().zip(after) {
        assert_eq!(members(a), members(b));
        assert_eq!(a["type"], "linux");
        assert_eq!(a["cpu"], b["cpu"]);
        for key in [
            "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
        ] {
            assert!(
                a[key].as_u64() >= b[key].as_u64(),
                "{key} of cpu {}",
                a["cpu"]
            );
        }
    }
    // The argument check is qemu-ga's too.
    same_replies(
        &mut ours,
        &mut theirs,
        &[r#"{"execute":"guest-get-cpustats","arguments":{"cpu":0}}"#],
    );
}

/// guest-get-load and guest-network-get-route are newer than Debian's
/// qemu-ga, so they are checked against the kernel's own tables.
#[test]
fn load_and_routes_match_the_kernel_tables() {
    let agent = start_ours(&[]);
    let mut host = agent.connect();

    let info = host.request(r#"{"execute":"guest-info"}"#);
    let listed = info["return"]["supported_commands"].as_array().unwrap();
    assert_eq!(listed[0]["name"], "guest-network-get-route");
    assert_eq!(listed[1]["name"], "guest-get-load");
    assert_eq!(listed[0]["enabled"], true);

    let figures = |text: &str| -> Vec<f64> {
        text.split_whitespace()
            .take(3)
            .map(|f| f.parse().unwrap())
            .collect()
    };
    let before = figures(&std::fs::read_to_string("/proc/loadavg").unwrap());
    let load = host.request(r#"{"execute":"guest-get-load"}"#);
    let after = figures(&std::fs::read_to_string("/proc/loadavg").unwrap());
    let got: Vec<f64> = ["load1m", "load5m", "load15m"]
        .iter()
        .map(|k| load["return"][k].as_f64().unwrap())
        .collect();
    assert!(
        got == before || got == after,
        "{load} vs {before:?} / {after:?}"
    );

    let routes = host.request(r#"{"execute":"guest-network-get-route"}"#);
    let routes = routes["return"].as_array().unwrap();
    let table = std::fs::read_to_string("/proc/net/route").unwrap();
    let quad = |hex: &str| {
        let [a, b, c, d] = u32::from_str_radix(hex, 16).unwrap().to_le_bytes();
        format!("{a}.{b}.{c}.{d}")
    };
    let v4: Vec<&Value> = routes.iter().filter(|r| r["version"] == 4).collect();
    let rows: Vec<Vec<&str>> = table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(v4.len(), rows.len());
    for (route, row) in v4.iter().zip(&rows) {
        assert_eq!(route["iface"], row[0]);
        assert_eq!(route["destination"], quad(row[1]));
        assert_eq!(route["gateway"], quad(row[2]));
        assert_eq!(route["mask"], quad(row[7]));
        assert_eq!(route["metric"], row[6].parse::<i64>().unwrap());
    }
    if let Ok(table6) = std::fs::read_to_string("/proc/net/ipv6_route") {
        let v6: Vec<&Value> = routes.iter().filter(|r| r["version"] == 6).collect();
        assert_eq!(v6.len(), table6.lines().count());
        for (route, row) in v6.iter().zip(table6.lines()) {
            let f: Vec<&str> = row.split_whitespace().collect();
            let addr = std::net::Ipv6Addr::from(u128::from_str_radix(f[0], 16).unwrap());
            assert_eq!(route["destination"], addr.to_string());
            assert_eq!(
                route["desprefixlen"],
                u32::from_str_radix(f[1], 16).unwrap().to_string()
            );
            assert_eq!(route["iface"], f[9]);
            assert!(route.get("gateway").is_none() && route.get("mask").is_none());
        }
    }
}

// ---- ssh authorized keys ----------------------------------------------------

/// A user made for one test with useradd, its home in a private temporary
/// directory; deleted when the test ends, even on failure.
struct TestUser {
    name: String,
    home: PathBuf,
    uid: u32,
    gid: u32,
    _dir: TempDir,
}

/// useradd and userdel lock the passwd files; other tests may hold them.
fn run_retrying(cmd: &mut Command) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = cmd.output().expect("run useradd/userdel");
        if out.status.success() {
            return true;
        }
        if Instant::now() > deadline {
            eprintln!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl TestUser {
    fn create(tag: &str) -> TestUser {
        let dir = TempDir::new(&format!("user-{tag}"));
        let name = format!("qgt{}{tag}", std::process::id());
        let home = dir.0.join("home");
        let _ = Command::new("userdel").arg(&name).output();
        assert!(
            run_retrying(
                Command::new("useradd")
                    .args(["-m", "-s", "/usr/sbin/nologin", "-d"])
                    .arg(&home)
                    .arg(&name)
            ),
            "useradd {name}"
        );
        let meta = std::fs::metadata(&home).unwrap();
        TestUser {
            name,
            uid: meta.uid(),
            gid: meta.gid(),
            home,
            _dir: dir,
        }
    }

    fn ssh(&self) -> PathBuf {
        self.home.join(".ssh")
    }

    fn keys_file(&self) -> PathBuf {
        self.ssh().join("authorized_keys")
    }

    fn chown(&self, path: &Path) {
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).unwrap();
    }

    fn clear(&self) {
        let _ = std::fs::remove_dir_all(self.ssh());
        let _ = std::fs::remove_file(self.ssh());
    }

    /// ~/.ssh as the user would have made it (0700), holding `keys` in
    /// authorized_keys (0600) unless `keys` is `None`.
    fn set_up(&self, keys: Option<&[u8]>) {
        self.clear();
        std::fs::create_dir(self.ssh()).unwrap();
        std::fs::set_permissions(self.ssh(), std::fs::Permissions::from_mode(0o700)).unwrap();
        self.chown(&self.ssh());
        if let Some(keys) = keys {
            std::fs::write(self.keys_file(), keys).unwrap();
            std::fs::set_permissions(self.keys_file(), std::fs::Permissions::from_mode(0o600))
                .unwrap();
            self.chown(&self.keys_file());
        }
    }

    /// Every entry under ~/.ssh with its type, mode, owner and contents.
    fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Ok(meta) = std::fs::symlink_metadata(self.ssh()) else {
            return out;
        };
        out.push(format!(
            ".ssh {:o} {}:{}",
            meta.mode(),
            meta.uid(),
            meta.gid()
        ));
        if meta.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(self.ssh())
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            for path in entries {
                let meta = std::fs::symlink_metadata(&path).unwrap();
                let contents = std::fs::read(&path).unwrap_or_default();
                out.push(format!(
                    "{} {:o} {}:{} {:?}",
                    path.file_name().unwrap().to_string_lossy(),
                    meta.mode(),
                    meta.uid(),
                    meta.gid(),
                    String::from_utf8_lossy(&contents)
                ));
            }
        }
        out
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        run_retrying(Command::new("userdel").arg(&self.name));
    }
}

/// What a step starts from.
#[derive(Clone, Copy)]
enum Start {
    /// The home directory of the passwd entry does not exist.
    NoHome,
    NoSshDir,
    EmptySshDir,
    Keys(&'static [u8]),
}

#[test]
fn ssh_keys_match_qemu_ga_step_by_step() {
    let user = TestUser::create("d");
    let agent = start_ours(&[]);
    let reference = QemuGa::start(&[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let u = &user.name;
    let get = format!(
        r#"{{"execute":"guest-ssh-get-authorized-keys","arguments":{{"username":"{u}"}}}}"#
    );
    let add = |keys: &str, reset: &str| {
        format!(
            r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"{u}","keys":{keys}{reset}}}}}"#
        )
    };
    let remove = |keys: &str| {
        format!(
            r#"{{"execute":"guest-ssh-remove-authorized-keys","arguments":{{"username":"{u}","keys":{keys}}}}}"#
        )
    };
    let with_comments: &[u8] = b"k1 a\n# comment\n\n  k4 d \nk5\n";
    let steps: Vec<(Start, String)> = vec![
        (Start::NoHome, get.clone()),
        (Start::NoHome, add(r#"["k1 a"]"#, "")),
        (Start::NoHome, remove(r#"["k1 a"]"#)),
        (Start::NoSshDir, get.clone()),
        (Start::NoSshDir, remove(r#"["k1 a"]"#)),
        (Start::NoSshDir, add(r#"["k1 a","k2 b","k1 a","  k3 c  "]"#, "")),
        (Start::EmptySshDir, add(r#"["k8"]"#, "")),
        (Start::EmptySshDir, get.clone()),
        (Start::Keys(with_comments), get.clone()),
        (Start::Keys(with_comments), add(r#"["k6 e","k1 a"]"#, "")),
        (Start::Keys(with_comments), remove(r#"["k1 a","k4 d"]"#)),
        (Start::Keys(with_comments), add("[]", r#","reset":true"#)),
        (Start::Keys(with_comments), add(r#"["k7 f"]"#, r#","reset":true"#)),
        (Start::Keys(with_comments), add(r#"["k7 f"]"#, r#","reset":false"#)),
        (Start::Keys(b""), get.clone()),
        (Start::Keys(b"k1\0hidden\nk2"), get.clone()),
        (Start::Keys(b"\x0bk9\x0b\n\tk10\r\n\x0cx\x0c"), get.clone()),
        (Start::Keys(b"k1 a\r\nk2 b"), remove(r#"["k1 a","k2 b"]"#)),
        // Bad keys are refused before anything is touched.
        (Start::Keys(b"x"), add(r##"["ok","#c"]"##, "")),
        (Start::Keys(b"x"), add(r#"["a\nb"]"#, "")),
        (Start::Keys(b"x"), remove(r#"["k\n"]"#)),
        (Start::Keys(b"x"), add(r#"[1]"#, "")),
        (Start::Keys(b"x"), add(r#""k""#, "")),
        (Start::Keys(b"x"), add("[]", r#","reset":1"#)),
        (
            Start::Keys(b"x"),
            r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"keys":[]}}"#.into(),
        ),
        (
            Start::Keys(b"x"),
            r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"nosuchuser-qga"}}"#.into(),
        ),
        (
            Start::Keys(b"x"),
            r#"{"execute":"guest-ssh-add-authorized-keys","arguments":{"username":"","keys":["k"]}}"#.into(),
        ),
        (
            Start::Keys(b"x"),
            r##"{"execute":"guest-ssh-remove-authorized-keys","arguments":{"username":"nosuchuser-qga","keys":["#bad"]}}"##.into(),
        ),
    ];
    let away = user.home.with_file_name("home-away");
    let prepare = |start: Start| {
        if away.exists() {
            std::fs::rename(&away, &user.home).unwrap();
        }
        match start {
            Start::NoHome => {
                user.clear();
                std::fs::rename(&user.home, &away).unwrap();
            }
            Start::NoSshDir => user.clear(),
            Start::EmptySshDir => user.set_up(None),
            Start::Keys(keys) => user.set_up(Some(keys)),
        }
    };
    for (start, request) in &steps {
        prepare(*start);
        let expected = line(&mut theirs, request);
        let expected_state = user.snapshot();
        prepare(*start);
        let got = line(&mut ours, request);
        assert_eq!(got, expected, "reply to {request}");
        assert_eq!(user.snapshot(), expected_state, "files after {request}");
    }
    // One outcome spelled out: ~/.ssh made for the user, keys appended once.
    prepare(Start::NoSshDir);
    line(&mut ours, &add(r#"["k1 a","k2 b","k1 a"]"#, ""));
    let ssh = std::fs::metadata(user.ssh()).unwrap();
    assert_eq!(
        (ssh.mode() & 0o7777, ssh.uid(), ssh.gid()),
        (0o700, user.uid, user.gid)
    );
    let file = std::fs::metadata(user.keys_file()).unwrap();
    assert_eq!(
        (file.mode() & 0o7777, file.uid(), file.gid()),
        (0o600, user.uid, user.gid)
    );
    assert_eq!(std::fs::read(user.keys_file()).unwrap(), b"k1 a\nk2 b");
    assert_eq!(
        json_of(&line(&mut ours, &get)),
        json!({"return": {"keys": ["k2 b", "k1 a"]}})
    );
}

/// A root-owned place the user must not be able to make the agent write
/// to or read from.
fn root_target(tag: &str) -> TempDir {
    let dir = TempDir::new(tag);
    std::fs::write(dir.0.join("authorized_keys"), b"root secret line\n").unwrap();
    dir
}

fn request_for(user: &TestUser, command: &str, keys: Option<&str>) -> String {
    match keys {
        None => format!(
            r#"{{"execute":"{command}","arguments":{{"username":"{}"}}}}"#,
            user.name
        ),
        Some(keys) => format!(
            r#"{{"execute":"{command}","arguments":{{"username":"{}","keys":{keys}}}}}"#,
            user.name
        ),
    }
}

#[test]
fn a_symlinked_ssh_dir_is_never_followed() {
    let user = TestUser::create("s");
    let target = root_target("ssh-target");
    let agent = start_ours(&[]);
    let mut host = agent.connect();
    // The user points ~/.ssh at a directory of root's (qemu-ga would write
    // its authorized_keys there).
    user.clear();
    std::os::unix::fs::symlink(&target.0, user.ssh()).unwrap();
    user.chown(&user.ssh());
    let refusal = format!(
        "refusing to use '{}': it is a symbolic link",
        user.ssh().display()
    );
    for (command, keys) in [
        ("guest-ssh-add-authorized-keys", Some(r#"["k planted"]"#)),
        ("guest-ssh-get-authorized-keys", None),
        (
            "guest-ssh-remove-authorized-keys",
            Some(r#"["root secret line"]"#),
        ),
    ] {
        let reply = host.request(&request_for(&user, command, keys));
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), refusal.clone()),
            "{command}"
        );
    }
    assert_eq!(
        std::fs::read(target.0.join("authorized_keys")).unwrap(),
        b"root secret line\n"
    );
    assert_eq!(
        std::fs::read_dir(&target.0).unwrap().count(),
        1,
        "nothing created there"
    );
}

#[test]
fn a_symlinked_or_foreign_keys_file_is_never_used() {
    let user = TestUser::create("f");
    let target = root_target("keys-target");
    let secret = target.0.join("authorized_keys");
    let agent = start_ours(&[]);
    let mut host = agent.connect();
    let keys_path = user.keys_file().display().to_string();

    // authorized_keys as a symbolic link to a file of root's.
    user.set_up(None);
    std::os::unix::fs::symlink(&secret, user.keys_file()).unwrap();
    user.chown(&user.keys_file());
    let refusal = format!("refusing to use '{keys_path}': it is a symbolic link");
    for (command, keys) in [
        ("guest-ssh-get-authorized-keys", None),
        ("guest-ssh-add-authorized-keys", Some(r#"["k planted"]"#)),
        (
            "guest-ssh-remove-authorized-keys",
            Some(r#"["root secret line"]"#),
        ),
    ] {
        let reply = host.request(&request_for(&user, command, keys));
        assert_eq!(error_of(&reply).1, refusal, "{command}");
        assert!(!reply.to_string().contains("secret"));
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"root secret line\n");
    // With reset the old contents do not matter: the link itself is
    // replaced by the user's new file, and root's file is untouched.
    let reset = format!(
        r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"{}","keys":["k new"],"reset":true}}}}"#,
        user.name
    );
    assert_eq!(host.request(&reset), json!({"return": {}}));
    let meta = std::fs::symlink_metadata(user.keys_file()).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!((meta.uid(), meta.mode() & 0o777), (user.uid, 0o600));
    assert_eq!(std::fs::read(user.keys_file()).unwrap(), b"k new");
    assert_eq!(std::fs::read(&secret).unwrap(), b"root secret line\n");

    // A hard link to a file of root's: refused, nothing read.
    user.set_up(None);
    std::fs::hard_link(&secret, user.keys_file()).unwrap();
    let reply = host.request(&request_for(&user, "guest-ssh-get-authorized-keys", None));
    assert_eq!(
        error_of(&reply).1,
        format!("refusing to use '{keys_path}': it is a hard link to a file of root's")
    );
    std::fs::remove_file(user.keys_file()).unwrap();

    // ~/.ssh or the file belonging to somebody else.
    user.set_up(Some(b"k1"));
    std::os::unix::fs::lchown(user.keys_file(), Some(65534), Some(65534)).unwrap();
    let reply = host.request(&request_for(&user, "guest-ssh-get-authorized-keys", None));
    assert!(error_of(&reply).1.starts_with(&format!(
        "refusing to use '{keys_path}': it belongs to uid 65534"
    )));
    user.set_up(None);
    std::os::unix::fs::lchown(user.ssh(), Some(65534), Some(65534)).unwrap();
    let reply = host.request(&request_for(
        &user,
        "guest-ssh-add-authorized-keys",
        Some(r#"["k"]"#),
    ));
    assert!(
        error_of(&reply).1.contains("it belongs to uid 65534"),
        "{reply}"
    );
    assert!(!user.keys_file().exists());
}

#[test]
fn keys_are_replaced_atomically_and_never_logged() {
    let user = TestUser::create("a");
    let agent = start_ours(&[]);
    let mut host = agent.connect();
    let old_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOldKeyMaterialNeverLogged old@host";
    let new_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINewKeyMaterialNeverLogged new@host";
    user.set_up(Some(old_key.as_bytes()));
    // A second name for the old file: if the agent rewrote the file in
    // place, this would change too.
    let keep = user.ssh().join("kept-link");
    std::fs::hard_link(user.keys_file(), &keep).unwrap();
    let old_inode = std::fs::metadata(user.keys_file()).unwrap().ino();
    let add = format!(
        r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"{}","keys":["{new_key}"]}}}}"#,
        user.name
    );
    assert_eq!(host.request(&add), json!({"return": {}}));
    assert_eq!(std::fs::read(&keep).unwrap(), old_key.as_bytes());
    assert_ne!(
        std::fs::metadata(user.keys_file()).unwrap().ino(),
        old_inode
    );
    assert_eq!(
        std::fs::read_to_string(user.keys_file()).unwrap(),
        format!("{old_key}\n{new_key}")
    );
    // No temporary file is left behind.
    let mut names: Vec<String> = std::fs::read_dir(user.ssh())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["authorized_keys", "kept-link"]);
    let get = request_for(&user, "guest-ssh-get-authorized-keys", None);
    assert_eq!(
        host.request(&get)["return"]["keys"],
        json!([new_key, old_key])
    );
    let bad = format!(
        r##"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"{}","keys":["#{new_key}"]}}}}"##,
        user.name
    );
    assert!(error_of(&host.request(&bad))
        .1
        .starts_with("invalid OpenSSH public key"));
    let log = agent.log_text();
    assert!(
        log.contains("guest-ssh-add-authorized-keys"),
        "the audit log names the command"
    );
    for secret in ["OldKeyMaterial", "NewKeyMaterial"] {
        assert!(!log.contains(secret), "a key reached the log:\n{log}");
    }
}

#[test]
fn ssh_commands_follow_the_policy() {
    let user = TestUser::create("p");
    let agent = Agent::start(
        "default = \"deny\"\n[allow]\ncommands = [\"guest-ssh-get-authorized-keys\"]\n",
    );
    let mut host = agent.connect();
    user.set_up(Some(b"k1"));
    let reply = host.request(&request_for(&user, "guest-ssh-get-authorized-keys", None));
    assert_eq!(reply, json!({"return": {"keys": ["k1"]}}));
    for command in [
        "guest-ssh-add-authorized-keys",
        "guest-ssh-remove-authorized-keys",
    ] {
        let reply = host.request(&request_for(&user, command, Some(r#"["k1"]"#)));
        assert_eq!(
            error_of(&reply),
            (
                "CommandNotFound".into(),
                format!("Command {command} has been disabled")
            )
        );
    }
    assert_eq!(std::fs::read(user.keys_file()).unwrap(), b"k1");
}

/// After a hundred failed lookups the C library tries nscd's socket again:
/// the sandboxed helper must survive that, with qemu-ga's answer every time.
#[test]
fn many_user_lookups_keep_the_sandboxed_helper_alive() {
    let agent = start_ours(&[]);
    let mut host = agent.connect();
    // A reply proves the front has been exec'd and can be found by name.
    host.request(r#"{"execute":"guest-ping"}"#);
    let front = agent.front_pid().expect("front running");
    for i in 0..120 {
        let reply = host.request(&format!(
            r#"{{"execute":"guest-ssh-get-authorized-keys","arguments":{{"username":"nosuchuser{i}"}}}}"#
        ));
        assert_eq!(
            error_of(&reply).1,
            format!("failed to lookup user 'nosuchuser{i}': Success")
        );
    }
    assert_eq!(
        agent.front_pid(),
        Some(front),
        "the front was not restarted"
    );
    let mut agent = agent;
    assert!(agent.is_running());
}

/// On a systemd guest, libnss_systemd asks the userdb services over their
/// sockets in /run/systemd/userdb. The test gives the agent a private /run
/// (its own mount namespace, entered on a thread of its own) with one such
/// service that knows nobody; the sandboxed helper talks to it and answers
/// as qemu-ga does.
#[test]
fn user_lookups_through_systemd_userdb_keep_the_helper_alive() {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    std::thread::spawn(|| {
        let mount = |source: &str, target: &str, fstype: &str, flags: libc::c_ulong| {
            let c = |s: &str| std::ffi::CString::new(s).unwrap();
            let (source, target, fstype) = (c(source), c(target), c(fstype));
            // SAFETY: mount with valid C strings, in this thread's own
            // mount namespace.
            let r = unsafe {
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    fstype.as_ptr(),
                    flags,
                    std::ptr::null(),
                )
            };
            assert_eq!(r, 0, "mount {target:?}: {}", std::io::Error::last_os_error());
        };
        // SAFETY: unshare affects this thread and the processes it starts.
        assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNS) }, 0);
        mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE);
        mount("tmpfs", "/run", "tmpfs", 0);
        std::fs::create_dir_all("/run/systemd/system").unwrap();
        std::fs::create_dir_all("/run/systemd/userdb").unwrap();
        let listener = UnixListener::bind("/run/systemd/userdb/io.systemd.DynamicUser").unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        let count = served.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                // One varlink call per connection: a JSON text ending in NUL.
                let mut byte = [0u8; 1];
                while conn.read(&mut byte).is_ok_and(|n| n == 1) && byte[0] != 0 {}
                // Counted before the answer, which lets the lookup finish.
                count.fetch_add(1, Ordering::SeqCst);
                let _ = conn.write_all(
                    b"{\"error\":\"io.systemd.UserDatabase.NoRecordFound\",\"parameters\":{}}\0",
                );
            }
        });
        let mut agent = start_ours(&[]);
        let mut host = agent.connect();
        host.request(r#"{"execute":"guest-ping"}"#);
        let front = agent.front_pid().expect("front running");
        for i in 0..5 {
            let reply = host.request(&format!(
                r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":"nouser{i}","keys":["k"]}}}}"#
            ));
            assert_eq!(
                error_of(&reply).1,
                format!("failed to lookup user 'nouser{i}': Success")
            );
        }
        assert!(served.load(Ordering::SeqCst) >= 5, "the userdb service was asked");
        assert_eq!(agent.front_pid(), Some(front));
        assert!(agent.is_running());
    })
    .join()
    .unwrap();
}

/// `[rules.guest-ssh-*] users` names whose keys the host may touch: the
/// named user's keys are read, added and removed, another user's are
/// refused with the rule before anything in their home is looked at.
#[test]
fn ssh_key_rules_limit_the_commands_to_their_users() {
    let allowed = TestUser::create("ra");
    let other = TestUser::create("rb");
    other.set_up(Some(b"ssh-ed25519 AAAAother other@host\n"));
    let before = other.snapshot();
    let rules: String = [
        "guest-ssh-get-authorized-keys",
        "guest-ssh-add-authorized-keys",
        "guest-ssh-remove-authorized-keys",
    ]
    .iter()
    .map(|c| format!("[rules.{c}]\nusers = [\"{}\"]\n", allowed.name))
    .collect();
    let agent = Agent::start(&format!(
        "[allow]\ncommands = [\"guest-ping\", \"guest-ssh-*\"]\n{rules}"
    ));
    let mut host = agent.connect();
    let key = r#"["ssh-ed25519 AAAAnew new@host"]"#;

    let reply = host.request(&request_for(
        &allowed,
        "guest-ssh-add-authorized-keys",
        Some(key),
    ));
    assert_eq!(reply, json!({"return": {}}));
    let reply = host.request(&request_for(
        &allowed,
        "guest-ssh-get-authorized-keys",
        None,
    ));
    assert_eq!(
        reply,
        json!({"return": {"keys": ["ssh-ed25519 AAAAnew new@host"]}})
    );

    for (command, keys) in [
        ("guest-ssh-get-authorized-keys", None),
        ("guest-ssh-add-authorized-keys", Some(key)),
        ("guest-ssh-remove-authorized-keys", Some(key)),
    ] {
        let (class, desc) = error_of(&host.request(&request_for(&other, command, keys)));
        assert_eq!(class, "GenericError");
        assert!(
            desc.starts_with(&format!("Command {command} denied by policy (")),
            "{desc}"
        );
        assert!(
            desc.contains(&format!("no pattern matches \"{}\"", other.name)),
            "{desc}"
        );
    }
    assert_eq!(other.snapshot(), before, "the other user's keys untouched");

    let reply = host.request(&request_for(
        &allowed,
        "guest-ssh-remove-authorized-keys",
        Some(key),
    ));
    assert_eq!(reply, json!({"return": {}}));
    assert_eq!(std::fs::read(allowed.keys_file()).unwrap(), b"");

    let log = agent.log_text();
    let refusals = log
        .lines()
        .filter(|l| {
            l.contains("audit: decision") && l.contains("allowed=false") && l.contains(&other.name)
        })
        .count();
    assert_eq!(refusals, 3, "one audit event per refusal:\n{log}");
    assert!(!log.contains("AAAA"), "keys never reach the log");
}
