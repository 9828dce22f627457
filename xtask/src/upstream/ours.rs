//! Our binaries, as this checkout builds them. Which tools stand in for
//! util-linux's is decided by what cargo reports it built now, not by what
//! lies in target/debug: a binary left there by another branch's build
//! (ns-nsenter, ns-switch-root, …) is not this checkout's and must not be
//! tested as if it were.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::run::{cargo, display};

/// The packages whose binaries stand in for the reference's (every binary
/// of each is built: ns-unshare's crate holds ns-nsenter on the branches
/// that have it, ns-chroot's ns-switch-root and ns-pivot-root).
const PACKAGES: &[&str] = &["ns-mount", "ns-lsns", "ns-unshare", "ns-chroot"];

pub struct Ours {
    binaries: Vec<PathBuf>,
}

impl Ours {
    /// Builds the packages' binaries (debug, as the integration tests use
    /// them) and keeps the list of executables cargo reports.
    pub fn build() -> Result<Self, String> {
        let mut command = cargo();
        command.args([
            "build",
            "--bins",
            "--message-format=json-render-diagnostics",
        ]);
        for package in PACKAGES {
            command.args(["-p", package]);
        }
        let shown = display(&command);
        eprintln!("$ {shown}");
        let output = command
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
        if !output.status.success() {
            return Err(format!("`{shown}` failed ({})", output.status));
        }
        let binaries = executables(&String::from_utf8_lossy(&output.stdout));
        if binaries.is_empty() {
            return Err(format!("`{shown}` reported no executable"));
        }
        Ok(Ours { binaries })
    }

    /// The binary called `name`, when this checkout has it.
    pub fn binary(&self, name: &str) -> Option<&Path> {
        self.binaries
            .iter()
            .find(|path| path.file_name().is_some_and(|n| n == name))
            .map(PathBuf::as_path)
    }
}

/// The `"executable"` paths of cargo's JSON messages (one object a line;
/// `null` for a library, absent from other messages).
pub fn executables(messages: &str) -> Vec<PathBuf> {
    const KEY: &str = "\"executable\":";
    let mut found = Vec::new();
    for line in messages.lines() {
        let Some(at) = line.find(KEY) else {
            continue;
        };
        if let Some(path) = json_string(line[at + KEY.len()..].trim_start()) {
            if !found.contains(&PathBuf::from(&path)) {
                found.push(PathBuf::from(path));
            }
        }
    }
    found
}

/// The JSON string at the start of `text`, unescaped; `None` when there is
/// none (e.g. `null`) or it is malformed.
fn json_string(text: &str) -> Option<String> {
    let mut chars = text.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let code = u32::from_str_radix(&hex, 16).ok()?;
                    // A path with a character outside the BMP (a surrogate
                    // pair) is not one of ours: refuse it rather than guess.
                    out.push(char::from_u32(code)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_from_cargo_messages() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"ns_sys"},"executable":null,"fresh":true}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"ns-mount"},"filenames":["/w/target/debug/ns-mount"],"executable":"/w/target/debug/ns-mount","fresh":true}"#,
            "\n",
            r#"{"reason":"compiler-artifact","executable": "/w/a \"b\"\\c\u00e9/ns-umount"}"#,
            "\n",
            r#"{"reason":"compiler-artifact","executable":"/w/target/debug/ns-mount"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\n",
            r#"{"reason":"compiler-artifact","executable":"/w/unterminated"#,
            "\n",
            r#"{"executable":"/w/bad\q"}"#,
            "\n",
        );
        assert_eq!(
            executables(messages),
            [
                PathBuf::from("/w/target/debug/ns-mount"),
                PathBuf::from("/w/a \"b\"\\cé/ns-umount"),
            ]
        );
        assert!(executables("").is_empty());
        assert!(executables("not json at all\n").is_empty());
    }

    #[test]
    fn a_binary_by_its_file_name() {
        let ours = Ours {
            binaries: executables(
                "{\"executable\":\"/t/debug/ns-nsenter\"}\n{\"executable\":\"/t/debug/ns-mount\"}\n",
            ),
        };
        assert_eq!(
            ours.binary("ns-mount"),
            Some(Path::new("/t/debug/ns-mount"))
        );
        assert_eq!(ours.binary("ns-pivot-root"), None);
        assert_eq!(ours.binary("mount"), None);
    }
}
