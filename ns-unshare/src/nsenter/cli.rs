//! ns-nsenter's command line: `[OPTION]... [PROGRAM [ARGUMENT]...]`.
//!
//! util-linux acts on each option as getopt hands it over: `--net=FILE`,
//! `-r DIR` and `-t PID:INODE` open files there and then, and the first
//! bad option ends the run after everything before it was done. So the
//! command line is read here, without touching the system, into the
//! options in their order ([`Item`]) and how the reading ended ([`End`]);
//! [`super::plan`] then acts on the items in that order and reports the
//! end last, which gives util-linux's message whenever several things are
//! wrong at once.
//!
//! Parsing stops at the first non-option (getopt's `+`). Short options
//! with an optional value take it attached only (`-m/run/mnt`, and
//! `-m=/run/mnt` is the value `=/run/mnt`, as getopt reads it).

use std::ffi::OsString;

use ns_getopt::{text, Complete, Opt, Style, Tool};
use ns_sys::number::parse_signed;
use ns_sys::NsType;

use crate::Error;

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it. Options are in util-linux 2.42's order of its
/// long options, which decides how an ambiguous abbreviation is reported.
pub const TOOL: Tool = Tool {
    name: "ns-nsenter",
    reference: "nsenter",
    section: 1,
    summary: "run a program in the namespaces of another process",
    usage: &["[options] [<program> [<argument>...]]"],
    description: "Run a program with namespaces of other processes.

Each namespace option enters that namespace of the target process (-t), or the one
a file names (a /proc/PID/ns/* link, or a file a namespace was bound onto, as
unshare --TYPE=FILE binds it), or the one with the namespace ID after a colon
(Linux 6.19 and newer). -a enters every namespace of the target but a user
namespace that is already the caller's. When a PID namespace is entered the
program runs in a child process, so that it is in that namespace.

Namespaces are joined with one setns(2) call on a pidfd of the target where the
kernel allows (5.8 and newer), else one namespace file at a time; the user
namespace first when entering it gives the rights to enter the others, last
when it takes them away. Entering a user namespace sets uid and gid 0 (or those
of -S and -G) and drops supplementary groups, unless --preserve-credentials.
Without SELinux, -Z has nothing to follow and changes nothing.",
    options: &[
        Opt::flag(Some('a'), "all", "enter all namespaces of the target"),
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::required(
            Some('t'),
            "target",
            "<PID>[:<inode>]",
            Complete::Pids,
            "target process to get namespaces from\n(:<inode> checks its pidfd's inode)",
        ),
        Opt::optional(
            Some('m'),
            "mount",
            "<file>|:<nsid>",
            Complete::Files,
            "enter mount namespace",
        ),
        Opt::optional(
            Some('u'),
            "uts",
            "<file>|:<nsid>",
            Complete::Files,
            "enter UTS namespace (hostname etc)",
        ),
        Opt::optional(
            Some('i'),
            "ipc",
            "<file>|:<nsid>",
            Complete::Files,
            "enter System V IPC namespace",
        ),
        Opt::optional(
            Some('n'),
            "net",
            "<file>|:<nsid>",
            Complete::Files,
            "enter network namespace",
        ),
        Opt::required(
            Some('N'),
            "net-socket",
            "<fd>",
            Complete::Nothing,
            "enter the network namespace of the target's\nsocket <fd> (needs --target)",
        ),
        Opt::optional(
            Some('p'),
            "pid",
            "<file>|:<nsid>",
            Complete::Files,
            "enter pid namespace",
        ),
        Opt::optional(
            Some('U'),
            "user",
            "<file>|:<nsid>",
            Complete::Files,
            "enter user namespace",
        ),
        Opt::optional(
            Some('C'),
            "cgroup",
            "<file>|:<nsid>",
            Complete::Files,
            "enter cgroup namespace",
        ),
        Opt::optional(
            Some('T'),
            "time",
            "<file>|:<nsid>",
            Complete::Files,
            "enter time namespace",
        ),
        Opt::required(
            Some('S'),
            "setuid",
            "<uid>|follow",
            Complete::Words("follow 0"),
            "set uid in entered namespace (follow: the\ntarget's)",
        ),
        Opt::required(
            Some('G'),
            "setgid",
            "<gid>|follow",
            Complete::Words("follow 0"),
            "set gid in entered namespace (follow: the\ntarget's)",
        ),
        Opt::optional(
            Some('r'),
            "root",
            "<dir>",
            Complete::Dirs,
            "set the root directory (default: the target's)",
        ),
        Opt::optional(
            Some('w'),
            "wd",
            "<dir>",
            Complete::Dirs,
            "set the working directory (default: the\ntarget's)",
        ),
        Opt::optional(
            Some('W'),
            "wdns",
            "<dir>",
            Complete::Dirs,
            "set the working directory in namespace\n(not with --wd)",
        ),
        Opt::flag(
            Some('e'),
            "env",
            "inherit environment variables from target process",
        ),
        Opt::flag(
            Some('F'),
            "no-fork",
            "do not fork before exec'ing <program>",
        ),
        Opt::flag(
            Some('c'),
            "join-cgroup",
            "join the cgroup of the target process",
        ),
        Opt::flag(None, "preserve-credentials", "do not touch uids or gids"),
        Opt::flag(
            None,
            "keep-caps",
            "retain capabilities granted in user namespaces",
        ),
        Opt::flag(None, "user-parent", "enter parent user namespace"),
        Opt::flag(
            Some('Z'),
            "follow-context",
            "set SELinux context according to --target PID\n(without SELinux: accepted, no effect)",
        ),
    ],
    notes: "Without a program, runs $SHELL (else your login shell, else /bin/sh) as a
login shell. The exit status is the program's; when PROG forks (a PID namespace,
unless --no-fork), a program killed by a signal kills PROG with the same signal.
PROG's own failures exit 1, a program that cannot run 126, one that is not
found 127.",
    operands: Complete::Commands,
    style: Style::UtilLinux,
};

/// One option, as given, in command-line order; values util-linux checks
/// while parsing are checked already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    All,
    /// `-t PID[:INODE]`.
    Target {
        pid: i32,
        inode: Option<Inode>,
    },
    /// `-m[FILE]`, `--net[=FILE]`, …: the value as getopt gives it (a
    /// leading `=` of a short option's value included).
    Namespace(NsType, Option<OsString>),
    /// `-N FD`; util-linux takes any number up to INT_MAX, and a negative
    /// one means no socket.
    NetSocket(i32),
    SetUid(IdChoice),
    SetGid(IdChoice),
    Root(Option<OsString>),
    Wd(Option<OsString>),
    WdNs(Option<OsString>),
    Env,
    NoFork,
    JoinCgroup,
    PreserveCredentials,
    KeepCaps,
    UserParent,
    FollowContext,
}

/// `-t PID:INODE`'s inode, read twice as util-linux 2.42 reads it: first
/// loosely for the value the target's pidfd must have ([`pidfd_inode`]),
/// then, once it has it, strictly: a text that is not a number through
/// and through (`5x`, `5:6`, `5 `) is refused only then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inode {
    pub value: u64,
    pub well_formed: bool,
}

/// `-S`/`-G`: a number, or `follow` (the target's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdChoice {
    Id(u32),
    Follow,
}

/// How the command line ended.
#[derive(Debug)]
pub enum End {
    /// The program and its arguments (empty: a login shell).
    Run(Vec<OsString>),
    Help,
    Version,
    /// A bad option or value, reported once the options before it were
    /// acted on.
    Fail(Error),
}

#[derive(Debug)]
pub struct Nsenter {
    pub items: Vec<Item>,
    pub end: End,
}

/// The command line: the name we were invoked as, and what it says.
pub type Options = ns_getopt::Invocation<Nsenter>;

/// Reads argv (`argv[0]` included). Never fails: a bad option is the
/// [`End`] of what was read.
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, Error)> {
    TOOL.parse(args, |parser, prog| {
        let invoked_as = prog.to_string();
        let mut items = Vec::new();
        let end = read_options(parser, &mut items);
        Ok(Options {
            invoked_as,
            action: Nsenter { items, end },
        })
    })
}

fn read_options(parser: &mut lexopt::Parser, items: &mut Vec<Item>) -> End {
    // getopt hands `-m=FILE` over as the value `=FILE`.
    parser.set_short_equals(false);
    let mut wd_seen: Option<&'static str> = None;
    loop {
        let key = match TOOL.next_given(parser) {
            Ok(None) => return End::Run(Vec::new()),
            Ok(Some(ns_getopt::Given::Operand(program))) => {
                let mut command = vec![program];
                match parser.raw_args() {
                    Ok(rest) => command.extend(rest),
                    Err(error) => return End::Fail(TOOL.usage_error(error).into()),
                }
                return End::Run(command);
            }
            Ok(Some(ns_getopt::Given::Option { key, .. })) => key,
            Err(error) => return End::Fail(error.into()),
        };
        let Some(name) = TOOL.long_of_key(key) else {
            return End::Fail(key.unknown().into());
        };
        // --wd and --wdns exclude each other (2.42's wording).
        if matches!(name, "wd" | "wdns") {
            match wd_seen {
                Some(first) if first != name => {
                    return End::Fail(Error::Failed(format!(
                        "options --{first} and --{name} cannot be combined"
                    )))
                }
                _ => wd_seen = Some(name),
            }
        }
        match read_option(parser, name) {
            Ok(Some(item)) => items.push(item),
            Ok(None) if name == "help" => return End::Help,
            Ok(None) => return End::Version,
            Err(error) => return End::Fail(error),
        }
    }
}

/// The item of option `name` (its value read from `parser`); `None` for
/// `--help` and `--version`.
fn read_option(parser: &mut lexopt::Parser, name: &str) -> Result<Option<Item>, Error> {
    if let Some(kind) = NsType::from_option_name(name) {
        return Ok(Some(Item::Namespace(kind, parser.optional_value())));
    }
    let item = match name {
        "help" | "version" => return Ok(None),
        "all" => Item::All,
        "target" => {
            let value = text(required(parser)?);
            let (pid, inode) =
                parse_pid(&value).ok_or_else(|| Error::Failed("invalid PID argument".into()))?;
            Item::Target { pid, inode }
        }
        "net-socket" => Item::NetSocket(socket_fd(&text(required(parser)?))?),
        "setuid" => Item::SetUid(id_choice(&text(required(parser)?), "uid")?),
        "setgid" => Item::SetGid(id_choice(&text(required(parser)?), "gid")?),
        "root" => Item::Root(parser.optional_value()),
        "wd" => Item::Wd(parser.optional_value()),
        "wdns" => Item::WdNs(parser.optional_value()),
        "env" => Item::Env,
        "no-fork" => Item::NoFork,
        "join-cgroup" => Item::JoinCgroup,
        "preserve-credentials" => Item::PreserveCredentials,
        "keep-caps" => Item::KeepCaps,
        "user-parent" => Item::UserParent,
        "follow-context" => Item::FollowContext,
        other => unreachable!("option --{other} is in TOOL but not handled"),
    };
    Ok(Some(item))
}

fn required(parser: &mut lexopt::Parser) -> Result<OsString, Error> {
    parser
        .value()
        .map_err(|error| TOOL.usage_error(error).into())
}

/// `PID[:INODE]` as util-linux 2.42 reads it (`ul_parse_pid_str`): a
/// positive pid within `pid_t` (strtoimax: leading blanks and a sign
/// allowed, nothing after it but the colon), then optionally `:` and a
/// pidfd inode ([`Inode`]). `None` for anything else.
pub fn parse_pid(text: &str) -> Option<(i32, Option<Inode>)> {
    let (pid, inode) = match text.split_once(':') {
        Some((pid, inode)) => (pid, Some(inode)),
        None => (text, None),
    };
    let pid = parse_signed(pid).ok()?;
    let pid = i32::try_from(pid).ok().filter(|pid| *pid > 0)?;
    let inode = match inode {
        None => None,
        Some(inode) => Some(Inode {
            value: pidfd_inode(inode)?,
            well_formed: ns_sys::number::decimal(inode).is_some(),
        }),
    };
    Some((pid, inode))
}

/// The inode after `PID:`, read as 2.42 reads it, more loosely than the
/// pid: the leading number only (blanks and a `+` before it; whatever
/// follows is ignored, so `5:6` and `5x` are 5), a number beyond 64 bits
/// is the largest (strtoumax's saturation, not checked), and a negative
/// number or 0 (no digits at all reads 0) is refused.
pub fn pidfd_inode(text: &str) -> Option<u64> {
    const C_SPACE: [char; 6] = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];
    let text = text.trim_start_matches(C_SPACE);
    // A '-' leaves no digits here: refused, as util-linux refuses any
    // negative inode (and "-0" is 0).
    let number = text.strip_prefix('+').unwrap_or(text);
    let value = number
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0u64, |value, digit| {
            value
                .saturating_mul(10)
                .saturating_add(u64::from(digit - b'0'))
        });
    (value != 0).then_some(value)
}

/// Why a number was refused: not a number at all, or out of range (which
/// util-linux reports with ERANGE's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberError {
    Invalid,
    Range,
}

/// An unsigned 64-bit number as util-linux's `ul_strtou64` reads it: a
/// negative number is out of range rather than wrapped.
pub fn unsigned(text: &str) -> Result<u64, NumberError> {
    match parse_signed(text) {
        Ok(value) => u64::try_from(value).map_err(|_| NumberError::Range),
        Err(true) => Err(NumberError::Range),
        Err(false) => Err(NumberError::Invalid),
    }
}

/// util-linux's `MESSAGE: 'TEXT'`, with ERANGE's text for a number out of
/// range.
fn number_error(what: &str, text: &str, error: NumberError) -> Error {
    match error {
        NumberError::Invalid => Error::Failed(format!("{what}: '{text}'")),
        NumberError::Range => Error::Failed(format!(
            "{what}: '{text}': {}",
            ns_sys::strerror(libc::ERANGE)
        )),
    }
}

/// `-S`/`-G`: `follow`, or a number as `strtoul_or_err` reads it, cut to
/// 32 bits as C's assignment to uid_t cuts it.
fn id_choice(text: &str, what: &str) -> Result<IdChoice, Error> {
    if text == "follow" {
        return Ok(IdChoice::Follow);
    }
    unsigned(text)
        .map(|id| IdChoice::Id(id as u32))
        .map_err(|error| number_error(&format!("failed to parse {what}"), text, error))
}

/// `-N FD`: a signed 64-bit number up to INT_MAX (util-linux's lower
/// bound of 0 is not checked, so a negative one is taken, and means no
/// socket), kept in a C int: below INT_MIN it wraps, as its assignment
/// does (-2147483649 is 2147483647).
fn socket_fd(text: &str) -> Result<i32, Error> {
    const WHAT: &str = "failed to parse file descriptor";
    let value = match parse_signed(text) {
        Ok(value) => i64::try_from(value).map_err(|_| NumberError::Range),
        Err(true) => Err(NumberError::Range),
        Err(false) => Err(NumberError::Invalid),
    };
    match value {
        Ok(fd) if fd > i64::from(i32::MAX) => Err(number_error(WHAT, text, NumberError::Range)),
        Ok(fd) => Ok(fd as i32),
        Err(error) => Err(number_error(WHAT, text, error)),
    }
}

#[cfg(test)]
mod tests;
