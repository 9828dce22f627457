//! OpenPGP signature verification against a keyring (RFC 4880), limited to
//! what Debian archives use: v4 keys and signatures, RSA and Ed25519,
//! SHA-2 digests. Written here rather than taken from a general OpenPGP
//! library because only this narrow path is needed, and because Debian's
//! keys carry third-party certifications that general libraries'
//! whole-key checks reject: here a signing subkey counts when its own
//! binding signature from its primary key verifies.
//!
//! Not checked (as debootstrap's `gpgv` use ignores time conflicts):
//! signature and key expiry times, revocations.

use base64::Engine;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

/// A public key or subkey packet, parsed.
#[derive(Debug, Clone)]
pub struct Key {
    /// The packet body, hashed into binding signatures.
    body: Vec<u8>,
    pub fingerprint: [u8; 20],
    material: KeyMaterial,
}

#[derive(Debug, Clone)]
enum KeyMaterial {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ed25519([u8; 32]),
    Unsupported,
}

impl Key {
    pub fn key_id(&self) -> [u8; 8] {
        self.fingerprint[12..]
            .try_into()
            .expect("20-byte fingerprint")
    }
}

/// A key that may sign: a primary key, or a subkey bound to its primary.
#[derive(Debug, Clone)]
pub struct Keyring {
    pub signers: Vec<Key>,
}

#[derive(Debug, Clone)]
struct Signature {
    sig_type: u8,
    pk_algo: u8,
    hash_algo: u8,
    /// Version through the end of the hashed subpackets.
    hashed: Vec<u8>,
    issuer: Option<[u8; 8]>,
    issuer_fingerprint: Option<[u8; 20]>,
    key_flags: Option<u8>,
    left16: [u8; 2],
    mpis: Vec<Vec<u8>>,
}

const TAG_SIGNATURE: u8 = 2;
const TAG_PUBLIC_KEY: u8 = 6;
const TAG_PUBLIC_SUBKEY: u8 = 14;

/// Splits binary OpenPGP data into (tag, body) packets.
fn packets(mut data: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut out = Vec::new();
    while let Some(&first) = data.first() {
        if first & 0x80 == 0 {
            return Err("not an OpenPGP packet".to_string());
        }
        let (tag, header, length) = if first & 0x40 != 0 {
            let tag = first & 0x3f;
            match *data.get(1).ok_or("truncated packet header")? {
                o @ 0..=191 => (tag, 2, o as usize),
                o @ 192..=223 => {
                    let o2 = *data.get(2).ok_or("truncated packet header")?;
                    (tag, 3, ((o as usize - 192) << 8) + o2 as usize + 192)
                }
                255 => (
                    tag,
                    6,
                    be_u32(data.get(2..6).ok_or("truncated packet")?) as usize,
                ),
                _ => return Err("partial body lengths are not supported".to_string()),
            }
        } else {
            let tag = (first >> 2) & 0x0f;
            match first & 3 {
                0 => (tag, 2, *data.get(1).ok_or("truncated packet")? as usize),
                1 => (
                    tag,
                    3,
                    be_u16(data.get(1..3).ok_or("truncated packet")?) as usize,
                ),
                2 => (
                    tag,
                    5,
                    be_u32(data.get(1..5).ok_or("truncated packet")?) as usize,
                ),
                _ => (tag, 1, data.len() - 1),
            }
        };
        let body = data
            .get(header..header + length)
            .ok_or("truncated packet body")?;
        out.push((tag, body));
        data = &data[header + length..];
    }
    Ok(out)
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads one MPI; returns its value bytes (no leading zeros) and the rest.
fn mpi(data: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let bits = be_u16(data.get(..2).ok_or("truncated MPI")?) as usize;
    let len = bits.div_ceil(8);
    let value = data.get(2..2 + len).ok_or("truncated MPI")?;
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    Ok((value[start..].to_vec(), &data[2 + len..]))
}

const ED25519_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];

fn parse_key(body: &[u8]) -> Result<Key, String> {
    if body.first() != Some(&4) {
        return Err(format!(
            "key version {} is not supported",
            body.first().copied().unwrap_or(0)
        ));
    }
    let algo = *body.get(5).ok_or("truncated key")?;
    let rest = &body[6..];
    let material = match algo {
        1..=3 => {
            let (n, rest) = mpi(rest)?;
            let (e, _) = mpi(rest)?;
            KeyMaterial::Rsa { n, e }
        }
        22 => {
            let oid_len = *rest.first().ok_or("truncated key")? as usize;
            let oid = rest.get(1..1 + oid_len).ok_or("truncated key")?;
            let (point, _) = mpi(&rest[1 + oid_len..])?;
            // The point is 0x40 followed by the 32-byte key.
            match (oid == ED25519_OID, point.split_first()) {
                (true, Some((0x40, key))) if key.len() == 32 => {
                    KeyMaterial::Ed25519(key.try_into().expect("32 bytes"))
                }
                _ => KeyMaterial::Unsupported,
            }
        }
        27 => KeyMaterial::Ed25519(
            rest.get(..32)
                .ok_or("truncated key")?
                .try_into()
                .expect("32 bytes"),
        ),
        _ => KeyMaterial::Unsupported,
    };
    let mut hasher = Sha1::new();
    hasher.update([0x99]);
    hasher.update((body.len() as u16).to_be_bytes());
    hasher.update(body);
    Ok(Key {
        body: body.to_vec(),
        fingerprint: hasher.finalize().into(),
        material,
    })
}

fn parse_signature(body: &[u8]) -> Result<Signature, String> {
    if body.first() != Some(&4) {
        return Err(format!(
            "signature version {} is not supported",
            body.first().copied().unwrap_or(0)
        ));
    }
    let header = body.get(..6).ok_or("truncated signature")?;
    let hashed_len = be_u16(&header[4..6]) as usize;
    let hashed_end = 6 + hashed_len;
    let hashed_area = body.get(6..hashed_end).ok_or("truncated signature")?;
    let unhashed_len = be_u16(
        body.get(hashed_end..hashed_end + 2)
            .ok_or("truncated signature")?,
    ) as usize;
    let unhashed_end = hashed_end + 2 + unhashed_len;
    let unhashed_area = body
        .get(hashed_end + 2..unhashed_end)
        .ok_or("truncated signature")?;
    let left16 = body
        .get(unhashed_end..unhashed_end + 2)
        .ok_or("truncated signature")?;
    let mut sig = Signature {
        sig_type: header[1],
        pk_algo: header[2],
        hash_algo: header[3],
        hashed: body[..hashed_end].to_vec(),
        issuer: None,
        issuer_fingerprint: None,
        key_flags: None,
        left16: [left16[0], left16[1]],
        mpis: Vec::new(),
    };
    for (area, hashed) in [(hashed_area, true), (unhashed_area, false)] {
        for (kind, data) in subpackets(area)? {
            match kind & 0x7f {
                16 if data.len() == 8 => sig.issuer = Some(data.try_into().expect("8 bytes")),
                33 if data.len() == 21 && data[0] == 4 => {
                    sig.issuer_fingerprint = Some(data[1..].try_into().expect("20 bytes"))
                }
                // Key flags only count when signed.
                27 if hashed && !data.is_empty() => sig.key_flags = Some(data[0]),
                _ => {}
            }
        }
    }
    let mut rest = &body[unhashed_end + 2..];
    while !rest.is_empty() {
        let (value, next) = mpi(rest)?;
        sig.mpis.push(value);
        rest = next;
    }
    Ok(sig)
}

fn subpackets(mut area: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut out = Vec::new();
    while let Some(&first) = area.first() {
        let (header, length) = match first {
            0..=191 => (1, first as usize),
            192..=254 => (
                2,
                ((first as usize - 192) << 8)
                    + *area.get(1).ok_or("truncated subpacket")? as usize
                    + 192,
            ),
            255 => (
                5,
                be_u32(area.get(1..5).ok_or("truncated subpacket")?) as usize,
            ),
        };
        let packet = area
            .get(header..header + length)
            .filter(|p| !p.is_empty())
            .ok_or("truncated subpacket")?;
        out.push((packet[0], &packet[1..]));
        area = &area[header + length..];
    }
    Ok(out)
}

/// Decodes ASCII armor (any block type) to binary.
pub fn dearmor(text: &str) -> Result<Vec<u8>, String> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PGP"));
    lines.next().ok_or("no armor header")?;
    // Armor headers end at the first blank line.
    for line in lines.by_ref() {
        if line.trim().is_empty() {
            break;
        }
    }
    let mut body = String::new();
    let mut ended = false;
    for line in lines {
        let line = line.trim();
        if line.starts_with("-----END PGP") {
            ended = true;
            break;
        }
        if line.starts_with('=') && line.len() == 5 {
            // The CRC-24 line: the signature itself protects the content.
            continue;
        }
        body.push_str(line);
    }
    if !ended {
        return Err("armor without an end line".to_string());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("bad armor: {e}"))
}

impl Keyring {
    /// Reads a keyring: binary packets (`.gpg`) or armored (`.asc`). Keys
    /// and subkeys this code cannot use are skipped; a subkey whose binding
    /// signature does not verify is dropped.
    pub fn parse(data: &[u8]) -> Result<Keyring, String> {
        let binary;
        let data = if data.starts_with(b"-----BEGIN PGP") {
            binary = dearmor(&String::from_utf8_lossy(data))?;
            &binary[..]
        } else {
            data
        };
        let mut signers = Vec::new();
        let mut primary: Option<Key> = None;
        let mut subkey: Option<Key> = None;
        let mut subkey_bound = false;
        let flush = |signers: &mut Vec<Key>, subkey: &mut Option<Key>, bound: &mut bool| {
            if let Some(key) = subkey.take() {
                if *bound {
                    signers.push(key);
                }
            }
            *bound = false;
        };
        for (tag, body) in packets(data)? {
            match tag {
                TAG_PUBLIC_KEY => {
                    flush(&mut signers, &mut subkey, &mut subkey_bound);
                    let key = parse_key(body).ok();
                    if let Some(key) = &key {
                        signers.push(key.clone());
                    }
                    primary = key;
                }
                TAG_PUBLIC_SUBKEY => {
                    flush(&mut signers, &mut subkey, &mut subkey_bound);
                    subkey = parse_key(body).ok();
                }
                TAG_SIGNATURE => {
                    let (Some(primary), Some(sub)) = (&primary, &subkey) else {
                        continue;
                    };
                    let Ok(sig) = parse_signature(body) else {
                        continue;
                    };
                    if sig.sig_type == 0x18
                        && !matches!(sig.key_flags, Some(flags) if flags & 0x02 == 0)
                        && verify_binding(primary, sub, &sig)
                    {
                        subkey_bound = true;
                    }
                }
                _ => {}
            }
        }
        flush(&mut signers, &mut subkey, &mut subkey_bound);
        if signers.is_empty() {
            return Err("no usable public key".to_string());
        }
        Ok(Keyring { signers })
    }

    /// Verifies a detached (armored) signature over `data`; returns the
    /// fingerprint of the key that made the first good signature. A
    /// signature by a key not in the keyring, or a bad one, does not count;
    /// at least one good signature is required.
    pub fn verify(&self, data: &[u8], signature_armor: &str) -> Result<[u8; 20], String> {
        let binary = dearmor(signature_armor)?;
        let mut problems = Vec::new();
        for (tag, body) in packets(&binary)? {
            if tag != TAG_SIGNATURE {
                continue;
            }
            let sig = match parse_signature(body) {
                Ok(sig) => sig,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            if sig.sig_type > 0x01 {
                problems.push(format!(
                    "signature type {:#x} is not a document signature",
                    sig.sig_type
                ));
                continue;
            }
            let candidates: Vec<&Key> = self
                .signers
                .iter()
                .filter(|key| match (sig.issuer_fingerprint, sig.issuer) {
                    (Some(fpr), _) => key.fingerprint == fpr,
                    (None, Some(id)) => key.key_id() == id,
                    (None, None) => true,
                })
                .collect();
            if candidates.is_empty() {
                problems.push(format!(
                    "unknown key {}",
                    hex(&sig.issuer.unwrap_or_default())
                ));
                continue;
            }
            // SHA-1 is broken for collisions: not accepted for documents.
            if sig.hash_algo == 2 {
                problems.push("SHA-1 document signature refused".to_string());
                continue;
            }
            let digest = match digest(sig.hash_algo, &[data], &sig.hashed) {
                Some(digest) => digest,
                None => {
                    problems.push(format!("unsupported digest algorithm {}", sig.hash_algo));
                    continue;
                }
            };
            match candidates.iter().find(|key| check(key, &sig, &digest)) {
                Some(key) => return Ok(key.fingerprint),
                None => problems.push(format!(
                    "bad signature from key {}",
                    hex(&candidates[0].key_id())
                )),
            }
        }
        if problems.is_empty() {
            problems.push("no signature found".to_string());
        }
        Err(problems.join("; "))
    }
}

fn verify_binding(primary: &Key, subkey: &Key, sig: &Signature) -> bool {
    let framed = |key: &Key| {
        let mut out = vec![0x99];
        out.extend_from_slice(&(key.body.len() as u16).to_be_bytes());
        out.extend_from_slice(&key.body);
        out
    };
    let parts = [framed(primary), framed(subkey)];
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    match digest(sig.hash_algo, &parts, &sig.hashed) {
        Some(digest) => check(primary, sig, &digest),
        None => false,
    }
}

/// Hash of the data, the hashed part of the signature and the v4 trailer.
fn digest(algo: u8, data: &[&[u8]], hashed: &[u8]) -> Option<(u8, Vec<u8>)> {
    fn run<D: Digest>(data: &[&[u8]], hashed: &[u8]) -> Vec<u8> {
        let mut hasher = D::new();
        for part in data {
            hasher.update(part);
        }
        hasher.update(hashed);
        hasher.update([0x04, 0xff]);
        hasher.update((hashed.len() as u32).to_be_bytes());
        hasher.finalize().to_vec()
    }
    let digest = match algo {
        2 => run::<Sha1>(data, hashed),
        8 => run::<Sha256>(data, hashed),
        9 => run::<Sha384>(data, hashed),
        10 => run::<Sha512>(data, hashed),
        11 => run::<Sha224>(data, hashed),
        _ => return None,
    };
    Some((algo, digest))
}

fn check(key: &Key, sig: &Signature, (algo, digest): &(u8, Vec<u8>)) -> bool {
    if digest[..2] != sig.left16 {
        return false;
    }
    match (&key.material, sig.pk_algo) {
        (KeyMaterial::Rsa { n, e }, 1 | 3) => {
            let [s] = &sig.mpis[..] else { return false };
            verify_rsa(n, e, *algo, digest, s)
        }
        (KeyMaterial::Ed25519(public), 22 | 27) => {
            let [r, s] = &sig.mpis[..] else { return false };
            if r.len() > 32 || s.len() > 32 {
                return false;
            }
            let mut bytes = [0u8; 64];
            bytes[32 - r.len()..32].copy_from_slice(r);
            bytes[64 - s.len()..].copy_from_slice(s);
            let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(public) else {
                return false;
            };
            let signature = ed25519_dalek::Signature::from_bytes(&bytes);
            key.verify_strict(digest, &signature).is_ok()
        }
        _ => false,
    }
}

fn verify_rsa(n: &[u8], e: &[u8], algo: u8, digest: &[u8], s: &[u8]) -> bool {
    use rsa::{BigUint, Pkcs1v15Sign, RsaPublicKey};
    let Ok(key) =
        RsaPublicKey::new_with_max_size(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e), 8192)
    else {
        return false;
    };
    if s.len() > n.len() {
        return false;
    }
    let mut padded = vec![0u8; n.len() - s.len()];
    padded.extend_from_slice(s);
    let scheme = match algo {
        2 => Pkcs1v15Sign::new::<Sha1>(),
        8 => Pkcs1v15Sign::new::<Sha256>(),
        9 => Pkcs1v15Sign::new::<Sha384>(),
        10 => Pkcs1v15Sign::new::<Sha512>(),
        11 => Pkcs1v15Sign::new::<Sha224>(),
        _ => return false,
    };
    key.verify(scheme, digest, &padded).is_ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::split_clearsigned;

    // Made once with gpg 2.2: an RSA-2048 primary with an Ed25519 signing
    // subkey (signs.asc), and an unrelated Ed25519 key (other.asc).
    const KEYRING: &[u8] = include_bytes!("../testdata/keyring.gpg");
    const OTHER: &[u8] = include_bytes!("../testdata/other.asc");
    const SIGNED_SUBKEY: &str = include_str!("../testdata/signed-by-subkey.txt");
    const SIGNED_PRIMARY: &str = include_str!("../testdata/signed-by-primary.txt");

    fn verify(keyring: &[u8], message: &str) -> Result<[u8; 20], String> {
        let keyring = Keyring::parse(keyring)?;
        let signed = split_clearsigned(message)?;
        keyring.verify(&signed.canonical, &signed.signature_armor)
    }

    #[test]
    fn good_signatures_verify() {
        verify(KEYRING, SIGNED_SUBKEY).unwrap();
        verify(KEYRING, SIGNED_PRIMARY).unwrap();
    }

    #[test]
    fn tampered_text_fails() {
        let tampered = SIGNED_SUBKEY.replace("Suite: stable", "Suite: evil");
        assert_ne!(tampered, SIGNED_SUBKEY);
        let error = verify(KEYRING, &tampered).unwrap_err();
        assert!(error.contains("bad signature"), "{error}");
    }

    #[test]
    fn unknown_key_fails() {
        let error = verify(OTHER, SIGNED_SUBKEY).unwrap_err();
        assert!(error.contains("unknown key"), "{error}");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(Keyring::parse(b"").is_err());
        assert!(Keyring::parse(b"\x99\x01").is_err());
        assert!(Keyring::parse(b"\xc6\xff\xff\xff").is_err());
        let keyring = Keyring::parse(KEYRING).unwrap();
        assert!(keyring.verify(b"x", "no armor").is_err());
        let armor = "-----BEGIN PGP SIGNATURE-----\n\nwsBc\n-----END PGP SIGNATURE-----\n";
        assert!(keyring.verify(b"x", armor).is_err());
        for cut in [1, 10, 50, 100, 300] {
            let truncated = &KEYRING[..cut.min(KEYRING.len())];
            let _ = Keyring::parse(truncated);
        }
    }
}
