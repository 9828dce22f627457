//! The archive's indexes, the first stage of a bootstrap: the signed
//! InRelease, then each component's Packages index checked against it.
//!
//! What the mirror sends is untrusted until checked, and the cache must
//! never make a run trust less than it would without it:
//! - InRelease is read up to 10 MB (apt's cap) and enters the cache only
//!   once its signature verifies; the cached copy is verified again on
//!   every run (the keyring may have changed).
//! - The conditional request asks "modified since the cached Release's
//!   own `Date:`", a signed time, not the server's `Last-Modified`: a
//!   304 then means the mirror's file is no newer than the release we
//!   hold, so the cache never makes a run use an older release than an
//!   empty cache would (a replayed old InRelease with a far-future
//!   `Last-Modified` cannot pin later runs).
//! - A Release older than the verified one in the cache is refused, as
//!   apt refuses one older than it has; past its `Valid-Until` it is a
//!   warning (debootstrap's leniency: mirrors frozen at a date, such as
//!   snapshots, must keep working) or, with `--check-valid-until`, an
//!   error as apt makes it.
//! - A Packages index is fetched up to the size the Release gives (itself
//!   bounded), its hash checked before it is decompressed, and the
//!   decompressed text bounded and checked again.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::compression::{Compression, Limited};
use crate::download::{self, Fetched, Fetcher, Mismatch};
use crate::gpg;
use crate::progress::Reporter;
use crate::release::{self, Release};

/// Why the indexes were refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no suite '{suite}' on {mirror}: {source}")]
    NoSuite {
        suite: String,
        mirror: String,
        source: Box<download::Error>,
    },
    #[error("{0}")]
    Download(Box<download::Error>),
    #[error("{url}: InRelease is not text")]
    NotText { url: String },
    #[error("{url}: {source}")]
    ClearSigned { url: String, source: release::Error },
    #[error("cannot read keyring {path}: {source}")]
    KeyringRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("keyring {path}: {source}")]
    Keyring { path: PathBuf, source: gpg::Error },
    #[error("Release signature of {suite}: {source}")]
    Signature { suite: String, source: gpg::Error },
    #[error("{0}")]
    Release(#[from] release::Error),
    #[error("the Release file is for {codename} ({suite}), not {asked}")]
    WrongSuite {
        codename: String,
        suite: String,
        asked: String,
    },
    #[error("{suite} has no architecture {arch} (it has {have})")]
    NoArchitecture {
        suite: String,
        arch: String,
        have: String,
    },
    #[error(
        "{url}: the Release is dated {new}, older than the one already verified ({old}): \
         refused, as apt refuses a Release older than the one it has (remove {} to accept it)",
        cache.display()
    )]
    Older {
        url: String,
        new: String,
        old: String,
        cache: PathBuf,
    },
    #[error("the Release file of {suite} expired on {until} (Valid-Until): refused (--check-valid-until)")]
    Expired { suite: String, until: String },
    #[error("the Release file of {suite} does not list {path}")]
    NotListed { suite: String, path: String },
    #[error("{path}: {size} bytes, more than ns-bootstrap accepts for an index ({MAX_INDEX})")]
    TooLarge { path: String, size: u64 },
    #[error("{path}: {source}")]
    Fetch {
        path: String,
        source: Box<download::Error>,
    },
    #[error("{path}: {mismatch}")]
    Mismatch { path: String, mismatch: Mismatch },
    #[error("{path}: {source}")]
    Decompress {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not text")]
    PackagesNotText { path: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// apt's limit for an InRelease file.
pub const MAX_INRELEASE: u64 = 10 << 20;

/// The largest Packages index accepted, compressed or not (Debian's
/// largest, sid's amd64 main, is under 100 MB): a bound on memory that no
/// Release, signed or not, can raise.
pub const MAX_INDEX: u64 = 256 << 20;

/// Whether the InRelease signature is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpgCheck {
    /// Checked; debootstrap would skip an unreadable keyring with a
    /// warning, we refuse instead (a bootstrap must be verified).
    #[default]
    Check,
    Skip,
    Force,
}

/// Where the indexes come from and how they are checked.
pub struct Source<'a> {
    pub http: &'a Fetcher,
    pub reporter: &'a Reporter,
    pub mirror: &'a str,
    /// The cache directory (its `lists/` holds the indexes).
    pub cache: &'a Path,
    pub suite: &'a str,
    pub arch: &'a str,
    pub components: &'a [String],
    pub gpg: GpgCheck,
    pub keyring: &'a Path,
    pub check_valid_until: bool,
    /// --unpack-tarball: InRelease from the cache (`lists/InRelease`),
    /// never from the mirror.
    pub offline: bool,
    /// --make-tarball: keep the files as read.
    pub keep_files: bool,
    /// An extra suite need not have every component (apt skips what a
    /// Release does not list).
    pub optional_components: bool,
}

/// The verified Release and each component's Packages text.
pub struct Indexes {
    pub release: Release,
    /// (component, Packages text).
    pub texts: Vec<(String, String)>,
    /// The files as read, for --make-tarball (empty otherwise): (name in
    /// the cache's lists, content).
    pub files: Vec<(String, Vec<u8>)>,
}

impl Source<'_> {
    pub fn fetch(&self) -> Result<Indexes, Error> {
        let (release, in_release) = self.in_release()?;
        let mut files = Vec::new();
        if self.keep_files {
            files.push(("InRelease".to_string(), in_release));
        }
        let mut texts = Vec::new();
        for component in self.components {
            let listed = release
                .file(&format!("{component}/binary-{}/Packages", self.arch))
                .is_some();
            if self.optional_components && !listed {
                self.reporter.detail(&format!(
                    "{} has no {component} component: skipped",
                    self.suite
                ));
                continue;
            }
            let (name, text) = self.packages(&release, component)?;
            if self.keep_files {
                files.push((name, text.clone().into_bytes()));
            }
            texts.push((component.clone(), text));
        }
        Ok(Indexes {
            release,
            texts,
            files,
        })
    }

    fn url(&self) -> String {
        format!("{}/dists/{}/InRelease", self.mirror, self.suite)
    }

    /// The cache's name for this mirror and suite's InRelease.
    fn cached_in_release(&self) -> PathBuf {
        let key: String = format!("{}_{}", self.mirror, self.suite)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.cache.join("lists").join(format!("{key}_InRelease"))
    }

    fn in_release(&self) -> Result<(Release, Vec<u8>), Error> {
        let url = self.url();
        let r = self.reporter;
        r.info(&format!("Retrieving InRelease of {}", self.suite));
        if self.offline {
            let path = self.cache.join("lists/InRelease");
            let data = read_bounded(&path, MAX_INRELEASE)?;
            let release = self.check(&url, &data, true)?;
            return Ok((release, data));
        }
        let cache_path = self.cached_in_release();
        // Only a verified copy is ever cached, and the signature is
        // checked again now; a copy that fails is no cache at all. Without
        // a signature check there is nothing verified to keep.
        // A file:// mirror is read in place: nothing of it is cached.
        let local = crate::transport::local_path(self.mirror).is_some();
        let cached = match self.gpg {
            GpgCheck::Skip => None,
            _ if local => None,
            _ => read_bounded(&cache_path, MAX_INRELEASE)
                .ok()
                .and_then(|data| Some((self.check(&url, &data, false).ok()?, data))),
        };
        let since = cached
            .as_ref()
            .and_then(|(release, _)| release.date)
            .map(release::http_date);
        let fetched = self
            .http
            .get_if_modified(&url, since.as_deref(), MAX_INRELEASE)
            .map_err(|e| match e.status() {
                Some(404) => Error::NoSuite {
                    suite: self.suite.to_string(),
                    mirror: self.mirror.to_string(),
                    source: Box::new(e),
                },
                _ => Error::Download(Box::new(e)),
            })?;
        match (fetched, cached) {
            (Fetched::NotModified, Some((_, data))) => {
                // The same checks, with their messages, for the copy used.
                let release = self.check(&url, &data, true)?;
                Ok((release, data))
            }
            (Fetched::NotModified, None) => {
                Err(Error::Download(Box::new(download::Error::Unexpected304 {
                    url,
                })))
            }
            (Fetched::Body(data), cached) => {
                let release = self.check(&url, &data, true)?;
                if let Some((held, _)) = &cached {
                    if let (Some(old), Some(new)) = (held.date, release.date) {
                        if new < old {
                            return Err(Error::Older {
                                url,
                                new: release::http_date(new),
                                old: release::http_date(old),
                                cache: cache_path,
                            });
                        }
                    }
                }
                if self.gpg != GpgCheck::Skip && !local {
                    download::cache_write(&cache_path, &data);
                }
                Ok((release, data))
            }
        }
    }

    /// Signature (unless --no-check-gpg), then the fields; `report` says
    /// whether this is the copy the run uses (its messages are shown).
    fn check(&self, url: &str, data: &[u8], report: bool) -> Result<Release, Error> {
        let r = self.reporter;
        let text = std::str::from_utf8(data).map_err(|_| Error::NotText {
            url: url.to_string(),
        })?;
        let signed = release::split_clearsigned(text).map_err(|source| Error::ClearSigned {
            url: url.to_string(),
            source,
        })?;
        if self.gpg == GpgCheck::Skip {
            if report {
                r.warn("Not checking the Release signature (--no-check-gpg)");
            }
        } else {
            if report {
                r.info("Checking Release signature");
            }
            let keyring_data =
                std::fs::read(self.keyring).map_err(|source| Error::KeyringRead {
                    path: self.keyring.to_path_buf(),
                    source,
                })?;
            let keyring = gpg::Keyring::parse(&keyring_data).map_err(|source| Error::Keyring {
                path: self.keyring.to_path_buf(),
                source,
            })?;
            let fingerprint = keyring
                .verify(&signed.canonical, &signed.signature_armor)
                .map_err(|source| match source {
                    // Known once the keys were checked: the keyring's fault.
                    gpg::Error::NoUsableKey => Error::Keyring {
                        path: self.keyring.to_path_buf(),
                        source,
                    },
                    source => Error::Signature {
                        suite: self.suite.to_string(),
                        source,
                    },
                })?;
            if report {
                r.info(&format!(
                    "Valid Release signature (key id {})",
                    gpg::hex(&fingerprint)
                ));
            }
        }
        let release = release::parse_release(&signed.text)?;
        if !release.answers_to(self.suite) {
            return Err(Error::WrongSuite {
                codename: release.codename,
                suite: release.suite,
                asked: self.suite.to_string(),
            });
        }
        if !release.architectures.is_empty()
            && !release.architectures.iter().any(|a| a == self.arch)
        {
            return Err(Error::NoArchitecture {
                suite: self.suite.to_string(),
                arch: self.arch.to_string(),
                have: release.architectures.join(" "),
            });
        }
        if report {
            self.check_valid_until(&release)?;
        }
        Ok(release)
    }

    fn check_valid_until(&self, release: &Release) -> Result<(), Error> {
        let Some(until) = release.valid_until else {
            return Ok(());
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if now <= until {
            return Ok(());
        }
        let expired = format!(
            "the Release file of {} expired on {} (Valid-Until)",
            self.suite,
            release::http_date(until)
        );
        if self.check_valid_until {
            Err(Error::Expired {
                suite: self.suite.to_string(),
                until: release::http_date(until),
            })
        } else {
            self.reporter.warn(&format!(
                "{expired}; used anyway, as debootstrap does (--check-valid-until refuses it)"
            ));
            Ok(())
        }
    }

    /// One component's Packages index: from the cache when its hash is
    /// known and matches, else the smallest compressed form the Release
    /// lists. Returns its name in the cache's lists and its text.
    fn packages(&self, release: &Release, component: &str) -> Result<(String, String), Error> {
        let r = self.reporter;
        let suite = self.suite;
        let plain_path = format!("{component}/binary-{}/Packages", self.arch);
        let plain = release.file(&plain_path).ok_or_else(|| Error::NotListed {
            suite: suite.to_string(),
            path: plain_path.clone(),
        })?;
        check_size(&plain_path, plain.size)?;
        let name = format!("{}.Packages", plain.sha256);
        let cached = self.cache.join("lists").join(&name);
        // Read once, then check what was read: the cache may be shared.
        let local = crate::transport::local_path(self.mirror).is_some();
        if let Some(data) = download::cache_read(&cached, plain.size).filter(|_| !local) {
            let digest = download::sha256_hex(&data);
            if download::check_digest(data.len() as u64, &digest, plain.size, &plain.sha256).is_ok()
            {
                r.detail(&format!("Using cached {plain_path}"));
                return text(&plain_path, data).map(|text| (name, text));
            }
        }
        r.info(&format!("Retrieving {plain_path}"));
        let (compressed, compression) = [
            (".xz", Compression::Xz),
            (".gz", Compression::Gzip),
            ("", Compression::None),
        ]
        .iter()
        .find_map(|(suffix, compression)| {
            release
                .file(&format!("{plain_path}{suffix}"))
                .map(|f| (f, *compression))
        })
        .expect("the plain file itself is listed");
        check_size(&compressed.path, compressed.size)?;
        let url = if release.acquire_by_hash {
            format!(
                "{}/dists/{suite}/{component}/binary-{}/by-hash/SHA256/{}",
                self.mirror, self.arch, compressed.sha256
            )
        } else {
            format!("{}/dists/{suite}/{}", self.mirror, compressed.path)
        };
        let fetch_error = |source| Error::Fetch {
            path: compressed.path.clone(),
            source: Box::new(source),
        };
        let data = match self
            .http
            .get_if_modified(&url, None, compressed.size)
            .map_err(fetch_error)?
        {
            Fetched::Body(data) => data,
            Fetched::NotModified => {
                return Err(fetch_error(download::Error::Unexpected304 { url }))
            }
        };
        r.info(&format!("Validating {}", compressed.path));
        download::check_digest(
            data.len() as u64,
            &download::sha256_hex(&data),
            compressed.size,
            &compressed.sha256,
        )
        .map_err(|mismatch| Error::Mismatch {
            path: compressed.path.clone(),
            mismatch,
        })?;
        let decompress_error = |source| Error::Decompress {
            path: compressed.path.clone(),
            source,
        };
        let mut plain_data = Vec::with_capacity(plain.size as usize);
        let decoder = compression.decoder(&data[..]).map_err(decompress_error)?;
        Limited::new(decoder, plain.size)
            .read_to_end(&mut plain_data)
            .map_err(decompress_error)?;
        download::check_digest(
            plain_data.len() as u64,
            &download::sha256_hex(&plain_data),
            plain.size,
            &plain.sha256,
        )
        .map_err(|mismatch| Error::Mismatch {
            path: plain_path.clone(),
            mismatch,
        })?;
        if !local {
            download::cache_write(&cached, &plain_data);
        }
        text(&plain_path, plain_data).map(|text| (name, text))
    }
}

/// A size from the Release, bounded before anything is allocated for it.
fn check_size(path: &str, size: u64) -> Result<(), Error> {
    if size > MAX_INDEX {
        return Err(Error::TooLarge {
            path: path.to_string(),
            size,
        });
    }
    Ok(())
}

fn text(path: &str, data: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(data).map_err(|_| Error::PackagesNotText {
        path: path.to_string(),
    })
}

/// A whole file of at most `limit` bytes.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    let fail = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(fail)?;
    // Sized once: grown by doubling, a 50 MB index would pass through
    // 32 and 64 MB buffers at the same time.
    let length = file.metadata().map_err(fail)?.len();
    let mut data = Vec::with_capacity(length.min(limit) as usize + 1);
    Limited::new(file, limit)
        .read_to_end(&mut data)
        .map_err(fail)?;
    Ok(data)
}
