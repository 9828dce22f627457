//! util-linux's restricted mode. mount and umount are installed set-user-ID
//! root by distributions, and a drop-in copied over them keeps the bit: a
//! caller whose real uid is not 0 may then only mount and unmount what
//! /etc/fstab allows (`user`, `users`, `owner`, `group`). Everything else
//! is done after dropping the privileges for good ([`drop_to_caller`]), so
//! the kernel refuses it as it refuses the caller ("must be superuser to
//! use mount"), exactly as util-linux 2.35+ behaves.
//!
//! The state is process-wide, as the set-ID privileges are; the library
//! API used by other tools never sets it, so it stays unrestricted there.

use std::sync::atomic::{AtomicBool, Ordering};

use ns_sys::runtime::Identity;

use crate::error::{Error, EX_FAIL};

static RESTRICTED: AtomicBool = AtomicBool::new(false);
static STARTED_SET_ID: AtomicBool = AtomicBool::new(false);

/// Called first by the mount and umount commands: restricted unless both
/// the real and the effective uid are 0 (libmount's rule; a user namespace
/// where the caller is 0 is unrestricted).
pub fn init() {
    let id = Identity::current();
    RESTRICTED.store(!(id.ruid == 0 && id.euid == 0), Ordering::Relaxed);
    STARTED_SET_ID.store(id.is_set_id(), Ordering::Relaxed);
}

/// Whether only fstab's user mounts are allowed.
pub fn is_restricted() -> bool {
    RESTRICTED.load(Ordering::Relaxed)
}

/// Whether we were started set-ID: then the environment
/// (`LIBMOUNT_FSTAB`) is the caller's to choose, not ours to follow, also
/// after the privileges are dropped (util-linux 2.38 still names
/// /etc/fstab then).
pub fn environment_is_untrusted() -> bool {
    STARTED_SET_ID.load(Ordering::Relaxed)
}

/// util-linux's suid_drop: gives up the set-ID privileges for good (real,
/// effective and saved IDs all the caller's), then carries on
/// unrestricted, as the caller.
pub fn drop_to_caller() -> Result<(), Error> {
    let id = Identity::current();
    let failed = || Error::failed("drop permissions failed", EX_FAIL);
    // SAFETY: plain system calls on our own credentials; the process is
    // single-threaded at this point (no thread is started before).
    unsafe {
        if id.egid != id.rgid && libc::setresgid(id.rgid, id.rgid, id.rgid) != 0 {
            return Err(failed());
        }
        if id.euid != id.ruid && libc::setresuid(id.ruid, id.ruid, id.ruid) != 0 {
            return Err(failed());
        }
        // Be sure there is no way back: setuid(0) must fail now.
        if id.ruid != 0 && libc::setuid(0) == 0 {
            return Err(Error::failed("drop permissions failed.", EX_FAIL));
        }
    }
    RESTRICTED.store(false, Ordering::Relaxed);
    Ok(())
}

/// Runs `f` with the caller's effective IDs (the saved set-user-ID keeps
/// the way back): what the caller could not reach, they cannot name to
/// us. util-linux resolves paths in restricted mode the same way (in a
/// child process without the privileges).
pub fn as_caller<T>(f: impl FnOnce() -> T) -> T {
    let id = Identity::current();
    if !id.is_set_id() {
        return f();
    }
    // SAFETY: switching the effective IDs back and forth; the saved IDs
    // keep the privileged ones, and nothing else runs meanwhile.
    unsafe {
        libc::setegid(id.rgid);
        libc::seteuid(id.ruid);
    }
    let result = f();
    // SAFETY: as above; restoring what we had.
    unsafe {
        libc::seteuid(id.euid);
        libc::setegid(id.egid);
    }
    result
}

/// The caller's user name from /etc/passwd (the binaries are static: no
/// NSS), as libmount records it in utab for `user` mounts.
pub fn user_name(uid: u32) -> Option<Vec<u8>> {
    let passwd = std::fs::read("/etc/passwd").ok()?;
    passwd_name(&passwd, uid)
}

/// The first passwd line with this uid: its name.
pub fn passwd_name(passwd: &[u8], uid: u32) -> Option<Vec<u8>> {
    let wanted = uid.to_string();
    passwd.split(|&b| b == b'\n').find_map(|line| {
        let mut fields = line.split(|&b| b == b':');
        let name = fields.next().filter(|name| !name.is_empty())?;
        let _password = fields.next()?;
        (fields.next()? == wanted.as_bytes()).then(|| name.to_vec())
    })
}

/// Whether the caller is in group `gid` (primary or supplementary), as
/// libmount's mnt_in_group checks for the `group` option.
pub fn caller_in_group(gid: u32) -> bool {
    let id = Identity::current();
    if id.rgid == gid {
        return true;
    }
    let mut groups = vec![0 as libc::gid_t; 4096];
    // SAFETY: the buffer holds as many entries as we say.
    let count = unsafe { libc::getgroups(groups.len() as libc::c_int, groups.as_mut_ptr()) };
    usize::try_from(count).is_ok_and(|count| groups[..count].contains(&gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_by_uid() {
        let passwd =
            b"root:x:0:0::/root:/bin/sh\n\nnobody:x:65534:65534::/:/bin/false\n:x:7:7::/:\nbad\n";
        assert_eq!(passwd_name(passwd, 0), Some(b"root".to_vec()));
        assert_eq!(passwd_name(passwd, 65534), Some(b"nobody".to_vec()));
        assert_eq!(passwd_name(passwd, 7), None, "an empty name is no name");
        assert_eq!(passwd_name(passwd, 1000), None);
    }
}
