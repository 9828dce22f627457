//! The pivot_root and switch_root under comparison (ours, ours as
//! nstools, and two references), each in a
//! directory of its own under the names util-linux installs them as, so a
//! script runs whichever it is given by name (`PATH=DIR:…`) and each
//! speaks as `pivot_root:` / `switch_root:`. The directory is self-contained
//! (copies, and the newest reference's loader and libc beside it), so a
//! script can copy it into a root that has nothing of the host's but a
//! read-only /usr.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nstools_tests::reference;
use nstools_tests::{bin, differences, Outcome, Stderr, TempDir, TestCommand};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Ours,
    /// util-linux 2.42.4, the reference.
    Newest,
    /// The host's util-linux 2.38.1.
    Host,
    /// Ours as the multi-call `nstools`, by link name.
    Multicall,
}

pub const REFERENCES: [Flavour; 2] = [Flavour::Newest, Flavour::Host];

/// The names each flavour provides.
const NAMES: [(&str, &str); 2] = [
    ("switch_root", "ns-switch-root"),
    ("pivot_root", "ns-pivot-root"),
];

/// A directory holding one flavour's `switch_root` and `pivot_root`.
pub struct Tools {
    dir: TempDir,
}

impl Tools {
    pub fn new(flavour: Flavour) -> Tools {
        let dir = TempDir::new(&format!("{flavour:?}-tools").to_lowercase());
        for (name, ours) in NAMES {
            let to = dir.path().join(name);
            match flavour {
                Flavour::Ours => copy(&bin(ours), &to),
                Flavour::Multicall => copy(&bin("nstools"), &to),
                Flavour::Host => copy(&host_command(name), &to),
                Flavour::Newest => newest_beside(name, dir.path()),
            }
        }
        Tools { dir }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `PATH` for a script: these tools first, then the host's.
    pub fn path(&self) -> String {
        format!(
            "{}:/usr/sbin:/usr/bin:/sbin:/bin",
            self.dir.path().display()
        )
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

fn host_command(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|dir| Path::new(dir).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("the host has no {name} (util-linux)"))
}

/// The forky root's tool in `dir/newest/` with the loader and the
/// libraries it lists, and `dir/NAME`, a script that runs it through them
/// from wherever `dir` is.
fn newest_beside(name: &str, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let root = reference::newest_root();
    let binary = ["usr/bin", "usr/sbin", "bin", "sbin"]
        .iter()
        .map(|sub| root.join(sub).join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("{} has no {name}", root.display()));
    let loader = root.join("lib64/ld-linux-x86-64.so.2");
    let libraries = root.join("usr/lib/x86_64-linux-gnu");
    let newest = dir.join("newest");
    std::fs::create_dir_all(&newest).expect("mkdir newest");
    let listed = TestCommand::new(&loader)
        .arg("--list")
        .arg("--library-path")
        .arg(&libraries)
        .arg(&binary)
        .run();
    listed.expect_code(0);
    for path in listed
        .stdout
        .lines()
        .filter_map(|line| line.split(" => ").nth(1))
        .filter_map(|rest| rest.split(" (").next())
    {
        let path = Path::new(path);
        copy(
            path,
            &newest.join(path.file_name().expect("a library file")),
        );
    }
    copy(&binary, &newest.join(name));
    let script = format!(
        "#!/bin/sh\nd=\"${{0%/*}}/newest\"\n\
         exec \"$d/ld-linux-x86-64.so.2\" --argv0 {name} --library-path \"$d\" \"$d/{name}\" \"$@\"\n"
    );
    let wrapper = dir.join(name);
    std::fs::write(&wrapper, script).unwrap_or_else(|e| panic!("{}: {e}", wrapper.display()));
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Runs `script` with `sh -eu` in a new mount namespace (util-linux's
/// unshare: private propagation), arguments after it, with `tools` first
/// in PATH. `unshare_options` adds namespaces (`--pid --fork`, …).
pub fn in_namespaces<A: AsRef<std::ffi::OsStr>>(
    tools: &Tools,
    unshare_options: &[&str],
    script: &str,
    args: &[A],
) -> Outcome {
    TestCommand::new("/usr/bin/unshare")
        .arg("--mount")
        .args(unshare_options)
        .args(["/bin/sh", "-euc", script, "sh"])
        .args(args.iter())
        .env("PATH", tools.path())
        .env_remove("SHELL")
        .timeout(std::time::Duration::from_secs(120))
        .run()
}

/// Names in order of first appearance: `PREFIX1`, `PREFIX2`, …
struct Names {
    prefix: &'static str,
    seen: Vec<String>,
}

impl Names {
    fn name(&mut self, value: &str) -> String {
        let index = match self.seen.iter().position(|seen| seen == value) {
            Some(index) => index,
            None => {
                self.seen.push(value.to_string());
                self.seen.len() - 1
            }
        };
        format!("{}{}", self.prefix, index + 1)
    }
}

/// Mount ids and the device numbers of filesystems without a device
/// (`0:N`: tmpfs, proc) differ from one namespace to the next: each
/// becomes `m1`, `m2`, … (`0:a1`, …) in the order first seen, in every
/// mountinfo line and wherever a script printed one as `mount-id=N`.
pub fn normalize(text: &str) -> String {
    let mut ids = Names {
        prefix: "m",
        seen: Vec::new(),
    };
    let mut anonymous = Names {
        prefix: "0:a",
        seen: Vec::new(),
    };
    let mut name = |id: &str| ids.name(id);
    let mut out = String::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let numeric = |field: &str| !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit());
        if fields.len() > 6 && numeric(fields[0]) && numeric(fields[1]) && fields[2].contains(':') {
            let _ = write!(out, "{} {}", name(fields[0]), name(fields[1]));
            match fields[2].strip_prefix("0:") {
                Some(minor) => {
                    let _ = write!(out, " {}", anonymous.name(minor));
                }
                None => {
                    let _ = write!(out, " {}", fields[2]);
                }
            }
            for field in &fields[3..] {
                let _ = write!(out, " {field}");
            }
        } else if let Some((before, id)) = line.split_once("mount-id=") {
            let _ = write!(out, "{before}mount-id={}", name(id));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Outcome with stdout and stderr normalized.
pub fn normalized(outcome: &Outcome) -> Outcome {
    Outcome {
        stdout: normalize(&outcome.stdout),
        stderr: normalize(&outcome.stderr),
        ..outcome.clone()
    }
}

/// Runs `case` with ours and each reference; every difference from ours
/// (status, stdout, stderr, after `normalize`) is a failure. Returns ours.
pub fn same_as_references(label: &str, case: impl Fn(&Tools) -> Outcome) -> Outcome {
    let ours = normalized(&case(&Tools::new(Flavour::Ours)));
    assert!(!ours.timed_out, "{label}: ours timed out:\n{ours}");
    let mut failures = Vec::new();
    for flavour in REFERENCES {
        let theirs = normalized(&case(&Tools::new(flavour)));
        if let Some(difference) = differences(&ours, &theirs, Stderr::Identical) {
            failures.push(format!("{label}, against {flavour:?}: {difference}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    ours
}

#[test]
fn mount_ids_are_named_in_order_of_appearance() {
    let text = "41 30 0:5 / / rw - tmpfs t rw\n50 41 0:9 / /proc rw - proc p rw\n\
                51 50 8:1 / /d rw - ext4 /dev/sda1 rw\nx mount-id=50\n";
    assert_eq!(
        normalize(text),
        "m1 m2 0:a1 / / rw - tmpfs t rw\nm3 m1 0:a2 / /proc rw - proc p rw\n\
         m4 m3 8:1 / /d rw - ext4 /dev/sda1 rw\nx mount-id=m3\n"
    );
}

#[test]
fn each_flavour_answers_by_name() {
    for flavour in [
        Flavour::Ours,
        Flavour::Multicall,
        Flavour::Newest,
        Flavour::Host,
    ] {
        let tools = Tools::new(flavour);
        for (name, _) in NAMES {
            let out = TestCommand::new("/bin/sh")
                .args(["-c", &format!("{name} --version")])
                .env("PATH", tools.path())
                .run();
            out.expect_code(0);
            let expected = match flavour {
                Flavour::Ours | Flavour::Multicall => format!("{name} (nstools)"),
                Flavour::Newest => format!("{name} from util-linux 2.42"),
                Flavour::Host => format!("{name} from util-linux 2.38"),
            };
            assert!(out.stdout.starts_with(&expected), "{flavour:?}: {out}");
        }
    }
}
