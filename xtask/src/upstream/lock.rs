//! One run of the upstream tests at a time on a machine: loop devices are
//! not namespaced (tests that look devices up by label or count them would
//! see another run's), and without overlayfs mount/special writes a
//! host-wide file (`/sbin/mount.mytest`) that two runs would swap under
//! each other. The lock is an abstract Unix socket name:
//! held while the listener lives, gone with the process however it dies,
//! and no file is left behind.

use std::io::ErrorKind;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::time::Duration;

const NAME: &[u8] = b"nstools-upstream-tests";

pub struct HostLock {
    _listener: UnixListener,
}

/// Waits until no other run holds the lock.
pub fn acquire() -> Result<HostLock, String> {
    acquire_named(NAME)
}

fn acquire_named(name: &[u8]) -> Result<HostLock, String> {
    let address = SocketAddr::from_abstract_name(name)
        .map_err(|e| format!("abstract socket address: {e}"))?;
    let mut said = false;
    loop {
        match UnixListener::bind_addr(&address) {
            Ok(listener) => {
                return Ok(HostLock {
                    _listener: listener,
                })
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                if !said {
                    eprintln!("waiting for another run of the upstream tests on this machine");
                    said = true;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => return Err(format!("bind the upstream tests' lock socket: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_until_dropped() {
        // Not the real name: a run on this machine would hold it.
        let name = format!("nstools-lock-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let lock = acquire_named(name.as_bytes()).unwrap();
        assert_eq!(
            UnixListener::bind_addr(&address).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );
        drop(lock);
        drop(UnixListener::bind_addr(&address).unwrap());
    }
}
