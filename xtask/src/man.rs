//! `cargo xtask man`: each tool's man page and bash completion, generated
//! from the same option table as its `--help`, into the tool's `doc/`
//! directory. They are committed, and a test fails when they are stale.

use std::path::PathBuf;

use ns_getopt::Tool;

use crate::run::workspace_root;

/// Every tool's table and the crate directory it belongs to.
pub fn tools() -> Vec<(Tool, &'static str)> {
    vec![
        (ns_unshare::cli::TOOL, "ns-unshare"),
        (ns_unshare::nsenter::cli::TOOL, "ns-unshare"),
        (ns_chroot::cli::TOOL, "ns-chroot"),
        (ns_chroot::switch_root::cli::TOOL, "ns-chroot"),
        (ns_chroot::pivot_root::cli::TOOL, "ns-chroot"),
        (ns_mount::mount::cli::TOOL, "ns-mount"),
        (ns_mount::umount::cli::TOOL, "ns-mount"),
        (ns_lsns::cli::TOOL, "ns-lsns"),
        (ns_bootstrap::cli::TOOL, "ns-bootstrap"),
    ]
}

/// (path, contents) of every generated file.
pub fn generated() -> Vec<(PathBuf, String)> {
    let root = workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    let mut files = Vec::new();
    for (tool, dir) in tools() {
        let doc = root.join(dir).join("doc");
        files.push((
            doc.join(format!("{}.{}", tool.name, tool.section)),
            tool.man(version),
        ));
        files.push((
            doc.join(format!("{}.bash", tool.name)),
            tool.bash_completion(&[]),
        ));
    }
    files
}

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("man takes no arguments (got '{extra}')"));
    }
    for (path, contents) in generated() {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_docs_are_current() {
        let stale: Vec<String> = generated()
            .into_iter()
            .filter(|(path, contents)| {
                std::fs::read_to_string(path).ok().as_ref() != Some(contents)
            })
            .map(|(path, _)| path.display().to_string())
            .collect();
        assert!(
            stale.is_empty(),
            "stale or missing (run `cargo xtask man`): {stale:?}"
        );
    }

    #[test]
    fn man_pages_render_with_man() {
        if !std::path::Path::new("/usr/bin/man").exists() {
            return;
        }
        for (path, _) in generated()
            .into_iter()
            .filter(|(p, _)| !p.to_string_lossy().ends_with(".bash"))
        {
            let output = std::process::Command::new("man")
                .arg("-l")
                .arg(&path)
                .env("MANWIDTH", "80")
                .output()
                .expect("run man");
            // man emboldens by overstriking (X, backspace, X): keep the last.
            let mut text = String::new();
            for c in String::from_utf8_lossy(&output.stdout).chars() {
                if c == '\u{8}' {
                    text.pop();
                } else {
                    text.push(c);
                }
            }
            assert!(output.status.success(), "{}: {text}", path.display());
            assert!(
                text.contains("SYNOPSIS") && text.contains("OPTIONS"),
                "{}: {text}",
                path.display()
            );
        }
    }
}
