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

/// `--map-user`/`--map-group`: a number first (any, known or not), else
/// a name, as util-linux 2.42 reads them. A negative number, one beyond
/// 32 bits, or 4294967295 (`(uid_t) -1`, no ID) is refused (2.38 cut the
/// second to 32 bits, mapping 4294967296 to root, and read the third as
/// "no mapping").
pub fn resolve_id(
    arg: Option<&IdArg>,
    current: u32,
    what: &str,
    by_name: impl FnOnce(&str) -> Option<u32>,
) -> Result<Option<u32>, Error> {
    let id = match arg {
        None => return Ok(None),
        Some(IdArg::Number(id)) => Some(*id),
        Some(IdArg::Current) => Some(current),
        Some(IdArg::Given(text)) => match ns_sys::number::parse_signed(text) {
            Ok(value) => u32::try_from(value).ok(),
            Err(true) => None,
            Err(false) => by_name(text),
        },
    };
    match (id, arg) {
        (Some(id), _) if id != idmap::NO_ID => Ok(Some(id)),
        (_, Some(IdArg::Given(text))) => {
            Err(Error::Failed(format!("failed to parse {what} '{text}'")))
        }
        (_, _) => Err(Error::Failed(format!(
            "failed to parse {what} '{}'",
            idmap::NO_ID
        ))),
    }
}

/// The blocks of `--map-users` (or groups), in command-line order; `auto`
/// and `subids` are the caller's first subordinate range (looked up by
/// user name or uid) from 0 or to itself, `all` every range of our own
/// namespace's map, to itself.
pub fn resolve_blocks<'a>(
    args: &[BlockArg],
    kind: Kind,
    me: &Me,
    accounts: &dyn Fn() -> &'a Accounts,
) -> Result<Vec<Block>, Error> {
    let subids = || {
        let name = accounts()
            .user_by_uid(me.euid)
            .map(|user| user.name.clone())
            .ok_or_else(|| Error::Failed(format!("you (user {}) don't exist.", me.euid)))?;
        idmap::subid_range(kind, &name, me.euid).map_err(map_error)
    };
    let mut blocks = Vec::with_capacity(args.len());
    for arg in args {
        match arg {
            BlockArg::Block(block) => blocks.push(*block),
            BlockArg::Auto => {
                let (outer, count) = subids()?;
                blocks.push(Block {
                    outer,
                    inner: 0,
                    count,
                    auto: true,
                });
            }
            BlockArg::Subids => {
                let (outer, count) = subids()?;
                blocks.push(Block {
                    outer,
                    inner: outer,
                    count,
                    auto: false,
                });
            }
            BlockArg::All => blocks.extend(own_map(kind)?),
        }
    }
    Ok(blocks)
}

/// `all`: our own namespace's uid_map (or gid_map), each range to itself.
fn own_map(kind: Kind) -> Result<Vec<Block>, Error> {
    let path = format!("/proc/self/{}", kind.proc_file());
    let text = std::fs::read_to_string(&path).map_err(|error| {
        let errno = ns_sys::errno_of(&error);
        Error::Failed(format!(
            "could not open '{path}': {}",
            ns_sys::strerror(errno as i32)
        ))
    })?;
    Ok(pass_through(&text))
}

/// The ranges of a kernel id map (`INNER OUTER COUNT` lines) as blocks
/// that map each inner range to itself one namespace further down. A line
/// that does not read as three numbers is skipped, as util-linux skips
/// it; a range that would reach 4294967295 (no ID) is cut before it.
pub fn pass_through(map: &str) -> Vec<Block> {
    map.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().map(|field| {
                ns_sys::number::decimal(field)
                    .filter(|(negative, _)| !negative)
                    .and_then(|(_, digits)| digits.parse::<u32>().ok())
            });
            let (start, _, count) = (fields.next()??, fields.next()??, fields.next()??);
            let count = count.min(idmap::NO_ID.checked_sub(start)?);
            (count > 0).then_some(Block {
                outer: start,
                inner: start,
                count,
                auto: false,
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn given(text: &str) -> Result<Option<u32>, String> {
        let arg = IdArg::Given(text.to_string());
        resolve_id(Some(&arg), 1000, "uid", |name| {
            (name == "alice").then_some(7)
        })
        .map_err(|error| error.to_string())
    }

    #[test]
    fn a_number_first_then_a_name() {
        assert_eq!(given("5"), Ok(Some(5)));
        assert_eq!(
            given(" +5"),
            Ok(Some(5)),
            "strtoimax's white space and sign"
        );
        assert_eq!(given("99999"), Ok(Some(99999)), "an unknown uid is fine");
        assert_eq!(given("alice"), Ok(Some(7)));
        for bad in [
            "-1",
            "4294967295",
            "4294967296",
            "5x",
            "",
            "bob",
            &"9".repeat(40),
        ] {
            assert_eq!(
                given(bad),
                Err(format!("failed to parse uid '{bad}'")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_kernel_map_passes_through() {
        let block = |start, count| Block {
            outer: start,
            inner: start,
            count,
            auto: false,
        };
        assert_eq!(
            pass_through("         0          0 4294967295\n"),
            [block(0, 4294967295)]
        );
        assert_eq!(
            pass_through("0 1000 1\n1 100000 65536\n"),
            [block(0, 1), block(1, 65536)]
        );
        // Lines that are not three numbers are skipped; a range is cut
        // before 4294967295 (no ID).
        assert_eq!(
            pass_through("garbage\n5 x 3\n\n-1 0 1\n10 0 4294967295\n"),
            [block(10, 4294967285)]
        );
        assert_eq!(pass_through(""), []);
    }
}
