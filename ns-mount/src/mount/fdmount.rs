//! A mount through the file-descriptor API, as util-linux 2.39+ makes it
//! (libmount's hook_mount): one plan of calls per kind of operation.
//!
//! ```text
//! new filesystem   fsopen, fsconfig (source, parameters, create), fsmount,
//!                  [open_tree of X-mount.subdir], mount_setattr, move_mount
//! bind             open_tree (clone), mount_setattr, move_mount
//! move             open_tree, [mount_setattr: --move -o ro], move_mount
//! remount          open_tree, [fspick, fsconfig (parameters, reconfigure)],
//!                  mount_setattr
//! propagation      open_tree
//! ```
//! then the idmapping (`X-mount.idmap`) before the attach, and the
//! propagation changes (one `mount_setattr` each) on the attached mount.
//! A failed call names itself (`fsconfig() failed: …`) and carries the
//! filesystem context's messages, as libmount reports them.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

use ns_sys::mount::MsFlags;
use ns_sys::Errno;

use crate::attrs::{Attrs, Param};
use crate::fsapi::{attr, Config, FsApi, MountAttr, Tree};

/// What a plan does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation<'a> {
    /// A new filesystem instance of `fstype` from `source`.
    Create {
        fstype: &'a str,
        source: &'a OsStr,
        params: Vec<Param>,
        /// `--exclusive`: never an existing superblock.
        exclusive: bool,
        /// `X-mount.subdir`: only this directory of it is attached.
        subdir: Option<&'a OsStr>,
    },
    /// A copy of the tree at `source` (with its submounts: `recursive`).
    Bind {
        source: &'a OsStr,
        recursive: bool,
        /// `X-mount.nocanonicalize=source`: a symlink is bound itself.
        nofollow: bool,
    },
    Move {
        source: &'a OsStr,
    },
    /// The mount at the target changed; `reconfigure` holds the
    /// superblock's new parameters (none for a bind remount).
    Remount {
        reconfigure: Option<Vec<Param>>,
    },
    /// Only the propagation of the mount at the target.
    Propagation,
}

/// One mount's calls.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    pub operation: Operation<'a>,
    pub target: &'a Path,
    /// For the mount itself, and (`=recursive`) for its whole tree.
    pub attrs: Attrs,
    pub recursive_attrs: Attrs,
    /// `MS_SHARED` etc., and whether recursive, in order.
    pub propagation: Vec<(MsFlags, bool)>,
    /// `--beneath`: under the top mount of the target.
    pub beneath: bool,
    /// `X-mount.idmap`: a user namespace whose mapping the mount takes
    /// (the whole tree's, for rbind and the recursive propagations).
    pub userns: Option<(std::os::fd::BorrowedFd<'a>, bool)>,
}

/// A failed call, as libmount reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub syscall: &'static str,
    pub errno: Errno,
    /// The filesystem context's messages (`e …`, `w …`, `i …`).
    pub messages: Vec<String>,
    /// A mount_setattr refused the flags (libmount's APPLYFLAGS error).
    pub apply_flags: bool,
    /// The mount was attached before the call failed.
    pub attached: bool,
}

struct Run<'a, A: FsApi + ?Sized> {
    api: &'a A,
    /// The filesystem context, whose messages tell why a call failed.
    fs: Option<OwnedFd>,
    attached: bool,
    messages: Vec<String>,
}

impl<A: FsApi + ?Sized> Run<'_, A> {
    fn failed(&mut self, syscall: &'static str, errno: Errno) -> Failure {
        if let Some(fs) = &self.fs {
            self.messages = self.api.messages(fs.as_fd());
        }
        Failure {
            syscall,
            errno,
            messages: std::mem::take(&mut self.messages),
            apply_flags: syscall == "mount_setattr" && errno == Errno::EINVAL,
            attached: self.attached,
        }
    }

    /// Success: keep the context's messages (warnings, infos).
    fn drain(&mut self) {
        if let Some(fs) = &self.fs {
            self.messages.extend(self.api.messages(fs.as_fd()));
        }
    }

    /// An fsconfig call on the context opened (fsopen, fspick) before.
    fn config(&mut self, config: Config<'_>) -> Result<(), Failure> {
        let result = match &self.fs {
            Some(fs) => self.api.fsconfig(fs.as_fd(), config),
            None => Err(Errno::EBADF),
        };
        result.map_err(|errno| self.failed("fsconfig", errno))
    }

    fn params(&mut self, params: &[Param]) -> Result<(), Failure> {
        for param in params {
            match param {
                Param::Flag(name) => self.config(Config::Flag(name))?,
                Param::String(name, value) => {
                    self.config(Config::String(name, value.as_bytes()))?
                }
            }
        }
        Ok(())
    }

    fn setattr(&mut self, tree: &OwnedFd, recursive: bool, a: &MountAttr) -> Result<(), Failure> {
        self.api
            .mount_setattr(tree.as_fd(), recursive, a)
            .map_err(|errno| self.failed("mount_setattr", errno))
    }
}

/// Runs a plan; on success, the context's other messages (warnings and
/// infos, for `-v`).
pub fn run<A: FsApi + ?Sized>(api: &A, plan: &Plan<'_>) -> Result<Vec<String>, Failure> {
    let mut run = Run {
        api,
        fs: None,
        attached: false,
        messages: Vec::new(),
    };
    let tree = open(&mut run, plan)?;
    for (a, recursive) in [(plan.attrs, false), (plan.recursive_attrs, true)] {
        if !a.is_empty() {
            let a = MountAttr {
                attr_set: a.set,
                attr_clr: a.clr,
                ..MountAttr::default()
            };
            run.setattr(&tree, recursive, &a)?;
        }
    }
    if let Some((userns, recursive)) = plan.userns {
        // Only a detached mount (a new one, or a bind's copy) takes one.
        let a = MountAttr {
            attr_set: attr::IDMAP,
            userns_fd: userns.as_raw_fd() as u64,
            ..MountAttr::default()
        };
        if let Err(errno) = api.mount_setattr(tree.as_fd(), recursive, &a) {
            let mut failure = run.failed("mount_setattr", errno);
            failure.apply_flags = false;
            if !failure.messages.iter().any(|m| m.starts_with("e ")) {
                let text = ns_sys::strerror(errno as i32);
                failure
                    .messages
                    .push(format!("e cannot set ID-mapping: {text}"));
            }
            return Err(failure);
        }
    }
    let attaches = !matches!(
        plan.operation,
        Operation::Remount { .. } | Operation::Propagation
    );
    if attaches {
        api.move_mount(tree.as_fd(), plan.target, plan.beneath)
            .map_err(|errno| run.failed("move_mount", errno))?;
        run.attached = true;
    }
    for &(propagation, recursive) in &plan.propagation {
        let a = MountAttr {
            propagation: propagation.bits(),
            ..MountAttr::default()
        };
        run.setattr(&tree, recursive, &a)?;
    }
    run.drain();
    Ok(run.messages)
}

/// The tree the plan works on: a new filesystem's mount, a copy of the
/// source, the source, or the mount at the target.
fn open<A: FsApi + ?Sized>(run: &mut Run<'_, A>, plan: &Plan<'_>) -> Result<OwnedFd, Failure> {
    let api = run.api;
    let open_tree = |run: &mut Run<'_, A>, at, path: &OsStr, how| {
        api.open_tree(at, path, how)
            .map_err(|errno| run.failed("open_tree", errno))
    };
    match &plan.operation {
        Operation::Create {
            fstype,
            source,
            params,
            exclusive,
            subdir,
        } => {
            let fs = api
                .fsopen(fstype)
                .map_err(|errno| run.failed("fsopen", errno))?;
            run.fs = Some(fs);
            run.config(Config::String("source", source.as_encoded_bytes()))?;
            run.params(params)?;
            run.config(Config::Create {
                exclusive: *exclusive,
            })?;
            let mounted = match &run.fs {
                Some(fs) => api.fsmount(fs.as_fd()),
                None => Err(Errno::EBADF),
            };
            let mount = mounted.map_err(|errno| run.failed("fsmount", errno))?;
            match subdir {
                // The directory of the detached filesystem, never above
                // it nor through a symlink; the rest is dropped with it.
                Some(dir) => {
                    let how = Tree {
                        clone: true,
                        recursive: true,
                        beneath: true,
                        ..Tree::default()
                    };
                    open_tree(run, Some(mount.as_fd()), dir, how)
                }
                None => Ok(mount),
            }
        }
        Operation::Bind {
            source,
            recursive,
            nofollow,
        } => {
            let how = Tree {
                clone: true,
                recursive: *recursive,
                nofollow: *nofollow,
                ..Tree::default()
            };
            open_tree(run, None, source, how)
        }
        Operation::Move { source } => open_tree(run, None, source, Tree::default()),
        Operation::Remount { reconfigure } => {
            let tree = open_tree(run, None, plan.target.as_os_str(), Tree::default())?;
            if let Some(params) = reconfigure {
                let fs = api
                    .fspick(tree.as_fd())
                    .map_err(|errno| run.failed("fspick", errno))?;
                run.fs = Some(fs);
                run.params(params)?;
                run.config(Config::Reconfigure)?;
            }
            Ok(tree)
        }
        Operation::Propagation => open_tree(run, None, plan.target.as_os_str(), Tree::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attrs::{propagations, superblock_params, vfs_attrs};
    use crate::fsapi::Recorder;
    use crate::options::MountOptions;

    fn plan<'a>(operation: Operation<'a>, options: &MountOptions) -> Plan<'a> {
        Plan {
            operation,
            target: Path::new("/dst"),
            attrs: vfs_attrs(options, false),
            recursive_attrs: vfs_attrs(options, true),
            propagation: propagations(options),
            beneath: false,
            userns: None,
        }
    }

    #[test]
    fn a_new_filesystem_as_util_linux_mounts_it() {
        let options = MountOptions::parse("size=1m,nosuid,private");
        let api = Recorder::new();
        let create = Operation::Create {
            fstype: "tmpfs",
            source: OsStr::new("none"),
            params: superblock_params(&options, false),
            exclusive: false,
            subdir: None,
        };
        run(&api, &plan(create, &options)).unwrap();
        assert_eq!(
            api.calls(),
            [
                "fsopen tmpfs",
                "fsconfig source=none",
                "fsconfig size=1m",
                "fsconfig create",
                "fsmount",
                "mount_setattr set=0x2 clr=0x0 propagation=0x0",
                "move_mount /dst",
                "mount_setattr set=0x0 clr=0x0 propagation=0x40000",
            ]
        );
    }

    #[test]
    fn a_recursive_read_only_bind() {
        let options = MountOptions::parse("rbind,ro=recursive,nosuid");
        let api = Recorder::new();
        let bind = Operation::Bind {
            source: OsStr::new("/src"),
            recursive: true,
            nofollow: false,
        };
        run(&api, &plan(bind, &options)).unwrap();
        assert_eq!(
            api.calls(),
            [
                "open_tree /src clone recursive",
                "mount_setattr set=0x2 clr=0x0 propagation=0x0",
                "mount_setattr set=0x1 clr=0x0 propagation=0x0 recursive",
                "move_mount /dst",
            ]
        );
    }

    #[test]
    fn a_remount_reconfigures_the_superblock_then_the_mount() {
        let options = MountOptions::parse("remount,ro");
        let api = Recorder::new();
        let remount = Operation::Remount {
            reconfigure: Some(superblock_params(&options, true)),
        };
        run(&api, &plan(remount, &options)).unwrap();
        assert_eq!(
            api.calls(),
            [
                "open_tree /dst",
                "fspick",
                "fsconfig ro",
                "fsconfig reconfigure",
                "mount_setattr set=0x1 clr=0x20000e propagation=0x0",
            ]
        );
    }

    #[test]
    fn a_failure_names_its_call_and_carries_the_kernels_words() {
        let options = MountOptions::parse("bogus=1");
        let api = Recorder::new().failing(
            "fsconfig bogus",
            Errno::EINVAL,
            &["e tmpfs: Unknown parameter 'bogus'"],
        );
        let create = Operation::Create {
            fstype: "tmpfs",
            source: OsStr::new("none"),
            params: superblock_params(&options, false),
            exclusive: true,
            subdir: None,
        };
        let failure = run(&api, &plan(create, &options)).unwrap_err();
        assert_eq!(failure.syscall, "fsconfig");
        assert_eq!(failure.errno, Errno::EINVAL);
        assert_eq!(failure.messages, ["e tmpfs: Unknown parameter 'bogus'"]);
        assert!(!failure.attached);
        assert_eq!(api.calls().last().unwrap(), "fsconfig bogus=1");
    }

    #[test]
    fn a_subdirectory_of_the_new_filesystem_is_attached() {
        let options = MountOptions::parse("");
        let api = Recorder::new();
        let create = Operation::Create {
            fstype: "ext4",
            source: OsStr::new("/dev/sda1"),
            params: Vec::new(),
            exclusive: true,
            subdir: Some(OsStr::new("sub/dir")),
        };
        let mut plan = plan(create, &options);
        plan.beneath = true;
        run(&api, &plan).unwrap();
        assert_eq!(
            api.calls(),
            [
                "fsopen ext4",
                "fsconfig source=/dev/sda1",
                "fsconfig create-excl",
                "fsmount",
                "open_tree sub/dir at clone recursive beneath",
                "move_mount /dst beneath",
            ]
        );
    }
}
