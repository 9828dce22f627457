//! What debootstrap puts in TARGET besides the packages: the merged-/usr
//! links before unpacking, `/etc`'s few files after, and, for a
//! reproducible build, the removal of what varies from run to run. All of
//! it in-root ([`Root`]): TARGET may hold anything by then.

use std::path::Path;

use crate::rooted::Root;
use crate::suite::merged_usr_dirs;
use crate::Error;

fn failed(what: &str, root: &Root, rel: &str, e: std::io::Error) -> Error {
    Error::failed(format_args!("{what} {}", root.show(rel)), e)
}

/// `/bin`, `/sbin`, `/lib*` as links into /usr (merged /usr), before any
/// package is unpacked; an existing link is kept, anything else there is
/// an error.
pub fn merge_usr(root: &Root, arch: &str) -> Result<(), Error> {
    for dir in merged_usr_dirs(arch) {
        let real = format!("usr/{dir}");
        root.create_dir_all(&real)
            .map_err(|e| failed("cannot create", root, &real, e))?;
        match root.lstat(dir) {
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFLNK => {}
            Ok(_) => {
                return Err(Error::Refused(format!(
                    "{}: exists and is not a symlink (merged /usr)",
                    root.show(dir)
                )))
            }
            Err(_) => root
                .symlink(&real, dir)
                .map_err(|e| failed("cannot create", root, dir, e))?,
        }
    }
    Ok(())
}

/// What debootstrap writes into /etc besides the packages.
pub fn write_etc(
    root: &Root,
    sources_line: &str,
    skip_usrmerge_conversion: bool,
) -> Result<(), Error> {
    let write = |rel: &str, text: &[u8], mode: u32| {
        root.write(rel, text, mode)
            .map_err(|e| failed("cannot write", root, rel, e))
    };
    write("etc/apt/sources.list", sources_line.as_bytes(), 0o644)?;
    if skip_usrmerge_conversion {
        // debootstrap's flag that keeps usrmerge from converting later.
        write(
            "etc/unsupported-skip-usrmerge-conversion",
            b"this system will not be supported in the future\n",
            0o644,
        )?;
    }
    write(
        "etc/fstab",
        b"# UNCONFIGURED FSTAB FOR BASE SYSTEM\n",
        0o644,
    )?;
    // Copied from the host (mode included), as debootstrap does.
    for file in ["etc/hostname", "etc/resolv.conf"] {
        let from = Path::new("/").join(file);
        let Ok(meta) = std::fs::metadata(&from) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let data = std::fs::read(&from)
            .map_err(|e| Error::failed(format_args!("cannot copy {}", from.display()), e))?;
        write(
            file,
            &data,
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777,
        )?;
    }
    Ok(())
}

/// Logs and caches whose content varies from one build to the next
/// (times, inode numbers), removed from a reproducible build; mmdebstrap
/// removes the same.
const VARYING: &[&str] = &[
    "var/log/bootstrap.log",
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/apt/history.log",
    "var/log/apt/term.log",
    "var/log/apt/eipp.log.xz",
    "var/cache/ldconfig/aux-cache",
    "var/cache/apt/pkgcache.bin",
    "var/cache/apt/srcpkgcache.bin",
    "var/lib/dpkg/status-old",
    "var/lib/dpkg/diversions-old",
    "var/lib/dpkg/statoverride-old",
    "var/cache/debconf/config.dat-old",
    "var/cache/debconf/templates.dat-old",
    "var/cache/debconf/passwords.dat-old",
];

pub fn remove_varying(root: &Root) -> Result<(), Error> {
    for rel in VARYING {
        match root.remove_file(rel) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(failed("cannot remove", root, rel, e))
            }
            _ => {}
        }
    }
    // A machine-id must be made on first boot, never shared.
    if let Ok(stat) = root.lstat("etc/machine-id") {
        root.write("etc/machine-id", b"uninitialized\n", stat.st_mode & 0o7777)
            .map_err(|e| failed("cannot write", root, "etc/machine-id", e))?;
    }
    Ok(())
}
