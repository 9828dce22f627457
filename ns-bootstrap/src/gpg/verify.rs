//! Whether a signature is good: the v4 digest of what it signs, the RSA
//! (PKCS #1 v1.5) and EdDSA checks, and the two binding signatures
//! (subkey binding, back-signature) that make a subkey a signer.

use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};

use super::packet::{parse_signature, Key, KeyMaterial, Signature, FLAG_SIGN};

/// A key packet as it is hashed into key signatures.
pub(super) fn framed(key: &Key) -> Vec<u8> {
    let mut out = vec![0x99];
    out.extend_from_slice(&(key.body.len() as u16).to_be_bytes());
    out.extend_from_slice(&key.body);
    out
}

/// A subkey binding (0x18) by the primary key, or a primary key binding
/// (0x19, a back-signature) by the subkey: both sign the two keys.
pub(super) fn verify_binding(primary: &Key, subkey: &Key, sig: &Signature) -> bool {
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
pub(super) fn signing_subkey(primary: &Key, subkey: &Key, binding: &Signature) -> bool {
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
pub(super) fn digest(algo: u8, data: &[&[u8]], hashed: &[u8]) -> Option<(u8, Vec<u8>)> {
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

pub(super) fn check(key: &Key, sig: &Signature, (algo, digest): &(u8, Vec<u8>)) -> bool {
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
