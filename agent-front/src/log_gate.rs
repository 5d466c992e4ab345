//! Logging stops while filesystems are frozen, as qemu-ga's does: a log line
//! written to a file on a frozen filesystem would block the process, and
//! with it the thaw that would unblock it. Lines are dropped, and counted.
//! Both binaries use this file (agent-helper includes it by path): the
//! helper switches it when it freezes and thaws, the front follows the
//! frozen state the helper sends.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static SUSPENDED: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// The writer filter: whether a line may be written now.
pub fn is_open(_: &tracing::Metadata<'_>) -> bool {
    if SUSPENDED.load(Ordering::Relaxed) {
        DROPPED.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    true
}

fn suspend() {
    SUSPENDED.store(true, Ordering::Relaxed);
}

/// Resumes logging and says how many lines were dropped meanwhile.
fn resume() {
    if SUSPENDED.swap(false, Ordering::Relaxed) {
        let dropped = DROPPED.swap(0, Ordering::Relaxed);
        tracing::info!(dropped, "logging resumed after thaw");
    }
}

/// Suspends or resumes to match the frozen state.
pub fn follow(frozen: bool) {
    if frozen {
        suspend();
    } else {
        resume();
    }
}
