//! ns-switch-root's command line: `[options] NEWROOT INIT [ARG]...`.
//!
//! util-linux parses it with getopt_long's `+` (options end at the first
//! operand) and then takes NEWROOT and INIT from `argv[1]` and `argv[2]`
//! as they stand: the only option that does not end the program there is
//! `--`, and when given it becomes NEWROOT (`switch_root -- /root /init`
//! switches to `--`). That is kept: the same command line does the same.

use std::ffi::OsString;
use std::path::PathBuf;

use ns_getopt::{Complete, Opt, Style, Tool};

use crate::util_linux::{self, UlError};

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it.
pub const TOOL: Tool = Tool {
    name: "ns-switch-root",
    reference: "switch_root",
    section: 8,
    summary: "switch to another filesystem as the root of the mount tree",
    usage: &["[options] <newrootdir> <init> <args to init>"],
    description: "Switch to another filesystem as the root of the mount tree.

Moves the mounts on /dev, /proc, /sys and /run into NEWROOT (one that NEWROOT has
no directory for is detached instead), moves NEWROOT onto /, changes the root to
it and executes INIT in the same process, so PID 1 stays PID 1. When the old
root is a ramfs or tmpfs (an initramfs), a child process deletes its files
without crossing into other filesystems, freeing its memory.

NEWROOT must be the root of a mount ('ns-mount --bind DIR DIR' makes a directory
one). When the last move cannot succeed (NEWROOT is not a directory, not the
root of a mount, or the current root's mount; or relative, and not found again
from inside itself, where the last move looks for it), nothing is moved or
detached and the error is the one util-linux ends with; util-linux 2.42 moves or
detaches /dev, /proc, /sys and /run first and leaves them so.",
    options: &[
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(Some('V'), "version", "display version"),
    ],
    notes: "WARNING: the files of an initramfs root that is left are all deleted.

Exit status: 1 on failure, 126 if INIT cannot be executed, 127 if it is not
found; on success the process has become INIT.",
    operands: Complete::Dirs,
    style: Style::UtilLinux,
};

/// `--help`, `--version`, or a switch.
pub type Action = ns_getopt::Action<SwitchRoot>;

/// The command line: the name we were invoked as, and the action.
pub type Options = ns_getopt::Invocation<Action>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwitchRoot {
    pub newroot: PathBuf,
    /// INIT's argv: INIT itself, then its arguments.
    pub init: Vec<OsString>,
}

/// Parses argv (`argv[0]` included).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, UlError)> {
    util_linux::parse(&TOOL, args, parse_options)
}

fn parse_options(parser: &mut lexopt::Parser, operands: &[OsString]) -> Result<Action, UlError> {
    if let Some(action) = util_linux::help_or_version(&TOOL, parser, true)? {
        return Ok(action);
    }
    let [newroot, init, ..] = operands else {
        return Err(UlError::Usage("not enough arguments".to_string()));
    };
    if newroot.is_empty() || init.is_empty() {
        return Err(UlError::Usage("bad usage".to_string()));
    }
    Ok(Action::Run(SwitchRoot {
        newroot: newroot.into(),
        init: operands[1..].to_vec(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_getopt::ToolError;

    fn parse_args(args: &[&str]) -> Result<Action, (u8, String)> {
        let argv = std::iter::once("switch_root").chain(args.iter().copied());
        parse(argv)
            .map(|options| options.action)
            .map_err(|(_, error)| (error.exit_code(), error.to_string()))
    }

    fn switch(args: &[&str]) -> SwitchRoot {
        match parse_args(args) {
            Ok(Action::Run(switch)) => switch,
            other => panic!("expected a switch, got {other:?}"),
        }
    }

    #[test]
    fn newroot_init_and_its_arguments() {
        let s = switch(&["/root", "/sbin/init", "--log-level=debug", "-h"]);
        assert_eq!(s.newroot, PathBuf::from("/root"));
        assert_eq!(s.init, ["/sbin/init", "--log-level=debug", "-h"]);
    }

    #[test]
    fn options_end_at_the_first_operand() {
        assert_eq!(switch(&["/root", "-V"]).init, ["-V"]);
        assert_eq!(parse_args(&["-V", "/root", "/init"]), Ok(Action::Version));
        assert_eq!(parse_args(&["--he"]), Ok(Action::Help));
    }

    #[test]
    fn a_double_dash_is_newroot_as_util_linux_takes_argv_1() {
        let s = switch(&["--", "/root", "/init"]);
        assert_eq!(s.newroot, PathBuf::from("--"));
        assert_eq!(s.init, ["/root", "/init"]);
        assert_eq!(switch(&["--", "--"]).newroot, PathBuf::from("--"));
    }

    #[test]
    fn usage_errors() {
        let not_enough = Err((1, "not enough arguments".to_string()));
        assert_eq!(parse_args(&[]), not_enough);
        assert_eq!(parse_args(&["/root"]), not_enough);
        assert_eq!(parse_args(&["--"]), not_enough);
        let bad = Err((1, "bad usage".to_string()));
        assert_eq!(parse_args(&["", "/init"]), bad);
        assert_eq!(parse_args(&["/root", ""]), bad);
        assert_eq!(
            parse_args(&["-x", "/root", "/init"]),
            Err((1, "invalid option -- 'x'".to_string()))
        );
        assert_eq!(
            parse_args(&["--root", "/init"]),
            Err((1, "unrecognized option '--root'".to_string()))
        );
        assert_eq!(
            parse_args(&["--help=x"]),
            Err((1, "option '--help' doesn't allow an argument".to_string()))
        );
    }
}
