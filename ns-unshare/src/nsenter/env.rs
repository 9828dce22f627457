//! `-e`: the target's environment (`/proc/PID/environ`) replaces ours,
//! as util-linux sets it: entries without `=` skipped, the variables set
//! from the last entry to the first without overwriting (so the last of
//! two entries of one name wins, and the program sees them in reverse
//! order, as setenv(3) appends).

use std::ffi::CString;
use std::os::fd::OwnedFd;

use nix::errno::Errno;

use crate::Error;

/// The `(name, value)` pairs of an environ file, in the order they are
/// to be set.
pub fn variables(environ: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut variables: Vec<(&[u8], &[u8])> = environ
        .split(|b| *b == 0)
        .filter_map(|entry| {
            let equals = entry.iter().position(|b| *b == b'=')?;
            Some((&entry[..equals], &entry[equals + 1..]))
        })
        .collect();
    variables.reverse();
    variables
}

/// Empties the environment, then sets `variables` (an existing name is
/// kept). The process must be single-threaded: setenv(3) is not safe
/// otherwise.
pub fn replace(variables: &[(&[u8], &[u8])]) -> Result<(), Errno> {
    // SAFETY: single-threaded (see above); clearenv only resets environ.
    unsafe { libc::clearenv() };
    for (name, value) in variables {
        let (Ok(name), Ok(value)) = (CString::new(*name), CString::new(*value)) else {
            return Err(Errno::EINVAL);
        };
        // SAFETY: two C strings; single-threaded (see above).
        if unsafe { libc::setenv(name.as_ptr(), value.as_ptr(), 0) } != 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// The target's environment, read from its `environ` opened before.
pub fn take_from(environ: OwnedFd) -> Result<(), Error> {
    let bytes = super::target::read_all(environ)
        .map_err(|e| Error::system("failed to get environment variables", ns_sys::errno_of(&e)))?;
    replace(&variables(&bytes))
        .map_err(|errno| Error::system("failed to set environment variables", errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversed_entries_without_equals_skipped() {
        let environ = b"A=1\0NOEQUALS\0B=x=y\0\0C=\0";
        assert_eq!(
            variables(environ),
            [
                (&b"C"[..], &b""[..]),
                (&b"B"[..], &b"x=y"[..]),
                (&b"A"[..], &b"1"[..]),
            ]
        );
        assert!(variables(b"").is_empty());
        assert_eq!(variables(b"=v\0"), [(&b""[..], &b"v"[..])]);
    }
}
