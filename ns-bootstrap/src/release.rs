//! InRelease: the clear-signed Release file. Splits the signed text from
//! its signature (RFC 4880 §7) and reads the fields ns-bootstrap needs.

use crate::packages::{parse_stanzas, ParseError, Stanza};

/// Why an InRelease or its Release text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not a clear-signed message (no signed-message header)")]
    NotClearSigned,
    #[error("unexpected armor header '{0}'")]
    ArmorHeader(String),
    #[error("bad dash-escaped line '{0}'")]
    DashEscape(String),
    #[error("clear-signed message without a signature")]
    NoSignature,
    #[error("signature without an end line")]
    NoEnd,
    #[error("text after the signature")]
    TextAfter,
    #[error("Release: {0}")]
    Stanza(ParseError),
    #[error("Release: empty")]
    Empty,
    #[error("Release: no SHA256 list")]
    NoSha256,
    #[error("Release: bad SHA256 line '{0}'")]
    Sha256Line(String),
    #[error("Release: bad SHA256 hash '{0}'")]
    Hash(String),
    #[error("Release: bad size '{size}' for {path}")]
    Size { size: String, path: String },
    #[error("Release: neither Suite nor Codename")]
    NoSuite,
}

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

pub fn split_clearsigned(input: &str) -> Result<ClearSigned, Error> {
    let mut lines = input.lines();
    // Anything before the header is not signed: refuse it rather than
    // let it be mistaken for Release fields.
    if lines.next().map(str::trim_end) != Some(BEGIN_SIGNED) {
        return Err(Error::NotClearSigned);
    }
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
        if !line.starts_with("Hash:") {
            return Err(Error::ArmorHeader(line.to_string()));
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
                None => return Err(Error::DashEscape(line.to_string())),
            }
        } else {
            signed.push(line);
        }
    }
    if !found_signature {
        return Err(Error::NoSignature);
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
        return Err(Error::NoEnd);
    }
    if lines.any(|line| !line.trim().is_empty()) {
        return Err(Error::TextAfter);
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
    /// The `Date` field as seconds since the epoch, when it parses.
    pub date: Option<u64>,
    /// `Valid-Until`, likewise: after it, apt refuses the file.
    pub valid_until: Option<u64>,
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

pub fn parse_release(text: &str) -> Result<Release, Error> {
    let stanzas = parse_stanzas(text).map_err(Error::Stanza)?;
    let stanza: &Stanza = stanzas.first().ok_or(Error::Empty)?;
    let words = |name: &str| -> Vec<String> {
        stanza
            .get(name)
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let mut sha256 = Vec::new();
    for line in stanza.get("SHA256").ok_or(Error::NoSha256)?.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [hash, size, path] = parts[..] else {
            return Err(Error::Sha256Line(line.to_string()));
        };
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Hash(hash.to_string()));
        }
        let size = size.parse().map_err(|_| Error::Size {
            size: size.to_string(),
            path: path.to_string(),
        })?;
        sha256.push(FileHash {
            sha256: hash.to_ascii_lowercase(),
            size,
            path: path.to_string(),
        });
    }
    let suite = stanza.get("Suite").unwrap_or("").to_string();
    let codename = stanza.get("Codename").unwrap_or("").to_string();
    if suite.is_empty() && codename.is_empty() {
        return Err(Error::NoSuite);
    }
    Ok(Release {
        suite,
        codename,
        architectures: words("Architectures"),
        components: words("Components"),
        acquire_by_hash: stanza.get("Acquire-By-Hash") == Some("yes"),
        sha256,
        date: stanza.get("Date").and_then(parse_date),
        valid_until: stanza.get("Valid-Until").and_then(parse_date),
    })
}

/// An RFC 2822 date as the archive writes it (`Sat, 10 Jun 2023
/// 08:57:56 UTC`, or with a `+0000` offset) in seconds since the epoch.
pub fn parse_date(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text.split_once(", ").map_or(text, |(_, rest)| rest);
    let mut words = text.split_whitespace();
    let day: i64 = words.next()?.parse().ok()?;
    let month = words.next()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as i64
        + 1;
    let year: i64 = words.next()?.parse().ok()?;
    let mut clock = words.next()?.split(':').map(|n| n.parse::<i64>());
    let (hour, minute, second) = (
        clock.next()?.ok()?,
        clock.next()?.ok()?,
        clock.next().unwrap_or(Ok(0)).ok()?,
    );
    let offset = match words.next() {
        None | Some("UTC" | "GMT" | "Z") => 0,
        Some(zone) => {
            let (sign, digits) = zone.split_at_checked(1)?;
            let value: i64 = digits.parse().ok()?;
            let minutes = value / 100 * 60 + value % 100;
            match sign {
                "+" => minutes * 60,
                "-" => -minutes * 60,
                _ => return None,
            }
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()
}

/// A time in UTC: (year, month 1–12, day 1–31, seconds into the day,
/// days since 1970-01-01).
fn civil(seconds: u64) -> (i64, i64, i64, u64, i64) {
    let days = (seconds / 86400) as i64;
    // The civil date from days (Howard Hinnant's algorithm, inverted).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, seconds % 86400, days)
}

/// Seconds since the epoch as an HTTP date (RFC 9110 §5.6.7), e.g.
/// `Sat, 10 Jun 2023 08:57:56 GMT`.
pub fn http_date(seconds: u64) -> String {
    let (year, month, day, clock, days) = civil(seconds);
    // 1970-01-01 was a Thursday.
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month_name = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(month - 1) as usize];
    format!(
        "{weekday}, {day:02} {month_name} {year} {:02}:{:02}:{:02} GMT",
        clock / 3600,
        clock / 60 % 60,
        clock % 60
    )
}

/// Seconds since the epoch as RFC 3339 in UTC, e.g. `2023-06-10T08:57:56Z`
/// (what OCI's `created` fields hold).
pub fn rfc3339(seconds: u64) -> String {
    let (year, month, day, clock, _) = civil(seconds);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        clock / 3600,
        clock / 60 % 60,
        clock % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_dates() {
        assert_eq!(
            parse_date("Sat, 10 Jun 2023 08:57:56 UTC"),
            Some(1686387476)
        );
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse_date("Thu, 01 Jan 1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_date("29 Feb 2024 12:00:00 UTC"), Some(1709208000));
        assert_eq!(parse_date("yesterday"), None);
        for seconds in [0, 1686387476, 1709208000, 4102444800, 951782400] {
            let text = http_date(seconds);
            assert_eq!(parse_date(&text), Some(seconds), "{text}");
        }
        assert_eq!(http_date(1686387476), "Sat, 10 Jun 2023 08:57:56 GMT");
        assert_eq!(rfc3339(1686387476), "2023-06-10T08:57:56Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

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
