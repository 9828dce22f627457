//! ns-bootstrap customised as mmdebstrap users customise: hooks at their
//! stages (and the special hooks that copy files in and out, which must
//! stay inside TARGET whatever it holds), local `.deb`s among the
//! packages, extra suites and components.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nstools_tests::mirror::{
    data_tar, deb_with_fields, host_mirror, hostile_deb, LocalMirror, SUITE,
};
use nstools_tests::{bin, require_root, Outcome, TempDir, TestCommand};

fn ns_bootstrap() -> PathBuf {
    bin("ns-bootstrap")
}

fn local_run(mirror: &LocalMirror, target: &Path, extra: &[&str]) -> Outcome {
    mirror
        .bootstrap(&mirror.url, target, &target.with_extension("cache"), extra)
        .run()
}

/// A minbase from the host's mirror with a hook at every stage, a hook
/// directory, and the special hooks; each hook checks what its stage
/// promises and says so in a log outside TARGET.
#[test]
fn hooks_run_at_their_stages() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("custom-hooks");
    let log = dir.path().join("hooks.log");
    let mut problems = Vec::new();
    let hook_dir = dir.path().join("hook.d");
    std::fs::create_dir(&hook_dir).unwrap();
    std::fs::write(
        hook_dir.join("customize50-mark"),
        format!(
            "#!/bin/sh\necho hook-directory >> {}\ntouch \"$1/hook-dir-ran\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        hook_dir.join("customize50-mark"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // Not executable: not a hook.
    std::fs::write(hook_dir.join("customize60-skipped"), "#!/bin/sh\nexit 1\n").unwrap();
    let upload = dir.path().join("motd");
    std::fs::write(&upload, "uploaded\n").unwrap();
    let copy_dir = dir.path().join("copy");
    std::fs::create_dir_all(copy_dir.join("sub")).unwrap();
    std::fs::write(copy_dir.join("sub/file"), "copied\n").unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let downloaded = dir.path().join("debian_version");
    let log_path = log.display().to_string();
    let target = dir.path().join("target");
    let run = TestCommand::new(ns_bootstrap())
        .args(["--variant=minbase", SUITE])
        .arg(format!(
            "--setup-hook=test -d \"$1\" && test ! -e \"$1/usr/bin/dpkg\" && echo \"setup $MMDEBSTRAP_HOOK\" >> {log_path}"
        ))
        .arg(format!(
            "--extract-hook=grep -q 'Status: install ok unpacked' \"$1/var/lib/dpkg/status\" && echo extract >> {log_path}"
        ))
        .arg(format!(
            "--essential-hook=! grep -q 'Status: install ok unpacked' \"$1/var/lib/dpkg/status\" && echo essential >> {log_path}"
        ))
        .arg(format!(
            "--customize-hook=chroot \"$1\" dpkg-query -W -f '${{Package}}\\n' dpkg >> {log_path}"
        ))
        // A link planted inside, then files copied through it: they must
        // land inside TARGET, not in the host directory it names.
        .arg(format!("--customize-hook=ln -s {} \"$1/planted\"", outside.display()))
        .arg(format!("--customize-hook=copy-in {} /planted", copy_dir.display()))
        .arg(format!("--customize-hook=upload {} /etc/motd", upload.display()))
        .arg(format!(
            "--customize-hook=download /etc/debian_version {}",
            downloaded.display()
        ))
        .arg(format!("--hook-directory={}", hook_dir.display()))
        .arg(&target)
        .arg(host_mirror())
        .timeout(Duration::from_secs(900))
        .run();
    if run.code != Some(0) {
        problems.push(format!("the hooked bootstrap failed: {run}"));
    }
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    if said != "setup setup\nextract\nessential\ndpkg\nhook-directory\n" {
        problems.push(format!("the hooks ran as {said:?}"));
    }
    let planted_inside = target
        .join(outside.strip_prefix("/").unwrap())
        .join("copy/sub/file");
    if std::fs::read_to_string(&planted_inside).ok().as_deref() != Some("copied\n") {
        problems.push(format!(
            "copy-in did not land at {}",
            planted_inside.display()
        ));
    }
    if std::fs::read_dir(&outside).unwrap().count() != 0 {
        problems.push("copy-in wrote through a planted link to the host".to_string());
    }
    if std::fs::read_to_string(target.join("etc/motd"))
        .ok()
        .as_deref()
        != Some("uploaded\n")
    {
        problems.push("upload did not write /etc/motd".to_string());
    }
    if !std::fs::read_to_string(&downloaded).is_ok_and(|v| v.starts_with("12.")) {
        problems.push("download did not bring /etc/debian_version out".to_string());
    }
    if !target.join("hook-dir-ran").exists() {
        problems.push("the hook directory's customize hook did not run".to_string());
    }

    // A failing hook: the run fails, naming it.
    let mut mirror = LocalMirror::new(dir.path());
    mirror.add_deb("base", "base_1_all.deb", &hostile_deb("base", &[]), "");
    mirror.publish();
    let target = dir.path().join("failing");
    let run = local_run(&mirror, &target, &["--foreign", "--setup-hook=exit 3"]);
    if run.code != Some(1) || !run.stderr.contains("setup hook 'exit 3'") {
        problems.push(format!("a failing hook: {run}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn local_debs_are_resolved_with_the_archive() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("custom-local");
    let mut mirror = LocalMirror::new(dir.path());
    let mut problems = Vec::new();
    for name in ["base", "dep"] {
        let file = format!("./usr/share/{name}");
        mirror.add_deb(
            name,
            &format!("{name}_1_all.deb"),
            &hostile_deb(
                name,
                &[
                    ("./usr/", b'5', ""),
                    ("./usr/share/", b'5', ""),
                    (&file, b'0', ""),
                ],
            ),
            "Priority: optional\n",
        );
    }
    // `dep` is only in the archive, not required: the local package's
    // dependency must bring it.
    mirror.stanzas.insert(
        "dep".to_string(),
        mirror.stanzas["dep"].replace("Priority: required\n", ""),
    );
    mirror.publish();
    let local = dir.path().join("mine_2_all.deb");
    std::fs::write(
        &local,
        deb_with_fields(
            "mine",
            "Depends: dep\n",
            &[],
            ("data.tar", data_tar(&[("./mine", b'0', "")])),
        ),
    )
    .unwrap();
    // A local `base` replaces the archive's.
    let local_base = dir.path().join("base.deb");
    std::fs::write(
        &local_base,
        deb_with_fields(
            "base",
            "",
            &[],
            ("data.tar", data_tar(&[("./local-base", b'0', "")])),
        ),
    )
    .unwrap();
    let target = dir.path().join("target");
    let include = format!("--include={}", local_base.display());
    let run = mirror
        .bootstrap(
            &mirror.url,
            &target,
            &target.with_extension("cache"),
            &["--foreign", "--include=./mine_2_all.deb", &include],
        )
        .current_dir(dir.path())
        .run();
    if run.code != Some(0) {
        problems.push(format!("with local packages: {run}"));
    }
    for (path, why) in [
        ("mine", "the local package"),
        ("usr/share/dep", "its dependency from the mirror"),
        ("local-base", "the local base"),
    ] {
        if !target.join(path).is_file() {
            problems.push(format!("{why} ({path}) is missing"));
        }
    }
    if target.join("usr/share/base").exists() {
        problems.push("the archive's base was unpacked besides the local one".to_string());
    }
    let status = std::fs::read_to_string(target.join("var/lib/dpkg/status")).unwrap_or_default();
    if !status.contains("Package: mine\n") {
        problems.push("dpkg's status does not list the local package".to_string());
    }
    // Not a package: a clear error.
    let target = dir.path().join("not-a-deb");
    std::fs::write(dir.path().join("bogus.deb"), "not an archive").unwrap();
    let run = local_run(&mirror, &target, &["--foreign", "--include=./bogus.deb"]);
    if run.code != Some(1) || !run.stderr.contains("--include ./bogus.deb") {
        problems.push(format!("a bogus local package: {run}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn extra_suites_and_components() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("custom-suites");
    let mut mirror = LocalMirror::new(dir.path());
    let mut problems = Vec::new();
    let files = |name: &str| {
        let file = format!("./usr/share/{name}");
        hostile_deb(
            name,
            &[
                ("./usr/", b'5', ""),
                ("./usr/share/", b'5', ""),
                (&file, b'0', ""),
            ],
        )
    };
    mirror.add_deb("base", "base_1_all.deb", &files("base"), "");
    // main and contrib in stable.
    let contrib = mirror.pool_stanza("extra", "1", "extra_1_all.deb", &files("extra"));
    let main: String = mirror.stanzas.values().cloned().collect();
    mirror.publish_suite("stable", &[("main", main), ("contrib", contrib)]);
    // stable-updates: a newer base, whose files differ.
    let newer = mirror.pool_stanza(
        "base",
        "2",
        "base_2_all.deb",
        &hostile_deb("base", &[("./base-2", b'0', "")]),
    );
    mirror.publish_suite("stable-updates", &[("main", newer)]);
    let target = dir.path().join("target");
    let run = local_run(
        &mirror,
        &target,
        &[
            "--foreign",
            "--components=main,contrib",
            "--extra-suites=stable-updates",
        ],
    );
    if run.code != Some(0) {
        problems.push(format!("two suites: {run}"));
    }
    if !target.join("base-2").is_file() || target.join("usr/share/base").exists() {
        problems.push("the extra suite's newer base was not the one unpacked".to_string());
    }
    if !target.join("usr/share/extra").is_file() {
        problems.push("contrib's package was not unpacked".to_string());
    }
    let sources = std::fs::read_to_string(target.join("etc/apt/sources.list")).unwrap_or_default();
    let want = format!(
        "deb {0} stable main contrib\ndeb {0} stable-updates main contrib\n",
        mirror.url
    );
    if sources != want {
        problems.push(format!("sources.list: {sources:?}, wanted {want:?}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
