//! Which proxy a URL goes through, as apt and wget decide it: apt's
//! `Acquire::http::Proxy` / `Acquire::https::Proxy` (and their per-host
//! forms, `DIRECT` for none) first, then the `http_proxy` / `https_proxy`
//! environment variables, which `no_proxy` overrides.

use std::collections::HashMap;

/// The proxy settings in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    /// apt's settings: `acquire::http::proxy` or
    /// `acquire::https::proxy::HOST` (lower-cased keys) → value.
    apt: HashMap<String, String>,
    http: Option<String>,
    https: Option<String>,
    /// `no_proxy`'s entries: host names, domain suffixes (`.example.org`
    /// or `example.org`), or `*`.
    no_proxy: Vec<String>,
}

impl Proxies {
    /// From the process's environment and the host's apt configuration.
    pub fn from_host() -> Proxies {
        let env = |lower: &str, upper: &str| {
            std::env::var(lower)
                .ok()
                .or_else(|| std::env::var(upper).ok())
                .filter(|v| !v.trim().is_empty())
        };
        let mut text = std::fs::read_to_string("/etc/apt/apt.conf").unwrap_or_default();
        let mut parts: Vec<_> = std::fs::read_dir("/etc/apt/apt.conf.d")
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        // apt reads the fragments in the order of their names.
        parts.sort();
        for part in parts {
            if let Ok(more) = std::fs::read_to_string(&part) {
                text.push('\n');
                text.push_str(&more);
            }
        }
        Proxies::new(
            &text,
            env("http_proxy", "HTTP_PROXY"),
            env("https_proxy", "HTTPS_PROXY"),
            env("no_proxy", "NO_PROXY").as_deref(),
        )
    }

    pub fn new(
        apt_conf: &str,
        http: Option<String>,
        https: Option<String>,
        no_proxy: Option<&str>,
    ) -> Proxies {
        let apt = parse_apt_conf(apt_conf)
            .into_iter()
            .filter(|(key, _)| {
                key.starts_with("acquire::http::proxy") || key.starts_with("acquire::https::proxy")
            })
            .collect();
        Proxies {
            apt,
            http,
            https,
            no_proxy: no_proxy
                .unwrap_or("")
                .split([',', ' '])
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    /// The proxy for `url` (`None`: direct).
    pub fn for_url(&self, url: &str) -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return None;
        }
        let authority = rest.split('/').next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        }
        .to_ascii_lowercase();
        let direct = |v: &String| v.eq_ignore_ascii_case("DIRECT") || v.is_empty();
        if let Some(value) = self.apt.get(&format!("acquire::{scheme}::proxy::{host}")) {
            return (!direct(value)).then(|| value.clone());
        }
        if let Some(value) = self.apt.get(&format!("acquire::{scheme}::proxy")) {
            return (!direct(value)).then(|| value.clone());
        }
        let from_env = if scheme == "https" {
            self.https.clone()
        } else {
            self.http.clone()
        };
        from_env.filter(|_| !self.bypassed(&host))
    }

    /// Whether `no_proxy` names the host (or a domain it is in).
    fn bypassed(&self, host: &str) -> bool {
        self.no_proxy.iter().any(|entry| {
            let domain = entry.trim_start_matches('.');
            entry == "*" || host == domain || host.ends_with(&format!(".{domain}"))
        })
    }
}

/// apt's configuration syntax: `a::b "value";`, `a { b "value"; };`,
/// `//`, `#` and `/* */` comments. Returns each scalar's full name (lower
/// case: apt's names are case-insensitive) and value; later ones win.
pub fn parse_apt_conf(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut scopes: Vec<String> = Vec::new();
    let mut name: Option<String> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut value = String::new();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    value.push(c);
                }
                if let Some(key) = name.take() {
                    let mut full = scopes.join("::");
                    if !full.is_empty() {
                        full.push_str("::");
                    }
                    full.push_str(&key);
                    out.insert(full.to_ascii_lowercase(), value);
                }
            }
            '{' => {
                if let Some(key) = name.take() {
                    scopes.push(key);
                }
            }
            '}' => {
                scopes.pop();
                name = None;
            }
            ';' => name = None,
            c if c.is_whitespace() => {}
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || "\"{};".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                name = Some(word);
            }
        }
    }
    out
}

/// Whether a proxy URL is one ureq takes (`http://host:port`).
pub fn usable(proxy: &str) -> bool {
    proxy.starts_with("http://") || !proxy.contains("://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apt_conf_both_syntaxes_and_comments() {
        let conf = "// comment\nAcquire::http::Proxy \"http://p:3128/\";\n\
                    /* block\n comment */ Acquire { https { Proxy \"http://s:8080\"; }; };\n\
                    # hash\nAcquire::http::Proxy::deb.example.org \"DIRECT\";\n\
                    APT::Get::Assume-Yes \"true\";";
        let parsed = parse_apt_conf(conf);
        assert_eq!(parsed["acquire::http::proxy"], "http://p:3128/");
        assert_eq!(parsed["acquire::https::proxy"], "http://s:8080");
        assert_eq!(parsed["acquire::http::proxy::deb.example.org"], "DIRECT");
        assert_eq!(parsed["apt::get::assume-yes"], "true");
    }

    #[test]
    fn apt_first_then_the_environment_then_no_proxy() {
        let env_only = Proxies::new(
            "",
            Some("http://envp:1".into()),
            Some("http://envs:2".into()),
            Some("localhost,.internal.example, 10.0.0.1"),
        );
        assert_eq!(
            env_only.for_url("http://mirror/debian").as_deref(),
            Some("http://envp:1")
        );
        assert_eq!(
            env_only.for_url("https://mirror/debian").as_deref(),
            Some("http://envs:2")
        );
        assert_eq!(env_only.for_url("http://a.internal.example/x"), None);
        assert_eq!(env_only.for_url("http://internal.example/x"), None);
        assert_eq!(env_only.for_url("http://10.0.0.1:8080/x"), None);
        assert_eq!(env_only.for_url("file:///srv/mirror"), None);
        let apt = Proxies::new(
            "Acquire::http::Proxy \"http://aptp:3\"; Acquire::http::Proxy::direct.example \"DIRECT\";",
            Some("http://envp:1".into()),
            None,
            Some("*"),
        );
        assert_eq!(
            apt.for_url("http://mirror/x").as_deref(),
            Some("http://aptp:3")
        );
        assert_eq!(apt.for_url("http://direct.example/x"), None);
        // The environment's https proxy is bypassed for everything.
        assert_eq!(apt.for_url("https://mirror/x"), None);
    }
}
