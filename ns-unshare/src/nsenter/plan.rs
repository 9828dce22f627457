//! What the options ask for, built by acting on them in command-line
//! order as util-linux does: files named by options are opened as they
//! come (`--net=FILE`, `-r DIR`, `-w DIR`, `:NSID`), a `PID:INODE` target
//! is checked there and then.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use ns_sys::NsType;

use super::cli::{IdChoice, Item};
use super::join::Namespaces;
use super::kernel;
use crate::error::system_path;
use crate::Error;

/// The options, acted on.
#[derive(Debug, Default)]
pub struct Plan {
    pub target: Option<i32>,
    pub namespaces: Namespaces,
    pub all: bool,
    /// `-N`: a descriptor of the target's (negative: none).
    pub socket: Option<i32>,
    pub user_parent: bool,
    /// `-r DIR`, or `-r` alone: the target's root.
    pub root: Option<OwnedFd>,
    pub root_of_target: bool,
    pub wd: Option<OwnedFd>,
    pub wd_of_target: bool,
    /// `-W DIR`: opened once inside.
    pub wdns: Option<OsString>,
    pub env: bool,
    pub uid: Option<IdChoice>,
    pub gid: Option<IdChoice>,
    pub preserve_credentials: bool,
    pub keep_caps: bool,
    /// `-F`: `Some(false)`; else forking is decided by the PID namespace.
    pub fork: Option<bool>,
    pub join_cgroup: bool,
    pub follow_context: bool,
}

impl Plan {
    /// Acts on one option.
    pub fn apply(&mut self, item: &Item) -> Result<(), Error> {
        match item {
            Item::All => self.all = true,
            Item::Target { pid, inode } => {
                self.target = Some(*pid);
                if let Some(inode) = inode {
                    check_pidfd_inode(*pid, inode.value)?;
                    if !inode.well_formed {
                        return Err(Error::Failed("invalid PID argument".into()));
                    }
                }
            }
            Item::Namespace(kind, value) => {
                let fd = match value {
                    None => None,
                    Some(value) => Some(open_namespace(strip_equals(value))?),
                };
                self.namespaces.enable(*kind, fd);
            }
            Item::NetSocket(fd) => self.socket = Some(*fd),
            Item::SetUid(choice) => self.uid = Some(merge(self.uid, *choice)),
            Item::SetGid(choice) => self.gid = Some(merge(self.gid, *choice)),
            Item::Root(None) => self.root_of_target = true,
            // util-linux takes -r's value as it is, `=` and all.
            Item::Root(Some(dir)) => self.root = Some(open(dir)?),
            Item::Wd(None) => self.wd_of_target = true,
            Item::Wd(Some(dir)) => self.wd = Some(open(strip_equals(dir))?),
            Item::WdNs(dir) => self.wdns = dir.as_deref().map(|d| strip_equals(d).to_owned()),
            Item::Env => self.env = true,
            Item::NoFork => self.fork = Some(false),
            Item::JoinCgroup => self.join_cgroup = true,
            Item::PreserveCredentials => self.preserve_credentials = true,
            Item::KeepCaps => self.keep_caps = true,
            Item::UserParent => self.user_parent = true,
            Item::FollowContext => self.follow_context = true,
        }
        Ok(())
    }

    /// `/proc/PID/WHAT` of the target, opened.
    pub fn open_of_target(&self, what: &str) -> Result<OwnedFd, Error> {
        match self.target {
            Some(pid) => open(OsStr::new(&format!("/proc/{pid}/{what}"))),
            None => Err(Error::Failed(format!(
                "neither filename nor target pid supplied for {what}"
            ))),
        }
    }

    /// The types `-a` adds: those this kernel has (we can see our own
    /// namespace of the type), except a user namespace that is already
    /// ours (setns(2) refuses to re-enter it, which would let a process
    /// that dropped capabilities regain them).
    pub fn add_all(&mut self) -> Result<(), Error> {
        let own = std::process::id();
        let target = self.target.unwrap_or(0);
        for kind in super::join::ENTER_ORDER {
            if self.namespaces.is_enabled(kind) {
                continue;
            }
            let name = kind.proc_path().to_string_lossy();
            let mine = match std::fs::metadata(format!("/proc/{own}/{name}")) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                other => other.ok(),
            };
            if kind == NsType::User {
                use std::os::unix::fs::MetadataExt;
                let path = format!("/proc/{target}/{name}");
                let theirs = std::fs::metadata(&path).map_err(|e| {
                    Error::system(format_args!("stat of {path} failed"), ns_sys::errno_of(&e))
                })?;
                if mine.is_some_and(|mine| mine.ino() == theirs.ino()) {
                    continue;
                }
            }
            self.namespaces.enable(kind, None);
        }
        Ok(())
    }
}

/// A second `-S`: a number replaces the number, and `follow` stays (as
/// util-linux keeps its flag).
fn merge(old: Option<IdChoice>, new: IdChoice) -> IdChoice {
    match (old, new) {
        (Some(IdChoice::Follow), _) => IdChoice::Follow,
        (_, new) => new,
    }
}

/// util-linux drops one `=` from the front of a namespace's and `-w`'s
/// value (getopt leaves it on `-n=FILE`).
fn strip_equals(value: &OsStr) -> &OsStr {
    let bytes = value.as_bytes();
    OsStr::from_bytes(bytes.strip_prefix(b"=").unwrap_or(bytes))
}

/// Opens a file to keep (read-only, close-on-exec).
pub fn open(path: &OsStr) -> Result<OwnedFd, Error> {
    std::fs::File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| system_path("cannot open ", path.as_ref(), "", ns_sys::errno_of(&e)))
}

/// A namespace file, or `:NSID`, a namespace by its ID.
fn open_namespace(value: &OsStr) -> Result<OwnedFd, Error> {
    let Some(id) = value.as_bytes().strip_prefix(b":") else {
        return open(value);
    };
    let id = String::from_utf8_lossy(id);
    let id: u64 = super::cli::unsigned(&id)
        .map_err(|_| Error::Failed(format!("failed to parse nsid: {id}")))?;
    kernel::open_namespace_by_id(id).map_err(|(filling, errno)| {
        if filling {
            Error::system("failed to fill namespace file handle", errno)
        } else {
            Error::system(format_args!("cannot open namespace of id {id}"), errno)
        }
    })
}

/// `-t PID:INODE`: the process must still be the one whose pidfd had
/// that inode (pidfs, Linux 6.9), not a new one that reuses the number.
fn check_pidfd_inode(pid: i32, inode: u64) -> Result<(), Error> {
    let check = || -> Result<(), Errno> {
        let pidfd = kernel::pidfd_open(pid)?;
        if !kernel::is_pidfs(pidfd.as_fd())? {
            return Err(Errno::ENOTSUP);
        }
        if kernel::stat(pidfd.as_fd())?.st_ino != inode {
            return Err(Errno::ESRCH);
        }
        Ok(())
    };
    check().map_err(|errno| {
        Error::system(
            format_args!("failed to obtain a valid file descriptor for PID {pid}"),
            errno,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_dropped_once() {
        assert_eq!(strip_equals(OsStr::new("=/x")), "/x");
        assert_eq!(strip_equals(OsStr::new("==x")), "=x");
        assert_eq!(strip_equals(OsStr::new("/x")), "/x");
    }

    #[test]
    fn follow_stays() {
        assert_eq!(merge(None, IdChoice::Id(3)), IdChoice::Id(3));
        assert_eq!(
            merge(Some(IdChoice::Id(3)), IdChoice::Follow),
            IdChoice::Follow
        );
        assert_eq!(
            merge(Some(IdChoice::Follow), IdChoice::Id(4)),
            IdChoice::Follow
        );
    }

    #[test]
    fn files_open_as_given_and_errors_name_them() {
        let mut plan = Plan::default();
        plan.apply(&Item::Namespace(
            NsType::Net,
            Some("=/proc/self/ns/net".into()),
        ))
        .unwrap();
        assert!(plan.namespaces.slot(NsType::Net).fd.is_some());
        let error = plan
            .apply(&Item::Root(Some("=/".into())))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "cannot open =/: No such file or directory");
        let error = plan
            .apply(&Item::Namespace(NsType::Uts, Some(":x".into())))
            .unwrap_err()
            .to_string();
        assert_eq!(error, "failed to parse nsid: x");
        assert_eq!(
            plan.open_of_target("root").unwrap_err().to_string(),
            "neither filename nor target pid supplied for root"
        );
    }

    #[test]
    fn an_ill_formed_inode_is_refused_once_it_matched() {
        let me = std::process::id() as i32;
        let pidfd = kernel::pidfd_open(me).expect("pidfd_open of ourselves");
        // Before pidfs (Linux 6.9) no inode names a process.
        if !kernel::is_pidfs(pidfd.as_fd()).expect("fstatfs") {
            return;
        }
        let value = kernel::stat(pidfd.as_fd()).expect("fstat").st_ino;
        let target = |value, well_formed| Item::Target {
            pid: me,
            inode: Some(super::super::cli::Inode { value, well_formed }),
        };
        let mut plan = Plan::default();
        plan.apply(&target(value, true)).expect("our own inode");
        assert_eq!(
            plan.apply(&target(value, false)).unwrap_err().to_string(),
            "invalid PID argument"
        );
        let stale = plan.apply(&target(value + 1, false)).unwrap_err();
        assert!(
            stale
                .to_string()
                .starts_with("failed to obtain a valid file descriptor"),
            "{stale}"
        );
    }

    #[test]
    fn a_stale_pidfd_inode_is_refused() {
        let me = std::process::id() as i32;
        let error = check_pidfd_inode(me, u64::MAX).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!(
                "failed to obtain a valid file descriptor for PID {me}: "
            )),
            "{error}"
        );
    }
}
