//! Debian version order, as dpkg compares versions.

use std::cmp::Ordering;

/// Compares two Debian versions as dpkg does (epoch, upstream, revision;
/// `~` sorts before everything, even the end).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a.cmp(&epoch_b).then_with(|| {
        let (up_a, rev_a) = split_revision(rest_a);
        let (up_b, rev_b) = split_revision(rest_b);
        compare_part(up_a, up_b).then_with(|| compare_part(rev_a, rev_b))
    })
}

fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

fn split_revision(version: &str) -> (&str, &str) {
    match version.rfind('-') {
        Some(dash) => (&version[..dash], &version[dash + 1..]),
        None => (version, ""),
    }
}

fn char_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = char_order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let cb = char_order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ca != cb {
                return ca.cmp(&cb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Then the numbers, leading zeros ignored.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let start_a = i;
        let start_b = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (na, nb) = (&a[start_a..i], &b[start_b..j]);
        let by_length = na.len().cmp(&nb.len());
        if by_length != Ordering::Equal {
            return by_length;
        }
        let by_digits = na.cmp(nb);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_order() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.01", "1.1", Equal),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("~~", "~~a", Less),
            ("~", "", Less),
            ("0:1", "1", Equal),
            ("1.2-3-4", "1.2-3-5", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
    }
}
