//! `cargo xtask bench`: our static binaries against the reference tools.
//!
//! Each case runs as pairs, ours then the reference (A B A B …), after a
//! warm-up; the ratio of each pair is taken and the median of those ratios
//! reported. Pairing cancels slow drifts of the machine (frequency, cache,
//! another process), and the median ignores the odd outlier.

mod bootstrap;
mod chroot;
mod lsns;
mod mount;
mod nsenter;
mod unshare;

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One benchmark: two command lines that do the same work.
pub struct Case {
    pub name: String,
    pub ours: Vec<String>,
    pub reference: Vec<String>,
}

/// A case that runs in other namespaces.
pub struct NsCase {
    pub case: Case,
    pub namespaces: Namespaces,
}

/// Namespaces a case's commands run in, entered with setns(2) rather than
/// through nsenter, so that no extra fork and exec dilutes the timings:
/// the mount namespace by the child before it execs, the PID namespace
/// by this thread for the children it forks (and left right after).
#[derive(Debug, Clone, Default)]
pub struct Namespaces {
    /// A mount namespace file, e.g. `/proc/PID/ns/mnt`.
    pub mnt: Option<String>,
    /// A PID namespace file, e.g. `/proc/PID/ns/pid`.
    pub pid: Option<String>,
}

/// The namespace files of a case, open while it runs.
struct Entered {
    mnt: Option<OwnedFd>,
    pid: Option<OwnedFd>,
    /// Our own PID namespace, to return to after each spawn.
    own_pid: Option<OwnedFd>,
}

fn open_ns(path: &str) -> Result<OwnedFd, String> {
    let c_path = CString::new(path).map_err(|_| format!("{path}: NUL in path"))?;
    // SAFETY: a valid C string; the fd is owned below.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(format!("{path}: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setns(fd: &OwnedFd, kind: libc::c_int) -> std::io::Result<()> {
    // SAFETY: plain setns(2) on an open namespace file.
    if unsafe { libc::setns(fd.as_raw_fd(), kind) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Entered {
    fn open(namespaces: &Namespaces) -> Result<Entered, String> {
        Ok(Entered {
            mnt: namespaces.mnt.as_deref().map(open_ns).transpose()?,
            pid: namespaces.pid.as_deref().map(open_ns).transpose()?,
            own_pid: match namespaces.pid {
                Some(_) => Some(open_ns("/proc/self/ns/pid")?),
                None => None,
            },
        })
    }
}

const WARM_UP_PAIRS: usize = 5;
const MIN_PAIRS: usize = 30;
const DEFAULT_PAIRS: usize = 60;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut pairs = DEFAULT_PAIRS;
    let mut filters = Filters(Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--pairs" => {
                let value = args.next().ok_or("--pairs needs a number")?;
                pairs = value
                    .parse()
                    .map_err(|_| format!("--pairs: not a number: {value}"))?;
                if pairs < MIN_PAIRS {
                    return Err(format!("--pairs: at least {MIN_PAIRS} pairs"));
                }
            }
            filter => filters.0.push(filter.to_string()),
        }
    }

    let dist = crate::dist::run(&[])?;
    let cases: Vec<NsCase> = all_cases(&dist, &filters)
        .into_iter()
        .filter(|c| filters.selects(&c.case.name))
        .collect();
    let staged: Vec<StagedCase> = all_staged_cases(&dist, &filters)
        .into_iter()
        .filter(|case| filters.selects(&case.name))
        .collect();
    // ns-bootstrap's comparison is long and has its own runner.
    let bootstrap = filters.may_select("bootstrap");
    if cases.is_empty() && staged.is_empty() && !bootstrap {
        return Err("no benchmark case matches".to_string());
    }

    println!();
    println!("{pairs} alternating pairs per case after {WARM_UP_PAIRS} warm-up pairs");
    println!(
        "{:<44} {:>10} {:>10} {:>8}",
        "case", "ours ms", "ref ms", "ratio"
    );
    let mut ratios = Vec::new();
    let mut timings = Vec::new();
    for NsCase { case, namespaces } in &cases {
        let result = measure(case, namespaces, pairs)?;
        println!(
            "{:<44} {:>10.3} {:>10.3} {:>8.3}",
            case.name,
            result.ours_median.as_secs_f64() * 1e3,
            result.reference_median.as_secs_f64() * 1e3,
            result.median_ratio
        );
        ratios.push(result.median_ratio);
        timings.push((case.name.clone(), result));
    }
    for case in &staged {
        let result = measure_staged(case)?;
        println!(
            "{:<44} {:>10.3} {:>10.3} {:>8.3}",
            case.name,
            result.ours_median.as_secs_f64() * 1e3,
            result.reference_median.as_secs_f64() * 1e3,
            result.median_ratio
        );
        ratios.push(result.median_ratio);
    }
    if !ratios.is_empty() {
        let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
        println!(
            "{:<44} {:>10} {:>10} {:>8.3}",
            "mean of median ratios", "", "", mean
        );
    }
    lsns::report_growth(&timings);
    if bootstrap {
        bootstrap::run(3, 2)?;
    }
    Ok(())
}

/// The case-name filters of the command line. A case runs when there are
/// none or its name starts with one; a tool whose cases need costly set-up
/// (thousands of processes or mounts) asks first whether any could run.
pub struct Filters(Vec<String>);

impl Filters {
    pub fn selects(&self, name: &str) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|filter| name.starts_with(filter.as_str()))
    }

    /// Whether a case whose name starts with `prefix` could be selected.
    pub fn may_select(&self, prefix: &str) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|filter| filter.starts_with(prefix) || prefix.starts_with(filter.as_str()))
    }
}

/// Every tool's cases; a tool adds its module above and its list here.
fn all_cases(dist: &Path, filters: &Filters) -> Vec<NsCase> {
    let here = |cases: Vec<Case>| -> Vec<NsCase> {
        cases
            .into_iter()
            .map(|case| NsCase {
                case,
                namespaces: Namespaces::default(),
            })
            .collect()
    };
    [
        here(chroot::cases(dist)),
        lsns::cases(dist, filters),
        here(unshare::cases(dist)),
        here(nsenter::cases(dist, filters)),
        mount::cases(dist, filters),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// A benchmark whose command consumes its input (e.g. `umount -R` of a
/// tree): `prepare` runs untimed before every timed run, and the case sets
/// its own number of pairs (no warm-up) when the reference is slow.
pub struct StagedCase {
    pub name: String,
    pub prepare: Vec<String>,
    pub ours: Vec<String>,
    pub reference: Vec<String>,
    pub pairs: usize,
    /// Where all three commands run.
    pub namespaces: Namespaces,
}

/// Every tool's staged cases.
fn all_staged_cases(dist: &Path, filters: &Filters) -> Vec<StagedCase> {
    mount::staged_cases(dist, filters)
}

fn measure_staged(case: &StagedCase) -> Result<Measured, String> {
    let mut ours = Vec::with_capacity(case.pairs);
    let mut reference = Vec::with_capacity(case.pairs);
    let mut ratios = Vec::with_capacity(case.pairs);
    let ns = Entered::open(&case.namespaces)?;
    for _ in 0..case.pairs {
        time(&case.prepare, &ns)?;
        let a = time(&case.ours, &ns)?;
        time(&case.prepare, &ns)?;
        let b = time(&case.reference, &ns)?;
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        ours.push(a);
        reference.push(b);
    }
    Ok(Measured {
        ours_median: median(&mut ours),
        reference_median: median(&mut reference),
        median_ratio: median(&mut ratios),
    })
}

pub struct Measured {
    pub ours_median: Duration,
    pub reference_median: Duration,
    pub median_ratio: f64,
}

fn measure(case: &Case, namespaces: &Namespaces, pairs: usize) -> Result<Measured, String> {
    let ns = Entered::open(namespaces)?;
    for _ in 0..WARM_UP_PAIRS {
        time(&case.ours, &ns)?;
        time(&case.reference, &ns)?;
    }
    let mut ours = Vec::with_capacity(pairs);
    let mut reference = Vec::with_capacity(pairs);
    let mut ratios = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let a = time(&case.ours, &ns)?;
        let b = time(&case.reference, &ns)?;
        ratios.push(a.as_secs_f64() / b.as_secs_f64());
        ours.push(a);
        reference.push(b);
    }
    Ok(Measured {
        ours_median: median(&mut ours),
        reference_median: median(&mut reference),
        median_ratio: median(&mut ratios),
    })
}

/// Wall time of one run, in the case's namespaces; a failing run spoils
/// the comparison, so it is an error.
fn time(argv: &[String], ns: &Entered) -> Result<Duration, String> {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(mnt) = &ns.mnt {
        let fd = mnt.as_raw_fd();
        // SAFETY: setns is async-signal-safe; the fd (close-on-exec) stays
        // open until after the spawn.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    if let Some(pid) = &ns.pid {
        setns(pid, libc::CLONE_NEWPID).map_err(|e| format!("setns (pid): {e}"))?;
    }
    let start = Instant::now();
    let status = command.status();
    let elapsed = start.elapsed();
    if let Some(own) = &ns.own_pid {
        setns(own, libc::CLONE_NEWPID).map_err(|e| format!("setns (own pid): {e}"))?;
    }
    let status = status.map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", argv.join(" ")));
    }
    Ok(elapsed)
}

fn median<T: PartialOrd + Copy>(values: &mut [T]) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    values[values.len() / 2]
}

/// The path of one of our binaries in target/dist/.
fn ours(dist: &Path, name: &str) -> String {
    dist.join(name).to_string_lossy().into_owned()
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}

/// Starts `command` (a holder of namespaces for a case) so that it dies
/// with this process (SIGKILL on our death) and returns its pid. It is
/// reaped when this process exits.
pub fn spawn_dying_with_us(command: &mut Command) -> Result<u32, String> {
    // SAFETY: prctl is async-signal-safe; nothing else runs in the child.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    let pid = child.id();
    std::mem::forget(child);
    Ok(pid)
}
