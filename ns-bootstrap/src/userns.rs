//! `--mode=unshare`: the whole build runs as root of a new user namespace,
//! entered once at the start, before any thread exists.
//!
//! With subordinate ids (the user's line in `/etc/subuid` and
//! `/etc/subgid`) the maps are mmdebstrap's: 0 is the user's own id, 1 and
//! up the subordinate range, written by `newuidmap`/`newgidmap` from a
//! helper left outside (ns-sys: `child::Helper`, `idmap::write_ranges`). Files then keep their owners inside the
//! namespace (root, `_apt`, …): on disk a directory has the shifted ids,
//! and a tarball written from inside has the real ones.
//!
//! Without subordinate ids only the user's own id can be mapped (to 0):
//! every file belongs to root, and a `chown` to any other id fails, so
//! maintainer scripts that change owners (apt's, for `_apt`) cannot run.
//! The build then stops after unpacking, as `--foreign` does.

use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getgid, getuid, Gid, Uid};
use ns_sys::child::{ChildError, Helper};
use ns_sys::idmap::{self, Kind, MapRange};
use ns_sys::Linux;

/// Why the user namespace could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unshare(CLONE_NEWUSER): {errno}{}", eperm_hint(errno))]
    Unshare { errno: nix::errno::Errno },
    #[error("{what}: {cause}")]
    Map {
        what: &'static str,
        cause: idmap::Error,
    },
    #[error("{what}: {source}")]
    Credentials {
        what: &'static str,
        source: nix::errno::Errno,
    },
}

/// What may forbid a user namespace, when the kernel says EPERM.
fn eperm_hint(errno: &nix::errno::Errno) -> &'static str {
    if *errno == nix::errno::Errno::EPERM {
        " (user namespaces may be turned off here: sysctl user.max_user_namespaces or \
         kernel.unprivileged_userns_clone, or an AppArmor rule; as root use --mode=root)"
    } else {
        ""
    }
}

/// The ids inside the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// 0 and 1..=count (`count` subordinate ids).
    Subordinate { uids: u32, gids: u32 },
    /// 0 only.
    Single,
}

fn subids(kind: Kind, name: &str, uid: u32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(kind.subid_file()).ok()?;
    idmap::find_subid_range(&text, name, uid)
        .ok()
        .flatten()
        .filter(|(_, count)| *count > 0)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .unwrap_or_else(|| "/usr/bin:/bin".into())
        .to_string_lossy()
        .split(':')
        .any(|dir| Path::new(dir).join(program).is_file())
}

fn ranges(own: u32, (start, count): (u32, u32)) -> Vec<MapRange> {
    vec![
        MapRange {
            inner: 0,
            outer: own,
            count: 1,
        },
        MapRange {
            inner: 1,
            outer: start,
            count,
        },
    ]
}

/// Makes this process root of a new user namespace. Must be called while
/// the process has a single thread.
pub fn enter(prog: &str) -> Result<Mapping, Error> {
    let uid = getuid().as_raw();
    let gid = getgid().as_raw();
    let name = ns_sys::accounts::Accounts::load(Path::new("/"))
        .user_by_uid(uid)
        .map(|u| u.name.clone())
        .unwrap_or_default();
    let sub_u = subids(Kind::Users, &name, uid);
    let sub_g = subids(Kind::Groups, &name, uid);
    let fail = |what, cause| Error::Map { what, cause };
    let unshare_user =
        || unshare(CloneFlags::CLONE_NEWUSER).map_err(|errno| Error::Unshare { errno });
    let mapping = match (sub_u, sub_g) {
        (Some(u), Some(g)) if on_path("newuidmap") && on_path("newgidmap") => {
            let pid = std::process::id() as i32;
            let (user_ranges, group_ranges) = (ranges(uid, u), ranges(gid, g));
            // The helper says why it failed; its status tells us that.
            let helper = Helper::spawn(|| {
                let written = idmap::write_ranges(&Linux, Kind::Users, pid, &user_ranges)
                    .and_then(|()| idmap::write_ranges(&Linux, Kind::Groups, pid, &group_ranges));
                match written {
                    Ok(()) => 0,
                    // newuidmap or newgidmap said why.
                    Err(idmap::Error::Helper(ChildError::Exit(code))) => code,
                    Err(error) => {
                        eprintln!("{prog}: {error}");
                        1
                    }
                }
            })
            .map_err(|e| fail("cannot start the id-map helper", idmap::Error::Helper(e)))?;
            unshare_user()?;
            helper
                .finish()
                .map_err(|e| fail("cannot map the subordinate ids", idmap::Error::Helper(e)))?;
            Mapping::Subordinate {
                uids: u.1,
                gids: g.1,
            }
        }
        _ => {
            unshare_user()?;
            idmap::map_self(&Linux, (0, uid), (0, gid))
                .map_err(|e| fail("cannot map your own ids", e))?;
            Mapping::Single
        }
    };
    let credentials = |what| move |source| Error::Credentials { what, source };
    if matches!(mapping, Mapping::Subordinate { .. }) {
        nix::unistd::setgroups(&[]).map_err(credentials("setgroups"))?;
    }
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .map_err(credentials("setresgid(0)"))?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .map_err(credentials("setresuid(0)"))?;
    Ok(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_id_then_the_subordinate_range() {
        assert_eq!(
            ranges(1000, (100000, 65536)),
            [
                MapRange {
                    inner: 0,
                    outer: 1000,
                    count: 1
                },
                MapRange {
                    inner: 1,
                    outer: 100000,
                    count: 65536
                }
            ]
        );
    }
}
