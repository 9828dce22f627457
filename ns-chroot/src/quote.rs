//! Quoting of names in messages, as coreutils quotes them (gnulib
//! `quote` and `quoteaf`), so our stderr reads like the reference's.

/// gnulib `quote`: ‘name’ in a UTF-8 locale, 'name' otherwise; control
/// characters are shown as C escapes.
pub fn quote(text: &str) -> String {
    let (open, close) = if utf8_locale() {
        ("\u{2018}", "\u{2019}")
    } else {
        ("'", "'")
    };
    let mut out = String::from(open);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str(close);
    out
}

/// gnulib `quoteaf`: always shell-quoted, so the name can be pasted back.
pub fn quote_shell(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
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
    fn shell_quoting_escapes_single_quotes() {
        assert_eq!(quote_shell("/new root"), "'/new root'");
        assert_eq!(quote_shell("it's"), "'it'\\''s'");
    }

    #[test]
    fn quote_escapes_control_characters() {
        let quoted = quote("a\nb\x01");
        assert!(quoted.contains("a\\nb\\001"), "{quoted}");
    }
}
