//! Where a build ends up: a directory (TARGET itself), or a tarball or an
//! OCI image (with what the image says of itself) written from a private
//! build directory that is removed on every exit path, Ctrl-C included;
//! and debootstrap's log, kept in TARGET only when the build fails.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::build::Outcome;
use crate::cli::Bootstrap;
use crate::compression::Compression;
use crate::progress::Reporter;
use crate::rooted::{self, Root};
use crate::{configure, oci, release, tarball, Error};

/// Where debootstrap keeps its log while it works, relative to TARGET.
pub const LOG: &str = "debootstrap/debootstrap.log";

/// A tarball's or an image's build directory: a fresh, private (0700,
/// unguessable name) directory beside the target, or in TMPDIR for
/// standard output; never one that existed before. It holds the system
/// (`root/`) and an image's layout while it is written (`image/`, moved
/// into place at the end). Removed when dropped.
pub struct BuildDir(PathBuf);

impl BuildDir {
    pub fn new(target: &Path) -> Result<BuildDir, Error> {
        let parent = if target.as_os_str() == "-" {
            std::env::temp_dir()
        } else {
            match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            }
        };
        let dir = rooted::make_private_dir(&parent, ".ns-bootstrap-build-").map_err(|e| {
            Error::failed(
                format_args!("cannot create a build directory in {}", parent.display()),
                e,
            )
        })?;
        let built = BuildDir(dir);
        std::fs::create_dir(built.root()).map_err(|e| {
            Error::failed(format_args!("cannot create {}", built.root().display()), e)
        })?;
        Ok(built)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Where the system is built.
    pub fn root(&self) -> PathBuf {
        self.0.join("root")
    }

    /// Where an image's layout is written.
    pub fn image(&self) -> PathBuf {
        self.0.join("image")
    }
}

impl Drop for BuildDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tarball's build directory goes also when the build is killed (Ctrl-C
/// kills the whole process group): the build continues in a child (the
/// caller goes on when this returns `None`), and this process waits,
/// passes signals on, removes `dir`, then ends as the child did. In
/// --mode=unshare both are in the user namespace, so files of any owner
/// can be removed. Must be called while single-threaded.
pub fn clean_after_child(dir: &BuildDir) -> Result<Option<Result<(), Error>>, Error> {
    use nix::sys::signal::Signal;
    use nix::sys::wait::WaitStatus;
    use ns_sys::child::{self, WhileWaiting};
    const PASSED_ON: [Signal; 4] = [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ];
    let forked = child::fork_child(WhileWaiting::Forward(&PASSED_ON), None)
        .map_err(|e| Error::Refused(format!("cannot start the build process: {e}")))?;
    let Some(pid) = forked else {
        return Ok(None);
    };
    let status = child::wait(pid);
    let _ = std::fs::remove_dir_all(dir.path());
    match status {
        Ok(WaitStatus::Exited(_, 0)) => Ok(Some(Ok(()))),
        // The child said why.
        Ok(WaitStatus::Exited(_, _)) => Ok(Some(Err(Error::Reported(String::new())))),
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            child::die_of(sig);
            std::process::exit(128 + sig as i32)
        }
        other => Err(Error::Refused(format!(
            "the build process ended: {other:?}"
        ))),
    }
}

/// Writes the tree at `dir` as an OCI image: a layout moved to TARGET,
/// or an archive written to TARGET (or stdout for `-`). Says the
/// manifest's digest.
pub fn write_image(
    build: &BuildDir,
    target: &Path,
    archive: bool,
    image: &oci::Image,
    epoch: Option<u64>,
    owners: &crate::extract::UnmappedOwners,
    reporter: &Reporter,
) -> Result<(), Error> {
    let shown = if target.as_os_str() == "-" {
        "standard output".to_string()
    } else {
        target.display().to_string()
    };
    reporter.info(&format!("Writing the image to {shown}"));
    let root = build.root();
    let tree = tarball::Tree::collect(&root, &configure::tar_devices(), epoch, owners)?;
    let layout = build.image();
    let digest = oci::write_layout(&tree, &layout, image)?;
    if archive {
        let out: Box<dyn Write> = if target.as_os_str() == "-" {
            Box::new(std::io::stdout().lock())
        } else {
            Box::new(
                std::fs::File::create(target)
                    .map_err(|e| Error::failed(format_args!("cannot create {shown}"), e))?,
            )
        };
        let out = std::io::BufWriter::with_capacity(1 << 20, out);
        oci::archive_layout(&layout, out, &shown, image.created)?;
    } else {
        // Checked empty before the build; an empty directory is replaced.
        std::fs::rename(&layout, target)
            .map_err(|e| Error::failed(format_args!("cannot move the image to {shown}"), e))?;
    }
    reporter.info(&format!(
        "Image written ({:.1} s).",
        reporter.elapsed().as_secs_f64()
    ));
    reporter.info(&format!("image digest {digest}"));
    Ok(())
}

/// An image layout goes into a new or empty directory: said before the
/// build rather than after it.
pub fn check_image_target(target: &Path) -> Result<(), Error> {
    match std::fs::read_dir(target).map(|mut entries| entries.next().is_some()) {
        Ok(true) => Err(Error::Refused(format!(
            "{}: exists and is not empty (an OCI image layout is written into a new directory)",
            target.display()
        ))),
        Ok(false) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::failed(
            format_args!("cannot read {}", target.display()),
            e,
        )),
    }
}

/// Writes the tree at `dir` to TARGET (a file, or `-` for stdout).
pub fn write_tarball(
    dir: &Path,
    target: &Path,
    compression: Compression,
    epoch: Option<u64>,
    owners: &crate::extract::UnmappedOwners,
    reporter: &Reporter,
) -> Result<(), Error> {
    let sink = if target.as_os_str() == "-" {
        tarball::Sink::Stdout
    } else {
        tarball::Sink::File(target.to_path_buf())
    };
    reporter.info(&format!(
        "Writing {}",
        match &sink {
            tarball::Sink::Stdout => "the tarball to standard output".to_string(),
            tarball::Sink::File(path) => path.display().to_string(),
        }
    ));
    tarball::write(
        dir,
        &sink,
        compression,
        epoch,
        &configure::tar_devices(),
        owners,
    )?;
    reporter.info(&format!(
        "Tarball written ({:.1} s).",
        reporter.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// After a failure: the messages so far appended to TARGET's log (a
/// tarball's build directory goes, so its log is copied to a private file
/// in TMPDIR first); says where the log is.
pub fn keep_failure_log(root: Option<&Root>, in_build_dir: bool, reporter: &Reporter) {
    let Some(root) = root else { return };
    let kept = if in_build_dir {
        let earlier = root.read(LOG).unwrap_or_default();
        match rooted::make_private_file(&std::env::temp_dir(), "ns-bootstrap-", ".log") {
            Ok((path, mut file)) => file
                .write_all(&earlier)
                .and_then(|()| file.write_all(reporter.log_text().as_bytes()))
                .ok()
                .map(|()| path),
            Err(_) => None,
        }
    } else {
        root.append(LOG)
            .and_then(|mut file| file.write_all(reporter.log_text().as_bytes()))
            .ok()
            .map(|()| root.path().join(LOG))
    };
    if let Some(path) = kept {
        eprintln!("I: the log is in {}", path.display());
    }
}

/// After a good run into a directory: as debootstrap, the log becomes the
/// target's /var/log/bootstrap.log (not in a reproducible build, whose
/// content must not vary), and /debootstrap goes.
pub fn finish_log(root: &Root, keep: bool, reporter: &Reporter) {
    if keep {
        if let Ok(mut file) = root.append(LOG) {
            let _ = file.write_all(reporter.log_text().as_bytes());
        }
        let _ = root.rename(LOG, "var/log/bootstrap.log");
    }
    let _ = root.remove_all("debootstrap");
}

/// What an image says of itself: made as `ns-bootstrap --variant=V
/// SUITE`, at SOURCE_DATE_EPOCH (else now), with provenance annotations
/// that name no mirror.
pub(crate) fn image<'a>(b: &'a Bootstrap, outcome: &'a Outcome) -> oci::Image<'a> {
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
