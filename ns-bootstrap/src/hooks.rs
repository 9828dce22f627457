//! Hooks, in mmdebstrap's words so its users need none new:
//! `--setup-hook`, `--extract-hook`, `--essential-hook`,
//! `--customize-hook` (each repeatable) and `--hook-directory` (its
//! executables named `setup*`, `extract*`, `essential*`, `customize*`,
//! in the order of their names, after the options' hooks).
//!
//! The stages: *setup* once TARGET exists, before anything is fetched;
//! *extract* once every package is unpacked, before any is configured;
//! *essential* once they are configured (ns-bootstrap configures every
//! package in one dpkg run, where mmdebstrap configures the essential
//! ones first); *customize* last, before a tarball or image is written.
//!
//! A hook is an executable file, run with TARGET as `$1`, or a shell
//! command, run as `sh -c COMMAND exec TARGET`; on the host (in
//! --mode=unshare, as root of the build's user namespace), with
//! `MMDEBSTRAP_HOOK` and friends set. The special hooks copy files in and
//! out: `copy-in`/`sync-in`/`upload` write into TARGET through the same
//! safe extraction as packages (a link TARGET holds cannot lead outside),
//! `copy-out`/`sync-out`/`download` read a path resolved inside TARGET.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::extract::Extractor;
use crate::rooted::Root;

/// When a hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Setup,
    Extract,
    Essential,
    Customize,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Setup => "setup",
            Stage::Extract => "extract",
            Stage::Essential => "essential",
            Stage::Customize => "customize",
        }
    }
}

/// The hooks of a run, by stage, in the order they run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    pub hooks: Vec<(Stage, String)>,
    /// `--hook-directory`s.
    pub directories: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{stage} hook '{hook}': {reason}")]
    Failed {
        stage: &'static str,
        hook: String,
        reason: Reason,
    },
    #[error("--hook-directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// A special hook given the wrong number of arguments.
    #[error("{hook} takes {expects}")]
    Usage { hook: String, expects: &'static str },
    #[error("cannot run it: {0}")]
    Spawn(std::io::Error),
    /// The hook (or the `cp` of a special hook) ended so.
    #[error("{0}")]
    Status(std::process::ExitStatus),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cp: {0}")]
    Copy(std::io::Error),
    #[error("cp of {path}: {status}")]
    CopyStatus {
        path: String,
        status: std::process::ExitStatus,
    },
    #[error(transparent)]
    Extract(#[from] crate::extract::Error),
}

fn io_error(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Reason {
    move |source| Reason::Io {
        path: path.to_string(),
        source,
    }
}

/// What a hook knows of the run (mmdebstrap's variables).
pub struct Context<'a> {
    pub root: &'a Root,
    pub mode: &'a str,
    pub suite: &'a str,
    pub variant: &'a str,
    pub format: &'a str,
    pub argv0: &'a str,
    pub verbose: bool,
}

impl Hooks {
    pub fn is_empty(&self) -> bool {
        self.hooks.is_empty() && self.directories.is_empty()
    }

    /// Runs the stage's hooks in order; the first failure stops the run.
    pub fn run(&self, stage: Stage, context: &Context) -> Result<(), Error> {
        for (_, hook) in self.hooks.iter().filter(|(s, _)| *s == stage) {
            run_one(stage, hook, context)?;
        }
        for dir in &self.directories {
            for path in directory_hooks(dir, stage)? {
                run_one(stage, &path.to_string_lossy(), context)?;
            }
        }
        Ok(())
    }
}

/// The executables in `dir` whose names start with the stage's, sorted.
fn directory_hooks(dir: &Path, stage: Stage) -> Result<Vec<PathBuf>, Error> {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Directory {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(stage.name()))
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    out.sort();
    Ok(out)
}

fn run_one(stage: Stage, hook: &str, context: &Context) -> Result<(), Error> {
    let failed = |reason: Reason| Error::Failed {
        stage: stage.name(),
        hook: hook.to_string(),
        reason,
    };
    let words: Vec<&str> = hook.split_whitespace().collect();
    if let Some((special, args)) = words.split_first() {
        if let Some(result) = special_hook(special, args, context.root) {
            return result.map_err(failed);
        }
    }
    let root = context.root.path();
    let mut command = if Path::new(hook).is_file() && is_executable(Path::new(hook)) {
        let mut command = Command::new(hook);
        command.arg(root);
        command
    } else {
        let mut command = Command::new("sh");
        command.args(["-c", hook, "exec"]).arg(root);
        command
    };
    command
        .env("MMDEBSTRAP_HOOK", stage.name())
        .env("MMDEBSTRAP_MODE", context.mode)
        .env("MMDEBSTRAP_SUITE", context.suite)
        .env("MMDEBSTRAP_VARIANT", context.variant)
        .env("MMDEBSTRAP_FORMAT", context.format)
        .env("MMDEBSTRAP_ARGV0", context.argv0)
        .env(
            "MMDEBSTRAP_VERBOSITY",
            if context.verbose { "2" } else { "1" },
        );
    let status = command.status().map_err(|e| failed(Reason::Spawn(e)))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(Reason::Status(status)))
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// mmdebstrap's special hooks; `None` when `name` is not one.
fn special_hook(name: &str, args: &[&str], root: &Root) -> Option<Result<(), Reason>> {
    let usage = |expects| Reason::Usage {
        hook: name.to_string(),
        expects,
    };
    let split = |args: &[&str]| -> Result<(Vec<PathBuf>, String), Reason> {
        match args.split_last() {
            Some((to, from)) if !from.is_empty() => {
                Ok((from.iter().map(PathBuf::from).collect(), to.to_string()))
            }
            _ => Err(usage("one or more sources and a destination")),
        }
    };
    Some(match name {
        // Each source (a file or a directory) into the directory DST.
        "copy-in" => split(args).and_then(|(from, to)| copy_in(root, &from, &to, false)),
        // The contents of the directory SRC into the directory DST.
        "sync-in" => split(args).and_then(|(from, to)| copy_in(root, &from, &to, true)),
        // The file SRC as the file DST.
        "upload" => match args {
            [from, to] => upload(root, Path::new(from), to),
            _ => Err(usage("a file and its path inside")),
        },
        "copy-out" => split(args).and_then(|(from, to)| {
            let from: Vec<String> = from.iter().map(|p| p.display().to_string()).collect();
            copy_out(root, &from, Path::new(&to), false)
        }),
        "sync-out" => match args {
            [from, to] => copy_out(root, &[from.to_string()], Path::new(to), true),
            _ => Err(usage("a directory inside and one outside")),
        },
        "download" => match args {
            [from, to] => copy_out(root, &[from.to_string()], Path::new(to), false),
            _ => Err(usage("a file inside and its path outside")),
        },
        _ => return None,
    })
}

/// Host files into TARGET: archived, then extracted as packages are (in-root).
fn copy_in(root: &Root, from: &[PathBuf], to: &str, contents: bool) -> Result<(), Reason> {
    let prefix = to.trim_start_matches('/').trim_end_matches('/');
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    for source in from {
        let in_tar = |name: &Path| -> PathBuf {
            match prefix {
                "" => name.to_path_buf(),
                _ => Path::new(prefix).join(name),
            }
        };
        let appended = if contents {
            builder.append_dir_all(in_tar(Path::new("")), source)
        } else if source.is_dir() {
            let name = source.file_name().map(PathBuf::from).unwrap_or_default();
            builder.append_dir_all(in_tar(&name), source)
        } else {
            let name = source.file_name().map(PathBuf::from).unwrap_or_default();
            builder.append_path_with_name(source, in_tar(&name))
        };
        appended.map_err(io_error(source.display()))?;
    }
    let archive = builder
        .into_inner()
        .map_err(io_error("the archive of the files copied in"))?;
    Extractor {
        root,
        keep_unmapped_owners: false,
    }
    .extract(&archive[..], &[])
    .map(drop)
    .map_err(Reason::from)
}

fn upload(root: &Root, from: &Path, to: &str) -> Result<(), Reason> {
    let data = std::fs::read(from).map_err(io_error(from.display()))?;
    let mode = std::fs::metadata(from)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777)
        .unwrap_or(0o644);
    let rel = to.trim_start_matches('/');
    root.write(rel, &data, mode)
        .map_err(io_error(root.show(rel)))
}

/// Paths inside TARGET (resolved there, links followed only inside) out
/// to the host, with `cp` through the descriptor that holds each.
fn copy_out(root: &Root, from: &[String], to: &Path, contents: bool) -> Result<(), Reason> {
    for source in from {
        let rel = source.trim_start_matches('/');
        let fd = root.resolve_path(rel).map_err(io_error(root.show(rel)))?;
        // This process's descriptor, named for `cp` (another process).
        let held = format!("/proc/{}/fd/{}", std::process::id(), fd.as_raw_fd());
        let mut argv: Vec<OsString> = vec!["-a".into(), "-H".into()];
        if contents {
            argv.push(format!("{held}/.").into());
        } else {
            argv.push(held.into());
        }
        let target = if contents || to.is_dir() {
            match Path::new(rel).file_name() {
                Some(name) if !contents => to.join(name),
                _ => to.to_path_buf(),
            }
        } else {
            to.to_path_buf()
        };
        argv.push(target.into());
        let status = Command::new("cp")
            .args(&argv)
            .status()
            .map_err(Reason::Copy)?;
        if !status.success() {
            return Err(Reason::CopyStatus {
                path: root.show(rel),
                status,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch_root() -> (PathBuf, Root) {
        let dir =
            crate::rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-hooks-").unwrap();
        let root = Root::open(&dir).unwrap();
        (dir, root)
    }

    #[test]
    fn special_hooks_name_what_they_take_and_what_failed() {
        let (dir, root) = scratch_root();
        let reason = |name: &str, args: &[&str]| {
            special_hook(name, args, &root)
                .expect("a special hook")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            reason("copy-in", &["/only"]),
            "copy-in takes one or more sources and a destination"
        );
        assert_eq!(
            reason("upload", &["a"]),
            "upload takes a file and its path inside"
        );
        assert_eq!(
            reason("sync-out", &[]),
            "sync-out takes a directory inside and one outside"
        );
        let missing = dir.join("no-such-file");
        assert_eq!(
            reason("upload", &[missing.to_str().unwrap(), "/x"]),
            format!(
                "{}: No such file or directory (os error 2)",
                missing.display()
            )
        );
        assert!(special_hook("echo", &[], &root).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
