//! ns-chroot's command line: `[OPTION] NEWROOT [COMMAND [ARG]...]`.
//!
//! Options come before NEWROOT only; everything after it is the command,
//! as coreutils parses with getopt's `+` (stop at the first non-option).

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::Arg::{Long, Short, Value};
use ns_getopt::{text, Complete, Opt, Style, Tool};

use crate::Error;

/// The option table: parsing, `--help`, the man page and the bash
/// completion all come from it. Options are in coreutils' order, which
/// decides how an ambiguous abbreviation is reported.
pub const TOOL: Tool = Tool {
    name: "ns-chroot",
    reference: "chroot",
    section: 8,
    summary: "run a command or an interactive shell with a different root directory",
    usage: &["[OPTION] NEWROOT [COMMAND [ARG]...]", "OPTION"],
    description: "Run COMMAND with the root directory set to NEWROOT.

Without COMMAND, runs '\"$SHELL\" -i' (default: '/bin/sh -i'). COMMAND is looked up in
PATH. The working directory becomes the new root's '/', unless --skip-chdir.",
    options: &[
        Opt::required(
            None,
            "groups",
            "G_LIST",
            Complete::Groups,
            "supplementary groups, as g1,g2,..,gN",
        ),
        Opt::required(
            None,
            "userspec",
            "USER:GROUP",
            Complete::Users,
            "user and group to run as (name or number)",
        ),
        Opt::flag(
            None,
            "skip-chdir",
            "keep the working directory (NEWROOT must be '/')",
        ),
        Opt::flag(None, "help", "display this help and exit"),
        Opt::flag(None, "version", "output version information and exit"),
    ],
    notes: "USER and GROUP names are looked up in NEWROOT's /etc/passwd and /etc/group; a
user without a GROUP gets its login group and its supplementary groups.

Exit status: 125 if PROG itself fails, 126 if COMMAND cannot run, 127 if it is
not found, else the status of COMMAND.",
    operands: Complete::Dirs,
    style: Style::Coreutils,
};

/// `--help`, `--version`, or a chroot.
pub type Action = ns_getopt::Action<Chroot>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot {
    pub newroot: PathBuf,
    /// COMMAND and its arguments; empty runs `"$SHELL" -i`.
    pub command: Vec<OsString>,
    /// `--userspec`, with one trailing `:` already dropped.
    pub userspec: Option<String>,
    /// `--groups`, as given (an empty list clears the groups).
    pub groups: Option<String>,
    pub skip_chdir: bool,
}

/// The command line: the name we were invoked as, and the action.
pub type Options = ns_getopt::Invocation<Action>;

/// Parses argv (`argv[0]` included).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, Error)> {
    TOOL.parse(args, |parser, prog| {
        let action = parse_options(parser)?;
        let invoked_as = prog.to_string();
        Ok(Options { invoked_as, action })
    })
}

fn parse_options(parser: &mut lexopt::Parser) -> Result<Action, Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut chroot = Chroot::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long(name) => match TOOL.resolve_long_arg(&String::from(name), parser)? {
                "groups" => chroot.groups = Some(text(parser.value().map_err(usage)?)),
                "userspec" => {
                    let mut spec = text(parser.value().map_err(usage)?);
                    // coreutils treats `USER:` as `USER`: the login group is
                    // looked up by default anyway (for numeric ids too).
                    if spec.ends_with(':') {
                        spec.pop();
                    }
                    chroot.userspec = Some(spec);
                }
                "skip-chdir" => chroot.skip_chdir = true,
                "help" => return Ok(Action::Help),
                "version" => return Ok(Action::Version),
                other => unreachable!("option --{other} is in the table but not handled"),
            },
            Short(_) => return Err(ns_getopt::unknown(arg).into()),
            Value(newroot) => {
                chroot.newroot = newroot.into();
                chroot.command = parser.raw_args().map_err(usage)?.collect();
                return Ok(Action::Run(chroot));
            }
        }
    }
    Err(Error::Usage("missing operand".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_getopt::ToolError;

    fn parse_ok(args: &[&str]) -> Action {
        let argv = std::iter::once("ns-chroot").chain(args.iter().copied());
        parse(argv).map_err(|(_, e)| e.to_string()).unwrap().action
    }

    fn parse_err(args: &[&str]) -> (u8, String) {
        let argv = std::iter::once("ns-chroot").chain(args.iter().copied());
        let (_, error) = parse(argv).unwrap_err();
        (error.exit_code(), error.to_string())
    }

    fn chroot(args: &[&str]) -> Chroot {
        match parse_ok(args) {
            Action::Run(chroot) => chroot,
            other => panic!("expected a chroot, got {other:?}"),
        }
    }

    #[test]
    fn newroot_alone_runs_the_shell() {
        let c = chroot(&["/srv/root"]);
        assert_eq!(c.newroot, PathBuf::from("/srv/root"));
        assert!(c.command.is_empty());
        assert_eq!(c.userspec, None);
        assert!(!c.skip_chdir);
    }

    #[test]
    fn option_parsing_stops_at_newroot() {
        let c = chroot(&["/r", "ls", "--userspec=x", "-l", "--"]);
        assert_eq!(c.command, ["ls", "--userspec=x", "-l", "--"]);
        assert_eq!(c.userspec, None);
    }

    #[test]
    fn equals_and_separate_value_forms() {
        let a = chroot(&["--userspec=alice:users", "--groups=a,b", "/r", "id"]);
        let b = chroot(&["--userspec", "alice:users", "--groups", "a,b", "/r", "id"]);
        assert_eq!(a, b);
        assert_eq!(a.userspec.as_deref(), Some("alice:users"));
        assert_eq!(a.groups.as_deref(), Some("a,b"));
    }

    #[test]
    fn abbreviations_resolve_as_getopt_long() {
        let c = chroot(&["--user=alice", "--g", "10", "--sk", "/"]);
        assert_eq!(c.userspec.as_deref(), Some("alice"));
        assert_eq!(c.groups.as_deref(), Some("10"));
        assert!(c.skip_chdir);
    }

    #[test]
    fn one_trailing_colon_is_dropped() {
        assert_eq!(
            chroot(&["--userspec=alice:", "/r"]).userspec.as_deref(),
            Some("alice")
        );
        assert_eq!(
            chroot(&["--userspec=a::", "/r"]).userspec.as_deref(),
            Some("a:")
        );
        assert_eq!(
            chroot(&["--userspec=:", "/r"]).userspec.as_deref(),
            Some("")
        );
    }

    #[test]
    fn empty_group_list_is_kept() {
        assert_eq!(chroot(&["--groups=", "/r"]).groups.as_deref(), Some(""));
    }

    #[test]
    fn double_dash_ends_options() {
        let c = chroot(&["--", "--userspec=x", "cmd"]);
        assert_eq!(c.newroot, PathBuf::from("--userspec=x"));
        assert_eq!(c.command, ["cmd"]);
    }

    #[test]
    fn help_and_version_win_where_they_stand() {
        assert_eq!(parse_ok(&["--help", "--bogus"]), Action::Help);
        assert_eq!(parse_ok(&["--vers"]), Action::Version);
        assert_eq!(
            parse_err(&["--bogus", "--help"]).1,
            "unrecognized option '--bogus'"
        );
    }

    #[test]
    fn usage_errors_exit_125() {
        assert_eq!(parse_err(&[]), (125, "missing operand".into()));
        assert_eq!(
            parse_err(&["-x", "/"]),
            (125, "invalid option -- 'x'".into())
        );
        assert_eq!(
            parse_err(&["--userspec"]),
            (125, "option '--userspec' requires an argument".into())
        );
        assert_eq!(
            parse_err(&["--skip=1", "/"]),
            (
                125,
                "option '--skip-chdir' doesn't allow an argument".into()
            )
        );
        assert_eq!(parse_err(&["--",]).1, "missing operand");
    }

    #[test]
    fn every_option_in_the_table_is_parsed() {
        for opt in TOOL.options {
            let arg = format!("--{}", opt.long);
            let args: Vec<&str> = match opt.value {
                ns_getopt::Value::None => vec![&arg, "/"],
                _ => vec![&arg, "x", "/"],
            };
            let argv = std::iter::once("ns-chroot").chain(args.iter().copied());
            assert!(
                parse(argv).is_ok(),
                "--{} is in the table but not parsed",
                opt.long
            );
        }
    }

    #[test]
    fn invoked_name_comes_from_argv0() {
        let options = parse(["/usr/sbin/chroot", "/"]).unwrap();
        assert_eq!(options.invoked_as, "chroot");
        let (prog, _) = parse(["/bin/ns-chroot"]).unwrap_err();
        assert_eq!(prog, "ns-chroot");
    }
}
