//! The host's apt sources, to find the default MIRROR: the one-line format
//! of `/etc/apt/sources.list` and `*.list`, and the deb822 `*.sources`;
//! and MIRROR as the command line gives it, and an extra suite's mirror.

use std::path::Path;

use crate::Error;

/// One `deb` source: a URI and its suites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
}

impl Source {
    /// A main archive, not an overlay (`bookworm`, not `bookworm-security`
    /// or `bookworm-updates`): the kind of mirror debootstrap wants.
    pub fn is_main_archive(&self) -> bool {
        self.suites.iter().any(|suite| !suite.contains('-'))
    }
}

/// One-line entries: `deb [options] URI SUITE [COMPONENT...]`.
pub fn parse_list(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        if words.next() != Some("deb") {
            continue;
        }
        // `[arch=amd64 signed-by=…]`, possibly over several words.
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for word in words.by_ref() {
                if word.ends_with(']') {
                    break;
                }
            }
        }
        if let (Some(uri), Some(suite)) = (words.next(), words.next()) {
            sources.push(Source {
                uri: uri.to_string(),
                suites: vec![suite.to_string()],
            });
        }
    }
    sources
}

/// deb822 stanzas: `Types:`, `URIs:`, `Suites:`, `Enabled:`.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut sources = Vec::new();
    for stanza in crate::packages::stanzas(text) {
        let field = |name: &str| {
            stanza
                .fields
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| *value)
        };
        let words = |name| -> Vec<String> {
            field(name)
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        if field("Enabled").is_some_and(|v| v.trim() == "no") {
            continue;
        }
        if !words("Types").iter().any(|t| t == "deb") {
            continue;
        }
        let suites = words("Suites");
        for uri in words("URIs") {
            sources.push(Source {
                uri,
                suites: suites.clone(),
            });
        }
    }
    sources
}

/// Every `deb` source on the host, in apt's reading order.
pub fn host_sources(etc_apt: &Path) -> Vec<Source> {
    let mut sources = Vec::new();
    if let Ok(text) = std::fs::read_to_string(etc_apt.join("sources.list")) {
        sources.extend(parse_list(&text));
    }
    let mut files: Vec<_> = std::fs::read_dir(etc_apt.join("sources.list.d"))
        .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("list") => sources.extend(parse_list(&text)),
            Some("sources") => sources.extend(parse_deb822(&text)),
            _ => {}
        }
    }
    sources
}

/// The first main-archive mirror, else the first source at all.
pub fn default_mirror(sources: &[Source]) -> Option<String> {
    sources
        .iter()
        .find(|s| s.is_main_archive())
        .or(sources.first())
        .map(|s| s.uri.trim_end_matches('/').to_string())
}

/// A MIRROR as debootstrap takes it: `http://`, `https://` or `file://`,
/// or a directory's path (read as `file://`).
pub(crate) fn mirror_url(mirror: &str) -> Result<String, Error> {
    if mirror.starts_with('/') {
        return Ok(format!("file://{mirror}"));
    }
    for scheme in ["http://", "https://", "file://"] {
        if mirror.starts_with(scheme) {
            return Ok(mirror.to_string());
        }
    }
    Err(Error::Usage(format!(
        "MIRROR '{mirror}': an http://, https:// or file:// URL, or a directory's path, is \
         expected"
    )))
}

/// The mirror of an extra suite: the host's apt sources' for it, else
/// the main mirror, or for a `-security` suite its sibling archive
/// (`…/debian` → `…/debian-security`, Debian's layout).
pub(crate) fn extra_mirror(suite: &str, main: &str) -> String {
    let host = host_sources(Path::new("/etc/apt"));
    if let Some(source) = host.iter().find(|s| s.suites.iter().any(|s| s == suite)) {
        if let Ok(url) = mirror_url(source.uri.trim_end_matches('/')) {
            return url;
        }
    }
    if suite.ends_with("-security") {
        if let Some((parent, last)) = main.rsplit_once('/') {
            if !last.ends_with("-security") {
                return format!("{parent}/{last}-security");
            }
        }
    }
    main.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_format() {
        let text = "# comment\n\
            deb http://a/debian bookworm main\n\
            deb-src http://a/debian bookworm main\n\
            deb [arch=amd64 signed-by=/k.gpg] http://b/debian trixie main # x\n\
            deb [trusted=yes] http://c/debian\n\
            garbage\n";
        let got = parse_list(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].uri, "http://a/debian");
        assert_eq!(got[1].uri, "http://b/debian");
        assert_eq!(got[1].suites, ["trixie"]);
    }

    #[test]
    fn deb822_format() {
        let text = "Types: deb deb-src\nURIs: http://m/debian\nSuites: bookworm bookworm-updates\n\
            Components: main\n\nTypes: deb\nURIs: http://m/debian-security\n\
            Suites: bookworm-security\n\nTypes: deb\nEnabled: no\nURIs: http://off\nSuites: x\n";
        let got = parse_deb822(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(default_mirror(&got).as_deref(), Some("http://m/debian"));
    }

    #[test]
    fn security_only_is_still_a_mirror_but_last_choice() {
        let sources = parse_list("deb http://s/debian-security bookworm-security main\n");
        assert_eq!(
            default_mirror(&sources).as_deref(),
            Some("http://s/debian-security")
        );
        assert_eq!(default_mirror(&[]), None);
    }
}
