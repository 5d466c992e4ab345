//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod errno_text;
pub mod fsfreeze;
pub mod fstrim;
pub mod mounts;
pub mod time;
