//! The one error type a host ever sees. Every description text is formatted
//! here, so each of qemu-ga's messages exists exactly once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// qemu-ga only ever answers with these two classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorClass {
    GenericError,
    CommandNotFound,
}

impl ErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::GenericError => "GenericError",
            ErrorClass::CommandNotFound => "CommandNotFound",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QgaError {
    pub class: ErrorClass,
    pub desc: String,
}

impl fmt::Display for QgaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class.as_str(), self.desc)
    }
}

impl std::error::Error for QgaError {}

/// Why a known command is disabled; qemu-ga appends it after a colon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisabledReason {
    /// Blocked by the admin's policy (qemu-ga's `-b` gives no reason either).
    Policy,
    /// Filesystems are frozen.
    Frozen,
    /// Not available on this platform or in this build.
    Unavailable,
}

impl QgaError {
    pub fn generic(desc: impl Into<String>) -> Self {
        QgaError {
            class: ErrorClass::GenericError,
            desc: desc.into(),
        }
    }

    pub fn command_not_found(name: &str) -> Self {
        QgaError {
            class: ErrorClass::CommandNotFound,
            desc: format!("The command {name} has not been found"),
        }
    }

    pub fn disabled(name: &str, reason: DisabledReason) -> Self {
        let desc = match reason {
            DisabledReason::Policy | DisabledReason::Unavailable => {
                format!("Command {name} has been disabled")
            }
            DisabledReason::Frozen => {
                format!("Command {name} has been disabled: the agent is in frozen state")
            }
        };
        QgaError {
            class: ErrorClass::CommandNotFound,
            desc,
        }
    }

    /// A lexer or parser error on the host stream.
    pub fn json_parse(what: &str) -> Self {
        Self::generic(format!("JSON parse error, {what}"))
    }

    pub fn input_not_object() -> Self {
        Self::generic("QMP input must be a JSON object")
    }

    pub fn input_member_wrong_type(member: &str, expected: &str) -> Self {
        Self::generic(format!("QMP input member '{member}' must be {expected}"))
    }

    pub fn input_member_unexpected(member: &str) -> Self {
        Self::generic(format!("QMP input member '{member}' is unexpected"))
    }

    pub fn input_lacks_execute() -> Self {
        Self::generic("QMP input lacks member 'execute'")
    }

    pub fn parameter_missing(path: &str) -> Self {
        Self::generic(format!("Parameter '{path}' is missing"))
    }

    pub fn parameter_type(path: &str, expected: &str) -> Self {
        Self::generic(format!(
            "Invalid parameter type for '{path}', expected: {expected}"
        ))
    }

    pub fn parameter_unexpected(path: &str) -> Self {
        Self::generic(format!("Parameter '{path}' is unexpected"))
    }

    pub fn parameter_bad_enum(path: &str, value: &str) -> Self {
        Self::generic(format!(
            "Parameter '{path}' does not accept value '{value}'"
        ))
    }

    /// qemu-ga's QERR_INVALID_PARAMETER.
    pub fn invalid_parameter(name: &str) -> Self {
        Self::generic(format!("Invalid parameter '{name}'"))
    }

    /// qemu-ga's QERR_INVALID_PARAMETER_VALUE-like "value is invalid" text.
    pub fn invalid_argument_value(value: &str, argument: &str) -> Self {
        Self::generic(format!(
            "value '{value}' is invalid for argument {argument}"
        ))
    }

    /// The helper refused a request on its own policy check.
    pub fn denied_by_policy(name: &str, rule: &str) -> Self {
        Self::generic(format!("Command {name} denied by policy ({rule})"))
    }

    /// The helper could not be reached or answered nonsense.
    pub fn internal(what: &str) -> Self {
        Self::generic(format!("guest agent internal error: {what}"))
    }

    pub fn unsupported() -> Self {
        Self::generic("this feature or command is not currently supported")
    }

    /// The helper's reply would not fit one internal message.
    pub fn reply_too_large(bytes: usize, limit: usize) -> Self {
        Self::internal(&format!(
            "a reply of {bytes} bytes exceeds the internal message limit of {limit} bytes"
        ))
    }
}
