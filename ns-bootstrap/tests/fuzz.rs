//! A mutation fuzzer over everything ns-bootstrap reads from outside:
//! InRelease (clear-signed text, Release fields, the OpenPGP packets of
//! keyrings and signatures), Packages indexes, `.deb` files (ar, control
//! tarball, compressed data) and data tarballs extracted into a scratch
//! root. Seeds are the small files in `fuzz/corpus/`; each iteration
//! applies a few random edits (bit flips, inserted and deleted runs,
//! truncations, splices of troublesome values) and asks only that nothing
//! panics, hangs or writes outside the root.
//!
//! `NS_BOOTSTRAP_FUZZ=N` sets the iterations per target (default 2,000,
//! a few seconds in all); `NS_BOOTSTRAP_FUZZ_SEED` the generator's seed.

use std::io::Read;
use std::path::{Path, PathBuf};

use ns_bootstrap::compression::Limited;
use ns_bootstrap::extract::Extractor;
use ns_bootstrap::rooted::Root;
use ns_bootstrap::{deb, dpkgdb, gpg, packages, release};

fn corpus(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn iterations() -> u64 {
    std::env::var("NS_BOOTSTRAP_FUZZ")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

/// xorshift64*: small, seedable, good enough to pick edits.
struct Rng(u64);

impl Rng {
    fn new(salt: u64) -> Rng {
        let seed = std::env::var("NS_BOOTSTRAP_FUZZ_SEED")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Rng((seed ^ salt.wrapping_mul(0x2545_f491_4f6c_dd1d)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Values that have broken parsers before: path tricks, huge numbers,
/// line and field breaks, armor and PGP markers.
const TOKENS: &[&[u8]] = &[
    b"..",
    b"../",
    b"/",
    b"\n",
    b"\n\n",
    b"\r\n",
    b" ",
    b":",
    b"0",
    b"-1",
    b"18446744073709551615",
    b"99999999999",
    b"\xff\xff\xff\xff",
    b"\0",
    b"Package: ",
    b"Size: ",
    b"-----BEGIN PGP SIGNATURE-----\n",
    b"- ",
    b"(>= ",
    b"|",
    b"interest ",
    b"/etc/passwd",
];

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(4) {
        let len = data.len();
        match rng.below(7) {
            0 if len > 0 => {
                let at = rng.below(len);
                data[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                data[at] = rng.next() as u8;
            }
            2 => {
                let at = rng.below(len + 1);
                let run: Vec<u8> = (0..=rng.below(8)).map(|_| rng.next() as u8).collect();
                data.splice(at..at, run);
            }
            3 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                data.drain(at..end);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(256)).min(len);
                let copy = data[at..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, copy);
            }
            5 => data.truncate(rng.below(len + 1)),
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}

/// Runs `target` on mutations of each seed.
fn fuzz(salt: u64, seeds: &[Vec<u8>], mut target: impl FnMut(&[u8])) {
    let mut rng = Rng::new(salt);
    for _ in 0..iterations() {
        let seed = &seeds[rng.below(seeds.len())];
        target(&mutate(seed, &mut rng));
    }
}

#[test]
fn release_files() {
    let seeds = [corpus("release-subkey.txt"), corpus("release-primary.txt")];
    let keyring = gpg::Keyring::parse(&corpus("keyring.gpg")).unwrap();
    fuzz(1, &seeds, |data| {
        let text = String::from_utf8_lossy(data);
        if let Ok(signed) = release::split_clearsigned(&text) {
            let _ = keyring.verify(&signed.canonical, &signed.signature_armor);
            if let Ok(release) = release::parse_release(&signed.text) {
                let _ = release.file("main/binary-amd64/Packages");
            }
        }
        let _ = release::parse_date(&text);
    });
}

#[test]
fn keyrings_and_signatures() {
    let seeds = [corpus("keyring.gpg")];
    let signed =
        release::split_clearsigned(&String::from_utf8_lossy(&corpus("release-subkey.txt")))
            .unwrap();
    fuzz(2, &seeds, |data| {
        if let Ok(keyring) = gpg::Keyring::parse(data) {
            let _ = keyring.verify(&signed.canonical, &signed.signature_armor);
        }
    });
    let keyring = gpg::Keyring::parse(&corpus("keyring.gpg")).unwrap();
    let armor = [signed.signature_armor.as_bytes().to_vec()];
    fuzz(3, &armor, |data| {
        let _ = keyring.verify(&signed.canonical, &String::from_utf8_lossy(data));
    });
}

#[test]
fn packages_indexes() {
    let seeds = [corpus("packages.txt")];
    fuzz(4, &seeds, |data| {
        let text = String::from_utf8_lossy(data);
        if let Ok(index) = packages::parse_packages(&text) {
            for package in &index {
                let _ = packages::compare_versions(package.version, "1:2.36-9");
            }
        }
    });
}

/// Reads a whole `.deb` (data bounded: a mutated stream may inflate).
fn read_deb(data: &[u8]) {
    if let Ok(deb) = deb::read(data) {
        let _ = deb::conffiles_from(&deb.control);
        let mut sink = Vec::new();
        let _ = Limited::new(deb.data, 16 << 20).read_to_end(&mut sink);
        if let Some((_, control)) = deb.control.get("control") {
            let unpacked = dpkgdb::Unpacked {
                name: "seed".to_string(),
                architecture: "amd64".to_string(),
                multi_arch_same: false,
                control: String::from_utf8_lossy(control).into_owned(),
                control_files: deb.control.clone(),
                conffiles: Vec::new(),
                overrides: Vec::new(),
                paths: Vec::new(),
            };
            let _ = dpkgdb::status_stanza(&unpacked);
            let _ = dpkgdb::trigger_interests(&[unpacked]);
        }
    }
}

#[test]
fn debs() {
    let seeds = [corpus("seed.deb"), corpus("seed-gz.deb")];
    fuzz(5, &seeds, read_deb);
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn data_tarballs_stay_inside_the_root() {
    let seeds = [corpus("data.tar")];
    let scratch = Scratch(
        ns_bootstrap::rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-fuzz-")
            .unwrap(),
    );
    let outside = scratch.0.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let mut round = 0u64;
    // Fewer rounds: each one makes and removes a root on disk.
    let rounds = (iterations() / 4).max(1);
    let mut rng = Rng::new(6);
    for _ in 0..rounds {
        let data = mutate(&seeds[0], &mut rng);
        round += 1;
        let dir = scratch.0.join(format!("root-{round}"));
        std::fs::create_dir(&dir).unwrap();
        let root = Root::open(&dir).unwrap();
        let extractor = Extractor {
            root: &root,
            keep_unmapped_owners: false,
        };
        let _ = extractor.extract(&data[..], &["/etc/app.conf".to_string()]);
        let written: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
        assert!(written.is_empty(), "written outside the root: {written:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
