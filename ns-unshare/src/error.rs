//! ns-unshare's errors; each knows the exit status util-linux gives it.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;

use ns_sys::exec::exec_failure_status;

#[derive(Debug, Clone)]
pub enum Error {
    /// A bad command line: the message, then the `Try … --help` line.
    Usage(String),
    /// Anything else ns-unshare could not do; the message names the
    /// operation and the path. util-linux exits 1 for all of these.
    Failed(String),
    /// The same, for a message that names a path: its bytes as given.
    FailedBytes(Vec<u8>),
    /// The program (or the shell) could not be executed: 127 or 126.
    Exec { program: OsString, errno: Errno },
    /// A helper process failed and has already said why: exit with its
    /// status, quietly.
    Exit(u8),
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Failed(_) | Error::FailedBytes(_) => 1,
            Error::Exec { errno, .. } => exec_failure_status(*errno),
            Error::Exit(code) => *code,
        }
    }

    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    /// The line to print, if any (helpers that failed already printed).
    fn message(&self) -> Option<String> {
        match self {
            Error::Exit(_) => None,
            other => Some(other.to_string()),
        }
    }

    fn message_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Error::Exit(_) => None,
            Error::FailedBytes(bytes) => Some(bytes.clone()),
            Error::Exec { program, errno } => {
                let mut line = b"failed to execute ".to_vec();
                line.extend_from_slice(program.as_bytes());
                line.extend_from_slice(b": ");
                line.extend_from_slice(ns_sys::strerror(*errno as i32).as_bytes());
                Some(line)
            }
            other => Some(other.to_string().into_bytes()),
        }
    }
}

impl Error {
    /// A failure ending in the system error, as util-linux's `err()`
    /// words it: `WHAT: strerror`.
    pub fn system(what: impl fmt::Display, errno: Errno) -> Error {
        Error::Failed(format!("{what}: {}", ns_sys::strerror(errno as i32)))
    }
}

/// `BEFORE PATH AFTER: strerror`, the path as its bytes.
pub fn system_path(before: &str, path: &Path, after: &str, errno: Errno) -> Error {
    let mut line = before.as_bytes().to_vec();
    line.extend_from_slice(path.as_os_str().as_bytes());
    line.extend_from_slice(after.as_bytes());
    line.extend_from_slice(b": ");
    line.extend_from_slice(ns_sys::strerror(errno as i32).as_bytes());
    Error::FailedBytes(line)
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
            Error::FailedBytes(bytes) => f.write_str(&String::from_utf8_lossy(bytes)),
            Error::Exec { program, errno } => write!(
                f,
                "failed to execute {}: {}",
                program.to_string_lossy(),
                ns_sys::strerror(*errno as i32)
            ),
            Error::Exit(code) => write!(f, "exit status {code}"),
        }
    }
}
