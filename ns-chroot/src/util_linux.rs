//! The errors of the crate's two util-linux tools, switch_root and
//! pivot_root, each with the status util-linux gives it: 1 for a bad
//! command line and for a failure, 126 or 127 when INIT cannot be
//! executed.

use std::ffi::OsString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use ns_getopt::{Action, Key, Tool};
use ns_sys::exec::exec_failure_status;
use ns_sys::Errno;

/// util-linux's EXIT_FAILURE.
pub const EXIT_FAILURE: u8 = 1;

#[derive(Debug)]
pub enum UlError {
    /// A bad command line: the message, then the `Try … --help` line.
    Usage(String),
    /// A failure, worded; bytes, because it may name a path as given.
    Failed(Vec<u8>),
    /// INIT could not be executed (`failed to execute INIT: …`).
    Exec { program: OsString, errno: Errno },
}

impl UlError {
    pub fn failed(message: impl Into<Vec<u8>>) -> UlError {
        UlError::Failed(message.into())
    }
}

impl ns_getopt::ToolError for UlError {
    fn exit_code(&self) -> u8 {
        match self {
            UlError::Usage(_) | UlError::Failed(_) => EXIT_FAILURE,
            UlError::Exec { errno, .. } => exec_failure_status(*errno),
        }
    }

    fn is_usage(&self) -> bool {
        matches!(self, UlError::Usage(_))
    }

    fn message_bytes(&self) -> Option<Vec<u8>> {
        Some(match self {
            UlError::Usage(text) => text.clone().into_bytes(),
            UlError::Failed(bytes) => bytes.clone(),
            UlError::Exec { program, errno } => {
                with_errno(&[b"failed to execute ", program.as_bytes()], *errno)
            }
        })
    }
}

impl fmt::Display for UlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = ns_getopt::ToolError::message_bytes(self).unwrap_or_default();
        f.write_str(&String::from_utf8_lossy(&bytes))
    }
}

impl From<ns_getopt::Failed> for UlError {
    fn from(failed: ns_getopt::Failed) -> Self {
        UlError::Failed(failed.0.into_bytes())
    }
}

impl From<ns_getopt::UsageError> for UlError {
    fn from(error: ns_getopt::UsageError) -> Self {
        UlError::Usage(error.0)
    }
}

/// Parses argv (`argv[0]` included) of one of the two tools: `read` gets
/// the parser and the arguments as given (util-linux counts and takes its
/// operands from argv itself, before and after getopt).
pub fn parse<T>(
    tool: &Tool,
    args: impl IntoIterator<Item = impl Into<OsString>>,
    read: impl FnOnce(&mut lexopt::Parser, &[OsString]) -> Result<Action<T>, UlError>,
) -> Result<ns_getopt::Invocation<Action<T>>, (String, UlError)> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    tool.parse(args.clone(), |parser, prog| {
        Ok(ns_getopt::Invocation {
            invoked_as: prog.to_string(),
            action: read(parser, args.get(1..).unwrap_or_default())?,
        })
    })
}

/// Reads the options of a tool whose only options are `-h, --help` and
/// `-V, --version`, as getopt_long does: the first of them decides; an
/// unknown one is an error. With `stop_at_operand` (getopt's `+`, as
/// switch_root parses) options end at the first operand; otherwise
/// operands are passed over (pivot_root). `None` when neither was given.
pub fn help_or_version<T>(
    tool: &Tool,
    parser: &mut lexopt::Parser,
    stop_at_operand: bool,
) -> Result<Option<Action<T>>, UlError> {
    let usage = |error| UlError::from(tool.usage_error(error));
    while let Some(arg) = parser.next().map_err(usage)? {
        if let lexopt::Arg::Value(_) = arg {
            if stop_at_operand {
                break;
            }
            continue;
        }
        let long = matches!(arg, lexopt::Arg::Long(_));
        let key = tool.key(&arg)?;
        if long && parser.optional_value().is_some() {
            let name = tool.long_of_key(key).unwrap_or_default();
            return Err(UlError::Usage(format!(
                "option '--{name}' doesn't allow an argument"
            )));
        }
        return match key {
            Key::Short('h') => Ok(Some(Action::Help)),
            Key::Short('V') => Ok(Some(Action::Version)),
            other => Err(other.unknown().into()),
        };
    }
    Ok(None)
}

/// `parts` joined, then `: ` and the errno's text, as `warn(3)` and
/// `err(3)` end their lines.
pub fn with_errno(parts: &[&[u8]], errno: Errno) -> Vec<u8> {
    let mut line = parts.concat();
    line.extend_from_slice(b": ");
    line.extend_from_slice(ns_sys::strerror(errno as i32).as_bytes());
    line
}

/// Writes `PROG: line` to stderr at once, as `warn(3)` does: the line is
/// already out when the next step fails or the process is replaced.
pub fn warn(prog: &str, line: &[u8]) {
    use std::io::Write;
    let mut out = Vec::with_capacity(prog.len() + line.len() + 3);
    out.extend_from_slice(prog.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(line);
    out.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_getopt::ToolError;

    #[test]
    fn statuses_are_util_linux_ones() {
        assert_eq!(UlError::Usage("bad usage".into()).exit_code(), 1);
        assert_eq!(UlError::failed("failed. Sorry.").exit_code(), 1);
        let missing = UlError::Exec {
            program: "/sbin/init".into(),
            errno: Errno::ENOENT,
        };
        assert_eq!(missing.exit_code(), 127);
        assert_eq!(
            missing.to_string(),
            "failed to execute /sbin/init: No such file or directory"
        );
        let denied = UlError::Exec {
            program: "/init".into(),
            errno: Errno::EACCES,
        };
        assert_eq!(denied.exit_code(), 126);
    }

    #[test]
    fn paths_stay_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let error = UlError::Exec {
            program: OsString::from_vec(b"/in\xffit".to_vec()),
            errno: Errno::ENOENT,
        };
        assert!(error
            .message_bytes()
            .unwrap()
            .starts_with(b"failed to execute /in\xffit: "));
    }
}
