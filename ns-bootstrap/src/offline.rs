//! Packages that leave the bootstrap as files: `--download-only` (into
//! TARGET's apt cache, as debootstrap leaves them), `--make-tarball` (the
//! indexes and packages as a cache in one tarball) and `--unpack-tarball`
//! (that tarball as the cache, instead of the mirror).

use std::fs::File;
use std::io::Seek;
use std::path::{Path, PathBuf};

use crate::compression::Compression;
use crate::download::Verified;
use crate::extract::{Extractor, UnmappedOwners};
use crate::progress::Reporter;
use crate::rooted::Root;
use crate::{tarball, Error};

/// Where an --unpack-tarball's cache lands in the target, and where
/// --make-tarball puts it: the cache's layout (`lists/InRelease`,
/// `lists/SHA256.Packages`, `debs/SHA256.deb`, `mirror`).
pub const OFFLINE_DIR: &str = "debootstrap/offline";

fn failed(what: &str, root: &Root, rel: &str, e: std::io::Error) -> Error {
    Error::failed(format_args!("{what} {}", root.show(rel)), e)
}

/// A verified package's bytes, from its open cache file, as a new file at
/// `rel` in the root.
fn copy_into(root: &Root, rel: &str, file: &File) -> Result<(), Error> {
    let (dir, name) = root
        .parent(rel, true)
        .map_err(|e| failed("cannot create", root, rel, e))?;
    let mut to = dir
        .replace_file(&name, 0o644)
        .map_err(|e| failed("cannot create", root, rel, e))?;
    let mut from = file;
    from.rewind()
        .and_then(|_| std::io::copy(&mut from, &mut to))
        .and_then(|_| from.rewind())
        .map_err(|e| failed("cannot write", root, rel, e))?;
    Ok(())
}

/// --unpack-tarball: extracts FILE into the root (as safely as packages
/// are; it may hold anything) and returns the cache directory it holds.
pub fn unpack_tarball(file: &Path, root: &Root) -> Result<PathBuf, Error> {
    let input = File::open(file)
        .map_err(|e| Error::failed(format_args!("cannot read {}", file.display()), e))?;
    let compression =
        Compression::from_tarball_name(&file.to_string_lossy()).unwrap_or(Compression::None);
    let reader = compression
        .decoder(std::io::BufReader::new(input))
        .map_err(|e| Error::failed(format_args!("--unpack-tarball {}", file.display()), e))?;
    let extractor = Extractor {
        root,
        keep_unmapped_owners: false,
    };
    extractor
        .extract(reader, &[])
        .map_err(|source| Error::Extract {
            what: format!("--unpack-tarball {}", file.display()),
            source: Box::new(source),
        })?;
    // The cache is then read by path: every directory on the way must be
    // a real one, not a link the tarball planted.
    let not_ours = |what: &str| {
        Error::Refused(format!(
            "{}: not a tarball made by --make-tarball ({what})",
            file.display()
        ))
    };
    let lists = format!("{OFFLINE_DIR}/lists");
    let debs = format!("{OFFLINE_DIR}/debs");
    for rel in ["debootstrap", OFFLINE_DIR, &lists, &debs] {
        match root.lstat(rel) {
            Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
            _ => return Err(not_ours(&format!("no directory {rel}"))),
        }
    }
    match root.lstat(format!("{lists}/InRelease")) {
        Ok(stat) if stat.st_mode & libc::S_IFMT == libc::S_IFREG => {}
        _ => return Err(not_ours(&format!("no {lists}/InRelease"))),
    }
    Ok(root.path().join(OFFLINE_DIR))
}

/// --make-tarball: the indexes and packages as a cache, in a tarball
/// that --unpack-tarball takes instead of the mirror.
pub fn make_tarball(
    root: &Root,
    file: &Path,
    index_files: &[(String, Vec<u8>)],
    mirror: &str,
    packages: &[Verified],
    reporter: &Reporter,
) -> Result<(), Error> {
    // Only the offline cache goes in, whatever else is in TARGET.
    let staging = ".ns-bootstrap-make-tarball";
    let work = format!("{staging}/{OFFLINE_DIR}");
    for (name, data) in index_files {
        let rel = format!("{work}/lists/{name}");
        root.write(&rel, data, 0o644)
            .map_err(|e| failed("cannot write", root, &rel, e))?;
    }
    let rel = format!("{work}/mirror");
    root.write(&rel, format!("{mirror}\n").as_bytes(), 0o644)
        .map_err(|e| failed("cannot write", root, &rel, e))?;
    for verified in packages {
        let sha256 = verified.package.sha256.to_ascii_lowercase();
        copy_into(root, &format!("{work}/debs/{sha256}.deb"), &verified.file)?;
    }
    let compression =
        Compression::from_tarball_name(&file.to_string_lossy()).unwrap_or(Compression::None);
    let written = tarball::write(
        &root.path().join(staging),
        &tarball::Sink::File(file.to_path_buf()),
        compression,
        None,
        &[],
        &UnmappedOwners::new(),
    );
    let _ = root.remove_all(staging);
    written?;
    reporter.info(&format!(
        "Tarball of {} packages written to {}",
        packages.len(),
        file.display()
    ));
    Ok(())
}

/// --download-only: the verified packages in TARGET's apt cache under
/// their archive names, as debootstrap leaves them.
pub fn place_debs(root: &Root, packages: &[Verified], reporter: &Reporter) -> Result<(), Error> {
    let archives = "var/cache/apt/archives";
    root.create_dir_all(format!("{archives}/partial"))
        .map_err(|e| failed("cannot create", root, archives, e))?;
    for verified in packages {
        // A validated pool path: its last component is a plain name.
        let filename = verified.package.filename;
        let base = filename.rsplit('/').next().unwrap_or(filename);
        copy_into(root, &format!("{archives}/{base}"), &verified.file)?;
    }
    reporter.info(&format!(
        "Download complete: the packages are in {}",
        root.show(archives)
    ));
    Ok(())
}
