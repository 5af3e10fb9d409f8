//! The crypto backend behind [`super::Jwk::verify`] and [`super::SoftwareSigner`].
//!
//! Default: pure Rust (RustCrypto `p256`/`p384`/`p521`, `ed25519-dalek`, `rsa`), so the core
//! cross-compiles for phones. Feature `aws-lc`: aws-lc-rs for EC and Ed25519, about 5x faster
//! ES256 verification (dependencies.md), and for the P-256 ECDH of JWE (`ECDH-ES`, about 4x
//! faster here), for services that verify and decrypt at volume.

use super::{JoseError, JwkParams, JwsAlg, SignError};

/// Minimum RSA modulus size we verify with (IT-Wallet `algorithms.rst`: 2048 bits).
const MIN_RSA_BITS: usize = 2048;

pub(crate) fn verify(alg: JwsAlg, key: &JwkParams, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    match (alg, key) {
        (JwsAlg::Rs256 | JwsAlg::Rs384 | JwsAlg::Rs512 | JwsAlg::Ps256 | JwsAlg::Ps384 | JwsAlg::Ps512, JwkParams::Rsa { n, e }) => {
            rsa_verify(alg, n, e, msg, sig)
        }
        _ => fast::verify(alg, key, msg, sig),
    }
}

fn invalid_key(e: impl std::fmt::Display) -> JoseError {
    JoseError::InvalidKey(e.to_string())
}

fn rsa_verify(alg: JwsAlg, n: &[u8], e: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    use rsa::signature::Verifier as _;
    use rsa::{BoxedUint, PublicKey as RsaPublicKey};
    let n_trimmed = n.iter().skip_while(|b| **b == 0).count();
    if n_trimmed * 8 < MIN_RSA_BITS {
        return Err(JoseError::InvalidKey(format!("RSA modulus shorter than {MIN_RSA_BITS} bits")));
    }
    let key = RsaPublicKey::new(BoxedUint::from_be_slice_vartime(n), BoxedUint::from_be_slice_vartime(e))
        .map_err(invalid_key)?;
    let bad = |_| JoseError::BadSignature;
    match alg {
        JwsAlg::Rs256 | JwsAlg::Rs384 | JwsAlg::Rs512 => {
            let s = rsa::pkcs1v15::Signature::try_from(sig).map_err(bad)?;
            match alg {
                JwsAlg::Rs256 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(msg, &s),
                JwsAlg::Rs384 => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify(msg, &s),
                _ => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify(msg, &s),
            }
            .map_err(bad)
        }
        _ => {
            let s = rsa::pss::Signature::try_from(sig).map_err(bad)?;
            match alg {
                JwsAlg::Ps256 => rsa::pss::VerifyingKey::<sha2::Sha256>::new(key).verify(msg, &s),
                JwsAlg::Ps384 => rsa::pss::VerifyingKey::<sha2::Sha384>::new(key).verify(msg, &s),
                _ => rsa::pss::VerifyingKey::<sha2::Sha512>::new(key).verify(msg, &s),
            }
            .map_err(bad)
        }
    }
}

/// A fresh P-256 key: the scalar and the point's coordinates, big-endian.
pub(crate) struct P256Material {
    pub(crate) d: Vec<u8>,
    pub(crate) x: Vec<u8>,
    pub(crate) y: Vec<u8>,
}

/// 32 random bytes that form a valid P-256 scalar, and the public point.
pub(crate) fn generate_p256() -> Result<P256Material, JoseError> {
    for _ in 0..16 {
        let mut d = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *d).map_err(|e| JoseError::Sign(format!("no randomness: {e}")))?;
        if let Ok(sk) = p256::ecdsa::SigningKey::from_slice(&*d) {
            let point = sk.verifying_key().to_sec1_point(false);
            let (x, y) = match (point.x(), point.y()) {
                (Some(x), Some(y)) => (x.to_vec(), y.to_vec()),
                _ => continue,
            };
            return Ok(P256Material { d: d.to_vec(), x, y });
        }
    }
    Err(JoseError::Sign("could not generate a P-256 key".into()))
}

#[cfg(not(feature = "aws-lc"))]
mod fast {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;

    pub(crate) fn verify(alg: JwsAlg, key: &JwkParams, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let bad = |_| JoseError::BadSignature;
        match (alg, key) {
            (JwsAlg::Es256, JwkParams::Ec { .. }) => {
                let point = key.ec_point().unwrap_or_default();
                let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(invalid_key)?;
                let s = p256::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &s).map_err(bad)
            }
            (JwsAlg::Es384, JwkParams::Ec { .. }) => {
                let point = key.ec_point().unwrap_or_default();
                let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(invalid_key)?;
                let s = p384::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &s).map_err(bad)
            }
            (JwsAlg::Es512, JwkParams::Ec { .. }) => {
                let point = key.ec_point().unwrap_or_default();
                let vk = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(invalid_key)?;
                let s = p521::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &s).map_err(bad)
            }
            (JwsAlg::EdDsa, JwkParams::Ed25519 { x }) => {
                let bytes: [u8; 32] = x.as_slice().try_into().map_err(invalid_key)?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(invalid_key)?;
                let s = ed25519_dalek::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &s).map_err(bad)
            }
            _ => Err(JoseError::KeyAlgMismatch { key: key.describe(), alg: alg.to_string() }),
        }
    }

    pub(crate) fn verify_es256_prehashed(key: &JwkParams, digest: &[u8; 32], sig: &[u8]) -> Result<(), JoseError> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let point = key.ec_point().unwrap_or_default();
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(invalid_key)?;
        let s = p256::ecdsa::Signature::from_slice(sig).map_err(|_| JoseError::BadSignature)?;
        vk.verify_prehash(digest, &s).map_err(|_| JoseError::BadSignature)
    }

    /// A P-256 private key for ECDH, parsed once.
    pub(crate) struct EcdhP256(p256::SecretKey);

    impl EcdhP256 {
        pub(crate) fn new(d: &[u8]) -> Result<Self, JoseError> {
            p256::SecretKey::from_slice(d).map(Self).map_err(invalid_key)
        }

        /// The public point, SEC1 uncompressed.
        pub(crate) fn public_point(&self) -> Vec<u8> {
            self.0.public_key().to_sec1_bytes().to_vec()
        }

        pub(crate) fn agree(&self, peer: &p256::PublicKey) -> Result<zeroize::Zeroizing<Vec<u8>>, JoseError> {
            let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), peer.as_affine());
            Ok(zeroize::Zeroizing::new(shared.raw_secret_bytes().to_vec()))
        }
    }

    pub(crate) struct P256SigningKey(p256::ecdsa::SigningKey);

    impl P256SigningKey {
        pub(crate) fn new(d: &[u8], point: &[u8]) -> Result<Self, JoseError> {
            let sk = p256::ecdsa::SigningKey::from_slice(d).map_err(invalid_key)?;
            if &*sk.verifying_key().to_sec1_bytes() != point {
                return Err(JoseError::InvalidKey("`d` does not match `x`/`y`".into()));
            }
            Ok(Self(sk))
        }

        pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = self.0.try_sign(msg).map_err(|e| SignError(e.to_string()))?;
            Ok(sig.to_bytes().to_vec())
        }

        /// [`Self::sign`] of the message whose SHA-256 is `digest`: the same signature
        /// (RFC 6979's nonce is derived from the digest).
        pub(crate) fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
            use p256::ecdsa::signature::hazmat::PrehashSigner as _;
            let sig: p256::ecdsa::Signature = self.0.sign_prehash(digest).map_err(|e| SignError(e.to_string()))?;
            Ok(sig.to_bytes().to_vec())
        }
    }
}

#[cfg(feature = "aws-lc")]
mod fast {
    use super::*;
    use aws_lc_rs::signature::{self as sig_alg, KeyPair as _, UnparsedPublicKey};

    pub(crate) fn verify(alg: JwsAlg, key: &JwkParams, msg: &[u8], sig: &[u8]) -> Result<(), JoseError> {
        let bad = |_| JoseError::BadSignature;
        match (alg, key) {
            (JwsAlg::Es256 | JwsAlg::Es384 | JwsAlg::Es512, JwkParams::Ec { .. }) => {
                let algorithm = match alg {
                    JwsAlg::Es256 => &sig_alg::ECDSA_P256_SHA256_FIXED,
                    JwsAlg::Es384 => &sig_alg::ECDSA_P384_SHA384_FIXED,
                    _ => &sig_alg::ECDSA_P521_SHA512_FIXED,
                };
                let point = key.ec_point().unwrap_or_default();
                UnparsedPublicKey::new(algorithm, &point).verify(msg, sig).map_err(bad)
            }
            (JwsAlg::EdDsa, JwkParams::Ed25519 { x }) => {
                UnparsedPublicKey::new(&sig_alg::ED25519, x).verify(msg, sig).map_err(bad)
            }
            _ => Err(JoseError::KeyAlgMismatch { key: key.describe(), alg: alg.to_string() }),
        }
    }

    pub(crate) fn verify_es256_prehashed(key: &JwkParams, digest: &[u8; 32], sig: &[u8]) -> Result<(), JoseError> {
        let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, &aws_lc_rs::digest::SHA256)
            .map_err(|_| JoseError::BadSignature)?;
        let point = key.ec_point().unwrap_or_default();
        UnparsedPublicKey::new(&sig_alg::ECDSA_P256_SHA256_FIXED, &point)
            .verify_digest(&digest, sig)
            .map_err(|_| JoseError::BadSignature)
    }

    /// ECDH on P-256 through aws-lc (about 6x the pure-Rust speed): `peer` was validated as a
    /// point of the curve by the caller (and is again by aws-lc).
    /// A P-256 private key for ECDH, parsed once: aws-lc derives the public point while
    /// parsing (a scalar multiplication, about a fifth of an agreement's cost), which a
    /// decryption should not pay again.
    pub(crate) struct EcdhP256(aws_lc_rs::agreement::PrivateKey);

    impl EcdhP256 {
        pub(crate) fn new(d: &[u8]) -> Result<Self, JoseError> {
            aws_lc_rs::agreement::PrivateKey::from_private_key(&aws_lc_rs::agreement::ECDH_P256, d)
                .map(Self)
                .map_err(|_| JoseError::InvalidKey("not a P-256 private key".into()))
        }

        /// The public point, SEC1 uncompressed (derived when the key was parsed).
        pub(crate) fn public_point(&self) -> Vec<u8> {
            self.0.compute_public_key().map(|p| p.as_ref().to_vec()).unwrap_or_default()
        }

        pub(crate) fn agree(&self, peer: &p256::PublicKey) -> Result<zeroize::Zeroizing<Vec<u8>>, JoseError> {
            use aws_lc_rs::agreement;
            let point = peer.to_sec1_bytes();
            agreement::agree(&self.0, agreement::UnparsedPublicKey::new(&agreement::ECDH_P256, &point), JoseError::DecryptionFailed, |z| {
                Ok(zeroize::Zeroizing::new(z.to_vec()))
            })
        }
    }

    pub(crate) struct P256SigningKey(sig_alg::EcdsaKeyPair);

    impl P256SigningKey {
        pub(crate) fn new(d: &[u8], point: &[u8]) -> Result<Self, JoseError> {
            let kp = sig_alg::EcdsaKeyPair::from_private_key_and_public_key(
                &sig_alg::ECDSA_P256_SHA256_FIXED_SIGNING,
                d,
                point,
            )
            .map_err(|_| JoseError::InvalidKey("`d` does not match `x`/`y`".into()))?;
            debug_assert_eq!(kp.public_key().as_ref(), point);
            Ok(Self(kp))
        }

        pub(crate) fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, SignError> {
            let rng = aws_lc_rs::rand::SystemRandom::new();
            self.0
                .sign(&rng, msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError("aws-lc ECDSA signing failed".into()))
        }

        /// [`Self::sign`] of the message whose SHA-256 is `digest`.
        pub(crate) fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>, SignError> {
            let digest = aws_lc_rs::digest::Digest::import_less_safe(digest, &aws_lc_rs::digest::SHA256)
                .map_err(|_| SignError("not a SHA-256 digest".into()))?;
            self.0
                .sign_digest(&digest)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignError("aws-lc ECDSA signing failed".into()))
        }
    }
}

pub(crate) use fast::{EcdhP256, P256SigningKey};

/// The raw ECDH shared secret (the x-coordinate, 32 bytes) of the P-256 private scalar `d`
/// and `peer`, for a key used once: aws-lc with the `aws-lc` feature, else RustCrypto `p256`.
/// A key used again keeps its [`EcdhP256`].
#[cfg(test)]
pub(crate) fn ecdh_p256(d: &[u8], peer: &p256::PublicKey) -> Result<zeroize::Zeroizing<Vec<u8>>, JoseError> {
    EcdhP256::new(d)?.agree(peer)
}

/// ES256 over a SHA-256 digest of the signing input that the caller computed, for a caller
/// that hashes the signing input anyway as the start of a longer hash (SD-JWT's `sd_hash`
/// covers the issuer JWT). `key` must be a P-256 key (checked by the caller).
pub(crate) fn verify_es256_prehashed(key: &JwkParams, digest: &[u8; 32], sig: &[u8]) -> Result<(), JoseError> {
    fast::verify_es256_prehashed(key, digest, sig)
}
