//! Key attestation: the platform's evidence that a key lives in secure hardware, bound to a
//! challenge (IT-Wallet 1.4 §2.2 step 3 and §2.3 `integrity_assertion` / `attested_key`).
//!
//! A wallet provider verifies the opaque `key_attestation` string through the
//! [`KeyAttestationVerifier`] trait, which returns the [`AttestedKey`] (the attested public
//! key, the challenge it carries, the security level); the caller then checks the challenge
//! and the expected key with [`AttestedKey::check`]. Formats:
//!
//! * **Software** ([`software`]): a development format, a compact JWS
//!   (`typ: key-attestation-dev+jwt`) signed by a software attestation root, carrying the
//!   challenge and the attested JWK. [`SoftwareAttester`] makes them (the command-line wallet,
//!   tests); [`SoftwareAttestationVerifier`] checks them. Refused by [`KeyAttestationPolicy`]
//!   in production.
//! * **Android Key Attestation** ([`android`]): the key's X.509 certificate chain from the
//!   Android Keystore, wrapped as `base64url({"format":"android-key","x5c":[…]})`; the chain
//!   must reach a configured root (Google's attestation roots in production), and the leaf's
//!   KeyDescription extension (OID 1.3.6.1.4.1.11129.2.1.17) gives `attestationChallenge` and
//!   the security level.
//! * **Apple App Attest** (extension point, not implemented): the envelope
//!   `base64url({"format":"apple-app-attest","attestation":"<base64 CBOR>","key_id":"…"})`
//!   is recognised and refused with [`KeyAttestationError::UnsupportedFormat`]. An implementation
//!   is one more [`KeyAttestationVerifier`]: decode the CBOR attestation object, verify the
//!   `x5c` to Apple's App Attest root, check that the nonce extension
//!   (OID 1.2.840.113635.100.8.2) equals SHA-256(authData ‖ clientDataHash) with the challenge
//!   as clientDataHash, that the `rpIdHash` is the app id's hash, and take the credential
//!   public key from authData; plug it into [`KeyAttestationPolicy::with_apple`].
//!
//! \[AMBIG\] Platforms differ in *when* the challenge is fixed. The spec binds the challenge to
//! the key itself (§2.2: `client_data_hash` over the nonce, `hardware_key_pub` and the tag;
//! §2.3: `client_data_wua` over the nonce and the credential key's thumbprint), which suits
//! App Attest (the key exists, then is attested or asserts over any `clientDataHash`) and our
//! software format. Android Key Attestation fixes `attestationChallenge` when the key is
//! *generated*, so a challenge that hashes the key's own thumbprint cannot be produced there,
//! and an existing key cannot be re-attested over a new challenge (the §2.3
//! `integrity_assertion`, which IO-style wallets take from Play Integrity instead). The
//! verifiers here check the spec's binding as written; an Android [`crate::keystore::KeyStore`]
//! needs a binding without the thumbprint (e.g. `SHA-256({"nonce","hardware_key_tag"})` at
//! generation) and a Play Integrity verifier, both left open.

pub mod android;
pub mod software;

pub use android::{ANDROID_KEY_ATTESTATION_OID, AndroidKeyAttestationVerifier, encode_android_attestation};
pub use software::{SOFTWARE_ATTESTATION_TYP, SoftwareAttestationVerifier, SoftwareAttester};

use std::sync::Arc;

use crate::jose::{Jwk, b64};
use crate::time::UnixTime;
use crate::x509::X509Error;

/// The largest key attestation string accepted (64 KiB; Android chains are ~3-5 KiB).
pub const MAX_KEY_ATTESTATION_LEN: usize = 64 * 1024;

/// The format of an attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAttestationFormat {
    /// The development software format.
    Software,
    /// Android Key Attestation certificate chain.
    AndroidKey,
    /// Apple App Attest (extension point).
    AppleAppAttest,
}

impl KeyAttestationFormat {
    /// The `format` member of the envelope (`software` is a bare JWS, not an envelope).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Software => "software",
            Self::AndroidKey => "android-key",
            Self::AppleAppAttest => "apple-app-attest",
        }
    }
}

/// Where the attested key lives, weakest first (comparable: `StrongBox > TrustedEnvironment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SecurityLevel {
    /// Software only.
    Software,
    /// A Trusted Execution Environment (Android TEE).
    TrustedEnvironment,
    /// A dedicated secure element (Android StrongBox, Apple Secure Enclave).
    StrongBox,
}

/// What a verified attestation says. Produced only by a [`KeyAttestationVerifier`].
#[derive(Debug, Clone, PartialEq)]
pub struct AttestedKey {
    /// The format it came in.
    pub format: KeyAttestationFormat,
    /// The attested public key.
    pub public_key: Jwk,
    /// The challenge the attestation is bound to.
    pub challenge: Vec<u8>,
    /// Where the key lives.
    pub security_level: SecurityLevel,
}

impl AttestedKey {
    /// Checks that the attestation is bound to `challenge` (constant-time) and, when given,
    /// that it attests `expected_key` (same RFC 7638 thumbprint).
    pub fn check(&self, challenge: &[u8], expected_key: Option<&Jwk>) -> Result<(), KeyAttestationError> {
        if !crate::subtle_eq(&self.challenge, challenge) {
            return Err(KeyAttestationError::WrongChallenge);
        }
        if let Some(k) = expected_key
            && k.thumbprint() != self.public_key.thumbprint()
        {
            return Err(KeyAttestationError::KeyMismatch);
        }
        Ok(())
    }
}

/// Why a key attestation was refused. Each rule has its variant.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyAttestationError {
    /// Not a key attestation in any format we know, or its content does not parse.
    #[error("malformed key attestation: {0}")]
    Malformed(String),
    /// A format this verifier does not accept (or an extension point not implemented).
    #[error("unsupported key attestation format `{0}`")]
    UnsupportedFormat(String),
    /// A software attestation where the configuration says production.
    #[error("software key attestation refused in production")]
    SoftwareRefusedInProduction,
    /// The attestation is bound to another challenge (nonce, key and tag binding broken).
    #[error("key attestation challenge does not match")]
    WrongChallenge,
    /// The attestation does not reach a configured root.
    #[error("key attestation does not chain to a trusted root")]
    UntrustedRoot,
    /// The attestation attests another key than the one presented.
    #[error("attested key is not the expected key")]
    KeyMismatch,
    /// The attestation (or a certificate of its chain) is expired or not yet valid.
    #[error("key attestation expired or not yet valid")]
    Expired,
    /// A signature of the attestation is invalid.
    #[error("key attestation signature invalid")]
    BadSignature,
    /// The certificate chain breaks another X.509 rule.
    #[error("key attestation chain rejected: {0}")]
    BadChain(X509Error),
    /// The Android leaf has no KeyDescription extension.
    #[error("the leaf certificate has no key attestation extension")]
    MissingExtension,
    /// The key is not in hardware strong enough for the configured minimum.
    #[error("key security level {found:?} below the required {required:?}")]
    InsufficientSecurityLevel {
        /// What the attestation says.
        found: SecurityLevel,
        /// The configured minimum.
        required: SecurityLevel,
    },
}

impl KeyAttestationError {
    /// The OAuth `error` code a wallet provider answers with (IT-Wallet 1.4 §2.2, §2.3):
    /// `integrity_check_error` when the device is below the minimum, `invalid_request`
    /// otherwise.
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::InsufficientSecurityLevel { .. } | Self::SoftwareRefusedInProduction => "integrity_check_error",
            _ => "invalid_request",
        }
    }
}

impl From<X509Error> for KeyAttestationError {
    fn from(e: X509Error) -> Self {
        match e {
            X509Error::UntrustedRoot => Self::UntrustedRoot,
            X509Error::NotValidNow { .. } => Self::Expired,
            X509Error::BadSignature { .. } => Self::BadSignature,
            other => Self::BadChain(other),
        }
    }
}

/// Verifies key attestations of one or more formats.
pub trait KeyAttestationVerifier: Send + Sync {
    /// Verifies `attestation` at `now` and returns what it attests. The caller then checks
    /// the challenge and the key with [`AttestedKey::check`].
    fn verify(&self, attestation: &str, now: UnixTime) -> Result<AttestedKey, KeyAttestationError>;
}

/// The non-JWS envelope: `base64url(JSON)` with a `format` member.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Envelope {
    pub(crate) format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) x5c: Option<Vec<String>>,
}

/// Which format an attestation string is in, without verifying it.
pub fn detect_format(attestation: &str) -> Result<KeyAttestationFormat, KeyAttestationError> {
    if attestation.len() > MAX_KEY_ATTESTATION_LEN {
        return Err(KeyAttestationError::Malformed(format!("longer than {MAX_KEY_ATTESTATION_LEN} bytes")));
    }
    if attestation.starts_with("ey") && attestation.split('.').count() == 3 {
        return Ok(KeyAttestationFormat::Software);
    }
    let bytes = b64::decode(attestation).map_err(|_| KeyAttestationError::Malformed("neither a JWS nor a base64url envelope".into()))?;
    let env: Envelope =
        serde_json::from_slice(&bytes).map_err(|e| KeyAttestationError::Malformed(format!("envelope: {e}")))?;
    match env.format.as_str() {
        "android-key" => Ok(KeyAttestationFormat::AndroidKey),
        "apple-app-attest" => Ok(KeyAttestationFormat::AppleAppAttest),
        other => Err(KeyAttestationError::UnsupportedFormat(other.chars().take(64).collect())),
    }
}

/// The wallet provider's policy: which formats it accepts, with their roots. Dispatches on
/// [`detect_format`]. In production (`production = true`) software attestations are refused
/// with [`KeyAttestationError::SoftwareRefusedInProduction`] even when a software verifier is
/// configured.
#[derive(Clone)]
pub struct KeyAttestationPolicy {
    production: bool,
    software: Option<Arc<SoftwareAttestationVerifier>>,
    android: Option<Arc<AndroidKeyAttestationVerifier>>,
    apple: Option<Arc<dyn KeyAttestationVerifier>>,
}

impl std::fmt::Debug for KeyAttestationPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAttestationPolicy")
            .field("production", &self.production)
            .field("software", &self.software.is_some())
            .field("android", &self.android.is_some())
            .field("apple", &self.apple.is_some())
            .finish()
    }
}

impl KeyAttestationPolicy {
    /// A policy accepting nothing yet; `production` refuses software attestations.
    pub fn new(production: bool) -> Self {
        Self { production, software: None, android: None, apple: None }
    }

    /// The development policy: software attestations by the development root
    /// ([`SoftwareAttestationVerifier::development`]), not production.
    pub fn development() -> Result<Self, KeyAttestationError> {
        Ok(Self::new(false).with_software(SoftwareAttestationVerifier::development()?))
    }

    /// Accepts software attestations with these roots (ignored in production).
    pub fn with_software(mut self, v: SoftwareAttestationVerifier) -> Self {
        self.software = Some(Arc::new(v));
        self
    }

    /// Accepts Android Key Attestation chains.
    pub fn with_android(mut self, v: AndroidKeyAttestationVerifier) -> Self {
        self.android = Some(Arc::new(v));
        self
    }

    /// Plugs an Apple App Attest verifier (the extension point).
    pub fn with_apple(mut self, v: Arc<dyn KeyAttestationVerifier>) -> Self {
        self.apple = Some(v);
        self
    }

    /// Whether this is a production policy.
    pub fn is_production(&self) -> bool {
        self.production
    }
}

impl KeyAttestationVerifier for KeyAttestationPolicy {
    fn verify(&self, attestation: &str, now: UnixTime) -> Result<AttestedKey, KeyAttestationError> {
        let format = detect_format(attestation)?;
        let unsupported = || KeyAttestationError::UnsupportedFormat(format.as_str().into());
        match format {
            KeyAttestationFormat::Software if self.production => Err(KeyAttestationError::SoftwareRefusedInProduction),
            KeyAttestationFormat::Software => self.software.as_ref().ok_or_else(unsupported)?.verify(attestation, now),
            KeyAttestationFormat::AndroidKey => self.android.as_ref().ok_or_else(unsupported)?.verify(attestation, now),
            KeyAttestationFormat::AppleAppAttest => self.apple.as_ref().ok_or_else(unsupported)?.verify(attestation, now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Signer as _, SoftwareSigner};

    const NOW: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn policy_dispatches_and_refuses_software_in_production() {
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let att = SoftwareAttester::development().unwrap().attest(&key, b"c", NOW).unwrap();
        let dev = KeyAttestationPolicy::development().unwrap();
        let got = dev.verify(&att, NOW).unwrap();
        assert_eq!(got.format, KeyAttestationFormat::Software);
        got.check(b"c", Some(&key)).unwrap();

        let prod = KeyAttestationPolicy::new(true).with_software(SoftwareAttestationVerifier::development().unwrap());
        let err = prod.verify(&att, NOW).unwrap_err();
        assert_eq!(err, KeyAttestationError::SoftwareRefusedInProduction);
        assert_eq!(err.oauth_code(), "integrity_check_error");
    }

    #[test]
    fn apple_is_an_extension_point_and_unknown_formats_are_refused() {
        let apple = b64::encode(r#"{"format":"apple-app-attest"}"#);
        assert_eq!(detect_format(&apple).unwrap(), KeyAttestationFormat::AppleAppAttest);
        assert_eq!(
            KeyAttestationPolicy::development().unwrap().verify(&apple, NOW).unwrap_err(),
            KeyAttestationError::UnsupportedFormat("apple-app-attest".into())
        );
        let other = b64::encode(r#"{"format":"tpm"}"#);
        assert_eq!(detect_format(&other).unwrap_err(), KeyAttestationError::UnsupportedFormat("tpm".into()));
        assert!(matches!(detect_format("!!"), Err(KeyAttestationError::Malformed(_))));
    }

    #[test]
    fn check_names_wrong_challenge_and_key_mismatch() {
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let other = SoftwareSigner::generate().unwrap().public_jwk();
        let a = AttestedKey {
            format: KeyAttestationFormat::Software,
            public_key: key,
            challenge: b"one".to_vec(),
            security_level: SecurityLevel::Software,
        };
        assert_eq!(a.check(b"two", None), Err(KeyAttestationError::WrongChallenge));
        assert_eq!(a.check(b"one", Some(&other)), Err(KeyAttestationError::KeyMismatch));
    }
}
