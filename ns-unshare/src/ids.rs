//! The ids to map: `--map-user`/`--map-group` names and numbers, and
//! `--map-users`/`--map-groups` blocks (`auto` from /etc/subuid),
//! resolved against the account files; and ns-sys's id-map errors in
//! util-linux unshare's words.

use ns_sys::accounts::Accounts;
use ns_sys::idmap::{self, Block, Kind};
use ns_sys::sys::WriteError;

use crate::cli::{BlockArg, IdArg};
use crate::helpers::child_error;
use crate::Error;

/// The caller's identity, taken once at start as util-linux does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Me {
    pub euid: u32,
    pub egid: u32,
}

impl Me {
    pub fn current() -> Me {
        Me {
            euid: nix::unistd::geteuid().as_raw(),
            egid: nix::unistd::getegid().as_raw(),
        }
    }
}

/// `--map-user`/`--map-group`: a name first, else a number. A number
/// beyond 32 bits, or 4294967295 (`(uid_t) -1`, no ID), is refused as
/// util-linux 2.42 refuses it (2.38 cut the first to 32 bits, mapping
/// 4294967296 to root, and read the second as "no mapping").
pub fn resolve_id(
    arg: Option<&IdArg>,
    current: u32,
    what: &str,
    by_name: impl FnOnce(&str) -> Option<u32>,
) -> Result<Option<u32>, Error> {
    let id = match arg {
        None => return Ok(None),
        Some(IdArg::Number(id)) => *id,
        Some(IdArg::Current) => current,
        Some(IdArg::Given(text)) => match by_name(text) {
            Some(id) => id,
            None => ns_sys::number::parse_ulong(text)
                .and_then(|value| u32::try_from(value).ok())
                .filter(|&id| id != idmap::NO_ID)
                .ok_or_else(|| Error::Failed(format!("failed to parse {what}: '{text}'")))?,
        },
    };
    if id == idmap::NO_ID {
        return Err(Error::Failed(format!(
            "cannot map {what} {id}: it is (uid_t) -1, which is no ID"
        )));
    }
    Ok(Some(id))
}

/// The blocks of `--map-users` (or groups); `auto` is the caller's first
/// subordinate range, looked up by user name (or uid).
pub fn resolve_blocks<'a>(
    args: &[BlockArg],
    kind: Kind,
    me: &Me,
    accounts: &dyn Fn() -> &'a Accounts,
) -> Result<Vec<Block>, Error> {
    args.iter()
        .map(|arg| match arg {
            BlockArg::Block(block) => Ok(*block),
            BlockArg::Auto => {
                let name = accounts()
                    .user_by_uid(me.euid)
                    .map(|user| user.name.clone())
                    .ok_or_else(|| Error::Failed(format!("you (user {}) don't exist.", me.euid)))?;
                idmap::auto_block(kind, &name, me.euid).map_err(map_error)
            }
        })
        .collect()
}

/// An id-map failure as util-linux words it: a map of one id is written
/// by the process itself ("cannot open", "write failed"), a map of ranges
/// by a helper from outside ("failed to open", "failed to write").
pub fn map_error(error: idmap::Error) -> Error {
    let (path, error) = match error {
        idmap::Error::Write { path, error } => (path, error),
        idmap::Error::Helper(child) => return child_error(child),
        other => return Error::Failed(other.to_string()),
    };
    let single = path.starts_with("/proc/self");
    let (what, errno) = match (error, single) {
        (WriteError::Open(errno), true) => ("cannot open ", errno),
        (WriteError::Write(errno), true) => ("write failed ", errno),
        (WriteError::Open(errno), false) => ("failed to open ", errno),
        (WriteError::Write(errno), false) => ("failed to write ", errno),
    };
    crate::error::system_path(what, &path, "", errno)
}
