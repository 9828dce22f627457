//! glibc's `strerror` wording. The reference tools print errno through
//! glibc; nix's table and musl's `strerror` (our static builds) word some
//! errors differently (ELOOP "Too many symbolic links encountered",
//! ERANGE "Math result not representable"), so the tools carry glibc's
//! text for every Linux errno. The unit test checks it against the host's
//! glibc.

use std::borrow::Cow;

/// `strerror(errno)` as glibc 2.36 words it, indexed by errno (0-133).
const GLIBC: [&str; 134] = [
    "Success",
    "Operation not permitted",
    "No such file or directory",
    "No such process",
    "Interrupted system call",
    "Input/output error",
    "No such device or address",
    "Argument list too long",
    "Exec format error",
    "Bad file descriptor",
    "No child processes",
    "Resource temporarily unavailable",
    "Cannot allocate memory",
    "Permission denied",
    "Bad address",
    "Block device required",
    "Device or resource busy",
    "File exists",
    "Invalid cross-device link",
    "No such device",
    "Not a directory",
    "Is a directory",
    "Invalid argument",
    "Too many open files in system",
    "Too many open files",
    "Inappropriate ioctl for device",
    "Text file busy",
    "File too large",
    "No space left on device",
    "Illegal seek",
    "Read-only file system",
    "Too many links",
    "Broken pipe",
    "Numerical argument out of domain",
    "Numerical result out of range",
    "Resource deadlock avoided",
    "File name too long",
    "No locks available",
    "Function not implemented",
    "Directory not empty",
    "Too many levels of symbolic links",
    "Unknown error 41",
    "No message of desired type",
    "Identifier removed",
    "Channel number out of range",
    "Level 2 not synchronized",
    "Level 3 halted",
    "Level 3 reset",
    "Link number out of range",
    "Protocol driver not attached",
    "No CSI structure available",
    "Level 2 halted",
    "Invalid exchange",
    "Invalid request descriptor",
    "Exchange full",
    "No anode",
    "Invalid request code",
    "Invalid slot",
    "Unknown error 58",
    "Bad font file format",
    "Device not a stream",
    "No data available",
    "Timer expired",
    "Out of streams resources",
    "Machine is not on the network",
    "Package not installed",
    "Object is remote",
    "Link has been severed",
    "Advertise error",
    "Srmount error",
    "Communication error on send",
    "Protocol error",
    "Multihop attempted",
    "RFS specific error",
    "Bad message",
    "Value too large for defined data type",
    "Name not unique on network",
    "File descriptor in bad state",
    "Remote address changed",
    "Can not access a needed shared library",
    "Accessing a corrupted shared library",
    ".lib section in a.out corrupted",
    "Attempting to link in too many shared libraries",
    "Cannot exec a shared library directly",
    "Invalid or incomplete multibyte or wide character",
    "Interrupted system call should be restarted",
    "Streams pipe error",
    "Too many users",
    "Socket operation on non-socket",
    "Destination address required",
    "Message too long",
    "Protocol wrong type for socket",
    "Protocol not available",
    "Protocol not supported",
    "Socket type not supported",
    "Operation not supported",
    "Protocol family not supported",
    "Address family not supported by protocol",
    "Address already in use",
    "Cannot assign requested address",
    "Network is down",
    "Network is unreachable",
    "Network dropped connection on reset",
    "Software caused connection abort",
    "Connection reset by peer",
    "No buffer space available",
    "Transport endpoint is already connected",
    "Transport endpoint is not connected",
    "Cannot send after transport endpoint shutdown",
    "Too many references: cannot splice",
    "Connection timed out",
    "Connection refused",
    "Host is down",
    "No route to host",
    "Operation already in progress",
    "Operation now in progress",
    "Stale file handle",
    "Structure needs cleaning",
    "Not a XENIX named type file",
    "No XENIX semaphores available",
    "Is a named type file",
    "Remote I/O error",
    "Disk quota exceeded",
    "No medium found",
    "Wrong medium type",
    "Operation canceled",
    "Required key not available",
    "Key has expired",
    "Key has been revoked",
    "Key was rejected by service",
    "Owner died",
    "State not recoverable",
    "Operation not possible due to RF-kill",
    "Memory page has hardware error",
];

/// glibc's text for `errno`; "Unknown error N" beyond the table, as glibc
/// says it.
pub fn strerror(errno: i32) -> Cow<'static, str> {
    match usize::try_from(errno)
        .ok()
        .and_then(|index| GLIBC.get(index))
    {
        Some(text) => Cow::Borrowed(text),
        None => Cow::Owned(format!("Unknown error {errno}")),
    }
}

/// An I/O error as the C tools print it: the errno's text alone, without
/// Rust's " (os error N)"; an error that has no errno keeps its own text.
pub fn io_error_text(error: &std::io::Error) -> Cow<'static, str> {
    match error.raw_os_error() {
        Some(errno) => strerror(errno),
        None => Cow::Owned(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// The host's glibc (the tests are linked against it, the release
    /// binaries are not).
    fn host_strerror(errno: i32) -> String {
        // SAFETY: strerror returns a pointer to a NUL-terminated string
        // that stays valid until the next call; the tests of this module
        // copy it at once, and no other thread of this test calls it.
        let text = unsafe { CStr::from_ptr(libc::strerror(errno)) };
        text.to_string_lossy().into_owned()
    }

    #[test]
    #[cfg(target_env = "gnu")]
    fn every_errno_is_worded_as_the_host_glibc_words_it() {
        for errno in -2..=200 {
            assert_eq!(strerror(errno), host_strerror(errno), "errno {errno}");
        }
    }

    #[test]
    fn the_texts_nix_and_musl_word_otherwise() {
        assert_eq!(strerror(libc::ELOOP), "Too many levels of symbolic links");
        assert_eq!(strerror(libc::ERANGE), "Numerical result out of range");
        assert_eq!(strerror(libc::EIO), "Input/output error");
        assert_eq!(strerror(-1), "Unknown error -1");
        assert_eq!(strerror(4000), "Unknown error 4000");
    }

    #[test]
    fn io_errors_lose_the_os_error_suffix() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(io_error_text(&full), "No space left on device");
        let custom = std::io::Error::other("short read");
        assert_eq!(io_error_text(&custom), "short read");
    }
}
