//! The attestation request (IT-Wallet 1.4 §2.3, `attestations-request+jwt`): the wallet asks
//! for a WAA (for the ephemeral key in `cnf.jwk`) and a WUA (for the credential key in
//! `attested_key`), proving possession of the registered hardware key.
//!
//! Header: `typ: attestations-request+jwt`, `alg`, `kid` = RFC 7638 thumbprint of `cnf.jwk`.
//! Claims: `iss` = `<provider>/instance/<thumbprint of cnf.jwk>` (the spec example's form; our
//! choice of thumbprint is the `cnf` key's, the same as `kid` and the WAA's `sub`), `aud` =
//! the provider id, `exp`, `iat`, `nonce`, `hardware_signature` (base64url of the ES256 raw
//! signature by the hardware key over [`client_data::hardware_signature_input`]),
//! `integrity_assertion` (the hardware key's attestation with challenge `client_data_waa`),
//! `attested_key` (the credential key's attestation with challenge `client_data_wua`),
//! `hardware_key_tag`, `cnf.jwk`. The request is signed by the `cnf` key.
//!
//! \[AMBIG\] The spec's example payload has `sub` where the table says `aud`: we send `aud` and
//! accept `sub` in its place.

use serde::{Deserialize, Serialize};

use super::client_data;
use super::endpoints::ProviderNonce;
use super::error::AttestationError;
use super::key_attestation::{AttestedKey, KeyAttestationVerifier};
use super::{Cnf, check_times, claims, parse_typed};
use crate::jose::{CompactJws, Jwk, JwsAlg, JwsHeader, Signer, b64, jws};
use crate::keystore::{KeyStore, KeyTag};
use crate::time::{TimeWindow, UnixTime};

/// `typ` of the attestation request.
pub const ATTESTATION_REQUEST_TYP: &str = "attestations-request+jwt";
/// How long an attestation request is valid (`exp - iat`), in seconds.
pub const ATTESTATION_REQUEST_TTL: i64 = 300;

/// `iss` of an attestation request: `<provider>/instance/<thumbprint>`.
pub fn instance_issuer(provider: &str, cnf_key: &Jwk) -> String {
    format!("{}/instance/{}", provider.trim_end_matches('/'), cnf_key.thumbprint())
}

/// The claims of an attestation request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttestationRequestClaims {
    /// `<provider>/instance/<thumbprint of cnf.jwk>`.
    pub iss: String,
    /// The provider id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// \[AMBIG\] the spec example's `aud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// The provider's nonce.
    pub nonce: String,
    /// base64url ES256 signature by the hardware key.
    pub hardware_signature: String,
    /// Attestation of the hardware key over `client_data_waa`.
    pub integrity_assertion: String,
    /// Attestation of the credential key over `client_data_wua`.
    pub attested_key: String,
    /// The registered hardware key's tag.
    pub hardware_key_tag: KeyTag,
    /// The ephemeral key the WAA will be bound to.
    pub cnf: Cnf,
}

/// Wallet side: builds the attestation request.
#[derive(Debug, Clone)]
pub struct AttestationRequestBuilder<'a> {
    /// The provider id (`aud`).
    pub provider: &'a str,
    /// The nonce from `GET /nonce`.
    pub nonce: &'a ProviderNonce,
    /// The registered hardware key.
    pub hardware_key_tag: &'a KeyTag,
    /// The credential key the WUA will attest (in the same key store).
    pub credential_key_tag: &'a KeyTag,
    /// Now.
    pub now: UnixTime,
}

impl AttestationRequestBuilder<'_> {
    /// Signs the request with `ephemeral` (the WAA key), using `keys` for the hardware
    /// signature and both attestations.
    pub fn build(&self, keys: &dyn KeyStore, ephemeral: &dyn Signer) -> Result<String, AttestationError> {
        let ks = |e: crate::keystore::KeyStoreError| AttestationError::Build(e.to_string());
        let waa_key = ephemeral.public_jwk();
        let wua_key = keys.public_key(self.credential_key_tag).map_err(ks)?;
        let h_waa = client_data::issuance(self.nonce, &waa_key);
        let h_wua = client_data::issuance(self.nonce, &wua_key);
        let sig = keys.sign(self.hardware_key_tag, &client_data::hardware_signature_input(&h_waa, &h_wua)).map_err(ks)?;
        let integrity_assertion = keys.key_attestation(self.hardware_key_tag, h_waa.as_bytes()).map_err(ks)?;
        let attested_key = keys.key_attestation(self.credential_key_tag, h_wua.as_bytes()).map_err(ks)?;
        let claims = AttestationRequestClaims {
            iss: instance_issuer(self.provider, &waa_key),
            aud: Some(self.provider.to_owned()),
            sub: None,
            exp: self.now.plus(ATTESTATION_REQUEST_TTL).secs(),
            iat: self.now.secs(),
            nonce: self.nonce.as_str().to_owned(),
            hardware_signature: b64::encode(sig),
            integrity_assertion,
            attested_key,
            hardware_key_tag: self.hardware_key_tag.clone(),
            cnf: Cnf::new(&waa_key),
        };
        let header = JwsHeader::new(ephemeral.alg())
            .with_typ(ATTESTATION_REQUEST_TYP)
            .with_kid(Some(waa_key.thumbprint().to_string()));
        Ok(jws::sign_json(&header, &claims, ephemeral)?)
    }
}

/// A parsed, not yet verified, attestation request.
#[derive(Debug, Clone)]
pub struct AttestationRequest<'a> {
    jws: CompactJws<'a>,
    claims: AttestationRequestClaims,
}

/// An attestation request whose signature, `kid`, `iss`, `aud` and times verified. The
/// provider then checks the nonce (unused, issued by it) and the instance (registered, not
/// revoked) by [`Self::nonce`] and [`Self::hardware_key_tag`], and calls
/// [`Self::verify_device`] with the registered hardware key.
#[derive(Debug, Clone)]
pub struct VerifiedAttestationRequest {
    claims: AttestationRequestClaims,
}

/// The device evidence of a fully verified request: what the WAA and WUA attest.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceEvidence {
    /// The WAA's `cnf` key.
    pub waa_key: Jwk,
    /// The credential key, for the WUA's `attested_keys`.
    pub credential_key: Jwk,
    /// The hardware key's integrity assertion.
    pub integrity: AttestedKey,
    /// The credential key's attestation.
    pub credential: AttestedKey,
}

impl<'a> AttestationRequest<'a> {
    /// Parses the JWT: `typ`, then the claims.
    pub fn parse(jwt: &'a str) -> Result<Self, AttestationError> {
        let jws = parse_typed(jwt, ATTESTATION_REQUEST_TYP)?;
        let claims = claims(&jws, "attestation request")?;
        Ok(Self { jws, claims })
    }

    /// The claims (unverified).
    pub fn unverified_claims(&self) -> &AttestationRequestClaims {
        &self.claims
    }

    /// Checks (§2.3 "Wallet Provider checks"): `cnf.jwk` is a P-256 key, `kid` is its
    /// thumbprint, the signature verifies with it, `iss` is `<provider_id>/instance/<kid>`,
    /// `aud` (or `sub`) is `provider_id`, `exp`/`iat` with `skew`.
    pub fn verify(self, provider_id: &str, now: UnixTime, skew: i64) -> Result<VerifiedAttestationRequest, AttestationError> {
        let c = &self.claims;
        c.cnf.check_p256()?;
        let thumb = c.cnf.jwk.thumbprint();
        if self.jws.header().kid.as_deref() != Some(thumb.as_str()) {
            return Err(AttestationError::KidMismatch);
        }
        self.jws.verify(&c.cnf.jwk).map_err(|_| AttestationError::BadSignature)?;
        let expected_iss = instance_issuer(provider_id, &c.cnf.jwk);
        if c.iss != expected_iss {
            return Err(AttestationError::IssuerMismatch { expected: expected_iss, found: c.iss.clone() });
        }
        if c.aud.as_deref().or(c.sub.as_deref()) != Some(provider_id) {
            return Err(AttestationError::AudienceMismatch { expected: provider_id.to_owned() });
        }
        check_times(TimeWindow { iat: Some(c.iat), nbf: None, exp: Some(c.exp) }, now, skew, None)?;
        if ProviderNonce::new(c.nonce.clone()).is_none() {
            return Err(AttestationError::Malformed { what: "attestation request", detail: "empty or over-long nonce".into() });
        }
        Ok(VerifiedAttestationRequest { claims: self.claims })
    }
}

impl VerifiedAttestationRequest {
    /// The nonce, for the provider's single-use check.
    pub fn nonce(&self) -> &str {
        &self.claims.nonce
    }

    /// The hardware key tag, to find the registered instance.
    pub fn hardware_key_tag(&self) -> &KeyTag {
        &self.claims.hardware_key_tag
    }

    /// The WAA key (`cnf.jwk`).
    pub fn waa_key(&self) -> &Jwk {
        &self.claims.cnf.jwk
    }

    /// The verified claims.
    pub fn claims(&self) -> &AttestationRequestClaims {
        &self.claims
    }

    /// Checks the device (§2.3): `hardware_signature` over the rebuilt `client_data` hashes
    /// with the registered `hardware_key`; `integrity_assertion` bound to `client_data_waa`
    /// and attesting the hardware key; `attested_key` bound to `client_data_wua` of the key it
    /// attests.
    pub fn verify_device(
        &self,
        hardware_key: &Jwk,
        verifier: &dyn KeyAttestationVerifier,
        now: UnixTime,
    ) -> Result<DeviceEvidence, AttestationError> {
        let nonce = ProviderNonce::new(self.claims.nonce.clone())
            .ok_or_else(|| AttestationError::Malformed { what: "attestation request", detail: "empty nonce".into() })?;
        let credential = verifier.verify(&self.claims.attested_key, now)?;
        let h_wua = client_data::issuance(&nonce, &credential.public_key);
        credential.check(h_wua.as_bytes(), None)?;
        let h_waa = client_data::issuance(&nonce, &self.claims.cnf.jwk);
        let sig = b64::decode(&self.claims.hardware_signature).map_err(|_| AttestationError::BadHardwareSignature)?;
        hardware_key
            .verify(JwsAlg::Es256, &client_data::hardware_signature_input(&h_waa, &h_wua), &sig)
            .map_err(|_| AttestationError::BadHardwareSignature)?;
        let integrity = verifier.verify(&self.claims.integrity_assertion, now)?;
        integrity.check(h_waa.as_bytes(), Some(hardware_key))?;
        Ok(DeviceEvidence { waa_key: self.claims.cnf.jwk.clone(), credential_key: credential.public_key.clone(), integrity, credential })
    }
}
