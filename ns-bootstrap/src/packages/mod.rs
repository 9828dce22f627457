//! Debian control-file text: the deb822 stanza format (Release, Packages,
//! control, apt `.sources`), package relations and version comparison.
//! Everything here is a pure function over untrusted text.
//!
//! Files: `stanza.rs` splits deb822 text into stanzas, `relation.rs` reads
//! Depends-like fields, `version.rs` orders Debian versions; this module
//! makes a Packages index (or a local `.deb`'s control file) into
//! [`Package`] records, every name and path in them checked.

mod relation;
mod stanza;
mod version;

pub use relation::{parse_relations, Alternatives, Op, Relation, RelationError};
pub use stanza::{each_stanza, parse_stanzas, stanzas, ParseError, Stanza};
pub use version::compare_versions;

/// What the resolver and downloader need from one Packages stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub architecture: &'a str,
    pub priority: &'a str,
    /// The archive's override, which dpkg's status records.
    pub section: Option<&'a str>,
    pub essential: bool,
    pub pre_depends: Vec<Alternatives<'a>>,
    pub depends: Vec<Alternatives<'a>>,
    pub provides: Vec<Relation<'a>>,
    pub filename: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    /// The mirror `filename` is relative to, when it is not the run's
    /// (an extra suite on another archive, such as the security one).
    pub base: Option<&'a str>,
}

/// The largest `.deb` accepted (Debian's largest are about 2 GB): a Size
/// beyond it is refused before anything is allocated or added up.
pub const MAX_PACKAGE_SIZE: u64 = 1 << 34;

/// Debian policy §5.6.1: at least two characters, lower-case letters,
/// digits, `+ - .`, starting with a letter or digit. Names become file
/// names (`info/NAME.list`) and must never be paths.
pub fn valid_package_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
}

/// Policy §5.6.12's characters (`[epoch:]upstream[-revision]`), the epoch
/// numeric, and a digit first, as dpkg insists.
pub fn valid_version(version: &str) -> bool {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    epoch.is_none_or(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        && rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b))
}

/// dpkg's architecture names: lower-case letters, digits and `-`.
pub fn valid_architecture(arch: &str) -> bool {
    !arch.is_empty()
        && !arch.starts_with('-')
        && arch
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A Filename: relative, no empty, `.` or `..` component, nothing that a
/// URL or a file name would read differently (spaces, controls, `?`, `#`,
/// `%` escapes aside from the archive's `%3a`).
pub fn valid_pool_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~%-/:".contains(&b))
}

/// Below this size a Packages index is parsed on one thread.
const SPLIT_ABOVE: usize = 64 * 1024;

/// Parses a Packages index; a stanza without the fields a download needs,
/// or with an unparsable relation, is an error naming its line.
///
/// A large index (Debian's main is some 50 MB) is cut in two at a blank
/// line near its middle and the halves are parsed on two threads: stanzas
/// never span a blank line, so the result, and the first error, are the
/// same as one pass's.
pub fn parse_packages(text: &str) -> Result<Vec<Package<'_>>, ParseError> {
    let middle = text.len() / 2;
    let split = (text.len() > SPLIT_ABOVE)
        .then(|| {
            text.as_bytes()[middle..]
                .windows(2)
                .position(|pair| pair == b"\n\n")
        })
        .flatten()
        .map(|at| middle + at + 2);
    let Some(split) = split else {
        return parse_packages_part(text, 0);
    };
    let (first, second) = text.split_at(split);
    let lines_before = first.bytes().filter(|&b| b == b'\n').count();
    std::thread::scope(|scope| {
        let later = scope.spawn(|| parse_packages_part(second, lines_before));
        let earlier = parse_packages_part(first, 0);
        let later = later
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        // The first half's error, if any, comes first.
        let mut out = earlier?;
        out.extend(later?);
        Ok(out)
    })
}

/// Parses a piece of a Packages index that starts after `lines_before`
/// lines.
fn parse_packages_part(text: &str, lines_before: usize) -> Result<Vec<Package<'_>>, ParseError> {
    let mut out = Vec::new();
    for stanza in each_stanza(text) {
        let mut stanza = stanza.map_err(|mut e| {
            e.line += lines_before;
            e
        })?;
        stanza.line += lines_before;
        out.push(package_of(&stanza, None)?);
    }
    Ok(out)
}

/// Where a package's bytes are when the stanza does not say (a local
/// `.deb`'s control file has no Filename, Size or SHA256).
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    pub filename: &'a str,
    pub size: u64,
    pub sha256: &'a str,
}

/// A local `.deb` (`--include=./pkg.deb`) as a package: its control
/// file's fields, and where it is.
pub fn local_package<'a>(
    control: &'a str,
    location: Location<'a>,
) -> Result<Package<'a>, ParseError> {
    let stanzas = parse_stanzas(control)?;
    let stanza = stanzas.first().ok_or_else(|| ParseError {
        line: 1,
        message: "an empty control file".to_string(),
    })?;
    package_of(stanza, Some(location))
}

/// One stanza as a package, every name in it checked.
fn package_of<'a>(
    stanza: &Stanza<'a>,
    location: Option<Location<'a>>,
) -> Result<Package<'a>, ParseError> {
    let error = |message: String| ParseError {
        line: stanza.line,
        message,
    };
    let fields = Fields::of(stanza);
    let required = |value: Option<&'a str>, name: &str| {
        value
            .filter(|v| !v.is_empty())
            .ok_or_else(|| error(format!("stanza without {name}")))
    };
    let name = required(fields.package, "Package")?;
    if !valid_package_name(name) {
        return Err(error(format!(
            "'{name}' is not a valid package name (Debian's are [a-z0-9][a-z0-9+.-]+)"
        )));
    }
    let relations = |value: Option<&'a str>, field: &str| {
        parse_relations(value.unwrap_or(""))
            .map_err(|e| error(format!("package {name}: {field}: {e}")))
    };
    let provides = relations(fields.provides, "Provides")?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let version = required(fields.version, "Version")?;
    if !valid_version(version) {
        return Err(error(format!("package {name}: bad Version '{version}'")));
    }
    let architecture = required(fields.architecture, "Architecture")?;
    if !valid_architecture(architecture) {
        return Err(error(format!(
            "package {name}: bad Architecture '{architecture}'"
        )));
    }
    let location = match location {
        Some(location) => location,
        None => {
            let size = required(fields.size, "Size")?;
            let sha256 = required(fields.sha256, "SHA256")?;
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(error(format!("package {name}: bad SHA256 '{sha256}'")));
            }
            let filename = required(fields.filename, "Filename")?;
            if !valid_pool_path(filename) {
                return Err(error(format!(
                    "package {name}: bad Filename '{filename}' (a relative path in the archive)"
                )));
            }
            let size: u64 = size
                .parse()
                .map_err(|_| error(format!("package {name}: bad Size '{size}'")))?;
            Location {
                filename,
                size,
                sha256,
            }
        }
    };
    if location.size > MAX_PACKAGE_SIZE {
        return Err(error(format!(
            "package {name}: Size {} is more than ns-bootstrap accepts ({MAX_PACKAGE_SIZE} bytes)",
            location.size
        )));
    }
    Ok(Package {
        name,
        version,
        architecture,
        priority: fields.priority.unwrap_or("optional"),
        section: fields.section,
        essential: fields.essential == Some("yes"),
        pre_depends: relations(fields.pre_depends, "Pre-Depends")?,
        depends: relations(fields.depends, "Depends")?,
        provides,
        filename: location.filename,
        size: location.size,
        sha256: location.sha256,
        base: None,
    })
}

/// The fields a [`Package`] is made of, found in one pass over a stanza
/// (a Packages stanza has some twenty fields, and an index sixty thousand
/// stanzas): the first of each name, matched case-insensitively, as
/// [`Stanza::get`] finds them.
#[derive(Default)]
struct Fields<'a> {
    package: Option<&'a str>,
    version: Option<&'a str>,
    architecture: Option<&'a str>,
    priority: Option<&'a str>,
    section: Option<&'a str>,
    essential: Option<&'a str>,
    pre_depends: Option<&'a str>,
    depends: Option<&'a str>,
    provides: Option<&'a str>,
    filename: Option<&'a str>,
    size: Option<&'a str>,
    sha256: Option<&'a str>,
}

impl<'a> Fields<'a> {
    fn of(stanza: &Stanza<'a>) -> Fields<'a> {
        let mut fields = Fields::default();
        for &(key, value) in &stanza.fields {
            let slots: &mut [(&str, &mut Option<&'a str>)] = match key.len() {
                4 => &mut [("Size", &mut fields.size)],
                6 => &mut [("SHA256", &mut fields.sha256)],
                7 => &mut [
                    ("Package", &mut fields.package),
                    ("Version", &mut fields.version),
                    ("Section", &mut fields.section),
                    ("Depends", &mut fields.depends),
                ],
                8 => &mut [
                    ("Priority", &mut fields.priority),
                    ("Filename", &mut fields.filename),
                    ("Provides", &mut fields.provides),
                ],
                9 => &mut [("Essential", &mut fields.essential)],
                11 => &mut [("Pre-Depends", &mut fields.pre_depends)],
                12 => &mut [("Architecture", &mut fields.architecture)],
                _ => continue,
            };
            if let Some((_, slot)) = slots
                .iter_mut()
                .find(|(name, _)| key.eq_ignore_ascii_case(name))
            {
                slot.get_or_insert(value);
            }
        }
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_index_parsed_in_two_halves_is_the_same_as_in_one() {
        let mut text = String::new();
        for i in 0..1500 {
            text.push_str(&format!(
                "Package: p{i}\nVersion: 1.{i}\nArchitecture: amd64\n\
                 Depends: libc6 (>= 2.36), q{i} | r\nFilename: pool/p{i}.deb\n\
                 Size: {i}\nSHA256: {}\n\n",
                "a".repeat(64)
            ));
        }
        assert!(text.len() > SPLIT_ABOVE);
        let whole = parse_packages_part(&text, 0).unwrap();
        let halves = parse_packages(&text).unwrap();
        assert_eq!(halves.len(), 1500);
        assert_eq!(whole, halves);
        // An error in the second half names the line a single pass names.
        let broken = text.replace("Size: 1400\n", "Size: many\n");
        let one = parse_packages_part(&broken, 0).unwrap_err();
        assert!(one.line > 1000, "{one}");
        assert_eq!(parse_packages(&broken).unwrap_err(), one);
        // With errors in both halves, the first one's.
        let broken = broken.replace("Size: 3\n", "Size: few\n");
        let one = parse_packages_part(&broken, 0).unwrap_err();
        assert!(one.line < 100, "{one}");
        assert_eq!(parse_packages(&broken).unwrap_err(), one);
    }

    /// The one-pass lookup finds what `Stanza::get` finds: the first
    /// field of a name, in any case; other names are left alone.
    #[test]
    fn fields_are_found_as_get_finds_them() {
        let text = "package: p\nPACKAGE: q\nVersion: 1\nsize: 7\nSize: 8\nDepends: a\n\
                    Depend: x\nPre-depends: b\nArchitecture: all\nSHA256: h\nsection: s\n\
                    Provides: v\nFilename: f\nPriority: required\nEssential: yes\nX: y\n";
        let stanzas = parse_stanzas(text).unwrap();
        let stanza = &stanzas[0];
        let fields = Fields::of(stanza);
        for (name, found) in [
            ("Package", fields.package),
            ("Version", fields.version),
            ("Architecture", fields.architecture),
            ("Priority", fields.priority),
            ("Section", fields.section),
            ("Essential", fields.essential),
            ("Pre-Depends", fields.pre_depends),
            ("Depends", fields.depends),
            ("Provides", fields.provides),
            ("Filename", fields.filename),
            ("Size", fields.size),
            ("SHA256", fields.sha256),
        ] {
            assert_eq!(found, stanza.get(name), "{name}");
            assert!(found.is_some(), "{name}");
        }
        assert_eq!(fields.package, Some("p"));
        assert_eq!(fields.size, Some("7"));
    }

    const PACKAGES: &str = "\
Package: aa
Version: 1.0
Architecture: amd64
Priority: required
Essential: yes
Pre-Depends: b (>= 2)
Depends: c | d
Provides: virt (= 1)
Filename: pool/main/a/a_1.0_amd64.deb
Size: 100
SHA256: 0000000000000000000000000000000000000000000000000000000000000000
Description: x
 long
";

    #[test]
    fn packages_index() {
        let got = parse_packages(PACKAGES).unwrap();
        assert_eq!(got.len(), 1);
        let a = &got[0];
        assert!(a.essential);
        assert_eq!(a.priority, "required");
        assert_eq!(a.pre_depends[0][0].name, "b");
        assert_eq!(a.depends[0].len(), 2);
        assert_eq!(a.provides[0].name, "virt");
        assert_eq!(a.size, 100);
    }

    #[test]
    fn malformed_packages_index() {
        let no_hash = PACKAGES.replace("SHA256: 0000", "SHA256: zz00");
        assert!(parse_packages(&no_hash).is_err());
        let no_size = PACKAGES.replace("Size: 100\n", "");
        let error = parse_packages(&no_size).unwrap_err();
        assert!(error.message.contains("Size"), "{error}");
        let bad_size = PACKAGES.replace("Size: 100", "Size: -1");
        assert!(parse_packages(&bad_size).is_err());
        let bad_dep = PACKAGES.replace("c | d", "c (>= ");
        assert!(parse_packages(&bad_dep).is_err());
    }

    #[test]
    fn names_from_the_archive_are_data_not_paths() {
        for (field, bad) in [
            ("Package: aa", "Package: ../../x/p"),
            ("Package: aa", "Package: a/b"),
            ("Package: aa", "Package: A"),
            ("Package: aa", "Package: .a"),
            ("Package: aa", "Package: a"),
            ("Version: 1.0", "Version: 1.0/../x"),
            ("Version: 1.0", "Version: x:1"),
            ("Version: 1.0", "Version: 1 0"),
            ("Architecture: amd64", "Architecture: ../amd64"),
            (
                "Filename: pool/main/a/a_1.0_amd64.deb",
                "Filename: ../../etc/passwd",
            ),
            (
                "Filename: pool/main/a/a_1.0_amd64.deb",
                "Filename: /etc/passwd",
            ),
            (
                "Filename: pool/main/a/a_1.0_amd64.deb",
                "Filename: pool//a.deb",
            ),
            (
                "Filename: pool/main/a/a_1.0_amd64.deb",
                "Filename: pool/a.deb?x",
            ),
            ("Size: 100", "Size: 18446744073709551615"),
            ("Size: 100", "Size: 18446744073709551616"),
        ] {
            let text = PACKAGES.replace(field, bad);
            assert_ne!(text, PACKAGES, "{bad}");
            let error = parse_packages(&text).unwrap_err();
            assert_eq!(error.line, 1, "{bad}: {error}");
        }
        let ok = PACKAGES.replace("Package: aa\n", "Package: g++\n");
        assert_eq!(parse_packages(&ok).unwrap()[0].name, "g++");
        assert!(valid_version("1:2.36-9+deb12u4~bpo1"));
        assert!(valid_pool_path(
            "pool/main/libx/libx11/libx11-6_2%3a1.8_amd64.deb"
        ));
    }
}
