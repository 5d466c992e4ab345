//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod block_devices;
pub mod cpu;
pub mod disks;
pub mod exec;
pub mod files;
#[cfg(test)]
mod fixture;
pub mod fs_mounts;
pub mod fsfreeze;
pub mod fsinfo;
pub mod fstrim;
pub mod memory;
pub mod mounts;
pub mod network;
mod os;
pub mod os_release;
pub mod password;
pub mod power;
pub mod routes;
mod scan;
pub mod ssh_keys;
pub mod stats;
pub mod sysfile;
pub mod sysinfo;
pub mod time;
pub mod timezone;
pub mod users;

/// The C library's message for an errno value, as qemu-ga prints it
/// (`No such file or directory`, without Rust's "(os error N)").
pub use protocol::error::strerror;
