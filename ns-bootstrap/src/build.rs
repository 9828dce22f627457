//! One bootstrap, from the command line's settings to a built root.
//! [`Build::prepare`] resolves the settings (mirror, cache, an offline
//! tarball's cache, the extra suites); [`Build::go`] runs the stages of
//! the crate's overview in order: the indexes ([`index`]) and their
//! [`packages`] with the local ones ([`local`]), the selection
//! ([`resolve`]), the verified downloads ([`Build::fetch`], over
//! [`download`]), the unpacking ([`unpack`], [`dpkgdb`], [`skeleton`]),
//! then the configuration by the target's own dpkg ([`configure`]) or,
//! for `--foreign`, the second stage left in TARGET; the [`hooks`] run
//! between them. What the output stage needs of the build is an
//! [`Outcome`].

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use crate::cli::{self, Bootstrap, Format};
use crate::progress::Reporter;
use crate::rooted::Root;
use crate::{
    configure, download, dpkgdb, extract, hooks, index, local, offline, output, packages,
    print_stdout, resolve, skeleton, sources, suite, transport, unpack, userns, Error, Goal,
    DEFAULT_CACHE, DEFAULT_KEYRING,
};

/// One bootstrap's settings, resolved from the command line.
pub(crate) struct Build<'a> {
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
    pub(crate) offline: Option<PathBuf>,
    /// --extra-suites: (suite, its mirror).
    extra_suites: Vec<(String, String)>,
    /// SOURCE_DATE_EPOCH.
    epoch: Option<u64>,
}

/// What `bootstrap()` settled before the build: the command line, the
/// goal it comes to in this namespace, the architecture, the mapping.
pub(crate) struct Decided<'a> {
    pub(crate) b: &'a Bootstrap,
    pub(crate) prog: &'a str,
    pub(crate) goal: Goal<'a>,
    pub(crate) reporter: &'a Reporter,
    pub(crate) arch: String,
    pub(crate) mapping: Option<userns::Mapping>,
    pub(crate) epoch: Option<u64>,
}

/// What a good build leaves for the output stage.
pub(crate) struct Outcome {
    /// The time a tarball's entries are clamped to.
    pub(crate) epoch: Option<u64>,
    pub(crate) unmapped_owners: extract::UnmappedOwners,
    pub(crate) provenance: Provenance,
}

/// Where a build came from, in terms that name no mirror.
#[derive(Default)]
pub(crate) struct Provenance {
    pub(crate) arch: String,
    pub(crate) codename: String,
    /// The Release's `Date:`.
    pub(crate) release_date: Option<u64>,
    /// `sha256:` of the package set (`NAME VERSION ARCH` lines, sorted).
    pub(crate) packages: String,
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
    pub(crate) fn prepare(
        decided: Decided<'a>,
        root: Option<&'a Root>,
    ) -> Result<Build<'a>, Error> {
        let Decided {
            b,
            prog,
            goal,
            reporter,
            arch,
            mapping,
            epoch,
        } = decided;
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
        let mirror = sources::mirror_url(&mirror)?;
        let cache = offline
            .clone()
            .unwrap_or_else(|| b.cache_dir.clone().unwrap_or_else(default_cache));
        for dir in [cache.join("debs"), cache.join("lists")] {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::failed(format_args!("cannot create {}", dir.display()), e))?;
        }
        let extra_suites = b
            .extra_suites
            .iter()
            .map(|suite| (suite.clone(), sources::extra_mirror(suite, &mirror)))
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

    pub(crate) fn go(&'a self) -> Result<Outcome, Error> {
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
