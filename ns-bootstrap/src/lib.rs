//! ns-bootstrap: build a Debian root filesystem, verified end to end, as
//! `debootstrap` does, faster.
//!
//! The steps, one module each: the mirror from the host's apt [`sources`];
//! the signed [`release`] file, checked by [`gpg`]; the [`packages`] index,
//! checked against the Release hashes; the selection and dependency
//! closure ([`resolve`]); parallel verified [`download`]s into a cache;
//! [`deb`] decoding and safe [`extract`]ion in parallel; the dpkg database
//! of the unpacked packages ([`dpkgdb`]); and the [`configure`] step with
//! the target's own dpkg inside a private mount namespace ([`sandbox`]).

pub mod cli;
pub mod configure;
pub mod deb;
pub mod download;
pub mod dpkgdb;
mod error;
pub mod extract;
pub mod gpg;
pub mod packages;
pub mod progress;
pub mod release;
pub mod resolve;
pub mod sandbox;
pub mod sources;
pub mod tarball;
pub mod userns;

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use cli::{Action, Bootstrap, GpgCheck, Options};
pub use error::Error;
use progress::Reporter;

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
        .map_err(|error| Error::Failed(format!("write error: {error}")))
}

/// dpkg's name for the architecture this binary runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" => "mips64el",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Suites whose packages expect a merged /usr (bookworm and later);
/// debootstrap then adds `usr-is-merged`.
fn merged_usr_by_default(codename: &str) -> bool {
    !matches!(
        codename,
        "buster" | "bullseye" | "stretch" | "jessie" | "wheezy" | "squeeze"
    )
}

/// The `/lib*` directories that become symlinks into /usr, per
/// architecture (debootstrap's list).
fn merged_usr_dirs(arch: &str) -> Vec<&'static str> {
    let mut dirs = vec!["bin", "sbin", "lib"];
    match arch {
        "amd64" | "ppc64el" | "s390x" | "mips64el" | "riscv64" | "loong64" | "ppc64" => {
            dirs.push("lib64")
        }
        "mipsel" | "mips" => dirs.push("lib32"),
        _ => {}
    }
    dirs
}

/// qemu's name for a Debian architecture (the binfmt_misc entry is
/// `qemu-NAME`).
fn qemu_name(arch: &str) -> &str {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "armhf" | "armel" => "arm",
        "i386" => "i386",
        "ppc64el" => "ppc64le",
        "mips64el" => "mips64el",
        "mipsel" => "mipsel",
        "loong64" => "loongarch64",
        other => other,
    }
}

/// Whether this machine runs ARCH's binaries: its own, or through an
/// enabled binfmt_misc entry.
pub fn can_run(arch: &str) -> bool {
    if arch == host_arch() || (host_arch() == "amd64" && arch == "i386") {
        return true;
    }
    let entry = format!("/proc/sys/fs/binfmt_misc/qemu-{}", qemu_name(arch));
    std::fs::read_to_string(entry).is_ok_and(|text| text.starts_with("enabled"))
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

/// Logs and caches whose content varies from one build to the next
/// (times, inode numbers), removed from a reproducible build; mmdebstrap
/// removes the same.
const VARYING: &[&str] = &[
    "var/log/bootstrap.log",
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/apt/history.log",
    "var/log/apt/term.log",
    "var/log/apt/eipp.log.xz",
    "var/cache/ldconfig/aux-cache",
    "var/cache/apt/pkgcache.bin",
    "var/cache/apt/srcpkgcache.bin",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old",
    "var/lib/dpkg/statoverride-old",
    "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old",
    "var/cache/debconf/passwords.dat-old",
];

fn remove_varying(root: &Path) -> Result<(), Error> {
    for path in VARYING {
        let path = root.join(path);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::failed(
                    format_args!("cannot remove {}", path.display()),
                    e,
                ))
            }
            _ => {}
        }
    }
    // A machine-id must be made on first boot, never shared.
    let machine_id = root.join("etc/machine-id");
    if machine_id.exists() {
        std::fs::write(&machine_id, b"uninitialized\n")
            .map_err(|e| Error::failed(format_args!("cannot write {}", machine_id.display()), e))?;
    }
    Ok(())
}

/// The bootstrap's process, for the parent to pass signals on to.
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn pass_on(signal: libc::c_int) {
    let child = CHILD.load(Ordering::Relaxed);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, signal) };
    }
}

/// A tarball's build directory goes also when the build is killed (Ctrl-C
/// kills the whole process group): the build continues in a child (the
/// caller goes on when this returns `None`), and this process waits,
/// passes signals on, removes `dir`, then ends as the child did. In
/// --mode=unshare both are in the user namespace, so files of any owner
/// can be removed. Must be called while single-threaded.
fn clean_after_child(dir: &Path) -> Result<Option<Result<(), Error>>, Error> {
    use nix::sys::signal::{signal, SigHandler, Signal};
    use nix::sys::wait::{waitpid, WaitStatus};
    // SAFETY: no other thread runs yet.
    match unsafe { nix::unistd::fork() }.map_err(|e| Error::Failed(format!("fork: {e}")))? {
        nix::unistd::ForkResult::Child => Ok(None),
        nix::unistd::ForkResult::Parent { child } => {
            CHILD.store(child.as_raw(), Ordering::Relaxed);
            let signals = [
                Signal::SIGINT,
                Signal::SIGTERM,
                Signal::SIGHUP,
                Signal::SIGQUIT,
            ];
            for sig in signals {
                // SAFETY: the handler only calls kill(2).
                let _ = unsafe { signal(sig, SigHandler::Handler(pass_on)) };
            }
            let status = loop {
                match waitpid(child, None) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => break other,
                }
            };
            let _ = std::fs::remove_dir_all(dir);
            match status {
                Ok(WaitStatus::Exited(_, 0)) => Ok(Some(Ok(()))),
                // The child said why.
                Ok(WaitStatus::Exited(_, _)) => Ok(Some(Err(Error::Reported(String::new())))),
                Ok(WaitStatus::Signaled(_, sig, _)) => {
                    // SAFETY: back to the default action, then die of it.
                    unsafe {
                        let _ = signal(sig, SigHandler::SigDfl);
                    }
                    let _ = nix::sys::signal::raise(sig);
                    std::process::exit(128 + sig as i32)
                }
                other => Err(Error::Failed(format!("the build process: {other:?}"))),
            }
        }
    }
}

/// A build directory removed when dropped (a tarball is written from it).
struct BuildDir(PathBuf);

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run<'a> {
    b: &'a Bootstrap,
    reporter: &'a Reporter,
    http: download::Http,
    mirror: String,
    arch: String,
    cache: PathBuf,
    /// Where the system is built: TARGET, or a directory a tarball is
    /// written from.
    root: PathBuf,
    /// The user namespace's mapping in --mode=unshare.
    mapping: Option<userns::Mapping>,
    /// Unpack only (--foreign, or a single-id namespace).
    foreign: bool,
    /// --unpack-tarball: InRelease from the cache, not the mirror.
    offline: bool,
    /// The InRelease and Packages files as read, for --make-tarball:
    /// (name in the cache's lists, content).
    index_files: std::sync::Mutex<Vec<(String, Vec<u8>)>>,
    /// The time builds are clamped to: SOURCE_DATE_EPOCH, or with
    /// --reproducible the Release's Date, once known.
    epoch: std::sync::OnceLock<u64>,
}

/// Where an --unpack-tarball's cache lands in the target, and where
/// --make-tarball puts it: the cache's layout (`lists/InRelease`,
/// `lists/SHA256.Packages`, `debs/*.deb`, `mirror`).
const OFFLINE_DIR: &str = "debootstrap/offline";

/// Extracts a --make-tarball FILE into ROOT (safely, as packages are);
/// returns the cache directory it holds.
fn unpack_offline(file: &Path, root: &Path) -> Result<PathBuf, Error> {
    let data = std::fs::read(file)
        .map_err(|e| Error::failed(format_args!("cannot read {}", file.display()), e))?;
    let name = match cli::Format::guess(file) {
        cli::Format::Tar(cli::Compression::Gzip) => "x.tar.gz",
        cli::Format::Tar(cli::Compression::Xz) => "x.tar.xz",
        cli::Format::Tar(cli::Compression::Zstd) => "x.tar.zst",
        _ => "x.tar",
    };
    let member = deb::Member { name, data: &data };
    let reader = deb::decompressor(&member).map_err(Error::Failed)?;
    std::fs::create_dir_all(root)
        .map_err(|e| Error::failed(format_args!("cannot create {}", root.display()), e))?;
    extract::extract(root, reader, &[])
        .map_err(|e| Error::Failed(format!("--unpack-tarball {}: {e}", file.display())))?;
    let dir = root.join(OFFLINE_DIR);
    if !dir.join("lists/InRelease").is_file() {
        return Err(Error::Failed(format!(
            "{}: not a tarball made by --make-tarball (no {OFFLINE_DIR}/lists/InRelease)",
            file.display()
        )));
    }
    Ok(dir)
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

fn bootstrap(b: &Bootstrap, prog: &str) -> Result<(), Error> {
    let reporter = Reporter::new(b.verbose);
    // The directories made here (the merged-/usr links' targets, /dev's)
    // get the same modes whatever the caller's umask: a reproducible
    // build must not depend on it.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    let real_root = nix::unistd::geteuid().is_root();
    let mode = match b.mode {
        cli::Mode::Auto if real_root => cli::Mode::Root,
        cli::Mode::Auto => cli::Mode::Unshare,
        other => other,
    };
    if mode == cli::Mode::Root && !real_root {
        return Err(Error::Failed(
            "--mode=root needs root: as a normal user use --mode=unshare".to_string(),
        ));
    }
    let cache = b.cache_dir.clone().unwrap_or_else(default_cache);
    let epoch = source_date_epoch()?;
    // The namespace before any thread starts (and before any file is
    // made, so that they all belong to the namespace's root).
    let mapping = if mode == cli::Mode::Unshare && !b.print_debs {
        let mapping = userns::enter(prog)?;
        if mapping == userns::Mapping::Single {
            *extract::UNMAPPED_OWNERS
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(HashMap::new());
            reporter.warn(
                "no subordinate ids for this user in /etc/subuid and /etc/subgid (or no \
                 newuidmap/newgidmap): only your own id is mapped, so every file on disk \
                 belongs to root (a tarball keeps the packages' owners) and no maintainer \
                 script could change an owner; the build stops after unpacking, as with \
                 --foreign: run the second stage as root",
            );
        }
        Some(mapping)
    } else {
        None
    };
    if b.second_stage {
        return second_stage(b, &reporter, mapping.is_some());
    }
    if mapping.is_some()
        && b.format() == cli::Format::Directory
        && !b.print_debs
        && !b.download_only
    {
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
    let format = b.format();
    let tarball = match format {
        cli::Format::Tar(compression) if !b.print_debs && !b.download_only => Some(compression),
        _ => None,
    };
    // A tarball is written from a build directory beside it (or in
    // TMPDIR for standard output), removed afterwards.
    let build_dir = tarball.map(|_| {
        let name = format!(".ns-bootstrap-build-{}", std::process::id());
        let dir = if b.target.as_os_str() == "-" {
            std::env::temp_dir().join(name)
        } else {
            let parent = b.target.parent().unwrap_or(Path::new(""));
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            parent.join(name)
        };
        BuildDir(dir)
    });
    if let Some(dir) = &build_dir {
        if let Some(done) = clean_after_child(&dir.0)? {
            return done;
        }
    }
    let root = build_dir
        .as_ref()
        .map_or_else(|| b.target.clone(), |d| d.0.clone());
    // --unpack-tarball: the tarball's cache (indexes and packages) is the
    // cache, inside the target; its mirror is the default.
    let offline = match &b.unpack_tarball {
        Some(file) => Some(unpack_offline(file, &root)?),
        None => None,
    };
    let cache = offline.clone().unwrap_or(cache);
    let offline_mirror = offline
        .as_ref()
        .and_then(|dir| std::fs::read_to_string(dir.join("mirror")).ok())
        .map(|m| m.trim().to_string());
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
    if !mirror.starts_with("http://") {
        return Err(Error::Usage(format!(
            "MIRROR '{mirror}': only http:// mirrors are supported (the archive is \
             verified by its signature)"
        )));
    }
    for dir in [cache.join("debs"), cache.join("lists")] {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::failed(format_args!("cannot create {}", dir.display()), e))?;
    }
    let arch = b.arch.clone().unwrap_or_else(|| host_arch().to_string());
    let single = mapping == Some(userns::Mapping::Single);
    if !b.foreign && !single && !b.print_debs && !b.download_only && !can_run(&arch) {
        return Err(Error::Failed(format!(
            "this machine cannot run {arch} binaries (no enabled binfmt_misc entry \
             qemu-{}): use --foreign, then --second-stage where they run",
            qemu_name(&arch)
        )));
    }
    let run = Run {
        b,
        reporter: &reporter,
        http: download::Http::new(),
        mirror,
        arch,
        cache,
        root,
        mapping,
        foreign: b.foreign || single,
        offline: offline.is_some(),
        index_files: std::sync::Mutex::new(Vec::new()),
        epoch: std::sync::OnceLock::new(),
    };
    // debootstrap logs to TARGET/debootstrap/debootstrap.log from the
    // start; the log stays there only when the bootstrap fails.
    let log_dir = run.root.join("debootstrap");
    let keeps_target = !b.print_debs;
    if keeps_target {
        std::fs::create_dir_all(&log_dir)
            .map_err(|e| Error::failed(format_args!("cannot create {}", log_dir.display()), e))?;
    }
    let mut result = run.go(&log_dir, epoch);
    let epoch = run.epoch.get().copied();
    if let Some(dir) = &offline {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let (Ok(()), Some(compression), Some(dir)) = (&result, tarball, &build_dir) {
        if run.foreign {
            // The second stage stays in /debootstrap; the log goes.
            let _ = std::fs::remove_file(log_dir.join("debootstrap.log"));
        } else {
            let _ = std::fs::remove_dir_all(&log_dir);
        }
        result = run.write_tarball(&dir.0, compression, epoch);
    }
    match &result {
        Ok(()) if build_dir.is_some() => {}
        Ok(()) if b.make_tarball.is_some() => {
            let _ = std::fs::remove_dir_all(&log_dir);
        }
        Ok(()) => {
            if keeps_target && !b.download_only && !run.foreign {
                // As debootstrap: the log of a good run is the target's
                // /var/log/bootstrap.log.
                let log = log_dir.join("debootstrap.log");
                if epoch.is_none() {
                    if let Ok(mut file) = std::fs::OpenOptions::new().append(true).open(&log) {
                        let _ = file.write_all(reporter.log_text().as_bytes());
                    }
                    let _ = std::fs::rename(&log, run.root.join("var/log/bootstrap.log"));
                }
                let _ = std::fs::remove_dir_all(&log_dir);
            }
        }
        Err(error) => {
            reporter.error(&error.to_string());
            if keeps_target {
                let mut log = log_dir.join("debootstrap.log");
                if build_dir.is_some() {
                    // The build directory goes: the log is kept beside it.
                    let kept = std::env::temp_dir()
                        .join(format!("ns-bootstrap-{}.log", std::process::id()));
                    let _ = std::fs::copy(&log, &kept);
                    log = kept;
                }
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log);
                if let Ok(file) = &mut file {
                    let _ = file.write_all(reporter.log_text().as_bytes());
                }
                eprintln!("I: the log is in {}", log.display());
            }
        }
    }
    result.map_err(|error| match error {
        Error::Usage(_) => error,
        other => Error::Reported(other.to_string()),
    })
}

/// `--second-stage`: runs the script `--foreign` left in TARGET (`/`
/// when run inside it) in the sandbox.
fn second_stage(b: &Bootstrap, r: &Reporter, userns: bool) -> Result<(), Error> {
    let root = &b.target;
    let script = root.join(configure::SECOND_STAGE);
    if !script.is_file() {
        return Err(Error::Failed(format!(
            "{}: no second stage here (made by --foreign)",
            script.display()
        )));
    }
    let log_path = root.join("debootstrap/debootstrap.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::failed(format_args!("cannot open {}", log_path.display()), e))?;
    r.info("Running the second stage...");
    let placeholders = if userns {
        configure::make_placeholders(root).map_err(Error::Failed)?
    } else {
        configure::make_devices(root).map_err(Error::Failed)?;
        Vec::new()
    };
    let commands = [sandbox::Command {
        label: "the second stage".to_string(),
        argv: vec![
            "/bin/sh".into(),
            format!("/{}", configure::SECOND_STAGE).into(),
            "--second-stage".into(),
        ],
        env: vec![(
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        )],
    }];
    let result = sandbox::Sandbox::new(root)
        .bind_devices(placeholders.clone())
        .spawn(
            &commands,
            sandbox::Io {
                log: &log,
                keep_fd: None,
            },
        )
        .and_then(|running| running.wait());
    for placeholder in &placeholders {
        let _ = std::fs::remove_file(root.join(placeholder));
    }
    if let Err(e) = result {
        eprintln!("I: the log is in {}", log_path.display());
        return Err(Error::Failed(e));
    }
    r.info("Base system installed successfully.");
    Ok(())
}

impl Run<'_> {
    fn write_tarball(
        &self,
        dir: &Path,
        compression: cli::Compression,
        epoch: Option<u64>,
    ) -> Result<(), Error> {
        let sink = if self.b.target.as_os_str() == "-" {
            tarball::Sink::Stdout
        } else {
            tarball::Sink::File(self.b.target.clone())
        };
        self.reporter.info(&format!(
            "Writing {}",
            if matches!(sink, tarball::Sink::Stdout) {
                "the tarball to standard output".to_string()
            } else {
                self.b.target.display().to_string()
            }
        ));
        tarball::write(dir, &sink, compression, epoch, &configure::tar_devices())
            .map_err(Error::Failed)?;
        self.reporter.info(&format!(
            "Tarball written ({:.1} s).",
            self.reporter.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    fn go(&self, log_dir: &Path, epoch: Option<u64>) -> Result<(), Error> {
        let b = self.b;
        let r = self.reporter;
        let (release, texts) = self.fetch_indexes()?;
        let epoch = match epoch {
            Some(epoch) => Some(epoch),
            None if b.reproducible => Some(release.date.ok_or_else(|| {
                Error::Failed(
                    "--reproducible: the Release file has no Date; set SOURCE_DATE_EPOCH"
                        .to_string(),
                )
            })?),
            None => None,
        };
        if let Some(epoch) = epoch {
            let _ = self.epoch.set(epoch);
        }
        let mut index = Vec::new();
        for (component, text) in &texts {
            let packages = packages::parse_packages(text)
                .map_err(|e| Error::Failed(format!("Packages of {component}: {e}")))?;
            index.extend(packages);
        }
        // debootstrap: merged from bookworm on, except buildd up to
        // bookworm (the buildds' own choice).
        let merged_usr = b.merged_usr.unwrap_or_else(|| {
            merged_usr_by_default(&release.codename)
                && !(b.variant == cli::Variant::Buildd && release.codename == "bookworm")
        });
        let selection = resolve::Selection {
            variant: b.variant,
            include: b.include.clone(),
            exclude: b.exclude.clone(),
            // debootstrap's rule: the marker package for bookworm only,
            // and never the live migration from bookworm on.
            merged_usr_marker: release.codename == "bookworm",
            no_usrmerge: merged_usr_by_default(&release.codename),
        };
        r.info("Resolving dependencies of required and base packages...");
        let resolved = resolve::resolve(&index, &selection).map_err(Error::Failed)?;
        for warning in &resolved.warnings {
            r.warn(warning);
        }
        let packages = resolved.packages;
        if b.print_debs {
            let mut out = String::new();
            for package in &packages {
                out.push_str(package.name);
                out.push('\n');
            }
            print_stdout(&out)?;
            return Ok(());
        }
        r.counts.packages.store(packages.len(), Ordering::Relaxed);
        let total: u64 = packages.iter().map(|p| p.size).sum();
        r.counts.download_total.store(total, Ordering::Relaxed);

        // Downloads.
        let jobs: Vec<download::Job> = packages
            .iter()
            .map(|p| {
                let base = p.filename.rsplit('/').next().unwrap_or(p.filename);
                download::Job {
                    url: format!("{}/{}", self.mirror, p.filename),
                    dest: self.cache.join("debs").join(base),
                    size: p.size,
                    sha256: p.sha256.to_ascii_lowercase(),
                    label: p.name.to_string(),
                }
            })
            .collect();
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
                let result = download::fetch_all(&self.http, &jobs, &counters, &|job| {
                    r.detail(&format!("Retrieving {}", job.label))
                });
                done.store(true, Ordering::Relaxed);
                // Woken, not waited for: the scope's end joins it.
                ticker.thread().unpark();
                result
            })
        });
        r.clear();
        if let Err(errors) = fetched {
            for error in &errors[..errors.len() - 1] {
                r.error(error);
            }
            return Err(Error::Failed(errors[errors.len() - 1].clone()));
        }
        r.counts.downloaded.store(total, Ordering::Relaxed);
        r.info(&format!(
            "{} packages verified ({} downloaded, {} from the cache)",
            jobs.len(),
            counters.files_fetched.load(Ordering::Relaxed),
            jobs.len() - counters.files_fetched.load(Ordering::Relaxed)
        ));
        if let Some(file) = &b.make_tarball {
            return self.make_tarball(file, &jobs);
        }
        if b.download_only {
            return self.place_debs(&jobs);
        }
        if self.arch != host_arch() && !self.foreign {
            r.info(&format!(
                "{} is not this machine's architecture: configuring through binfmt \
                 emulation",
                self.arch
            ));
        }

        // Unpack.
        self.prepare_target(merged_usr)?;
        r.info("Extracting and unpacking packages...");
        r.set_phase("unpack");
        let unpacked = r.with_status(|| self.unpack_all(&jobs, &packages))?;
        r.clear();
        dpkgdb::write_database(&self.root, &unpacked).map_err(Error::Failed)?;
        self.write_etc(&release.codename, merged_usr)?;
        let env: Vec<(String, String)> = epoch
            .map(|e| ("SOURCE_DATE_EPOCH".to_string(), e.to_string()))
            .into_iter()
            .collect();
        if self.foreign {
            return self.leave_second_stage(&unpacked, &env);
        }

        // Configure.
        r.info("Configuring the base system...");
        r.set_phase("configure");
        let log_path = log_dir.join("debootstrap.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| Error::failed(format_args!("cannot create {}", log_path.display()), e))?;
        let settings = configure::Settings {
            userns: self.mapping.is_some(),
            env,
        };
        configure::configure(&self.root, &unpacked, &log, r, &settings)
            .map_err(|e| Error::Failed(format!("configure: {e}")))?;
        if epoch.is_some() {
            remove_varying(&self.root)?;
        }
        r.info(&format!(
            "Base system installed successfully ({:.1} s).",
            r.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// InRelease (signature checked), then each component's Packages
    /// index (hash checked), from the cache when the hash is known.
    fn fetch_indexes(&self) -> Result<(release::Release, Vec<(String, String)>), Error> {
        let b = self.b;
        let r = self.reporter;
        let suite = &b.suite;
        let url = format!("{}/dists/{suite}/InRelease", self.mirror);
        r.info(&format!("Retrieving InRelease of {suite}"));
        let key: String = format!("{}_{suite}", self.mirror)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let cached = self.cache.join("lists").join(format!("{key}_InRelease"));
        let date_file = self
            .cache
            .join("lists")
            .join(format!("{key}_InRelease.date"));
        let since = std::fs::read_to_string(&date_file).ok();
        let since = since.as_deref().filter(|_| cached.exists());
        let offline_copy = self.cache.join("lists/InRelease");
        let fetched = if self.offline {
            Ok(download::Fetched::Body {
                data: std::fs::read(&offline_copy).map_err(|e| {
                    Error::failed(format_args!("cannot read {}", offline_copy.display()), e)
                })?,
                last_modified: None,
            })
        } else {
            self.http.get_if_modified(&url, since)
        };
        let text = match fetched.map_err(|e| {
            if e.contains("HTTP 404") {
                Error::Failed(format!("no suite '{suite}' on {}: {e}", self.mirror))
            } else {
                Error::Failed(e)
            }
        })? {
            download::Fetched::NotModified => std::fs::read(&cached)
                .map_err(|e| Error::failed(format_args!("cannot read {}", cached.display()), e))?,
            download::Fetched::Body {
                data,
                last_modified,
            } => {
                // The cache is only a shortcut: the signature is checked
                // on every run.
                download::cache_write(&cached, &data);
                match last_modified {
                    Some(date) => download::cache_write(&date_file, date.as_bytes()),
                    None => {
                        let _ = std::fs::remove_file(&date_file);
                    }
                }
                data
            }
        };
        let text = String::from_utf8(text)
            .map_err(|_| Error::Failed(format!("{url}: InRelease is not text")))?;
        self.keep_index("InRelease", text.as_bytes());
        let signed =
            release::split_clearsigned(&text).map_err(|e| Error::Failed(format!("{url}: {e}")))?;
        if b.gpg == GpgCheck::Skip {
            r.warn("Not checking the Release signature (--no-check-gpg)");
        } else {
            r.info("Checking Release signature");
            let keyring_path = b
                .keyring
                .clone()
                .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING));
            let keyring_data = std::fs::read(&keyring_path).map_err(|e| {
                Error::failed(
                    format_args!("cannot read keyring {}", keyring_path.display()),
                    e,
                )
            })?;
            let keyring = gpg::Keyring::parse(&keyring_data)
                .map_err(|e| Error::Failed(format!("keyring {}: {e}", keyring_path.display())))?;
            let fingerprint = keyring
                .verify(&signed.canonical, &signed.signature_armor)
                .map_err(|e| Error::Failed(format!("Release signature of {suite}: {e}")))?;
            r.info(&format!(
                "Valid Release signature (key id {})",
                gpg::hex(&fingerprint)
            ));
        }
        let release = release::parse_release(&signed.text).map_err(Error::Failed)?;
        if !release.answers_to(suite) {
            return Err(Error::Failed(format!(
                "the Release file is for {} ({}), not {suite}",
                release.codename, release.suite
            )));
        }
        if !release.architectures.is_empty() && !release.architectures.contains(&self.arch) {
            return Err(Error::Failed(format!(
                "{suite} has no architecture {} (it has {})",
                self.arch,
                release.architectures.join(" ")
            )));
        }
        let components = if b.components.is_empty() {
            vec!["main".to_string()]
        } else {
            b.components.clone()
        };
        let mut texts = Vec::new();
        for component in components {
            let text = self.fetch_packages(&release, suite, &component)?;
            texts.push((component, text));
        }
        Ok((release, texts))
    }

    fn fetch_packages(
        &self,
        release: &release::Release,
        suite: &str,
        component: &str,
    ) -> Result<String, Error> {
        let r = self.reporter;
        let plain_path = format!("{component}/binary-{}/Packages", self.arch);
        let plain = release.file(&plain_path).ok_or_else(|| {
            Error::Failed(format!(
                "the Release file of {suite} does not list {plain_path}"
            ))
        })?;
        let cached = self
            .cache
            .join("lists")
            .join(format!("{}.Packages", plain.sha256));
        // Read once, then check what was read: the cache may be shared.
        if let Ok(data) = std::fs::read(&cached) {
            let digest = download::sha256_hex(&data);
            if download::check_digest(data.len() as u64, &digest, plain.size, &plain.sha256).is_ok()
            {
                r.detail(&format!("Using cached {plain_path}"));
                self.keep_index(&format!("{}.Packages", plain.sha256), &data);
                return String::from_utf8(data)
                    .map_err(|_| Error::Failed(format!("{plain_path}: not text")));
            }
        }
        r.info(&format!("Retrieving {plain_path}"));
        let (compressed, suffix) = [".xz", ".gz", ""]
            .iter()
            .find_map(|suffix| {
                release
                    .file(&format!("{plain_path}{suffix}"))
                    .map(|f| (f, *suffix))
            })
            .expect("the plain file itself is listed");
        let url = if release.acquire_by_hash {
            format!(
                "{}/dists/{suite}/{component}/binary-{}/by-hash/SHA256/{}",
                self.mirror, self.arch, compressed.sha256
            )
        } else {
            format!("{}/dists/{suite}/{}", self.mirror, compressed.path)
        };
        let data = match self
            .http
            .get_if_modified(&url, None)
            .map_err(Error::Failed)?
        {
            download::Fetched::Body { data, .. } => data,
            download::Fetched::NotModified => {
                return Err(Error::Failed(format!("{url}: unexpected 304")))
            }
        };
        r.info(&format!("Validating {plain_path}{suffix}"));
        download::check_digest(
            data.len() as u64,
            &download::sha256_hex(&data),
            compressed.size,
            &compressed.sha256,
        )
        .map_err(|e| Error::Failed(format!("{plain_path}{suffix}: {e}")))?;
        let member = deb::Member {
            name: &format!(
                "Packages{}",
                if suffix.is_empty() { ".tar" } else { suffix }
            ),
            data: &data,
        };
        let mut plain_data = Vec::with_capacity(plain.size as usize);
        deb::decompressor(&member)
            .map_err(Error::Failed)?
            .read_to_end(&mut plain_data)
            .map_err(|e| Error::Failed(format!("{plain_path}{suffix}: {e}")))?;
        download::check_digest(
            plain_data.len() as u64,
            &download::sha256_hex(&plain_data),
            plain.size,
            &plain.sha256,
        )
        .map_err(|e| Error::Failed(format!("{plain_path}: {e}")))?;
        download::cache_write(&cached, &plain_data);
        self.keep_index(&format!("{}.Packages", plain.sha256), &plain_data);
        String::from_utf8(plain_data).map_err(|_| Error::Failed(format!("{plain_path}: not text")))
    }

    /// --foreign: what the second stage needs, in TARGET/debootstrap.
    fn leave_second_stage(
        &self,
        unpacked: &[dpkgdb::Unpacked],
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let root = &self.root;
        if self.mapping.is_none() {
            configure::make_devices(root).map_err(Error::Failed)?;
        }
        configure::block_services(root).map_err(Error::Failed)?;
        let script = root.join(configure::SECOND_STAGE);
        std::fs::write(&script, configure::second_stage_script(unpacked, env))
            .and_then(|()| {
                std::fs::set_permissions(
                    &script,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )
            })
            .map_err(|e| Error::failed(format_args!("cannot write {}", script.display()), e))?;
        let arch = root.join("debootstrap/arch");
        std::fs::write(&arch, format!("{}\n", self.arch))
            .map_err(|e| Error::failed(format_args!("cannot write {}", arch.display()), e))?;
        let (before, dir) = if root == &self.b.target {
            (String::new(), root.display().to_string())
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

    /// Keeps an index file for --make-tarball.
    fn keep_index(&self, name: &str, data: &[u8]) {
        if self.b.make_tarball.is_some() {
            self.index_files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((name.to_string(), data.to_vec()));
        }
    }

    /// --make-tarball: the indexes and packages as a cache, in a tarball
    /// that --unpack-tarball takes instead of the mirror.
    fn make_tarball(&self, file: &Path, jobs: &[download::Job]) -> Result<(), Error> {
        let work = self.root.join(OFFLINE_DIR);
        let fail = |path: &Path, e: std::io::Error| {
            Error::failed(format_args!("cannot write {}", path.display()), e)
        };
        for dir in [work.join("lists"), work.join("debs")] {
            std::fs::create_dir_all(&dir).map_err(|e| fail(&dir, e))?;
        }
        for (name, data) in self
            .index_files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let path = work.join("lists").join(name);
            std::fs::write(&path, data).map_err(|e| fail(&path, e))?;
        }
        let mirror = work.join("mirror");
        std::fs::write(&mirror, format!("{}\n", self.mirror)).map_err(|e| fail(&mirror, e))?;
        for job in jobs {
            let to = work
                .join("debs")
                .join(job.dest.file_name().expect("a file name"));
            if std::fs::hard_link(&job.dest, &to).is_err() {
                std::fs::copy(&job.dest, &to).map_err(|e| fail(&to, e))?;
            }
        }
        let compression = match cli::Format::guess(file) {
            cli::Format::Tar(compression) => compression,
            cli::Format::Directory => cli::Compression::None,
        };
        // Only the offline cache goes in, whatever else is in TARGET.
        let staging = self.root.join(".ns-bootstrap-make-tarball");
        let inner = staging.join("debootstrap");
        std::fs::create_dir_all(&inner).map_err(|e| fail(&inner, e))?;
        std::fs::rename(&work, inner.join("offline")).map_err(|e| fail(&inner, e))?;
        let written = tarball::write(
            &staging,
            &tarball::Sink::File(file.to_path_buf()),
            compression,
            None,
            &[],
        );
        let _ = std::fs::remove_dir_all(&staging);
        written.map_err(Error::Failed)?;
        self.reporter.info(&format!(
            "Tarball of {} packages written to {}",
            jobs.len(),
            file.display()
        ));
        Ok(())
    }

    /// --download-only: the verified packages in TARGET's apt cache, as
    /// debootstrap leaves them.
    fn place_debs(&self, jobs: &[download::Job]) -> Result<(), Error> {
        let archives = self.root.join("var/cache/apt/archives");
        std::fs::create_dir_all(archives.join("partial"))
            .map_err(|e| Error::failed(format_args!("cannot create {}", archives.display()), e))?;
        for job in jobs {
            let name = job.dest.file_name().expect("a file name");
            let to = archives.join(name);
            let _ = std::fs::remove_file(&to);
            if std::fs::hard_link(&job.dest, &to).is_err() {
                std::fs::copy(&job.dest, &to).map_err(|e| {
                    Error::failed(format_args!("cannot copy to {}", to.display()), e)
                })?;
            }
        }
        self.reporter.info(&format!(
            "Download complete: the packages are in {}",
            archives.display()
        ));
        Ok(())
    }

    fn prepare_target(&self, merged_usr: bool) -> Result<(), Error> {
        let target = &self.root;
        let fail = |path: &Path, e: std::io::Error| {
            Error::failed(format_args!("cannot create {}", path.display()), e)
        };
        std::fs::create_dir_all(target).map_err(|e| fail(target, e))?;
        if merged_usr {
            for dir in merged_usr_dirs(&self.arch) {
                let real = target.join("usr").join(dir);
                std::fs::create_dir_all(&real).map_err(|e| fail(&real, e))?;
                let link = target.join(dir);
                match link.symlink_metadata() {
                    Ok(meta) if meta.file_type().is_symlink() => {}
                    Ok(_) => {
                        return Err(Error::Failed(format!(
                            "{}: exists and is not a symlink (merged /usr)",
                            link.display()
                        )))
                    }
                    Err(_) => std::os::unix::fs::symlink(format!("usr/{dir}"), &link)
                        .map_err(|e| fail(&link, e))?,
                }
            }
        }
        Ok(())
    }

    /// Decodes packages on every core, writes them in package order on
    /// this thread (so overlapping paths end up as dpkg would leave them).
    fn unpack_all(
        &self,
        jobs: &[download::Job],
        packages: &[&packages::Package],
    ) -> Result<Vec<dpkgdb::Unpacked>, Error> {
        let r = self.reporter;
        let target = &self.root;
        type Decoded =
            Result<(std::collections::BTreeMap<String, (u32, Vec<u8>)>, Vec<u8>), String>;
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(8);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (send, receive) = mpsc::sync_channel::<(usize, Decoded)>(workers * 2);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let next = &next;
                scope.spawn(move || loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let decoded = decode(&job.dest);
                    if send.send((index, decoded)).is_err() {
                        break;
                    }
                });
            }
            drop(send);
            let mut pending: HashMap<usize, Decoded> = HashMap::new();
            let mut out = Vec::with_capacity(jobs.len());
            let mut receive = receive.into_iter();
            for (index, package) in packages.iter().enumerate() {
                let decoded = loop {
                    if let Some(d) = pending.remove(&index) {
                        break d;
                    }
                    match receive.next() {
                        Some((i, d)) => {
                            pending.insert(i, d);
                        }
                        None => return Err(Error::Failed("a decoder stopped early".to_string())),
                    }
                };
                let fail = |step: &str, e: String| {
                    // Stop the decoders: they find no receiver.
                    Error::Failed(format!("package {}: {step}: {e}", package.name))
                };
                let (control_files, data) = decoded.map_err(|e| fail("decode", e))?;
                let control = String::from_utf8_lossy(
                    &control_files
                        .get("control")
                        .expect("checked by deb::open")
                        .1,
                )
                .into_owned();
                let conffiles = deb::conffiles_from(&control_files);
                r.detail(&format!("Extracting {}", package.name));
                let extracted = extract::extract(target, &data[..], &conffiles)
                    .map_err(|e| fail("extract", e))?;
                let multi_arch_same = packages::parse_stanzas(&control)
                    .ok()
                    .and_then(|s| {
                        s.first()
                            .and_then(|s| s.get("Multi-Arch"))
                            .map(|v| v == "same")
                    })
                    .unwrap_or(false);
                out.push(dpkgdb::Unpacked {
                    name: package.name.to_string(),
                    architecture: package.architecture.to_string(),
                    multi_arch_same,
                    control,
                    control_files,
                    conffiles,
                    overrides: [
                        ("Priority", Some(package.priority)),
                        ("Section", package.section),
                    ]
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v.to_string())))
                    .collect(),
                    paths: extracted.paths,
                });
                r.counts.unpacked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(out)
        })
    }

    /// What debootstrap writes into /etc besides the packages.
    fn write_etc(&self, codename: &str, merged_usr: bool) -> Result<(), Error> {
        let target = &self.root;
        let write = |path: &Path, text: &[u8]| {
            std::fs::write(path, text)
                .map_err(|e| Error::failed(format_args!("cannot write {}", path.display()), e))
        };
        let components = if self.b.components.is_empty() {
            "main".to_string()
        } else {
            self.b.components.join(" ")
        };
        let apt = target.join("etc/apt");
        std::fs::create_dir_all(&apt)
            .map_err(|e| Error::failed(format_args!("cannot create {}", apt.display()), e))?;
        write(
            &apt.join("sources.list"),
            format!("deb {} {} {components}\n", self.mirror, self.b.suite).as_bytes(),
        )?;
        if !merged_usr && merged_usr_by_default(codename) {
            // debootstrap's flag that keeps usrmerge from converting later.
            write(
                &target.join("etc/unsupported-skip-usrmerge-conversion"),
                b"this system will not be supported in the future\n",
            )?;
        }
        write(
            &target.join("etc/fstab"),
            b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
        )?;
        // Copied from the host (mode included), as debootstrap does.
        for file in ["etc/hostname", "etc/resolv.conf"] {
            let from = Path::new("/").join(file);
            if from.is_file() {
                let to = target.join(file);
                let _ = std::fs::remove_file(&to);
                std::fs::copy(&from, &to).map_err(|e| {
                    Error::failed(format_args!("cannot copy {}", from.display()), e)
                })?;
            }
        }
        Ok(())
    }
}

use std::io::Read;

/// Reads a cached `.deb` and decompresses its data tarball.
#[allow(clippy::type_complexity)]
fn decode(
    path: &Path,
) -> Result<(std::collections::BTreeMap<String, (u32, Vec<u8>)>, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let deb = deb::open(&bytes)?;
    let mut data = Vec::with_capacity(deb.data.data.len() * 4);
    deb::decompressor(&deb.data)?
        .read_to_end(&mut data)
        .map_err(|e| format!("{}: {e}", deb.data.name))?;
    Ok((deb.control, data))
}
