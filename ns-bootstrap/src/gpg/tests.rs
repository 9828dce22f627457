//! The keyring and verification checks, against gpg-made data and
//! against gpgv on hand-built keys.

use super::*;
use crate::release::split_clearsigned;

// Made once with gpg 2.2: an RSA-2048 primary with an Ed25519 signing
// subkey (signs.asc), and an unrelated Ed25519 key (other.asc).
const KEYRING: &[u8] = include_bytes!("../../testdata/keyring.gpg");
const OTHER: &[u8] = include_bytes!("../../testdata/other.asc");
const SIGNED_SUBKEY: &str = include_str!("../../testdata/signed-by-subkey.txt");
const SIGNED_PRIMARY: &str = include_str!("../../testdata/signed-by-primary.txt");

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
    use super::super::packet::ED25519_OID;
    use super::super::*;
    use base64::Engine;
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
        let dir =
            crate::rooted::make_private_dir(&std::env::temp_dir(), "ns-bootstrap-gpgv-").unwrap();
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
            let (got, (reference, said)) = (ours(&keyring, &signature), gpgv(&keyring, &signature));
            if got != want || reference != want {
                problems.push(format!(
                    "{name}: ours {got}, gpgv {reference}, wanted {want}\n{said}"
                ));
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    /// A signature naming its key by fingerprint alone (as Sequoia signs)
    /// from a key the keyring lacks: the error names the key ID, the
    /// fingerprint's last eight bytes, not zeros.
    #[test]
    fn an_unknown_key_named_by_fingerprint_only_is_named() {
        let (signer, other) = (signing_key(4), signing_key(5));
        let mut fpr = vec![4];
        fpr.extend_from_slice(&key_of(&signer).fingerprint);
        let mut hashed = created();
        hashed.extend(subpacket(33, &fpr));
        let signature = packet(TAG_SIGNATURE, &sign(&signer, 0x01, &[TEXT], &hashed, &[]));
        let error = Keyring::parse(&primary(&other, Some(0x03), true))
            .and_then(|k| k.verify(TEXT, &armor(&signature)))
            .unwrap_err()
            .to_string();
        let id = hex(&key_of(&signer).key_id());
        assert!(error.contains(&format!("unknown key {id}")), "{error}");
        assert_ne!(id, "0000000000000000");
    }

    /// Keys are checked when a signature names them: a keyring whose
    /// only key may not sign (flags: certify only) still parses, and a
    /// signature from it is refused as a keyring without a usable key,
    /// as before the checks were made lazy; a key that signs next to one
    /// whose self-signature is bad is found.
    #[test]
    fn keys_are_checked_when_named() {
        let (certifier, signer) = (signing_key(6), signing_key(7));
        let keyring = Keyring::parse(&primary(&certifier, Some(0x01), true)).unwrap();
        let error = keyring
            .verify(TEXT, &armor(&document(&certifier, &[])))
            .unwrap_err();
        assert_eq!(error, Error::NoUsableKey);
        assert!(!keyring.has_signer());
        let mut both = primary(&certifier, Some(0x03), false);
        both.extend(primary(&signer, Some(0x03), true));
        let keyring = Keyring::parse(&both).unwrap();
        assert_eq!(
            keyring.verify(TEXT, &armor(&document(&signer, &[]))),
            Ok(key_of(&signer).fingerprint)
        );
        let error = keyring
            .verify(TEXT, &armor(&document(&certifier, &[])))
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown key"), "{error}");
    }
}
