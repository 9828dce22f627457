//! ns-unshare's command line: `[OPTION]... [PROGRAM [ARGUMENT]...]`.
//!
//! Option parsing stops at the first non-option (getopt's `+`), so the
//! program's own options are never ours. Values that util-linux checks
//! while parsing (signal names, modes, numbers) are checked here too, in
//! the same order; names that need the account database are resolved by
//! [`crate::run`].

use std::ffi::OsString;
use std::path::PathBuf;

use ns_getopt::{text, Complete, Opt, Style, Tool};

use ns_sys::idmap::{parse_block, Block};
use ns_sys::number::parse_signed;
use ns_sys::NsType;

use crate::signame::signal_number;
use crate::Error;

/// The option table: parsing, `--help`, the man page and the bash
/// completion all come from it. Options are in util-linux 2.42's order
/// (which decides how an ambiguous abbreviation is reported).
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
        Opt::optional(
            None,
            "mount-binfmt",
            "<dir>",
            Complete::Dirs,
            "mount the user namespace's binfmt_misc on <dir>\n(default /proc/sys/fs/binfmt_misc, then also\nproc on /proc) first (implies --user and --mount)",
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
            "<inner>:<outer>:<count>|auto|subids|all",
            Complete::Words("auto subids all"),
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
            "<inner>:<outer>:<count>|auto|subids|all",
            Complete::Words("auto subids all"),
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
        Opt::flag(
            None,
            "map-subids",
            "map your first /etc/subuid and /etc/subgid\nranges to themselves (implies --user)",
        ),
        Opt::required(
            None,
            "owner",
            "<uid>:<gid>",
            Complete::Nothing,
            "create the user namespace as <uid>:<gid>, its\nowner (implies --user)",
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
        Opt::required(
            Some('l'),
            "load-interp",
            "<definition>",
            Complete::Nothing,
            "register a binfmt_misc interpreter,\n:name:type:offset:magic:mask:interpreter:flags\n(implies --mount-binfmt)",
        ),
    ],
    notes: "Without a program, runs $SHELL (else your login shell, else /bin/sh) as a
login shell. The exit status is the program's; with --fork, a program killed by a
signal kills PROG with the same signal. PROG's own failures exit 1, a program that
cannot run 126, one that is not found 127.",
    operands: Complete::Commands,
    style: Style::UtilLinux,
};

/// `--help`, `--version`, or the namespaces to make.
pub type Action = ns_getopt::Action<Box<Unshare>>;

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
    /// The same range mapped to itself (2.42's `subids`).
    Subids,
    /// Every ID of our own namespace, to itself (2.42's `all`).
    All,
}

/// Where `--mount-binfmt` mounts without a directory, and `--load-interp`
/// registers when `--mount-binfmt` names none.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unshare {
    /// The types to create, in the order given.
    pub namespaces: Vec<NsType>,
    /// Per type (by [`NsType::index`]), the file to bind the namespace
    /// onto.
    pub persist: [Option<PathBuf>; 8],
    pub fork: bool,
    pub kill_child: Option<i32>,
    pub forward_signals: bool,
    pub mount_proc: Option<PathBuf>,
    /// `--mount-binfmt`: where the user namespace's binfmt_misc goes.
    pub mount_binfmt: Option<PathBuf>,
    /// `--load-interp`: the definition written to binfmt_misc's register.
    pub load_interp: Option<OsString>,
    pub propagation: Propagation,
    pub map_user: Option<IdArg>,
    pub map_group: Option<IdArg>,
    pub map_users: Vec<BlockArg>,
    pub map_groups: Vec<BlockArg>,
    /// `--owner`: the uid and gid that create the user namespace;
    /// 4294967295 (`-1`) leaves that one as it is, as in util-linux.
    pub owner: Option<(u32, u32)>,
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
    pub fn wants(&self, kind: NsType) -> bool {
        self.namespaces.contains(&kind)
    }

    fn add(&mut self, kind: NsType) {
        if !self.wants(kind) {
            self.namespaces.push(kind);
        }
    }

    /// What `--mount-binfmt` without a directory and a first
    /// `--load-interp` imply: binfmt_misc in /proc, so a proc of the new
    /// namespaces there too unless `--mount-proc` named a place.
    fn default_binfmt(&mut self) {
        self.add(NsType::Mnt);
        self.add(NsType::User);
        self.mount_proc
            .get_or_insert_with(|| PathBuf::from("/proc"));
        self.mount_binfmt = Some(PathBuf::from(BINFMT_DIR));
    }
}

/// The command line: the name we were invoked as, and the action.
pub type Options = ns_getopt::Invocation<Action>;

/// Parses argv (`argv[0]` included).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, Error)> {
    TOOL.parse(args, |parser, prog| {
        let invoked_as = prog.to_string();
        parse_options(parser).map(|action| Options { invoked_as, action })
    })
}

fn parse_options(parser: &mut lexopt::Parser) -> Result<Action, Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut u = Unshare::default();
    while let Some(given) = TOOL.next_given(parser)? {
        let (key, is_long) = match given {
            ns_getopt::Given::Operand(program) => {
                u.command.push(program);
                u.command.extend(parser.raw_args().map_err(usage)?);
                break;
            }
            ns_getopt::Given::Option { key, long } => (key, long),
        };
        let name = TOOL.long_of_key(key).ok_or_else(|| key.unknown())?;
        // Short namespace options take no value; the long ones take an
        // optional `=FILE`.
        if let Some(kind) = NsType::from_option_name(name) {
            u.add(kind);
            if is_long {
                if let Some(file) = parser.optional_value() {
                    u.persist[kind.index()] = Some(file.into());
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
                u.kill_child = Some(match parser.optional_value().map(text) {
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
                u.add(NsType::Mnt);
                u.mount_proc = Some(
                    parser
                        .optional_value()
                        .map_or_else(|| PathBuf::from("/proc"), PathBuf::from),
                );
            }
            "mount-binfmt" => match parser.optional_value() {
                Some(dir) => {
                    u.add(NsType::Mnt);
                    u.add(NsType::User);
                    u.mount_binfmt = Some(dir.into());
                }
                None => u.default_binfmt(),
            },
            "load-interp" => {
                if u.mount_binfmt.is_none() {
                    u.default_binfmt();
                }
                u.add(NsType::Mnt);
                u.add(NsType::User);
                u.load_interp = Some(os_value(parser)?);
            }
            "map-user" => {
                u.add(NsType::User);
                u.map_user = Some(IdArg::Given(value(parser)?));
            }
            "map-group" => {
                u.add(NsType::User);
                u.map_group = Some(IdArg::Given(value(parser)?));
            }
            "map-root-user" => {
                u.add(NsType::User);
                u.map_user = Some(IdArg::Number(0));
                u.map_group = Some(IdArg::Number(0));
            }
            "map-current-user" => {
                u.add(NsType::User);
                u.map_user = Some(IdArg::Current);
                u.map_group = Some(IdArg::Current);
            }
            "map-users" => {
                u.add(NsType::User);
                u.map_users.push(block_arg(&value(parser)?)?);
            }
            "map-groups" => {
                u.add(NsType::User);
                u.map_groups.push(block_arg(&value(parser)?)?);
            }
            "map-auto" => {
                u.add(NsType::User);
                u.map_users.push(BlockArg::Auto);
                u.map_groups.push(BlockArg::Auto);
            }
            "map-subids" => {
                u.add(NsType::User);
                u.map_users.push(BlockArg::Subids);
                u.map_groups.push(BlockArg::Subids);
            }
            "owner" => {
                u.add(NsType::User);
                u.owner = Some(
                    owner(&value(parser)?)
                        .ok_or_else(|| Error::Failed("failed to parse owner".to_string()))?,
                );
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
    if (u.monotonic.is_some() || u.boottime.is_some()) && !u.wants(NsType::Time) {
        // util-linux 2.38 names the option "-t" here; it is -T.
        return Err(Error::Failed(
            "options --monotonic and --boottime require unsharing of a time namespace (-T)"
                .to_string(),
        ));
    }
    Ok(Action::Run(Box::new(u)))
}

/// A required option value.
fn value(parser: &mut lexopt::Parser) -> Result<String, Error> {
    parser
        .value()
        .map(text)
        .map_err(|error| TOOL.usage_error(error).into())
}

/// A required option value that names a path: its bytes, as given.
fn os_value(parser: &mut lexopt::Parser) -> Result<OsString, Error> {
    parser
        .value()
        .map_err(|error| TOOL.usage_error(error).into())
}

fn block_arg(text: &str) -> Result<BlockArg, Error> {
    match text {
        "auto" => return Ok(BlockArg::Auto),
        "subids" => return Ok(BlockArg::Subids),
        "all" => return Ok(BlockArg::All),
        _ => {}
    }
    parse_block(text)
        .map(BlockArg::Block)
        .map_err(|error| Error::Failed(error.to_string()))
}

/// `-S`/`-G`: an unsigned 64-bit number, cut to 32 bits as C's
/// assignment to uid_t cuts it; a negative one is out of range, as in
/// util-linux 2.42 (2.38 let `-5` wrap to 4294967291).
fn id_number(text: &str, what: &str) -> Result<u32, Error> {
    let out_of_range = || {
        let range = ns_sys::strerror(libc::ERANGE);
        Error::Failed(format!("{what}: '{text}': {range}"))
    };
    match parse_signed(text) {
        Ok(value) if value < 0 => Err(out_of_range()),
        Ok(value) => u64::try_from(value)
            .map(|value| value as u32)
            .map_err(|_| out_of_range()),
        Err(true) => Err(out_of_range()),
        Err(false) => Err(Error::Failed(format!("{what}: '{text}'"))),
    }
}

/// `--owner UID:GID`, as scanf's `%u:%u` reads it: white space before
/// either number, a sign, nothing after. `-1` is 4294967295, "leave as
/// it is", as in C; a number beyond 32 bits, which C would cut (4294967296
/// to root), is refused.
fn owner(text: &str) -> Option<(u32, u32)> {
    let (uid, gid) = text.split_once(':')?;
    Some((scanf_u32(uid)?, scanf_u32(gid)?))
}

/// One `%u` of 32 bits: a negative number wraps as C wraps it.
fn scanf_u32(text: &str) -> Option<u32> {
    let (negative, digits) = ns_sys::number::decimal(text)?;
    let value: u32 = digits.parse().ok()?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A signed 64-bit number of seconds, as strtoll reads it; a number out
/// of range is reported with ERANGE's text, as util-linux 2.42 does
/// (2.38 let `18446744073709551615` wrap).
fn offset(text: &str, what: &str) -> Result<i64, Error> {
    let out_of_range = || {
        let range = ns_sys::strerror(libc::ERANGE);
        Error::Failed(format!("{what}: '{text}': {range}"))
    };
    match parse_signed(text) {
        Ok(value) => i64::try_from(value).map_err(|_| out_of_range()),
        Err(true) => Err(out_of_range()),
        Err(false) => Err(Error::Failed(format!("{what}: '{text}'"))),
    }
}

#[cfg(test)]
mod tests;
