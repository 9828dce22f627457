//! ns-bootstrap: build a Debian root filesystem, verified end to end, as
//! `debootstrap` does, faster.
//!
//! A bootstrap runs in stages, each a module:
//! 1. **indexes** ([`index`]): the mirror from the host's apt [`sources`],
//!    the signed [`release`] file checked by [`gpg`], each [`packages`]
//!    index checked against it;
//! 2. **selection** ([`resolve`]): the variant's packages and their
//!    dependency closure;
//! 3. **fetch** ([`download`]): parallel verified downloads into a cache
//!    keyed by content;
//! 4. **unpack** ([`unpack`]): [`deb`] decoding on every core, safe
//!    [`extract`]ion in package order, the [`skeleton`] debootstrap adds,
//!    and the dpkg database of the unpacked packages ([`dpkgdb`]);
//! 5. **configure** ([`configure`]): the target's own dpkg inside a
//!    private mount and PID namespace ([`sandbox`]);
//! 6. **output** ([`output`], [`tarball`], [`offline`]): a directory, a
//!    tarball, or packages only.
//!
//! Everything written inside TARGET goes through [`rooted::Root`], so that
//! nothing TARGET holds (a tarball's entries, a package's data, an earlier
//! run's leftovers) can send a write outside it.

pub mod cli;
pub mod compression;
pub mod configure;
pub mod deb;
pub mod download;
pub mod dpkgdb;
mod error;
pub mod extract;
pub mod gpg;
pub mod hooks;
pub mod index;
pub mod local;
pub mod oci;
pub mod offline;
pub mod output;
pub mod packages;
pub mod progress;
pub mod release;
pub mod resolve;
pub mod rooted;
pub mod sandbox;
pub mod skeleton;
pub mod sources;
pub mod suite;
pub mod tarball;
pub mod transport;
pub mod unpack;
pub mod userns;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use cli::{Action, Bootstrap, Format, Options};
use compression::Compression;
pub use error::Error;
use progress::Reporter;
use rooted::Root;

pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
pub const DEFAULT_CACHE: &str = "/var/cache/ns-bootstrap";

/// Parses argv, runs, and reports an error as debootstrap does.
pub fn main<I>(args: I) -> ExitCode
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let (prog, result) = match cli::parse(args) {
        Ok(options) => (options.invoked_as.clone(), run(&options)),
        Err((prog, error)) => (prog, Err(error)),
    };
    ns_getopt::finish(&prog, result)
}

pub fn run(options: &Options) -> Result<ExitCode, Error> {
    let prog = &options.invoked_as;
    match &options.action {
        Action::Help => print_stdout(&cli::help(prog)),
        Action::Version => print_stdout(&cli::version(prog)),
        Action::Bootstrap(b) => bootstrap(b, prog).map(|()| ExitCode::SUCCESS),
    }
}

fn print_stdout(text: &str) -> Result<ExitCode, Error> {
    ns_getopt::print_stdout(text)
        .map(|()| ExitCode::SUCCESS)
        .map_err(|error| Error::failed("write error", error))
}

/// What the run is for: the flags of debootstrap's command line, as one
/// choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Goal<'a> {
    /// --print-debs: the package set, nothing written.
    PrintDebs,
    /// --download-only: verified packages in TARGET's apt cache.
    DownloadOnly,
    /// --make-tarball=FILE: indexes and packages in FILE.
    MakeTarball(&'a Path),
    /// --foreign (or a single-id namespace): unpacked, the second stage
    /// left in TARGET.
    Unpack,
    /// A configured system.
    Install,
}

impl Goal<'_> {
    fn of(b: &Bootstrap) -> Goal<'_> {
        if b.print_debs {
            Goal::PrintDebs
        } else if let Some(file) = &b.make_tarball {
            Goal::MakeTarball(file)
        } else if b.download_only {
            Goal::DownloadOnly
        } else if b.foreign {
            Goal::Unpack
        } else {
            Goal::Install
        }
    }

    /// Whether a system is built (so TARGET's format matters).
    fn builds(self) -> bool {
        matches!(self, Goal::Unpack | Goal::Install)
    }
}

/// A MIRROR as debootstrap takes it: `http://`, `https://` or `file://`,
/// or a directory's path (read as `file://`).
fn mirror_url(mirror: &str) -> Result<String, Error> {
    if mirror.starts_with('/') {
        return Ok(format!("file://{mirror}"));
    }
    for scheme in ["http://", "https://", "file://"] {
        if mirror.starts_with(scheme) {
            return Ok(mirror.to_string());
        }
    }
    Err(Error::Usage(format!(
        "MIRROR '{mirror}': an http://, https:// or file:// URL, or a directory's path, is \
         expected"
    )))
}

/// The mirror of an extra suite: the host's apt sources' for it, else
/// the main mirror, or for a `-security` suite its sibling archive
/// (`…/debian` → `…/debian-security`, Debian's layout).
fn extra_mirror(suite: &str, main: &str) -> String {
    let host = sources::host_sources(Path::new("/etc/apt"));
    if let Some(source) = host.iter().find(|s| s.suites.iter().any(|s| s == suite)) {
        if let Ok(url) = mirror_url(source.uri.trim_end_matches('/')) {
            return url;
        }
    }
    if suite.ends_with("-security") {
        if let Some((parent, last)) = main.rsplit_once('/') {
            if !last.ends_with("-security") {
                return format!("{parent}/{last}-security");
            }
        }
    }
    main.to_string()
}

/// SOURCE_DATE_EPOCH, when set to a number.
fn source_date_epoch() -> Result<Option<u64>, Error> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.is_empty() => text.trim().parse().map(Some).map_err(|_| {
            Error::Usage(format!(
                "SOURCE_DATE_EPOCH '{text}' is not a number of seconds"
            ))
        }),
        _ => Ok(None),
    }
}

/// The default package cache: the system's as root, else the user's.
fn default_cache() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from(DEFAULT_CACHE);
    }
    match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(dir), _) if !dir.is_empty() => PathBuf::from(dir).join("ns-bootstrap"),
        (_, Some(home)) if !home.is_empty() => PathBuf::from(home).join(".cache/ns-bootstrap"),
        _ => std::env::temp_dir().join(format!(
            "ns-bootstrap-cache-{}",
            nix::unistd::getuid().as_raw()
        )),
    }
}

/// Each package's verified cache file stays open from its check to its
/// unpacking (so the bytes unpacked are the bytes checked): the soft
/// descriptor limit is raised to the hard one, as large sets need it.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn bootstrap(b: &Bootstrap, prog: &str) -> Result<(), Error> {
    let reporter = Reporter::new(b.verbose);
    // The directories made here (the merged-/usr links' targets, /dev's)
    // get the same modes whatever the caller's umask: a reproducible
    // build must not depend on it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    raise_descriptor_limit();
    let real_root = nix::unistd::geteuid().is_root();
    let mode = match b.mode {
        cli::Mode::Auto if real_root => cli::Mode::Root,
        cli::Mode::Auto => cli::Mode::Unshare,
        other => other,
    };
    if mode == cli::Mode::Root && !real_root {
        return Err(Error::Refused(
            "--mode=root needs root: as a normal user use --mode=unshare".to_string(),
        ));
    }
    let goal = Goal::of(b);
    let epoch = source_date_epoch()?;
    let arch = b
        .arch
        .clone()
        .unwrap_or_else(|| suite::host_arch().to_string());
    if !packages::valid_architecture(&arch) {
        return Err(Error::Usage(format!(
            "'{arch}' is not an architecture name"
        )));
    }
    // The namespace before any thread starts (and before any file is
    // made, so that they all belong to the namespace's root).
    let mapping = if mode == cli::Mode::Unshare && goal != Goal::PrintDebs {
        Some(userns::enter(prog)?)
    } else {
        None
    };
    let single = mapping == Some(userns::Mapping::Single);
    if single {
        reporter.warn(
            "no subordinate ids for this user in /etc/subuid and /etc/subgid (or no \
             newuidmap/newgidmap): only your own id is mapped, so every file on disk \
             belongs to root (a tarball keeps the packages' owners) and no maintainer \
             script could change an owner; the build stops after unpacking, as with \
             --foreign: run the second stage as root",
        );
    }
    if b.second_stage {
        return Ok(configure::second_stage(
            &b.target,
            mapping.is_some(),
            &reporter,
        )?);
    }
    if mapping.is_some() && b.format() == Format::Directory && goal.builds() {
        reporter.warn(
            "a user namespace cannot make device nodes: TARGET/dev gets none (a tarball \
             has them as headers)",
        );
    }
    if let Some(script) = &b.script {
        reporter.warn(&format!(
            "SCRIPT {} is ignored: the suite rules are built in",
            script.display()
        ));
    }
    if goal == Goal::Install && !single && !suite::can_run(&arch) {
        return Err(Error::Refused(format!(
            "this machine cannot run {arch} binaries (no enabled binfmt_misc entry \
             qemu-{}): use --foreign, then --second-stage where they run",
            suite::qemu_name(&arch)
        )));
    }
    let output = match b.format() {
        Format::Tar(compression) if goal.builds() => Output::Tarball(compression),
        Format::Oci { archive } if goal.builds() => Output::Image { archive },
        _ => Output::Directory,
    };
    if output == (Output::Image { archive: false }) {
        output::check_image_target(&b.target)?;
    }
    // A tarball or an image is written from a private build directory
    // beside it (or in TMPDIR for standard output), removed afterwards,
    // also when the build is killed.
    let build_dir = (output != Output::Directory)
        .then(|| output::BuildDir::new(&b.target))
        .transpose()?;
    if let Some(dir) = &build_dir {
        if let Some(done) = output::clean_after_child(dir)? {
            return done;
        }
    }
    let root_path = build_dir
        .as_ref()
        .map_or_else(|| b.target.clone(), |d| d.root());
    let root = if goal == Goal::PrintDebs {
        None
    } else {
        std::fs::create_dir_all(&root_path)
            .map_err(|e| Error::failed(format_args!("cannot create {}", root_path.display()), e))?;
        let root = Root::open(&root_path)
            .map_err(|e| Error::failed(format_args!("cannot open {}", root_path.display()), e))?;
        // debootstrap logs to TARGET/debootstrap/debootstrap.log from the
        // start; the log stays there only when the bootstrap fails.
        root.create_dir_all("debootstrap").map_err(|e| {
            Error::failed(
                format_args!("cannot create {}", root.show("debootstrap")),
                e,
            )
        })?;
        Some(root)
    };
    let build = Build::prepare(b, &reporter, root.as_ref(), mapping, epoch, arch, prog);
    let mut result = build.and_then(|build| {
        let outcome = build.go();
        if build.offline.is_some() {
            if let Some(root) = &root {
                let _ = root.remove_all(offline::OFFLINE_DIR);
            }
        }
        outcome
    });
    if let (Ok(outcome), Some(dir), Some(root)) = (&result, &build_dir, &root) {
        if goal == Goal::Unpack || single {
            // The second stage stays in /debootstrap; the log goes.
            let _ = root.remove_file(output::LOG);
        } else {
            let _ = root.remove_all("debootstrap");
        }
        let written = match output {
            Output::Tarball(compression) => output::write_tarball(
                &dir.root(),
                &b.target,
                compression,
                outcome.epoch,
                &outcome.unmapped_owners,
                &reporter,
            ),
            Output::Image { archive } => output::write_image(
                dir,
                &b.target,
                archive,
                &image(b, outcome),
                outcome.epoch,
                &outcome.unmapped_owners,
                &reporter,
            ),
            Output::Directory => Ok(()),
        };
        if let Err(e) = written {
            result = Err(e);
        }
    }
    match (&result, &root) {
        (Ok(_), _) if build_dir.is_some() => {}
        (Ok(outcome), Some(root)) => match goal {
            Goal::Install if !single => {
                output::finish_log(root, outcome.epoch.is_none(), &reporter)
            }
            Goal::MakeTarball(_) => {
                let _ = root.remove_all("debootstrap");
            }
            _ => {}
        },
        (Ok(_), None) => {}
        (Err(error), root) => {
            reporter.error(&error.to_string());
            output::keep_failure_log(root.as_ref(), build_dir.is_some(), &reporter);
        }
    }
    result.map(|_| ()).map_err(|error| match error {
        Error::Usage(_) => error,
        other => Error::Reported(other.to_string()),
    })
}

/// Where a build goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    /// TARGET itself.
    Directory,
    Tarball(Compression),
    /// An OCI image: a layout directory, or (`archive`) that layout in
    /// one tar.
    Image {
        archive: bool,
    },
}

/// What an image says of itself: made as `ns-bootstrap --variant=V
/// SUITE`, at SOURCE_DATE_EPOCH (else now), with provenance annotations
/// that name no mirror.
fn image<'a>(b: &'a Bootstrap, outcome: &'a Outcome) -> oci::Image<'a> {
    let created = outcome.epoch.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    let variant = b.variant.name();
    let mut annotations = vec![
        (
            "org.opencontainers.image.title".to_string(),
            format!("Debian {} ({variant})", outcome.provenance.codename),
        ),
        (
            "org.opencontainers.image.description".to_string(),
            format!(
                "Debian {} {variant} base system, verified and bootstrapped by ns-bootstrap",
                b.suite
            ),
        ),
        ("org.nstools.bootstrap.suite".to_string(), b.suite.clone()),
        (
            "org.nstools.bootstrap.codename".to_string(),
            outcome.provenance.codename.clone(),
        ),
        (
            "org.nstools.bootstrap.variant".to_string(),
            variant.to_string(),
        ),
        (
            "org.nstools.bootstrap.packages".to_string(),
            outcome.provenance.packages.clone(),
        ),
    ];
    if let Some(date) = outcome.provenance.release_date {
        annotations.push((
            "org.nstools.bootstrap.release-date".to_string(),
            release::rfc3339(date),
        ));
    }
    oci::Image {
        arch: &outcome.provenance.arch,
        ref_name: b.oci_ref.as_deref().unwrap_or(&b.suite),
        created,
        compression: b.compress.unwrap_or(Compression::Gzip),
        created_by: format!("ns-bootstrap --variant={variant} {}", b.suite),
        annotations,
    }
}

/// One bootstrap's settings, resolved from the command line.
struct Build<'a> {
    b: &'a Bootstrap,
    /// The name ns-bootstrap was invoked as.
    prog: &'a str,
    goal: Goal<'a>,
    reporter: &'a Reporter,
    http: download::Fetcher,
    mirror: String,
    arch: String,
    cache: PathBuf,
    /// Where the system is built: TARGET, or a tarball's build directory
    /// (`None` for --print-debs).
    root: Option<&'a Root>,
    /// The user namespace's mapping in --mode=unshare.
    mapping: Option<userns::Mapping>,
    /// --unpack-tarball: the cache it brought, inside the root.
    offline: Option<PathBuf>,
    /// --extra-suites: (suite, its mirror).
    extra_suites: Vec<(String, String)>,
    /// SOURCE_DATE_EPOCH.
    epoch: Option<u64>,
}

/// What a good build leaves for the output stage.
struct Outcome {
    /// The time a tarball's entries are clamped to.
    epoch: Option<u64>,
    unmapped_owners: extract::UnmappedOwners,
    provenance: Provenance,
}

/// Where a build came from, in terms that name no mirror.
#[derive(Default)]
struct Provenance {
    arch: String,
    codename: String,
    /// The Release's `Date:`.
    release_date: Option<u64>,
    /// `sha256:` of the package set (`NAME VERSION ARCH` lines, sorted).
    packages: String,
}

impl Outcome {
    /// A run that built no system.
    fn nothing(epoch: Option<u64>) -> Outcome {
        Outcome {
            epoch,
            unmapped_owners: Default::default(),
            provenance: Default::default(),
        }
    }
}

impl<'a> Build<'a> {
    fn prepare(
        b: &'a Bootstrap,
        reporter: &'a Reporter,
        root: Option<&'a Root>,
        mapping: Option<userns::Mapping>,
        epoch: Option<u64>,
        arch: String,
        prog: &'a str,
    ) -> Result<Build<'a>, Error> {
        // --unpack-tarball: the tarball's cache (indexes and packages) is
        // the cache, inside the target; its mirror is the default.
        let offline = match (&b.unpack_tarball, root) {
            (Some(file), Some(root)) => Some(offline::unpack_tarball(file, root)?),
            _ => None,
        };
        let offline_mirror = match (&offline, root) {
            (Some(_), Some(root)) => root
                .read(format!("{}/mirror", offline::OFFLINE_DIR))
                .ok()
                .map(|m| String::from_utf8_lossy(&m).trim().to_string()),
            _ => None,
        };
        let mirror = match b.mirror.as_ref().or(offline_mirror.as_ref()) {
            Some(mirror) => mirror.trim_end_matches('/').to_string(),
            None => {
                let sources = sources::host_sources(Path::new("/etc/apt"));
                sources::default_mirror(&sources).ok_or_else(|| {
                    Error::Usage(
                        "no MIRROR given, and no Debian mirror in /etc/apt/sources.list or \
                         /etc/apt/sources.list.d/: give one as the third operand"
                            .to_string(),
                    )
                })?
            }
        };
        let mirror = mirror_url(&mirror)?;
        let cache = offline
            .clone()
            .unwrap_or_else(|| b.cache_dir.clone().unwrap_or_else(default_cache));
        for dir in [cache.join("debs"), cache.join("lists")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::failed(format_args!("cannot create {}", dir.display()), e))?;
        }
        let single = mapping == Some(userns::Mapping::Single);
        let goal = Goal::of(b);
        // A single-id namespace can unpack but not configure.
        let goal = if goal == Goal::Install && single {
            Goal::Unpack
        } else {
            goal
        };
        let extra_suites = b
            .extra_suites
            .iter()
            .map(|suite| (suite.clone(), extra_mirror(suite, &mirror)))
            .collect();
        Ok(Build {
            b,
            prog,
            extra_suites,
            goal,
            reporter,
            http: download::Fetcher::new(
                transport::proxy::Proxies::from_host(),
                transport::Retries::default(),
            ),
            mirror,
            arch,
            cache,
            root,
            mapping,
            offline,
            epoch,
        })
    }

    fn root(&self) -> &'a Root {
        self.root.expect("every goal but --print-debs has a root")
    }

    fn go(&'a self) -> Result<Outcome, Error> {
        let b = self.b;
        let r = self.reporter;
        let components = if b.components.is_empty() {
            vec!["main".to_string()]
        } else {
            b.components.clone()
        };
        let keyring = b
            .keyring
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING));
        let source = |suite: &'a str, mirror: &'a str, optional_components| index::Source {
            http: &self.http,
            reporter: r,
            mirror,
            cache: &self.cache,
            suite,
            arch: &self.arch,
            components: &components,
            gpg: b.gpg,
            keyring: &keyring,
            check_valid_until: b.check_valid_until,
            offline: self.offline.is_some(),
            keep_files: matches!(self.goal, Goal::MakeTarball(_)),
            optional_components,
        };
        let indexes = source(&b.suite, &self.mirror, false).fetch()?;
        // --extra-suites: their indexes too (apt would see them all).
        let extras: Vec<(&(String, String), index::Indexes)> = self
            .extra_suites
            .iter()
            .map(|extra| Ok((extra, source(&extra.0, &extra.1, true).fetch()?)))
            .collect::<Result<_, Error>>()?;
        let release = &indexes.release;
        let epoch = match self.epoch {
            Some(epoch) => Some(epoch),
            None if b.reproducible => Some(release.date.ok_or_else(|| {
                Error::Refused(
                    "--reproducible: the Release file has no Date; set SOURCE_DATE_EPOCH"
                        .to_string(),
                )
            })?),
            None => None,
        };
        let mut index = Vec::new();
        for (component, text) in &indexes.texts {
            let packages = packages::parse_packages(text).map_err(|source| Error::Packages {
                component: component.clone(),
                source,
            })?;
            index.extend(packages);
        }
        for ((suite, mirror), extra) in &extras {
            for (component, text) in &extra.texts {
                let packages =
                    packages::parse_packages(text).map_err(|source| Error::Packages {
                        component: format!("{suite}/{component}"),
                        source,
                    })?;
                let base = (mirror != &self.mirror).then_some(mirror.as_str());
                index.extend(
                    packages
                        .into_iter()
                        .map(|p| packages::Package { base, ..p }),
                );
            }
        }
        // Local packages (`--include=./pkg.deb`) take the place of the
        // archive's of the same name, and are included.
        let (paths, mut include): (Vec<String>, Vec<String>) =
            b.include.iter().cloned().partition(|i| local::is_path(i));
        let locals: Vec<local::LocalDeb> = paths
            .iter()
            .map(|path| local::load(path))
            .collect::<Result<_, _>>()?;
        for (local, path) in locals.iter().zip(&paths) {
            let location = packages::Location {
                filename: &local.url,
                size: local.size,
                sha256: &local.sha256,
            };
            let package = packages::local_package(&local.control, location).map_err(|source| {
                Error::Packages {
                    component: format!("--include {path}"),
                    source,
                }
            })?;
            index.retain(|p| p.name != package.name);
            include.push(package.name.to_string());
            index.push(package);
        }
        // debootstrap: merged from bookworm on, except buildd up to
        // bookworm (the buildds' own choice).
        let merged_usr = b.merged_usr.unwrap_or_else(|| {
            suite::merged_usr_by_default(&release.codename)
                && !(b.variant == cli::Variant::Buildd && release.codename == "bookworm")
        });
        let selection = resolve::Selection {
            variant: b.variant,
            include,
            exclude: b.exclude.clone(),
            // debootstrap's rule: the marker package for bookworm only,
            // and never the live migration from bookworm on.
            merged_usr_marker: release.codename == "bookworm",
            no_usrmerge: suite::merged_usr_by_default(&release.codename),
        };
        r.info("Resolving dependencies of required and base packages...");
        let resolved = resolve::resolve(&index, &selection)?;
        for warning in &resolved.warnings {
            r.warn(warning);
        }
        let packages = resolved.packages;
        if self.goal == Goal::PrintDebs {
            let mut out = String::new();
            for package in &packages {
                out.push_str(package.name);
                out.push('\n');
            }
            print_stdout(&out)?;
            return Ok(Outcome::nothing(epoch));
        }
        if let Some(root) = self.root {
            self.hooks(hooks::Stage::Setup, root)?;
        }
        let verified = self.fetch(&packages)?;
        let root = self.root();
        match self.goal {
            Goal::MakeTarball(file) => {
                offline::make_tarball(root, file, &indexes.files, &self.mirror, &verified, r)?;
                return Ok(Outcome::nothing(epoch));
            }
            Goal::DownloadOnly => {
                offline::place_debs(root, &verified, r)?;
                return Ok(Outcome::nothing(epoch));
            }
            _ => {}
        }
        if self.arch != suite::host_arch() && self.goal == Goal::Install {
            r.info(&format!(
                "{} is not this machine's architecture: configuring through binfmt \
                 emulation",
                self.arch
            ));
        }

        // Unpack.
        if merged_usr {
            skeleton::merge_usr(root, &self.arch)?;
        }
        r.info("Extracting and unpacking packages...");
        r.set_phase("unpack");
        let single = self.mapping == Some(userns::Mapping::Single);
        let unpacking = r.with_status(|| unpack::unpack_all(root, verified, single, r))?;
        r.clear();
        dpkgdb::write_database(root, &unpacking.unpacked)?;
        let components = components.join(" ");
        let mut sources = format!("deb {} {} {components}\n", self.mirror, b.suite);
        for (suite, mirror) in &self.extra_suites {
            sources.push_str(&format!("deb {mirror} {suite} {components}\n"));
        }
        skeleton::write_etc(
            root,
            &sources,
            !merged_usr && suite::merged_usr_by_default(&release.codename),
        )?;
        self.hooks(hooks::Stage::Extract, root)?;
        let env: Vec<(String, String)> = epoch
            .map(|e| ("SOURCE_DATE_EPOCH".to_string(), e.to_string()))
            .into_iter()
            .collect();
        let mut set: Vec<String> = packages
            .iter()
            .map(|p| format!("{} {} {}\n", p.name, p.version, p.architecture))
            .collect();
        set.sort();
        let outcome = Outcome {
            epoch,
            unmapped_owners: unpacking.unmapped_owners,
            provenance: Provenance {
                arch: self.arch.clone(),
                codename: release.codename.clone(),
                release_date: release.date,
                packages: format!("sha256:{}", download::sha256_hex(set.concat().as_bytes())),
            },
        };
        if self.goal == Goal::Unpack {
            self.leave_second_stage(&unpacking.unpacked, &env)?;
            return Ok(outcome);
        }

        // Configure.
        r.info("Configuring the base system...");
        r.set_phase("configure");
        let (log_dir, log_name) = root.parent(output::LOG, true).map_err(|e| {
            Error::failed(format_args!("cannot create {}", root.show(output::LOG)), e)
        })?;
        let log = log_dir.replace_file(&log_name, 0o644).map_err(|e| {
            Error::failed(format_args!("cannot create {}", root.show(output::LOG)), e)
        })?;
        let settings = configure::Settings {
            userns: self.mapping.is_some(),
            env,
        };
        configure::configure(root, &unpacking.unpacked, &log, r, &settings)?;
        self.hooks(hooks::Stage::Essential, root)?;
        self.hooks(hooks::Stage::Customize, root)?;
        if epoch.is_some() {
            skeleton::remove_varying(root)?;
        }
        r.info(&format!(
            "Base system installed successfully ({:.1} s).",
            r.elapsed().as_secs_f64()
        ));
        Ok(outcome)
    }

    /// A stage's hooks, if any.
    fn hooks(&self, stage: hooks::Stage, root: &Root) -> Result<(), Error> {
        let b = self.b;
        if b.hooks.is_empty() {
            return Ok(());
        }
        self.reporter
            .info(&format!("Running the {} hooks", stage.name()));
        let format = match b.format() {
            Format::Directory => "directory",
            Format::Tar(_) => "tar",
            Format::Oci { archive: false } => "oci",
            Format::Oci { archive: true } => "oci-archive",
        };
        let context = hooks::Context {
            root,
            mode: if self.mapping.is_some() {
                "unshare"
            } else {
                "root"
            },
            suite: &b.suite,
            variant: b.variant.name(),
            format,
            argv0: self.prog,
            verbose: b.verbose,
        };
        Ok(b.hooks.run(stage, &context)?)
    }

    /// The downloads, with a progress line; every package with its
    /// verified file.
    fn fetch<'p>(
        &self,
        packages: &[&'p packages::Package<'p>],
    ) -> Result<Vec<download::Verified<'p>>, Error> {
        let r = self.reporter;
        let jobs: Vec<download::Job> = packages
            .iter()
            .map(|p| {
                download::Job::package(
                    p.base.unwrap_or(&self.mirror),
                    &self.cache,
                    p.filename,
                    p.size,
                    p.sha256,
                    p.name,
                )
            })
            .collect();
        let jobs = &jobs[..];
        let total: u64 = jobs.iter().map(|j| j.size).sum();
        r.counts.packages.store(jobs.len(), Ordering::Relaxed);
        r.counts.download_total.store(total, Ordering::Relaxed);
        r.info(&format!(
            "Retrieving and validating {} packages ({:.1} MB)...",
            jobs.len(),
            total as f64 / 1e6
        ));
        r.set_phase("download");
        let counters = download::Counters::default();
        let done = std::sync::atomic::AtomicBool::new(false);
        let fetched = r.with_status(|| {
            std::thread::scope(|scope| {
                let ticker = scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        r.counts
                            .downloaded
                            .store(counters.bytes.load(Ordering::Relaxed), Ordering::Relaxed);
                        std::thread::park_timeout(std::time::Duration::from_millis(50));
                    }
                });
                let result = download::fetch_all(&self.http, jobs, &counters, &|job| {
                    r.detail(&format!("Retrieving {}", job.label))
                });
                done.store(true, Ordering::Relaxed);
                // Woken, not waited for: the scope's end joins it.
                ticker.thread().unpark();
                result
            })
        });
        r.clear();
        let files = match fetched {
            Ok(files) => files,
            Err(errors) => {
                for error in &errors[..errors.len() - 1] {
                    r.error(&error.to_string());
                }
                return Err(Error::Download(errors));
            }
        };
        r.counts.downloaded.store(total, Ordering::Relaxed);
        let fetched = counters.files_fetched.load(Ordering::Relaxed);
        r.info(&format!(
            "{} packages verified ({fetched} downloaded, {} from the cache)",
            jobs.len(),
            jobs.len() - fetched
        ));
        Ok(packages
            .iter()
            .zip(files)
            .map(|(package, file)| download::Verified { package, file })
            .collect())
    }

    /// --foreign: what the second stage needs, in TARGET/debootstrap.
    fn leave_second_stage(
        &self,
        unpacked: &[dpkgdb::Unpacked],
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let root = self.root();
        configure::leave_second_stage(root, unpacked, env, &self.arch, self.mapping.is_none())?;
        let (before, dir) = if root.path() == self.b.target {
            (String::new(), root.path().display().to_string())
        } else {
            (
                format!("extract {} as root to DIR, then ", self.b.target.display()),
                "DIR".to_string(),
            )
        };
        self.reporter.info(&format!(
            "Base system unpacked: {before}run `chroot {dir} /debootstrap/debootstrap \
             --second-stage` where {} binaries run (or ns-bootstrap --second-stage \
             --second-stage-target={dir})",
            self.arch
        ));
        Ok(())
    }
}
