//! The packages, from the mirror (through [`crate::transport`]) by a few
//! worker threads: every file is checked against its expected SHA256 and
//! size before it enters the cache, and a cached file is checked again
//! before use.
//!
//! The package cache is keyed by content (`debs/SHA256.deb`): two
//! packages whose file names collide never share an entry. Each package's
//! file is hashed once, through the descriptor that is then handed on, so
//! the bytes unpacked are the bytes verified (nothing is looked up again
//! by path after the check).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Why a file is not what was wanted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("size {got} where {want} was expected")]
    Size { got: u64, want: u64 },
    #[error("SHA256 {got} differs from the index's {want}")]
    Sha256 { got: String, want: String },
}

pub use crate::transport::{Error, Fetched, Fetcher, WORKERS};

/// A package's bytes as they arrive: into a private file in the cache,
/// hashed as they go.
struct Partial<'a> {
    path: &'a Path,
    file: File,
    hasher: Sha256,
    total: u64,
    progress: &'a AtomicU64,
}

impl crate::transport::Sink for Partial<'_> {
    fn write(&mut self, data: &[u8]) -> Result<(), Error> {
        self.file.write_all(data).map_err(|source| Error::Cache {
            what: "write",
            path: self.path.to_path_buf(),
            source,
        })?;
        self.hasher.update(data);
        self.total += data.len() as u64;
        self.progress
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn restart(&mut self) -> Result<(), Error> {
        self.progress.fetch_sub(self.total, Ordering::Relaxed);
        self.total = 0;
        self.hasher = Sha256::new();
        self.file
            .set_len(0)
            .and_then(|()| self.file.rewind())
            .map_err(|source| Error::Cache {
                what: "truncate",
                path: self.path.to_path_buf(),
                source,
            })
    }
}

/// Streams `url` into a new private file in `dir`, hashing as it goes;
/// the file is returned (rewound) only when size and SHA256 match, and
/// removed otherwise.
fn fetch_verified(
    fetcher: &Fetcher,
    url: &str,
    dir: &Path,
    size: u64,
    sha256: &str,
    progress: &AtomicU64,
) -> Result<(PathBuf, File), Error> {
    let (partial, file) =
        crate::rooted::make_private_file(dir, ".partial-", "").map_err(|source| Error::Cache {
            what: "create a file in",
            path: dir.to_path_buf(),
            source,
        })?;
    let mut sink = Partial {
        path: &partial,
        file,
        hasher: Sha256::new(),
        total: 0,
        progress,
    };
    let written = fetcher.stream(url, size, &mut sink).and_then(|()| {
        check_digest(
            sink.total,
            &hex(&sink.hasher.clone().finalize()),
            size,
            sha256,
        )
        .map_err(|mismatch| Error::Mismatch {
            url: url.to_string(),
            mismatch,
        })?;
        sink.file.rewind().map_err(|source| Error::Cache {
            what: "read",
            path: partial.clone(),
            source,
        })
    });
    match written {
        Ok(()) => Ok((partial.clone(), sink.file)),
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Writes a cache file atomically (a concurrent reader sees the old file
/// or the new one, never a part), through a private file beside it.
/// Failing to cache is not an error.
pub fn cache_write(dest: &Path, data: &[u8]) {
    let Some(dir) = dest.parent() else { return };
    let Ok((partial, mut file)) = crate::rooted::make_private_file(dir, ".partial-", "") else {
        return;
    };
    let written = file
        .write_all(data)
        .and_then(|()| file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644)));
    if written.is_ok() && std::fs::rename(&partial, dest).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&partial);
}

/// Reads a cache file of exactly `size` bytes (a bound checked before
/// anything is read); `None` when it is missing or of another size.
pub fn cache_read(path: &Path, size: u64) -> Option<Vec<u8>> {
    let file = File::open(path).ok()?;
    if file.metadata().ok()?.len() != size {
        return None;
    }
    let mut data = Vec::with_capacity(size as usize);
    file.take(size).read_to_end(&mut data).ok()?;
    Some(data)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Size first (cheap, and names the usual truncation), then the hash.
pub fn check_digest(
    size: u64,
    sha256: &str,
    want_size: u64,
    want_sha256: &str,
) -> Result<(), Mismatch> {
    if size != want_size {
        return Err(Mismatch::Size {
            got: size,
            want: want_size,
        });
    }
    if !sha256.eq_ignore_ascii_case(want_sha256) {
        return Err(Mismatch::Sha256 {
            got: sha256.to_string(),
            want: want_sha256.to_string(),
        });
    }
    Ok(())
}

/// The cached copy, opened once and verified through that descriptor;
/// rewound for the caller. `None` when missing or not the one wanted.
pub fn open_cached(path: &Path, size: u64, sha256: &str) -> Option<File> {
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || meta.len() != size {
        return None;
    }
    let mut hasher = Sha256::new();
    std::io::copy(&mut (&mut file).take(size), &mut hasher).ok()?;
    if !hex(&hasher.finalize()).eq_ignore_ascii_case(sha256) {
        return None;
    }
    file.rewind().ok()?;
    Some(file)
}

/// One file to have in the cache.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    /// Where it is cached: named by its SHA256.
    pub dest: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// For messages: the package name.
    pub label: String,
}

impl Job {
    /// A package at `filename` in `mirror`, cached in `cache/debs`.
    pub fn package(
        mirror: &str,
        cache: &Path,
        filename: &str,
        size: u64,
        sha256: &str,
        label: &str,
    ) -> Job {
        let sha256 = sha256.to_ascii_lowercase();
        // A local package (`--include=./pkg.deb`) is its own URL.
        let url = if filename.starts_with("file://") {
            filename.to_string()
        } else {
            format!("{mirror}/{filename}")
        };
        Job {
            url,
            dest: cache.join("debs").join(format!("{sha256}.deb")),
            size,
            sha256,
            label: label.to_string(),
        }
    }
}

/// A chosen package and its verified bytes, open: what the fetch stage
/// hands to unpacking (or to --download-only and --make-tarball).
pub struct Verified<'a> {
    pub package: &'a crate::packages::Package<'a>,
    pub file: File,
}

/// Counters a progress display reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub files_done: AtomicUsize,
    pub files_fetched: AtomicUsize,
}

/// A package that could not be fetched.
#[derive(Debug, thiserror::Error)]
#[error("package {package}: download: {source}")]
pub struct Failed {
    pub package: String,
    pub source: Error,
}

/// Makes every job's file present and verified: a verified cached copy is
/// kept, a `file://` mirror's file is used in place (nothing copied),
/// anything else is fetched. Returns each job's file, open and rewound,
/// in job order; all failures are collected.
pub fn fetch_all(
    fetcher: &Fetcher,
    jobs: &[Job],
    counters: &Counters,
    on_fetch: &(dyn Fn(&Job) + Sync),
) -> Result<Vec<File>, Vec<Failed>> {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let files: Vec<Mutex<Option<File>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(jobs.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { break };
                if let Some(path) = crate::transport::local_path(&job.url) {
                    match open_cached(&path, job.size, &job.sha256) {
                        Some(file) => {
                            counters.bytes.fetch_add(job.size, Ordering::Relaxed);
                            *files[index].lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
                            counters.files_done.fetch_add(1, Ordering::Relaxed);
                        }
                        None => errors
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push(Failed {
                                package: job.label.clone(),
                                source: Error::Read {
                                    url: job.url.clone(),
                                    source: std::io::Error::new(
                                        std::io::ErrorKind::InvalidData,
                                        "missing, or not the size and SHA256 the index gives",
                                    ),
                                },
                            }),
                    }
                    continue;
                }
                let file = match open_cached(&job.dest, job.size, &job.sha256) {
                    Some(file) => {
                        counters.bytes.fetch_add(job.size, Ordering::Relaxed);
                        file
                    }
                    None => {
                        on_fetch(job);
                        let dir = job.dest.parent().unwrap_or(Path::new("."));
                        let result = fetch_verified(
                            fetcher,
                            &job.url,
                            dir,
                            job.size,
                            &job.sha256,
                            &counters.bytes,
                        )
                        .and_then(|(partial, file)| {
                            // Another run may have put the same bytes
                            // there meanwhile: either copy will do.
                            std::fs::rename(&partial, &job.dest)
                                .map(|()| file)
                                .map_err(|source| {
                                    let _ = std::fs::remove_file(&partial);
                                    Error::Cache {
                                        what: "rename into",
                                        path: job.dest.clone(),
                                        source,
                                    }
                                })
                        });
                        match result {
                            Ok(file) => {
                                counters.files_fetched.fetch_add(1, Ordering::Relaxed);
                                file
                            }
                            Err(source) => {
                                errors
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .push(Failed {
                                        package: job.label.clone(),
                                        source,
                                    });
                                continue;
                            }
                        }
                    }
                };
                *files[index].lock().unwrap_or_else(|p| p.into_inner()) = Some(file);
                counters.files_done.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(files
        .into_iter()
        .map(|f| {
            f.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every job without an error has its file")
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_checks() {
        let hash = sha256_hex(b"abc");
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(check_digest(3, &hash, 3, &hash.to_uppercase()).is_ok());
        assert_eq!(
            check_digest(4, &hash, 3, &hash),
            Err(Mismatch::Size { got: 4, want: 3 })
        );
        assert!(check_digest(3, &hash, 3, &"0".repeat(64))
            .unwrap_err()
            .to_string()
            .contains("SHA256"));
    }

    #[test]
    fn cache_check() {
        let dir =
            crate::rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-cache-").unwrap();
        let path = dir.join("x.deb");
        std::fs::write(&path, b"abc").unwrap();
        let hash = sha256_hex(b"abc");
        let mut file = open_cached(&path, 3, &hash).unwrap();
        let mut read = Vec::new();
        file.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"abc");
        assert!(open_cached(&path, 4, &hash).is_none());
        assert!(open_cached(&path, 3, &sha256_hex(b"abd")).is_none());
        // A symlink in the cache is not followed.
        std::os::unix::fs::symlink(&path, dir.join("link.deb")).unwrap();
        assert!(open_cached(&dir.join("link.deb"), 3, &hash).is_none());
        std::fs::remove_file(&path).unwrap();
        assert!(open_cached(&path, 3, &hash).is_none());
        cache_write(&path, b"new");
        assert_eq!(cache_read(&path, 3).unwrap(), b"new");
        assert!(cache_read(&path, 4).is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn colliding_file_names_have_their_own_entries() {
        let cache = Path::new("/cache");
        let a = Job::package(
            "http://m",
            cache,
            "pool/a/x_1_all.deb",
            1,
            &"A".repeat(64),
            "a",
        );
        let b = Job::package(
            "http://m",
            cache,
            "pool/b/x_1_all.deb",
            1,
            &"b".repeat(64),
            "b",
        );
        assert_ne!(a.dest, b.dest);
        assert_eq!(
            a.dest,
            Path::new("/cache/debs").join(format!("{}.deb", "a".repeat(64)))
        );
    }
}
