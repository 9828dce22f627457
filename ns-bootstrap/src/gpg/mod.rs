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
//!
//! Files: `packet.rs` reads the packets (and armor), `verify.rs` checks
//! signatures and the bindings that make a subkey a signer; this module
//! decides, from those, which keys of a keyring sign and whether a
//! document's signature is good.

mod packet;
#[cfg(test)]
mod tests;
mod verify;

pub use packet::{dearmor, Key};
use packet::{
    packets, parse_key, parse_signature, Signature, FLAG_SIGN, TAG_PUBLIC_KEY, TAG_PUBLIC_SUBKEY,
    TAG_SIGNATURE, TAG_USER_ATTRIBUTE, TAG_USER_ID,
};
use verify::{check, digest, framed, signing_subkey, verify_binding};

/// The keys of a keyring that could sign: primary keys and subkeys, each
/// with what would make it a signer. That is checked only for the keys a
/// signature names (a keyring such as Debian's holds dozens of
/// self-signatures and bindings, each an RSA check), once per key.
#[derive(Debug)]
pub struct Keyring {
    candidates: Vec<Candidate>,
}

#[derive(Debug)]
struct Candidate {
    key: Key,
    proof: Proof,
    /// Whether `proof` holds, once checked.
    signs: std::cell::OnceCell<bool>,
}

/// A primary key's self-signatures (user ID certifications with the
/// user ID each certifies, direct-key signatures), in keyring order.
type SelfSignatures = Vec<(Signature, Option<Vec<u8>>)>;

#[derive(Debug)]
enum Proof {
    Primary(SelfSignatures),
    /// A subkey's binding signatures from its primary key.
    Subkey {
        primary: Key,
        bindings: Vec<Signature>,
    },
}

impl Candidate {
    /// Whether the key may sign, as gpgv decides (see the module's
    /// documentation).
    fn signs(&self) -> bool {
        *self.signs.get_or_init(|| match &self.proof {
            Proof::Primary(self_signatures) => {
                let mut primary = Primary {
                    key: &self.key,
                    self_signature: None,
                };
                for (sig, user_id) in self_signatures {
                    primary.consider(sig, user_id.as_deref());
                }
                primary.signs()
            }
            Proof::Subkey { primary, bindings } => bindings.iter().any(|sig| {
                verify_binding(primary, &self.key, sig) && signing_subkey(primary, &self.key, sig)
            }),
        })
    }
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
        let mut candidates = Vec::new();
        // The primary key being read, its self-signatures, and the subkey
        // being read with its bindings.
        let mut primary: Option<(Key, SelfSignatures)> = None;
        let mut subkey: Option<(Key, Vec<Signature>)> = None;
        let mut user_id: Option<Vec<u8>> = None;
        // Candidates in the order signers had before: a primary's subkeys,
        // then the primary.
        let flush_subkey = |candidates: &mut Vec<Candidate>,
                            subkey: &mut Option<(Key, Vec<Signature>)>,
                            primary: &Option<(Key, _)>| {
            if let (Some((key, bindings)), Some((primary, _))) = (subkey.take(), primary) {
                if !bindings.is_empty() {
                    candidates.push(Candidate {
                        key,
                        proof: Proof::Subkey {
                            primary: primary.clone(),
                            bindings,
                        },
                        signs: Default::default(),
                    });
                }
            }
        };
        let flush_primary = |candidates: &mut Vec<Candidate>, primary: Option<(Key, Vec<_>)>| {
            if let Some((key, self_signatures)) = primary {
                if !self_signatures.is_empty() {
                    candidates.push(Candidate {
                        key,
                        proof: Proof::Primary(self_signatures),
                        signs: Default::default(),
                    });
                }
            }
        };
        for (tag, body) in packets(data)? {
            match tag {
                TAG_PUBLIC_KEY => {
                    flush_subkey(&mut candidates, &mut subkey, &primary);
                    flush_primary(&mut candidates, primary.take());
                    primary = parse_key(body).ok().map(|key| (key, Vec::new()));
                    user_id = None;
                }
                TAG_USER_ID => user_id = Some(body.to_vec()),
                TAG_USER_ATTRIBUTE => user_id = None,
                TAG_PUBLIC_SUBKEY => {
                    flush_subkey(&mut candidates, &mut subkey, &primary);
                    user_id = None;
                    subkey = parse_key(body).ok().map(|key| (key, Vec::new()));
                }
                TAG_SIGNATURE => {
                    let Some((primary_key, self_signatures)) = &mut primary else {
                        continue;
                    };
                    let Ok(sig) = parse_signature(body) else {
                        continue;
                    };
                    if sig.unknown_critical.is_some() {
                        continue;
                    }
                    match &mut subkey {
                        Some((_, bindings)) => {
                            if sig.sig_type == 0x18 {
                                bindings.push(sig);
                            }
                        }
                        None => {
                            if Primary::may_be_self_signature(primary_key, &sig) {
                                self_signatures.push((sig, user_id.clone()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        flush_subkey(&mut candidates, &mut subkey, &primary);
        flush_primary(&mut candidates, primary.take());
        if candidates.is_empty() {
            return Err(Error::NoUsableKey);
        }
        Ok(Keyring { candidates })
    }

    /// Whether any key of the keyring may sign (checking every one).
    pub fn has_signer(&self) -> bool {
        self.candidates.iter().any(Candidate::signs)
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
                .candidates
                .iter()
                .filter(|candidate| {
                    let key = &candidate.key;
                    match (sig.issuer_fingerprint, sig.issuer) {
                        (Some(fpr), _) => key.fingerprint == fpr,
                        (None, Some(id)) => key.key_id() == id,
                        (None, None) => true,
                    }
                })
                .filter(|candidate| candidate.signs())
                .map(|candidate| &candidate.key)
                .collect();
            if candidates.is_empty() {
                // A v4 key ID is the fingerprint's last eight bytes: a
                // signature naming only the fingerprint still names a key.
                let named = sig.issuer.or_else(|| {
                    sig.issuer_fingerprint
                        .and_then(|fpr| fpr[12..].try_into().ok())
                });
                problems.push(Problem::UnknownKey(named.unwrap_or_default()));
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
        // A keyring none of whose keys may sign says so, whatever the
        // signature (checked only now that the verdict is a failure).
        if !self.has_signer() {
            return Err(Error::NoUsableKey);
        }
        if problems.is_empty() {
            problems.push(Problem::NoSignature);
        }
        Err(Error::NotVerified(problems))
    }
}

/// A primary key and what its self-signatures say about signing.
struct Primary<'k> {
    key: &'k Key,
    /// The newest valid self-signature's (creation time, key flags).
    self_signature: Option<(u32, Option<u8>)>,
}

impl Primary<'_> {
    /// Whether `sig` could be a self-signature that [`Primary::consider`]
    /// weighs: a certification of a user ID (0x10–0x13) or a direct-key
    /// signature (0x1F), issued by the key itself, not with SHA-1.
    fn may_be_self_signature(key: &Key, sig: &Signature) -> bool {
        let by_self = match (sig.issuer_fingerprint, sig.issuer) {
            (Some(fpr), _) => fpr == key.fingerprint,
            (None, Some(id)) => id == key.key_id(),
            (None, None) => true,
        };
        matches!(sig.sig_type, 0x10..=0x13 | 0x1f) && by_self && sig.hash_algo != 2
    }

    /// A self-signature (one [`Primary::may_be_self_signature`] let into
    /// the keyring): kept when valid and newer.
    fn consider(&mut self, sig: &Signature, user_id: Option<&[u8]>) {
        let framed_key = framed(self.key);
        let uid_frame;
        let parts: Vec<&[u8]> = match (sig.sig_type, user_id) {
            (0x10..=0x13, Some(uid)) => {
                uid_frame = [&[0xb4][..], &(uid.len() as u32).to_be_bytes(), uid].concat();
                vec![&framed_key, &uid_frame]
            }
            (0x1f, _) => vec![&framed_key],
            _ => return,
        };
        let valid = digest(sig.hash_algo, &parts, &sig.hashed)
            .is_some_and(|digest| check(self.key, sig, &digest));
        if valid
            && self
                .self_signature
                .is_none_or(|(created, _)| sig.created >= created)
        {
            self.self_signature = Some((sig.created, sig.key_flags));
        }
    }

    /// Whether its newest self-signature lets it sign (no valid
    /// self-signature: gpg does not use the key at all).
    fn signs(&self) -> bool {
        self.self_signature
            .is_some_and(|(_, flags)| flags.is_none_or(|f| f & FLAG_SIGN != 0))
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
