//! External `mount.<type>` and `umount.<type>` helpers (mount.nfs,
//! mount.fuse, mount.ntfs, …), found and run as libmount runs them: in
//! /sbin, /sbin/fs.d and /sbin/fs, `TYPE.SUBTYPE` falling back to `TYPE`;
//! run without set-ID privileges, their exit status returned as ours.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

/// Where libmount looks (its FS_SEARCH_PATH).
const SEARCH_PATH: [&str; 3] = ["/sbin", "/sbin/fs.d", "/sbin/fs"];

/// The status util-linux gives when a helper was found but could not be
/// executed (2.41+).
pub const EX_EXEC: u8 = 126;

/// The helper `PREFIX.TYPE` (`mount.nfs4`), if one is installed; none for
/// a type list, `none`, or a type that tries to name a path.
pub fn find(prefix: &str, fstype: &str) -> Option<PathBuf> {
    if fstype.is_empty() || fstype.contains(',') || fstype == "none" || fstype.contains("/..") {
        return None;
    }
    for dir in SEARCH_PATH {
        let path = PathBuf::from(format!("{dir}/{prefix}.{fstype}"));
        if path.exists() {
            return Some(path);
        }
        // mount.fuse serves fuse.sshfs.
        if let Some((main, _)) = fstype.rsplit_once('.') {
            let path = PathBuf::from(format!("{dir}/{prefix}.{main}"));
            if path.exists() {
                return Some(path);
            }
        }
    }
    None
}

/// How a helper run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Its exit status (255 if a signal ended it, as C's -1 exits).
    Exited(u8),
    /// It could not be executed.
    ExecFailed,
}

impl Ran {
    pub fn status(self) -> u8 {
        match self {
            Ran::Exited(code) => code,
            Ran::ExecFailed => EX_EXEC,
        }
    }
}

/// Whether any `PREFIX.*` helper is installed at all (most systems have
/// none for umount, and then nothing needs a mount's type).
pub fn any(prefix: &str) -> bool {
    let start = format!("{prefix}.");
    SEARCH_PATH.iter().any(|dir| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.file_name()
                    .as_encoded_bytes()
                    .starts_with(start.as_bytes())
            })
        })
    })
}

/// Runs `helper ARGS` (`argv[0]` the helper's path) as the caller: a
/// set-user-ID mount's helper gets the real user and group, as libmount
/// drops them before exec.
pub fn run(helper: &Path, args: &[OsString]) -> Ran {
    let mut command = std::process::Command::new(helper);
    command.args(args);
    let id = ns_sys::runtime::Identity::current();
    if id.is_set_id() {
        let (uid, gid) = (id.ruid, id.rgid);
        // SAFETY: setresgid/setresuid are async-signal-safe; nothing else
        // runs in the child before exec.
        unsafe {
            command.pre_exec(move || {
                if libc::setresgid(gid, gid, gid) != 0 || libc::setresuid(uid, uid, uid) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    match command.status() {
        Ok(status) => Ran::Exited(match status.code() {
            Some(code) => code as u8,
            None => 255,
        }),
        Err(_) => Ran::ExecFailed,
    }
}

/// `mount.TYPE SOURCE TARGET [-s] [-f] [-n] [-v] [-o OPTIONS] [-t TYPE.SUBTYPE]
/// [-N NS]`: what libmount passes.
pub struct MountArgs<'a> {
    pub source: &'a OsStr,
    pub target: &'a OsStr,
    pub sloppy: bool,
    pub fake: bool,
    pub no_mtab: bool,
    pub verbose: bool,
    pub options: &'a str,
    pub fstype: &'a str,
    pub namespace: Option<&'a Path>,
}

pub fn mount_args(helper: &Path, a: &MountArgs<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![a.source.into(), a.target.into()];
    for (set, flag) in [
        (a.sloppy, "-s"),
        (a.fake, "-f"),
        (a.no_mtab, "-n"),
        (a.verbose, "-v"),
    ] {
        if set {
            args.push(flag.into());
        }
    }
    if !a.options.is_empty() {
        args.push("-o".into());
        args.push(a.options.into());
    }
    push_subtype(&mut args, helper, a.fstype);
    if let Some(ns) = a.namespace {
        args.push("-N".into());
        args.push(ns.into());
    }
    args
}

/// `umount.TYPE TARGET [-n] [-l] [-f] [-v] [-r] [-t TYPE.SUBTYPE] [-N NS]`.
pub struct UmountArgs<'a> {
    pub target: &'a OsStr,
    pub force: bool,
    pub lazy: bool,
    pub no_mtab: bool,
    pub read_only: bool,
    pub verbose: bool,
    pub fstype: &'a str,
    pub namespace: Option<&'a Path>,
}

pub fn umount_args(helper: &Path, a: &UmountArgs<'_>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![a.target.into()];
    for (set, flag) in [
        (a.no_mtab, "-n"),
        (a.lazy, "-l"),
        (a.force, "-f"),
        (a.verbose, "-v"),
        (a.read_only, "-r"),
    ] {
        if set {
            args.push(flag.into());
        }
    }
    push_subtype(&mut args, helper, a.fstype);
    if let Some(ns) = a.namespace {
        args.push("-N".into());
        args.push(ns.into());
    }
    args
}

/// `-t fuse.sshfs` for a helper that serves more than that subtype.
fn push_subtype(args: &mut Vec<OsString>, helper: &Path, fstype: &str) {
    if fstype.contains('.') && !helper.as_os_str().as_bytes().ends_with(fstype.as_bytes()) {
        args.push("-t".into());
        args.push(fstype.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_as_libmount_passes_them() {
        let a = MountArgs {
            source: OsStr::new("srv:/x"),
            target: OsStr::new("/mnt"),
            sloppy: true,
            fake: false,
            no_mtab: true,
            verbose: true,
            options: "rw,vers=4",
            fstype: "nfs",
            namespace: None,
        };
        assert_eq!(
            mount_args(Path::new("/sbin/mount.nfs"), &a),
            ["srv:/x", "/mnt", "-s", "-n", "-v", "-o", "rw,vers=4"]
        );
        let a = MountArgs {
            fstype: "fuse.sshfs",
            sloppy: false,
            no_mtab: false,
            verbose: false,
            namespace: Some(Path::new("/proc/1/ns/mnt")),
            ..a
        };
        assert_eq!(
            mount_args(Path::new("/sbin/mount.fuse"), &a),
            [
                "srv:/x",
                "/mnt",
                "-o",
                "rw,vers=4",
                "-t",
                "fuse.sshfs",
                "-N",
                "/proc/1/ns/mnt"
            ]
        );
        assert_eq!(
            mount_args(Path::new("/sbin/mount.fuse.sshfs"), &a)[4..6],
            ["-N", "/proc/1/ns/mnt"]
        );
        let u = UmountArgs {
            target: OsStr::new("/mnt"),
            force: true,
            lazy: true,
            no_mtab: false,
            read_only: true,
            verbose: false,
            fstype: "fuse.sshfs",
            namespace: None,
        };
        assert_eq!(
            umount_args(Path::new("/sbin/umount.fuse"), &u),
            ["/mnt", "-l", "-f", "-r", "-t", "fuse.sshfs"]
        );
    }

    #[test]
    fn no_helper_for_lists_none_or_paths() {
        for fstype in ["", "a,b", "none", "x/../../tmp/evil"] {
            assert_eq!(find("mount", fstype), None, "{fstype}");
        }
    }
}
