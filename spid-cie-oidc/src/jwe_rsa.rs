//! Compact JWE with RSA key encryption (RFC 7516, RFC 7518 §4.3 and §5.2), what SPID/CIE OIDC
//! §B.3/§B.4 require for UserInfo: `alg` `RSA-OAEP` or `RSA-OAEP-256`, `enc` `A128CBC-HS256`
//! or `A256CBC-HS512`. wallet-core's JWE is ECDH-ES only, so this lives here, on aws-lc-rs.
//!
//! Refused: `RSA1_5` (MUST NOT, §B.4), any other `alg`/`enc`, `zip`, `crit`, duplicate header
//! members, inputs over [`MAX_JWE_LEN`], RSA keys under 2048 bits. A failed decryption says
//! nothing about which step failed.

use aws_lc_rs::cipher::{AES_128, AES_256, DecryptionContext, EncryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents};
use serde_json::{Map, Value};
use wallet_core::jose::jwk::JwkParams;
use wallet_core::jose::{Jwk, b64};

use crate::keys::{RsaKey, random_bytes};

/// The largest compact JWE we parse (1 MiB).
pub const MAX_JWE_LEN: usize = 1 << 20;

/// Why a JWE was not produced or not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JweError {
    /// Not five base64url parts, a bad header, or too large.
    #[error("malformed JWE: {0}")]
    Malformed(&'static str),
    /// A header member repeats.
    #[error("duplicate JWE header member `{0}`")]
    DuplicateHeader(String),
    /// `alg` is not RSA-OAEP / RSA-OAEP-256.
    #[error("JWE alg `{0}` not accepted")]
    UnsupportedAlg(String),
    /// `enc` is not A128CBC-HS256 / A256CBC-HS512.
    #[error("JWE enc `{0}` not accepted")]
    UnsupportedEnc(String),
    /// `zip` or `crit` present.
    #[error("JWE header member `{0}` not supported")]
    UnsupportedHeader(&'static str),
    /// The header's `kid` names another key than ours.
    #[error("JWE encrypted to another key (kid {0})")]
    WrongKid(String),
    /// Wrong key, tampered ciphertext, tag mismatch.
    #[error("JWE decryption failed")]
    DecryptionFailed,
    /// The recipient key is not a usable RSA key.
    #[error("invalid recipient key: {0}")]
    InvalidKey(String),
    /// The crypto library failed while encrypting.
    #[error("JWE encryption failed")]
    EncryptionFailed,
}

/// RSA key management algorithm (RFC 7518 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlg {
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 (the SPID/CIE default, `RSA-OAEP`).
    RsaOaep,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

impl KeyAlg {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RsaOaep => "RSA-OAEP",
            Self::RsaOaep256 => "RSA-OAEP-256",
        }
    }
    /// Parses a registered name; `RSA1_5` and the rest are refused.
    pub fn parse(s: &str) -> Result<Self, JweError> {
        match s {
            "RSA-OAEP" => Ok(Self::RsaOaep),
            "RSA-OAEP-256" => Ok(Self::RsaOaep256),
            other => Err(JweError::UnsupportedAlg(other.to_owned())),
        }
    }
    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Self::RsaOaep => &OAEP_SHA1_MGF1SHA1,
            Self::RsaOaep256 => &OAEP_SHA256_MGF1SHA256,
        }
    }
}

/// Content encryption (RFC 7518 §5.2): AES-CBC with HMAC-SHA2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Enc {
    /// AES-128-CBC + HMAC-SHA-256 truncated to 128 bits.
    A128CbcHs256,
    /// AES-256-CBC + HMAC-SHA-512 truncated to 256 bits (the SPID/CIE default).
    A256CbcHs512,
}

impl Enc {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A128CbcHs256 => "A128CBC-HS256",
            Self::A256CbcHs512 => "A256CBC-HS512",
        }
    }
    /// Parses a registered name.
    pub fn parse(s: &str) -> Result<Self, JweError> {
        match s {
            "A128CBC-HS256" => Ok(Self::A128CbcHs256),
            "A256CBC-HS512" => Ok(Self::A256CbcHs512),
            other => Err(JweError::UnsupportedEnc(other.to_owned())),
        }
    }
    /// CEK length: MAC key ‖ ENC key.
    fn key_len(self) -> usize {
        match self {
            Self::A128CbcHs256 => 32,
            Self::A256CbcHs512 => 64,
        }
    }
    fn tag(self, mac_key: &[u8], aad: &[u8], iv: &[u8], ct: &[u8]) -> Vec<u8> {
        let (alg, len) = match self {
            Self::A128CbcHs256 => (hmac::HMAC_SHA256, 16),
            Self::A256CbcHs512 => (hmac::HMAC_SHA512, 32),
        };
        let key = hmac::Key::new(alg, mac_key);
        let mut ctx = hmac::Context::with_key(&key);
        ctx.update(aad);
        ctx.update(iv);
        ctx.update(ct);
        let al = u64::try_from(aad.len()).unwrap_or(u64::MAX).saturating_mul(8);
        ctx.update(&al.to_be_bytes());
        ctx.sign().as_ref().get(..len).unwrap_or_default().to_vec()
    }
    fn cipher_key(self, enc_key: &[u8]) -> Result<UnboundCipherKey, ()> {
        let alg = match self {
            Self::A128CbcHs256 => &AES_128,
            Self::A256CbcHs512 => &AES_256,
        };
        UnboundCipherKey::new(alg, enc_key).map_err(|_| ())
    }
}

/// Strips the leading zero bytes aws-lc refuses in RSA public components.
fn minimal(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

/// Encrypts `plaintext` to the RSA key `recipient`. The protected header is
/// `{"alg", "enc", "kid" (the recipient's, if any), "cty" (if given)}`.
pub fn encrypt(plaintext: &[u8], recipient: &Jwk, alg: KeyAlg, enc: Enc, cty: Option<&str>) -> Result<String, JweError> {
    let JwkParams::Rsa { n, e } = &recipient.params else {
        return Err(JweError::InvalidKey("not an RSA key".into()));
    };
    if minimal(n).len() < 256 {
        return Err(JweError::InvalidKey("RSA keys must have at least 2048 bits".into()));
    }
    let public: PublicEncryptingKey = PublicKeyComponents { n: minimal(n), e: minimal(e) }
        .try_into()
        .map_err(|_| JweError::InvalidKey("not a valid RSA public key".into()))?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| JweError::InvalidKey("not a valid RSA public key".into()))?;

    let mut header = Map::new();
    header.insert("alg".into(), Value::from(alg.as_str()));
    header.insert("enc".into(), Value::from(enc.as_str()));
    if let Some(kid) = &recipient.kid {
        header.insert("kid".into(), Value::from(kid.clone()));
    }
    if let Some(cty) = cty {
        header.insert("cty".into(), Value::from(cty));
    }
    let header_b64 = b64::encode(Value::Object(header).to_string());

    let cek = random_bytes::<64>().map_err(|_| JweError::EncryptionFailed)?;
    let cek = cek.get(..enc.key_len()).unwrap_or_default();
    let mut encrypted_key = vec![0u8; oaep.ciphertext_size()];
    let ek = oaep.encrypt(alg.oaep(), cek, &mut encrypted_key, None).map_err(|_| JweError::EncryptionFailed)?.to_vec();

    let (mac_key, enc_key) = cek.split_at(enc.key_len() / 2);
    let iv = random_bytes::<16>().map_err(|_| JweError::EncryptionFailed)?;
    let key = PaddedBlockEncryptingKey::cbc_pkcs7(enc.cipher_key(enc_key).map_err(|()| JweError::EncryptionFailed)?)
        .map_err(|_| JweError::EncryptionFailed)?;
    let mut ct = plaintext.to_vec();
    key.less_safe_encrypt(&mut ct, EncryptionContext::Iv128(FixedLength::from(iv))).map_err(|_| JweError::EncryptionFailed)?;
    let tag = enc.tag(mac_key, header_b64.as_bytes(), &iv, &ct);
    Ok(format!("{header_b64}.{}.{}.{}.{}", b64::encode(ek), b64::encode(iv), b64::encode(ct), b64::encode(tag)))
}

/// The parsed protected header of a JWE.
#[derive(Debug, Clone, PartialEq)]
pub struct JweHeader {
    /// `alg`.
    pub alg: KeyAlg,
    /// `enc`.
    pub enc: Enc,
    /// `kid`.
    pub kid: Option<String>,
    /// `cty`.
    pub cty: Option<String>,
    /// Other members.
    pub extra: Map<String, Value>,
}

/// Reads a header object, refusing duplicate members (RFC 7516 §4).
fn header_object(bytes: &[u8]) -> Result<Map<String, Value>, JweError> {
    struct Entries(Vec<(String, Value)>);
    impl<'de> serde::Deserialize<'de> for Entries {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Entries;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = m.next_entry::<String, Value>()? {
                        out.push((k, v));
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    let Entries(entries) = serde_json::from_slice(bytes).map_err(|_| JweError::Malformed("header is not a JSON object"))?;
    let mut map = Map::new();
    for (k, v) in entries {
        if map.contains_key(&k) {
            return Err(JweError::DuplicateHeader(k));
        }
        map.insert(k, v);
    }
    Ok(map)
}

/// Parses the protected header of a compact JWE without decrypting.
pub fn parse_header(compact: &str) -> Result<JweHeader, JweError> {
    if compact.len() > MAX_JWE_LEN {
        return Err(JweError::Malformed("too large"));
    }
    let h = compact.split('.').next().unwrap_or_default();
    let bytes = b64::decode(h).map_err(|_| JweError::Malformed("header is not base64url"))?;
    let mut m = header_object(&bytes)?;
    let s = |m: &mut Map<String, Value>, k: &str| match m.remove(k) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JweError::Malformed("header member is not a string")),
    };
    let alg = KeyAlg::parse(&s(&mut m, "alg")?.ok_or(JweError::Malformed("no alg"))?)?;
    let enc = Enc::parse(&s(&mut m, "enc")?.ok_or(JweError::Malformed("no enc"))?)?;
    let kid = s(&mut m, "kid")?;
    let cty = s(&mut m, "cty")?;
    if m.contains_key("zip") {
        return Err(JweError::UnsupportedHeader("zip"));
    }
    if m.contains_key("crit") {
        return Err(JweError::UnsupportedHeader("crit"));
    }
    Ok(JweHeader { alg, enc, kid, cty, extra: m })
}

/// Decrypts a compact JWE with `key`. A `kid` in the header must be this key's.
pub fn decrypt(compact: &str, key: &RsaKey) -> Result<(JweHeader, Vec<u8>), JweError> {
    let header = parse_header(compact)?;
    if let Some(kid) = &header.kid
        && kid != key.kid()
    {
        return Err(JweError::WrongKid(kid.clone()));
    }
    let mut parts = compact.split('.');
    let (Some(h), Some(ek), Some(iv), Some(ct), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JweError::Malformed("a compact JWE has exactly five parts"));
    };
    let d = |p: &str| b64::decode(p).map_err(|_| JweError::Malformed("part is not base64url"));
    let (ek, iv, ct, tag) = (d(ek)?, d(iv)?, d(ct)?, d(tag)?);
    let iv: [u8; 16] = iv.as_slice().try_into().map_err(|_| JweError::Malformed("iv must be 16 bytes"))?;

    let private = key.decrypting_key().map_err(|_| JweError::DecryptionFailed)?;
    let oaep = OaepPrivateDecryptingKey::new(private).map_err(|_| JweError::DecryptionFailed)?;
    let mut cek = vec![0u8; oaep.min_output_size()];
    let cek = oaep.decrypt(header.alg.oaep(), &ek, &mut cek, None).map_err(|_| JweError::DecryptionFailed)?;
    if cek.len() != header.enc.key_len() {
        return Err(JweError::DecryptionFailed);
    }
    let (mac_key, enc_key) = cek.split_at(header.enc.key_len() / 2);
    let expected = header.enc.tag(mac_key, h.as_bytes(), &iv, &ct);
    if !wallet_core::subtle_eq(&expected, &tag) {
        return Err(JweError::DecryptionFailed);
    }
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(header.enc.cipher_key(enc_key).map_err(|()| JweError::DecryptionFailed)?)
        .map_err(|_| JweError::DecryptionFailed)?;
    let mut buf = ct;
    let plain = key.decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv))).map_err(|_| JweError::DecryptionFailed)?.to_vec();
    Ok((header, plain))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::RsaBits;

    fn enc_jwk(k: &RsaKey) -> Jwk {
        k.public_jwk().clone()
    }

    #[test]
    fn round_trip_every_combination() {
        let k = RsaKey::generate(RsaBits::B2048).unwrap();
        for alg in [KeyAlg::RsaOaep, KeyAlg::RsaOaep256] {
            for enc in [Enc::A128CbcHs256, Enc::A256CbcHs512] {
                let jwe = encrypt(b"hello userinfo", &enc_jwk(&k), alg, enc, Some("JWT")).unwrap();
                let (h, p) = decrypt(&jwe, &k).unwrap();
                assert_eq!((h.alg, h.enc, h.cty.as_deref()), (alg, enc, Some("JWT")));
                assert_eq!(p, b"hello userinfo");
            }
        }
    }

    #[test]
    fn another_key_and_tampering_fail() {
        let k = RsaKey::generate(RsaBits::B2048).unwrap();
        let other = RsaKey::generate(RsaBits::B2048).unwrap();
        let jwe = encrypt(b"x", &enc_jwk(&k), KeyAlg::RsaOaep, Enc::A256CbcHs512, None).unwrap();
        assert_eq!(decrypt(&jwe, &other).unwrap_err(), JweError::WrongKid(k.kid().to_owned()));
        let mut no_kid = enc_jwk(&k);
        no_kid.kid = None;
        let jwe2 = encrypt(b"x", &no_kid, KeyAlg::RsaOaep, Enc::A256CbcHs512, None).unwrap();
        assert_eq!(decrypt(&jwe2, &other).unwrap_err(), JweError::DecryptionFailed);
        let mut parts: Vec<String> = jwe2.split('.').map(str::to_owned).collect();
        parts[3] = b64::encode(b"0123456789abcdef");
        assert_eq!(decrypt(&parts.join("."), &k).unwrap_err(), JweError::DecryptionFailed);
    }

    #[test]
    fn rsa1_5_and_duplicates_are_refused() {
        let h = b64::encode(r#"{"alg":"RSA1_5","enc":"A128CBC-HS256"}"#);
        assert_eq!(parse_header(&format!("{h}.a.b.c.d")).unwrap_err(), JweError::UnsupportedAlg("RSA1_5".into()));
        let h = b64::encode(r#"{"alg":"RSA-OAEP","alg":"RSA-OAEP-256","enc":"A128CBC-HS256"}"#);
        assert_eq!(parse_header(&format!("{h}.a.b.c.d")).unwrap_err(), JweError::DuplicateHeader("alg".into()));
    }
}
