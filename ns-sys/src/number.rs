//! Decimal numbers as the C library's `strtol` family reads them, which
//! is how the reference tools read numbers on their command lines and in
//! system files (`/etc/subuid`): leading white space, an optional sign,
//! digits, and (as the tools check) nothing after.

/// White space as `isspace` sees it in the C locale.
const C_SPACE: [char; 6] = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];

/// A decimal number's parts, `(negative, digits)`; `None` when there are
/// no digits or anything but digits follows the sign.
pub fn decimal(text: &str) -> Option<(bool, &str)> {
    let rest = text.trim_start_matches(C_SPACE);
    let (negative, digits) = match rest.as_bytes().first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    let all_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then_some((negative, digits))
}

/// An unsigned number as `strtoul` (and scanf's `%u`) reads it: a `-`
/// wraps, as in C. Values beyond 64 bits are an error.
pub fn parse_ulong(text: &str) -> Option<u64> {
    let (negative, digits) = decimal(text)?;
    let value: u64 = digits.parse().ok()?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A signed number as `strtoimax` reads it, within `i128` (wider than
/// any C type the tools read): `Err(true)` when it is out of that range,
/// `Err(false)` when it is no number.
pub fn parse_signed(text: &str) -> Result<i128, bool> {
    let (negative, digits) = decimal(text).ok_or(false)?;
    let value: i128 = digits.parse().map_err(|_| true)?;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        assert_eq!(decimal(" \t+42"), Some((false, "42")));
        assert_eq!(decimal("-0"), Some((true, "0")));
        for bad in ["", "-", "+", "1x", "0x10", "+-5", "- 5", "5 ", "١"] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn strtoul_semantics() {
        assert_eq!(parse_ulong("42"), Some(42));
        assert_eq!(parse_ulong(" +42"), Some(42));
        assert_eq!(parse_ulong("-1"), Some(u64::MAX));
        assert_eq!(parse_ulong("4294967296"), Some(1 << 32));
        assert_eq!(parse_ulong(""), None);
        assert_eq!(parse_ulong("-"), None);
        assert_eq!(parse_ulong("1x"), None);
        assert_eq!(parse_ulong("0x10"), None);
        assert_eq!(parse_ulong("99999999999999999999999"), None);
    }

    #[test]
    fn signed_numbers_and_their_range() {
        assert_eq!(parse_signed("-5"), Ok(-5));
        assert_eq!(
            parse_signed("000000000000000000000000000000000000000000007"),
            Ok(7)
        );
        assert_eq!(parse_signed(&"9".repeat(40)), Err(true));
        assert_eq!(parse_signed("x"), Err(false));
    }
}
