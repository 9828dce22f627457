//! `mount` without operands: the mount table as `SRC on TARGET type FS
//! (OPTS)`, with the options of the userspace mount table ([`crate::utab`])
//! appended to the kernel's, as util-linux shows them.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;

use ns_sys::mountinfo::{unescape_bytes, MountEntry};

use crate::fstypes::is_regular_fs;
use crate::options::match_fstype;
use crate::paths::{canonical_source, loop_backing_file, pretty_source};
use crate::utab::{merge_utab, UtabEntry};

/// Control characters in a target are printed as `?`, as util-linux does;
/// other bytes as they are.
fn write_safe(out: &mut impl Write, text: &[u8]) -> io::Result<()> {
    if !text.iter().any(u8::is_ascii_control) {
        return out.write_all(text);
    }
    let cleaned: Vec<u8> = text
        .iter()
        .map(|&b| if b.is_ascii_control() { b'?' } else { b })
        .collect();
    out.write_all(&cleaned)
}

/// Finds the label of a source, for `mount -l`.
pub type LabelFinder<'a> = &'a dyn Fn(&OsStr) -> Option<Vec<u8>>;

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
        write_safe(out, entry.target.as_bytes())?;
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
                out.write_all(&name)?;
                out.write_all(b"]")?;
            }
        }
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The listing straight from mountinfo's text, without building a table:
/// what `mount` does when utab adds nothing (the usual case).
pub fn write_listing_text(
    out: &mut impl Write,
    mountinfo: &[u8],
    types: Option<&str>,
    label: Option<LabelFinder<'_>>,
) -> io::Result<()> {
    let mut lister = TextLister::new(types, label);
    let mut buf = Vec::with_capacity(mountinfo.len() + mountinfo.len() / 4);
    lister.lines(mountinfo, &mut buf);
    out.write_all(&buf)
}

/// Which side of [`stream_listing_text`] failed.
#[derive(Debug)]
pub enum StreamError {
    Read(io::Error),
    Write(io::Error),
}

/// [`write_listing_text`] of a mountinfo file read piece by piece: the
/// input and output buffers stay small and hot in the cache (a table of
/// thousands of mounts is hundreds of KiB, which would otherwise be
/// fresh pages to fault in twice).
pub fn stream_listing_text(
    input: &mut impl io::Read,
    out: &mut impl Write,
    types: Option<&str>,
    label: Option<LabelFinder<'_>>,
) -> Result<(), StreamError> {
    const CHUNK: usize = 64 * 1024;
    let mut lister = TextLister::new(types, label);
    let mut data = vec![0u8; CHUNK];
    let mut len = 0;
    let mut buf = Vec::with_capacity(CHUNK + CHUNK / 2);
    loop {
        if len == data.len() {
            // A line longer than the buffer: make room.
            data.resize(len * 2, 0);
        }
        let got = match input.read(&mut data[len..]) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        len += got;
        // Whole lines now; the rest (a cut line) waits for the next read.
        let end = if got == 0 {
            len
        } else {
            match data[..len].iter().rposition(|&b| b == b'\n') {
                Some(at) => at + 1,
                None => continue,
            }
        };
        lister.lines(&data[..end], &mut buf);
        if buf.len() >= CHUNK || got == 0 {
            out.write_all(&buf).map_err(StreamError::Write)?;
            buf.clear();
        }
        if got == 0 {
            return Ok(());
        }
        data.copy_within(end..len, 0);
        len -= end;
    }
}

/// The state of a text listing between lines: the type's tests (the `-t`
/// filter, pseudo or regular) are redone only when a mount's type
/// differs from the one before.
struct TextLister<'a> {
    types: Option<&'a str>,
    label: Option<LabelFinder<'a>>,
    scratch: Vec<u8>,
    /// The previous line's type as mountinfo has it, and unescaped.
    last_type: Vec<u8>,
    type_text: String,
    shown: bool,
    regular: bool,
    started: bool,
}

impl<'a> TextLister<'a> {
    fn new(types: Option<&'a str>, label: Option<LabelFinder<'a>>) -> TextLister<'a> {
        TextLister {
            types,
            label,
            scratch: Vec::new(),
            last_type: Vec::new(),
            type_text: String::new(),
            shown: true,
            regular: false,
            started: false,
        }
    }

    /// Appends the listing of `text`'s lines to `buf`: no allocation per
    /// mount but for paths that need unescaping or resolving.
    fn lines(&mut self, text: &[u8], buf: &mut Vec<u8>) {
        for line in text.split(|&b| b == b'\n') {
            let Some(fields) = split_fields(line) else {
                continue;
            };
            if !self.started || self.last_type != fields.fstype {
                self.started = true;
                self.last_type.clear();
                self.last_type.extend_from_slice(fields.fstype);
                self.type_text.clear();
                self.type_text
                    .push_str(&String::from_utf8_lossy(unescape_into(
                        fields.fstype,
                        &mut self.scratch,
                    )));
                self.shown = self
                    .types
                    .is_none_or(|pattern| match_fstype(&self.type_text, pattern));
                self.regular = is_regular_fs(&self.type_text);
            }
            if !self.shown {
                continue;
            }
            let source = OsStr::from_bytes(unescape_into(fields.source, &mut self.scratch));
            if self.regular {
                let canonical = canonical_source(source);
                let shown = if canonical.as_bytes().starts_with(b"/dev/loop") {
                    loop_backing_file(&canonical).unwrap_or(canonical)
                } else {
                    canonical
                };
                push_bytes(buf, shown.as_bytes());
            } else {
                push_bytes(buf, source.as_bytes());
            }
            let label_text = self.label.and_then(|find| find(source));
            push_bytes(buf, b" on ");
            push_safe(buf, unescape_into(fields.target, &mut self.scratch));
            push_bytes(buf, b" type ");
            push_bytes(buf, self.type_text.as_bytes());
            push_merged_options(buf, fields.vfs_options, fields.fs_options);
            if let Some(name) = label_text {
                push_bytes(buf, b" [");
                push_bytes(buf, &name);
                push_bytes(buf, b"]");
            }
            buf.push(b'\n');
        }
    }
}

/// Appends `bytes` to `buf`. `extend_from_slice` calls musl's memcpy,
/// which moves an unaligned head and the tail byte by byte around a
/// `rep movsq`: slow for the few bytes of a mountinfo field, and a
/// listing makes tens of thousands of such copies. Words of 8 bytes, then
/// bytes, do it inline.
#[inline]
fn push_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() > 128 {
        buf.extend_from_slice(bytes);
        return;
    }
    buf.reserve(bytes.len());
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let word: [u8; 8] = word.try_into().unwrap_or_default();
        buf.extend_from_slice(&word);
    }
    for &byte in words.remainder() {
        buf.push(byte);
    }
}

/// Control characters become `?`, as [`write_safe`] does.
fn push_safe(buf: &mut Vec<u8>, text: &[u8]) {
    if !text.iter().any(u8::is_ascii_control) {
        push_bytes(buf, text);
        return;
    }
    buf.extend(
        text.iter()
            .map(|&b| if b.is_ascii_control() { b'?' } else { b }),
    );
}

/// The fields of a mountinfo line the listing needs, still escaped.
struct Fields<'a> {
    target: &'a [u8],
    vfs_options: &'a [u8],
    fstype: &'a [u8],
    source: &'a [u8],
    fs_options: &'a [u8],
}

/// The fields of a line, separated by single spaces (as `split(' ')`
/// gives them), with a plain index loop: the fields are short, and an
/// iterator per field (or a `memchr` set up per field) cost more than
/// the search.
fn split_fields(line: &[u8]) -> Option<Fields<'_>> {
    let bytes = line;
    let mut next: Option<usize> = Some(0);
    let mut take = || -> Option<&[u8]> {
        let start = next?;
        let mut end = start;
        while end < bytes.len() && bytes[end] != b' ' {
            end += 1;
        }
        next = (end < bytes.len()).then_some(end + 1);
        line.get(start..end)
    };
    // id, parent, major:minor, root
    for _ in 0..4 {
        take()?;
    }
    let target = take()?;
    let vfs_options = take()?;
    while take()? != b"-" {}
    let fstype = take()?;
    let source = take()?;
    let fs_options = take().unwrap_or(b"");
    Some(Fields {
        target,
        vfs_options,
        fstype,
        source,
        fs_options,
    })
}

/// Unescapes into `scratch` only when there is something to undo.
fn unescape_into<'a>(text: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    if text.contains(&b'\\') {
        *scratch = unescape_bytes(text);
        scratch.as_slice()
    } else {
        text
    }
}

/// Calls `each` with every comma-separated word of `list` (empty ones
/// included, as `split(',')` gives them).
fn for_each_word(list: &[u8], mut each: impl FnMut(&[u8])) {
    let mut start = 0;
    for (i, &b) in list.iter().enumerate() {
        if b == b',' {
            each(&list[start..i]);
            start = i + 1;
        }
    }
    each(&list[start..]);
}

/// ` (OPTIONS)` as [`mountinfo::merge_options`] forms them: the mount's
/// and the filesystem's options, `ro` if either says so, each other word
/// once in order.
fn push_merged_options(buf: &mut Vec<u8>, vfs: &[u8], fs: &[u8]) {
    if vfs.is_empty() && fs.is_empty() {
        return;
    }
    push_bytes(buf, b" (");
    if fs.is_empty() || vfs.is_empty() || vfs == fs {
        // One of them, or both the same.
        push_bytes(buf, if fs.is_empty() { vfs } else { fs });
    } else {
        let mut read_only = false;
        for_each_word(vfs, |w| read_only |= w == b"ro");
        for_each_word(fs, |w| read_only |= w == b"ro");
        push_bytes(buf, if read_only { b"ro" } else { b"rw" });
        let mut push = |w: &[u8]| {
            if !w.is_empty() && w != b"rw" && w != b"ro" {
                buf.push(b',');
                push_bytes(buf, w);
            }
        };
        for_each_word(vfs, &mut push);
        for_each_word(fs, &mut push);
    }
    buf.push(b')');
}

/// A writer that counts what passes through it: how much a listing had
/// produced when stdout failed decides how close_stdout words the error
/// (see `ns_getopt::write_failed_after`).
pub struct Counted<W> {
    inner: W,
    pub count: usize,
}

impl<W> Counted<W> {
    pub fn new(inner: W) -> Self {
        Counted { inner, count: 0 }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(data)?;
        self.count = self.count.saturating_add(written);
        Ok(written)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.count = self.count.saturating_add(data.len());
        self.inner.write_all(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ns_sys::mountinfo;

    #[test]
    fn streamed_listing_matches_text_listing() {
        // Long enough to be read in several pieces, cut mid-line.
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "{i} 1 0:{i} / /mnt/m\\040{i} rw,nosuid shared:1 - tmpfs t{i} rw,size=8k\n"
            ));
            if i % 7 == 0 {
                text.push_str(&format!("{i} 1 8:1 / /d{i} ro - ext4 none rw\n"));
            }
        }
        for types in [None, Some("tmpfs"), Some("noext4")] {
            let mut whole = Vec::new();
            write_listing_text(&mut whole, text.as_bytes(), types, None).unwrap();
            let mut streamed = Vec::new();
            let mut input = io::Cursor::new(text.as_bytes());
            stream_listing_text(&mut input, &mut streamed, types, None).unwrap();
            assert_eq!(
                String::from_utf8(streamed).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
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
            write_listing(&mut a, &mountinfo::parse(text.as_bytes()), &[], types, None).unwrap();
            let mut b = Vec::new();
            write_listing_text(&mut b, text.as_bytes(), types, None).unwrap();
            assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
        }
    }

    #[test]
    fn listing_keeps_the_kernels_bytes() {
        let text = b"1 0 0:1 / /mnt/\\377caf\xe9 rw - tmpfs s\xfc rw\n";
        let mut out = Vec::new();
        write_listing_text(&mut out, text, None, None).unwrap();
        assert_eq!(out, b"s\xfc on /mnt/\xffcaf\xe9 type tmpfs (rw)\n");
        let mut table_out = Vec::new();
        write_listing(&mut table_out, &mountinfo::parse(text), &[], None, None).unwrap();
        assert_eq!(table_out, out);
    }

    #[test]
    fn listing_format_and_type_filter() {
        let table = mountinfo::parse(
            b"1 0 0:1 / /proc rw,nosuid - proc proc rw\n2 0 0:2 / /t\\012x rw - tmpfs none rw,mode=755\n",
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
