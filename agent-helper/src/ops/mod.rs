//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod password;
pub mod power;
pub mod time;
