//! ns-bootstrap against mmdebstrap and debootstrap: `bookworm` minbase
//! from the host's mirror, warm and cold caches, alternating runs.
//!
//! These runs take seconds to minutes each, so this case uses a few pairs
//! (said in the output), not the 30 of the fast tools. Wall time and CPU
//! time (user + system of the whole process tree, from
//! `getrusage(RUSAGE_CHILDREN)`) are both reported, as medians and as the
//! median of the per-pair ratios; so is the peak resident memory (the
//! largest process of the tree, from wait4(2)'s `ru_maxrss`), the bound
//! ns-bootstrap keeps by design.
//!
//! Every run writes into a tmpfs made for the bench ([`Runner`] says why
//! not the disk); the caches stay on disk.
//!
//! Warm cache: ns-bootstrap's cache dir, and for mmdebstrap its documented
//! `sync-in`/`sync-out` hooks over a cache directory of `.deb`s (it still
//! fetches the indexes, as it always does); debootstrap's `--cache-dir`.
//! Cold: those caches emptied before each run.
//!
//! Image: minbase to an OCI archive (`.oci.tar`, gzip'd layer), against
//! the way an mmdebstrap user makes one: a tarball from mmdebstrap, then
//! `umoci init`, `umoci new`, `umoci raw add-layer` and a tar of the
//! layout; warm caches.
//!
//! Unprivileged: `ns-bootstrap` as a normal user with subordinate ids
//! (`--mode=unshare` is its default then) writing a tarball, against
//! `mmdebstrap --mode=unshare` writing the same, warm caches. The user is
//! made for the bench inside a private mount namespace only (bound copies
//! of /etc/passwd, group, subuid, subgid, as the tests do); both commands
//! run through the same wrapper.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::run::{cargo, checked, workspace_root};

const SUITE: &str = "bookworm";
const WORK: &str = "/var/tmp/ns-bootstrap-bench";

/// The first main-archive mirror of the host's deb822 apt sources (its
/// name is never written in the repository).
fn host_mirror() -> Result<String, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("/etc/apt/sources.list.d")
        .map_err(|e| format!("/etc/apt/sources.list.d: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for stanza in text.split("\n\n") {
            let field = |name: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            };
            if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) {
                if suites.split_whitespace().any(|s| !s.contains('-')) {
                    if let Some(uri) = uris.split_whitespace().next() {
                        return Ok(uri.trim_end_matches('/').to_string());
                    }
                }
            }
        }
    }
    Err("no Debian mirror in /etc/apt/sources.list.d/*.sources".to_string())
}

struct Tool {
    name: &'static str,
    /// Emptied before each cold run.
    cache: PathBuf,
    argv: Vec<String>,
}

fn sh(script: &str) -> Result<(), String> {
    let status = Command::new("sh")
        .args(["-c", script])
        .status()
        .map_err(|e| format!("sh: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{script}` failed ({status})"))
    }
}

fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// What one run took.
struct Took {
    wall: Duration,
    cpu: Duration,
    /// The largest resident set of any process of the run (KiB).
    peak_kib: u64,
}

/// Waits for `child` with wait4(2): its status and peak resident set.
fn wait_with_peak(child: std::process::Child) -> Result<(std::process::ExitStatus, u64), String> {
    use std::os::unix::process::ExitStatusExt;
    let pid = child.id() as libc::pid_t;
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value to be filled in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child with valid out-pointers; std's
        // Child is not waited on afterwards.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == pid {
            return Ok((
                std::process::ExitStatus::from_raw(status),
                usage.ru_maxrss.max(0) as u64,
            ));
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("wait4: {error}"));
        }
    }
}

/// Where the runs write: a tmpfs of the bench's own.
///
/// On a disk the runs would measure the disk's state as much as the tools:
/// this machine's root is ext4 without a journal, which does not reuse
/// an inode freed in the last minute (six while its inode table block is
/// unwritten, as it is again once new inodes go there) and scans past
/// every such inode at each allocation, so a tool that creates ten
/// thousand files after another removed as many spent seconds in the
/// kernel for it (the bench's back-to-back runs doubled ns-bootstrap's
/// time that way); and on a journaled ext4 every fsync is a journal
/// commit, which costs mmdebstrap's dpkg far more than us. A tmpfs has
/// neither: what is left is the tools' own work. Every target, build tree
/// and temporary file of the runs goes there (`TMPDIR` too); it is
/// mounted in a mount namespace of the bench's own, so it goes away with
/// the bench whatever happens. The caches stay on disk (warm: in the page
/// cache). Before every run, `sync`, so that no run pays for writing
/// back the one before it.
struct Runner {
    /// The mount point.
    fs: PathBuf,
}

/// The tmpfs's bound: a target is a few hundred MB, and an image run
/// holds its tree, tarball and layout at once.
const TMPFS_SIZE: &str = "6g";

impl Runner {
    fn new(work: &Path) -> Result<Runner, String> {
        // SAFETY: plain syscalls; xtask has no other threads here (cargo
        // ran as a child), as unshare(CLONE_NEWNS) requires.
        unsafe {
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return Err(format!(
                    "unshare(CLONE_NEWNS): {}",
                    std::io::Error::last_os_error()
                ));
            }
            let root = c"/";
            let flags = libc::MS_REC | libc::MS_PRIVATE;
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            ) != 0
            {
                return Err(format!(
                    "making / private: {}",
                    std::io::Error::last_os_error()
                ));
            }
        }
        let fs = work.join("fs");
        sh(&format!(
            "set -e\nmkdir -p {fs}\nmount -t tmpfs -o size={TMPFS_SIZE},mode=1777 \
             nsbootstrapbench {fs}",
            fs = fs.display(),
        ))?;
        Ok(Runner { fs })
    }

    /// A path on the bench's filesystem.
    fn place(&self, name: &str) -> PathBuf {
        self.fs.join(name)
    }

    /// One run into a fresh target on the tmpfs (see [`Runner::place`]),
    /// removed afterwards.
    fn run_once(&self, tool: &Tool, target: &Path, cold: bool) -> Result<Took, String> {
        sh(&format!("rm -rf {}", target.display()))?;
        if cold {
            sh(&format!("rm -rf {0} && mkdir -p {0}", tool.cache.display()))?;
        }
        sh("sync")?;
        let mut argv = tool.argv.clone();
        for arg in &mut argv {
            *arg = arg.replace("@TARGET@", &target.to_string_lossy());
        }
        let cpu_before = children_cpu();
        let start = Instant::now();
        let child = Command::new(&argv[0])
            .args(&argv[1..])
            .env("TMPDIR", &self.fs)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
        let (status, peak_kib) = wait_with_peak(child)?;
        let wall = start.elapsed();
        let cpu = children_cpu() - cpu_before;
        if !status.success() {
            return Err(format!("`{}` failed ({status})", argv.join(" ")));
        }
        sh(&format!("rm -rf {}", target.display()))?;
        Ok(Took {
            wall,
            cpu,
            peak_kib,
        })
    }

    /// Unmounts the tmpfs (the last thing the bench does).
    fn finish(self) -> Result<(), String> {
        sh(&format!("umount {}", self.fs.display()))
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

/// mmdebstrap's documented way to keep its packages between runs: its
/// `sync-in`/`sync-out` hooks over `cache`.
fn cache_hooks(cache: &Path) -> [String; 3] {
    let cache = cache.display();
    [
        format!("--setup-hook=mkdir -p {cache} \"$1\"/var/cache/apt/archives/"),
        format!("--setup-hook=sync-in {cache} /var/cache/apt/archives/"),
        format!("--customize-hook=sync-out /var/cache/apt/archives {cache}"),
    ]
}

/// The bench user (uid = gid) and its subordinate range.
const BENCH_ID: u32 = 64124;
const BENCH_SUBIDS: &str = "400000:65536";

/// A wrapper that runs its arguments as the bench user in a private mount
/// namespace where the account files are copies with that user added;
/// the host's files are never written.
fn user_wrapper(work: &Path, tmp: &Path) -> Result<Vec<String>, String> {
    let etc = work.join("etc-user");
    std::fs::create_dir_all(&etc).map_err(|e| format!("{}: {e}", etc.display()))?;
    let name = "nsbootstrapbench";
    let mut script = String::from("set -e\n");
    for (file, line) in [
        (
            "passwd",
            format!("{name}:x:{BENCH_ID}:{BENCH_ID}::/nonexistent:/bin/sh"),
        ),
        ("group", format!("{name}:x:{BENCH_ID}:")),
        ("subuid", format!("{name}:{BENCH_SUBIDS}")),
        ("subgid", format!("{name}:{BENCH_SUBIDS}")),
    ] {
        let mut text = std::fs::read_to_string(Path::new("/etc").join(file)).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line);
        text.push('\n');
        let copy = etc.join(file);
        std::fs::write(&copy, text).map_err(|e| format!("{}: {e}", copy.display()))?;
        script.push_str(&format!(
            "[ -e /etc/{file} ] || : > /etc/{file}\nmount --bind {} /etc/{file}\n",
            copy.display()
        ));
    }
    script.push_str(&format!(
        "exec setpriv --reuid={BENCH_ID} --regid={BENCH_ID} --clear-groups env \
         HOME=/nonexistent TMPDIR={} \"$@\"\n",
        tmp.display()
    ));
    Ok(["unshare", "--mount", "sh", "-c", &script, "sh"]
        .iter()
        .map(|s| s.to_string())
        .collect())
}

/// A directory owned by the bench user.
fn user_owned(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::os::unix::fs::chown(dir, Some(BENCH_ID), Some(BENCH_ID))
        .map_err(|e| format!("{}: {e}", dir.display()))
}

/// Alternating pairs of `ours` and `reference`; prints one row.
fn compare(
    runner: &Runner,
    name: &str,
    ours: (&Tool, &Path),
    reference: (&Tool, &Path),
    cold: bool,
    pairs: usize,
) -> Result<(), String> {
    let (mut ow, mut rw, mut oc, mut rc, mut wall_ratio, mut cpu_ratio) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut ours_peak, mut ref_peak) = (0, 0);
    for _ in 0..pairs {
        let a = runner.run_once(ours.0, ours.1, cold)?;
        let b = runner.run_once(reference.0, reference.1, cold)?;
        ow.push(a.wall.as_secs_f64());
        rw.push(b.wall.as_secs_f64());
        oc.push(a.cpu.as_secs_f64());
        rc.push(b.cpu.as_secs_f64());
        wall_ratio.push(a.wall.as_secs_f64() / b.wall.as_secs_f64());
        cpu_ratio.push(a.cpu.as_secs_f64() / b.cpu.as_secs_f64());
        ours_peak = ours_peak.max(a.peak_kib);
        ref_peak = ref_peak.max(b.peak_kib);
    }
    println!(
        "{:<40} {:>9.2} {:>9.2} {:>8.3} {:>9.2} {:>9.2} {:>8.3} {:>8.1} {:>8.1}",
        name,
        median(&mut ow),
        median(&mut rw),
        median(&mut wall_ratio),
        median(&mut oc),
        median(&mut rc),
        median(&mut cpu_ratio),
        ours_peak as f64 / 1024.0,
        ref_peak as f64 / 1024.0
    );
    Ok(())
}

/// ns-bootstrap and mmdebstrap --mode=unshare as a normal user, minbase
/// to a tarball, warm caches.
fn unprivileged(
    runner: &Runner,
    ours_bin: &Path,
    mirror: &str,
    work: &Path,
    pairs: usize,
) -> Result<(), String> {
    let s = |x: &str| x.to_string();
    let user = runner.place("user");
    user_owned(&user)?;
    let wrapper = user_wrapper(work, &user)?;
    let ours_cache = work.join("cache-ours-user");
    let mm_cache = work.join("cache-mmdebstrap-user");
    user_owned(&ours_cache)?;
    user_owned(&mm_cache)?;
    let with = |argv: Vec<String>| wrapper.iter().cloned().chain(argv).collect::<Vec<_>>();
    let ours = Tool {
        name: "ns-bootstrap",
        cache: ours_cache.clone(),
        argv: with(vec![
            ours_bin.to_string_lossy().into_owned(),
            s("--variant=minbase"),
            format!("--cache-dir={}", ours_cache.display()),
            s(SUITE),
            s("@TARGET@"),
            s(mirror),
        ]),
    };
    let mut argv = vec![
        s("mmdebstrap"),
        s("--mode=unshare"),
        s("--variant=minbase"),
        s("--skip=essential/unlink"),
    ];
    argv.extend(cache_hooks(&mm_cache));
    argv.extend([
        s(SUITE),
        s("@TARGET@"),
        format!("deb {mirror} {SUITE} main"),
    ]);
    let mmdebstrap = Tool {
        name: "mmdebstrap",
        cache: mm_cache.clone(),
        argv: with(argv),
    };
    let (ours_tar, ref_tar) = (user.join("ours.tar"), user.join("ref.tar"));
    runner.run_once(&ours, &ours_tar, false)?;
    runner.run_once(&mmdebstrap, &ref_tar, false)?;
    compare(
        runner,
        "unprivileged .tar vs mmdebstrap (warm)",
        (&ours, &ours_tar),
        (&mmdebstrap, &ref_tar),
        false,
        pairs,
    )
}

/// ns-bootstrap writing an OCI archive against mmdebstrap's tarball made
/// into one by umoci, warm caches.
fn image(
    runner: &Runner,
    ours_bin: &Path,
    mirror: &str,
    work: &Path,
    pairs: usize,
) -> Result<(), String> {
    let s = |x: &str| x.to_string();
    let ours_cache = work.join("cache-ours");
    let mm_cache = work.join("cache-mmdebstrap");
    let ours = Tool {
        name: "ns-bootstrap",
        cache: ours_cache.clone(),
        argv: vec![
            ours_bin.to_string_lossy().into_owned(),
            s("--variant=minbase"),
            format!("--cache-dir={}", ours_cache.display()),
            s(SUITE),
            s("@TARGET@"),
            s(mirror),
        ],
    };
    // $1 is the archive to write; its work directory goes with it.
    let script = format!(
        "set -e\nwork=\"$1.work\"\nrm -rf \"$work\"\nmkdir -p \"$work\"\n\
         mmdebstrap --variant=minbase --mode=root --format=tar --skip=essential/unlink \
         --setup-hook='mkdir -p \"$1\"/var/cache/apt/archives/' \
         --setup-hook='sync-in {cache} /var/cache/apt/archives/' \
         --customize-hook='sync-out /var/cache/apt/archives {cache}' \
         {SUITE} \"$work/rootfs.tar\" 'deb {mirror} {SUITE} main' 2>/dev/null\n\
         umoci init --layout \"$work/layout\"\n\
         umoci new --image \"$work/layout:{SUITE}\"\n\
         umoci raw add-layer --image \"$work/layout:{SUITE}\" \"$work/rootfs.tar\"\n\
         tar -cf \"$1\" -C \"$work/layout\" .\n\
         rm -rf \"$work\"\n",
        cache = mm_cache.display(),
    );
    let reference = Tool {
        name: "mmdebstrap + umoci",
        cache: mm_cache.clone(),
        argv: vec![s("sh"), s("-c"), script, s("sh"), s("@TARGET@")],
    };
    let (ours_out, ref_out) = (runner.place("ours.oci.tar"), runner.place("ref.oci.tar"));
    runner.run_once(&ours, &ours_out, false)?;
    runner.run_once(&reference, &ref_out, false)?;
    compare(
        runner,
        "image .oci.tar vs mmdebstrap + umoci (warm)",
        (&ours, &ours_out),
        (&reference, &ref_out),
        false,
        pairs,
    )
}

/// Builds ns-bootstrap (release, host target: it is not an initramfs
/// tool) and runs the comparisons.
pub fn run(pairs_warm: usize, pairs_cold: usize) -> Result<(), String> {
    let mirror = host_mirror()?;
    checked(cargo().args(["build", "--release", "--package", "ns-bootstrap"]))?;
    let ours_bin = workspace_root().join("target/release/ns-bootstrap");
    let work = Path::new(WORK);
    std::fs::create_dir_all(work).map_err(|e| format!("{WORK}: {e}"))?;
    let s = |x: &str| x.to_string();

    let ours_cache = work.join("cache-ours");
    let ours = Tool {
        name: "ns-bootstrap",
        cache: ours_cache.clone(),
        argv: vec![
            ours_bin.to_string_lossy().into_owned(),
            s("--variant=minbase"),
            format!("--cache-dir={}", ours_cache.display()),
            s(SUITE),
            s("@TARGET@"),
            mirror.clone(),
        ],
    };
    let mm_cache = work.join("cache-mmdebstrap");
    let mut argv = vec![
        s("mmdebstrap"),
        s("--variant=minbase"),
        s("--mode=root"),
        s("--format=directory"),
        s("--skip=essential/unlink"),
    ];
    argv.extend(cache_hooks(&mm_cache));
    argv.extend([
        s(SUITE),
        s("@TARGET@"),
        format!("deb {mirror} {SUITE} main"),
    ]);
    let mmdebstrap = Tool {
        name: "mmdebstrap",
        cache: mm_cache.clone(),
        argv,
    };
    let db_cache = work.join("cache-debootstrap");
    let debootstrap = Tool {
        name: "debootstrap",
        cache: db_cache.clone(),
        argv: vec![
            s("debootstrap"),
            s("--variant=minbase"),
            format!("--cache-dir={}", db_cache.display()),
            s(SUITE),
            s("@TARGET@"),
            mirror.clone(),
        ],
    };
    for tool in [&ours, &mmdebstrap, &debootstrap] {
        std::fs::create_dir_all(&tool.cache)
            .map_err(|e| format!("{}: {e}", tool.cache.display()))?;
    }

    println!();
    println!(
        "ns-bootstrap: {SUITE} minbase; long runs, so {pairs_warm} warm and {pairs_cold} cold \
         alternating pairs per reference (after one untimed warm-up run of each)"
    );
    println!(
        "{:<40} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>8} {:>8}",
        "case", "ours s", "ref s", "wall", "ours cpu", "ref cpu", "cpu", "ours MiB", "ref MiB"
    );
    // Fill the warm caches.
    let runner = Runner::new(work)?;
    let target = runner.place("target");
    runner.run_once(&ours, &target, false)?;
    runner.run_once(&mmdebstrap, &target, false)?;
    runner.run_once(&debootstrap, &target, false)?;
    for (reference, cold, pairs) in [
        (&mmdebstrap, false, pairs_warm),
        (&mmdebstrap, true, pairs_cold),
        (&debootstrap, false, pairs_cold),
    ] {
        let name = format!(
            "bootstrap minbase vs {} ({})",
            reference.name,
            if cold { "cold" } else { "warm" }
        );
        compare(
            &runner,
            &name,
            (&ours, &target),
            (reference, &target),
            cold,
            pairs,
        )?;
    }
    image(&runner, &ours_bin, &mirror, work, pairs_warm)?;
    unprivileged(&runner, &ours_bin, &mirror, work, pairs_warm)?;
    // Warm caches stay for the next run; targets go.
    runner.finish()
}
