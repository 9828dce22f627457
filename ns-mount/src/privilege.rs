//! util-linux's restricted mode. mount and umount are installed set-user-ID
//! root by distributions, and a drop-in copied over them keeps the bit: a
//! caller whose real uid is not 0 may then only mount and unmount what
//! /etc/fstab allows (`user`, `users`, `owner`, `group`). Everything else
//! is done after dropping the privileges for good
//! ([`Privilege::drop_to_caller`]), so the kernel refuses it as it refuses
//! the caller ("must be superuser to use mount"), exactly as util-linux
//! 2.35+ behaves.
//!
//! The mode is a value the commands carry from the command line to the
//! mount (no process-wide state): it starts from the process's identity
//! and changes only when the privileges are dropped.

use ns_sys::accounts;
use ns_sys::runtime::Identity;
use ns_sys::Sys;

use crate::error::{Error, EX_FAIL};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privilege {
    /// The identity we were started with.
    identity: Identity,
    /// Only fstab's user mounts are allowed.
    restricted: bool,
}

/// The mode of this process, as the commands start with it.
impl Default for Privilege {
    fn default() -> Self {
        Privilege::current()
    }
}

impl Privilege {
    /// The mode of a process with this identity: restricted unless both
    /// the real and the effective uid are 0 (libmount's rule; a user
    /// namespace where the caller is 0 is unrestricted).
    pub fn of(identity: Identity) -> Privilege {
        Privilege {
            identity,
            restricted: !(identity.ruid == 0 && identity.euid == 0),
        }
    }

    /// The mode of this process, as the mount and umount commands start.
    pub fn current() -> Privilege {
        Privilege::of(Identity::current())
    }

    /// Whether only fstab's user mounts are allowed.
    pub fn is_restricted(&self) -> bool {
        self.restricted
    }

    /// Whether we were started set-ID: then the environment
    /// (`LIBMOUNT_FSTAB`) is the caller's to choose, not ours to follow,
    /// also after the privileges are dropped (util-linux 2.38 still names
    /// /etc/fstab then).
    pub fn environment_is_untrusted(&self) -> bool {
        self.identity.is_set_id()
    }

    /// util-linux's suid_drop: gives up the set-ID privileges for good
    /// (real, effective and saved IDs all the caller's), then carries on
    /// unrestricted, as the caller.
    pub fn drop_to_caller(&mut self, sys: &impl Sys) -> Result<(), Error> {
        if !self.restricted {
            return Ok(());
        }
        let id = self.identity;
        let failed = |dot: &str| Error::failed(format!("drop permissions failed{dot}"), EX_FAIL);
        if id.egid != id.rgid && sys.setresgid(id.rgid).is_err() {
            return Err(failed(""));
        }
        if id.euid != id.ruid && sys.setresuid(id.ruid).is_err() {
            return Err(failed(""));
        }
        // Be sure there is no way back: setuid(0) must fail now.
        if id.ruid != 0 && sys.setuid(0).is_ok() {
            return Err(failed("."));
        }
        self.restricted = false;
        Ok(())
    }
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
pub fn caller_name() -> Option<String> {
    let uid = Identity::current().ruid;
    let passwd = std::fs::read("/etc/passwd").ok()?;
    let users = accounts::parse_passwd(&String::from_utf8_lossy(&passwd));
    users
        .into_iter()
        .find(|user| user.uid == uid)
        .map(|user| user.name)
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
    use ns_sys::recording::{Call, Recorder};
    use ns_sys::Errno;

    const SETUID_ROOT: Identity = Identity {
        ruid: 1000,
        euid: 0,
        rgid: 100,
        egid: 100,
    };

    #[test]
    fn restricted_unless_real_and_effective_root() {
        assert!(Privilege::of(SETUID_ROOT).is_restricted());
        assert!(Privilege::of(SETUID_ROOT).environment_is_untrusted());
        let root = Identity {
            ruid: 0,
            rgid: 0,
            egid: 0,
            ..SETUID_ROOT
        };
        assert!(!Privilege::of(root).is_restricted());
        let user = Identity {
            euid: 1000,
            ..SETUID_ROOT
        };
        assert!(Privilege::of(user).is_restricted());
        assert!(!Privilege::of(user).environment_is_untrusted());
    }

    #[test]
    fn dropping_is_for_good_and_checked() {
        // setuid(0) must fail after the drop, as it does for a real caller.
        let sys = Recorder::new().failing(|call| *call == Call::Setuid(0), Errno::EPERM);
        let mut privilege = Privilege::of(SETUID_ROOT);
        privilege.drop_to_caller(&sys).unwrap();
        assert!(!privilege.is_restricted());
        assert_eq!(sys.calls(), [Call::Setresuid(1000), Call::Setuid(0)]);
        // Once dropped, nothing more to do.
        privilege.drop_to_caller(&sys).unwrap();
        assert_eq!(sys.calls().len(), 2);

        let sys = Recorder::new();
        let error = Privilege::of(SETUID_ROOT).drop_to_caller(&sys).unwrap_err();
        assert_eq!(error.to_string(), "drop permissions failed.");
    }
}
