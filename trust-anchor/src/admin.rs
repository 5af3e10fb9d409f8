//! The operator's admin API (bearer token, checked before the body is read): onboarding,
//! removal and key refresh of subordinates, trust marks issued here and to this entity, key
//! rollover.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use service_kit::{AdminToken, ApiError, Json, Query};
use wallet_core::federation::entity::{Constraints, ParsedStatement};
use wallet_core::federation::trust_mark::{TRUST_MARK_TYP, TrustMarkClaims};
use wallet_core::federation::{ChainCollector, EntityId};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::CompactJws;
use wallet_core::time::{Skew, TimeWindow, Ttl, UnixTime, check_window};

use crate::registry::{IssuedTrustMark, Subordinate, SubordinateEvent};
use crate::routes::{AppState, entity_id, fetch_configuration};

/// Clock skew allowed when checking a fetched configuration's `iat` and `exp` (IT-Wallet
/// 1.4 test plan FA_007: at most 120 s).
pub use wallet_core::federation::entity::MAX_CLOCK_SKEW;

/// The longest trust mark validity accepted at issuance, seconds (one year); the shortest is 1 s.
pub use wallet_core::federation::trust_mark::MAX_TRUST_MARK_TTL;

/// The `organization_type` values of the IT-Wallet trust mark table.
pub const ORGANIZATION_TYPES: [&str; 2] = ["public", "private"];

/// Trust mark claims an issuer sets itself; onboarding and issuance requests may not.
const RESERVED_CLAIMS: [&str; 8] = ["iss", "sub", "iat", "exp", "trust_mark_type", "trust_mark_id", "id", "delegation"];

/// Claims the IT-Wallet trust mark table makes REQUIRED beside the registered ones
/// (IT-Wallet 1.4 §1.1, `entity-onboarding.rst`).
pub const REQUIRED_TRUST_MARK_CLAIMS: [&str; 2] = ["organization_type", "logo_uri"];

/// FA_007: refuses a configuration that expired (or is issued in the future) beyond
/// [`MAX_CLOCK_SKEW`] (wallet-core's `ParsedStatement::check_time`), naming the claim.
pub(crate) fn check_fresh(ec: &ParsedStatement, now: UnixTime) -> Result<(), ApiError> {
    let c = &ec.claims;
    ec.check_time(now, MAX_CLOCK_SKEW).map_err(|e| {
        let why = if c.exp.saturating_add(MAX_CLOCK_SKEW) <= now.secs() {
            format!("exp: the entity configuration of {} expired at {} ({} s ago", c.sub, c.exp, now.secs().saturating_sub(c.exp))
        } else if c.iat > now.secs().saturating_add(MAX_CLOCK_SKEW) {
            format!("iat: the entity configuration of {} is issued in the future ({}", c.sub, c.iat)
        } else {
            format!("iat/exp: the entity configuration of {} is not valid now ({e}", c.sub)
        };
        ApiError::invalid_request(format!("{why}; at most {MAX_CLOCK_SKEW} s of clock skew is allowed)"))
    })
}

/// An onboarding request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSubordinate {
    /// The subordinate's id.
    pub entity_id: String,
    /// Metadata policy to apply to it.
    #[serde(default)]
    pub metadata_policy: Option<Value>,
    /// Constraints for it; absent: [`crate::routes::default_constraints`].
    #[serde(default)]
    pub constraints: Option<Value>,
    /// Entity types the suboordinate must have in its configuration.
    #[serde(default)]
    pub entity_types: Vec<String>,
    /// For an intermediate: domains its subordinates live in, added to the name constraints
    /// of the CA certificate issued to it (its own host is always permitted).
    #[serde(default)]
    pub permitted_domains: Vec<String>,
    /// Claims about its organisation that trust marks issued to it carry
    /// (`organization_type`, `logo_uri`, `organization_name`, `ipa_code`, `vat_number`,
    /// `legal_identifier`, `email`); `logo_uri` and `organization_name` default to its
    /// configuration's `federation_entity`.
    #[serde(default)]
    pub trust_mark_claims: Option<Map<String, Value>>,
}

/// Checks operator-given trust mark claims: no registered claim, a known `organization_type`.
fn check_trust_mark_claims(claims: &Map<String, Value>) -> Result<(), ApiError> {
    if let Some(k) = claims.keys().find(|k| RESERVED_CLAIMS.contains(&k.as_str())) {
        return Err(ApiError::invalid_request(format!("trust_mark_claims: `{k}` is set by the issuer")));
    }
    if let Some(t) = claims.get("organization_type")
        && !t.as_str().is_some_and(|t| ORGANIZATION_TYPES.contains(&t))
    {
        return Err(ApiError::invalid_request(format!("trust_mark_claims: organization_type must be one of {ORGANIZATION_TYPES:?}, not {t}")));
    }
    // An authorization-policy mark's lists (wallet-core `oid4vp::consent::authorization`): a
    // wallet reads a malformed one as authorizing nothing, so it is refused here.
    use wallet_core::oid4vp::consent::authorization::{AUTHORIZED_CLAIMS, AUTHORIZED_CREDENTIAL_TYPES};
    for name in [AUTHORIZED_CREDENTIAL_TYPES, AUTHORIZED_CLAIMS] {
        if let Some(v) = claims.get(name)
            && !v.as_array().is_some_and(|items| items.iter().all(|i| i.as_str().is_some_and(|s| !s.is_empty())))
        {
            return Err(ApiError::invalid_request(format!("trust_mark_claims: {name} must be an array of non-empty strings, not {v}")));
        }
    }
    Ok(())
}

async fn record(st: &AppState, sub: &EntityId, event: &str, description: Option<String>) -> Result<(), ApiError> {
    let e = SubordinateEvent { sub: sub.to_string(), iat: UnixTime::now().secs(), event: event.to_owned(), description };
    st.registry().add_event(&e).await.map_err(ApiError::server)
}

/// Onboarding: fetch the subordinate's Entity Configuration, check it is self-signed,
/// current (FA_007), names this authority in `authority_hints`, and pin its keys.
pub(crate) async fn add_subordinate(State(st): State<AppState>, _: AdminToken, Json(req): Json<AddSubordinate>) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let id = entity_id("entity_id", req.entity_id)?;
    if let Some(p) = &req.metadata_policy {
        wallet_core::federation::MetadataPolicy::from_json(p, &[]).map_err(|e| ApiError::invalid_request(format!("metadata_policy: {e}")))?;
    }
    if let Some(c) = &req.constraints {
        serde_json::from_value::<Constraints>(c.clone()).map_err(|e| ApiError::invalid_request(format!("constraints: {e}")))?;
    }
    let mut claims = req.trust_mark_claims.unwrap_or_default();
    check_trust_mark_claims(&claims)?;
    let fetcher = st.http().for_request();
    let ec = fetch_configuration(&fetcher, &id).await?;
    ec.verify_with(&ec.claims.jwks).map_err(|e| ApiError::invalid_request(format!("entity configuration refused: {e}")))?;
    check_fresh(&ec, UnixTime::now())?;
    if !ec.claims.authority_hints.as_ref().is_some_and(|h| h.contains(&st.config().entity_id)) {
        return Err(ApiError::invalid_request(format!("{id} does not name {} in its authority_hints", st.config().entity_id)));
    }
    let md = ec.claims.metadata.clone().unwrap_or_default();
    if let Some(missing) = req.entity_types.iter().find(|t| !md.contains_key(*t)) {
        return Err(ApiError::invalid_request(format!("{id} has no `{missing}` metadata in its configuration")));
    }
    let fed = md.get("federation_entity").and_then(Value::as_object);
    let intermediate = fed.is_some_and(|f| f.contains_key("federation_fetch_endpoint"));
    for k in ["logo_uri", "organization_name"] {
        if let Some(v) = fed.and_then(|f| f.get(k)).filter(|v| v.is_string())
            && !claims.contains_key(k)
        {
            claims.insert(k.to_owned(), v.clone());
        }
    }
    let (jwks, x509) = crate::pki::with_ca_certificates(&st, &fetcher, &id, ec.claims.jwks.clone(), intermediate, &req.permitted_domains).await?;
    let again = st.registry().get(&id).await.map_err(ApiError::server)?.is_some();
    let sub = Subordinate {
        entity_id: id.clone(),
        entity_types: md.keys().cloned().collect(),
        jwks,
        metadata_policy: req.metadata_policy,
        constraints: req.constraints,
        intermediate,
        trust_mark_claims: (!claims.is_empty()).then_some(Value::Object(claims)),
    };
    st.registry().upsert(&sub).await.map_err(ApiError::server)?;
    record(&st, &id, "registration", again.then(|| "onboarded again".to_owned())).await?;
    st.inner().cache.invalidate(&id);
    tracing::info!(entity_id = %id, intermediate, x509 = %x509, "admin: subordinate onboarded");
    Ok((StatusCode::CREATED, axum::Json(json!({"entity_id": id, "entity_types": sub.entity_types, "intermediate": intermediate, "x509": x509}))))
}

pub(crate) async fn list(State(st): State<AppState>, _: AdminToken) -> Result<axum::Json<Value>, ApiError> {
    let all = st.registry().list().await.map_err(ApiError::server)?;
    Ok(axum::Json(Value::Array(
        all.into_iter()
            .map(|s| {
                json!({"entity_id": s.entity_id, "entity_types": s.entity_types, "intermediate": s.intermediate,
                       "metadata_policy": s.metadata_policy, "constraints": s.constraints, "trust_mark_claims": s.trust_mark_claims})
            })
            .collect(),
    )))
}

#[derive(Deserialize)]
pub(crate) struct RemoveQuery {
    entity_id: String,
    /// Recorded as the revocation event's `event_description`.
    #[serde(default)]
    reason: Option<String>,
}

pub(crate) async fn remove_subordinate(State(st): State<AppState>, _: AdminToken, Query(q): Query<RemoveQuery>) -> Result<StatusCode, ApiError> {
    let id = entity_id("entity_id", q.entity_id)?;
    if !st.registry().remove(&id).await.map_err(ApiError::server)? {
        return Err(ApiError::not_found(format!("{id} is not a subordinate")));
    }
    st.inner().cache.invalidate(&id);
    record(&st, &id, "revocation", q.reason).await?;
    // Its CA certificates go on the CRL (IT-Wallet 1.4 §1.2).
    let revoked = st.registry().revoke_certificates(id.as_str(), UnixTime::now().secs()).await.map_err(ApiError::server)?;
    tracing::info!(entity_id = %id, certificates_revoked = revoked, "admin: subordinate removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshKeys {
    entity_id: String,
}

/// Re-pins a subordinate's keys during its key rollover: its current configuration must be
/// signed by a key pinned now and be current (FA_007), and its `jwks` (with the next key)
/// becomes the new pin. Policy and constraints are kept.
pub(crate) async fn refresh_keys(State(st): State<AppState>, _: AdminToken, Json(req): Json<RefreshKeys>) -> Result<axum::Json<Value>, ApiError> {
    let id = entity_id("entity_id", req.entity_id)?;
    let mut sub = st.registry().get(&id).await.map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{id} is not a subordinate")))?;
    let fetcher = st.http().for_request();
    let ec = fetch_configuration(&fetcher, &id).await?;
    ec.verify_with(&sub.jwks).map_err(|e| ApiError::invalid_request(format!("not signed by a pinned key: {e}")))?;
    check_fresh(&ec, UnixTime::now())?;
    // The domains permitted at onboarding are not kept: a refreshed intermediate CA
    // certificate permits its own host only.
    let (jwks, x509) = crate::pki::with_ca_certificates(&st, &fetcher, &id, ec.claims.jwks.clone(), sub.intermediate, &[]).await?;
    sub.jwks = jwks;
    st.registry().upsert(&sub).await.map_err(ApiError::server)?;
    record(&st, &id, "jwks_update", None).await?;
    st.inner().cache.invalidate(&id);
    tracing::info!(entity_id = %id, x509 = %x509, "admin: subordinate keys re-pinned");
    Ok(axum::Json(json!({"entity_id": id, "keys": sub.jwks.keys.len()})))
}

/// A trust mark issuance request (admin).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTrustMark {
    /// The entity it is issued to (a registered subordinate).
    pub sub: String,
    /// A short name (`credential_issuer` becomes `<authority>/trust_marks/credential_issuer`)
    /// or a full type URL.
    pub trust_mark_type: String,
    /// Validity in seconds (default 30 days; 1 s to [`MAX_TRUST_MARK_TTL`]).
    #[serde(default)]
    pub ttl: Option<i64>,
    /// Claims for this mark, over those kept at onboarding (`organization_type`, ...).
    #[serde(default)]
    pub claims: Option<Map<String, Value>>,
}

/// Issues a trust mark to a subordinate, with the claims the IT-Wallet trust mark table
/// requires (IT-Wallet 1.4 §1.1: `organization_type`, `logo_uri`; recommended ones when
/// known), valid `ttl` seconds (1 s .. [`MAX_TRUST_MARK_TTL`], checked by wallet-core's `Ttl`).
pub(crate) async fn issue_trust_mark(State(st): State<AppState>, _: AdminToken, Json(req): Json<IssueTrustMark>) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let sub = entity_id("sub", req.sub)?;
    let ttl = Ttl::new("ttl", req.ttl.unwrap_or(30 * 86_400), MAX_TRUST_MARK_TTL)
        .map_err(|e| ApiError::invalid_request(format!("ttl: {e}; the allowed range is 1 s .. {MAX_TRUST_MARK_TTL} s (one year)")))?;
    let s = st.registry().get(&sub).await.map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{sub} is not a subordinate")))?;
    let mut extra = match s.trust_mark_claims {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(c) = req.claims {
        check_trust_mark_claims(&c)?;
        extra.extend(c);
    }
    if let Some(missing) = REQUIRED_TRUST_MARK_CLAIMS.iter().find(|k| extra.get(**k).and_then(Value::as_str).is_none_or(str::is_empty)) {
        return Err(ApiError::invalid_request(format!(
            "{missing} is required in an IT-Wallet trust mark: give it in trust_mark_claims at onboarding or in claims here"
        )));
    }
    let (iat, exp) = TrustMarkClaims::expiring(UnixTime::now(), ttl).map_err(|e| ApiError::invalid_request(format!("ttl: {e}")))?;
    let claims = TrustMarkClaims {
        iss: st.config().entity_id.clone(),
        sub: sub.clone(),
        trust_mark_type: st.config().trust_mark_type(&req.trust_mark_type),
        iat,
        exp: Some(exp),
        delegation: None,
        extra,
    };
    let jwt = claims.sign(TRUST_MARK_TYP, st.inner().ring().current()).map_err(ApiError::server)?;
    st.registry()
        .add_trust_mark(&IssuedTrustMark {
            trust_mark_type: claims.trust_mark_type.clone(),
            sub: sub.to_string(),
            jwt: jwt.clone(),
            iat: claims.iat,
            exp: claims.exp,
            revoked: false,
        })
        .await
        .map_err(ApiError::server)?;
    tracing::info!(sub = %sub, trust_mark_type = %claims.trust_mark_type, "admin: trust mark issued");
    Ok((StatusCode::CREATED, axum::Json(json!({"trust_mark_type": claims.trust_mark_type, "trust_mark": jwt}))))
}

/// Which marks to revoke.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTrustMark {
    /// The entity.
    pub sub: String,
    /// Short name or full type.
    pub trust_mark_type: String,
}

pub(crate) async fn revoke_trust_mark(State(st): State<AppState>, _: AdminToken, Json(req): Json<RevokeTrustMark>) -> Result<axum::Json<Value>, ApiError> {
    let t = st.config().trust_mark_type(&req.trust_mark_type);
    let n = st.registry().revoke_trust_marks(&t, &req.sub).await.map_err(ApiError::server)?;
    tracing::info!(sub = %req.sub, trust_mark_type = %t, revoked = n, "admin: trust marks revoked");
    if n == 0 {
        return Err(ApiError::not_found("no such trust mark"));
    }
    Ok(axum::Json(json!({"revoked": n})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachOwn {
    trust_mark: String,
}

/// Publishes a mark issued to this entity in its configuration, once verified
/// ([`verify_own_trust_mark`]).
pub(crate) async fn attach_own_trust_mark(State(st): State<AppState>, _: AdminToken, Json(req): Json<AttachOwn>) -> Result<StatusCode, ApiError> {
    let jwt = req.trust_mark.trim();
    let claims = verify_own_trust_mark(&st, jwt, UnixTime::now()).await?;
    st.registry().set_own_trust_mark(&claims.trust_mark_type, jwt).await.map_err(ApiError::server)?;
    tracing::info!(trust_mark_type = %claims.trust_mark_type, iss = %claims.iss, "admin: own trust mark published");
    Ok(StatusCode::NO_CONTENT)
}

fn refuse(rule: &str) -> ApiError {
    ApiError::invalid_request(format!("trust mark refused: {rule}"))
}

/// Draft 48 §7 (and §7.3 for the anchor's `trust_mark_issuers`): a mark this entity may
/// publish is a `trust-mark+jwt` about this entity, with a type, not expired, issued by a
/// configured trust anchor or by an issuer that anchor lists for the type, and signed with
/// that issuer's Federation Entity Keys: the anchor's from configuration, another issuer's
/// from its trust chain to the anchor. Nothing is fetched from where the mark says.
pub(crate) async fn verify_own_trust_mark(st: &AppState, jwt: &str, now: UnixTime) -> Result<TrustMarkClaims, ApiError> {
    let jws = CompactJws::parse(jwt).map_err(|e| refuse(&format!("not a JWS: {e}")))?;
    if !jws.header().typ_is(TRUST_MARK_TYP) {
        return Err(refuse(&format!("typ must be {TRUST_MARK_TYP}")));
    }
    let kid = jws.header().kid.clone().ok_or_else(|| refuse("the header has no kid"))?;
    let claims: TrustMarkClaims = jws.payload_json().map_err(|e| refuse(&format!("malformed claims: {e}")))?;
    let me = &st.config().entity_id;
    if &claims.sub != me {
        return Err(refuse(&format!("sub is {}, not this entity ({me})", claims.sub)));
    }
    if claims.trust_mark_type.trim().is_empty() {
        return Err(refuse("trust_mark_type is empty"));
    }
    let window = TimeWindow { iat: Some(claims.iat), nbf: None, exp: claims.exp };
    check_window(window, now, Skew::new(MAX_CLOCK_SKEW), None).map_err(|e| refuse(&e.to_string()))?;
    let anchors = &st.config().trust_anchors;
    if anchors.is_empty() {
        return Err(refuse("no trust anchor is configured here to check the issuer against"));
    }
    let fetcher = st.http().for_request();
    let mut last = refuse(&format!("{} is not a configured trust anchor nor an issuer of {} listed by one", claims.iss, claims.trust_mark_type));
    for anchor in anchors {
        let issuer_keys: JwkSet = if claims.iss == anchor.id {
            anchor.jwks.clone()
        } else {
            // The anchor's configuration, from the configured id, verified with its configured keys.
            let anchor_ec = if &anchor.id == me {
                ParsedStatement::parse(&st.entity_configuration(now).await?).map_err(ApiError::server)?
            } else {
                match fetch_configuration(&fetcher, &anchor.id).await {
                    Ok(ec) => ec,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                }
            };
            anchor_ec.verify_with(&anchor.jwks).map_err(|e| refuse(&format!("the configuration of trust anchor {} does not verify: {e}", anchor.id)))?;
            let allowed = anchor_ec.claims.trust_mark_issuers.as_ref().and_then(|m| m.get(&claims.trust_mark_type));
            if !allowed.is_some_and(|l| l.is_empty() || l.iter().any(|i| i == claims.iss.as_str())) {
                last = refuse(&format!("{} is not listed by trust anchor {} in trust_mark_issuers for {}", claims.iss, anchor.id, claims.trust_mark_type));
                continue;
            }
            let one = std::slice::from_ref(anchor);
            match ChainCollector::new_async(&fetcher, one).resolve_async(&claims.iss, now).await {
                Ok(chain) => chain.subject.claims.jwks,
                Err(e) => {
                    last = refuse(&format!("the issuer {} has no valid trust chain to {}: {e}", claims.iss, anchor.id));
                    continue;
                }
            }
        };
        let key = issuer_keys.by_kid(&kid).ok_or_else(|| refuse(&format!("signed with key {kid}, not a Federation Entity Key of the issuer {}", claims.iss)))?;
        jws.verify(key).map_err(|_| refuse(&format!("the signature does not verify with the issuer's key {kid}")))?;
        return Ok(claims);
    }
    Err(last)
}

/// Key rollover, phase 1: publish the next key (the current one keeps signing).
pub(crate) async fn prepare_key(State(st): State<AppState>, _: AdminToken) -> Result<axum::Json<Value>, ApiError> {
    let ring = st.clone();
    let jwk = tokio::task::spawn_blocking(move || ring.inner().keys.prepare()).await.map_err(ApiError::server)?.map_err(ApiError::server)?;
    st.inner().cache.clear();
    tracing::info!("admin: next federation key prepared");
    Ok(axum::Json(json!({"next": jwk})))
}

/// Key rollover, phase 2: the next key signs; the old one is retired to the historical keys.
pub(crate) async fn activate_key(State(st): State<AppState>, _: AdminToken) -> Result<axum::Json<Value>, ApiError> {
    let now = UnixTime::now().secs();
    let (ring, ttl) = (st.clone(), st.config().statement_ttl);
    let jwk = tokio::task::spawn_blocking(move || ring.inner().keys.activate(now, ttl)).await.map_err(ApiError::server)?.map_err(|e| match e {
        crate::keys::RingError::NotPrepared => ApiError::invalid_request(e.to_string()),
        crate::keys::RingError::Files(_) => ApiError::server(e),
    })?;
    st.inner().cache.clear();
    tracing::info!("admin: next federation key activated");
    Ok(axum::Json(json!({"current": jwk})))
}

/// `POST /admin/signing-certificates/revoke` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RevokeSigning {
    /// The `kid` of the key whose signing certificates are withdrawn.
    kid: String,
}

/// Puts every signing certificate issued here for the key `kid` on our CRL (a credential
/// key compromised or withdrawn: what it signed no longer validates through `x5c`).
pub(crate) async fn revoke_signing_certificates(State(st): State<AppState>, _: AdminToken, Json(req): Json<RevokeSigning>) -> Result<axum::Json<Value>, ApiError> {
    if req.kid.is_empty() {
        return Err(ApiError::invalid_request("kid is empty"));
    }
    let n = crate::pki::revoke_signing_certificates(&st, &req.kid, UnixTime::now().secs()).await.map_err(ApiError::server)?;
    tracing::info!(kid = %req.kid, revoked = n, "admin: signing certificates revoked");
    Ok(axum::Json(json!({"revoked": n})))
}
