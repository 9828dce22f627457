//! The `.deb` container: an `ar` archive with `debian-binary`, a control
//! tarball and a data tarball, each possibly compressed (deb(5)).
//!
//! Read as a stream: the control files (small) are kept, the data tarball
//! is handed on as a reader that decompresses as it is read, so a package
//! never has to fit in memory, whatever its headers claim.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::compression::{Compression, Limited};

/// Control files by name (`control`, `md5sums`, `postinst`, …) with their
/// modes.
pub type ControlFiles = BTreeMap<String, (u32, Vec<u8>)>;

/// The most a control tarball may hold, compressed or not. Real ones are a
/// few KiB (a large package's debconf templates, a few hundred); this only
/// bounds memory.
pub const MAX_CONTROL: u64 = 64 << 20;

/// Why a `.deb` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not an ar archive (bad magic)")]
    NotAr,
    #[error("not a Debian binary package (no debian-binary 2.x)")]
    NotDebian,
    #[error("ar archive: {0}")]
    Read(io::Error),
    #[error("bad ar member header")]
    BadHeader,
    #[error("truncated ar member header")]
    TruncatedHeader,
    #[error("ar member {name} of {size} bytes is too large")]
    TooLarge { name: String, size: u64 },
    #[error("truncated ar member {0}")]
    Truncated(String),
    #[error("unexpected ar member '{0}'")]
    Unexpected(String),
    #[error("{0}: unsupported compression")]
    Compression(String),
    #[error("{member}: {source}")]
    Member { member: String, source: io::Error },
    #[error("{member}: '{name}' is not a control file name")]
    ControlName { member: String, name: String },
    #[error("control.tar has no control file")]
    NoControlFile,
    #[error("no control.tar member")]
    NoControl,
    #[error("no data.tar member")]
    NoData,
}

/// A `.deb` being read: its control files, and its data tarball still to
/// be streamed.
pub struct Deb<'a> {
    pub control: ControlFiles,
    pub data: Box<dyn Read + 'a>,
}

/// One ar member header: its name and size.
fn member_header(input: &mut impl Read) -> Result<Option<(String, u64)>, Error> {
    let mut header = [0u8; 60];
    let mut got = 0;
    while got < header.len() {
        match input.read(&mut header[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Read(e)),
        }
    }
    match got {
        0 => return Ok(None),
        60 => {}
        _ => return Err(Error::TruncatedHeader),
    }
    if &header[58..60] != b"`\n" {
        return Err(Error::BadHeader);
    }
    let name = std::str::from_utf8(&header[..16])
        .map_err(|_| Error::BadHeader)?
        .trim_end()
        .trim_end_matches('/')
        .to_string();
    let size: u64 = std::str::from_utf8(&header[48..58])
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or(Error::BadHeader)?;
    Ok(Some((name, size)))
}

/// Reads exactly `size` bytes (at most `limit`) of a member.
fn member_body(input: &mut impl Read, name: &str, size: u64, limit: u64) -> Result<Vec<u8>, Error> {
    if size > limit {
        return Err(Error::TooLarge {
            name: name.to_string(),
            size,
        });
    }
    let mut body = Vec::with_capacity(size as usize);
    input
        .take(size)
        .read_to_end(&mut body)
        .map_err(|e| Error::Member {
            member: name.to_string(),
            source: e,
        })?;
    if body.len() as u64 != size {
        return Err(Error::Truncated(name.to_string()));
    }
    Ok(body)
}

/// Members are aligned to even offsets.
fn skip_padding(input: &mut impl Read, size: u64) -> Result<(), Error> {
    if size % 2 == 1 {
        let mut pad = [0u8; 1];
        input.read_exact(&mut pad).map_err(Error::Read)?;
    }
    Ok(())
}

/// A control file name: it becomes `info/PACKAGE.NAME` in dpkg's
/// database, so it must be a plain name.
pub fn valid_control_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b))
}

fn member_error(name: &str) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Member {
        member: name.to_string(),
        source,
    }
}

fn control_files(name: &str, body: &[u8]) -> Result<ControlFiles, Error> {
    let compression =
        Compression::from_member_name(name).ok_or_else(|| Error::Compression(name.to_string()))?;
    let reader = compression.decoder(body).map_err(member_error(name))?;
    let mut archive = tar::Archive::new(Limited::new(reader, MAX_CONTROL));
    let mut control = ControlFiles::new();
    for entry in archive.entries().map_err(member_error(name))? {
        let mut entry = entry.map_err(member_error(name))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let file = String::from_utf8_lossy(&raw);
        let file = file.trim_start_matches("./");
        if !valid_control_name(file) {
            return Err(Error::ControlName {
                member: name.to_string(),
                name: file.to_string(),
            });
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(member_error(name))?;
        control.insert(file.to_string(), (mode, content));
    }
    if !control.contains_key("control") {
        return Err(Error::NoControlFile);
    }
    Ok(control)
}

/// Reads a `.deb` up to its data tarball: `debian-binary` first, then the
/// control tarball, then the data tarball (dpkg's order); members named
/// `_…` (signatures) are skipped, any other is refused.
pub fn read<'a>(mut input: impl Read + 'a) -> Result<Deb<'a>, Error> {
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic).map_err(|_| Error::NotAr)?;
    if &magic != b"!<arch>\n" {
        return Err(Error::NotAr);
    }
    let mut seen_binary = false;
    let mut control = None;
    while let Some((name, size)) = member_header(&mut input)? {
        if !seen_binary {
            let body = member_body(&mut input, &name, size, 64).map_err(|_| Error::NotDebian)?;
            if name != "debian-binary" || !body.starts_with(b"2.") {
                return Err(Error::NotDebian);
            }
            seen_binary = true;
        } else if name.starts_with("control.tar") && control.is_none() {
            let body = member_body(&mut input, &name, size, MAX_CONTROL)?;
            control = Some(control_files(&name, &body)?);
        } else if name.starts_with("data.tar") {
            let control = control.ok_or(Error::NoControl)?;
            let compression = Compression::from_member_name(&name)
                .ok_or_else(|| Error::Compression(name.clone()))?;
            let data = compression
                .decoder(input.take(size))
                .map_err(member_error(&name))?;
            return Ok(Deb { control, data });
        } else if name.starts_with('_') {
            io::copy(&mut (&mut input).take(size), &mut io::sink()).map_err(member_error(&name))?;
        } else {
            return Err(Error::Unexpected(name));
        }
        skip_padding(&mut input, size)?;
    }
    Err(match control {
        None => Error::NoControl,
        Some(_) => Error::NoData,
    })
}

/// Conffiles listed in the `conffiles` control file (absolute paths).
pub fn conffiles_from(control: &ControlFiles) -> Vec<String> {
    control
        .get("conffiles")
        .map(|(_, text)| {
            String::from_utf8_lossy(text)
                .lines()
                .map(str::trim)
                // `remove-on-upgrade /path` flags are dpkg 1.20.1+.
                .map(|l| l.rsplit(' ').next().unwrap_or(l))
                .filter(|l| l.starts_with('/'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ar(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            let header = format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                format!("{name}/"),
                0,
                0,
                0,
                "100644",
                data.len()
            );
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    /// A tarball with raw names (the tar crate's builder refuses `..`).
    fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn data_of(deb: Deb) -> Vec<u8> {
        let mut out = Vec::new();
        let mut data = deb.data;
        data.read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn reads_members_in_order_and_streams_the_data() {
        let control = tar(&[
            ("./control", b"Package: aa\n"),
            ("./postinst", b"#!/bin/sh\n"),
        ]);
        let bytes = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("data.tar", b"odd"),
        ]);
        let deb = read(&bytes[..]).unwrap();
        assert_eq!(deb.control.len(), 2);
        assert_eq!(deb.control["postinst"].1, b"#!/bin/sh\n");
        assert_eq!(data_of(deb), b"odd");
        // A signature member before the data is skipped.
        let bytes = ar(&[
            ("debian-binary", b"2.0\n"),
            ("control.tar", &control),
            ("_gpgbuilder", b"sig"),
            ("data.tar", b"xy"),
        ]);
        assert_eq!(data_of(read(&bytes[..]).unwrap()), b"xy");
    }

    #[test]
    fn malformed_debs_are_errors() {
        let control = tar(&[("./control", b"Package: aa\n")]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"!<arch>".to_vec(), "bad magic"),
            (b"garbage!".to_vec(), "bad magic"),
            (ar(&[("control.tar", &control)]), "debian-binary"),
            (
                ar(&[("debian-binary", b"2.0\n"), ("data.tar", b"")]),
                "no control.tar",
            ),
            (
                ar(&[("debian-binary", b"2.0\n"), ("control.tar", &control)]),
                "no data.tar",
            ),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar", &control),
                    ("evil", b""),
                ]),
                "unexpected ar member",
            ),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar", &tar(&[("./../x", b"")])),
                    ("data.tar", b""),
                ]),
                "not a control file name",
            ),
            (
                ar(&[
                    ("debian-binary", b"2.0\n"),
                    ("control.tar.bz2", &control),
                    ("data.tar", b""),
                ]),
                "unsupported compression",
            ),
        ];
        for (bytes, want) in cases {
            let error = read(&bytes[..]).err().expect(want).to_string();
            assert!(error.contains(want), "{want}: {error}");
        }
        let mut truncated = ar(&[("debian-binary", b"2.0\n"), ("control.tar", &control)]);
        truncated.truncate(truncated.len() - 100);
        assert!(read(&truncated[..]).is_err());
        let mut bad_size = ar(&[("debian-binary", b"2.0\n")]);
        bad_size[8 + 48] = b'x';
        assert!(read(&bad_size[..]).is_err());
        // A size far beyond the file is a clean error.
        let mut huge = ar(&[("debian-binary", b"2.0\n"), ("control.tar", &control)]);
        let at = huge.windows(11).position(|w| w == b"control.tar").unwrap();
        huge[at + 48..at + 58].copy_from_slice(b"9999999999");
        assert!(read(&huge[..])
            .err()
            .unwrap()
            .to_string()
            .contains("too large"));
    }

    #[test]
    fn control_names() {
        for good in [
            "control",
            "md5sums",
            "postinst",
            "shlibs",
            "triggers",
            "x.y_z+1-2",
        ] {
            assert!(valid_control_name(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", ".hidden", "a b", "a\nb"] {
            assert!(!valid_control_name(bad), "{bad:?}");
        }
    }
}
