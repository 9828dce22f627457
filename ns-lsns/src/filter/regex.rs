//! POSIX extended regular expressions through the C library, with
//! glibc's wording of a pattern that does not compile (which
//! util-linux prints), whichever C library does the work.

use std::ffi::CString;
use std::fmt;

/// A compiled POSIX extended regular expression.
pub struct Regex {
    compiled: Box<libc::regex_t>,
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Regex")
    }
}

/// glibc's `regerror` text for a `regcomp` error code.
fn message(code: libc::c_int) -> &'static str {
    match code {
        libc::REG_BADPAT => "Invalid regular expression",
        libc::REG_ECOLLATE => "Invalid collation character",
        libc::REG_ECTYPE => "Invalid character class name",
        libc::REG_EESCAPE => "Trailing backslash",
        libc::REG_ESUBREG => "Invalid back reference",
        libc::REG_EBRACK => "Unmatched [, [^, [:, [., or [=",
        libc::REG_EPAREN => "Unmatched ( or \\(",
        libc::REG_EBRACE => "Unmatched \\{",
        libc::REG_BADBR => "Invalid content of \\{\\}",
        libc::REG_ERANGE => "Invalid range end",
        libc::REG_ESPACE => "Memory exhausted",
        libc::REG_BADRPT => "Invalid preceding regular expression",
        _ => "Invalid regular expression",
    }
}

/// A pattern `regcomp` refuses: its error code, shown as glibc's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegexError(pub libc::c_int);

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(message(self.0))
    }
}

impl std::error::Error for RegexError {}

impl Regex {
    pub fn new(pattern: &[u8]) -> Result<Regex, RegexError> {
        // A NUL cannot be in a filter's string (it ends the argument).
        let c_pattern = CString::new(pattern).map_err(|_| RegexError(libc::REG_BADPAT))?;
        // SAFETY: regex_t is plain data; regcomp initialises it.
        let mut compiled: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: valid pointers; on success regfree is called on drop.
        let rc = unsafe {
            libc::regcomp(
                &mut *compiled,
                c_pattern.as_ptr(),
                libc::REG_EXTENDED | libc::REG_NOSUB,
            )
        };
        if rc != 0 {
            return Err(RegexError(rc));
        }
        Ok(Regex { compiled })
    }

    pub fn is_match(&self, text: &[u8]) -> bool {
        // Text ends at a NUL, as for C.
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let Ok(text) = CString::new(&text[..end]) else {
            return false;
        };
        // SAFETY: a compiled regex and a C string; no match offsets wanted.
        unsafe { libc::regexec(&*self.compiled, text.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: compiled by regcomp, freed once.
        unsafe { libc::regfree(&mut *self.compiled) }
    }
}
