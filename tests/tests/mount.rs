//! ns-mount and ns-umount against util-linux mount and umount.
//!
//! Every case runs twice, each time in a throwaway mount namespace
//! (`unshare --mount --propagation private`) with a private tmpfs on /run
//! (so utab is the namespace's own) and on the case's working directory:
//! once with util-linux first in PATH, once with ours (symlinks named
//! `mount` and `umount`, so messages carry the same prefix). Set-up steps
//! call util-linux by its full path. stdout (with the exit status echoed at
//! the end) and stderr must be identical.
//!
//! Loop-device cases attach images made with mkfs.ext4 and mkfs.vfat; a
//! guard detaches every loop device backed by them, also when a case fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use nstools_tests::{bin, differences, require_root, Stderr, TempDir, TestCommand};

/// A case: shell set-up (run with util-linux), then the command under test
/// (`mount`/`umount` resolve to ours or the reference).
type Case = (&'static str, &'static str);

const REFERENCE_PATH: &str = "/usr/bin:/usr/sbin:/bin:/sbin";

struct Harness {
    ours_dir: TempDir,
    work: TempDir,
    images: PathBuf,
}

impl Harness {
    /// `None` when the tests cannot run here (see `require_root`).
    fn new(images: &Path) -> Option<Harness> {
        if !require_root() {
            return None;
        }
        let ours_dir = TempDir::new("mount-bin");
        std::os::unix::fs::symlink(bin("ns-mount"), ours_dir.path().join("mount")).unwrap();
        std::os::unix::fs::symlink(bin("ns-umount"), ours_dir.path().join("umount")).unwrap();
        Some(Harness {
            ours_dir,
            work: TempDir::new("mount-work"),
            images: images.to_path_buf(),
        })
    }

    fn run(&self, path: &str, setup: &str, command: &str) -> nstools_tests::Outcome {
        let work = self.work.path().display();
        let script = format!(
            "/usr/bin/mount -t tmpfs run /run && mkdir -p /run/mount && \
             /usr/bin/mount -t tmpfs work {work} && cd {work} && {{ {setup}\n}} && \
             {{ {command}\n}}; echo status=$?"
        );
        TestCommand::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .env("PATH", path)
            .env("IMG", &self.images)
            .env("W", self.work.path())
            .env_remove("LIBMOUNT_FSTAB")
            .run()
    }

    /// Runs every case both ways; returns the descriptions of mismatches.
    fn compare(&self, cases: &[Case]) -> Vec<String> {
        let ours_path = format!("{}:{REFERENCE_PATH}", self.ours_dir.path().display());
        let mut failures = Vec::new();
        for (setup, command) in cases {
            let reference = self.run(REFERENCE_PATH, setup, command);
            let ours = self.run(&ours_path, setup, command);
            if let Some(problem) = differences(&ours, &reference, Stderr::Identical) {
                failures.push(format!("case `{setup}` / `{command}`: {problem}"));
            }
        }
        failures
    }
}

#[track_caller]
fn assert_all_match(name: &str, cases: &[Case], failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{name}: {} of {} cases differ:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn run_group(name: &str, cases: &[Case]) {
    let images = TempDir::new("mount-img");
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    let failures = harness.compare(cases);
    assert_all_match(name, cases, failures);
}

#[test]
fn walk_through_and_listing() {
    run_group(
        "walk-through and listing",
        &[
            ("mkdir proc", "mount -t proc none proc; mount -t proc"),
            ("mkdir sys", "mount -t sysfs none sys; mount -t sysfs"),
            ("mkdir tmp", "mount -t tmpfs none tmp; mount -t tmpfs"),
            ("mkdir p", "mount -v -t proc proc p"),
            ("", "mount"),
            ("", "mount -t proc"),
            ("", "mount -t tmpfs,proc"),
            ("", "mount -t noproc,sysfs"),
            ("", "mount -t notmpfs"),
            ("", "mount -l"),
            ("", "mount -l -t ext4"),
            (
                "mkdir 'a b'",
                "mount -t tmpfs 'my src' 'a b'; mount -t tmpfs",
            ),
            (
                "mkdir \"$(printf 'x\\ty')\"",
                "mount -t tmpfs none x*y; mount -t tmpfs",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o x-foo,size=8k none a; mount -t tmpfs",
            ),
            (
                "mkdir a; /usr/bin/mount -t tmpfs -o x-foo none a",
                "mount -t tmpfs none a; mount -t tmpfs",
            ),
            ("", "mount -V >/dev/null; mount -h >/dev/null"),
        ],
    );
}

#[test]
fn mount_options() {
    run_group(
        "options",
        &[
            (
                "mkdir a",
                "mount -t tmpfs -o nosuid,nodev,noexec,mode=755 none a; mount -t tmpfs",
            ),
            ("mkdir a", "mount -t tmpfs -o ro,size=1m none a; mount -t tmpfs"),
            ("mkdir a", "mount -r -t tmpfs none a; mount -t tmpfs"),
            ("mkdir a", "mount -w -t tmpfs none a; mount -t tmpfs"),
            (
                "mkdir a",
                "mount -t tmpfs -o noatime,nodiratime none a; mount -t tmpfs",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o strictatime,lazytime none a; mount -t tmpfs",
            ),
            ("mkdir a", "mount -t tmpfs -o sync,dirsync none a; mount -t tmpfs"),
            (
                "mkdir a",
                "mount -t tmpfs -o ro,rw,noexec,exec,defaults none a; mount -t tmpfs",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o silent,loud,nofail,auto,_netdev none a; mount -t tmpfs",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o comment=hi,X-foo=1 none a; mount -t tmpfs",
            ),
            ("", "mount -t tmpfs -o X-mount.mkdir none new/dir; mount -t tmpfs; stat -c %a new"),
            ("", "mount -m -t tmpfs none made; stat -c %a made"),
            ("", "mount --mkdir=0700 -t tmpfs none m7; stat -c %a m7"),
            ("", "mount -m0711 -t tmpfs none m7; stat -c %a m7"),
            ("mkdir a", "mount -t tmpfs -o bogus=1 none a"),
            ("mkdir a", "mount -t tmpfs -o size=1m -o mode=700 none a; mount -t tmpfs"),
            ("mkdir a", "mount -t tmpfs -o =x none a"),
            ("mkdir a", "mount -o ro"),
            ("mkdir a", "mount -t tmpfs -o shared none a; grep -c shared /proc/self/mountinfo >/dev/null; mount -t tmpfs"),
            ("mkdir a", "mount --fake -v -t tmpfs none a; mount -t tmpfs"),
            ("mkdir a", "mount -n -i -s -c -t tmpfs none a; mount -t tmpfs"),
        ],
    );
}

#[test]
fn errors_and_usage() {
    run_group(
        "errors",
        &[
            ("", "mount -t tmpfs none /nonexistent/dir"),
            ("", "mount /nonexistent-dev ."),
            ("", "mount -t bogusfs none ."),
            ("touch f", "mount -t tmpfs none f"),
            ("ln -s nowhere dangling", "mount -t tmpfs none dangling"),
            ("", "mount -t tmpfs none"),
            ("", "mount LABEL=no-such-label-here ."),
            ("", "mount -L no-such-label-here ."),
            ("", "mount -U 00000000-dead-beef-0000-000000000000 ."),
            ("", "mount PARTUUID=00000000-dead-beef-0000-000000000000 ."),
            ("", "mount -B -M a b"),
            ("", "mount -L a -U b ."),
            ("", "mount --bind -t tmpfs a b"),
            ("", "mount a b c"),
            ("", "mount --bogus"),
            ("", "mount -x"),
            ("", "mount -o"),
            ("", "mount --make"),
            ("", "mount -N /nonexistent -t tmpfs none ."),
            ("", "mount -N 999999999 -t tmpfs none ."),
            ("", "mount --target /no/such/target"),
            ("", "mount --source LABEL=x"),
            ("", "mount LABEL=x --source LABEL=y"),
            ("", "mount -o remount /nonexistent"),
            ("mkdir a", "mount -o remount a"),
            ("mkdir a", "mount --make-private a"),
            ("mkdir a", "mount --move a b"),
            ("", "umount"),
            ("", "umount /nonexistent"),
            ("mkdir a", "umount a"),
            ("mkdir a", "umount -q a"),
            ("mkdir a", "umount a a"),
            ("", "umount -R /nonexistent"),
            ("mkdir a", "umount -R a"),
            ("", "umount -a -R"),
            ("", "umount -R -r ."),
            ("", "umount -x"),
            ("", "umount -a extra"),
            ("", "umount --fake ."),
        ],
    );
}

/// Names that are not UTF-8 are bytes from argv to the kernel and back:
/// mount points, sources, fstab lines and comments. Output goes through
/// `od -c`, so that every byte counts (the harness compares text).
#[test]
fn non_utf8_names() {
    // $X is `a\377`, $Y `a` then U+FFFD (what a lossy conversion of $X
    // would name), $L `caf\351` (Latin-1).
    const NAMES: &str = "X=$(printf 'a\\377'); Y=$(printf 'a\\357\\277\\275'); L=$(printf 'caf\\351'); mkdir \"$X\" \"$Y\" \"$L\" b";
    run_group(
        "non-UTF-8 names",
        &[
            (NAMES, "mount -t tmpfs \"$X\" \"$X\"; mount -t tmpfs | od -An -c"),
            (NAMES, "mount -v -t tmpfs \"$L\" \"$X\" | od -An -c; mount -t tmpfs | od -An -c"),
            (
                NAMES,
                "/usr/bin/mount -t tmpfs x \"$X\"; /usr/bin/mount -t tmpfs y \"$Y\"; umount -v \"$X\" 2>&1 | od -An -c; mount -t tmpfs | od -An -c",
            ),
            (
                NAMES,
                "/usr/bin/mount -t tmpfs x \"$Y\"; umount \"$X\" 2>&1 | od -An -c; mount -t tmpfs | od -An -c",
            ),
            (
                NAMES,
                "/usr/bin/mount -t tmpfs x \"$X\"; mount --make-private \"$X\" && echo private; mount -v --bind \"$X\" b | od -An -c; umount -R \"$X\" && echo gone",
            ),
            (NAMES, "mount -t tmpfs x \"$X/nonexistent\" 2>&1 | od -An -c"),
            (NAMES, "mount \"$X\" 2>&1 | od -An -c"),
            (
                NAMES,
                "printf '# caf\\351 cr\\350me\\nnone %s/%s tmpfs defaults 0 0\\n\\377 %s/%s tmpfs defaults\\n' \"$W\" \"$L\" \"$W\" \"$X\" > fstab; mount -av -T fstab | od -An -c; mount -t tmpfs | od -An -c",
            ),
            (
                NAMES,
                "printf 'none %s/%s tmpfs defaults 0 0\\n' \"$W\" \"$L\" > fstab; mount -T fstab \"$W/$L\" && mount -t tmpfs | od -An -c",
            ),
            (NAMES, "umount \"$X\" 2>&1 | od -An -c; umount \"$X/no\" 2>&1 | od -An -c"),
        ],
    );
}

#[test]
fn bind_move_propagation_remount() {
    run_group(
        "bind, move, propagation, remount",
        &[
            ("mkdir a b", "mount -v --bind a b; mount -t tmpfs"),
            ("mkdir a b", "mount -o bind a b; mount -t tmpfs"),
            ("mkdir a b", "mount -v -o bind,ro a b; mount -t tmpfs"),
            ("mkdir a b", "mount -B -o nosuid,nodev a b; mount -t tmpfs"),
            (
                "mkdir -p a/s b; /usr/bin/mount -t tmpfs sub a/s",
                "mount -v --rbind a b; mount -t tmpfs",
            ),
            (
                "mkdir -p a/s b; /usr/bin/mount -t tmpfs sub a/s",
                "mount -R -o ro a b; mount -t tmpfs",
            ),
            (
                "mkdir -p a/s b; /usr/bin/mount -t tmpfs sub a/s",
                "mount --bind a b; mount -t tmpfs",
            ),
            ("mkdir a b; /usr/bin/mount -t tmpfs x a", "mount -v --move a b; mount -t tmpfs"),
            ("mkdir a b; /usr/bin/mount -t tmpfs x a", "mount -o move a b; mount -t tmpfs"),
            ("mkdir a", "mount -v --make-private \"$W\""),
            ("mkdir a", "mount --make-rshared \"$W\"; grep -c shared: /proc/self/mountinfo >/dev/null; echo ok"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "mount -v --make-unbindable a; mount --bind a a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "mount --make-slave a; mount --make-rslave a; mount --make-rprivate a; mount --make-runbindable a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "mount --make-shared a; mount --make-private --make-unbindable a"),
            (
                "mkdir a; /usr/bin/mount -t tmpfs -o size=1m,nosuid x a",
                "mount -o remount,ro a; mount -t tmpfs",
            ),
            (
                "mkdir a; /usr/bin/mount -t tmpfs -o nosuid x a",
                "mount -v -o remount,ro,exec x a; mount -t tmpfs",
            ),
            (
                "mkdir a; /usr/bin/mount -t tmpfs x a",
                "mount -o remount,size=2m a; mount -t tmpfs",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs x a; /usr/bin/mount --bind a b",
                "mount -o remount,bind,ro b; mount -t tmpfs",
            ),
            ("mkdir a; touch f g", "mount --bind f g; mount -t tmpfs"),
            ("", "mount --bind /nonexistent ."),
        ],
    );
}

#[test]
fn umount_cases() {
    run_group(
        "umount",
        &[
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -v a; mount -t tmpfs"),
            ("mkdir a; /usr/bin/mount -t tmpfs src1 a", "umount -v src1"),
            ("mkdir a; /usr/bin/mount -t tmpfs -o x-foo x a", "umount -v a; cat /run/mount/utab"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -l -v a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -f -v a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount --fake -v a; mount -t tmpfs"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "cd a && umount \"$W/a\""),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "cd a && umount -r \"$W/a\"; mount -t tmpfs"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -c -v \"$W/a\""),
            (
                "mkdir a; /usr/bin/mount -t tmpfs x a; /usr/bin/mount -t tmpfs y a",
                "umount -v a; mount -t tmpfs; umount a; mount -t tmpfs",
            ),
            (
                "mkdir -p a; /usr/bin/mount -t tmpfs top a; mkdir -p a/b a/c; \
                 /usr/bin/mount -t tmpfs b a/b; /usr/bin/mount -t tmpfs c a/c; \
                 mkdir a/b/d; /usr/bin/mount -t tmpfs d a/b/d; /usr/bin/mount -t tmpfs over a",
                "umount -v -R a; mount -t tmpfs",
            ),
            (
                "mkdir a; /usr/bin/mount -t tmpfs top a; mkdir a/b; /usr/bin/mount -t tmpfs b a/b",
                "umount -R -q a/nonexistent; umount -R a/b; mount -t tmpfs",
            ),
            (
                "mkdir a b c; /usr/bin/mount -t tmpfs shared1 a; /usr/bin/mount --bind a b; /usr/bin/mount --bind a c",
                "umount -v -A shared1; mount -t tmpfs",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs shared1 a; /usr/bin/mount --bind a b",
                "umount -A -v b; mount -t tmpfs",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs p1 a; /usr/bin/mount -t tmpfs p2 b",
                "umount -v -a -t tmpfs -O size=2m; mount -t tmpfs",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs -o size=2m p1 a; /usr/bin/mount -t tmpfs p2 b",
                "umount -a -t tmpfs -O size=2m; mount -t tmpfs",
            ),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -a -t notmpfs,proc -v; echo"),
        ],
    );
}

const FSTAB: &str = "none $W/fa\n\
# a comment\n\
\n\
none $W/fb tmpfs\n\
none $W/fc tmpfs size=1m,noauto 0 x\n\
none $W/f\\040d tmpfs defaults 0 0\n\
none $W/fe tmpfs noauto,size=2m\n\
none $W/missing tmpfs defaults\n\
proc $W/fp proc nosuid,nodev\n\
none $W/fx tmpfs x-tag=1,mode=700\n";

#[test]
fn fstab_and_all() {
    let commands: &[&str] = &[
        "mount -a -T fstab; mount -t tmpfs,proc",
        "mount -av -T fstab; mount -av -T fstab",
        "mount -a -t proc -T fstab; mount -t proc",
        "mount -av -t notmpfs -T fstab",
        "mount -av -O noauto -T fstab",
        "mount -av -O +noauto -T fstab",
        "mount -a -o ro -T fstab; mount -t tmpfs",
        "mount -T fstab \"$W/fe\"; mount -t tmpfs",
        "mount -v -T fstab \"$W/fp\"; mount -t proc",
        "mount -T fstab proc; mount -t proc",
        "mount -fv -T fstab \"$W/fe\"",
        "mount -T fstab \"$W/zz\"",
        "mount -T fstab --target \"$W/zz\"",
        "mount -T fstab --source nothing",
        "mount -T /nonexistent/fstab",
        "mount -T fstab --target \"$W/fx\"; mount -t tmpfs; cat /run/mount/utab",
        "mount -a -T fstab; umount -a -v -t tmpfs; mount -t tmpfs,proc",
        // Never `mount -a -o remount` here: it walks the whole mount table,
        // and superblocks (proc, sysfs, devtmpfs) are shared with the host.
        "LIBMOUNT_FSTAB=fstab mount \"$W/fb\"; mount -t tmpfs",
    ];
    let images = TempDir::new("mount-fstab");
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    let work = harness.work.path().display().to_string();
    std::fs::write(images.path().join("fstab"), FSTAB.replace("$W", &work)).unwrap();
    let setup = "mkdir -p fa fb fc 'f d' fe fp fx && cp \"$IMG/fstab\" fstab";
    let cases: Vec<Case> = commands.iter().map(|c| (setup, *c)).collect();
    let failures = harness.compare(&cases);
    assert_all_match("fstab and -a", &cases, failures);
}

/// Detaches every loop device backed by a file under `dir` when dropped.
struct LoopGuard {
    dir: PathBuf,
}

impl Drop for LoopGuard {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/sys/block") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            let Ok(backing) = std::fs::read_to_string(entry.path().join("loop/backing_file"))
            else {
                continue;
            };
            if Path::new(backing.trim_end()).starts_with(&self.dir) {
                let _ = Command::new("losetup")
                    .args(["-d", &format!("/dev/{name}")])
                    .status();
            }
        }
    }
}

fn make_image(path: &Path, mkfs: &[&str]) -> bool {
    let made = Command::new("truncate")
        .args(["-s", "8M"])
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    made && Command::new(mkfs[0])
        .args(&mkfs[1..])
        .arg(path)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn loop_devices_and_probing() {
    let images = TempDir::new("mount-loop");
    let _guard = LoopGuard {
        dir: images.path().to_path_buf(),
    };
    assert!(
        make_image(
            &images.path().join("ext.img"),
            &[
                "mkfs.ext4",
                "-q",
                "-L",
                "nsextlbl",
                "-U",
                "0a1b2c3d-1111-2222-3333-444455556666"
            ]
        ),
        "mkfs.ext4 (apt install e2fsprogs)"
    );
    assert!(
        make_image(
            &images.path().join("vfat.img"),
            &["mkfs.vfat", "-n", "NSVFAT", "-i", "1234ABCD"]
        ),
        "mkfs.vfat (apt install dosfstools)"
    );
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    // Device names differ from run to run: cases print LOOP instead, and
    // look their devices up by backing file, never with `losetup -a`.
    let cases: &[Case] = &[
        ("mkdir m", "mount \"$IMG/ext.img\" m; mount -t ext4; umount m; losetup -j \"$IMG/ext.img\""),
        ("mkdir m", "mount -v -o loop \"$IMG/ext.img\" m | sed 's|/dev/loop[0-9]*|LOOP|'; mount -l -t ext4; umount -v m"),
        ("mkdir m", "mount -o loop,ro \"$IMG/ext.img\" m; mount -t ext4 -l"),
        ("mkdir m", "mount -r \"$IMG/ext.img\" m; mount -t ext4; umount -d m"),
        ("mkdir m", "mount -o loop,offset=0,sizelimit=8388608 \"$IMG/ext.img\" m; mount -t ext4"),
        ("mkdir m", "mount -o loop,x-a=1 \"$IMG/ext.img\" m; mount -t ext4; cat /run/mount/utab; umount m; cat /run/mount/utab"),
        ("mkdir m", "mount -o loop /nonexistent.img m"),
        // A label that is not UTF-8 is found and shown as its bytes.
        (
            "mkdir m; truncate -s 8M \"$IMG/lat.img\"; mkfs.ext4 -q -F -L \"$(printf '\\351t\\351')\" \"$IMG/lat.img\"; L=$(losetup -f --show \"$IMG/lat.img\")",
            "mount LABEL=\"$(printf '\\351t\\351')\" m && mount -l -t ext4 | sed \"s|$L|LOOP|\" | od -An -c; umount m; mount -L \"$(printf '\\351t\\352')\" m; losetup -d $L",
        ),
        // offset= and sizelimit= as util-linux's strtosize reads them; what
        // it refuses (encryption= included) is a usage error.
        (
            "mkdir m; head -c 1M /dev/zero > off.img; cat \"$IMG/ext.img\" >> off.img",
            "for o in offset=0x100000 offset=1M offset=1MiB offset=1.0M offset=04000000 'offset=1M,sizelimit=8M'; do mount -o loop,$o off.img m && mount -t ext4 && umount m; done",
        ),
        (
            "mkdir m",
            "for o in offset=-1 sizelimit=18446744073709551616 sizelimit=0x10000000000000000 offset= offset=abc offset=08 offset=1.5 'offset=1 ' offset=1Q offset=16E encryption=aes encryption= 'nosuid,noexec,exec,offset=x,size=1'; do mount -o \"loop,$o\" \"$IMG/ext.img\" m; echo $?; done; mount -o ro,offset=x \"$IMG/ext.img\" m; losetup -j \"$IMG/ext.img\"",
        ),
        ("mkdir m", "mount -t ext4 \"$IMG/vfat.img\" m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'"),
        ("mkdir m", "mount -o loop \"$IMG/vfat.img\" m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'; losetup -j \"$IMG/vfat.img\""),
        ("mkdir m", "mount \"$IMG/ext.img\" m; umount -v \"$IMG/ext.img\""),
        ("mkdir m; head -c 100 /dev/zero > small", "mount small m"),
        ("mkdir m; head -c 2M /dev/zero > zero", "mount zero m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'"),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount LABEL=nsextlbl m; mount -l -t ext4 | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -U 0a1b2c3d-1111-2222-3333-444455556666 m; mount -t ext4 | sed \"s|$L|LOOP|\"; umount -d m; losetup -j \"$IMG/ext.img\"",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -v -L nsextlbl m | sed \"s|$L|LOOP|\"; umount -v m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -v $L m | sed \"s|$L|LOOP|\"; umount -v $L 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/vfat.img\")",
            "mount UUID=1234-ABCD m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/vfat.img\")",
            "mount LABEL=NSVFAT m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "printf 'LABEL=nsextlbl %s/m ext4 defaults\\n' \"$W\" > fstab; mount -a -T fstab -v; mount -t ext4 | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
    ];
    let failures = harness.compare(cases);
    assert_all_match("loop devices and probing", cases, failures);
}

#[test]
fn namespaces() {
    run_group(
        "-N",
        &[
            (
                "mkdir a; unshare --mount --propagation private sleep 30 & P=$!; sleep 0.3",
                "mount -v -N $P -t tmpfs inner \"$W/a\"; nsenter --mount=/proc/$P/ns/mnt /usr/bin/mount -t tmpfs | grep -c inner; umount -v -N $P \"$W/a\"; kill $P",
            ),
            (
                "mkdir a; unshare --mount --propagation private sleep 30 & P=$!; sleep 0.3",
                "mount -N /proc/$P/ns/mnt -t tmpfs inner \"$W/a\"; mount -t tmpfs | grep -c inner; kill $P",
            ),
        ],
    );
}
