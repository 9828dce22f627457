//! The second stage of a mount: a [`Request`] made concrete, as libmount
//! prepares it. A half-given request is completed from fstab (or, for a
//! remount, from the mount table); a restricted caller's is checked
//! against fstab's user options; the source is resolved (`LABEL=` and
//! friends to a device, paths canonicalised, a regular file attached to a
//! loop device); the mount point is prefixed, created for
//! `X-mount.mkdir`, and canonicalised.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use ns_sys::mount::{MsFlags, PROPAGATION};
use ns_sys::mountinfo;
use ns_sys::Sys;

use super::exec::{self, Ownership};
use super::messages::Outcome;
use super::{fstab_path, Context, Request};
use crate::error::{EX_FAIL, EX_USAGE};
use crate::fstab;
use crate::fstypes::{is_pseudo_fs, is_regular_fs};
use crate::loopdev::{self, LoopSetup, Overlap};
use crate::options::{match_fstype, MountOptions};
use crate::paths::{canonical_source, canonical_target, starts_with};
use crate::privilege;
use crate::probe;
use crate::size;

/// A request ready for mount(2).
pub struct Resolved {
    /// The source to pass: a device, a canonical path, or as given.
    pub source: Option<OsString>,
    pub target: OsString,
    pub fstype: Option<String>,
    /// The options in effect (a `user` mount's, a loop device's `ro`).
    pub options: MountOptions,
    /// The mount(2) flags, `MS_MOVE` included.
    pub flags: MsFlags,
    pub propagation_only: bool,
    /// The loop device set up for the source, held until mount(2) took it
    /// (autoclear then detaches it with the mount).
    pub loop_device: Option<loopdev::Attached>,
    /// `X-mount.nocanonicalize[=source]`: a symlink source is bound
    /// itself, not what it points to.
    pub nocanonicalize_source: bool,
    /// `X-mount.subdir=`: the directory of a new filesystem to attach,
    /// relative to its root.
    pub subdir: Option<OsString>,
    /// A bind mount's source, for utab's `BINDSRC=`.
    pub bind_source: Option<OsString>,
    /// What `X-mount.owner`, `X-mount.group`, `X-mount.mode` ask.
    pub ownership: Ownership,
    /// The user namespace of `X-mount.idmap`.
    pub userns: Option<OwnedFd>,
    /// utab's ROOT= for a remount (see [`Request::table_root`]).
    pub table_root: Option<OsString>,
}

/// "failed to parse mount options" about `options` as 2.42 shows them,
/// with the errno libmount's message carries, if any.
pub(super) fn options_error(options: &MountOptions, target: &OsStr, errno: Option<i32>) -> Outcome {
    let optstr = crate::attrs::display_options(options);
    let message = match errno {
        Some(errno) => format!(
            "failed to parse mount options '{optstr}': {}",
            ns_sys::strerror(errno)
        ),
        None => format!("failed to parse mount options '{optstr}'"),
    };
    Outcome::usage(target, message)
}

/// `X-mount.nocanonicalize[=source|target]`: whether paths of this kind
/// are taken as given (a restricted caller's never are).
fn nocanonicalize(options: &MountOptions, kind: &str, restricted: bool) -> bool {
    !restricted
        && match options.user_value("X-mount.nocanonicalize") {
            None => false,
            Some(None) => true,
            Some(Some(value)) => value.is_empty() || value == kind,
        }
}

impl<S: Sys> Context<'_, S> {
    /// Resolves a request; `Err` is its outcome when there is nothing to
    /// mount (a failure, or a missing `nofail` source).
    pub(super) fn resolve(&mut self, mut request: Request) -> Result<Resolved, Outcome> {
        let o = self.o;
        let remount = request.options.flags.contains(MsFlags::MS_REMOUNT);
        let no_tables = !request.from_fstab && ((o.operation && !remount) || o.propagation);

        let both_given = request.source.is_some() && request.target.is_some();
        let mut fstab_applied = false;
        if !request.from_fstab && !no_tables && (!both_given || o.options_source_force) {
            if o.tables_off.fstab && o.tables_off.mtab && !both_given && !remount {
                // Nothing completes the request; libmount goes on with
                // what it has and fails past its mount stage.
                let spec = request.target.clone().or(request.source.clone());
                return Err(Outcome::failed(
                    EX_USAGE,
                    canonical_target(&spec.unwrap_or_default()),
                    "filesystem was mounted, but any subsequent operation failed: Invalid argument",
                ));
            }
            fstab_applied = self.complete_from_tables(&mut request, remount)?;
        }
        let mut options = request.options.clone();
        if self.privilege.is_restricted() {
            let source = request.source.as_deref();
            if !fstab_applied || !permit_user_mount(&mut options, source) {
                let spec = request.target.as_deref().or(source);
                return Err(Outcome::not_permitted(spec.unwrap_or(OsStr::new("???"))));
            }
        }
        if o.is_move {
            options.flags |= MsFlags::MS_MOVE;
        }
        let flags = options.flags;
        let mut fstype = request
            .fstype
            .clone()
            .or_else(|| self.fstype.clone())
            .filter(|t| t != "auto");
        if request.from_fstab && self.fstype.is_some() && request.fstype.is_none() {
            fstype = self.fstype.clone();
        }
        // libmount's mnt_context_propagation_only: nothing but propagation
        // flags, and neither a source nor a type to mount.
        let none_like = |v: Option<&OsStr>| v.is_none_or(|v| v == "none");
        let propagation_only = flags.intersects(PROPAGATION)
            && (flags - PROPAGATION - MsFlags::MS_REC - MsFlags::MS_SILENT).is_empty()
            && none_like(request.source.as_deref())
            && none_like(fstype.as_deref().map(OsStr::new));
        // The options that act around the mount are checked first, as
        // libmount's option stage precedes its source and target ones.
        let target_given = request.target.clone().unwrap_or_default();
        let ownership = exec::ownership(&options)
            .map_err(|errno| options_error(&options, &target_given, Some(errno)))?;
        let userns = match options.first_user_value("X-mount.idmap") {
            None => None,
            Some(value) => {
                let value = value.unwrap_or("");
                let idmap = crate::idmap::parse(value).ok_or_else(|| {
                    // libmount's message carries a stale errno here.
                    let errno = if value.trim().is_empty() {
                        libc::EINVAL
                    } else {
                        libc::ENOENT
                    };
                    options_error(&options, &target_given, Some(errno))
                })?;
                let namespace = crate::idmap::user_namespace(&idmap)
                    .map_err(|e| options_error(&options, &target_given, Some(e as i32)))?;
                Some(namespace)
            }
        };
        let restricted = self.privilege.is_restricted();
        let keep_source = o.no_canonicalize || nocanonicalize(&options, "source", restricted);
        let keep_target = o.no_canonicalize || nocanonicalize(&options, "target", restricted);

        let Some(raw_target) = request.target.clone() else {
            let spec = request.source.clone().unwrap_or_else(|| "???".into());
            return Err(Outcome::usage(&spec, "no mount point specified"));
        };
        let target = match &o.target_prefix {
            Some(prefix) => {
                let prefix = prefix.as_bytes();
                let end = prefix
                    .iter()
                    .rposition(|&b| b != b'/')
                    .map_or(0, |at| at + 1);
                OsString::from_vec([&prefix[..end], raw_target.as_bytes()].concat())
            }
            None => raw_target,
        };

        let mut source = request.source.clone();
        let mut loop_device = None;
        if !propagation_only && !remount {
            let Some(given) = source.clone() else {
                return Err(Outcome::usage(&target, "no mount source specified"));
            };
            let (path, device) = self.resolve_source(
                &mut options,
                &given,
                &target,
                fstype.as_deref(),
                keep_source,
            )?;
            source = Some(path);
            loop_device = device;
            self.check_auto_fstypes(&options, source.as_deref(), fstype.as_deref(), &target)?;
        } else if let Some(given) = &source {
            if !keep_source
                && starts_with(given, b"/")
                && !is_pseudo_fs(fstype.as_deref().unwrap_or("none"))
            {
                source = Some(canonical_source(given));
            }
        }
        // The mount point, prepared after the source as libmount does (so
        // source errors name the target as given).
        self.make_mount_point(&options, &target)?;
        let target = if keep_target {
            target
        } else {
            canonical_target(&target)
        };
        let flags = options.flags
            | if o.is_move {
                MsFlags::MS_MOVE
            } else {
                MsFlags::empty()
            };
        let operation = flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE | MsFlags::MS_REMOUNT)
            || propagation_only;
        let subdir = match options.user_value("X-mount.subdir") {
            None => None,
            Some(None | Some("")) => {
                // libmount's message carries the errno its resolving of
                // the mount point left (readlink's EINVAL on a directory).
                let errno = if Path::new(&target).exists() {
                    libc::EINVAL
                } else {
                    libc::ENOENT
                };
                return Err(options_error(&options, &target, Some(errno)));
            }
            // Relative to the new filesystem's root; the root itself is
            // no subdirectory.
            Some(Some(dir)) => Some(dir.trim_start_matches('/'))
                .filter(|dir| !dir.is_empty() && !operation)
                .map(OsString::from),
        };
        let bind_source = (flags.contains(MsFlags::MS_BIND)
            && !flags.contains(MsFlags::MS_REMOUNT))
        .then(|| source.clone())
        .flatten();
        Ok(Resolved {
            source,
            target,
            fstype,
            options,
            flags,
            propagation_only,
            loop_device,
            nocanonicalize_source: keep_source && !o.no_canonicalize,
            subdir,
            bind_source,
            ownership,
            userns,
            table_root: request.table_root.clone(),
        })
    }

    /// `X-mount.auto-fstypes=LIST` (2.40+): what probing finds must be a
    /// type the list lets through (`-t`'s syntax; the first one counts, an
    /// empty one allows all). Only where the type is probed: none given,
    /// or `auto`, and no operation on an existing mount. Checked before
    /// the mount point is, as libmount does, so the message names the
    /// target as given.
    fn check_auto_fstypes(
        &self,
        options: &MountOptions,
        source: Option<&OsStr>,
        fstype: Option<&str>,
        target: &OsStr,
    ) -> Result<(), Outcome> {
        let Some(Some(pattern)) = options.first_user_value("X-mount.auto-fstypes") else {
            return Ok(());
        };
        let operation = options
            .flags
            .intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE | MsFlags::MS_REMOUNT);
        if pattern.is_empty() || operation || fstype.is_some() || self.fstype_pattern.is_some() {
            return Ok(());
        }
        let found = source.and_then(exec::probe_source);
        match found {
            Some(sb) if !match_fstype(sb.fstype, pattern) => {
                Err(Outcome::usage(target, "no valid filesystem type specified"))
            }
            _ => Ok(()),
        }
    }

    /// A source to mount: a tag found, a path canonicalised, a file on a
    /// loop device (`options` then lose `loop`, and gain `ro` for a
    /// read-only file).
    fn resolve_source(
        &self,
        options: &mut MountOptions,
        given: &OsStr,
        target: &OsStr,
        fstype: Option<&str>,
        keep_path: bool,
    ) -> Result<(OsString, Option<loopdev::Attached>), Outcome> {
        let o = self.o;
        let mut path = given.to_os_string();
        if let Some((kind, value)) = probe::parse_tag(given) {
            match probe::find_device(kind, value) {
                Some(device) => path = device.into_os_string(),
                None if options.has_user("nofail") => {
                    return Err(Outcome::ok(target.to_os_string(), None))
                }
                None => {
                    let message = [b"can't find ", given.as_bytes()].concat();
                    return Err(Outcome::usage(target, message));
                }
            }
        }
        let flags = options.flags;
        let pseudo = fstype.is_some_and(|t| !is_regular_fs(t));
        // Paths are resolved for real filesystems, and for what a bind or
        // move takes (a directory), as libmount does.
        let bind_or_move =
            flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE) && Path::new(&path).exists();
        if !keep_path && (!pseudo || bind_or_move) {
            path = canonical_source(&path);
        }
        let setup = loop_setup(options, &path, fstype, flags).map_err(|errno| {
            options_error(options, target, Some(loop_cleanup_errno(&path, errno)))
        })?;
        let Some(setup) = setup else {
            return Ok((path, None));
        };
        if o.fake {
            return Ok((path, None));
        }
        let attached = self.loop_device(&setup, &path, target)?;
        if attached.read_only {
            options.apply("ro");
        }
        // With autoclear the kernel tracks the device: libmount leaves
        // "loop" out of utab then.
        options
            .user
            .retain(|w| w != "loop" && !w.starts_with("loop="));
        let device = attached.device.clone().into_os_string();
        Ok((device, Some(attached)))
    }

    /// The loop device for a file, as libmount's loopdev hook finds or
    /// makes one: not a second mount of the same file on the same mount
    /// point; a device already on the same range of the file is used
    /// again; one on an overlapping range is refused.
    fn loop_device(
        &self,
        setup: &LoopSetup,
        path: &OsStr,
        target: &OsStr,
    ) -> Result<loopdev::Attached, Outcome> {
        let failed = |what: &[u8]| {
            let message = [what, b" for ", path.as_bytes()].concat();
            Outcome::failed(EX_FAIL, target.to_os_string(), message)
        };
        if let Some(file) = loopdev::file_id(&setup.file) {
            let here = canonical_target(target);
            let table = mountinfo::read_self().unwrap_or_default();
            let mounted_here = table.iter().rev().any(|e| {
                e.target == here
                    && loopdev::is_loop_device(Path::new(&e.source))
                    && loopdev::is_on(Path::new(&e.source), file, Some(setup.offset))
            });
            if mounted_here {
                let message = [path.as_bytes(), b" is already mounted"].concat();
                return Err(Outcome::usage(target, message));
            }
            let bound = loopdev::bound();
            match loopdev::find_overlap(&bound, file, setup.offset, setup.sizelimit) {
                Overlap::None => {}
                Overlap::Partial(_) => return Err(failed(b"overlapping loop device exists")),
                // loop=DEVICE cannot have the one already there.
                Overlap::Same(_) if setup.device.is_some() => {
                    return Err(failed(b"overlapping loop device exists"))
                }
                Overlap::Same(device) => match loopdev::reuse(&device) {
                    Ok(attached) if attached.read_only && !setup.read_only => {
                        let text = ns_sys::strerror(libc::EROFS);
                        let message = format!("mount failed: {text}");
                        return Err(Outcome::failed(EX_FAIL, target.to_os_string(), message));
                    }
                    Ok(attached) => return Ok(attached),
                    // Detached meanwhile: a new one, then.
                    Err(_) => {}
                },
            }
        }
        loopdev::attach(setup).map_err(|_| failed(b"failed to set up loop device"))
    }

    /// `X-mount.mkdir`: creates a missing mount point (for root, and
    /// callers without set-ID privileges, only).
    fn make_mount_point(&self, options: &MountOptions, target: &OsStr) -> Result<(), Outcome> {
        let mode = match options.mkdir_mode() {
            None => return Ok(()),
            Some(Ok(mode)) => mode,
            Some(Err(_)) => return Err(options_error(options, target, None)),
        };
        if Path::new(target).exists() {
            return Ok(());
        }
        // A restricted caller's request goes on without the privileges.
        if self.privilege.is_restricted() {
            return Err(Outcome::not_permitted(target));
        }
        if self.o.fake {
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(target)
            .map_err(|e| {
                let text = ns_sys::io_error_text(&e);
                Outcome::failed(
                    EX_FAIL,
                    target.to_os_string(),
                    format!("mount failed: {text}"),
                )
            })
    }

    /// Fills in what fstab (or the mount table, for a remount) knows.
    /// `Ok(true)` when an fstab entry completed the request.
    fn complete_from_tables(
        &mut self,
        request: &mut Request,
        remount: bool,
    ) -> Result<bool, Outcome> {
        let swapmatch = !self.o.no_swapmatch;
        let source = request.source.clone();
        let target = request.target.clone();
        let tags = probe::SystemTags::default();
        let o = self.o;
        let entries = self.fstab();
        // libmount's apply_table: by what was given, then (unless --source,
        // --target, -L or -U said which it is) the other way round; a tag
        // is never a mount point.
        let found = match (&source, &target) {
            _ if o.tables_off.fstab => None,
            (None, Some(t)) => fstab::find_target(entries, t, &tags).or_else(|| {
                swapmatch
                    .then(|| fstab::find_source(entries, t, &tags))
                    .flatten()
            }),
            (Some(s), None) => fstab::find_source(entries, s, &tags).or_else(|| {
                (swapmatch && probe::parse_tag(s).is_none())
                    .then(|| fstab::find_target(entries, s, &tags))
                    .flatten()
            }),
            // --options-source-force: the entry for both (find_pair).
            (Some(s), Some(t)) if o.options_source_force => entries.iter().find(|e| {
                let one = std::slice::from_ref(*e);
                fstab::find_target(one, t, &tags).is_some()
                    && fstab::find_source(one, s, &tags).is_some()
            }),
            (Some(_), Some(t)) => fstab::find_target(entries, t, &tags),
            (None, None) => None,
        }
        .cloned();
        if let Some(entry) = found {
            // A one-operand swap: the operand was the entry's source.
            request.source = Some(entry.source.clone());
            request.target = Some(entry.target.clone());
            if request.fstype.is_none() && self.fstype.is_none() {
                request.fstype = Some(entry.fstype.clone());
            }
            let table = MountOptions::parse(&entry.options);
            request.options = o.options_mode.join(table, &request.options);
            return Ok(true);
        }
        if remount {
            // The mount table, for what is mounted on the target.
            if let Some(t) = target.clone().or(source.clone()) {
                let table = match o.tables_off.mtab {
                    true => Vec::new(),
                    false => mountinfo::read_self().unwrap_or_default(),
                };
                if let Some(entry) = mountinfo::find_target(&table, &canonical_target(&t)) {
                    request.target = Some(entry.target.clone());
                    request.source = Some(entry.source.clone());
                    request.fstype = Some(entry.fstype.clone());
                    request.table_root = Some(entry.root.clone());
                    // With utab's words for it, as libmount's mtab has them.
                    let utab = crate::utab::read();
                    let listed = crate::utab::merge_utab(&table, &utab);
                    let options = listed
                        .iter()
                        .find(|l| std::ptr::eq(l.entry, entry))
                        .map_or_else(|| entry.options(), |l| l.options.clone());
                    let mounted = MountOptions::parse(&options);
                    request.options = o.options_mode.join(mounted, &request.options);
                } else if request.target.is_none() {
                    request.target = Some(t);
                }
            }
            return Ok(false);
        }
        let spec = target
            .clone()
            .or(source.clone())
            .unwrap_or_else(|| "???".into());
        let path = fstab_path(&self.privilege);
        let path = path.as_os_str().as_bytes();
        let message = if swapmatch {
            [b"can't find in ", path].concat()
        } else if target.is_some() {
            [b"can't find mount point in ", path].concat()
        } else {
            let source = source.as_deref().unwrap_or_default().as_bytes();
            [b"can't find mount source ", source, b" in ", path].concat()
        };
        Err(Outcome::usage(&spec, message))
    }
}

/// The errno libmount's message carries after refusing a loop option:
/// its clean-up has just tried to detach the source as a loop device
/// (LOOP_CLR_FD on the file, ENOTTY; or the open failed).
fn loop_cleanup_errno(source: &OsStr, parse_errno: i32) -> i32 {
    match std::fs::File::open(source) {
        Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
        // On a loop device the call works (we do not detach it: the
        // errno stays the parser's).
        Ok(_) if loopdev::is_loop_device(Path::new(source)) => parse_errno,
        Ok(_) => libc::ENOTTY,
    }
}

/// Whether this mount needs a loop device, and how to set it up. `Err` is
/// the errno of an `offset=`, `sizelimit=` or `encryption=` util-linux
/// refuses.
fn loop_setup(
    options: &MountOptions,
    path: &OsStr,
    fstype: Option<&str>,
    flags: MsFlags,
) -> Result<Option<LoopSetup>, i32> {
    // X-mount.noloop (2.42) wins over everything that would ask for one.
    if options.has_user("X-mount.noloop") {
        return Ok(None);
    }
    let asked = ["loop", "offset", "sizelimit", "encryption"]
        .iter()
        .any(|name| options.has_user(name));
    if !asked {
        if flags.intersects(MsFlags::MS_BIND | MsFlags::MS_MOVE) {
            return Ok(None);
        }
        if fstype.is_some_and(|t| !is_regular_fs(t)) {
            return Ok(None);
        }
        let Ok(meta) = std::fs::metadata(path) else {
            return Ok(None);
        };
        if !meta.is_file() || meta.len() <= 1024 {
            return Ok(None);
        }
    }
    // The first of each counts; an empty value (`offset=`) is none, as
    // libmount 2.42 takes it.
    let number = |name: &str| match options.first_user_value(name) {
        Some(Some(text)) if !text.is_empty() => size::strtosize(text),
        _ => Ok(0),
    };
    let (offset, sizelimit) = (number("offset")?, number("sizelimit")?);
    // Cryptoloop is gone from the kernel; libmount refuses it.
    if options.has_user("encryption") {
        return Err(libc::EINVAL);
    }
    let device = options
        .user_value("loop")
        .flatten()
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    Ok(Some(LoopSetup {
        file: PathBuf::from(path),
        offset,
        sizelimit,
        read_only: flags.contains(MsFlags::MS_RDONLY),
        device,
    }))
}

/// libmount's evaluation of a restricted (non-root) mount of an fstab
/// entry: allowed with `user` or `users`; with `owner` or `group` when the
/// source is a device under /dev that the caller owns or whose group they
/// are in, which then counts as `user`. A `user` mount is recorded in utab
/// as `user=NAME`, so that the same caller may unmount it. The implied
/// nosuid, nodev (and noexec) are already in the options' flags, where
/// the option stood.
fn permit_user_mount(options: &mut MountOptions, source: Option<&OsStr>) -> bool {
    // `user=NAME` from fstab names nobody allowed: libmount ignores it.
    options.user.retain(|word| !word.starts_with("user="));
    let has = |options: &MountOptions, word: &str| options.user.iter().any(|w| w == word);
    if has(options, "owner") || has(options, "group") {
        let caller = ns_sys::runtime::Identity::current();
        let device = source
            .filter(|path| starts_with(path, b"/dev/"))
            .and_then(|path| std::fs::metadata(path).ok());
        if let Some(meta) = device {
            if (has(options, "owner") && meta.uid() == caller.ruid)
                || (has(options, "group") && privilege::caller_in_group(meta.gid()))
            {
                options.user.push("user".to_string());
            }
        }
    }
    if !has(options, "user") && !has(options, "users") {
        return false;
    }
    let Some(name) = privilege::caller_name() else {
        return false;
    };
    for word in options.user.iter_mut().filter(|w| *w == "user") {
        *word = format!("user={name}");
    }
    true
}
