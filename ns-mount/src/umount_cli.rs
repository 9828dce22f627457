//! ns-umount's command line and the umount(8) logic: finding what to
//! unmount (by target, by source, by loop backing file), `-R` in one pass
//! over the mount table, `-a`, `-A`, and util-linux's messages.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexopt::Arg::{Long, Short, Value};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use ns_getopt::{Complete, Opt, Style, Tool};

use crate::error::{Error, EX_FAIL, EX_SUCCESS, EX_SYSERR, EX_USAGE};
use crate::listing::{self, is_pseudo_fs};
use crate::loopdev;
use crate::mountinfo::{self, MountEntry};
use crate::options::{match_fstype, match_options};
use crate::privilege;
use crate::probe;
use crate::syscall;

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it. Options are in util-linux's getopt order,
/// which decides how an ambiguous abbreviation is reported.
pub const TOOL: Tool = Tool {
    name: "ns-umount",
    reference: "umount",
    section: 8,
    summary: "unmount filesystems",
    usage: &["[-hV]", "-a [options]", "[options] <source> | <directory>"],
    description: "Detach filesystems from the directory tree.

--recursive reads the mount table once and unmounts deepest first, so its time
grows linearly with the number of mounts.",
    options: &[
        Opt::flag(Some('a'), "all", "unmount everything in the mount table"),
        Opt::flag(
            Some('A'),
            "all-targets",
            "unmount every mount of the given device",
        ),
        Opt::flag(
            Some('d'),
            "detach-loop",
            "also detach the loop device of the mount",
        ),
        Opt::flag(None, "fake", "do everything but the umount(2) call"),
        Opt::flag(
            Some('f'),
            "force",
            "force (for an unreachable network filesystem)",
        ),
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(
            Some('i'),
            "internal-only",
            "accepted (no umount.<type> helpers are run)",
        ),
        Opt::flag(
            Some('l'),
            "lazy",
            "detach now, clean up when no longer busy",
        ),
        Opt::flag(Some('c'), "no-canonicalize", "take paths as given"),
        Opt::flag(Some('n'), "no-mtab", "accepted (no /etc/mtab is written)"),
        Opt::flag(Some('q'), "quiet", "no 'not mounted' messages"),
        Opt::flag(
            Some('r'),
            "read-only",
            "when unmounting fails, remount read-only",
        ),
        Opt::flag(
            Some('R'),
            "recursive",
            "unmount a mount and everything below it",
        ),
        Opt::required(
            Some('O'),
            "test-opts",
            "list",
            Complete::Nothing,
            "with -a: only mounts with these options",
        ),
        Opt::required(
            Some('t'),
            "types",
            "list",
            Complete::Words("ext4 ext3 ext2 xfs btrfs vfat iso9660 squashfs tmpfs proc sysfs"),
            "with -a: only these filesystem types",
        ),
        Opt::flag(Some('v'), "verbose", "report what was done"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::required(
            Some('N'),
            "namespace",
            "ns",
            Complete::Pids,
            "work in the mount namespace of a PID or file",
        ),
    ],
    notes: "Exit status: 0 success, 1 bad usage, 2 system error, 32 failure; with several
targets, the statuses add up (at most 255).",
    operands: Complete::Dirs,
    style: Style::UtilLinux,
};

/// Pairs (and a triple) util-linux refuses together, with the long names
/// its message lists.
const EXCLUSIVE: &[&[(u32, &str)]] = &[
    &[('A' as u32, "all-targets"), ('a' as u32, "all")],
    &[('R' as u32, "recursive"), ('a' as u32, "all")],
    &[
        ('O' as u32, "test-opts"),
        ('R' as u32, "recursive"),
        ('t' as u32, "types"),
    ],
    &[('R' as u32, "recursive"), ('r' as u32, "read-only")],
];

/// --fake has no short option; util-linux numbers it above every char.
const FAKE_KEY: u32 = 0x100;

/// The options a caller without privileges may give a set-user-ID umount
/// (util-linux's list).
const RESTRICTED_OK: &str = "hdilqVv";

/// What `umount -a` leaves alone unless `-t` says otherwise.
const DEFAULT_ALL_TYPES: &str = "noproc,nodevfs,nodevpts,nosysfs,norpc_pipefs,nonfsd,noselinuxfs";

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub invoked_as: String,
    pub help: bool,
    pub version: bool,
    pub all: bool,
    pub all_targets: bool,
    pub no_canonicalize: bool,
    pub detach_loop: bool,
    pub fake: bool,
    pub force: bool,
    pub lazy: bool,
    pub quiet: bool,
    pub read_only: bool,
    pub recursive: bool,
    pub verbose: bool,
    pub test_opts: Option<String>,
    pub types: Option<String>,
    pub namespace: Option<PathBuf>,
    /// Targets or sources, as bytes: the path unmounted is the one named.
    pub operands: Vec<OsString>,
}

pub fn parse<I>(args: I) -> Result<Options, (String, Error)>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_iter(args);
    let invoked_as = ns_getopt::invoked_name(parser.bin_name().map(AsRef::as_ref), "ns-umount");
    let mut options = Options {
        invoked_as: invoked_as.clone(),
        ..Options::default()
    };
    match parse_into(&mut parser, &mut options) {
        Ok(()) => Ok(options),
        Err(error) => Err((invoked_as, error)),
    }
}

fn string(value: OsString) -> String {
    value.to_string_lossy().into_owned()
}

fn parse_into(parser: &mut lexopt::Parser, o: &mut Options) -> Result<(), Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut seen = vec![0u32; EXCLUSIVE.len()];
    while let Some(arg) = parser.next().map_err(usage)? {
        // --fake has no short form.
        if matches!(arg, Short('F')) {
            return Err(ns_getopt::unknown(Short('F')).into());
        }
        let key = match arg {
            Short(c) => c,
            Long(name) => match TOOL.resolve_long(name)? {
                "all" => 'a',
                "all-targets" => 'A',
                "detach-loop" => 'd',
                "fake" => 'F',
                "force" => 'f',
                "help" => 'h',
                "internal-only" => 'i',
                "lazy" => 'l',
                "no-canonicalize" => 'c',
                "no-mtab" => 'n',
                "quiet" => 'q',
                "read-only" => 'r',
                "recursive" => 'R',
                "test-opts" => 'O',
                "types" => 't',
                "verbose" => 'v',
                "version" => 'V',
                "namespace" => 'N',
                other => unreachable!("option --{other} is in the table but not handled"),
            },
            Value(value) => {
                o.operands.push(value);
                continue;
            }
        };
        if privilege::is_restricted() && !RESTRICTED_OK.contains(key) {
            // -c would let the caller name paths unchecked: ignored, as
            // util-linux ignores it; anything else makes umount carry on
            // as the caller.
            if key == 'c' {
                continue;
            }
            privilege::drop_to_caller()?;
        }
        let code = if key == 'F' { FAKE_KEY } else { key as u32 };
        crate::check_exclusive(code, EXCLUSIVE, &mut seen)?;
        match key {
            'a' => o.all = true,
            'A' => o.all_targets = true,
            'c' => o.no_canonicalize = true,
            'd' => o.detach_loop = true,
            'F' => o.fake = true,
            'f' => o.force = true,
            'i' | 'n' => {}
            'l' => o.lazy = true,
            'q' => o.quiet = true,
            'r' => o.read_only = true,
            'R' => o.recursive = true,
            'O' => o.test_opts = Some(string(parser.value().map_err(usage)?)),
            't' => o.types = Some(string(parser.value().map_err(usage)?)),
            'v' => o.verbose = true,
            'N' => {
                let value = parser.value().map_err(usage)?;
                o.namespace = Some(crate::syscall::namespace_argument(&value)?);
            }
            'h' => {
                o.help = true;
                return Ok(());
            }
            'V' => {
                o.version = true;
                return Ok(());
            }
            _ => return Err(ns_getopt::unknown(Short(key)).into()),
        }
    }
    Ok(())
}

pub fn help(prog: &str) -> String {
    TOOL.help(prog)
}

pub fn version(prog: &str) -> String {
    format!("{prog} (nstools) {}\n", env!("CARGO_PKG_VERSION"))
}

pub fn main<I>(args: I) -> ExitCode
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    ns_sys::runtime::restore_sigpipe();
    privilege::init();
    let (prog, result) = match parse(args) {
        Ok(options) => (options.invoked_as.clone(), run(&options)),
        Err((prog, error)) => (prog, Err(error)),
    };
    ns_getopt::finish(&prog, result.map(ExitCode::from))
}

pub fn run(o: &Options) -> Result<u8, Error> {
    if o.help {
        return crate::error::print_stdout(&help(&o.invoked_as));
    }
    if o.version {
        return crate::error::print_stdout(&version(&o.invoked_as));
    }
    if let Some(ns) = &o.namespace {
        syscall::enter_mount_namespace(ns)
            .map_err(|_| Error::failed("failed to switch namespace", EX_SYSERR))?;
    }
    let unmounter = Unmounter { o };
    if o.all {
        if !o.operands.is_empty() {
            return Err(Error::Usage("unexpected number of arguments".into()));
        }
        return Ok(unmounter.all());
    }
    if o.operands.is_empty() {
        return Err(Error::Usage("bad usage".into()));
    }
    let mut total: u32 = 0;
    for spec in &o.operands {
        // A restricted caller's path is resolved as the caller resolves
        // it: what they cannot reach they cannot name.
        let sanitized;
        let spec = if privilege::is_restricted() && probe::parse_tag(spec).is_none() {
            match privilege::as_caller(|| std::fs::canonicalize(spec)) {
                Ok(path) => {
                    sanitized = path.into_os_string();
                    sanitized.as_os_str()
                }
                Err(e) => {
                    let text = ns_sys::io_error_text(&e);
                    return Err(Error::failed_bytes(
                        [spec.as_bytes(), b": ", text.as_bytes()].concat(),
                        EX_USAGE,
                    ));
                }
            }
        } else {
            spec.as_os_str()
        };
        let code = if o.all_targets {
            unmounter.all_targets(spec)
        } else if o.recursive {
            unmounter.recursive(spec)
        } else {
            unmounter.one(spec)
        };
        total += u32::from(code);
    }
    Ok(total.min(255) as u8)
}

struct Unmounter<'a> {
    o: &'a Options,
}

/// What to unmount, once found.
struct Found {
    target: OsString,
    /// Known when the mount table was consulted (then -v names it).
    source: Option<OsString>,
}

/// A message line on stderr, its names as their bytes.
fn say(parts: &[&[u8]]) {
    let mut line = parts.concat();
    line.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&line);
}

/// `%-25s` as C pads it: by bytes.
fn padded(out: &mut impl Write, name: &OsStr, what: &str) -> std::io::Result<()> {
    let bytes = name.as_bytes();
    out.write_all(bytes)?;
    for _ in bytes.len()..25 {
        out.write_all(b" ")?;
    }
    writeln!(out, ": {what}")
}

impl Unmounter<'_> {
    fn prog(&self) -> &str {
        &self.o.invoked_as
    }

    fn flags(&self) -> MntFlags {
        let mut flags = MntFlags::empty();
        if self.o.lazy {
            flags |= MntFlags::MNT_DETACH;
        }
        if self.o.force {
            flags |= MntFlags::MNT_FORCE;
        }
        flags
    }

    /// libmount skips the mount table when statfs(2) suffices: an absolute
    /// directory, no -f/-l/-c/-d, nothing about it in utab.
    fn fast_path(&self, target: &OsStr, utab: &[listing::UtabEntry]) -> bool {
        let o = self.o;
        if o.force
            || o.lazy
            || o.no_canonicalize
            || o.detach_loop
            || !mountinfo::starts_with(target, b"/")
        {
            return false;
        }
        if !std::fs::metadata(target).is_ok_and(|m| m.is_dir()) {
            return false;
        }
        if utab.is_empty() {
            return true;
        }
        let canonical = canonical(target);
        !utab.iter().any(|u| u.target == canonical)
    }

    /// Finds the mount for `spec` (a target, or with swapping a source or a
    /// loop backing file); `None` when it is not in the table.
    fn find(&self, spec: &OsStr, table: &[MountEntry]) -> Option<Found> {
        let by_target = |t: &OsStr| {
            mountinfo::find_target(table, t).or_else(|| {
                let c = canonical(t);
                mountinfo::find_target(table, &c)
            })
        };
        if let Some(entry) = by_target(spec) {
            return Some(found(entry));
        }
        let by_source = |s: &OsStr| -> Option<&MountEntry> {
            let resolved = match probe::parse_tag(s) {
                Some((kind, value)) => probe::find_device(kind, value)?.into_os_string(),
                None => s.to_os_string(),
            };
            let canonical_src = if mountinfo::starts_with(&resolved, b"/") {
                listing::canonical_source(&resolved)
            } else {
                resolved.clone()
            };
            table.iter().rev().find(|m| {
                m.source == resolved
                    || (!is_pseudo_fs(&m.fstype)
                        && mountinfo::starts_with(&m.source, b"/")
                        && listing::canonical_source(&m.source) == canonical_src)
            })
        };
        let mut entry = by_source(spec);
        if entry.is_none() && std::fs::metadata(spec).is_ok_and(|m| m.is_file()) {
            let devices = loop_devices_of(&listing::canonical_source(spec));
            if devices.len() == 1 {
                entry = by_target(&devices[0]).or_else(|| by_source(&devices[0]));
            }
        }
        let entry = entry?;
        // Something stacked over it on the same mount point: refuse, as
        // libmount does.
        let top = mountinfo::find_target(table, &entry.target)?;
        if top.id != entry.id {
            return None;
        }
        Some(found(entry))
    }

    /// umount one spec, with messages; returns the status.
    fn one(&self, spec: &OsStr) -> u8 {
        let utab = listing::read_utab();
        if privilege::is_restricted() {
            let table = mountinfo::read_self().unwrap_or_default();
            let Some(found) = self.find(spec, &table) else {
                // util-linux says so even with -q here.
                say(&[
                    self.prog().as_bytes(),
                    b": ",
                    spec.as_bytes(),
                    b": not mounted.",
                ]);
                return EX_USAGE;
            };
            if user_may_unmount(&found, &utab) {
                return self.unmount(found, spec);
            }
            // Not the caller's mount: try as the caller, so that the
            // kernel refuses it (util-linux does the same).
            if let Err(error) = privilege::drop_to_caller() {
                eprintln!("{}: {error}", self.prog());
                return error.exit_code();
            }
        }
        let found = if self.fast_path(spec, &utab) {
            Found {
                target: spec.to_os_string(),
                source: None,
            }
        } else {
            let table = mountinfo::read_self().unwrap_or_default();
            // Not in the table: umount(2) on the path as given decides
            // (ENOENT, EINVAL), as libmount does.
            self.find(spec, &table).unwrap_or_else(|| Found {
                target: spec.to_os_string(),
                source: None,
            })
        };
        self.unmount(found, spec)
    }

    /// The umount(2) call and its reporting. `spec` is what the user said,
    /// used in messages when the mount was not found.
    fn unmount(&self, found: Found, spec: &OsStr) -> u8 {
        let prog = self.prog();
        let target = Path::new(&found.target);
        let result = if self.o.fake {
            Ok(())
        } else {
            syscall::umount(target, self.flags())
        };
        let result = match result {
            // Only with a known source, as libmount: the fast path (no
            // mount table read) leaves -r without effect.
            Err(Errno::EBUSY) if self.o.read_only && found.source.is_some() => {
                let source = found.source.as_deref().unwrap_or(OsStr::new("none"));
                nix::mount::mount(
                    Some(source),
                    target,
                    None::<&str>,
                    MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                )
                .map(|()| false)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(true),
        };
        match result {
            Ok(unmounted) => {
                if unmounted && !self.o.fake {
                    forget_utab(&found.target);
                    if self.o.detach_loop {
                        if let Some(source) = &found.source {
                            if loopdev::is_loop_device(Path::new(source)) {
                                let _ = loopdev::detach(Path::new(source));
                            }
                        }
                    }
                }
                if self.o.verbose {
                    let target = found.target.as_bytes();
                    match &found.source {
                        Some(source) => say(&[
                            prog.as_bytes(),
                            b": ",
                            target,
                            b" (",
                            source.as_bytes(),
                            b") unmounted",
                        ]),
                        None => say(&[prog.as_bytes(), b": ", target, b" unmounted"]),
                    }
                }
                EX_SUCCESS
            }
            Err(errno) => {
                if self.o.quiet && errno == Errno::EINVAL {
                    return EX_FAIL;
                }
                let reason = match errno {
                    Errno::ENXIO => "invalid block device".to_string(),
                    Errno::EINVAL => "not mounted".to_string(),
                    Errno::EIO => "can't write superblock".to_string(),
                    Errno::EBUSY => "target is busy".to_string(),
                    Errno::ENOENT => "no mount point specified".to_string(),
                    Errno::EPERM => "must be superuser to unmount".to_string(),
                    Errno::EACCES => "block devices are not permitted on filesystem".to_string(),
                    other => format!(
                        "umount(2) system call failed: {}",
                        ns_sys::strerror(other as i32)
                    ),
                };
                let name = if found.target.is_empty() {
                    spec
                } else {
                    &found.target
                };
                say(&[
                    prog.as_bytes(),
                    b": ",
                    name.as_bytes(),
                    b": ",
                    reason.as_bytes(),
                    b".",
                ]);
                EX_FAIL
            }
        }
    }

    /// `-R`: one read of the mount table, then depth first, children and
    /// over-mounts before their parent: linear in the number of mounts.
    fn recursive(&self, spec: &OsStr) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let top = mountinfo::find_target(&table, spec)
            .or_else(|| mountinfo::find_target(&table, &canonical(spec)));
        let Some(top) = top else {
            if !self.o.quiet {
                let what = if Path::new(spec).exists() {
                    "not mounted"
                } else {
                    "not found"
                };
                say(&[
                    self.prog().as_bytes(),
                    b": ",
                    spec.as_bytes(),
                    b": ",
                    what.as_bytes(),
                ]);
            }
            return EX_USAGE;
        };
        let tree = Tree::new(&table);
        let utab = listing::read_utab();
        self.recurse(&tree, top, &utab)
    }

    fn recurse(&self, tree: &Tree<'_>, mount: &MountEntry, utab: &[listing::UtabEntry]) -> u8 {
        // An iterative walk, so a deep tree cannot overflow the stack:
        // each mount is visited, then its over-mount and children (in
        // ascending id, as util-linux orders them) before it is unmounted.
        let mut stack: Vec<(&MountEntry, bool)> = vec![(mount, false)];
        while let Some((entry, expanded)) = stack.pop() {
            if expanded {
                let code = self.unmount_entry(entry, utab);
                if code != EX_SUCCESS {
                    return code;
                }
                continue;
            }
            stack.push((entry, true));
            let children = tree.children(entry.id);
            let over = children.iter().find(|c| c.target == entry.target).copied();
            // Pushed in reverse so that they pop in order: the over-mount
            // first, then the other children by ascending id.
            for child in children.iter().rev() {
                if Some(child.id) != over.map(|o| o.id) {
                    stack.push((child, false));
                }
            }
            if let Some(over) = over {
                stack.push((over, false));
            }
        }
        EX_SUCCESS
    }

    fn unmount_entry(&self, entry: &MountEntry, utab: &[listing::UtabEntry]) -> u8 {
        let source = if self.fast_path(&entry.target, utab) {
            None
        } else {
            Some(entry.source.clone())
        };
        self.unmount(
            Found {
                target: entry.target.clone(),
                source,
            },
            &entry.target,
        )
    }

    /// `-a`: everything in the table, last mounted first, filtered by type
    /// and options.
    fn all(&self) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let utab = listing::read_utab();
        let types = self.o.types.as_deref().unwrap_or(DEFAULT_ALL_TYPES);
        let mut code = EX_SUCCESS;
        // Each unmount is reported in -a's own words, not umount_one's.
        let silent_options = Options {
            verbose: false,
            ..self.o.clone()
        };
        let silent = Unmounter { o: &silent_options };
        // Fully buffered, as C's stdout is when it is not a terminal.
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        for entry in table.iter().rev() {
            let ignored = !match_fstype(&entry.fstype, types)
                || self
                    .o
                    .test_opts
                    .as_deref()
                    .is_some_and(|p| !match_options(&entry.options(), p));
            if ignored {
                if self.o.verbose {
                    let _ = padded(&mut out, &entry.target, "ignored");
                }
                continue;
            }
            let result = silent.unmount_entry(entry, &utab);
            if result == EX_SUCCESS && self.o.verbose {
                let _ = padded(&mut out, &entry.target, "successfully unmounted");
            }
            code |= result;
        }
        let _ = out.flush();
        code
    }

    /// `-A`: every mount of the device behind `spec`.
    fn all_targets(&self, spec: &OsStr) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let Some(found) = self.find(spec, &table) else {
            if !self.o.quiet {
                let what = if Path::new(spec).exists() {
                    "not mounted"
                } else {
                    "not found"
                };
                say(&[
                    self.prog().as_bytes(),
                    b": ",
                    spec.as_bytes(),
                    b": ",
                    what.as_bytes(),
                ]);
            }
            return EX_USAGE;
        };
        let Some(entry) = mountinfo::find_target(&table, &found.target) else {
            return EX_USAGE;
        };
        let devno = entry.devno();
        let tree = Tree::new(&table);
        let utab = listing::read_utab();
        let mut gone: Vec<u32> = Vec::new();
        for m in table.iter().rev() {
            if m.devno() != devno || gone.contains(&m.id) {
                continue;
            }
            let code = if self.o.recursive {
                let mut below = Vec::new();
                tree.collect(m.id, &mut below);
                gone.extend(below);
                self.recurse(&tree, m, &utab)
            } else {
                self.unmount_entry(m, &utab)
            };
            if code != EX_SUCCESS {
                return code;
            }
        }
        EX_SUCCESS
    }
}

fn found(entry: &MountEntry) -> Found {
    Found {
        target: entry.target.clone(),
        source: Some(entry.source.clone()),
    }
}

/// libmount's evaluation of a restricted unmount: the mount must be in
/// /etc/fstab (as source and target, or as the target of the device's
/// loop file) with `users`, or with `user`, `owner` or `group` and a
/// `user=NAME` of the caller in utab (who mounted it).
fn user_may_unmount(found: &Found, utab: &[listing::UtabEntry]) -> bool {
    let Ok(text) = std::fs::read("/etc/fstab") else {
        return false;
    };
    let fstab = crate::fstab::parse(&text);
    let source = found.source.as_deref().unwrap_or(OsStr::new(""));
    let entry = fstab
        .entries
        .iter()
        .find(|e| e.target == found.target && e.source == source)
        .or_else(|| {
            fstab.entries.iter().find(|e| {
                e.target == found.target
                    && loopdev::is_loop_device(Path::new(source))
                    && listing::loop_backing_file(source)
                        .is_some_and(|file| listing::canonical_source(&e.source) == file)
            })
        });
    let Some(entry) = entry else {
        return false;
    };
    let words = crate::options::split(&entry.options);
    if words.contains(&"users") {
        return true;
    }
    if !words.iter().any(|w| ["user", "owner", "group"].contains(w)) {
        return false;
    }
    let uid = ns_sys::runtime::Identity::current().ruid;
    let Some(name) = privilege::user_name(uid) else {
        return false;
    };
    let wanted = format!("user={}", String::from_utf8_lossy(&name));
    utab.iter()
        .rev()
        .find(|u| u.target == found.target)
        .is_some_and(|u| crate::options::split(&u.options).contains(&wanted.as_str()))
}

fn canonical(path: &OsStr) -> OsString {
    std::fs::canonicalize(path)
        .map(PathBuf::into_os_string)
        .unwrap_or_else(|_| path.to_os_string())
}

/// The loop devices whose backing file is `file`.
fn loop_devices_of(file: &OsStr) -> Vec<OsString> {
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            if !name.as_bytes().starts_with(b"loop") {
                return None;
            }
            let backing = std::fs::read(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.strip_suffix(b"\n").unwrap_or(&backing);
            (backing == file.as_bytes())
                .then(|| OsString::from_vec([b"/dev/", name.as_bytes()].concat()))
        })
        .collect()
}

/// Drops a target's utab entry after it was unmounted.
fn forget_utab(target: &OsStr) {
    let mut utab = listing::read_utab();
    if let Some(index) = utab.iter().rposition(|u| u.target == target) {
        utab.remove(index);
        let _ = listing::write_utab(&utab);
    }
}

/// Children of each mount, by parent id, in ascending id.
struct Tree<'a> {
    children: HashMap<u32, Vec<&'a MountEntry>>,
}

impl<'a> Tree<'a> {
    fn new(table: &'a [MountEntry]) -> Tree<'a> {
        let mut children: HashMap<u32, Vec<&'a MountEntry>> = HashMap::new();
        for entry in table {
            if entry.id != entry.parent {
                children.entry(entry.parent).or_default().push(entry);
            }
        }
        for list in children.values_mut() {
            list.sort_by_key(|e| e.id);
        }
        Tree { children }
    }

    fn children(&self, id: u32) -> &[&'a MountEntry] {
        self.children.get(&id).map_or(&[], Vec::as_slice)
    }

    fn collect(&self, id: u32, into: &mut Vec<u32>) {
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            into.push(id);
            stack.extend(self.children(id).iter().map(|c| c.id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        let argv = std::iter::once("umount").chain(args.iter().copied());
        parse(argv).map_err(|(_, e)| e.to_string()).unwrap()
    }

    fn parse_err(args: &[&str]) -> String {
        let argv = std::iter::once("umount").chain(args.iter().copied());
        parse(argv).unwrap_err().1.to_string()
    }

    #[test]
    fn flags_and_operands() {
        let o = parse_ok(&["-lf", "/a", "--fake", "-q", "/b"]);
        assert!(o.lazy && o.force && o.fake && o.quiet);
        assert_eq!(o.operands, vec![OsString::from("/a"), OsString::from("/b")]);
    }

    #[test]
    fn exclusive_pairs() {
        assert_eq!(
            parse_err(&["-a", "-R"]),
            "mutually exclusive arguments: --recursive --all"
        );
        // util-linux's check never registers -O (its row starts above
        // 'O'), so -O with -t is accepted, -t with -R is not.
        parse_ok(&["-a", "-O", "ro", "-t", "tmpfs"]);
        assert_eq!(
            parse_err(&["-t", "tmpfs", "-R", "/x"]),
            "mutually exclusive arguments: --test-opts --recursive --types"
        );
        assert_eq!(
            parse_err(&["-R", "-r", "/x"]),
            "mutually exclusive arguments: --recursive --read-only"
        );
        assert_eq!(parse_err(&["-F"]), "invalid option -- 'F'");
    }

    #[test]
    fn tree_orders_children_by_id() {
        let table = mountinfo::parse(
            b"1 0 0:1 / / rw - ext4 /dev/root rw\n5 1 0:5 / /b rw - tmpfs none rw\n3 1 0:3 / /a rw - tmpfs none rw\n7 3 0:7 / /a/x rw - tmpfs none rw\n",
        );
        let tree = Tree::new(&table);
        let ids: Vec<u32> = tree.children(1).iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![3, 5]);
        let mut all = Vec::new();
        tree.collect(1, &mut all);
        all.sort_unstable();
        assert_eq!(all, vec![1, 3, 5, 7]);
    }
}
