//! ns-umount's command line: argv parsed into [`Options`].

use std::ffi::OsString;
use std::path::PathBuf;

use ns_getopt::{text, Complete, Exclusive, Key, Opt, Style, Tool};

use crate::error::Error;
use crate::privilege::Privilege;

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
            "don't call the umount.<type> helpers",
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

/// The options a caller without privileges may give a set-user-ID umount
/// (util-linux's list).
const RESTRICTED_OK: &str = "hdilqVv";

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub invoked_as: String,
    /// The restricted mode, as the command line left it.
    pub privilege: Privilege,
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
    /// `-i`: no `umount.<type>` helper; `-n`: passed on to one.
    pub internal_only: bool,
    pub no_mtab: bool,
    pub test_opts: Option<String>,
    pub types: Option<String>,
    pub namespace: Option<PathBuf>,
    /// Targets or sources, as bytes: the path unmounted is the one named.
    pub operands: Vec<OsString>,
}

impl ns_getopt::Invoked for Options {
    fn invoked_as(&self) -> &str {
        &self.invoked_as
    }
}

/// Pairs (and a triple) util-linux refuses together.
const EXCLUSIVE: &[&[&str]] = &[
    &["all-targets", "all"],
    &["recursive", "all"],
    &["test-opts", "recursive", "types"],
    &["recursive", "read-only"],
];

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
    parse_into(parser, &mut o).map(|()| o)
}

fn parse_into(parser: &mut lexopt::Parser, o: &mut Options) -> Result<(), Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut exclusive = Exclusive::new(EXCLUSIVE);
    while let Some(key) = TOOL.next_key(parser, &mut exclusive, &mut o.operands)? {
        let allowed = matches!(key, Key::Short(c) if RESTRICTED_OK.contains(c));
        if o.privilege.is_restricted() && !allowed {
            // -c would let the caller name paths unchecked: ignored, as
            // util-linux ignores it; anything else makes umount carry on
            // as the caller.
            if key == Key::Short('c') {
                continue;
            }
            o.privilege.drop_to_caller(&ns_sys::Linux)?;
        }
        match key {
            Key::Short('a') => o.all = true,
            Key::Short('A') => o.all_targets = true,
            Key::Short('c') => o.no_canonicalize = true,
            Key::Short('d') => o.detach_loop = true,
            Key::Long("fake") => o.fake = true,
            Key::Short('f') => o.force = true,
            Key::Short('i') => o.internal_only = true,
            Key::Short('n') => o.no_mtab = true,
            Key::Short('l') => o.lazy = true,
            Key::Short('q') => o.quiet = true,
            Key::Short('r') => o.read_only = true,
            Key::Short('R') => o.recursive = true,
            Key::Short('O') => o.test_opts = Some(text(parser.value().map_err(usage)?)),
            Key::Short('t') => o.types = Some(text(parser.value().map_err(usage)?)),
            Key::Short('v') => o.verbose = true,
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
            _ => return Err(key.unknown().into()),
        }
    }
    Ok(())
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
    fn exclusive_rows_ascend_as_util_linux_needs() {
        assert!(Exclusive::new(EXCLUSIVE).rows_ascend(&TOOL));
    }
}
