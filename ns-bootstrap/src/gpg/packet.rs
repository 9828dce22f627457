//! OpenPGP's binary and armored forms (RFC 4880 §4, §5, §6): packet
//! framing, MPIs, key packets (with their fingerprints) and signature
//! packets with their subpackets, and ASCII armor. Pure functions over
//! untrusted bytes: whatever is cut short or malformed is an [`Error`],
//! never a panic.

use base64::Engine;
use sha1::Sha1;
use sha2::Digest;

use super::Error;

/// A public key or subkey packet, parsed.
#[derive(Debug, Clone)]
pub struct Key {
    /// The packet body, hashed into binding signatures.
    pub(super) body: Vec<u8>,
    pub fingerprint: [u8; 20],
    pub(super) material: KeyMaterial,
}

#[derive(Debug, Clone)]
pub(super) enum KeyMaterial {
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

#[derive(Debug, Clone)]
pub(super) struct Signature {
    pub(super) sig_type: u8,
    pub(super) pk_algo: u8,
    pub(super) hash_algo: u8,
    /// Version through the end of the hashed subpackets.
    pub(super) hashed: Vec<u8>,
    pub(super) issuer: Option<[u8; 8]>,
    pub(super) issuer_fingerprint: Option<[u8; 20]>,
    pub(super) key_flags: Option<u8>,
    /// The signature creation time (seconds), from the hashed area.
    pub(super) created: u32,
    /// An embedded signature (a subkey's back-signature), as a packet body.
    pub(super) embedded: Option<Vec<u8>>,
    /// A critical hashed subpacket of a type gpg does not handle.
    pub(super) unknown_critical: Option<u8>,
    pub(super) left16: [u8; 2],
    pub(super) mpis: Vec<Vec<u8>>,
}

pub(super) const TAG_SIGNATURE: u8 = 2;
pub(super) const TAG_PUBLIC_KEY: u8 = 6;
pub(super) const TAG_USER_ID: u8 = 13;
pub(super) const TAG_PUBLIC_SUBKEY: u8 = 14;
pub(super) const TAG_USER_ATTRIBUTE: u8 = 17;

/// The key flag that allows signing data.
pub(super) const FLAG_SIGN: u8 = 0x02;

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
pub(super) fn packets(mut data: &[u8]) -> Result<Vec<(u8, &[u8])>, Error> {
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

pub(super) const ED25519_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01];

pub(super) fn parse_key(body: &[u8]) -> Result<Key, Error> {
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

pub(super) fn parse_signature(body: &[u8]) -> Result<Signature, Error> {
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
