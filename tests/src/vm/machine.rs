//! One QEMU process running the test guest: the command line, the choice
//! of accelerator, and a teardown that kills exactly this QEMU.

use super::guest::{GuestImage, AGENT_PORT_NAME, SHELL_PORT_NAME};
use super::{fail, Result};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The QEMU device id of the agent's virtio-serial port, as it appears in
/// QMP's VSERPORT_CHANGE events.
pub const AGENT_PORT_ID: &str = "qga-port";

const KERNEL_ARGS: &str = "console=ttyS0 rdinit=/init panic=-1 loglevel=4 no_console_suspend \
                           mem_sleep_default=deep memhp_default_state=offline";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// QGA_VM_ACCEL=kvm|tcg, else KVM only where it really works: /dev/kvm
    /// can exist without hardware virtualisation (nested sandboxes), where a
    /// stock kernel never gets past its decompressor.
    pub fn choose() -> Result<Accel> {
        match std::env::var("QGA_VM_ACCEL").as_deref() {
            Ok("kvm") => return Ok(Accel::Kvm),
            Ok("tcg") => return Ok(Accel::Tcg),
            Ok("auto") | Err(_) => {}
            Ok(other) => return fail(format!("QGA_VM_ACCEL={other}: use kvm, tcg or auto")),
        }
        let kvm_device = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        let cpu_flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let hardware = cpu_flags
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
        Ok(if kvm_device && hardware {
            Accel::Kvm
        } else {
            Accel::Tcg
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    fn args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Accel::Tcg => ["-accel", "tcg,thread=multi", "-cpu", "max"],
        }
    }
}

/// The host-side endpoints of a running guest.
pub struct Machine {
    child: Child,
    pub started: Instant,
    pub started_at: SystemTime,
    pub qmp_socket: PathBuf,
    pub agent_socket: PathBuf,
    pub shell_socket: PathBuf,
    pub console_log: PathBuf,
    pub pid_file: PathBuf,
    /// QEMU's stdout and stderr.
    qemu_output: PathBuf,
}

impl Machine {
    /// Starts QEMU on the image and waits for its sockets.
    pub fn start(image: &GuestImage, accel: Accel) -> Result<Machine> {
        let dir = &image.dir;
        let qmp_socket = dir.join("qmp.sock");
        let agent_socket = dir.join("qga.sock");
        let shell_socket = dir.join("shell.sock");
        let console_log = dir.join("console.log");
        let pid_file = dir.join("qemu.pid");
        for s in [&qmp_socket, &agent_socket, &shell_socket] {
            let _ = std::fs::remove_file(s);
        }
        let qemu_out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("qemu.out"))
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-nodefaults", "-no-user-config", "-display", "none"])
            .args(["-no-reboot", "-M", "pc"])
            .args(accel.args())
            .args(["-smp", "2", "-m", "512M,slots=4,maxmem=2G"])
            .args(["-global", "PIIX4_PM.disable_s3=0"])
            .args(["-global", "PIIX4_PM.disable_s4=0"])
            .arg("-kernel")
            .arg(&image.kernel)
            .arg("-initrd")
            .arg(&image.initramfs)
            .args(["-append", KERNEL_ARGS])
            .arg("-chardev")
            .arg(format!(
                "file,id=con0,path={},append=on",
                console_log.display()
            ))
            .args(["-serial", "chardev:con0"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_socket.display()))
            .arg("-drive")
            .arg(format!(
                "file={},if=none,id=data0,format=raw,discard=unmap,cache=unsafe",
                image.data_disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=data0,id=vblk0,addr=0x4"])
            .arg("-drive")
            .arg(format!(
                "file={},if=none,id=swap0,format=raw,cache=unsafe",
                image.swap_disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=swap0,id=vblk1,addr=0x5"])
            .args(["-device", "virtio-serial-pci,id=vser0,addr=0x6"])
            .arg("-chardev")
            .arg(format!(
                "socket,id=qga0,path={},server=on,wait=off",
                agent_socket.display()
            ))
            .arg("-device")
            .arg(format!(
                "virtserialport,bus=vser0.0,chardev=qga0,id={AGENT_PORT_ID},name={AGENT_PORT_NAME}"
            ))
            .arg("-chardev")
            .arg(format!(
                "socket,id=shell0,path={},server=on,wait=off",
                shell_socket.display()
            ))
            .arg("-device")
            .arg(format!(
                "virtserialport,bus=vser0.0,chardev=shell0,id=shell-port,name={SHELL_PORT_NAME}"
            ))
            .arg("-pidfile")
            .arg(&pid_file)
            .stdin(Stdio::null())
            .stdout(qemu_out.try_clone().map_err(|e| e.to_string())?)
            .stderr(qemu_out);
        // SAFETY: prctl in the forked child before exec touches no shared
        // state. If the test process dies without unwinding, QEMU goes with it.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        append(&console_log, &format!("=== boot accel={}\n", accel.label()));
        let started = Instant::now();
        let started_at = SystemTime::now();
        let child = cmd.spawn().map_err(|e| {
            format!("cannot start qemu-system-x86_64 ({e}): install qemu-system-x86")
        })?;
        let mut machine = Machine {
            child,
            started,
            started_at,
            qmp_socket,
            agent_socket,
            shell_socket,
            console_log,
            pid_file,
            qemu_output: dir.join("qemu.out"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = machine.exited() {
                return fail(format!(
                    "QEMU exited at start ({status}): {}",
                    read_tail(&dir.join("qemu.out"), 2000)
                ));
            }
            if [
                &machine.qmp_socket,
                &machine.agent_socket,
                &machine.shell_socket,
            ]
            .iter()
            .all(|s| s.exists())
            {
                return Ok(machine);
            }
            if Instant::now() > deadline {
                return fail("QEMU did not create its sockets within 20 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if QEMU has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for QEMU to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// An error, with QEMU's own last words if it exits (it may be on its
    /// way out when the error shows).
    pub fn explain(&mut self, error: String) -> String {
        match self.wait_exit(Duration::from_secs(2)) {
            Some(status) => format!(
                "{error}; QEMU exited ({status}): {}",
                read_tail(&self.qemu_output, 2000).trim_end()
            ),
            None => error,
        }
    }

    /// The end of the guest's serial console.
    pub fn console_tail(&self, bytes: usize) -> String {
        read_tail(&self.console_log, bytes)
    }
}

impl Drop for Machine {
    /// Kills this QEMU only (the child we started; QEMU also writes its pid
    /// to `qemu.pid` for anyone cleaning up by hand). Runs on every path out
    /// of a check, failed ones included.
    fn drop(&mut self) {
        if self.exited().is_none() {
            // Our own unreaped child: its pid cannot have been reused.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(text.as_bytes());
    }
}

pub fn read_tail(path: &Path, bytes: usize) -> String {
    let data = std::fs::read(path).unwrap_or_default();
    let start = data.len().saturating_sub(bytes);
    String::from_utf8_lossy(&data[start..]).into_owned()
}
