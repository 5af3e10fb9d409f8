//! Automatic registration of relying parties (SPID/CIE OIDC §B.1, "OP, for an unknown RP"):
//! fetch the RP's Entity Configuration, check a trust mark statically **before any other
//! outbound call** (anti-DoS), then resolve the trust chain to a configured trust anchor,
//! apply the policy and check the resulting `openid_relying_party` metadata.
//!
//! Every fetch of one registration shares one deadline (`OpConfig::outbound.request_ms`) and
//! none holds a thread: an RP whose chain names a dead authority costs at most that long, and
//! the provider's other routes are not slowed (issue 10 item 3).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::StatusCode;
use serde_json::{Map, Value};
use wallet_core::federation::entity::ENTITY_STATEMENT_MEDIA_TYPE;
use wallet_core::federation::{EntityId, EntityStatement, FederationError, ParsedStatement, trust_mark};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Jwk, JwsAlg};
use wallet_core::time::UnixTime;

use service_kit::fetch::RequestFetcher;

use super::OpState;
use super::error::OAuthError;
use crate::jwe_rsa::{Enc, KeyAlg};

/// An RP the provider trusts, with what its resolved metadata says.
#[derive(Debug, Clone)]
pub struct RegisteredRp {
    /// `client_id`.
    pub client_id: EntityId,
    /// `redirect_uris`.
    pub redirect_uris: Vec<String>,
    /// Its core keys (`openid_relying_party.jwks`).
    pub jwks: JwkSet,
    /// The key UserInfo is encrypted to (`use: enc`, RSA).
    pub enc_key: Jwk,
    /// `id_token_signed_response_alg` (RS256 unless RS512).
    pub id_token_alg: JwsAlg,
    /// `userinfo_signed_response_alg` (RS256 unless RS512).
    pub userinfo_sig_alg: JwsAlg,
    /// `userinfo_encrypted_response_alg`.
    pub userinfo_alg: KeyAlg,
    /// `userinfo_encrypted_response_enc`.
    pub userinfo_enc: Enc,
    /// The trust mark type that admitted it.
    pub trust_mark_type: String,
    /// Until when (the chain's `exp`).
    pub exp: i64,
}

/// Why an RP was not registered; each maps to the code §B.2 "Federation errors" names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The RP's configuration could not be fetched (`temporarily_unavailable`).
    #[error("cannot fetch the entity configuration of {0}")]
    Unreachable(String),
    /// The configuration is malformed, not about the RP, or not self-signed (`invalid_client`).
    #[error("entity configuration refused: {0}")]
    BadConfiguration(String),
    /// No trust mark of a recognised type validates (`unauthorized_client`).
    #[error("no valid trust mark: {0}")]
    NoTrustMark(String),
    /// The trust chain does not validate to a configured anchor (`invalid_client`).
    #[error("trust chain: {0}")]
    TrustChain(FederationError),
    /// The metadata after policy is not what the profile requires (`unauthorized_client`).
    #[error("openid_relying_party metadata not compliant: {0}")]
    Metadata(String),
    /// A client that never came through the authorization endpoint calls an endpoint that
    /// authenticates it (`invalid_client`): nothing is fetched for it.
    #[error("client {0} is not registered here: a relying party registers with its first authorization request")]
    NotRegistered(String),
}

impl RegistrationError {
    /// The OAuth error code (§B.2, Federation errors).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::Unreachable(_) => "temporarily_unavailable",
            Self::BadConfiguration(_) | Self::TrustChain(_) | Self::NotRegistered(_) => "invalid_client",
            Self::NoTrustMark(_) | Self::Metadata(_) => "unauthorized_client",
        }
    }
}

impl From<RegistrationError> for OAuthError {
    fn from(e: RegistrationError) -> Self {
        let status = match e.oauth_code() {
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "invalid_client" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::BAD_REQUEST,
        };
        OAuthError::new(status, e.oauth_code(), e.to_string())
    }
}

/// Registered RPs and the trust anchors' configurations, cached.
#[derive(Default)]
pub struct Registrations {
    rps: Mutex<HashMap<EntityId, RegisteredRp>>,
    anchors: Mutex<HashMap<EntityId, (i64, EntityStatement)>>,
}

const MAX_CACHED: usize = 10_000;

impl OpState {
    /// The registered RP `client_id`, registering it on first sight.
    pub async fn registered_rp(&self, client_id: &EntityId) -> Result<RegisteredRp, RegistrationError> {
        let now = UnixTime::now().secs();
        let reg = &self.inner.registrations;
        if let Some(rp) = reg.rps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(client_id).filter(|r| r.exp > now) {
            return Ok(rp.clone());
        }
        let rp = self.register(client_id).await?;
        let mut m = reg.rps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= MAX_CACHED {
            m.retain(|_, r| r.exp > now);
        }
        if m.len() < MAX_CACHED {
            m.insert(client_id.clone(), rp.clone());
        }
        Ok(rp)
    }

    /// The registration of a client that registered through the authorization endpoint: a
    /// live one from the cache, an expired one renewed by trust chain. A client never seen
    /// here is refused without any outbound request: the token, introspection and revocation
    /// endpoints learn the client from a client assertion before its signature can be
    /// checked, and must not make the provider fetch whatever a caller names (SPID/CIE OIDC
    /// §B.1: automatic registration happens at the authorization endpoint).
    pub async fn known_rp(&self, client_id: &EntityId) -> Result<RegisteredRp, RegistrationError> {
        let now = UnixTime::now().secs();
        let cached = self.inner.registrations.rps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(client_id).cloned();
        match cached {
            Some(rp) if rp.exp > now => Ok(rp),
            Some(_) => self.registered_rp(client_id).await,
            None => Err(RegistrationError::NotRegistered(client_id.to_string())),
        }
    }

    /// Forgets a registration (and its cached chain).
    pub fn forget_rp(&self, client_id: &EntityId) {
        self.inner.registrations.rps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(client_id);
        self.inner.discovery.invalidate(client_id);
    }

    async fn register(&self, client_id: &EntityId) -> Result<RegisteredRp, RegistrationError> {
        let now = UnixTime::now();
        let f = self.inner.discovery.for_request();
        // 1. The RP's own configuration, self-signed.
        let body = self
            .inner
            .discovery
            .get(&f, &client_id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE)
            .await
            .map_err(|e| RegistrationError::Unreachable(e.to_string()))?;
        let ec = ParsedStatement::parse(&body).map_err(|e| RegistrationError::BadConfiguration(e.to_string()))?;
        if !ec.claims.is_configuration() || &ec.claims.sub != client_id {
            return Err(RegistrationError::BadConfiguration("the configuration is about another entity".into()));
        }
        ec.verify_with(&ec.claims.jwks).map_err(|e| RegistrationError::BadConfiguration(e.to_string()))?;
        if ec.claims.exp <= now.secs() {
            return Err(RegistrationError::BadConfiguration("the configuration has expired".into()));
        }
        // 2. A trust mark, checked statically before any discovery (§B.1).
        let trust_mark_type = self.check_trust_marks(&f, &ec, now).await?;
        // 3. The chain, and the metadata after policy.
        let chain = self.inner.discovery.resolve_with(&f, client_id).await.map_err(RegistrationError::TrustChain)?;
        let md = chain.metadata_of("openid_relying_party").ok_or_else(|| RegistrationError::Metadata("no openid_relying_party metadata".into()))?;
        let mut rp = rp_from_metadata(client_id, md)?;
        rp.trust_mark_type = trust_mark_type;
        rp.exp = chain.exp.secs();
        Ok(rp)
    }

    /// The trust anchor's configuration (for `trust_mark_issuers`), verified with its
    /// configured keys, cached until its `exp`.
    async fn anchor_configuration(&self, f: &RequestFetcher<'_>, anchor: &wallet_core::federation::TrustAnchorConfig) -> Result<EntityStatement, RegistrationError> {
        let now = UnixTime::now().secs();
        if let Some((exp, ec)) = self.inner.registrations.anchors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&anchor.id)
            && *exp > now
        {
            return Ok(ec.clone());
        }
        let body = self
            .inner
            .discovery
            .get(f, &anchor.id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE)
            .await
            .map_err(|e| RegistrationError::Unreachable(e.to_string()))?;
        let ec = ParsedStatement::parse(&body).map_err(|e| RegistrationError::NoTrustMark(format!("trust anchor configuration: {e}")))?;
        ec.verify_with(&anchor.jwks).map_err(|e| RegistrationError::NoTrustMark(format!("trust anchor configuration: {e}")))?;
        self.inner.registrations.anchors.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(anchor.id.clone(), (ec.claims.exp, ec.claims.clone()));
        Ok(ec.claims)
    }

    /// Finds a trust mark in `ec` of a required type (any type, when none is configured) that
    /// validates: issuer allowed by a trust anchor's `trust_mark_issuers`, signature by the
    /// issuer's keys (the anchor's configured keys, or the issuer's own configuration when the
    /// anchor lists another issuer), `sub` = the RP, not expired (draft 48 §7.3, §B.1).
    async fn check_trust_marks(&self, f: &RequestFetcher<'_>, ec: &ParsedStatement, now: UnixTime) -> Result<String, RegistrationError> {
        let required = &self.inner.config.required_trust_marks;
        let marks: Vec<_> = ec
            .claims
            .trust_marks
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| required.is_empty() || required.contains(&m.trust_mark_type))
            .take(4)
            .collect();
        if marks.is_empty() {
            return Err(RegistrationError::NoTrustMark(if required.is_empty() {
                "the configuration carries no trust mark".into()
            } else {
                format!("the configuration carries none of {}", required.join(", "))
            }));
        }
        let mut last = String::new();
        for m in marks {
            // The issuer, read before verification only to pick the keys.
            let iss = crate::jwt::unverified_claims(&m.trust_mark)
                .ok()
                .and_then(|(_, c)| c.get("iss").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            for anchor in self.inner.discovery.anchors() {
                let ta = match self.anchor_configuration(f, anchor).await {
                    Ok(ta) => ta,
                    Err(e) => {
                        last = e.to_string();
                        continue;
                    }
                };
                let listed = ta.trust_mark_issuers.as_ref().and_then(|t| t.get(&m.trust_mark_type)).is_some_and(|l| l.is_empty() || l.contains(&iss));
                if !listed {
                    last = format!("{iss} is not an issuer of {} for {}", m.trust_mark_type, anchor.id);
                    continue;
                }
                let keys = if iss == anchor.id.as_str() {
                    anchor.jwks.clone()
                } else {
                    // An issuer the anchor vouches for: its keys from its own chain.
                    let Ok(id) = EntityId::new(iss.clone()) else { continue };
                    match self.inner.discovery.resolve_with(f, &id).await {
                        Ok(chain) => chain.subject.claims.jwks.clone(),
                        Err(e) => {
                            last = e.to_string();
                            continue;
                        }
                    }
                };
                match trust_mark::verify(&m.trust_mark, &ec.claims.sub, &keys, &ta, now) {
                    Ok(tm) => return Ok(tm.trust_mark_type),
                    Err(e) => last = e.to_string(),
                }
            }
        }
        Err(RegistrationError::NoTrustMark(last))
    }
}

fn strs(md: &Map<String, Value>, k: &str) -> Vec<String> {
    md.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default()
}

/// Checks the resolved `openid_relying_party` metadata (§B.1 "RP metadata (required)").
pub fn rp_from_metadata(client_id: &EntityId, md: &Map<String, Value>) -> Result<RegisteredRp, RegistrationError> {
    let bad = |m: &str| RegistrationError::Metadata(m.to_owned());
    if let Some(id) = md.get("client_id").and_then(Value::as_str)
        && id != client_id.as_str()
    {
        return Err(bad("client_id differs from the entity id"));
    }
    let redirect_uris = strs(md, "redirect_uris");
    if redirect_uris.is_empty() {
        return Err(bad("redirect_uris is required"));
    }
    if let Some(types) = md.get("client_registration_types")
        && !strs(md, "client_registration_types").iter().any(|t| t == "automatic")
    {
        return Err(RegistrationError::Metadata(format!("client_registration_types {types} lacks automatic")));
    }
    if md.get("token_endpoint_auth_method").and_then(Value::as_str).is_some_and(|m| m != "private_key_jwt") {
        return Err(bad("token_endpoint_auth_method must be private_key_jwt"));
    }
    if !strs(md, "response_types").iter().all(|t| t == "code") {
        return Err(bad("response_types must be [code]"));
    }
    let jwks: JwkSet = md.get("jwks").cloned().map(serde_json::from_value).transpose().map_err(|e| RegistrationError::Metadata(format!("jwks: {e}")))?.ok_or_else(|| bad("jwks is required (CIE: MUST)"))?;
    let enc_key = jwks
        .keys
        .iter()
        .find(|k| k.key_use.as_deref() == Some("enc") && matches!(k.params, wallet_core::jose::jwk::JwkParams::Rsa { .. }))
        .cloned()
        .ok_or_else(|| bad("jwks has no RSA key with use enc for UserInfo"))?;
    let sig_alg = |k: &str| match md.get(k).and_then(Value::as_str) {
        None | Some("RS256") => Ok(JwsAlg::Rs256),
        Some("RS512") => Ok(JwsAlg::Rs512),
        Some(other) => Err(RegistrationError::Metadata(format!("{k} {other}: this provider signs RS256 or RS512"))),
    };
    let userinfo_alg = md.get("userinfo_encrypted_response_alg").and_then(Value::as_str).map_or(Ok(KeyAlg::RsaOaep), KeyAlg::parse).map_err(|e| RegistrationError::Metadata(e.to_string()))?;
    let userinfo_enc = md.get("userinfo_encrypted_response_enc").and_then(Value::as_str).map_or(Ok(Enc::A256CbcHs512), Enc::parse).map_err(|e| RegistrationError::Metadata(e.to_string()))?;
    Ok(RegisteredRp {
        client_id: client_id.clone(),
        redirect_uris,
        jwks,
        enc_key,
        id_token_alg: sig_alg("id_token_signed_response_alg")?,
        userinfo_sig_alg: sig_alg("userinfo_signed_response_alg")?,
        userinfo_alg,
        userinfo_enc,
        trust_mark_type: String::new(),
        exp: 0,
    })
}
