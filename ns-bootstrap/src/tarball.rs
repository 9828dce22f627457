//! A built tree as a tarball: sorted entries (by path component, so the
//! same tree always gives the same bytes), numeric owners as the build
//! sees them, times clamped to SOURCE_DATE_EPOCH when given, hard links
//! as link entries to the first name in that order, and device nodes as
//! plain tar headers — including nodes that could not be made on disk (a
//! user namespace cannot mknod), given as [`Device`]s.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::compression::Compression;
use crate::extract::UnmappedOwners;

/// Why the tarball could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot archive {path}: {source}")]
    Archive { path: PathBuf, source: io::Error },
    #[error("cannot write {name}: {source}")]
    Write { name: String, source: io::Error },
    #[error("pipe: {0}")]
    Pipe(io::Error),
    #[error("the archive writer panicked")]
    Panicked,
}

/// A character device to put in the archive whatever the disk holds.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    /// Relative to the root, e.g. `dev/null`.
    pub path: &'static str,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
}

/// Where the archive goes.
pub enum Sink {
    File(PathBuf),
    Stdout,
}

/// A path as its components, and what is there.
type Entry = (Vec<Vec<u8>>, Node);

enum Node {
    Disk(std::fs::Metadata),
    Device(Device),
}

/// Every path under `root` (relative, as components), sorted, with what
/// is there; `devices` take the place of whatever is at their path.
fn collect(root: &Path, devices: &[Device]) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![Vec::<Vec<u8>>::new()];
    while let Some(dir) = stack.pop() {
        let mut path = root.to_path_buf();
        for part in &dir {
            path.push(OsStr::from_bytes(part));
        }
        let read = |source| Error::Read {
            what: "read",
            path: path.clone(),
            source,
        };
        let entries = std::fs::read_dir(&path).map_err(read)?;
        for entry in entries {
            let entry = entry.map_err(read)?;
            let meta = entry.metadata().map_err(|source| Error::Read {
                what: "stat",
                path: entry.path(),
                source,
            })?;
            let mut parts = dir.clone();
            parts.push(entry.file_name().as_bytes().to_vec());
            if meta.is_dir() {
                stack.push(parts.clone());
            }
            out.push((parts, Node::Disk(meta)));
        }
    }
    for device in devices {
        let parts: Vec<Vec<u8>> = device
            .path
            .split('/')
            .map(|p| p.as_bytes().to_vec())
            .collect();
        out.retain(|(p, _)| *p != parts);
        out.push((parts, Node::Device(*device)));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Writes the tree at `root` as a tarball to `sink`.
pub fn write(
    root: &Path,
    sink: &Sink,
    compression: Compression,
    clamp: Option<u64>,
    devices: &[Device],
    owners: &UnmappedOwners,
) -> Result<(), Error> {
    let tree = Tree::collect(root, devices, clamp, owners)?;
    let name = match sink {
        Sink::File(path) => path.display().to_string(),
        Sink::Stdout => "standard output".to_string(),
    };
    let out: Box<dyn Write + Send> = match sink {
        Sink::File(path) => Box::new(File::create(path).map_err(|source| Error::Write {
            name: name.clone(),
            source,
        })?),
        Sink::Stdout => Box::new(io::stdout()),
    };
    let out = BufWriter::with_capacity(1 << 20, out);
    let out = compress(compression, out, &name, |tar| tree.write_to(tar).map(drop))?;
    finish(out).map_err(|source| Error::Write { name, source })
}

/// A tree ready to be archived: its entries in archive order, the time
/// they are clamped to, and the owners the disk could not hold.
pub struct Tree<'a> {
    root: &'a Path,
    entries: Vec<Entry>,
    clamp: Option<u64>,
    owners: &'a UnmappedOwners,
}

impl<'a> Tree<'a> {
    pub fn collect(
        root: &'a Path,
        devices: &[Device],
        clamp: Option<u64>,
        owners: &'a UnmappedOwners,
    ) -> Result<Tree<'a>, Error> {
        Ok(Tree {
            root,
            entries: collect(root, devices)?,
            clamp,
            owners,
        })
    }

    /// The tree as an uncompressed tar stream into `out`.
    pub fn write_to<W: Write>(&self, out: W) -> Result<W, Error> {
        archive(self.root, &self.entries, self.clamp, self.owners, out)
    }
}

/// What `produce` writes reaches `out` compressed; `name` names `out` in
/// messages. Returns `out` once the compressor is finished.
pub fn compress<W: Write + Send>(
    compression: Compression,
    out: W,
    name: &str,
    produce: impl FnOnce(&mut dyn Write) -> Result<(), Error> + Send,
) -> Result<W, Error> {
    let fail = |source: io::Error| Error::Write {
        name: name.to_string(),
        source,
    };
    match compression {
        Compression::None => {
            let mut out = out;
            produce(&mut out)?;
            Ok(out)
        }
        Compression::Gzip => {
            // flate2's default header has no time and no name: the same
            // input gives the same bytes.
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            produce(&mut gz)?;
            gz.finish().map_err(fail)
        }
        Compression::Xz => {
            let mut xz = liblzma::write::XzEncoder::new(out, 6);
            produce(&mut xz)?;
            xz.finish().map_err(fail)
        }
        Compression::Zstd => {
            // ruzstd compresses from a reader: the stream is written into
            // a pipe by a second thread.
            let (read, write) = nix::unistd::pipe().map_err(|e| Error::Pipe(e.into()))?;
            let mut drain = Drain { out, error: None };
            let written = std::thread::scope(|scope| {
                let writer = scope.spawn(|| {
                    let mut pipe = BufWriter::with_capacity(1 << 20, File::from(write));
                    produce(&mut pipe).and_then(|()| finish(pipe).map_err(Error::Pipe))
                });
                ruzstd::encoding::compress(
                    File::from(read),
                    &mut drain,
                    ruzstd::encoding::CompressionLevel::Fastest,
                );
                writer.join().unwrap_or(Err(Error::Panicked))
            });
            written?;
            match drain.error {
                Some(e) => Err(fail(e)),
                None => Ok(drain.out),
            }
        }
    }
}

fn finish(mut out: impl Write) -> io::Result<()> {
    out.flush()
}

/// A writer that keeps its first error instead of returning it (ruzstd
/// panics on write errors).
struct Drain<W: Write> {
    out: W,
    error: Option<io::Error>,
}

impl<W: Write> Write for Drain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(buf) {
                self.error = Some(e);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn archive<W: Write>(
    root: &Path,
    entries: &[Entry],
    clamp: Option<u64>,
    owners: &UnmappedOwners,
    out: W,
) -> Result<W, Error> {
    let mut builder = tar::Builder::new(out);
    let fail = |path: &Path, source: io::Error| Error::Archive {
        path: path.to_path_buf(),
        source,
    };
    let time = |t: i64| {
        let t = t.max(0) as u64;
        clamp.map_or(t, |c| t.min(c))
    };
    // The root itself first.
    let meta = std::fs::metadata(root).map_err(|e| fail(root, e))?;
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    fill(&mut header, &meta, time(meta.mtime()));
    builder
        .append_data(&mut header, "./", io::empty())
        .map_err(|e| fail(root, e))?;
    let mut first_names: std::collections::HashMap<(u64, u64), PathBuf> =
        std::collections::HashMap::new();
    for (parts, node) in entries {
        let mut rel = PathBuf::new();
        for part in parts {
            rel.push(OsStr::from_bytes(part));
        }
        let path = root.join(&rel);
        let mut header = tar::Header::new_gnu();
        let meta = match node {
            Node::Device(d) => {
                header.set_entry_type(tar::EntryType::Char);
                header.set_mode(d.mode);
                header.set_uid(0);
                header.set_gid(0);
                header.set_mtime(clamp.unwrap_or(0));
                header.set_size(0);
                header
                    .set_device_major(d.major)
                    .and_then(|()| header.set_device_minor(d.minor))
                    .map_err(|e| fail(&path, e))?;
                builder
                    .append_data(&mut header, &rel, io::empty())
                    .map_err(|e| fail(&path, e))?;
                continue;
            }
            Node::Disk(meta) => meta,
        };
        fill(&mut header, meta, time(meta.mtime()));
        if let Some((uid, gid)) = owners.get(&(meta.dev(), meta.ino())) {
            header.set_uid((*uid).into());
            header.set_gid((*gid).into());
        }
        let kind = meta.file_type();
        if kind.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            builder.append_data(&mut header, &rel, io::empty())
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| fail(&path, e))?;
            header.set_entry_type(tar::EntryType::Symlink);
            builder.append_link(&mut header, &rel, target)
        } else if kind.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = first_names.get(&key) {
                    header.set_entry_type(tar::EntryType::Link);
                    builder
                        .append_link(&mut header, &rel, first)
                        .map_err(|e| fail(&path, e))?;
                    continue;
                }
                first_names.insert(key, rel.clone());
            }
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(meta.len());
            let file = File::open(&path).map_err(|e| fail(&path, e))?;
            // Exactly the size in the header, even should the file change.
            let mut data = file.take(meta.len());
            builder.append_data(&mut header, &rel, &mut data)
        } else if kind.is_char_device() || kind.is_block_device() {
            header.set_entry_type(if kind.is_char_device() {
                tar::EntryType::Char
            } else {
                tar::EntryType::Block
            });
            let rdev = meta.rdev();
            header
                .set_device_major(libc::major(rdev))
                .and_then(|()| header.set_device_minor(libc::minor(rdev)))
                .map_err(|e| fail(&path, e))?;
            builder.append_data(&mut header, &rel, io::empty())
        } else if kind.is_fifo() {
            header.set_entry_type(tar::EntryType::Fifo);
            builder.append_data(&mut header, &rel, io::empty())
        } else {
            // Sockets have no tar form; a bootstrap leaves none.
            continue;
        }
        .map_err(|e| fail(&path, e))?;
    }
    builder.into_inner().map_err(|e| fail(root, e))
}

fn fill(header: &mut tar::Header, meta: &std::fs::Metadata, mtime: u64) {
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(meta.uid().into());
    header.set_gid(meta.gid().into());
    header.set_mtime(mtime);
    header.set_size(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_clamped_linked_with_devices() {
        let dir = std::env::temp_dir().join(format!("ns-bootstrap-tar-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::write(root.join("b/c/file"), "data").unwrap();
        std::fs::hard_link(root.join("b/c/file"), root.join("a-link")).unwrap();
        std::os::unix::fs::symlink("b/c/file", root.join("z")).unwrap();
        let out = dir.join("out.tar");
        let devices = [Device {
            path: "dev/null",
            major: 1,
            minor: 3,
            mode: 0o666,
        }];
        write(
            &root,
            &Sink::File(out.clone()),
            Compression::None,
            Some(1000),
            &devices,
            &UnmappedOwners::new(),
        )
        .unwrap();
        let first = std::fs::read(&out).unwrap();
        let mut archive = tar::Archive::new(&first[..]);
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert!(header.mtime().unwrap() <= 1000);
            seen.push((
                String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
                header.entry_type(),
            ));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["./", "a-link", "b", "b/c", "b/c/file", "dev", "dev/null", "z"]
        );
        assert_eq!(seen[1].1, tar::EntryType::Regular);
        assert_eq!(seen[4].1, tar::EntryType::Link);
        assert_eq!(seen[6].1, tar::EntryType::Char);
        assert_eq!(seen[7].1, tar::EntryType::Symlink);
        // Same tree, same bytes; also through each compressor.
        write(
            &root,
            &Sink::File(out.clone()),
            Compression::None,
            Some(1000),
            &devices,
            &UnmappedOwners::new(),
        )
        .unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), first);
        for compression in [Compression::Gzip, Compression::Xz, Compression::Zstd] {
            let packed = dir.join("packed");
            write(
                &root,
                &Sink::File(packed.clone()),
                compression,
                Some(1000),
                &devices,
                &UnmappedOwners::new(),
            )
            .unwrap();
            let data = std::fs::read(&packed).unwrap();
            let mut plain = Vec::new();
            compression
                .decoder(&data[..])
                .unwrap()
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, first, "{compression:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
