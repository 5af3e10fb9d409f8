//! The signing seam: whoever holds a private key implements [`Signer`]. On a phone that is
//! the secure hardware (through the `KeyStore` of the mobile bindings); on a server a
//! [`SoftwareSigner`] or an HSM.

use super::{EcCurve, JoseError, Jwk, JwkParams, JwsAlg, PrivateJwk};

/// A signing failure reported by a [`Signer`] (the key is gone, the user cancelled, the
/// hardware refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(pub String);

impl From<SignError> for JoseError {
    fn from(e: SignError) -> Self {
        JoseError::Sign(e.0)
    }
}

/// Something that signs with one key and one JWS algorithm.
pub trait Signer: Send + Sync {
    /// The JWS algorithm this key signs with.
    fn alg(&self) -> JwsAlg;
    /// The public key, as it goes in `cnf.jwk` or a JWKS.
    fn public_jwk(&self) -> Jwk;
    /// The `kid` to put in JWS headers, if this key has one.
    fn kid(&self) -> Option<String> {
        self.public_jwk().kid
    }
    /// Signs `msg`. JWS form: ES256 gives raw `r || s` (64 bytes), never DER.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError>;
    /// Whether this key signs ES256 and [`Self::sign_es256_digest`] signs a message given by
    /// its SHA-256. A key in secure hardware or a remote service that hashes what it signs
    /// says no (the default), and is given the message.
    fn signs_es256_digests(&self) -> bool {
        false
    }
    /// Signs the message whose SHA-256 is `digest`: ES256 is ECDSA P-256 over the message's
    /// SHA-256 (RFC 7518 §3.4), so this is [`Self::sign`] of that message, for a caller that
    /// hashed most of it once for many signatures (a protected header of kilobytes on every
    /// credential: [`super::jws::EncodedHeader`]). Only called when
    /// [`Self::signs_es256_digests`]; the default refuses.
    fn sign_es256_digest(&self, _digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        Err(SignError("this key signs messages, not digests".into()))
    }
}

/// A signer whose `kid` is hidden, so that [`super::jws::sign`] leaves the header kid-less:
/// for JWTs whose key travels otherwise (a KB-JWT's key is the credential's `cnf.jwk`;
/// DPoP, key proofs and attestation PoPs carry `jwk` or are bound by `cnf`: OpenID4VCI
/// §F.1 "kid MUST NOT be present if jwk is").
#[derive(Clone, Copy)]
pub struct WithoutKid<'a>(pub &'a dyn Signer);

impl std::fmt::Debug for WithoutKid<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WithoutKid(..)")
    }
}

impl Signer for WithoutKid<'_> {
    fn alg(&self) -> JwsAlg {
        self.0.alg()
    }
    fn public_jwk(&self) -> Jwk {
        self.0.public_jwk()
    }
    fn kid(&self) -> Option<String> {
        None
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0.sign(msg)
    }
    fn signs_es256_digests(&self) -> bool {
        self.0.signs_es256_digests()
    }
    fn sign_es256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        self.0.sign_es256_digest(digest)
    }
}

impl<S: Signer + ?Sized> Signer for &S {
    fn alg(&self) -> JwsAlg {
        (**self).alg()
    }
    fn public_jwk(&self) -> Jwk {
        (**self).public_jwk()
    }
    fn kid(&self) -> Option<String> {
        (**self).kid()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(msg)
    }
    fn signs_es256_digests(&self) -> bool {
        (**self).signs_es256_digests()
    }
    fn sign_es256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        (**self).sign_es256_digest(digest)
    }
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn alg(&self) -> JwsAlg {
        (**self).alg()
    }
    fn public_jwk(&self) -> Jwk {
        (**self).public_jwk()
    }
    fn kid(&self) -> Option<String> {
        (**self).kid()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        (**self).sign(msg)
    }
    fn signs_es256_digests(&self) -> bool {
        (**self).signs_es256_digests()
    }
    fn sign_es256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        (**self).sign_es256_digest(digest)
    }
}

/// A P-256 key held in memory, signing ES256. With the `aws-lc` feature it signs through
/// aws-lc-rs (4x faster); otherwise through the pure-Rust `p256` crate.
pub struct SoftwareSigner {
    private: PrivateJwk,
    key: super::backend::P256SigningKey,
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareSigner").field("public", &self.private.public).finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// A fresh random P-256 key. Its `kid` is its RFC 7638 thumbprint.
    pub fn generate() -> Result<Self, JoseError> {
        let super::backend::P256Material { d, x, y } = super::backend::generate_p256()?;
        let public = Jwk::ec(EcCurve::P256, x, y)?;
        let kid = public.thumbprint().to_string();
        Self::from_private_jwk(PrivateJwk::new(public.with_kid(kid), d)?)
    }

    /// A signer over a private P-256 JWK; refuses a `d` that does not match `x`/`y`.
    pub fn from_private_jwk(private: PrivateJwk) -> Result<Self, JoseError> {
        let point = match &private.public.params {
            JwkParams::Ec { crv: EcCurve::P256, .. } => private.public.params.ec_point(),
            other => {
                return Err(JoseError::KeyAlgMismatch { key: other.describe(), alg: "ES256".into() });
            }
        };
        let point = point.unwrap_or_default();
        let key = super::backend::P256SigningKey::new(private.d(), &point)?;
        Ok(Self { private, key })
    }

    /// The private JWK (for writing key files).
    pub fn private_jwk(&self) -> &PrivateJwk {
        &self.private
    }

    /// This signer with another `kid` on its public key.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.private.public.kid = Some(kid.into());
        self
    }
}

impl Signer for SoftwareSigner {
    fn alg(&self) -> JwsAlg {
        JwsAlg::Es256
    }
    fn public_jwk(&self) -> Jwk {
        self.private.public.clone()
    }
    fn kid(&self) -> Option<String> {
        self.private.public.kid.clone()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        self.key.sign(msg)
    }
    fn signs_es256_digests(&self) -> bool {
        true
    }
    fn sign_es256_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
        self.key.sign_digest(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_signs_and_verifies() {
        let s = SoftwareSigner::generate().unwrap();
        let sig = s.sign(b"hello").unwrap();
        assert_eq!(sig.len(), 64);
        s.public_jwk().verify(JwsAlg::Es256, b"hello", &sig).unwrap();
        assert_eq!(s.public_jwk().verify(JwsAlg::Es256, b"hellO", &sig), Err(JoseError::BadSignature));
    }

    #[test]
    fn private_jwk_round_trips_and_mismatched_d_is_refused() {
        let s = SoftwareSigner::generate().unwrap();
        let json = s.private_jwk().to_json();
        let back = SoftwareSigner::from_private_jwk(PrivateJwk::from_json(&json).unwrap()).unwrap();
        assert_eq!(back.public_jwk(), s.public_jwk());
        let other = SoftwareSigner::generate().unwrap();
        let mixed = PrivateJwk::new(s.public_jwk(), other.private_jwk().d().to_vec()).unwrap();
        assert!(matches!(SoftwareSigner::from_private_jwk(mixed), Err(JoseError::InvalidKey(_))));
    }
}
