//! ns-bootstrap end to end: a real minbase bootstrap from the host's Debian
//! mirror (checked with the target's own dpkg and against debootstrap's
//! package list), and a local signed mirror on 127.0.0.1, made from the
//! same packages, to show that tampering and hostile packages are refused
//! without anything written outside TARGET.
//!
//! The mirror's name is read from the host's apt sources at run time.
//! Downloads go to ns-bootstrap's default cache, kept between runs.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use nstools_tests::mirror::{
    host_mirror, hostile_deb, make_key, minbase_mirror, mounts_under, LocalMirror, TarEntry, SUITE,
};
use nstools_tests::tree::{differences, walk};
use nstools_tests::{bin, require_root, TempDir, TestCommand};

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
    if !require_root() {
        return;
    }
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

/// Logs, caches, dpkg's backup files and what debootstrap's own tools
/// leave (mount's /run/mount) are not part of the system; debconf's
/// databases in the cache are (who owns each question, what it answers).
fn skipped(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    const DEBCONF: &[&str] = &[
        "var/cache",
        "var/cache/debconf",
        "var/cache/debconf/config.dat",
        "var/cache/debconf/templates.dat",
        "var/cache/debconf/passwords.dat",
    ];
    if DEBCONF.contains(&text.as_ref()) {
        return false;
    }
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

#[test]
fn tree_matches_debootstrap() {
    if !require_root() {
        return;
    }
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
    let a = walk(&ours, &skipped);
    let b = walk(&theirs, &skipped);
    // A minbase tree has thousands of paths; an empty walk proves nothing.
    assert!(
        b.len() > 5000,
        "debootstrap's tree has only {} paths",
        b.len()
    );
    let problems = differences(&a, &b, ("ours", "debootstrap's"));
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
    if !require_root() {
        return;
    }
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
    if !require_root() {
        return;
    }
    let dir = TempDir::new("bootstrap-local");
    let mut mirror = minbase_mirror(dir.path(), &ns_bootstrap());
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
            "",
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
