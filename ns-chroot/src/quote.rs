//! Quoting of names in messages, as coreutils quotes them (gnulib
//! `quote` and `quoteaf`), so our stderr reads like the reference's. A
//! name is bytes: what is not valid, printable UTF-8 is shown escaped, so
//! the quoted text is always plain text.

/// The pieces of a name: printable characters, and single bytes (an
/// invalid sequence or a control character) that must be escaped.
enum Piece<'a> {
    Text(&'a str),
    Byte(u8),
}

fn pieces(bytes: &[u8]) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, after) = match std::str::from_utf8(rest) {
            Ok(text) => (text, &rest[rest.len()..]),
            Err(error) => {
                let (valid, after) = rest.split_at(error.valid_up_to());
                (std::str::from_utf8(valid).unwrap_or_default(), after)
            }
        };
        let mut start = 0;
        for (at, c) in valid.char_indices() {
            if c.is_control() {
                if at > start {
                    out.push(Piece::Text(&valid[start..at]));
                }
                // Control characters are ASCII or two bytes (C1): each
                // byte is escaped, as gnulib escapes them.
                for byte in c.to_string().bytes() {
                    out.push(Piece::Byte(byte));
                }
                start = at + c.len_utf8();
            }
        }
        if start < valid.len() {
            out.push(Piece::Text(&valid[start..]));
        }
        match after.split_first() {
            Some((bad, tail)) => {
                out.push(Piece::Byte(*bad));
                rest = tail;
            }
            None => rest = after,
        }
    }
    out
}

/// A byte as C writes it in a string: `\n`, `\t`, …, else octal.
fn c_escape(byte: u8, out: &mut String) {
    match byte {
        0x07 => out.push_str("\\a"),
        0x08 => out.push_str("\\b"),
        b'\t' => out.push_str("\\t"),
        b'\n' => out.push_str("\\n"),
        0x0b => out.push_str("\\v"),
        0x0c => out.push_str("\\f"),
        b'\r' => out.push_str("\\r"),
        other => out.push_str(&format!("\\{other:03o}")),
    }
}

/// gnulib `quote`: ‘name’ in a UTF-8 locale, 'name' otherwise; control
/// characters and invalid bytes are shown as C escapes, a backslash
/// doubled.
pub fn quote(text: &[u8]) -> String {
    let (open, close) = if utf8_locale() {
        ("\u{2018}", "\u{2019}")
    } else {
        ("'", "'")
    };
    let mut out = String::from(open);
    for piece in pieces(text) {
        match piece {
            Piece::Text(text) => out.push_str(&text.replace('\\', "\\\\")),
            Piece::Byte(byte) => c_escape(byte, &mut out),
        }
    }
    out.push_str(close);
    out
}

/// gnulib `quoteaf` (shell-escape-always): a name that can be pasted back
/// into a shell. Plain text goes in single quotes (a `'` as `'\''`), or
/// in double quotes when it has a `'` and nothing a double quote would
/// change; bytes that need escaping go in `$'…'` segments.
pub fn quote_shell(text: &[u8]) -> String {
    let pieces = pieces(text);
    let needs_escape = pieces.iter().any(|p| matches!(p, Piece::Byte(_)));
    if !needs_escape && text.contains(&b'\'') && !text.iter().any(|b| b"$`\\\"!".contains(b)) {
        return format!("\"{}\"", String::from_utf8_lossy(text));
    }
    let mut out = String::from("'");
    let mut escaping = false;
    for piece in pieces {
        match piece {
            Piece::Text(text) => {
                if escaping {
                    // Close the $'…' segment and open a quoted one.
                    out.push_str("''");
                    escaping = false;
                }
                out.push_str(&text.replace('\'', "'\\''"));
            }
            Piece::Byte(byte) => {
                if !escaping {
                    out.push_str("'$'");
                    escaping = true;
                }
                c_escape(byte, &mut out);
            }
        }
    }
    out.push('\'');
    out
}

/// The character set glibc would pick: from `LC_ALL`, else `LC_CTYPE`,
/// else `LANG` (the first one set and non-empty).
fn utf8_locale() -> bool {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.is_empty())
        .unwrap_or_default()
        .to_ascii_lowercase();
    locale.contains("utf-8") || locale.contains("utf8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_as_coreutils_chroot_shows_it() {
        // Each as coreutils 9.1's chroot prints it in its message.
        for (name, quoted) in [
            (&b"/new root"[..], "'/new root'"),
            (b"it's", "\"it's\""),
            (b"it's$x", "'it'\\''s$x'"),
            (b"it's!", "'it'\\''s!'"),
            (b"a'b'c", "\"a'b'c\""),
            (b"/nonexist\xff", "'/nonexist'$'\\377'"),
            (b"\xffabc", "''$'\\377''abc'"),
            (b"/non ex\xff\x01ist", "'/non ex'$'\\377\\001''ist'"),
            (b"a\tb", "'a'$'\\t''b'"),
            (b"a\nb", "'a'$'\\n''b'"),
            (b"\x7f", "''$'\\177'"),
            (b"h\xc3\xa9", "'h\u{e9}'"),
            (b"a\\b", "'a\\b'"),
            (b"\x1b[1m", "''$'\\033''[1m'"),
        ] {
            assert_eq!(quote_shell(name), quoted, "{name:?}");
        }
    }

    #[test]
    fn quote_escapes_control_characters_and_invalid_bytes() {
        let quoted = quote(b"a\nb\x01\xff\\");
        assert!(quoted.contains("a\\nb\\001\\377\\\\"), "{quoted}");
    }
}
