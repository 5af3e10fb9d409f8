//! The OIDC core keys of an RP or OP (SPID/CIE OIDC §B.4): one RSA key that signs (`use: sig`,
//! RS256) and one that decrypts (`use: enc`, RSA-OAEP / RSA-OAEP-256), distinct from the
//! Federation Entity Keys (ES256, kept by the `trust-anchor` crate).
//!
//! wallet-core verifies RS256 but signs only ES256 (its `PrivateJwk` holds EC and Ed25519
//! keys), so RSA signing lives here, behind wallet-core's [`Signer`] seam, on aws-lc-rs (the
//! server crypto backend already in the workspace; fast in debug builds, unlike RustCrypto's
//! `rsa` key generation). Keys are kept as PKCS#8 DER in `<data_dir>/<name>` (mode 0600,
//! written atomically), created on first start; a `kid` is the RFC 7638 thumbprint.

use std::path::Path;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize, PrivateDecryptingKey, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use wallet_core::jose::jwk::{JwkParams, JwkSet};
use wallet_core::jose::{Jwk, JwsAlg, SignError, Signer, b64};

/// A key could not be generated, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// Stored key material (an RSA key, the RP's state key, the OP's pairwise salt) is not
    /// valid, or may not be made anew; the text names the file where there is one.
    #[error("invalid key material: {0}")]
    Invalid(String),
    /// The crypto library failed (key generation).
    #[error("RSA key generation failed")]
    Generate,
    /// The system random generator failed: nothing random is made up in its place.
    #[error("the system random generator failed")]
    Random,
}

/// RSA key size (SPID/CIE OIDC §B.4: ≥ 2048 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RsaBits {
    /// 2048 bits: the minimum, fast; the default here for tests and demos.
    #[default]
    #[serde(rename = "2048")]
    B2048,
    /// 3072 bits.
    #[serde(rename = "3072")]
    B3072,
    /// 4096 bits: what the profile recommends for production.
    #[serde(rename = "4096")]
    B4096,
}

impl RsaBits {
    fn size(self) -> KeySize {
        match self {
            Self::B2048 => KeySize::Rsa2048,
            Self::B3072 => KeySize::Rsa3072,
            Self::B4096 => KeySize::Rsa4096,
        }
    }
}

/// One RSA private key, usable both to sign (RS256/RS512) and to decrypt (RSA-OAEP*).
#[derive(Clone)]
pub struct RsaKey {
    inner: Arc<RsaInner>,
}

struct RsaInner {
    pkcs8: Vec<u8>,
    pair: KeyPair,
    public: Jwk,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaKey").field("kid", &self.inner.public.kid).finish_non_exhaustive()
    }
}

impl RsaKey {
    /// A fresh key.
    pub fn generate(bits: RsaBits) -> Result<Self, KeyError> {
        let pair = KeyPair::generate(bits.size()).map_err(|_| KeyError::Generate)?;
        let der = pair.as_der().map_err(|_| KeyError::Generate)?;
        Self::from_pkcs8(der.as_ref())
    }

    /// A key from its PKCS#8 DER encoding (at least 2048 bits).
    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = KeyPair::from_pkcs8(der).map_err(|e| KeyError::Invalid(e.to_string()))?;
        if pair.public_modulus_len() < 256 {
            return Err(KeyError::Invalid("RSA keys must have at least 2048 bits (SPID/CIE OIDC §B.4)".into()));
        }
        let c = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = Jwk::new(JwkParams::Rsa { n: c.n, e: c.e });
        let kid = jwk.thumbprint().to_string();
        Ok(Self { inner: Arc::new(RsaInner { pkcs8: der.to_vec(), pair, public: jwk.with_kid(kid) }) })
    }

    /// The public key (with `kid`, without `use`/`alg`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.inner.public
    }

    /// The `kid` (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        self.inner.public.kid.as_deref().unwrap_or_default()
    }

    /// A signer with this key for `alg` (RS256 or RS512; anything else signs RS256).
    pub fn signer(&self, alg: JwsAlg) -> RsaSigner {
        let alg = if alg == JwsAlg::Rs512 { JwsAlg::Rs512 } else { JwsAlg::Rs256 };
        RsaSigner { key: self.clone(), alg }
    }

    /// The key for RSA-OAEP decryption.
    pub(crate) fn decrypting_key(&self) -> Result<PrivateDecryptingKey, KeyError> {
        PrivateDecryptingKey::from_pkcs8(&self.inner.pkcs8).map_err(|e| KeyError::Invalid(e.to_string()))
    }

    fn pkcs8(&self) -> &[u8] {
        &self.inner.pkcs8
    }
}

/// RS256/RS512 signing with an [`RsaKey`], through wallet-core's [`Signer`] seam.
#[derive(Debug, Clone)]
pub struct RsaSigner {
    key: RsaKey,
    alg: JwsAlg,
}

impl Signer for RsaSigner {
    fn alg(&self) -> JwsAlg {
        self.alg
    }
    fn public_jwk(&self) -> Jwk {
        self.key.public_jwk().clone()
    }
    fn kid(&self) -> Option<String> {
        Some(self.key.kid().to_owned())
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let padding = if self.alg == JwsAlg::Rs512 {
            &aws_lc_rs::signature::RSA_PKCS1_SHA512
        } else {
            &aws_lc_rs::signature::RSA_PKCS1_SHA256
        };
        let pair = &self.key.inner.pair;
        let mut sig = vec![0u8; pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        pair.sign(padding, &rng, msg, &mut sig).map_err(|_| SignError("RSA signing failed".into()))?;
        Ok(sig)
    }
}

/// The core keys of an OIDC entity: the signing key and the encryption key (SPID/CIE OIDC
/// §B.4: core JWKS hold `use: sig` and `use: enc` keys).
#[derive(Debug, Clone)]
pub struct CoreKeys {
    /// Signs request objects, client assertions (RP), ID tokens, access tokens, UserInfo (OP).
    pub sig: RsaKey,
    /// Decrypts UserInfo (RP).
    pub enc: RsaKey,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    sig: String,
    enc: String,
}

impl CoreKeys {
    /// Fresh keys.
    pub fn generate(bits: RsaBits) -> Result<Self, KeyError> {
        Ok(Self { sig: RsaKey::generate(bits)?, enc: RsaKey::generate(bits)? })
    }

    /// Loads `<dir>/<file>`, creating the keys on first start.
    pub fn load_or_create(dir: &Path, file: &str, bits: RsaBits) -> Result<Self, KeyError> {
        let parse = |b: &[u8]| {
            let s: Stored = serde_json::from_slice(b).map_err(|e| KeyError::Invalid(e.to_string()))?;
            let der = |v: &str| b64::decode(v).map_err(|_| KeyError::Invalid("key file is not base64url".into()));
            Ok(Self { sig: RsaKey::from_pkcs8(&der(&s.sig)?)?, enc: RsaKey::from_pkcs8(&der(&s.enc)?)? })
        };
        let create = || {
            let keys = Self::generate(bits)?;
            serde_json::to_vec(&Stored { sig: b64::encode(keys.sig.pkcs8()), enc: b64::encode(keys.enc.pkcs8()) }).map_err(|e| KeyError::Invalid(e.to_string()))
        };
        load_or_create_file(&dir.join(file), parse, create)
    }

    /// The public JWKS to publish: the signing key with `use: sig`, the encryption key with
    /// `use: enc`.
    pub fn jwks(&self) -> JwkSet {
        let mut sig = self.sig.public_jwk().clone();
        sig.key_use = Some("sig".into());
        let mut enc = self.enc.public_jwk().clone();
        enc.key_use = Some("enc".into());
        JwkSet { keys: vec![sig, enc] }
    }
}

/// Reads the private file at `path`, or creates it with what `create` makes, once: processes
/// racing to create it all get the one written (wallet-core `store::create_private`).
pub(crate) fn load_or_create_file<T>(path: &Path, parse: impl Fn(&[u8]) -> Result<T, KeyError>, create: impl FnOnce() -> Result<Vec<u8>, KeyError>) -> Result<T, KeyError> {
    let io = |e: std::io::Error| KeyError::Io { path: path.display().to_string(), reason: e.to_string() };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            wallet_core::store::create_private(path, &create()?).map_err(io)?;
            std::fs::read(path).map_err(io)?
        }
        Err(e) => return Err(io(e)),
    };
    let parsed = parse(&bytes).map_err(|e| match e {
        KeyError::Invalid(reason) => KeyError::Invalid(format!("{}: {reason}", path.display())),
        e => e,
    })?;
    service_kit::files::keep_secret(path);
    Ok(parsed)
}

/// `n` random bytes from the system generator; [`KeyError::Random`] (fail closed) when it fails.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut b = [0u8; N];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| KeyError::Random)?;
    Ok(b)
}

/// A random identifier of `2 * N` lowercase hex characters: alphanumeric, as SPID/CIE OIDC
/// §B.2 wants for `state` and `nonce` (≥ 32 alphanumeric characters).
pub(crate) fn random_alnum<const N: usize>() -> Result<String, KeyError> {
    Ok(random_bytes::<N>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random UUID v4 (`jti`, authorization codes; SPID/CIE OIDC §B.3 wants uuid4 `jti`s).
pub(crate) fn uuid4() -> Result<String, KeyError> {
    let mut b = random_bytes::<16>()?;
    if let Some(x) = b.get_mut(6) {
        *x = (*x & 0x0f) | 0x40;
    }
    if let Some(x) = b.get_mut(8) {
        *x = (*x & 0x3f) | 0x80;
    }
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let part = |r: std::ops::Range<usize>| h.get(r).unwrap_or_default().to_owned();
    Ok(format!("{}-{}-{}-{}-{}", part(0..8), part(8..12), part(12..16), part(16..20), part(20..32)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wallet_core::jose::{CompactJws, JwsHeader, jws};

    #[test]
    fn rs256_signature_verifies_with_wallet_core() {
        let k = RsaKey::generate(RsaBits::B2048).unwrap();
        let s = k.signer(JwsAlg::Rs256);
        let jwt = jws::sign(&JwsHeader::new(JwsAlg::Rs256), b"{}", &s).unwrap();
        let parsed = CompactJws::parse(&jwt).unwrap();
        assert_eq!(parsed.header().kid.as_deref(), Some(k.kid()));
        parsed.verify(k.public_jwk()).unwrap();
        let other = RsaKey::generate(RsaBits::B2048).unwrap();
        assert_eq!(parsed.verify(other.public_jwk()), Err(wallet_core::jose::JoseError::BadSignature));
    }

    #[test]
    fn keys_persist() {
        let dir = tempfile::tempdir().unwrap();
        let a = CoreKeys::load_or_create(dir.path(), "k.json", RsaBits::B2048).unwrap();
        let b = CoreKeys::load_or_create(dir.path(), "k.json", RsaBits::B2048).unwrap();
        assert_eq!(a.jwks(), b.jwks());
        assert_ne!(a.sig.kid(), a.enc.kid());
    }

    #[test]
    fn uuid_and_alnum_shapes() {
        let u = uuid4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(u.as_bytes()[14], b'4');
        let s = random_alnum::<24>().unwrap();
        assert_eq!(s.len(), 48);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
