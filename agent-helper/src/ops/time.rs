//! guest-get-time.

use protocol::QgaError;

/// Nanoseconds since the epoch, counted in whole microseconds as qemu-ga
/// does (its clock source has microsecond resolution).
pub fn get_time() -> Result<i64, QgaError> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map_err(|e| QgaError::generic(format!("failed to get time: {e}")))?;
    let micros = now.tv_sec() * 1_000_000 + now.tv_nsec() / 1_000;
    Ok(micros * 1_000)
}

#[cfg(test)]
mod tests {
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
