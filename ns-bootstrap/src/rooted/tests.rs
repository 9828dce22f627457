//! In-root resolution against planted symlinks, with `openat2(2)` and
//! with the walk, and the private scratch names.

use super::*;

struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> (Scratch, Root, PathBuf) {
    let dir = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-rooted-").unwrap();
    std::fs::create_dir_all(dir.join("root")).unwrap();
    std::fs::create_dir_all(dir.join("outside")).unwrap();
    let root = Root::open(&dir.join("root")).unwrap();
    let outside = dir.join("outside");
    (Scratch(dir), root, outside)
}

fn outside_untouched(outside: &Path) {
    let names: Vec<_> = std::fs::read_dir(outside)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        names.iter().all(|n| n == "victim"),
        "written outside: {names:?}"
    );
    if let Ok(text) = std::fs::read(outside.join("victim")) {
        assert_eq!(text, b"host\n", "the host file changed");
    }
}

/// Runs the same checks with openat2 and with the walk.
fn both(check: impl Fn(&Root, &Path)) {
    for fallback in [false, true] {
        let (_s, mut root, outside) = scratch();
        root.walk_only = fallback;
        std::fs::write(outside.join("victim"), "host\n").unwrap();
        check(&root, &outside);
        outside_untouched(&outside);
    }
}

#[test]
fn writes_through_planted_symlinks_stay_inside() {
    both(|root, outside| {
        let r = root.path();
        let out = outside.display().to_string();
        // An absolute symlink to the host directory, as a parent.
        std::os::unix::fs::symlink(&out, r.join("etc")).unwrap();
        root.write("etc/fstab", b"x\n", 0o644).unwrap();
        let inside = r.join(out.trim_start_matches('/')).join("fstab");
        assert_eq!(std::fs::read(inside).unwrap(), b"x\n");
        // A relative one climbing out.
        std::os::unix::fs::symlink("../../../../../../..", r.join("up")).unwrap();
        root.write(format!("up{out}/victim"), b"evil", 0o755)
            .unwrap();
        // The last name a symlink to the host file: replaced.
        std::os::unix::fs::symlink(format!("{out}/victim"), r.join("log")).unwrap();
        root.write("log", b"mine", 0o644).unwrap();
        assert!(!std::fs::symlink_metadata(r.join("log"))
            .unwrap()
            .file_type()
            .is_symlink());
        // Appending through a symlinked last name is refused.
        std::os::unix::fs::symlink(format!("{out}/victim"), r.join("app")).unwrap();
        assert_eq!(
            root.append("app").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        // A FIFO in a log's place neither hangs nor is written.
        nix::unistd::mkfifo(&r.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
        assert!(root.append("fifo").is_err());
        // chmod and rename do not follow either.
        std::os::unix::fs::symlink(format!("{out}/victim"), r.join("m")).unwrap();
        assert!(root.set_mode("m", 0o4755).is_err());
        root.rename("m", "etc/moved").unwrap();
        assert!(r
            .join(out.trim_start_matches('/'))
            .join("moved")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
        // Removal through a symlinked parent removes inside only.
        root.remove_file(format!("up{out}/victim")).unwrap();
    });
}

#[test]
fn remove_all_never_crosses_a_symlink() {
    both(|root, outside| {
        let r = root.path();
        std::fs::create_dir_all(r.join("d/e")).unwrap();
        std::fs::write(r.join("d/e/f"), "").unwrap();
        std::os::unix::fs::symlink(outside, r.join("d/host")).unwrap();
        root.remove_all("d").unwrap();
        assert!(!r.join("d").exists());
        // Through a symlinked parent: only what it names in-root,
        // which is nothing here.
        std::os::unix::fs::symlink(outside, r.join("o")).unwrap();
        assert_eq!(
            root.remove_all("o/victim").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    });
}

#[test]
fn resolution_rules() {
    both(|root, _| {
        let r = root.path();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        assert_eq!(
            root.dir("loop/x").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        std::fs::write(r.join("file"), "").unwrap();
        assert_eq!(
            root.dir("file/x").unwrap_err().raw_os_error(),
            Some(libc::ENOTDIR)
        );
        std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
        root.create_dir_all("bin/sub").unwrap();
        assert!(r.join("usr/bin/sub").is_dir());
        root.write("bin/sub/tool", b"t", 0o755).unwrap();
        assert_eq!(root.read("usr/bin/sub/tool").unwrap(), b"t");
        assert!(Name::new(b"..").is_err());
        assert!(root.write("", b"", 0o644).is_err());
        assert!(root.write("a/..", b"", 0o644).is_err());
    });
}

#[test]
fn private_names_are_fresh() {
    let a = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-t-").unwrap();
    let b = make_private_dir(&std::env::temp_dir(), "ns-bootstrap-t-").unwrap();
    assert_ne!(a, b);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&a).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let (path, _file) = make_private_file(&a, "log-", ".log").unwrap();
    assert!(path.to_string_lossy().ends_with(".log"));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::remove_dir_all(a).unwrap();
    std::fs::remove_dir(b).unwrap();
}
