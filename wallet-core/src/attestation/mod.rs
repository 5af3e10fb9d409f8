//! Wallet attestations (IT-Wallet 1.4 §2.2–2.5): one implementation of each format and rule,
//! used by the wallet (to build) and by the wallet provider and issuers (to verify).
//!
//! # API
//!
//! * [`endpoints`]: the wallet provider's paths ([`endpoints::NONCE`],
//!   [`endpoints::WALLET_INSTANCES`], [`endpoints::INSTANCE_INITIALIZATION`],
//!   [`endpoints::WALLET_ATTESTATION`], [`endpoints::CITIZEN_LOGIN`],
//!   [`endpoints::CITIZEN_SESSION`], [`endpoints::wallet_instance_path`]) and JSON bodies
//!   ([`NonceResponse`], [`RegistrationRequest`], [`AttestationRequestBody`],
//!   [`AttestationResponse`], [`WalletInstanceInfo`], [`InstanceStatusUpdate`],
//!   [`CitizenSessionRequest`], [`CitizenSessionResponse`], [`ErrorBody`]); the nonce type
//!   [`ProviderNonce`].
//! * [`client_data`]: `client_data_hash` for registration ([`client_data::registration`]) and
//!   issuance ([`client_data::issuance`]), and what `hardware_signature` signs.
//! * Registration (§2.2): [`RegistrationRequest::new`] (wallet, through a
//!   [`crate::keystore::KeyStore`]) and [`RegistrationRequest::verify`] (provider) →
//!   [`VerifiedRegistration`].
//! * Attestation request (§2.3, `attestations-request+jwt`): [`AttestationRequestBuilder`]
//!   (wallet) and [`AttestationRequest::parse`] → [`AttestationRequest::verify`] (signature by
//!   `cnf.jwk`, `kid`, `iss`, `aud`, times) → [`VerifiedAttestationRequest::verify_device`]
//!   (hardware signature with the registered key, integrity assertion, attested key) →
//!   [`DeviceEvidence`]. Nonce freshness and instance status are the provider's store's checks.
//! * Wallet App Attestation (WAA, `oauth-client-attestation+jwt`, ≤ 24 h): [`WaaBuilder`]
//!   (provider) and [`verify_waa`] → [`VerifiedWaa`].
//! * Wallet Unit Attestation (WUA, `key-attestation+jwt`): [`WuaBuilder`] (provider) and
//!   [`verify_wua`] → [`VerifiedWua`] (its `status` is a [`crate::status::CredentialStatus`]).
//! * Provider signing: [`ProviderSigning`] (a [`crate::jose::Signer`] plus `x5c` and/or the
//!   federation `trust_chain` header); verification resolves the provider's key with a
//!   [`crate::sd_jwt::IssuerKeyResolver`] ([`crate::x509::X5cResolver`],
//!   [`crate::federation::TrustChainResolver`] or a static key).
//! * Client attestation headers for issuers ([`pop`]): [`client_attestation_headers`]
//!   (wallet: `OAuth-Client-Attestation` + `OAuth-Client-Attestation-PoP`) and
//!   [`verify_client_attestation`] (issuer) → [`VerifiedClientAttestation`].
//! * [`key_attestation`]: the [`KeyAttestationVerifier`] trait, the development software
//!   format, Android Key Attestation, Apple App Attest as an extension point, and
//!   [`KeyAttestationPolicy`] (refuses software attestations in production).
//! * Errors: [`AttestationError`] (with [`AttestationError::oauth_code`] for the wallet
//!   provider and [`AttestationError::client_auth_code`] for issuers) and
//!   [`KeyAttestationError`].
//!
//! Sans-IO: nothing here touches the network; times come in as arguments.

pub mod client_data;
pub mod endpoints;
mod error;
pub mod key_attestation;
pub mod pop;
mod registration;
mod request;
mod waa;
mod wua;

pub use endpoints::{
    AttestationRequestBody, AttestationResponse, CitizenSessionRequest, CitizenSessionResponse, ErrorBody, InstanceStatus,
    InstanceStatusUpdate, NonceResponse, ProviderNonce, WalletAttestations, WalletInstanceInfo,
};
pub use error::AttestationError;
pub use key_attestation::{AttestedKey, KeyAttestationError, KeyAttestationPolicy, KeyAttestationVerifier, SecurityLevel};
pub use pop::{
    Audience, CLIENT_ATTESTATION_HEADER, CLIENT_ATTESTATION_POP_HEADER, ClientAttestationContext, ClientAttestationHeaders,
    POP_TYP, PopClaims, VerifiedClientAttestation, client_attestation_headers, verify_client_attestation,
};
pub use registration::{RegistrationRequest, VerifiedRegistration};
pub use request::{
    ATTESTATION_REQUEST_TTL, ATTESTATION_REQUEST_TYP, AttestationRequest, AttestationRequestBuilder, AttestationRequestClaims,
    DeviceEvidence, VerifiedAttestationRequest, instance_issuer,
};
pub use waa::{GeneralInfo, VerifiedWaa, WAA_DEFAULT_LIFETIME, WAA_MAX_LIFETIME, WAA_TYP, WaaBuilder, WaaClaims, WalletInfo, verify_waa};
pub use wua::{
    AttackPotentialResistance, KeyStorageInfo, StorageType, VerifiedWua, WUA_MIN_LIFETIME, WUA_TYP, WuaBuilder, WuaClaims,
    WuaWalletInfo, verify_wua, verify_wua_with_memo,
};

use serde::{Deserialize, Serialize};

use crate::jose::{CompactJws, EcCurve, Jwk, JwkParams, JwsHeader, Signer};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// Clock skew tolerated on `iat`, `nbf` and `exp` (seconds).
pub const DEFAULT_SKEW: i64 = 60;

/// `cnf` (RFC 7800): the key the holder proves possession of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cnf {
    /// The public key.
    pub jwk: Jwk,
}

impl Cnf {
    /// `cnf` for `jwk` (only its key members are kept).
    pub fn new(jwk: &Jwk) -> Self {
        Self { jwk: Jwk::new(jwk.params.clone()) }
    }

    fn check_p256(&self) -> Result<(), AttestationError> {
        match self.jwk.params {
            JwkParams::Ec { crv: EcCurve::P256, .. } => Ok(()),
            _ => Err(AttestationError::BadCnf),
        }
    }
}

/// How the wallet provider signs the WAA and WUA: its key, and the `x5c` (REQUIRED by
/// IT-Wallet 1.4 §2.3) and/or federation `trust_chain` (OPTIONAL) headers that let a
/// verifier find that key. `kid` is the signer's.
pub struct ProviderSigning<'a> {
    /// The provider's signing key.
    pub signer: &'a dyn Signer,
    /// `x5c`: base64 DER, leaf first.
    pub x5c: Option<Vec<String>>,
    /// `trust_chain`: entity statements, leaf first.
    pub trust_chain: Option<Vec<String>>,
}

impl std::fmt::Debug for ProviderSigning<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderSigning").field("kid", &self.signer.kid()).finish_non_exhaustive()
    }
}

impl<'a> ProviderSigning<'a> {
    /// Signing with `signer` and no chain headers (a verifier must know the key).
    pub fn new(signer: &'a dyn Signer) -> Self {
        Self { signer, x5c: None, trust_chain: None }
    }

    /// Adds `x5c`.
    pub fn with_x5c(mut self, x5c: Vec<String>) -> Self {
        self.x5c = Some(x5c);
        self
    }

    /// Adds `trust_chain`.
    pub fn with_trust_chain(mut self, chain: Vec<String>) -> Self {
        self.trust_chain = Some(chain);
        self
    }

    fn header(&self, typ: &str) -> JwsHeader {
        let mut h = JwsHeader::new(self.signer.alg()).with_typ(typ).with_kid(self.signer.kid());
        h.x5c = self.x5c.clone();
        h.trust_chain = self.trust_chain.clone();
        h
    }
}

/// Parses a compact JWS and checks its `typ`.
fn parse_typed<'a>(jwt: &'a str, typ: &'static str) -> Result<CompactJws<'a>, AttestationError> {
    parse_typed_with(jwt, typ, None)
}

/// [`parse_typed`], the header from `memo` when there is one ([`crate::jose::HeaderMemo`]).
fn parse_typed_with<'a>(jwt: &'a str, typ: &'static str, memo: Option<&crate::jose::HeaderMemo>) -> Result<CompactJws<'a>, AttestationError> {
    let parsed = match memo {
        Some(m) => CompactJws::parse_with_memo(jwt, m),
        None => CompactJws::parse(jwt),
    }
    .map_err(AttestationError::Jose)?;
    if !parsed.header().typ_is(typ) {
        return Err(AttestationError::WrongTyp { expected: typ, found: parsed.header().typ.clone() });
    }
    Ok(parsed)
}

fn claims<T: serde::de::DeserializeOwned>(jws: &CompactJws<'_>, what: &'static str) -> Result<T, AttestationError> {
    serde_json::from_slice(jws.payload()).map_err(|e| AttestationError::Malformed { what, detail: e.to_string() })
}

/// Each time claim a valid NumericDate, `exp` not passed, `iat` and `nbf` not in the future,
/// all with `skew`, `exp` after `iat`, and `exp - iat` at most `max_lifetime`
/// ([`check_window`]).
fn check_times(w: TimeWindow, now: UnixTime, skew: i64, max_lifetime: Option<i64>) -> Result<(), AttestationError> {
    check_window(w, now, Skew::new(skew), max_lifetime).map_err(|e| match e {
        TimeError::Expired { exp, now, .. } => AttestationError::Expired { exp, now },
        TimeError::NotYetValid { nbf: t, now, .. } | TimeError::IssuedInFuture { iat: t, now, .. } => AttestationError::NotYetValid { iat: t, now },
        TimeError::LifetimeTooLong { lifetime, max } => AttestationError::LifetimeTooLong { lifetime, max },
        other => AttestationError::Time(other),
    })
}

/// Verifies a provider-signed JWS: key from `resolver` for `iss`, then the signature.
fn verify_provider_signature(jws: &CompactJws<'_>, iss: &str, resolver: &dyn IssuerKeyResolver, now: UnixTime) -> Result<(), AttestationError> {
    let key = resolver.resolve(iss, jws.header(), now).map_err(AttestationError::UntrustedProvider)?;
    jws.verify(&key).map_err(|_| AttestationError::BadSignature)
}

/// A fresh UUIDv4 (RFC 9562 §5.4) for `jti`.
pub(crate) fn uuid_v4() -> Result<String, AttestationError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| AttestationError::Build(format!("no randomness: {e}")))?;
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
mod tests;
