//! dpkg's database for packages that ns-bootstrap unpacked itself: what
//! `dpkg --unpack` would have recorded, so that a single
//! `dpkg --configure --pending` finishes the job.
//!
//! Unpack-once trade-off: debootstrap and mmdebstrap extract the essential
//! packages to get a working dpkg, then have dpkg unpack everything again
//! (two decompressions and two writes of every file, one fsync per file
//! unless forced otherwise). Here every file is written once, in
//! parallel-decoded order, and this module writes the records dpkg keeps
//! for an unpacked package: the status stanza (`install ok unpacked`, with
//! conffiles marked `newconffile`, the on-disk copies being `.dpkg-new` as
//! dpkg leaves them), the `info/` control files and file lists, and the
//! trigger interests (`triggers/File`, `triggers/NAME`) that dpkg records
//! at unpack time. What is lost: preinst scripts run after the files are in
//! place instead of before (none in the required set depends on the
//! difference: they create /etc/passwd, check kernels, or call
//! dpkg-maintscript-helper which does nothing on a fresh install), and
//! file triggers activated during unpack are not recorded — dpkg discards
//! those too while the interested package is itself only unpacked, which
//! is the case for every package here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::packages::parse_stanzas;
use crate::rooted::Root;

/// Why the database could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("package {package}: control: {source}")]
    Control {
        package: String,
        source: crate::packages::ParseError,
    },
    #[error("package {0}: empty control file")]
    EmptyControl(String),
    #[error("package {package}: triggers: '{trigger}' is not a trigger name")]
    Trigger { package: String, trigger: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

/// One unpacked package, as the database needs it.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub name: String,
    pub architecture: String,
    pub multi_arch_same: bool,
    /// The control file's text.
    pub control: String,
    /// Other control files (`postinst`, `md5sums`, …) with their modes.
    pub control_files: BTreeMap<String, (u32, Vec<u8>)>,
    pub conffiles: Vec<String>,
    /// The archive's Priority and Section, which replace the control
    /// file's in the status (debootstrap's status shows the overrides).
    pub overrides: Vec<(String, String)>,
    /// As extracted (see [`crate::extract::Extracted::paths`]).
    pub paths: Vec<String>,
}

impl Unpacked {
    /// The name dpkg uses for info files and triggers: `pkg:arch` for
    /// `Multi-Arch: same` packages, else `pkg`.
    pub fn info_name(&self) -> String {
        if self.multi_arch_same {
            format!("{}:{}", self.name, self.architecture)
        } else {
            self.name.clone()
        }
    }
}

/// The status stanza for an unpacked package.
pub fn status_stanza(package: &Unpacked) -> Result<String, Error> {
    let stanzas = parse_stanzas(&package.control).map_err(|source| Error::Control {
        package: package.name.clone(),
        source,
    })?;
    let stanza = stanzas
        .first()
        .ok_or_else(|| Error::EmptyControl(package.name.clone()))?;
    let mut out = String::new();
    for (name, value) in &stanza.fields {
        let value = package
            .overrides
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map_or(*value, |(_, v)| v.as_str());
        let _ = writeln!(out, "{name}: {value}");
        if name.eq_ignore_ascii_case("Package") {
            out.push_str("Status: install ok unpacked\n");
        }
    }
    if !package.conffiles.is_empty() {
        out.push_str("Conffiles:\n");
        for conffile in &package.conffiles {
            // dpkg's marker for a conffile not yet configured.
            let _ = writeln!(out, " {conffile} newconffile");
        }
    }
    out.push('\n');
    Ok(out)
}

/// A trigger name as dpkg accepts one: printable ASCII, no blanks. A
/// named trigger becomes the file `triggers/NAME`, so it must also be a
/// plain name (no `/`, not `.` or `..`); a file trigger is an absolute
/// path and stays text in `triggers/File`.
pub fn valid_trigger_name(name: &str) -> bool {
    let printable = !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic());
    if name.starts_with('/') {
        printable
    } else {
        printable && !name.contains('/') && name != "." && name != ".."
    }
}

/// Trigger interests: `triggers/File`'s lines (`PATH PACKAGE`), and the
/// interested packages of each named trigger.
pub type Interests = (Vec<String>, BTreeMap<String, Vec<String>>);

/// Interests from the `triggers` control files: (file triggers, explicit
/// triggers by name), each with the interested packages. A name dpkg
/// would refuse is an error naming the package.
pub fn trigger_interests(packages: &[Unpacked]) -> Result<Interests, Error> {
    let mut files = Vec::new();
    let mut named: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in packages {
        let Some((_, text)) = package.control_files.get("triggers") else {
            continue;
        };
        for line in String::from_utf8_lossy(text).lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let mut words = line.split_whitespace();
            let (Some(directive), Some(trigger)) = (words.next(), words.next()) else {
                continue;
            };
            let noawait = match directive {
                "interest" | "interest-await" => "",
                "interest-noawait" => "/noawait",
                _ => continue,
            };
            if !valid_trigger_name(trigger) {
                return Err(Error::Trigger {
                    package: package.name.clone(),
                    trigger: trigger.to_string(),
                });
            }
            let holder = format!("{}{noawait}", package.info_name());
            if trigger.starts_with('/') {
                files.push(format!("{trigger} {holder}"));
            } else {
                named.entry(trigger.to_string()).or_default().push(holder);
            }
        }
    }
    Ok((files, named))
}

/// dpkg's administrative directory, relative to the root.
const ADMIN: &str = "var/lib/dpkg";

/// Writes the database under `root/var/lib/dpkg`, every file in-root.
pub fn write_database(root: &Root, packages: &[Unpacked]) -> Result<(), Error> {
    let io = |what, rel: &str| {
        let path = root.show(rel);
        move |source| Error::Io { what, path, source }
    };
    let write =
        |rel: &str, data: &[u8], mode: u32| root.write(rel, data, mode).map_err(io("write", rel));
    for dir in ["", "/info", "/updates", "/triggers"] {
        let rel = format!("{ADMIN}{dir}");
        root.create_dir_all(&rel).map_err(io("create", &rel))?;
    }
    // Checked before anything is written: a name from the archive never
    // becomes a path.
    let (files, named) = trigger_interests(packages)?;
    let mut status = String::new();
    for package in packages {
        status.push_str(&status_stanza(package)?);
        let base = package.info_name();
        let mut list = String::new();
        for path in &package.paths {
            list.push_str(path);
            list.push('\n');
        }
        write(&format!("{ADMIN}/info/{base}.list"), list.as_bytes(), 0o644)?;
        for (name, (mode, content)) in &package.control_files {
            if name == "control" {
                continue;
            }
            // A control file is a script or data, never a set-id program.
            write(
                &format!("{ADMIN}/info/{base}.{name}"),
                content,
                mode & 0o777,
            )?;
        }
    }
    write(&format!("{ADMIN}/status"), status.as_bytes(), 0o644)?;
    for empty in ["available", "diversions"] {
        let rel = format!("{ADMIN}/{empty}");
        if root.lstat(&rel).is_err() {
            write(&rel, b"", 0o644)?;
        }
    }
    // debootstrap records apt as the package selection method.
    write(&format!("{ADMIN}/cmethopt"), b"apt apt\n", 0o644)?;

    let mut file_list = String::new();
    for line in files {
        file_list.push_str(&line);
        file_list.push('\n');
    }
    if !file_list.is_empty() {
        write(
            &format!("{ADMIN}/triggers/File"),
            file_list.as_bytes(),
            0o644,
        )?;
    }
    for (trigger, holders) in named {
        let mut text = String::new();
        for holder in holders {
            text.push_str(&holder);
            text.push('\n');
        }
        write(
            &format!("{ADMIN}/triggers/{trigger}"),
            text.as_bytes(),
            0o644,
        )?;
    }
    write(&format!("{ADMIN}/triggers/Unincorp"), b"", 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, same: bool, triggers: &str) -> Unpacked {
        let mut control_files = BTreeMap::new();
        if !triggers.is_empty() {
            control_files.insert(
                "triggers".to_string(),
                (0o644, triggers.as_bytes().to_vec()),
            );
        }
        Unpacked {
            name: name.to_string(),
            architecture: "amd64".to_string(),
            multi_arch_same: same,
            control: format!(
                "Package: {name}\nVersion: 1\nPriority: important\nArchitecture: amd64\n\
                 Description: d\n more\n"
            ),
            control_files,
            conffiles: vec!["/etc/x".to_string()],
            overrides: vec![("Priority".to_string(), "required".to_string())],
            paths: vec!["/.".to_string()],
        }
    }

    #[test]
    fn status_stanza_marks_unpacked_and_new_conffiles() {
        let got = status_stanza(&package("a", false, "")).unwrap();
        assert_eq!(
            got,
            "Package: a\nStatus: install ok unpacked\nVersion: 1\nPriority: required\n\
             Architecture: amd64\n\
             Description: d\n more\nConffiles:\n /etc/x newconffile\n\n"
        );
        let mut broken = package("b", false, "");
        broken.control = "no colon\n".to_string();
        assert!(status_stanza(&broken).is_err());
    }

    #[test]
    fn interests() {
        let packages = [
            package("libc-bin", false, "interest-noawait ldconfig\n"),
            package(
                "debianutils",
                false,
                "# c\ninterest-noawait /usr/share/debianutils/shells.d\n",
            ),
            package("libx", true, "activate-noawait ldconfig\ninterest foo\n"),
        ];
        let (files, named) = trigger_interests(&packages).unwrap();
        assert_eq!(
            files,
            ["/usr/share/debianutils/shells.d debianutils/noawait"]
        );
        assert_eq!(named["ldconfig"], ["libc-bin/noawait"]);
        assert_eq!(named["foo"], ["libx:amd64"]);
        assert_eq!(packages[2].info_name(), "libx:amd64");
        for bad in ["../../x", "a/b", "..", "x\u{1}y"] {
            let evil = [package("evil", false, &format!("interest {bad}\n"))];
            let error = trigger_interests(&evil).unwrap_err().to_string();
            assert!(error.contains("not a trigger name"), "{bad}: {error}");
        }
        assert!(valid_trigger_name("/usr/lib/mime/packages"));
        assert!(!valid_trigger_name("/usr/a\u{7f}"));
    }
}
