//! The upstream release tarballs, from Debian's archive: a private apt
//! configuration (nothing of the host's apt state is touched) with one
//! `deb-src $MIRROR forky main` line, the mirror taken from the host's apt
//! sources; `apt-get update` fetches forky's signed Sources index, and
//! `apt-get source --download-only PACKAGE=VERSION` the orig tarball. The
//! archive here lacks some `.dsc` files (apt then fails after fetching the
//! tarball, so its status says nothing); where apt did not deliver the
//! tarball it is fetched straight from the pool path the index gives. Either
//! way the file is checked against the index's SHA256 before it is kept:
//! a tarball in the cache is a verified one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::run::{checked, display};

/// The Debian suite whose sources carry the reference releases.
const SUITE: &str = "forky";

/// An upstream release as Debian packages it.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    /// The source package (`util-linux`, `coreutils`).
    pub package: &'static str,
    /// The upstream version, without Debian's revision.
    pub version: &'static str,
}

impl Release {
    /// `util-linux_2.42.4.orig.tar.xz`
    pub fn tarball(&self) -> String {
        format!("{}_{}.orig.tar.xz", self.package, self.version)
    }

    /// The directory the tarball unpacks to, `util-linux-2.42.4`.
    pub fn tree(&self) -> String {
        format!("{}-{}", self.package, self.version)
    }
}

/// The orig tarball of a release as the Sources index describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orig {
    /// The Debian version whose source carries it (`2.42.4-1`).
    pub debian_version: String,
    /// Its path under the mirror (`pool/main/u/util-linux/…`).
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// Finds the orig tarball of `release` in a Sources index (several
/// versions of a package may be listed: the first whose upstream part is
/// the release's wins). The index is signed, but it is still text from the
/// network: the path is checked to stay under the mirror.
pub fn find_orig(index: &str, release: &Release) -> Result<Orig, String> {
    let wanted = release.tarball();
    let mut seen = Vec::new();
    for stanza in index.split("\n\n") {
        let fields = fields(stanza);
        let field = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        if field("Package") != Some(release.package) {
            continue;
        }
        let Some(version) = field("Version") else {
            continue;
        };
        if upstream_version(version) != release.version {
            seen.push(version.to_string());
            continue;
        }
        let directory = field("Directory")
            .ok_or(format!("{} {version}: no Directory field", release.package))?;
        let checksums = field("Checksums-Sha256").ok_or(format!(
            "{} {version}: no Checksums-Sha256 field",
            release.package
        ))?;
        let (sha256, size) = checksums
            .lines()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                match (words.next(), words.next(), words.next(), words.next()) {
                    (Some(hash), Some(size), Some(name), None) if name == wanted => {
                        Some((hash, size))
                    }
                    _ => None,
                }
            })
            .next()
            .ok_or(format!(
                "{} {version}: {wanted} is not among its files",
                release.package
            ))?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{wanted}: malformed SHA256 '{sha256}'"));
        }
        let size = size
            .parse()
            .map_err(|_| format!("{wanted}: malformed size '{size}'"))?;
        if directory.starts_with('/')
            || directory
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return Err(format!(
                "{} {version}: Directory '{directory}' leaves the mirror",
                release.package
            ));
        }
        return Ok(Orig {
            debian_version: version.to_string(),
            path: format!("{directory}/{wanted}"),
            sha256: sha256.to_ascii_lowercase(),
            size,
        });
    }
    Err(if seen.is_empty() {
        format!("no source package {} in {SUITE}", release.package)
    } else {
        format!(
            "{SUITE} has {} {} but not {}",
            release.package,
            seen.join(", "),
            release.version
        )
    })
}

/// A deb822 stanza's fields, continuation lines joined by newlines.
fn fields(stanza: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in stanza.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// `1:2.42.4-1` → `2.42.4`: no epoch, no Debian revision.
fn upstream_version(version: &str) -> &str {
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    version.rsplit_once('-').map_or(version, |(v, _)| v)
}

/// Where the private apt configuration keeps its state, and the cache.
pub struct Archive {
    /// `target/upstream/`
    pub dir: PathBuf,
    mirror: String,
}

impl Archive {
    /// The host's mirror, from its apt sources.
    pub fn new(dir: &Path) -> Result<Self, String> {
        let sources = ns_bootstrap::sources::host_sources(Path::new("/etc/apt"));
        let mirror = ns_bootstrap::sources::default_mirror(&sources).ok_or(
            "no Debian mirror in the host's apt sources (/etc/apt/sources.list, \
             /etc/apt/sources.list.d/)",
        )?;
        Ok(Archive {
            dir: dir.to_path_buf(),
            mirror,
        })
    }

    /// The cached, verified tarball of each release; what is missing is
    /// downloaded (the index once for all).
    pub fn tarballs(&self, releases: &[Release]) -> Result<Vec<PathBuf>, String> {
        let missing: Vec<&Release> = releases
            .iter()
            .filter(|r| !self.dir.join(r.tarball()).is_file())
            .collect();
        if !missing.is_empty() {
            self.update()?;
            let index = self.sources_index()?;
            for release in missing {
                let orig = find_orig(&index, release)?;
                self.download(release, &orig)?;
            }
        }
        Ok(releases
            .iter()
            .map(|r| self.dir.join(r.tarball()))
            .collect())
    }

    fn apt_dir(&self) -> PathBuf {
        self.dir.join("apt")
    }

    /// Writes the private configuration and fetches the Sources index.
    fn update(&self) -> Result<(), String> {
        let apt = self.apt_dir();
        for sub in [
            "etc/apt.conf.d",
            "etc/preferences.d",
            "etc/sources.list.d",
            "state/lists/partial",
            "cache/archives/partial",
        ] {
            std::fs::create_dir_all(apt.join(sub))
                .map_err(|e| format!("create {}: {e}", apt.join(sub).display()))?;
        }
        let write = |path: PathBuf, text: String| {
            std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))
        };
        write(
            apt.join("etc/sources.list"),
            format!(
                "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {} {SUITE} \
                 main\n",
                self.mirror
            ),
        )?;
        write(apt.join("apt.conf"), apt_conf(&apt))?;
        write(apt.join("state/status"), String::new())?;
        checked(self.apt("apt-get").args(["-qq", "update"]))
    }

    /// The Sources index `apt-get update` left in the private state.
    fn sources_index(&self) -> Result<String, String> {
        let lists = self.apt_dir().join("state/lists");
        let entries =
            std::fs::read_dir(&lists).map_err(|e| format!("read {}: {e}", lists.display()))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(&format!("_dists_{SUITE}_main_source_Sources")) {
                return std::fs::read_to_string(entry.path())
                    .map_err(|e| format!("read {}: {e}", entry.path().display()));
            }
        }
        Err(format!(
            "apt-get update left no {SUITE} Sources index in {}",
            lists.display()
        ))
    }

    fn download(&self, release: &Release, orig: &Orig) -> Result<(), String> {
        // Downloaded beside the cache and moved in once verified, so a
        // cut download never looks like a cached one.
        let partial = self.dir.join("download");
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial)
            .map_err(|e| format!("create {}: {e}", partial.display()))?;
        let file = partial.join(release.tarball());
        let mut source = self.apt("apt-get");
        source
            .args(["-qq", "source", "--download-only"])
            .arg(format!("{}={}", release.package, orig.debian_version))
            .current_dir(&partial);
        eprintln!("$ (cd {}; {})", partial.display(), display(&source));
        // Its status is ignored, and its complaints shown only when the
        // tarball did not come: the .dsc may be missing from the mirror
        // while the tarball is there, and the file is checked below.
        let said = source
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", display(&source)))?;
        if !file.is_file() {
            eprintln!(
                "{}{}apt-get source did not deliver {}: fetching it from the pool",
                String::from_utf8_lossy(&said.stdout),
                String::from_utf8_lossy(&said.stderr),
                release.tarball()
            );
            let mut helper = self.apt("/usr/lib/apt/apt-helper");
            helper
                .arg("download-file")
                .arg(format!("{}/{}", self.mirror, orig.path))
                .arg(&file)
                .arg(format!("SHA256:{}", orig.sha256));
            checked(&mut helper)?;
        }
        verify(&file, orig)?;
        let cached = self.dir.join(release.tarball());
        std::fs::rename(&file, &cached)
            .map_err(|e| format!("move {} to {}: {e}", file.display(), cached.display()))?;
        let _ = std::fs::remove_dir_all(&partial);
        Ok(())
    }

    fn apt(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("APT_CONFIG", self.apt_dir().join("apt.conf"))
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    }
}

/// The private configuration: its own sources, state (an empty dpkg status:
/// nothing is installed from it) and cache; Debian's archive keyring named
/// on the sources line. The mirror here is frozen at a date, so forky's Release is
/// past its Valid-Until: the signature is still checked, the date is not.
fn apt_conf(apt: &Path) -> String {
    let dir = apt.display();
    format!(
        "Dir::Etc \"{dir}/etc\";\n\
         Dir::Etc::SourceList \"{dir}/etc/sources.list\";\n\
         Dir::Etc::SourceParts \"{dir}/etc/sources.list.d\";\n\
         Dir::Etc::Parts \"{dir}/etc/apt.conf.d\";\n\
         Dir::Etc::Preferences \"{dir}/etc/preferences\";\n\
         Dir::Etc::PreferencesParts \"{dir}/etc/preferences.d\";\n\
         Dir::State \"{dir}/state\";\n\
         Dir::State::status \"{dir}/state/status\";\n\
         Dir::Cache \"{dir}/cache\";\n\
         Acquire::Check-Valid-Until \"false\";\n\
         Acquire::Languages \"none\";\n\
         APT::Sandbox::User \"root\";\n"
    )
}

/// The file's size and SHA256 against the index's.
fn verify(file: &Path, orig: &Orig) -> Result<(), String> {
    let size = std::fs::metadata(file)
        .map_err(|e| format!("{}: {e}", file.display()))?
        .len();
    if size != orig.size {
        return Err(format!(
            "{}: {size} bytes, the Sources index says {}",
            file.display(),
            orig.size
        ));
    }
    let output = Command::new("sha256sum")
        .arg(file)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run sha256sum: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let sum = text.split_whitespace().next().unwrap_or_default();
    if !output.status.success() || sum != orig.sha256 {
        return Err(format!(
            "{}: SHA256 {sum}, the Sources index says {}",
            file.display(),
            orig.sha256
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UTIL_LINUX: Release = Release {
        package: "util-linux",
        version: "2.42.4",
    };

    fn stanza(version: &str, directory: &str, sums: &str) -> String {
        format!(
            "Package: util-linux\nBinary: mount\nVersion: {version}\nDirectory: {directory}\n\
             Files:\n 0d25 10729748 util-linux_2.42.4.orig.tar.xz\nChecksums-Sha256:\n{sums}\n"
        )
    }

    const SUM: &str = "fbd62a100ab7bb8746ba0661255c3c48185b1e9021507c624da01fbc696330ec";

    #[test]
    fn the_release_among_several_versions() {
        let index = [
            "Package: coreutils\nVersion: 9.10-1\n".to_string(),
            stanza(
                "2.41.5-0+deb13u1",
                "pool/main/u/util-linux",
                " aa 9474992 util-linux_2.41.5.orig.tar.xz",
            ),
            stanza(
                "2.42.4-1",
                "pool/main/u/util-linux",
                &format!(
                    " 2350 4719 util-linux_2.42.4-1.dsc\n {SUM} 10729748 \
                     util-linux_2.42.4.orig.tar.xz\n a00f 102552 \
                     util-linux_2.42.4-1.debian.tar.xz"
                ),
            ),
        ]
        .join("\n");
        let orig = find_orig(&index, &UTIL_LINUX).unwrap();
        assert_eq!(
            orig,
            Orig {
                debian_version: "2.42.4-1".into(),
                path: "pool/main/u/util-linux/util-linux_2.42.4.orig.tar.xz".into(),
                sha256: SUM.into(),
                size: 10729748,
            }
        );
    }

    #[test]
    fn versions_with_epochs_and_revisions() {
        assert_eq!(upstream_version("1:2.42.4-1"), "2.42.4");
        assert_eq!(upstream_version("2.41.5-0+deb13u1"), "2.41.5");
        assert_eq!(upstream_version("9.10"), "9.10");
    }

    #[test]
    fn a_missing_release_names_what_is_there() {
        let index = stanza("2.42.2-1", "pool/main/u/util-linux", "");
        let error = find_orig(&index, &UTIL_LINUX).unwrap_err();
        assert!(
            error.contains("2.42.2-1") && error.contains("2.42.4"),
            "{error}"
        );
        let error = find_orig("Package: bash\nVersion: 5\n", &UTIL_LINUX).unwrap_err();
        assert!(error.contains("no source package util-linux"), "{error}");
        assert!(find_orig("", &UTIL_LINUX).is_err());
    }

    #[test]
    fn malformed_stanzas_are_refused() {
        let line = format!(" {SUM} 10729748 util-linux_2.42.4.orig.tar.xz");
        for (directory, sums, complaint) in [
            ("../../etc", line.as_str(), "leaves the mirror"),
            ("/pool/u", line.as_str(), "leaves the mirror"),
            ("pool//u", line.as_str(), "leaves the mirror"),
            (
                "pool/u",
                " xyz 10729748 util-linux_2.42.4.orig.tar.xz",
                "malformed SHA256",
            ),
            (
                "pool/u",
                &format!(" {SUM} ten util-linux_2.42.4.orig.tar.xz"),
                "malformed size",
            ),
            (
                "pool/u",
                &format!(" {SUM} 10 util-linux_2.42.4.orig.tar.gz"),
                "not among its files",
            ),
            (
                "pool/u",
                &format!(" {SUM} 10 util-linux_2.42.4.orig.tar.xz extra"),
                "not among its files",
            ),
        ] {
            let error = find_orig(&stanza("2.42.4-1", directory, sums), &UTIL_LINUX).unwrap_err();
            assert!(error.contains(complaint), "{directory} {sums}: {error}");
        }
        let no_directory = "Package: util-linux\nVersion: 2.42.4-1\n";
        assert!(find_orig(no_directory, &UTIL_LINUX)
            .unwrap_err()
            .contains("no Directory"));
    }

    #[test]
    fn the_private_configuration_keeps_to_its_directory() {
        let conf = apt_conf(Path::new("/w/target/upstream/apt"));
        for line in conf.lines().filter(|l| l.starts_with("Dir::")) {
            assert!(line.contains("\"/w/target/upstream/apt/"), "{line}");
        }
        assert!(conf.contains("Check-Valid-Until \"false\""));
    }
}
