//! Debian mirrors for ns-bootstrap's tests: the host's (read from its apt
//! sources, never named in the code), and local ones served on 127.0.0.1
//! and signed with a throwaway key, whose server the test controls
//! (`Last-Modified`, conditional requests, delays) and whose packages may
//! be built by hand to be as hostile as a test needs.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ns_bootstrap::release::{http_date, parse_date};

/// The code name the local mirrors publish (Suite: stable).
pub const SUITE: &str = "bookworm";

/// The first main-archive `deb` URI of the host's deb822 apt sources.
pub fn host_mirror() -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        if file.extension().and_then(|e| e.to_str()) != Some("sources") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) else {
                continue;
            };
            if suites.split_whitespace().any(|s| !s.contains('-')) {
                if let Some(uri) = uris.split_whitespace().next() {
                    return uri.trim_end_matches('/').to_string();
                }
            }
        }
    }
    panic!("no Debian mirror in /etc/apt/sources.list.d/*.sources");
}

/// What the test server answers beyond the files themselves.
#[derive(Default)]
pub struct Behaviour {
    /// `Last-Modified` per path under the mirror (seconds); otherwise the
    /// file's mtime.
    pub last_modified: HashMap<String, u64>,
    /// Paths answered only after this long.
    pub delay: HashMap<String, Duration>,
    /// Paths whose next answer is this status (then forgotten).
    pub fail_once: HashMap<String, u16>,
    /// Paths whose next answer stops after this many body bytes, the
    /// connection cut (then forgotten).
    pub cut_once: HashMap<String, usize>,
    /// Every request: (path, its If-Modified-Since header).
    pub requests: Vec<(String, Option<String>)>,
    /// Every Range header asked for: (path, range).
    pub ranges: Vec<(String, String)>,
}

type State = Arc<Mutex<Behaviour>>;

/// Serves files under `root` over HTTP/1.1 on 127.0.0.1 as `/debian/…`,
/// one request per connection, with conditional GETs and byte ranges as a
/// web server answers them; stops with the test process.
pub fn serve(root: PathBuf) -> (String, State) {
    serve_with(root, None)
}

/// The same over TLS with the given certificate chain and key (PEM).
pub fn serve_tls(root: PathBuf, chain: &Path, key: &Path) -> (String, State) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(chain)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    serve_with(root, Some(Arc::new(config)))
}

fn serve_with(root: PathBuf, tls: Option<Arc<rustls::ServerConfig>>) -> (String, State) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().unwrap();
    let root = Arc::new(root);
    let behaviour = Arc::new(Mutex::new(Behaviour::default()));
    let state = Arc::clone(&behaviour);
    let scheme = if tls.is_some() { "https" } else { "http" };
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = Arc::clone(&root);
            let state = Arc::clone(&state);
            let tls = tls.clone();
            std::thread::spawn(move || match tls {
                Some(config) => {
                    let Ok(connection) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    answer(&root, &state, rustls::StreamOwned::new(connection, stream));
                }
                None => answer(&root, &state, stream),
            });
        }
    });
    (format!("{scheme}://{address}/debian"), behaviour)
}

fn answer(root: &Path, state: &Mutex<Behaviour>, stream: impl Read + Write) {
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    let (mut since, mut range) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("If-Modified-Since") {
                since = Some(value.trim().to_string());
            }
            if name.eq_ignore_ascii_case("Range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let stream = reader.get_mut();
    let mut path = request.split_whitespace().nth(1).unwrap_or("/");
    // The absolute form a server must accept too (RFC 9112 §3.2.2).
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |at| &rest[at..]);
    }
    let relative = path.trim_start_matches("/debian/").to_string();
    let (delay, modified_override, fail, cut) = {
        let mut state = state.lock().unwrap();
        state.requests.push((relative.clone(), since.clone()));
        if let Some(range) = &range {
            state.ranges.push((relative.clone(), range.clone()));
        }
        (
            state.delay.get(&relative).copied(),
            state.last_modified.get(&relative).copied(),
            state.fail_once.remove(&relative),
            state.cut_once.remove(&relative),
        )
    };
    if let Some(delay) = delay {
        std::thread::sleep(delay);
    }
    if let Some(code) = fail {
        let _ = stream.write_all(
            format!("HTTP/1.1 {code} Trouble\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        return;
    }
    let file = root.join(&relative);
    let body = if relative.split('/').any(|p| p == "..") {
        None
    } else {
        std::fs::read(&file).ok()
    };
    let Some(body) = body else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let modified = modified_override.unwrap_or_else(|| {
        std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs())
    });
    if since
        .as_deref()
        .and_then(parse_date)
        .is_some_and(|since| modified <= since)
    {
        let _ = stream.write_all(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
        return;
    }
    // `bytes=N-`, the only form a resumed download asks for.
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n < body.len());
    let (status, part) = match start {
        Some(n) => (
            format!(
                "206 Partial Content\r\nContent-Range: bytes {n}-{}/{}",
                body.len() - 1,
                body.len()
            ),
            &body[n..],
        ),
        None => ("200 OK".to_string(), &body[..]),
    };
    let sent = cut.map_or(part.len(), |n| n.min(part.len()));
    let _ = stream
        .write_all(
            format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nLast-Modified: {}\r\n\
                 Connection: close\r\n\r\n",
                part.len(),
                http_date(modified)
            )
            .as_bytes(),
        )
        .and_then(|()| stream.write_all(&part[..sent]))
        .and_then(|()| stream.flush());
}

/// A forward proxy on 127.0.0.1 that counts what passes through it:
/// `GET http://…` requests are relayed, `CONNECT` opens a tunnel.
pub fn proxy() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return;
                }
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                        break;
                    }
                    headers.push(header);
                }
                counted.fetch_add(1, Ordering::SeqCst);
                let mut words = request.split_whitespace();
                let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
                let mut client = client;
                if method == "CONNECT" {
                    let Ok(upstream) = TcpStream::connect(target) else {
                        return;
                    };
                    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                    let (mut up_read, mut up_write) = (upstream.try_clone().unwrap(), upstream);
                    let mut down_write = client.try_clone().unwrap();
                    let back = std::thread::spawn(move || {
                        let _ = std::io::copy(&mut up_read, &mut down_write);
                    });
                    let _ = std::io::copy(&mut reader, &mut up_write);
                    let _ = up_write.shutdown(std::net::Shutdown::Write);
                    let _ = back.join();
                    return;
                }
                let Some(rest) = target.strip_prefix("http://") else {
                    return;
                };
                let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
                let Ok(mut upstream) = TcpStream::connect(host) else {
                    return;
                };
                let mut forwarded = format!("{method} /{path} HTTP/1.1\r\n");
                for header in headers {
                    let lower = header.to_ascii_lowercase();
                    if !lower.starts_with("connection:") && !lower.starts_with("proxy-") {
                        forwarded.push_str(&header);
                    }
                }
                forwarded.push_str("Connection: close\r\n\r\n");
                if upstream.write_all(forwarded.as_bytes()).is_ok() {
                    let _ = std::io::copy(&mut upstream, &mut client);
                }
            });
        }
    });
    (format!("http://{address}"), count)
}

pub fn sha256(data: &[u8]) -> String {
    ns_bootstrap::download::sha256_hex(data)
}

/// A signing key in its own GNUPGHOME, and its public keyring.
pub struct Key {
    pub home: PathBuf,
    pub keyring: PathBuf,
}

pub fn make_key(dir: &Path, name: &str) -> Key {
    let home = dir.join(format!("gnupg-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = |args: &[&str]| {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("run gpg");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    gpg(&[
        "--quick-gen-key",
        &format!("{name} <{name}@test.invalid>"),
        "ed25519",
        "sign",
        "never",
    ]);
    let keyring = dir.join(format!("{name}.gpg"));
    std::fs::write(&keyring, gpg(&["--export"])).unwrap();
    Key { home, keyring }
}

pub fn clearsign(key: &Key, text: &str, to: &Path) {
    let input = to.with_extension("unsigned");
    std::fs::write(&input, text).unwrap();
    let status = Command::new("gpg")
        .env("GNUPGHOME", &key.home)
        .args(["--batch", "--yes", "--clearsign", "-o"])
        .arg(to)
        .arg(&input)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(input).unwrap();
}

/// Minimal ustar writer for the hostile packages (dpkg-deb refuses to
/// build them).
pub fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, data: &[u8]) {
    let mut header = [0u8; 512];
    assert!(
        name.len() < 100 && link.len() < 100,
        "ustar names are short"
    );
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
}

pub fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        out.extend_from_slice(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                name,
                0,
                0,
                0,
                100644,
                data.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// A data tarball holding `entries` (regular files hold "owned\n").
pub fn data_tar(entries: &[TarEntry]) -> Vec<u8> {
    let mut data = Vec::new();
    for (path, kind, link) in entries {
        let content: &[u8] = if *kind == b'0' { b"owned\n" } else { b"" };
        tar_entry(&mut data, path, *kind, link, content);
    }
    data.extend_from_slice(&[0u8; 1024]);
    data
}

/// A data tarball entry: name, ustar type, link target.
pub type TarEntry<'a> = (&'a str, u8, &'a str);

/// A package whose data holds `entries` (name, type, link target; regular
/// files hold "owned\n").
pub fn hostile_deb(name: &str, entries: &[TarEntry]) -> Vec<u8> {
    deb(name, &[], entries)
}

/// The same, with more control files (`triggers`, `postinst`, …).
pub fn deb(name: &str, control_files: &[(&str, &[u8])], entries: &[TarEntry]) -> Vec<u8> {
    deb_with_data(name, control_files, ("data.tar", data_tar(entries)))
}

/// A package with a data member as given (name and bytes).
pub fn deb_with_data(
    name: &str,
    control_files: &[(&str, &[u8])],
    data: (&str, Vec<u8>),
) -> Vec<u8> {
    deb_with_fields(name, "", control_files, data)
}

/// The same with more control fields (`Depends: x\n`).
pub fn deb_with_fields(
    name: &str,
    fields: &str,
    control_files: &[(&str, &[u8])],
    data: (&str, Vec<u8>),
) -> Vec<u8> {
    let mut control = Vec::new();
    let text = format!(
        "Package: {name}\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\n{fields}\
         Description: hostile test package\n"
    );
    tar_entry(&mut control, "./control", b'0', "", text.as_bytes());
    for (file, content) in control_files {
        tar_entry(&mut control, &format!("./{file}"), b'0', "", content);
    }
    control.extend_from_slice(&[0u8; 1024]);
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control),
        (data.0, data.1),
    ])
}

pub struct LocalMirror {
    pub dir: PathBuf,
    pub url: String,
    pub key: Key,
    /// Packages stanzas by package name.
    pub stanzas: BTreeMap<String, String>,
    /// Fields added to the Release (`Date: …`, `Valid-Until: …`).
    pub release_fields: String,
    pub server: Arc<Mutex<Behaviour>>,
}

impl LocalMirror {
    /// An empty mirror under `dir/mirror`, signed by a new key.
    pub fn new(dir: &Path) -> LocalMirror {
        let mirror_dir = dir.join("mirror");
        std::fs::create_dir_all(mirror_dir.join("pool")).unwrap();
        let (url, server) = serve(mirror_dir.clone());
        LocalMirror {
            dir: mirror_dir,
            url,
            key: make_key(dir, "archive"),
            stanzas: BTreeMap::new(),
            release_fields: String::new(),
            server,
        }
    }

    /// Rewrites Packages and the signed InRelease from the stanzas.
    pub fn publish(&self) {
        let packages: String = self.stanzas.values().cloned().collect();
        self.publish_packages(&packages);
    }

    /// Publishes `packages` as the Packages index (whatever it says).
    pub fn publish_packages(&self, packages: &str) {
        let list = self.dir.join("dists/stable/main/binary-amd64");
        std::fs::create_dir_all(&list).unwrap();
        std::fs::write(list.join("Packages"), packages).unwrap();
        self.publish_release(&format!(
            " {} {} main/binary-amd64/Packages\n",
            sha256(packages.as_bytes()),
            packages.len()
        ));
    }

    /// Publishes another suite: its components' Packages (text each) and
    /// a signed InRelease naming them (`Suite: SUITE`, `Codename: SUITE`).
    pub fn publish_suite(&self, suite: &str, components: &[(&str, String)]) {
        let mut files = String::new();
        for (component, packages) in components {
            let list = self
                .dir
                .join(format!("dists/{suite}/{component}/binary-amd64"));
            std::fs::create_dir_all(&list).unwrap();
            std::fs::write(list.join("Packages"), packages).unwrap();
            files.push_str(&format!(
                " {} {} {component}/binary-amd64/Packages\n",
                sha256(packages.as_bytes()),
                packages.len()
            ));
        }
        let names: Vec<&str> = components.iter().map(|(c, _)| *c).collect();
        let release = format!(
            "Origin: Test\nSuite: {suite}\nCodename: {suite}\n{}Architectures: amd64\n\
             Components: {}\nSHA256:\n{files}",
            self.release_fields,
            names.join(" ")
        );
        clearsign(
            &self.key,
            &release,
            &self.dir.join(format!("dists/{suite}/InRelease")),
        );
    }

    /// A stanza for a package put in the pool (not in any index).
    pub fn pool_stanza(&self, name: &str, version: &str, file: &str, bytes: &[u8]) -> String {
        let path = self.dir.join("pool").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: all\nPriority: required\n\
             Filename: pool/{file}\nSize: {}\nSHA256: {}\n\n",
            bytes.len(),
            sha256(bytes)
        )
    }

    /// Signs a Release whose SHA256 list is `files` (lines).
    pub fn publish_release(&self, files: &str) {
        let release = format!(
            "Origin: Test\nSuite: stable\nCodename: {SUITE}\n{}Architectures: amd64\n\
             Components: main\nSHA256:\n{files}",
            self.release_fields
        );
        clearsign(
            &self.key,
            &release,
            &self.dir.join("dists/stable/InRelease"),
        );
    }

    /// Puts a package in the pool and its stanza in the index (published
    /// by the next [`publish`](Self::publish)); `extra` adds fields.
    pub fn add_deb(&mut self, name: &str, file: &str, bytes: &[u8], extra: &str) {
        let path = self.dir.join("pool").join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        self.stanzas.insert(
            name.to_string(),
            format!(
                "Package: {name}\nVersion: 1\nArchitecture: all\nPriority: required\n\
                 {extra}Filename: pool/{file}\nSize: {}\nSHA256: {}\n\n",
                bytes.len(),
                sha256(bytes)
            ),
        );
    }

    /// ns-bootstrap on this mirror's `stable` (at `url`: this server's, or
    /// another that serves the same files), trusting its key, with a
    /// cache of its own, `extra` options before SUITE, and a bound on
    /// how long it may take.
    pub fn bootstrap(
        &self,
        url: &str,
        target: &Path,
        cache: &Path,
        extra: &[&str],
    ) -> crate::TestCommand {
        crate::TestCommand::new(crate::bin("ns-bootstrap"))
            .arg("--cache-dir")
            .arg(cache)
            .arg("--keyring")
            .arg(&self.key.keyring)
            .args(extra)
            .arg("stable")
            .arg(target)
            .arg(url)
            .timeout(Duration::from_secs(300))
    }

    /// The InRelease as served, for tests that tamper with it.
    pub fn in_release(&self) -> PathBuf {
        self.dir.join("dists/stable/InRelease")
    }
}

/// The minbase packages, fetched (or taken from the cache) with
/// --download-only from the host's mirror, re-published locally under a
/// test key; every package marked required so minbase takes them all.
pub fn minbase_mirror(dir: &Path, ns_bootstrap: &Path) -> LocalMirror {
    let fetch = dir.join("fetch");
    crate::TestCommand::new(ns_bootstrap)
        .args(["--download-only", "--variant=minbase", SUITE])
        .arg(&fetch)
        .arg(host_mirror())
        .run()
        .expect_code(0);
    let mut mirror = LocalMirror::new(dir);
    for entry in std::fs::read_dir(fetch.join("var/cache/apt/archives")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("deb") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let to = mirror.dir.join("pool").join(&file);
        std::fs::copy(&path, &to).unwrap();
        let control = Command::new("dpkg-deb")
            .arg("-f")
            .arg(&to)
            .output()
            .unwrap();
        let control = String::from_utf8_lossy(&control.stdout).into_owned();
        let mut stanza = String::new();
        let mut name = String::new();
        for line in control.lines() {
            if let Some(n) = line.strip_prefix("Package: ") {
                name = n.to_string();
            }
            if line.starts_with("Priority:") {
                continue;
            }
            stanza.push_str(line);
            stanza.push('\n');
        }
        let bytes = std::fs::read(&to).unwrap();
        stanza.push_str(&format!(
            "Priority: required\nFilename: pool/{file}\nSize: {}\nSHA256: {}\n\n",
            bytes.len(),
            sha256(&bytes)
        ));
        mirror.stanzas.insert(name, stanza);
    }
    mirror.publish();
    mirror
}

/// Mount points under `dir` in this process's mount table.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_string_lossy();
    table
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&*dir)))
        .map(str::to_string)
        .collect()
}
