//! guest-fsfreeze-* and guest-fstrim on real ext4 images on loop devices,
//! through the real agent, next to Debian's qemu-ga doing the same.
//!
//! The whole-system commands (guest-fsfreeze-freeze, freeze-list without
//! mount points, guest-fstrim) act on every mounted block filesystem, this
//! machine's root included, and a frozen root would hang the machine. They
//! run only in a private mount namespace whose root is a loop image
//! (`Sandbox`), after checking that the agent there sees no other block
//! filesystem. Everywhere else the policy (and qemu-ga's `-b`) blocks them
//! and every freeze names its mount points.
//!
//! A thaw acts on every mounted filesystem (qemu-ga's semantics), so one
//! test's thaw would thaw another's freeze: the tests take turns (`serial`).
//! Whatever happens, each test's `Cleanup` thaws, unmounts and detaches
//! what it set up, failed assertions included.

use serde_json::{json, Value};
use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tests::{bin_dir, error_of, require_root, Agent, AgentOptions, Client, TempDir};

/// Everything but the whole-system commands.
const POLICY: &str = r#"
default = "allow"
[deny]
commands = ["guest-fsfreeze-freeze", "guest-fstrim"]
"#;

/// qemu-ga's equivalent of `POLICY`.
const QEMU_GA_BLOCK: &str = "guest-fsfreeze-freeze,guest-fstrim";

const QEMU_GA: &str = "/usr/sbin/qemu-ga";

/// How long a write to a frozen filesystem is watched to see that it
/// blocks, and how long a thawed one gets to finish.
const STILL_BLOCKED: Duration = Duration::from_millis(700);
const UNBLOCKED: Duration = Duration::from_secs(20);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs a setup command; a failure ends the test with its output.
fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn quiet(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn text(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Undo actions for everything a test set up, run in reverse on drop.
#[derive(Default)]
struct Cleanup(Vec<Box<dyn FnOnce()>>);

impl Cleanup {
    fn push(&mut self, undo: impl FnOnce() + 'static) {
        self.0.push(Box::new(undo));
    }

    /// A fresh ext4 image of `mib` MiB in `image`, on a loop device,
    /// mounted at `mountpoint` (created) with `options`. Returns the device.
    fn loop_ext4(&mut self, image: &Path, mib: u32, mountpoint: &Path, options: &str) -> String {
        run("truncate", &["-s", &format!("{mib}M"), text(image)]);
        run("mkfs.ext4", &["-F", "-q", text(image)]);
        let device = self.attach(image);
        self.mount(&["-o", options, &device], mountpoint);
        device
    }

    /// btrfs shows an anonymous device (major 0) in mountinfo; qemu-ga
    /// finds its block device through the mount source.
    fn loop_btrfs(&mut self, image: &Path, mountpoint: &Path) -> String {
        run("truncate", &["-s", "128M", text(image)]);
        run("mkfs.btrfs", &["-q", "-f", text(image)]);
        let device = self.attach(image);
        self.mount(&[&device], mountpoint);
        device
    }

    /// squashfs has neither freeze nor trim support.
    fn loop_squashfs(&mut self, image: &Path, mountpoint: &Path) -> String {
        let source = image.with_extension("src");
        std::fs::create_dir_all(&source).unwrap();
        std::fs::write(source.join("file"), "content").unwrap();
        run(
            "mksquashfs",
            &[
                text(&source),
                text(image),
                "-quiet",
                "-noappend",
                "-no-progress",
            ],
        );
        let device = self.attach(image);
        self.mount(&["-t", "squashfs", &device], mountpoint);
        device
    }

    /// Puts an image on a free loop device; detached on drop.
    fn attach(&mut self, image: &Path) -> String {
        let device = run("losetup", &["-f", "--show", text(image)]);
        let undo_device = device.clone();
        self.push(move || {
            // Detaches at once, or when the last user lets go.
            quiet("losetup", &["-d", &undo_device]);
        });
        device
    }

    /// Mounts and registers the unmount (after a thaw, in case a test left
    /// it frozen).
    fn mount(&mut self, args: &[&str], mountpoint: &Path) {
        std::fs::create_dir_all(mountpoint).expect("create mount point");
        let mut full: Vec<&str> = args.to_vec();
        full.push(text(mountpoint));
        run("mount", &full);
        let mountpoint = mountpoint.to_path_buf();
        self.push(move || unmount(&mountpoint));
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        while let Some(undo) = self.0.pop() {
            undo();
        }
    }
}

/// Thaws (harmless if not frozen) and unmounts, waiting for writers that
/// the thaw released; lazily as a last resort.
fn unmount(mountpoint: &Path) {
    let m = text(mountpoint);
    quiet("fsfreeze", &["-u", m]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if quiet("umount", &[m]) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    quiet("fsfreeze", &["-u", m]);
    quiet("umount", &["-l", m]);
}

/// Writes and syncs a file from another thread; the receiver gets the
/// outcome. A frozen filesystem holds the writer until the thaw.
fn start_writer(path: PathBuf) -> Receiver<std::io::Result<()>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = (|| {
            let mut file = std::fs::File::create(&path)?;
            std::io::Write::write_all(&mut file, &[0x5a; 64 << 10])?;
            file.sync_all()
        })();
        let _ = tx.send(result);
    });
    rx
}

fn assert_blocked(writer: &Receiver<std::io::Result<()>>) {
    assert!(
        writer.recv_timeout(STILL_BLOCKED).is_err(),
        "a write to the frozen filesystem finished"
    );
}

fn assert_unblocked(writer: &Receiver<std::io::Result<()>>) {
    match writer.recv_timeout(UNBLOCKED) {
        Ok(result) => result.expect("write after thaw"),
        Err(_) => panic!("the write is still blocked after the thaw"),
    }
}

/// A write that must not block: the filesystem is thawed.
fn assert_writable(dir: &Path) {
    assert_unblocked(&start_writer(dir.join("probe")));
}

/// The thaw of one frozen filesystem: it answers 1, the held write goes
/// through, the agent says thawed and drops its frozen marker, and commands
/// refused while frozen run again.
fn assert_thaw_releases(host: &mut Client, agent: &Agent, writer: &Receiver<std::io::Result<()>>) {
    assert_eq!(request(host, "guest-fsfreeze-thaw"), json!({"return": 1}));
    assert_unblocked(writer);
    assert_eq!(
        request(host, "guest-fsfreeze-status"),
        json!({"return": "thawed"})
    );
    assert!(!agent.dir.0.join("qga.state.isfrozen").exists());
    assert!(request(host, "guest-get-time")["return"].is_i64());
}

fn frozen_refusal(command: &str) -> Value {
    json!({"error": {"class": "CommandNotFound",
        "desc": format!("Command {command} has been disabled: the agent is in frozen state")}})
}

fn freeze_list(host: &mut Client, mountpoints: &[&str]) -> Value {
    let request = json!({"execute": "guest-fsfreeze-freeze-list",
        "arguments": {"mountpoints": mountpoints}});
    host.request(&request.to_string())
}

fn request(host: &mut Client, execute: &str) -> Value {
    host.request(&json!({ "execute": execute }).to_string())
}

/// Debian's qemu-ga on a unix socket in a private directory, killed on
/// drop (SIGKILL: while frozen it ignores SIGTERM).
struct QemuGa {
    dir: TempDir,
    child: Child,
}

impl QemuGa {
    fn start(extra: &[&str]) -> QemuGa {
        assert!(
            Path::new(QEMU_GA).exists(),
            "{QEMU_GA} missing: install qemu-guest-agent"
        );
        let dir = TempDir::new("qemu-ga");
        let socket = dir.0.join("qga.sock");
        let child = Command::new(QEMU_GA)
            .args(["-m", "unix-listen", "-p", text(&socket), "-t", text(&dir.0)])
            .args(["-f", text(&dir.0.join("qga.pid"))])
            .args(extra)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start qemu-ga");
        wait_for(&socket);
        QemuGa { dir, child }
    }

    fn connect(&self) -> Client {
        Client::connect(&self.dir.0.join("qga.sock"))
    }
}

impl Drop for QemuGa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn hook_options(hook: &Path) -> AgentOptions<'static> {
    AgentOptions {
        policy: POLICY,
        extra_args: vec![format!("-F{}", hook.display())],
    }
}

// ---- freeze-list, thaw and status on this machine ---------------------------

#[test]
fn freeze_list_holds_writers_and_disables_commands_until_thaw() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let mnt = dir.0.join("mnt");
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image"), 32, &mnt, "rw");
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();

    assert_eq!(freeze_list(&mut host, &[text(&mnt)]), json!({"return": 1}));
    assert_eq!(
        request(&mut host, "guest-fsfreeze-status"),
        json!({"return": "frozen"})
    );
    // The statedir record qemu-ga checks for, naming what to thaw.
    let record = std::fs::read_to_string(agent.dir.0.join("qga.state.isfrozen"))
        .expect("frozen-state record");
    assert_eq!(record, format!("{}\n", mnt.display()));

    let writer = start_writer(mnt.join("data"));
    assert_blocked(&writer);

    assert_eq!(
        request(&mut host, "guest-get-time"),
        frozen_refusal("guest-get-time")
    );
    assert_eq!(
        freeze_list(&mut host, &[text(&mnt)]),
        frozen_refusal("guest-fsfreeze-freeze-list")
    );
    assert_eq!(
        error_of(&request(&mut host, "guest-no-such-command")).1,
        "The command guest-no-such-command has not been found"
    );
    let info = request(&mut host, "guest-info");
    let enabled: Vec<&str> = info["return"]["supported_commands"]
        .as_array()
        .expect("command list")
        .iter()
        .filter(|c| c["enabled"] == json!(true))
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        enabled,
        [
            "guest-fsfreeze-thaw",
            "guest-fsfreeze-status",
            "guest-info",
            "guest-ping",
            "guest-sync",
            "guest-sync-delimited"
        ]
    );
    assert_blocked(&writer);

    assert_thaw_releases(&mut host, &agent, &writer);
    assert_eq!(
        request(&mut host, "guest-fsfreeze-thaw"),
        json!({"return": 0})
    );
}

/// The same requests to both agents, one at a time, on a read-write mount,
/// a bind mount of it and a read-only mount: qemu-ga lists all three, the
/// bind mount's second freeze is EBUSY and not counted.
#[test]
fn freeze_list_and_thaw_answer_as_qemu_ga_does() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let (rw, bind, ro) = (dir.0.join("rw"), dir.0.join("bind"), dir.0.join("ro"));
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image"), 32, &rw, "rw");
    cleanup.mount(&["--bind", text(&rw)], &bind);
    cleanup.loop_ext4(&dir.0.join("image-ro"), 32, &ro, "ro");
    let (rw, bind, ro) = (text(&rw), text(&bind), text(&ro));
    let not_mounted = text(&dir.0);

    let script = |host: &mut Client| -> Vec<Value> {
        vec![
            // Names that match no mount point are skipped: nothing frozen.
            freeze_list(host, &[not_mounted, "relative", "", &format!("{rw}/")]),
            request(host, "guest-fsfreeze-status"),
            freeze_list(host, &[]),
            freeze_list(host, &[rw, bind, ro]),
            request(host, "guest-fsfreeze-status"),
            request(host, "guest-get-time"),
            request(host, "guest-fstrim"),
            request(host, "guest-fsfreeze-thaw"),
            request(host, "guest-fsfreeze-status"),
            request(host, "guest-fsfreeze-thaw"),
            freeze_list(host, &[ro]),
            request(host, "guest-fsfreeze-thaw"),
        ]
    };
    let reference = {
        let qemu_ga = QemuGa::start(&["-b", QEMU_GA_BLOCK]);
        script(&mut qemu_ga.connect())
    };
    let ours = {
        let agent = Agent::start(POLICY);
        script(&mut agent.connect())
    };
    assert_eq!(ours, reference);
    assert_eq!(
        ours[..5],
        [
            json!({"return": 0}),
            json!({"return": "thawed"}),
            json!({"return": 0}),
            json!({"return": 2}),
            json!({"return": "frozen"})
        ]
    );
    assert_eq!(ours[7], json!({"return": 2}));
    assert_eq!(ours[9], json!({"return": 0}));
    assert_writable(Path::new(rw));
}

/// squashfs cannot freeze (EOPNOTSUPP: skipped, not counted); btrfs, whose
/// mountinfo entry shows an anonymous device, is found through its source.
#[test]
fn freeze_list_skips_what_cannot_freeze_and_finds_btrfs() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let (squashfs, btrfs) = (dir.0.join("squashfs"), dir.0.join("btrfs"));
    let mut cleanup = Cleanup::default();
    cleanup.loop_squashfs(&dir.0.join("squashfs.img"), &squashfs);
    cleanup.loop_btrfs(&dir.0.join("btrfs.img"), &btrfs);
    let script = |host: &mut Client| -> Vec<Value> {
        let mut replies = vec![
            freeze_list(host, &[text(&squashfs)]),
            request(host, "guest-fsfreeze-status"),
            freeze_list(host, &[text(&btrfs), text(&squashfs)]),
        ];
        let writer = start_writer(btrfs.join("data"));
        assert_blocked(&writer);
        replies.push(request(host, "guest-fsfreeze-thaw"));
        assert_unblocked(&writer);
        replies
    };
    let reference = {
        let qemu_ga = QemuGa::start(&["-b", QEMU_GA_BLOCK]);
        script(&mut qemu_ga.connect())
    };
    let ours = {
        let agent = Agent::start(POLICY);
        script(&mut agent.connect())
    };
    assert_eq!(ours, reference);
    assert_eq!(
        ours,
        [
            json!({"return": 0}),
            json!({"return": "thawed"}),
            json!({"return": 1}),
            json!({"return": 1})
        ]
    );
}

#[test]
fn frozen_state_survives_a_helper_crash_and_the_thaw_still_works() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let mnt = dir.0.join("mnt");
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image"), 32, &mnt, "rw");
    let mut agent = Agent::start(POLICY);
    assert_eq!(
        freeze_list(&mut agent.connect(), &[text(&mnt)]),
        json!({"return": 1})
    );
    agent.crash_and_restart();
    // Still frozen: nobody thawed it.
    let writer = start_writer(mnt.join("data"));
    assert_blocked(&writer);
    let mut host = agent.connect();
    assert_eq!(
        request(&mut host, "guest-fsfreeze-status"),
        json!({"return": "frozen"})
    );
    assert_eq!(
        request(&mut host, "guest-get-time"),
        frozen_refusal("guest-get-time")
    );
    assert_thaw_releases(&mut host, &agent, &writer);
    // Logging, off while frozen, is back and says what it missed.
    assert!(agent.log_text().contains("logging resumed after thaw"));
}

/// qemu-ga refuses to exit while frozen; this agent thaws, then exits, so
/// stopping it never leaves the guest frozen.
#[test]
fn stopping_the_agent_thaws_what_it_froze() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let mnt = dir.0.join("mnt");
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image"), 32, &mnt, "rw");
    let mut agent = Agent::start(POLICY);
    assert_eq!(
        freeze_list(&mut agent.connect(), &[text(&mnt)]),
        json!({"return": 1})
    );
    let writer = start_writer(mnt.join("data"));
    assert_blocked(&writer);
    agent.signal(libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent.is_running() {
        assert!(Instant::now() < deadline, "agent still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_unblocked(&writer);
    assert!(!agent.dir.0.join("qga.state.isfrozen").exists());
    assert!(agent
        .log_text()
        .contains("thawed filesystems before exiting"));
}

/// EXT4_IOC_SHUTDOWN: the filesystem refuses every later FIFREEZE with EIO.
fn shut_down_ext4(mountpoint: &Path) {
    const EXT4_IOC_SHUTDOWN: libc::c_ulong = 0x8004_587D;
    const EXT4_GOING_FLAGS_NOLOGFLUSH: u32 = 2;
    let dir = std::fs::File::open(mountpoint).expect("open mount point");
    let flags = EXT4_GOING_FLAGS_NOLOGFLUSH;
    // SAFETY: the ioctl reads one u32 that lives for the call.
    let rc = unsafe {
        libc::ioctl(
            std::os::fd::AsRawFd::as_raw_fd(&dir),
            EXT4_IOC_SHUTDOWN,
            &flags,
        )
    };
    assert_eq!(rc, 0, "shut down {}", mountpoint.display());
}

/// A freeze that fails part-way thaws what it had frozen and reports
/// qemu-ga's error. Mount points freeze in reverse mount order, so the
/// healthy one (mounted last) is frozen before the broken one fails.
#[test]
fn a_failed_freeze_thaws_what_it_had_frozen() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let (broken, healthy) = (dir.0.join("broken"), dir.0.join("healthy"));
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image-b"), 32, &broken, "rw");
    cleanup.loop_ext4(&dir.0.join("image-h"), 32, &healthy, "rw");
    shut_down_ext4(&broken);
    let (broken_text, healthy_text) = (text(&broken), text(&healthy));
    let script = |host: &mut Client| -> Vec<Value> {
        vec![
            freeze_list(host, &[broken_text, healthy_text]),
            request(host, "guest-fsfreeze-status"),
        ]
    };
    let reference = {
        let qemu_ga = QemuGa::start(&["-b", QEMU_GA_BLOCK]);
        let replies = script(&mut qemu_ga.connect());
        assert_writable(&healthy);
        replies
    };
    let agent = Agent::start(POLICY);
    let ours = script(&mut agent.connect());
    assert_eq!(ours, reference);
    assert_eq!(
        ours[0],
        json!({"error": {"class": "GenericError",
            "desc": format!("failed to freeze {broken_text}: Input/output error")}})
    );
    assert_eq!(ours[1], json!({"return": "thawed"}));
    assert_writable(&healthy);
    assert!(!agent.dir.0.join("qga.state.isfrozen").exists());
}

// ---- the fsfreeze hook --------------------------------------------------------

/// A hook that logs its argument, notes how many seccomp filters it runs
/// under (in `filters`), and exits with the status found in a file named
/// after that argument (0 without one).
fn write_hook(dir: &Path) -> PathBuf {
    let hook = dir.join("hook.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$1\" >> {log}\nwhile read -r k v; do [ \"$k\" = Seccomp_filters: ] && echo \"$v\" > {dir}/filters; done < /proc/$$/status\nstatus=$(cat {dir}/$1.status 2>/dev/null)\nexit ${{status:-0}}\n",
            log = dir.join("hook.log").display(),
            dir = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    hook
}

#[test]
fn fsfreeze_hook_runs_before_freeze_and_after_thaw() {
    let _turn = serial();
    let dir = TempDir::new("fsfreeze");
    let mnt = dir.0.join("mnt");
    let mut cleanup = Cleanup::default();
    cleanup.loop_ext4(&dir.0.join("image"), 32, &mnt, "rw");
    let hook = write_hook(&dir.0);
    let log = dir.0.join("hook.log");
    let mnt_text = text(&mnt);
    let set_status = |phase: &str, status: Option<i32>| {
        let file = dir.0.join(format!("{phase}.status"));
        match status {
            Some(s) => std::fs::write(file, s.to_string()).unwrap(),
            None => {
                let _ = std::fs::remove_file(file);
            }
        }
    };
    let script = |host: &mut Client| -> (Vec<Value>, String) {
        let _ = std::fs::remove_file(&log);
        let mut replies = vec![
            freeze_list(host, &[mnt_text]),
            request(host, "guest-fsfreeze-thaw"),
        ];
        // A failing freeze hook: nothing is frozen.
        set_status("freeze", Some(3));
        replies.push(freeze_list(host, &[mnt_text]));
        replies.push(request(host, "guest-fsfreeze-status"));
        set_status("freeze", None);
        // A failing thaw hook: the filesystem is thawed all the same.
        set_status("thaw", Some(4));
        replies.push(freeze_list(host, &[mnt_text]));
        replies.push(request(host, "guest-fsfreeze-thaw"));
        replies.push(request(host, "guest-fsfreeze-status"));
        set_status("thaw", None);
        assert_writable(&mnt);
        (replies, std::fs::read_to_string(&log).unwrap_or_default())
    };
    let reference = {
        let qemu_ga = QemuGa::start(&["-b", QEMU_GA_BLOCK, &format!("-F{}", hook.display())]);
        script(&mut qemu_ga.connect())
    };
    let (ours, helper_filters) = {
        let agent = Agent::start_with(hook_options(&hook));
        let helper_filters: u32 = tests::status_field(agent.helper_pid(), "Seccomp_filters")
            .parse()
            .unwrap();
        (script(&mut agent.connect()), helper_filters)
    };
    assert_eq!(ours, reference);
    // The hook ran under its own filter on top of the helper's.
    let hook_filters: u32 = std::fs::read_to_string(dir.0.join("filters"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(hook_filters, helper_filters + 1);
    let failed = |status: i32| {
        json!({"error": {"class": "GenericError",
            "desc": format!("fsfreeze hook has failed with status {status}")}})
    };
    assert_eq!(
        ours.0,
        [
            json!({"return": 1}),
            json!({"return": 1}),
            failed(3),
            json!({"return": "thawed"}),
            json!({"return": 1}),
            failed(4),
            json!({"return": "thawed"}),
        ]
    );
    assert_eq!(ours.1, "freeze\nthaw\nfreeze\nfreeze\nthaw\n");

    // A hook that is missing or not executable.
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let missing = dir.0.join("missing-hook");
    for (path, reason) in [
        (&hook, "Permission denied"),
        (&missing, "No such file or directory"),
    ] {
        let script = |host: &mut Client| {
            vec![
                freeze_list(host, &[mnt_text]),
                request(host, "guest-fsfreeze-status"),
                request(host, "guest-fsfreeze-thaw"),
            ]
        };
        let reference = {
            let qemu_ga = QemuGa::start(&["-b", QEMU_GA_BLOCK, &format!("-F{}", path.display())]);
            script(&mut qemu_ga.connect())
        };
        let agent = Agent::start_with(hook_options(path));
        let ours = script(&mut agent.connect());
        assert_eq!(ours, reference);
        let refusal = json!({"error": {"class": "GenericError",
            "desc": format!("can't access fsfreeze hook '{}': {reason}", path.display())}});
        assert_eq!(
            ours,
            [refusal.clone(), json!({"return": "thawed"}), refusal]
        );
    }
}

// ---- whole-system freeze and trim in a private mount namespace --------------

/// A private mount namespace whose root is an ext4 loop image holding the
/// agents and the libraries they load. Mounted inside it, in this order:
/// /nodiscard, an ext4 whose device cannot discard (its image lives on a
/// ramfs); /btrfs; /squashfs (no freeze, no trim); and a proc and a tmpfs
/// /run. Nothing else is mounted there, so "every filesystem" means these.
struct Sandbox {
    root: PathBuf,
    /// Device numbers of the loop devices: the only block devices an agent
    /// in the sandbox may see.
    devices: Vec<u64>,
    _cleanup: Cleanup,
    _dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = TempDir::new("fsfreeze-sandbox");
        let root = dir.0.join("root");
        let mut cleanup = Cleanup::default();
        let root_device = cleanup.loop_ext4(&dir.0.join("root.img"), 160, &root, "rw");
        let ramfs = dir.0.join("ramfs");
        cleanup.mount(&["-t", "ramfs", "ramfs"], &ramfs);
        let nodiscard_device = cleanup.loop_ext4(
            &ramfs.join("nodiscard.img"),
            32,
            &root.join("nodiscard"),
            "rw",
        );
        let btrfs_device = cleanup.loop_btrfs(&dir.0.join("btrfs.img"), &root.join("btrfs"));
        let squashfs_device =
            cleanup.loop_squashfs(&dir.0.join("squashfs.img"), &root.join("squashfs"));
        let devices = [
            &root_device,
            &nodiscard_device,
            &btrfs_device,
            &squashfs_device,
        ]
        .iter()
        .map(|d| std::fs::metadata(d).expect("loop device").rdev())
        .collect();
        let helper_dir = bin_dir();
        for (from, to) in [
            (helper_dir.join("agent-helper"), "agent-helper"),
            (helper_dir.join("agent-front"), "agent-front"),
            (PathBuf::from(QEMU_GA), "qemu-ga"),
        ] {
            copy_with_libraries(&from, &root, &root.join(to));
        }
        for file in [
            "/etc/passwd",
            "/etc/group",
            "/etc/nsswitch.conf",
            "/etc/ld.so.cache",
        ] {
            copy_into(Path::new(file), &root);
        }
        for d in ["proc", "run", "oldroot", "dev"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let null = CString::new(text(&root.join("dev/null"))).unwrap();
        // SAFETY: mknod with a valid path; a character device 1:3 (/dev/null).
        let rc = unsafe { libc::mknod(null.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
        assert_eq!(rc, 0, "mknod /dev/null");
        // The btrfs mount names its device; the agents look it up there.
        let node = CString::new(text(&root.join(btrfs_device.trim_start_matches('/')))).unwrap();
        let rdev = std::fs::metadata(&btrfs_device).unwrap().rdev();
        // SAFETY: mknod with a valid path; the same block device number.
        let rc = unsafe { libc::mknod(node.as_ptr(), libc::S_IFBLK | 0o600, rdev) };
        assert_eq!(rc, 0, "mknod {btrfs_device}");
        std::fs::write(root.join("policy.toml"), "default = \"allow\"\n").unwrap();
        Sandbox {
            root,
            devices,
            _cleanup: cleanup,
            _dir: dir,
        }
    }

    /// Starts `program` (a path inside the sandbox) in a new mount
    /// namespace rooted at the image.
    fn spawn(&self, program: &str, args: &[&str]) -> SandboxProcess {
        let c = |s: &str| CString::new(s).unwrap();
        let root = c(text(&self.root));
        let (slash, proc_dir, run_dir) = (
            c("/"),
            c(text(&self.root.join("proc"))),
            c(text(&self.root.join("run"))),
        );
        let (proc_fs, tmpfs, dot, oldroot, oldroot_abs) =
            (c("proc"), c("tmpfs"), c("."), c("oldroot"), c("/oldroot"));
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe system calls on strings prepared
        // before the fork. Any failure fails the spawn, so nothing runs
        // outside the sandbox.
        unsafe {
            command.pre_exec(move || {
                let check = |rc: libc::c_long| {
                    if rc == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                };
                let none = std::ptr::null::<libc::c_char>();
                check(libc::unshare(libc::CLONE_NEWNS).into())?;
                check(
                    libc::mount(
                        none,
                        slash.as_ptr(),
                        none,
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    )
                    .into(),
                )?;
                check(
                    libc::mount(
                        proc_fs.as_ptr(),
                        proc_dir.as_ptr(),
                        proc_fs.as_ptr(),
                        0,
                        std::ptr::null(),
                    )
                    .into(),
                )?;
                check(
                    libc::mount(
                        tmpfs.as_ptr(),
                        run_dir.as_ptr(),
                        tmpfs.as_ptr(),
                        0,
                        std::ptr::null(),
                    )
                    .into(),
                )?;
                check(libc::chdir(root.as_ptr()).into())?;
                check(libc::syscall(
                    libc::SYS_pivot_root,
                    dot.as_ptr(),
                    oldroot.as_ptr(),
                ))?;
                check(libc::umount2(oldroot_abs.as_ptr(), libc::MNT_DETACH).into())?;
                check(libc::chdir(slash.as_ptr()).into())?;
                Ok(())
            });
        }
        let child = command.spawn().expect("start a process in the sandbox");
        let process = SandboxProcess { child };
        wait_for(&process.path("/run/qga.sock"));
        process.check_sees_only(&self.devices);
        process
    }

    fn agent(&self) -> SandboxProcess {
        self.spawn(
            "/agent-helper",
            &[
                "-m",
                "unix-listen",
                "-p",
                "/run/qga.sock",
                "-t",
                "/run",
                "-f",
                "/run/agent.pid",
                "-l",
                "/run/agent.log",
                "--policy",
                "/policy.toml",
            ],
        )
    }

    fn qemu_ga(&self) -> SandboxProcess {
        self.spawn(
            "/qemu-ga",
            &[
                "-m",
                "unix-listen",
                "-p",
                "/run/qga.sock",
                "-t",
                "/run",
                "-f",
                "/run/qga.pid",
            ],
        )
    }
}

/// Copies a file to the same absolute path under `root`.
fn copy_into(file: &Path, root: &Path) {
    let target = root.join(file.strip_prefix("/").unwrap());
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(file, &target).unwrap_or_else(|e| panic!("copy {}: {e}", file.display()));
}

/// Copies a program to `target` and the shared libraries it loads (as
/// `ldd` lists them) to their own paths under `root`.
fn copy_with_libraries(program: &Path, root: &Path, target: &Path) {
    std::fs::copy(program, target).unwrap_or_else(|e| panic!("copy {}: {e}", program.display()));
    for line in run("ldd", &[text(program)]).lines() {
        let library = match line.split_once("=>") {
            Some((_, right)) => right.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(library) = library.filter(|l| l.starts_with('/')) {
            copy_into(Path::new(library), root);
        }
    }
}

struct SandboxProcess {
    child: Child,
}

impl SandboxProcess {
    /// A path inside the sandbox, as seen from outside.
    fn path(&self, inside: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{inside}", self.child.id()))
    }

    fn connect(&self) -> Client {
        Client::connect(&self.path("/run/qga.sock"))
    }

    /// The guard that keeps the whole-system commands off this machine's
    /// own filesystems: the process must see no block device but ours.
    fn check_sees_only(&self, devices: &[u64]) {
        let mountinfo = std::fs::read_to_string(format!("/proc/{}/mountinfo", self.child.id()))
            .expect("sandbox mountinfo");
        for line in mountinfo.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (major, minor) = fields[2].split_once(':').unwrap();
            let (major, minor): (u32, u32) = (major.parse().unwrap(), minor.parse().unwrap());
            let separator = fields.iter().position(|f| *f == "-").unwrap();
            let (fstype, source) = (fields[separator + 1], fields[separator + 2]);
            let device = if fstype == "btrfs" {
                // What the agents will resolve the source to.
                std::fs::metadata(source).map_or(0, |m| m.rdev())
            } else {
                libc::makedev(major, minor)
            };
            assert!(
                (major == 0 && fstype != "btrfs") || devices.contains(&device),
                "the sandbox sees a block device that is not ours: {line}"
            );
        }
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        tests::terminate(&mut self.child);
    }
}

/// `trimmed` depends on what each run found to discard; everything else
/// must be equal.
fn without_trimmed(mut reply: Value) -> Value {
    let paths = reply
        .get_mut("return")
        .and_then(|r| r.get_mut("paths"))
        .and_then(Value::as_array_mut);
    if let Some(paths) = paths {
        for p in paths {
            if let Some(t) = p.get_mut("trimmed") {
                assert!(t.as_i64().is_some_and(|n| n >= 0), "{t}");
                *t = json!("N");
            }
        }
    }
    reply
}

fn trimmed_at(reply: &Value, path: &str) -> i64 {
    reply["return"]["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .find(|p| p["path"] == path)
        .and_then(|p| p["trimmed"].as_i64())
        .unwrap_or_else(|| panic!("no trimmed count for {path} in {reply}"))
}

#[test]
fn whole_system_freeze_and_trim_in_a_private_mount_namespace() {
    let _turn = serial();
    require_root();
    let sandbox = Sandbox::new();
    let root = sandbox.root.clone();
    let script = |host: &mut Client| -> Vec<Value> {
        let mut replies = vec![
            request(host, "guest-fstrim"),
            host.request(r#"{"execute":"guest-fstrim","arguments":{"minimum":1048576}}"#),
            host.request(r#"{"execute":"guest-fstrim","arguments":{"minimum":-1}}"#),
            request(host, "guest-fsfreeze-freeze"),
            request(host, "guest-fsfreeze-status"),
        ];
        let writer = start_writer(root.join("data"));
        assert_blocked(&writer);
        replies.push(request(host, "guest-fstrim"));
        replies.push(request(host, "guest-fsfreeze-thaw"));
        assert_unblocked(&writer);
        // freeze-list without mount points freezes everything too.
        replies.push(host.request(r#"{"execute":"guest-fsfreeze-freeze-list"}"#));
        replies.push(request(host, "guest-fsfreeze-thaw"));
        replies.into_iter().map(without_trimmed).collect()
    };
    let reference = {
        let qemu_ga = sandbox.qemu_ga();
        script(&mut qemu_ga.connect())
    };

    // Free some blocks for this agent's trim to find: ext4 remembers which
    // block groups it already trimmed.
    let file = root.join("to-be-deleted");
    std::fs::write(&file, vec![0xa5; 8 << 20]).unwrap();
    std::fs::File::open(&file).unwrap().sync_all().unwrap();
    std::fs::remove_file(&file).unwrap();
    run("sync", &["-f", text(&root)]);

    let agent = sandbox.agent();
    let mut host = agent.connect();
    let first = request(&mut host, "guest-fstrim");
    let root_entry = first["return"]["paths"]
        .as_array()
        .and_then(|paths| paths.iter().find(|p| p["path"] == "/"));
    assert_ne!(
        root_entry.map(|e| &e["error"]),
        Some(&json!("trim not supported")),
        "the root image's loop device cannot discard: its \
         /sys/block/loopN/queue/discard_max_bytes was set to 0"
    );
    assert!(
        trimmed_at(&first, "/") >= 4 << 20,
        "the deleted file's blocks were trimmed: {first}"
    );
    let ours = script(&mut host);
    drop(host);
    drop(agent);

    assert_eq!(ours, reference);
    // Reverse mount order; filesystems that cannot trim say so in their
    // entry; `minimum` is what the kernel used (btrfs raises 0 to the
    // device's discard granularity).
    let not_supported = |path: &str| json!({"path": path, "error": "trim not supported"});
    let trimmed =
        |path: &str, minimum: i64| json!({"path": path, "minimum": minimum, "trimmed": "N"});
    assert_eq!(
        ours[0],
        json!({"return": {"paths": [not_supported("/squashfs"), trimmed("/btrfs", 4096),
            not_supported("/nodiscard"), trimmed("/", 0)]}})
    );
    assert_eq!(
        ours[1],
        json!({"return": {"paths": [not_supported("/squashfs"), trimmed("/btrfs", 1048576),
            not_supported("/nodiscard"), trimmed("/", 1048576)]}})
    );
    // A negative minimum is handed over as a huge unsigned one: ext4
    // refuses it, btrfs trims nothing.
    assert_eq!(
        ours[2]["return"]["paths"][3],
        json!({"path": "/", "error": "failed to trim: Invalid argument"})
    );
    // Everything but squashfs (no freeze support: skipped, not counted).
    assert_eq!(ours[3], json!({"return": 3}));
    assert_eq!(ours[4], json!({"return": "frozen"}));
    assert_eq!(ours[5], frozen_refusal("guest-fstrim"));
    assert_eq!(ours[6], json!({"return": 3}));
    assert_eq!(ours[7], json!({"return": 3}));
    assert_eq!(ours[8], json!({"return": 3}));
    assert_writable(&root);
}
