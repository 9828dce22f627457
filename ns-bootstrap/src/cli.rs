//! ns-bootstrap's command line, debootstrap's:
//! `[OPTION...] SUITE TARGET [MIRROR [SCRIPT]]`.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::Arg::{Long, Short, Value};
use ns_getopt::{Complete, Opt, Style, Tool};

use crate::compression::Compression;
use crate::hooks::Stage;
pub use crate::index::GpgCheck;
pub use crate::resolve::Variant;
use crate::Error;

/// The option table: parsing and `--help` come from it. Options are in
/// the order debootstrap's `--help` lists them.
pub const TOOL: Tool = Tool {
    name: "ns-bootstrap",
    reference: "debootstrap",
    section: 8,
    summary: "build a verified Debian base system in a directory",
    usage: &["[OPTION...] SUITE TARGET [MIRROR [SCRIPT]]"],
    description: "Build a Debian base system in TARGET from MIRROR, verified end to end: the
Release signature, the Packages index and every package.",
    options: &[
        Opt::flag(None, "help", "display this help and exit"),
        Opt::flag(None, "version", "output version information and exit"),
        Opt::flag(None, "verbose", "report every step, not only the main ones"),
        Opt::flag(
            None,
            "print-debs",
            "print the packages that would be installed, and exit",
        ),
        Opt::flag(
            None,
            "download-only",
            "download and verify the packages only",
        ),
        Opt::required(
            None,
            "arch",
            "ARCH",
            Complete::Nothing,
            "the architecture (default: the host's)",
        ),
        Opt::required(
            None,
            "include",
            "A,B,...",
            Complete::Nothing,
            "install these packages too",
        ),
        Opt::required(
            None,
            "exclude",
            "A,B,...",
            Complete::Nothing,
            "never install these packages",
        ),
        Opt::required(
            None,
            "components",
            "A,B,...",
            Complete::Nothing,
            "archive components to use (default: main)",
        ),
        Opt::required(
            None,
            "extra-suites",
            "A,B,...",
            Complete::Nothing,
            "more suites (bookworm-updates, bookworm-security), in sources.list too",
        ),
        Opt::required(
            None,
            "variant",
            "VARIANT",
            Complete::Words("minbase buildd default"),
            "minbase (required + apt), buildd, or default",
        ),
        Opt::flag(
            None,
            "merged-usr",
            "/bin, /sbin and /lib as symlinks into /usr",
        ),
        Opt::flag(
            None,
            "no-merged-usr",
            "separate /bin, /sbin and /lib (before bookworm)",
        ),
        Opt::required(
            None,
            "keyring",
            "FILE",
            Complete::Files,
            "OpenPGP keyring that signs the archive",
        ),
        Opt::flag(
            None,
            "no-check-gpg",
            "do not check the Release signature (hashes still are)",
        ),
        Opt::flag(
            None,
            "force-check-gpg",
            "insist on the signature check (the default)",
        ),
        Opt::flag(
            None,
            "check-valid-until",
            "refuse a Release past its Valid-Until (apt's rule)",
        ),
        Opt::required(
            None,
            "cache-dir",
            "DIR",
            Complete::Dirs,
            "where verified packages are kept",
        ),
        Opt::required(
            None,
            "make-tarball",
            "FILE",
            Complete::Files,
            "download into tarball FILE (TARGET: a work dir)",
        ),
        Opt::required(
            None,
            "unpack-tarball",
            "FILE",
            Complete::Files,
            "indexes and packages from a --make-tarball FILE",
        ),
        Opt::required(
            None,
            "mode",
            "MODE",
            Complete::Words("auto root unshare"),
            "root, or unshare (a user namespace); auto: by user",
        ),
        Opt::required(
            None,
            "format",
            "FORMAT",
            Complete::Words("auto directory tar tar.gz tar.xz tar.zst oci oci-archive"),
            "directory, tar[.gz|.xz|.zst], oci, oci-archive, or auto",
        ),
        Opt::required(
            None,
            "compress",
            "KIND",
            Complete::Words("gzip zstd none"),
            "an OCI image's layer: gzip (the default), zstd or none",
        ),
        Opt::required(
            None,
            "oci-ref",
            "NAME",
            Complete::Nothing,
            "an OCI image's ref name (default: SUITE)",
        ),
        Opt::flag(
            None,
            "reproducible",
            "times: SOURCE_DATE_EPOCH, else the Release's Date",
        ),
        Opt::required(
            None,
            "setup-hook",
            "COMMAND",
            Complete::Nothing,
            "run COMMAND (or a file) with TARGET as $1 before downloading",
        ),
        Opt::required(
            None,
            "extract-hook",
            "COMMAND",
            Complete::Nothing,
            "... once unpacked, before configuring",
        ),
        Opt::required(
            None,
            "essential-hook",
            "COMMAND",
            Complete::Nothing,
            "... once configured",
        ),
        Opt::required(
            None,
            "customize-hook",
            "COMMAND",
            Complete::Nothing,
            "... last, before a tarball or image is written",
        ),
        Opt::required(
            None,
            "hook-directory",
            "DIR",
            Complete::Dirs,
            "DIR's executables named setup*, extract*, essential*, customize*",
        ),
        Opt::flag(None, "foreign", "unpack only; --second-stage configures"),
        Opt::flag(
            None,
            "second-stage",
            "configure a system unpacked with --foreign",
        ),
        Opt::required(
            None,
            "second-stage-target",
            "DIR",
            Complete::Dirs,
            "the system --second-stage configures (default: /)",
        ),
    ],
    notes: "SUITE is a code name or an alias (bookworm, trixie, stable, ...). MIRROR
defaults to the first Debian mirror in the host's apt sources (with
--unpack-tarball, the one the tarball was made from). TARGET may be
a tarball: FILE.tar, .tar.gz, .tar.xz, .tar.zst, or - for standard output;
device nodes are then tar headers and owners are numeric. As a normal user
(--mode=unshare) the build runs in a user namespace with the subordinate
ids of /etc/subuid and /etc/subgid (through newuidmap and newgidmap); a
directory built so has those shifted ids on disk, a tarball the real ones.
With SOURCE_DATE_EPOCH set (or --reproducible) two builds give the same
bytes: sorted entries, clamped times, no logs or caches that vary. SCRIPT is
accepted for compatibility and ignored: the suite rules are built in.
The default keyring is /usr/share/keyrings/debian-archive-keyring.gpg, the
default cache /var/cache/ns-bootstrap (for a normal user
~/.cache/ns-bootstrap). --foreign leaves /debootstrap/debootstrap, to run
as `/debootstrap/debootstrap --second-stage` inside TARGET. buildd adds
build-essential to minbase; default takes Priority required and important.
A Release past its Valid-Until is used with a warning, as debootstrap does;
--check-valid-until refuses it, as apt does. A Release older than the one
already verified in the cache is refused.

Exit status: 0 when TARGET is a configured system, 1 on any failure (the
log is then in TARGET/debootstrap/debootstrap.log).",
    operands: Complete::Dirs,
    style: Style::Coreutils,
};

/// Who builds: root itself, or a user namespace (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Root when run as root, else unshare.
    #[default]
    Auto,
    Root,
    Unshare,
}

/// TARGET's format (`--format`); `None` in [`Bootstrap::format`] guesses
/// from the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Directory,
    Tar(Compression),
    /// An OCI image: a layout directory, or (`archive`) that layout as one
    /// tar (skopeo's `oci-archive:`).
    Oci {
        archive: bool,
    },
}

impl Format {
    /// What a TARGET name says: `*.oci` is an image layout, `*.oci.tar` an
    /// image archive, `-` and `*.tar[.gz|.xz|.zst]` (also `.tgz`, `.txz`,
    /// `.tzst`) are tarballs, anything else a directory.
    pub fn guess(target: &std::path::Path) -> Format {
        let name = target.to_string_lossy();
        if name == "-" {
            return Format::Tar(Compression::None);
        }
        if name.ends_with(".oci") {
            return Format::Oci { archive: false };
        }
        if name.ends_with(".oci.tar") {
            return Format::Oci { archive: true };
        }
        Compression::from_tarball_name(&name)
            .map(Format::Tar)
            .unwrap_or(Format::Directory)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bootstrap {
    pub suite: String,
    pub target: PathBuf,
    pub mirror: Option<String>,
    /// Accepted for compatibility; the suite's behaviour is built in.
    pub script: Option<PathBuf>,
    pub arch: Option<String>,
    pub variant: Variant,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub components: Vec<String>,
    /// `--extra-suites`.
    pub extra_suites: Vec<String>,
    pub keyring: Option<PathBuf>,
    pub gpg: GpgCheck,
    /// `--check-valid-until`: a Release past its Valid-Until is an error.
    pub check_valid_until: bool,
    pub cache_dir: Option<PathBuf>,
    pub download_only: bool,
    pub print_debs: bool,
    /// `None`: the suite's default (merged from bookworm on).
    pub merged_usr: Option<bool>,
    pub verbose: bool,
    pub mode: Mode,
    /// `None`: guessed from TARGET ([`Format::guess`]).
    pub format: Option<Format>,
    /// `--compress`: an OCI image's layer compression.
    pub compress: Option<Compression>,
    /// `--oci-ref`: an OCI image's ref name.
    pub oci_ref: Option<String>,
    /// `--setup-hook` and the others, `--hook-directory`.
    pub hooks: crate::hooks::Hooks,
    pub reproducible: bool,
    pub foreign: bool,
    /// `--second-stage`: TARGET is what to configure (`/` by default).
    pub second_stage: bool,
    /// `--make-tarball=FILE` (implies `download_only`).
    pub make_tarball: Option<PathBuf>,
    pub unpack_tarball: Option<PathBuf>,
}

impl Bootstrap {
    pub fn format(&self) -> Format {
        self.format.unwrap_or_else(|| Format::guess(&self.target))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Help,
    Version,
    Bootstrap(Box<Bootstrap>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
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
    let invoked_as = ns_getopt::invoked_name(parser.bin_name().map(AsRef::as_ref), "ns-bootstrap");
    match parse_options(&mut parser) {
        Ok(action) => Ok(Options { invoked_as, action }),
        Err(error) => Err((invoked_as, error)),
    }
}

fn parse_options(parser: &mut lexopt::Parser) -> Result<Action, Error> {
    let usage = |error| Error::from(TOOL.usage_error(error));
    let mut b = Bootstrap::default();
    let mut operands: Vec<OsString> = Vec::new();
    let mut second_stage_target: Option<String> = None;
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Long(name) => {
                let name = TOOL.resolve_long_arg(&String::from(name), parser)?;
                let mut value = || parser.value().map(string).map_err(usage);
                match name {
                    "help" => return Ok(Action::Help),
                    "version" => return Ok(Action::Version),
                    "verbose" => b.verbose = true,
                    "print-debs" => b.print_debs = true,
                    "download-only" => b.download_only = true,
                    "arch" => b.arch = Some(value()?),
                    "include" => b.include.extend(list(&value()?)),
                    "exclude" => b.exclude.extend(list(&value()?)),
                    "components" => b.components = list(&value()?),
                    "extra-suites" => b.extra_suites.extend(list(&value()?)),
                    "variant" => b.variant = variant(&value()?)?,
                    "merged-usr" => b.merged_usr = Some(true),
                    "no-merged-usr" => b.merged_usr = Some(false),
                    "keyring" => b.keyring = Some(value()?.into()),
                    "no-check-gpg" => b.gpg = GpgCheck::Skip,
                    "force-check-gpg" => b.gpg = GpgCheck::Force,
                    "check-valid-until" => b.check_valid_until = true,
                    "cache-dir" => b.cache_dir = Some(value()?.into()),
                    "make-tarball" => {
                        b.make_tarball = Some(value()?.into());
                        b.download_only = true;
                    }
                    "unpack-tarball" => b.unpack_tarball = Some(value()?.into()),
                    "mode" => b.mode = mode(&value()?)?,
                    "format" => b.format = format(&value()?)?,
                    "compress" => b.compress = Some(compress(&value()?)?),
                    "oci-ref" => b.oci_ref = Some(value()?),
                    "setup-hook" => b.hooks.hooks.push((Stage::Setup, value()?)),
                    "extract-hook" => b.hooks.hooks.push((Stage::Extract, value()?)),
                    "essential-hook" => b.hooks.hooks.push((Stage::Essential, value()?)),
                    "customize-hook" => b.hooks.hooks.push((Stage::Customize, value()?)),
                    "hook-directory" => b.hooks.directories.push(value()?.into()),
                    "reproducible" => b.reproducible = true,
                    "foreign" => b.foreign = true,
                    "second-stage" => b.second_stage = true,
                    "second-stage-target" => second_stage_target = Some(value()?),
                    other => unreachable!("option --{other} is in the table but not handled"),
                }
            }
            Short(_) => return Err(ns_getopt::unknown(arg).into()),
            Value(operand) => operands.push(operand),
        }
    }
    if b.second_stage {
        // debootstrap's second stage takes no operands: it runs inside
        // the target, or names it with --second-stage-target.
        if let Some(extra) = operands.first() {
            return Err(Error::Usage(format!(
                "extra operand '{}' (--second-stage takes none)",
                extra.to_string_lossy()
            )));
        }
        b.target = second_stage_target
            .unwrap_or_else(|| "/".to_string())
            .into();
        return Ok(Action::Bootstrap(Box::new(b)));
    }
    if second_stage_target.is_some() {
        return Err(Error::Usage(
            "--second-stage-target needs --second-stage".to_string(),
        ));
    }
    if !b.extra_suites.is_empty() && (b.make_tarball.is_some() || b.unpack_tarball.is_some()) {
        return Err(Error::Usage(
            "--extra-suites is not kept in a --make-tarball tarball".to_string(),
        ));
    }
    if b.make_tarball.is_some() && b.unpack_tarball.is_some() {
        return Err(Error::Usage(
            "--make-tarball and --unpack-tarball exclude each other".to_string(),
        ));
    }
    let mut operands = operands.into_iter();
    let (Some(suite), Some(target)) = (operands.next(), operands.next()) else {
        return Err(Error::Usage(
            "missing operand: SUITE and TARGET are required".to_string(),
        ));
    };
    b.suite = string(suite);
    b.target = target.into();
    b.mirror = operands.next().map(string);
    b.script = operands.next().map(PathBuf::from);
    if let Some(extra) = operands.next() {
        return Err(Error::Usage(format!(
            "extra operand '{}'",
            extra.to_string_lossy()
        )));
    }
    if b.suite.is_empty() || b.target.as_os_str().is_empty() {
        return Err(Error::Usage(
            "SUITE and TARGET must not be empty".to_string(),
        ));
    }
    match b.format() {
        Format::Oci { archive: false } if b.target.as_os_str() == "-" => {
            return Err(Error::Usage(
                "an OCI image layout is a directory: use --format=oci-archive for standard output"
                    .to_string(),
            ))
        }
        Format::Oci { .. } => {}
        _ if b.compress.is_some() || b.oci_ref.is_some() => {
            return Err(Error::Usage(
                "--compress and --oci-ref are for OCI images (TARGET.oci, TARGET.oci.tar, \
                 --format=oci or --format=oci-archive)"
                    .to_string(),
            ))
        }
        _ => {}
    }
    Ok(Action::Bootstrap(Box::new(b)))
}

fn string(value: OsString) -> String {
    value.to_string_lossy().into_owned()
}

/// `a,b c` → `[a, b, c]`: debootstrap splits on commas (and spaces).
fn list(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

fn variant(value: &str) -> Result<Variant, Error> {
    match value {
        "minbase" => Ok(Variant::Minbase),
        "buildd" => Ok(Variant::Buildd),
        "" | "-" | "default" => Ok(Variant::Default),
        other => Err(Error::Usage(format!(
            "unknown variant '{other}' (known: minbase, buildd, default)"
        ))),
    }
}

fn mode(value: &str) -> Result<Mode, Error> {
    match value {
        "auto" => Ok(Mode::Auto),
        "root" | "sudo" => Ok(Mode::Root),
        "unshare" => Ok(Mode::Unshare),
        other => Err(Error::Usage(format!(
            "unknown mode '{other}' (known: auto, root, unshare)"
        ))),
    }
}

fn format(value: &str) -> Result<Option<Format>, Error> {
    match value {
        "auto" => Ok(None),
        "directory" | "dir" => Ok(Some(Format::Directory)),
        "tar" => Ok(Some(Format::Tar(Compression::None))),
        "tar.gz" | "tgz" => Ok(Some(Format::Tar(Compression::Gzip))),
        "tar.xz" | "txz" => Ok(Some(Format::Tar(Compression::Xz))),
        "tar.zst" | "tzst" => Ok(Some(Format::Tar(Compression::Zstd))),
        "oci" => Ok(Some(Format::Oci { archive: false })),
        "oci-archive" => Ok(Some(Format::Oci { archive: true })),
        other => Err(Error::Usage(format!(
            "unknown format '{other}' (known: auto, directory, tar, tar.gz, tar.xz, tar.zst, oci, \
             oci-archive)"
        ))),
    }
}

fn compress(value: &str) -> Result<Compression, Error> {
    match value {
        "gzip" | "gz" => Ok(Compression::Gzip),
        "zstd" | "zst" => Ok(Compression::Zstd),
        "none" => Ok(Compression::None),
        other => Err(Error::Usage(format!(
            "unknown layer compression '{other}' (known: gzip, zstd, none)"
        ))),
    }
}

pub fn help(prog: &str) -> String {
    TOOL.help(prog)
}

pub fn version(prog: &str) -> String {
    format!("{prog} (nstools) {}\n", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(args: &[&str]) -> Bootstrap {
        let argv = std::iter::once("ns-bootstrap").chain(args.iter().copied());
        match parse(argv).map_err(|(_, e)| e.to_string()).unwrap().action {
            Action::Bootstrap(b) => *b,
            other => panic!("expected a bootstrap, got {other:?}"),
        }
    }

    fn parse_err(args: &[&str]) -> String {
        let argv = std::iter::once("ns-bootstrap").chain(args.iter().copied());
        let (_, error) = parse(argv).unwrap_err();
        assert_eq!(error.exit_code(), 1);
        error.to_string()
    }

    #[test]
    fn suite_target_mirror() {
        let b = parse_ok(&["--variant=minbase", "bookworm", "/tmp/x", "http://m/debian"]);
        assert_eq!(b.suite, "bookworm");
        assert_eq!(b.target, PathBuf::from("/tmp/x"));
        assert_eq!(b.mirror.as_deref(), Some("http://m/debian"));
        assert_eq!(b.variant, Variant::Minbase);
        assert_eq!(b.script, None);
    }

    #[test]
    fn lists_and_flags() {
        let b = parse_ok(&[
            "--include=a,b",
            "--include",
            "c",
            "--exclude=d",
            "--components=main,contrib",
            "--no-check-gpg",
            "--cache-dir",
            "/c",
            "--print-debs",
            "--no-merged-usr",
            "s",
            "t",
        ]);
        assert_eq!(b.include, ["a", "b", "c"]);
        assert_eq!(b.exclude, ["d"]);
        assert_eq!(b.components, ["main", "contrib"]);
        assert_eq!(b.gpg, GpgCheck::Skip);
        assert_eq!(b.cache_dir, Some(PathBuf::from("/c")));
        assert!(b.print_debs);
        assert_eq!(b.merged_usr, Some(false));
    }

    #[test]
    fn abbreviations_resolve() {
        let b = parse_ok(&["--var=buildd", "--download", "s", "t"]);
        assert_eq!(b.variant, Variant::Buildd);
        assert!(b.download_only);
    }

    #[test]
    fn errors() {
        assert!(parse_err(&["bookworm"]).contains("missing operand"));
        assert!(parse_err(&["--variant=fancy", "s", "t"]).contains("unknown variant"));
        assert!(parse_err(&["s", "t", "m", "x", "y"]).contains("extra operand"));
        assert_eq!(
            parse_err(&["--bogus", "s", "t"]),
            "unrecognized option '--bogus'"
        );
        assert_eq!(
            parse_err(&["--arch"]),
            "option '--arch' requires an argument"
        );
    }

    #[test]
    fn formats_modes_and_stages() {
        assert_eq!(parse_ok(&["s", "t"]).format(), Format::Directory);
        assert_eq!(
            parse_ok(&["s", "out.tar.zst"]).format(),
            Format::Tar(Compression::Zstd)
        );
        assert_eq!(
            parse_ok(&["s", "-"]).format(),
            Format::Tar(Compression::None)
        );
        assert_eq!(
            parse_ok(&["--format=tar.gz", "s", "out"]).format(),
            Format::Tar(Compression::Gzip)
        );
        assert_eq!(
            parse_ok(&["--format=directory", "s", "x.tar"]).format(),
            Format::Directory
        );
        assert_eq!(parse_ok(&["--mode=unshare", "s", "t"]).mode, Mode::Unshare);
        let b = parse_ok(&["--second-stage"]);
        assert!(b.second_stage);
        assert_eq!(b.target, PathBuf::from("/"));
        let b = parse_ok(&["--second-stage", "--second-stage-target=/srv/t"]);
        assert_eq!(b.target, PathBuf::from("/srv/t"));
        assert!(parse_err(&["--mode=fake", "s", "t"]).contains("unknown mode"));
        assert!(parse_err(&["--format=zip", "s", "t"]).contains("unknown format"));
        assert_eq!(
            parse_ok(&["s", "debian.oci"]).format(),
            Format::Oci { archive: false }
        );
        assert_eq!(
            parse_ok(&["s", "debian.oci.tar"]).format(),
            Format::Oci { archive: true }
        );
        let b = parse_ok(&[
            "--format=oci-archive",
            "--compress=zstd",
            "--oci-ref=x",
            "s",
            "-",
        ]);
        assert_eq!(b.compress, Some(Compression::Zstd));
        assert_eq!(b.oci_ref.as_deref(), Some("x"));
        assert!(parse_err(&["--format=oci", "s", "-"]).contains("oci-archive"));
        assert!(parse_err(&["--compress=zstd", "s", "t.tar"]).contains("OCI"));
        assert!(parse_err(&["--compress=xz", "s", "t.oci"]).contains("layer compression"));
        assert!(parse_ok(&["--foreign", "s", "t.tar"]).foreign);
        assert!(parse_err(&["--second-stage", "s"]).contains("extra operand"));
        let b = parse_ok(&["--make-tarball=debs.tgz", "s", "work"]);
        assert_eq!(b.make_tarball, Some(PathBuf::from("debs.tgz")));
        assert!(b.download_only);
        assert!(
            parse_err(&["--make-tarball=a", "--unpack-tarball=b", "s", "t"]).contains("exclude")
        );
    }

    #[test]
    fn help_and_version() {
        let argv = ["ns-bootstrap", "--help", "x"];
        assert_eq!(parse(argv).unwrap().action, Action::Help);
        let argv = ["ns-bootstrap", "--version"];
        assert_eq!(parse(argv).unwrap().action, Action::Version);
    }
}
