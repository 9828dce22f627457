//! How every tool starts and ends: argv parsed and run, then the status
//! of success, or its error reported as glibc-based tools report theirs.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// What the shared ending of `main` needs of a tool's error type.
pub trait ToolError: fmt::Display {
    /// The exit status the reference tool gives this error.
    fn exit_code(&self) -> u8;

    /// A command-line error, which gets the `Try 'PROG --help'` line.
    fn is_usage(&self) -> bool;

    /// The line to print; `None` when it was already reported (say, by a
    /// helper process whose status is passed on).
    fn message(&self) -> Option<String> {
        Some(self.to_string())
    }

    /// The line as bytes: a message that names a path or an argument
    /// carries it as the user gave it, whatever its bytes.
    fn message_bytes(&self) -> Option<Vec<u8>> {
        self.message().map(String::into_bytes)
    }
}

/// Prints `PROG: message` (and the `Try` line after a usage error).
pub fn report<E: ToolError>(prog: &str, error: &E) {
    if let Some(message) = error.message_bytes() {
        let mut line = Vec::with_capacity(prog.len() + message.len() + 3);
        line.extend_from_slice(prog.as_bytes());
        line.extend_from_slice(b": ");
        line.extend_from_slice(&message);
        line.push(b'\n');
        let _ = std::io::stderr().lock().write_all(&line);
    }
    if error.is_usage() {
        eprintln!("{}", crate::try_help(prog));
    }
}

/// The last step of every tool's `main`.
pub fn finish<E: ToolError>(prog: &str, result: Result<ExitCode, E>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            report(prog, &error);
            ExitCode::from(error.exit_code())
        }
    }
}

/// What a tool's parsed command line tells [`main`].
pub trait Invoked {
    /// The name the tool was invoked as, for its messages.
    fn invoked_as(&self) -> &str;
}

/// The whole of a tool's `main`: a refusal found before parsing (a set-ID
/// check), else argv parsed and run, and the error, if any, reported.
/// `default` names the tool when argv is empty.
pub fn main<O: Invoked, E: ToolError>(
    args: Vec<OsString>,
    default: &str,
    refused: Option<E>,
    parse: impl FnOnce(Vec<OsString>) -> Result<O, (String, E)>,
    run: impl FnOnce(&O) -> Result<ExitCode, E>,
) -> ExitCode {
    if let Some(error) = refused {
        let prog = crate::invoked_name(args.first().map(OsString::as_os_str), default);
        return finish(&prog, Err(error));
    }
    match parse(args) {
        Ok(options) => finish(options.invoked_as(), run(&options)),
        Err((prog, error)) => finish(&prog, Err(error)),
    }
}

/// Writes `--help` or `--version` text. A closed or full stdout is an
/// error for the caller to turn into its failure status (coreutils and
/// util-linux check their writes too).
pub fn print_stdout(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Sample {
        Usage,
        Quiet,
    }

    impl fmt::Display for Sample {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("sample")
        }
    }

    impl ToolError for Sample {
        fn exit_code(&self) -> u8 {
            match self {
                Sample::Usage => 2,
                Sample::Quiet => 7,
            }
        }
        fn is_usage(&self) -> bool {
            matches!(self, Sample::Usage)
        }
        fn message(&self) -> Option<String> {
            match self {
                Sample::Quiet => None,
                Sample::Usage => Some(self.to_string()),
            }
        }
    }

    #[test]
    fn finish_passes_success_and_maps_errors_to_their_status() {
        assert_eq!(
            finish::<Sample>("x", Ok(ExitCode::from(3))),
            ExitCode::from(3)
        );
        assert_eq!(finish("x", Err(Sample::Usage)), ExitCode::from(2));
        assert_eq!(finish("x", Err(Sample::Quiet)), ExitCode::from(7));
    }
}
