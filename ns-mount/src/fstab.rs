//! fstab(5): `SOURCE TARGET TYPE [OPTIONS [FREQ [PASSNO]]]`, blank lines
//! and `#` comments ignored, fields unescaped like mountinfo's (`\040`).
//!
//! As libmount does, a line without a type, or with a FREQ or PASSNO that
//! is not a number, is a parse error that the caller reports and skips.
//! The file is bytes: a Latin-1 byte in a comment or a path is no error,
//! and a path is kept as its bytes.

use std::ffi::OsString;

use ns_sys::mountinfo::{unescape, unescape_path};

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

#[cfg(test)]
mod tests {
    use super::*;

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
