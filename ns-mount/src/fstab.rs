//! fstab(5): `SOURCE TARGET TYPE [OPTIONS [FREQ [PASSNO]]]`, blank lines
//! and `#` comments ignored, fields unescaped like mountinfo's (`\040`).
//!
//! As libmount does, a line without a type, or with a FREQ or PASSNO that
//! is not a number, is a parse error that the caller reports and skips.
//! The file is bytes: a Latin-1 byte in a comment or a path is no error,
//! and a path is kept as its bytes.

use std::ffi::{OsStr, OsString};

use ns_sys::mountinfo::{unescape, unescape_path};

use crate::fstypes::{is_net_fs, is_pseudo_fs};
use crate::probe::{parse_tag, TagKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    pub source: OsString,
    pub target: OsString,
    pub fstype: String,
    pub options: String,
    pub freq: i32,
    pub passno: i32,
    /// 1-based line number, for messages.
    pub line: usize,
}

/// The entries of an fstab, and the line numbers that could not be parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fstab {
    pub entries: Vec<FstabEntry>,
    pub bad_lines: Vec<usize>,
}

/// Parses one non-comment line; `Err(())` when malformed.
fn parse_line(line: &[u8], number: usize) -> Result<FstabEntry, ()> {
    let mut fields = line
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty());
    let source = unescape_path(fields.next().ok_or(())?);
    let target = unescape_path(fields.next().ok_or(())?);
    let fstype = unescape(fields.next().ok_or(())?);
    let options = fields.next().map(unescape).unwrap_or_default();
    let number_field = |field: Option<&[u8]>| -> Result<i32, ()> {
        match field {
            None => Ok(0),
            Some(text) => std::str::from_utf8(text)
                .map_err(|_| ())?
                .parse()
                .map_err(|_| ()),
        }
    };
    let freq = number_field(fields.next())?;
    let passno = number_field(fields.next())?;
    Ok(FstabEntry {
        source,
        target,
        fstype,
        options,
        freq,
        passno,
        line: number,
    })
}

pub fn parse(text: &[u8]) -> Fstab {
    let mut fstab = Fstab::default();
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let start = line
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(line.len());
        let trimmed = &line[start..];
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        match parse_line(trimmed, index + 1) {
            Ok(entry) => fstab.entries.push(entry),
            Err(()) => fstab.bad_lines.push(index + 1),
        }
    }
    fstab
}

/// A file libmount reads from an fstab directory: `NAME.fstab`, not
/// hidden.
pub fn is_fstab_file_name(name: &[u8]) -> bool {
    name.ends_with(b".fstab") && !name.starts_with(b".")
}

/// The order of an fstab directory's files: runs of digits compare as
/// numbers (`a9` before `a10`), as versionsort(3) orders them; equal
/// numbers with more leading zeros come first.
pub fn version_order(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let run = |s: &[u8], at: usize| {
                s[at..].iter().take_while(|c| c.is_ascii_digit()).count() + at
            };
            let (end_a, end_b) = (run(a, i), run(b, j));
            let trim = |s: &[u8]| {
                let zeros = s.iter().take_while(|&&c| c == b'0').count();
                s[zeros..].to_vec()
            };
            let (na, nb) = (trim(&a[i..end_a]), trim(&b[j..end_b]));
            let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(&nb));
            let by_zeros = (end_b - j).cmp(&(end_a - i));
            match by_value.then(by_zeros) {
                Ordering::Equal => (i, j) = (end_a, end_b),
                other => return other,
            }
        } else {
            match a[i].cmp(&b[j]) {
                Ordering::Equal => (i, j) = (i + 1, j + 1),
                other => return other,
            }
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

/// What finding an entry needs from the system, as libmount's cache
/// answers it: canonical paths, and the tags of block devices.
pub trait Resolve {
    fn canonical_source(&self, path: &OsStr) -> OsString;
    fn canonical_target(&self, path: &OsStr) -> OsString;
    /// The device carrying a tag (`LABEL=x` → `/dev/sdb1`).
    fn device_of(&self, kind: TagKind, value: &[u8]) -> Option<OsString>;
    /// Whether the device carries the tag (its superblock or partition
    /// entry says so).
    fn device_has(&self, device: &OsStr, kind: TagKind, value: &[u8]) -> bool;
}

/// The first entry for a mount point (libmount reads fstab forwards):
/// as written, then the canonical path, then the entries' canonical
/// paths.
pub fn find_target<'e>(
    entries: &'e [FstabEntry],
    target: &OsStr,
    r: &impl Resolve,
) -> Option<&'e FstabEntry> {
    if let Some(entry) = entries.iter().find(|e| same_path(&e.target, target)) {
        return Some(entry);
    }
    let canonical = r.canonical_target(target);
    entries
        .iter()
        .find(|e| same_path(&e.target, &canonical))
        .or_else(|| {
            entries
                .iter()
                .filter(|e| e.fstype != "swap" && e.target.as_encoded_bytes().starts_with(b"/"))
                .find(|e| r.canonical_target(&e.target) == canonical)
        })
}

/// The first entry for a source, whichever way either names the device:
/// a tag is looked up as a tag first, then as the device it names; a
/// path as written, canonical, then through the tags of the entries
/// written with one (`mount /dev/sdb1` finds `LABEL=data`).
pub fn find_source<'e>(
    entries: &'e [FstabEntry],
    source: &OsStr,
    r: &impl Resolve,
) -> Option<&'e FstabEntry> {
    match parse_tag(source) {
        Some((kind, value)) => entries
            .iter()
            .find(|e| parse_tag(&e.source) == Some((kind, value)))
            .or_else(|| {
                let device = r.device_of(kind, value)?;
                find_srcpath(entries, &device, r)
            }),
        None => find_srcpath(entries, source, r),
    }
}

/// libmount's mnt_table_find_srcpath.
fn find_srcpath<'e>(
    entries: &'e [FstabEntry],
    path: &OsStr,
    r: &impl Resolve,
) -> Option<&'e FstabEntry> {
    let is_tag = |e: &FstabEntry| parse_tag(&e.source).is_some();
    if let Some(entry) = entries
        .iter()
        .find(|e| !is_tag(e) && same_path(&e.source, path))
    {
        return Some(entry);
    }
    if path.is_empty() {
        return None;
    }
    let canonical = r.canonical_source(path);
    if let Some(entry) = entries
        .iter()
        .find(|e| !is_tag(e) && same_path(&e.source, &canonical))
    {
        return Some(entry);
    }
    let tagged = entries.iter().find(|e| match parse_tag(&e.source) {
        Some((kind, value)) => r.device_has(&canonical, kind, value),
        None => false,
    });
    if tagged.is_some() {
        return tagged;
    }
    entries
        .iter()
        .filter(|e| !is_tag(e) && !is_net_fs(&e.fstype) && !is_pseudo_fs(&e.fstype))
        .filter(|e| e.source.as_encoded_bytes().starts_with(b"/"))
        .find(|e| r.canonical_source(&e.source) == canonical)
}

/// Paths equal but for trailing slashes, as libmount compares them.
fn same_path(a: &OsStr, b: &OsStr) -> bool {
    fn trimmed(p: &OsStr) -> &[u8] {
        let bytes = p.as_encoded_bytes();
        match bytes.iter().rposition(|&c| c != b'/') {
            Some(end) => &bytes[..=end],
            None if bytes.is_empty() => bytes,
            None => b"/",
        }
    }
    trimmed(a) == trimmed(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system with one device, /dev/sdz1, labelled "data", whose
    /// symlink /dev/disk/d points to it.
    struct OneDevice;

    impl Resolve for OneDevice {
        fn canonical_source(&self, path: &OsStr) -> OsString {
            if path == "/dev/disk/d" {
                "/dev/sdz1".into()
            } else {
                path.to_os_string()
            }
        }
        fn canonical_target(&self, path: &OsStr) -> OsString {
            if path == "/mnt/link" {
                "/mnt/real".into()
            } else {
                path.to_os_string()
            }
        }
        fn device_of(&self, kind: TagKind, value: &[u8]) -> Option<OsString> {
            (kind == TagKind::Label && value == b"data").then(|| "/dev/sdz1".into())
        }
        fn device_has(&self, device: &OsStr, kind: TagKind, value: &[u8]) -> bool {
            device == "/dev/sdz1" && kind == TagKind::Label && value == b"data"
        }
    }

    fn table(text: &str) -> Vec<FstabEntry> {
        parse(text.as_bytes()).entries
    }

    #[test]
    fn a_device_finds_an_entry_written_with_its_tag() {
        let entries = table("LABEL=other /a ext4\nLABEL=data /b ext4\n");
        let found = |s: &str| find_source(&entries, OsStr::new(s), &OneDevice).map(|e| e.line);
        assert_eq!(found("/dev/sdz1"), Some(2));
        assert_eq!(found("/dev/disk/d"), Some(2));
        // Quoted or not, the tag is the same tag.
        assert_eq!(found("LABEL=\"data\""), Some(2));
        assert_eq!(found("LABEL=other"), Some(1));
        assert_eq!(found("/dev/sdy1"), None);
    }

    #[test]
    fn a_tag_finds_an_entry_written_with_the_device() {
        let entries = table("/dev/sdz1 /b ext4\n");
        let found = find_source(&entries, OsStr::new("LABEL=data"), &OneDevice);
        assert_eq!(found.map(|e| e.line), Some(1));
        let entries = table("/dev/disk/d /b ext4\n");
        let found = find_source(&entries, OsStr::new("LABEL=data"), &OneDevice);
        assert_eq!(found.map(|e| e.line), Some(1));
        assert!(find_source(&entries, OsStr::new("UUID=x"), &OneDevice).is_none());
    }

    #[test]
    fn the_first_entry_wins() {
        let entries = table("a /t tmpfs\nb /t tmpfs\nc /mnt/real/ tmpfs\n");
        let target = |t: &str| find_target(&entries, OsStr::new(t), &OneDevice).map(|e| e.line);
        assert_eq!(target("/t"), Some(1));
        assert_eq!(target("/t/"), Some(1));
        assert_eq!(target("/mnt/link"), Some(3));
        assert_eq!(target("/x"), None);
    }

    #[test]
    fn entries_comments_and_escapes() {
        let text = b"# comment\n\n  \t\nUUID=abc / ext4 errors=remount-ro 0 1\n\tnone /mnt/a\\040b tmpfs size=1m\n/dev/sr0 /cd iso9660\n";
        let fstab = parse(text);
        assert!(fstab.bad_lines.is_empty());
        assert_eq!(fstab.entries.len(), 3);
        let root = &fstab.entries[0];
        assert_eq!(root.source, "UUID=abc");
        assert_eq!(root.target, "/");
        assert_eq!(root.fstype, "ext4");
        assert_eq!(root.options, "errors=remount-ro");
        assert_eq!((root.freq, root.passno, root.line), (0, 1, 4));
        assert_eq!(fstab.entries[1].target, "/mnt/a b");
        assert_eq!(fstab.entries[2].options, "");
    }

    #[test]
    fn missing_type_and_bad_numbers_are_errors() {
        let text = b"none /a\nnone /b tmpfs defaults x\nnone /c tmpfs defaults 0 y\nnone\nok /d tmpfs defaults 1 2\n";
        let fstab = parse(text);
        assert_eq!(fstab.bad_lines, vec![1, 2, 3, 4]);
        assert_eq!(fstab.entries.len(), 1);
        assert_eq!(fstab.entries[0].target, "/d");
    }

    #[test]
    fn fstab_directory_files_in_version_order() {
        let mut names = vec![
            "b.fstab",
            "a10.fstab",
            "a9.fstab",
            "a.fstab",
            "a09.fstab",
            "l.fstab",
        ];
        names.sort_by(|a, b| version_order(a.as_bytes(), b.as_bytes()));
        assert_eq!(
            names,
            [
                "a.fstab",
                "a09.fstab",
                "a9.fstab",
                "a10.fstab",
                "b.fstab",
                "l.fstab"
            ]
        );
        assert!(is_fstab_file_name(b"x.fstab"));
        assert!(!is_fstab_file_name(b".x.fstab"));
        assert!(!is_fstab_file_name(b".fstab"));
        assert!(!is_fstab_file_name(b"x.fstab.bak"));
        assert!(!is_fstab_file_name(b"fstab"));
    }

    #[test]
    fn latin1_bytes_are_no_error() {
        let text = b"# caf\xe9\nnone /mnt/caf\xe9 tmpfs defaults 0 0\nLABEL=\xe9t\xe9 /e ext4\n";
        let fstab = parse(text);
        assert!(fstab.bad_lines.is_empty());
        assert_eq!(fstab.entries.len(), 2);
        assert_eq!(
            std::os::unix::ffi::OsStrExt::as_bytes(fstab.entries[0].target.as_os_str()),
            b"/mnt/caf\xe9"
        );
        assert_eq!((fstab.entries[0].line, fstab.entries[1].line), (2, 3));
    }
}
