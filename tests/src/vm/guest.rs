//! Builds the test guest: a busybox initramfs that carries the guest agent
//! under test and runs it as in production, an ext4 data disk and a swap
//! disk (for hibernation). Everything comes from the host's Debian packages
//! (linux-image-amd64, busybox-static, passwd, libpam-modules); the guest's
//! own scripts are the files in `guest/`.

use super::{fail, Result};
use std::collections::BTreeSet;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Which guest agent the guest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    /// This project's agent-helper (which starts agent-front).
    Ours,
    /// Debian's qemu-ga, the reference implementation.
    QemuGa,
}

impl AgentKind {
    pub fn label(self) -> &'static str {
        match self {
            AgentKind::Ours => "ours",
            AgentKind::QemuGa => "qemu-ga",
        }
    }
}

/// The virtio-serial port name the agent listens on (what libvirt uses).
pub const AGENT_PORT_NAME: &str = "org.qemu.guest_agent.0";
/// A second port with a root shell on it, for the test to look inside.
pub const SHELL_PORT_NAME: &str = "org.qga-privsep.test-shell";
/// Where the guest mounts the data disk.
pub const DATA_MOUNT: &str = "/mnt/data";
/// The policy file inside the guest (ours only).
pub const GUEST_POLICY_PATH: &str = "/etc/qga/policy.toml";
/// The policy the guest starts with.
pub const GUEST_POLICY: &str = include_str!("guest/policy.toml");
/// The one command that policy denies (qemu-ga: blocked with `-b`).
pub const DENIED_COMMAND: &str = "guest-exec";
/// The unprivileged user the front runs as.
pub const FRONT_USER: &str = "qga-front";
/// The agent's log inside the guest: the path the AppArmor profile lets
/// both processes write.
pub const GUEST_AGENT_LOG: &str = "/var/log/qga-privsep.log";

/// The fsfreeze hook both agents run (qemu-ga's default path for -F).
pub const FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";

/// Where the guest's hook.d script notes each action it was called with.
pub const HOOK_ACTIONS: &str = "/run/hook-actions";
/// Where the helper finds the front, as the systemd unit installs it (the
/// path the AppArmor profile `agent-front` attaches to).
pub const GUEST_FRONT_PATH: &str = "/usr/libexec/qga-privsep/agent-front";
/// The project's AppArmor profile inside the guest; the init loads it
/// before the agent starts.
pub const GUEST_APPARMOR_PROFILE: &str = "/etc/apparmor.d/usr.sbin.agent-helper";

const DATA_DISK_BYTES: u64 = 256 << 20;
const SWAP_DISK_BYTES: u64 = 512 << 20;
/// Modules Debian builds as `=m` that the guest needs; their dependencies
/// come from `modprobe --show-depends`.
const MODULES: &[&str] = &[
    "virtio_pci",
    "virtio_console",
    "virtio_blk",
    "crc32c_generic",
    "ext4",
];

/// The files a boot needs, in one work directory.
#[derive(Clone, Debug)]
pub struct GuestImage {
    pub agent: AgentKind,
    pub dir: PathBuf,
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub data_disk: PathBuf,
    pub swap_disk: PathBuf,
}

/// Where the agent binaries come from.
pub struct AgentBinaries {
    /// agent-helper and agent-front (ours).
    pub bin_dir: PathBuf,
    /// Debian's qemu-ga.
    pub qemu_ga: PathBuf,
}

pub fn build(dir: &Path, agent: AgentKind, binaries: &AgentBinaries) -> Result<GuestImage> {
    let (kernel, kver) = find_kernel()?;
    let root = dir.join("initramfs");
    let _ = std::fs::remove_dir_all(&root);
    let tree = Tree { root: root.clone() };
    tree.skeleton()?;
    tree.busybox()?;
    tree.users_and_config()?;
    tree.chpasswd_with_pam()?;
    tree.fsfreeze_hook()?;
    tree.modules(&kver)?;
    match agent {
        AgentKind::Ours => {
            tree.copy_binary(
                &binaries.bin_dir.join("agent-helper"),
                "/usr/sbin/agent-helper",
            )?;
            tree.copy_binary(&binaries.bin_dir.join("agent-front"), GUEST_FRONT_PATH)?;
            tree.write("/etc/qga/policy.toml", GUEST_POLICY, 0o644)?;
            tree.apparmor()?;
        }
        AgentKind::QemuGa => {
            if !binaries.qemu_ga.exists() {
                return fail(format!(
                    "{} missing: install qemu-guest-agent",
                    binaries.qemu_ga.display()
                ));
            }
            tree.copy_binary(&binaries.qemu_ga, "/usr/sbin/qemu-ga")?;
        }
    }
    tree.write("/etc/agent.sh", &agent_launcher(agent), 0o755)?;

    let initramfs = dir.join("initramfs.cpio");
    pack_cpio(&root, &initramfs)?;
    let data_disk = dir.join("data.img");
    let swap_disk = dir.join("swap.img");
    make_disk(&data_disk, DATA_DISK_BYTES)?;
    // No discard at mkfs: the image stays sparse only where mkfs wrote
    // nothing, and the first fstrim in the guest then has work to do.
    run(Command::new(program("mkfs.ext4", "e2fsprogs")?)
        .args([
            "-F",
            "-q",
            "-L",
            "qgadata",
            "-E",
            "nodiscard,lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(&data_disk))?;
    make_disk(&swap_disk, SWAP_DISK_BYTES)?;
    run(Command::new(program("mkswap", "util-linux")?)
        .args(["-L", "qgaswap"])
        .arg(&swap_disk))?;
    Ok(GuestImage {
        agent,
        dir: dir.to_path_buf(),
        kernel,
        initramfs,
        data_disk,
        swap_disk,
    })
}

/// One line per exit of the agent, with its status, written by the
/// launcher (the checks read how the agent stopped).
pub const AGENT_EXITS: &str = "/run/agent-exits";

/// The script busybox init respawns: wait for the port, then run the
/// agent exactly as a distribution's service would, and note its exit.
fn agent_launcher(agent: AgentKind) -> String {
    let port = format!("/dev/virtio-ports/{AGENT_PORT_NAME}");
    let run = match agent {
        AgentKind::Ours => format!(
            "/usr/sbin/agent-helper -m virtio-serial -p {port} \
             --policy {GUEST_POLICY_PATH} --front-user {FRONT_USER} \
             --front-path {GUEST_FRONT_PATH} -l {GUEST_AGENT_LOG} -F{FSFREEZE_HOOK}"
        ),
        AgentKind::QemuGa => format!(
            "/usr/sbin/qemu-ga -m virtio-serial -p {port} -l {GUEST_AGENT_LOG} \
             -b {DENIED_COMMAND} -F{FSFREEZE_HOOK}"
        ),
    };
    format!(
        "#!/bin/sh\n\
         # Respawned by busybox init, as a service manager would.\n\
         while [ ! -e {port} ]; do sleep 0.1; done\n\
         echo \"agent start uptime=$(cut -d' ' -f1 /proc/uptime)\" > /dev/console\n\
         {run}\n\
         echo \"agent exited with status $?\" >> {AGENT_EXITS}\n"
    )
}

/// The newest /boot/vmlinuz-* whose modules are installed (override with
/// QGA_VM_KERNEL), and its version.
fn find_kernel() -> Result<(PathBuf, String)> {
    if let Ok(k) = std::env::var("QGA_VM_KERNEL") {
        let path = PathBuf::from(k);
        let kver = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("vmlinuz-"))
            .map(str::to_string)
            .ok_or_else(|| format!("QGA_VM_KERNEL {} is not a vmlinuz-VERSION", path.display()))?;
        return Ok((path, kver));
    }
    let mut found: Vec<(Vec<u64>, PathBuf, String)> = Vec::new();
    for entry in std::fs::read_dir("/boot").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(kver) = name.strip_prefix("vmlinuz-") else {
            continue;
        };
        if !Path::new("/lib/modules")
            .join(kver)
            .join("modules.dep")
            .exists()
        {
            continue;
        }
        let key = kver
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        found.push((key, entry.path(), kver.to_string()));
    }
    found.sort();
    match found.pop() {
        Some((_, path, kver)) => Ok((path, kver)),
        None => fail("no /boot/vmlinuz-* with its modules: install linux-image-amd64"),
    }
}

struct Tree {
    root: PathBuf,
}

impl Tree {
    fn path(&self, guest_path: &str) -> PathBuf {
        self.root.join(guest_path.trim_start_matches('/'))
    }

    fn skeleton(&self) -> Result<()> {
        for d in [
            "usr/bin",
            "usr/sbin",
            "usr/lib",
            "usr/lib64",
            "etc/pam.d",
            "etc/qga",
            "proc",
            "sys",
            "dev",
            "run",
            "tmp",
            "mnt/data",
            "root",
            "home/testuser",
            "var/log",
        ] {
            mkdir(&self.root.join(d))?;
        }
        // A merged /usr, as on Debian: /sbin/shutdown and /usr/sbin/shutdown
        // are one file, whichever path an agent uses.
        for (link, target) in [
            ("bin", "usr/bin"),
            ("sbin", "usr/sbin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
            ("var/run", "../run"),
        ] {
            symlink(target, self.root.join(link)).map_err(|e| format!("symlink {link}: {e}"))?;
        }
        std::fs::set_permissions(
            self.root.join("tmp"),
            std::fs::Permissions::from_mode(0o1777),
        )
        .map_err(|e| e.to_string())
    }

    fn busybox(&self) -> Result<()> {
        let busybox = Path::new("/bin/busybox");
        if !busybox.exists() {
            return fail("/bin/busybox missing: install busybox-static");
        }
        self.copy_binary(busybox, "/usr/bin/busybox")?;
        let list = output(Command::new(busybox).arg("--list-full"))?;
        for applet in list.lines().filter(|l| !l.is_empty()) {
            let at = self.path(applet);
            if at.symlink_metadata().is_ok() {
                continue;
            }
            mkdir(at.parent().expect("applet dir"))?;
            symlink("/usr/bin/busybox", &at).map_err(|e| format!("applet {applet}: {e}"))?;
        }
        // Our own shutdown, not busybox's (which has no sysvinit options).
        let _ = std::fs::remove_file(self.path("/usr/sbin/shutdown"));
        self.write("/usr/sbin/shutdown", include_str!("guest/shutdown"), 0o755)?;
        self.write("/init", include_str!("guest/init"), 0o755)?;
        self.write("/etc/inittab", include_str!("guest/inittab"), 0o644)?;
        self.write(
            "/etc/test-shell.sh",
            include_str!("guest/test-shell.sh"),
            0o755,
        )
    }

    fn users_and_config(&self) -> Result<()> {
        self.write("/etc/passwd", include_str!("guest/passwd"), 0o644)?;
        self.write("/etc/group", include_str!("guest/group"), 0o644)?;
        self.write("/etc/shadow", include_str!("guest/shadow"), 0o640)?;
        self.write(
            "/etc/nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\n",
            0o644,
        )?;
        self.write("/etc/hostname", "qga-test\n", 0o644)?;
        self.write(
            "/etc/os-release",
            "ID=qga-test\nNAME=\"qga test guest\"\nVERSION_ID=1\n",
            0o644,
        )
    }

    /// Debian's fsfreeze hook (from its qemu-guest-agent package), which
    /// both agents run with -F, and one hook.d script that notes each call.
    fn fsfreeze_hook(&self) -> Result<()> {
        let hook = Path::new(FSFREEZE_HOOK);
        let text = std::fs::read_to_string(hook)
            .map_err(|e| format!("{}: {e} (install qemu-guest-agent)", hook.display()))?;
        self.write(FSFREEZE_HOOK, &text, 0o755)?;
        self.write(
            "/etc/qemu/fsfreeze-hook.d/record",
            include_str!("guest/fsfreeze-hook-record"),
            0o755,
        )
    }

    /// Debian's busybox has no chpasswd: the guest gets shadow's, with the
    /// PAM modules its password stack uses.
    fn chpasswd_with_pam(&self) -> Result<()> {
        let chpasswd = Path::new("/usr/sbin/chpasswd");
        if !chpasswd.exists() {
            return fail("/usr/sbin/chpasswd missing: install passwd");
        }
        self.copy_binary(chpasswd, "/usr/sbin/chpasswd")?;
        let libpam = shared_libraries(chpasswd)?
            .into_iter()
            .find(|l| {
                l.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libpam.so"))
            })
            .ok_or("chpasswd is not linked with libpam")?;
        let modules = libpam.parent().expect("lib dir").join("security");
        for module in ["pam_unix.so", "pam_deny.so", "pam_permit.so"] {
            let src = modules.join(module);
            if !src.exists() {
                return fail(format!("{} missing: install libpam-modules", src.display()));
            }
            self.copy_binary(&src, &src.to_string_lossy())?;
        }
        self.write(
            "/etc/pam.d/chpasswd",
            include_str!("guest/pam-chpasswd"),
            0o644,
        )?;
        self.write("/etc/pam.d/other", include_str!("guest/pam-other"), 0o644)?;
        if Path::new("/etc/login.defs").exists() {
            copy(Path::new("/etc/login.defs"), &self.path("/etc/login.defs"))?;
        }
        Ok(())
    }

    /// apparmor_parser, the system's profile includes and the project's
    /// profile, for the init to load it into the guest kernel (Debian's has
    /// AppArmor built in).
    fn apparmor(&self) -> Result<()> {
        let parser = Path::new("/usr/sbin/apparmor_parser");
        if !parser.exists() {
            return fail("/usr/sbin/apparmor_parser missing: install apparmor");
        }
        self.copy_binary(parser, "/usr/sbin/apparmor_parser")?;
        for dir in ["abi", "tunables", "abstractions"] {
            let src = Path::new("/etc/apparmor.d").join(dir);
            copy_tree(&src, &self.path(&format!("/etc/apparmor.d/{dir}")))?;
        }
        self.write(
            "/etc/apparmor.d/local/usr.sbin.agent-helper",
            include_str!("guest/apparmor-local"),
            0o644,
        )?;
        let profile =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../dist/apparmor/usr.sbin.agent-helper");
        copy(&profile, &self.path(GUEST_APPARMOR_PROFILE))
    }

    /// The kernel modules (with their dependencies, in load order),
    /// decompressed for busybox insmod, and /etc/modules.list for the init.
    fn modules(&self, kver: &str) -> Result<()> {
        let dir = self.path("/usr/lib/modules/extra");
        mkdir(&dir)?;
        let mut seen = BTreeSet::new();
        let mut order = String::new();
        for module in MODULES {
            let deps = output(Command::new(program("modprobe", "kmod")?).args([
                "-S",
                kver,
                "--show-depends",
                module,
            ]))?;
            for line in deps.lines() {
                let mut words = line.split_whitespace();
                if words.next() != Some("insmod") {
                    continue; // "builtin ..."
                }
                let Some(src) = words.next() else { continue };
                if !seen.insert(src.to_string()) {
                    continue;
                }
                let file = Path::new(src)
                    .file_name()
                    .expect("module file")
                    .to_string_lossy();
                let (name, decompress) = match file.rsplit_once(".ko") {
                    Some((stem, "")) => (format!("{stem}.ko"), None),
                    Some((stem, ".xz")) => (format!("{stem}.ko"), Some(("xz", "xz-utils"))),
                    Some((stem, ".zst")) => (format!("{stem}.ko"), Some(("zstd", "zstd"))),
                    Some((stem, ".gz")) => (format!("{stem}.ko"), Some(("gzip", "gzip"))),
                    _ => return fail(format!("unexpected module file {src}")),
                };
                match decompress {
                    None => copy(Path::new(src), &dir.join(&name))?,
                    Some((tool, package)) => {
                        let out =
                            std::fs::File::create(dir.join(&name)).map_err(|e| e.to_string())?;
                        run(Command::new(program(tool, package)?)
                            .args(["-dc", src])
                            .stdout(out))?;
                    }
                }
                order.push_str(&name);
                order.push('\n');
            }
        }
        if order.is_empty() {
            return fail(format!("modprobe found no modules for kernel {kver}"));
        }
        self.write("/etc/modules.list", &order, 0o644)
    }

    /// Copies a binary (debug info stripped when `strip` is there: a smaller
    /// initramfs boots faster) and the shared libraries ldd reports.
    fn copy_binary(&self, src: &Path, guest_path: &str) -> Result<()> {
        let dst = self.path(guest_path);
        mkdir(dst.parent().expect("parent"))?;
        // It may be a busybox applet link: never write through it.
        let _ = std::fs::remove_file(&dst);
        let stripped = find_program("strip").is_some_and(|strip| {
            Command::new(strip)
                .arg("--strip-debug")
                .arg("-o")
                .arg(&dst)
                .arg(src)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !stripped {
            copy(src, &dst)?;
        }
        set_mode(&dst, 0o755)?;
        for lib in shared_libraries(src)? {
            let at = self.path(&lib.to_string_lossy());
            if at.exists() {
                continue;
            }
            mkdir(at.parent().expect("lib dir"))?;
            copy(&lib, &at)?;
        }
        Ok(())
    }

    fn write(&self, guest_path: &str, text: &str, mode: u32) -> Result<()> {
        let at = self.path(guest_path);
        mkdir(at.parent().expect("parent"))?;
        std::fs::write(&at, text).map_err(|e| format!("{}: {e}", at.display()))?;
        set_mode(&at, mode)
    }
}

/// The absolute paths `ldd` reports (none for a static binary).
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

/// An uncompressed newc archive (faster to unpack under TCG), every file
/// owned by root whoever builds it.
fn pack_cpio(root: &Path, out: &Path) -> Result<()> {
    let mut names = Vec::new();
    collect(root, root, &mut names)?;
    let mut list = Vec::new();
    for n in names {
        list.extend_from_slice(n.as_os_str().as_encoded_bytes());
        list.push(0);
    }
    let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut child = Command::new(program("cpio", "cpio")?)
        .args(["--null", "-o", "-H", "newc", "--quiet", "-R", "0:0"])
        .current_dir(root)
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .map_err(|e| format!("cpio: {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("cpio stdin");
        stdin.write_all(&list).map_err(|e| format!("cpio: {e}"))?;
    }
    let status = child.wait().map_err(|e| format!("cpio: {e}"))?;
    if !status.success() {
        return fail(format!("cpio failed: {status}"));
    }
    Ok(())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        out.push(path.strip_prefix(root).expect("under root").to_path_buf());
        let is_dir = entry.file_type().map_err(|e| e.to_string())?.is_dir();
        if is_dir {
            collect(root, &path, out)?;
        }
    }
    Ok(())
}

/// Copies a directory of plain files and directories.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    mkdir(dst)?;
    for entry in std::fs::read_dir(src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .flatten()
    {
        let to = dst.join(entry.file_name());
        if entry.file_type().map_err(|e| e.to_string())?.is_dir() {
            copy_tree(&entry.path(), &to)?;
        } else {
            copy(&entry.path(), &to)?;
        }
    }
    Ok(())
}

fn make_disk(path: &Path, bytes: u64) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.set_len(bytes).map_err(|e| e.to_string())?;
    set_mode(path, 0o600)
}

/// A tool the build needs, or which package to install.
fn program(name: &str, package: &str) -> Result<PathBuf> {
    find_program(name).ok_or_else(|| format!("{name} not found: install {package}"))
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists());
    found
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return fail(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return fail(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn mkdir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn copy(src: &Path, dst: &Path) -> Result<()> {
    std::fs::copy(src, dst)
        .map(|_| ())
        .map_err(|e| format!("copy {} to {}: {e}", src.display(), dst.display()))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", path.display()))
}
