//! Where the output goes and how wide it may be.

/// Where the output goes and how wide it may be.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    pub is_term: bool,
    pub width: usize,
}

impl Terminal {
    /// stdout's terminal width, else `COLUMNS`, else 80.
    pub fn detect() -> Terminal {
        // SAFETY: isatty has no preconditions.
        let is_term = unsafe { libc::isatty(1) } == 1;
        // SAFETY: a zeroed winsize is a valid out-parameter.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes one winsize.
        let cols = if unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut size) } == 0 {
            size.ws_col as usize
        } else {
            0
        };
        let width = if cols > 0 {
            cols
        } else {
            std::env::var("COLUMNS")
                .ok()
                .and_then(|value| parse_columns(&value))
                .unwrap_or(80)
        };
        Terminal { is_term, width }
    }
}

/// `COLUMNS` as util-linux reads it: a whole positive decimal number.
pub fn parse_columns(value: &str) -> Option<usize> {
    let number = ns_sys::number::parse_signed(value).ok()?;
    (number > 0 && number <= i128::from(i32::MAX)).then_some(number as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_variable() {
        assert_eq!(parse_columns("100"), Some(100));
        assert_eq!(parse_columns(" 42"), Some(42));
        assert_eq!(parse_columns("0"), None);
        assert_eq!(parse_columns("12x"), None);
        assert_eq!(parse_columns(""), None);
        assert_eq!(parse_columns("-5"), None);
    }
}
