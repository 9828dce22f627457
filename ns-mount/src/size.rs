//! Sizes as util-linux reads `offset=` and `sizelimit=` (its `strtosize`):
//! a C number (decimal, `0x` hex, `0` octal) with an optional binary
//! suffix (`K`, `KiB`: 1024; `KB`: 1000; up to `Y`) and a decimal
//! fraction before the suffix (`1.5K`). Negative numbers, empty values,
//! unknown suffixes and anything beyond 64 bits are errors, given as the
//! errno util-linux reports (EINVAL or ERANGE).

const SUFFIXES: &[u8] = b"KMGTPEZY";

/// `strtoumax(text, &end, 0)`: leading blanks, an optional sign, the base
/// from the prefix. Returns the value (saturated, with ERANGE's flag) and
/// the index after the digits; `None` when there are no digits.
fn strtoumax(text: &[u8]) -> Option<(u64, bool, usize)> {
    let mut at = 0;
    while text.get(at).is_some_and(|b| is_space(*b)) {
        at += 1;
    }
    let negative = match text.get(at) {
        Some(b'+') => {
            at += 1;
            false
        }
        Some(b'-') => {
            at += 1;
            true
        }
        _ => false,
    };
    let hex_digit = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
    let radix = if text.get(at) == Some(&b'0')
        && matches!(text.get(at + 1), Some(b'x' | b'X'))
        && hex_digit(text.get(at + 2))
    {
        at += 2;
        16
    } else if text.get(at) == Some(&b'0') {
        8
    } else {
        10
    };
    let start = at;
    let (mut value, mut overflow) = (0u64, false);
    while let Some(digit) = text.get(at).and_then(|b| (*b as char).to_digit(radix)) {
        match value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(next) => value = next,
            None => overflow = true,
        }
        at += 1;
    }
    if at == start {
        return None;
    }
    if overflow {
        return Some((u64::MAX, true, at));
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        false,
        at,
    ))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `x` times `base` to the `power`, step by step as util-linux scales it
/// (so `0Y` is 0, not an overflow); `None` on overflow.
fn scale_by_power(mut x: u64, base: u64, power: u32) -> Option<u64> {
    for _ in 0..power {
        if u64::MAX / base < x {
            return None;
        }
        x *= base;
    }
    Some(x)
}

/// util-linux's strtosize; `Err` is the errno it sets.
pub fn strtosize(text: &str) -> Result<u64, i32> {
    let text = text.as_bytes();
    let first = text.iter().position(|b| !is_space(*b));
    if text.is_empty() || first.is_some_and(|at| text[at] == b'-') {
        return Err(libc::EINVAL);
    }
    let Some((mut x, overflow, mut p)) = strtoumax(text) else {
        return Err(libc::EINVAL);
    };
    if overflow {
        return Err(libc::ERANGE);
    }
    if p == text.len() {
        return Ok(x);
    }
    let at = |i: usize| text.get(i).copied().unwrap_or(0);
    let (mut frac, mut frac_zeros) = (0u64, 0u32);
    let base: u64 = loop {
        if at(p + 1) == b'i' && matches!(at(p + 2), b'B' | b'b') && at(p + 3) == 0 {
            break 1024;
        }
        if matches!(at(p + 1), b'B' | b'b') && at(p + 2) == 0 {
            break 1000;
        }
        if at(p + 1) == 0 {
            break 1024;
        }
        // Only a fraction may stand between the number and the suffix.
        if frac != 0 || at(p) != b'.' {
            return Err(libc::EINVAL);
        }
        p += 1;
        while at(p) == b'0' {
            frac_zeros += 1;
            p += 1;
        }
        if at(p).is_ascii_digit() {
            match strtoumax(&text[p..]) {
                Some((_, true, _)) => return Err(libc::ERANGE),
                Some((value, false, end)) => {
                    frac = value;
                    p += end;
                }
                None => return Err(libc::EINVAL),
            }
        }
        if p >= text.len() {
            return Err(libc::EINVAL); // a fraction without a suffix
        }
    };
    let suffix = at(p).to_ascii_uppercase();
    let power = match SUFFIXES.iter().position(|s| *s == suffix) {
        Some(index) => index as u32 + 1,
        None => return Err(libc::EINVAL),
    };
    let scaled = scale_by_power(x, base, power);
    x = scaled.ok_or(libc::ERANGE)?;
    if frac != 0 {
        // util-linux ignores an overflow of the unit itself: the unit is
        // then where its multiplication stopped.
        let mut scale: u64 = 1;
        for _ in 0..power {
            match scale.checked_mul(base) {
                Some(next) => scale = next,
                None => break,
            }
        }
        // `frac` has no leading zeros: with `frac_zeros` it is the digits
        // after the point; each digit adds its share of the unit.
        let mut divisor: u64 = 10;
        while divisor < frac {
            match divisor.checked_mul(10) {
                Some(next) => divisor = next,
                None => frac /= 10,
            }
        }
        for _ in 0..frac_zeros {
            match divisor.checked_mul(10) {
                Some(next) => divisor = next,
                None => frac /= 10,
            }
        }
        let mut position: u64 = 1;
        while frac != 0 {
            let digit = frac % 10;
            let share = divisor / position;
            frac /= 10;
            position = position.saturating_mul(10);
            if digit != 0 && share / digit != 0 {
                x = x.checked_add(scale / (share / digit)).ok_or(libc::ERANGE)?;
            }
        }
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use libc::{EINVAL, ERANGE};

    #[test]
    fn numbers_in_c_bases() {
        assert_eq!(strtosize("1024"), Ok(1024));
        assert_eq!(strtosize("0x400"), Ok(1024));
        assert_eq!(strtosize("0X400"), Ok(1024));
        assert_eq!(strtosize("010"), Ok(8));
        assert_eq!(strtosize("0"), Ok(0));
        assert_eq!(strtosize("+5"), Ok(5));
        assert_eq!(strtosize(" 5"), Ok(5));
        assert_eq!(strtosize("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn suffixes_and_fractions() {
        assert_eq!(strtosize("1K"), Ok(1024));
        assert_eq!(strtosize("1k"), Ok(1024));
        assert_eq!(strtosize("1KiB"), Ok(1024));
        assert_eq!(strtosize("1KB"), Ok(1000));
        assert_eq!(strtosize("1kb"), Ok(1000));
        assert_eq!(strtosize("2M"), Ok(2 << 20));
        assert_eq!(strtosize("1.5K"), Ok(1536));
        // Each digit's share is cut to an integer, as in C.
        assert_eq!(strtosize("0.25G"), Ok((1 << 28) - 1));
        assert_eq!(strtosize("0Y"), Ok(0));
        assert_eq!(strtosize("1.05K"), Ok(1024 + 51));
        assert_eq!(strtosize("0x10K"), Ok(16 << 10));
        assert_eq!(strtosize("15E"), Ok(15 << 60));
    }

    #[test]
    fn what_util_linux_refuses() {
        for (text, errno) in [
            ("", EINVAL),
            ("-1", EINVAL),
            (" -0", EINVAL),
            ("abc", EINVAL),
            ("0x", EINVAL),
            ("08", EINVAL),
            ("1 ", EINVAL),
            ("1.", EINVAL),
            ("1.5", EINVAL),
            ("1Q", EINVAL),
            ("1KX", EINVAL),
            ("1.5.5K", EINVAL),
            ("18446744073709551616", ERANGE),
            ("0x10000000000000000", ERANGE),
            ("16E", ERANGE),
            ("1Y", ERANGE),
        ] {
            assert_eq!(strtosize(text), Err(errno), "{text:?}");
        }
    }
}
