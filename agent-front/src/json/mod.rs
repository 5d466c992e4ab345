//! qemu-ga's JSON dialect: a byte stream of JSON values (no framing), lexed
//! and split into requests the way qemu-ga does it, so every error a host can
//! observe (text, count, recovery point) is the same.
//!
//! `lexer` turns bytes into tokens, `streamer` groups tokens into one
//! top-level value and enforces the size limits, `parser` builds the value,
//! and `writer` prints replies in qemu-ga's exact output format.

pub mod lexer;
pub mod parser;
pub mod streamer;
pub mod writer;

pub use streamer::{StreamItem, Streamer};
