//! The certificate authorities an https mirror is checked against: the
//! system's, as OpenSSL finds them. `SSL_CERT_FILE` (a PEM bundle) and
//! `SSL_CERT_DIR` (a directory of PEM files) when set, else Debian's
//! bundle `/etc/ssl/certs/ca-certificates.crt`. TLS only protects the
//! transport: the Release signature stays what the archive is trusted by.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// Debian's bundle of the system's authorities (ca-certificates).
const DEBIAN_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no certificate authority found in {0} (set SSL_CERT_FILE or SSL_CERT_DIR, or install ca-certificates)")]
    NoAuthorities(String),
    #[error("TLS set-up: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The files the authorities are read from.
fn sources() -> Vec<PathBuf> {
    let file = std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty());
    let dir = std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty());
    if file.is_none() && dir.is_none() {
        return vec![PathBuf::from(DEBIAN_BUNDLE)];
    }
    let mut out: Vec<PathBuf> = file.into_iter().map(PathBuf::from).collect();
    if let Some(dir) = dir {
        // OpenSSL takes a colon-separated list of directories.
        for dir in std::env::split_paths(&dir) {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|d| d.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            files.sort();
            out.extend(files);
        }
    }
    out
}

/// Every certificate in PEM files (others, and unreadable ones, skipped:
/// a certificate directory holds hash links and more).
fn certificates(files: &[PathBuf]) -> Vec<CertificateDer<'static>> {
    let mut out = Vec::new();
    for file in files {
        if let Ok(iter) = CertificateDer::pem_file_iter(Path::new(file)) {
            out.extend(iter.flatten());
        }
    }
    out
}

/// A client configuration that trusts the system's authorities.
pub fn client_config() -> Result<Arc<rustls::ClientConfig>, Error> {
    let files = sources();
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates(&files));
    if added == 0 {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Err(Error::NoAuthorities(names.join(", ")));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
