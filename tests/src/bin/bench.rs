//! Side-by-side benchmark: Debian's qemu-ga and this agent, started on unix
//! sockets in the same run, driven by the same client, one table of figures
//! and ratios. Not a test: numbers on a shared machine are noisy, so only
//! the ratios of one run mean anything.
//!
//!   cargo build --release --workspace && target/release/bench [--reps N] [--cpus C,A]
//!
//! `--cpus C,A` runs the client on CPU C and the agents on CPU A, as a host
//! and its guest's agent never share a CPU; without it the kernel places
//! them, and where it puts each process moves the figures more than most
//! changes to the agent do.

use base64::Engine;
use serde_json::Value;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QEMU_GA: &str = "/usr/sbin/qemu-ga";
const PING: &[u8] = b"{\"execute\":\"guest-ping\"}\n";

#[derive(Clone, Copy, PartialEq)]
enum Which {
    QemuGa,
    Ours,
    /// This program's `--echo-server`: the least any server that sleeps
    /// between requests can cost per round trip.
    Floor,
}

struct Agent {
    child: Child,
    socket: PathBuf,
    dir: PathBuf,
    started_to_ping: Duration,
}

impl Agent {
    fn start(which: Which, dir: &Path, cpu: Option<usize>) -> Agent {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let socket = dir.join("qga.sock");
        let t0 = Instant::now();
        let mut cmd = match which {
            Which::QemuGa => {
                let mut c = Command::new(QEMU_GA);
                c.args(["-m", "unix-listen", "-p"]).arg(&socket);
                c
            }
            Which::Ours => {
                let exe = std::env::current_exe().unwrap();
                let policy = dir.join("policy.toml");
                std::fs::write(&policy, "default = \"allow\"\n").unwrap();
                let mut c = Command::new(exe.with_file_name("agent-helper"));
                c.args(["-m", "unix-listen", "-p"])
                    .arg(&socket)
                    .arg("--policy")
                    .arg(&policy);
                c
            }
            Which::Floor => {
                let mut c = Command::new(std::env::current_exe().unwrap());
                c.arg("--echo-server").arg(&socket);
                c
            }
        };
        if which != Which::Floor {
            cmd.arg("-t")
                .arg(dir)
                .arg("-f")
                .arg(dir.join("pid"))
                .arg("-l")
                .arg(dir.join("log"));
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(cpu) = cpu {
            use std::os::unix::process::CommandExt;
            // SAFETY: sched_setaffinity in the child before exec, no allocation.
            unsafe {
                cmd.pre_exec(move || {
                    run_on_cpu(cpu);
                    Ok(())
                })
            };
        }
        let child = cmd.spawn().expect("start agent");
        let mut conn = loop {
            if let Ok(c) = UnixStream::connect(&socket) {
                break c;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "agent did not start"
            );
            std::thread::sleep(Duration::from_micros(200));
        };
        conn.write_all(PING).unwrap();
        read_line(&mut conn, &mut Vec::new());
        let started_to_ping = t0.elapsed();
        Agent {
            child,
            socket,
            dir: dir.to_path_buf(),
            started_to_ping,
        }
    }

    fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket).unwrap()
    }

    /// Every process of the agent: qemu-ga itself, or our helper and front.
    fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(tests::children_of(self.child.id()));
        pids
    }

    fn memory_kib(&self, field: &str) -> u64 {
        self.pids()
            .iter()
            .map(|&p| {
                tests::status_field(p, field)
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0)
            })
            .sum()
    }

    /// Proportional set size summed over the processes: shared library
    /// pages are counted once across them, not once per process as with RSS.
    fn pss_kib(&self) -> u64 {
        self.pids()
            .iter()
            .map(|p| {
                std::fs::read_to_string(format!("/proc/{p}/smaps_rollup"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("Pss:"))
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
                    .unwrap_or(0)
            })
            .sum()
    }

    fn cpu_seconds(&self) -> f64 {
        let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        self.pids()
            .iter()
            .map(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                tests::cpu_ticks(&stat).unwrap_or(0) as f64 / tick
            })
            .sum()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The next reply line. Reads straight into `buf` and looks for the newline
/// only in the bytes just read (with memchr), and hands over a line that
/// ends the buffer without copying it, so a large reply costs the client
/// little next to the agent, in one piece or in many.
fn read_line(conn: &mut UnixStream, buf: &mut Vec<u8>) -> Vec<u8> {
    let mut scanned = 0;
    loop {
        if let Some(i) = memchr::memchr(b'\n', &buf[scanned..]) {
            let end = scanned + i + 1;
            if end == buf.len() {
                return std::mem::take(buf);
            }
            let rest = buf.split_off(end);
            return std::mem::replace(buf, rest);
        }
        scanned = buf.len();
        buf.reserve(1 << 20);
        let spare = buf.spare_capacity_mut();
        // SAFETY: read writes at most spare.len() bytes into the spare
        // capacity; only the bytes it reports are then marked initialised.
        let n = unsafe {
            libc::read(
                std::os::fd::AsRawFd::as_raw_fd(conn),
                spare.as_mut_ptr().cast(),
                spare.len(),
            )
        };
        assert!(n > 0, "agent closed the connection or the read failed");
        // SAFETY: the kernel initialised n bytes of the spare capacity.
        unsafe { buf.set_len(scanned + n as usize) };
    }
}

fn request(conn: &mut UnixStream, buf: &mut Vec<u8>, req: &str) -> Value {
    conn.write_all(req.as_bytes()).unwrap();
    let line = read_line(conn, buf);
    let v: Value = serde_json::from_slice(&line).unwrap();
    assert!(v.get("error").is_none(), "{req}: {v}");
    v
}

struct Latency {
    median_us: f64,
    p99_us: f64,
    per_second: f64,
}

fn latency(agent: &Agent, req: &[u8], count: usize) -> Latency {
    let mut conn = agent.connect();
    let mut buf = Vec::new();
    let mut samples = Vec::with_capacity(count);
    let t0 = Instant::now();
    for _ in 0..count {
        let t = Instant::now();
        conn.write_all(req).unwrap();
        read_line(&mut conn, &mut buf);
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = t0.elapsed().as_secs_f64();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Latency {
        median_us: samples[count / 2],
        p99_us: samples[count * 99 / 100],
        per_second: count as f64 / total,
    }
}

/// Payload MiB/s reading `data_file` through guest-file-read in `chunk`
/// sized calls, data verified, and the client's CPU time against the
/// agent's during the reads.
fn file_read(agent: &Agent, data_file: &Path, expected: &[u8], chunk: usize) -> (f64, f64) {
    let mut conn = agent.connect();
    let mut buf = Vec::new();
    let open = format!(
        "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\",\"mode\":\"r\"}}}}\n",
        data_file.display()
    );
    let handle = request(&mut conn, &mut buf, &open)["return"]
        .as_i64()
        .unwrap();
    let read = format!("{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{handle},\"count\":{chunk}}}}}\n");
    // Each full chunk's base64, made before the clock starts: a reply is
    // verified by comparing its text (standard base64 has one encoding per
    // byte string), so the client does not spend the run decoding.
    let encoded: Vec<String> = expected
        .chunks(chunk)
        .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
        .collect();
    let mut offset = 0;
    let mut replies = 0;
    let share = CpuShare::start(agent);
    let t0 = Instant::now();
    loop {
        conn.write_all(read.as_bytes()).unwrap();
        let line = read_line(&mut conn, &mut buf);
        let (payload, eof) = read_reply_fields(&line);
        if encoded
            .get(replies)
            .is_some_and(|e| e.as_bytes() == payload)
        {
            offset += chunk.min(expected.len() - offset);
        } else {
            // A short read: decode and compare where it lands.
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(payload)
                .unwrap();
            assert!(
                expected[offset..].starts_with(&bytes),
                "read data differs at {offset}"
            );
            offset += bytes.len();
            if bytes.is_empty() {
                break;
            }
        }
        replies += 1;
        if eof {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let client_share = share.ratio(agent);
    assert_eq!(offset, expected.len(), "read came up short");
    request(
        &mut conn,
        &mut buf,
        &format!("{{\"execute\":\"guest-file-close\",\"arguments\":{{\"handle\":{handle}}}}}\n"),
    );
    (
        expected.len() as f64 / (1 << 20) as f64 / secs,
        client_share,
    )
}

/// `buf-b64` and `eof` of a guest-file-read reply, found without a full
/// JSON parse, and touching the payload once (to find its end), so the
/// client's own cost stays small next to the agent's (both agents print
/// base64 without escapes).
fn read_reply_fields(line: &[u8]) -> (&[u8], bool) {
    const KEY: &[u8] = b"\"buf-b64\": \"";
    let head = &line[..line.len().min(128)];
    assert!(
        head.starts_with(b"{\"return\""),
        "read failed: {}",
        String::from_utf8_lossy(head)
    );
    let start = head
        .windows(KEY.len())
        .position(|w| w == KEY)
        .expect("buf-b64")
        + KEY.len();
    let end = start + memchr::memchr(b'"', &line[start..]).expect("end of buf-b64");
    let tail = &line[end..];
    let eof = tail.windows(11).any(|w| w == b"\"eof\": true");
    (&line[start..end], eof)
}

fn file_write(agent: &Agent, target: &Path, data: &[u8], chunk: usize) -> f64 {
    let mut conn = agent.connect();
    let mut buf = Vec::new();
    let open = format!(
        "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\",\"mode\":\"w\"}}}}\n",
        target.display()
    );
    let handle = request(&mut conn, &mut buf, &open)["return"]
        .as_i64()
        .unwrap();
    let writes: Vec<String> = data
        .chunks(chunk)
        .map(|c| {
            format!(
                "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":{handle},\"buf-b64\":\"{}\"}}}}\n",
                base64::engine::general_purpose::STANDARD.encode(c)
            )
        })
        .collect();
    let t0 = Instant::now();
    for w in &writes {
        request(&mut conn, &mut buf, w);
    }
    request(
        &mut conn,
        &mut buf,
        &format!("{{\"execute\":\"guest-file-close\",\"arguments\":{{\"handle\":{handle}}}}}\n"),
    );
    let secs = t0.elapsed().as_secs_f64();
    assert!(
        std::fs::read(target).unwrap() == data,
        "written data differs"
    );
    data.len() as f64 / (1 << 20) as f64 / secs
}

/// Answers every line on `socket` with an empty return, with blocking reads
/// and writes and nothing else: the floor under guest-ping's round trip for
/// any server that sleeps between requests, placed as the agents are.
fn echo_server(socket: &Path) -> ! {
    use std::io::Read;
    let listener = std::os::unix::net::UnixListener::bind(socket).expect("bind echo socket");
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let Ok((mut conn, _)) = listener.accept() else {
            continue;
        };
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            for _ in memchr::memchr_iter(b'\n', &buf[..n]) {
                if conn.write_all(b"{\"return\": {}}\n").is_err() {
                    break;
                }
            }
        }
    }
}

/// The guest's halt-polling setting, which decides what waking an idle
/// CPU costs and so most of a sequential round trip's time.
fn halt_polling() -> String {
    match std::fs::read_to_string("/sys/module/haltpoll/parameters/guest_halt_poll_ns") {
        Ok(ns) if ns.trim() == "0" => "guest_halt_poll_ns = 0 (idle CPUs halt at once)".into(),
        Ok(ns) => format!("guest_halt_poll_ns = {}", ns.trim()),
        Err(_) => "no haltpoll cpuidle driver".into(),
    }
}

type Figures = Vec<(&'static str, &'static str, f64)>;

fn run_once(
    which: Which,
    work: &Path,
    data_file: &Path,
    data: &[u8],
    files: bool,
    agent_cpu: Option<usize>,
) -> Figures {
    let agent = Agent::start(which, &work.join("agent"), agent_cpu);
    let mut f: Figures = Vec::new();
    f.push((
        "start to first ping",
        "ms",
        agent.started_to_ping.as_secs_f64() * 1e3,
    ));
    std::thread::sleep(Duration::from_millis(200));
    f.push((
        "RSS idle (all processes)",
        "MiB",
        agent.memory_kib("VmRSS") as f64 / 1024.0,
    ));
    f.push((
        "PSS idle (all processes)",
        "MiB",
        agent.pss_kib() as f64 / 1024.0,
    ));
    let share = CpuShare::start(&agent);
    let ping = latency(&agent, PING, 5000);
    let client_share = share.ratio(&agent);
    f.push(("guest-ping median", "us", ping.median_us));
    f.push(("guest-ping p99", "us", ping.p99_us));
    f.push(("guest-ping requests/s", "1/s", ping.per_second));
    f.push(("  client CPU / agent CPU (ping)", "ratio", client_share));
    let time = latency(&agent, b"{\"execute\":\"guest-get-time\"}\n", 2000);
    f.push(("guest-get-time median", "us", time.median_us));
    f.push(("guest-get-time p99", "us", time.p99_us));
    let info = latency(&agent, b"{\"execute\":\"guest-info\"}\n", 1000);
    f.push(("guest-info median", "us", info.median_us));
    f.push(("guest-info p99", "us", info.p99_us));
    if files {
        for (name, chunk) in [
            ("file read 64 KiB calls", 64 << 10),
            ("file read 1 MiB calls", 1 << 20),
        ] {
            let (throughput, client_share) = file_read(&agent, data_file, data, chunk);
            f.push((name, "MiB/s", throughput));
            f.push(("  client CPU / agent CPU (read)", "ratio", client_share));
        }
        let out = work.join("written.bin");
        f.push((
            "file write 64 KiB calls",
            "MiB/s",
            file_write(&agent, &out, data, 64 << 10),
        ));
        f.push((
            "file write 1 MiB calls",
            "MiB/s",
            file_write(&agent, &out, data, 1 << 20),
        ));
        let _ = std::fs::remove_file(out);
    }
    // Memory once the agent has been idle a moment after the run, as a
    // daemon spends most of its life.
    std::thread::sleep(Duration::from_millis(500));
    f.push((
        "RSS after run (then idle 0.5 s)",
        "MiB",
        agent.memory_kib("VmRSS") as f64 / 1024.0,
    ));
    f.push((
        "PSS after run (then idle 0.5 s)",
        "MiB",
        agent.pss_kib() as f64 / 1024.0,
    ));
    f.push((
        "RSS high-water mark",
        "MiB",
        agent.memory_kib("VmHWM") as f64 / 1024.0,
    ));
    f
}

/// Keeps the calling process on one CPU.
fn run_on_cpu(cpu: usize) {
    // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET writes in it;
    // sched_setaffinity reads a set of the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

/// The client's CPU time against the agent's (all its processes) over a
/// stretch of the run: well below 1, the client is not the bottleneck.
struct CpuShare {
    client: f64,
    agent: f64,
}

impl CpuShare {
    fn start(agent: &Agent) -> CpuShare {
        CpuShare {
            client: client_cpu_seconds(),
            agent: agent.cpu_seconds(),
        }
    }

    fn ratio(&self, agent: &Agent) -> f64 {
        (client_cpu_seconds() - self.client) / (agent.cpu_seconds() - self.agent).max(1e-9)
    }
}

fn client_cpu_seconds() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

fn main() {
    let mut reps = 3;
    let mut cpus: Option<(usize, usize)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--echo-server" {
            echo_server(Path::new(&args.next().expect("--echo-server SOCKET")));
        } else if a == "--reps" {
            reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(3);
        } else if a == "--cpus" {
            cpus = args.next().and_then(|v| {
                let (c, a) = v.split_once(',')?;
                Some((c.parse().ok()?, a.parse().ok()?))
            });
            assert!(cpus.is_some(), "--cpus takes CLIENT,AGENT (CPU numbers)");
        }
    }
    if let Some((client, _)) = cpus {
        run_on_cpu(client);
    }
    let agent_cpu = cpus.map(|(_, agent)| agent);
    assert!(Path::new(QEMU_GA).exists(), "install qemu-guest-agent");
    let work = std::env::temp_dir().join(format!("qga-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let data_file = work.join("data.bin");
    let mut data = vec![0u8; 64 << 20];
    let mut seed = 0x1234_5678_9ABC_DEF1u64;
    for b in data.iter_mut() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        *b = seed as u8;
    }
    std::fs::write(&data_file, &data).unwrap();
    // Does this agent implement the file commands yet?
    let files = {
        let probe = Agent::start(Which::Ours, &work.join("probe"), agent_cpu);
        let mut conn = probe.connect();
        conn.write_all(b"{\"execute\":\"guest-info\"}\n").unwrap();
        let v: Value = serde_json::from_slice(&read_line(&mut conn, &mut Vec::new())).unwrap();
        v["return"]["supported_commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "guest-file-read" && c["enabled"] == true)
    };
    let mut runs: [Vec<Figures>; 2] = [Vec::new(), Vec::new()];
    let (mut floor_median, mut floor_p99) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        let floor = Agent::start(Which::Floor, &work.join("floor"), agent_cpu);
        let ping = latency(&floor, PING, 5000);
        floor_median.push(ping.median_us);
        floor_p99.push(ping.p99_us);
        drop(floor);
        runs[0].push(run_once(
            Which::QemuGa,
            &work,
            &data_file,
            &data,
            files,
            agent_cpu,
        ));
        runs[1].push(run_once(
            Which::Ours,
            &work,
            &data_file,
            &data,
            files,
            agent_cpu,
        ));
    }
    println!("Median of {reps} runs each, same machine, same client, unix-listen sockets.");
    if let Some((client, agent)) = cpus {
        println!("Client on CPU {client}, agents on CPU {agent}.");
    }
    println!("Halt polling: {}.", halt_polling());
    println!();
    println!("| figure | unit | qemu-ga | this agent | ratio (ours / qemu-ga) |");
    println!("|---|---|---:|---:|---:|");
    for (i, &(name, unit, _)) in runs[0][0].iter().enumerate() {
        let mut q: Vec<f64> = runs[0].iter().map(|f| f[i].2).collect();
        let mut o: Vec<f64> = runs[1].iter().map(|f| f[i].2).collect();
        let (q, o) = (median(&mut q), median(&mut o));
        println!("| {name} | {unit} | {q:.2} | {o:.2} | {:.2} |", o / q);
    }
    let qemu_ga_ping = median(
        &mut runs[0]
            .iter()
            .flat_map(|f| f.iter().filter(|x| x.0 == "guest-ping median").map(|x| x.2))
            .collect::<Vec<_>>(),
    );
    let floor = median(&mut floor_median);
    println!();
    println!(
        "Floor: a server that only reads each line and writes an empty return, placed as the agents are: \
         guest-ping median {floor:.2} us ({:.2} x qemu-ga's), p99 {:.2} us.",
        floor / qemu_ga_ping,
        median(&mut floor_p99)
    );
    if !files {
        println!();
        println!("(file figures skipped: this build does not implement guest-file-* yet)");
    }
    let _ = std::fs::remove_dir_all(&work);
}
