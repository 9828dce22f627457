//! ns-bootstrap: build a Debian root filesystem, verified end to end, as
//! `debootstrap` does, faster.
//!
//! In the layering (see ns-sys) it stands on ns-getopt (the command line,
//! `finish`) and ns-sys (the id maps and id-map helper of `--mode=unshare`,
//! the configure sandbox's mounts and `execvp`, the signal-passing fork
//! that removes a build directory whatever happens), and on no other
//! tool's crate. It is not part of the multi-call `nstools` (it is
//! no initramfs tool): `main.rs` calls [`main`], and xtask and the
//! integration tests use the library.
//!
//! [`main`] parses ([`cli::parse`]) and [`run`]s. `bootstrap` (here)
//! settles the run: the mode and its user namespace, what the run is for
//! (print, download, tarball of packages, unpack, install), and where the
//! system is built (TARGET, or a private build directory for a tarball or
//! an image). `Build::go` (build.rs) then takes every package through
//! stages 1 to 5 in order, with the [`hooks`] between them (packages only
//! leave it after the fetch); a tarball or an image is written back here.
//! The stages, each a module:
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
//! 6. **output** ([`output`], [`tarball`], [`oci`], [`offline`]): a
//!    directory, a tarball, an OCI image, or packages only.
//!
//! Everything written inside TARGET goes through [`rooted::Root`], so that
//! nothing TARGET holds (a tarball's entries, a package's data, an earlier
//! run's leftovers) can send a write outside it.

mod build;
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
mod nosync;
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
use std::path::Path;
use std::process::ExitCode;

use build::{Build, Decided};
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
    // A single-id namespace can unpack but not configure.
    let goal = if goal == Goal::Install && single {
        Goal::Unpack
    } else {
        goal
    };
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
    if goal == Goal::Install && !suite::can_run(&arch) {
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
    let build = Build::prepare(
        Decided {
            b,
            prog,
            goal,
            reporter: &reporter,
            arch,
            mapping,
            epoch,
        },
        root.as_ref(),
    );
    let mut result = build.and_then(|build| build.go());
    // The tarball's cache is scaffolding: gone whether the build went
    // through or failed (also when it failed while being prepared).
    if let (Some(_), Some(root)) = (&b.unpack_tarball, &root) {
        let _ = root.remove_all(offline::OFFLINE_DIR);
    }
    if let (Ok(outcome), Some(dir), Some(root)) = (&result, &build_dir, &root) {
        if goal == Goal::Unpack {
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
                &output::image(b, outcome),
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
            Goal::Install => output::finish_log(root, outcome.epoch.is_none(), &reporter),
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
