//! The privileged operations, one module per area. Each takes typed,
//! already-validated values and returns a typed reply or a qemu-ga error.

pub mod block_devices;
pub mod cpu;
pub mod disks;
#[cfg(test)]
mod fixture;
pub mod fs_mounts;
pub mod fsinfo;
pub mod memory;
pub mod network;
mod os;
mod scan;
pub mod system_roots;
pub mod time;
