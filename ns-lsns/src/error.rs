//! ns-lsns's errors. util-linux lsns exits 1 for every failure but an
//! unreadable mount table (32, libmount's MNT_EX_FAIL).

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// A bad command line: the message, then the `Try … --help` line.
    Usage(String),
    /// Any other failure: one message line.
    Failed(String),
    /// A failure whose message names the user's bytes as they are (a
    /// `-Q` expression).
    Raw(Vec<u8>),
    /// /proc/self/mountinfo cannot be read (no /proc mounted): util-linux
    /// 2.42 exits 32 with the system error (2.38 listed nothing).
    MountTable(String),
    /// A failure util-linux reports with no message (an empty column name
    /// in `-o`).
    Silent,
    /// A failure after bytes a `-Q` expression's scanner echoed to
    /// standard output, which util-linux prints all the same.
    Echoed { stdout: Vec<u8>, error: Box<Error> },
}

impl ns_getopt::ToolError for Error {
    fn exit_code(&self) -> u8 {
        match self {
            Error::MountTable(_) => 32,
            Error::Echoed { error, .. } => ns_getopt::ToolError::exit_code(&**error),
            _ => 1,
        }
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

    fn message_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Error::Raw(bytes) => Some(bytes.clone()),
            Error::Echoed { error, .. } => ns_getopt::ToolError::message_bytes(&**error),
            other => ns_getopt::ToolError::message(other).map(String::into_bytes),
        }
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

impl From<ns_getopt::OptionError> for Error {
    fn from(error: ns_getopt::OptionError) -> Self {
        match error {
            ns_getopt::OptionError::Usage(usage) => usage.into(),
            // 2.42's words (ns-getopt's Display gives 2.38's).
            ns_getopt::OptionError::Exclusive(e) => Error::Failed(e.cannot_be_combined()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Failed(message) | Error::MountTable(message) => {
                f.write_str(message)
            }
            Error::Silent => Ok(()),
            Error::Raw(bytes) => f.write_str(&String::from_utf8_lossy(bytes)),
            Error::Echoed { error, .. } => error.fmt(f),
        }
    }
}
