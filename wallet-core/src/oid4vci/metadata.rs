//! Credential issuer metadata (OpenID4VCI 1.0 §12.2; IT-Wallet 1.4 §3.3 "Issuer metadata",
//! `credential-issuer-metadata.rst`) and the authorization server metadata the wallet needs
//! (RFC 8414, RFC 9126 §5, RFC 9449 §5.1).
//!
//! The issuer builds these structs and publishes them (in its Entity Configuration and at
//! `/.well-known/openid-credential-issuer`); the wallet parses them from the trust chain or
//! that endpoint and calls [`CredentialIssuerMetadata::validate`] and
//! [`AuthorizationServerMetadata::validate`] before using them. Unknown members are kept
//! (`extra`) so that metadata re-serializes as published.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ErrorCode, MessageError};
use super::profile::ISSUER_METADATA_JWT_TYP;
use crate::jose::{CompactJws, JoseError, JwsHeader, Signer, jws};
use crate::oid4vp::Profile;
use crate::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// `format` of an SD-JWT VC configuration.
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// `format` of an mdoc configuration (kept open; not issued yet).
pub const FORMAT_MSO_MDOC: &str = "mso_mdoc";
/// The proof type this profile uses.
pub const PROOF_TYPE_JWT: &str = "jwt";
/// `token_endpoint_auth_methods_supported` of attestation-based client authentication.
pub const ATTEST_JWT_CLIENT_AUTH: &str = "attest_jwt_client_auth";
/// The largest metadata document we parse.
pub const MAX_METADATA_LEN: usize = 512 * 1024;

/// Why metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// Malformed JSON.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// `credential_issuer` / `issuer` is not the id the metadata was fetched for
    /// (OpenID4VCI §12.2.2, RFC 8414 §3.3: MUST be identical).
    #[error("metadata is about `{found}`, not `{expected}`")]
    IssuerMismatch {
        /// The id used to fetch.
        expected: String,
        /// The id in the document.
        found: String,
    },
    /// A required member is missing (named).
    #[error("metadata member `{0}` missing")]
    Missing(&'static str),
    /// An endpoint is not `https` (OpenID4VCI §12.2.4).
    #[error("endpoint `{0}` is not https")]
    NotHttps(String),
    /// `credential_configurations_supported` is empty.
    #[error("no credential configurations")]
    NoConfigurations,
    /// A configuration lacks a member its format requires (`vct` for `dc+sd-jwt`, `doctype`
    /// for `mso_mdoc`, `scope` in the IT profile).
    #[error("credential configuration `{id}`: `{member}` missing")]
    ConfigurationMissing {
        /// The configuration id.
        id: String,
        /// The member.
        member: &'static str,
    },
    /// A key-bound configuration without a `jwt` proof type, or with no proof algorithms.
    #[error("credential configuration `{id}`: proof types: {detail}")]
    BadProofTypes {
        /// The configuration id.
        id: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// `batch_credential_issuance.batch_size` under 2 (OpenID4VCI §12.2.4: MUST be 2 or
    /// greater).
    #[error("batch_size {0} must be at least 2")]
    BadBatchSize(u32),
    /// `credential_response_encryption` without algorithms.
    #[error("credential_response_encryption lists no alg or enc")]
    BadEncryption,
    /// Signed metadata: not a compact JWS, or a forbidden `alg`.
    #[error("signed metadata malformed: {0}")]
    MalformedJwt(JoseError),
    /// Signed metadata with another `typ` than `openidvci-issuer-metadata+jwt`.
    #[error("signed metadata typ {0:?} not accepted")]
    WrongTyp(Option<String>),
    /// Signed metadata whose signer is not trusted for the issuer.
    #[error("signed metadata signer untrusted: {0}")]
    Untrusted(KeyResolutionError),
    /// Signed metadata whose signature does not verify.
    #[error("signed metadata signature invalid")]
    BadSignature,
    /// Signed metadata expired or issued in the future.
    #[error("signed metadata time: {0}")]
    Time(TimeError),
    /// Signing failed.
    #[error("cannot sign metadata: {0}")]
    Build(String),
    /// The authorization server does not support what IT-Wallet mandates (`S256`, DPoP,
    /// attestation-based client auth, PAR).
    #[error("authorization server lacks `{0}`")]
    AuthorizationServerLacks(&'static str),
}

impl MetadataError {
    /// `invalid_request`.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// `batch_credential_issuance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCredentialIssuance {
    /// The most proofs (credentials) in one request.
    pub batch_size: u32,
}

/// `credential_response_encryption` (OpenID4VCI §12.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialResponseEncryption {
    /// JWE `alg` values.
    pub alg_values_supported: Vec<String>,
    /// JWE `enc` values.
    pub enc_values_supported: Vec<String>,
    /// JWE `zip` values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zip_values_supported: Vec<String>,
    /// Whether the wallet must encrypt.
    pub encryption_required: bool,
}

/// `key_attestations_required` (OpenID4VCI App. D): the attack potential resistance levels
/// the issuer accepts (`iso_18045_*`); empty: any key attestation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyAttestationsRequired {
    /// Accepted `key_storage` levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub key_storage: Vec<String>,
    /// Accepted `user_authentication` levels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_authentication: Vec<String>,
}

/// One entry of `proof_types_supported`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofTypeSupported {
    /// Proof signing algorithms.
    pub proof_signing_alg_values_supported: Vec<String>,
    /// Present: proofs must carry a key attestation (the WUA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_attestations_required: Option<KeyAttestationsRequired>,
}

/// An algorithm identifier: a JOSE name (`ES256`) or a COSE number (mdoc, `-9`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AlgId {
    /// A JOSE name.
    Name(String),
    /// A COSE algorithm number.
    Cose(i64),
}

/// An entry of `credential_configurations_supported` (OpenID4VCI §12.2.4, App. A).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialConfiguration {
    /// `dc+sd-jwt` or `mso_mdoc`.
    pub format: String,
    /// The OAuth scope requesting this configuration (IT-Wallet: REQUIRED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `jwk` (SD-JWT VC) or `cose_key` (mdoc); empty: not key-bound.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cryptographic_binding_methods_supported: Vec<String>,
    /// The issuer's signing algorithms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_signing_alg_values_supported: Vec<AlgId>,
    /// Proof types by name (`jwt`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proof_types_supported: BTreeMap<String, ProofTypeSupported>,
    /// SD-JWT VC type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct: Option<String>,
    /// mdoc doctype.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctype: Option<String>,
    /// Other members (`credential_metadata`, `schema_id`, `authentic_sources`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CredentialConfiguration {
    /// An SD-JWT VC configuration for `vct` with `scope`, bound to a `jwk` with ES256 proofs
    /// carrying a key attestation.
    pub fn sd_jwt_vc(vct: impl Into<String>, scope: impl Into<String>) -> Self {
        let jwt = ProofTypeSupported { proof_signing_alg_values_supported: vec!["ES256".into()], key_attestations_required: Some(KeyAttestationsRequired::default()) };
        Self {
            format: FORMAT_SD_JWT_VC.into(),
            scope: Some(scope.into()),
            cryptographic_binding_methods_supported: vec!["jwk".into()],
            credential_signing_alg_values_supported: vec![AlgId::Name("ES256".into())],
            proof_types_supported: BTreeMap::from([(PROOF_TYPE_JWT.to_owned(), jwt)]),
            vct: Some(vct.into()),
            doctype: None,
            extra: Map::new(),
        }
    }

    /// Whether credentials are bound to a holder key (proofs required).
    pub fn is_key_bound(&self) -> bool {
        !self.cryptographic_binding_methods_supported.is_empty()
    }

    /// The `jwt` proof type, if supported.
    pub fn jwt_proof(&self) -> Option<&ProofTypeSupported> {
        self.proof_types_supported.get(PROOF_TYPE_JWT)
    }
}

/// Credential issuer metadata (OpenID4VCI §12.2.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialIssuerMetadata {
    /// The issuer's id (an `https` URL).
    pub credential_issuer: String,
    /// Authorization servers; empty: the issuer is its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorization_servers: Vec<String>,
    /// The credential endpoint.
    pub credential_endpoint: String,
    /// The nonce endpoint (IT-Wallet: the wallet gets `c_nonce` there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce_endpoint: Option<String>,
    /// The deferred credential endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred_credential_endpoint: Option<String>,
    /// The notification endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_endpoint: Option<String>,
    /// Response encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_response_encryption: Option<CredentialResponseEncryption>,
    /// Batch issuance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_credential_issuance: Option<BatchCredentialIssuance>,
    /// The configurations, by id.
    pub credential_configurations_supported: BTreeMap<String, CredentialConfiguration>,
    /// Other members (`display`, `jwks`, `trust_frameworks_supported`,
    /// `status_list_aggregation_endpoint`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn check_https(u: &str) -> Result<(), MetadataError> {
    if super::is_https_or_loopback(u) { Ok(()) } else { Err(MetadataError::NotHttps(u.to_owned())) }
}

impl CredentialIssuerMetadata {
    /// Parses the JSON of `/.well-known/openid-credential-issuer` (or the Entity
    /// Configuration's `openid_credential_issuer` member).
    pub fn parse_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        if bytes.len() > MAX_METADATA_LEN {
            return Err(MessageError::TooLarge { what: "issuer metadata", len: bytes.len(), limit: MAX_METADATA_LEN }.into());
        }
        serde_json::from_slice(bytes).map_err(|e| MessageError::BadJson { what: "issuer metadata", detail: e.to_string() }.into())
    }

    /// The `batch_size`, 1 when batch issuance is not offered.
    pub fn batch_size(&self) -> u32 {
        self.batch_credential_issuance.map_or(1, |b| b.batch_size)
    }

    /// The authorization server to use: the listed one, or the issuer itself.
    pub fn authorization_server(&self) -> &str {
        self.authorization_servers.first().map_or(self.credential_issuer.as_str(), String::as_str)
    }

    /// The checks a wallet runs before using the metadata, and an issuer before publishing
    /// it: `credential_issuer` is `expected_issuer`; endpoints `https`; a `nonce_endpoint`
    /// (IT-Wallet §3.3 steps 12–13); at least one configuration; each `dc+sd-jwt` one with
    /// `vct` and `scope` (`mso_mdoc`: `doctype`); each key-bound one with a `jwt` proof type
    /// listing algorithms; a
    /// `batch_size` of 2 or more; encryption parameters listed. The 1.3 and 1.4 profiles
    /// require the same members (versions note §1: no spec-text change); `profile` is kept
    /// for what a later profile may add.
    ///
    /// `key_attestations_required` is not required: the spec's own Entity Configuration
    /// example (`ec-eaa.json`) omits it, and 1.4 lets an issuer of non-device-bound
    /// credentials need no WUA. Our issuer always publishes it
    /// ([`CredentialConfiguration::sd_jwt_vc`]) and the wallet always sends the WUA.
    pub fn validate(&self, expected_issuer: &str, _profile: Profile) -> Result<(), MetadataError> {
        if self.credential_issuer != expected_issuer {
            return Err(MetadataError::IssuerMismatch { expected: expected_issuer.to_owned(), found: self.credential_issuer.clone() });
        }
        check_https(&self.credential_issuer)?;
        check_https(&self.credential_endpoint)?;
        let nonce = self.nonce_endpoint.as_deref().ok_or(MetadataError::Missing("nonce_endpoint"))?;
        check_https(nonce)?;
        for e in [&self.deferred_credential_endpoint, &self.notification_endpoint].into_iter().flatten() {
            check_https(e)?;
        }
        for s in &self.authorization_servers {
            check_https(s)?;
        }
        if let Some(b) = self.batch_credential_issuance
            && b.batch_size < 2
        {
            return Err(MetadataError::BadBatchSize(b.batch_size));
        }
        if let Some(e) = &self.credential_response_encryption
            && (e.alg_values_supported.is_empty() || e.enc_values_supported.is_empty())
        {
            return Err(MetadataError::BadEncryption);
        }
        if self.credential_configurations_supported.is_empty() {
            return Err(MetadataError::NoConfigurations);
        }
        for (id, c) in &self.credential_configurations_supported {
            let missing = |member| MetadataError::ConfigurationMissing { id: id.clone(), member };
            match c.format.as_str() {
                FORMAT_SD_JWT_VC if c.vct.as_deref().is_none_or(str::is_empty) => return Err(missing("vct")),
                FORMAT_MSO_MDOC if c.doctype.as_deref().is_none_or(str::is_empty) => return Err(missing("doctype")),
                _ => {}
            }
            if c.scope.as_deref().is_none_or(str::is_empty) {
                return Err(missing("scope"));
            }
            if c.is_key_bound() {
                let bad = |detail| MetadataError::BadProofTypes { id: id.clone(), detail };
                let jwt = c.jwt_proof().ok_or_else(|| bad("no jwt proof type"))?;
                if jwt.proof_signing_alg_values_supported.is_empty() {
                    return Err(bad("no proof_signing_alg_values_supported"));
                }
            }
        }
        Ok(())
    }

    /// The configuration `id`.
    pub fn configuration(&self, id: &str) -> Option<&CredentialConfiguration> {
        self.credential_configurations_supported.get(id)
    }

    /// The configuration whose `scope` is `scope`.
    pub fn configuration_by_scope(&self, scope: &str) -> Option<(&str, &CredentialConfiguration)> {
        self.credential_configurations_supported.iter().find(|(_, c)| c.scope.as_deref() == Some(scope)).map(|(id, c)| (id.as_str(), c))
    }
}

#[derive(Serialize, Deserialize)]
struct SignedMetadataClaims {
    iss: String,
    sub: String,
    iat: i64,
    exp: i64,
    #[serde(flatten)]
    metadata: CredentialIssuerMetadata,
}

impl CredentialIssuerMetadata {
    /// Issuer side (IT-Wallet 1.4, versions note §1): the metadata as a JWT of `typ`
    /// `openidvci-issuer-metadata+jwt` with `iss` = `sub` = the credential issuer, `iat`,
    /// `exp` = `iat + ttl`, the metadata members beside them; `x5c` when given.
    pub fn sign(&self, key: &dyn Signer, x5c: Option<Vec<String>>, iat: UnixTime, ttl: i64) -> Result<String, MetadataError> {
        let exp = iat.checked_add(ttl).map_err(MetadataError::Time)?;
        let claims = SignedMetadataClaims { iss: self.credential_issuer.clone(), sub: self.credential_issuer.clone(), iat: iat.secs(), exp: exp.secs(), metadata: self.clone() };
        let mut header = JwsHeader::new(key.alg()).with_typ(ISSUER_METADATA_JWT_TYP).with_kid(key.kid());
        header.x5c = x5c;
        jws::sign_json(&header, &claims, key).map_err(|e| MetadataError::Build(e.to_string()))
    }

    /// Wallet side: verifies signed metadata (`typ`, signer trusted by `resolver` for the
    /// issuer, times) and returns it, not yet [`Self::validate`]d.
    pub fn verify_signed(jwt: &str, resolver: &dyn IssuerKeyResolver, now: UnixTime, skew: i64) -> Result<Self, MetadataError> {
        let parsed = CompactJws::parse(jwt).map_err(MetadataError::MalformedJwt)?;
        if !parsed.header().typ_is(ISSUER_METADATA_JWT_TYP) {
            return Err(MetadataError::WrongTyp(parsed.header().typ.clone()));
        }
        let c: SignedMetadataClaims = parsed.payload_json().map_err(|e| MessageError::BadJson { what: "signed metadata", detail: e.to_string() })?;
        if c.iss != c.metadata.credential_issuer || c.sub != c.metadata.credential_issuer {
            return Err(MetadataError::IssuerMismatch { expected: c.metadata.credential_issuer.clone(), found: c.iss });
        }
        let key = resolver.resolve(&c.iss, parsed.header(), now).map_err(MetadataError::Untrusted)?;
        parsed.verify(&key).map_err(|_| MetadataError::BadSignature)?;
        check_window(TimeWindow { iat: Some(c.iat), nbf: None, exp: Some(c.exp) }, now, Skew::new(skew), None).map_err(MetadataError::Time)?;
        Ok(c.metadata)
    }
}

/// The authorization server metadata a wallet needs (RFC 8414 §2; RFC 9126 §5; RFC 9449
/// §5.1; IT-Wallet §3.3 `oauth_authorization_server`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// The server's id.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The PAR endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// PKCE methods (`S256`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code_challenge_methods_supported: Vec<String>,
    /// DPoP algorithms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// Client authentication methods (`attest_jwt_client_auth`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Grant types.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grant_types_supported: Vec<String>,
    /// Request object algorithms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_object_signing_alg_values_supported: Vec<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorizationServerMetadata {
    /// Checks that the server is `expected` (RFC 8414 §3.3), its endpoints `https`, and that
    /// it supports what IT-Wallet §3.1 mandates: PAR, PKCE `S256`, DPoP, attestation-based
    /// client authentication.
    pub fn validate(&self, expected: &str) -> Result<(), MetadataError> {
        if self.issuer != expected {
            return Err(MetadataError::IssuerMismatch { expected: expected.to_owned(), found: self.issuer.clone() });
        }
        let par = self.pushed_authorization_request_endpoint.as_deref().ok_or(MetadataError::Missing("pushed_authorization_request_endpoint"))?;
        for e in [self.authorization_endpoint.as_str(), self.token_endpoint.as_str(), par] {
            check_https(e)?;
        }
        if !self.code_challenge_methods_supported.iter().any(|m| m == super::pkce::S256) {
            return Err(MetadataError::AuthorizationServerLacks("code_challenge_methods_supported: S256"));
        }
        if self.dpop_signing_alg_values_supported.is_empty() {
            return Err(MetadataError::AuthorizationServerLacks("dpop_signing_alg_values_supported"));
        }
        if !self.token_endpoint_auth_methods_supported.iter().any(|m| m == ATTEST_JWT_CLIENT_AUTH) {
            return Err(MetadataError::AuthorizationServerLacks("token_endpoint_auth_methods_supported: attest_jwt_client_auth"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid4vci::testing::{self, ISSUER, PID_CONFIG};

    #[test]
    fn metadata_round_trips_and_validates_in_both_profiles() {
        let md = testing::metadata();
        let json = serde_json::to_vec(&md).unwrap();
        let back = CredentialIssuerMetadata::parse_json(&json).unwrap();
        assert_eq!(back, md);
        for p in [Profile::ItWallet13, Profile::ItWallet14] {
            back.validate(ISSUER, p).unwrap();
        }
        assert_eq!(back.batch_size(), 10);
        assert_eq!(back.configuration_by_scope("pid").map(|(id, _)| id), Some(PID_CONFIG));
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["credential_configurations_supported"][PID_CONFIG]["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"][0], "ES256");
        assert_eq!(v["display"][0]["name"], "PID Provider");
    }

    #[test]
    fn signed_metadata_round_trips_and_is_checked() {
        use crate::jose::SoftwareSigner;
        use crate::sd_jwt::StaticKeyResolver;
        let key = SoftwareSigner::generate().unwrap();
        let now = testing::NOW;
        let jwt = testing::metadata().sign(&key, None, now, 3600).unwrap();
        let trust = StaticKeyResolver::for_issuer(key.public_jwk(), ISSUER);
        let md = CredentialIssuerMetadata::verify_signed(&jwt, &trust, now, 60).unwrap();
        assert_eq!(md, testing::metadata());
        let rogue = StaticKeyResolver::for_issuer(SoftwareSigner::generate().unwrap().public_jwk(), ISSUER);
        assert_eq!(CredentialIssuerMetadata::verify_signed(&jwt, &rogue, now, 60), Err(MetadataError::BadSignature));
        let err = CredentialIssuerMetadata::verify_signed(&jwt, &trust, now.plus(7200), 60).unwrap_err();
        assert!(matches!(err, MetadataError::Time(TimeError::Expired { .. })));
    }

    #[test]
    fn entity_configuration_shaped_metadata_parses_and_validates() {
        // The shape of IT-Wallet's `openid_credential_issuer` example: extra members
        // (`logo_uri`, `schema_uri#integrity`, `credential_metadata`) are kept, and a `jwt`
        // proof type without `key_attestations_required` is accepted.
        let json = br#"{
            "credential_issuer": "https://mdl.example.it",
            "logo_uri": "https://mdl.example.it/logo.svg",
            "credential_endpoint": "https://mdl.example.it/credential",
            "nonce_endpoint": "https://mdl.example.it/nonce-endpoint",
            "deferred_credential_endpoint": "https://mdl.example.it/deferred-credential",
            "notification_endpoint": "https://mdl.example.it/notification",
            "display": [{"name": "Motorizzazione", "locale": "it-IT"}],
            "credential_configurations_supported": {
                "dc_sd_jwt_mDL": {
                    "format": "dc+sd-jwt",
                    "scope": "mDL",
                    "cryptographic_binding_methods_supported": ["jwk"],
                    "credential_signing_alg_values_supported": ["ES256", "ES384"],
                    "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
                    "vct": "urn:eudi:mDL:it:1",
                    "schema_uri#integrity": "sha256-00",
                    "credential_metadata": {"display": [{"name": "Patente di guida", "locale": "it-IT"}], "claims": [{"path": ["given_name"]}]}
                },
                "mso_mdoc_mDL": {
                    "format": "mso_mdoc",
                    "scope": "mDL",
                    "doctype": "org.iso.18013.5.1.mDL",
                    "cryptographic_binding_methods_supported": ["cose_key"],
                    "credential_signing_alg_values_supported": [-9, -7],
                    "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"], "key_attestations_required": {"key_storage": ["iso_18045_moderate"]}}}
                }
            }
        }"#;
        let md = CredentialIssuerMetadata::parse_json(json).unwrap();
        md.validate("https://mdl.example.it", Profile::ItWallet13).unwrap();
        assert!(md.extra.contains_key("logo_uri"));
        let mdoc = md.configuration("mso_mdoc_mDL").unwrap();
        assert_eq!(mdoc.credential_signing_alg_values_supported, vec![AlgId::Cose(-9), AlgId::Cose(-7)]);
        assert_eq!(mdoc.jwt_proof().and_then(|j| j.key_attestations_required.as_ref()).map(|k| k.key_storage.len()), Some(1));
        assert!(md.configuration("dc_sd_jwt_mDL").unwrap().extra.contains_key("credential_metadata"));
        let back = CredentialIssuerMetadata::parse_json(&serde_json::to_vec(&md).unwrap()).unwrap();
        assert_eq!(back, md);
    }

    #[test]
    fn metadata_for_another_issuer_is_refused() {
        let err = testing::metadata().validate("https://other.example.it", Profile::ItWallet14).unwrap_err();
        assert!(matches!(err, MetadataError::IssuerMismatch { .. }));
    }

    #[test]
    fn required_members_are_checked() {
        let p = Profile::ItWallet14;
        let mut md = testing::metadata();
        md.nonce_endpoint = None;
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::Missing("nonce_endpoint")));
        let mut md = testing::metadata();
        md.batch_credential_issuance = Some(BatchCredentialIssuance { batch_size: 1 });
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::BadBatchSize(1)));
        let mut md = testing::metadata();
        md.credential_endpoint = "http://issuer.example.it/credential".into();
        assert!(matches!(md.validate(ISSUER, p), Err(MetadataError::NotHttps(_))));
        let mut md = testing::metadata();
        md.credential_configurations_supported.clear();
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::NoConfigurations));
        let mut md = testing::metadata();
        if let Some(c) = md.credential_configurations_supported.get_mut(PID_CONFIG) {
            c.vct = None;
        }
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::ConfigurationMissing { id: PID_CONFIG.into(), member: "vct" }));
        let mut md = testing::metadata();
        if let Some(c) = md.credential_configurations_supported.get_mut(PID_CONFIG) {
            c.scope = None;
        }
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::ConfigurationMissing { id: PID_CONFIG.into(), member: "scope" }));
        let mut md = testing::metadata();
        if let Some(jwt) = md.credential_configurations_supported.get_mut(PID_CONFIG).and_then(|c| c.proof_types_supported.get_mut("jwt")) {
            jwt.key_attestations_required = None;
        }
        md.validate(ISSUER, p).unwrap();
        if let Some(c) = md.credential_configurations_supported.get_mut(PID_CONFIG) {
            c.proof_types_supported.clear();
        }
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::BadProofTypes { id: PID_CONFIG.into(), detail: "no jwt proof type" }));
        let mut md = testing::metadata();
        md.credential_response_encryption =
            Some(CredentialResponseEncryption { alg_values_supported: vec![], enc_values_supported: vec!["A256GCM".into()], zip_values_supported: vec![], encryption_required: false });
        assert_eq!(md.validate(ISSUER, p), Err(MetadataError::BadEncryption));
    }

    #[test]
    fn authorization_server_metadata_round_trips_and_is_checked() {
        let asm = testing::as_metadata();
        let back: AuthorizationServerMetadata = serde_json::from_value(serde_json::to_value(&asm).unwrap()).unwrap();
        assert_eq!(back, asm);
        back.validate(ISSUER).unwrap();
        let mut no_dpop = asm.clone();
        no_dpop.dpop_signing_alg_values_supported.clear();
        assert_eq!(no_dpop.validate(ISSUER), Err(MetadataError::AuthorizationServerLacks("dpop_signing_alg_values_supported")));
        let mut no_par = asm.clone();
        no_par.pushed_authorization_request_endpoint = None;
        assert_eq!(no_par.validate(ISSUER), Err(MetadataError::Missing("pushed_authorization_request_endpoint")));
        let mut plain = asm;
        plain.code_challenge_methods_supported = vec!["plain".into()];
        assert!(matches!(plain.validate(ISSUER), Err(MetadataError::AuthorizationServerLacks(_))));
    }
}
