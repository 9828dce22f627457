//! Errors and util-linux's exit statuses.

use std::fmt;
use std::path::PathBuf;

use nix::errno::Errno;

/// Success.
pub const EX_SUCCESS: u8 = 0;
/// Bad usage or insufficient permissions.
pub const EX_USAGE: u8 = 1;
/// A system error (out of memory, cannot fork, …).
pub const EX_SYSERR: u8 = 2;
/// The mount or unmount failed.
pub const EX_FAIL: u8 = 32;
/// `mount -a`: some succeeded, some failed.
pub const EX_SOMEOK: u8 = 64;

/// The line util-linux adds after a failed mount(2) call.
pub(crate) const DMESG_HINT: &str =
    "       dmesg(1) may have more information after failed mount system call.";

#[derive(Debug)]
pub enum Error {
    /// A bad command line: the message, then the `Try … --help` line;
    /// exits 1.
    Usage(String),
    /// A failure already worded for the user (`TARGET: reason.`), with
    /// util-linux's status and whether a mount(2) call failed (which adds
    /// the dmesg hint line).
    Failed {
        message: String,
        code: u8,
        dmesg: bool,
    },
    /// As `Failed` (without the dmesg line), for a message with a path's
    /// bytes in it.
    FailedBytes { message: Vec<u8>, code: u8 },
    /// A system call of the library API failed; names the call and path.
    Sys {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => EX_USAGE,
            Error::Failed { code, .. } | Error::FailedBytes { code, .. } => *code,
            Error::Sys { .. } => EX_FAIL,
        }
    }

    /// A failure whose message names the user's bytes as they are.
    pub fn failed_bytes(message: Vec<u8>, code: u8) -> Error {
        Error::FailedBytes { message, code }
    }

    pub fn failed(message: impl Into<String>, code: u8) -> Error {
        Error::Failed {
            message: message.into(),
            code,
            dmesg: false,
        }
    }

    /// The errno of a failed system call, if that is what this is.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

/// `--help`, `--version`: a stdout that cannot be written is a failure
/// (util-linux's close_stdout exits with EXIT_FAILURE, 1).
pub(crate) fn print_stdout(text: &str) -> Result<u8, Error> {
    ns_getopt::print_stdout(text)
        .map(|()| EX_SUCCESS)
        .map_err(|e| write_error(&e))
}

/// A failed write to stdout, worded and numbered as util-linux's
/// close_stdout reports it.
pub(crate) fn write_error(error: &std::io::Error) -> Error {
    ns_getopt::write_failed(error).into()
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        Error::exit_code(self)
    }

    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    fn message(&self) -> Option<String> {
        Some(match self {
            Error::Failed { dmesg: true, .. } => format!("{self}\n{DMESG_HINT}"),
            other => other.to_string(),
        })
    }

    fn message_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Error::FailedBytes { message, .. } => Some(message.clone()),
            other => ns_getopt::ToolError::message(other).map(String::into_bytes),
        }
    }
}

impl From<ns_getopt::Failed> for Error {
    fn from(failed: ns_getopt::Failed) -> Self {
        Error::failed(failed.0, EX_USAGE)
    }
}

impl From<ns_getopt::UsageError> for Error {
    fn from(error: ns_getopt::UsageError) -> Self {
        Error::Usage(error.0)
    }
}

impl From<ns_getopt::OptionError> for Error {
    fn from(error: ns_getopt::OptionError) -> Self {
        match error {
            ns_getopt::OptionError::Usage(usage) => usage.into(),
            // util-linux says so without the `Try` line.
            ns_getopt::OptionError::Exclusive(e) => Error::failed(e.to_string(), EX_USAGE),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) => f.write_str(message),
            Error::Failed { message, .. } => f.write_str(message),
            Error::FailedBytes { message, .. } => f.write_str(&String::from_utf8_lossy(message)),
            Error::Sys { op, path, errno } => {
                write!(
                    f,
                    "{}: {op} failed: {}",
                    path.display(),
                    ns_sys::strerror(*errno as i32)
                )
            }
        }
    }
}

impl std::error::Error for Error {}
