//! ns-bootstrap against a hostile mirror, tarball and TARGET: a signed
//! mirror on 127.0.0.1 (a throwaway key) serving what an attacker who got
//! packages into an archive, or who controls the transport, could serve.
//! One test per class of attack; in every case the files outside TARGET
//! ("victims") are compared byte for byte and by mode afterwards, a
//! refusal is a clear `E:` line with exit status 1 (no panic, no hang:
//! each run has a time limit), nothing stays mounted, and the peak
//! resident memory of each run is recorded.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ns_bootstrap::release::http_date;
use nstools_tests::mirror::{
    deb, deb_with_data, hostile_deb, mounts_under, tar_entry, LocalMirror,
};
use nstools_tests::{bin, require_root, Outcome, TempDir, TestCommand};

fn ns_bootstrap() -> PathBuf {
    bin("ns-bootstrap")
}

/// The most memory any run here may take (the bound for a whole
/// minbase; these runs need far less).
const MAX_RSS_KIB: u64 = 256 * 1024;

/// 2024-01-01 and 2024-06-01, the Dates of an old and a new release.
const OLD_DATE: u64 = 1_704_067_200;
const NEW_DATE: u64 = 1_717_200_000;

/// Files outside TARGET that no case may change, and directories no case
/// may add to.
struct Victims {
    dir: PathBuf,
}

const VICTIM_FILES: &[&str] = &[
    "fstab",
    "sources.list",
    "policy-rc.d",
    "log",
    "hostname",
    "apt/sources.list",
    "dpkg/status",
    "dpkg/cmethopt",
    "dpkg/info/base.list",
    "debootstrap/debootstrap",
    "dev/null",
];

impl Victims {
    fn new(parent: &Path) -> Victims {
        let dir = parent.join("victims");
        for file in VICTIM_FILES {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "host\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        Victims { dir }
    }

    fn path(&self, rel: &str) -> String {
        self.dir.join(rel).display().to_string()
    }

    /// Every victim as it was, and nothing new among them.
    fn check(&self, case: &str, problems: &mut Vec<String>) {
        for file in VICTIM_FILES {
            let path = self.dir.join(file);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_file() && meta.mode() & 0o7777 == 0o644 => {
                    if std::fs::read(&path).unwrap() != b"host\n" {
                        problems.push(format!("{case}: {} was written", path.display()));
                    }
                }
                other => problems.push(format!(
                    "{case}: {} changed: {:?}",
                    path.display(),
                    other.map(|m| m.mode())
                )),
            }
        }
        let mut found = Vec::new();
        collect(&self.dir, &self.dir, &mut found);
        for rel in found {
            let rel = rel.display().to_string();
            let known = VICTIM_FILES
                .iter()
                .any(|f| *f == rel || f.starts_with(&format!("{rel}/")));
            if !known {
                problems.push(format!("{case}: {rel} appeared among the victims"));
            }
        }
    }
}

fn collect(top: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push(path.strip_prefix(top).unwrap().to_path_buf());
        if entry.file_type().unwrap().is_dir() {
            collect(top, &path, out);
        }
    }
}

/// A mirror with one ordinary package (`base`), dated OLD_DATE.
fn tiny_mirror(dir: &Path) -> LocalMirror {
    let mut mirror = LocalMirror::new(dir);
    mirror.release_fields = format!("Date: {}\n", http_date(OLD_DATE));
    mirror.add_deb(
        "base",
        "base_1_all.deb",
        &hostile_deb(
            "base",
            &[
                ("./usr/", b'5', ""),
                ("./usr/share/", b'5', ""),
                ("./usr/share/base", b'0', ""),
            ],
        ),
        "",
    );
    mirror.publish();
    mirror
}

fn run(mirror: &LocalMirror, target: &Path, cache: &Path, extra: &[&str]) -> Outcome {
    mirror.bootstrap(&mirror.url, target, cache, extra).run()
}

/// What every run must be: finished in time, no panic, bounded memory,
/// nothing mounted under `target`.
fn sane(case: &str, run: &Outcome, target: &Path, problems: &mut Vec<String>) {
    eprintln!("{case}: peak RSS {} KiB", run.max_rss_kib);
    if run.timed_out || run.signal.is_some() || run.stderr.contains("panicked") {
        problems.push(format!("{case}: did not end cleanly: {run}"));
    }
    if run.max_rss_kib > MAX_RSS_KIB {
        problems.push(format!("{case}: peak RSS {} KiB", run.max_rss_kib));
    }
    let mounts = mounts_under(target);
    if !mounts.is_empty() {
        problems.push(format!("{case}: mounts left: {mounts:?}"));
    }
}

fn expect_refusal(
    case: &str,
    run: &Outcome,
    reason: &str,
    target: &Path,
    problems: &mut Vec<String>,
) {
    sane(case, run, target, problems);
    if run.code != Some(1) || !run.stderr.contains("E: ") || !run.stderr.contains(reason) {
        problems.push(format!(
            "{case}: expected an E: line naming '{reason}': {run}"
        ));
    }
}

fn expect_success(case: &str, run: &Outcome, target: &Path, problems: &mut Vec<String>) {
    sane(case, run, target, problems);
    if run.code != Some(0) {
        problems.push(format!("{case}: failed: {run}"));
    }
}

fn finish(problems: Vec<String>) {
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// An earlier run's leftovers, a package's data and an offline tarball's
/// extra entries plant symlinks to host files where ns-bootstrap writes
/// itself (with --foreign no package code runs): every write stays in
/// TARGET.
#[test]
fn planted_symlinks_never_lead_outside() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-symlinks");
    let victims = Victims::new(dir.path());
    let mut mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let mut problems = Vec::new();

    // Leftovers in TARGET.
    let target = dir.path().join("leftovers");
    for (link, to) in [
        ("etc/fstab", "fstab"),
        ("etc/hostname", "hostname"),
        ("etc/apt", "apt"),
        ("var/lib/dpkg", "dpkg"),
        ("usr/sbin/policy-rc.d", "policy-rc.d"),
        ("debootstrap", "debootstrap"),
        ("dev", "dev"),
    ] {
        let path = target.join(link);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(victims.path(to), &path).unwrap();
    }
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_success("leftovers", &outcome, &target, &mut problems);
    victims.check("leftovers", &mut problems);

    // A package whose data plants the links.
    let apt = victims.path("apt");
    let dpkg = victims.path("dpkg");
    let fstab = victims.path("fstab");
    let devs = victims.path("dev");
    mirror.add_deb(
        "planter",
        "planter_1_all.deb",
        &hostile_deb(
            "planter",
            &[
                ("./etc/", b'5', ""),
                ("./etc/apt", b'2', &apt),
                ("./etc/fstab", b'2', &fstab),
                ("./var/", b'5', ""),
                ("./var/lib/", b'5', ""),
                ("./var/lib/dpkg", b'2', &dpkg),
                ("./dev", b'2', &devs),
            ],
        ),
        "",
    );
    mirror.publish();
    let target = dir.path().join("planted");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_success("package data", &outcome, &target, &mut problems);
    victims.check("package data", &mut problems);
    mirror.stanzas.remove("planter");
    mirror.publish();

    // An offline tarball with extra entries.
    let offline = dir.path().join("offline.tar");
    let work = dir.path().join("work");
    let outcome = run(
        &mirror,
        &work,
        &cache,
        &[&format!("--make-tarball={}", offline.display())],
    );
    expect_success("--make-tarball", &outcome, &work, &mut problems);
    let extra = dir.path().join("extra");
    for (link, to) in [
        ("etc/fstab", "fstab"),
        ("var/lib/dpkg", "dpkg"),
        ("usr/sbin/policy-rc.d", "policy-rc.d"),
    ] {
        let path = extra.join(link);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(victims.path(to), &path).unwrap();
    }
    let status = Command::new("tar")
        .arg("-rf")
        .arg(&offline)
        .arg("-C")
        .arg(&extra)
        .args(["etc", "var", "usr"])
        .status()
        .unwrap();
    assert!(status.success());
    let target = dir.path().join("from-tarball");
    let outcome = run(
        &mirror,
        &target,
        &cache,
        &[
            "--foreign",
            &format!("--unpack-tarball={}", offline.display()),
        ],
    );
    expect_success("tarball entries", &outcome, &target, &mut problems);
    victims.check("tarball entries", &mut problems);

    // A tarball whose InRelease is garbage and whose log is a link to a
    // host file: no key needed, and the error line (attacker text
    // included) must not reach the host file.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&offline)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::write(
        unpacked.join("debootstrap/offline/lists/InRelease"),
        "attacker text\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        victims.path("log"),
        unpacked.join("debootstrap/debootstrap.log"),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&garbage)
        .arg("-C")
        .arg(&unpacked)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let target = dir.path().join("garbage");
    let outcome = run(
        &mirror,
        &target,
        &cache,
        &[&format!("--unpack-tarball={}", garbage.display())],
    );
    expect_refusal(
        "garbage InRelease",
        &outcome,
        "clear-signed",
        &target,
        &mut problems,
    );
    victims.check("garbage InRelease", &mut problems);
    no_offline_cache_left("garbage InRelease", &target, &mut problems);

    // A tarball that names a mirror ns-bootstrap cannot use, with no
    // MIRROR operand: refused while the build is being prepared, and the
    // unpacked cache goes too.
    std::fs::write(
        unpacked.join("debootstrap/offline/mirror"),
        "gopher://mirror.invalid/debian\n",
    )
    .unwrap();
    let bad_mirror = dir.path().join("bad-mirror.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&bad_mirror)
        .arg("-C")
        .arg(&unpacked)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let target = dir.path().join("bad-mirror");
    let outcome = TestCommand::new(bin("ns-bootstrap"))
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--keyring")
        .arg(&mirror.key.keyring)
        .arg(format!("--unpack-tarball={}", bad_mirror.display()))
        .arg("stable")
        .arg(&target)
        .timeout(Duration::from_secs(120))
        .run();
    expect_refusal(
        "tarball's mirror",
        &outcome,
        "gopher",
        &target,
        &mut problems,
    );
    no_offline_cache_left("tarball's mirror", &target, &mut problems);
    victims.check("tarball's mirror", &mut problems);
    finish(problems);
}

/// --unpack-tarball's cache is scaffolding, gone however the build ended.
fn no_offline_cache_left(case: &str, target: &Path, problems: &mut Vec<String>) {
    let offline = target.join("debootstrap/offline");
    if offline.exists() {
        problems.push(format!("{case}: {} left behind", offline.display()));
    }
}

/// Names from the archive are data: a Packages entry, a trigger, a
/// control member, an architecture or a version that would be a path is
/// refused with an error naming it.
#[test]
fn names_from_the_archive_are_refused() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-names");
    let victims = Victims::new(dir.path());
    let mut mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let mut problems = Vec::new();
    let escape = format!("../../../../../../..{}", victims.path("p"));

    let base = mirror.stanzas["base"].clone();
    for (case, from, to, reason) in [
        (
            "Package",
            "Package: base",
            format!("Package: {escape}"),
            "not a valid package name",
        ),
        (
            "Version",
            "Version: 1",
            "Version: 1/../../x".to_string(),
            "bad Version",
        ),
        (
            "Architecture",
            "Architecture: all",
            "Architecture: ../all".to_string(),
            "bad Architecture",
        ),
        (
            "Filename",
            "Filename: pool/",
            "Filename: ../../".to_string(),
            "bad Filename",
        ),
    ] {
        let stanza = base.replacen(from, &to, 1);
        mirror.publish_packages(&stanza);
        let target = dir.path().join(case);
        let outcome = run(&mirror, &target, &cache, &["--foreign"]);
        expect_refusal(case, &outcome, reason, &target, &mut problems);
        victims.check(case, &mut problems);
    }

    let triggers = format!("interest {escape}\n");
    let control_cases: [(&str, Vec<u8>, &str); 2] = [
        (
            "trigger",
            deb("evil", &[("triggers", triggers.as_bytes())], &[]),
            "not a trigger name",
        ),
        (
            "control member",
            deb(
                "evil",
                &[(
                    &format!("../../../../../..{}", victims.path("q")),
                    b"#!/bin/sh\n",
                )],
                &[],
            ),
            "not a control file name",
        ),
    ];
    for (case, bytes, reason) in control_cases {
        mirror.add_deb("evil", "evil_1_all.deb", &bytes, "");
        mirror.publish();
        let target = dir.path().join(case.replace(' ', "-"));
        let outcome = run(&mirror, &target, &cache, &["--foreign"]);
        expect_refusal(case, &outcome, reason, &target, &mut problems);
        victims.check(case, &mut problems);
        mirror.stanzas.remove("evil");
    }
    finish(problems);
}

/// The InRelease cache: garbage is never kept, a replayed old release
/// with a far-future Last-Modified does not pin later runs, an older
/// release than the cached one is refused, and Valid-Until is reported.
#[test]
fn the_release_cache_never_goes_back() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-release");
    let mut mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let target = dir.path().join("unused");
    let mut problems = Vec::new();
    let print = |mirror: &LocalMirror, extra: &[&str]| {
        let mut args = vec!["--print-debs"];
        args.extend_from_slice(extra);
        run(mirror, &target, &cache, &args)
    };
    let in_release = mirror.in_release();
    let old = std::fs::read(&in_release).unwrap();
    let old_packages = mirror.stanzas.clone();
    mirror.add_deb(
        "marker",
        "marker_1_all.deb",
        &hostile_deb("marker", &[]),
        "",
    );
    mirror.release_fields = format!("Date: {}\n", http_date(NEW_DATE));
    mirror.publish();
    let new = std::fs::read(&in_release).unwrap();
    let new_packages =
        std::fs::read(mirror.dir.join("dists/stable/main/binary-amd64/Packages")).unwrap();
    // Both Packages indexes stay reachable: the Release names them by hash.
    let serve = |release: &[u8], packages: &std::collections::BTreeMap<String, String>| {
        std::fs::write(&in_release, release).unwrap();
        let text: String = packages.values().cloned().collect();
        std::fs::write(
            mirror.dir.join("dists/stable/main/binary-amd64/Packages"),
            text,
        )
        .unwrap();
    };
    let lists = cache.join("lists");
    let cached_in_releases = || {
        std::fs::read_dir(&lists)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with("_InRelease"))
                    .count()
            })
            .unwrap_or(0)
    };

    // Garbage: refused, and not kept.
    std::fs::write(&in_release, "garbage\n").unwrap();
    let outcome = print(&mirror, &[]);
    expect_refusal("garbage", &outcome, "clear-signed", &target, &mut problems);
    if cached_in_releases() != 0 {
        problems.push("garbage: an InRelease was cached".to_string());
    }

    // The old release replayed with a Last-Modified in 2100.
    serve(&old, &old_packages);
    mirror
        .server
        .lock()
        .unwrap()
        .last_modified
        .insert("dists/stable/InRelease".to_string(), 4_102_444_800);
    let outcome = print(&mirror, &[]);
    expect_success("replayed old release", &outcome, &target, &mut problems);
    // The mirror is healthy again: the next run sees the new release.
    std::fs::write(&in_release, &new).unwrap();
    std::fs::write(
        mirror.dir.join("dists/stable/main/binary-amd64/Packages"),
        &new_packages,
    )
    .unwrap();
    mirror.server.lock().unwrap().last_modified.clear();
    mirror.server.lock().unwrap().requests.clear();
    let outcome = print(&mirror, &[]);
    expect_success("after the replay", &outcome, &target, &mut problems);
    if !outcome.stdout.lines().any(|l| l == "marker") {
        problems.push(format!(
            "after the replay: the old release was used: {outcome}"
        ));
    }
    let asked = mirror.server.lock().unwrap().requests.clone();
    let since = asked
        .iter()
        .find(|(path, _)| path == "dists/stable/InRelease")
        .and_then(|(_, since)| since.clone());
    if since.as_deref() != Some(http_date(OLD_DATE).as_str()) {
        problems.push(format!(
            "the conditional request asks since {since:?}, not the cached Release's Date"
        ));
    }

    // An older release than the one verified: refused.
    serve(&old, &old_packages);
    let outcome = print(&mirror, &[]);
    expect_refusal(
        "older release",
        &outcome,
        "older than the one already verified",
        &target,
        &mut problems,
    );

    // Past Valid-Until: a warning naming the date, an error when asked.
    std::fs::remove_dir_all(&cache).unwrap();
    mirror.release_fields = format!(
        "Date: {}\nValid-Until: {}\n",
        http_date(NEW_DATE),
        http_date(NEW_DATE + 86400)
    );
    mirror.publish();
    let outcome = print(&mirror, &[]);
    expect_success("expired release", &outcome, &target, &mut problems);
    let until = http_date(NEW_DATE + 86400);
    if !outcome.stderr.contains("W: ") || !outcome.stderr.contains(&until) {
        problems.push(format!(
            "expired release: no warning naming {until}: {outcome}"
        ));
    }
    let outcome = print(&mirror, &["--check-valid-until"]);
    expect_refusal(
        "--check-valid-until",
        &outcome,
        &until,
        &target,
        &mut problems,
    );
    finish(problems);
}

/// A tarball's build directory is fresh and private, and goes; a failed
/// build's log is kept in a private file.
#[test]
fn build_directories_are_private() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-builddir");
    let mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut problems = Vec::new();
    mirror
        .server
        .lock()
        .unwrap()
        .delay
        .insert("pool/base_1_all.deb".to_string(), Duration::from_secs(2));
    let mut child = Command::new(ns_bootstrap())
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--keyring")
        .arg(&mirror.key.keyring)
        .args(["--foreign", "stable"])
        .arg(out.join("t.tar"))
        .arg(&mirror.url)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // A bound on a hang, not a timing.
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    let building = loop {
        let found: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
        if let Some(entry) = found.first() {
            break Some(entry.path());
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    match &building {
        Some(path) => {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let mode = std::fs::metadata(path).map(|m| m.mode() & 0o777).ok();
            let suffix = name.strip_prefix(".ns-bootstrap-build-").unwrap_or("");
            if mode != Some(0o700) || suffix.len() != 6 || suffix == child.id().to_string() {
                problems.push(format!("build directory {name}: mode {mode:?}"));
            }
        }
        None => problems.push("no build directory appeared".to_string()),
    }
    let status = child.wait().unwrap();
    if !status.success() {
        problems.push(format!("the tarball build failed: {status}"));
    }
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "t.tar")
        .collect();
    if !left.is_empty() {
        problems.push(format!("left beside the tarball: {left:?}"));
    }

    // A failed tarball build keeps its log in a private file in TMPDIR.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(mirror.in_release(), "garbage\n").unwrap();
    let outcome = TestCommand::new(ns_bootstrap())
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--keyring")
        .arg(&mirror.key.keyring)
        .arg("stable")
        .arg(out.join("failed.tar"))
        .arg(&mirror.url)
        .env("TMPDIR", &tmp)
        .timeout(Duration::from_secs(120))
        .run();
    expect_refusal(
        "failed tarball build",
        &outcome,
        "clear-signed",
        &out,
        &mut problems,
    );
    let kept: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    match &kept[..] {
        [log] => {
            let name = log.file_name().to_string_lossy().into_owned();
            let mode = log.metadata().unwrap().mode() & 0o777;
            if !name.starts_with("ns-bootstrap-") || !name.ends_with(".log") || mode != 0o600 {
                problems.push(format!("kept log {name} has mode {mode:o}"));
            }
            if !std::fs::read_to_string(log.path()).unwrap().contains("E: ") {
                problems.push(format!("kept log {name} does not say what failed"));
            }
        }
        other => problems.push(format!("kept in TMPDIR: {other:?}")),
    }
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n != "t.tar")
        .collect();
    if !left.is_empty() {
        problems.push(format!("left after the failure: {left:?}"));
    }
    finish(problems);
}

/// A data tarball of `size` zero bytes in one file, xz-compressed (a few
/// hundred KB for hundreds of MB).
fn xz_bomb(size: u64) -> Vec<u8> {
    use std::io::Write;
    let mut xz = Command::new("xz")
        .args(["-0", "-T1", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xz (xz-utils)");
    let mut input = xz.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut header = Vec::new();
        tar_entry(&mut header, "./zeros", b'0', "", b"");
        // The size field of the header just written, set to `size`.
        header[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header[..512].iter().map(|b| *b as u32).sum();
        header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        input.write_all(&header[..512]).unwrap();
        let block = vec![0u8; 1 << 20];
        let mut left = size.div_ceil(512) * 512 + 1024;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            input.write_all(&block[..n]).unwrap();
            left -= n as u64;
        }
    });
    let output = xz.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    output.stdout
}

/// Memory is bounded by design: oversized indexes and sizes are clean
/// errors, and a small package that decompresses to hundreds of MB is
/// streamed to disk.
#[test]
fn memory_is_bounded_whatever_the_input() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-memory");
    let mut mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let mut problems = Vec::new();

    // An InRelease of 11 MB.
    let in_release = mirror.in_release();
    let good = std::fs::read(&in_release).unwrap();
    std::fs::write(&in_release, vec![b'x'; 11 << 20]).unwrap();
    let target = dir.path().join("big-inrelease");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_refusal(
        "11 MB InRelease",
        &outcome,
        "at most 10485760",
        &target,
        &mut problems,
    );
    std::fs::write(&in_release, good).unwrap();

    // A package Size at the top of u64.
    let base = mirror.stanzas["base"].clone();
    let huge = base
        .lines()
        .map(|l| {
            if l.starts_with("Size:") {
                "Size: 18446744073709551615"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n\n";
    mirror.publish_packages(&huge);
    let target = dir.path().join("huge-size");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_refusal(
        "Size: 2^64-1",
        &outcome,
        "Size 18446744073709551615",
        &target,
        &mut problems,
    );

    // A Release that lists a 100 GB Packages index.
    mirror.publish_release(&format!(
        " {} 107374182400 main/binary-amd64/Packages\n",
        "0".repeat(64)
    ));
    let target = dir.path().join("huge-index");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_refusal(
        "100 GB index",
        &outcome,
        "more than ns-bootstrap accepts",
        &target,
        &mut problems,
    );

    // 600 MB of zeros in a package of a few hundred KB.
    let size: u64 = 600 << 20;
    let bomb = deb_with_data("bomb", &[], ("data.tar.xz", xz_bomb(size)));
    assert!(bomb.len() < 2 << 20, "the bomb is small: {}", bomb.len());
    mirror.add_deb("bomb", "bomb_1_all.deb", &bomb, "");
    mirror.publish();
    let target = dir.path().join("bomb");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_success("xz bomb", &outcome, &target, &mut problems);
    let written = std::fs::metadata(target.join("zeros"))
        .map(|m| m.len())
        .ok();
    if written != Some(size) {
        problems.push(format!("xz bomb: zeros has {written:?} bytes"));
    }
    if outcome.max_rss_kib > 128 * 1024 {
        problems.push(format!(
            "xz bomb: peak RSS {} KiB for a streamed package",
            outcome.max_rss_kib
        ));
    }
    finish(problems);
}

/// Two packages whose files have the same name in different pool
/// directories: each is unpacked from its own verified bytes.
#[test]
fn colliding_file_names_have_their_own_cache_entries() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("hostile-collide");
    let mut mirror = tiny_mirror(dir.path());
    let cache = dir.path().join("cache");
    let mut problems = Vec::new();
    mirror.add_deb(
        "aa",
        "a/same_1_all.deb",
        &hostile_deb("aa", &[("./aa", b'0', "")]),
        "",
    );
    mirror.add_deb(
        "bb",
        "b/same_1_all.deb",
        &hostile_deb("bb", &[("./bb", b'0', "")]),
        "",
    );
    mirror.publish();
    let target = dir.path().join("target");
    let outcome = run(&mirror, &target, &cache, &["--foreign"]);
    expect_success("colliding names", &outcome, &target, &mut problems);
    for file in ["aa", "bb"] {
        if !target.join(file).is_file() {
            problems.push(format!("/{file} was not unpacked: {outcome}"));
        }
    }
    finish(problems);
}
