//! The "newc" cpio format the kernel unpacks as an initramfs
//! (Documentation/driver-api/early-userspace/buffer-format.rst): a header
//! of ASCII hex fields, the NUL-terminated name, the data, each padded to
//! four bytes, and a `TRAILER!!!` entry. Writing the archive ourselves
//! means device nodes need no mknod and owners need no chown.

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir {
        path: String,
        mode: u32,
    },
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
    Symlink {
        path: String,
        target: String,
    },
    CharDevice {
        path: String,
        mode: u32,
        major: u32,
        minor: u32,
    },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// Writes `entries` (owned by root, mtime 0: the archive is reproducible)
/// and the trailer.
pub fn write(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let ino = index as u32 + 1;
        match entry {
            Entry::Dir { path, mode } => {
                member(&mut out, ino, path, S_IFDIR | mode, 2, (0, 0), b"")
            }
            Entry::File { path, mode, data } => {
                member(&mut out, ino, path, S_IFREG | mode, 1, (0, 0), data)
            }
            Entry::Symlink { path, target } => member(
                &mut out,
                ino,
                path,
                S_IFLNK | 0o777,
                1,
                (0, 0),
                target.as_bytes(),
            ),
            Entry::CharDevice {
                path,
                mode,
                major,
                minor,
            } => member(
                &mut out,
                ino,
                path,
                S_IFCHR | mode,
                1,
                (*major, *minor),
                b"",
            ),
        }
    }
    member(&mut out, 0, "TRAILER!!!", 0, 1, (0, 0), b"");
    out
}

fn member(
    out: &mut Vec<u8>,
    ino: u32,
    path: &str,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    data: &[u8],
) {
    let name = path.trim_start_matches('/');
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    out.extend_from_slice(b"070701");
    for field in fields {
        out.extend_from_slice(format!("{field:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad(out);
    out.extend_from_slice(data);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_names_and_data_are_aligned() {
        let archive = write(&[
            Entry::Dir {
                path: "/bin".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "bin/x".into(),
                mode: 0o755,
                data: b"hello".to_vec(),
            },
            Entry::Symlink {
                path: "sh".into(),
                target: "bin/x".into(),
            },
            Entry::CharDevice {
                path: "dev/console".into(),
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        ]);
        assert_eq!(archive.len() % 4, 0);
        assert!(archive.starts_with(b"070701"));
        // The first header: ino 1, a directory, 0755, name "bin" (4 with NUL).
        let header = std::str::from_utf8(&archive[6..6 + 13 * 8]).unwrap();
        assert_eq!(&header[0..8], "00000001");
        assert_eq!(&header[8..16], "000041ed");
        assert_eq!(&header[88..96], "00000004");
        assert_eq!(&archive[110..114], b"bin\0");
        let text = String::from_utf8_lossy(&archive);
        assert!(text.contains("bin/x\0"));
        assert!(text.contains("hello"));
        assert!(text.contains("TRAILER!!!\0"));
    }

    #[test]
    fn system_cpio_lists_what_we_wrote() {
        if !std::path::Path::new("/usr/bin/cpio").exists() {
            return; // cpio (the Debian package) reads it back when present
        }
        let archive = write(&[
            Entry::Dir {
                path: "etc".into(),
                mode: 0o755,
            },
            Entry::File {
                path: "etc/motd".into(),
                mode: 0o644,
                data: b"hi\n".to_vec(),
            },
            Entry::Symlink {
                path: "link".into(),
                target: "etc/motd".into(),
            },
            Entry::CharDevice {
                path: "console".into(),
                mode: 0o600,
                major: 5,
                minor: 1,
            },
        ]);
        let mut child = std::process::Command::new("/usr/bin/cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("run cpio");
        use std::io::Write;
        child.stdin.take().unwrap().write_all(&archive).unwrap();
        let output = child.wait_with_output().unwrap();
        let listing = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{listing}");
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 4, "{listing}");
        assert!(lines[0].starts_with("drwxr-xr-x") && lines[0].ends_with(" etc"));
        assert!(lines[1].starts_with("-rw-r--r--") && lines[1].ends_with(" etc/motd"));
        assert!(lines[2].starts_with("lrwxrwxrwx") && lines[2].ends_with("link -> etc/motd"));
        assert!(lines[3].starts_with("crw-------") && lines[3].contains("5,"));
    }
}
