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
use std::path::Path;

use crate::packages::parse_stanzas;

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
pub fn status_stanza(package: &Unpacked) -> Result<String, String> {
    let stanzas = parse_stanzas(&package.control)
        .map_err(|e| format!("package {}: control: {e}", package.name))?;
    let stanza = stanzas
        .first()
        .ok_or_else(|| format!("package {}: empty control file", package.name))?;
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

/// Trigger interests from the `triggers` control files: (file triggers,
/// explicit triggers by name), each with the interested packages.
pub fn trigger_interests(packages: &[Unpacked]) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
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
            let holder = format!("{}{noawait}", package.info_name());
            if trigger.starts_with('/') {
                files.push(format!("{trigger} {holder}"));
            } else {
                named.entry(trigger.to_string()).or_default().push(holder);
            }
        }
    }
    (files, named)
}

fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    std::fs::write(path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the database under `root/var/lib/dpkg`.
pub fn write_database(root: &Path, packages: &[Unpacked]) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let admin = root.join("var/lib/dpkg");
    let info = admin.join("info");
    for dir in [
        &admin,
        &info,
        &admin.join("updates"),
        &admin.join("triggers"),
    ] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut status = String::new();
    for package in packages {
        status.push_str(&status_stanza(package)?);
        let base = package.info_name();
        let mut list = String::new();
        for path in &package.paths {
            list.push_str(path);
            list.push('\n');
        }
        write(&info.join(format!("{base}.list")), list.as_bytes())?;
        for (name, (mode, content)) in &package.control_files {
            if name == "control" {
                continue;
            }
            let path = info.join(format!("{base}.{name}"));
            write(&path, content)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| format!("cannot change mode of {}: {e}", path.display()))?;
        }
    }
    write(&admin.join("status"), status.as_bytes())?;
    for empty in ["available", "diversions"] {
        let path = admin.join(empty);
        if !path.exists() {
            write(&path, b"")?;
        }
    }
    // debootstrap records apt as the package selection method.
    write(&admin.join("cmethopt"), b"apt apt\n")?;

    let (files, named) = trigger_interests(packages);
    let triggers = admin.join("triggers");
    let mut file_list = String::new();
    for line in files {
        file_list.push_str(&line);
        file_list.push('\n');
    }
    if !file_list.is_empty() {
        write(&triggers.join("File"), file_list.as_bytes())?;
    }
    for (trigger, holders) in named {
        let mut text = String::new();
        for holder in holders {
            text.push_str(&holder);
            text.push('\n');
        }
        write(&triggers.join(trigger), text.as_bytes())?;
    }
    write(&triggers.join("Unincorp"), b"")?;
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
        let (files, named) = trigger_interests(&packages);
        assert_eq!(
            files,
            ["/usr/share/debianutils/shells.d debianutils/noawait"]
        );
        assert_eq!(named["ldconfig"], ["libc-bin/noawait"]);
        assert_eq!(named["foo"], ["libx:amd64"]);
        assert_eq!(packages[2].info_name(), "libx:amd64");
    }
}
