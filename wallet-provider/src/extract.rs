//! Extractors that check before the handler runs: the citizen's bearer session. (Bodies
//! and queries: service-kit's `Json` and `Query`, whose refusals the router's error layer
//! names `bad_request`; the admin token: service-kit's `AdminToken`; the PDND voucher:
//! [`crate::pdnd::PdndCaller`].)

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::secret::Secret;

/// A logged-in citizen: the `Authorization: Bearer <session token>` of an unexpired
/// session (401 `unauthorized` otherwise, IT-Wallet 1.4 §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citizen {
    /// The fiscal number the SPID/CIE login proved.
    pub fiscal_number: String,
}

impl FromRequestParts<WalletProvider> for Citizen {
    type Rejection = ProviderError;

    async fn from_request_parts(parts: &mut Parts, st: &WalletProvider) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .ok_or(ProviderError::Unauthorized)?;
        let secret = Secret::from_client(token);
        let grant = st.store().session(&secret.hash(), st.now().secs())?.ok_or(ProviderError::Unauthorized)?;
        Ok(Self { fiscal_number: grant.fiscal_number })
    }
}
