//! Reading `/proc/PID/…` for processes that may exit at any moment.
//!
//! The parsers are pure functions over bytes. The readers return `None`
//! when the process is gone (or cannot be read): the caller skips it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
    data.truncate(BUFSIZ);
    data.pop()?;
    for byte in data.iter_mut() {
        if *byte == 0 {
            *byte = b' ';
        }
    }
    Some(data)
}

/// `/proc`, opened once: process directories and files are opened
/// relative to it (no path formatting on the heap, one lookup less).
#[derive(Debug)]
pub struct Proc {
    root: OwnedFd,
}

impl Proc {
    pub fn open() -> io::Result<Proc> {
        // SAFETY: a valid C string.
        let fd = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd was just opened and is owned by nobody else.
        let root = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Proc { root })
    }

    fn fd(&self) -> RawFd {
        self.root.as_raw_fd()
    }

    /// `/proc/PID`, see [`ProcDir`].
    pub fn dir(&self, pid: i32) -> io::Result<ProcDir> {
        let path = PathBuf64::new(pid, b"");
        // O_PATH: only a handle for the *at calls below and fstat,
        // cheaper to open than the directory itself.
        Ok(ProcDir {
            fd: openat(self.fd(), path.as_ptr(), libc::O_DIRECTORY | libc::O_PATH)?,
        })
    }

    /// Opens `/proc/PID/NAME` (read-only) if it is still the file with
    /// inode `ino`: a process read earlier may have exited and its PID
    /// been reused.
    pub fn open_checked(&self, pid: i32, name: &[u8], ino: u64) -> Option<OwnedFd> {
        let path = PathBuf64::new(pid, name);
        let fd = openat(self.fd(), path.as_ptr(), 0).ok()?;
        (fstat(fd.as_raw_fd()).ok()?.st_ino == ino).then_some(fd)
    }

    /// The command of a process as lsns shows it: its command line, else
    /// its name (kernel threads), else nothing (the process is gone).
    pub fn command_of(&self, pid: i32) -> Option<Vec<u8>> {
        read_command(|name| {
            let path = PathBuf64::new(pid, name);
            openat(self.fd(), path.as_ptr(), 0).ok()
        })
    }

    /// Calls `each` with every PID in `/proc`, in directory order
    /// (ascending, as procfs lists them). Entries that are not numbers
    /// are ignored.
    pub fn for_each_pid(&self, mut each: impl FnMut(i32)) -> io::Result<()> {
        let dir = openat(self.fd(), c".".as_ptr(), libc::O_DIRECTORY)?;
        for_each_entry(dir.as_raw_fd(), false, |name, d_type| {
            if !name.first().is_some_and(u8::is_ascii_digit) {
                return;
            }
            if d_type != libc::DT_DIR && d_type != libc::DT_UNKNOWN {
                return;
            }
            if let Some(pid) = std::str::from_utf8(name)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                each(pid as i32);
            }
        })
    }
}

/// The decimal digits of `n`, written at the end of `buf` (the formatting
/// machinery costs more, thousands of times over).
pub fn decimal_digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

/// A NUL-terminated path built on the stack: `PID` or `PID/NAME`.
struct PathBuf64 {
    bytes: [u8; 64],
}

impl PathBuf64 {
    fn new(pid: i32, name: &[u8]) -> PathBuf64 {
        let mut bytes = [0u8; 64];
        let mut buf = [0u8; 20];
        let digits = decimal_digits(u64::from(pid.unsigned_abs()), &mut buf);
        bytes[..digits.len()].copy_from_slice(digits);
        let mut len = digits.len();
        if !name.is_empty() {
            let name = &name[..name.len().min(64 - len - 2)];
            bytes[len] = b'/';
            bytes[len + 1..len + 1 + name.len()].copy_from_slice(name);
            len += 1 + name.len();
        }
        bytes[len] = 0;
        PathBuf64 { bytes }
    }

    fn as_ptr(&self) -> *const libc::c_char {
        self.bytes.as_ptr().cast()
    }
}

fn openat(dir: RawFd, path: *const libc::c_char, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: path is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::openat(dir, path, flags | libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Reads a file into `buf` from its start and returns the length read.
/// The /proc files read here (`stat`, `cmdline`) hand over everything
/// that fits in one read, so a read that leaves room in the buffer is
/// the last one; a full buffer is simply the most the caller wants.
fn read_into(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    let mut len = 0;
    while len < buf.len() {
        // SAFETY: the range is inside buf.
        let got = unsafe { libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len) };
        match got {
            0 => break,
            n if n > 0 => {
                len += n as usize;
                // A short read of a /proc file: that was everything.
                if len < buf.len() {
                    break;
                }
            }
            _ => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    Ok(len)
}

/// An open `/proc/PID` directory: everything below is read relative to
/// it, so a recycled PID cannot mix two processes.
pub struct ProcDir {
    fd: OwnedFd,
}

impl ProcDir {
    /// The owner of `/proc/PID`: the process's effective uid.
    pub fn uid(&self) -> io::Result<u32> {
        Ok(fstat(self.fd.as_raw_fd())?.st_uid)
    }

    /// `fstatat` of a NUL-terminated name below the directory.
    pub fn stat_at(&self, name: &CStr) -> io::Result<libc::stat> {
        stat_at(self.fd.as_raw_fd(), name)
    }

    /// The inode of the namespace a `ns/TYPE` link names, read from the
    /// link's text (`TYPE:[INODE]`): cheaper for the kernel than a `stat`
    /// through the link, which makes the namespace's nsfs dentry.
    pub fn ns_ino(&self, name: &CStr) -> io::Result<u64> {
        let mut buf = [0u8; 64];
        // SAFETY: a NUL-terminated name and a buffer valid for its length.
        let len = unsafe {
            libc::readlinkat(
                self.fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if len < 0 {
            return Err(io::Error::last_os_error());
        }
        match parse_ns_link(&buf[..len as usize]) {
            Some(ino) => Ok(ino),
            // Not the nsfs text: ask stat.
            None => Ok(self.stat_at(name)?.st_ino),
        }
    }

    pub fn open_at(&self, name: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
        openat(self.fd.as_raw_fd(), name.as_ptr(), flags)
    }

    /// `command_of` this process.
    pub fn command(&self) -> Option<Vec<u8>> {
        read_command(|name| {
            let mut path = [0u8; 16];
            path[..name.len()].copy_from_slice(name);
            let name = CStr::from_bytes_until_nul(&path).ok()?;
            self.open_at(name, 0).ok()
        })
    }

    /// The parsed `stat` file, read with one read into a stack buffer.
    pub fn stat(&self) -> Option<Stat> {
        let fd = self.open_at(c"stat", 0).ok()?;
        // The line is a few hundred bytes (COMM is at most 64 escaped).
        let mut buf = [0u8; 2048];
        let len = read_into(fd.as_raw_fd(), &mut buf).ok()?;
        parse_stat(&buf[..len])
    }
}

/// The inode of a namespace link's text, `TYPE:[INODE]`.
pub fn parse_ns_link(text: &[u8]) -> Option<u64> {
    let open = text.iter().position(|&b| b == b'[')?;
    let digits = text[open + 1..].strip_suffix(b"]")?;
    if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// `fstatat` of a NUL-terminated name relative to `dir`.
pub fn stat_at(dir: RawFd, name: &CStr) -> io::Result<libc::stat> {
    // SAFETY: zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, C string and out-pointer.
    let rc = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
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

/// At most this much of a command line counts (util-linux reads one
/// `BUFSIZ` buffer).
const BUFSIZ: usize = 8192;

/// [`Proc::command_of`], given a way to open `cmdline` and `comm`.
fn read_command(open: impl Fn(&[u8]) -> Option<OwnedFd>) -> Option<Vec<u8>> {
    let read = |name: &[u8]| -> Option<Vec<u8>> {
        let fd = open(name)?;
        // Most command lines fit a small buffer; the rest go on reading
        // into a full one (an 8 KiB buffer cleared per process costs more
        // than the read).
        let mut small = [0u8; 512];
        let len = read_into(fd.as_raw_fd(), &mut small).ok()?;
        if len < small.len() {
            return cmdline_to_string(small[..len].to_vec());
        }
        let mut buf = vec![0u8; BUFSIZ];
        buf[..len].copy_from_slice(&small);
        let more = read_into(fd.as_raw_fd(), &mut buf[len..]).ok()?;
        buf.truncate(len + more);
        cmdline_to_string(buf)
    };
    read(b"cmdline").or_else(|| read(b"comm"))
}

/// Calls `each` with the name and `d_type` of every entry of the open
/// directory `dir` (`.` and `..` included), with `getdents64` into a
/// stack buffer: no allocation per entry.
///
/// With `proc_complete`, a read that leaves room for another entry ends
/// the listing without the final empty read: procfs fills the buffer
/// with every remaining entry until one does not fit (true of `/proc`
/// and `/proc/PID/fd`, whose names are short).
pub fn for_each_entry(
    dir: RawFd,
    proc_complete: bool,
    mut each: impl FnMut(&[u8], u8),
) -> io::Result<()> {
    // Room for 128 entries of a /proc/PID/fd listing.
    let mut buf = [0u64; 512];
    let size = std::mem::size_of_val(&buf);
    // The largest entry a numeric name makes: 19 bytes of header, up to
    // 10 digits and a NUL, rounded up to 8.
    const LARGEST_PROC_ENTRY: usize = 32;
    loop {
        // SAFETY: the kernel writes at most `size` bytes into buf.
        let got = unsafe { libc::syscall(libc::SYS_getdents64, dir, buf.as_mut_ptr(), size) };
        if got < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        let got = got as usize;
        if got == 0 {
            return Ok(());
        }
        // SAFETY: u64s viewed as bytes; the kernel wrote `got` of them.
        let bytes = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), got) };
        let mut at = 0;
        while at + 19 <= got {
            let reclen = u16::from_ne_bytes([bytes[at + 16], bytes[at + 17]]) as usize;
            if reclen < 20 || at + reclen > got {
                break;
            }
            let d_type = bytes[at + 18];
            let name = &bytes[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            each(name, d_type);
            at += reclen;
        }
        if proc_complete && got + LARGEST_PROC_ENTRY <= size {
            return Ok(());
        }
    }
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
    fn namespace_link_text() {
        assert_eq!(parse_ns_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_ns_link(b"pid_for_children:[7]"), Some(7));
        assert_eq!(parse_ns_link(b"net:[]"), None);
        assert_eq!(parse_ns_link(b"net:[12"), None);
        assert_eq!(parse_ns_link(b"net:[1x]"), None);
        assert_eq!(parse_ns_link(b"/dev/null"), None);
        assert_eq!(parse_ns_link(b"net:[99999999999999999999]"), None);
    }

    #[test]
    fn vanished_errors() {
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ESRCH)));
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ENOENT)));
        assert!(!is_vanished(&io::Error::from_raw_os_error(libc::EMFILE)));
    }
}
