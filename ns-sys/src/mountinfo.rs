//! `/proc/self/mountinfo`, parsed without trusting it: a malformed line is
//! skipped, never a panic.
//!
//! ```text
//! 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//! (1)(2)(3)   (4)   (5)         (6)      (7)       (8) (9)  (10)      (11)
//! ```
//! Paths are escaped by the kernel as `\040` (space), `\011` (tab),
//! `\012` (newline) and `\134` (backslash); everything else is the path's
//! bytes, which need not be UTF-8: paths and sources are kept as bytes
//! ([`OsString`]), so that what is unmounted or shown is what the kernel
//! named.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// One mount, fields as the kernel wrote them (paths unescaped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountEntry {
    pub id: u32,
    pub parent: u32,
    pub major: u32,
    pub minor: u32,
    /// The root of the mount within its filesystem.
    pub root: OsString,
    pub target: OsString,
    /// Per-mount options (`rw,nosuid,relatime`).
    pub vfs_options: String,
    /// Optional fields (`shared:1`, `master:2`, …).
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: OsString,
    /// Superblock options.
    pub fs_options: String,
}

impl MountEntry {
    /// vfs and superblock options merged as libmount merges them: `ro` or
    /// `rw` first, then the rest of both without their `rw`/`ro`.
    pub fn options(&self) -> String {
        merge_options(&self.vfs_options, &self.fs_options)
    }

    pub fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }

    pub fn devno(&self) -> libc::dev_t {
        libc::makedev(self.major, self.minor)
    }
}

/// Undoes the kernel's octal escapes (`\040` → space). A backslash not
/// followed by three octal digits is kept as it is.
pub fn unescape_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = (u32::from(bytes[i + 1] - b'0') << 6)
                | (u32::from(bytes[i + 2] - b'0') << 3)
                | u32::from(bytes[i + 3] - b'0');
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// A path field, unescaped, as the bytes it names.
pub fn unescape_path(field: &[u8]) -> OsString {
    OsString::from_vec(unescape_bytes(field))
}

/// A text field (type, options), unescaped; such fields are ASCII in
/// practice, and anything else is shown as the replacement character.
pub fn unescape(text: &[u8]) -> String {
    String::from_utf8_lossy(&unescape_bytes(text)).into_owned()
}

/// Parses one line; `None` if it is malformed.
pub fn parse_line(line: &[u8]) -> Option<MountEntry> {
    let mut fields = line.split(|&b| b == b' ');
    let number = |field: Option<&[u8]>| std::str::from_utf8(field?).ok()?.parse().ok();
    let id = number(fields.next())?;
    let parent = number(fields.next())?;
    let devno = fields.next()?;
    let colon = devno.iter().position(|&b| b == b':')?;
    let major = number(Some(&devno[..colon]))?;
    let minor = number(Some(&devno[colon + 1..]))?;
    let root = unescape_path(fields.next()?);
    let target = unescape_path(fields.next()?);
    let vfs_options = String::from_utf8_lossy(fields.next()?).into_owned();
    let mut optional = Vec::new();
    loop {
        let field = fields.next()?;
        if field == b"-" {
            break;
        }
        if !field.is_empty() {
            optional.push(String::from_utf8_lossy(field).into_owned());
        }
    }
    let fstype = unescape(fields.next()?);
    let source = unescape_path(fields.next()?);
    let fs_options = String::from_utf8_lossy(fields.next().unwrap_or(b"")).into_owned();
    Some(MountEntry {
        id,
        parent,
        major,
        minor,
        root,
        target,
        vfs_options,
        optional,
        fstype,
        source,
        fs_options,
    })
}

/// Parses the whole file, skipping malformed lines.
pub fn parse(text: &[u8]) -> Vec<MountEntry> {
    text.split(|&b| b == b'\n').filter_map(parse_line).collect()
}

/// Reads and parses a mountinfo file (normally /proc/self/mountinfo).
pub fn read(path: &Path) -> std::io::Result<Vec<MountEntry>> {
    Ok(parse(&read_text(path)?))
}

/// Reads a /proc table in large chunks: the kernel walks the mount list
/// again for every read(2), so few big reads beat many small ones.
pub fn read_text(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut data = vec![0u8; 1 << 20];
    let mut len = 0;
    loop {
        if len == data.len() {
            data.resize(len * 2, 0);
        }
        match file.read(&mut data[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    data.truncate(len);
    Ok(data)
}

/// The mount table of this process's mount namespace.
pub fn read_self() -> std::io::Result<Vec<MountEntry>> {
    read(Path::new("/proc/self/mountinfo"))
}

/// libmount's merge of the per-mount and superblock option strings.
pub fn merge_options(vfs: &str, fs: &str) -> String {
    if fs.is_empty() {
        return vfs.to_string();
    }
    if vfs.is_empty() {
        return fs.to_string();
    }
    if vfs == fs {
        return vfs.to_string();
    }
    let words = || vfs.split(',').chain(fs.split(','));
    let read_only = words().any(|w| w == "ro");
    let mut out = String::with_capacity(vfs.len() + fs.len() + 1);
    out.push_str(if read_only { "ro" } else { "rw" });
    for word in words().filter(|w| *w != "rw" && *w != "ro" && !w.is_empty()) {
        out.push(',');
        out.push_str(word);
    }
    out
}

/// The last (topmost) mount on `target`.
pub fn find_target<'a>(table: &'a [MountEntry], target: &OsStr) -> Option<&'a MountEntry> {
    table.iter().rev().find(|entry| entry.target == target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    const SAMPLE: &[u8] = b"\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard
23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
36 22 0:40 /sub /mnt/with\\040space\\011tab rw,noatime master:1 propagate_from:2 - tmpfs none\\134x ro,size=1024k
37 22 0:41 / /bare rw - tmpfs none
38 22 0:42 / /l\xe4tin\xff rw - tmpfs s\xfc rw
";

    #[test]
    fn parses_fields_and_optional_fields() {
        let table = parse(SAMPLE);
        assert_eq!(table.len(), 5);
        assert_eq!(table[0].target, "/");
        assert_eq!(table[0].optional, vec!["shared:1"]);
        assert!(table[0].is_shared());
        assert_eq!((table[0].major, table[0].minor), (254, 0));
        let odd = &table[2];
        assert_eq!(odd.id, 36);
        assert_eq!(odd.parent, 22);
        assert_eq!(odd.root, "/sub");
        assert_eq!(odd.target, "/mnt/with space\ttab");
        assert_eq!(odd.optional, vec!["master:1", "propagate_from:2"]);
        assert!(!odd.is_shared());
        assert_eq!(odd.source, "none\\x");
        assert_eq!(odd.fstype, "tmpfs");
        assert_eq!(table[3].fs_options, "");
        assert_eq!(table[4].target.as_bytes(), b"/l\xe4tin\xff");
        assert_eq!(table[4].source.as_bytes(), b"s\xfc");
    }

    #[test]
    fn options_merge_like_libmount() {
        let table = parse(SAMPLE);
        assert_eq!(table[0].options(), "rw,relatime,discard");
        assert_eq!(table[1].options(), "rw,nosuid,nodev,noexec,relatime");
        assert_eq!(table[2].options(), "ro,noatime,size=1024k");
        assert_eq!(table[3].options(), "rw");
        assert_eq!(merge_options("ro,nosuid", "rw"), "ro,nosuid");
        assert_eq!(merge_options("rw", "rw"), "rw");
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = b"garbage\n1 2 3\n24 1 0:5 / /x rw\n25 1 x:5 / /y rw - t s o\n\n26 1 0:5 / /ok rw - tmpfs none rw\n";
        let table = parse(text);
        assert_eq!(table.len(), 1);
        assert_eq!(table[0].target, "/ok");
    }

    #[test]
    fn unescape_keeps_stray_backslashes() {
        assert_eq!(unescape(b"a\\040b"), "a b");
        assert_eq!(unescape(b"a\\0"), "a\\0");
        assert_eq!(unescape(b"a\\999"), "a\\999");
        assert_eq!(unescape(b"end\\"), "end\\");
        assert_eq!(unescape(b"\\134\\012"), "\\\n");
        assert_eq!(unescape_bytes(b"\\377\xfe"), b"\xff\xfe");
    }

    #[test]
    fn find_target_takes_the_topmost() {
        let text = b"1 0 0:1 / /a rw - tmpfs one rw\n2 0 0:2 / /a rw - tmpfs two rw\n";
        let table = parse(text);
        assert_eq!(find_target(&table, OsStr::new("/a")).unwrap().source, "two");
        assert!(find_target(&table, OsStr::new("/b")).is_none());
    }
}
