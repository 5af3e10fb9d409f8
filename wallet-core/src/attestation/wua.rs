//! The Wallet Unit Attestation (IT-Wallet 1.4 §2.3, `key-attestation+jwt`): the provider's
//! statement about the wallet's keys and their storage, with a status in a Token Status List
//! (revoking it revokes the Wallet Instance, §2.5). Sent to issuers as the `key_attestation`
//! header of OpenID4VCI proofs.
//!
//! Header: `alg`, `kid`, `x5c` (REQUIRED), `trust_chain` (OPTIONAL). Claims: `iss`, `iat`,
//! `exp`, `attested_keys` (non-empty JWK array), `key_storage`, `user_authentication` (arrays of
//! `iso_18045_high` | `iso_18045_moderate` | `iso_18045_basic`), `status.status_list{idx,uri}`,
//! `eudi_wallet_info{general_info, key_storage_info{storage_type, keys_exportable,
//! storage_certification_information}}`. Valid at least one month (§2.3 "Validity").

use serde::{Deserialize, Serialize};

use super::error::AttestationError;
use super::waa::GeneralInfo;
use super::{ProviderSigning, check_times, claims, parse_typed_with, verify_provider_signature};
use std::sync::Arc;

use crate::jose::{HeaderMemo, Jwk, JwsHeader, jws};
use crate::sd_jwt::IssuerKeyResolver;
use crate::status::{CredentialStatus, StatusReference};
use crate::time::{TimeWindow, UnixTime};

/// `typ` of the WUA.
pub const WUA_TYP: &str = "key-attestation+jwt";
/// The shortest WUA validity (30 days: "at least one month").
pub const WUA_MIN_LIFETIME: i64 = 30 * 86_400;

/// Attack potential resistance (ISO/IEC 18045) of `key_storage` and `user_authentication`.
///
/// \[AMBIG\] Issuer metadata examples use `iso_18045_enhanced-basic`, not in the WUA's list; it
/// is accepted here so that such values parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AttackPotentialResistance {
    /// `iso_18045_high`.
    #[serde(rename = "iso_18045_high")]
    High,
    /// `iso_18045_moderate`.
    #[serde(rename = "iso_18045_moderate")]
    Moderate,
    /// `iso_18045_enhanced-basic` (see the \[AMBIG\] note).
    #[serde(rename = "iso_18045_enhanced-basic")]
    EnhancedBasic,
    /// `iso_18045_basic`.
    #[serde(rename = "iso_18045_basic")]
    Basic,
}

/// `key_storage_info.storage_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StorageType {
    /// A remote WSCD.
    Remote,
    /// An external local WSCD (smart card).
    LocalExternal,
    /// An internal secure element / StrongBox.
    LocalInternal,
    /// The platform's native keystore (TEE, Secure Enclave).
    LocalNative,
    /// A combination.
    Hybrid,
}

/// `eudi_wallet_info.key_storage_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStorageInfo {
    /// Where the keys are.
    pub storage_type: StorageType,
    /// Whether they can be exported.
    pub keys_exportable: bool,
    /// The storage's certification.
    #[serde(default)]
    pub storage_certification_information: String,
}

/// `eudi_wallet_info` of the WUA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WuaWalletInfo {
    /// General information.
    pub general_info: GeneralInfo,
    /// Key storage information.
    pub key_storage_info: KeyStorageInfo,
}

/// The claims of a WUA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WuaClaims {
    /// The provider.
    pub iss: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// The attested keys (non-empty).
    pub attested_keys: Vec<Jwk>,
    /// Key storage resistance.
    pub key_storage: Vec<AttackPotentialResistance>,
    /// User authentication resistance.
    pub user_authentication: Vec<AttackPotentialResistance>,
    /// The status list entry.
    pub status: CredentialStatus,
    /// Wallet information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eudi_wallet_info: Option<WuaWalletInfo>,
}

/// Provider side: issues a WUA from its claims (build them with [`WuaBuilder::new`]).
#[derive(Debug, Clone)]
pub struct WuaBuilder {
    claims: WuaClaims,
}

impl WuaBuilder {
    /// A WUA by `provider` for `attested_keys`, issued at `iat`, valid `lifetime` seconds,
    /// with its status at `status` and the storage description `info`.
    pub fn new(
        provider: &str,
        attested_keys: Vec<Jwk>,
        status: StatusReference,
        info: WuaWalletInfo,
        iat: UnixTime,
        lifetime: i64,
    ) -> Self {
        let level = match info.key_storage_info.storage_type {
            StorageType::LocalInternal | StorageType::LocalExternal => AttackPotentialResistance::High,
            _ => AttackPotentialResistance::Moderate,
        };
        Self {
            claims: WuaClaims {
                iss: provider.to_owned(),
                iat: iat.secs(),
                exp: iat.plus(lifetime).secs(),
                attested_keys: attested_keys.iter().map(|k| Jwk::new(k.params.clone())).collect(),
                key_storage: vec![level],
                user_authentication: vec![level],
                status: CredentialStatus { status_list: status },
                eudi_wallet_info: Some(info),
            },
        }
    }

    /// Overrides `key_storage` and `user_authentication`.
    pub fn resistance(mut self, key_storage: Vec<AttackPotentialResistance>, user_authentication: Vec<AttackPotentialResistance>) -> Self {
        self.claims.key_storage = key_storage;
        self.claims.user_authentication = user_authentication;
        self
    }

    /// The claims.
    pub fn claims(&self) -> &WuaClaims {
        &self.claims
    }

    /// Signs the WUA; refuses no keys and a validity under [`WUA_MIN_LIFETIME`].
    pub fn sign(&self, signing: &ProviderSigning<'_>) -> Result<String, AttestationError> {
        if self.claims.attested_keys.is_empty() {
            return Err(AttestationError::NoAttestedKeys);
        }
        let iat = UnixTime::from_claim("iat", self.claims.iat).map_err(AttestationError::Time)?;
        let exp = UnixTime::from_claim("exp", self.claims.exp).map_err(AttestationError::Time)?;
        let lifetime = exp.secs() - iat.secs(); // both in range: no overflow
        if lifetime < WUA_MIN_LIFETIME {
            return Err(AttestationError::LifetimeTooShort { lifetime, min: WUA_MIN_LIFETIME });
        }
        Ok(jws::sign_json(&signing.header(WUA_TYP), &self.claims, signing.signer)?)
    }
}

/// A verified WUA (its status is not checked here: fetch the list at
/// `claims().status.status_list.uri` and use [`crate::status`]).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedWua {
    jwt: String,
    /// Shared with the [`HeaderMemo`] it was parsed through, if any.
    header: Arc<JwsHeader>,
    claims: WuaClaims,
}

impl VerifiedWua {
    /// The compact JWT.
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// The header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The claims.
    pub fn claims(&self) -> &WuaClaims {
        &self.claims
    }

    /// The status list reference.
    pub fn status(&self) -> &StatusReference {
        &self.claims.status.status_list
    }

    /// `exp`.
    pub fn expires_at(&self) -> UnixTime {
        UnixTime(self.claims.exp)
    }

    /// Whether `key` is one of the attested keys (by thumbprint).
    pub fn attests(&self, key: &Jwk) -> bool {
        let t = key.thumbprint();
        self.claims.attested_keys.iter().any(|k| k.thumbprint() == t)
    }
}

/// Verifies a WUA: `typ`, the provider's signature with a key `resolver` trusts for `iss`,
/// `exp`/`iat` with `skew`, non-empty `attested_keys`, and the enumerated values (by
/// parsing).
pub fn verify_wua(jwt: &str, resolver: &dyn IssuerKeyResolver, now: UnixTime, skew: i64) -> Result<VerifiedWua, AttestationError> {
    verify_wua_with_memo(jwt, resolver, now, skew, None)
}

/// [`verify_wua`], the protected header from `memo` when it has parsed the same one: every
/// WUA of a wallet provider carries the same header (its `kid`, `x5c` and `trust_chain`),
/// so an issuer parses it once per provider and key, not once per WUA. The claims, the
/// signature and the times are checked at each call.
pub fn verify_wua_with_memo(jwt: &str, resolver: &dyn IssuerKeyResolver, now: UnixTime, skew: i64, memo: Option<&HeaderMemo>) -> Result<VerifiedWua, AttestationError> {
    let parsed = parse_typed_with(jwt, WUA_TYP, memo)?;
    let c: WuaClaims = claims(&parsed, "WUA")?;
    verify_provider_signature(&parsed, &c.iss, resolver, now)?;
    check_times(TimeWindow { iat: Some(c.iat), nbf: None, exp: Some(c.exp) }, now, skew, None)?;
    if c.attested_keys.is_empty() {
        return Err(AttestationError::NoAttestedKeys);
    }
    Ok(VerifiedWua { jwt: jwt.to_owned(), header: parsed.into_shared_header(), claims: c })
}
