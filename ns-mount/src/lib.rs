//! ns-mount: mount and unmount filesystems, drop-ins for util-linux
//! `mount` and `umount`, with no libblkid or libmount underneath: what
//! util-linux does through libraries (superblock probing, loop devices,
//! fstab and mountinfo parsing) is done here.
//!
//! The binaries are [`mount_main`] and [`umount_main`]. Other tools use
//! the small API below, which performs a mount as util-linux performs it
//! (propagation flags and `bind,ro` in follow-up calls):
//!
//! ```no_run
//! use ns_mount::{mount, parse_options, MountFlags};
//! use std::path::Path;
//!
//! let (flags, data) = parse_options("nosuid,nodev,noexec");
//! mount(None, Path::new("/proc"), Some("proc"), flags, data.as_deref())?;
//! # Ok::<(), ns_mount::Error>(())
//! ```

mod error;
pub mod fstab;
pub mod listing;
pub mod loopdev;
pub mod mount_cli;
pub mod mountinfo;
pub mod options;
pub mod privilege;
pub mod probe;
pub mod size;
pub mod syscall;
pub mod umount_cli;

use std::ffi::OsStr;
use std::path::Path;

use nix::errno::Errno;

pub use error::{Error, EX_FAIL, EX_SOMEOK, EX_SUCCESS, EX_SYSERR, EX_USAGE};
pub use mount_cli::main as mount_main;
pub use nix::mount::{MntFlags as UmountFlags, MsFlags as MountFlags};
pub use options::parse_options;
pub use umount_cli::main as umount_main;

/// A propagation type (`mount --make-…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    Shared,
    Slave,
    Private,
    Unbindable,
}

impl Propagation {
    fn flags(self) -> MountFlags {
        match self {
            Propagation::Shared => MountFlags::MS_SHARED,
            Propagation::Slave => MountFlags::MS_SLAVE,
            Propagation::Private => MountFlags::MS_PRIVATE,
            Propagation::Unbindable => MountFlags::MS_UNBINDABLE,
        }
    }
}

/// Which mount(2) call of a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The main call (the mount itself, a remount, a move).
    Main,
    /// A follow-up call: a propagation change, or the remount that applies
    /// flags to a fresh bind mount (libmount's MNT_ERR_APPLYFLAGS).
    Additional,
}

/// The mount(2) calls util-linux makes for one request: the main call
/// without propagation flags, then one call per propagation flag, and for
/// a bind mount with per-mount flags (`bind,ro`) a bind remount.
/// A request of propagation flags only is done with those calls alone.
pub(crate) fn mount_calls(
    source: Option<&OsStr>,
    target: &Path,
    fstype: Option<&str>,
    flags: MountFlags,
    data: Option<&str>,
) -> Result<(), (Step, Errno)> {
    let none = Some(OsStr::new("none"));
    let propagation = flags & options::PROPAGATION;
    let silent = flags & MountFlags::MS_SILENT;
    let main_flags = flags - options::PROPAGATION;
    // A propagation call with MS_REC means "recursively"; keep MS_REC on
    // the main call only for rbind.
    let recursive_bind = main_flags.contains(MountFlags::MS_BIND | MountFlags::MS_REC);
    // As libmount: only propagation flags, no type and no real source.
    let is_none = |text: Option<&str>| text.is_none_or_none();
    let propagation_only = !propagation.is_empty()
        && (main_flags - MountFlags::MS_REC - MountFlags::MS_SILENT).is_empty()
        && is_none(fstype)
        && is_none(source.and_then(OsStr::to_str));
    if !propagation_only {
        let mut call_flags = main_flags;
        if !recursive_bind && !main_flags.contains(MountFlags::MS_BIND) {
            call_flags.remove(MountFlags::MS_REC);
        }
        syscall::mount(source.or(none), target, fstype, call_flags, data)
            .map_err(|e| (Step::Main, e))?;
        if main_flags.contains(MountFlags::MS_BIND)
            && !main_flags.contains(MountFlags::MS_REMOUNT)
            && main_flags.intersects(options::MNT_FLAGS)
        {
            let remount = call_flags | MountFlags::MS_REMOUNT | MountFlags::MS_BIND;
            syscall::mount(none, target, None, remount, None).map_err(|e| (Step::Additional, e))?;
        }
    }
    for single in [
        MountFlags::MS_SHARED,
        MountFlags::MS_SLAVE,
        MountFlags::MS_PRIVATE,
        MountFlags::MS_UNBINDABLE,
    ] {
        if propagation.contains(single) {
            let rec = flags & MountFlags::MS_REC;
            syscall::mount(none, target, None, single | rec | silent, None)
                .map_err(|e| (Step::Additional, e))?;
        }
    }
    Ok(())
}

trait NoneLike {
    fn is_none_or_none(&self) -> bool;
}

impl NoneLike for Option<&str> {
    fn is_none_or_none(&self) -> bool {
        matches!(self, None | Some("none"))
    }
}

/// util-linux's check of mutually exclusive options (`err_exclusive_options`),
/// quirks included: `groups` are rows of option keys in ascending order,
/// and a row is only looked at while its first key is not above `key`.
/// `status` remembers the first key seen per row. Returns the message.
pub(crate) fn check_exclusive(
    key: u32,
    groups: &[&[(u32, &str)]],
    status: &mut [u32],
) -> Result<(), Error> {
    for (row, seen) in groups.iter().zip(status.iter_mut()) {
        if row[0].0 > key {
            break;
        }
        for (option, _) in row.iter() {
            if *option > key {
                break;
            }
            if *option != key {
                continue;
            }
            if *seen == 0 {
                *seen = key;
            } else if *seen != key {
                let names: Vec<String> = row.iter().map(|(_, n)| format!(" --{n}")).collect();
                return Err(Error::failed(
                    format!("mutually exclusive arguments:{}", names.concat()),
                    EX_USAGE,
                ));
            }
            break;
        }
    }
    Ok(())
}

/// Mounts `source` (or "none") on `target` as util-linux's mount(8) would
/// with the same flags: propagation flags and the per-mount flags of a bind
/// mount are applied in follow-up calls. No fstab, no probing: give the
/// type. The error names the target.
pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: MountFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    mount_calls(source.map(Path::as_os_str), target, fstype, flags, data).map_err(|(_, errno)| {
        Error::Sys {
            op: "mount",
            path: target.to_path_buf(),
            errno,
        }
    })
}

/// Unmounts `target` (umount2(2) with `flags`, e.g. `MNT_DETACH`).
pub fn umount(target: &Path, flags: UmountFlags) -> Result<(), Error> {
    syscall::umount(target, flags).map_err(|errno| Error::Sys {
        op: "umount",
        path: target.to_path_buf(),
        errno,
    })
}

/// Changes the propagation type of the mount at `target` (and of every
/// mount below it when `recursive`), like `mount --make-[r]private`.
pub fn set_propagation(
    target: &Path,
    propagation: Propagation,
    recursive: bool,
) -> Result<(), Error> {
    let mut flags = propagation.flags();
    if recursive {
        flags |= MountFlags::MS_REC;
    }
    syscall::mount(Some(OsStr::new("none")), target, None, flags, None).map_err(|errno| {
        Error::Sys {
            op: "mount",
            path: target.to_path_buf(),
            errno,
        }
    })
}
