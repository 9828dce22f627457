//! The second stage: make TARGET a system that runs, with its own dpkg.
//!
//! Everything is already unpacked (see [`crate::dpkgdb`] for the
//! unpack-once trade-off), so what is left is, inside the sandbox:
//! 1. the preinst scripts (`preinst install`), base-passwd's first since
//!    the others may need /etc/passwd;
//! 2. one `dpkg --configure --pending`, which orders the packages by their
//!    dependencies, installs the `.dpkg-new` conffiles, runs the postinst
//!    scripts and the triggers they activate.
//!
//! Two kinds of dpkg-side invocations in total, where debootstrap runs
//! dpkg a dozen times and unpacks everything twice. While they run, a
//! `policy-rc.d` refuses to start services and `start-stop-daemon` is a
//! stand-in that does nothing, as debootstrap arranges.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;

use nix::sys::stat::SFlag;

use crate::dpkgdb::Unpacked;
use crate::progress::Reporter;
use crate::rooted::{Name, Root};
use crate::sandbox::{Command, Io, Sandbox, Stage};

/// The device nodes debootstrap makes in TARGET/dev (name, char major,
/// minor, mode), and its symlinks.
const DEVICES: &[(&str, u64, u64, u32)] = &[
    ("null", 1, 3, 0o666),
    ("zero", 1, 5, 0o666),
    ("full", 1, 7, 0o666),
    ("random", 1, 8, 0o666),
    ("urandom", 1, 9, 0o666),
    ("tty", 5, 0, 0o666),
    ("console", 5, 1, 0o666),
    ("ptmx", 5, 2, 0o666),
];
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
];

/// Why the configure step (or what prepares it) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("pipe: {0}")]
    Pipe(nix::errno::Errno),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::Error),
    #[error("{0}: no second stage here (made by --foreign)")]
    NoSecondStage(String),
}

fn io(what: &'static str, root: &Root, rel: &str, source: std::io::Error) -> Error {
    Error::Io {
        what,
        path: root.show(rel),
        source,
    }
}

/// `dev`, `dev/pts` and `dev/shm`, in-root; returns `dev`.
fn dev_dirs(root: &Root) -> Result<crate::rooted::Dir, Error> {
    for rel in ["dev/pts", "dev/shm"] {
        root.create_dir_all(rel)
            .map_err(|e| io("cannot create", root, rel, e))?;
    }
    root.dir("dev")
        .map_err(|e| io("cannot open", root, "dev", e))
}

fn name(text: &str) -> Name {
    Name::new(text.as_bytes()).expect("a constant file name")
}

/// debootstrap's `/dev`: its nodes (made where missing) and links.
pub fn make_devices(root: &Root) -> Result<(), Error> {
    let dev = dev_dirs(root)?;
    for (node, major, minor, mode) in DEVICES {
        let rel = format!("dev/{node}");
        if dev.lstat(&name(node)).is_ok() {
            continue;
        }
        dev.mknod(
            &name(node),
            SFlag::S_IFCHR,
            *mode,
            nix::sys::stat::makedev(*major, *minor),
        )
        .map_err(|e| io("cannot make device", root, &rel, e))?;
        // mknod honours the umask; the mode must be exact.
        dev.set_mode(&name(node), *mode)
            .map_err(|e| io("cannot change mode of", root, &rel, e))?;
    }
    make_dev_links(root, &dev)
}

fn make_dev_links(root: &Root, dev: &crate::rooted::Dir) -> Result<(), Error> {
    for (link, target) in DEV_LINKS {
        if dev.lstat(&name(link)).is_err() {
            dev.symlink(&name(link), target.as_bytes())
                .map_err(|e| io("cannot create", root, &format!("dev/{link}"), e))?;
        }
    }
    Ok(())
}

/// The device nodes as tar headers (a tarball needs no mknod).
pub fn tar_devices() -> Vec<crate::tarball::Device> {
    DEVICES
        .iter()
        .map(|(name, major, minor, mode)| crate::tarball::Device {
            path: match *name {
                "null" => "dev/null",
                "zero" => "dev/zero",
                "full" => "dev/full",
                "random" => "dev/random",
                "urandom" => "dev/urandom",
                "tty" => "dev/tty",
                "console" => "dev/console",
                _ => "dev/ptmx",
            },
            major: *major as u32,
            minor: *minor as u32,
            mode: *mode,
        })
        .collect()
}

/// In a user namespace: /dev's directories and links, and an empty file
/// in place of each node for the sandbox to bind the host's onto.
/// Returns the placeholders (relative to root).
pub fn make_placeholders(root: &Root) -> Result<Vec<String>, Error> {
    let dev = dev_dirs(root)?;
    let mut made = Vec::new();
    for (node, ..) in DEVICES {
        let rel = format!("dev/{node}");
        if dev.lstat(&name(node)).is_err() {
            dev.replace_file(&name(node), 0o644)
                .map_err(|e| io("cannot create", root, &rel, e))?;
            made.push(rel);
        }
    }
    make_dev_links(root, &dev)?;
    Ok(made)
}

/// Removes the placeholders that are still the empty files made for them.
pub fn remove_placeholders(root: &Root, placeholders: &[String]) {
    for rel in placeholders {
        if root.lstat(rel).is_ok_and(|s| {
            SFlag::from_bits_truncate(s.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG && s.st_size == 0
        }) {
            let _ = root.remove_file(rel);
        }
    }
}

const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";
const START_STOP_DAEMON: &str = "usr/sbin/start-stop-daemon";

/// Puts the service blockers in place; returns what to undo.
pub fn block_services(root: &Root) -> Result<bool, Error> {
    root.write(POLICY_RC_D, b"#!/bin/sh\nexit 101\n", 0o755)
        .map_err(|e| io("cannot write", root, POLICY_RC_D, e))?;
    let real = format!("{START_STOP_DAEMON}.REAL");
    let moved = root.lstat(START_STOP_DAEMON).is_ok();
    if moved {
        root.rename(START_STOP_DAEMON, &real)
            .map_err(|e| io("cannot rename", root, START_STOP_DAEMON, e))?;
        root.write(
            START_STOP_DAEMON,
            b"#!/bin/sh\necho\necho \"Warning: Fake start-stop-daemon called, doing nothing\"\n",
            0o755,
        )
        .map_err(|e| io("cannot write", root, START_STOP_DAEMON, e))?;
    }
    Ok(moved)
}

/// Undoes [`block_services`]; package code has run in TARGET meanwhile,
/// so this too is in-root.
fn unblock_services(root: &Root, moved: bool) -> Result<(), Error> {
    root.remove_file(POLICY_RC_D)
        .map_err(|e| io("cannot remove", root, POLICY_RC_D, e))?;
    if moved {
        let real = format!("{START_STOP_DAEMON}.REAL");
        root.rename(&real, START_STOP_DAEMON)
            .map_err(|e| io("cannot rename", root, &real, e))?;
    }
    Ok(())
}

fn base_env(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        (
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ),
        ("HOME", "/root"),
        ("LC_ALL", "C.UTF-8"),
        ("DEBIAN_FRONTEND", "noninteractive"),
        ("DEBCONF_NONINTERACTIVE_SEEN", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend_from_slice(extra);
    env
}

/// The commands of the configure step, in order.
pub fn commands(
    packages: &[Unpacked],
    status_fd: Option<i32>,
    extra_env: &[(String, String)],
) -> Vec<Command> {
    let mut with_preinst: Vec<&Unpacked> = packages
        .iter()
        .filter(|p| p.control_files.contains_key("preinst"))
        .collect();
    with_preinst.sort_by_key(|p| (p.name != "base-passwd", p.name.clone()));
    // What dpkg tells a maintainer script about itself.
    let dpkg_version = packages
        .iter()
        .find(|p| p.name == "dpkg")
        .and_then(|p| {
            crate::packages::parse_stanzas(&p.control)
                .ok()?
                .first()?
                .get("Version")
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for package in with_preinst {
        let mut env = base_env(extra_env);
        for (key, value) in [
            ("DPKG_MAINTSCRIPT_PACKAGE", package.name.as_str()),
            ("DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT", "1"),
            ("DPKG_MAINTSCRIPT_ARCH", package.architecture.as_str()),
            ("DPKG_MAINTSCRIPT_NAME", "preinst"),
            ("DPKG_MAINTSCRIPT_DEBUG", "0"),
            ("DPKG_RUNNING_VERSION", dpkg_version.as_str()),
            ("DPKG_ADMINDIR", "/var/lib/dpkg"),
            ("DPKG_ROOT", ""),
        ] {
            env.push((key.to_string(), value.to_string()));
        }
        // dpkg runs a preinst from the package's control area, unpacked
        // in tmp.ci: debconf takes the package's name (its question's
        // owner) and templates from there.
        let files = package
            .control_files
            .iter()
            .map(|(name, (mode, content))| (name.clone(), mode & 0o777, content.clone()))
            .collect();
        out.push(Command {
            label: format!("package {}: preinst install", package.name),
            argv: vec![format!("/{CONTROL_AREA}/preinst").into(), "install".into()],
            env,
            stage: Some(Stage {
                dir: CONTROL_AREA,
                files,
            }),
        });
    }
    let mut argv: Vec<OsString> = vec!["dpkg".into()];
    if let Some(fd) = status_fd {
        argv.push(format!("--status-fd={fd}").into());
    }
    argv.extend(["--configure".into(), "--pending".into()]);
    out.push(Command {
        label: "dpkg --configure --pending".to_string(),
        argv,
        env: base_env(extra_env),
        stage: None,
    });
    out
}

/// Where dpkg unpacks a package's control area while it installs it.
const CONTROL_AREA: &str = "var/lib/dpkg/tmp.ci";

/// Where `--foreign` leaves each staged command's files for the second
/// stage (`STAGES/N`, N its place among the commands).
const STAGES: &str = "debootstrap/stage";

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Where `--foreign` leaves the second stage, as debootstrap does.
pub const SECOND_STAGE: &str = "debootstrap/debootstrap";

/// The second stage as a shell script for the target's own /bin/sh: the
/// same commands as [`commands`], then the service blockers undone and
/// /debootstrap removed. It runs inside the target (under binfmt
/// emulation for another architecture), where ns-bootstrap itself,
/// built for the host, cannot.
pub fn second_stage_script(packages: &[Unpacked], extra_env: &[(String, String)]) -> String {
    let mut out = String::from(
        "#!/bin/sh\n\
         # ns-bootstrap's second stage: configures what --foreign unpacked.\n\
         set -e\n\
         if [ \"$1\" != --second-stage ]; then\n\
         \techo \"usage: $0 --second-stage\" >&2\n\
         \texit 1\n\
         fi\n\
         cd /\n\
         mounted=\n\
         if [ ! -e /proc/self ]; then mount -t proc proc /proc && mounted=1; fi\n\
         echo 'I: Configuring the base system...'\n",
    );
    for (index, command) in commands(packages, None, extra_env).iter().enumerate() {
        if let Some(stage) = &command.stage {
            out.push_str(&format!(
                "rm -rf /{dir}\ncp -a /{STAGES}/{index} /{dir}\n",
                dir = stage.dir
            ));
        }
        out.push_str("env -i");
        for (key, value) in &command.env {
            out.push(' ');
            out.push_str(&quote(&format!("{key}={value}")));
        }
        for arg in &command.argv {
            out.push(' ');
            out.push_str(&quote(&arg.to_string_lossy()));
        }
        out.push_str(" </dev/null\n");
        if let Some(stage) = &command.stage {
            out.push_str(&format!("rm -rf /{}\n", stage.dir));
        }
    }
    out.push_str(&format!(
        "rm -f /{POLICY_RC_D}\n\
         if [ -e /{START_STOP_DAEMON}.REAL ]; then mv /{START_STOP_DAEMON}.REAL /{START_STOP_DAEMON}; fi\n\
         if [ -n \"$mounted\" ]; then umount /proc; fi\n\
         if [ -f /debootstrap/debootstrap.log ]; then mv /debootstrap/debootstrap.log /var/log/bootstrap.log; fi\n\
         rm -rf /debootstrap\n\
         echo 'I: Base system installed successfully.'\n"
    ));
    out
}

/// --foreign: what the second stage needs, in TARGET/debootstrap (and
/// `/dev` unless in a user namespace, which cannot make nodes).
pub fn leave_second_stage(
    root: &Root,
    unpacked: &[Unpacked],
    env: &[(String, String)],
    arch: &str,
    devices: bool,
) -> Result<(), Error> {
    if devices {
        make_devices(root)?;
    }
    block_services(root)?;
    for (index, command) in commands(unpacked, None, env).iter().enumerate() {
        let Some(stage) = &command.stage else {
            continue;
        };
        for (name, mode, content) in &stage.files {
            let rel = format!("{STAGES}/{index}/{name}");
            root.write(&rel, content, *mode)
                .map_err(|e| io("cannot write", root, &rel, e))?;
        }
    }
    root.write(
        SECOND_STAGE,
        second_stage_script(unpacked, env).as_bytes(),
        0o755,
    )
    .map_err(|e| io("cannot write", root, SECOND_STAGE, e))?;
    root.write("debootstrap/arch", format!("{arch}\n").as_bytes(), 0o644)
        .map_err(|e| io("cannot write", root, "debootstrap/arch", e))
}

/// `--second-stage`: runs the script `--foreign` left in TARGET (`/`
/// when run inside it) in the sandbox.
pub fn second_stage(target: &std::path::Path, userns: bool, r: &Reporter) -> Result<(), Error> {
    let root = Root::open(target).map_err(|source| Error::Io {
        what: "cannot open",
        path: target.display().to_string(),
        source,
    })?;
    match root.lstat(SECOND_STAGE) {
        Ok(stat) if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG => {}
        _ => return Err(Error::NoSecondStage(root.show(SECOND_STAGE))),
    }
    let log = root
        .append(crate::output::LOG)
        .map_err(|e| io("cannot open", &root, crate::output::LOG, e))?;
    r.info("Running the second stage...");
    let placeholders = if userns {
        make_placeholders(&root)?
    } else {
        make_devices(&root)?;
        Vec::new()
    };
    let commands = [Command {
        label: "the second stage".to_string(),
        argv: vec![
            "/bin/sh".into(),
            format!("/{SECOND_STAGE}").into(),
            "--second-stage".into(),
        ],
        env: vec![(
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        )],
        stage: None,
    }];
    let result = Sandbox::new(&root)
        .bind_devices(placeholders.clone())
        .spawn(
            &commands,
            Io {
                log: &log,
                keep_fd: None,
            },
        )
        .and_then(|running| running.wait());
    remove_placeholders(&root, &placeholders);
    if let Err(e) = result {
        eprintln!("I: the log is in {}", root.show(crate::output::LOG));
        return Err(e.into());
    }
    r.info("Base system installed successfully.");
    Ok(())
}

/// How the configure step runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// In a user namespace: device nodes bound from the host.
    pub userns: bool,
    /// Added to every command's environment (SOURCE_DATE_EPOCH).
    pub env: Vec<(String, String)>,
}

/// Runs the configure step, counting configured packages from dpkg's
/// status descriptor for the progress display.
pub fn configure(
    root: &Root,
    packages: &[Unpacked],
    log: &std::fs::File,
    reporter: &Reporter,
    settings: &Settings,
) -> Result<(), Error> {
    let placeholders = if settings.userns {
        make_placeholders(root)?
    } else {
        make_devices(root)?;
        Vec::new()
    };
    let moved = block_services(root)?;
    let (read, write) = nix::unistd::pipe().map_err(Error::Pipe)?;
    let commands = commands(packages, Some(write.as_raw_fd()), &settings.env);
    let sandbox = Sandbox::new(root).bind_devices(placeholders.clone());
    let running = sandbox.spawn(
        &commands,
        Io {
            log,
            keep_fd: Some(write.as_raw_fd()),
        },
    );
    // Our copy of the write end must go, or the reader never sees EOF.
    drop(write);
    let running = running?;
    let result = reporter.with_status(|| {
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let reader = BufReader::new(std::fs::File::from(read));
                for line in reader.lines().map_while(Result::ok) {
                    // `status: PKG: installed` once a package is configured.
                    if line.starts_with("status: ") && line.ends_with(": installed") {
                        reporter.counts.configured.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            running.wait()
        })
    });
    reporter.clear();
    remove_placeholders(root, &placeholders);
    result?;
    unblock_services(root, moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn unpacked(name: &str, preinst: bool) -> Unpacked {
        let mut control_files = BTreeMap::new();
        if preinst {
            control_files.insert("preinst".to_string(), (0o755, b"#!/bin/sh\n".to_vec()));
        }
        Unpacked {
            name: name.to_string(),
            architecture: "amd64".to_string(),
            multi_arch_same: name.starts_with("lib"),
            control: String::new(),
            control_files,
            conffiles: Vec::new(),
            overrides: Vec::new(),
            paths: Vec::new(),
        }
    }

    #[test]
    fn preinsts_first_base_passwd_leading_then_one_dpkg() {
        let packages = [
            unpacked("adduser", true),
            unpacked("bash", false),
            unpacked("base-passwd", true),
            unpacked("libc6", true),
        ];
        let got = commands(&packages, Some(7), &[]);
        let argv: Vec<String> = got
            .iter()
            .map(|c| {
                c.argv
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            argv,
            [
                "/var/lib/dpkg/tmp.ci/preinst install",
                "/var/lib/dpkg/tmp.ci/preinst install",
                "/var/lib/dpkg/tmp.ci/preinst install",
                "dpkg --status-fd=7 --configure --pending",
            ]
        );
        let labels: Vec<&str> = got.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels[..3],
            [
                "package base-passwd: preinst install",
                "package adduser: preinst install",
                "package libc6: preinst install",
            ]
        );
        let script = second_stage_script(&packages, &[("A".to_string(), "it's".to_string())]);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(script.contains(
            "env -i 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'"
        ));
        assert!(script.contains("'A=it'\\''s'"));
        assert!(script.contains(
            "rm -rf /var/lib/dpkg/tmp.ci\ncp -a /debootstrap/stage/0 /var/lib/dpkg/tmp.ci\n"
        ));
        assert!(script.contains("'/var/lib/dpkg/tmp.ci/preinst' 'install' </dev/null\n"));
        assert_eq!(got[0].stage.as_ref().unwrap().files[0].0, "preinst");
        assert!(script.contains("'dpkg' '--configure' '--pending' </dev/null\n"));
        assert!(got[2]
            .env
            .contains(&("DPKG_MAINTSCRIPT_PACKAGE".to_string(), "libc6".to_string())));
    }
}
