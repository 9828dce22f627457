//! ns-bootstrap's errors. debootstrap exits 1 for every failure; a usage
//! error is followed by the `Try … --help` line.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A bad command line.
    Usage(String),
    /// The bootstrap could not be done; the message names the step and
    /// the package or path.
    Failed(String),
    /// A failure already reported as an `E:` line (and logged).
    Reported(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) | Error::Failed(_) | Error::Reported(_) => 1,
        }
    }

    /// A failure of `what` (an operation and its object) caused by `cause`.
    pub fn failed(what: impl fmt::Display, cause: impl fmt::Display) -> Error {
        Error::Failed(format!("{what}: {cause}"))
    }
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        Error::exit_code(self)
    }

    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    /// An `E:` line already said it.
    fn message(&self) -> Option<String> {
        match self {
            Error::Reported(_) => None,
            other => Some(other.to_string()),
        }
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
            Error::Usage(message) | Error::Failed(message) | Error::Reported(message) => {
                f.write_str(message)
            }
        }
    }
}
