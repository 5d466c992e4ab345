//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod time;

pub mod os_release;
pub mod routes;
pub mod scan;
pub mod ssh_keys;
pub mod stats;
pub mod sysfile;
pub mod sysinfo;
pub mod timezone;
pub mod users;
