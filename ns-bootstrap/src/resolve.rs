//! Which packages to install: the variant's base selection (as debootstrap
//! chooses it), closed under Depends and Pre-Depends with a real resolver:
//! an already chosen package or provider satisfies a dependency; otherwise
//! the first alternative that the index can satisfy (a real package whose
//! version matches, else a package that Provides it) is chosen.

use std::collections::{BTreeSet, HashMap, VecDeque};

use crate::packages::{compare_versions, Package, Relation};

/// Which base set is installed (debootstrap's `--variant`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// Priority required plus important.
    #[default]
    Default,
    /// Priority required plus apt.
    Minbase,
    /// Priority required plus apt and build-essential.
    Buildd,
}

impl Variant {
    /// debootstrap's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::Minbase => "minbase",
            Variant::Buildd => "buildd",
        }
    }
}

/// What to start from.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub variant: Variant,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// bookworm: `usr-is-merged` joins the selection.
    pub merged_usr_marker: bool,
    /// bookworm and later: `usrmerge` (the live migration) stays out,
    /// also as a dependency.
    pub no_usrmerge: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// Sorted by name.
    pub packages: Vec<&'a Package<'a>>,
    /// Human-readable notes: dependencies that could not be satisfied.
    pub warnings: Vec<String>,
}

/// The packages the variant starts from, before dependencies.
pub fn base_names(index: &[Package], selection: &Selection) -> Vec<String> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let wanted_priorities: &[&str] = match selection.variant {
        Variant::Default => &["required", "important"],
        Variant::Minbase | Variant::Buildd => &["required"],
    };
    for package in index {
        if wanted_priorities.contains(&package.priority) {
            names.insert(package.name.to_string());
        }
    }
    match selection.variant {
        Variant::Minbase => {
            names.insert("apt".into());
        }
        Variant::Buildd => {
            names.insert("apt".into());
            names.insert("build-essential".into());
        }
        Variant::Default => {}
    }
    if selection.merged_usr_marker {
        names.insert("usr-is-merged".into());
    }
    if selection.no_usrmerge {
        names.remove("usrmerge");
    }
    names.extend(selection.include.iter().cloned());
    for excluded in &selection.exclude {
        names.remove(excluded);
    }
    names.into_iter().collect()
}

struct Index<'a> {
    /// Every package by name, the newest version of a name first.
    by_name: HashMap<&'a str, Vec<&'a Package<'a>>>,
    providers: HashMap<&'a str, Vec<(&'a Package<'a>, Option<&'a str>)>>,
}

impl<'a> Index<'a> {
    fn new(packages: &'a [Package<'a>]) -> Self {
        // Sized up front: an index is some sixty thousand names, and
        // growing the table rehashes them all several times.
        let mut by_name: HashMap<&str, Vec<&Package>> = HashMap::with_capacity(packages.len());
        let mut providers: HashMap<&str, Vec<(&Package, Option<&str>)>> = HashMap::new();
        for package in packages {
            by_name.entry(package.name).or_default().push(package);
            for provided in &package.provides {
                let version = provided.version.map(|(_, v)| v);
                providers
                    .entry(provided.name)
                    .or_default()
                    .push((package, version));
            }
        }
        // The newest version first (stable: of equal versions, the
        // index's first stays first).
        for candidates in by_name.values_mut() {
            candidates.sort_by(|a, b| compare_versions(b.version, a.version));
        }
        Index { by_name, providers }
    }

    /// The packages of a name, the newest first.
    fn candidates(&self, name: &str) -> &[&'a Package<'a>] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    fn newest(&self, name: &str) -> Option<&'a Package<'a>> {
        self.candidates(name).first().copied()
    }
}

fn version_ok(relation: &Relation, version: Option<&str>) -> bool {
    match (relation.version, version) {
        (None, _) => true,
        (Some((op, wanted)), Some(have)) => op.holds(compare_versions(have, wanted)),
        // An unversioned Provides never satisfies a versioned dependency.
        (Some(_), None) => false,
    }
}

/// Why no package set could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("package {0} (from --include) is not in the index")]
    Included(String),
}

pub fn resolve<'a>(
    packages: &'a [Package<'a>],
    selection: &Selection,
) -> Result<Resolved<'a>, Error> {
    let index = Index::new(packages);
    let mut excluded: BTreeSet<&str> = selection.exclude.iter().map(String::as_str).collect();
    if selection.no_usrmerge {
        excluded.insert("usrmerge");
    }
    let mut chosen: HashMap<&str, &Package> = HashMap::new();
    let mut queue: VecDeque<&Package> = VecDeque::new();
    let mut warnings = Vec::new();

    for name in base_names(packages, selection) {
        match index.newest(&name) {
            Some(package) => {
                chosen.insert(package.name, package);
                queue.push_back(package);
            }
            None if selection.include.contains(&name) => {
                return Err(Error::Included(name));
            }
            None => warnings.push(format!("package {name} is not in the index")),
        }
    }

    while let Some(package) = queue.pop_front() {
        for group in package.pre_depends.iter().chain(&package.depends) {
            let satisfied = group.iter().any(|relation| {
                chosen
                    .get(relation.name)
                    .is_some_and(|c| version_ok(relation, Some(c.version)))
                    || chosen.values().any(|c| {
                        c.provides.iter().any(|p| {
                            p.name == relation.name
                                && version_ok(relation, p.version.map(|(_, v)| v))
                        })
                    })
            });
            if satisfied {
                continue;
            }
            let pick = group.iter().find_map(|relation| {
                if excluded.contains(relation.name) {
                    return None;
                }
                let real = index
                    .candidates(relation.name)
                    .iter()
                    .find(|c| version_ok(relation, Some(c.version)))
                    .copied();
                real.or_else(|| {
                    index.providers.get(relation.name).and_then(|providers| {
                        providers
                            .iter()
                            .filter(|(p, _)| !excluded.contains(p.name))
                            .find(|(_, version)| version_ok(relation, *version))
                            .map(|(p, _)| *p)
                    })
                })
            });
            match pick {
                Some(new) if !chosen.contains_key(new.name) => {
                    chosen.insert(new.name, new);
                    queue.push_back(new);
                }
                Some(_) => warnings.push(format!(
                    "{}: dependency '{}' needs another version than the one chosen",
                    package.name,
                    describe(group)
                )),
                None => warnings.push(format!(
                    "{}: cannot satisfy dependency '{}'",
                    package.name,
                    describe(group)
                )),
            }
        }
    }
    let mut packages: Vec<&Package> = chosen.into_values().collect();
    packages.sort_by(|a, b| a.name.cmp(b.name));
    Ok(Resolved { packages, warnings })
}

fn describe(group: &[Relation]) -> String {
    group
        .iter()
        .map(|r| match r.version {
            Some((op, v)) => format!("{} ({op:?} {v})", r.name),
            None => r.name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packages::parse_packages;

    fn stanza(name: &str, version: &str, priority: &str, extra: &str) -> String {
        format!(
            "Package: {name}\nVersion: {version}\nArchitecture: amd64\nPriority: {priority}\n{extra}\
             Filename: pool/{name}_{version}.deb\nSize: 1\nSHA256: {}\n\n",
            "0".repeat(64)
        )
    }

    fn names(resolved: &Resolved) -> Vec<String> {
        resolved
            .packages
            .iter()
            .map(|p| format!("{}={}", p.name, p.version))
            .collect()
    }

    fn index() -> String {
        [
            stanza(
                "base",
                "1",
                "required",
                "Depends: libc (>= 2), mta | exim\n",
            ),
            stanza("libc", "1", "optional", ""),
            stanza("libc", "3", "optional", "Pre-Depends: gcc-base\n"),
            stanza("gcc-base", "1", "optional", ""),
            stanza("postfix", "1", "optional", "Provides: mta\n"),
            stanza("exim", "1", "optional", "Provides: mta\n"),
            stanza("apt", "2", "important", "Depends: newlib (>= 5) | oldlib\n"),
            stanza("newlib", "4", "optional", ""),
            stanza("oldlib", "1", "optional", ""),
            stanza("usrmerge", "1", "required", ""),
            stanza("usr-is-merged", "1", "optional", ""),
            stanza(
                "build-essential",
                "1",
                "optional",
                "Depends: virtual-only\n",
            ),
            stanza("vprov", "1", "optional", "Provides: virtual-only (= 2)\n"),
        ]
        .concat()
    }

    #[test]
    fn minbase_with_versions_alternatives_and_provides() {
        let text = index();
        let packages = parse_packages(&text).unwrap();
        let selection = Selection {
            variant: Variant::Minbase,
            merged_usr_marker: true,
            no_usrmerge: true,
            ..Selection::default()
        };
        let resolved = resolve(&packages, &selection).unwrap();
        assert_eq!(
            names(&resolved),
            [
                "apt=2",
                "base=1",
                "gcc-base=1",
                "libc=3",
                "oldlib=1",
                "postfix=1",
                "usr-is-merged=1"
            ]
        );
        assert!(resolved.warnings.is_empty(), "{:?}", resolved.warnings);
    }

    #[test]
    fn chosen_alternative_is_kept_and_exclude_is_honoured() {
        let text = index();
        let packages = parse_packages(&text).unwrap();
        let selection = Selection {
            variant: Variant::Buildd,
            include: vec!["exim".into()],
            exclude: vec!["postfix".into(), "usrmerge".into()],
            merged_usr_marker: false,
            no_usrmerge: false,
        };
        let resolved = resolve(&packages, &selection).unwrap();
        let got = names(&resolved);
        assert!(got.contains(&"exim=1".to_string()));
        assert!(!got.iter().any(|n| n.starts_with("postfix")));
        assert!(!got.iter().any(|n| n.starts_with("usrmerge")));
        assert!(got.contains(&"vprov=1".to_string()), "{got:?}");
    }

    #[test]
    fn default_variant_takes_important_and_reports_missing() {
        let text = format!(
            "{}{}",
            index(),
            stanza("xx", "1", "important", "Depends: ghost\n")
        );
        let packages = parse_packages(&text).unwrap();
        let resolved = resolve(&packages, &Selection::default()).unwrap();
        let got = names(&resolved);
        assert!(got.contains(&"apt=2".to_string()) && got.contains(&"xx=1".to_string()));
        assert!(got.contains(&"usrmerge=1".to_string()));
        assert_eq!(resolved.warnings.len(), 1);
        assert!(resolved.warnings[0].contains("ghost"));
    }

    #[test]
    fn unknown_include_is_an_error() {
        let text = index();
        let packages = parse_packages(&text).unwrap();
        let selection = Selection {
            include: vec!["nope".into()],
            ..Selection::default()
        };
        assert_eq!(
            resolve(&packages, &selection).unwrap_err(),
            Error::Included("nope".to_string())
        );
    }
}
