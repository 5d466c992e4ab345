//! guest-get-time and guest-set-time.

use super::strerror;
use crate::child_filters::ChildKind;
use crate::runner;
use protocol::limits::HWCLOCK_TIMEOUT_MS;
use protocol::QgaError;
use std::path::Path;
use std::time::Duration;

/// The program that moves time between the system clock and the RTC, at
/// the path qemu-ga runs.
const HWCLOCK: &str = "/sbin/hwclock";

/// Nanoseconds since the epoch, counted in whole microseconds as qemu-ga
/// does (its clock source has microsecond resolution).
pub fn get_time() -> Result<i64, QgaError> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map_err(|e| QgaError::generic(format!("failed to get time: {e}")))?;
    let micros = now.tv_sec() * 1_000_000 + now.tv_nsec() / 1_000;
    Ok(micros * 1_000)
}

/// With `time_ns`, sets the system clock to it and then the RTC from the
/// system clock (`hwclock -w`); without, sets the system clock from the RTC
/// (`hwclock -s`). qemu-ga's checks, in its order: hwclock must be there,
/// and the time must fall in the years 1970 to 2069 (local time).
pub fn set_time(time_ns: Option<i64>) -> Result<(), QgaError> {
    if nix::unistd::access(HWCLOCK, nix::unistd::AccessFlags::X_OK).is_err() {
        return Err(QgaError::unsupported());
    }
    if let Some(ns) = time_ns {
        // Truncating division, as qemu-ga splits the value: a negative
        // remainder is then refused by the kernel.
        let seconds = ns / 1_000_000_000;
        if !year_is_settable(seconds) {
            return Err(QgaError::invalid_time());
        }
        let now = nix::sys::time::TimeSpec::new(seconds, ns % 1_000_000_000);
        nix::time::clock_settime(nix::time::ClockId::CLOCK_REALTIME, now)
            .map_err(|e| QgaError::set_time_failed(&strerror(e as i32)))?;
        tracing::info!(time_ns = ns, "system clock set");
    }
    let direction = if time_ns.is_some() { "-w" } else { "-s" };
    let out = runner::run(
        ChildKind::Clock,
        Path::new(HWCLOCK),
        &[direction],
        None,
        Duration::from_millis(HWCLOCK_TIMEOUT_MS),
    )
    .map_err(|e| QgaError::child_not_created(&e.to_string()))?;
    let output = |bytes: &[u8]| String::from_utf8_lossy(bytes).trim().to_string();
    if out.timed_out || out.code.is_none() {
        tracing::warn!(direction, signal = ?out.signal, timed_out = out.timed_out, "hwclock did not finish");
        return Err(QgaError::child_terminated_abnormally());
    }
    if !out.success() {
        tracing::warn!(
            direction,
            code = ?out.code,
            stdout = %output(&out.stdout),
            stderr = %output(&out.stderr),
            "hwclock failed"
        );
        return Err(QgaError::hwclock_failed());
    }
    Ok(())
}

/// qemu-ga accepts years 1970 to 2069 of the local calendar.
fn year_is_settable(seconds: i64) -> bool {
    // time_t is 64 bits on every target the agent builds for.
    let t: libc::time_t = seconds;
    // SAFETY: an all-zero tm is a valid value to be overwritten.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return false;
    }
    let year = i64::from(tm.tm_year) + 1900;
    (1970..2070).contains(&year)
}

#[cfg(test)]
mod tests {
    #[test]
    fn settable_years_are_1970_to_2069() {
        // Only meaningful in UTC, the test machines' zone.
        if std::env::var("TZ").is_ok_and(|tz| !tz.is_empty() && tz != "UTC") {
            return;
        }
        assert!(super::year_is_settable(0));
        assert!(super::year_is_settable(3_155_759_999)); // 2069-12-31 23:59:59
        assert!(!super::year_is_settable(3_155_760_000)); // 2070-01-01
        assert!(!super::year_is_settable(-1));
        assert!(!super::year_is_settable(i64::MAX));
        assert!(!super::year_is_settable(i64::MIN / 1_000_000_000));
    }

    #[test]
    fn whole_microseconds_near_now() {
        let t = super::get_time().unwrap();
        assert_eq!(t % 1_000, 0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!((now - t).abs() < 5_000_000_000);
    }
}
