//! Extractors that check before the handler runs: a JSON body whose rejection is our
//! `bad_request`, and the citizen's bearer session.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::secret::Secret;

/// A JSON body; a missing or wrong content type, bad JSON or a wrong shape is 400
/// `bad_request` (IT-Wallet 1.4 §2.2-§2.4 common errors).
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ProviderError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await.map_err(|e| ProviderError::BadRequest(e.body_text()))?;
        Ok(Self(v))
    }
}

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
