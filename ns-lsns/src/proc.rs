//! Reading `/proc/PID/…` for processes that may exit at any moment.
//!
//! The parsers are pure functions over bytes. The readers return `None`
//! when the process is gone (or cannot be read): the caller skips it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// What lsns needs from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    pub state: u8,
    pub ppid: i32,
}

/// Parses `/proc/PID/stat`: `PID (COMM) STATE PPID …`. COMM may contain
/// spaces and parentheses, so the state follows the *last* `)`.
pub fn parse_stat(data: &[u8]) -> Option<Stat> {
    let line = data.split(|&b| b == b'\n').next()?;
    let close = line.iter().rposition(|&b| b == b')')?;
    let open = line.iter().position(|&b| b == b'(')?;
    if open > close {
        return None;
    }
    let pid = parse_leading_int(&line[..open])?;
    let mut rest = line[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = *rest.next()?.first()?;
    let ppid = parse_leading_int(rest.next()?)?;
    Some(Stat { pid, state, ppid })
}

/// A decimal integer, optionally signed, after optional blanks; trailing
/// bytes are ignored (as `sscanf("%d")` ignores them).
fn parse_leading_int(field: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(field).ok()?.trim_start();
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().ok()
}

/// Turns the contents of `/proc/PID/cmdline` (or `comm`) into one line as
/// util-linux does: NULs become spaces and the last byte (the final NUL,
/// or comm's newline) is dropped. At most `BUFSIZ` bytes are considered.
/// An empty file gives `None` (kernel threads have no command line); a
/// lone NUL gives an empty command, as it does for util-linux.
pub fn cmdline_to_string(mut data: Vec<u8>) -> Option<Vec<u8>> {
    const BUFSIZ: usize = 8192;
    data.truncate(BUFSIZ);
    data.pop()?;
    for byte in data.iter_mut() {
        if *byte == 0 {
            *byte = b' ';
        }
    }
    Some(data)
}

/// An open `/proc/PID` directory: everything below is read relative to
/// it, so a recycled PID cannot mix two processes.
pub struct ProcDir {
    fd: OwnedFd,
}

impl ProcDir {
    pub fn open(pid: i32) -> io::Result<ProcDir> {
        let path = CString::new(format!("/proc/{pid}")).expect("no NUL in a path");
        // SAFETY: a valid C string; the returned fd is owned below.
        let fd = unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(ProcDir {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// The owner of `/proc/PID`: the process's effective uid.
    pub fn uid(&self) -> io::Result<u32> {
        Ok(fstat(self.fd.as_raw_fd())?.st_uid)
    }

    pub fn stat_at(&self, name: &str) -> io::Result<libc::stat> {
        let path = CString::new(name).expect("no NUL in a path");
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: valid fd, C string and out-pointer.
        let rc = unsafe { libc::fstatat(self.fd.as_raw_fd(), path.as_ptr(), &mut st, 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(st)
    }

    pub fn open_at(&self, name: &str) -> io::Result<OwnedFd> {
        let path = CString::new(name).expect("no NUL in a path");
        // SAFETY: valid fd and C string.
        let fd = unsafe {
            libc::openat(
                self.fd.as_raw_fd(),
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Reads a whole file below the directory.
    pub fn read_at(&self, name: &str) -> io::Result<Vec<u8>> {
        let fd = self.open_at(name)?;
        let mut file = std::fs::File::from(fd);
        let mut data = Vec::new();
        io::Read::read_to_end(&mut file, &mut data)?;
        Ok(data)
    }
}

pub fn fstat(fd: libc::c_int) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes only into st.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// The command of a process as lsns shows it: its command line, else its
/// name (kernel threads), else nothing (the process is gone).
pub fn command_of(pid: i32) -> Option<Vec<u8>> {
    let read = |name: &str| std::fs::read(format!("/proc/{pid}/{name}")).ok();
    read("cmdline")
        .and_then(cmdline_to_string)
        .or_else(|| read("comm").and_then(cmdline_to_string))
}

/// The PIDs in `/proc`, in directory order (ascending, as procfs lists
/// them). Entries that are not numbers are ignored.
pub fn list_pids() -> io::Result<Vec<i32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let name = name.as_encoded_bytes();
        if !name.first().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        if let Ok(file_type) = entry.file_type() {
            if !file_type.is_dir() {
                continue;
            }
        }
        if let Some(pid) = std::str::from_utf8(name)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        {
            pids.push(pid as i32);
        }
    }
    Ok(pids)
}

/// Errors that mean "this process is gone or not ours to read": skip it.
pub fn is_vanished(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOENT | libc::ESRCH | libc::EACCES | libc::EPERM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_plain_comm() {
        let stat = parse_stat(b"42 (sleep) S 1 42 42 0 -1 4194304\n").unwrap();
        assert_eq!(
            stat,
            Stat {
                pid: 42,
                state: b'S',
                ppid: 1
            }
        );
    }

    #[test]
    fn stat_with_hostile_comm() {
        let stat = parse_stat(b"7 (a) b) (c) Z 3 7 7 0").unwrap();
        assert_eq!(stat.pid, 7);
        assert_eq!(stat.state, b'Z');
        assert_eq!(stat.ppid, 3);
        let stat = parse_stat(b"9 ( ) R 0 0").unwrap();
        assert_eq!((stat.state, stat.ppid), (b'R', 0));
    }

    #[test]
    fn malformed_stat_is_refused() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"12 (x"), None);
        assert_eq!(parse_stat(b"12 (x) S"), None);
        assert_eq!(parse_stat(b"x (y) S 1"), None);
        assert_eq!(parse_stat(b"1 )( S 1"), None);
        assert_eq!(parse_stat(b"1 (y) S z"), None);
        assert_eq!(parse_stat(&[0xff, b'(', b')']), None);
    }

    #[test]
    fn cmdline_nuls_become_spaces() {
        assert_eq!(
            cmdline_to_string(b"sleep\x00100\x00".to_vec()),
            Some(b"sleep 100".to_vec())
        );
        assert_eq!(
            cmdline_to_string(b"kthreadd\n".to_vec()),
            Some(b"kthreadd".to_vec())
        );
        assert_eq!(cmdline_to_string(Vec::new()), None);
        assert_eq!(cmdline_to_string(b"\0".to_vec()), Some(Vec::new()));
    }

    #[test]
    fn rewritten_cmdline_loses_its_last_byte() {
        // A process that overwrote its argv without a final NUL: util-linux
        // drops the last byte all the same.
        assert_eq!(
            cmdline_to_string(b"nginx: master".to_vec()),
            Some(b"nginx: maste".to_vec())
        );
    }

    #[test]
    fn long_cmdline_is_cut_at_bufsiz() {
        let long = vec![b'a'; 10_000];
        assert_eq!(cmdline_to_string(long).unwrap().len(), 8191);
    }

    #[test]
    fn vanished_errors() {
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ESRCH)));
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ENOENT)));
        assert!(!is_vanished(&io::Error::from_raw_os_error(libc::EMFILE)));
    }
}
