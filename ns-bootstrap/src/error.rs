//! ns-bootstrap's errors: each stage's own error, with its cause and the
//! path, package or URL it concerns. debootstrap exits 1 for every
//! failure; a usage error is followed by the `Try … --help` line.

use std::fmt;

use crate::{
    configure, download, dpkgdb, hooks, index, local, oci, packages, resolve, tarball, unpack,
    userns,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad command line.
    #[error("{0}")]
    Usage(String),
    /// A refusal in ns-bootstrap's own words (no underlying error): a
    /// goal this machine cannot reach, a TARGET that is not one.
    #[error("{0}")]
    Refused(String),
    /// A file system operation (`cannot create /x`) and why it failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Index(Box<index::Error>),
    #[error("Packages of {component}: {source}")]
    Packages {
        component: String,
        source: packages::ParseError,
    },
    #[error(transparent)]
    Resolve(Box<resolve::Error>),
    #[error(transparent)]
    Local(Box<local::Error>),
    #[error(transparent)]
    Hook(Box<hooks::Error>),
    /// Every package that could not be fetched (the last one shown; the
    /// others are reported as they are found).
    #[error("{}", .0.last().map(ToString::to_string).unwrap_or_default())]
    Download(Vec<download::Failed>),
    #[error(transparent)]
    Unpack(Box<unpack::Error>),
    #[error(transparent)]
    Database(Box<dpkgdb::Error>),
    #[error("configure: {0}")]
    Configure(Box<configure::Error>),
    #[error(transparent)]
    Tarball(Box<tarball::Error>),
    #[error(transparent)]
    Image(Box<oci::Error>),
    #[error(transparent)]
    Namespace(Box<userns::Error>),
    #[error("{what}: {source}")]
    Extract {
        what: String,
        source: Box<crate::extract::Error>,
    },
    /// A failure already reported as an `E:` line (and logged).
    #[error("{0}")]
    Reported(String),
}

/// Each stage's error, boxed: an `Error` stays small on every path that
/// returns one, whichever stage's it holds.
macro_rules! from_stage {
    ($($variant:ident($stage:ty)),* $(,)?) => {$(
        impl From<$stage> for Error {
            fn from(error: $stage) -> Self {
                Error::$variant(Box::new(error))
            }
        }
    )*};
}

from_stage!(
    Index(index::Error),
    Resolve(resolve::Error),
    Local(local::Error),
    Hook(hooks::Error),
    Unpack(unpack::Error),
    Database(dpkgdb::Error),
    Configure(configure::Error),
    Tarball(tarball::Error),
    Image(oci::Error),
    Namespace(userns::Error),
);

impl Error {
    pub fn exit_code(&self) -> u8 {
        1
    }

    /// A file system operation on a path (`what`, e.g. "cannot create
    /// /x") that failed with `source`.
    pub fn failed(what: impl fmt::Display, source: std::io::Error) -> Error {
        Error::Io {
            what: what.to_string(),
            source,
        }
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
