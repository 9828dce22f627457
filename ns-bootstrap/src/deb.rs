//! The `.deb` container: an `ar` archive with `debian-binary`, a control
//! tarball and a data tarball, each possibly compressed (deb(5)).

use std::collections::BTreeMap;
use std::io::Read;

/// One member of an ar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    pub data: &'a [u8],
}

/// Splits an ar archive into members (the common format: names up to 16
/// bytes, `/` terminated or space padded; what dpkg-deb writes).
pub fn ar_members(data: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let mut rest = data
        .strip_prefix(b"!<arch>\n")
        .ok_or("not an ar archive (bad magic)")?;
    let mut members = Vec::new();
    while !rest.is_empty() {
        if rest == b"\n" {
            break;
        }
        let header = rest.get(..60).ok_or("truncated ar member header")?;
        if &header[58..60] != b"`\n" {
            return Err("bad ar member header".to_string());
        }
        let name = std::str::from_utf8(&header[..16])
            .map_err(|_| "ar member name is not text")?
            .trim_end()
            .trim_end_matches('/');
        let size: usize = std::str::from_utf8(&header[48..58])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or("bad ar member size")?;
        let body = rest
            .get(60..60 + size)
            .ok_or_else(|| format!("truncated ar member {name}"))?;
        members.push(Member { name, data: body });
        // Members are aligned to even offsets.
        let next = (60 + size + 1) & !1;
        rest = rest.get(next..).unwrap_or(&[]);
    }
    Ok(members)
}

/// A reader that decompresses a member by its name's suffix.
pub fn decompressor<'a>(member: &Member<'a>) -> Result<Box<dyn Read + 'a>, String> {
    let data = member.data;
    let reader: Box<dyn Read + 'a> = match member.name.rsplit_once('.') {
        Some((_, "xz")) => Box::new(liblzma::read::XzDecoder::new(data)),
        Some((_, "gz")) => Box::new(flate2::read::GzDecoder::new(data)),
        Some((_, "zst")) => Box::new(
            ruzstd::decoding::StreamingDecoder::new(data)
                .map_err(|e| format!("{}: bad zstd stream: {e}", member.name))?,
        ),
        Some((_, "tar")) => Box::new(data),
        _ => return Err(format!("{}: unsupported compression", member.name)),
    };
    Ok(reader)
}

/// The parts of a `.deb` that ns-bootstrap uses.
pub struct Deb<'a> {
    /// Control files by name (`control`, `md5sums`, `postinst`, …) with
    /// their modes.
    pub control: BTreeMap<String, (u32, Vec<u8>)>,
    pub data: Member<'a>,
}

pub fn open(bytes: &[u8]) -> Result<Deb<'_>, String> {
    let members = ar_members(bytes)?;
    match members.first() {
        Some(m) if m.name == "debian-binary" && m.data.starts_with(b"2.") => {}
        _ => return Err("not a Debian binary package (no debian-binary 2.x)".to_string()),
    }
    let control_member = members
        .iter()
        .find(|m| m.name.starts_with("control.tar"))
        .ok_or("no control.tar member")?;
    let data = members
        .iter()
        .find(|m| m.name.starts_with("data.tar"))
        .ok_or("no data.tar member")?
        .clone();
    let mut control = BTreeMap::new();
    let mut archive = tar::Archive::new(decompressor(control_member)?);
    for entry in archive
        .entries()
        .map_err(|e| format!("{}: {e}", control_member.name))?
    {
        let mut entry = entry.map_err(|e| format!("{}: {e}", control_member.name))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| format!("{}: {e}", control_member.name))?
            .to_string_lossy()
            .into_owned();
        let name = path.trim_start_matches("./").to_string();
        // Control files are flat: a path with a slash is not one.
        if name.is_empty() || name.contains('/') || name == ".." {
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o644);
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| format!("{}: {name}: {e}", control_member.name))?;
        control.insert(name, (mode, content));
    }
    if !control.contains_key("control") {
        return Err("control.tar has no control file".to_string());
    }
    Ok(Deb { control, data })
}

/// Conffiles listed in the `conffiles` control file (absolute paths).
pub fn conffiles(deb: &Deb) -> Vec<String> {
    conffiles_from(&deb.control)
}

/// The same, from the control files alone.
pub fn conffiles_from(control: &BTreeMap<String, (u32, Vec<u8>)>) -> Vec<String> {
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

    #[test]
    fn ar_roundtrip_and_padding() {
        let bytes = ar(&[("debian-binary", b"2.0\n"), ("odd", b"abc"), ("x", b"yz")]);
        let members = ar_members(&bytes).unwrap();
        assert_eq!(members.len(), 3);
        assert_eq!(members[1].name, "odd");
        assert_eq!(members[1].data, b"abc");
        assert_eq!(members[2].data, b"yz");
    }

    #[test]
    fn malformed_ar() {
        assert!(ar_members(b"!<arch>").is_err());
        assert!(ar_members(b"garbage").is_err());
        let mut bytes = ar(&[("a", b"1234")]);
        bytes.truncate(bytes.len() - 2);
        assert!(ar_members(&bytes).is_err());
        let mut bad_size = ar(&[("a", b"1234")]);
        bad_size[8 + 48] = b'x';
        assert!(ar_members(&bad_size).is_err());
        let no_binary = ar(&[("control.tar", b"")]);
        assert!(open(&no_binary).is_err());
        let no_control = ar(&[("debian-binary", b"2.0\n"), ("data.tar", b"")]);
        assert!(open(&no_control).is_err());
    }
}
