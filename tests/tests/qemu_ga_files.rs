//! Differential: the same guest-file-* and guest-set-time requests to
//! Debian's qemu-ga and to this agent, each working on its own copy of the
//! same files, compared reply by reply. Handles may differ in value but
//! must both be integers; results, error classes and descriptions must be
//! identical once each agent's directory and handle numbers are named
//! alike. Afterwards both directories must hold the same files with the
//! same contents and permissions.

use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use tests::qemu_ga::QemuGa;
use tests::{Agent, Client, TempDir};

const POLICY: &str = r#"
[allow]
commands = ["guest-file-*", "guest-set-time"]
"#;

/// One request. `$DIR` stands for the agent's work directory and `@name@`
/// for a handle; `bind` names the handle this request returns.
struct Step {
    request: &'static str,
    bind: Option<&'static str>,
}

const fn step(request: &'static str) -> Step {
    Step {
        request,
        bind: None,
    }
}

const fn bind(name: &'static str, request: &'static str) -> Step {
    Step {
        request,
        bind: Some(name),
    }
}

fn file_steps() -> Vec<Step> {
    vec![
        bind(
            "@r@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":0}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":11}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":0}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":5}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":"cur"}}"#,
        ),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":100,"whence":2}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":-3,"whence":"end"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@}}"#),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":7}}"#),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":-1}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":"middle"}}"#,
        ),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":true}}"#,
        ),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":1.5}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":null}}"#,
        ),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":-100,"whence":1}}"#,
        ),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":1,"whence":"set"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":-1}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":50331649}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":50331648}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@r@,"buf-b64":"QUJD"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@r@,"buf-b64":""}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@r@,"buf-b64":"QU!D"}}"#),
        step(
            r#"{"execute":"guest-file-write","arguments":{"handle":@r@,"buf-b64":"QUJD","count":9}}"#,
        ),
        step(r#"{"execute":"guest-file-flush","arguments":{"handle":@r@}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@r@}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@r@}}"#),
        step(r#"{"execute":"guest-file-flush","arguments":{"handle":@r@}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@r@,"count":-1}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@r@,"buf-b64":"QU!D"}}"#),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@r@,"offset":0,"whence":7}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":424242}}"#),
        // a directory opens, but cannot be read or written
        bind(
            "@d@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/dir","mode":"r"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@d@}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@d@,"count":0}}"#),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@d@,"offset":0,"whence":0}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@d@,"buf-b64":"QUJD"}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@d@}}"#),
        // open failures
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/dir","mode":"w"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/dir","mode":"a+"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/no/such","mode":"w"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/missing"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":""}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/a\u0000b","mode":"w"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":"z"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":"rw"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":""}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":"wx"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":null}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"mode":"r"}}"#),
        step(r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","x":1}}"#),
        // a new file: every byte value, lenient base64, count
        bind(
            "@n@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/new","mode":"w+b"}}"#,
        ),
        step(concat!(
            r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":""#,
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4",
            "OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3Bx",
            "cnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmq",
            "q6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj",
            "5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w==",
            r#""}}"#
        )),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@n@,"offset":0,"whence":"set"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@n@,"count":1000}}"#),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@n@,"offset":250,"whence":0}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@n@,"count":6}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@n@,"count":6}}"#),
        step(
            r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD\nREVG","count":2}}"#,
        ),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QQ=="}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"=QQ=="}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJDRA=x"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"===="}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QQ"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJDR"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD\r\n"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD REVG"}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD\u0000"}}"#),
        step(
            r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QU!D","count":-1}}"#,
        ),
        step(
            r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD","count":-1}}"#,
        ),
        step(
            r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":"QUJD","count":0}}"#,
        ),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@,"buf-b64":5}}"#),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@n@}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@n@,"offset":0,"whence":"cur"}}"#,
        ),
        step(r#"{"execute":"guest-file-seek","arguments":{"handle":@n@,"offset":0}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":"1"}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@n@}}"#),
        // append, write-only, truncate, update
        bind(
            "@a@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/log","mode":"a"}}"#,
        ),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@a@,"buf-b64":"b25lCg=="}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@a@}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@a@,"offset":0,"whence":"set"}}"#,
        ),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@a@,"buf-b64":"dHdvCg=="}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@a@}}"#),
        bind(
            "@w@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/bytes","mode":"wb"}}"#,
        ),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@w@}}"#),
        bind(
            "@u@",
            r#"{"execute":"guest-file-open","arguments":{"path":"$DIR/data","mode":"r+"}}"#,
        ),
        step(r#"{"execute":"guest-file-write","arguments":{"handle":@u@,"buf-b64":"eHl6"}}"#),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@u@,"count":3}}"#),
        step(
            r#"{"execute":"guest-file-seek","arguments":{"handle":@u@,"offset":0,"whence":"set"}}"#,
        ),
        step(r#"{"execute":"guest-file-read","arguments":{"handle":@u@}}"#),
        step(r#"{"execute":"guest-file-close","arguments":{"handle":@u@}}"#),
    ]
}

/// Only values that are refused before anything is set (or, for -1,
/// refused by the kernel), so neither agent moves the clock.
fn set_time_steps() -> Vec<Step> {
    let mut steps = vec![
        step(r#"{"execute":"guest-set-time","arguments":{"time":-1000000000000000000}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":3155760000000000000}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":9223372036854775807}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":-9223372036854775808}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":-1}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":1.5}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":"x"}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":null}}"#),
        step(r#"{"execute":"guest-set-time","arguments":{"time":1,"x":1}}"#),
    ];
    // Without an RTC, reading it fails in both and changes nothing.
    if !["/dev/rtc", "/dev/rtc0"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        steps.push(step(r#"{"execute":"guest-set-time"}"#));
    }
    steps
}

/// The files both agents start from.
fn populate(dir: &Path) {
    std::fs::write(dir.join("data"), b"hello world").unwrap();
    std::fs::write(dir.join("bytes"), (0..=255u8).collect::<Vec<_>>()).unwrap();
    std::fs::create_dir(dir.join("dir")).unwrap();
}

/// Runs the steps and returns each reply with the directory written `$DIR`
/// and each handle written by its name.
fn run(host: &mut Client, dir: &Path, steps: &[Step]) -> Vec<(String, Value)> {
    let dir_text = dir.to_str().unwrap();
    let mut handles: BTreeMap<&str, i64> = BTreeMap::new();
    let mut out = Vec::new();
    for step in steps {
        let mut request = step.request.replace("$DIR", dir_text);
        for (name, handle) in &handles {
            request = request.replace(name, &handle.to_string());
        }
        let mut reply = host.request(&request);
        if let Some(name) = step.bind {
            let handle = reply["return"]
                .as_i64()
                .unwrap_or_else(|| panic!("{request}: a handle must be an integer: {reply}"));
            handles.insert(name, handle);
            reply["return"] = Value::String(name.to_string());
        }
        let mut text = reply.to_string().replace(dir_text, "$DIR");
        for (name, handle) in &handles {
            text = text.replace(&format!("'{handle}'"), &format!("'{name}'"));
        }
        out.push((
            step.request.to_string(),
            serde_json::from_str(&text).unwrap(),
        ));
    }
    out
}

/// Every file under `dir`: name, permission bits, contents.
fn snapshot(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        let contents = if meta.is_file() {
            std::fs::read(entry.path()).unwrap()
        } else {
            Vec::new()
        };
        out.insert(
            entry.file_name().to_string_lossy().into_owned(),
            (meta.permissions().mode(), contents),
        );
    }
    out
}

fn compare(reference: &[(String, Value)], ours: &[(String, Value)]) {
    assert_eq!(reference.len(), ours.len());
    let mut differences = Vec::new();
    for ((request, want), (_, got)) in reference.iter().zip(ours) {
        if want != got {
            differences.push(format!("{request}\n  qemu-ga: {want}\n  ours:    {got}"));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} replies differ:\n{}",
        differences.len(),
        reference.len(),
        differences.join("\n")
    );
}

#[test]
fn file_commands_answer_like_qemu_ga() {
    let steps = file_steps();
    let work = TempDir::new("diff-files");
    let (reference_dir, our_dir) = (work.0.join("qemu-ga"), work.0.join("ours"));
    for dir in [&reference_dir, &our_dir] {
        std::fs::create_dir(dir).unwrap();
        populate(dir);
    }

    let qemu_ga = QemuGa::start(&[]);
    let reference = run(&mut qemu_ga.connect(), &reference_dir, &steps);
    let reference_state = std::fs::read_to_string(qemu_ga.dir.0.join("qga.state")).unwrap();
    qemu_ga.stop();

    let agent = Agent::start(POLICY);
    let ours = run(&mut agent.connect(), &our_dir, &steps);
    compare(&reference, &ours);
    assert_eq!(snapshot(&reference_dir), snapshot(&our_dir));
    // Both started from a fresh statedir and opened as many files.
    let our_state = std::fs::read_to_string(agent.dir.0.join("qga.state")).unwrap();
    assert_eq!(reference_state, our_state);
}

#[test]
fn set_time_refusals_match_qemu_ga() {
    let steps = set_time_steps();
    let work = TempDir::new("diff-time");
    let qemu_ga = QemuGa::start(&[]);
    let reference = run(&mut qemu_ga.connect(), &work.0, &steps);
    qemu_ga.stop();
    let agent = Agent::start(POLICY);
    let ours = run(&mut agent.connect(), &work.0, &steps);
    compare(&reference, &ours);
}
