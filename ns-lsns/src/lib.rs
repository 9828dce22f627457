//! ns-lsns: list system namespaces, a drop-in for util-linux `lsns` 2.42
//! (`-P`, `-Q`, `-H`, namespaces held only by bind mounts, open files or
//! sockets, libsmartcols 2.42's layout).
//!
//! In the layering (see ns-sys) it stands on ns-getopt (the command line)
//! and ns-sys (namespace types, mountinfo, accounts). The stages, in
//! order: [`cli::parse`] turns argv into [`cli::Options`] (a `-Q`
//! expression compiled by [`filter`]); [`run`] collects the namespaces
//! ([`namespaces`], reading [`proc`] in parallel), builds one row per
//! namespace or process ([`columns`]), keeps those the filter holds for,
//! and prints them as util-linux lays them out ([`table`]).

pub mod cli;
pub mod columns;
mod error;
pub mod filter;
mod held;
pub mod namespaces;
pub mod netnsid;
mod pool;
pub mod proc;
pub mod table;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ns_getopt::Start;

use ns_sys::accounts::Accounts;

use cli::{Action, Options, Tree};
use columns::{ColumnId, JsonType};
pub use error::Error;
use filter::Filter;
use namespaces::{Namespace, NsType, Scan, ScanOptions, OWNER, PARENT};
use table::{Format, Locale, Table, Terminal};

/// Parses argv, runs, and reports an error the way util-linux does.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    let parse = |args| {
        cli::parse(args).map_err(|(prog, error)| match error {
            // What a filter's scanner echoed is printed all the same.
            Error::Echoed { stdout, error } => {
                let _ = write_stdout(&stdout);
                (prog, *error)
            }
            error => (prog, error),
        })
    };
    let locale = Locale::from_environment();
    let run = |options: &Options| run(options, locale);
    ns_getopt::main(args, &cli::TOOL, Start::RefuseSetId, parse, run)
}

pub fn run(options: &Options, locale: Locale) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    if !options.filter_echo.is_empty() {
        write_stdout(&options.filter_echo)?;
    }
    match options.action {
        Action::Help => write_stdout(cli::help(prog).as_bytes()),
        Action::Version => write_stdout(cli::TOOL.version(prog).as_bytes()),
        Action::ListColumns => write_stdout(&list_columns(options, locale)),
        Action::List => list(options, locale),
    }
}

/// A closed or broken stdout ends the program quietly, as a failure.
fn write_stdout(data: &[u8]) -> Result<ExitCode, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(data).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::FAILURE),
        Err(error) => Err(ns_getopt::write_failed_after(&error, data.len()).into()),
    }
}

fn format_of(options: &Options) -> Format {
    if options.json {
        Format::Json
    } else if options.raw {
        Format::Raw
    } else {
        Format::Human
    }
}

/// `-H`: the columns, their JSON types and descriptions.
fn list_columns(options: &Options, locale: Locale) -> Vec<u8> {
    let mut table = Table::new(format_of(options), locale, Terminal::detect());
    table.name = "lsns-columns".into();
    table.noheadings = true;
    for (name, right) in [("HOLDER", true), ("TYPE", false), ("DESCRIPTION", false)] {
        table.columns.push(table::Column {
            name: name.into(),
            right,
            ..table::Column::default()
        });
    }
    for column in columns::COLUMNS {
        let kind = match column.json {
            JsonType::Number => "<integer>",
            JsonType::String => "<string>",
        };
        let cells = [column.name, kind, column.help]
            .iter()
            .map(|text| Some(text.as_bytes().to_vec()))
            .collect();
        table.add_line(cells, None);
    }
    let mut out = Vec::new();
    table.print(&mut out).expect("writing to memory");
    out
}

/// Everything a row needs besides the namespace and process.
struct Context<'a> {
    proc: &'a proc::Proc,
    options: &'a Options,
    scan: &'a Scan,
    columns: Vec<ColumnId>,
    nsfs_mounts: namespaces::NsfsMounts,
    /// The namespaces that have an nsfs mount.
    nsfs_inodes: HashSet<u64>,
    accounts: Accounts,
    user_names: HashMap<u32, String>,
    /// The COMMAND of each process, read when first shown.
    commands: Vec<Option<Option<Vec<u8>>>>,
}

impl Context<'_> {
    fn user_name(&mut self, uid: u32) -> String {
        if let Some(name) = self.user_names.get(&uid) {
            return name.clone();
        }
        let name = self
            .accounts
            .user_by_uid(uid)
            .map(|user| user.name.clone())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| uid.to_string());
        self.user_names.insert(uid, name.clone());
        name
    }

    /// The NSFS cell: every mount point of the namespace, each once.
    fn nsfs(&self, ns: &Namespace) -> Option<Vec<u8>> {
        // Most namespaces have none: no need to spell out the root.
        if !self.nsfs_inodes.contains(&ns.id) {
            return None;
        }
        let expected = format!("{}:[{}]", ns.kind.proc_name(), ns.id);
        let separator = if self.options.nowrap { b',' } else { b'\n' };
        let mut joined: Option<Vec<u8>> = None;
        for (root, target) in &self.nsfs_mounts {
            if *root != expected {
                continue;
            }
            match &mut joined {
                None => joined = Some(target.clone()),
                Some(set) if is_path_included(set, target, separator) => {}
                Some(set) => {
                    set.push(separator);
                    set.extend_from_slice(target);
                }
            }
        }
        joined
    }

    fn cell(&mut self, column: ColumnId, ns: &Namespace, proc_: Option<usize>) -> Option<Vec<u8>> {
        let process = proc_.map(|index| &self.scan.processes[index]);
        let text = match column {
            // Numbers without the formatting machinery: thousands of rows.
            ColumnId::Ns => return Some(decimal(ns.id)),
            ColumnId::Type => return Some(ns.kind.proc_name().as_bytes().to_vec()),
            ColumnId::Path => format!("/proc/{}/ns/{}", process?.pid, ns.kind.proc_name()),
            ColumnId::Nprocs => return Some(decimal(ns.nprocs as u64)),
            ColumnId::Pid => return Some(signed(process?.pid)),
            ColumnId::Ppid => return Some(signed(process?.ppid)),
            ColumnId::Command => {
                // A process can stand for several namespaces: read once.
                let index = proc_?;
                let pid = self.scan.processes[index].pid;
                return self.commands[index]
                    .get_or_insert_with(|| self.proc.command_of(pid))
                    .clone();
            }
            ColumnId::Uid => process.map_or(ns.uid_fallback, |p| p.uid).to_string(),
            ColumnId::User => {
                let uid = process.map_or(ns.uid_fallback, |p| p.uid);
                self.user_name(uid)
            }
            ColumnId::Netnsid => match ns.kind {
                NsType::Net => ns.netnsid.cell()?,
                _ => return None,
            },
            ColumnId::Nsfs => return self.nsfs(ns),
            ColumnId::Pns => ns.related_id[PARENT].to_string(),
            ColumnId::Ons => ns.related_id[OWNER].to_string(),
        };
        Some(text.into_bytes())
    }
}

/// A number's decimal digits.
fn decimal(n: u64) -> Vec<u8> {
    proc::decimal_digits(n, &mut [0u8; 20]).to_vec()
}

fn signed(n: i32) -> Vec<u8> {
    match u64::try_from(n) {
        Ok(n) => decimal(n),
        Err(_) => n.to_string().into_bytes(),
    }
}

/// util-linux's test whether a mount point is already in the list: the
/// first occurrence of `elt` must be a whole list element.
fn is_path_included(set: &[u8], elt: &[u8], separator: u8) -> bool {
    let Some(at) = (0..=set.len().saturating_sub(elt.len()))
        .find(|&at| set.get(at..at + elt.len()) == Some(elt))
    else {
        return false;
    };
    let after = set.get(at + elt.len()).copied();
    let ends = after.is_none() || after == Some(separator);
    if at == 0 {
        return ends;
    }
    set[at - 1] == separator && ends
}

/// The rows being built, with the line each process or namespace last
/// got (the tree views hang children under it).
struct Rows<'a> {
    table: Table,
    proc_line: Vec<Option<usize>>,
    ns_line: Vec<Option<usize>>,
    filter: Option<&'a Filter>,
    /// The errno of the first row the filter could not be applied to.
    failed: Option<i32>,
}

fn list(options: &Options, locale: Locale) -> Result<ExitCode, Error> {
    let filter = options.filter.as_ref();

    // Columns a filter names but the output does not show are added,
    // hidden, at the end; an unknown name fails after all are reported.
    let mut columns = options.columns.clone();
    let mut hidden_from = columns.len();
    if let Some(filter) = filter {
        let prog = &options.invoked_as;
        let mut unknown = false;
        for name in filter.holders() {
            match columns::by_name(&name) {
                Some(id) if columns.contains(&id) => {}
                Some(id) => {
                    if columns.len() >= columns::MAX_COLUMNS {
                        return Err(Error::Failed(format!(
                            "too many columns specified, the limit is {} columns",
                            columns::MAX_COLUMNS - 1
                        )));
                    }
                    columns.push(id);
                }
                None => {
                    eprintln!("{prog}: unknown column: {name}");
                    unknown = true;
                }
            }
        }
        if unknown {
            return Err(Error::Failed("failed to initialize filter".to_string()));
        }
    } else {
        hidden_from = columns.len();
    }
    let has = |id: ColumnId| columns.contains(&id);

    let mountinfo = std::fs::read("/proc/self/mountinfo").map_err(|error| {
        let text = ns_sys::io_error_text(&error);
        Error::MountTable(format!("failed to parse /proc/self/mountinfo: {text}"))
    })?;
    let nsfs_mounts = namespaces::parse_nsfs_mounts(&mountinfo);

    let tree_ns = matches!(options.tree, Tree::Owner | Tree::Parent);
    let scan_options = ScanOptions {
        types: options.types,
        related: tree_ns || has(ColumnId::Pns) || has(ColumnId::Ons),
        netnsid: has(ColumnId::Netnsid),
        connect: tree_ns,
        open_files: true,
        // A plain listing shows each namespace with its lowest PID: those
        // commands are best read during the scan.
        commands: has(ColumnId::Command)
            && options.task == 0
            && !options.persistent
            && options.namespace.is_none_or(|ns| ns == 0),
    };
    let cannot_read = |error| Error::Failed(format!("cannot read /proc: {error}"));
    let proc = proc::Proc::open().map_err(cannot_read)?;
    let mut scan = Scan::collect(&proc, &scan_options, &nsfs_mounts).map_err(cannot_read)?;
    let commands = scan
        .processes
        .iter_mut()
        .map(|p| p.command.take())
        .collect();

    let mut cx = Context {
        proc: &proc,
        options,
        scan: &scan,
        columns: columns.clone(),
        nsfs_inodes: nsfs_mounts
            .iter()
            .filter_map(|(root, _)| namespaces::nsfs_root_ino(root))
            .collect(),
        nsfs_mounts,
        accounts: Accounts::load(Path::new("/")),
        user_names: HashMap::new(),
        commands,
    };

    if has(ColumnId::Command) {
        prefetch_commands(&mut cx);
    }

    let mut table = Table::new(format_of(options), locale, Terminal::detect());
    table.noheadings = options.noheadings;
    table.name = "namespaces".into();
    for (index, &id) in columns.iter().enumerate() {
        let info = columns::info_of(id);
        let mut column = table::Column {
            name: info.name.into(),
            width_hint: info.width_hint,
            right: info.right,
            trunc: info.trunc && !options.notruncate,
            tree: false,
            wrap_nl: info.wrap && !options.nowrap,
            json_number: info.json == JsonType::Number,
            hidden: index >= hidden_from,
        };
        if options.tree == Tree::Process && id == ColumnId::Command {
            column.tree = true;
        }
        if tree_ns && id == ColumnId::Ns {
            column.tree = true;
            column.right = false;
        }
        if column.hidden {
            column.trunc = false;
            column.wrap_nl = false;
        }
        table.columns.push(column);
    }

    let mut rows = Rows {
        table,
        proc_line: vec![None; scan.processes.len()],
        ns_line: vec![None; scan.namespaces.len()],
        filter,
        failed: None,
    };

    match options.namespace.filter(|&ns| ns != 0) {
        Some(wanted) => {
            let Some(ns) = scan.get(wanted) else {
                return Err(Error::Failed(format!("not found namespace: {wanted}")));
            };
            for &process in &scan.namespaces[ns].processes {
                if rows.proc_line[process].is_none() {
                    show_process(&mut cx, &mut rows, process, ns);
                }
            }
        }
        None => {
            for ns in 0..scan.namespaces.len() {
                let namespace = &scan.namespaces[ns];
                if options.task != 0
                    && !namespace
                        .processes
                        .iter()
                        .any(|&p| scan.processes[p].pid == options.task)
                {
                    continue;
                }
                if options.persistent && namespace.nprocs != 0 {
                    continue;
                }
                if rows.ns_line[ns].is_none() {
                    show_namespace(&mut cx, &mut rows, ns, namespace.proc_);
                }
            }
        }
    }

    if let Some(errno) = rows.failed {
        return Err(Error::Failed(format!(
            "failed to apply filter: {}",
            filter::errno_text(errno)
        )));
    }
    let mut out = Vec::new();
    rows.table.print(&mut out).map_err(|error| {
        let text = ns_sys::io_error_text(&error);
        Error::Failed(format!("write error: {text}"))
    })?;
    write_stdout(&out)
}

/// Reads, in parallel, the COMMAND of the processes whose rows will be
/// shown (the others are read if and when needed).
fn prefetch_commands(cx: &mut Context) {
    let scan = cx.scan;
    let mut wanted = vec![false; scan.processes.len()];
    match cx.options.namespace.filter(|&ns| ns != 0) {
        Some(ns) => {
            for &process in scan
                .get(ns)
                .map_or(&[][..], |ns| &scan.namespaces[ns].processes)
            {
                wanted[process] = true;
            }
        }
        None if cx.options.task == 0 => {
            for process in scan.namespaces.iter().filter_map(|ns| ns.proc_) {
                wanted[process] = true;
            }
        }
        None => return,
    }
    let indices: Vec<usize> = (0..wanted.len())
        .filter(|&i| wanted[i] && cx.commands[i].is_none())
        .collect();
    let pids: Vec<i32> = indices.iter().map(|&i| scan.processes[i].pid).collect();
    let proc = cx.proc;
    let commands = pool::map(&pids, |pid| proc.command_of(pid));
    for (index, command) in indices.into_iter().zip(commands) {
        cx.commands[index] = Some(command);
    }
}

/// A namespace's row, after its owner's or parent's (tree views).
fn show_namespace(cx: &mut Context, rows: &mut Rows, ns: usize, proc_: Option<usize>) {
    let namespace = &cx.scan.namespaces[ns];
    let first = match cx.options.tree {
        Tree::Owner => namespace.related[OWNER],
        Tree::Parent => namespace.related[PARENT].or(namespace.related[OWNER]),
        _ => None,
    };
    if let Some(related) = first {
        if rows.ns_line[related].is_none() {
            show_namespace(cx, rows, related, cx.scan.namespaces[related].proc_);
        }
    }
    add_line(cx, rows, ns, proc_);
}

/// A process's row in a namespace's list, after its parent's when the
/// parent is in the same namespace (process tree).
fn show_process(cx: &mut Context, rows: &mut Rows, process: usize, ns: usize) {
    let kind = cx.scan.namespaces[ns].kind.index();
    if cx.options.tree == Tree::Process {
        if let Some(parent) = cx.scan.processes[process].parent {
            if rows.proc_line[parent].is_none()
                && cx.scan.processes[parent].ns_ids[kind] == cx.scan.processes[process].ns_ids[kind]
            {
                show_process(cx, rows, parent, ns);
            }
        }
    }
    add_line(cx, rows, ns, Some(process));
}

fn add_line(cx: &mut Context, rows: &mut Rows, ns: usize, proc_: Option<usize>) {
    if rows.failed.is_some() {
        return;
    }
    let namespace = &cx.scan.namespaces[ns];
    let parent_line = match cx.options.tree {
        Tree::Process => proc_
            .and_then(|p| cx.scan.processes[p].parent)
            .and_then(|parent| rows.proc_line[parent]),
        Tree::Parent => namespace.related[PARENT].and_then(|r| rows.ns_line[r]),
        Tree::Owner => namespace.related[OWNER].and_then(|r| rows.ns_line[r]),
        Tree::None => None,
    };
    let columns = cx.columns.clone();
    let cells: Vec<Option<Vec<u8>>> = columns
        .iter()
        .map(|&column| cx.cell(column, namespace, proc_))
        .collect();
    if let Some(filter) = rows.filter {
        let lookup = |name: &str| {
            let id = columns::by_name(name);
            let index = id.and_then(|id| columns.iter().position(|&c| c == id));
            filter::Cell {
                data: index.and_then(|i| cells[i].as_deref()),
                number: id.is_some_and(|id| columns::info_of(id).json == JsonType::Number),
            }
        };
        match filter.matches(&lookup) {
            Ok(true) => {}
            Ok(false) => return,
            Err(errno) => {
                // util-linux ends at the first row a filter fails on.
                rows.failed.get_or_insert(errno);
                return;
            }
        }
    }
    let line = rows.table.add_line(cells, parent_line);
    if matches!(cx.options.tree, Tree::Owner | Tree::Parent) {
        rows.ns_line[ns] = Some(line);
    } else if let Some(process) = proc_ {
        rows.proc_line[process] = Some(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(decimal(0), b"0");
        assert_eq!(decimal(4026531833), b"4026531833");
        assert_eq!(decimal(u64::MAX), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn nsfs_paths_are_listed_once() {
        assert!(is_path_included(b"/run/netns/a", b"/run/netns/a", b'\n'));
        assert!(is_path_included(
            b"/x\n/run/netns/a",
            b"/run/netns/a",
            b'\n'
        ));
        assert!(is_path_included(b"/run/netns/a,/y", b"/run/netns/a", b','));
        assert!(!is_path_included(b"/run/netns/ab", b"/run/netns/a", b'\n'));
        assert!(!is_path_included(b"/x/run/netns/a", b"/run/netns/a", b'\n'));
        assert!(is_path_included(b"/\xff", b"/\xff", b'\n'));
    }
}
