//! Debian control-file text: the deb822 stanza format (Release, Packages,
//! control, apt `.sources`), package relations and version comparison.
//! Everything here is a pure function over untrusted text.

use std::cmp::Ordering;
use std::fmt;

/// One stanza: its fields in order. A value keeps its continuation lines
/// (`"\n "` included); callers that need words split on whitespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stanza<'a> {
    pub fields: Vec<(&'a str, &'a str)>,
    /// 1-based line of the stanza's first field, for messages.
    pub line: usize,
}

impl<'a> Stanza<'a> {
    /// The value of a field, matched case-insensitively as dpkg does.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Lenient split for files where a bad stanza should not stop the rest
/// (apt sources): malformed stanzas are dropped.
pub fn stanzas(text: &str) -> Vec<Stanza<'_>> {
    split_blocks(text)
        .into_iter()
        .filter_map(|(line, block)| parse_block(block, line).ok())
        .filter(|stanza| !stanza.fields.is_empty())
        .collect()
}

/// Strict split: any malformed line is an error naming its line.
pub fn parse_stanzas(text: &str) -> Result<Vec<Stanza<'_>>, ParseError> {
    let mut out = Vec::new();
    for (line, block) in split_blocks(text) {
        let stanza = parse_block(block, line)?;
        if !stanza.fields.is_empty() {
            out.push(stanza);
        }
    }
    Ok(out)
}

/// Blocks separated by blank lines, each with its first line number.
fn split_blocks(text: &str) -> Vec<(usize, &str)> {
    let mut blocks = Vec::new();
    let mut line_no = 0;
    let mut block_start: Option<(usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        line_no += 1;
        let blank = line.trim().is_empty();
        match (blank, block_start) {
            (true, Some((start, first))) => {
                blocks.push((first, &text[start..offset]));
                block_start = None;
            }
            (false, None) => block_start = Some((offset, line_no)),
            _ => {}
        }
        offset += line.len();
    }
    if let Some((start, first)) = block_start {
        blocks.push((first, &text[start..]));
    }
    blocks
}

fn parse_block(block: &str, first_line: usize) -> Result<Stanza<'_>, ParseError> {
    let mut stanza = Stanza {
        fields: Vec::new(),
        line: first_line,
    };
    let mut offset = 0;
    // (name, value start offset) of the field being read.
    let mut current: Option<(&str, usize)> = None;
    for (index, line) in block.split_inclusive('\n').enumerate() {
        let line_no = first_line + index;
        let starts = offset;
        offset += line.len();
        if line.starts_with('#') {
            // A comment ends the field before it (deb822 sources).
            if let Some((name, value_start)) = current.take() {
                stanza
                    .fields
                    .push((name, block[value_start..starts].trim()));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if current.is_none() {
                return Err(ParseError {
                    line: line_no,
                    message: "continuation line outside a field".to_string(),
                });
            }
            continue;
        }
        if let Some((name, value_start)) = current.take() {
            stanza
                .fields
                .push((name, block[value_start..starts].trim()));
        }
        let Some(colon) = line.find(':') else {
            return Err(ParseError {
                line: line_no,
                message: format!("not a field: '{}'", line.trim_end()),
            });
        };
        let name = &line[..colon];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(ParseError {
                line: line_no,
                message: format!("bad field name: '{}'", line.trim_end()),
            });
        }
        current = Some((name, starts + colon + 1));
    }
    if let Some((name, value_start)) = current {
        stanza.fields.push((name, block[value_start..].trim()));
    }
    Ok(stanza)
}

/// A version relation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    pub fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Eq => ordering == Ordering::Equal,
            Op::Ge => ordering != Ordering::Less,
            Op::Gt => ordering == Ordering::Greater,
        }
    }
}

/// `name [(op version)]`, the architecture qualifier (`:any`) dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation<'a> {
    pub name: &'a str,
    pub version: Option<(Op, &'a str)>,
}

/// `a | b (>= 1)`: any one satisfies.
pub type Alternatives<'a> = Vec<Relation<'a>>;

/// Why a relation field does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    #[error("unbalanced parenthesis in '{0}'")]
    Parenthesis(String),
    #[error("unexpected text after ')' in '{0}'")]
    After(String),
    #[error("bad version relation '({0})'")]
    Operator(String),
    #[error("bad version in '({0})'")]
    Version(String),
    #[error("bad package name '{0}'")]
    Name(String),
}

/// Parses a Depends-like field: `a (>= 1) | b:any, c [amd64] <!nocheck>`.
pub fn parse_relations(text: &str) -> Result<Vec<Alternatives<'_>>, RelationError> {
    let mut out = Vec::new();
    for group in text.split(',') {
        if group.trim().is_empty() {
            // A trailing comma is tolerated, as dpkg does.
            continue;
        }
        let mut alternatives = Vec::new();
        for alt in group.split('|') {
            alternatives.push(parse_relation(alt.trim())?);
        }
        out.push(alternatives);
    }
    Ok(out)
}

fn parse_relation(text: &str) -> Result<Relation<'_>, RelationError> {
    // Architecture lists (`[amd64]`) and build profiles (`<!nocheck>`)
    // follow the name and version; they only appear in source packages.
    let text = text.trim();
    let Some(paren) = text.find('(') else {
        let name = text.split(['[', '<']).next().unwrap_or("");
        return Ok(Relation {
            name: package_name(name)?,
            version: None,
        });
    };
    let (name, rest) = text.split_at(paren);
    let close = rest
        .find(')')
        .ok_or_else(|| RelationError::Parenthesis(text.to_string()))?;
    let after = rest[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with(['[', '<'])) {
        return Err(RelationError::After(text.to_string()));
    }
    let inner = rest[1..close].trim();
    let (op, version) =
        split_op(inner).ok_or_else(|| RelationError::Operator(inner.to_string()))?;
    if version.is_empty() || version.contains(char::is_whitespace) {
        return Err(RelationError::Version(inner.to_string()));
    }
    Ok(Relation {
        name: package_name(name)?,
        version: Some((op, version)),
    })
}

fn split_op(text: &str) -> Option<(Op, &str)> {
    for (token, op) in [
        ("<<", Op::Lt),
        ("<=", Op::Le),
        (">=", Op::Ge),
        (">>", Op::Gt),
        ("=", Op::Eq),
        // Obsolete spellings, kept by dpkg: `<` is `<=`, `>` is `>=`.
        ("<", Op::Le),
        (">", Op::Ge),
    ] {
        if let Some(rest) = text.strip_prefix(token) {
            return Some((op, rest.trim()));
        }
    }
    None
}

fn package_name(text: &str) -> Result<&str, RelationError> {
    let name = text.trim();
    let name = name.split(':').next().unwrap_or("");
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    {
        return Err(RelationError::Name(text.trim().to_string()));
    }
    Ok(name)
}

/// Compares two Debian versions as dpkg does (epoch, upstream, revision;
/// `~` sorts before everything, even the end).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (epoch_a, rest_a) = split_epoch(a);
    let (epoch_b, rest_b) = split_epoch(b);
    epoch_a.cmp(&epoch_b).then_with(|| {
        let (up_a, rev_a) = split_revision(rest_a);
        let (up_b, rev_b) = split_revision(rest_b);
        compare_part(up_a, up_b).then_with(|| compare_part(rev_a, rev_b))
    })
}

fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => {
            (epoch.parse().unwrap_or(u64::MAX), rest)
        }
        _ => (0, version),
    }
}

fn split_revision(version: &str) -> (&str, &str) {
    match version.rfind('-') {
        Some(dash) => (&version[..dash], &version[dash + 1..]),
        None => (version, ""),
    }
}

fn char_order(c: Option<u8>) -> i32 {
    match c {
        Some(b'~') => -1,
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // The non-digit prefix, character by character.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ca = char_order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let cb = char_order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if ca != cb {
                return ca.cmp(&cb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Then the numbers, leading zeros ignored.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let start_a = i;
        let start_b = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (na, nb) = (&a[start_a..i], &b[start_b..j]);
        let by_length = na.len().cmp(&nb.len());
        if by_length != Ordering::Equal {
            return by_length;
        }
        let by_digits = na.cmp(nb);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
    }
    Ordering::Equal
}

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
    let stanzas = parse_stanzas(text).map_err(|mut e| {
        e.line += lines_before;
        e
    })?;
    let mut out = Vec::with_capacity(stanzas.len());
    for mut stanza in stanzas {
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
    let required = |name: &str| {
        stanza
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| error(format!("stanza without {name}")))
    };
    let name = required("Package")?;
    if !valid_package_name(name) {
        return Err(error(format!(
            "'{name}' is not a valid package name (Debian's are [a-z0-9][a-z0-9+.-]+)"
        )));
    }
    let relations = |field: &str| {
        parse_relations(stanza.get(field).unwrap_or(""))
            .map_err(|e| error(format!("package {name}: {field}: {e}")))
    };
    let provides = relations("Provides")?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let version = required("Version")?;
    if !valid_version(version) {
        return Err(error(format!("package {name}: bad Version '{version}'")));
    }
    let architecture = required("Architecture")?;
    if !valid_architecture(architecture) {
        return Err(error(format!(
            "package {name}: bad Architecture '{architecture}'"
        )));
    }
    let location = match location {
        Some(location) => location,
        None => {
            let size = required("Size")?;
            let sha256 = required("SHA256")?;
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(error(format!("package {name}: bad SHA256 '{sha256}'")));
            }
            let filename = required("Filename")?;
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
        priority: stanza.get("Priority").unwrap_or("optional"),
        section: stanza.get("Section"),
        essential: stanza.get("Essential") == Some("yes"),
        pre_depends: relations("Pre-Depends")?,
        depends: relations("Depends")?,
        provides,
        filename: location.filename,
        size: location.size,
        sha256: location.sha256,
        base: None,
    })
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

    #[test]
    fn stanzas_with_continuations_and_comments() {
        let text = "A: 1\nB: two\n words\n .\n# comment\nC:3\n\n\n\nD: 4\n";
        let got = parse_stanzas(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].get("a"), Some("1"));
        assert_eq!(got[0].get("B"), Some("two\n words\n ."));
        assert_eq!(got[0].get("C"), Some("3"));
        assert_eq!(got[1].get("D"), Some("4"));
        assert_eq!(got[1].line, 10);
    }

    #[test]
    fn malformed_stanzas() {
        assert_eq!(parse_stanzas(" x\nA: 1\n").unwrap_err().line, 1);
        let error = parse_stanzas("A: 1\nno colon here\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.message.contains("not a field"));
        assert!(parse_stanzas(": value\n").is_err());
        // The lenient reader drops the bad stanza and keeps the good one.
        assert_eq!(stanzas("bad\n\nA: 1\n").len(), 1);
        assert!(parse_stanzas("").unwrap().is_empty());
        // CRLF and trailing spaces are not fields either.
        assert_eq!(parse_stanzas("A: 1\r\n").unwrap()[0].get("A"), Some("1"));
    }

    #[test]
    fn relations() {
        let got =
            parse_relations("libc6 (>= 2.34), a | b:any (<< 2~), c [amd64], d (>1) <!x>").unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0][0].name, "libc6");
        assert_eq!(got[0][0].version, Some((Op::Ge, "2.34")));
        assert_eq!(got[1][1].name, "b");
        assert_eq!(got[1][1].version, Some((Op::Lt, "2~")));
        assert_eq!(got[2][0].name, "c");
        assert_eq!(got[3][0].version, Some((Op::Ge, "1")));
        assert!(parse_relations("").unwrap().is_empty());
        assert_eq!(parse_relations("a,").unwrap().len(), 1);
    }

    #[test]
    fn malformed_relations() {
        for bad in [
            "a (>= 1",
            "a (~ 1)",
            "A",
            "a | ",
            "a (>= )",
            "a (>= 1 2)",
            "a (= 1) b",
        ] {
            assert!(parse_relations(bad).is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn version_order() {
        use Ordering::*;
        let cases = [
            ("1.0", "1.0", Equal),
            ("1.0", "1.1", Less),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0+b1", Less),
            ("1:0.1", "2.0", Greater),
            ("1.0-1", "1.0-2", Less),
            ("1.01", "1.1", Equal),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", Less),
            ("1.0a", "1.0", Greater),
            ("1.0a", "1.0+", Less),
            ("~~", "~~a", Less),
            ("~", "", Less),
            ("0:1", "1", Equal),
            ("1.2-3-4", "1.2-3-5", Less),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
            assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
        }
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
