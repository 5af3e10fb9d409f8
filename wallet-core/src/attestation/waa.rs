//! The Wallet App Attestation (IT-Wallet 1.4 §2.3, `oauth-client-attestation+jwt`): the
//! provider's statement that the wallet app is genuine, bound to an ephemeral key; sent to
//! issuers as the `OAuth-Client-Attestation` header.
//!
//! Header: `alg`, `kid`, `x5c` (REQUIRED), `trust_chain` (OPTIONAL). Claims: `iss` (the
//! provider), `sub` (= thumbprint of `cnf.jwk`: the Wallet Instance's client id), `cnf.jwk`,
//! `exp`, `iat`, optional `nbf`, `eudi_wallet_info.general_info`. No personal data. Valid at
//! most 24 hours (WP_144 "not exceeding 24 hours"; the text says "< 24 h": we allow exactly
//! 24 h, the stricter reading only forbids one second).

use serde::{Deserialize, Serialize};

use super::error::AttestationError;
use super::{Cnf, ProviderSigning, check_times, claims, parse_typed, verify_provider_signature};
use crate::jose::{Jwk, JwsHeader, jws};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::{TimeWindow, UnixTime};

/// `typ` of the WAA.
pub const WAA_TYP: &str = "oauth-client-attestation+jwt";
/// The longest WAA validity (24 h, WP_144).
pub const WAA_MAX_LIFETIME: i64 = 86_400;
/// The validity [`WaaBuilder`] gives unless told otherwise (1 h).
pub const WAA_DEFAULT_LIFETIME: i64 = 3_600;

/// `eudi_wallet_info.general_info` (§2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralInfo {
    /// The provider's name.
    pub wallet_provider_name: String,
    /// The wallet solution's id.
    pub wallet_solution_id: String,
    /// Its version.
    pub wallet_solution_version: String,
    /// Its certification (empty in the spec's example).
    #[serde(default)]
    pub wallet_solution_certification_information: String,
}

/// `eudi_wallet_info` of the WAA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalletInfo {
    /// General information about the wallet solution.
    pub general_info: GeneralInfo,
}

/// The claims of a WAA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaaClaims {
    /// The wallet provider.
    pub iss: String,
    /// Thumbprint of `cnf.jwk` (the client id at issuers).
    pub sub: String,
    /// The ephemeral key.
    pub cnf: Cnf,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expiry.
    pub exp: i64,
    /// Wallet solution information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eudi_wallet_info: Option<WalletInfo>,
    /// The wallet instance's entry in its provider's Token Status List (IT-Wallet 1.4 WIA,
    /// as the 1.4 test tools send it): a revoked instance's attestation is refused by the
    /// issuers that check it (versions note §5, issuer item 2: "check `status.status_list`
    /// when present").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<crate::status::CredentialStatus>,
}

/// Provider side: issues a WAA.
#[derive(Debug, Clone)]
pub struct WaaBuilder<'a> {
    provider: &'a str,
    key: &'a Jwk,
    info: &'a GeneralInfo,
    iat: UnixTime,
    lifetime: i64,
    status: Option<crate::status::StatusReference>,
}

impl<'a> WaaBuilder<'a> {
    /// A WAA by `provider` for the ephemeral `key`, issued at `iat`, valid
    /// [`WAA_DEFAULT_LIFETIME`].
    pub fn new(provider: &'a str, key: &'a Jwk, info: &'a GeneralInfo, iat: UnixTime) -> Self {
        Self { provider, key, info, iat, lifetime: WAA_DEFAULT_LIFETIME, status: None }
    }

    /// The wallet instance's status list entry (the one its WUAs carry).
    pub fn status(mut self, status: crate::status::StatusReference) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the validity (at most [`WAA_MAX_LIFETIME`]).
    pub fn lifetime(mut self, secs: i64) -> Self {
        self.lifetime = secs;
        self
    }

    /// The claims this builder signs.
    pub fn claims(&self) -> WaaClaims {
        WaaClaims {
            iss: self.provider.to_owned(),
            sub: self.key.thumbprint().to_string(),
            cnf: Cnf::new(self.key),
            iat: Some(self.iat.secs()),
            nbf: None,
            exp: self.iat.plus(self.lifetime).secs(),
            eudi_wallet_info: Some(WalletInfo { general_info: self.info.clone() }),
            status: self.status.clone().map(|status_list| crate::status::CredentialStatus { status_list }),
        }
    }

    /// Signs the WAA.
    pub fn sign(&self, signing: &ProviderSigning<'_>) -> Result<String, AttestationError> {
        if self.lifetime > WAA_MAX_LIFETIME {
            return Err(AttestationError::LifetimeTooLong { lifetime: self.lifetime, max: WAA_MAX_LIFETIME });
        }
        if self.lifetime <= 0 {
            return Err(AttestationError::LifetimeTooShort { lifetime: self.lifetime, min: 1 });
        }
        let c = self.claims();
        Cnf::check_p256(&c.cnf)?;
        Ok(jws::sign_json(&signing.header(WAA_TYP), &c, signing.signer)?)
    }
}

/// A verified WAA.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedWaa {
    jwt: String,
    header: JwsHeader,
    claims: WaaClaims,
}

impl VerifiedWaa {
    /// The compact JWT (for the `OAuth-Client-Attestation` header).
    pub fn jwt(&self) -> &str {
        &self.jwt
    }

    /// The header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The claims.
    pub fn claims(&self) -> &WaaClaims {
        &self.claims
    }

    /// The client id at issuers (`sub`: the thumbprint of `cnf.jwk`, or what an older SDK put
    /// there, [`Self::sub_is_key_thumbprint`]).
    pub fn client_id(&self) -> &str {
        &self.claims.sub
    }

    /// The key the wallet proves possession of (`cnf.jwk`).
    pub fn key(&self) -> &Jwk {
        &self.claims.cnf.jwk
    }

    /// `exp`.
    pub fn expires_at(&self) -> UnixTime {
        UnixTime(self.claims.exp)
    }

    /// Whether `sub` is the thumbprint of `cnf.jwk`, as IT-Wallet 1.4 §2 defines the wallet
    /// instance id ([`verify_waa`] accepts the attestation either way).
    pub fn sub_is_key_thumbprint(&self) -> bool {
        self.claims.sub == self.claims.cnf.jwk.thumbprint().as_str()
    }
}

/// Verifies a WAA (§8 "Wallet rejects … a WAA/WUA failing signature or WP trust"; issuers,
/// §3.3): `typ`, the provider's signature with a key `resolver` trusts for `iss`, `cnf.jwk`
/// a P-256 key, `exp`/`iat`/`nbf` with `skew`, and a validity of at most 24 hours when `iat`
/// is present. A `sub` other than the key's thumbprint is accepted, not refused (versions
/// note §5, issuer item 2: older SDK builds put the JWK `kid` there; the provider's signature
/// vouches for it either way): [`VerifiedWaa::sub_is_key_thumbprint`] tells the caller, who
/// logs it.
pub fn verify_waa(jwt: &str, resolver: &dyn IssuerKeyResolver, now: UnixTime, skew: i64) -> Result<VerifiedWaa, AttestationError> {
    let parsed = parse_typed(jwt, WAA_TYP)?;
    let c: WaaClaims = claims(&parsed, "WAA")?;
    verify_provider_signature(&parsed, &c.iss, resolver, now)?;
    c.cnf.check_p256()?;
    // The 24-hour bound applies when `iat` is present.
    check_times(TimeWindow { iat: c.iat, nbf: c.nbf, exp: Some(c.exp) }, now, skew, c.iat.map(|_| WAA_MAX_LIFETIME))?;
    Ok(VerifiedWaa { jwt: jwt.to_owned(), header: parsed.into_header(), claims: c })
}
