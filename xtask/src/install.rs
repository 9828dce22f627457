//! `cargo xtask install [--prefix DIR] [--util-linux-names]`: the static
//! binaries, man pages and bash completions under PREFIX (default
//! /usr/local); with --util-linux-names also as `unshare`, `chroot`, …

use std::path::{Path, PathBuf};

use crate::man;
use crate::run::{cargo, checked, workspace_root};

pub fn run(args: &[String]) -> Result<(), String> {
    let mut prefix = PathBuf::from("/usr/local");
    let mut util_linux_names = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--prefix" => prefix = args.next().ok_or("--prefix needs a directory")?.into(),
            arg if arg.starts_with("--prefix=") => prefix = arg["--prefix=".len()..].into(),
            "--util-linux-names" => util_linux_names = true,
            other => return Err(format!("install: unknown argument '{other}'")),
        }
    }
    let dist = crate::dist::run(&[])?;
    // ns-bootstrap is no initramfs tool: its everyday release build.
    checked(cargo().args(["build", "--release", "--package", "ns-bootstrap"]))?;
    let release = workspace_root().join("target/release");
    for path in install_into(
        &[dist.as_path(), release.as_path()],
        &prefix,
        util_linux_names,
    )? {
        println!("{}", path.display());
    }
    Ok(())
}

/// Installs every tool that has an option table (and so a man page), its
/// binary taken from the first of `built` that has it; returns what it
/// wrote.
pub fn install_into(
    built: &[&Path],
    prefix: &Path,
    util_linux_names: bool,
) -> Result<Vec<PathBuf>, String> {
    let bin = prefix.join("bin");
    let completions = prefix.join("share/bash-completion/completions");
    let mut written = Vec::new();
    for (tool, _) in man::tools() {
        let man_dir = prefix.join(format!("share/man/man{}", tool.section));
        for dir in [&bin, &completions, &man_dir] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let binary = bin.join(tool.name);
        let source = built
            .iter()
            .map(|dir| dir.join(tool.name))
            .find(|path| path.is_file())
            .ok_or_else(|| format!("{} is not built", tool.name))?;
        copy(&source, &binary, 0o755)?;
        written.push(binary);

        let page = man_dir.join(format!("{}.{}", tool.name, tool.section));
        write(&page, &tool.man(env!("CARGO_PKG_VERSION")))?;
        written.push(page);

        let extra: &[&str] = if util_linux_names {
            &[tool.reference]
        } else {
            &[]
        };
        let completion = completions.join(tool.name);
        write(&completion, &tool.bash_completion(extra))?;
        written.push(completion);

        if util_linux_names {
            // bash-completion loads completions/NAME for NAME on demand.
            let alias = completions.join(tool.reference);
            write(&alias, &tool.bash_completion(extra))?;
            written.push(alias);
            let link = bin.join(tool.reference);
            replace_with_symlink(Path::new(tool.name), &link)?;
            written.push(link);
            // A man page under the reference's name that includes ours.
            let alias = man_dir.join(format!("{}.{}", tool.reference, tool.section));
            write(
                &alias,
                &format!(".so man{}/{}.{}\n", tool.section, tool.name, tool.section),
            )?;
            written.push(alias);
        }
    }
    Ok(written)
}

fn copy(from: &Path, to: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    // Write beside and rename: a running binary is replaced, not rewritten.
    let temporary = to.with_extension("installing");
    std::fs::copy(from, &temporary)
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), temporary.display()))?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, to).map_err(|e| format!("{}: {e}", to.display()))
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

fn replace_with_symlink(target: &Path, link: &Path) -> Result<(), String> {
    match std::fs::remove_file(link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("{}: {e}", link.display())),
    }
    std::os::unix::fs::symlink(target, link).map_err(|e| format!("{}: {e}", link.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installs_binaries_pages_completions_and_reference_names() {
        let scratch =
            std::env::temp_dir().join(format!("nstools-install-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&scratch);
        let dist = scratch.join("dist");
        std::fs::create_dir_all(&dist).unwrap();
        for (tool, _) in man::tools() {
            std::fs::write(dist.join(tool.name), b"#!/bin/sh\n").unwrap();
        }
        let prefix = scratch.join("prefix");
        let written = install_into(&[dist.as_path()], &prefix, true).unwrap();
        assert_eq!(written.len(), man::tools().len() * 6);
        for (tool, _) in man::tools() {
            let binary = prefix.join("bin").join(tool.name);
            assert!(binary.is_file());
            let link = prefix.join("bin").join(tool.reference);
            assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from(tool.name));
            let page = prefix.join(format!(
                "share/man/man{}/{}.{}",
                tool.section, tool.reference, tool.section
            ));
            assert!(std::fs::read_to_string(page)
                .unwrap()
                .starts_with(".so man"));
            let completion = std::fs::read_to_string(
                prefix
                    .join("share/bash-completion/completions")
                    .join(tool.reference),
            )
            .unwrap();
            assert!(completion.ends_with(&format!(" {} {}\n", tool.name, tool.reference)));
        }
        // Installing again replaces what is there.
        install_into(&[dist.as_path()], &prefix, true).unwrap();
        std::fs::remove_dir_all(&scratch).unwrap();
    }
}
