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
mod unshare;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One benchmark: two command lines that do the same work.
pub struct Case {
    pub name: String,
    pub ours: Vec<String>,
    pub reference: Vec<String>,
}

const WARM_UP_PAIRS: usize = 5;
const MIN_PAIRS: usize = 30;
const DEFAULT_PAIRS: usize = 60;

pub fn run(args: &[String]) -> Result<(), String> {
    let mut pairs = DEFAULT_PAIRS;
    let mut filters = Vec::new();
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
            filter => filters.push(filter.to_string()),
        }
    }

    let dist = crate::dist::run(&[])?;
    let cases: Vec<Case> = all_cases(&dist)
        .into_iter()
        .filter(|case| filters.is_empty() || filters.iter().any(|f| case.name.starts_with(f)))
        .collect();
    let staged: Vec<StagedCase> = all_staged_cases(&dist)
        .into_iter()
        .filter(|case| filters.is_empty() || filters.iter().any(|f| case.name.starts_with(f)))
        .collect();
    // ns-bootstrap's comparison is long and has its own runner.
    let bootstrap = filters.is_empty()
        || filters
            .iter()
            .any(|f| "bootstrap".starts_with(f.as_str()) || f.starts_with("bootstrap"));
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
    for case in &cases {
        let result = measure(case, pairs)?;
        println!(
            "{:<44} {:>10.3} {:>10.3} {:>8.3}",
            case.name,
            result.ours_median.as_secs_f64() * 1e3,
            result.reference_median.as_secs_f64() * 1e3,
            result.median_ratio
        );
        ratios.push(result.median_ratio);
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
    if bootstrap {
        bootstrap::run(3, 2)?;
    }
    Ok(())
}

/// Every tool's cases; a tool adds its module above and its list here.
fn all_cases(dist: &Path) -> Vec<Case> {
    [
        chroot::cases(dist),
        lsns::cases(dist),
        unshare::cases(dist),
        mount::cases(dist),
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
}

/// Every tool's staged cases.
fn all_staged_cases(dist: &Path) -> Vec<StagedCase> {
    mount::staged_cases(dist)
}

fn measure_staged(case: &StagedCase) -> Result<Measured, String> {
    let mut ours = Vec::with_capacity(case.pairs);
    let mut reference = Vec::with_capacity(case.pairs);
    let mut ratios = Vec::with_capacity(case.pairs);
    for _ in 0..case.pairs {
        time(&case.prepare)?;
        let a = time(&case.ours)?;
        time(&case.prepare)?;
        let b = time(&case.reference)?;
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

struct Measured {
    ours_median: Duration,
    reference_median: Duration,
    median_ratio: f64,
}

fn measure(case: &Case, pairs: usize) -> Result<Measured, String> {
    for _ in 0..WARM_UP_PAIRS {
        time(&case.ours)?;
        time(&case.reference)?;
    }
    let mut ours = Vec::with_capacity(pairs);
    let mut reference = Vec::with_capacity(pairs);
    let mut ratios = Vec::with_capacity(pairs);
    for _ in 0..pairs {
        let a = time(&case.ours)?;
        let b = time(&case.reference)?;
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

/// Wall time of one run; a failing run spoils the comparison, so it is an
/// error.
fn time(argv: &[String]) -> Result<Duration, String> {
    let start = Instant::now();
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", argv[0]))?;
    let elapsed = start.elapsed();
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
