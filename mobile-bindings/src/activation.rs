//! Wallet activation for the app (IT-Wallet 1.4 §2): the citizen's SPID/CIE login at the
//! wallet provider, registration of the hardware key, the Wallet App and Unit Attestations,
//! and instance management, over wallet-core's `wallet::WalletActivation`. Adapters:
//! [`CoreHttp`] (the app's [`HttpClient`] as wallet-core's) and [`ProviderTrust`] (the
//! provider's key from its federation trust chain, to any configured anchor).

use std::borrow::Cow;
use std::sync::Arc;

use wallet_core::federation::{TrustAnchorConfig, TrustChainResolver};
use wallet_core::jose::{Jwk, JwsHeader};
use wallet_core::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use wallet_core::time::UnixTime;
use wallet_core::wallet::{self as core, InstanceRecord};

use crate::error::WalletError;
use crate::http::{HttpClient, HttpHeader, HttpRequest, HttpResponse};

/// The metadata entity type whose `jwks` signs a wallet provider's attestations.
pub(crate) const WALLET_SOLUTION: &str = "wallet_solution";

/// wallet-core's HTTP seam over the app's client.
pub(crate) struct CoreHttp(pub(crate) Arc<dyn HttpClient>);

impl core::HttpClient for CoreHttp {
    fn send(&self, r: core::HttpRequest) -> Result<core::HttpResponse, core::HttpError> {
        let req = HttpRequest {
            method: r.method.as_str().to_owned(),
            url: r.url,
            headers: r.headers.into_iter().map(|(name, value)| HttpHeader { name, value }).collect(),
            body: r.body,
        };
        let resp: HttpResponse = self.0.send(req).map_err(|e| core::HttpError(e.to_string()))?;
        if resp.body.len() > core::http::MAX_RESPONSE_BODY {
            return Err(core::HttpError(format!("response body larger than {} bytes", core::http::MAX_RESPONSE_BODY)));
        }
        Ok(core::HttpResponse {
            status: resp.status,
            headers: resp.headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body: resp.body,
        })
    }
}

/// The wallet provider's attestation key, from the `trust_chain` header of the WAA/WUA to
/// any configured trust anchor (`wallet_solution` metadata `jwks`).
pub(crate) struct ProviderTrust(pub(crate) Vec<TrustChainResolver>);

impl ProviderTrust {
    pub(crate) fn new(anchors: &[TrustAnchorConfig]) -> Self {
        Self(anchors.iter().map(|a| TrustChainResolver::new(a.clone(), WALLET_SOLUTION)).collect())
    }
}

impl IssuerKeyResolver for ProviderTrust {
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        let mut last = KeyResolutionError::UnknownIssuer { iss: iss.to_owned() };
        for r in &self.0 {
            match r.resolve(iss, header, now) {
                Ok(k) => return Ok(k),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// The wallet instance on this device.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ActivationInfo {
    /// The wallet provider (base URL).
    pub provider: String,
    /// The instance id at the provider (the hardware key's tag).
    pub instance_id: String,
    /// When it was registered, Unix seconds.
    pub registered_at: i64,
    /// The Wallet App Attestation (`oauth-client-attestation+jwt`), when obtained.
    pub wallet_app_attestation: Option<String>,
    /// Its expiry, Unix seconds.
    pub waa_expires_at: Option<i64>,
    /// The Wallet Unit Attestation (`key-attestation+jwt`), when obtained.
    pub wallet_unit_attestation: Option<String>,
    /// Its expiry, Unix seconds.
    pub wua_expires_at: Option<i64>,
}

impl From<InstanceRecord> for ActivationInfo {
    fn from(r: InstanceRecord) -> Self {
        Self {
            provider: r.provider,
            instance_id: r.hardware_key_tag.to_string(),
            registered_at: r.registered_at,
            wallet_app_attestation: r.wallet_app_attestation,
            waa_expires_at: r.waa_expires_at,
            wallet_unit_attestation: r.wallet_unit_attestation,
            wua_expires_at: r.wua_expires_at,
        }
    }
}

/// The logged-in citizen (the session's token stays inside the wallet).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CitizenInfo {
    /// The fiscal number the SPID/CIE login gave.
    pub fiscal_number: String,
    /// When the session expires, Unix seconds.
    pub session_expires_at: i64,
}

/// Whether an instance is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum InstanceStatus {
    /// In use.
    Active,
    /// Revoked (its WUA is revoked in the provider's status list).
    Revoked,
}

/// One of the citizen's wallet instances at the provider.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct WalletInstance {
    /// Its id.
    pub id: String,
    /// Its status.
    pub status: InstanceStatus,
    /// When it was registered, Unix seconds.
    pub issued_at: i64,
    /// Whether it is this device's instance.
    pub this_device: bool,
}

impl WalletInstance {
    pub(crate) fn from_core(i: wallet_core::attestation::WalletInstanceInfo, ours: Option<&str>) -> Self {
        Self {
            this_device: ours == Some(i.id.as_str()),
            status: match i.status {
                wallet_core::attestation::InstanceStatus::Active => InstanceStatus::Active,
                wallet_core::attestation::InstanceStatus::Revoked => InstanceStatus::Revoked,
            },
            issued_at: i.issued_at,
            id: i.id,
        }
    }
}

/// The headers that authenticate the wallet to a credential issuer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientAttestation {
    /// `OAuth-Client-Attestation`: the WAA.
    pub attestation: String,
    /// `OAuth-Client-Attestation-PoP`.
    pub pop: String,
}

impl From<core::WalletError> for WalletError {
    fn from(e: core::WalletError) -> Self {
        use core::WalletError as E;
        match e {
            E::Http(e) => Self::Network { reason: e.0 },
            E::Provider { endpoint, status, error, .. } => Self::ProviderRefused { endpoint: endpoint.to_owned(), status, error },
            E::BadResponse { endpoint, detail } => Self::ProviderProtocol { reason: format!("{endpoint}: {detail}") },
            E::RedirectMismatch | E::StateMismatch | E::MissingCode => Self::LoginFailed { reason: e.to_string() },
            E::LoginFailed { error, .. } => Self::LoginFailed { reason: error },
            E::SessionExpired => Self::SessionExpired,
            E::NotRegistered | E::NoAttestations => Self::NotActivated,
            E::KeyStore(k) => crate::keystore::KeyStoreError::from(k).into(),
            E::Attestation(a) => Self::ProviderProtocol { reason: format!("attestation refused: {a}") },
            E::State(reason) => Self::Storage { reason },
            other => Self::Internal { reason: other.to_string() },
        }
    }
}
