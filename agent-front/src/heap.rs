//! The front's heap: buffers of a large transfer are kept between its
//! requests and given back to the kernel once the host goes quiet.

use std::time::Duration;

/// How long the channel must be quiet before memory is given back.
pub const IDLE_BEFORE_TRIM: Duration = Duration::from_millis(100);

/// Bytes moved since the last trim that make one worth doing.
const TRIM_AFTER_BYTES: usize = 1 << 20;

/// Largest block glibc may take from the heap rather than by mmap (its
/// own ceiling); larger blocks, rarer than any transfer buffer, are mapped.
const HEAP_BLOCK_LIMIT: i32 = 32 << 20;

/// Tells glibc to keep freed memory until `HeapTrim` gives it back.
/// Left to itself, glibc trims the heap top as soon as a reply's buffers
/// are freed and maps each block of a large transfer anew, so every
/// request of a transfer faults its pages in again (a tenth of the front's
/// time in a profile of 64 KiB reads).
pub fn keep_between_requests() {
    // SAFETY: mallopt only sets allocator parameters; called before the
    // runtime starts, with no allocation in flight on another thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, HEAP_BLOCK_LIMIT);
    }
}

/// Gives the heap's free memory back to the kernel once the host goes
/// quiet after a large transfer. Not during one: the next request would
/// only fault the same pages in again.
#[derive(Default)]
pub struct HeapTrim {
    moved: usize,
}

impl HeapTrim {
    pub fn moved(&mut self, bytes: usize) {
        self.moved = self.moved.saturating_add(bytes);
    }

    pub fn due(&self) -> bool {
        self.moved >= TRIM_AFTER_BYTES
    }

    pub fn trim(&mut self) {
        // SAFETY: malloc_trim only releases free memory of the allocator.
        unsafe { libc::malloc_trim(0) };
        self.moved = 0;
    }
}
