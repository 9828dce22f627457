//! User and group ID maps of a new user namespace: parsing `--map-users`
//! blocks and `/etc/subuid` lines (pure functions, tested below), combining
//! them with the single `--map-user` mapping, and writing the result —
//! directly into `/proc/PID/uid_map` as root, through the setuid helpers
//! `newuidmap`/`newgidmap` (Debian's `uidmap` package) otherwise.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::child::ChildError;
use crate::number::{decimal, parse_ulong};
use crate::sys::{Sys, WriteError};

/// What went wrong with a map, with the text, file or path concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A block that is not `INNER:OUTER:COUNT` or `OUTER,INNER,COUNT`.
    InvalidMapping { text: String },
    /// A block whose range reaches [`NO_ID`].
    ReachesNoId { text: String },
    /// A subid line's start or count that is no number.
    SubidField { field: String },
    /// A subid range that reaches [`NO_ID`].
    SubidRange { start: u32, count: u32 },
    /// Ranges whose sums leave 32 bits.
    Overflow,
    /// `/etc/subuid` (or subgid) cannot be read.
    ReadSubid { file: &'static str, errno: Errno },
    /// The user has no line there.
    NoSubidLine { user: String, file: &'static str },
    /// A map (or `setgroups`) could not be written.
    Write { path: PathBuf, error: WriteError },
    /// A map longer than the page the kernel reads.
    TooLarge { path: PathBuf },
    /// newuidmap or newgidmap failed.
    Helper(ChildError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMapping { text } => write!(f, "invalid mapping '{text}'"),
            Error::ReachesNoId { text } => write!(
                f,
                "invalid mapping '{text}': a range may not reach {NO_ID} ((uid_t) -1, which is no ID)"
            ),
            Error::SubidField { field } => write!(f, "failed to parse subid map: '{field}'"),
            Error::SubidRange { start, count } => write!(
                f,
                "subid range {start}:{count} reaches {NO_ID}, which is no ID"
            ),
            Error::Overflow => f.write_str("ID map arithmetic overflows"),
            Error::ReadSubid { file, errno } => write!(
                f,
                "could not open '{file}': {}",
                crate::strerror(*errno as i32)
            ),
            Error::NoSubidLine { user, file } => {
                write!(f, "no line matching user \"{user}\" in {file}")
            }
            Error::Write { path, error } => write!(f, "{}: {error}", path.display()),
            Error::TooLarge { path } => {
                write!(f, "{} too large for kernel 4k limit", path.display())
            }
            Error::Helper(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// One line of a uid_map or gid_map: `count` IDs from `outer` (in the
/// parent namespace) appear as `inner` onwards inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRange {
    pub inner: u32,
    pub outer: u32,
    pub count: u32,
}

/// A block asked for with `--map-users`/`--map-groups` (`auto` is the
/// user's first subordinate range, mapped from inner 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub outer: u32,
    pub inner: u32,
    pub count: u32,
    /// Mapped from inner 0 by `auto`: util-linux 2.42 never takes an ID
    /// off such a block for the single mapping, it moves the inner IDs
    /// past the hole instead.
    pub auto: bool,
}

/// A 32-bit ID field of a map: a decimal number within u32, no sign.
fn parse_u32_field(text: &str) -> Option<u32> {
    match decimal(text)? {
        (false, digits) => digits.parse().ok(),
        (true, _) => None,
    }
}

/// `(uid_t) -1` means "no ID" to the kernel (setresuid's "unchanged"):
/// never an ID to map, nor the end of a range.
pub const NO_ID: u32 = u32::MAX;

/// Checks that `count` IDs from `first` are IDs: the range ends below
/// [`NO_ID`] (its end, `first + count`, is at most NO_ID, so its
/// arithmetic cannot overflow either).
pub fn check_range(first: u32, count: u32) -> bool {
    first.checked_add(count).is_some() && first != NO_ID
}

/// Parses `INNER:OUTER:COUNT` (util-linux 2.39+, the order of
/// /proc/PID/uid_map) or the older `OUTER,INNER,COUNT` of 2.38. A range
/// that reaches 4294967295 is refused: util-linux 2.42 turns
/// `0:4294967295:1` into the map `0 0 1` (root mapped to root), its own
/// "no ID" sentinel taken for an ID.
pub fn parse_block(text: &str) -> Result<Block, Error> {
    let invalid = || Error::InvalidMapping {
        text: text.to_string(),
    };
    let (fields, new_order): (Vec<&str>, bool) = if text.contains(':') {
        (text.split(':').collect(), true)
    } else {
        (text.split(',').collect(), false)
    };
    let [a, b, count] = fields.as_slice() else {
        return Err(invalid());
    };
    let (a, b, count) = (
        parse_u32_field(a).ok_or_else(invalid)?,
        parse_u32_field(b).ok_or_else(invalid)?,
        parse_u32_field(count).ok_or_else(invalid)?,
    );
    let (inner, outer) = if new_order { (a, b) } else { (b, a) };
    if !check_range(inner, count) || !check_range(outer, count) {
        return Err(Error::ReachesNoId {
            text: text.to_string(),
        });
    }
    Ok(Block {
        outer,
        inner,
        count,
        auto: false,
    })
}

/// The first `/etc/subuid` (or subgid) line of a user, named by `name` or
/// by number: its start and count. `Ok(None)` when no line matches.
pub fn find_subid_range(text: &str, name: &str, uid: u32) -> Result<Option<(u32, u32)>, Error> {
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(owner), Some(start), Some(count)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let by_number = !owner.is_empty()
            && owner.bytes().all(|b| b.is_ascii_digit())
            && owner.parse() == Ok(uid);
        if owner != name && !by_number {
            continue;
        }
        let number = |field: &str| {
            parse_ulong(field)
                .and_then(|value| u32::try_from(value).ok())
                .ok_or_else(|| Error::SubidField {
                    field: field.to_string(),
                })
        };
        let (start, count) = (number(start)?, number(count)?);
        if !check_range(start, count) {
            return Err(Error::SubidRange { start, count });
        }
        return Ok(Some((start, count)));
    }
    Ok(None)
}

/// Combines the blocks with the single mapping `(outer, inner)` of
/// `--map-user`/`--map-group` (or none), as util-linux 2.42 does: the
/// single mapping comes first; a block that overlaps it (on either side)
/// loses its topmost ID, unless it is an `auto` block, and is split around
/// the claimed inner and outer IDs, which are skipped. Blocks keep their
/// command-line order.
///
/// Every sum is checked: blocks come from [`parse_block`] or /etc/subuid,
/// whose ranges end below [`NO_ID`], and anything else is an error rather
/// than a wrapped ID.
pub fn combine(blocks: &[Block], single: Option<(u32, u32)>) -> Result<Vec<MapRange>, Error> {
    let overflow = || Error::Overflow;
    let Some((outer, inner)) = single else {
        return blocks
            .iter()
            .map(|block| {
                check_range(block.inner, block.count)
                    .then_some(())
                    .and(check_range(block.outer, block.count).then_some(()))
                    .map(|()| MapRange {
                        inner: block.inner,
                        outer: block.outer,
                        count: block.count,
                    })
                    .ok_or_else(overflow)
            })
            .collect();
    };
    let mut out = vec![MapRange {
        inner,
        outer,
        count: 1,
    }];
    for block in blocks {
        let mut count = block.count;
        let start_inner = block.inner;
        let block_end = |start: u32| start.checked_add(count).ok_or_else(overflow);
        // The upper bounds are inclusive in util-linux; kept so the maps
        // come out identical.
        let overlaps = (outer >= block.outer && outer <= block_end(block.outer)?)
            || (inner >= start_inner && inner <= block_end(start_inner)?);
        if overlaps && !block.auto {
            count = count.saturating_sub(1);
        }
        let outer_offset = outer.saturating_sub(block.outer).min(count);
        let inner_offset = inner.saturating_sub(start_inner).min(count);

        let low = MapRange {
            outer: block.outer,
            inner: start_inner,
            count: inner_offset.min(outer_offset),
        };
        let add = |a: u32, b: u32| a.checked_add(b).ok_or_else(overflow);
        let skip = |value: u32, claimed: u32| add(value, u32::from(value == claimed));
        let mid_outer = skip(add(low.outer, low.count)?, outer)?;
        let mid_inner = skip(add(low.inner, low.count)?, inner)?;
        let middle = MapRange {
            outer: mid_outer,
            inner: mid_inner,
            count: outer_offset.abs_diff(inner_offset),
        };
        let high = MapRange {
            outer: skip(add(mid_outer, middle.count)?, outer)?,
            inner: skip(add(mid_inner, middle.count)?, inner)?,
            count: count
                .checked_sub(low.count)
                .and_then(|rest| rest.checked_sub(middle.count))
                .ok_or_else(overflow)?,
        };
        for range in [low, middle, high].into_iter().filter(|r| r.count > 0) {
            if !check_range(range.inner, range.count) || !check_range(range.outer, range.count) {
                return Err(overflow());
            }
            out.push(range);
        }
    }
    Ok(out)
}

/// The text written to /proc/PID/uid_map: one `INNER OUTER COUNT` line
/// per range. The kernel reads it in one page.
pub fn map_text(ranges: &[MapRange]) -> Option<String> {
    let text: String = ranges
        .iter()
        .map(|r| format!("{} {} {}\n", r.inner, r.outer, r.count))
        .collect();
    (text.len() <= 4096).then_some(text)
}

/// The arguments of newuidmap/newgidmap after the program name.
pub fn helper_args(pid: i32, ranges: &[MapRange]) -> Vec<String> {
    let mut args = vec![pid.to_string()];
    for range in ranges {
        args.extend([
            range.inner.to_string(),
            range.outer.to_string(),
            range.count.to_string(),
        ]);
    }
    args
}

/// Which map: users or groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

impl Kind {
    pub fn proc_file(self) -> &'static str {
        match self {
            Kind::Users => "uid_map",
            Kind::Groups => "gid_map",
        }
    }

    pub fn helper(self) -> &'static str {
        match self {
            Kind::Users => "newuidmap",
            Kind::Groups => "newgidmap",
        }
    }

    pub fn subid_file(self) -> &'static str {
        match self {
            Kind::Users => "/etc/subuid",
            Kind::Groups => "/etc/subgid",
        }
    }
}

/// The first subordinate range of a user in `/etc/subuid` (or subgid).
pub fn subid_range(kind: Kind, name: &str, uid: u32) -> Result<(u32, u32), Error> {
    let file = kind.subid_file();
    let text = std::fs::read_to_string(file).map_err(|error| Error::ReadSubid {
        file,
        errno: crate::errno_of(&error),
    })?;
    find_subid_range(&text, name, uid)?.ok_or_else(|| Error::NoSubidLine {
        user: name.to_string(),
        file,
    })
}

/// `--map-users=auto`: the user's first subordinate range, mapped to 0.
pub fn auto_block(kind: Kind, name: &str, uid: u32) -> Result<Block, Error> {
    let (outer, count) = subid_range(kind, name, uid)?;
    Ok(Block {
        outer,
        inner: 0,
        count,
        auto: true,
    })
}

fn write(sys: &impl Sys, path: PathBuf, text: &str) -> Result<(), Error> {
    sys.write_proc(&path, text.as_bytes())
        .map_err(|error| Error::Write { path, error })
}

/// `--map-user`/`--map-group` alone: the process maps itself, one ID.
/// For a gid_map without privilege, [`set_setgroups`] must deny first.
pub fn write_single(sys: &impl Sys, kind: Kind, inner: u32, outer: u32) -> Result<(), Error> {
    let path = PathBuf::from(format!("/proc/self/{}", kind.proc_file()));
    write(sys, path, &format!("{inner} {outer} 1"))
}

/// `--setgroups allow|deny`; a kernel without the file (before 3.19)
/// has nothing to control.
pub fn set_setgroups(sys: &impl Sys, allow: bool) -> Result<(), Error> {
    let path = Path::new("/proc/self/setgroups");
    if !path.exists() {
        return Ok(());
    }
    let text = if allow { "allow" } else { "deny" };
    write(sys, path.to_path_buf(), text)
}

/// Maps this process's own user and group to `uid` and `gid` inside its
/// new user namespace, as an unprivileged process may (Linux 3.19+):
/// setgroups(2) denied before the gid_map is written.
pub fn map_self(sys: &impl Sys, uid: (u32, u32), gid: (u32, u32)) -> Result<(), Error> {
    write_single(sys, Kind::Users, uid.0, uid.1)?;
    set_setgroups(sys, false)?;
    write_single(sys, Kind::Groups, gid.0, gid.1)
}

/// Writes ranges for process `pid`: directly when we are root (the kernel
/// checks nothing more), else through newuidmap/newgidmap, which check
/// them against /etc/subuid and /etc/subgid.
pub fn write_ranges(
    sys: &impl Sys,
    kind: Kind,
    pid: i32,
    ranges: &[MapRange],
) -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        let path = PathBuf::from(format!("/proc/{pid}/{}", kind.proc_file()));
        let Some(text) = map_text(ranges) else {
            return Err(Error::TooLarge { path });
        };
        return write(sys, path, &text);
    }
    let mut argv = vec![OsString::from(kind.helper())];
    argv.extend(helper_args(pid, ranges).into_iter().map(OsString::from));
    crate::child::run_program(&argv).map_err(Error::Helper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(inner: u32, outer: u32, count: u32) -> MapRange {
        MapRange {
            inner,
            outer,
            count,
        }
    }

    #[test]
    fn blocks_in_both_orders() {
        assert_eq!(
            parse_block("0:100000:65536"),
            Ok(Block {
                outer: 100000,
                inner: 0,
                count: 65536,
                auto: false,
            })
        );
        assert_eq!(
            parse_block("100000,0,65536"),
            Ok(Block {
                outer: 100000,
                inner: 0,
                count: 65536,
                auto: false,
            })
        );
        assert_eq!(parse_block(" 1:+2:3").map(|b| b.count), Ok(3));
    }

    #[test]
    fn malformed_blocks() {
        for bad in [
            "",
            "1",
            "1:2",
            "1:2:3:4",
            "1,2",
            "1,2,3,4",
            "a:b:c",
            "1:2:",
            "1:-2:3",
            "1:2:3x",
            "4294967296:0:1",
            "1:2,3",
        ] {
            assert_eq!(
                parse_block(bad),
                Err(Error::InvalidMapping { text: bad.into() }),
                "{bad:?}"
            );
            assert_eq!(
                parse_block(bad).unwrap_err().to_string(),
                format!("invalid mapping '{bad}'")
            );
        }
    }

    #[test]
    fn ranges_that_reach_no_id_are_refused() {
        for bad in [
            "0:4294967295:1",
            "4294967295:0:1",
            "4294967295,0,1",
            "0,4294967295,1",
            "1:4294967290:6",
            "4294967290:1:6",
            "1:0:4294967295",
        ] {
            let error = parse_block(bad).unwrap_err();
            assert_eq!(error, Error::ReachesNoId { text: bad.into() });
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("invalid mapping '{bad}': ")),
                "{error}"
            );
        }
        assert!(parse_block("1:4294967290:5").is_ok(), "ends at 4294967294");
        assert!(parse_block("0:0:4294967294").is_ok());
        assert!(find_subid_range("root:4294967290:10\n", "root", 0).is_err());
        assert!(find_subid_range("root:4294967296:1\n", "root", 0).is_err());
    }

    #[test]
    fn combining_never_wraps() {
        let top = Block {
            outer: 4294967200,
            inner: 4294967200,
            count: 94,
            auto: false,
        };
        assert_eq!(
            combine(&[top], Some((4294967293, 4294967293))).map(|r| r.len()),
            Ok(2)
        );
        let past = Block {
            outer: 4294967200,
            inner: 0,
            count: 200,
            auto: false,
        };
        assert!(combine(&[past], None).is_err());
        assert!(combine(&[past], Some((1, 1))).is_err());
    }

    #[test]
    fn subid_lines_by_name_or_number() {
        let text = "alice:100000:65536\n1001:165536:65536\nbad\nbob:x\nalice:1:1\n";
        assert_eq!(
            find_subid_range(text, "alice", 1000),
            Ok(Some((100000, 65536)))
        );
        assert_eq!(
            find_subid_range(text, "carol", 1001),
            Ok(Some((165536, 65536)))
        );
        assert_eq!(
            find_subid_range(text, "dave", 0),
            Ok(None),
            "a name is not uid 0"
        );
        assert_eq!(find_subid_range("", "root", 0), Ok(None));
        assert_eq!(
            find_subid_range("root:abc:5\n", "root", 0),
            Err(Error::SubidField {
                field: "abc".into()
            })
        );
        assert_eq!(
            find_subid_range("root:5:\n", "root", 0)
                .unwrap_err()
                .to_string(),
            "failed to parse subid map: ''"
        );
    }

    #[test]
    fn root_user_with_an_auto_block() {
        // unshare --map-auto --map-root-user as uid 1000: 0 is the user,
        // the auto block moves up to start at 1 and keeps every ID, as in
        // util-linux 2.42 (2.38 and its man page's example lost the
        // topmost one: `1 100000 65535`).
        let auto = Block {
            outer: 100000,
            inner: 0,
            count: 65536,
            auto: true,
        };
        assert_eq!(
            combine(&[auto], Some((1000, 0))).unwrap(),
            [range(0, 1000, 1), range(1, 100000, 65536)]
        );
        // A hole inside it: the IDs above it move up by one.
        assert_eq!(
            combine(&[auto], Some((1000, 5))).unwrap(),
            [
                range(5, 1000, 1),
                range(0, 100000, 5),
                range(6, 100005, 65531)
            ]
        );
        // The same range given as numbers loses its topmost ID.
        let given = Block {
            auto: false,
            ..auto
        };
        assert_eq!(
            combine(&[given], Some((1000, 0))).unwrap(),
            [range(0, 1000, 1), range(1, 100000, 65535)]
        );
    }

    #[test]
    fn blocks_without_a_single_mapping_pass_through() {
        let a = Block {
            outer: 100000,
            inner: 0,
            count: 10,
            auto: false,
        };
        let b = Block {
            outer: 200000,
            inner: 10,
            count: 5,
            auto: false,
        };
        assert_eq!(
            combine(&[a, b], None).unwrap(),
            [range(0, 100000, 10), range(10, 200000, 5)]
        );
    }

    #[test]
    fn an_overlapping_single_mapping_punches_a_hole() {
        // --map-users=0:100000:10 --map-user=5 as uid 1000: inner 5 is
        // taken, so the block maps 0-4 and 6-9 (one ID fewer).
        let block = Block {
            outer: 100000,
            inner: 0,
            count: 10,
            auto: false,
        };
        assert_eq!(
            combine(&[block], Some((1000, 5))).unwrap(),
            [range(5, 1000, 1), range(0, 100000, 5), range(6, 100005, 4)]
        );
        // The claimed outer ID inside the block is skipped as well.
        let block = Block {
            outer: 1000,
            inner: 0,
            count: 4,
            auto: false,
        };
        assert_eq!(
            combine(&[block], Some((1001, 100))).unwrap(),
            [range(100, 1001, 1), range(0, 1000, 1), range(1, 1002, 2)]
        );
    }

    #[test]
    fn map_text_and_helper_args() {
        let ranges = [range(0, 1000, 1), range(1, 100000, 65536)];
        assert_eq!(map_text(&ranges).unwrap(), "0 1000 1\n1 100000 65536\n");
        assert_eq!(
            helper_args(42, &ranges),
            ["42", "0", "1000", "1", "1", "100000", "65536"]
        );
        let many = vec![range(4_000_000_000, 4_000_000_000, 4_000_000_000); 200];
        assert!(map_text(&many).is_none(), "over a page");
    }

    #[test]
    fn setgroups_is_denied_before_the_gid_map() {
        use crate::recording::{Call, Recorder};
        let sys = Recorder::new();
        map_self(&sys, (0, 1000), (0, 100)).unwrap();
        assert_eq!(
            sys.calls(),
            [
                Call::write("/proc/self/uid_map", "0 1000 1"),
                Call::write("/proc/self/setgroups", "deny"),
                Call::write("/proc/self/gid_map", "0 100 1"),
            ]
        );
    }

    #[test]
    fn a_failed_write_names_the_file() {
        use crate::recording::{Call, Recorder};
        let sys = Recorder::new().failing(
            |call| matches!(call, Call::WriteProc(path, _) if path.ends_with("gid_map")),
            Errno::EPERM,
        );
        let error = map_self(&sys, (0, 1000), (0, 100)).unwrap_err();
        assert_eq!(
            error,
            Error::Write {
                path: "/proc/self/gid_map".into(),
                error: WriteError::Write(Errno::EPERM)
            }
        );
        assert_eq!(
            error.to_string(),
            "/proc/self/gid_map: write: Operation not permitted"
        );
    }
}
