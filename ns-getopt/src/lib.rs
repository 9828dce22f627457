//! The command-line conventions every nstools binary shares with its
//! reference tool, which parses with glibc's `getopt_long`:
//!
//! - long options may be abbreviated to any unambiguous prefix
//!   (`--user=alice` is `--userspec=alice` for chroot);
//! - usage errors are worded as glibc words them and followed by
//!   `Try 'PROG --help' for more information.`;
//! - messages are prefixed with the name the tool was invoked as, so a
//!   symlink named `chroot` speaks as `chroot`.
//!
//! lexopt does the tokenising (`--opt=value`, `--opt value`, `-abc`,
//! `-ovalue`, `--`); this crate adds only what lexopt leaves to its caller.
//! In the layering (see ns-sys) it stands on ns-sys (for the C runtime's
//! SIGPIPE, set-ID check and errno texts) and below the tools. It is
//! deliberately not a general "common" crate: nothing here knows about
//! namespaces, mounts or accounts.
//!
//! A tool's command line goes through it in this order: [`main`] takes
//! argv and the invoked name; the tool's `cli.rs` matches each option by
//! its [`Key`] in the [`Tool`] table (abbreviations resolved, the
//! [`Exclusive`] groups checked); the tool runs; [`finish`] reports an
//! error as glibc-based tools do and gives the exit status.

mod keys;
mod report;
mod table;
pub use keys::{Clash, Exclusive, ExclusiveError, Given, Key, OptionError};
pub use report::{
    finish, main, print_stdout, report, write_failed, write_failed_after, Action, Failed,
    Invocation, Invoked, Start, ToolError,
};
pub use table::{Complete, Opt, Style, Tool, Value};

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;

/// A command-line error: the tool prints it, then the `Try` line, and exits
/// with its own usage status (125 for chroot, 1 for util-linux tools).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl UsageError {
    /// Maps lexopt's errors to glibc's wording; `longs` is the tool's table
    /// of long option names, used to name an abbreviated option in full.
    pub fn from_lexopt(error: lexopt::Error, longs: &[&str]) -> Self {
        use lexopt::Error::*;
        let text = match error {
            MissingValue {
                option: Some(option),
            } => match option.strip_prefix("--") {
                Some(long) => format!("option '--{}' requires an argument", full_name(long, longs)),
                None => format!(
                    "option requires an argument -- '{}'",
                    option.trim_start_matches('-')
                ),
            },
            MissingValue { option: None } => "missing argument".to_string(),
            UnexpectedValue { option, .. } => {
                let long = option.trim_start_matches('-');
                format!(
                    "option '--{}' doesn't allow an argument",
                    full_name(long, longs)
                )
            }
            UnexpectedOption(option) => match option.strip_prefix("--") {
                Some(_) => format!("unrecognized option '{option}'"),
                None => format!("invalid option -- '{}'", option.trim_start_matches('-')),
            },
            UnexpectedArgument(value) => {
                format!("unexpected argument '{}'", value.to_string_lossy())
            }
            NonUnicodeValue(value) => format!("invalid argument '{}'", value.to_string_lossy()),
            ParsingFailed { value, error } => format!("invalid argument '{value}': {error}"),
            Custom(error) => error.to_string(),
        };
        UsageError(text)
    }
}

fn full_name<'a>(given: &'a str, longs: &[&'a str]) -> &'a str {
    resolve_long(given, longs).unwrap_or(given)
}

/// Resolves a long option as getopt_long does: an exact name wins, else the
/// one name it is a prefix of. Several candidates are an error that lists
/// them in table order, as glibc does.
pub fn resolve_long<'a>(given: &str, longs: &[&'a str]) -> Result<&'a str, UsageError> {
    resolve_long_shown(given, given, longs)
}

/// [`resolve_long`] for the option lexopt just returned: a rejected
/// option is named as glibc names it, the whole argument with any
/// attached `=VALUE` (`option '--map-u=0' is ambiguous`), which lexopt
/// holds back as the option's value.
pub fn resolve_long_arg<'a>(
    given: &str,
    parser: &mut lexopt::Parser,
    longs: &[&'a str],
) -> Result<&'a str, UsageError> {
    resolve_long(given, longs).map_err(|error| match parser.optional_value() {
        Some(value) => {
            let shown = format!("{given}={}", value.to_string_lossy());
            resolve_long_shown(given, &shown, longs).unwrap_err()
        }
        None => error,
    })
}

/// Resolves `given`, naming the option `--{shown}` in an error.
fn resolve_long_shown<'a>(
    given: &str,
    shown: &str,
    longs: &[&'a str],
) -> Result<&'a str, UsageError> {
    if let Some(exact) = longs.iter().find(|name| **name == given) {
        return Ok(exact);
    }
    let candidates: Vec<&str> = if given.is_empty() {
        Vec::new()
    } else {
        longs
            .iter()
            .copied()
            .filter(|name| name.starts_with(given))
            .collect()
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(UsageError(format!("unrecognized option '--{shown}'"))),
        many => {
            let list: Vec<String> = many.iter().map(|name| format!("'--{name}'")).collect();
            Err(UsageError(format!(
                "option '--{shown}' is ambiguous; possibilities: {}",
                list.join(" ")
            )))
        }
    }
}

/// The error for an option the tool does not know, worded as glibc words it.
pub fn unknown(arg: lexopt::Arg<'_>) -> UsageError {
    match arg {
        lexopt::Arg::Short(c) => UsageError(format!("invalid option -- '{c}'")),
        lexopt::Arg::Long(name) => UsageError(format!("unrecognized option '--{name}'")),
        lexopt::Arg::Value(value) => {
            UsageError(format!("unexpected argument '{}'", value.to_string_lossy()))
        }
    }
}

/// The name the tool was invoked as: the basename of `argv[0]`, or
/// `default` when there is none (an empty argv).
pub fn invoked_name(argv0: Option<&OsStr>, default: &str) -> String {
    argv0
        .and_then(|arg| Path::new(arg).file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// An option's value that is text (a mode, a list, a name): what is not
/// UTF-8 becomes U+FFFD, which no table of the tool's values matches.
/// Paths are kept as `OsString`s instead.
pub fn text(value: std::ffi::OsString) -> String {
    value.to_string_lossy().into_owned()
}

/// The line glibc-based tools print after a usage error.
pub fn try_help(prog: &str) -> String {
    format!("Try '{prog} --help' for more information.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    const LONGS: &[&str] = &[
        "setgroups",
        "setuid",
        "setgid",
        "skip-chdir",
        "map-user",
        "map-users",
    ];

    #[test]
    fn exact_name_wins_over_longer_names() {
        assert_eq!(resolve_long("map-user", LONGS), Ok("map-user"));
    }

    #[test]
    fn unique_prefix_resolves() {
        assert_eq!(resolve_long("sk", LONGS), Ok("skip-chdir"));
        assert_eq!(resolve_long("setu", LONGS), Ok("setuid"));
    }

    #[test]
    fn ambiguous_prefix_lists_candidates_in_table_order() {
        assert_eq!(
            resolve_long("s", LONGS).unwrap_err().0,
            "option '--s' is ambiguous; possibilities: '--setgroups' '--setuid' '--setgid' '--skip-chdir'"
        );
    }

    #[test]
    fn a_rejected_option_is_named_with_its_attached_value() {
        let rejected = |arg: &str| {
            let mut parser = lexopt::Parser::from_args([arg, "next"]);
            let Some(lexopt::Arg::Long(given)) = parser.next().unwrap() else {
                panic!("{arg} is a long option");
            };
            let given = given.to_owned();
            let error = resolve_long_arg(&given, &mut parser, LONGS).unwrap_err().0;
            // The operand after it is left alone.
            assert_eq!(
                parser.next().unwrap(),
                Some(lexopt::Arg::Value("next".into()))
            );
            error
        };
        assert_eq!(
            rejected("--s=0"),
            "option '--s=0' is ambiguous; possibilities: '--setgroups' '--setuid' '--setgid' '--skip-chdir'"
        );
        assert_eq!(rejected("--bogus=a=b"), "unrecognized option '--bogus=a=b'");
        assert_eq!(rejected("--bogus"), "unrecognized option '--bogus'");
        let mut parser = lexopt::Parser::from_args(["--setu=5"]);
        parser.next().unwrap();
        assert_eq!(resolve_long_arg("setu", &mut parser, LONGS), Ok("setuid"));
        assert_eq!(
            parser.value().unwrap(),
            "5",
            "an accepted option keeps its value"
        );
    }

    #[test]
    fn unknown_and_empty_names_are_unrecognized() {
        assert_eq!(
            resolve_long("bogus", LONGS).unwrap_err().0,
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            resolve_long("", LONGS).unwrap_err().0,
            "unrecognized option '--'"
        );
    }

    #[test]
    fn lexopt_errors_get_glibc_wording() {
        let mut parser = lexopt::Parser::from_args(["--setu"]);
        parser.next().unwrap();
        let err = parser.value().unwrap_err();
        assert_eq!(
            UsageError::from_lexopt(err, LONGS).0,
            "option '--setuid' requires an argument"
        );

        let mut parser = lexopt::Parser::from_args(["-S"]);
        parser.next().unwrap();
        let err = parser.value().unwrap_err();
        assert_eq!(
            UsageError::from_lexopt(err, LONGS).0,
            "option requires an argument -- 'S'"
        );

        let mut parser = lexopt::Parser::from_args(["--sk=1"]);
        parser.next().unwrap();
        let err = parser.next().unwrap_err();
        assert_eq!(
            UsageError::from_lexopt(err, LONGS).0,
            "option '--skip-chdir' doesn't allow an argument"
        );
    }

    #[test]
    fn unknown_short_and_long() {
        assert_eq!(unknown(lexopt::Arg::Short('x')).0, "invalid option -- 'x'");
        assert_eq!(
            unknown(lexopt::Arg::Long("zz")).0,
            "unrecognized option '--zz'"
        );
    }

    #[test]
    fn invoked_name_is_the_basename() {
        let path = OsString::from("/usr/local/bin/chroot");
        assert_eq!(invoked_name(Some(&path), "ns-chroot"), "chroot");
        assert_eq!(invoked_name(None, "ns-chroot"), "ns-chroot");
        assert_eq!(invoked_name(Some(OsStr::new("")), "ns-chroot"), "ns-chroot");
    }
}
