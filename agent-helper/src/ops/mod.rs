//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod files;
pub mod fsfreeze;
pub mod fstrim;
pub mod mounts;
pub mod password;
pub mod power;
pub mod time;

/// The C library's message for an errno value, as qemu-ga prints it
/// (`No such file or directory`, without Rust's "(os error N)").
pub fn strerror(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}
