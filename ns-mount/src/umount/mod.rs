//! ns-umount's command, a drop-in for util-linux `umount`. The stages:
//! `cli` parses argv; `find` locates each operand's mount (by target,
//! source, tag or loop backing file) in the mount table, unless statfs(2)
//! suffices; the umount2(2) call and util-linux's messages are here;
//! `-R`, `-A` and `-a` (`tree`) walk the table read once.

pub mod cli;
mod find;
mod tree;

use std::cell::Cell;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

use ns_getopt::Start;

use ns_sys::mount::{MntFlags, MsFlags};
use ns_sys::mountinfo::MountEntry;
use ns_sys::{Errno, Sys};

use crate::error::{Error, EX_FAIL, EX_SUCCESS, EX_USAGE};
use crate::loopdev;
use crate::output::say;
use crate::paths::{canonical_target as canonical, starts_with};
use crate::privilege::{self, Privilege};
use crate::probe;
use crate::utab::UtabEntry;
use cli::Options;

/// Parses argv, runs, reports errors as util-linux does.
/// No set-ID refusal: mount and umount have util-linux's restricted mode.
pub fn main(args: impl IntoIterator<Item = impl Into<OsString>>) -> ExitCode {
    let run = |o: &Options| run(&ns_sys::Linux, o).map(ExitCode::from);
    ns_getopt::main(args, &cli::TOOL, Start::SetIdAware, cli::parse, run)
}

pub fn run(sys: &impl Sys, o: &Options) -> Result<u8, Error> {
    if o.help {
        return crate::error::print_stdout(&cli::TOOL.help(&o.invoked_as));
    }
    if o.version {
        return crate::error::print_stdout(&cli::TOOL.version(&o.invoked_as));
    }
    if let Some(ns) = &o.namespace {
        crate::namespace::enter(sys, ns)?;
    }
    let unmounter = Unmounter {
        sys,
        o,
        privilege: Cell::new(o.privilege),
        helpers_installed: Cell::new(!o.internal_only && crate::helper::any("umount")),
    };
    if o.all {
        if !o.operands.is_empty() {
            return Err(Error::Usage("unexpected number of arguments".into()));
        }
        return Ok(unmounter.all());
    }
    if o.operands.is_empty() {
        return Err(Error::Usage("bad usage".into()));
    }
    let mut total: u32 = 0;
    for spec in &o.operands {
        // A restricted caller's path is resolved as the caller resolves
        // it: what they cannot reach they cannot name.
        let sanitized;
        let restricted = unmounter.privilege.get().is_restricted();
        let spec = if restricted && probe::parse_tag(spec).is_none() {
            match privilege::as_caller(|| std::fs::canonicalize(spec)) {
                Ok(path) => {
                    sanitized = path.into_os_string();
                    sanitized.as_os_str()
                }
                Err(e) => {
                    let text = ns_sys::io_error_text(&e);
                    return Err(Error::failed_bytes(
                        [spec.as_bytes(), b": ", text.as_bytes()].concat(),
                        EX_USAGE,
                    ));
                }
            }
        } else {
            spec.as_os_str()
        };
        let code = if o.all_targets {
            unmounter.all_targets(spec)
        } else if o.recursive {
            unmounter.recursive(spec)
        } else {
            unmounter.one(spec)
        };
        total += u32::from(code);
    }
    Ok(total.min(255) as u8)
}

struct Unmounter<'a, S: Sys> {
    sys: &'a S,
    o: &'a Options,
    privilege: Cell<Privilege>,
    /// Whether any `umount.<type>` helper is installed.
    helpers_installed: Cell<bool>,
}

/// What to unmount, once found.
struct Found {
    target: OsString,
    /// Known when the mount table was consulted (then -v names it).
    source: Option<OsString>,
    /// The mount's type, when the mount table was consulted.
    fstype: Option<String>,
}

impl<S: Sys> Unmounter<'_, S> {
    fn prog(&self) -> &str {
        &self.o.invoked_as
    }

    fn flags(&self) -> MntFlags {
        let mut flags = MntFlags::empty();
        if self.o.lazy {
            flags |= MntFlags::MNT_DETACH;
        }
        if self.o.force {
            flags |= MntFlags::MNT_FORCE;
        }
        flags
    }

    /// libmount skips the mount table when statfs(2) suffices: an absolute
    /// directory, no -f/-l/-c/-d, nothing about it in utab.
    fn fast_path(&self, target: &OsStr, utab: &[UtabEntry]) -> bool {
        let o = self.o;
        // -r needs the mount's source for its read-only remount (2.42).
        if o.force
            || o.lazy
            || o.no_canonicalize
            || o.detach_loop
            || o.read_only
            || !starts_with(target, b"/")
        {
            return false;
        }
        if !std::fs::metadata(target).is_ok_and(|m| m.is_dir()) {
            return false;
        }
        // A helper goes by the mount's type: then the table says it.
        if !o.internal_only && self.helpers_installed.get() {
            return false;
        }
        if utab.is_empty() {
            return true;
        }
        let canonical = canonical(target);
        !utab.iter().any(|u| u.target == canonical)
    }

    /// umount one spec, with messages; returns the status.
    fn one(&self, spec: &OsStr) -> u8 {
        let utab = crate::utab::read();
        if self.privilege.get().is_restricted() {
            let table = ns_sys::mountinfo::read_self().unwrap_or_default();
            let Some(found) = self.find(spec, &table) else {
                // util-linux says so even with -q here.
                say(&[
                    self.prog().as_bytes(),
                    b": ",
                    spec.as_bytes(),
                    b": not mounted.",
                ]);
                return EX_USAGE;
            };
            if find::user_may_unmount(&found, &utab) {
                return self.unmount(found, spec);
            }
            // Not the caller's mount: try as the caller, so that the
            // kernel refuses it (util-linux does the same).
            let mut privilege = self.privilege.get();
            let dropped = privilege.drop_to_caller(self.sys);
            self.privilege.set(privilege);
            if let Err(error) = dropped {
                eprintln!("{}: {error}", self.prog());
                return error.exit_code();
            }
        }
        let found = if self.fast_path(spec, &utab) {
            Found {
                target: spec.to_os_string(),
                source: None,
                fstype: None,
            }
        } else {
            let table = ns_sys::mountinfo::read_self().unwrap_or_default();
            // Not in the table: umount(2) on the path as given decides
            // (ENOENT, EINVAL), as libmount does.
            self.find(spec, &table).unwrap_or_else(|| Found {
                target: spec.to_os_string(),
                source: None,
                fstype: None,
            })
        };
        self.unmount(found, spec)
    }

    /// The `umount.<type>` helper for a mount (or the one utab's
    /// `helper=` names), unless `-i`.
    fn helper_for(&self, found: &Found, utab: &[UtabEntry]) -> Option<std::path::PathBuf> {
        if self.o.internal_only || !self.helpers_installed.get() {
            return None;
        }
        let named = utab
            .iter()
            .rev()
            .find(|u| u.target == found.target)
            .and_then(|u| {
                crate::options::split(&u.options)
                    .iter()
                    .find_map(|w| w.strip_prefix("helper="))
                    .map(str::to_string)
            });
        if let Some(named) = named {
            if let Some(path) = crate::helper::find("umount", &named) {
                return Some(path);
            }
        }
        crate::helper::find("umount", found.fstype.as_deref()?)
    }

    /// Runs a `umount.<type>` helper in place of umount(2): its status is
    /// ours.
    fn run_helper(&self, helper: &Path, found: &Found) -> u8 {
        let o = self.o;
        let args = crate::helper::umount_args(
            helper,
            &crate::helper::UmountArgs {
                target: &found.target,
                force: o.force,
                lazy: o.lazy,
                no_mtab: o.no_mtab,
                read_only: o.read_only,
                verbose: o.verbose,
                fstype: found.fstype.as_deref().unwrap_or(""),
                namespace: o.namespace.as_deref(),
            },
        );
        if o.fake {
            return EX_SUCCESS;
        }
        let ran = crate::helper::run(helper, &args);
        match ran {
            crate::helper::Ran::ExecFailed => {
                let what = [
                    b"failed to execute ".as_slice(),
                    helper.as_os_str().as_bytes(),
                ]
                .concat();
                say(&[
                    self.prog().as_bytes(),
                    b": ",
                    found.target.as_bytes(),
                    b": ",
                    &what,
                    b".",
                ]);
            }
            crate::helper::Ran::Exited(0) => crate::utab::forget(&found.target),
            crate::helper::Ran::Exited(_) => {}
        }
        ran.status()
    }

    /// The umount(2) call and its reporting. `spec` is what the user said,
    /// used in messages when the mount was not found.
    fn unmount(&self, found: Found, spec: &OsStr) -> u8 {
        let prog = self.prog();
        if let Some(helper) = self.helper_for(&found, &crate::utab::read()) {
            return self.run_helper(&helper, &found);
        }
        let target = Path::new(&found.target);
        let result = if self.o.fake {
            Ok(())
        } else {
            // A mount on a symlink itself (X-mount.nocanonicalize) is
            // reached without following it, as libmount retries.
            match self.sys.umount2(target, self.flags()) {
                Err(Errno::EINVAL)
                    if !self.privilege.get().is_restricted()
                        && std::fs::symlink_metadata(target).is_ok_and(|m| m.is_symlink()) =>
                {
                    let flags = self.flags() | MntFlags::UMOUNT_NOFOLLOW;
                    self.sys.umount2(target, flags)
                }
                other => other,
            }
        };
        let result = match result {
            // Only with a known source, as libmount: the fast path (no
            // mount table read) leaves -r without effect.
            Err(Errno::EBUSY) if self.o.read_only && found.source.is_some() => {
                let source = found.source.as_deref().unwrap_or(OsStr::new("none"));
                let flags = MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                let remounted = self.sys.mount(&ns_sys::sys::MountCall {
                    source: Some(source),
                    target,
                    fstype: None,
                    flags,
                    data: None,
                });
                remounted.map(|()| false)
            }
            Err(e) => Err(e),
            Ok(()) => Ok(true),
        };
        match result {
            Ok(unmounted) => {
                if unmounted && !self.o.fake {
                    crate::utab::forget(&found.target);
                    if self.o.detach_loop {
                        if let Some(source) = &found.source {
                            if loopdev::is_loop_device(Path::new(source)) {
                                let _ = loopdev::detach(Path::new(source));
                            }
                        }
                    }
                }
                if self.o.verbose {
                    let target = found.target.as_bytes();
                    match &found.source {
                        Some(source) => say(&[
                            prog.as_bytes(),
                            b": ",
                            target,
                            b" (",
                            source.as_bytes(),
                            b") unmounted",
                        ]),
                        None => say(&[prog.as_bytes(), b": ", target, b" unmounted"]),
                    }
                }
                EX_SUCCESS
            }
            Err(errno) => {
                if self.o.quiet && errno == Errno::EINVAL {
                    return EX_FAIL;
                }
                let reason = match errno {
                    Errno::ENXIO => "invalid block device".to_string(),
                    Errno::EINVAL => "not mounted".to_string(),
                    Errno::EIO => "can't write superblock".to_string(),
                    Errno::EBUSY => "target is busy".to_string(),
                    Errno::ENOENT => "no mount point specified".to_string(),
                    Errno::EPERM => "must be superuser to unmount".to_string(),
                    Errno::EACCES => "block devices are not permitted on filesystem".to_string(),
                    other => format!(
                        "umount(2) system call failed: {}",
                        ns_sys::strerror(other as i32)
                    ),
                };
                let name = if found.target.is_empty() {
                    spec
                } else {
                    &found.target
                };
                say(&[
                    prog.as_bytes(),
                    b": ",
                    name.as_bytes(),
                    b": ",
                    reason.as_bytes(),
                    b".",
                ]);
                EX_FAIL
            }
        }
    }

    fn unmount_entry(&self, entry: &MountEntry, utab: &[UtabEntry]) -> u8 {
        let source = if self.fast_path(&entry.target, utab) {
            None
        } else {
            Some(entry.source.clone())
        };
        self.unmount(
            Found {
                target: entry.target.clone(),
                source,
                fstype: Some(entry.fstype.clone()),
            },
            &entry.target,
        )
    }
}

fn found(entry: &MountEntry) -> Found {
    Found {
        target: entry.target.clone(),
        source: Some(entry.source.clone()),
        fstype: Some(entry.fstype.clone()),
    }
}
