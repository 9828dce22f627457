//! How mount and umount write their lines: messages on stderr and the
//! `-a` progress lines on stdout, names as their bytes.

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;

/// A message line on stderr, its names as their bytes.
pub fn say(parts: &[&[u8]]) {
    let mut line = parts.concat();
    line.push(b'\n');
    let _ = std::io::stderr().lock().write_all(&line);
}

/// `PROG: NAME: WHAT`, the shape of most of util-linux's messages.
pub fn say_about(prog: &str, name: &OsStr, what: &[u8]) {
    say(&[prog.as_bytes(), b": ", name.as_bytes(), b": ", what]);
}

/// `%-25s: WHAT` as C pads it: by bytes.
pub fn padded(out: &mut impl Write, name: &OsStr, what: &str) -> std::io::Result<()> {
    let bytes = name.as_bytes();
    out.write_all(bytes)?;
    for _ in bytes.len()..25 {
        out.write_all(b" ")?;
    }
    writeln!(out, ": {what}")
}

/// stdout fully buffered, as C's is when it is not a terminal: `-a`'s
/// progress lines come after the error messages in a shared pipe.
pub fn progress() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock())
}
