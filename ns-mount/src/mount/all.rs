//! `mount -a`: the stages of one mount for every fstab entry that `-t`
//! and `-O` select and that is not mounted yet; and `mount -a -o remount`,
//! which remounts what the mount table (not fstab) holds.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use ns_sys::mount::MsFlags;
use ns_sys::mountinfo::{self, MountEntry};
use ns_sys::Sys;

use super::messages::Outcome;
use super::{Context, Request};
use crate::error::{EX_FAIL, EX_SOMEOK, EX_SUCCESS};
use crate::fstab::FstabEntry;
use crate::fstypes::is_regular_fs;
use crate::loopdev;
use crate::options::{match_fstype, match_options, MountOptions};
use crate::output::{padded, progress};
use crate::paths::{canonical_source, canonical_target, starts_with};
use crate::probe;

impl<S: Sys> Context<'_, S> {
    /// Whether `-t` and `-O` leave out a mount of this type and options.
    fn filtered_out(&self, fstype: &str, options: &str) -> bool {
        let pattern = self.fstype_pattern.as_deref();
        pattern.is_some_and(|p| !match_fstype(fstype, p))
            || (self.o.test_opts.as_deref()).is_some_and(|p| !match_options(options, p))
    }

    /// Runs one request of `-a`: its messages, and whether it succeeded
    /// with a mount(2) call (`mounted`) or without one.
    fn mount_counted(&mut self, request: Request) -> (bool, bool) {
        let outcome = self.mount_one(request);
        let mounted = outcome.code == EX_SUCCESS && outcome.verbose.is_some();
        let code = Outcome {
            verbose: None,
            ..outcome
        }
        .report(&self.o.invoked_as, false);
        (code == EX_SUCCESS, mounted)
    }

    /// `mount -a -o remount`: every mount in the table (not in fstab)
    /// that -t and -O select, remounted with the given options.
    fn remount_all(&mut self) -> u8 {
        let table = mountinfo::read_self().unwrap_or_default();
        let utab = crate::utab::read();
        let mut tally = Tally::default();
        let mut out = progress();
        for listed in crate::utab::merge_utab(&table, &utab) {
            let target = &listed.entry.target;
            let verbose = self.o.verbose;
            if self.filtered_out(&listed.entry.fstype, &listed.options) {
                if verbose {
                    let _ = padded(&mut out, target, "ignored");
                }
                continue;
            }
            let request = Request {
                target: Some(target.clone()),
                options: self.o.options.clone(),
                ..Request::default()
            };
            let (ok, _) = self.mount_counted(request);
            tally.count(ok);
            if ok && verbose {
                let _ = padded(&mut out, target, "successfully remounted");
            }
        }
        let _ = out.flush();
        tally.status()
    }

    /// `mount -a`: every fstab entry not marked `noauto`, not swap, not the
    /// root, not mounted already.
    pub(super) fn mount_all(&mut self) -> u8 {
        if self.o.options.flags.contains(MsFlags::MS_REMOUNT) {
            return self.remount_all();
        }
        let entries: Vec<FstabEntry> = self.fstab().to_vec();
        let table = mountinfo::read_self().unwrap_or_default();
        let mut tally = Tally::default();
        let mut out = progress();
        for entry in entries {
            let target = entry.target.clone();
            let verbose = self.o.verbose;
            let options = MountOptions::parse(&entry.options);
            let ignored = entry.fstype == "swap"
                || target == "/"
                || target == "root"
                || options.has_user("noauto")
                || self.filtered_out(&entry.fstype, &entry.options);
            let skipped = if ignored {
                Some("ignored")
            } else if is_mounted(&entry, &table, self.o.target_prefix.as_deref()) {
                Some("already mounted")
            } else {
                None
            };
            if let Some(why) = skipped {
                if verbose {
                    let _ = padded(&mut out, &target, why);
                }
                continue;
            }
            let request = Request {
                source: Some(entry.source),
                target: Some(entry.target),
                fstype: Some(entry.fstype),
                // --options-mode holds for -a too (--options-source not).
                options: self.o.options_mode.join(options, &self.o.options),
                from_fstab: true,
                table_root: None,
            };
            let (ok, mounted) = self.mount_counted(request);
            tally.count(ok);
            if mounted && verbose {
                let _ = padded(&mut out, &target, "successfully mounted");
            }
        }
        let _ = out.flush();
        tally.status()
    }
}

/// `-a`'s count of successes and failures.
#[derive(Default)]
struct Tally {
    successes: usize,
    errors: usize,
}

impl Tally {
    fn count(&mut self, ok: bool) {
        if ok {
            self.successes += 1;
        } else {
            self.errors += 1;
        }
    }

    /// All fine, all failed, or some of each.
    fn status(&self) -> u8 {
        if self.errors == 0 {
            EX_SUCCESS
        } else if self.successes == 0 {
            EX_FAIL
        } else {
            EX_SOMEOK
        }
    }
}

/// Whether an fstab entry is already mounted (libmount's
/// mnt_table_is_fs_mounted): a mount on the same target (under
/// `--target-prefix`) of the same source, or of a loop device on the
/// entry's file (at its `offset=`).
fn is_mounted(entry: &FstabEntry, table: &[MountEntry], prefix: Option<&OsStr>) -> bool {
    let target = match prefix {
        Some(prefix) => {
            let rest = entry.target.as_bytes();
            let rest = rest.strip_prefix(b"/").unwrap_or(rest);
            let mut joined = prefix.as_bytes().to_vec();
            if !rest.is_empty() {
                joined.push(b'/');
                joined.extend_from_slice(rest);
            }
            OsString::from_vec(joined)
        }
        None => entry.target.clone(),
    };
    let target = canonical_target(&target);
    let source = match probe::parse_tag(&entry.source) {
        Some((kind, value)) => match probe::find_device(kind, value) {
            Some(device) => device.into_os_string(),
            None => return false,
        },
        None if starts_with(&entry.source, b"/") => canonical_source(&entry.source),
        None => entry.source.clone(),
    };
    let options = MountOptions::parse(&entry.options);
    let offset = match options.first_user_value("offset") {
        Some(Some(text)) => match crate::size::strtosize(text) {
            Ok(offset) => Some(offset),
            Err(_) => return false,
        },
        _ => None,
    };
    let file = loopdev::file_id(Path::new(&source));
    table.iter().any(|m| {
        m.target == target
            && (m.source == source
                || (is_regular_fs(&m.fstype) && canonical_source(&m.source) == source)
                || (starts_with(&source, b"/") && Path::new(&source).is_dir() && m.root != "/")
                || (m.source.as_bytes().starts_with(b"/dev/loop")
                    && file.is_some_and(|file| loopdev::is_on(Path::new(&m.source), file, offset))))
    })
}
