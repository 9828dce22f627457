//! `cargo xtask rootfs`: a Debian root filesystem built with ns-bootstrap,
//! kept under target/rootfs/ and reused while it is intact.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::run::{cargo, checked, workspace_root};

/// What to build; the directory name is derived from it, so different
/// specs never overwrite each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub suite: String,
    pub variant: String,
    pub include: Vec<String>,
    pub out: Option<PathBuf>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            suite: "stable".into(),
            variant: "minbase".into(),
            include: Vec::new(),
            out: None,
        }
    }
}

impl Spec {
    pub fn dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let mut name = format!("{}-{}", self.suite, self.variant);
            if !self.include.is_empty() {
                name.push('+');
                name.push_str(&self.include.join("+"));
            }
            workspace_root().join("target/rootfs").join(name)
        })
    }

    /// Written next to the tree once it is complete.
    fn stamp(&self) -> PathBuf {
        let dir = self.dir();
        dir.with_file_name(format!(
            "{}.complete",
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ))
    }

    fn description(&self) -> String {
        format!(
            "suite={} variant={} include={}",
            self.suite,
            self.variant,
            self.include.join(",")
        )
    }
}

pub fn run(args: &[String]) -> Result<(), String> {
    let mut spec = Spec::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        match name {
            "--suite" => spec.suite = value()?,
            "--variant" => spec.variant = value()?,
            "--include" => spec.include = value()?.split(',').map(str::to_string).collect(),
            "--out" => spec.out = Some(PathBuf::from(value()?)),
            other => return Err(format!("rootfs: unknown argument '{other}'")),
        }
    }
    let dir = ensure(&spec)?;
    println!("{}", dir.display());
    Ok(())
}

/// The rootfs for `spec`, built unless an intact one is there already.
pub fn ensure(spec: &Spec) -> Result<PathBuf, String> {
    let dir = spec.dir();
    if is_intact(spec, &dir) {
        eprintln!("rootfs: reusing {} ({})", dir.display(), spec.description());
        return Ok(dir);
    }
    // The debug build: xtask links ns-bootstrap's library, so everything
    // but its main is compiled already. A release build costs about two
    // minutes more on a fresh checkout (two cores); the debug one
    // bootstraps about five seconds slower.
    checked(cargo().args(["build", "--package", "ns-bootstrap"]))?;
    let bootstrap = workspace_root().join("target/debug/ns-bootstrap");

    // Build beside the final place and rename, so an interrupted build is
    // never mistaken for a finished one.
    let building = dir.with_extension("building");
    remove_tree(&building)?;
    remove_tree(&dir)?;
    let _ = std::fs::remove_file(spec.stamp());
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let cache = workspace_root().join("target/cache/debs");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let mut command = Command::new(&bootstrap);
    command.arg(format!("--variant={}", spec.variant));
    if !spec.include.is_empty() {
        command.arg(format!("--include={}", spec.include.join(",")));
    }
    command.arg(format!("--cache-dir={}", cache.display()));
    command.arg(&spec.suite).arg(&building);
    let result = checked(&mut command);
    if let Err(message) = result {
        remove_tree(&building)?;
        return Err(message);
    }
    std::fs::rename(&building, &dir)
        .map_err(|e| format!("rename {} to {}: {e}", building.display(), dir.display()))?;
    std::fs::write(spec.stamp(), spec.description())
        .map_err(|e| format!("{}: {e}", spec.stamp().display()))?;
    Ok(dir)
}

/// Complete (stamped for the same spec) and still holding what a Debian
/// system cannot be without.
fn is_intact(spec: &Spec, dir: &Path) -> bool {
    let stamped = std::fs::read_to_string(spec.stamp()).is_ok_and(|s| s == spec.description());
    stamped
        && [
            "usr/bin/bash",
            "usr/bin/dpkg",
            "var/lib/dpkg/status",
            "etc/os-release",
        ]
        .iter()
        .all(|file| dir.join(file).exists())
}

/// Removes a tree that may be left from an earlier run, refusing to cross
/// into anything still mounted below it.
fn remove_tree(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        return Ok(());
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = format!("{} ", dir.display());
    let inside = format!("{}/", dir.display());
    if mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .any(|target| format!("{target} ").starts_with(&prefix) || target.starts_with(&inside))
    {
        return Err(format!(
            "{}: something is still mounted inside; not removing it",
            dir.display()
        ));
    }
    std::fs::remove_dir_all(dir).map_err(|e| format!("remove {}: {e}", dir.display()))
}
