//! Fetching from the mirror: one HTTP agent whose kept-alive connections
//! are shared by a few worker threads; every file is checked against its
//! expected SHA256 and size before it enters the cache, and a cached file
//! is checked again before use.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

/// Parallel downloads: enough to hide latency, few enough to be polite to
/// a mirror (apt uses one connection per host; mmdebstrap the same).
pub const WORKERS: usize = 6;

pub struct Http {
    agent: ureq::Agent,
}

/// What a conditional GET found.
pub enum Fetched {
    Body {
        data: Vec<u8>,
        last_modified: Option<String>,
    },
    NotModified,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(30))
            .timeout_read(Duration::from_secs(120))
            .max_idle_connections_per_host(WORKERS)
            .user_agent(concat!("ns-bootstrap/", env!("CARGO_PKG_VERSION")))
            .build();
        Http { agent }
    }

    fn request(&self, url: &str, since: Option<&str>) -> Result<ureq::Response, String> {
        let mut request = self.agent.get(url);
        if let Some(since) = since {
            request = request.set("If-Modified-Since", since);
        }
        match request.call() {
            Ok(response) => Ok(response),
            Err(ureq::Error::Status(code, response)) => {
                Err(format!("{url}: HTTP {code} {}", response.status_text()))
            }
            // ureq's transport errors name the URL themselves.
            Err(error) => Err(error.to_string()),
        }
    }

    /// GET, or nothing new when the server says the copy dated `since` is
    /// current.
    pub fn get_if_modified(&self, url: &str, since: Option<&str>) -> Result<Fetched, String> {
        let response = self.request(url, since)?;
        if response.status() == 304 {
            return Ok(Fetched::NotModified);
        }
        let last_modified = response.header("Last-Modified").map(str::to_string);
        let mut data = Vec::new();
        response
            .into_reader()
            .read_to_end(&mut data)
            .map_err(|e| format!("{url}: {e}"))?;
        Ok(Fetched::Body {
            data,
            last_modified,
        })
    }

    /// Streams `url` to `dest` (through `dest.partial`), hashing as it
    /// goes; the file appears under its name only when size and SHA256
    /// match.
    pub fn fetch_verified(
        &self,
        url: &str,
        dest: &Path,
        size: u64,
        sha256: &str,
        progress: &AtomicU64,
    ) -> Result<(), String> {
        let response = self.request(url, None)?;
        let partial = partial_name(dest);
        let mut file = File::create(&partial)
            .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
        let mut reader = response.into_reader().take(size + 1);
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = reader
                .read(&mut buffer)
                .map_err(|e| format!("{url}: {e}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n])
                .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
            total += n as u64;
            progress.fetch_add(n as u64, Ordering::Relaxed);
        }
        drop(file);
        let check = check_digest(total, &hex(&hasher.finalize()), size, sha256);
        if let Err(problem) = check {
            let _ = std::fs::remove_file(&partial);
            return Err(format!("{url}: {problem}"));
        }
        std::fs::rename(&partial, dest).map_err(|e| {
            format!(
                "cannot rename {} to {}: {e}",
                partial.display(),
                dest.display()
            )
        })
    }
}

/// A name no other writer uses: several ns-bootstrap runs may share the
/// cache, and a rename into place is atomic.
fn partial_name(dest: &Path) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let mut name = dest.as_os_str().to_owned();
    name.push(format!(
        ".partial.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    PathBuf::from(name)
}

/// Writes a cache file atomically (a concurrent reader sees the old file
/// or the new one, never a part). Failing to cache is not an error.
pub fn cache_write(dest: &Path, data: &[u8]) {
    let partial = partial_name(dest);
    if std::fs::write(&partial, data).is_ok() && std::fs::rename(&partial, dest).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&partial);
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
) -> Result<(), String> {
    if size != want_size {
        return Err(format!("size {size} where {want_size} was expected"));
    }
    if !sha256.eq_ignore_ascii_case(want_sha256) {
        return Err(format!(
            "SHA256 {sha256} differs from the index's {want_sha256}"
        ));
    }
    Ok(())
}

/// Whether a cached file is the one wanted (size, then SHA256).
pub fn cached_ok(path: &Path, size: u64, sha256: &str) -> bool {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == size => {}
        _ => return false,
    }
    let Ok(mut file) = File::open(path) else {
        return false;
    };
    let mut hasher = Sha256::new();
    if std::io::copy(&mut file, &mut hasher).is_err() {
        return false;
    }
    hex(&hasher.finalize()).eq_ignore_ascii_case(sha256)
}

/// One file to have in the cache.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    pub dest: PathBuf,
    pub size: u64,
    pub sha256: String,
    /// For messages: the package name.
    pub label: String,
}

/// Counters a progress display reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub files_done: AtomicUsize,
    pub files_fetched: AtomicUsize,
}

/// Makes every job's file present and verified: a verified cached copy is
/// kept, anything else is fetched. All failures are collected.
pub fn fetch_all(
    http: &Http,
    jobs: &[Job],
    counters: &Counters,
    on_fetch: &(dyn Fn(&Job) + Sync),
) -> Result<(), Vec<String>> {
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS.min(jobs.len()) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(index) else { break };
                if cached_ok(&job.dest, job.size, &job.sha256) {
                    counters.bytes.fetch_add(job.size, Ordering::Relaxed);
                } else {
                    on_fetch(job);
                    let result = http.fetch_verified(
                        &job.url,
                        &job.dest,
                        job.size,
                        &job.sha256,
                        &counters.bytes,
                    );
                    if let Err(error) = result {
                        errors
                            .lock()
                            .expect("no panic holds the lock")
                            .push(format!("package {}: download: {error}", job.label));
                        continue;
                    }
                    counters.files_fetched.fetch_add(1, Ordering::Relaxed);
                }
                counters.files_done.fetch_add(1, Ordering::Relaxed);
            });
        }
    });
    let errors = errors.into_inner().expect("no panic holds the lock");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
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
        assert!(check_digest(4, &hash, 3, &hash)
            .unwrap_err()
            .contains("size"));
        assert!(check_digest(3, &hash, 3, &"0".repeat(64))
            .unwrap_err()
            .contains("SHA256"));
    }

    #[test]
    fn cache_check() {
        let path = std::env::temp_dir().join(format!("ns-bootstrap-cache-{}", std::process::id()));
        std::fs::write(&path, b"abc").unwrap();
        let hash = sha256_hex(b"abc");
        assert!(cached_ok(&path, 3, &hash));
        assert!(!cached_ok(&path, 4, &hash));
        assert!(!cached_ok(&path, 3, &sha256_hex(b"abd")));
        std::fs::remove_file(&path).unwrap();
        assert!(!cached_ok(&path, 3, &hash));
    }
}
