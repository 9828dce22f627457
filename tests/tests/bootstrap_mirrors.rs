//! ns-bootstrap's ways to a mirror, each against a server the test starts
//! on 127.0.0.1 (or a directory): `file://` and plain paths read in place,
//! `https://` checked against a throwaway authority, proxies as wget and
//! apt take them (a counting proxy), and a mirror that fails now and then.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::Duration;

use nstools_tests::mirror::{hostile_deb, proxy, serve_tls, LocalMirror};
use nstools_tests::{bin, require_root, Outcome, TempDir, TestCommand};

fn ns_bootstrap() -> PathBuf {
    bin("ns-bootstrap")
}

/// A signed mirror with two small packages.
fn mirror(dir: &Path) -> LocalMirror {
    let mut mirror = LocalMirror::new(dir);
    for name in ["base", "more"] {
        let file = format!("./usr/share/{name}");
        let data = hostile_deb(
            name,
            &[
                ("./usr/", b'5', ""),
                ("./usr/share/", b'5', ""),
                (&file, b'0', ""),
            ],
        );
        mirror.add_deb(name, &format!("{name}_1_all.deb"), &data, "");
    }
    mirror.publish();
    mirror
}

/// An unpack-only bootstrap from `url` into `target`, without a proxy
/// from the caller's environment unless `env` sets one.
fn bootstrap(mirror: &LocalMirror, url: &str, target: &Path, env: &[(&str, &str)]) -> Outcome {
    let mut command =
        mirror.bootstrap(url, target, &target.with_extension("cache"), &["--foreign"]);
    for name in [
        "http_proxy",
        "https_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        command = command.env_remove(name);
    }
    for (key, value) in env {
        command = command.env(key, value);
    }
    command.run()
}

fn unpacked(case: &str, run: &Outcome, target: &Path, problems: &mut Vec<String>) {
    if run.code != Some(0) || !target.join("usr/share/more").is_file() {
        problems.push(format!("{case}: {run}"));
    }
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn file_mirrors_are_read_in_place() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("mirrors-file");
    let mirror = mirror(dir.path());
    let mut problems = Vec::new();
    let path = mirror.dir.display().to_string();
    for (case, url) in [("file://", format!("file://{path}")), ("a path", path)] {
        let target = dir.path().join(case.replace([':', '/', ' '], ""));
        let run = bootstrap(&mirror, &url, &target, &[]);
        unpacked(case, &run, &target, &mut problems);
        let cache = target.with_extension("cache");
        for sub in ["debs", "lists"] {
            if entries(&cache.join(sub)) != 0 {
                problems.push(format!(
                    "{case}: something was copied into the cache's {sub}"
                ));
            }
        }
        let sources =
            std::fs::read_to_string(target.join("etc/apt/sources.list")).unwrap_or_default();
        if !sources.contains("file://") {
            problems.push(format!("{case}: sources.list says {sources:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A throwaway authority and a certificate for 127.0.0.1 it signed:
/// (authority, server chain, server key).
fn authority(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl (apt install openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=nstools test authority",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn https_mirrors_are_checked_against_the_systems_authorities() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("mirrors-https");
    let mirror = mirror(dir.path());
    let (ca, chain, key) = authority(dir.path());
    let (url, _) = serve_tls(mirror.dir.clone(), &chain, &key);
    let mut problems = Vec::new();

    let target = dir.path().join("with-file");
    let run = bootstrap(
        &mirror,
        &url,
        &target,
        &[("SSL_CERT_FILE", ca.to_str().unwrap())],
    );
    unpacked("SSL_CERT_FILE", &run, &target, &mut problems);

    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    std::fs::copy(&ca, certs.join("test.pem")).unwrap();
    let target = dir.path().join("with-dir");
    let run = bootstrap(
        &mirror,
        &url,
        &target,
        &[("SSL_CERT_DIR", certs.to_str().unwrap())],
    );
    unpacked("SSL_CERT_DIR", &run, &target, &mut problems);

    // The system's authorities do not know the test's: a clear refusal.
    let target = dir.path().join("system");
    let run = bootstrap(&mirror, &url, &target, &[]);
    if run.code != Some(1) || !run.stderr.contains("E: ") || !run.stderr.contains("certificate") {
        problems.push(format!("an unknown authority: {run}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn proxies_as_wget_and_apt_take_them() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("mirrors-proxy");
    let mirror = mirror(dir.path());
    let (proxy_url, count) = proxy();
    let mut problems = Vec::new();

    let target = dir.path().join("http-proxy");
    let run = bootstrap(&mirror, &mirror.url, &target, &[("http_proxy", &proxy_url)]);
    unpacked("http_proxy", &run, &target, &mut problems);
    let through = count.load(Ordering::SeqCst);
    if through < 3 {
        problems.push(format!(
            "http_proxy: {through} requests went through the proxy"
        ));
    }

    let target = dir.path().join("no-proxy");
    let run = bootstrap(
        &mirror,
        &mirror.url,
        &target,
        &[
            ("http_proxy", &proxy_url),
            ("no_proxy", "localhost,127.0.0.1"),
        ],
    );
    unpacked("no_proxy", &run, &target, &mut problems);
    if count.load(Ordering::SeqCst) != through {
        problems.push("no_proxy: requests went through the proxy".to_string());
    }

    // https through the proxy's CONNECT tunnel.
    let (ca, chain, key) = authority(dir.path());
    let (https_url, _) = serve_tls(mirror.dir.clone(), &chain, &key);
    let before = count.load(Ordering::SeqCst);
    let target = dir.path().join("https-proxy");
    let run = bootstrap(
        &mirror,
        &https_url,
        &target,
        &[
            ("https_proxy", &proxy_url),
            ("SSL_CERT_FILE", ca.to_str().unwrap()),
        ],
    );
    unpacked("https_proxy", &run, &target, &mut problems);
    if count.load(Ordering::SeqCst) == before {
        problems.push("https_proxy: nothing went through the proxy".to_string());
    }

    // apt's own setting, in an apt.conf.d of the test's (bound over the
    // host's in a private mount namespace: the host's is never written).
    let conf = dir.path().join("apt.conf.d");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(
        conf.join("99proxy"),
        format!("Acquire::http::Proxy \"{proxy_url}\";\n"),
    )
    .unwrap();
    let before = count.load(Ordering::SeqCst);
    let target = dir.path().join("apt-proxy");
    let run = TestCommand::new("unshare")
        .args(["--mount", "--propagation=private", "sh", "-c"])
        .arg("mount --bind \"$1\" /etc/apt/apt.conf.d && shift && exec \"$@\"")
        .arg("sh")
        .arg(&conf)
        .arg(ns_bootstrap())
        .arg("--cache-dir")
        .arg(target.with_extension("cache"))
        .arg("--keyring")
        .arg(&mirror.key.keyring)
        .args(["--foreign", "stable"])
        .arg(&target)
        .arg(&mirror.url)
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .timeout(Duration::from_secs(300))
        .run();
    unpacked("Acquire::http::Proxy", &run, &target, &mut problems);
    if count.load(Ordering::SeqCst) == before {
        problems.push("Acquire::http::Proxy: nothing went through the proxy".to_string());
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_failing_mirror_is_retried_and_a_cut_download_resumed() {
    if !require_root() {
        return;
    }
    let dir = TempDir::new("mirrors-failing");
    let mut mirror = mirror(dir.path());
    let mut problems = Vec::new();
    // A large package, so that a cut leaves something to resume.
    let big = "x".repeat(3 << 20);
    let mut data = Vec::new();
    nstools_tests::mirror::tar_entry(&mut data, "./usr/share/big", b'0', "", big.as_bytes());
    data.extend_from_slice(&[0u8; 1024]);
    let deb = nstools_tests::mirror::deb_with_data("big", &[], ("data.tar", data));
    mirror.add_deb("big", "big_1_all.deb", &deb, "");
    mirror.publish();
    {
        let mut server = mirror.server.lock().unwrap();
        server
            .fail_once
            .insert("dists/stable/InRelease".to_string(), 503);
        server
            .cut_once
            .insert("pool/big_1_all.deb".to_string(), 1 << 20);
    }
    let target = dir.path().join("target");
    let run = bootstrap(&mirror, &mirror.url, &target, &[]);
    unpacked("503 then a cut download", &run, &target, &mut problems);
    if std::fs::metadata(target.join("usr/share/big"))
        .map(|m| m.len())
        .ok()
        != Some(3 << 20)
    {
        problems.push("the resumed package is not whole".to_string());
    }
    let ranges = mirror.server.lock().unwrap().ranges.clone();
    if !ranges.iter().any(|(path, range)| {
        path == "pool/big_1_all.deb" && range == &format!("bytes={}-", 1 << 20)
    }) {
        problems.push(format!("the cut download was not resumed: {ranges:?}"));
    }

    // A permanent failure: an error naming the URL, no retries forever.
    std::fs::remove_file(mirror.dir.join("pool/more_1_all.deb")).unwrap();
    let target = dir.path().join("missing");
    let run = bootstrap(&mirror, &mirror.url, &target.clone(), &[]);
    if run.code != Some(1) || !run.stderr.contains("pool/more_1_all.deb: HTTP 404") {
        problems.push(format!("a missing package: {run}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
