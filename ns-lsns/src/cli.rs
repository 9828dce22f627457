//! ns-lsns's command line: `[options] [<namespace>]`, parsed as
//! util-linux parses it (getopt_long with permutation, checks in the same
//! order, the same messages).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use ns_getopt::{text, Complete, Exclusive, Key, Opt, Style, Tool};

use ns_sys::number::parse_signed;

use crate::columns::{self, ColumnId};
use crate::namespaces::NsType;
use crate::Error;

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it. Options are in util-linux 2.42's getopt
/// order, which decides how an ambiguous abbreviation is reported.
pub const TOOL: Tool = Tool {
    name: "ns-lsns",
    reference: "lsns",
    section: 8,
    summary: "list namespaces",
    usage: &["[options] [<namespace>]"],
    description: "List the namespaces of the system.

Without options, every namespace is listed, nested by process as util-linux
nests them; with a namespace argument, the processes in that namespace.
Namespaces held only by a bind mount, an open file descriptor or a socket are
listed too. A process that exits while its /proc entries are read is skipped.",
    options: &[
        Opt::flag(Some('J'), "json", "print JSON"),
        Opt::required(
            Some('p'),
            "task",
            "pid",
            Complete::Pids,
            "only the namespaces of this process",
        ),
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::required(
            Some('o'),
            "output",
            "list",
            Complete::Words(COLUMN_NAMES),
            "the columns to print (+list adds to the defaults)",
        ),
        Opt::flag(None, "output-all", "print every column"),
        Opt::flag(Some('P'), "persistent", "only namespaces no process is in"),
        Opt::required(
            Some('Q'),
            "filter",
            "expr",
            Complete::Nothing,
            "only the rows the expression holds for",
        ),
        Opt::flag(Some('u'), "notruncate", "never truncate a column"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::flag(Some('n'), "noheadings", "leave out the header line"),
        Opt::flag(Some('W'), "nowrap", "keep every cell on one line"),
        Opt::flag(Some('l'), "list", "print a list rather than a tree"),
        Opt::flag(Some('r'), "raw", "raw output: one space between columns"),
        Opt::required(
            Some('t'),
            "type",
            "name",
            Complete::Words("mnt net ipc user pid uts cgroup time"),
            "only this type (mnt, net, ipc, user, pid, uts, cgroup, time)",
        ),
        Opt::optional(
            Some('T'),
            "tree",
            "rel",
            Complete::Words("process parent owner"),
            "nest by process, parent or owner",
        ),
        Opt::flag(Some('H'), "list-columns", "list the available columns"),
    ],
    notes: "Filter expressions (-Q) compare columns with == != < <= > >= =~ !~ and combine
them with && || ! and parentheses, e.g. 'TYPE == \"net\" && NPROCS > 1'.",
    operands: Complete::Nothing,
    style: Style::UtilLinux,
};

/// For the completion of `-o`.
const COLUMN_NAMES: &str = "NS TYPE PATH NPROCS PID PPID COMMAND UID USER NETNSID NSFS PNS ONS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    None,
    Process,
    Owner,
    Parent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Help,
    Version,
    ListColumns,
    List,
}

#[derive(Debug)]
pub struct Options {
    pub invoked_as: String,
    pub action: Action,
    pub json: bool,
    pub raw: bool,
    pub noheadings: bool,
    pub notruncate: bool,
    pub nowrap: bool,
    pub persistent: bool,
    /// `-p`: only namespaces of this process (0: all).
    pub task: i32,
    /// The namespace argument: list its processes.
    pub namespace: Option<u64>,
    pub types: [bool; 8],
    pub tree: Tree,
    pub columns: Vec<ColumnId>,
    /// `-Q`, parsed when the option is read.
    pub filter: Option<crate::filter::Filter>,
    /// What the scanner of each `-Q` expression echoed to standard output
    /// (bytes no rule of its grammar matches), to be printed first.
    pub filter_echo: Vec<u8>,
}

impl ns_getopt::Invoked for Options {
    fn invoked_as(&self) -> &str {
        &self.invoked_as
    }
}

/// util-linux's mutually exclusive options.
const EXCLUSIVE: &[&[&str]] = &[&["json", "raw"], &["persistent", "task"]];

/// Parses argv (`argv[0]` included) and settles the defaults.
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, Error)> {
    TOOL.parse(args, |parser, prog| {
        let mut echo = Vec::new();
        match parse_options(parser, prog.to_string(), &mut echo) {
            Ok(mut options) => {
                options.filter_echo = echo;
                Ok(options)
            }
            Err(error) if echo.is_empty() => Err(error),
            Err(error) => Err(Error::Echoed {
                stdout: echo,
                error: Box::new(error),
            }),
        }
    })
}

fn failed(message: String) -> Error {
    Error::Failed(message)
}

fn parse_options(
    parser: &mut lexopt::Parser,
    invoked_as: String,
    echo: &mut Vec<u8>,
) -> Result<Options, Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut options = Options {
        invoked_as,
        action: Action::List,
        json: false,
        raw: false,
        noheadings: false,
        notruncate: false,
        nowrap: false,
        persistent: false,
        task: 0,
        namespace: None,
        types: [false; 8],
        tree: Tree::None,
        columns: Vec::new(),
        filter: None,
        filter_echo: Vec::new(),
    };
    let mut force_list = false;
    let mut output: Option<String> = None;
    let mut is_net = false;
    let mut positional: Vec<OsString> = Vec::new();
    let mut exclusive = Exclusive::new(EXCLUSIVE);

    while let Some(key) = TOOL.next_key(parser, &mut exclusive, &mut positional)? {
        let Key::Short(short) = key else {
            // The one long-only option.
            options.columns = columns::COLUMNS.iter().map(|c| c.id).collect();
            continue;
        };
        match short {
            'J' => options.json = true,
            'l' => force_list = true,
            'o' => output = Some(text(parser.value().map_err(usage)?)),
            'P' => options.persistent = true,
            'p' => {
                let value = text(parser.value().map_err(usage)?);
                options.task = parse_pid(&value)?;
            }
            'n' => options.noheadings = true,
            'r' => {
                options.raw = true;
                options.nowrap = true;
            }
            'u' => options.notruncate = true,
            't' => {
                let value = text(parser.value().map_err(usage)?);
                let kind = NsType::from_proc_name(&value)
                    .ok_or_else(|| failed(format!("unknown namespace type: {value}")))?;
                options.types[kind.index()] = true;
                if kind == NsType::Net {
                    is_net = true;
                }
            }
            'W' => options.nowrap = true,
            'T' => {
                // The argument is optional and only taken when attached.
                options.tree = Tree::Owner;
                if let Some(value) = parser.optional_value() {
                    let value = text(value);
                    let value = value.strip_prefix('=').unwrap_or(&value);
                    options.tree = match value {
                        "parent" => Tree::Parent,
                        "process" => Tree::Process,
                        "owner" => Tree::Owner,
                        other => return Err(failed(format!("unknown tree type: {other}"))),
                    };
                }
            }
            'Q' => {
                let value = parser.value().map_err(usage)?.into_vec();
                // Parsed here, as util-linux does: its errors come before
                // those of later options. The expression is bytes, as
                // the cells it compares with.
                match crate::filter::Filter::parse(&value) {
                    Ok(filter) => {
                        echo.extend(&filter.echo);
                        options.filter = Some(filter);
                    }
                    Err(error) => {
                        echo.extend(&error.echo);
                        let mut message = b"failed to parse \"".to_vec();
                        message.extend_from_slice(&value);
                        message.extend_from_slice(format!("\": {error}").as_bytes());
                        return Err(Error::Raw(message));
                    }
                }
            }
            'H' => options.action = Action::ListColumns,
            'h' => {
                options.action = Action::Help;
                return Ok(options);
            }
            'V' => {
                options.action = Action::Version;
                return Ok(options);
            }
            _ => return Err(key.unknown().into()),
        }
    }
    if options.action == Action::ListColumns {
        return Ok(options);
    }

    if !options.types.contains(&true) {
        options.types = [true; 8];
    }

    if let Some(argument) = positional.first().map(|arg| text(arg.clone())) {
        if options.task != 0 {
            return Err(failed(
                "--task is mutually exclusive with <namespace>".to_string(),
            ));
        }
        options.namespace = Some(parse_namespace(&argument)?);
        if options.tree == Tree::None && !force_list {
            options.tree = Tree::Process;
        }
        if options.columns.is_empty() {
            options.columns = vec![
                ColumnId::Pid,
                ColumnId::Ppid,
                ColumnId::User,
                ColumnId::Command,
            ];
        }
    }

    if options.columns.is_empty() {
        options.columns = vec![
            ColumnId::Ns,
            ColumnId::Type,
            ColumnId::Nprocs,
            ColumnId::Pid,
            ColumnId::User,
        ];
        if is_net {
            options.columns.push(ColumnId::Netnsid);
            options.columns.push(ColumnId::Nsfs);
        }
        options.columns.push(ColumnId::Command);
        if options.tree == Tree::None && !force_list {
            options.tree = Tree::Process;
        }
    }

    if let Some(list) = output {
        columns::apply_list(&list, &mut options.columns).map_err(|error| match error {
            columns::ListError::Unknown(name) => failed(format!("unknown column: {name}")),
            columns::ListError::Silent => Error::Silent,
        })?;
    }
    Ok(options)
}

fn number_error(what: &str, text: &str, range: bool) -> Error {
    if range {
        failed(format!("{what}: '{text}': Numerical result out of range"))
    } else {
        failed(format!("{what}: '{text}'"))
    }
}

/// `-p`: a PID, 1 to 2147483647; anything else is out of range, as in
/// util-linux 2.42 (2.38 took 0 and negative numbers, and listed nothing).
pub fn parse_pid(text: &str) -> Result<i32, Error> {
    const WHAT: &str = "invalid PID argument";
    let value = parse_signed(text).map_err(|range| number_error(WHAT, text, range))?;
    i32::try_from(value)
        .ok()
        .filter(|&pid| pid >= 1)
        .ok_or_else(|| number_error(WHAT, text, true))
}

/// The namespace argument: an unsigned 64-bit inode number; negative
/// numbers are out of range.
pub fn parse_namespace(text: &str) -> Result<u64, Error> {
    const WHAT: &str = "invalid namespace argument";
    let value = parse_signed(text).map_err(|range| number_error(WHAT, text, range))?;
    if value < 0 {
        return Err(number_error(WHAT, text, true));
    }
    u64::try_from(value).map_err(|_| number_error(WHAT, text, true))
}

/// `--help`, from the option table, with the columns before the closing
/// line, as util-linux lays it out.
pub fn help(prog: &str) -> String {
    let text = TOOL.help(prog);
    let closing = text.rfind("\nFor more details").unwrap_or(text.len());
    let mut columns = String::from("\nAvailable output columns:\n");
    for column in columns::COLUMNS {
        columns.push_str(&format!(" {:>11}  {}\n", column.name, column.help));
    }
    format!("{}{columns}{}", &text[..closing], &text[closing..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        let argv = std::iter::once("lsns").chain(args.iter().copied());
        parse(argv).map_err(|(_, e)| e.to_string()).unwrap()
    }

    fn parse_err(args: &[&str]) -> String {
        let argv = std::iter::once("lsns").chain(args.iter().copied());
        parse(argv).unwrap_err().1.to_string()
    }

    #[test]
    fn every_option_in_the_table_is_parsed() {
        for opt in TOOL.options {
            let arg = format!("--{}", opt.long);
            let args: Vec<&str> = match opt.value {
                ns_getopt::Value::Required(_) if opt.long == "task" => vec![&arg, "1"],
                ns_getopt::Value::Required(_) if opt.long == "type" => vec![&arg, "net"],
                ns_getopt::Value::Required(_) if opt.long == "output" => vec![&arg, "NS"],
                ns_getopt::Value::Required(_) => vec![&arg, "NS == 1"],
                _ => vec![&arg],
            };
            let argv = std::iter::once("lsns").chain(args.iter().copied());
            let parsed = parse(argv);
            assert!(
                !matches!(&parsed, Err((_, Error::Usage(m))) if m.contains("unrecognized")),
                "--{} is in the table but not parsed",
                opt.long
            );
        }
    }

    #[test]
    fn completion_offers_every_column() {
        let names: Vec<&str> = COLUMN_NAMES.split(' ').collect();
        let table: Vec<&str> = columns::COLUMNS.iter().map(|c| c.name).collect();
        assert_eq!(names, table);
    }

    #[test]
    fn defaults() {
        let o = parse_ok(&[]);
        assert_eq!(o.tree, Tree::Process);
        assert_eq!(o.columns.len(), 6);
        assert_eq!(o.types, [true; 8]);
        let o = parse_ok(&["-l", "-t", "net"]);
        assert_eq!(o.tree, Tree::None);
        assert!(o.columns.contains(&ColumnId::Netnsid));
        assert!(o.types[NsType::Net.index()] && !o.types[NsType::Mnt.index()]);
    }

    #[test]
    fn namespace_argument_lists_processes() {
        let o = parse_ok(&["4026531836"]);
        assert_eq!(o.namespace, Some(4026531836));
        assert_eq!(o.columns[0], ColumnId::Pid);
        assert_eq!(o.tree, Tree::Process);
    }

    #[test]
    fn output_all_is_a_list() {
        let o = parse_ok(&["--output-all"]);
        assert_eq!(o.tree, Tree::None);
        assert_eq!(o.columns.len(), 13);
        let o = parse_ok(&["--output-all", "-o", "ns"]);
        assert_eq!(o.columns, [ColumnId::Ns]);
    }

    #[test]
    fn tree_argument_only_attached() {
        assert_eq!(parse_ok(&["-Tparent"]).tree, Tree::Parent);
        assert_eq!(parse_ok(&["--tree=process"]).tree, Tree::Process);
        assert_eq!(parse_ok(&["-T"]).tree, Tree::Owner);
        assert_eq!(parse_err(&["-Tfoo"]), "unknown tree type: foo");
        assert_eq!(
            parse_err(&["-T", "parent"]),
            "invalid namespace argument: 'parent'"
        );
    }

    #[test]
    fn exclusive_rows_ascend_as_util_linux_needs() {
        assert!(Exclusive::new(EXCLUSIVE).rows_ascend(&TOOL));
    }

    #[test]
    fn exclusive_pairs() {
        assert_eq!(
            parse_err(&["-r", "-J"]),
            "options --raw and --json cannot be combined"
        );
        assert_eq!(
            parse_err(&["-p", "1", "-P"]),
            "options --task and --persistent cannot be combined"
        );
        // util-linux's -l/-T pair never fires (its table is out of order).
        assert_eq!(parse_ok(&["-l", "-T"]).tree, Tree::Owner);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_pid(" +3").unwrap(), 3);
        assert_eq!(
            parse_pid("99999999999").unwrap_err().to_string(),
            "invalid PID argument: '99999999999': Numerical result out of range"
        );
        assert_eq!(
            parse_pid("").unwrap_err().to_string(),
            "invalid PID argument: ''"
        );
        for out_of_range in ["0", "-5", "2147483648"] {
            assert_eq!(
                parse_pid(out_of_range).unwrap_err().to_string(),
                format!("invalid PID argument: '{out_of_range}': Numerical result out of range")
            );
        }
        assert_eq!(parse_pid(" +2147483647").unwrap(), i32::MAX);
        assert_eq!(
            parse_namespace("-1").unwrap_err().to_string(),
            "invalid namespace argument: '-1': Numerical result out of range"
        );
        assert_eq!(parse_namespace("18446744073709551615").unwrap(), u64::MAX);
        assert!(parse_namespace("18446744073709551616")
            .unwrap_err()
            .to_string()
            .ends_with("out of range"));
        assert_eq!(
            parse_namespace("0x10").unwrap_err().to_string(),
            "invalid namespace argument: '0x10'"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse_err(&["-t", "foo"]), "unknown namespace type: foo");
        assert_eq!(parse_err(&["-o", "FOO,NS"]), "unknown column: FOO,NS");
        assert_eq!(parse_err(&["-x"]), "invalid option -- 'x'");
        assert_eq!(
            parse_err(&["-p", "1", "123"]),
            "--task is mutually exclusive with <namespace>"
        );
    }
}
