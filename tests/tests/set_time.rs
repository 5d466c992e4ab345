//! guest-set-time through the real agent, without disturbing the machine's
//! clock: only out-of-range values (refused before anything is set) and
//! "now", read just before the request. Where the machine has no RTC, the
//! hwclock step fails, and that failure must be reported as qemu-ga
//! reports it.

use serde_json::json;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tests::{error_of, Agent};

const POLICY: &str = r#"
[allow]
commands = ["guest-set-time", "guest-get-time"]
"#;

const HWCLOCK_FAILED: &str = "hwclock failed to set hardware clock to system time";

fn rtc_present() -> bool {
    ["/dev/rtc", "/dev/rtc0"]
        .iter()
        .any(|p| Path::new(p).exists())
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

#[test]
fn out_of_range_and_mistyped_times_are_refused() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let before = now_ns();
    for (time, expected) in [
        (json!(-1_000_000_000_000_000_000i64), "Invalid time"),
        (json!(3_155_760_000_000_000_000i64), "Invalid time"), // 2070-01-01
        (json!(i64::MAX), "Invalid time"),
        (json!(i64::MIN), "Invalid time"),
        // A negative fraction of a second is no valid clock value.
        (json!(-1), "Failed to set time to guest: Invalid argument"),
        (
            json!(1.5),
            "Invalid parameter type for 'time', expected: integer",
        ),
        (
            json!("now"),
            "Invalid parameter type for 'time', expected: integer",
        ),
        (
            json!(null),
            "Invalid parameter type for 'time', expected: integer",
        ),
    ] {
        let reply = host.request(
            &json!({"execute": "guest-set-time", "arguments": {"time": time}}).to_string(),
        );
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), expected.into()),
            "{time}"
        );
    }
    let clock = host.request(r#"{"execute":"guest-get-time"}"#)["return"]
        .as_i64()
        .unwrap();
    assert!(
        clock >= before - 1_000_000_000 && clock - now_ns() < 1_000_000_000,
        "the clock did not move"
    );
}

#[test]
fn setting_now_sets_the_clock_then_writes_the_rtc() {
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let reply = host.request(
        &json!({"execute": "guest-set-time", "arguments": {"time": now_ns()}}).to_string(),
    );
    if rtc_present() {
        assert_eq!(reply, json!({"return": {}}));
    } else {
        assert_eq!(
            error_of(&reply),
            ("GenericError".into(), HWCLOCK_FAILED.into())
        );
        let log = agent.log_text();
        assert!(log.contains("system clock set"), "{log}");
        assert!(log.contains("hwclock failed direction=\"-w\""), "{log}");
    }
    let clock = host.request(r#"{"execute":"guest-get-time"}"#)["return"]
        .as_i64()
        .unwrap();
    assert!((clock - now_ns()).abs() < 2_000_000_000);
}

#[test]
fn without_a_time_the_system_clock_is_read_from_the_rtc() {
    if rtc_present() {
        eprintln!("skipped: this machine has an RTC, and hwclock -s would set the clock from it");
        return;
    }
    let agent = Agent::start(POLICY);
    let mut host = agent.connect();
    let reply = host.request(r#"{"execute":"guest-set-time"}"#);
    assert_eq!(
        error_of(&reply),
        ("GenericError".into(), HWCLOCK_FAILED.into())
    );
    let log = agent.log_text();
    assert!(log.contains("hwclock failed direction=\"-s\""), "{log}");
    assert!(
        !log.contains("system clock set"),
        "nothing set without a time"
    );
}
