//! The compressions ns-bootstrap reads (package members, Packages indexes,
//! offline tarballs) and writes (tarball targets), chosen by a type rather
//! than by a file name made up for the purpose.

use std::io::{self, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Zstd,
}

impl Compression {
    /// What a tarball's name says: `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/
    /// `.txz`, `.tar.zst`/`.tzst`; `None` for anything else.
    pub fn from_tarball_name(name: &str) -> Option<Compression> {
        [
            (".tar", Compression::None),
            (".tar.gz", Compression::Gzip),
            (".tgz", Compression::Gzip),
            (".tar.xz", Compression::Xz),
            (".txz", Compression::Xz),
            (".tar.zst", Compression::Zstd),
            (".tzst", Compression::Zstd),
        ]
        .into_iter()
        .find(|(suffix, _)| name.ends_with(suffix))
        .map(|(_, c)| c)
    }

    /// What a `.deb` member's name says (`data.tar.xz`, `control.tar`):
    /// deb(5) allows exactly these.
    pub fn from_member_name(name: &str) -> Option<Compression> {
        match name.rsplit_once('.') {
            Some((_, "tar")) => Some(Compression::None),
            Some((_, "gz")) => Some(Compression::Gzip),
            Some((_, "xz")) => Some(Compression::Xz),
            Some((_, "zst")) => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// A reader that decompresses `input` as it is read.
    pub fn decoder<'a>(self, input: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(input)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new(input)),
            Compression::Zstd => {
                Box::new(ruzstd::decoding::StreamingDecoder::new(input).map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("bad zstd stream: {e}"))
                })?)
            }
        })
    }
}

/// A reader that fails, rather than ends, when its input holds more than
/// `limit` bytes: what a size from a signed index promises is a bound on
/// memory, and more data is an error to name, not to truncate silently.
pub struct Limited<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Limited<R> {
    pub fn new(inner: R, limit: u64) -> Self {
        Limited {
            inner,
            left: limit,
            limit,
        }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more than allowed is enough to know.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("more than {} bytes", self.limit),
                )),
            };
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            Compression::from_tarball_name("a.tar.zst"),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_tarball_name("a.txt"), None);
        assert_eq!(
            Compression::from_member_name("data.tar.xz"),
            Some(Compression::Xz)
        );
        assert_eq!(
            Compression::from_member_name("control.tar"),
            Some(Compression::None)
        );
        assert_eq!(Compression::from_member_name("data.tar.bz2"), None);
    }

    #[test]
    fn limits_are_errors_not_truncation() {
        let mut out = Vec::new();
        Limited::new(&b"abc"[..], 3).read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        let error = Limited::new(&b"abcd"[..], 3)
            .read_to_end(&mut Vec::new())
            .unwrap_err();
        assert!(error.to_string().contains("more than 3 bytes"));
    }
}
