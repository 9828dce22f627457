//! ns-unshare's command line: `[OPTION]... [PROGRAM [ARGUMENT]...]`.
//!
//! Option parsing stops at the first non-option (getopt's `+`), so the
//! program's own options are never ours. Values that util-linux checks
//! while parsing (signal names, modes, numbers) are checked here too, in
//! the same order; names that need the account database are resolved by
//! [`crate::run`].

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::Arg::{Long, Short, Value};
use ns_getopt::{Complete, Opt, Style, Tool};

use crate::idmap::{parse_block, parse_ulong, Block};
use crate::namespaces::{self, NAMESPACES};
use crate::signame::signal_number;
use crate::Error;

/// The option table: parsing, `--help`, the man page and the bash
/// completion all come from it. Options are in util-linux's order (which
/// decides how an ambiguous abbreviation is reported), with 2.42's
/// `--forward-signals` after `--kill-child` as there.
pub const TOOL: Tool = Tool {
    name: "ns-unshare",
    reference: "unshare",
    section: 1,
    summary: "run a program in new namespaces",
    usage: &["[options] [<program> [<argument>...]]"],
    description: "Run a program with some namespaces unshared from the parent.

Each namespace option creates a new namespace of that type for the program; with
=<file> the namespace is also bound onto <file> (which must exist), so that it
outlives its processes and can be entered with nsenter(1). PID and time namespaces
take effect for children: use --fork to run the program in them.",
    options: &[
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::optional(
            Some('m'),
            "mount",
            "<file>",
            Complete::Files,
            "new mount namespace",
        ),
        Opt::optional(
            Some('u'),
            "uts",
            "<file>",
            Complete::Files,
            "new UTS namespace (hostname, domain name)",
        ),
        Opt::optional(
            Some('i'),
            "ipc",
            "<file>",
            Complete::Files,
            "new System V IPC and message queue namespace",
        ),
        Opt::optional(
            Some('n'),
            "net",
            "<file>",
            Complete::Files,
            "new network namespace",
        ),
        Opt::optional(
            Some('p'),
            "pid",
            "<file>",
            Complete::Files,
            "new PID namespace (for children)",
        ),
        Opt::optional(
            Some('U'),
            "user",
            "<file>",
            Complete::Files,
            "new user namespace",
        ),
        Opt::optional(
            Some('C'),
            "cgroup",
            "<file>",
            Complete::Files,
            "new cgroup namespace",
        ),
        Opt::optional(
            Some('T'),
            "time",
            "<file>",
            Complete::Files,
            "new time namespace (for children)",
        ),
        Opt::flag(
            Some('f'),
            "fork",
            "run the program as a child of this process",
        ),
        Opt::optional(
            None,
            "kill-child",
            "<signame>",
            Complete::Words("SIGKILL SIGTERM SIGINT SIGHUP"),
            "when we die, send the child <signame>\n(default SIGKILL; implies --fork)",
        ),
        Opt::flag(
            None,
            "forward-signals",
            "pass SIGTERM and SIGINT on to the child\n(implies --fork)",
        ),
        Opt::optional(
            None,
            "mount-proc",
            "<dir>",
            Complete::Dirs,
            "mount a proc filesystem on <dir> (default\n/proc) first (implies --mount)",
        ),
        Opt::required(
            None,
            "map-user",
            "<uid>|<name>",
            Complete::Users,
            "map the current user to <uid> (implies --user)",
        ),
        Opt::required(
            None,
            "map-users",
            "<inner>:<outer>:<count>|auto",
            Complete::Words("auto"),
            "map <count> users from <outer> to <inner>\n(implies --user; repeatable)",
        ),
        Opt::required(
            None,
            "map-group",
            "<gid>|<name>",
            Complete::Groups,
            "map the current group to <gid> (implies --user)",
        ),
        Opt::required(
            None,
            "map-groups",
            "<inner>:<outer>:<count>|auto",
            Complete::Words("auto"),
            "map <count> groups from <outer> to <inner>\n(implies --user; repeatable)",
        ),
        Opt::flag(
            Some('r'),
            "map-root-user",
            "map the current user and group to 0\n(implies --user)",
        ),
        Opt::flag(
            Some('c'),
            "map-current-user",
            "map the current user and group to themselves\n(implies --user)",
        ),
        Opt::flag(
            None,
            "map-auto",
            "map your first /etc/subuid and /etc/subgid\nranges from 0 on (implies --user)",
        ),
        Opt::required(
            None,
            "propagation",
            "slave|shared|private|unchanged",
            Complete::Words("slave shared private unchanged"),
            "propagation set recursively on / in the new\nmount namespace (default: private)",
        ),
        Opt::required(
            None,
            "setgroups",
            "allow|deny",
            Complete::Words("allow deny"),
            "allow or deny setgroups(2) in the user namespace",
        ),
        Opt::flag(
            None,
            "keep-caps",
            "keep the user namespace's capabilities across exec",
        ),
        Opt::required(
            Some('S'),
            "setuid",
            "<uid>",
            Complete::Nothing,
            "switch to user <uid> in the new namespaces",
        ),
        Opt::required(
            Some('G'),
            "setgid",
            "<gid>",
            Complete::Nothing,
            "switch to group <gid>, dropping other groups",
        ),
        Opt::required(
            Some('R'),
            "root",
            "<dir>",
            Complete::Dirs,
            "change the root directory to <dir>",
        ),
        Opt::required(
            Some('w'),
            "wd",
            "<dir>",
            Complete::Dirs,
            "change the working directory to <dir>",
        ),
        Opt::required(
            None,
            "monotonic",
            "<offset>",
            Complete::Nothing,
            "CLOCK_MONOTONIC offset in seconds (needs --time)",
        ),
        Opt::required(
            None,
            "boottime",
            "<offset>",
            Complete::Nothing,
            "CLOCK_BOOTTIME offset in seconds (needs --time)",
        ),
    ],
    notes: "Without a program, runs $SHELL (else your login shell, else /bin/sh) as a
login shell. The exit status is the program's; with --fork, a program killed by a
signal kills PROG with the same signal. PROG's own failures exit 1, a program that
cannot run 126, one that is not found 127.",
    operands: Complete::Commands,
    style: Style::UtilLinux,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Help,
    Version,
    Unshare(Box<Unshare>),
}

/// Mount propagation applied recursively to `/` in a new mount namespace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Propagation {
    #[default]
    Private,
    Shared,
    Slave,
    Unchanged,
}

/// An ID for `--map-user`/`--map-group`: a name or number as given, or
/// the caller's own (`-c`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdArg {
    Given(String),
    Number(u32),
    Current,
}

/// A `--map-users`/`--map-groups` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockArg {
    Block(Block),
    /// The caller's first range in /etc/subuid (or subgid), mapped to 0.
    Auto,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unshare {
    /// Indexes into [`NAMESPACES`] of the types to create.
    pub namespaces: Vec<usize>,
    /// Per type (same index), the file to bind the namespace onto.
    pub persist: [Option<PathBuf>; NAMESPACES.len()],
    pub fork: bool,
    pub kill_child: Option<i32>,
    pub forward_signals: bool,
    pub mount_proc: Option<PathBuf>,
    pub propagation: Propagation,
    pub map_user: Option<IdArg>,
    pub map_group: Option<IdArg>,
    pub map_users: Vec<BlockArg>,
    pub map_groups: Vec<BlockArg>,
    /// `--setgroups`: `Some(true)` allow, `Some(false)` deny.
    pub setgroups: Option<bool>,
    pub keep_caps: bool,
    pub root: Option<PathBuf>,
    pub wd: Option<PathBuf>,
    pub setuid: Option<u32>,
    pub setgid: Option<u32>,
    pub monotonic: Option<i64>,
    pub boottime: Option<i64>,
    /// PROGRAM and its arguments; empty runs a login shell.
    pub command: Vec<OsString>,
}

impl Unshare {
    pub fn wants(&self, long: &str) -> bool {
        namespaces::by_long(long).is_some_and(|index| self.namespaces.contains(&index))
    }

    fn add(&mut self, index: usize) {
        if !self.namespaces.contains(&index) {
            self.namespaces.push(index);
        }
    }

    fn add_named(&mut self, long: &str) {
        self.add(namespaces::by_long(long).expect("a namespace of the table"));
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The name we were invoked as, for messages.
    pub invoked_as: String,
    pub action: Action,
}

/// Parses argv (`argv[0]` included).
pub fn parse<I>(args: I) -> Result<Options, (String, Error)>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_iter(args);
    let invoked_as = ns_getopt::invoked_name(parser.bin_name().map(AsRef::as_ref), "ns-unshare");
    match parse_options(&mut parser) {
        Ok(action) => Ok(Options { invoked_as, action }),
        Err(error) => Err((invoked_as, error)),
    }
}

fn parse_options(parser: &mut lexopt::Parser) -> Result<Action, Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut u = Unshare::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        let name = match arg {
            Long(name) => TOOL.resolve_long(name)?,
            Short(c) => match short_to_long(c) {
                Some(long) => long,
                None => return Err(ns_getopt::unknown(arg).into()),
            },
            Value(program) => {
                u.command.push(program);
                u.command.extend(parser.raw_args().map_err(usage)?);
                break;
            }
        };
        // Short namespace options take no value; the long ones take an
        // optional `=FILE`.
        let is_long = matches!(arg, Long(_));
        if let Some(index) = namespaces::by_long(name) {
            u.add(index);
            if is_long {
                if let Some(file) = parser.optional_value() {
                    u.persist[index] = Some(file.into());
                }
            }
            continue;
        }
        match name {
            "help" => return Ok(Action::Help),
            "version" => return Ok(Action::Version),
            "fork" => u.fork = true,
            "kill-child" => {
                u.fork = true;
                u.kill_child = Some(match parser.optional_value().map(string) {
                    Some(name) => signal_number(&name)
                        .ok_or_else(|| Error::Failed(format!("unknown signal: {name}")))?,
                    None => libc::SIGKILL,
                });
            }
            "forward-signals" => {
                u.fork = true;
                u.forward_signals = true;
            }
            "mount-proc" => {
                u.add_named("mount");
                u.mount_proc = Some(
                    parser
                        .optional_value()
                        .map_or_else(|| PathBuf::from("/proc"), PathBuf::from),
                );
            }
            "map-user" => {
                u.add_named("user");
                u.map_user = Some(IdArg::Given(value(parser)?));
            }
            "map-group" => {
                u.add_named("user");
                u.map_group = Some(IdArg::Given(value(parser)?));
            }
            "map-root-user" => {
                u.add_named("user");
                u.map_user = Some(IdArg::Number(0));
                u.map_group = Some(IdArg::Number(0));
            }
            "map-current-user" => {
                u.add_named("user");
                u.map_user = Some(IdArg::Current);
                u.map_group = Some(IdArg::Current);
            }
            "map-users" => {
                u.add_named("user");
                u.map_users.push(block_arg(&value(parser)?)?);
            }
            "map-groups" => {
                u.add_named("user");
                u.map_groups.push(block_arg(&value(parser)?)?);
            }
            "map-auto" => {
                u.add_named("user");
                u.map_users.push(BlockArg::Auto);
                u.map_groups.push(BlockArg::Auto);
            }
            "propagation" => {
                let mode = value(parser)?;
                u.propagation = match mode.as_str() {
                    "private" => Propagation::Private,
                    "shared" => Propagation::Shared,
                    "slave" => Propagation::Slave,
                    "unchanged" => Propagation::Unchanged,
                    _ => {
                        return Err(Error::Failed(format!(
                            "unsupported propagation mode: {mode}"
                        )))
                    }
                };
            }
            "setgroups" => {
                let mode = value(parser)?;
                u.setgroups = Some(match mode.as_str() {
                    "allow" => true,
                    "deny" => false,
                    _ => {
                        return Err(Error::Failed(format!(
                            "unsupported --setgroups argument '{mode}'"
                        )))
                    }
                });
            }
            "keep-caps" => u.keep_caps = true,
            "setuid" => u.setuid = Some(id_number(&value(parser)?, "failed to parse uid")?),
            "setgid" => u.setgid = Some(id_number(&value(parser)?, "failed to parse gid")?),
            "root" => u.root = Some(os_value(parser)?.into()),
            "wd" => u.wd = Some(os_value(parser)?.into()),
            "monotonic" => {
                u.monotonic = Some(offset(&value(parser)?, "failed to parse monotonic offset")?)
            }
            "boottime" => {
                u.boottime = Some(offset(&value(parser)?, "failed to parse boottime offset")?)
            }
            other => unreachable!("option --{other} is in TOOL but not handled"),
        }
    }
    if (u.monotonic.is_some() || u.boottime.is_some()) && !u.wants("time") {
        // util-linux 2.38 names the option "-t" here; it is -T.
        return Err(Error::Failed(
            "options --monotonic and --boottime require unsharing of a time namespace (-T)"
                .to_string(),
        ));
    }
    Ok(Action::Unshare(Box::new(u)))
}

fn short_to_long(c: char) -> Option<&'static str> {
    if let Some(index) = namespaces::by_short(c) {
        return Some(NAMESPACES[index].long);
    }
    Some(match c {
        'f' => "fork",
        'h' => "help",
        'V' => "version",
        'r' => "map-root-user",
        'c' => "map-current-user",
        'R' => "root",
        'w' => "wd",
        'S' => "setuid",
        'G' => "setgid",
        _ => return None,
    })
}

/// A required option value.
fn value(parser: &mut lexopt::Parser) -> Result<String, Error> {
    parser
        .value()
        .map(string)
        .map_err(|error| TOOL.usage_error(error).into())
}

/// A required option value that names a path: its bytes, as given.
fn os_value(parser: &mut lexopt::Parser) -> Result<OsString, Error> {
    parser
        .value()
        .map_err(|error| TOOL.usage_error(error).into())
}

fn string(value: OsString) -> String {
    value.to_string_lossy().into_owned()
}

fn block_arg(text: &str) -> Result<BlockArg, Error> {
    if text == "auto" {
        return Ok(BlockArg::Auto);
    }
    parse_block(text)
        .map(BlockArg::Block)
        .map_err(Error::Failed)
}

/// `-S`/`-G`: a number as strtoul reads it, cut to 32 bits as C's
/// assignment to uid_t cuts it.
fn id_number(text: &str, what: &str) -> Result<u32, Error> {
    parse_ulong(text)
        .map(|value| value as u32)
        .ok_or_else(|| Error::Failed(format!("{what}: '{text}'")))
}

/// A signed 64-bit number of seconds, as strtoll reads it; a number out
/// of range is reported with ERANGE's text, as util-linux 2.42 does
/// (2.38 let `18446744073709551615` wrap).
fn offset(text: &str, what: &str) -> Result<i64, Error> {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let digits = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let magnitude = digits.strip_prefix('-').unwrap_or(digits);
    if magnitude.is_empty() || !magnitude.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Failed(format!("{what}: '{text}'")));
    }
    digits.parse::<i64>().map_err(|_| {
        let range = ns_getopt::c_runtime::strerror(libc::ERANGE);
        Error::Failed(format!("{what}: '{text}': {range}"))
    })
}

/// `--help`, from the option table.
pub fn help(prog: &str) -> String {
    TOOL.help(prog)
}

pub fn version(prog: &str) -> String {
    format!("{prog} (nstools) {}\n", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_getopt::ToolError;

    fn parse_ok(args: &[&str]) -> Unshare {
        let argv = std::iter::once("ns-unshare").chain(args.iter().copied());
        match parse(argv).map_err(|(_, e)| e.to_string()).unwrap().action {
            Action::Unshare(u) => *u,
            other => panic!("expected a run, got {other:?}"),
        }
    }

    fn parse_err(args: &[&str]) -> (u8, bool, String) {
        let argv = std::iter::once("ns-unshare").chain(args.iter().copied());
        let (_, error) = parse(argv).unwrap_err();
        (
            error.exit_code(),
            matches!(error, Error::Usage(_)),
            error.to_string(),
        )
    }

    fn longs(u: &Unshare) -> Vec<&'static str> {
        u.namespaces.iter().map(|i| NAMESPACES[*i].long).collect()
    }

    #[test]
    fn walk_through_line() {
        let u = parse_ok(&[
            "--mount",
            "--uts",
            "--ipc",
            "--net",
            "--map-root-user",
            "--user",
            "--pid",
            "--fork",
            "ns-chroot",
            "/debian",
            "bash",
        ]);
        assert_eq!(longs(&u), ["mount", "uts", "ipc", "net", "user", "pid"]);
        assert!(u.fork);
        assert_eq!(u.map_user, Some(IdArg::Number(0)));
        assert_eq!(u.map_group, Some(IdArg::Number(0)));
        assert_eq!(u.command, ["ns-chroot", "/debian", "bash"]);
    }

    #[test]
    fn bundled_short_options() {
        let u = parse_ok(&["-muinpUCTf", "true"]);
        assert_eq!(u.namespaces.len(), 8);
        assert!(u.fork);
        assert!(u.persist.iter().all(Option::is_none));
    }

    #[test]
    fn parsing_stops_at_the_program() {
        let u = parse_ok(&["-u", "sh", "-c", "--mount", "--"]);
        assert_eq!(longs(&u), ["uts"]);
        assert_eq!(u.command, ["sh", "-c", "--mount", "--"]);
        let u = parse_ok(&["--", "-m"]);
        assert!(u.namespaces.is_empty());
        assert_eq!(u.command, ["-m"]);
        assert!(parse_ok(&[]).command.is_empty());
    }

    #[test]
    fn persistence_files_only_with_long_equals() {
        let u = parse_ok(&["--mount=/run/mnt", "--pid=/run/pid", "--net", "/x"]);
        let m = namespaces::by_long("mount").unwrap();
        let p = namespaces::by_long("pid").unwrap();
        let n = namespaces::by_long("net").unwrap();
        assert_eq!(u.persist[m], Some(PathBuf::from("/run/mnt")));
        assert_eq!(u.persist[p], Some(PathBuf::from("/run/pid")));
        assert_eq!(u.persist[n], None);
        assert_eq!(u.command, ["/x"], "--net takes no separate value");
        assert_eq!(
            parse_err(&["-m/tmp/x"]),
            (1, true, "invalid option -- '/'".into())
        );
        let u = parse_ok(&["--ut=/a", "--uts=/b"]);
        assert_eq!(
            u.persist[namespaces::by_long("uts").unwrap()],
            Some(PathBuf::from("/b")),
            "the last file wins"
        );
    }

    #[test]
    fn implied_options() {
        let u = parse_ok(&["--mount-proc"]);
        assert_eq!(longs(&u), ["mount"]);
        assert_eq!(u.mount_proc, Some(PathBuf::from("/proc")));
        let u = parse_ok(&["--mount-proc=/mnt/p"]);
        assert_eq!(u.mount_proc, Some(PathBuf::from("/mnt/p")));
        let u = parse_ok(&["--kill-child"]);
        assert!(u.fork);
        assert_eq!(u.kill_child, Some(libc::SIGKILL));
        assert_eq!(parse_ok(&["--kill-child=term"]).kill_child, Some(15));
        let u = parse_ok(&["--forward-signals"]);
        assert!(u.fork && u.forward_signals);
        for option in ["-r", "-c", "--map-user=1", "--map-group=1", "--map-auto"] {
            assert_eq!(longs(&parse_ok(&[option])), ["user"], "{option}");
        }
        assert_eq!(
            parse_ok(&["-c"]).map_user,
            Some(IdArg::Current),
            "-c maps the current ids"
        );
    }

    #[test]
    fn map_blocks_repeat_and_auto() {
        let u = parse_ok(&["--map-users=0:100000:10", "--map-users=100010,10,5"]);
        assert_eq!(
            u.map_users,
            [
                BlockArg::Block(Block {
                    outer: 100000,
                    inner: 0,
                    count: 10
                }),
                BlockArg::Block(Block {
                    outer: 100010,
                    inner: 10,
                    count: 5
                })
            ]
        );
        let u = parse_ok(&["--map-auto", "--map-groups", "auto"]);
        assert_eq!(u.map_users, [BlockArg::Auto]);
        assert_eq!(u.map_groups, [BlockArg::Auto, BlockArg::Auto]);
        assert_eq!(
            parse_err(&["--map-users=1:2"]),
            (1, false, "invalid mapping '1:2'".into())
        );
    }

    #[test]
    fn value_checks_in_option_order() {
        assert_eq!(
            parse_err(&["--propagation", "foo"]).2,
            "unsupported propagation mode: foo"
        );
        assert_eq!(
            parse_err(&["--setgroups=x"]).2,
            "unsupported --setgroups argument 'x'"
        );
        assert_eq!(parse_err(&["--kill-child=9"]).2, "unknown signal: 9");
        assert_eq!(parse_err(&["-S", "x"]).2, "failed to parse uid: 'x'");
        assert_eq!(parse_err(&["-G", ""]).2, "failed to parse gid: ''");
        assert_eq!(parse_ok(&["-S", "4294967296"]).setuid, Some(0));
        assert_eq!(parse_ok(&["-S", "-5"]).setuid, Some(4294967291));
        assert_eq!(
            parse_err(&["-T", "--monotonic=5x"]).2,
            "failed to parse monotonic offset: '5x'"
        );
        assert_eq!(parse_ok(&["-T", "--boottime", "-5"]).boottime, Some(-5));
        assert_eq!(parse_ok(&["-T", "--boottime", " +5"]).boottime, Some(5));
        for (huge, sign) in [("18446744073709551615", ""), ("9223372036854775808", "-")] {
            let value = format!("{sign}{huge}9");
            assert_eq!(
                parse_err(&["-T", "--boottime", &value]).2,
                format!(
                    "failed to parse boottime offset: '{value}': Numerical result out of range"
                )
            );
        }
        assert_eq!(
            parse_err(&["-T", "--monotonic=18446744073709551615"]).2,
            "failed to parse monotonic offset: '18446744073709551615': Numerical result out of range"
        );
        assert_eq!(
            parse_err(&["-T", "--monotonic=-"]).2,
            "failed to parse monotonic offset: '-'"
        );
        let (code, usage, text) = parse_err(&["--monotonic", "5"]);
        assert_eq!((code, usage), (1, false));
        assert!(text.contains("(-T)"));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(
            parse_err(&["-x"]),
            (1, true, "invalid option -- 'x'".into())
        );
        assert_eq!(
            parse_err(&["--bogus"]),
            (1, true, "unrecognized option '--bogus'".into())
        );
        assert_eq!(
            parse_err(&["-S"]),
            (1, true, "option requires an argument -- 'S'".into())
        );
        assert_eq!(
            parse_err(&["--propagation"]),
            (
                1,
                true,
                "option '--propagation' requires an argument".into()
            )
        );
        assert_eq!(
            parse_err(&["--fork=1"]),
            (1, true, "option '--fork' doesn't allow an argument".into())
        );
        let (_, usage, text) = parse_err(&["--map"]);
        assert!(usage && text.starts_with("option '--map' is ambiguous"));
    }

    #[test]
    fn abbreviations() {
        let u = parse_ok(&["--mount", "--ut", "--map-r", "--prop", "slave", "--wd=/t"]);
        assert_eq!(longs(&u), ["mount", "uts", "user"]);
        assert_eq!(u.propagation, Propagation::Slave);
        assert_eq!(u.wd, Some(PathBuf::from("/t")));
    }

    #[test]
    fn every_table_option_is_handled() {
        for opt in TOOL.options {
            let mut argv = vec!["unshare".to_string(), format!("--{}", opt.long)];
            if matches!(opt.value, ns_getopt::Value::Required(_)) {
                argv.push("1".to_string());
            }
            // An error is fine (a bad value); a panic (unhandled) is not.
            let _ = parse(argv);
            if let Some(short) = opt.short {
                assert_eq!(short_to_long(short), Some(opt.long), "-{short}");
            }
        }
    }

    #[test]
    fn help_names_every_option() {
        let help = help("unshare");
        assert!(help.starts_with("\nUsage:\n unshare [options]"));
        for opt in TOOL.options {
            assert!(help.contains(&format!("--{}", opt.long)), "{}", opt.long);
        }
    }

    #[test]
    fn help_and_version() {
        let argv = ["unshare", "-h", "--bogus"];
        assert_eq!(parse(argv).unwrap().action, Action::Help);
        assert_eq!(parse(["unshare", "-V"]).unwrap().action, Action::Version);
        assert_eq!(
            parse(["/usr/bin/unshare", "-V"]).unwrap().invoked_as,
            "unshare"
        );
    }
}
