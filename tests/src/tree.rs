//! A file tree as comparable entries (type and mode, owner, device, link
//! target, content; not times), for tests that hold two systems side by
//! side: ours and debootstrap's, a directory and an unpacked image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What is compared of one file.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub owner: (u32, u32),
    pub rdev: u64,
    pub link: Option<PathBuf>,
    pub content: Option<Vec<u8>>,
}

/// Every path under `root` (relative) that `skip` does not leave out.
pub fn walk(root: &Path, skip: &dyn Fn(&Path) -> bool) -> BTreeMap<PathBuf, Entry> {
    let mut out = BTreeMap::new();
    walk_into(root, root, skip, &mut out);
    out
}

fn walk_into(
    root: &Path,
    dir: &Path,
    skip: &dyn Fn(&Path) -> bool,
    out: &mut BTreeMap<PathBuf, Entry>,
) {
    use std::os::unix::fs::MetadataExt;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if skip(&relative) {
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
            walk_into(root, &path, skip, out);
        }
    }
}

/// How two walks differ, one line per path; `names` say whose each is.
pub fn differences(
    a: &BTreeMap<PathBuf, Entry>,
    b: &BTreeMap<PathBuf, Entry>,
    names: (&str, &str),
) -> Vec<String> {
    let mut problems = Vec::new();
    for (path, entry) in a {
        match b.get(path) {
            None => problems.push(format!("only {}: {}", names.0, path.display())),
            Some(other) if other != entry => {
                let what = if entry.content != other.content {
                    "content"
                } else {
                    "type, mode, owner or link"
                };
                problems.push(format!(
                    "{} differs ({what}): {} {:o} {:?} {:?}, {} {:o} {:?} {:?}",
                    path.display(),
                    names.0,
                    entry.mode,
                    entry.owner,
                    entry.link,
                    names.1,
                    other.mode,
                    other.owner,
                    other.link
                ));
            }
            Some(_) => {}
        }
    }
    for path in b.keys().filter(|p| !a.contains_key(*p)) {
        problems.push(format!("only {}: {}", names.1, path.display()));
    }
    problems
}
