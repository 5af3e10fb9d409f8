//! The development software key attestation format (our design; no platform defines one).
//!
//! A compact JWS, header `{"alg":"ES256","typ":"key-attestation-dev+jwt","kid":<root thumbprint>}`,
//! claims:
//!
//! ```json
//! {"iss":"tessera-software-keystore","iat":…,"exp":…,"challenge":"<base64url>",
//!  "attested_key":{<public JWK>},"security_level":"software"}
//! ```
//!
//! signed by a software attestation root whose public JWK the verifier is configured with.
//! [`SoftwareAttester::development`] is a **published, insecure** root derived from a fixed
//! seed, so that the command-line wallet and a development wallet provider agree without
//! configuration; a production wallet provider refuses the whole format
//! ([`super::KeyAttestationPolicy`]).

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{AttestedKey, KeyAttestationError, KeyAttestationFormat, SecurityLevel};
use crate::jose::{CompactJws, EcCurve, JoseError, Jwk, JwsAlg, JwsHeader, PrivateJwk, Signer as _, SoftwareSigner, b64, jws};
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// `typ` of a software key attestation.
pub const SOFTWARE_ATTESTATION_TYP: &str = "key-attestation-dev+jwt";
/// `iss` of a software key attestation.
pub const SOFTWARE_ATTESTATION_ISS: &str = "tessera-software-keystore";
/// How long a software attestation is valid (5 minutes: it is sent right away).
pub const SOFTWARE_ATTESTATION_TTL: i64 = 300;
/// Clock skew tolerated on `iat` / `exp`.
const SKEW: i64 = 60;
/// The seed of the published development root. Anyone can sign with it: development only.
const DEVELOPMENT_SEED: &[u8] = b"tessera development software key attestation root v1";

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    iat: i64,
    exp: i64,
    challenge: String,
    attested_key: Jwk,
    security_level: String,
}

/// Signs software key attestations (the [`crate::keystore::SoftwareKeyStore`] uses one).
pub struct SoftwareAttester {
    root: SoftwareSigner,
}

impl std::fmt::Debug for SoftwareAttester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareAttester").field("root", &self.root.public_jwk().thumbprint().to_string()).finish()
    }
}

fn development_root() -> Result<SoftwareSigner, JoseError> {
    let d = Sha256::digest(DEVELOPMENT_SEED).to_vec();
    let sk = p256::ecdsa::SigningKey::from_slice(&d).map_err(|e| JoseError::InvalidKey(e.to_string()))?;
    let point = sk.verifying_key().to_sec1_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(JoseError::InvalidKey("development root is the identity point".into()));
    };
    let public = Jwk::ec(EcCurve::P256, x.to_vec(), y.to_vec())?;
    let kid = public.thumbprint().to_string();
    SoftwareSigner::from_private_jwk(PrivateJwk::new(public.with_kid(kid), d)?)
}

impl SoftwareAttester {
    /// An attester over `root` (a root the verifier is configured with).
    pub fn new(root: SoftwareSigner) -> Self {
        Self { root }
    }

    /// The published development root (insecure by design, see the module doc).
    pub fn development() -> Result<Self, KeyAttestationError> {
        development_root().map(|root| Self { root }).map_err(|e| KeyAttestationError::Malformed(e.to_string()))
    }

    /// The root's public key (what a verifier trusts).
    pub fn root_key(&self) -> Jwk {
        self.root.public_jwk()
    }

    /// Attests `key` with `challenge` at `now`.
    pub fn attest(&self, key: &Jwk, challenge: &[u8], now: UnixTime) -> Result<String, KeyAttestationError> {
        let claims = Claims {
            iss: SOFTWARE_ATTESTATION_ISS.into(),
            iat: now.secs(),
            exp: now.plus(SOFTWARE_ATTESTATION_TTL).secs(),
            challenge: b64::encode(challenge),
            attested_key: strip(key),
            security_level: "software".into(),
        };
        jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(SOFTWARE_ATTESTATION_TYP), &claims, &self.root)
            .map_err(|e| KeyAttestationError::Malformed(e.to_string()))
    }
}

/// The public members only (no `kid`/`alg` noise in the attested key).
fn strip(key: &Jwk) -> Jwk {
    Jwk::new(key.params.clone())
}

/// Verifies software attestations against configured roots.
#[derive(Debug, Clone)]
pub struct SoftwareAttestationVerifier {
    roots: Vec<Jwk>,
}

impl SoftwareAttestationVerifier {
    /// Trusts attestations signed by any of `roots`.
    pub fn new(roots: Vec<Jwk>) -> Self {
        Self { roots }
    }

    /// Trusts the published development root.
    pub fn development() -> Result<Self, KeyAttestationError> {
        Ok(Self::new(vec![SoftwareAttester::development()?.root_key()]))
    }
}

impl super::KeyAttestationVerifier for SoftwareAttestationVerifier {
    fn verify(&self, attestation: &str, now: UnixTime) -> Result<AttestedKey, KeyAttestationError> {
        let malformed = |e: JoseError| KeyAttestationError::Malformed(e.to_string());
        let parsed = CompactJws::parse(attestation).map_err(malformed)?;
        if !parsed.header().typ_is(SOFTWARE_ATTESTATION_TYP) {
            return Err(KeyAttestationError::Malformed(format!("typ must be {SOFTWARE_ATTESTATION_TYP}")));
        }
        if !self.roots.iter().any(|r| parsed.verify(r).is_ok()) {
            return Err(KeyAttestationError::UntrustedRoot);
        }
        let claims: Claims = parsed.payload_json().map_err(malformed)?;
        if claims.iss != SOFTWARE_ATTESTATION_ISS {
            return Err(KeyAttestationError::Malformed(format!("iss must be {SOFTWARE_ATTESTATION_ISS}")));
        }
        let window = TimeWindow { iat: Some(claims.iat), nbf: None, exp: Some(claims.exp) };
        check_window(window, now, Skew::new(SKEW), None).map_err(|e| match e {
            TimeError::Expired { .. } | TimeError::IssuedInFuture { .. } => KeyAttestationError::Expired,
            other => KeyAttestationError::Malformed(other.to_string()),
        })?;
        let challenge = b64::decode(&claims.challenge).map_err(|_| KeyAttestationError::Malformed("challenge is not base64url".into()))?;
        Ok(AttestedKey {
            format: KeyAttestationFormat::Software,
            public_key: claims.attested_key,
            challenge,
            security_level: SecurityLevel::Software,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::KeyAttestationVerifier as _;
    use super::*;

    const NOW: UnixTime = UnixTime(1_800_000_000);

    #[test]
    fn development_root_is_stable() {
        let a = SoftwareAttester::development().unwrap().root_key();
        assert_eq!(a, development_root().unwrap().public_jwk());
        assert_eq!(a, SoftwareAttester::development().unwrap().root_key());
    }

    #[test]
    fn round_trip_and_each_refusal() {
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let dev = SoftwareAttester::development().unwrap();
        let v = SoftwareAttestationVerifier::development().unwrap();
        let att = dev.attest(&key, b"challenge", NOW).unwrap();
        let got = v.verify(&att, NOW).unwrap();
        assert_eq!(got.public_key.thumbprint(), key.thumbprint());
        got.check(b"challenge", Some(&key)).unwrap();
        assert_eq!(got.check(b"other", Some(&key)), Err(KeyAttestationError::WrongChallenge));

        // Untrusted root.
        let rogue = SoftwareAttester::new(SoftwareSigner::generate().unwrap());
        let forged = rogue.attest(&key, b"challenge", NOW).unwrap();
        assert_eq!(v.verify(&forged, NOW).unwrap_err(), KeyAttestationError::UntrustedRoot);

        // Expired.
        assert_eq!(v.verify(&att, NOW.plus(SOFTWARE_ATTESTATION_TTL + SKEW + 1)).unwrap_err(), KeyAttestationError::Expired);

        // Key mismatch.
        let other = SoftwareSigner::generate().unwrap().public_jwk();
        assert_eq!(got.check(b"challenge", Some(&other)), Err(KeyAttestationError::KeyMismatch));

        // Tampered payload.
        let mut parts: Vec<&str> = att.split('.').collect();
        let forged_payload = b64::encode(
            serde_json::to_vec(&serde_json::json!({"iss":SOFTWARE_ATTESTATION_ISS,"iat":NOW.0,"exp":NOW.0+300,"challenge":"eA","attested_key":other,"security_level":"software"})).unwrap(),
        );
        parts[1] = &forged_payload;
        assert_eq!(v.verify(&parts.join("."), NOW).unwrap_err(), KeyAttestationError::UntrustedRoot);
    }
}
