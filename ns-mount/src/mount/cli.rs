//! ns-mount's command line, the first stage: argv parsed once into
//! [`Options`], whose mount options are already typed ([`MountOptions`]:
//! flags, data, userspace options). `-B`, `-R`, `-r`, `--make-…` and
//! `-m` are option words like `-o`'s, as util-linux treats them.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use ns_getopt::{text, Complete, Exclusive, Key, Opt, Style, Tool};

use crate::error::{Error, EX_USAGE};
use crate::fstab::Fstab;
use crate::options::{self, MountOptions};
use crate::privilege::Privilege;

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
reading superblocks (ext2/3/4, xfs, btrfs, vfat, iso9660, squashfs, cramfs) and GPT
entries of the devices in /proc/partitions, ID= through /dev/disk/by-id; a regular
file is attached to a loop device (not with X-mount.noloop).",
    options: &[
        Opt::flag(
            Some('a'),
            "all",
            "mount every fstab entry not marked noauto",
        ),
        Opt::flag(
            None,
            "beneath",
            "attach beneath the top mount of the target (Linux 6.5+)",
        ),
        Opt::flag(
            None,
            "exclusive",
            "a new filesystem instance, never an existing one",
        ),
        Opt::flag(Some('f'), "fake", "do everything but the mount calls"),
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
        Opt::flag(None, "ro", "the same as --read-only").same_as('r'),
        Opt::flag(Some('v'), "verbose", "report what was done"),
        Opt::flag(Some('V'), "version", "display version"),
        Opt::flag(Some('w'), "read-write", "mount read-write (the default)"),
        Opt::flag(None, "rw", "the same as --read-write").same_as('w'),
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
        Opt::required(
            None,
            "map-groups",
            "inner:outer:count",
            Complete::Nothing,
            "add a GID mapping to an ID-mapped mount",
        ),
        Opt::required(
            None,
            "map-users",
            "inner:outer:count",
            Complete::Nothing,
            "add a UID mapping (or name a user namespace file) for an ID-mapped mount",
        ),
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
            "don't call the mount.<type> helpers",
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
        Opt::flag(
            None,
            "onlyonce",
            "fail if the source is already mounted on the target",
        ),
        Opt::required(
            None,
            "options-mode",
            "mode",
            Complete::Words("ignore append prepend replace"),
            "how fstab's options join -o's: ignore, append, prepend or replace",
        ),
        Opt::required(
            None,
            "options-source",
            "source",
            Complete::Words("fstab mtab disable"),
            "where a mount's options come from: fstab, mtab (both by default) or disable",
        ),
        Opt::flag(
            None,
            "options-source-force",
            "complete a mount from fstab also when its source and target are given",
        ),
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

/// Options that may not be combined (util-linux's `excl` table).
const EXCLUSIVE: &[&[&str]] = &[&["bind", "move", "rbind"], &["label", "uuid", "source"]];

/// The options a caller without privileges may give a set-user-ID mount
/// (with --source and --target): util-linux's list.
const RESTRICTED_OK: &str = "hlLUVvrist";

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub invoked_as: String,
    /// The restricted mode, as the command line left it (an option a
    /// caller may not give drops the privileges while it is read).
    pub privilege: Privilege,
    pub help: bool,
    pub version: bool,
    pub all: bool,
    pub no_canonicalize: bool,
    pub fake: bool,
    pub verbose: bool,
    pub show_labels: bool,
    /// `-i`: no `mount.<type>` helper.
    pub internal_only: bool,
    /// `-s`, `-n`: passed on to helpers.
    pub sloppy: bool,
    pub no_mtab: bool,
    pub beneath: bool,
    pub exclusive: bool,
    pub onlyonce: bool,
    /// `--map-users`/`--map-groups`, as the `X-mount.idmap=` value they
    /// build.
    pub idmap: Option<String>,
    /// `-o`, `-r`, `-w`, `-B`, `--make-…`, … in order, parsed.
    pub options: MountOptions,
    /// Whether any of those was given (`-o ""` is not).
    pub options_given: bool,
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
    /// `--options-mode`.
    pub options_mode: OptionsMode,
    /// `--options-source` without `fstab` or `mtab`.
    pub tables_off: TablesOff,
    /// `--options-source-force`: fstab completes a request that names
    /// both its source and its target (the entry must match both).
    pub options_source_force: bool,
    /// `--source`, `--target`, `-L` or `-U` given: no swapping of source
    /// and target in fstab look-ups.
    pub no_swapmatch: bool,
    pub operands: Vec<OsString>,
}

/// How the options of an fstab entry (or of the mounted filesystem, for a
/// remount) join the command line's; the last of conflicting ones wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OptionsMode {
    /// The table's first, then the command line's.
    #[default]
    Prepend,
    /// The command line's first, then the table's.
    Append,
    /// The command line's alone.
    Ignore,
    /// The table's alone.
    Replace,
}

impl OptionsMode {
    pub fn join(self, table: MountOptions, given: &MountOptions) -> MountOptions {
        match self {
            OptionsMode::Prepend => table.merged(given),
            OptionsMode::Append => given.merged(&table),
            OptionsMode::Ignore => given.clone(),
            OptionsMode::Replace => table,
        }
    }
}

/// The tables `--options-source` leaves out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TablesOff {
    pub fstab: bool,
    pub mtab: bool,
}

impl ns_getopt::Invoked for Options {
    fn invoked_as(&self) -> &str {
        &self.invoked_as
    }
}

impl Options {
    /// Option words from `-o` or an option that stands for them.
    fn add(&mut self, words: &str) {
        self.options_given |= !words.is_empty();
        self.options.apply(words);
    }
}

/// Parses argv (`argv[0]` included).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Options, (String, Error)> {
    TOOL.parse(args, parse_options)
}

fn parse_options(parser: &mut lexopt::Parser, prog: &str) -> Result<Options, Error> {
    let mut o = Options {
        invoked_as: prog.to_string(),
        ..Options::default()
    };
    parse_into(parser, &mut o)?;
    if let Some(idmap) = o.idmap.clone() {
        o.add(&format!("X-mount.idmap={idmap}"));
    }
    Ok(o)
}

fn parse_into(parser: &mut lexopt::Parser, o: &mut Options) -> Result<(), Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut exclusive = Exclusive::new(EXCLUSIVE);
    while let Some(key) = TOOL.next_key(parser, &mut exclusive, &mut o.operands)? {
        // Options a restricted caller may not use make mount carry on as
        // the caller, before they take effect (-T reads a file, -N opens
        // one).
        let allowed = match key {
            Key::Short(c) => RESTRICTED_OK.contains(c),
            Key::Long(long) => matches!(long, "source" | "target" | "exclusive"),
        };
        if !allowed {
            o.privilege.drop_to_caller(&ns_sys::Linux)?;
        }
        match key {
            Key::Short('a') => o.all = true,
            Key::Short('c') => o.no_canonicalize = true,
            Key::Short('f') => o.fake = true,
            Key::Short('F') => {}
            Key::Short('i') => o.internal_only = true,
            Key::Short('n') => o.no_mtab = true,
            Key::Short('s') => o.sloppy = true,
            Key::Short('r') => {
                o.add("ro");
                o.rw_only = false;
            }
            Key::Short('w') => {
                o.add("rw");
                o.rw_only = true;
            }
            Key::Short('v') => o.verbose = true,
            Key::Short('o') => {
                let value = text(parser.value().map_err(usage)?);
                check_option_format(&value)?;
                // "move" is an operation, not an option libmount accepts.
                let words = options::split(&value);
                if words.contains(&"move") {
                    o.operation = true;
                    o.is_move = true;
                    for word in words.into_iter().filter(|w| *w != "move") {
                        o.add(word);
                    }
                } else {
                    o.add(&value);
                }
            }
            Key::Short('O') => o.test_opts = Some(text(parser.value().map_err(usage)?)),
            Key::Short(c @ ('L' | 'U')) => {
                let value = parser.value().map_err(usage)?;
                o.no_swapmatch = true;
                // util-linux quotes the value (LABEL="x"); the quotes go
                // again wherever the tag is looked up.
                let tag: &[u8] = if c == 'L' { b"LABEL=\"" } else { b"UUID=\"" };
                let spec = [tag, value.as_bytes(), b"\""].concat();
                o.source = Some(OsString::from_vec(spec));
            }
            Key::Long("source") => {
                o.no_swapmatch = true;
                o.source = Some(parser.value().map_err(usage)?);
            }
            Key::Long("target") => {
                o.no_swapmatch = true;
                o.target = Some(parser.value().map_err(usage)?);
            }
            Key::Short('l') => o.show_labels = true,
            Key::Short('t') => o.types = Some(text(parser.value().map_err(usage)?)),
            Key::Short('T') => {
                let path = PathBuf::from(parser.value().map_err(usage)?);
                let fstab = crate::mount::read_fstab(&o.invoked_as, &path)?;
                o.fstabs.push(fstab);
            }
            Key::Short(c @ ('B' | 'R')) => {
                o.operation = true;
                o.add(if c == 'B' { "bind" } else { "rbind" });
            }
            Key::Short('M') => {
                o.operation = true;
                o.is_move = true;
            }
            Key::Short('m') => {
                let value = parser.optional_value().map(text);
                let value = value.as_deref().map(|v| v.strip_prefix('=').unwrap_or(v));
                match value {
                    Some(mode) if !mode.is_empty() => o.add(&format!("X-mount.mkdir=\"{mode}\"")),
                    _ => o.add("X-mount.mkdir"),
                }
            }
            Key::Short('N') => {
                let value = parser.value().map_err(usage)?;
                o.namespace = Some(crate::namespace::argument(&value)?);
            }
            Key::Short('h') => {
                o.help = true;
                return Ok(());
            }
            Key::Short('V') => {
                o.version = true;
                return Ok(());
            }
            Key::Long(long) => long_only(parser, o, long, usage)?,
            Key::Short(_) => return Err(key.unknown().into()),
        }
    }
    Ok(())
}

fn long_only(
    parser: &mut lexopt::Parser,
    o: &mut Options,
    long: &str,
    usage: impl Fn(lexopt::Error) -> Error,
) -> Result<(), Error> {
    if let Some(word) = long.strip_prefix("make-") {
        // --make-rslave is the option word rslave.
        o.add(word);
        o.propagation = true;
        return Ok(());
    }
    let mut choice = |choices: &[&str]| -> Result<String, Error> {
        let value = text(parser.value().map_err(&usage)?);
        let value = value.strip_prefix('=').unwrap_or(&value).to_string();
        // An empty list is the default, as util-linux takes it.
        if value.is_empty() || value.split(',').all(|item| choices.contains(&item)) {
            Ok(value)
        } else {
            Err(Error::Usage("bad usage".into()))
        }
    };
    match long {
        "beneath" => o.beneath = true,
        "exclusive" => o.exclusive = true,
        "onlyonce" => o.onlyonce = true,
        "map-users" | "map-groups" => {
            let value = text(parser.value().map_err(&usage)?);
            let value = value.strip_prefix('=').unwrap_or(&value);
            // A namespace file stands alone; mappings add up.
            o.idmap = match o.idmap.take() {
                Some(old) if old.starts_with('/') || value.starts_with('/') => {
                    return Err(Error::Usage("bad usage".into()))
                }
                _ if value.starts_with('/') => Some(value.to_string()),
                previous => {
                    let kind = if long == "map-users" { "u:" } else { "g:" };
                    let mut all = previous.map(|p| p + " ").unwrap_or_default();
                    all.push_str(kind);
                    all.push_str(value);
                    Some(all)
                }
            };
        }
        "target-prefix" => o.target_prefix = Some(parser.value().map_err(&usage)?),
        "options-mode" => {
            o.options_mode = match choice(&["ignore", "append", "prepend", "replace"])?.as_str() {
                "ignore" => OptionsMode::Ignore,
                "append" => OptionsMode::Append,
                "replace" => OptionsMode::Replace,
                _ => OptionsMode::Prepend,
            }
        }
        "options-source" => {
            let value = choice(&["fstab", "mtab", "disable"])?;
            if !value.is_empty() {
                let has = |word: &str| value.split(',').any(|item| item == word);
                // disable: no table completes a mount (-a still joins its
                // entries' options, as util-linux does).
                o.tables_off = if has("disable") {
                    TablesOff {
                        fstab: true,
                        mtab: true,
                    }
                } else {
                    TablesOff {
                        fstab: !has("fstab"),
                        mtab: !has("mtab"),
                    }
                };
            }
        }
        "options-source-force" => o.options_source_force = true,
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

#[cfg(test)]
mod tests;
