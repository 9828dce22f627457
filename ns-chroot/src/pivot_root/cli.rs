//! ns-pivot-root's command line: `[options] NEW_ROOT PUT_OLD`.
//!
//! util-linux parses it with getopt_long (operands may stand anywhere)
//! and then requires exactly two arguments besides the program, counted
//! before options are taken out, and takes them from `argv[1]` and
//! `argv[2]` after getopt has permuted them. The only option that does
//! not end the program is `--`, so: `pivot_root -- X` and
//! `pivot_root X --` both pivot to `--` with X as PUT_OLD, and
//! `pivot_root -- A B` is bad usage. Kept, so the same command line does
//! the same.

use std::ffi::OsString;
use std::path::PathBuf;

use ns_getopt::{Complete, Opt, Style, Tool};

use crate::util_linux::{self, UlError};

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it.
pub const TOOL: Tool = Tool {
    name: "ns-pivot-root",
    reference: "pivot_root",
    section: 8,
    summary: "change the root filesystem",
    usage: &["[options] new_root put_old"],
    description: "Change the root filesystem.

Moves the root mount of the calling process's mount namespace to PUT_OLD and
makes NEW_ROOT the new root mount, with pivot_root(2). NEW_ROOT must be the root
of a mount ('ns-mount --bind DIR DIR' makes a directory one) and PUT_OLD must be
at or under NEW_ROOT. 'cd NEW_ROOT; PROG . .' stacks the old root on top of the
new one, to be detached with 'ns-umount -l .' without a PUT_OLD directory.",
    options: &[
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(Some('V'), "version", "display version"),
    ],
    notes: "The working directory and root of other processes that were on the old root
are moved to the new one, as pivot_root(2) does.

Exit status: 0 on success, 1 on failure.",
    operands: Complete::Dirs,
    style: Style::UtilLinux,
};

/// `--help`, `--version`, or a pivot.
pub type Action = ns_getopt::Action<PivotRoot>;

/// The command line: the name we were invoked as, and the action.
pub type Options = ns_getopt::Invocation<Action>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PivotRoot {
    pub new_root: PathBuf,
    pub put_old: PathBuf,
}

/// Parses argv (`argv[0]` included).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, UlError)> {
    util_linux::parse(&TOOL, args, parse_options)
}

fn parse_options(parser: &mut lexopt::Parser, operands: &[OsString]) -> Result<Action, UlError> {
    if let Some(action) = util_linux::help_or_version(&TOOL, parser, false)? {
        return Ok(action);
    }
    let [first, second] = operands else {
        return Err(UlError::Usage("bad usage".to_string()));
    };
    // getopt_long moves the `--` in front of the operand it passed over.
    let (new_root, put_old) = if second == "--" && first != "--" {
        (second, first)
    } else {
        (first, second)
    };
    Ok(Action::Run(PivotRoot {
        new_root: new_root.into(),
        put_old: put_old.into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_getopt::ToolError;

    fn parse_args(args: &[&str]) -> Result<Action, (u8, String)> {
        let argv = std::iter::once("pivot_root").chain(args.iter().copied());
        parse(argv)
            .map(|options| options.action)
            .map_err(|(_, error)| (error.exit_code(), error.to_string()))
    }

    fn pivot(new_root: &str, put_old: &str) -> Result<Action, (u8, String)> {
        Ok(Action::Run(PivotRoot {
            new_root: new_root.into(),
            put_old: put_old.into(),
        }))
    }

    #[test]
    fn two_operands() {
        assert_eq!(parse_args(&["/new", "/new/old"]), pivot("/new", "/new/old"));
        assert_eq!(parse_args(&[".", "."]), pivot(".", "."));
        assert_eq!(parse_args(&["-", "x"]), pivot("-", "x"));
    }

    #[test]
    fn a_double_dash_counts_and_is_permuted_to_the_front() {
        assert_eq!(parse_args(&["--", "x"]), pivot("--", "x"));
        assert_eq!(parse_args(&["x", "--"]), pivot("--", "x"));
        assert_eq!(parse_args(&["--", "--"]), pivot("--", "--"));
        assert_eq!(parse_args(&["--", "-V"]), pivot("--", "-V"));
        let bad = Err((1, "bad usage".to_string()));
        assert_eq!(parse_args(&["--", "a", "b"]), bad);
        assert_eq!(parse_args(&["a", "--", "b"]), bad);
    }

    #[test]
    fn options_anywhere_decide_first() {
        assert_eq!(parse_args(&["a", "b", "-V"]), Ok(Action::Version));
        assert_eq!(parse_args(&["a", "--he"]), Ok(Action::Help));
        assert_eq!(
            parse_args(&["a", "-x", "b"]),
            Err((1, "invalid option -- 'x'".to_string()))
        );
        assert_eq!(
            parse_args(&["--x", "a", "b"]),
            Err((1, "unrecognized option '--x'".to_string()))
        );
    }

    #[test]
    fn anything_but_two_operands_is_bad_usage() {
        let bad = Err((1, "bad usage".to_string()));
        assert_eq!(parse_args(&[]), bad);
        assert_eq!(parse_args(&["a"]), bad);
        assert_eq!(parse_args(&["a", "b", "c"]), bad);
    }
}
