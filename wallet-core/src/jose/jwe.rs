//! Compact JWE (RFC 7516) with `alg: ECDH-ES` direct key agreement (RFC 7518 §4.6) and
//! `enc: A128GCM | A256GCM`: the response encryption of `direct_post.jwt` (IT-Wallet 1.4
//! §5.1, HAIP), where the verifier publishes an ephemeral P-256 key and the wallet encrypts
//! its authorization response to it.
//!
//! Decryption validates the sender's `epk` as a point of the recipient's curve before any
//! key agreement (invalid-curve attacks), refuses a non-empty encrypted key (it must be empty
//! for direct agreement) and every other `alg`/`enc`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{EcCurve, JoseError, Jwk, JwkParams, PrivateJwk, b64, json};

/// The largest compact JWE we parse.
pub const MAX_JWE_LEN: usize = 1 << 20;

/// The content encryption algorithms we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncryption {
    /// AES-128-GCM.
    A128Gcm,
    /// AES-256-GCM.
    A256Gcm,
}

impl ContentEncryption {
    /// The `enc` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A128Gcm => "A128GCM",
            Self::A256Gcm => "A256GCM",
        }
    }

    fn key_len(self) -> usize {
        match self {
            Self::A128Gcm => 16,
            Self::A256Gcm => 32,
        }
    }

    fn parse(s: &str) -> Result<Self, JoseError> {
        match s {
            "A128GCM" => Ok(Self::A128Gcm),
            "A256GCM" => Ok(Self::A256Gcm),
            other => Err(JoseError::UnsupportedAlg(other.to_owned())),
        }
    }
}

/// Optional header members of an encryption.
#[derive(Debug, Clone, Default)]
pub struct EncryptOptions {
    /// `kid` of the recipient key (defaults to the recipient JWK's `kid`).
    pub kid: Option<String>,
    /// `apu` (Agreement PartyUInfo), raw bytes.
    pub apu: Option<Vec<u8>>,
    /// `apv` (Agreement PartyVInfo), raw bytes.
    pub apv: Option<Vec<u8>>,
    /// `typ`.
    pub typ: Option<String>,
    /// `cty`.
    pub cty: Option<String>,
}

/// A decrypted JWE: its protected header and the plaintext.
#[derive(Debug, Clone)]
pub struct Decrypted {
    /// The protected header (`alg`, `enc`, `epk`, `kid`, ...).
    pub header: Map<String, Value>,
    /// The plaintext.
    pub plaintext: Vec<u8>,
}

/// A recipient's private P-256 key for ECDH-ES. Zeroized on drop; never printed.
#[derive(Clone)]
pub struct DecryptionKey {
    private: PrivateJwk,
    /// The backend's key, parsed once at construction.
    agreement: std::sync::Arc<super::backend::EcdhP256>,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey").field("public", &self.private.public).finish_non_exhaustive()
    }
}

impl DecryptionKey {
    /// A fresh P-256 key with `use: enc`, `alg: ECDH-ES`, its thumbprint as `kid`.
    pub fn generate() -> Result<Self, JoseError> {
        let super::backend::P256Material { d, x, y } = super::backend::generate_p256()?;
        let mut public = Jwk::ec(EcCurve::P256, x, y)?;
        public.key_use = Some("enc".into());
        public.alg = Some("ECDH-ES".into());
        let kid = public.thumbprint().to_string();
        // `x`/`y` were derived from `d` just now: no need to check that they match.
        let private = PrivateJwk::new(public.with_kid(kid), d)?;
        let agreement = std::sync::Arc::new(super::backend::EcdhP256::new(private.d())?);
        Ok(Self { private, agreement })
    }

    /// A request-specific key (OpenID4VP 1.0 §5.1, IT-Wallet 1.4 §5.1 `client_metadata.jwks`,
    /// §8 "the request-specific `kid` key"), derived from `secret` for `context` (a session's
    /// id): the scalar is HMAC-SHA-256(`secret`, label ‖ `context` ‖ counter), the first
    /// candidate that is a valid P-256 scalar; `kid` as given. Deterministic, so that every
    /// replica sharing `secret` re-derives it when the response comes back, and nothing is
    /// stored per request; distinct per context, so that a key serves one request only. It
    /// is not forward secret against `secret` (as a long-lived key is not).
    pub fn derived(secret: &[u8], context: &[u8], kid: &str) -> Result<Self, JoseError> {
        use hmac::Mac as _;
        for counter in 0u8..16 {
            let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret).map_err(|e| JoseError::InvalidKey(e.to_string()))?;
            mac.update(b"tessera/request-specific-response-key/v1\0");
            mac.update(context);
            mac.update(&[counter]);
            let d = Zeroizing::new(mac.finalize().into_bytes().to_vec());
            let Ok(agreement) = super::backend::EcdhP256::new(&d) else { continue };
            let point = agreement.public_point();
            let (Some(x), Some(y)) = (point.get(1..33), point.get(33..65)) else { continue };
            let mut public = Jwk::ec(EcCurve::P256, x.to_vec(), y.to_vec())?;
            public.key_use = Some("enc".into());
            public.alg = Some("ECDH-ES".into());
            let private = PrivateJwk::new(public.with_kid(kid.to_owned()), d.to_vec())?;
            return Ok(Self { private, agreement: std::sync::Arc::new(agreement) });
        }
        Err(JoseError::InvalidKey("no P-256 scalar derived".into()))
    }

    /// From a private P-256 JWK (checked: `d` must match the public point).
    pub fn from_private_jwk(private: PrivateJwk) -> Result<Self, JoseError> {
        let secret = p256::SecretKey::from_slice(private.d()).map_err(|e| JoseError::InvalidKey(e.to_string()))?;
        let point = private.public.params.ec_point().unwrap_or_default();
        if !matches!(private.public.params, JwkParams::Ec { crv: EcCurve::P256, .. })
            || secret.public_key().to_sec1_bytes().as_ref() != point.as_slice()
        {
            return Err(JoseError::InvalidKey("ECDH-ES key must be a P-256 key whose `d` matches `x`/`y`".into()));
        }
        let agreement = std::sync::Arc::new(super::backend::EcdhP256::new(private.d())?);
        Ok(Self { private, agreement })
    }

    /// The public key to publish (e.g. in a request object's `client_metadata.jwks`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.private.public
    }

    /// The private JWK.
    pub fn private_jwk(&self) -> &PrivateJwk {
        &self.private
    }
}

fn p256_public(jwk: &Jwk) -> Result<p256::PublicKey, JoseError> {
    match &jwk.params {
        JwkParams::Ec { crv: EcCurve::P256, .. } => {
            let point = jwk.params.ec_point().unwrap_or_default();
            p256::PublicKey::from_sec1_bytes(&point).map_err(|_| JoseError::InvalidKey("not a point on P-256".into()))
        }
        other => Err(JoseError::KeyAlgMismatch { key: other.describe(), alg: "ECDH-ES".into() }),
    }
}

/// Concat KDF (NIST SP 800-56A §5.8.1, as RFC 7518 §4.6.2 uses it) for direct agreement:
/// AlgorithmID is the `enc` value.
fn concat_kdf(z: &[u8], enc: ContentEncryption, apu: &[u8], apv: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut h = Sha256::new();
    h.update(1u32.to_be_bytes());
    h.update(z);
    for part in [enc.as_str().as_bytes(), apu, apv] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.update(((enc.key_len() * 8) as u32).to_be_bytes());
    let out = h.finalize();
    Zeroizing::new(out.get(..enc.key_len()).unwrap_or_default().to_vec())
}

fn aead_encrypt(enc: ContentEncryption, key: &[u8], iv: &[u8; 12], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
    let payload = Payload { msg: plain, aad };
    let nonce = Nonce::from(*iv);
    let r = match enc {
        ContentEncryption::A128Gcm => Aes128Gcm::new_from_slice(key).map_err(|_| JoseError::DecryptionFailed)?.encrypt(&nonce, payload),
        ContentEncryption::A256Gcm => Aes256Gcm::new_from_slice(key).map_err(|_| JoseError::DecryptionFailed)?.encrypt(&nonce, payload),
    };
    r.map_err(|_| JoseError::Sign("AES-GCM encryption failed".into()))
}

fn aead_decrypt(enc: ContentEncryption, key: &[u8], iv: &[u8; 12], ct_and_tag: &[u8], aad: &[u8]) -> Result<Vec<u8>, JoseError> {
    let payload = Payload { msg: ct_and_tag, aad };
    let nonce = Nonce::from(*iv);
    let r = match enc {
        ContentEncryption::A128Gcm => Aes128Gcm::new_from_slice(key).map_err(|_| JoseError::DecryptionFailed)?.decrypt(&nonce, payload),
        ContentEncryption::A256Gcm => Aes256Gcm::new_from_slice(key).map_err(|_| JoseError::DecryptionFailed)?.decrypt(&nonce, payload),
    };
    r.map_err(|_| JoseError::DecryptionFailed)
}

fn random<const N: usize>() -> Result<[u8; N], JoseError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| JoseError::Sign(format!("no randomness: {e}")))?;
    Ok(b)
}

/// Encrypts `plaintext` to `recipient` (a P-256 public key) with a fresh ephemeral key.
pub fn encrypt(plaintext: &[u8], recipient: &Jwk, enc: ContentEncryption, opts: &EncryptOptions) -> Result<String, JoseError> {
    let their = p256_public(recipient)?;
    let ephemeral = DecryptionKey::generate()?;
    let shared = ephemeral.agreement.agree(&their)?;
    let apu = opts.apu.clone().unwrap_or_default();
    let apv = opts.apv.clone().unwrap_or_default();
    let cek = concat_kdf(&shared, enc, &apu, &apv);

    let mut epk = Jwk::new(ephemeral.private.public.params.clone());
    epk.extra.clear();
    let mut header = Map::new();
    header.insert("alg".into(), "ECDH-ES".into());
    header.insert("enc".into(), enc.as_str().into());
    header.insert("epk".into(), serde_json::to_value(&epk).map_err(|e| JoseError::InvalidKey(e.to_string()))?);
    if let Some(kid) = opts.kid.clone().or_else(|| recipient.kid.clone()) {
        header.insert("kid".into(), kid.into());
    }
    if let Some(a) = &opts.apu {
        header.insert("apu".into(), b64::encode(a).into());
    }
    if let Some(a) = &opts.apv {
        header.insert("apv".into(), b64::encode(a).into());
    }
    if let Some(t) = &opts.typ {
        header.insert("typ".into(), t.clone().into());
    }
    if let Some(t) = &opts.cty {
        header.insert("cty".into(), t.clone().into());
    }
    let header_b64 = b64::encode(Value::Object(header).to_string());
    let iv = random::<12>()?;
    let mut ct = aead_encrypt(enc, &cek, &iv, plaintext, header_b64.as_bytes())?;
    let tag = ct.split_off(ct.len().saturating_sub(16));
    Ok(format!("{header_b64}..{}.{}.{}", b64::encode(iv), b64::encode(ct), b64::encode(tag)))
}

/// Decrypts a compact JWE made with ECDH-ES and A128GCM/A256GCM to `key`.
pub fn decrypt(compact: &str, key: &DecryptionKey) -> Result<Decrypted, JoseError> {
    let compact = compact.trim();
    if compact.len() > MAX_JWE_LEN {
        return Err(JoseError::TooLarge { what: "JWE", len: compact.len(), limit: MAX_JWE_LEN });
    }
    let mut parts = compact.split('.');
    let (Some(h), Some(ek), Some(iv), Some(ct), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JoseError::MalformedCompact("a compact JWE has exactly five parts"));
    };
    let header_bytes = b64::decode(h).map_err(|_| JoseError::BadBase64("JWE header"))?;
    let header = json::object_strict(&header_bytes, "JWE header")?;
    match header.get("alg").and_then(Value::as_str) {
        Some("ECDH-ES") => {}
        Some(other) => return Err(JoseError::UnsupportedAlg(other.to_owned())),
        None => return Err(JoseError::MalformedCompact("JWE header has no `alg`")),
    }
    let enc = ContentEncryption::parse(header.get("enc").and_then(Value::as_str).unwrap_or_default())?;
    if header.contains_key("crit") {
        return Err(JoseError::UnsupportedCrit(header.get("crit").map(Value::to_string).unwrap_or_default()));
    }
    if !ek.is_empty() {
        return Err(JoseError::MalformedCompact("ECDH-ES direct agreement has an empty encrypted key"));
    }
    let epk: Jwk = serde_json::from_value(header.get("epk").cloned().unwrap_or(Value::Null))
        .map_err(|e| JoseError::BadJson { part: "JWE epk", detail: e.to_string() })?;
    let their = p256_public(&epk)?;
    let b64_member = |name: &'static str| -> Result<Vec<u8>, JoseError> {
        match header.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => b64::decode(s).map_err(|_| JoseError::BadBase64(name)),
            Some(_) => Err(JoseError::BadJson { part: "JWE header", detail: format!("`{name}` must be a string") }),
        }
    };
    let (apu, apv) = (b64_member("apu")?, b64_member("apv")?);
    let iv: [u8; 12] = b64::decode(iv)
        .map_err(|_| JoseError::BadBase64("JWE IV"))?
        .try_into()
        .map_err(|_| JoseError::MalformedCompact("the GCM IV must be 96 bits"))?;
    let mut ct = b64::decode(ct).map_err(|_| JoseError::BadBase64("JWE ciphertext"))?;
    let tag = b64::decode(tag).map_err(|_| JoseError::BadBase64("JWE tag"))?;
    if tag.len() != 16 {
        return Err(JoseError::MalformedCompact("the GCM tag must be 128 bits"));
    }
    ct.extend_from_slice(&tag);
    let shared = key.agreement.agree(&their)?;
    let cek = concat_kdf(&shared, enc, &apu, &apv);
    let plaintext = aead_decrypt(enc, &cek, &iv, &ct, h.as_bytes())?;
    Ok(Decrypted { header, plaintext })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice_bob() -> (PrivateJwk, PrivateJwk) {
        // RFC 7518 Appendix C: Alice's ephemeral key and Bob's key.
        let alice = PrivateJwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0","y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps","d":"0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"}"#).unwrap();
        let bob = PrivateJwk::from_json(r#"{"kty":"EC","crv":"P-256","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck","d":"VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"}"#).unwrap();
        (alice, bob)
    }

    /// RFC 7518 Appendix C: ECDH-ES with A128GCM, apu "Alice", apv "Bob" derives
    /// `VqqN6vgjbSBcIijNcacQGg`.
    #[test]
    fn rfc7518_appendix_c_concat_kdf() {
        let (alice, bob) = alice_bob();
        let a = p256::SecretKey::from_slice(alice.d()).unwrap();
        let b = p256_public(&bob.public).unwrap();
        let z = p256::ecdh::diffie_hellman(a.to_nonzero_scalar(), b.as_affine());
        let cek = concat_kdf(z.raw_secret_bytes().as_slice(), ContentEncryption::A128Gcm, b"Alice", b"Bob");
        assert_eq!(b64::encode(&*cek), "VqqN6vgjbSBcIijNcacQGg");
    }

    /// The backend's agreement (aws-lc with the `aws-lc` feature) derives the same key.
    #[test]
    fn backend_agreement_matches_rfc7518_appendix_c() {
        let (alice, bob) = alice_bob();
        let z = super::super::backend::ecdh_p256(alice.d(), &p256_public(&bob.public).unwrap()).unwrap();
        let cek = concat_kdf(&z, ContentEncryption::A128Gcm, b"Alice", b"Bob");
        assert_eq!(b64::encode(&*cek), "VqqN6vgjbSBcIijNcacQGg");
    }

    #[test]
    fn round_trip_both_encs_with_kid_and_party_info() {
        let key = DecryptionKey::generate().unwrap();
        for enc in [ContentEncryption::A128Gcm, ContentEncryption::A256Gcm] {
            let opts = EncryptOptions { apu: Some(b"wallet".to_vec()), apv: Some(b"nonce-123".to_vec()), ..Default::default() };
            let jwe = encrypt(br#"{"vp_token":{}}"#, key.public_jwk(), enc, &opts).unwrap();
            let d = decrypt(&jwe, &key).unwrap();
            assert_eq!(d.plaintext, br#"{"vp_token":{}}"#);
            assert_eq!(d.header["enc"], enc.as_str());
            assert_eq!(d.header["kid"].as_str(), key.public_jwk().kid.as_deref());
        }
    }

    /// Request-specific keys: the same secret and context give the same key (another replica
    /// re-derives it), another context or secret another key; the key round-trips and loads
    /// back from its JWK (its `d` matches its point); its `kid` is the one given.
    #[test]
    fn derived_keys_are_deterministic_and_distinct() {
        let a = DecryptionKey::derived(b"secret one", b"session-1", "rk:session-1").unwrap();
        let again = DecryptionKey::derived(b"secret one", b"session-1", "rk:session-1").unwrap();
        assert_eq!(a.public_jwk(), again.public_jwk());
        assert_eq!(a.public_jwk().kid.as_deref(), Some("rk:session-1"));
        assert_eq!((a.public_jwk().key_use.as_deref(), a.public_jwk().alg.as_deref()), (Some("enc"), Some("ECDH-ES")));
        let other_context = DecryptionKey::derived(b"secret one", b"session-2", "rk:session-1").unwrap();
        let other_secret = DecryptionKey::derived(b"secret two", b"session-1", "rk:session-1").unwrap();
        assert_ne!(a.public_jwk().params, other_context.public_jwk().params);
        assert_ne!(a.public_jwk().params, other_secret.public_jwk().params);
        DecryptionKey::from_private_jwk(a.private_jwk().clone()).unwrap();
        let jwe = encrypt(b"{}", a.public_jwk(), ContentEncryption::A256Gcm, &EncryptOptions::default()).unwrap();
        assert_eq!(decrypt(&jwe, &again).unwrap().plaintext, b"{}");
        assert!(decrypt(&jwe, &other_context).is_err(), "another request's key does not open it");
    }

    /// A key loaded from its JWK (as a service loads its stored key) decrypts what was
    /// encrypted to it; one whose `d` is another key's is refused at load.
    #[test]
    fn a_key_loaded_from_its_jwk_decrypts_and_a_mismatched_d_is_refused() {
        let (alice, bob) = alice_bob();
        let key = DecryptionKey::from_private_jwk(bob.clone()).unwrap();
        let jwe = encrypt(b"to bob", &bob.public, ContentEncryption::A128Gcm, &EncryptOptions::default()).unwrap();
        assert_eq!(decrypt(&jwe, &key).unwrap().plaintext, b"to bob");
        assert_eq!(decrypt(&jwe, &key.clone()).unwrap().plaintext, b"to bob", "a clone shares the parsed key");
        let other = DecryptionKey::from_private_jwk(alice.clone()).unwrap();
        assert_eq!(decrypt(&jwe, &other).unwrap_err(), JoseError::DecryptionFailed);
        let mixed = PrivateJwk::new(bob.public.clone(), alice.d().to_vec()).unwrap();
        assert!(matches!(DecryptionKey::from_private_jwk(mixed), Err(JoseError::InvalidKey(_))));
    }

    fn tamper(jwe: &str, part: usize) -> String {
        let mut parts: Vec<String> = jwe.split('.').map(str::to_owned).collect();
        let mut bytes = b64::decode(&parts[part]).unwrap();
        bytes[0] ^= 1;
        parts[part] = b64::encode(bytes);
        parts.join(".")
    }

    #[test]
    fn tampering_and_wrong_key_fail_to_decrypt() {
        let key = DecryptionKey::generate().unwrap();
        let jwe = encrypt(b"secret", key.public_jwk(), ContentEncryption::A256Gcm, &EncryptOptions::default()).unwrap();
        for part in [2, 3, 4] {
            assert_eq!(decrypt(&tamper(&jwe, part), &key).unwrap_err(), JoseError::DecryptionFailed, "part {part}");
        }
        // The header is authenticated: re-encode it with an extra member.
        let mut parts: Vec<&str> = jwe.split('.').collect();
        let mut h: Map<String, Value> = serde_json::from_slice(&b64::decode(parts[0]).unwrap()).unwrap();
        h.insert("x".into(), Value::from(1));
        let h = b64::encode(Value::Object(h).to_string());
        parts[0] = &h;
        assert_eq!(decrypt(&parts.join("."), &key).unwrap_err(), JoseError::DecryptionFailed);
        let other = DecryptionKey::generate().unwrap();
        assert_eq!(decrypt(&jwe, &other).unwrap_err(), JoseError::DecryptionFailed);
    }

    #[test]
    fn malformed_and_unsupported_inputs() {
        let key = DecryptionKey::generate().unwrap();
        let jwe = encrypt(b"x", key.public_jwk(), ContentEncryption::A128Gcm, &EncryptOptions::default()).unwrap();
        let parts: Vec<&str> = jwe.split('.').collect();
        let with_ek = format!("{}.AAAA.{}.{}.{}", parts[0], parts[2], parts[3], parts[4]);
        assert!(matches!(decrypt(&with_ek, &key), Err(JoseError::MalformedCompact(_))));
        assert!(matches!(decrypt("a.b.c", &key), Err(JoseError::MalformedCompact(_))));
        let header = |h: &str| format!("{}..{}.{}.{}", b64::encode(h), parts[2], parts[3], parts[4]);
        assert_eq!(decrypt(&header(r#"{"alg":"RSA1_5","enc":"A128GCM"}"#), &key).unwrap_err(), JoseError::UnsupportedAlg("RSA1_5".into()));
        assert_eq!(
            decrypt(&header(r#"{"alg":"ECDH-ES","enc":"A128CBC-HS256"}"#), &key).unwrap_err(),
            JoseError::UnsupportedAlg("A128CBC-HS256".into())
        );
        assert_eq!(
            decrypt(&header(r#"{"alg":"ECDH-ES","alg":"ECDH-ES","enc":"A128GCM"}"#), &key).unwrap_err(),
            JoseError::DuplicateHeader("alg".into())
        );
        // An epk that is not on the curve (invalid-curve attack) is refused before agreement.
        let off_curve = r#"{"alg":"ECDH-ES","enc":"A128GCM","epk":{"kty":"EC","crv":"P-256","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#;
        assert_eq!(decrypt(&header(off_curve), &key).unwrap_err(), JoseError::InvalidKey("not a point on P-256".into()));
        let p384 = r#"{"alg":"ECDH-ES","enc":"A128GCM","epk":{"kty":"EC","crv":"P-384","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#;
        assert!(matches!(decrypt(&header(p384), &key), Err(JoseError::KeyAlgMismatch { .. })));
    }
}
