//! Local packages: `--include=./pkg.deb` or `/abs/pkg.deb`, as mmdebstrap
//! takes them. Each is read once here for its control file and its
//! SHA256, then resolved with the archive's packages (its dependencies
//! come from the mirror; an archive package of the same name gives way to
//! it) and unpacked from its own file, read in place.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::deb;

/// Why a local package cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--include {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("--include {path}: {source}")]
    Deb { path: String, source: deb::Error },
}

/// A local `.deb`, as the index needs it.
#[derive(Debug, Clone)]
pub struct LocalDeb {
    /// `file://` and its absolute path: where the fetch stage reads it.
    pub url: String,
    pub control: String,
    pub size: u64,
    pub sha256: String,
}

/// Whether an `--include` item names a file rather than a package (a
/// package name has no `/`; mmdebstrap's rule).
pub fn is_path(item: &str) -> bool {
    item.contains('/')
}

pub fn load(path: &str) -> Result<LocalDeb, Error> {
    let read_error = |source| Error::Read {
        path: path.to_string(),
        source,
    };
    let absolute = std::path::absolute(Path::new(path)).map_err(read_error)?;
    let mut file = std::fs::File::open(&absolute).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut file, &mut hasher).map_err(read_error)?;
    let file = std::fs::File::open(&absolute).map_err(read_error)?;
    let deb = deb::read(std::io::BufReader::new(file)).map_err(|source| Error::Deb {
        path: path.to_string(),
        source,
    })?;
    let (_, control) = deb
        .control
        .get("control")
        .expect("deb::read insists on a control file");
    let mut control = String::from_utf8_lossy(control).into_owned();
    if !control.ends_with('\n') {
        control.push('\n');
    }
    Ok(LocalDeb {
        url: format!("file://{}", absolute.display()),
        control,
        size,
        sha256: crate::download::hex(&hasher.finalize()),
    })
}
