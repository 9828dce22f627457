//! ns-lsns's errors. util-linux lsns exits 1 for every failure.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A bad command line: the message, then the `Try … --help` line.
    Usage(String),
    /// Any other failure: one message line.
    Failed(String),
    /// A failure util-linux reports with no message (an empty column name
    /// in `-o`).
    Silent,
    /// A failure after bytes a `-Q` expression's scanner echoed to
    /// standard output, which util-linux prints all the same.
    Echoed { stdout: Vec<u8>, error: Box<Error> },
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        1
    }

    fn is_usage(&self) -> bool {
        match self {
            Error::Echoed { error, .. } => ns_getopt::ToolError::is_usage(&**error),
            other => matches!(other, Error::Usage(_)),
        }
    }

    fn message(&self) -> Option<String> {
        match self {
            Error::Silent => None,
            Error::Echoed { error, .. } => ns_getopt::ToolError::message(&**error),
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
            Error::Usage(message) | Error::Failed(message) => f.write_str(message),
            Error::Silent => Ok(()),
            Error::Echoed { error, .. } => error.fmt(f),
        }
    }
}
