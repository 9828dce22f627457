//! ns-chroot's errors; each knows the exit status coreutils gives it.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use ns_sys::Errno;

use crate::quote::quote;
use ns_sys::exec::exec_failure_status;

/// chroot's own failures exit 125, so they never mix with COMMAND's status.
pub const EXIT_CANCELED: u8 = 125;

#[derive(Debug)]
pub enum Error {
    /// A bad command line: the message, then the `Try … --help` line.
    Usage(String),
    /// ns-chroot could not do its job (change root, resolve ids, …).
    Failed(String),
    /// COMMAND could not be executed.
    Exec { command: OsString, errno: Errno },
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Failed(_) => EXIT_CANCELED,
            Error::Exec { errno, .. } => exec_failure_status(*errno),
        }
    }

    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }
}

impl Error {
    /// Builds a failure message ending in the system error, as
    /// `error (…, errno, …)` does.
    pub fn system(what: impl fmt::Display, errno: Errno) -> Error {
        Error::Failed(format!("{what}: {}", ns_sys::strerror(errno as i32)))
    }
}

impl From<ns_getopt::Failed> for Error {
    fn from(failed: ns_getopt::Failed) -> Self {
        Error::Failed(failed.0)
    }
}

impl From<ns_getopt::UsageError> for Error {
    fn from(error: ns_getopt::UsageError) -> Self {
        Error::Usage(error.0)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Failed(message) => f.write_str(message),
            Error::Exec { command, errno } => write!(
                f,
                "failed to run command {}: {}",
                quote(command.as_bytes()),
                ns_sys::strerror(*errno as i32)
            ),
        }
    }
}
