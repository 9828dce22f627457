//! Finding what an umount operand names: a mount point, or (swapped) a
//! source, a tag or a loop device's backing file; and libmount's check of
//! a restricted caller's unmount against fstab and utab.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use ns_sys::mountinfo::{self, MountEntry};
use ns_sys::Sys;

use super::{found, Found, Unmounter};
use crate::fstypes::is_pseudo_fs;
use crate::loopdev;
use crate::paths::{
    canonical_source, canonical_target as canonical, loop_backing_file, starts_with,
};
use crate::privilege;
use crate::probe;
use crate::utab::UtabEntry;

impl<S: Sys> Unmounter<'_, S> {
    /// Finds the mount for `spec` (a target, or with swapping a source or a
    /// loop backing file); `None` when it is not in the table.
    pub(super) fn find(&self, spec: &OsStr, table: &[MountEntry]) -> Option<Found> {
        let by_target = |t: &OsStr| {
            mountinfo::find_target(table, t).or_else(|| {
                let c = canonical(t);
                mountinfo::find_target(table, &c)
            })
        };
        if let Some(entry) = by_target(spec) {
            return Some(found(entry));
        }
        let by_source = |s: &OsStr| -> Option<&MountEntry> {
            let resolved = match probe::parse_tag(s) {
                Some((kind, value)) => probe::find_device(kind, value)?.into_os_string(),
                None => s.to_os_string(),
            };
            let canonical_src = if starts_with(&resolved, b"/") {
                canonical_source(&resolved)
            } else {
                resolved.clone()
            };
            table.iter().rev().find(|m| {
                m.source == resolved
                    || (!is_pseudo_fs(&m.fstype)
                        && starts_with(&m.source, b"/")
                        && canonical_source(&m.source) == canonical_src)
            })
        };
        let mut entry = by_source(spec);
        if entry.is_none() && std::fs::metadata(spec).is_ok_and(|m| m.is_file()) {
            let devices = loop_devices_of(&canonical_source(spec));
            if devices.len() == 1 {
                entry = by_target(&devices[0]).or_else(|| by_source(&devices[0]));
            }
        }
        let entry = entry?;
        // Something stacked over it on the same mount point: refuse, as
        // libmount does.
        let top = mountinfo::find_target(table, &entry.target)?;
        if top.id != entry.id {
            return None;
        }
        Some(found(entry))
    }
}

/// libmount's evaluation of a restricted unmount: the mount must be in
/// /etc/fstab (as source and target, or as the target of the device's
/// loop file) with `users`, or with `user`, `owner` or `group` and a
/// `user=NAME` of the caller in utab (who mounted it).
pub(super) fn user_may_unmount(found: &Found, utab: &[UtabEntry]) -> bool {
    let Ok(text) = std::fs::read("/etc/fstab") else {
        return false;
    };
    let fstab = crate::fstab::parse(&text);
    let source = found.source.as_deref().unwrap_or(OsStr::new(""));
    let entry = fstab
        .entries
        .iter()
        .find(|e| e.target == found.target && e.source == source)
        .or_else(|| {
            fstab.entries.iter().find(|e| {
                e.target == found.target
                    && loopdev::is_loop_device(Path::new(source))
                    && loop_backing_file(source)
                        .is_some_and(|file| canonical_source(&e.source) == file)
            })
        });
    let Some(entry) = entry else {
        return false;
    };
    let words = crate::options::split(&entry.options);
    if words.contains(&"users") {
        return true;
    }
    if !words.iter().any(|w| ["user", "owner", "group"].contains(w)) {
        return false;
    }
    let Some(name) = privilege::caller_name() else {
        return false;
    };
    let wanted = format!("user={name}");
    utab.iter()
        .rev()
        .find(|u| u.target == found.target)
        .is_some_and(|u| crate::options::split(&u.options).contains(&wanted.as_str()))
}

/// The loop devices whose backing file is `file`.
fn loop_devices_of(file: &OsStr) -> Vec<OsString> {
    let Ok(dir) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            if !name.as_bytes().starts_with(b"loop") {
                return None;
            }
            let backing = std::fs::read(e.path().join("loop/backing_file")).ok()?;
            let backing = backing.strip_suffix(b"\n").unwrap_or(&backing);
            (backing == file.as_bytes())
                .then(|| OsString::from_vec([b"/dev/", name.as_bytes()].concat()))
        })
        .collect()
}
