//! The userspace mount table, /run/mount/utab: the options libmount keeps
//! for mounts because the kernel does not (`x-…`, `_netdev`, `user=NAME`),
//! read, merged into the kernel's table, and rewritten.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ns_sys::mount::MsFlags;
use ns_sys::mountinfo::{self, unescape, unescape_path, MountEntry};

use crate::fstypes::is_pseudo_fs;
use crate::options::MountOptions;

/// Where libmount keeps the options the kernel does not know.
pub const UTAB: &str = "/run/mount/utab";

/// The utab in effect: `LIBMOUNT_UTAB` (util-linux's suite points it at a
/// file of its own), unless we run set-ID, where the caller's environment
/// does not choose our files.
pub fn path() -> std::path::PathBuf {
    let trusted = !ns_sys::runtime::Identity::current().is_set_id();
    std::env::var_os("LIBMOUNT_UTAB")
        .filter(|value| trusted && !value.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(UTAB))
}

/// One utab line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UtabEntry {
    pub source: OsString,
    pub target: OsString,
    pub root: OsString,
    /// A bind mount's source (`BINDSRC=`, 2.39+).
    pub bind_source: OsString,
    pub options: String,
    pub attrs: String,
}

/// Parses utab; lines without SRC and TARGET are skipped. One without
/// ROOT (a remount's of a mount named by source and target) is kept with
/// an empty root, which no mount matches.
pub fn parse_utab(text: &[u8]) -> Vec<UtabEntry> {
    let mut entries = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut entry = UtabEntry::default();
        let (mut has_src, mut has_target) = (false, false);
        for field in line.split(|&b| b == b' ') {
            let Some(equals) = field.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&field[..equals], &field[equals + 1..]);
            match key {
                b"SRC" => (entry.source, has_src) = (unescape_path(value), true),
                b"TARGET" => (entry.target, has_target) = (unescape_path(value), true),
                b"ROOT" => entry.root = unescape_path(value),
                b"BINDSRC" => entry.bind_source = unescape_path(value),
                b"OPTS" => entry.options = unescape(value),
                b"ATTRS" => entry.attrs = unescape(value),
                _ => {}
            }
        }
        if has_src && has_target {
            entries.push(entry);
        }
    }
    entries
}

/// Escapes as libmount does when writing tables.
pub fn mangle(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &b in text {
        match b {
            b' ' => out.extend_from_slice(b"\\040"),
            b'\t' => out.extend_from_slice(b"\\011"),
            b'\n' => out.extend_from_slice(b"\\012"),
            b'\\' => out.extend_from_slice(b"\\134"),
            b => out.push(b),
        }
    }
    out
}

pub fn format_utab_line(entry: &UtabEntry) -> Vec<u8> {
    let mut line = Vec::new();
    for (key, value) in [
        (&b"SRC="[..], entry.source.as_bytes()),
        (b" TARGET=", entry.target.as_bytes()),
        (b" ROOT=", entry.root.as_bytes()),
    ] {
        if key == b" ROOT=" && value.is_empty() {
            continue;
        }
        line.extend_from_slice(key);
        line.extend_from_slice(&mangle(value));
    }
    line.push(b' ');
    if !entry.bind_source.is_empty() {
        line.extend_from_slice(b"BINDSRC=");
        line.extend_from_slice(&mangle(entry.bind_source.as_bytes()));
        line.push(b' ');
    }
    if !entry.attrs.is_empty() {
        line.extend_from_slice(b"ATTRS=");
        line.extend_from_slice(&mangle(entry.attrs.as_bytes()));
        line.push(b' ');
    }
    line.extend_from_slice(b"OPTS=");
    line.extend_from_slice(&mangle(entry.options.as_bytes()));
    line.push(b'\n');
    line
}

fn same_path(a: &OsStr, b: &OsStr) -> bool {
    let trim = |p: &OsStr| {
        let bytes = p.as_bytes();
        let end = bytes
            .iter()
            .rposition(|&c| c != b'/')
            .map_or(0, |at| at + 1);
        bytes[..end].to_vec()
    };
    a == b || trim(a) == trim(b)
}

/// A mount with its options as util-linux shows them (utab merged).
pub struct Listed<'a> {
    pub entry: &'a MountEntry,
    pub options: String,
}

/// Merges utab's options into the table as libmount does: each utab entry
/// goes to the last mount with the same root, target and source.
pub fn merge_utab<'a>(table: &'a [MountEntry], utab: &[UtabEntry]) -> Vec<Listed<'a>> {
    let mut listed: Vec<Listed<'a>> = table
        .iter()
        .map(|entry| Listed {
            entry,
            options: entry.options(),
        })
        .collect();
    let mut merged = vec![false; listed.len()];
    for user in utab {
        if user.options.is_empty() {
            continue;
        }
        let found = (0..listed.len()).rev().find(|&i| {
            let entry = listed[i].entry;
            !merged[i]
                && entry.root == user.root
                && same_path(&entry.target, &user.target)
                && (entry.source == user.source
                    || (!is_pseudo_fs(&entry.fstype) && same_path(&entry.source, &user.source)))
        });
        if let Some(i) = found {
            merged[i] = true;
            if !listed[i].options.is_empty() {
                listed[i].options.push(',');
            }
            listed[i].options.push_str(&user.options);
        }
    }
    listed
}

/// Reads utab; a missing file is an empty table.
pub fn read() -> Vec<UtabEntry> {
    std::fs::read(path())
        .map(|text| parse_utab(&text))
        .unwrap_or_default()
}

/// Rewrites utab through a temporary file and rename, as libmount does.
pub fn write(entries: &[UtabEntry]) -> io::Result<()> {
    let path = path();
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!("utab.ns-mount.{}", std::process::id()));
    let text: Vec<u8> = entries.iter().flat_map(format_utab_line).collect();
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

/// After a successful mount with utab options (`x-…`, `_netdev`, `user=`),
/// records them as libmount does (a bind mount with its source).
pub fn record_mount(options: &MountOptions, target: &OsStr, bind_source: Option<&OsStr>) {
    let kept = options.utab_options();
    if kept.is_empty() || options.flags.contains(MsFlags::MS_REMOUNT) {
        return;
    }
    let table = mountinfo::read_self().unwrap_or_default();
    let Some(entry) = mountinfo::find_target(&table, target) else {
        return;
    };
    let mut utab = read();
    utab.push(UtabEntry {
        source: entry.source.clone(),
        target: entry.target.clone(),
        root: entry.root.clone(),
        bind_source: bind_source.map(OsStr::to_os_string).unwrap_or_default(),
        options: kept.join(","),
        attrs: String::new(),
    });
    let _ = write(&utab);
}

/// After a successful remount whose options keep utab words: the
/// target's entry is replaced (or made), as libmount updates it. Its
/// ROOT= is the mounted filesystem's when the mount table completed the
/// request, and none otherwise (libmount knows none then).
pub fn record_remount(
    options: &MountOptions,
    source: &OsStr,
    target: &OsStr,
    root: Option<&OsStr>,
) {
    let kept = options.utab_options();
    if kept.is_empty() {
        return;
    }
    let mut utab = read();
    let entry = UtabEntry {
        source: source.to_os_string(),
        target: target.to_os_string(),
        root: root.map(OsStr::to_os_string).unwrap_or_default(),
        options: kept.join(","),
        ..UtabEntry::default()
    };
    match utab.iter().rposition(|u| u.target == target) {
        Some(at) => utab[at] = entry,
        None => utab.push(entry),
    }
    let _ = write(&utab);
}

/// After a `mount.<type>` helper mounted: our utab options join the
/// entry the helper wrote (or make one), as libmount completes it.
pub fn record_after_helper(options: &MountOptions, target: &OsStr) {
    let kept = options.utab_options();
    if kept.is_empty() || options.flags.contains(MsFlags::MS_REMOUNT) {
        return;
    }
    let mut utab = read();
    let canonical = crate::paths::canonical_target(target);
    let Some(entry) = utab.iter_mut().rev().find(|u| u.target == canonical) else {
        record_mount(options, &canonical, None);
        return;
    };
    let mut words: Vec<String> = crate::options::split(&entry.options)
        .into_iter()
        .map(str::to_string)
        .collect();
    for word in kept {
        if !words.iter().any(|w| w == word) {
            words.push(word.to_string());
        }
    }
    entry.options = words.join(",");
    let _ = write(&utab);
}

/// Drops a target's entry after it was unmounted.
pub fn forget(target: &OsStr) {
    let mut utab = read();
    if let Some(index) = utab.iter().rposition(|u| u.target == target) {
        utab.remove(index);
        let _ = write(&utab);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utab_round_trip_and_merge() {
        let entry = UtabEntry {
            source: "none".into(),
            target: "/mnt/a b".into(),
            root: "/".into(),
            bind_source: OsString::new(),
            options: "x-foo".into(),
            attrs: String::new(),
        };
        let line = format_utab_line(&entry);
        assert_eq!(line, b"SRC=none TARGET=/mnt/a\\040b ROOT=/ OPTS=x-foo\n");
        let parsed = parse_utab(&line);
        assert_eq!(parsed, vec![entry]);

        let table = mountinfo::parse(
            b"1 0 0:1 / /mnt/a\\040b rw - tmpfs none rw\n2 0 0:2 / /mnt/a\\040b rw - tmpfs none rw,size=4k\n",
        );
        let listed = merge_utab(&table, &parsed);
        assert_eq!(listed[0].options, "rw");
        assert_eq!(listed[1].options, "rw,size=4k,x-foo");
    }

    #[test]
    fn utab_lines_missing_keys_are_skipped() {
        assert!(parse_utab(b"garbage\nSRC=a\nTARGET=/b OPTS=x-a\n").is_empty());
    }

    #[test]
    fn a_remount_entry_without_root_is_kept_but_matches_no_mount() {
        let parsed = parse_utab(b"SRC=a TARGET=/b OPTS=x-a\n");
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].root, "");
        assert_eq!(format_utab_line(&parsed[0]), b"SRC=a TARGET=/b OPTS=x-a\n");
        let table = ns_sys::mountinfo::parse(b"1 0 0:1 / /b rw - tmpfs a rw\n");
        assert_eq!(merge_utab(&table, &parsed)[0].options, "rw");
    }
}
