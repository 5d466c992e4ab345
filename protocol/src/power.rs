//! The values of guest-shutdown and guest-suspend-*.

use crate::error::QgaError;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShutdownMode {
    Powerdown,
    Halt,
    Reboot,
}

impl ShutdownMode {
    /// guest-shutdown's optional `mode` string; absent means powerdown.
    pub fn from_arg(mode: Option<&str>) -> Result<ShutdownMode, QgaError> {
        match mode {
            None | Some("powerdown") => Ok(ShutdownMode::Powerdown),
            Some("halt") => Ok(ShutdownMode::Halt),
            Some("reboot") => Ok(ShutdownMode::Reboot),
            Some(_) => Err(QgaError::shutdown_mode_invalid()),
        }
    }
}

/// One per guest-suspend-* command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SuspendMode {
    /// Hibernate: guest-suspend-disk.
    Disk,
    /// Suspend to RAM: guest-suspend-ram.
    Ram,
    /// Both at once: guest-suspend-hybrid.
    Hybrid,
}

impl SuspendMode {
    pub fn command_name(self) -> &'static str {
        match self {
            SuspendMode::Disk => "guest-suspend-disk",
            SuspendMode::Ram => "guest-suspend-ram",
            SuspendMode::Hybrid => "guest-suspend-hybrid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_modes() {
        assert_eq!(ShutdownMode::from_arg(None), Ok(ShutdownMode::Powerdown));
        assert_eq!(
            ShutdownMode::from_arg(Some("reboot")),
            Ok(ShutdownMode::Reboot)
        );
        for bad in ["", "Halt", "sideways"] {
            assert_eq!(
                ShutdownMode::from_arg(Some(bad)),
                Err(QgaError::shutdown_mode_invalid())
            );
        }
    }
}
