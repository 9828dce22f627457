//! An upstream tree unpacked, configured and built once, under
//! `target/upstream/NAME-VERSION/`. Each stage leaves a stamp holding what
//! it ran, so a second run skips what is done and a changed recipe redoes
//! it; the output goes to a log beside the tree, shown in part on failure.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run::display;

/// How to build one tree: the configure arguments and environment, then
/// the make goals, each a separate `make` (util-linux's test helpers come
/// after the programs).
pub struct Recipe {
    pub configure: &'static [&'static str],
    pub configure_env: &'static [(&'static str, &'static str)],
    pub goals: &'static [&'static str],
}

/// Unpacks `tarball` into `dir/TREE` unless done, then configures and
/// builds it as `recipe` says unless its stamps say so; returns the tree.
pub fn build(tarball: &Path, dir: &Path, tree: &str, recipe: &Recipe) -> Result<PathBuf, String> {
    let root = dir.join(tree);
    let log = dir.join(format!("{tree}.build.log"));
    if !root.join("configure").is_file() {
        unpack(tarball, dir, tree)?;
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The path is part of the recipe: configure writes it into every
    // Makefile, so a tree restored elsewhere (a CI cache) is built anew
    // rather than run with another checkout's paths.
    let configured = format!(
        "cd {}; {} ./configure {}",
        root.display(),
        recipe
            .configure_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        recipe.configure.join(" ")
    );
    let built = format!("{configured}\nmake {}", recipe.goals.join(" && make "));
    if stamp(&root, "built") == Some(built.clone()) {
        return Ok(root);
    }
    eprintln!(
        "building {tree} (make -j{jobs}; the output in {})",
        log.display()
    );
    if stamp(&root, "configured") != Some(configured.clone()) {
        let mut configure = Command::new("./configure");
        configure
            .args(recipe.configure)
            .envs(recipe.configure_env.iter().copied());
        logged(&mut configure, &root, &log)?;
        set_stamp(&root, "configured", &configured)?;
    }
    for goal in recipe.goals {
        let mut make = Command::new("make");
        make.arg(format!("-j{jobs}")).arg(goal);
        logged(&mut make, &root, &log)?;
    }
    set_stamp(&root, "built", &built)?;
    Ok(root)
}

/// Unpacked beside the final place and renamed into it, so an interrupted
/// unpack never looks complete.
fn unpack(tarball: &Path, dir: &Path, tree: &str) -> Result<(), String> {
    let partial = dir.join(format!("{tree}.unpacking"));
    let root = dir.join(tree);
    for stale in [&partial, &root] {
        if stale.exists() {
            std::fs::remove_dir_all(stale)
                .map_err(|e| format!("remove {}: {e}", stale.display()))?;
        }
    }
    std::fs::create_dir_all(&partial).map_err(|e| format!("create {}: {e}", partial.display()))?;
    let mut tar = Command::new("tar");
    // Owned by root, not by the uid in the tarball: that may be a user of
    // this machine, who could then change what the tests run as root.
    tar.arg("--no-same-owner")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(&partial);
    crate::run::checked(&mut tar)?;
    std::fs::rename(partial.join(tree), &root).map_err(|e| {
        format!(
            "{} holds no {tree}/ ({e})",
            tarball.file_name().unwrap_or_default().to_string_lossy()
        )
    })?;
    std::fs::remove_dir_all(&partial).map_err(|e| format!("remove {}: {e}", partial.display()))
}

fn stamp(root: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(root.join(format!(".nstools-{name}"))).ok()
}

fn set_stamp(root: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = root.join(format!(".nstools-{name}"));
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

/// Runs `command` in `dir` with its output appended to `log`; on failure
/// the log's last lines are part of the error.
fn logged(command: &mut Command, dir: &Path, log: &Path) -> Result<(), String> {
    let shown = display(command);
    eprintln!("$ (cd {}; {shown})", dir.display());
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("open {}: {e}", log.display()))?;
    let status = command
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .status()
        .map_err(|e| format!("cannot run `{shown}` in {}: {e}", dir.display()))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    Err(format!(
        "`{shown}` in {} failed ({status}); the end of {}:\n{tail}",
        dir.display(),
        log.display()
    ))
}
