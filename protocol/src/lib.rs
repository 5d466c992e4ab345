//! Everything both processes agree on, and nothing that does I/O:
//! the qemu-ga command table, the host-facing wire types, the error type
//! that maps onto qemu-ga's `{"class", "desc"}`, the internal front/helper
//! messages, and every size bound.

pub mod commands;
pub mod error;
pub mod file_mode;
pub mod internal;
pub mod limits;
pub mod mount_point;
pub mod password;
pub mod power;
pub mod qbase64;
pub mod qga;
pub mod ssh;
pub mod system;

pub use commands::{CommandSpec, Side, COMMANDS};
pub use error::{ErrorClass, QgaError};

/// The version `guest-info` reports. Clients compare it against qemu-ga
/// releases to decide which commands to try, so it follows the qemu-ga
/// release whose command set this agent implements.
pub const QGA_COMPAT_VERSION: &str = "7.2.22";
