//! `mount` without operands: the mount table as `SRC on TARGET type FS
//! (OPTS)`, and the userspace mount table (/run/mount/utab) whose options
//! (`x-…`, `_netdev`) util-linux appends to the kernel's.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::mountinfo::{self, unescape, MountEntry};
use crate::options::match_fstype;

/// Where libmount keeps the options the kernel does not know.
pub const UTAB: &str = "/run/mount/utab";

/// Filesystems without a real source (libmount's list); their source is
/// printed as it is.
const PSEUDO_FS: &[&str] = &[
    "anon_inodefs",
    "apparmorfs",
    "autofs",
    "bdev",
    "binder",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "cpuset",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "dlmfs",
    "dmabuf",
    "drm",
    "efivarfs",
    "fuse",
    "fuse.archivemount",
    "fuse.avfsd",
    "fuse.dumpfs",
    "fuse.encfs",
    "fuse.gvfs-fuse-daemon",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.rofiles-fuse",
    "fuse.vmware-vmblock",
    "fuse.xwmfs",
    "fusectl",
    "hugetlbfs",
    "ipathfs",
    "mqueue",
    "nfsd",
    "none",
    "nsfs",
    "overlay",
    "pipefs",
    "proc",
    "pstore",
    "ramfs",
    "resctrl",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "smackfs",
    "sockfs",
    "spufs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "vboxsf",
    "virtiofs",
];

pub fn is_pseudo_fs(fstype: &str) -> bool {
    PSEUDO_FS.binary_search(&fstype).is_ok()
}

/// Network filesystems, whose source is `host:path`, never a local path.
pub fn is_net_fs(fstype: &str) -> bool {
    fstype.starts_with("nfs")
        || matches!(
            fstype,
            "cifs"
                | "smbfs"
                | "smb3"
                | "ncpfs"
                | "ncp"
                | "afs"
                | "gfs"
                | "gfs2"
                | "glusterfs"
                | "fuse.glusterfs"
                | "fuse.sshfs"
                | "ceph"
                | "9p"
                | "pvfs2"
                | "coda"
        )
}

pub fn is_regular_fs(fstype: &str) -> bool {
    !is_pseudo_fs(fstype) && !is_net_fs(fstype) && fstype != "swap"
}

/// One utab line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UtabEntry {
    pub source: String,
    pub target: String,
    pub root: String,
    pub options: String,
    pub attrs: String,
}

/// Parses utab; lines without SRC, TARGET and ROOT are skipped.
pub fn parse_utab(text: &str) -> Vec<UtabEntry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let mut entry = UtabEntry::default();
        let (mut has_src, mut has_target, mut has_root) = (false, false, false);
        for field in line.split(' ') {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let value = unescape(value);
            match key {
                "SRC" => (entry.source, has_src) = (value, true),
                "TARGET" => (entry.target, has_target) = (value, true),
                "ROOT" => (entry.root, has_root) = (value, true),
                "OPTS" => entry.options = value,
                "ATTRS" => entry.attrs = value,
                _ => {}
            }
        }
        if has_src && has_target && has_root {
            entries.push(entry);
        }
    }
    entries
}

/// Escapes as libmount does when writing tables.
pub fn mangle(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            c => out.push(c),
        }
    }
    out
}

pub fn format_utab_line(entry: &UtabEntry) -> String {
    let mut line = format!(
        "SRC={} TARGET={} ROOT={} ",
        mangle(&entry.source),
        mangle(&entry.target),
        mangle(&entry.root)
    );
    if !entry.attrs.is_empty() {
        line.push_str(&format!("ATTRS={} ", mangle(&entry.attrs)));
    }
    line.push_str(&format!("OPTS={}\n", mangle(&entry.options)));
    line
}

fn same_path(a: &str, b: &str) -> bool {
    a == b || a.trim_end_matches('/') == b.trim_end_matches('/')
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
pub fn read_utab() -> Vec<UtabEntry> {
    std::fs::read_to_string(UTAB)
        .map(|text| parse_utab(&text))
        .unwrap_or_default()
}

/// Rewrites utab through a temporary file and rename, as libmount does.
pub fn write_utab(entries: &[UtabEntry]) -> io::Result<()> {
    let path = Path::new(UTAB);
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!("utab.ns-mount.{}", std::process::id()));
    let text: String = entries.iter().map(format_utab_line).collect();
    std::fs::write(&temp, text)?;
    std::fs::rename(&temp, path)
}

/// libmount's canonical form of a source path: symlinks resolved,
/// `/dev/dm-N` shown as `/dev/mapper/NAME`.
pub fn canonical_source(path: &str) -> String {
    if path.is_empty() {
        return "none".to_string();
    }
    let resolved = match std::fs::canonicalize(path) {
        Ok(resolved) => resolved.to_string_lossy().into_owned(),
        Err(_) => return path.to_string(),
    };
    if let Some(dm) = resolved.strip_prefix("/dev/dm-") {
        if let Ok(name) = std::fs::read_to_string(format!("/sys/block/dm-{dm}/dm/name")) {
            let mapper = format!("/dev/mapper/{}", name.trim_end());
            if Path::new(&mapper).exists() {
                return mapper;
            }
        }
    }
    resolved
}

/// For an autoclear loop device (set up by mount), its backing file.
pub fn loop_backing_file(device: &str) -> Option<String> {
    let name = device.strip_prefix("/dev/")?;
    if !name.starts_with("loop") {
        return None;
    }
    let base = PathBuf::from("/sys/block").join(name).join("loop");
    let autoclear = std::fs::read_to_string(base.join("autoclear")).ok()?;
    if autoclear.trim() != "1" {
        return None;
    }
    let file = std::fs::read_to_string(base.join("backing_file")).ok()?;
    Some(file.trim_end_matches('\n').to_string())
}

/// The source as util-linux prints it in a listing.
pub fn pretty_source(entry: &MountEntry) -> String {
    if !is_regular_fs(&entry.fstype) {
        return entry.source.clone();
    }
    let canonical = canonical_source(&entry.source);
    if canonical.starts_with("/dev/loop") {
        if let Some(file) = loop_backing_file(&canonical) {
            return file;
        }
    }
    canonical
}

/// Control characters in a target are printed as `?`, as util-linux does.
fn write_safe(out: &mut impl Write, text: &str) -> io::Result<()> {
    if !text.bytes().any(|b| b.is_ascii_control()) {
        return out.write_all(text.as_bytes());
    }
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_ascii_control() { '?' } else { c })
        .collect();
    out.write_all(cleaned.as_bytes())
}

/// Finds the label of a source, for `mount -l`.
pub type LabelFinder<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Writes the listing; `types` is a `-t` pattern, `label` finds a
/// source's label for `-l`.
pub fn write_listing(
    out: &mut impl Write,
    table: &[MountEntry],
    utab: &[UtabEntry],
    types: Option<&str>,
    label: Option<LabelFinder<'_>>,
) -> io::Result<()> {
    for listed in merge_utab(table, utab) {
        let entry = listed.entry;
        if let Some(pattern) = types {
            if !match_fstype(&entry.fstype, pattern) {
                continue;
            }
        }
        out.write_all(pretty_source(entry).as_bytes())?;
        out.write_all(b" on ")?;
        write_safe(out, &entry.target)?;
        out.write_all(b" type ")?;
        out.write_all(entry.fstype.as_bytes())?;
        if !listed.options.is_empty() {
            out.write_all(b" (")?;
            out.write_all(listed.options.as_bytes())?;
            out.write_all(b")")?;
        }
        if let Some(find_label) = label {
            if let Some(name) = find_label(&entry.source) {
                out.write_all(b" [")?;
                out.write_all(name.as_bytes())?;
                out.write_all(b"]")?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The listing straight from mountinfo's text, without building a table:
/// what `mount` does when utab adds nothing (the usual case), in one pass
/// and with no allocation per mount but for paths that need resolving.
pub fn write_listing_text(
    out: &mut impl Write,
    mountinfo: &str,
    types: Option<&str>,
    label: Option<LabelFinder<'_>>,
) -> io::Result<()> {
    let mut scratch = String::new();
    for line in mountinfo.lines() {
        let Some(fields) = split_fields(line) else {
            continue;
        };
        let fstype = unescape_into(fields.fstype, &mut scratch).to_string();
        if let Some(pattern) = types {
            if !match_fstype(&fstype, pattern) {
                continue;
            }
        }
        let source = unescape_into(fields.source, &mut scratch);
        if is_regular_fs(&fstype) {
            let canonical = canonical_source(source);
            let shown = if canonical.starts_with("/dev/loop") {
                loop_backing_file(&canonical).unwrap_or(canonical)
            } else {
                canonical
            };
            out.write_all(shown.as_bytes())?;
        } else {
            out.write_all(source.as_bytes())?;
        }
        let label_text = label.and_then(|find| find(source));
        out.write_all(b" on ")?;
        write_safe(out, unescape_into(fields.target, &mut scratch))?;
        out.write_all(b" type ")?;
        out.write_all(fstype.as_bytes())?;
        write_merged_options(out, fields.vfs_options, fields.fs_options)?;
        if let Some(name) = label_text {
            out.write_all(b" [")?;
            out.write_all(name.as_bytes())?;
            out.write_all(b"]")?;
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The fields of a mountinfo line the listing needs, still escaped.
struct Fields<'a> {
    target: &'a str,
    vfs_options: &'a str,
    fstype: &'a str,
    source: &'a str,
    fs_options: &'a str,
}

/// `str::split(' ')` with a plain byte loop: mountinfo's fields are
/// short, and `split` sets up a `memchr` for each one.
struct SpaceSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for SpaceSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        match rest.bytes().position(|b| b == b' ') {
            Some(at) => {
                self.rest = Some(&rest[at + 1..]);
                Some(&rest[..at])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

fn split_fields(line: &str) -> Option<Fields<'_>> {
    let mut fields = SpaceSplit { rest: Some(line) };
    // id, parent, major:minor, root
    for _ in 0..4 {
        fields.next()?;
    }
    let target = fields.next()?;
    let vfs_options = fields.next()?;
    while fields.next()? != "-" {}
    let fstype = fields.next()?;
    let source = fields.next()?;
    let fs_options = fields.next().unwrap_or("");
    Some(Fields {
        target,
        vfs_options,
        fstype,
        source,
        fs_options,
    })
}

/// Unescapes into `scratch` only when there is something to undo.
fn unescape_into<'a>(text: &'a str, scratch: &'a mut String) -> &'a str {
    if text.contains('\\') {
        *scratch = unescape(text);
        scratch.as_str()
    } else {
        text
    }
}

/// ` (OPTIONS)` as [`mountinfo::merge_options`] forms them, written
/// directly.
fn write_merged_options(out: &mut impl Write, vfs: &str, fs: &str) -> io::Result<()> {
    if vfs.is_empty() && fs.is_empty() {
        return Ok(());
    }
    out.write_all(b" (")?;
    if fs.is_empty() || vfs.is_empty() || vfs == fs {
        out.write_all(
            if fs.is_empty() {
                vfs
            } else if vfs.is_empty() {
                fs
            } else {
                vfs
            }
            .as_bytes(),
        )?;
    } else {
        let words = || vfs.split(',').chain(fs.split(','));
        let read_only = words().any(|w| w == "ro");
        out.write_all(if read_only { b"ro" } else { b"rw" })?;
        for word in words().filter(|w| *w != "rw" && *w != "ro" && !w.is_empty()) {
            out.write_all(b",")?;
            out.write_all(word.as_bytes())?;
        }
    }
    out.write_all(b")")
}

/// The mount table of this namespace, for the listing and for lookups.
pub fn read_table() -> io::Result<Vec<MountEntry>> {
    mountinfo::read_self()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudo_list_is_sorted_for_binary_search() {
        let mut sorted = PSEUDO_FS.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, PSEUDO_FS);
        assert!(is_pseudo_fs("tmpfs"));
        assert!(!is_pseudo_fs("ext4"));
        assert!(is_net_fs("nfs4"));
        assert!(is_regular_fs("ext4"));
    }

    #[test]
    fn utab_round_trip_and_merge() {
        let entry = UtabEntry {
            source: "none".into(),
            target: "/mnt/a b".into(),
            root: "/".into(),
            options: "x-foo".into(),
            attrs: String::new(),
        };
        let line = format_utab_line(&entry);
        assert_eq!(line, "SRC=none TARGET=/mnt/a\\040b ROOT=/ OPTS=x-foo\n");
        let parsed = parse_utab(&line);
        assert_eq!(parsed, vec![entry]);

        let table = mountinfo::parse(
            "1 0 0:1 / /mnt/a\\040b rw - tmpfs none rw\n2 0 0:2 / /mnt/a\\040b rw - tmpfs none rw,size=4k\n",
        );
        let listed = merge_utab(&table, &parsed);
        assert_eq!(listed[0].options, "rw");
        assert_eq!(listed[1].options, "rw,size=4k,x-foo");
    }

    #[test]
    fn utab_lines_missing_keys_are_skipped() {
        assert!(parse_utab("garbage\nSRC=a TARGET=/b\n").is_empty());
    }

    #[test]
    fn text_listing_matches_table_listing() {
        let text = "1 0 0:1 / /proc rw,nosuid - proc proc rw\n\
                    2 0 0:2 / /t\\040x\\012y ro - tmpfs no\\040ne rw,mode=755\n\
                    bad line\n\
                    3 0 0:3 / /same rw - tmpfs none rw\n\
                    4 0 0:4 / /empty rw - tmpfs none\n";
        for types in [None, Some("tmpfs"), Some("noproc")] {
            let mut a = Vec::new();
            write_listing(&mut a, &mountinfo::parse(text), &[], types, None).unwrap();
            let mut b = Vec::new();
            write_listing_text(&mut b, text, types, None).unwrap();
            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        }
    }

    #[test]
    fn listing_format_and_type_filter() {
        let table = mountinfo::parse(
            "1 0 0:1 / /proc rw,nosuid - proc proc rw\n2 0 0:2 / /t\\012x rw - tmpfs none rw,mode=755\n",
        );
        let mut out = Vec::new();
        write_listing(&mut out, &table, &[], None, None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "proc on /proc type proc (rw,nosuid)\nnone on /t?x type tmpfs (rw,mode=755)\n"
        );
        let mut out = Vec::new();
        write_listing(&mut out, &table, &[], Some("noproc"), None).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "none on /t?x type tmpfs (rw,mode=755)\n"
        );
    }
}
