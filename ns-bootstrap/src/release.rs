//! InRelease: the clear-signed Release file. Splits the signed text from
//! its signature (RFC 4880 §7) and reads the fields ns-bootstrap needs.

use crate::packages::{parse_stanzas, Stanza};

/// A clear-signed message: the text as signed, and the armored signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearSigned {
    /// Lines dash-unescaped, joined with `\n`, with a final `\n`.
    pub text: String,
    /// The signed form: trailing blanks removed, `\r\n` between lines,
    /// no line break after the last (RFC 4880 §7.1).
    pub canonical: Vec<u8>,
    pub signature_armor: String,
}

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";

pub fn split_clearsigned(input: &str) -> Result<ClearSigned, String> {
    let mut lines = input.lines();
    // Anything before the header is not signed: refuse it rather than
    // let it be mistaken for Release fields.
    if lines.next().map(str::trim_end) != Some(BEGIN_SIGNED) {
        return Err("not a clear-signed message (no signed-message header)".to_string());
    }
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if !line.starts_with("Hash:") {
            return Err(format!("unexpected armor header '{line}'"));
        }
    }
    let mut signed: Vec<&str> = Vec::new();
    let mut found_signature = false;
    for line in lines.by_ref() {
        if line.trim_end() == BEGIN_SIGNATURE {
            found_signature = true;
            break;
        }
        if line.starts_with('-') {
            match line.strip_prefix("- ") {
                Some(unescaped) => signed.push(unescaped),
                None => return Err(format!("bad dash-escaped line '{line}'")),
            }
        } else {
            signed.push(line);
        }
    }
    if !found_signature {
        return Err("clear-signed message without a signature".to_string());
    }
    let mut signature_armor = String::from(BEGIN_SIGNATURE);
    signature_armor.push('\n');
    let mut ended = false;
    for line in lines.by_ref() {
        signature_armor.push_str(line);
        signature_armor.push('\n');
        if line.trim_end() == "-----END PGP SIGNATURE-----" {
            ended = true;
            break;
        }
    }
    if !ended {
        return Err("signature without an end line".to_string());
    }
    if lines.any(|line| !line.trim().is_empty()) {
        return Err("text after the signature".to_string());
    }
    let mut text = String::new();
    let mut canonical = Vec::new();
    for (index, line) in signed.iter().enumerate() {
        text.push_str(line);
        text.push('\n');
        if index > 0 {
            canonical.extend_from_slice(b"\r\n");
        }
        canonical.extend_from_slice(line.trim_end_matches([' ', '\t', '\r']).as_bytes());
    }
    Ok(ClearSigned {
        text,
        canonical,
        signature_armor,
    })
}

/// One file listed in the Release SHA256 section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHash {
    pub sha256: String,
    pub size: u64,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub suite: String,
    pub codename: String,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    pub sha256: Vec<FileHash>,
}

impl Release {
    pub fn file(&self, path: &str) -> Option<&FileHash> {
        self.sha256.iter().find(|f| f.path == path)
    }

    /// Whether SUITE as asked names this release (a code name or an alias).
    pub fn answers_to(&self, suite: &str) -> bool {
        self.suite == suite || self.codename == suite
    }
}

pub fn parse_release(text: &str) -> Result<Release, String> {
    let stanzas = parse_stanzas(text).map_err(|e| format!("Release: {e}"))?;
    let stanza: &Stanza = stanzas.first().ok_or("Release: empty")?;
    let words = |name: &str| -> Vec<String> {
        stanza
            .get(name)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let mut sha256 = Vec::new();
    for line in stanza
        .get("SHA256")
        .ok_or("Release: no SHA256 list")?
        .lines()
    {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [hash, size, path] = parts[..] else {
            return Err(format!("Release: bad SHA256 line '{line}'"));
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("Release: bad SHA256 hash '{hash}'"));
        }
        let size = size
            .parse()
            .map_err(|_| format!("Release: bad size '{size}' for {path}"))?;
        sha256.push(FileHash {
            sha256: hash.to_ascii_lowercase(),
            size,
            path: path.to_string(),
        });
    }
    let suite = stanza.get("Suite").unwrap_or("").to_string();
    let codename = stanza.get("Codename").unwrap_or("").to_string();
    if suite.is_empty() && codename.is_empty() {
        return Err("Release: neither Suite nor Codename".to_string());
    }
    Ok(Release {
        suite,
        codename,
        architectures: words("Architectures"),
        components: words("Components"),
        acquire_by_hash: stanza.get("Acquire-By-Hash") == Some("yes"),
        sha256,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n\
Origin: Debian\nSuite: stable  \nCodename: bookworm\nAcquire-By-Hash: yes\n\
Architectures: amd64 arm64\nComponents: main contrib\nSHA256:\n \
515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages\n\
- -dash line\n\
-----BEGIN PGP SIGNATURE-----\n\niQ==\n=abcd\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn clearsigned_split() {
        let got = split_clearsigned(SIGNED).unwrap();
        assert!(got.text.starts_with("Origin: Debian\n"));
        assert!(got.text.ends_with("-dash line\n"));
        let canonical = String::from_utf8(got.canonical).unwrap();
        assert!(canonical.contains("Suite: stable\r\nCodename"));
        assert!(canonical.ends_with("-dash line"));
        assert!(got
            .signature_armor
            .ends_with("-----END PGP SIGNATURE-----\n"));
    }

    #[test]
    fn clearsigned_malformed() {
        assert!(split_clearsigned("Origin: x\n").is_err());
        let unsigned = SIGNED.split(BEGIN_SIGNATURE).next().unwrap();
        assert!(split_clearsigned(unsigned).is_err());
        let bad_dash = SIGNED.replace("- -dash", "-dash");
        assert!(split_clearsigned(&bad_dash).is_err());
        let trailer = format!("{SIGNED}Suite: evil\n");
        assert!(split_clearsigned(&trailer).is_err());
        let no_end = SIGNED.replace("-----END PGP SIGNATURE-----\n", "");
        assert!(split_clearsigned(&no_end).is_err());
    }

    #[test]
    fn release_fields() {
        let text = split_clearsigned(SIGNED).unwrap().text;
        let text = text.replace("-dash line\n", "");
        let release = parse_release(&text).unwrap();
        assert_eq!(release.suite, "stable");
        assert_eq!(release.codename, "bookworm");
        assert!(release.answers_to("bookworm") && release.answers_to("stable"));
        assert!(!release.answers_to("trixie"));
        assert!(release.acquire_by_hash);
        assert_eq!(release.components, ["main", "contrib"]);
        let file = release.file("main/binary-amd64/Packages").unwrap();
        assert_eq!(file.size, 50060337);
        assert!(release.file("main/binary-amd64/Packages.xz").is_none());
    }

    #[test]
    fn release_malformed() {
        assert!(parse_release("Suite: x\n").is_err());
        assert!(parse_release("Suite: x\nSHA256:\n abc 1 p\n").is_err());
        let bad_size = format!("Suite: x\nSHA256:\n {} x p\n", "a".repeat(64));
        assert!(parse_release(&bad_size).is_err());
        let short = format!("Suite: x\nSHA256:\n {} 1\n", "a".repeat(64));
        assert!(parse_release(&short).is_err());
        let ok = format!("Codename: x\nSHA256:\n {} 1 p\n", "A".repeat(64));
        assert_eq!(parse_release(&ok).unwrap().sha256[0].sha256, "a".repeat(64));
    }
}
