//! OpenPGP signature verification against a keyring (RFC 4880), limited to
//! what Debian archives use: v4 keys and signatures, RSA and Ed25519,
//! SHA-2 digests. Written here rather than taken from a general OpenPGP
//! library because only this narrow path is needed, and because Debian's
//! keys carry third-party certifications that general libraries'
//! whole-key checks reject: here a signing subkey counts when its own
//! binding signature from its primary key verifies.
//!
//! Key usage as gpgv decides it: a primary key signs only when its newest
//! valid self-signature allows it (key flags with "sign", or no flags);
//! a signing subkey only with a valid back-signature (RFC 4880 §5.2.1,
//! 0x19, embedded in its binding signature); a signature carrying a
//! critical hashed subpacket gpg does not know is refused.
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
    /// The signature creation time (seconds), from the hashed area.
    created: u32,
    /// An embedded signature (a subkey's back-signature), as a packet body.
    embedded: Option<Vec<u8>>,
    /// A critical hashed subpacket of a type gpg does not handle.
    unknown_critical: Option<u8>,
    left16: [u8; 2],
    mpis: Vec<Vec<u8>>,
}

/// Why a keyring or a signature could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Packets that do not parse: what was cut short or is wrong.
    #[error("{0}")]
    Malformed(&'static str),
    #[error("key version {0} is not supported")]
    KeyVersion(u8),
    #[error("signature version {0} is not supported")]
    SignatureVersion(u8),
    #[error("bad armor: {0}")]
    Armor(String),
    #[error("no usable public key")]
    NoUsableKey,
    /// No good signature: what was wrong with each one found.
    #[error("{}", problems(.0))]
    NotVerified(Vec<Problem>),
}

/// What was wrong with one signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0}")]
    Unparsable(Box<Error>),
    #[error("signature type {0:#x} is not a document signature")]
    NotADocument(u8),
    #[error("signature with an unknown critical subpacket ({0})")]
    UnknownCritical(u8),
    #[error("unknown key {}", hex(.0))]
    UnknownKey([u8; 8]),
    #[error("SHA-1 document signature refused")]
    Sha1,
    #[error("unsupported digest algorithm {0}")]
    Digest(u8),
    #[error("bad signature from key {}", hex(.0))]
    Bad([u8; 8]),
    #[error("no signature found")]
    NoSignature,
}

fn problems(list: &[Problem]) -> String {
    list.iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

const TAG_SIGNATURE: u8 = 2;
const TAG_PUBLIC_KEY: u8 = 6;
const TAG_USER_ID: u8 = 13;
const TAG_PUBLIC_SUBKEY: u8 = 14;
const TAG_USER_ATTRIBUTE: u8 = 17;

/// The key flag that allows signing data.
const FLAG_SIGN: u8 = 0x02;

/// Subpacket types gpg accepts with the critical bit (its
/// `can_handle_critical`): creation and expiry times, exportable,
/// revocable, revocation key, issuer and issuer fingerprint, preferences,
/// key flags, primary user ID, features, trust, regular expression,
/// policy URI, preferred key server, revocation reason, embedded
/// signature, attested certifications, key block. A critical notation is
/// refused (gpg knows two notation names; neither concerns an archive).
const HANDLED_CRITICAL: &[u8] = &[
    2, 3, 4, 5, 6, 7, 9, 11, 12, 16, 21, 22, 24, 25, 26, 27, 29, 30, 32, 33, 37, 38,
];

/// Splits binary OpenPGP data into (tag, body) packets.
fn packets(mut data: &[u8]) -> Result<Vec<(u8, &[u8])>, Error> {
    let mut out = Vec::new();
    while let Some(&first) = data.first() {
        if first & 0x80 == 0 {
            return Err(Error::Malformed("not an OpenPGP packet"));
        }
        let (tag, header, length) = if first & 0x40 != 0 {
            let tag = first & 0x3f;
            match *data
                .get(1)
                .ok_or(Error::Malformed("truncated packet header"))?
            {
                o @ 0..=191 => (tag, 2, o as usize),
                o @ 192..=223 => {
                    let o2 = *data
                        .get(2)
                        .ok_or(Error::Malformed("truncated packet header"))?;
                    (tag, 3, ((o as usize - 192) << 8) + o2 as usize + 192)
                }
                255 => (
                    tag,
                    6,
                    be_u32(data.get(2..6).ok_or(Error::Malformed("truncated packet"))?) as usize,
                ),
                _ => return Err(Error::Malformed("partial body lengths are not supported")),
            }
        } else {
            let tag = (first >> 2) & 0x0f;
            match first & 3 {
                0 => (
                    tag,
                    2,
                    *data.get(1).ok_or(Error::Malformed("truncated packet"))? as usize,
                ),
                1 => (
                    tag,
                    3,
                    be_u16(data.get(1..3).ok_or(Error::Malformed("truncated packet"))?) as usize,
                ),
                2 => (
                    tag,
                    5,
                    be_u32(data.get(1..5).ok_or(Error::Malformed("truncated packet"))?) as usize,
                ),
                _ => (tag, 1, data.len() - 1),
            }
        };
        let body = data
            .get(header..header + length)
            .ok_or(Error::Malformed("truncated packet body"))?;
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
fn mpi(data: &[u8]) -> Result<(Vec<u8>, &[u8]), Error> {
    let bits = be_u16(data.get(..2).ok_or(Error::Malformed("truncated MPI"))?) as usize;
    let len = bits.div_ceil(8);
    let value = data
        .get(2..2 + len)
        .ok_or(Error::Malformed("truncated MPI"))?;
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    Ok((value[start..].to_vec(), &data[2 + len..]))
}

const ED25519_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];

fn parse_key(body: &[u8]) -> Result<Key, Error> {
    if body.first() != Some(&4) {
        return Err(Error::KeyVersion(body.first().copied().unwrap_or(0)));
    }
    let algo = *body.get(5).ok_or(Error::Malformed("truncated key"))?;
    let rest = &body[6..];
    let material = match algo {
        1..=3 => {
            let (n, rest) = mpi(rest)?;
            let (e, _) = mpi(rest)?;
            KeyMaterial::Rsa { n, e }
        }
        22 => {
            let oid_len = *rest.first().ok_or(Error::Malformed("truncated key"))? as usize;
            let oid = rest
                .get(1..1 + oid_len)
                .ok_or(Error::Malformed("truncated key"))?;
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
                .ok_or(Error::Malformed("truncated key"))?
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

fn parse_signature(body: &[u8]) -> Result<Signature, Error> {
    if body.first() != Some(&4) {
        return Err(Error::SignatureVersion(body.first().copied().unwrap_or(0)));
    }
    let header = body
        .get(..6)
        .ok_or(Error::Malformed("truncated signature"))?;
    let hashed_len = be_u16(&header[4..6]) as usize;
    let hashed_end = 6 + hashed_len;
    let hashed_area = body
        .get(6..hashed_end)
        .ok_or(Error::Malformed("truncated signature"))?;
    let unhashed_len = be_u16(
        body.get(hashed_end..hashed_end + 2)
            .ok_or(Error::Malformed("truncated signature"))?,
    ) as usize;
    let unhashed_end = hashed_end + 2 + unhashed_len;
    let unhashed_area = body
        .get(hashed_end + 2..unhashed_end)
        .ok_or(Error::Malformed("truncated signature"))?;
    let left16 = body
        .get(unhashed_end..unhashed_end + 2)
        .ok_or(Error::Malformed("truncated signature"))?;
    let mut sig = Signature {
        sig_type: header[1],
        pk_algo: header[2],
        hash_algo: header[3],
        hashed: body[..hashed_end].to_vec(),
        issuer: None,
        issuer_fingerprint: None,
        key_flags: None,
        created: 0,
        embedded: None,
        unknown_critical: None,
        left16: [left16[0], left16[1]],
        mpis: Vec::new(),
    };
    for (area, hashed) in [(hashed_area, true), (unhashed_area, false)] {
        for (kind, data) in subpackets(area)? {
            let critical = kind & 0x80 != 0;
            let kind = kind & 0x7f;
            if hashed && critical && !HANDLED_CRITICAL.contains(&kind) {
                sig.unknown_critical.get_or_insert(kind);
            }
            match kind {
                2 if hashed && data.len() == 4 => sig.created = be_u32(data),
                16 if data.len() == 8 => sig.issuer = Some(data.try_into().expect("8 bytes")),
                33 if data.len() == 21 && data[0] == 4 => {
                    sig.issuer_fingerprint = Some(data[1..].try_into().expect("20 bytes"))
                }
                // Key flags only count when signed.
                27 if hashed && !data.is_empty() => sig.key_flags = Some(data[0]),
                // A back-signature is itself signed: either area will do.
                32 => sig.embedded = Some(data.to_vec()),
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

fn subpackets(mut area: &[u8]) -> Result<Vec<(u8, &[u8])>, Error> {
    let mut out = Vec::new();
    while let Some(&first) = area.first() {
        let (header, length) = match first {
            0..=191 => (1, first as usize),
            192..=254 => (
                2,
                ((first as usize - 192) << 8)
                    + *area.get(1).ok_or(Error::Malformed("truncated subpacket"))? as usize
                    + 192,
            ),
            255 => (
                5,
                be_u32(
                    area.get(1..5)
                        .ok_or(Error::Malformed("truncated subpacket"))?,
                ) as usize,
            ),
        };
        let packet = area
            .get(header..header + length)
            .filter(|p| !p.is_empty())
            .ok_or(Error::Malformed("truncated subpacket"))?;
        out.push((packet[0], &packet[1..]));
        area = &area[header + length..];
    }
    Ok(out)
}

/// Decodes ASCII armor (any block type) to binary.
pub fn dearmor(text: &str) -> Result<Vec<u8>, Error> {
    let mut lines = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PGP"));
    lines.next().ok_or(Error::Malformed("no armor header"))?;
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
        return Err(Error::Malformed("armor without an end line"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| Error::Armor(e.to_string()))
}

impl Keyring {
    /// Reads a keyring: binary packets (`.gpg`) or armored (`.asc`). Keys
    /// and subkeys this code cannot use are skipped; a primary key counts
    /// as a signer when its newest valid self-signature allows signing, a
    /// subkey when its binding signature allows signing and carries a
    /// valid back-signature.
    pub fn parse(data: &[u8]) -> Result<Keyring, Error> {
        let binary;
        let data = if data.starts_with(b"-----BEGIN PGP") {
            binary = dearmor(&String::from_utf8_lossy(data))?;
            &binary[..]
        } else {
            data
        };
        let mut signers = Vec::new();
        let mut primary: Option<Primary> = None;
        let mut subkey: Option<(Key, bool)> = None;
        let mut user_id: Option<Vec<u8>> = None;
        let flush_subkey = |signers: &mut Vec<Key>, subkey: &mut Option<(Key, bool)>| {
            if let Some((key, true)) = subkey.take() {
                signers.push(key);
            }
        };
        for (tag, body) in packets(data)? {
            match tag {
                TAG_PUBLIC_KEY => {
                    flush_subkey(&mut signers, &mut subkey);
                    if let Some(done) = primary.take() {
                        done.flush(&mut signers);
                    }
                    primary = parse_key(body).ok().map(|key| Primary {
                        key,
                        self_signature: None,
                    });
                    user_id = None;
                }
                TAG_USER_ID => user_id = Some(body.to_vec()),
                TAG_USER_ATTRIBUTE => user_id = None,
                TAG_PUBLIC_SUBKEY => {
                    flush_subkey(&mut signers, &mut subkey);
                    user_id = None;
                    subkey = parse_key(body).ok().map(|key| (key, false));
                }
                TAG_SIGNATURE => {
                    let Some(primary) = &mut primary else {
                        continue;
                    };
                    let Ok(sig) = parse_signature(body) else {
                        continue;
                    };
                    if sig.unknown_critical.is_some() {
                        continue;
                    }
                    match &mut subkey {
                        Some((sub, bound)) => {
                            if sig.sig_type == 0x18
                                && verify_binding(&primary.key, sub, &sig)
                                && signing_subkey(&primary.key, sub, &sig)
                            {
                                *bound = true;
                            }
                        }
                        None => primary.consider(&sig, user_id.as_deref()),
                    }
                }
                _ => {}
            }
        }
        flush_subkey(&mut signers, &mut subkey);
        if let Some(done) = primary.take() {
            done.flush(&mut signers);
        }
        if signers.is_empty() {
            return Err(Error::NoUsableKey);
        }
        Ok(Keyring { signers })
    }

    /// Verifies a detached (armored) signature over `data`; returns the
    /// fingerprint of the key that made the first good signature. A
    /// signature by a key not in the keyring, or a bad one, does not count;
    /// at least one good signature is required.
    pub fn verify(&self, data: &[u8], signature_armor: &str) -> Result<[u8; 20], Error> {
        let binary = dearmor(signature_armor)?;
        let mut problems = Vec::new();
        for (tag, body) in packets(&binary)? {
            if tag != TAG_SIGNATURE {
                continue;
            }
            let sig = match parse_signature(body) {
                Ok(sig) => sig,
                Err(e) => {
                    problems.push(Problem::Unparsable(Box::new(e)));
                    continue;
                }
            };
            if sig.sig_type > 0x01 {
                problems.push(Problem::NotADocument(sig.sig_type));
                continue;
            }
            if let Some(kind) = sig.unknown_critical {
                problems.push(Problem::UnknownCritical(kind));
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
                problems.push(Problem::UnknownKey(sig.issuer.unwrap_or_default()));
                continue;
            }
            // SHA-1 is broken for collisions: not accepted for documents.
            if sig.hash_algo == 2 {
                problems.push(Problem::Sha1);
                continue;
            }
            let Some(digest) = digest(sig.hash_algo, &[data], &sig.hashed) else {
                problems.push(Problem::Digest(sig.hash_algo));
                continue;
            };
            match candidates.iter().find(|key| check(key, &sig, &digest)) {
                Some(key) => return Ok(key.fingerprint),
                None => problems.push(Problem::Bad(candidates[0].key_id())),
            }
        }
        if problems.is_empty() {
            problems.push(Problem::NoSignature);
        }
        Err(Error::NotVerified(problems))
    }
}

/// A primary key and what its self-signatures say about signing.
struct Primary {
    key: Key,
    /// The newest valid self-signature's (creation time, key flags).
    self_signature: Option<(u32, Option<u8>)>,
}

impl Primary {
    /// A certification of a user ID (0x10–0x13) or a direct-key signature
    /// (0x1F) by the key itself: kept when valid and newer.
    fn consider(&mut self, sig: &Signature, user_id: Option<&[u8]>) {
        let framed_key = framed(&self.key);
        let uid_frame;
        let parts: Vec<&[u8]> = match (sig.sig_type, user_id) {
            (0x10..=0x13, Some(uid)) => {
                uid_frame = [&[0xb4][..], &(uid.len() as u32).to_be_bytes(), uid].concat();
                vec![&framed_key, &uid_frame]
            }
            (0x1f, _) => vec![&framed_key],
            _ => return,
        };
        let by_self = match (sig.issuer_fingerprint, sig.issuer) {
            (Some(fpr), _) => fpr == self.key.fingerprint,
            (None, Some(id)) => id == self.key.key_id(),
            (None, None) => true,
        };
        if !by_self || sig.hash_algo == 2 {
            return;
        }
        let valid = digest(sig.hash_algo, &parts, &sig.hashed)
            .is_some_and(|digest| check(&self.key, sig, &digest));
        if valid
            && self
                .self_signature
                .is_none_or(|(created, _)| sig.created >= created)
        {
            self.self_signature = Some((sig.created, sig.key_flags));
        }
    }

    /// Into the signers when its newest self-signature lets it sign (no
    /// valid self-signature: gpg does not use the key at all).
    fn flush(self, signers: &mut Vec<Key>) {
        if let Some((_, flags)) = self.self_signature {
            if flags.is_none_or(|f| f & FLAG_SIGN != 0) {
                signers.push(self.key);
            }
        }
    }
}

/// A key packet as it is hashed into key signatures.
fn framed(key: &Key) -> Vec<u8> {
    let mut out = vec![0x99];
    out.extend_from_slice(&(key.body.len() as u16).to_be_bytes());
    out.extend_from_slice(&key.body);
    out
}

/// A subkey binding (0x18) by the primary key, or a primary key binding
/// (0x19, a back-signature) by the subkey: both sign the two keys.
fn verify_binding(primary: &Key, subkey: &Key, sig: &Signature) -> bool {
    let parts = [framed(primary), framed(subkey)];
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let signer = if sig.sig_type == 0x19 {
        subkey
    } else {
        primary
    };
    match digest(sig.hash_algo, &parts, &sig.hashed) {
        Some(digest) => check(signer, sig, &digest),
        None => false,
    }
}

/// Whether a bound subkey may sign: its binding allows signing (key
/// flags with "sign", or none, when the algorithm decides) and it proved,
/// with a valid back-signature, that it agrees to be bound (else anyone
/// could bind another's signing key to their own).
fn signing_subkey(primary: &Key, subkey: &Key, binding: &Signature) -> bool {
    if binding.key_flags.is_some_and(|f| f & FLAG_SIGN == 0) {
        return false;
    }
    binding
        .embedded
        .as_deref()
        .and_then(|body| parse_signature(body).ok())
        .is_some_and(|back| {
            back.sig_type == 0x19
                && back.unknown_critical.is_none()
                && verify_binding(primary, subkey, &back)
        })
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
        let keyring = Keyring::parse(keyring).map_err(|e| e.to_string())?;
        let signed = split_clearsigned(message).map_err(|e| e.to_string())?;
        keyring
            .verify(&signed.canonical, &signed.signature_armor)
            .map_err(|e| e.to_string())
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

    // Hand-built keys and signatures (Ed25519, fixed seeds), each case
    // also given to gpgv: the verdicts must agree.
    mod crafted {
        use super::super::*;
        use ed25519_dalek::{Signer, SigningKey};

        const CREATED: u32 = 1_600_000_000;

        fn packet(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![0xc0 | tag];
            match body.len() {
                n @ 0..=191 => out.push(n as u8),
                n @ 192..=8383 => {
                    let n = n - 192;
                    out.push((n >> 8) as u8 + 192);
                    out.push(n as u8);
                }
                n => {
                    out.push(255);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
            }
            out.extend_from_slice(body);
            out
        }

        fn mpi(bytes: &[u8]) -> Vec<u8> {
            let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
            let bytes = &bytes[start..];
            let bits = match bytes.first() {
                Some(b) => (bytes.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
                None => 0,
            };
            let mut out = (bits as u16).to_be_bytes().to_vec();
            out.extend_from_slice(bytes);
            out
        }

        fn signing_key(seed: u8) -> SigningKey {
            SigningKey::from_bytes(&[seed; 32])
        }

        /// A v4 EdDSA public key packet body.
        fn key_body(key: &SigningKey) -> Vec<u8> {
            let mut body = vec![4];
            body.extend_from_slice(&CREATED.to_be_bytes());
            body.push(22);
            body.push(ED25519_OID.len() as u8);
            body.extend_from_slice(ED25519_OID);
            let mut point = vec![0x40];
            point.extend_from_slice(key.verifying_key().as_bytes());
            body.extend_from_slice(&mpi(&point));
            body
        }

        fn key_of(key: &SigningKey) -> Key {
            parse_key(&key_body(key)).unwrap()
        }

        fn subpacket(kind: u8, data: &[u8]) -> Vec<u8> {
            let mut out = vec![data.len() as u8 + 1, kind];
            out.extend_from_slice(data);
            out
        }

        fn created() -> Vec<u8> {
            subpacket(2, &(CREATED + 100).to_be_bytes())
        }

        /// The issuer's fingerprint and key ID, as gpg writes both.
        fn issuer(key: &SigningKey) -> Vec<u8> {
            let mut fpr = vec![4];
            fpr.extend_from_slice(&key_of(key).fingerprint);
            let mut out = subpacket(33, &fpr);
            out.extend(subpacket(16, &key_of(key).key_id()));
            out
        }

        /// A v4 SHA-256 EdDSA signature body over `parts`.
        fn sign(
            signer: &SigningKey,
            sig_type: u8,
            parts: &[&[u8]],
            hashed: &[u8],
            unhashed: &[u8],
        ) -> Vec<u8> {
            let mut head = vec![4, sig_type, 22, 8];
            head.extend_from_slice(&(hashed.len() as u16).to_be_bytes());
            head.extend_from_slice(hashed);
            let (_, digest) = digest(8, parts, &head).unwrap();
            let signature = signer.sign(&digest).to_bytes();
            let mut body = head;
            body.extend_from_slice(&(unhashed.len() as u16).to_be_bytes());
            body.extend_from_slice(unhashed);
            body.extend_from_slice(&digest[..2]);
            body.extend_from_slice(&mpi(&signature[..32]));
            body.extend_from_slice(&mpi(&signature[32..]));
            body
        }

        const USER_ID: &[u8] = b"Test Archive <archive@test.invalid>";

        /// A primary key with a user ID self-signature carrying `flags`
        /// (`None`: no key flags subpacket, or no self-signature at all
        /// with `self_sig` false).
        fn primary(key: &SigningKey, flags: Option<u8>, self_sig: bool) -> Vec<u8> {
            let body = key_body(key);
            let mut out = packet(TAG_PUBLIC_KEY, &body);
            out.extend(packet(TAG_USER_ID, USER_ID));
            if self_sig {
                let uid = [&[0xb4][..], &(USER_ID.len() as u32).to_be_bytes(), USER_ID].concat();
                let mut hashed = created();
                if let Some(flags) = flags {
                    hashed.extend(subpacket(27, &[flags]));
                }
                hashed.extend(issuer(key));
                let framed = framed(&key_of(key));
                out.extend(packet(
                    TAG_SIGNATURE,
                    &sign(key, 0x13, &[&framed, &uid], &hashed, &[]),
                ));
            }
            out
        }

        /// A subkey bound by `primary` with `flags`; with a back-signature
        /// made by `back_signer` when given.
        fn subkey(
            primary: &SigningKey,
            sub: &SigningKey,
            flags: Option<u8>,
            back_signer: Option<&SigningKey>,
        ) -> Vec<u8> {
            let parts = [framed(&key_of(primary)), framed(&key_of(sub))];
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let mut hashed = created();
            if let Some(flags) = flags {
                hashed.extend(subpacket(27, &[flags]));
            }
            hashed.extend(issuer(primary));
            if let Some(back_signer) = back_signer {
                let mut back_hashed = created();
                back_hashed.extend(issuer(sub));
                let back = sign(back_signer, 0x19, &parts, &back_hashed, &[]);
                let mut embedded = vec![back.len() as u8 + 1, 32];
                assert!(back.len() < 191);
                embedded.extend_from_slice(&back);
                hashed.extend(embedded);
            }
            let mut out = packet(TAG_PUBLIC_SUBKEY, &key_body(sub));
            out.extend(packet(
                TAG_SIGNATURE,
                &sign(primary, 0x18, &parts, &hashed, &[]),
            ));
            out
        }

        const TEXT: &[u8] = b"Origin: Test\r\nSuite: stable";

        fn document(signer: &SigningKey, extra_hashed: &[u8]) -> Vec<u8> {
            let mut hashed = created();
            hashed.extend_from_slice(extra_hashed);
            hashed.extend(issuer(signer));
            packet(TAG_SIGNATURE, &sign(signer, 0x01, &[TEXT], &hashed, &[]))
        }

        fn armor(binary: &[u8]) -> String {
            format!(
                "-----BEGIN PGP SIGNATURE-----\n\n{}\n-----END PGP SIGNATURE-----\n",
                base64::engine::general_purpose::STANDARD.encode(binary)
            )
        }

        fn ours(keyring: &[u8], signature: &[u8]) -> bool {
            Keyring::parse(keyring)
                .and_then(|k| k.verify(TEXT, &armor(signature)))
                .is_ok()
        }

        /// gpgv's verdict on the same keyring, signature and text, and
        /// what it said.
        fn gpgv(keyring: &[u8], signature: &[u8]) -> (bool, String) {
            let dir = crate::rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-gpgv-")
                .unwrap();
            let path = |name: &str| dir.join(name);
            std::fs::write(path("keyring.gpg"), keyring).unwrap();
            std::fs::write(path("sig"), signature).unwrap();
            std::fs::write(path("text"), TEXT).unwrap();
            let output = std::process::Command::new("gpgv")
                .arg("--homedir")
                .arg(&dir)
                .arg("--keyring")
                .arg(path("keyring.gpg"))
                .arg(path("sig"))
                .arg(path("text"))
                .output()
                .expect("gpgv runs (package gpgv, which apt depends on)");
            if std::env::var_os("KEEP_GPGV").is_some() {
                eprintln!("kept {}", dir.display());
            } else {
                std::fs::remove_dir_all(&dir).unwrap();
            }
            (
                output.status.success(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }

        #[test]
        fn key_usage_and_critical_subpackets_as_gpgv() {
            let (p, s, other) = (signing_key(1), signing_key(2), signing_key(3));
            let unknown_critical = subpacket(0x80 | 100, b"x");
            let unknown = subpacket(100, b"x");
            let critical_created = subpacket(0x80 | 2, &(CREATED + 50).to_be_bytes());
            let cases: Vec<(&str, Vec<u8>, Vec<u8>, bool)> = vec![
                (
                    "primary, flags SC",
                    primary(&p, Some(0x03), true),
                    document(&p, &[]),
                    true,
                ),
                (
                    "primary, no flags",
                    primary(&p, None, true),
                    document(&p, &[]),
                    true,
                ),
                (
                    "primary, flags C only",
                    primary(&p, Some(0x01), true),
                    document(&p, &[]),
                    false,
                ),
                (
                    "primary, no self-signature",
                    primary(&p, None, false),
                    document(&p, &[]),
                    false,
                ),
                (
                    "subkey with a back-signature",
                    [
                        primary(&p, Some(0x01), true),
                        subkey(&p, &s, Some(0x02), Some(&s)),
                    ]
                    .concat(),
                    document(&s, &[]),
                    true,
                ),
                (
                    "subkey without a back-signature",
                    [
                        primary(&p, Some(0x01), true),
                        subkey(&p, &s, Some(0x02), None),
                    ]
                    .concat(),
                    document(&s, &[]),
                    false,
                ),
                (
                    "subkey without flags nor back-signature",
                    [primary(&p, Some(0x01), true), subkey(&p, &s, None, None)].concat(),
                    document(&s, &[]),
                    false,
                ),
                (
                    "subkey whose back-signature another key made",
                    [
                        primary(&p, Some(0x01), true),
                        subkey(&p, &s, Some(0x02), Some(&other)),
                    ]
                    .concat(),
                    document(&s, &[]),
                    false,
                ),
                (
                    "subkey bound for encryption only",
                    [
                        primary(&p, Some(0x01), true),
                        subkey(&p, &s, Some(0x0c), Some(&s)),
                    ]
                    .concat(),
                    document(&s, &[]),
                    false,
                ),
                (
                    "unknown critical subpacket",
                    primary(&p, Some(0x03), true),
                    document(&p, &unknown_critical),
                    false,
                ),
                (
                    "unknown subpacket, not critical",
                    primary(&p, Some(0x03), true),
                    document(&p, &unknown),
                    true,
                ),
                (
                    "critical creation time",
                    primary(&p, Some(0x03), true),
                    document(&p, &critical_created),
                    true,
                ),
            ];
            let mut problems = Vec::new();
            for (name, keyring, signature, want) in cases {
                let (got, (reference, said)) =
                    (ours(&keyring, &signature), gpgv(&keyring, &signature));
                if got != want || reference != want {
                    problems.push(format!(
                        "{name}: ours {got}, gpgv {reference}, wanted {want}\n{said}"
                    ));
                }
            }
            assert!(problems.is_empty(), "{}", problems.join("\n"));
        }
    }
}
