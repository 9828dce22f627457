//! Cells as libsmartcols makes them safe and measures them: the locale's
//! character set, widths in terminal cells, `\xNN` escapes of what cannot
//! be shown, and truncation to a width.

use std::borrow::Cow;

/// Character handling of the locale in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale {
    pub utf8: bool,
}

impl Locale {
    /// Sets the locale from the environment (as util-linux's `setlocale`)
    /// and reports whether its character set is UTF-8.
    pub fn from_environment() -> Locale {
        // SAFETY: setlocale and nl_langinfo are called before any other
        // thread exists; the returned string is read at once.
        let utf8 = unsafe {
            libc::setlocale(libc::LC_ALL, c"".as_ptr());
            let codeset = libc::nl_langinfo(libc::CODESET);
            !codeset.is_null() && std::ffi::CStr::from_ptr(codeset).to_bytes() == b"UTF-8"
        };
        Locale { utf8 }
    }

    pub(super) fn branch(self) -> &'static str {
        if self.utf8 {
            "\u{251c}\u{2500}"
        } else {
            "|-"
        }
    }

    pub(super) fn right(self) -> &'static str {
        if self.utf8 {
            "\u{2514}\u{2500}"
        } else {
            "`-"
        }
    }

    pub(super) fn vertical(self) -> &'static str {
        if self.utf8 {
            "\u{2502} "
        } else {
            "| "
        }
    }
}

extern "C" {
    fn wcwidth(c: libc::wchar_t) -> libc::c_int;
    fn iswprint(c: libc::c_uint) -> libc::c_int;
}

fn char_width(c: char) -> usize {
    // SAFETY: pure functions of their argument (and the locale).
    let width = unsafe { wcwidth(c as libc::wchar_t) };
    width.max(0) as usize
}

fn char_printable(c: char) -> bool {
    // SAFETY: a pure function of its argument (and the locale).
    unsafe { iswprint(c as libc::c_uint) != 0 }
}

pub(super) fn push_hex(out: &mut Vec<u8>, byte: u8) {
    out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
}

/// Makes a cell safe for a terminal: control characters, bytes that are
/// not valid characters, non-printable characters and the backslash of a
/// literal `\x` become `\xNN`. Returns the text and its width in cells.
pub fn safe_encode(data: &[u8], safechars: &[u8], locale: Locale) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(data.len());
    let mut width = 0;
    let mut i = 0;
    while i < data.len() {
        let byte = data[i];
        if byte == 0 {
            break;
        }
        if safechars.contains(&byte) {
            out.push(byte);
            i += 1;
            continue;
        }
        if (byte == b'\\' && data.get(i + 1) == Some(&b'x')) || byte < 0x20 || byte == 0x7f {
            push_hex(&mut out, byte);
            width += 4;
            i += 1;
            continue;
        }
        if byte < 0x80 {
            out.push(byte);
            width += 1;
            i += 1;
            continue;
        }
        if !locale.utf8 {
            push_hex(&mut out, byte);
            width += 4;
            i += 1;
            continue;
        }
        match decode_utf8(&data[i..]) {
            Some((c, len)) if char_printable(c) => {
                out.extend_from_slice(&data[i..i + len]);
                width += char_width(c);
                i += len;
            }
            Some((_, len)) => {
                for &b in &data[i..i + len] {
                    push_hex(&mut out, b);
                    width += 4;
                }
                i += len;
            }
            None => {
                push_hex(&mut out, byte);
                width += 4;
                i += 1;
            }
        }
    }
    (out, width)
}

/// Whether [`safe_encode`] leaves `data` as it is, one cell per byte:
/// printable ASCII without a backslash or a byte of `safechars`.
fn is_plain(data: &[u8], safechars: &[u8]) -> bool {
    data.iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && !safechars.contains(&b))
}

/// [`safe_encode`] without a copy of a cell that needs no encoding (most).
pub fn safe_encode_cow<'a>(
    data: &'a [u8],
    safechars: &[u8],
    locale: Locale,
) -> (Cow<'a, [u8]>, usize) {
    if is_plain(data, safechars) {
        return (Cow::Borrowed(data), data.len());
    }
    let (encoded, width) = safe_encode(data, safechars, locale);
    (Cow::Owned(encoded), width)
}

/// The width a cell takes once made safe.
pub fn safe_width(data: &[u8], locale: Locale) -> usize {
    if is_plain(data, b"") {
        return data.len();
    }
    safe_encode(data, b"", locale).1
}

/// One UTF-8 character at the start of `data`, and its length.
fn decode_utf8(data: &[u8]) -> Option<(char, usize)> {
    let len = match data.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let text = std::str::from_utf8(data.get(..len)?).ok()?;
    text.chars().next().map(|c| (c, len))
}

/// Cuts safe (already encoded) text to at most `width` cells; returns
/// the byte length kept and the cells used.
pub fn truncate(data: &[u8], width: usize, locale: Locale) -> (usize, usize) {
    let mut cells = 0;
    let mut i = 0;
    while i < data.len() {
        let (w, len) = if data[i] < 0x80 || !locale.utf8 {
            (1, 1)
        } else {
            match decode_utf8(&data[i..]) {
                Some((c, len)) => (char_width(c), len),
                None => (1, 1),
            }
        };
        if cells + w > width {
            break;
        }
        cells += w;
        i += len;
    }
    (i, cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTF8: Locale = Locale { utf8: true };
    const ASCII: Locale = Locale { utf8: false };

    #[test]
    fn safe_encoding() {
        assert_eq!(safe_encode(b"a\x1bb", b"", ASCII), (b"a\\x1bb".to_vec(), 6));
        assert_eq!(safe_encode(b"\\x41", b"", ASCII), (b"\\x5cx41".to_vec(), 7));
        assert_eq!(
            safe_encode(b"\xc3\xa9", b"", ASCII),
            (b"\\xc3\\xa9".to_vec(), 8)
        );
        assert_eq!(safe_encode(b"a\nb", b"\n", ASCII), (b"a\nb".to_vec(), 2));
    }

    #[test]
    fn truncation_counts_cells() {
        assert_eq!(truncate(b"abcdef", 3, ASCII), (3, 3));
        assert_eq!(truncate(b"ab", 3, ASCII), (2, 2));
    }

    #[test]
    fn utf8_decoding_refuses_bad_sequences() {
        assert_eq!(decode_utf8(b"\xc3\xa9x"), Some(('\u{e9}', 2)));
        assert_eq!(decode_utf8(b"\xc3"), None);
        assert_eq!(decode_utf8(b"\xed\xa0\x80"), None, "surrogate");
        assert_eq!(decode_utf8(b"\xc0\x80"), None, "overlong");
        let _ = UTF8;
    }
}
