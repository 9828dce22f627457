//! ns-bootstrap end to end: a real minbase bootstrap from the host's Debian
//! mirror (checked with the target's own dpkg and against debootstrap's
//! package list), and a local signed mirror on 127.0.0.1, made from the
//! same packages, to show that tampering and hostile packages are refused
//! without anything written outside TARGET.
//!
//! The mirror's name is read from the host's apt sources at run time.
//! Downloads go to ns-bootstrap's default cache, kept between runs.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use nstools_tests::{bin, require_root, TempDir, TestCommand};

const SUITE: &str = "bookworm";

/// The first main-archive `deb` URI of the host's deb822 apt sources.
fn host_mirror() -> String {
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

fn ns_bootstrap() -> PathBuf {
    bin("ns-bootstrap")
}

/// Shell output of a command inside a root (no mounts needed).
fn in_root(root: &Path, script: &str) -> (bool, String) {
    let output = Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", script])
        .env("LC_ALL", "C")
        .output()
        .expect("run chroot");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = dir.to_string_lossy();
    table
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&*dir)))
        .map(str::to_string)
        .collect()
}

/// The checks every finished bootstrap must pass; problems are collected.
fn check_system(root: &Path, problems: &mut Vec<String>) -> Vec<String> {
    let (ok, states) = in_root(root, "dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n'");
    if !ok {
        problems.push(format!("dpkg-query failed: {states}"));
    }
    let mut names = Vec::new();
    for line in states.lines() {
        let (state, name) = line.split_once(' ').unwrap_or((line, ""));
        if state.trim() != "ii" {
            problems.push(format!("not ii: {line}"));
        }
        names.push(name.trim().to_string());
    }
    let (ok, audit) = in_root(root, "dpkg --audit");
    if !ok || !audit.trim().is_empty() {
        problems.push(format!("dpkg --audit: {audit}"));
    }
    let (ok, verify) = in_root(root, "dpkg --verify");
    if !ok || !verify.trim().is_empty() {
        problems.push(format!("dpkg --verify: {verify}"));
    }
    for leftover in [
        "usr/sbin/policy-rc.d",
        "debootstrap",
        "usr/sbin/start-stop-daemon.REAL",
    ] {
        if root.join(leftover).exists() {
            problems.push(format!("{leftover} left in the target"));
        }
    }
    let mounts = mounts_under(root);
    if !mounts.is_empty() {
        problems.push(format!("mounts left behind: {mounts:?}"));
    }
    names.sort();
    names
}

#[test]
fn real_minbase_bootstrap_from_the_host_mirror() {
    require_root();
    let mirror = host_mirror();
    let dir = TempDir::new("bootstrap-real");
    let root = dir.path().join("root");
    let mut problems = Vec::new();

    let run = TestCommand::new(ns_bootstrap())
        .args(["--variant=minbase", SUITE])
        .arg(&root)
        .arg(&mirror)
        .run();
    run.expect_code(0);
    let ours = check_system(&root, &mut problems);

    // debootstrap's selection for the same suite, variant and mirror.
    let reference = TestCommand::new("debootstrap")
        .args(["--print-debs", "--variant=minbase", SUITE])
        .arg(dir.path().join("debootstrap-target"))
        .arg(&mirror)
        .run();
    reference.expect_code(0);
    let mut theirs: Vec<String> = reference
        .stdout
        .split_whitespace()
        .map(str::to_string)
        .collect();
    theirs.sort();
    if ours != theirs {
        problems.push(format!(
            "package set differs from debootstrap's:\nonly ours: {:?}\nonly theirs: {:?}",
            ours.iter()
                .filter(|p| !theirs.contains(p))
                .collect::<Vec<_>>(),
            theirs
                .iter()
                .filter(|p| !ours.contains(p))
                .collect::<Vec<_>>()
        ));
    }
    for (file, want) in [
        (
            "etc/apt/sources.list",
            format!("deb {mirror} {SUITE} main\n"),
        ),
        (
            "etc/fstab",
            "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n".to_string(),
        ),
    ] {
        let got = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        if got != want {
            problems.push(format!("{file}: {got:?}, expected {want:?}"));
        }
    }

    // The cache is kept: a second run downloads nothing; --print-debs
    // prints the same set.
    let second_root = dir.path().join("second");
    let again = TestCommand::new(ns_bootstrap())
        .args(["--variant=minbase", SUITE])
        .arg(&second_root)
        .arg(&mirror)
        .run();
    again.expect_code(0);
    if !again.stderr.contains("(0 downloaded,") {
        problems.push(format!("second run downloaded packages:\n{}", again.stderr));
    }
    let print = TestCommand::new(ns_bootstrap())
        .args(["--print-debs", "--variant=minbase", SUITE])
        .arg(dir.path().join("unused"))
        .arg(&mirror)
        .run();
    print.expect_code(0);
    let printed: Vec<String> = print.stdout.lines().map(str::to_string).collect();
    if printed != ours {
        problems.push(format!(
            "--print-debs differs from the installed set: {printed:?}"
        ));
    }
    if dir.path().join("unused").exists() {
        problems.push("--print-debs created TARGET".to_string());
    }

    // The result works: apt installs a package from the same mirror.
    let apt = Command::new("unshare")
        .args(["--mount", "sh", "-c"])
        .arg(format!(
            "mount -t proc proc {0}/proc && chroot {0} sh -c \
             'apt-get -qq update && apt-get -qq -y install hello >/dev/null && hello'",
            root.display()
        ))
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .expect("run apt in the target");
    let apt_out = String::from_utf8_lossy(&apt.stdout);
    if !apt.status.success() || !apt_out.contains("Hello, world!") {
        problems.push(format!(
            "apt-get install hello failed: {apt_out}{}",
            String::from_utf8_lossy(&apt.stderr)
        ));
    }

    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// What is compared of one file: type and mode, owner, device, link
/// target or content.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    mode: u32,
    owner: (u32, u32),
    rdev: u64,
    link: Option<PathBuf>,
    content: Option<Vec<u8>>,
}

/// Logs, caches, dpkg's backup files and what debootstrap's own tools
/// leave (mount's /run/mount) are not part of the system.
fn skipped(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    [
        "proc/",
        "sys/",
        "var/log/",
        "var/cache/",
        "var/lib/apt/lists/",
        "run/mount",
        "debootstrap",
    ]
    .iter()
    .any(|prefix| text.starts_with(prefix) || format!("{text}/") == *prefix)
        || text == "var/lib/dpkg/available"
        || text.ends_with("-old")
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
    use std::os::unix::fs::MetadataExt;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if skipped(&relative) {
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let link = meta
            .file_type()
            .is_symlink()
            .then(|| std::fs::read_link(&path).unwrap());
        let content = meta.is_file().then(|| std::fs::read(&path).unwrap());
        out.insert(
            relative,
            Entry {
                mode: meta.mode(),
                owner: (meta.uid(), meta.gid()),
                rdev: meta.rdev(),
                link,
                content,
            },
        );
        if meta.is_dir() {
            walk(root, &path, out);
        }
    }
}

#[test]
fn tree_matches_debootstrap() {
    require_root();
    let mirror = host_mirror();
    let dir = TempDir::new("bootstrap-tree");
    let ours = dir.path().join("ours");
    let theirs = dir.path().join("theirs");
    TestCommand::new(ns_bootstrap())
        .args(["--variant=minbase", SUITE])
        .arg(&ours)
        .arg(&mirror)
        .run()
        .expect_code(0);
    let cache = Path::new("/var/cache/ns-bootstrap-tests-debootstrap");
    std::fs::create_dir_all(cache).unwrap();
    TestCommand::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(SUITE)
        .arg(&theirs)
        .arg(&mirror)
        .run()
        .expect_code(0);
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    walk(&ours, &ours, &mut a);
    walk(&theirs, &theirs, &mut b);
    // A minbase tree has thousands of paths; an empty walk proves nothing.
    assert!(
        b.len() > 5000,
        "debootstrap's tree has only {} paths",
        b.len()
    );
    let mut problems = Vec::new();
    for (path, entry) in &a {
        match b.get(path) {
            None => problems.push(format!("only ours: {}", path.display())),
            Some(other) if other != entry => {
                let what = if entry.content != other.content {
                    "content"
                } else {
                    "type, mode, owner or link"
                };
                problems.push(format!(
                    "{} differs ({what}): ours {:o} {:?} {:?}, debootstrap's {:o} {:?} {:?}",
                    path.display(),
                    entry.mode,
                    entry.owner,
                    entry.link,
                    other.mode,
                    other.owner,
                    other.link
                ));
            }
            Some(_) => {}
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        problems.push(format!("only debootstrap's: {}", path.display()));
    }
    assert!(
        problems.is_empty(),
        "{} of {} paths differ:\n{}",
        problems.len(),
        b.len(),
        problems.join("\n")
    );
}

/// Processes whose root directory is inside `dir` (a chroot left running).
fn processes_rooted_in(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(root) = std::fs::read_link(entry.path().join("root")) else {
            continue;
        };
        if root.starts_with(dir) {
            found.push(format!(
                "{} ({})",
                entry.file_name().to_string_lossy(),
                root.display()
            ));
        }
    }
    found
}

#[test]
fn interrupted_bootstrap_leaves_no_mount_and_no_process() {
    require_root();
    let mirror = host_mirror();
    let dir = TempDir::new("bootstrap-interrupted");
    let root = dir.path().join("root");
    let mut child = Command::new(ns_bootstrap())
        .args(["--variant=minbase", SUITE])
        .arg(&root)
        .arg(&mirror)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ns-bootstrap");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    for line in stderr.lines().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("Configuring") {
            break;
        }
    }
    assert!(
        seen.contains("Configuring"),
        "never reached the configure step:\n{seen}"
    );
    // Into the maintainer scripts, then Ctrl-C (SIGINT to ns-bootstrap).
    std::thread::sleep(std::time::Duration::from_millis(700));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "finished before the interruption: {seen}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut problems = Vec::new();
    let mounts = mounts_under(&root);
    if !mounts.is_empty() {
        problems.push(format!("mounts left: {mounts:?}"));
    }
    let processes = processes_rooted_in(&root);
    if !processes.is_empty() {
        problems.push(format!("processes left in the target: {processes:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// The local mirror.

/// Serves files under `root` over HTTP/1.1 on 127.0.0.1, one request per
/// connection; stops with the test process.
fn serve(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let address = listener.local_addr().unwrap();
    let root = Arc::new(root);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = Arc::clone(&root);
            std::thread::spawn(move || answer(&root, stream));
        }
    });
    format!("http://{address}/debian")
}

fn answer(root: &Path, mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let relative = path.trim_start_matches("/debian/");
    let body = if relative.split('/').any(|p| p == "..") {
        None
    } else {
        std::fs::read(root.join(relative)).ok()
    };
    let _ = match body {
        Some(body) => stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .as_bytes(),
            )
            .and_then(|()| stream.write_all(&body)),
        None => stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    };
}

fn sha256(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A signing key in its own GNUPGHOME, and its public keyring.
struct Key {
    home: PathBuf,
    keyring: PathBuf,
}

fn make_key(dir: &Path, name: &str) -> Key {
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

fn clearsign(key: &Key, text: &str, to: &Path) {
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
fn tar_entry(out: &mut Vec<u8>, name: &str, kind: u8, link: &str, data: &[u8]) {
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

fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
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

/// A data tarball entry: name, ustar type, link target.
type TarEntry<'a> = (&'a str, u8, &'a str);

/// A package whose data holds `entries` (name, type, link target).
fn hostile_deb(name: &str, entries: &[TarEntry]) -> Vec<u8> {
    let mut control = Vec::new();
    let text = format!(
        "Package: {name}\nVersion: 1\nArchitecture: all\nMaintainer: t <t@t>\n\
         Description: hostile test package\n"
    );
    tar_entry(&mut control, "./control", b'0', "", text.as_bytes());
    control.extend_from_slice(&[0u8; 1024]);
    let mut data = Vec::new();
    for (path, kind, link) in entries {
        let content: &[u8] = if *kind == b'0' { b"owned\n" } else { b"" };
        tar_entry(&mut data, path, *kind, link, content);
    }
    data.extend_from_slice(&[0u8; 1024]);
    ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar", control),
        ("data.tar", data),
    ])
}

struct LocalMirror {
    dir: PathBuf,
    url: String,
    key: Key,
    stanzas: BTreeMap<String, String>,
}

impl LocalMirror {
    /// Rewrites Packages and the signed InRelease from the stanzas.
    fn publish(&self) {
        let packages: String = self.stanzas.values().cloned().collect();
        let list = self.dir.join("dists/stable/main/binary-amd64");
        std::fs::create_dir_all(&list).unwrap();
        std::fs::write(list.join("Packages"), &packages).unwrap();
        let release = format!(
            "Origin: Test\nSuite: stable\nCodename: {SUITE}\nArchitectures: amd64\n\
             Components: main\nSHA256:\n {} {} main/binary-amd64/Packages\n",
            sha256(&list.join("Packages")),
            packages.len()
        );
        clearsign(
            &self.key,
            &release,
            &self.dir.join("dists/stable/InRelease"),
        );
    }

    fn add_deb(&mut self, name: &str, file: &str, bytes: &[u8]) {
        let path = self.dir.join("pool").join(file);
        std::fs::write(&path, bytes).unwrap();
        self.stanzas.insert(
            name.to_string(),
            format!(
                "Package: {name}\nVersion: 1\nArchitecture: all\nPriority: optional\n\
                 Filename: pool/{file}\nSize: {}\nSHA256: {}\n\n",
                bytes.len(),
                sha256(&path)
            ),
        );
    }
}

/// The minbase packages, fetched (or taken from the cache) with
/// --download-only from the host's mirror, re-published locally under a
/// test key; every package marked required so minbase takes them all.
fn local_mirror(dir: &Path) -> LocalMirror {
    let fetch = dir.join("fetch");
    TestCommand::new(ns_bootstrap())
        .args(["--download-only", "--variant=minbase", SUITE])
        .arg(&fetch)
        .arg(host_mirror())
        .run()
        .expect_code(0);
    let mirror_dir = dir.join("mirror");
    std::fs::create_dir_all(mirror_dir.join("pool")).unwrap();
    let mut stanzas = BTreeMap::new();
    for entry in std::fs::read_dir(fetch.join("var/cache/apt/archives")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("deb") {
            continue;
        }
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let to = mirror_dir.join("pool").join(&file);
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
        stanza.push_str(&format!(
            "Priority: required\nFilename: pool/{file}\nSize: {}\nSHA256: {}\n\n",
            std::fs::metadata(&to).unwrap().len(),
            sha256(&to)
        ));
        stanzas.insert(name, stanza);
    }
    let key = make_key(dir, "archive");
    let mirror = LocalMirror {
        url: serve(mirror_dir.clone()),
        dir: mirror_dir,
        key,
        stanzas,
    };
    mirror.publish();
    mirror
}

fn bootstrap_from(
    mirror: &LocalMirror,
    keyring: &Path,
    target: &Path,
    extra: &[&str],
) -> nstools_tests::Outcome {
    TestCommand::new(ns_bootstrap())
        .args(["--variant=minbase", "--cache-dir"])
        .arg(target.with_extension("cache"))
        .arg("--keyring")
        .arg(keyring)
        .args(extra)
        .arg("stable")
        .arg(target)
        .arg(&mirror.url)
        .run()
}

#[test]
fn local_mirror_bootstrap_and_refusals() {
    require_root();
    let dir = TempDir::new("bootstrap-local");
    let mut mirror = local_mirror(dir.path());
    let mut problems = Vec::new();

    // A signed local mirror: the bootstrap succeeds.
    let good = dir.path().join("good");
    let run = bootstrap_from(&mirror, &mirror.key.keyring, &good, &[]);
    if run.code != Some(0) {
        problems.push(format!("bootstrap from the local mirror failed: {run}"));
    } else {
        check_system(&good, &mut problems);
    }

    // An unknown key: refused.
    let other = make_key(dir.path(), "other");
    let target = dir.path().join("unknown-key");
    let run = bootstrap_from(&mirror, &other.keyring, &target, &[]);
    expect_refusal(&run, "unknown key", &target, &mut problems);

    // A bad signature: the signed text changed after signing.
    let inrelease = mirror.dir.join("dists/stable/InRelease");
    let signed = std::fs::read_to_string(&inrelease).unwrap();
    std::fs::write(&inrelease, signed.replace("Origin: Test", "Origin: Evil")).unwrap();
    let target = dir.path().join("bad-signature");
    let run = bootstrap_from(&mirror, &mirror.key.keyring, &target, &[]);
    expect_refusal(&run, "bad signature", &target, &mut problems);
    std::fs::write(&inrelease, &signed).unwrap();

    // A tampered Packages index (after the Release was signed).
    let packages = mirror.dir.join("dists/stable/main/binary-amd64/Packages");
    let index = std::fs::read_to_string(&packages).unwrap();
    std::fs::write(&packages, index.replacen("Version:", "Version: 9", 1)).unwrap();
    let target = dir.path().join("tampered-packages");
    let run = bootstrap_from(&mirror, &mirror.key.keyring, &target, &[]);
    expect_refusal(&run, "was expected", &target, &mut problems);
    std::fs::write(&packages, &index).unwrap();

    // A tampered .deb (the index and the signature are intact).
    let deb = mirror.dir.join("pool").join(
        mirror.stanzas["hostname"]
            .lines()
            .find_map(|l| l.strip_prefix("Filename: pool/"))
            .unwrap(),
    );
    let original = std::fs::read(&deb).unwrap();
    let mut tampered = original.clone();
    let last = tampered.len() - 10;
    tampered[last] ^= 0xff;
    std::fs::write(&deb, &tampered).unwrap();
    let target = dir.path().join("tampered-deb");
    let run = bootstrap_from(&mirror, &mirror.key.keyring, &target, &[]);
    expect_refusal(&run, "package hostname: download", &target, &mut problems);
    std::fs::write(&deb, &original).unwrap();

    // Hostile packages: `../` entries, and a symlink out of the root.
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let climb = format!("./{}", "../".repeat(8));
    let escape_file = format!(
        "{climb}{}/dotdot",
        outside.display().to_string().trim_start_matches('/')
    );
    let cases: [(&str, Vec<TarEntry>, &str); 2] = [
        (
            "evil-dotdot",
            vec![(escape_file.as_str(), b'0', "")],
            "leaves the root",
        ),
        (
            "evil-symlink",
            vec![
                ("./usr/", b'5', ""),
                ("./usr/escape", b'2', "../../../../../../../../../../../tmp"),
            ],
            "points outside the root",
        ),
    ];
    for (name, entries, message) in cases {
        mirror.add_deb(
            name,
            &format!("{name}_1_all.deb"),
            &hostile_deb(name, &entries),
        );
        mirror.publish();
        let target = dir.path().join(name);
        let run = bootstrap_from(
            &mirror,
            &mirror.key.keyring,
            &target,
            &[&format!("--include={name}")],
        );
        expect_refusal(&run, message, &target, &mut problems);
        mirror.stanzas.remove(name);
    }
    mirror.publish();
    let written: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    if !written.is_empty() {
        problems.push(format!("written outside TARGET: {written:?}"));
    }

    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A refusal: status 1, the reason on stderr, the log in TARGET, and no
/// mount left behind.
fn expect_refusal(
    run: &nstools_tests::Outcome,
    reason: &str,
    target: &Path,
    problems: &mut Vec<String>,
) {
    if run.code != Some(1) || !run.stderr.contains(reason) {
        problems.push(format!("expected a refusal naming '{reason}': {run}"));
    }
    let log = target.join("debootstrap/debootstrap.log");
    let mut text = String::new();
    let _ = std::fs::File::open(&log).and_then(|mut f| f.read_to_string(&mut text));
    if !text.contains("E: ") {
        problems.push(format!("{}: no log of the failure", log.display()));
    }
    let mounts = mounts_under(target);
    if !mounts.is_empty() {
        problems.push(format!("mounts left behind: {mounts:?}"));
    }
}
