//! ns-mount and ns-umount against util-linux mount and umount.
//!
//! The reference is util-linux 2.42 (from the cached forky root, run on
//! the host through its loader); a case util-linux 2.38.1 (the host's)
//! answers the same way is pinned to both, and the test's name says which
//! releases its cases pin (`…_as_2_42_and_2_38`, `…_as_2_42`).
//!
//! Every case runs in a throwaway mount namespace (`unshare --mount
//! --propagation private`) with a private tmpfs on /run (so utab is the
//! namespace's own) and on the case's working directory: once with a
//! reference release first in PATH, once with ours (symlinks named `mount`
//! and `umount`, so messages carry the same prefix). Set-up steps call the
//! host's util-linux by its full path. stdout (with the exit status echoed
//! at the end) and stderr must be identical.
//!
//! Loop-device cases attach images made with mkfs.ext4 and mkfs.vfat; a
//! guard detaches every loop device backed by them, also when a case fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use nstools_tests::reference::{self, Release};
use nstools_tests::{bin, differences, require_root, Stderr, TempDir, TestCommand};

/// A case: shell set-up (run with util-linux), then the command under test
/// (`mount`/`umount` resolve to ours or the reference).
type Case = (&'static str, &'static str);

/// Both releases: 2.42 (the reference) and the host's 2.38.1.
const BOTH: &[Release] = &[Release::Newest, Release::Host];
/// 2.42 only, where 2.38.1 differs.
const NEWEST: &[Release] = &[Release::Newest];

const HOST_PATH: &str = "/usr/bin:/usr/sbin:/bin:/sbin";

struct Harness {
    ours_dir: TempDir,
    /// `mount` and `umount` of util-linux 2.42: scripts that run the
    /// forky root's binaries through its loader.
    newest_dir: TempDir,
    work: TempDir,
    images: PathBuf,
    /// Variables the cases see besides IMG and W (the images' tags).
    env: Vec<(&'static str, String)>,
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
        let newest_dir = TempDir::new("mount-newest");
        for name in ["mount", "umount"] {
            let argv = reference::command_line(Release::Newest, name);
            let quoted: Vec<String> = argv.iter().map(|a| format!("'{}'", a.display())).collect();
            let script = format!("#!/bin/sh\nexec {} \"$@\"\n", quoted.join(" "));
            let path = newest_dir.path().join(name);
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Some(Harness {
            ours_dir,
            newest_dir,
            work: TempDir::new("mount-work"),
            images: images.to_path_buf(),
            env: Vec::new(),
        })
    }

    /// The cases name the images' labels and UUIDs through variables.
    fn with_tags(mut self, tags: &Tags) -> Harness {
        self.env = tags.variables();
        self
    }

    fn run(&self, path: &str, setup: &str, command: &str) -> nstools_tests::Outcome {
        let work = self.work.path().display();
        let script = format!(
            "/usr/bin/mount -t tmpfs run /run && mkdir -p /run/mount && \
             /usr/bin/mount -t tmpfs work {work} && cd {work} && {{ {setup}\n}} && \
             {{ {command}\n}}; echo status=$?"
        );
        let mut command = TestCommand::new("unshare").args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ]);
        for (name, value) in &self.env {
            command = command.env(name, value);
        }
        let outcome = command
            .env("PATH", path)
            .env("IMG", &self.images)
            .env("W", self.work.path())
            .env_remove("LIBMOUNT_FSTAB")
            .env_remove("LIBMOUNT_FORCE_MOUNT2")
            .run();
        // The namespace's mounts go with it, and their autoclear loop
        // devices a moment later: the next run must not find them.
        settle_loop_devices(&[&self.images, self.work.path()]);
        nstools_tests::Outcome {
            stdout: without_loop_numbers(&outcome.stdout),
            stderr: without_loop_numbers(&outcome.stderr),
            ..outcome
        }
    }

    fn path_of(&self, release: Release) -> String {
        match release {
            Release::Newest => format!("{}:{HOST_PATH}", self.newest_dir.path().display()),
            Release::Host => HOST_PATH.to_string(),
        }
    }

    /// Runs every case against ours and each release; returns the
    /// descriptions of mismatches.
    fn compare(&self, cases: &[(&str, &str)], releases: &[Release]) -> Vec<String> {
        let ours_path = format!("{}:{HOST_PATH}", self.ours_dir.path().display());
        let mut failures = Vec::new();
        for (setup, command) in cases {
            let ours = self.run(&ours_path, setup, command);
            for &release in releases {
                let reference = self.run(&self.path_of(release), setup, command);
                if let Some(problem) = differences(&ours, &reference, Stderr::Identical) {
                    failures.push(format!(
                        "case `{setup}` / `{command}` against {release:?}: {problem}"
                    ));
                }
            }
        }
        failures
    }
}

#[track_caller]
fn assert_all_match(name: &str, cases: &[(&str, &str)], failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{name}: {} mismatches in {} cases:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn run_group(name: &str, releases: &[Release], cases: &[Case]) {
    let images = TempDir::new("mount-img");
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    let failures = harness.compare(cases, releases);
    assert_all_match(name, cases, failures);
}

#[test]
fn walk_through_and_listing_as_2_42_and_2_38() {
    run_group(
        "walk-through and listing",
        BOTH,
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
fn mount_options_as_2_42_and_2_38() {
    run_group(
        "options",
        BOTH,
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
            ("mkdir a", "mount -t tmpfs -o size=1m -o mode=700 none a; mount -t tmpfs"),
            ("mkdir a", "mount -t tmpfs -o =x none a"),
            ("mkdir a", "mount -o ro"),
            ("mkdir a", "mount -t tmpfs -o shared none a; grep -c shared /proc/self/mountinfo >/dev/null; mount -t tmpfs"),
            ("mkdir a", "mount --fake -v -t tmpfs none a; mount -t tmpfs"),
            ("mkdir a", "mount -n -i -s -c -t tmpfs none a; mount -t tmpfs"),
        ],
    );
}

/// What 2.39-2.42 changed or added: the fd-based calls and their
/// messages, the option list as 2.42 merges it, the new options.
#[test]
fn mount_options_as_2_42() {
    run_group(
        "options (2.42)",
        NEWEST,
        &[
            ("mkdir a", "mount -t tmpfs -o bogus=1 none a"),
            ("mkdir a", "mount -t tmpfs -o size=1m,bogus,mode=7 none a"),
            (
                "mkdir a",
                "mount -t tmpfs -o nosuid,noexec,exec,ro=vfs none a; mount -t tmpfs; touch a/x 2>/dev/null || echo ro",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o ro=fs none a; mount -t tmpfs",
            ),
            ("mkdir a", "mount --onlyonce -t tmpfs none a; mount --onlyonce -t tmpfs none a; mount -t tmpfs"),
            ("mkdir a", "mount --exclusive -t tmpfs none a && mount -t tmpfs"),
            (
                "mkdir a; /usr/bin/mount -t tmpfs lower a",
                "mount --beneath -t tmpfs under a && umount a && mount -t tmpfs",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs x a; /usr/bin/mount --make-private a",
                "mount --move -o ro a b; mount -t tmpfs",
            ),
            (
                "mkdir -p a/s b; /usr/bin/mount -t tmpfs x a; /usr/bin/mount -t tmpfs sub a/s",
                "mount -o rbind,ro=recursive,nosuid a b; mount -t tmpfs",
            ),
            (
                "mkdir -p a/s b; /usr/bin/mount -t tmpfs x a; /usr/bin/mount -t tmpfs sub a/s",
                "mount -R -o ro a b; mount -t tmpfs",
            ),
            (
                "mkdir a; /usr/bin/mount -t tmpfs -o ro x a",
                "mount -o remount,rw a; mount -t tmpfs; mount -o remount,ro=recursive a; mount -t tmpfs",
            ),
            (
                "mkdir a",
                "mount -t tmpfs -o X-mount.owner=1,X-mount.group=daemon,X-mount.mode=1750 none a; stat -c '%A %u %g' a",
            ),
            (
                "mkdir a; touch f g",
                "mount --bind -o X-mount.mode=600,X-mount.owner=2 f g; stat -c '%A %u %g' g",
            ),
            ("mkdir a", "mount -t tmpfs -o X-mount.owner=no-such-user-x none a"),
            ("mkdir a", "mount -t tmpfs -o size=1m,X-mount.mode=99999 none a"),
            ("mkdir a", "mount -t tmpfs -o X-mount.mkdir=abc none new"),
            ("mkdir a", "mount -t tmpfs -o X-mount.subdir= none a"),
            ("mkdir a", "mount -t tmpfs -o X-mount.idmap= none a"),
            ("mkdir a", "mount -t tmpfs -o X-mount.idmap=/nonexistent none a"),
            ("mkdir a", "mount --map-users 0:0:1 --map-users /proc/1/ns/user -t tmpfs none a"),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs x a; touch a/f; chown 1000:1000 a/f",
                "mount --bind --map-users 1000:0:1 --map-groups 1000:5:1 a b && stat -c '%u %g' b/f; umount b",
            ),
            (
                "mkdir a b; /usr/bin/mount -t tmpfs x a; touch a/f; chown 7:7 a/f",
                "mount --bind -o X-mount.idmap='b:7:70:1' a b && stat -c '%u %g' b/f a/f",
            ),
            (
                "ln -s target link; touch target other",
                "mount --bind -o X-mount.nocanonicalize other link && stat -c %F link && umount link && stat -c %F link",
            ),
            ("mkdir a", "LIBMOUNT_FORCE_MOUNT2=always mount -t tmpfs -o bogus=1 none a"),
            ("mkdir a", "LIBMOUNT_FORCE_MOUNT2=always mount -t tmpfs -o size=1m,nosuid none a && mount -t tmpfs"),
            ("", "mount -V | grep -c fd-based"),
        ],
    );
}

/// `mount.<type>` and `umount.<type>` helpers, as util-linux runs them.
/// A private overlay on /usr/sbin (of the case's namespace) holds them.
#[test]
fn helpers_as_2_42() {
    const HELPERS: &str = "mkdir -p u w mnt && /usr/bin/mount -t overlay -o lowerdir=/usr/sbin,upperdir=$W/u,workdir=$W/w helpers /usr/sbin && \
        printf '#!/bin/sh\necho \"$0 $*\"\nexit 3\n' > /usr/sbin/mount.nstest && \
        printf '#!/bin/sh\necho \"$0 $*\"\n' > /usr/sbin/umount.nstest && \
        printf '#!/bin/sh\necho \"$0 $*\"\n' > /usr/sbin/mount.fuse && \
        printf '#!/bin/sh\nexec /usr/bin/mount -i -t tmpfs -o x-inner=1 \"$1\" \"$2\"\n' > /usr/sbin/mount.nsreal && \
        printf 'not a program' > /usr/sbin/mount.nsbroken && chmod +x /usr/sbin/*.ns* /usr/sbin/mount.fuse && chmod -x /usr/sbin/mount.nsbroken";
    const HELPERS_TMPFS: &str = "mkdir -p u w mnt && /usr/bin/mount -t overlay -o lowerdir=/usr/sbin,upperdir=$W/u,workdir=$W/w helpers /usr/sbin && \
        printf '#!/bin/sh\necho \"$0 $*\"\nexit 5\n' > /usr/sbin/umount.tmpfs && chmod +x /usr/sbin/umount.tmpfs";
    run_group(
        "helpers",
        NEWEST,
        &[
            (HELPERS, "mount -t nstest /foo /bar"),
            (
                HELPERS,
                "mount -t nstest -o foo,defaults,noauto,x-y=1,loop,private /foo /bar",
            ),
            (HELPERS, "mount -t nstest -o user,abc /foo /bar"),
            (HELPERS, "mount -t nstest -o user=name,abc,ro /foo /bar"),
            (HELPERS, "mount -s -f -n -v -t nstest,invalid /foo /bar"),
            (HELPERS, "mount -i -t nstest /foo \"$W/mnt\""),
            (HELPERS, "mount -t fuse.sshfs host: /bar"),
            (HELPERS, "mount -t nsbroken /foo /bar"),
            (
                HELPERS,
                "mount -t nsreal -o x-outer=2 src mnt && mount -t tmpfs && cat /run/mount/utab",
            ),
            (
                HELPERS,
                "mount -t nsreal src mnt && umount -v mnt; mount -t tmpfs | grep -c mnt",
            ),
            (
                HELPERS_TMPFS,
                "/usr/bin/mount -t tmpfs x mnt && umount -v mnt; umount -n -l -f mnt; mount -t tmpfs | grep -c mnt; umount -i mnt; mount -t tmpfs | grep -c mnt",
            ),
            (
                HELPERS_TMPFS,
                "/usr/bin/mount -t tmpfs x mnt && umount -r mnt; umount --fake mnt; echo $?",
            ),
        ],
    );
}

#[test]
fn errors_and_usage_as_2_42() {
    run_group(
        "errors (2.42)",
        NEWEST,
        &[
            ("touch f", "mount -t tmpfs none f"),
            ("ln -s nowhere dangling", "mount -t tmpfs none dangling"),
            ("", "mount -t ext4 /nonexistent ."),
            ("", "mount --map-users 0:0:1 --map-users /x -t tmpfs none ."),
            ("mkdir a", "mount --make-private --make-unbindable none a"),
            // ID= (udev's hardware IDs) is a tag since 2.39; an empty
            // value is no tag but a path.
            (
                "mkdir a",
                "mount ID=no-such-id-here a; mount 'ID=\"x\"' a; mount --source ID=x --target a; umount ID=x",
            ),
            ("mkdir a", "mount LABEL= a; mount 'UUID=\"\"' a; mount -L '' a; umount LABEL="),
        ],
    );
}

#[test]
fn errors_and_usage_as_2_42_and_2_38() {
    run_group(
        "errors",
        BOTH,
        &[
            ("", "mount -t tmpfs none /nonexistent/dir"),
            ("", "mount /nonexistent-dev ."),
            ("", "mount -t bogusfs none ."),
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
            // No list of filesystems to try (a chroot without /proc).
            (
                "mkdir a; /usr/bin/mount -t tmpfs noproc /proc",
                "mount -t nosuchfs none a; mount none a; mount -t nofoo,bar none a; mount -t foo none a",
            ),
        ],
    );
}

/// Names that are not UTF-8 are bytes from argv to the kernel and back:
/// mount points, sources, fstab lines and comments. Output goes through
/// `od -c`, so that every byte counts (the harness compares text).
#[test]
fn non_utf8_names_as_2_42_and_2_38() {
    // $X is `a\377`, $Y `a` then U+FFFD (what a lossy conversion of $X
    // would name), $L `caf\351` (Latin-1).
    const NAMES: &str = "X=$(printf 'a\\377'); Y=$(printf 'a\\357\\277\\275'); L=$(printf 'caf\\351'); mkdir \"$X\" \"$Y\" \"$L\" b";
    run_group(
        "non-UTF-8 names",
        BOTH,
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
fn bind_move_propagation_remount_as_2_42_and_2_38() {
    run_group(
        "bind, move, propagation, remount",
        BOTH,
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
fn umount_as_2_42() {
    run_group(
        "umount (2.42)",
        NEWEST,
        &[
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "cd a && umount -r \"$W/a\"; mount -t tmpfs"),
            // No siblings: their order follows mount IDs, which the kernel
            // reuses (other processes free and take them), so the two runs
            // may number them differently.
            (
                "mkdir -p a; /usr/bin/mount -t tmpfs top a; mkdir -p a/b; \
                 /usr/bin/mount -t tmpfs b a/b; \
                 mkdir a/b/d; /usr/bin/mount -t tmpfs d a/b/d; /usr/bin/mount -t tmpfs over a",
                "umount -v -R a; mount -t tmpfs",
            ),
            (
                "mkdir -p a/b; /usr/bin/mount -t tmpfs top a; mkdir a/b; /usr/bin/mount -t tmpfs b a/b; /usr/bin/mount -t tmpfs over a",
                "umount -R a; mount -t tmpfs",
            ),
        ],
    );
}

#[test]
fn umount_as_2_42_and_2_38() {
    run_group(
        "umount",
        BOTH,
        &[
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -v a; mount -t tmpfs"),
            ("mkdir a; /usr/bin/mount -t tmpfs src1 a", "umount -v src1"),
            ("mkdir a; /usr/bin/mount -t tmpfs -o x-foo x a", "umount -v a; cat /run/mount/utab"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -l -v a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -f -v a"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount --fake -v a; mount -t tmpfs"),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "cd a && umount \"$W/a\""),
            ("mkdir a; /usr/bin/mount -t tmpfs x a", "umount -c -v \"$W/a\""),
            (
                "mkdir a; /usr/bin/mount -t tmpfs x a; /usr/bin/mount -t tmpfs y a",
                "umount -v a; mount -t tmpfs; umount a; mount -t tmpfs",
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

/// Runs `commands` on a copy of [`FSTAB`] against `releases`.
fn fstab_group(name: &str, releases: &[Release], commands: &[&'static str]) {
    let images = TempDir::new("mount-fstab");
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    let work = harness.work.path().display().to_string();
    std::fs::write(images.path().join("fstab"), FSTAB.replace("$W", &work)).unwrap();
    let setup = "mkdir -p fa fb fc 'f d' fe fp fx && cp \"$IMG/fstab\" fstab";
    let cases: Vec<Case> = commands.iter().map(|c| (setup, *c)).collect();
    let failures = harness.compare(&cases, releases);
    assert_all_match(name, &cases, failures);
}

#[test]
fn fstab_and_all_as_2_42() {
    fstab_group(
        "fstab and -a (2.42)",
        NEWEST,
        &[
            // An entry without options has no auto option.
            "mount -av -O noauto -T fstab",
            "mount -av -O no -T fstab",
            // Lookups by tag: the device, LABEL= and UUID= find each other.
            "mount -T fstab -L nothing-here",
            "mount -a --target-prefix \"$W/p\" -o X-mount.mkdir -T fstab; mount -a --target-prefix \"$W/p\" -T fstab -v; mount -t tmpfs",
        ],
    );
}

#[test]
fn fstab_and_all_as_2_42_and_2_38() {
    let commands: &[&str] = &[
        "mount -a -T fstab; mount -t tmpfs,proc",
        "mount -av -T fstab; mount -av -T fstab",
        // A directory is its *.fstab files (not hidden ones, not
        // directories), in version order, bad lines named by file; a
        // device is refused unread (/dev/zero would never end).
        "mkdir d d/sub.fstab; grep fb fstab > d/b.fstab; grep fx fstab > d/a10.fstab; echo bad >> d/a10.fstab; grep fe fstab > d/a9.fstab; grep 'f\\\\040d' fstab > d/.h.fstab; grep fp fstab > d/c.txt; ln -s b.fstab d/l.fstab; mount -a -f -v -T d; mount -T d/ \"$W/fe\" -v; mount -T d \"$W/fp\"",
        "mount -T /dev/null -a; mount -T /dev/zero \"$W/fb\"; mount -T /dev/null -L x",
        "mount -a -t proc -T fstab; mount -t proc",
        "mount -av -t notmpfs -T fstab",
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
    fstab_group("fstab and -a", BOTH, commands);
}

/// `--options-mode`, `--options-source`, `--options-source-force`, and
/// what a remount leaves in utab.
const OPTIONS_CASES: &[Case] = &[
    ("mkdir m", "mount -a -T fstab --options-mode=ignore -o nosuid"),
    ("mkdir m", "mount -a -T fstab --options-mode=append -o exec,size=2m"),
    ("mkdir m", "mount -a -T fstab --options-mode=replace -o nosuid"),
    ("mkdir m", "mount -a -T fstab --options-source=disable"),
    ("mkdir m", "mount -T fstab -o exec,size=2m m"),
    ("mkdir m", "mount -T fstab --options-mode ignore -o nosuid m"),
    ("mkdir m", "mount -T fstab --options-mode append -o exec,size=2m m"),
    ("mkdir m", "mount -T fstab --options-mode=replace -o exec,size=2m,nosuid m"),
    ("mkdir m", "mount -T fstab --options-mode=prepend -o exec,size=2m m"),
    ("mkdir m", "mount -T fstab --options-source=mtab -o nosuid m"),
    ("mkdir m", "mount -T fstab --options-source=disable -t tmpfs -o nosuid none m"),
    ("mkdir m", "mount -T fstab --options-source=fstab -o nosuid m"),
    ("mkdir m", "mount -T fstab --options-source=bogus m; mount -T fstab --options-mode=bogus m"),
    ("mkdir m", "mount -T fstab --options-source= m"),
    ("mkdir m", "mount -T fstab --options-source-force -o exec none m"),
    ("mkdir m", "mount -T fstab --options-source-force --options-mode=append -o exec,size=2m none m"),
    ("mkdir m", "mount -T fstab --options-source-force -t tmpfs foo m; mount -T fstab --options-source-force -t tmpfs none \"$W/m\""),
    ("mkdir m", "mount -T fstab --options-source=mtab -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-source=fstab -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-source=disable -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-mode=ignore -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-source=mtab --options-mode=replace -o remount,nosuid m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-source=mtab --options-mode=append -o remount,size=1m m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -T fstab --options-source=mtab --options-source-force -o remount,size=1m x m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -o remount,x-b m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m,x-c x m", "mount -o remount,x-b m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m,x-c x m", "mount -o remount,nosuid m; mount --options-mode=ignore -o remount,nosuid m"),
    ("mkdir m m2; /usr/bin/mount -t tmpfs -o size=3m x m", "mount -o remount,x-b x m; mount -t tmpfs; mount -t tmpfs -o x-z y m2; cat /run/mount/utab; umount m"),
    ("mkdir m; /usr/bin/mount -t tmpfs -o size=3m,x-c x m", "mount --options-mode=replace -o remount,nosuid m"),
];

/// Where 2.38 differs: with no table to complete a lone operand, 2.42
/// goes on to a mount that fails past its mount stage.
const OPTIONS_CASES_2_42: &[Case] = &[
    ("mkdir m", "mount -T fstab --options-source=disable -o nosuid m; mount -T fstab --options-source=disable -o nosuid none"),
    ("mkdir m", "mount -T fstab --options-source=mtab,fstab,disable m"),
];

/// Runs `cases` with an fstab entry for `m` against `releases`; each
/// case shows the mount table and utab after it.
fn options_group(name: &str, releases: &[Release], cases: &[Case]) {
    let images = TempDir::new("mount-optmode");
    let Some(harness) = Harness::new(images.path()) else {
        return;
    };
    let work = harness.work.path().display().to_string();
    std::fs::write(
        images.path().join("fstab"),
        format!("none {work}/m tmpfs noexec,size=1m,x-a 0 0\n"),
    )
    .unwrap();
    let cases: Vec<(String, String)> = cases
        .iter()
        .map(|(setup, command)| {
            (
                format!("{setup}; cp \"$IMG/fstab\" fstab"),
                format!("{command}; echo $?; mount -t tmpfs; cat /run/mount/utab"),
            )
        })
        .collect();
    let cases: Vec<(&str, &str)> = cases.iter().map(|(s, c)| (&**s, &**c)).collect();
    let failures = harness.compare(&cases, releases);
    assert_all_match(name, &cases, failures);
}

#[test]
fn options_mode_and_source_as_2_42_and_2_38() {
    options_group(
        "--options-mode, --options-source, remount utab",
        BOTH,
        OPTIONS_CASES,
    );
}

#[test]
fn options_source_disable_as_2_42() {
    options_group("--options-source=disable", NEWEST, OPTIONS_CASES_2_42);
}

/// The loop devices whose backing file is under one of `dirs`.
fn loop_devices_under(dirs: &[&Path]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let backing = std::fs::read_to_string(entry.path().join("loop/backing_file")).ok()?;
            let backing = backing.trim_end().trim_end_matches(" (deleted)");
            dirs.iter()
                .any(|dir| Path::new(backing).starts_with(dir))
                .then(|| format!("/dev/{name}"))
        })
        .collect()
}

/// Loop devices the kernel still lists with a size but no backing file:
/// being torn down (autoclear), and not readable meanwhile.
fn loop_devices_in_teardown() -> usize {
    let Ok(partitions) = std::fs::read_to_string("/proc/partitions") else {
        return 0;
    };
    partitions
        .lines()
        .filter_map(|line| line.split_whitespace().nth(3))
        .filter(|name| name.starts_with("loop"))
        .filter(|name| !Path::new("/sys/block").join(name).join("loop").exists())
        .count()
}

/// Waits (up to 5 s) for the autoclear loop devices of a finished case
/// to go, then detaches what is left: a tag must not find the device of
/// the case before.
fn settle_loop_devices(dirs: &[&Path]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while (!loop_devices_under(dirs).is_empty() || loop_devices_in_teardown() > 0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for device in loop_devices_under(dirs) {
        let _ = Command::new("losetup").args(["-d", &device]).status();
    }
}

/// Loop devices are numbered by the kernel (and other users of the
/// machine take some): outputs name them `/dev/loopN`.
fn without_loop_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("/dev/loop") {
        let (before, after) = rest.split_at(at + "/dev/loop".len());
        out.push_str(before);
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push('N');
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
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

/// Labels and UUIDs of one set of images, unique to it: other test runs
/// on this machine (other worktrees, other engineers) attach images of
/// their own meanwhile, and a tag must find ours alone. Cases name them
/// through variables (see [`Tags::variables`]).
struct Tags {
    /// 8 hex digits.
    tag: String,
    ext_uuid: String,
    vfat_id: String,
}

impl Tags {
    fn new() -> Tags {
        let mut random = [0u8; 20];
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut random))
            .expect("read /dev/urandom");
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let uuid = hex(&random[4..20]);
        Tags {
            tag: hex(&random[..4]),
            ext_uuid: format!(
                "{}-{}-{}-{}-{}",
                &uuid[..8],
                &uuid[8..12],
                &uuid[12..16],
                &uuid[16..20],
                &uuid[20..]
            ),
            vfat_id: hex(&random[16..20]).to_uppercase(),
        }
    }

    fn ext_label(&self) -> String {
        format!("nsext{}", self.tag)
    }

    fn vfat_label(&self) -> String {
        format!("NS{}", self.tag.to_uppercase())
    }

    /// `ELBL`/`EUUID` (ext.img), `VLBL`/`VUUID` (vfat.img, its UUID as
    /// `XXXX-XXXX`), and `TAG` for labels a case makes itself.
    fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("ELBL", self.ext_label()),
            ("EUUID", self.ext_uuid.clone()),
            ("VLBL", self.vfat_label()),
            (
                "VUUID",
                format!("{}-{}", &self.vfat_id[..4], &self.vfat_id[4..]),
            ),
            ("TAG", self.tag.clone()),
        ]
    }
}

/// The images of the loop-device cases: ext4 and vfat with labels and
/// UUIDs of their own ([`Tags`]); detached when dropped.
struct Images {
    // Dropped in this order: the devices detached, the files removed,
    // then the next test may attach its own.
    _guard: LoopGuard,
    dir: TempDir,
    tags: Tags,
    /// One test of this binary at a time attaches images: each waits for
    /// the loop devices torn down after its cases (see
    /// `settle_loop_devices`), and the other's would stretch that wait.
    _serial: std::sync::MutexGuard<'static, ()>,
}

fn images() -> Images {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = TempDir::new("mount-loop");
    let guard = LoopGuard {
        dir: dir.path().to_path_buf(),
    };
    let tags = Tags::new();
    assert!(
        make_image(
            &dir.path().join("ext.img"),
            &[
                "mkfs.ext4",
                "-q",
                "-L",
                &tags.ext_label(),
                "-U",
                &tags.ext_uuid
            ]
        ),
        "mkfs.ext4 (apt install e2fsprogs)"
    );
    assert!(
        make_image(
            &dir.path().join("vfat.img"),
            &["mkfs.vfat", "-n", &tags.vfat_label(), "-i", &tags.vfat_id]
        ),
        "mkfs.vfat (apt install dosfstools)"
    );
    Images {
        _guard: guard,
        dir,
        tags,
        _serial: serial,
    }
}

/// Loop devices, tags and probing as 2.42 does them: a device reused
/// for the same range of a file, an overlapping one refused, fstab
/// entries found through the device's tags, type lists, cramfs.
#[test]
fn loop_devices_and_probing_as_2_42() {
    let images = images();
    let Some(harness) = Harness::new(images.dir.path()) else {
        return;
    };
    let harness = harness.with_tags(&images.tags);
    let cases: &[Case] = &[
        ("mkdir m", "mount -o loop /nonexistent.img m"),
        ("mkdir m; head -c 100 /dev/zero > small", "mount small m"),
        (
            "mkdir m",
            "for o in offset=-1 sizelimit=18446744073709551616 offset= offset=abc offset=1Q offset=16E encryption=aes 'nosuid,noexec,exec,offset=x,size=1'; do mount -o \"loop,$o\" \"$IMG/ext.img\" m; echo $?; done; mount -o ro,offset=x \"$IMG/ext.img\" m; mount -o loop,offset=x /nonexistent m; umount m; losetup -j \"$IMG/ext.img\"",
        ),
        // The same file twice: one loop device; on the same mount point,
        // refused; an overlapping range, refused.
        (
            "mkdir m n",
            "mount \"$IMG/ext.img\" m && mount \"$IMG/ext.img\" n && losetup -j \"$IMG/ext.img\" | wc -l; mount \"$IMG/ext.img\" m; mount -o loop,offset=4096 \"$IMG/ext.img\" n; mount -o loop,ro \"$IMG/ext.img\" n; umount m n; losetup -j \"$IMG/ext.img\" | wc -l",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -o loop=$L \"$IMG/ext.img\" m; mount \"$IMG/ext.img\" m && findmnt -no SOURCE m | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
        (
            "mkdir m; cp \"$IMG/ext.img\" other.img; L=$(losetup -f --show other.img)",
            "mount -o loop=$L \"$IMG/ext.img\" m; losetup -d $L",
        ),
        (
            "mkdir m n; printf '%s %s/m ext4 loop\\n' \"$IMG/ext.img\" \"$W\" > fstab",
            "mount -a -T fstab; printf '%s %s/n ext4 loop\\n' \"$IMG/ext.img\" \"$W\" >> fstab; mount -a -T fstab -v; losetup -j \"$IMG/ext.img\" | wc -l; umount m n",
        ),
        // Tags and devices find each other's fstab entries.
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\"); printf 'LABEL=%s %s/m ext4 defaults\\n' \"$ELBL\" \"$W\" > fstab",
            "mount -T fstab $L && umount m; mount -T fstab -L $ELBL && umount m; mount -T fstab UUID=$EUUID && umount m; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\"); printf 'UUID=%s %s/m ext4 defaults\\n%s %s/m ext2 defaults\\n' \"$EUUID\" \"$W\" $L \"$W\" > fstab",
            "mount -T fstab -L $ELBL && mount -t ext4 | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
        // Type lists, in order; a pattern with no through the known types.
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\"); printf '%s %s/m foo,bar,ext4 defaults\\n' $L \"$W\" > fstab",
            "mount -t foo,ext4 $L m && umount m; mount -T fstab m && umount m; mount -t nofoo,bar $L m && umount m; mount -i -t noext4,ext2,ext3 $L m; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount --make-private --make-unbindable $L m && findmnt -no FSTYPE,PROPAGATION m; umount m; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\"); /usr/bin/mount $L m; mkdir -p m/sub; touch m/sub/here; umount m",
            "mount -o X-mount.subdir=sub $L m && ls m; umount m; losetup -d $L",
        ),
        // X-mount.noloop (2.42): no loop device, whatever asks for one.
        (
            "mkdir m",
            "mount -o X-mount.noloop \"$IMG/ext.img\" m; mount -o X-mount.noloop,loop,offset=x \"$IMG/ext.img\" m; losetup -j \"$IMG/ext.img\" | wc -l; mount -o x-mount.noloop \"$IMG/ext.img\" m && cat /run/mount/utab; umount m",
        ),
        // X-mount.auto-fstypes (2.40+): what probing may find.
        (
            "mkdir m",
            "for l in vfat ext4 '\"ext2,ext4\"' '\"noext2,ext4\"' '\"no,ext4\"' '\"noext2,xfs\"' '' no; do mount -o \"X-mount.auto-fstypes=$l\" \"$IMG/ext.img\" m && umount m; echo $?; done; mount -o X-mount.auto-fstypes nonexist; mount -v -o X-mount.auto-fstypes=vfat \"$IMG/ext.img\" nonexist; mount -t ext4 -o X-mount.auto-fstypes=vfat \"$IMG/ext.img\" m && umount m; mount --bind -o X-mount.auto-fstypes=vfat m m && umount m; mount -o X-mount.auto-fstypes=ext4,X-mount.auto-fstypes=vfat \"$IMG/ext.img\" m && umount m; mount -o X-mount.auto-fstypes=vfat,X-mount.noloop \"$IMG/ext.img\" m; losetup -j \"$IMG/ext.img\" | wc -l",
        ),
        (
            "mkdir m; printf '%s %s/m auto X-mount.auto-fstypes=vfat\\n' \"$IMG/ext.img\" \"$W\" > fstab",
            "mount -a -T fstab; mount -T fstab m; mount -T fstab -t auto m; mount -t ext4",
        ),
        (
            "mkdir m src; echo hi > src/f; mkfs.cramfs -n cr$TAG src c.img >/dev/null",
            "mount -r c.img m; mount -r -L cr$TAG m",
        ),
    ];
    let failures = harness.compare(cases, NEWEST);
    assert_all_match("loop devices and probing (2.42)", cases, failures);
}

#[test]
fn loop_devices_and_probing_as_2_42_and_2_38() {
    let images = images();
    let Some(harness) = Harness::new(images.dir.path()) else {
        return;
    };
    let harness = harness.with_tags(&images.tags);
    // Device names differ from run to run: cases print LOOP instead, and
    // look their devices up by backing file, never with `losetup -a`.
    let cases: &[Case] = &[
        ("mkdir m", "mount \"$IMG/ext.img\" m; mount -t ext4; umount m; losetup -j \"$IMG/ext.img\""),
        ("mkdir m", "mount -v -o loop \"$IMG/ext.img\" m | sed 's|/dev/loop[0-9]*|LOOP|'; mount -l -t ext4; umount -v m"),
        ("mkdir m", "mount -o loop,ro \"$IMG/ext.img\" m; mount -t ext4 -l"),
        ("mkdir m", "mount -r \"$IMG/ext.img\" m; mount -t ext4; umount -d m"),
        ("mkdir m", "mount -o loop,offset=0,sizelimit=8388608 \"$IMG/ext.img\" m; mount -t ext4"),
        ("mkdir m", "mount -o loop,x-a=1 \"$IMG/ext.img\" m; mount -t ext4; cat /run/mount/utab; umount m; cat /run/mount/utab"),
        // A label that is not UTF-8 is found and shown as its bytes.
        (
            "mkdir m; truncate -s 8M \"$IMG/lat.img\"; mkfs.ext4 -q -F -L \"$(printf '\\351t\\351')$TAG\" \"$IMG/lat.img\"; L=$(losetup -f --show \"$IMG/lat.img\")",
            "mount LABEL=\"$(printf '\\351t\\351')$TAG\" m && mount -l -t ext4 | sed \"s|$L|LOOP|\" | od -An -c; umount m; mount -L \"$(printf '\\351t\\352')$TAG\" m; losetup -d $L",
        ),
        // offset= and sizelimit= as util-linux's strtosize reads them; what
        // it refuses (encryption= included) is a usage error.
        (
            "mkdir m; head -c 1M /dev/zero > off.img; cat \"$IMG/ext.img\" >> off.img",
            "for o in offset=0x100000 offset=1M offset=1MiB offset=1.0M offset=04000000 'offset=1M,sizelimit=8M'; do mount -o loop,$o off.img m && mount -t ext4 && umount m; done",
        ),
        ("mkdir m", "mount -t ext4 \"$IMG/vfat.img\" m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'"),
        ("mkdir m", "mount -o loop \"$IMG/vfat.img\" m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'; losetup -j \"$IMG/vfat.img\""),
        ("mkdir m", "mount \"$IMG/ext.img\" m; umount -v \"$IMG/ext.img\""),
        ("mkdir m; head -c 2M /dev/zero > zero", "mount zero m 2>&1 | sed 's|/dev/loop[0-9]*|LOOP|'"),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount LABEL=$ELBL m; mount -l -t ext4 | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -U $EUUID m; mount -t ext4 | sed \"s|$L|LOOP|\"; umount -d m; losetup -j \"$IMG/ext.img\"",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -v -L $ELBL m | sed \"s|$L|LOOP|\"; umount -v m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "mount -v $L m | sed \"s|$L|LOOP|\"; umount -v $L 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/vfat.img\")",
            "mount UUID=$VUUID m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/vfat.img\")",
            "mount LABEL=$VLBL m 2>&1 | sed \"s|$L|LOOP|\"; losetup -d $L",
        ),
        (
            "mkdir m; L=$(losetup -f --show \"$IMG/ext.img\")",
            "printf 'LABEL=%s %s/m ext4 defaults\\n' \"$ELBL\" \"$W\" > fstab; mount -a -T fstab -v; mount -t ext4 | sed \"s|$L|LOOP|\"; umount m; losetup -d $L",
        ),
    ];
    let failures = harness.compare(cases, BOTH);
    assert_all_match("loop devices and probing", cases, failures);
}

#[test]
fn namespaces_as_2_42_and_2_38() {
    run_group(
        "-N",
        BOTH,
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
