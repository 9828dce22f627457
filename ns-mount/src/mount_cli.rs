//! ns-mount's command line and the mount(8) logic on top of the library:
//! listing, fstab look-ups, `-a`, source resolution, loop set-up, type
//! detection, and util-linux's messages and exit statuses.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lexopt::Arg::{Long, Short, Value};
use nix::errno::Errno;
use nix::mount::MsFlags;
use ns_getopt::{Complete, Opt, Style, Tool};

use crate::error::DMESG_HINT;
use crate::error::{Error, EX_FAIL, EX_SOMEOK, EX_SUCCESS, EX_SYSERR, EX_USAGE};
use crate::fstab::{self, Fstab, FstabEntry};
use crate::listing::{self, is_pseudo_fs, is_regular_fs};
use crate::loopdev::{self, LoopSetup};
use crate::mountinfo::{self, MountEntry};
use crate::options::{self, match_fstype, match_options, Options as MountOptions};
use crate::privilege;
use crate::probe;
use crate::size;
use crate::{mount_calls, Step};

/// The option table: parsing, `--help`, the man page and the bash
/// completion come from it. Options are in util-linux's getopt order,
/// which decides how an ambiguous abbreviation is reported.
pub const TOOL: Tool = Tool {
    name: "ns-mount",
    reference: "mount",
    section: 8,
    summary: "mount a filesystem",
    usage: &[
        "[-lhV]",
        "-a [options]",
        "[options] [--source] <source> | [--target] <directory>",
        "[options] <source> <directory>",
        "<operation> <mountpoint> [<target>]",
    ],
    description: "Attach a filesystem to the directory tree, or list what is attached.

Without libblkid or libmount: LABEL=, UUID=, PARTLABEL= and PARTUUID= are found by
reading superblocks (ext2/3/4, xfs, btrfs, vfat, iso9660, squashfs) and GPT entries
of the devices in /proc/partitions; a regular file is attached to a loop device.",
    options: &[
        Opt::flag(
            Some('a'),
            "all",
            "mount every fstab entry not marked noauto",
        ),
        Opt::flag(Some('f'), "fake", "do everything but the mount(2) call"),
        Opt::required(
            Some('T'),
            "fstab",
            "path",
            Complete::Files,
            "read this file instead of /etc/fstab",
        ),
        Opt::flag(
            Some('F'),
            "fork",
            "accepted for compatibility (mounts run in turn)",
        ),
        Opt::flag(Some('h'), "help", "display this help"),
        Opt::flag(Some('n'), "no-mtab", "accepted (no /etc/mtab is written)"),
        Opt::flag(Some('r'), "read-only", "mount read-only (-o ro)"),
        Opt::flag(None, "ro", "the same as --read-only"),
        Opt::flag(Some('v'), "verbose", "report what was done"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::flag(Some('w'), "read-write", "mount read-write (the default)"),
        Opt::flag(None, "rw", "the same as --read-write"),
        Opt::required(
            Some('o'),
            "options",
            "list",
            Complete::Nothing,
            "comma-separated mount options",
        ),
        Opt::required(
            Some('O'),
            "test-opts",
            "list",
            Complete::Nothing,
            "with -a: only entries with these options",
        ),
        Opt::required(
            Some('t'),
            "types",
            "list",
            Complete::Words(FILESYSTEMS),
            "filesystem type, or types to list or mount",
        ),
        Opt::required(
            Some('U'),
            "uuid",
            "uuid",
            Complete::Nothing,
            "the same as UUID=<uuid>",
        ),
        Opt::required(
            Some('L'),
            "label",
            "label",
            Complete::Nothing,
            "the same as LABEL=<label>",
        ),
        Opt::flag(Some('B'), "bind", "make a subtree visible elsewhere too"),
        Opt::flag(Some('M'), "move", "move a subtree elsewhere"),
        Opt::flag(
            Some('R'),
            "rbind",
            "bind a subtree with everything mounted below it",
        ),
        Opt::flag(None, "make-shared", "mark a mount shared"),
        Opt::flag(None, "make-slave", "mark a mount slave"),
        Opt::flag(None, "make-private", "mark a mount private"),
        Opt::flag(None, "make-unbindable", "mark a mount unbindable"),
        Opt::flag(None, "make-rshared", "mark a whole subtree shared"),
        Opt::flag(None, "make-rslave", "mark a whole subtree slave"),
        Opt::flag(None, "make-rprivate", "mark a whole subtree private"),
        Opt::flag(None, "make-runbindable", "mark a whole subtree unbindable"),
        Opt::optional(
            Some('m'),
            "mkdir",
            "mode",
            Complete::Nothing,
            "create a missing mount point (X-mount.mkdir)",
        ),
        Opt::flag(Some('c'), "no-canonicalize", "take paths as given"),
        Opt::flag(
            Some('i'),
            "internal-only",
            "accepted (no mount.<type> helpers are run)",
        ),
        Opt::flag(
            Some('l'),
            "show-labels",
            "append filesystem labels to the listing",
        ),
        Opt::required(None, "target", "target", Complete::Dirs, "the mount point"),
        Opt::required(
            None,
            "target-prefix",
            "path",
            Complete::Dirs,
            "prefix every mount point with this path",
        ),
        Opt::required(
            None,
            "source",
            "src",
            Complete::Files,
            "the source (path, LABEL=, UUID=, ...)",
        ),
        Opt::required(
            None,
            "options-mode",
            "mode",
            Complete::Words("ignore append prepend replace"),
            "accepted: ignore, append, prepend or replace",
        ),
        Opt::required(
            None,
            "options-source",
            "source",
            Complete::Words("fstab mtab disable"),
            "accepted: fstab, mtab or disable",
        ),
        Opt::flag(None, "options-source-force", "accepted"),
        Opt::required(
            Some('N'),
            "namespace",
            "ns",
            Complete::Pids,
            "work in the mount namespace of a PID or file",
        ),
    ],
    notes: "Sources: LABEL=<label>, UUID=<uuid>, PARTLABEL=<label>, PARTUUID=<uuid>, a
block device, a directory (with --bind or --rbind) or a regular file (attached to a
loop device). -s (sloppy) is accepted.

Exit status: 0 success, 1 bad usage or permissions, 2 system error, 32 mount
failure, 64 some of -a succeeded.",
    operands: Complete::Files,
    style: Style::UtilLinux,
};

/// For the completion of `-t`.
const FILESYSTEMS: &str =
    "ext4 ext3 ext2 xfs btrfs vfat iso9660 squashfs tmpfs proc sysfs devtmpfs";

/// Options that may not be combined (util-linux's `excl` table): the
/// option key, and its long name for the message.
const EXCLUSIVE: &[&[(u32, &str)]] = &[
    &[
        ('B' as u32, "bind"),
        ('M' as u32, "move"),
        ('R' as u32, "rbind"),
    ],
    &[
        ('L' as u32, "label"),
        ('U' as u32, "uuid"),
        (SOURCE_KEY, "source"),
    ],
];

/// --source has no short option; util-linux numbers it above every char.
const SOURCE_KEY: u32 = 0x100;

/// The options a caller without privileges may give a set-user-ID mount
/// (with --source and --target): util-linux's list.
const RESTRICTED_OK: &str = "hlLUVvrist";

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub invoked_as: String,
    pub help: bool,
    pub version: bool,
    pub all: bool,
    pub no_canonicalize: bool,
    pub fake: bool,
    pub verbose: bool,
    pub show_labels: bool,
    /// `-o`, `-r`, `-w`, `-B`, `--make-…`, … as option words, in order.
    pub options: Vec<String>,
    pub test_opts: Option<String>,
    pub types: Option<String>,
    /// Paths and tags as bytes, as given: what is mounted is what was
    /// named.
    pub source: Option<OsString>,
    pub target: Option<OsString>,
    pub target_prefix: Option<OsString>,
    /// `-T` files, each already parsed (util-linux parses them while
    /// reading the command line).
    pub fstabs: Vec<Fstab>,
    pub namespace: Option<PathBuf>,
    pub operation: bool,
    pub is_move: bool,
    pub propagation: bool,
    /// `-w`: a write-protected device must not fall back to read-only.
    pub rw_only: bool,
    /// `--source`, `--target`, `-L` or `-U` given: no swapping of source
    /// and target in fstab look-ups.
    pub no_swapmatch: bool,
    pub operands: Vec<OsString>,
}

/// Parses argv (argv[0] included).
pub fn parse<I>(args: I) -> Result<Options, (String, Error)>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_iter(args);
    let invoked_as = ns_getopt::invoked_name(parser.bin_name().map(AsRef::as_ref), "ns-mount");
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
    let mut seen_exclusive = vec![0u32; EXCLUSIVE.len()];
    while let Some(arg) = parser.next().map_err(usage)? {
        let key: char = match arg {
            Short(c) => c,
            Long(name) => match TOOL.resolve_long(name)? {
                "all" => 'a',
                "fake" => 'f',
                "fstab" => 'T',
                "fork" => 'F',
                "help" => 'h',
                "no-mtab" => 'n',
                "read-only" | "ro" => 'r',
                "verbose" => 'v',
                "version" => 'V',
                "read-write" | "rw" => 'w',
                "options" => 'o',
                "test-opts" => 'O',
                "types" => 't',
                "uuid" => 'U',
                "label" => 'L',
                "bind" => 'B',
                "move" => 'M',
                "rbind" => 'R',
                "mkdir" => 'm',
                "no-canonicalize" => 'c',
                "internal-only" => 'i',
                "show-labels" => 'l',
                "namespace" => 'N',
                "source" => 'S',
                long => {
                    // Of the long-only options a restricted caller may
                    // give --target alone.
                    if long != "target" && privilege::is_restricted() {
                        privilege::drop_to_caller()?;
                    }
                    long_only(parser, o, long, usage)?;
                    continue;
                }
            },
            Value(value) => {
                o.operands.push(value);
                continue;
            }
        };
        // Options a restricted caller may not use make mount carry on as
        // the caller, before they take effect (-T reads a file, -N opens
        // one).
        if !RESTRICTED_OK.contains(key) && key != 'S' && privilege::is_restricted() {
            privilege::drop_to_caller()?;
        }
        let code = if key == 'S' { SOURCE_KEY } else { key as u32 };
        crate::check_exclusive(code, EXCLUSIVE, &mut seen_exclusive)?;
        match key {
            'a' => o.all = true,
            'c' => o.no_canonicalize = true,
            'f' => o.fake = true,
            'F' | 'i' | 'n' | 's' => {}
            'r' => {
                o.options.push("ro".into());
                o.rw_only = false;
            }
            'w' => {
                o.options.push("rw".into());
                o.rw_only = true;
            }
            'v' => o.verbose = true,
            'o' => {
                let value = string(parser.value().map_err(usage)?);
                check_option_format(&value)?;
                // "move" is an operation, not an option libmount accepts.
                let words = options::split(&value);
                if words.contains(&"move") {
                    o.operation = true;
                    o.is_move = true;
                    let rest: Vec<&str> = words.into_iter().filter(|w| *w != "move").collect();
                    if !rest.is_empty() {
                        o.options.push(rest.join(","));
                    }
                } else {
                    o.options.push(value);
                }
            }
            'O' => o.test_opts = Some(string(parser.value().map_err(usage)?)),
            'L' | 'U' => {
                let value = parser.value().map_err(usage)?;
                o.no_swapmatch = true;
                let tag: &[u8] = if key == 'L' { b"LABEL=\"" } else { b"UUID=\"" };
                let spec = [tag, value.as_bytes(), b"\""].concat();
                o.source = Some(OsString::from_vec(spec));
            }
            'S' => {
                o.no_swapmatch = true;
                o.source = Some(parser.value().map_err(usage)?);
            }
            'l' => o.show_labels = true,
            't' => o.types = Some(string(parser.value().map_err(usage)?)),
            'T' => {
                let path = PathBuf::from(parser.value().map_err(usage)?);
                o.fstabs.push(read_fstab(&o.invoked_as, &path)?);
            }
            'B' => {
                o.operation = true;
                o.options.push("bind".into());
            }
            'M' => {
                o.operation = true;
                o.is_move = true;
            }
            'R' => {
                o.operation = true;
                o.options.push("rbind".into());
            }
            'm' => {
                let value = parser.optional_value().map(string);
                let value = value.as_deref().map(|v| v.strip_prefix('=').unwrap_or(v));
                match value {
                    Some(mode) if !mode.is_empty() => {
                        o.options.push(format!("X-mount.mkdir=\"{mode}\""))
                    }
                    _ => o.options.push("X-mount.mkdir".into()),
                }
            }
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
            _ => return Err(ns_getopt::unknown(arg_for(key)).into()),
        }
    }
    Ok(())
}

fn arg_for(key: char) -> lexopt::Arg<'static> {
    Short(key)
}

fn long_only(
    parser: &mut lexopt::Parser,
    o: &mut Options,
    long: &str,
    usage: impl Fn(lexopt::Error) -> Error,
) -> Result<(), Error> {
    let propagation = |o: &mut Options, word: &str| {
        o.options.push(word.to_string());
        o.propagation = true;
    };
    match long {
        "make-shared" => propagation(o, "shared"),
        "make-slave" => propagation(o, "slave"),
        "make-private" => propagation(o, "private"),
        "make-unbindable" => propagation(o, "unbindable"),
        "make-rshared" => propagation(o, "rshared"),
        "make-rslave" => propagation(o, "rslave"),
        "make-rprivate" => propagation(o, "rprivate"),
        "make-runbindable" => propagation(o, "runbindable"),
        "target" => {
            o.no_swapmatch = true;
            o.target = Some(parser.value().map_err(usage)?);
        }
        "target-prefix" => o.target_prefix = Some(parser.value().map_err(&usage)?),
        "options-mode" => {
            let value = string(parser.value().map_err(usage)?);
            if !["ignore", "append", "prepend", "replace"].contains(&value.as_str()) {
                return Err(Error::Usage("bad usage".into()));
            }
        }
        "options-source" => {
            let value = string(parser.value().map_err(usage)?);
            let ok = value
                .split(',')
                .all(|s| ["fstab", "mtab", "disable"].contains(&s));
            if !ok {
                return Err(Error::Usage("bad usage".into()));
            }
        }
        "options-source-force" => {}
        other => unreachable!("option --{other} is in the table but not handled"),
    }
    Ok(())
}

fn check_option_format(value: &str) -> Result<(), Error> {
    if value.starts_with(['=', '\'', '"', ' ', '\t']) {
        return Err(Error::failed(
            format!("unsupported option format: {value}"),
            EX_USAGE,
        ));
    }
    Ok(())
}

/// The fstab in effect: `LIBMOUNT_FSTAB` or /etc/fstab; a set-user-ID
/// mount reads /etc/fstab whatever the caller's environment says.
fn fstab_path() -> PathBuf {
    std::env::var_os("LIBMOUNT_FSTAB")
        .filter(|_| !privilege::environment_is_untrusted())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/fstab"))
}

/// Reads and parses an fstab, reporting bad lines as util-linux does.
fn read_fstab(prog: &str, path: &Path) -> Result<Fstab, Error> {
    let path = path.as_os_str().as_bytes();
    match std::fs::read(OsStr::from_bytes(path)) {
        Ok(text) => {
            let parsed = fstab::parse(&text);
            for line in &parsed.bad_lines {
                say(&[
                    prog.as_bytes(),
                    b": ",
                    path,
                    format!(": parse error at line {line} -- ignored").as_bytes(),
                ]);
            }
            Ok(parsed)
        }
        Err(_) => Err(Error::failed_bytes(
            [path, b": failed to parse"].concat(),
            EX_USAGE,
        )),
    }
}

/// `%-25s: WHAT` as C pads it: by bytes.
fn padded(out: &mut impl Write, name: &OsStr, what: &str) -> std::io::Result<()> {
    let bytes = name.as_bytes();
    out.write_all(bytes)?;
    for _ in bytes.len()..25 {
        out.write_all(b" ")?;
    }
    writeln!(out, ": {what}")
}

/// A message line on stderr, its names as their bytes.
fn say(parts: &[&[u8]]) {
    let mut line = parts.concat();
    line.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&line);
}

pub fn help(prog: &str) -> String {
    TOOL.help(prog)
}

pub fn version(prog: &str) -> String {
    format!("{prog} (nstools) {}\n", env!("CARGO_PKG_VERSION"))
}

/// Parses argv, runs, reports errors as util-linux does.
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

fn bad_usage() -> Error {
    Error::Usage("bad usage".into())
}

/// Runs the parsed command line; returns the exit status.
pub fn run(o: &Options) -> Result<u8, Error> {
    let prog = &o.invoked_as;
    if o.help {
        return crate::error::print_stdout(&help(prog));
    }
    if o.version {
        return crate::error::print_stdout(&version(prog));
    }
    if let Some(ns) = &o.namespace {
        crate::syscall::enter_mount_namespace(ns)
            .map_err(|_| Error::failed("failed to switch namespace", EX_SYSERR))?;
    }
    if o.source.is_none() && o.target.is_none() && o.operands.is_empty() && !o.all {
        if o.operation || !o.options.is_empty() {
            return Err(bad_usage());
        }
        return list(o);
    }
    // A restricted caller may list by type, not mount by it.
    if privilege::is_restricted() && o.types.is_some() {
        privilege::drop_to_caller()?;
    }
    if o.operation && (o.types.is_some() || o.all || o.source.is_some()) {
        return Err(bad_usage());
    }
    let mut context = Context::new(o);
    if o.all {
        return Ok(context.mount_all());
    }
    let (source, target) = match (o.operands.len(), &o.source, &o.target) {
        (0, _, _) => (o.source.clone(), o.target.clone()),
        (1, source, target) if source.is_none() || target.is_none() => {
            let operand = o.operands[0].clone();
            let is_tag = probe::parse_tag(&operand).is_some();
            if is_tag && source.is_some() {
                return Err(Error::failed("source specified more than once", EX_USAGE));
            }
            if is_tag || target.is_some() {
                (Some(operand), target.clone())
            } else {
                (source.clone(), Some(operand))
            }
        }
        (2, None, None) => (Some(o.operands[0].clone()), Some(o.operands[1].clone())),
        _ => return Err(bad_usage()),
    };
    // A restricted caller names a source or a target, which fstab
    // completes; never both. Each must be a path the caller can reach.
    let (source, target) = if privilege::is_restricted() {
        if source.is_some() && target.is_some() {
            privilege::drop_to_caller()?;
            (source, target)
        } else {
            match (sanitize(source), sanitize(target)) {
                (Ok(source), Ok(target)) => (source, target),
                (source, target) => {
                    privilege::drop_to_caller()?;
                    (
                        source.unwrap_or_else(|given| given),
                        target.unwrap_or_else(|given| given),
                    )
                }
            }
        }
    } else {
        (source, target)
    };
    let request = Request {
        source,
        target,
        fstype: None,
        options: o.options.join(","),
        from_fstab: false,
    };
    let mut outcome = context.mount_one(request.clone());
    if outcome.not_permitted && privilege::is_restricted() {
        // Not a user mount: try again as the caller, so that the kernel
        // refuses it as it refuses them (util-linux does the same).
        privilege::drop_to_caller()?;
        outcome = context.mount_one(request);
    }
    Ok(context.finish(outcome))
}

/// A path given to a restricted mount, canonicalized as the caller would
/// see it (libmount's ul_canonicalize_path_restricted); tags and absent
/// values pass as they are. `Err` gives back what was given.
fn sanitize(given: Option<OsString>) -> Result<Option<OsString>, Option<OsString>> {
    match given {
        Some(path) if probe::parse_tag(&path).is_none() => {
            match privilege::as_caller(|| std::fs::canonicalize(&path)) {
                Ok(resolved) => Ok(Some(resolved.into_os_string())),
                Err(_) => Err(Some(path)),
            }
        }
        other => Ok(other),
    }
}

fn list(o: &Options) -> Result<u8, Error> {
    let mtab = |e: std::io::Error| Error::failed(format!("failed to read mtab: {e}"), EX_SYSERR);
    let utab = listing::read_utab();
    // utab adds options only now and then: the plain pass otherwise.
    let plain = utab.iter().all(|u| u.options.is_empty());
    let (mut mountinfo, text) = if plain {
        let file = std::fs::File::open("/proc/self/mountinfo").map_err(mtab)?;
        (Some(file), Vec::new())
    } else {
        let text = mountinfo::read_text(Path::new("/proc/self/mountinfo")).map_err(mtab)?;
        (None, text)
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let find_label = |source: &OsStr| probe::label_of(source);
    let label: Option<listing::LabelFinder<'_>> = if o.show_labels {
        Some(&find_label)
    } else {
        None
    };
    let written = if let Some(file) = &mut mountinfo {
        match listing::stream_listing_text(file, &mut out, o.types.as_deref(), label) {
            Err(listing::StreamError::Read(e)) => return Err(mtab(e)),
            Err(listing::StreamError::Write(e)) => Err(e),
            Ok(()) => Ok(()),
        }
    } else {
        let table = mountinfo::parse(&text);
        listing::write_listing(&mut out, &table, &utab, o.types.as_deref(), label)
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| crate::error::write_error(&e))?;
    Ok(EX_SUCCESS)
}

/// One mount to do: what the command line or an fstab entry asks for.
#[derive(Debug, Clone, Default)]
struct Request {
    source: Option<OsString>,
    target: Option<OsString>,
    fstype: Option<String>,
    options: String,
    from_fstab: bool,
}

/// The outcome of one mount, for the message and the exit status.
struct Outcome {
    /// The exit status util-linux gives.
    code: u8,
    /// The message (without the `PROG: SPEC: ` prefix and final dot),
    /// with the names in it as their bytes.
    message: Option<Vec<u8>>,
    /// Target (or source, if no target) for the message prefix.
    spec: OsString,
    /// Whether a mount(2) call failed (adds the dmesg line).
    syscall_failed: bool,
    /// Success message for -v.
    verbose: Option<Vec<u8>>,
    /// A restricted caller asked for more than a user mount: refused
    /// before any mount(2) call.
    not_permitted: bool,
}

impl Outcome {
    fn ok(spec: OsString, verbose: Option<Vec<u8>>) -> Outcome {
        Outcome {
            code: EX_SUCCESS,
            message: None,
            spec,
            syscall_failed: false,
            verbose,
            not_permitted: false,
        }
    }

    fn usage(spec: &OsStr, message: impl Into<Vec<u8>>) -> Outcome {
        Outcome {
            code: EX_USAGE,
            message: Some(message.into()),
            spec: spec.to_os_string(),
            syscall_failed: false,
            verbose: None,
            not_permitted: false,
        }
    }

    fn not_permitted(spec: &OsStr) -> Outcome {
        Outcome {
            not_permitted: true,
            ..Outcome::usage(spec, "operation permitted for root only")
        }
    }
}

struct Context<'a> {
    o: &'a Options,
    fstab: Option<Fstab>,
    /// Set when the type came from `-t` as a single type (not a pattern).
    fstype: Option<String>,
    fstype_pattern: Option<String>,
}

impl<'a> Context<'a> {
    fn new(o: &'a Options) -> Context<'a> {
        let (fstype, fstype_pattern) = match &o.types {
            Some(t) if o.all || t.contains(',') || t.starts_with("no") => (None, Some(t.clone())),
            Some(t) => (Some(t.clone()), None),
            None => (None, None),
        };
        Context {
            o,
            fstab: None,
            fstype,
            fstype_pattern,
        }
    }

    fn prog(&self) -> &str {
        &self.o.invoked_as
    }

    /// The fstab entries: `-T` files, else /etc/fstab (read on first use).
    fn fstab(&mut self) -> &[FstabEntry] {
        if self.fstab.is_none() {
            let mut merged = Fstab::default();
            if self.o.fstabs.is_empty() {
                if let Ok(table) = read_fstab(&self.o.invoked_as, &fstab_path()) {
                    merged = table;
                }
            } else {
                for table in &self.o.fstabs {
                    merged.entries.extend(table.entries.iter().cloned());
                }
            }
            self.fstab = Some(merged);
        }
        &self.fstab.as_ref().expect("fstab just read").entries
    }

    /// Prints an outcome's messages and gives its status.
    fn finish(&self, outcome: Outcome) -> u8 {
        if let Some(message) = &outcome.message {
            let spec = outcome.spec.as_bytes();
            say(&[self.prog().as_bytes(), b": ", spec, b": ", message, b"."]);
            if outcome.syscall_failed {
                say(&[DMESG_HINT.as_bytes()]);
            }
        }
        if outcome.code == EX_SUCCESS && self.o.verbose {
            if let Some(text) = &outcome.verbose {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text).and_then(|()| out.flush());
            }
        }
        outcome.code
    }

    /// `mount -a -o remount`: every mount in the table (not in fstab)
    /// that -t and -O select, remounted with the given options.
    fn remount_all(&mut self) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let utab = listing::read_utab();
        let (mut successes, mut errors) = (0, 0);
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        for listed in listing::merge_utab(&table, &utab) {
            let target = listed.entry.target.clone();
            let ignored = self
                .fstype_pattern
                .as_deref()
                .is_some_and(|p| !match_fstype(&listed.entry.fstype, p))
                || self
                    .o
                    .test_opts
                    .as_deref()
                    .is_some_and(|p| !match_options(&listed.options, p));
            if ignored {
                if self.o.verbose {
                    let _ = padded(&mut out, &target, "ignored");
                }
                continue;
            }
            let request = Request {
                source: None,
                target: Some(target.clone()),
                fstype: None,
                options: self.o.options.join(","),
                from_fstab: false,
            };
            let outcome = self.mount_one(request);
            let code = self.finish(Outcome {
                verbose: None,
                ..outcome
            });
            if code == EX_SUCCESS {
                successes += 1;
                if self.o.verbose {
                    let _ = padded(&mut out, &target, "successfully remounted");
                }
            } else {
                errors += 1;
            }
        }
        let _ = out.flush();
        all_status(successes, errors)
    }

    fn mount_all(&mut self) -> u8 {
        let remount = options::parse(&self.o.options.join(","))
            .flags
            .contains(MsFlags::MS_REMOUNT);
        if remount {
            return self.remount_all();
        }
        let entries: Vec<FstabEntry> = self.fstab().to_vec();
        let table = mountinfo::read_self().unwrap_or_default();
        let (mut successes, mut errors) = (0, 0);
        // Fully buffered, as C's stdout is when it is not a terminal: the
        // progress lines come after the error messages in a shared pipe.
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        for entry in entries {
            let target = entry.target.clone();
            let words = options::split(&entry.options);
            let ignored = entry.fstype == "swap"
                || target == "/"
                || target == "root"
                || (!remount && words.contains(&"noauto"))
                || self
                    .fstype_pattern
                    .as_deref()
                    .is_some_and(|p| !match_fstype(&entry.fstype, p))
                || self
                    .o
                    .test_opts
                    .as_deref()
                    .is_some_and(|p| !match_options(&entry.options, p));
            if ignored {
                if self.o.verbose {
                    let _ = padded(&mut out, &target, "ignored");
                }
                continue;
            }
            if remount {
                if mountinfo::find_target(&table, &canonical_target(&target)).is_none() {
                    if self.o.verbose {
                        let _ = padded(&mut out, &target, "ignored");
                    }
                    continue;
                }
            } else if is_mounted(&entry, &table) {
                if self.o.verbose {
                    let _ = padded(&mut out, &target, "already mounted");
                }
                continue;
            }
            let mut request = Request {
                source: Some(entry.source.clone()),
                target: Some(entry.target.clone()),
                fstype: Some(entry.fstype.clone()),
                options: entry.options.clone(),
                from_fstab: true,
            };
            if !self.o.options.is_empty() {
                if !request.options.is_empty() {
                    request.options.push(',');
                }
                request.options.push_str(&self.o.options.join(","));
            }
            let outcome = self.mount_one(request);
            let verbose = self.o.verbose;
            let mounted = outcome.code == EX_SUCCESS && outcome.verbose.is_some();
            let code = self.finish(Outcome {
                verbose: None,
                ..outcome
            });
            if code == EX_SUCCESS {
                successes += 1;
                if mounted && verbose {
                    let what = if remount { "remounted" } else { "mounted" };
                    let _ = padded(&mut out, &target, &format!("successfully {what}"));
                }
            } else {
                errors += 1;
            }
        }
        let _ = out.flush();
        all_status(successes, errors)
    }

    /// libmount's mnt_context_mount for one request.
    fn mount_one(&mut self, mut request: Request) -> Outcome {
        let o = self.o;
        let mut parsed = options::parse(&request.options);
        let remount = parsed.flags.contains(MsFlags::MS_REMOUNT);
        let no_tables = !request.from_fstab && ((o.operation && !remount) || o.propagation);

        // Complete a half-given request from fstab (or, for a remount, from
        // the mount table).
        let mut fstab_applied = false;
        if !request.from_fstab
            && !no_tables
            && (request.source.is_none() || request.target.is_none() || remount)
            && !(request.source.is_some() && request.target.is_some())
        {
            match self.apply_fstab(&mut request, remount) {
                Ok(applied) => fstab_applied = applied,
                Err(outcome) => return outcome,
            }
            parsed = options::parse(&request.options);
        }
        if privilege::is_restricted() {
            let source = request.source.as_deref();
            if !fstab_applied || !permit_user_mount(&mut parsed, source) {
                let spec = request.target.as_deref().or(source);
                return Outcome::not_permitted(spec.unwrap_or(OsStr::new("???")));
            }
        }
        if o.is_move {
            parsed.flags |= MsFlags::MS_MOVE;
        }
        let flags = parsed.flags;
        let propagation_only = flags.intersects(options::PROPAGATION)
            && (flags - options::PROPAGATION - MsFlags::MS_REC - MsFlags::MS_SILENT).is_empty();

        let mut fstype = request
            .fstype
            .clone()
            .or_else(|| self.fstype.clone())
            .filter(|t| t != "auto");
        if request.from_fstab && self.fstype.is_some() && request.fstype.is_none() {
            fstype = self.fstype.clone();
        }

        // The target.
        let Some(raw_target) = request.target.clone() else {
            let spec = request.source.clone().unwrap_or_else(|| "???".into());
            return Outcome::usage(&spec, "no mount point specified");
        };
        let mut target = match &o.target_prefix {
            Some(prefix) => {
                let prefix = prefix.as_bytes();
                let end = prefix
                    .iter()
                    .rposition(|&b| b != b'/')
                    .map_or(0, |at| at + 1);
                OsString::from_vec([&prefix[..end], raw_target.as_bytes()].concat())
            }
            None => raw_target,
        };
        // The source.
        let mut source = request.source.clone();
        let mut loop_guard: Option<loopdev::Attached> = None;
        if !propagation_only && !remount {
            let Some(given) = source.clone() else {
                return Outcome::usage(&target, "no mount source specified");
            };
            let mut path = given.clone();
            if let Some((kind, value)) = probe::parse_tag(&given) {
                match probe::find_device(kind, value) {
                    Some(device) => path = device.into_os_string(),
                    None => {
                        if parsed.has_user("nofail") {
                            return Outcome::ok(target, None);
                        }
                        return Outcome::usage(
                            &target,
                            [b"can't find ", given.as_bytes()].concat(),
                        );
                    }
                }
            }
            let pseudo = fstype.as_deref().is_some_and(|t| !is_regular_fs(t));
            // Paths are resolved for real filesystems, and for what a bind or
            // move takes (a directory), as libmount does.
            let bind_or_move =
                flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE) && Path::new(&path).exists();
            if !o.no_canonicalize && (!pseudo || bind_or_move) {
                path = listing::canonical_source(&path);
            }
            // Loop devices: asked for, or a regular file to mount.
            let setup = match self.loop_setup(&parsed, &path, fstype.as_deref(), flags) {
                Ok(setup) => setup,
                Err(errno) => {
                    let optstr = options::message_optstr(&request.options);
                    let text = ns_sys::strerror(errno);
                    return Outcome::usage(
                        &target,
                        format!("failed to parse mount options '{optstr}': {text}"),
                    );
                }
            };
            if let Some(setup) = setup {
                if o.fake {
                    source = Some(path);
                } else {
                    match loopdev::attach(&setup) {
                        Ok(attached) => {
                            if attached.read_only {
                                parsed.flags |= MsFlags::MS_RDONLY;
                            }
                            path = attached.device.clone().into_os_string();
                            loop_guard = Some(attached);
                            // With autoclear the kernel tracks the device:
                            // libmount leaves "loop" out of utab then.
                            parsed
                                .user
                                .retain(|w| w != "loop" && !w.starts_with("loop="));
                            source = Some(path);
                        }
                        Err(_) => {
                            return Outcome {
                                code: EX_FAIL,
                                message: Some(
                                    [b"failed to setup loop device for ", path.as_bytes()].concat(),
                                ),
                                spec: target,
                                syscall_failed: false,
                                verbose: None,
                                not_permitted: false,
                            };
                        }
                    }
                }
            } else {
                source = Some(path);
            }
        } else if let Some(given) = &source {
            if !o.no_canonicalize
                && mountinfo::starts_with(given, b"/")
                && !is_pseudo_fs(fstype.as_deref().unwrap_or("none"))
            {
                source = Some(listing::canonical_source(given));
            }
        }
        // The mount point, prepared after the source as libmount does (so
        // source errors name the target as given).
        if let Some(mode) = parsed.mkdir_mode() {
            match mode {
                Ok(mode) => {
                    // X-mount.mkdir is for root (and callers without
                    // set-ID privileges) only: a restricted caller's
                    // request goes on without the privileges.
                    if !Path::new(&target).exists() && privilege::is_restricted() {
                        return Outcome::not_permitted(&target);
                    }
                    if !Path::new(&target).exists() && !o.fake {
                        if let Err(e) = std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(mode)
                            .create(&target)
                        {
                            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
                            return Outcome {
                                code: EX_FAIL,
                                message: Some(
                                    format!("mount failed: {}", ns_sys::strerror(errno as i32))
                                        .into_bytes(),
                                ),
                                spec: target,
                                syscall_failed: false,
                                verbose: None,
                                not_permitted: false,
                            };
                        }
                    }
                }
                Err(bad) => {
                    return Outcome::usage(
                        &target,
                        format!("failed to parse mount options '{}'", bad),
                    )
                }
            }
        }
        if !o.no_canonicalize {
            target = canonical_target(&target);
        }

        let flags = parsed.flags
            | if o.is_move {
                MsFlags::MS_MOVE
            } else {
                MsFlags::empty()
            };
        let source_text = source.clone().unwrap_or_else(|| "none".into());

        // The type: probed when not given, for what needs one.
        let needs_type = !flags
            .intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE | MsFlags::MS_REMOUNT)
            && !propagation_only;
        let mut try_types: Vec<String> = Vec::new();
        if needs_type && fstype.is_none() {
            if let Some(sb) = probe_source(&source_text) {
                fstype = Some(sb.fstype.to_string());
            } else {
                try_types = filesystems_to_try();
            }
        }

        let data = parsed.data_string();
        let result = if o.fake {
            Ok(())
        } else if !try_types.is_empty() {
            let mut last = Err((Step::Main, Errno::ENODEV));
            for candidate in &try_types {
                last = mount_calls(
                    Some(source_text.as_os_str()),
                    Path::new(&target),
                    Some(candidate),
                    flags | MsFlags::MS_SILENT,
                    data.as_deref(),
                );
                match last {
                    Ok(()) => {
                        fstype = Some(candidate.clone());
                        break;
                    }
                    Err((Step::Main, Errno::EINVAL | Errno::ENODEV)) => continue,
                    Err(_) => break,
                }
            }
            last
        } else {
            mount_calls(
                Some(source_text.as_os_str()),
                Path::new(&target),
                fstype.as_deref(),
                flags,
                data.as_deref(),
            )
        };
        drop(loop_guard);

        match result {
            Ok(()) => {
                if !o.fake {
                    record_utab(&parsed, &target);
                }
                let verbose =
                    success_message(self.prog(), flags, propagation_only, &source_text, &target);
                Outcome::ok(target, Some(verbose))
            }
            Err((step, errno)) => {
                let nofail = parsed.has_user("nofail");
                let message = mount_error_message(MountFailure {
                    errno,
                    step,
                    flags,
                    source: source.as_deref(),
                    target: &target,
                    fstype: fstype.as_deref(),
                    rw_only: o.rw_only,
                });
                match message {
                    None if nofail => Outcome::ok(target, None),
                    message => Outcome {
                        code: EX_FAIL,
                        message,
                        spec: target,
                        syscall_failed: true,
                        verbose: None,
                        not_permitted: false,
                    },
                }
            }
        }
    }

    /// Fills in what fstab (or the mount table, for a remount) knows.
    /// `Ok(true)` when an fstab entry completed the request.
    fn apply_fstab(&mut self, request: &mut Request, remount: bool) -> Result<bool, Outcome> {
        let swapmatch = !self.o.no_swapmatch;
        let source = request.source.clone();
        let target = request.target.clone();
        let found: Option<FstabEntry> = {
            let entries = self.fstab();
            let by_target = |t: &OsStr| {
                let canonical = canonical_target(t);
                entries
                    .iter()
                    .rev()
                    .find(|e| e.target == t)
                    .or_else(|| {
                        entries
                            .iter()
                            .rev()
                            .find(|e| canonical_target(&e.target) == canonical)
                    })
                    .cloned()
            };
            let by_source = |s: &OsStr| {
                let canonical = if mountinfo::starts_with(s, b"/") {
                    listing::canonical_source(s)
                } else {
                    s.to_os_string()
                };
                entries
                    .iter()
                    .rev()
                    .find(|e| e.source == s)
                    .or_else(|| {
                        entries.iter().rev().find(|e| {
                            mountinfo::starts_with(&e.source, b"/")
                                && listing::canonical_source(&e.source) == canonical
                        })
                    })
                    .cloned()
            };
            match (&source, &target) {
                (None, Some(t)) => {
                    by_target(t).or_else(|| if swapmatch { by_source(t) } else { None })
                }
                (Some(s), None) => {
                    by_source(s).or_else(|| if swapmatch { by_target(s) } else { None })
                }
                (Some(_), Some(t)) => by_target(t),
                (None, None) => None,
            }
        };
        if let Some(entry) = found {
            // A one-operand swap: the operand was the entry's source.
            request.source = Some(entry.source.clone());
            request.target = Some(entry.target.clone());
            if request.fstype.is_none() && self.fstype.is_none() {
                request.fstype = Some(entry.fstype.clone());
            }
            request.options = join_options(&entry.options, &request.options);
            return Ok(true);
        }
        if remount {
            // The mount table, for what is mounted on the target.
            let lookup = target.clone().or(source.clone());
            if let Some(t) = lookup {
                let table = mountinfo::read_self().unwrap_or_default();
                if let Some(entry) = mountinfo::find_target(&table, &canonical_target(&t)) {
                    request.target = Some(entry.target.clone());
                    request.source = Some(entry.source.clone());
                    request.fstype = Some(entry.fstype.clone());
                    request.options = join_options(&entry.options(), &request.options);
                } else if request.target.is_none() {
                    request.target = Some(t);
                }
            }
            return Ok(false);
        }
        let spec = target
            .clone()
            .or(source.clone())
            .unwrap_or_else(|| "???".into());
        let path = fstab_path();
        let path = path.as_os_str().as_bytes();
        let message = if swapmatch {
            [b"can't find in ", path].concat()
        } else if target.is_some() {
            [b"can't find mount point in ", path].concat()
        } else {
            let source = source.as_deref().unwrap_or_default().as_bytes();
            [b"can't find mount source ", source, b" in ", path].concat()
        };
        Err(Outcome::usage(&spec, message))
    }

    /// Whether this mount needs a loop device, and how to set it up.
    /// `Err` is the errno of an `offset=`, `sizelimit=` or `encryption=`
    /// util-linux refuses.
    fn loop_setup(
        &self,
        parsed: &MountOptions,
        path: &OsStr,
        fstype: Option<&str>,
        flags: MsFlags,
    ) -> Result<Option<LoopSetup>, i32> {
        let asked = ["loop", "offset", "sizelimit", "encryption"]
            .iter()
            .any(|name| parsed.has_user(name));
        if !asked {
            if flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE) {
                return Ok(None);
            }
            if fstype.is_some_and(|t| !is_regular_fs(t)) {
                return Ok(None);
            }
            let Ok(meta) = std::fs::metadata(path) else {
                return Ok(None);
            };
            if !meta.is_file() || meta.len() <= 1024 {
                return Ok(None);
            }
        }
        // The first of each counts, as for libmount 2.38.
        let number = |name: &str| match parsed.first_user_value(name) {
            Some(Some(text)) => size::strtosize(text),
            Some(None) | None => Ok(0),
        };
        let (offset, sizelimit) = (number("offset")?, number("sizelimit")?);
        // Cryptoloop is gone from the kernel; libmount refuses it.
        if parsed.has_user("encryption") {
            return Err(libc::EINVAL);
        }
        let device = parsed
            .user_value("loop")
            .flatten()
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Ok(Some(LoopSetup {
            file: PathBuf::from(path),
            offset,
            sizelimit,
            read_only: flags.contains(MsFlags::MS_RDONLY),
            device,
        }))
    }
}

/// libmount's evaluation of a restricted (non-root) mount of an fstab
/// entry: allowed with `user` or `users`; with `owner` or `group` when the
/// source is a device under /dev that the caller owns or whose group they
/// are in, which then counts as `user`. A `user` mount is recorded in utab
/// as `user=NAME`, so that the same caller may unmount it. The implied
/// nosuid, nodev (and noexec) are already in `parsed`'s flags, where the
/// option stood.
fn permit_user_mount(parsed: &mut MountOptions, source: Option<&OsStr>) -> bool {
    // `user=NAME` from fstab names nobody allowed: libmount ignores it.
    parsed.user.retain(|word| !word.starts_with("user="));
    let has = |parsed: &MountOptions, word: &str| parsed.user.iter().any(|w| w == word);
    if has(parsed, "owner") || has(parsed, "group") {
        use std::os::unix::fs::MetadataExt;
        let caller = ns_sys::runtime::Identity::current();
        let device = source
            .filter(|path| mountinfo::starts_with(path, b"/dev/"))
            .and_then(|path| std::fs::metadata(path).ok());
        if let Some(meta) = device {
            if (has(parsed, "owner") && meta.uid() == caller.ruid)
                || (has(parsed, "group") && privilege::caller_in_group(meta.gid()))
            {
                parsed.user.push("user".to_string());
            }
        }
    }
    if !has(parsed, "user") && !has(parsed, "users") {
        return false;
    }
    let uid = ns_sys::runtime::Identity::current().ruid;
    let Some(name) = privilege::user_name(uid) else {
        return false;
    };
    let name = String::from_utf8_lossy(&name).into_owned();
    for word in parsed.user.iter_mut().filter(|w| *w == "user") {
        *word = format!("user={name}");
    }
    true
}

/// `-a`'s status: all fine, all failed, or some of each.
fn all_status(successes: usize, errors: usize) -> u8 {
    if errors == 0 {
        EX_SUCCESS
    } else if successes == 0 {
        EX_FAIL
    } else {
        EX_SOMEOK
    }
}

fn join_options(first: &str, second: &str) -> String {
    match (first.is_empty(), second.is_empty()) {
        (true, _) => second.to_string(),
        (_, true) => first.to_string(),
        _ => format!("{first},{second}"),
    }
}

/// A target path as libmount canonicalises it: resolved when it exists.
fn canonical_target(path: &OsStr) -> OsString {
    match std::fs::canonicalize(path) {
        Ok(resolved) => resolved.into_os_string(),
        Err(_) => path.to_os_string(),
    }
}

/// Whether an fstab entry is already mounted (same target, same source).
fn is_mounted(entry: &FstabEntry, table: &[MountEntry]) -> bool {
    let target = canonical_target(&entry.target);
    let source = match probe::parse_tag(&entry.source) {
        Some((kind, value)) => match probe::find_device(kind, value) {
            Some(device) => device.into_os_string(),
            None => return false,
        },
        None if mountinfo::starts_with(&entry.source, b"/") => {
            listing::canonical_source(&entry.source)
        }
        None => entry.source.clone(),
    };
    table.iter().any(|m| {
        m.target == target
            && (m.source == source
                || (is_regular_fs(&m.fstype) && listing::canonical_source(&m.source) == source)
                || (mountinfo::starts_with(&source, b"/")
                    && Path::new(&source).is_dir()
                    && m.root != "/"))
    })
}

/// The filesystem on a block device or image file, if any.
fn probe_source(source: &OsStr) -> Option<probe::Superblock> {
    let meta = std::fs::metadata(source).ok()?;
    if !(meta.file_type().is_block_device() || meta.is_file()) {
        return None;
    }
    probe::probe_device(Path::new(source))
}

/// The types util-linux tries when none is given and probing found none:
/// /etc/filesystems, then the kernel's block-device filesystems.
fn filesystems_to_try() -> Vec<String> {
    let mut types = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/etc/filesystems") {
        for line in text.lines() {
            let name = line.trim();
            if name == "*" {
                break;
            }
            if !name.is_empty() && !name.starts_with('#') && !types.iter().any(|t| t == name) {
                types.push(name.to_string());
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string("/proc/filesystems") {
        for line in text.lines() {
            if line.starts_with("nodev") {
                continue;
            }
            let name = line.trim();
            if !name.is_empty() && !types.iter().any(|t| t == name) {
                types.push(name.to_string());
            }
        }
    }
    types
}

/// After a successful mount with utab options (`x-…`, `_netdev`), records
/// them in /run/mount/utab as libmount does.
fn record_utab(parsed: &MountOptions, target: &OsStr) {
    let kept = parsed.utab_options();
    if kept.is_empty() || parsed.flags.contains(MsFlags::MS_REMOUNT) {
        return;
    }
    let table = mountinfo::read_self().unwrap_or_default();
    let Some(entry) = mountinfo::find_target(&table, target) else {
        return;
    };
    let mut utab = listing::read_utab();
    utab.push(listing::UtabEntry {
        source: entry.source.clone(),
        target: entry.target.clone(),
        root: entry.root.clone(),
        options: kept.join(","),
        attrs: String::new(),
    });
    let _ = listing::write_utab(&utab);
}

fn success_message(
    prog: &str,
    flags: MsFlags,
    propagation_only: bool,
    source: &OsStr,
    target: &OsStr,
) -> Vec<u8> {
    let (prog, source, target) = (prog.as_bytes(), source.as_bytes(), target.as_bytes());
    if flags.contains(MsFlags::MS_MOVE) {
        [prog, b": ", source, b" moved to ", target, b".\n"].concat()
    } else if flags.contains(MsFlags::MS_BIND) {
        [prog, b": ", source, b" bound on ", target, b".\n"].concat()
    } else if propagation_only {
        [prog, b": ", target, b" propagation flags changed.\n"].concat()
    } else {
        [prog, b": ", source, b" mounted on ", target, b".\n"].concat()
    }
}

struct MountFailure<'a> {
    errno: Errno,
    step: Step,
    flags: MsFlags,
    source: Option<&'a OsStr>,
    target: &'a OsStr,
    fstype: Option<&'a str>,
    rw_only: bool,
}

/// util-linux's wording for a failed mount(2), the source named as its
/// bytes; `None` where `nofail` makes the failure a success.
fn mount_error_message(f: MountFailure<'_>) -> Option<Vec<u8>> {
    let src = f.source.unwrap_or(OsStr::new("none"));
    let lstat = |p: &OsStr| std::fs::symlink_metadata(p).ok();
    let stat = |p: &OsStr| std::fs::metadata(p).ok();
    // BEFORE SOURCE AFTER.
    let about = |before: &str, after: &str| -> Vec<u8> {
        [before.as_bytes(), src.as_bytes(), after.as_bytes()].concat()
    };
    let text = |text: &str| text.as_bytes().to_vec();
    if f.step == Step::Additional {
        return Some(
            if f.errno == Errno::EINVAL && !f.flags.contains(MsFlags::MS_REMOUNT) {
                text("not mount point or bad option")
            } else {
                mount_error_message(MountFailure {
                    step: Step::Main,
                    ..f
                })?
            },
        );
    }
    let generic = |errno: Errno| {
        format!(
            "mount(2) system call failed: {}",
            ns_sys::strerror(errno as i32)
        )
        .into_bytes()
    };
    Some(match f.errno {
        // Without privileges (a restricted mount that dropped them) the
        // kernel's refusal is about the caller.
        Errno::EPERM if ns_sys::runtime::Identity::current().euid != 0 => {
            text("must be superuser to use mount")
        }
        Errno::EPERM => {
            if stat(f.target).is_none_or_not_dir() {
                text("mount point is not a directory")
            } else {
                text("permission denied")
            }
        }
        Errno::EBUSY => {
            if f.flags.contains(MsFlags::MS_REMOUNT) {
                text("mount point is busy")
            } else {
                let table = mountinfo::read_self().unwrap_or_default();
                match table
                    .iter()
                    .rev()
                    .find(|m| m.source == src && m.root == "/")
                {
                    Some(m) => [
                        about("", " already mounted on "),
                        m.target.as_bytes().to_vec(),
                    ]
                    .concat(),
                    None => about("", " already mounted or mount point busy"),
                }
            }
        }
        Errno::ENOENT => {
            if lstat(f.target).is_none() {
                text("mount point does not exist")
            } else if stat(f.target).is_none() {
                text("mount point is a symbolic link to nowhere")
            } else if stat(src).is_none() {
                about("special device ", " does not exist")
            } else {
                generic(f.errno)
            }
        }
        Errno::ENOTDIR => {
            if stat(f.target).is_none_or_not_dir() {
                text("mount point is not a directory")
            } else if std::fs::metadata(src).err().and_then(|e| e.raw_os_error())
                == Some(libc::ENOTDIR)
            {
                about(
                    "special device ",
                    " does not exist (a path prefix is not a directory)",
                )
            } else {
                generic(f.errno)
            }
        }
        Errno::EINVAL => {
            if f.flags.contains(MsFlags::MS_REMOUNT) {
                text("mount point not mounted or bad option")
            } else if f.flags.contains(MsFlags::MS_MOVE) && source_under_shared(src) {
                text("bad option; moving a mount residing under a shared mount is unsupported")
            } else if f.fstype.is_some_and(listing::is_net_fs) {
                text("bad option; for several filesystems (e.g. nfs, cifs) you might need a /sbin/mount.<type> helper program")
            } else {
                about(
                    "wrong fs type, bad option, bad superblock on ",
                    ", missing codepage or helper program, or other error",
                )
            }
        }
        Errno::EMFILE => text("mount table full"),
        Errno::EIO => about("can't read superblock on ", ""),
        Errno::ENODEV => match f.fstype {
            Some(t) => format!("unknown filesystem type '{t}'").into_bytes(),
            None => text("unknown filesystem type"),
        },
        Errno::ENOTBLK => match stat(src) {
            None => about("", " is not a block device, and stat(2) fails?"),
            Some(m) if m.file_type().is_block_device() => about(
                "the kernel does not recognize ",
                " as a block device; maybe \"modprobe driver\" is necessary",
            ),
            Some(m) if m.is_file() => about("", " is not a block device; try \"-o loop\""),
            Some(_) => about("", " is not a block device"),
        },
        Errno::ENXIO => about("", " is not a valid block device"),
        Errno::EACCES | Errno::EROFS => {
            if f.flags.contains(MsFlags::MS_RDONLY) {
                about("cannot mount ", " read-only")
            } else if f.rw_only {
                about(
                    "",
                    " is write-protected but explicit read-write mode requested",
                )
            } else if f.flags.contains(MsFlags::MS_REMOUNT) {
                about("cannot remount ", " read-write, is write-protected")
            } else if f.flags.contains(MsFlags::MS_BIND) {
                about("bind ", " failed")
            } else {
                generic(f.errno)
            }
        }
        Errno::ENOMEDIUM => about("no medium found on ", ""),
        Errno::EBADMSG
            if stat(src).is_some_and(|m| m.is_file() || m.file_type().is_block_device()) =>
        {
            about("cannot mount; probably corrupted filesystem on ", "")
        }
        errno => generic(errno),
    })
}

trait NotDir {
    fn is_none_or_not_dir(&self) -> bool;
}

impl NotDir for Option<std::fs::Metadata> {
    fn is_none_or_not_dir(&self) -> bool {
        match self {
            Some(m) => !m.is_dir(),
            None => true,
        }
    }
}

/// Whether the mount holding `path` has a shared parent (a move out of a
/// shared mount is refused by the kernel with EINVAL).
fn source_under_shared(path: &OsStr) -> bool {
    let table = mountinfo::read_self().unwrap_or_default();
    let Some(mount) = mountinfo::find_target(&table, path) else {
        return false;
    };
    table
        .iter()
        .find(|m| m.id == mount.parent)
        .is_some_and(MountEntry::is_shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Options {
        let argv = std::iter::once("mount").chain(args.iter().copied());
        parse(argv).map_err(|(_, e)| e.to_string()).unwrap()
    }

    fn parse_err(args: &[&str]) -> (u8, String) {
        let argv = std::iter::once("mount").chain(args.iter().copied());
        let (_, error) = parse(argv).unwrap_err();
        (error.exit_code(), error.to_string())
    }

    #[test]
    fn operands_and_options_mix() {
        let o = parse_ok(&["-t", "proc", "none", "/proc", "-o", "nosuid"]);
        assert_eq!(o.types.as_deref(), Some("proc"));
        assert_eq!(
            o.operands,
            vec![OsString::from("none"), OsString::from("/proc")]
        );
        assert_eq!(o.options, vec!["nosuid"]);
    }

    #[test]
    fn operations_become_options() {
        let o = parse_ok(&["--rbind", "-r", "--make-rslave", "/a", "/b"]);
        assert_eq!(o.options, vec!["rbind", "ro", "rslave"]);
        assert!(o.operation && o.propagation);
        let o = parse_ok(&["-o", "move,ro", "/a", "/b"]);
        assert!(o.is_move);
        assert_eq!(o.options, vec!["ro"]);
    }

    #[test]
    fn mkdir_takes_an_attached_mode_only() {
        assert_eq!(
            parse_ok(&["-m0700", "x"]).options,
            vec!["X-mount.mkdir=\"0700\""]
        );
        assert_eq!(
            parse_ok(&["--mkdir=0700", "x"]).options,
            vec!["X-mount.mkdir=\"0700\""]
        );
        let o = parse_ok(&["-m", "x"]);
        assert_eq!(o.options, vec!["X-mount.mkdir"]);
        assert_eq!(o.operands, vec![OsString::from("x")]);
    }

    #[test]
    fn labels_and_uuids_become_tags() {
        assert_eq!(
            parse_ok(&["-L", "root"]).source.as_deref(),
            Some(OsStr::new("LABEL=\"root\""))
        );
        assert_eq!(
            parse_ok(&["-U", "ab"]).source.as_deref(),
            Some(OsStr::new("UUID=\"ab\""))
        );
    }

    #[test]
    fn exclusive_options() {
        assert_eq!(
            parse_err(&["-B", "-M", "a", "b"]),
            (
                1,
                "mutually exclusive arguments: --bind --move --rbind".to_string()
            )
        );
        assert_eq!(
            parse_err(&["-L", "a", "--source", "b"]).1,
            "mutually exclusive arguments: --label --uuid --source"
        );
        // The same option twice is fine.
        parse_ok(&["-B", "-B", "a", "b"]);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(parse_err(&["-x"]), (1, "invalid option -- 'x'".to_string()));
        assert_eq!(
            parse_err(&["--bogus"]),
            (1, "unrecognized option '--bogus'".to_string())
        );
        assert_eq!(
            parse_err(&["-o"]),
            (1, "option requires an argument -- 'o'".to_string())
        );
        assert_eq!(
            parse_err(&["-o", "=x"]),
            (1, "unsupported option format: =x".to_string())
        );
        assert_eq!(
            parse_err(&["--make"]).1,
            "option '--make' is ambiguous; possibilities: '--make-shared' '--make-slave' '--make-private' '--make-unbindable' '--make-rshared' '--make-rslave' '--make-rprivate' '--make-runbindable'"
        );
    }

    #[test]
    fn error_wording() {
        let message = |errno, flags| {
            mount_error_message(MountFailure {
                errno,
                step: Step::Main,
                flags,
                source: Some(OsStr::new("/nonexistent-source")),
                target: OsStr::new("/nonexistent-target"),
                fstype: Some("bogus"),
                rw_only: false,
            })
            .map(|message| String::from_utf8(message).unwrap())
            .unwrap()
        };
        assert_eq!(
            message(Errno::ENOENT, MsFlags::empty()),
            "mount point does not exist"
        );
        assert_eq!(
            message(Errno::ENODEV, MsFlags::empty()),
            "unknown filesystem type 'bogus'"
        );
        assert_eq!(
            message(Errno::EINVAL, MsFlags::MS_REMOUNT),
            "mount point not mounted or bad option"
        );
        assert_eq!(
            message(Errno::EROFS, MsFlags::MS_RDONLY),
            "cannot mount /nonexistent-source read-only"
        );
    }
}
