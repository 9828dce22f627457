//! The third stage of a mount: a [`Resolved`] request made, as libmount
//! makes it. The type comes from the request, a `-t` list tried in order,
//! the probed superblock, or /etc/filesystems and /proc/filesystems; for
//! each type, a `mount.<type>` helper if one is installed, else the
//! fd-based calls ([`super::fdmount`]) where the kernel has them
//! (`LIBMOUNT_FORCE_MOUNT2=always` says otherwise), else mount(2). A
//! failure of EINVAL or ENODEV moves on to the next type. After the
//! mount: `X-mount.owner`, `X-mount.group`, `X-mount.mode`, and utab.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use ns_sys::mount::{MsFlags, Step};
use ns_sys::{Errno, Sys};

use super::fdmount::{self, Failure, Operation, Plan};
use super::messages::{mount_error_message, success_message, MountFailure, Outcome};
use super::resolve::Resolved;
use super::Context;
use crate::attrs::{helper_options, propagations, superblock_params, vfs_attrs};
use crate::error::{EX_FAIL, EX_SYSERR};
use crate::helper;
use crate::options::match_fstype;
use crate::options::MountOptions;
use crate::probe;

/// `X-mount.owner`, `X-mount.group`, `X-mount.mode`: what is done to the
/// mount point after the mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ownership {
    owner: Option<u32>,
    group: Option<u32>,
    mode: Option<u32>,
}

impl<S: Sys> Context<'_, S> {
    /// Whether the fd-based API is to be used (libmount's
    /// force_classic_mount, and whether the kernel has the calls).
    fn fd_api(&self) -> bool {
        let forced = std::env::var_os("LIBMOUNT_FORCE_MOUNT2")
            .filter(|_| !self.privilege.environment_is_untrusted());
        if forced.as_deref() == Some(OsStr::new("always")) {
            return false;
        }
        self.api.available()
    }

    /// The types to try for a new filesystem, in order; empty when the
    /// request is an operation on existing mounts.
    /// `None` when the known types were wanted and could not be read.
    fn types_to_try(&self, m: &Resolved, source: &OsStr) -> Option<Vec<String>> {
        if let Some(fstype) = &m.fstype {
            // An fstab entry's list ("foo,bar,ext2"); "auto" in it probes.
            return Some(
                fstype
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .filter_map(|t| {
                        if t == "auto" {
                            probe_source(source).map(|sb| sb.fstype.to_string())
                        } else {
                            Some(t.to_string())
                        }
                    })
                    .collect(),
            );
        }
        match self.fstype_pattern.as_deref() {
            // -t foo,bar: the list, in order.
            Some(pattern) if !pattern.starts_with("no") => Some(
                pattern
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            // -t nofoo,bar: every known type the pattern lets through.
            Some(pattern) => filesystems_to_try(Some(pattern)),
            None => match probe_source(source) {
                Some(superblock) => Some(vec![superblock.fstype.to_string()]),
                None => filesystems_to_try(None),
            },
        }
    }

    /// The mount calls, the type found first when it is not known.
    pub(super) fn mount_resolved(&self, mut m: Resolved) -> Outcome {
        let source_text = m.source.clone().unwrap_or_else(|| "none".into());
        let flags = m.flags;
        let operation = flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE | MsFlags::MS_REMOUNT)
            || m.propagation_only;
        if self.o.onlyonce && !operation && self.already_mounted(&m, &source_text) {
            return Outcome::failed(EX_FAIL, m.target.clone(), "filesystem already mounted");
        }
        let types = if operation {
            vec![m.fstype.clone().unwrap_or_else(|| "none".into())]
        } else {
            match self.types_to_try(&m, &source_text) {
                Some(types) => types,
                None => {
                    drop(m.loop_device.take());
                    return Outcome::usage(&m.target, "mount failed: Operation not permitted");
                }
            }
        };
        if types.is_empty() {
            let message = if self.privilege.is_restricted() {
                "failed to determine filesystem type"
            } else {
                "no valid filesystem type specified"
            };
            return Outcome::usage(&m.target, message);
        }
        let mut result: Result<Vec<String>, Failure> = Err(no_type());
        for fstype in &types {
            m.fstype = (!operation || m.fstype.is_some()).then(|| fstype.clone());
            if let Some(outcome) = self.try_helper(&m, &source_text, fstype, operation) {
                drop(m.loop_device.take());
                return outcome;
            }
            result = self.attempt(&m, &source_text, fstype, operation);
            match &result {
                Err(f) if f.errno == Errno::EINVAL || f.errno == Errno::ENODEV => continue,
                _ => break,
            }
        }
        drop(m.loop_device.take());
        match result {
            Ok(notes) => self.mounted(m, &source_text, notes),
            Err(failure) => self.failed(m, failure),
        }
    }

    /// One attempt with one type: nothing (`--fake`), the fd-based calls,
    /// or mount(2).
    fn attempt(
        &self,
        m: &Resolved,
        source: &OsStr,
        fstype: &str,
        operation: bool,
    ) -> Result<Vec<String>, Failure> {
        let userns = m.userns.as_ref();
        if self.o.fake {
            return Ok(Vec::new());
        }
        let target = Path::new(&m.target);
        if self.fd_api() {
            match self.fd_attempt(m, source, fstype) {
                // A kernel (or a seccomp filter) without one of the calls:
                // mount(2), as libmount falls back to it, unless what was
                // asked needs the fd-based API.
                Err(f) if f.errno == Errno::ENOSYS && !f.attached => {
                    if userns.is_some() || m.subdir.is_some() {
                        return Err(f);
                    }
                }
                other => return other,
            }
        } else if userns.is_some() || m.subdir.is_some() {
            // Only the fd-based API attaches an idmapping or a
            // subdirectory of a filesystem.
            return Err(Failure {
                syscall: "open_tree",
                errno: Errno::ENOSYS,
                messages: Vec::new(),
                apply_flags: false,
                attached: false,
            });
        }
        let mut flags = m.flags;
        // The type list's trials are quiet in the kernel's log.
        if !operation && self.fstype_pattern.is_some() {
            flags |= MsFlags::MS_SILENT;
        }
        let fstype = (!operation).then_some(fstype);
        let data = m.options.data_string();
        ns_sys::mount::mount(
            self.sys,
            Some(source),
            target,
            fstype,
            flags,
            data.as_deref(),
        )
        .map(|()| Vec::new())
        .map_err(|e| Failure {
            syscall: "mount",
            errno: e.errno,
            messages: Vec::new(),
            apply_flags: e.step == Step::Additional,
            attached: e.step == Step::Additional,
        })
    }

    /// The fd-based calls of one attempt.
    fn fd_attempt(
        &self,
        m: &Resolved,
        source: &OsStr,
        fstype: &str,
    ) -> Result<Vec<String>, Failure> {
        let target = Path::new(&m.target);
        let flags = m.flags;
        let userns = m.userns.as_ref();
        let operation_kind = if flags.contains(MsFlags::MS_REMOUNT) {
            Operation::Remount {
                reconfigure: (!flags.contains(MsFlags::MS_BIND))
                    .then(|| superblock_params(&m.options, true)),
            }
        } else if m.propagation_only {
            Operation::Propagation
        } else if flags.contains(MsFlags::MS_BIND) {
            Operation::Bind {
                source,
                recursive: flags.contains(MsFlags::MS_REC),
                nofollow: m.nocanonicalize_source,
            }
        } else if flags.contains(MsFlags::MS_MOVE) {
            Operation::Move { source }
        } else {
            Operation::Create {
                fstype,
                source,
                params: superblock_params(&m.options, false),
                exclusive: self.o.exclusive,
                subdir: m.subdir.as_deref(),
            }
        };
        let rec = m.options.flags.contains(MsFlags::MS_REC);
        let plan = Plan {
            operation: operation_kind,
            target,
            attrs: vfs_attrs(&m.options, false),
            recursive_attrs: vfs_attrs(&m.options, true),
            propagation: propagations(&m.options),
            beneath: self.o.beneath,
            userns: userns.map(|fd| (fd.as_fd(), rec)),
        };
        fdmount::run(self.api, &plan)
    }

    /// A `mount.<type>` helper for this type, run in place of the mount;
    /// `None` when there is none to run.
    fn try_helper(
        &self,
        m: &Resolved,
        source: &OsStr,
        fstype: &str,
        operation: bool,
    ) -> Option<Outcome> {
        let flags = m.flags;
        let skips = self.o.internal_only
            || m.propagation_only
            || (operation && flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE));
        if skips {
            return None;
        }
        let path = helper::find("mount", fstype)?;
        let options = helper_options(&m.options);
        let args = helper::mount_args(
            &path,
            &helper::MountArgs {
                source,
                target: &m.target,
                sloppy: self.o.sloppy,
                fake: self.o.fake,
                no_mtab: self.o.no_mtab,
                verbose: self.o.verbose,
                options: &options,
                fstype,
                namespace: self.o.namespace.as_deref(),
            },
        );
        let ran = helper::run(&path, &args);
        let code = ran.status();
        if code != 0 {
            let message = match ran {
                helper::Ran::ExecFailed => {
                    let mut text = b"failed to execute ".to_vec();
                    text.extend_from_slice(path.as_os_str().as_bytes());
                    Some(text)
                }
                helper::Ran::Exited(_) => None,
            };
            return Some(Outcome {
                code,
                message,
                ..Outcome::ok(m.target.clone(), None)
            });
        }
        // The helper mounted; the propagation is still ours to set, and
        // our userspace options join what it recorded in utab.
        for (propagation, recursive) in propagations(&m.options) {
            let rec = if recursive {
                MsFlags::MS_REC
            } else {
                MsFlags::empty()
            };
            let target = Path::new(&m.target);
            let flags = propagation | rec;
            if ns_sys::mount::mount(self.sys, None, target, None, flags, None).is_err() {
                let message = "WARNING: failed to apply propagation flags";
                return Some(Outcome::failed(0, m.target.clone(), message));
            }
        }
        if !self.o.fake {
            crate::utab::record_after_helper(&m.options, &m.target);
        }
        Some(Outcome::ok(m.target.clone(), None))
    }

    /// Whether the source is mounted on the target already (--onlyonce).
    fn already_mounted(&self, m: &Resolved, source: &OsStr) -> bool {
        let table = ns_sys::mountinfo::read_self().unwrap_or_default();
        let target = crate::paths::canonical_target(&m.target);
        let source = if source.as_bytes().starts_with(b"/") {
            crate::paths::canonical_source(source)
        } else {
            source.to_os_string()
        };
        table.iter().any(|e| {
            e.target == target
                && (e.source == source || crate::paths::canonical_source(&e.source) == source)
        })
    }

    /// After the calls succeeded: ownership and mode, utab, the -v line.
    fn mounted(&self, m: Resolved, source: &OsStr, notes: Vec<String>) -> Outcome {
        let prog = &self.o.invoked_as;
        if !self.o.fake {
            if let Err((what, error)) = m.ownership.apply(Path::new(&m.target)) {
                let text = ns_sys::strerror(error as i32);
                let message =
                    format!("filesystem was mounted, but failed to change {what}: {text}");
                return Outcome::failed(EX_SYSERR, m.target, message);
            }
            if m.flags.contains(MsFlags::MS_REMOUNT) {
                crate::utab::record_remount(
                    &m.options,
                    m.source.as_deref().unwrap_or(OsStr::new("none")),
                    &m.target,
                    m.table_root.as_deref(),
                );
            } else {
                crate::utab::record_mount(&m.options, &m.target, m.bind_source.as_deref());
            }
        }
        let verbose = success_message(prog, m.flags, m.propagation_only, source, &m.target);
        Outcome {
            notes,
            ..Outcome::ok(m.target, Some(verbose))
        }
    }

    /// The failure, worded: the kernel's messages if it gave any, else
    /// libmount's reading of the errno.
    fn failed(&self, m: Resolved, failure: Failure) -> Outcome {
        let errors: Vec<&str> = failure
            .messages
            .iter()
            .filter_map(|msg| msg.strip_prefix("e "))
            .collect();
        let nofail = m.options.has_user("nofail");
        let message = if !errors.is_empty() {
            let source_missing = m
                .source
                .as_deref()
                .is_some_and(|s| std::fs::metadata(s).is_err());
            if failure.errno == Errno::ENOENT
                && nofail
                && failure.syscall == "fsconfig"
                && source_missing
            {
                None
            } else {
                Some(format!("{}() failed: {}", failure.syscall, errors.join("; ")).into_bytes())
            }
        } else {
            mount_error_message(MountFailure {
                errno: failure.errno,
                syscall: failure.syscall,
                step: if failure.apply_flags {
                    Step::Additional
                } else {
                    Step::Main
                },
                flags: m.flags,
                source: m.source.as_deref(),
                target: &m.target,
                fstype: m.fstype.as_deref(),
                rw_only: self.o.rw_only,
                nofail,
            })
        };
        match message {
            None => Outcome::ok(m.target, None),
            Some(message) => Outcome {
                code: EX_FAIL,
                message: Some(message),
                spec: m.target,
                syscall_failed: true,
                verbose: None,
                not_permitted: false,
                notes: failure.messages,
            },
        }
    }
}

/// The error for "no type worked" when there was none to try.
fn no_type() -> Failure {
    Failure {
        syscall: "mount",
        errno: Errno::ENODEV,
        messages: Vec::new(),
        apply_flags: false,
        attached: false,
    }
}

/// `X-mount.owner=`, `X-mount.group=` (names from /etc/passwd and
/// /etc/group, or numbers) and `X-mount.mode=` (octal, at most 07777);
/// `Err` is the errno libmount's message carries for a bad one.
pub fn ownership(options: &MountOptions) -> Result<Ownership, i32> {
    let value = |name: &str| -> Result<Option<&str>, i32> {
        match options.first_user_value(name) {
            None => Ok(None),
            Some(Some(value)) if !value.is_empty() => Ok(Some(value)),
            Some(_) => Err(libc::ENOENT),
        }
    };
    let (owner, group) = (value("X-mount.owner")?, value("X-mount.group")?);
    let accounts = (owner.is_some() || group.is_some())
        .then(|| ns_sys::accounts::Accounts::load(Path::new("/")));
    let owner = owner
        .map(|v| {
            let named = accounts
                .as_ref()
                .and_then(|a| a.user_by_name(v))
                .map(|u| u.uid);
            named.or_else(|| numeric_id(v)).ok_or(libc::EINVAL)
        })
        .transpose()?;
    let group = group
        .map(|v| {
            let named = accounts
                .as_ref()
                .and_then(|a| a.group_by_name(v))
                .map(|g| g.gid);
            named.or_else(|| numeric_id(v)).ok_or(libc::EINVAL)
        })
        .transpose()?;
    let mode = value("X-mount.mode")?
        .map(|v| {
            u32::from_str_radix(v, 8)
                .ok()
                .filter(|&m| m <= 0o7777)
                .ok_or(libc::EINVAL)
        })
        .transpose()?;
    Ok(Ownership { owner, group, mode })
}

/// An ID given as a number, when no account has that name.
fn numeric_id(text: &str) -> Option<u32> {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|&id| id != u32::MAX)
}

impl Ownership {
    /// chown, then chmod, as libmount's hook_owner; `Err` names what
    /// failed ("ownership" or "mode").
    fn apply(&self, target: &Path) -> Result<(), (&'static str, Errno)> {
        if self.owner.is_some() || self.group.is_some() {
            std::os::unix::fs::lchown(target, self.owner, self.group)
                .map_err(|e| ("ownership", ns_sys::errno_of(&e)))?;
        }
        if let Some(mode) = self.mode {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
                .map_err(|e| ("mode", ns_sys::errno_of(&e)))?;
        }
        Ok(())
    }
}

/// The filesystem on a block device or image file, if any.
pub(super) fn probe_source(source: &OsStr) -> Option<probe::Superblock> {
    let meta = std::fs::metadata(source).ok()?;
    if !(meta.file_type().is_block_device() || meta.is_file()) {
        return None;
    }
    probe::probe_device(Path::new(source))
}

/// The types util-linux tries when none is given and probing found none
/// (or for a `-t no…` pattern, those it lets through).
fn filesystems_to_try(pattern: Option<&str>) -> Option<Vec<String>> {
    let etc = std::fs::read_to_string("/etc/filesystems").ok();
    let kernel = std::fs::read_to_string("/proc/filesystems").ok();
    known_filesystems(etc.as_deref(), kernel.as_deref(), pattern)
}

/// /etc/filesystems (up to a `*` line, which adds the kernel's), else the
/// kernel's block-device filesystems, each once, those `pattern` lets
/// through. `None` when the kernel's list was wanted, could not be read
/// and nothing was found before it: libmount then gives up with a
/// positive status, which mount words as `mount failed: Operation not
/// permitted` (a chroot without /proc shows it).
fn known_filesystems(
    etc: Option<&str>,
    kernel: Option<&str>,
    pattern: Option<&str>,
) -> Option<Vec<String>> {
    let mut types: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        if !name.is_empty()
            && pattern.is_none_or(|p| match_fstype(name, p))
            && !types.iter().any(|t| t == name)
        {
            types.push(name.to_string());
        }
    };
    let mut kernel_too = true;
    if let Some(text) = etc {
        kernel_too = false;
        for name in text.lines().map(str::trim) {
            if name == "*" {
                kernel_too = true;
                break;
            }
            if !name.starts_with('#') {
                add(name);
            }
        }
    }
    if kernel_too {
        match kernel {
            Some(text) => {
                for line in text.lines().filter(|line| !line.starts_with("nodev")) {
                    add(line.trim());
                }
            }
            None if types.is_empty() => return None,
            None => {}
        }
    }
    Some(types)
}

#[cfg(test)]
mod tests {
    use super::known_filesystems;

    fn names(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn known_filesystems_as_libmount_lists_them() {
        let kernel = "nodev\ttmpfs\n\text4\nnodev\tproc\n\tvfat\n\text4\n";
        assert_eq!(
            known_filesystems(None, Some(kernel), None),
            names(&["ext4", "vfat"])
        );
        assert_eq!(
            known_filesystems(None, Some(kernel), Some("noext4")),
            names(&["vfat"])
        );
        // /etc/filesystems alone, unless a `*` line asks for the kernel's.
        assert_eq!(
            known_filesystems(Some("# c\nxfs\n\n"), Some(kernel), None),
            names(&["xfs"])
        );
        assert_eq!(
            known_filesystems(Some("xfs\n*\nbtrfs\n"), Some(kernel), None),
            names(&["xfs", "ext4", "vfat"])
        );
        // Nothing readable: libmount's positive status.
        assert_eq!(known_filesystems(None, None, None), None);
        assert_eq!(known_filesystems(Some("*\n"), None, None), None);
        assert_eq!(
            known_filesystems(Some("xfs\n*\n"), None, Some("noxfs")),
            None
        );
        assert_eq!(
            known_filesystems(Some("xfs\n*\n"), None, None),
            names(&["xfs"])
        );
        // Read, but the pattern lets nothing through: an empty list.
        assert_eq!(
            known_filesystems(None, Some(kernel), Some("noext4,vfat")),
            names(&[])
        );
    }
}
