//! How every tool starts and ends: what C programs get from their runtime
//! (SIGPIPE, and for most tools the refusal to run set-ID), argv parsed
//! and run, then the status of success, or its error reported as
//! glibc-based tools report theirs.

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

/// A failure of the tool itself, already worded: the set-ID refusal, a
/// stdout that cannot be written. Each tool's error type takes it with
/// its own status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed(pub String);

/// How a tool starts, as far as set-ID privileges go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Refuses to run set-user-ID or set-group-ID: the tool acts on the
    /// caller's paths and programs (chroot, unshare, lsns).
    RefuseSetId,
    /// Has a restricted mode of its own (mount, umount).
    SetIdAware,
}

/// What a tool's parsed command line tells [`main`].
pub trait Invoked {
    /// The name the tool was invoked as, for its messages.
    fn invoked_as(&self) -> &str;
}

/// What a command line asks a tool for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<T> {
    Help,
    Version,
    /// Its work, with the options.
    Run(T),
}

/// A command line that comes down to one action, with the name the tool
/// was invoked as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation<A> {
    pub invoked_as: String,
    pub action: A,
}

impl<A> Invoked for Invocation<A> {
    fn invoked_as(&self) -> &str {
        &self.invoked_as
    }
}

/// The whole of a tool's `main`: SIGPIPE as C programs have it, the
/// set-ID check `start` asks for, then argv parsed and run, and the
/// error, if any, reported. `tool` names the tool when argv is empty.
pub fn main<O: Invoked, E: ToolError + From<Failed>>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
    tool: &crate::Tool,
    start: Start,
    parse: impl FnOnce(Vec<OsString>) -> Result<O, (String, E)>,
    run: impl FnOnce(&O) -> Result<ExitCode, E>,
) -> ExitCode {
    ns_sys::runtime::restore_sigpipe();
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let identity = ns_sys::runtime::Identity::current();
    if let (Start::RefuseSetId, Some(refusal)) = (start, identity.set_id_refusal()) {
        let prog = crate::invoked_name(args.first().map(OsString::as_os_str), tool.name);
        return finish(&prog, Err(E::from(Failed(refusal.to_string()))));
    }
    match parse(args) {
        Ok(options) => finish(options.invoked_as(), run(&options)),
        Err((prog, error)) => finish(&prog, Err(error)),
    }
}

/// A stdout that could not be written, worded as util-linux's and
/// coreutils' close_stdout word it, for output that fits one stdio buffer
/// (`--help`, `--version`, short listings).
pub fn write_failed(error: &std::io::Error) -> Failed {
    write_failed_after(error, 0)
}

/// The same for a program that had produced `produced` bytes when the
/// write failed. A C program's failed write(2) in mid-stream only sets the
/// stream's error flag (glibc drops the buffer), so close_stdout finds no
/// errno and says a bare "write error"; only output that fitted one buffer
/// fails in the flush at exit, with the system error.
pub fn write_failed_after(error: &std::io::Error, produced: usize) -> Failed {
    if produced > stdio_buffer_size() {
        Failed("write error".to_string())
    } else {
        Failed(format!("write error: {}", ns_sys::io_error_text(error)))
    }
}

/// The size of glibc's buffer for stdout: the file's preferred block size,
/// at most BUFSIZ (8192).
fn stdio_buffer_size() -> usize {
    const BUFSIZ: usize = 8192;
    // SAFETY: fstat on descriptor 1 into a zeroed stat we own; failure is
    // checked.
    let block = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        if libc::fstat(1, &mut stat) == 0 {
            stat.st_blksize
        } else {
            0
        }
    };
    match usize::try_from(block) {
        Ok(size) if size > 0 && size < BUFSIZ => size,
        _ => BUFSIZ,
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

    #[derive(Debug, PartialEq)]
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

    impl From<Failed> for Sample {
        fn from(_: Failed) -> Self {
            Sample::Quiet
        }
    }

    const TOOL: crate::Tool = crate::Tool {
        name: "ns-sample",
        reference: "sample",
        section: 1,
        summary: "",
        usage: &[],
        description: "",
        options: &[],
        notes: "",
        operands: crate::Complete::Nothing,
        style: crate::Style::UtilLinux,
    };

    #[test]
    fn main_parses_then_runs_and_reports_with_the_invoked_name() {
        let parse = |args: Vec<OsString>| {
            let invoked_as = crate::invoked_name(args.first().map(|a| a.as_os_str()), "x");
            match args.len() {
                1 => Ok(Invocation {
                    invoked_as,
                    action: Action::Run(5u8),
                }),
                _ => Err((invoked_as, Sample::Usage)),
            }
        };
        let run = |o: &Invocation<Action<u8>>| match o.action {
            Action::Run(code) => Ok(ExitCode::from(code)),
            _ => Err(Sample::Quiet),
        };
        let start = Start::SetIdAware;
        assert_eq!(
            main(["/bin/s"], &TOOL, start, parse, run),
            ExitCode::from(5)
        );
        assert_eq!(
            main(["s", "-x"], &TOOL, start, parse, run),
            ExitCode::from(2)
        );
    }

    #[test]
    fn act_runs_or_answers() {
        let run = |code: &u8| Ok::<_, Sample>(ExitCode::from(*code));
        assert_eq!(TOOL.act("s", &Action::Run(3), run), Ok(ExitCode::from(3)));
        assert_eq!(TOOL.act("s", &Action::Version, run), Ok(ExitCode::SUCCESS));
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
