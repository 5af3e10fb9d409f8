//! The HTTP API: routers as plain functions, state passed explicitly.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use wallet_core::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, EntityStatement, ParsedStatement};
use wallet_core::federation::trust_mark::{STATUS_RESPONSE_TYP, TRUST_MARK_TYP, TrustMarkClaims};
use wallet_core::federation::{ChainCollector, EntityId, Fetcher, TrustMarkRef};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer, jws};
use wallet_core::time::UnixTime;

use crate::config::Config;
use crate::error::ApiError;
use crate::fetch::HttpFetcher;
use crate::registry::{Registry, Subordinate};

/// The media type of a resolve response.
pub const RESOLVE_MEDIA_TYPE: &str = "application/resolve-response+jwt";

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) keys: std::sync::RwLock<crate::keys::KeyRing>,
    pub(crate) registry: Registry,
    /// Trust anchor only: the federation's X.509 root certificate (DER).
    pub(crate) root_ca: Option<Vec<u8>>,
    /// Intermediates: this entity's own CA certificate chain from its superior, by key.
    pub(crate) own_ca: crate::pki::OwnCa,
    pub(crate) metrics: crate::metrics::Metrics,
}

impl Inner {
    pub(crate) fn ring(&self) -> std::sync::RwLockReadGuard<'_, crate::keys::KeyRing> {
        self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Signs with the current key.
    fn sign_json(&self, header: &JwsHeader, body: &Value) -> Result<String, ApiError> {
        let ring = self.ring();
        let h = header.clone().with_kid(ring.current().kid());
        jws::sign_json(&h, body, ring.current()).map_err(ApiError::server)
    }
}

impl AppState {
    /// Loads (or creates) the keys under the data directory and opens the registry: the
    /// SQLite file `<data_dir>/registry.sqlite`, or PostgreSQL when `config.database_url` is
    /// set (connected at first use; [`AppState::connect`] connects now).
    pub fn open(config: Config) -> Result<Self, String> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
        let keys = crate::keys::KeyRing::load_or_create(&config.data_dir)?;
        let registry = match &config.database_url {
            Some(url) => Registry::postgres(url),
            None => Registry::open_sqlite(&config.data_dir.join("registry.sqlite")),
        }
        .map_err(|e| e.to_string())?;
        let own_ca = crate::pki::OwnCa::load(&config.data_dir);
        let root_ca = if config.is_trust_anchor() {
            let path = config.data_dir.join("ca-root.der");
            match std::fs::read(&path) {
                Ok(der) => Some(der),
                Err(_) => {
                    let der = crate::ca::root_certificate(&config.entity_id, keys.current(), UnixTime::now().secs()).map_err(|e| e.to_string())?;
                    std::fs::write(&path, &der).map_err(|e| format!("{}: {e}", path.display()))?;
                    Some(der)
                }
            }
        } else {
            None
        };
        let metrics = crate::metrics::Metrics::default();
        Ok(Self { inner: Arc::new(Inner { config, keys: std::sync::RwLock::new(keys), registry, root_ca, own_ca, metrics }) })
    }

    /// [`AppState::open`], then connects to the registry database now, so that a wrong URL
    /// or an unreachable PostgreSQL fails at start rather than at the first request.
    pub async fn connect(config: Config) -> Result<Self, String> {
        let st = Self::open(config)?;
        st.inner.registry.ping().await.map_err(|e| e.to_string())?;
        tracing::info!(entity_id = %st.config().entity_id, registry = st.inner.registry.backend_name(), "federation entity ready");
        Ok(st)
    }

    /// The subordinate registry.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Trust anchor only: the federation's root CA certificate (DER).
    pub fn root_ca(&self) -> Option<&[u8]> {
        self.inner.root_ca.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The published Federation Entity Keys (the signing key, and the next one once prepared).
    pub fn jwks(&self) -> JwkSet {
        self.inner.ring().published()
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.inner.config.entity_id.as_str().trim_end_matches('/'))
    }

    fn statement(&self, sub: EntityId, jwks: JwkSet, now: UnixTime) -> EntityStatement {
        let c = &self.inner.config;
        serde_json::from_value(json!({
            "iss": c.entity_id, "sub": sub, "iat": now.secs(), "exp": now.secs() + c.statement_ttl, "jwks": jwks,
        }))
        .unwrap_or_else(|_| unreachable!("a statement built from typed parts always parses"))
    }

    /// This entity's signed Entity Configuration.
    pub async fn entity_configuration(&self, now: UnixTime) -> Result<String, ApiError> {
        let c = &self.inner.config;
        let mut ec = self.statement(c.entity_id.clone(), self.jwks(), now);
        if !c.authority_hints.is_empty() {
            ec.authority_hints = Some(c.authority_hints.clone());
        }
        // What the operator configured under `federation_entity` (`homepage_uri`,
        // `policy_uri`, `logo_uri`, `contacts`: IT-Wallet 1.4 §1.1, SPID/CIE §B.1) is kept;
        // the endpoints this entity serves are written over it.
        let mut fed = match c.metadata.get("federation_entity") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        fed.insert("organization_name".into(), Value::from(c.organization_name.clone()));
        fed.insert("federation_resolve_endpoint".into(), Value::from(self.endpoint("resolve")));
        if c.authority {
            for (k, path) in [
                ("federation_fetch_endpoint", "fetch"),
                ("federation_list_endpoint", "list"),
                ("federation_trust_mark_endpoint", "trust_mark"),
                ("federation_trust_mark_status_endpoint", "trust_mark_status"),
                ("federation_trust_mark_list_endpoint", "trust_marked_list"),
                ("federation_historical_keys_endpoint", "historical_keys"),
            ] {
                fed.insert(k.into(), Value::from(self.endpoint(path)));
            }
        }
        let mut metadata = c.metadata.clone();
        metadata.insert("federation_entity".into(), Value::Object(fed));
        ec.metadata = Some(metadata);
        if c.is_trust_anchor() && !c.trust_mark_issuers.is_empty() {
            ec.trust_mark_issuers = Some(c.trust_mark_issuers.clone());
        }
        let own = self.inner.registry.own_trust_marks().await.map_err(ApiError::server)?;
        if !own.is_empty() {
            ec.trust_marks = Some(own.into_iter().map(|(t, jwt)| TrustMarkRef { trust_mark_type: t, trust_mark: jwt }).collect());
        }
        let ring = self.inner.ring();
        ec.sign(ring.current()).map_err(ApiError::server)
    }
}

/// The router of one federation entity.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/.well-known/openid-federation", get(entity_configuration))
        .route("/resolve", get(resolve))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(crate::metrics::render))
        .route("/openapi.json", get(crate::openapi::document))
        .route("/ca", get(root_ca))
        .route("/crl", get(crate::pki::crl));
    if state.config().authority {
        r = r
            .route("/fetch", get(fetch))
            .route("/list", get(list))
            .route("/admin/subordinates", post(add_subordinate).get(admin_list).delete(remove_subordinate))
            .route("/admin/subordinates/refresh-keys", post(refresh_keys))
            .route("/admin/trust-marks", post(issue_trust_mark))
            .route("/admin/trust-marks/revoke", post(revoke_trust_mark))
            .route("/trust_mark", get(trust_mark))
            .route("/trust_mark_status", post(trust_mark_status))
            .route("/trust_marked_list", get(trust_marked_list));
    }
    r = r
        .route("/admin/own-trust-marks", post(attach_own_trust_mark))
        .route("/admin/keys/prepare", post(prepare_key))
        .route("/admin/keys/activate", post(activate_key))
        .route("/historical_keys", get(historical_keys));
    r.layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

fn jwt_response(media_type: &'static str, jwt: String) -> Response {
    ([(header::CONTENT_TYPE, media_type)], jwt).into_response()
}

async fn entity_configuration(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, st.entity_configuration(UnixTime::now()).await?))
}

#[derive(Deserialize)]
struct FetchQuery {
    sub: Option<String>,
}

/// Draft 48 §8.1: the Subordinate Statement about `sub`, with the keys pinned at onboarding.
async fn fetch(State(st): State<AppState>, Query(q): Query<FetchQuery>) -> Result<Response, ApiError> {
    let sub = q.sub.ok_or_else(|| ApiError::invalid_request("missing sub"))?;
    let sub = EntityId::new(sub).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if sub == st.config().entity_id {
        return Err(ApiError::invalid_request("sub is the issuer itself: fetch its Entity Configuration instead"));
    }
    let s = st.inner.registry.get(&sub).await.map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{sub} is not a subordinate")))?;
    let mut ss = st.statement(s.entity_id.clone(), s.jwks.clone(), UnixTime::now());
    ss.metadata_policy = s.metadata_policy.clone();
    ss.constraints = s.constraints.clone().map(serde_json::from_value).transpose().map_err(ApiError::server)?;
    ss.source_endpoint = Some(st.endpoint("fetch"));
    let signed = ss.sign(st.inner.ring().current()).map_err(ApiError::server)?;
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, signed))
}

/// Draft 48 §8.2: subordinate ids, filtered by `entity_type` (repeatable), `intermediate`,
/// `trust_marked` and `trust_mark_type`.
///
/// IT-Wallet 1.4 §1.1 publishes a wallet provider's metadata as `wallet_solution` but lists
/// wallet providers with `entity_type=wallet_provider`: both names select the same
/// subordinates here, so a wallet filtering either way finds them.
async fn list(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Result<Json<Vec<String>>, ApiError> {
    let mut types = Vec::new();
    let mut intermediate = None;
    let mut trust_marked = false;
    let mut trust_mark_type = None;
    for (k, v) in q {
        match k.as_str() {
            "entity_type" if v == "wallet_provider" => types.push("wallet_solution".to_owned()),
            "entity_type" => types.push(v),
            "intermediate" => intermediate = Some(v == "true"),
            "trust_marked" => trust_marked = v == "true",
            "trust_mark_type" => trust_mark_type = Some(v),
            _ => {}
        }
    }
    let marked: Option<Vec<String>> = if trust_marked || trust_mark_type.is_some() {
        let now = UnixTime::now().secs();
        let marks = st.inner.registry.trust_marks(trust_mark_type.as_deref(), None).await.map_err(ApiError::server)?;
        Some(marks.into_iter().filter(|m| !m.revoked && m.exp.is_none_or(|e| e > now)).map(|m| m.sub).collect())
    } else {
        None
    };
    let all = st.inner.registry.list().await.map_err(ApiError::server)?;
    Ok(Json(
        all.into_iter()
            .filter(|s| types.is_empty() || types.iter().any(|t| s.entity_types.contains(t)))
            .filter(|s| intermediate.is_none_or(|i| s.intermediate == i))
            .filter(|s| marked.as_ref().is_none_or(|m| m.iter().any(|x| x == s.entity_id.as_str())))
            .map(|s| s.entity_id.to_string())
            .collect(),
    ))
}

/// Draft 48 §8.3: collect and validate the subject's chain to a trust anchor this entity
/// trusts, and answer with the resolved metadata and the chain, signed.
async fn resolve(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Result<Response, ApiError> {
    let mut sub = None;
    let mut anchors_asked = Vec::new();
    let mut types = Vec::new();
    for (k, v) in q {
        match k.as_str() {
            "sub" => sub = Some(v),
            "trust_anchor" => anchors_asked.push(v),
            "entity_type" => types.push(v),
            _ => {}
        }
    }
    let sub = EntityId::new(sub.ok_or_else(|| ApiError::invalid_request("missing sub"))?).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if anchors_asked.is_empty() {
        return Err(ApiError::invalid_request("missing trust_anchor"));
    }
    let anchors: Vec<_> = st.config().trust_anchors.iter().filter(|a| anchors_asked.iter().any(|t| t == a.id.as_str())).cloned().collect();
    if anchors.is_empty() {
        return Err(ApiError { status: StatusCode::NOT_FOUND, error: "invalid_trust_anchor", description: "no trust anchor of the request is known here".into() });
    }
    let now = UnixTime::now();
    let chain = tokio::task::spawn_blocking(move || {
        let fetcher = HttpFetcher::new()?;
        ChainCollector::new(&fetcher, &anchors).resolve(&sub, now)
    })
    .await
    .map_err(ApiError::server)??;
    let mut metadata = chain.metadata.clone();
    if !types.is_empty() {
        metadata.retain(|t, _| types.contains(t));
    }
    let claims = json!({
        "iss": st.config().entity_id, "sub": chain.subject.claims.sub, "iat": now.secs(), "exp": chain.exp.secs(),
        "metadata": metadata, "trust_chain": chain.jwts(),
    });
    let header = JwsHeader::new(JwsAlg::Es256).with_typ("resolve-response+jwt");
    Ok(jwt_response(RESOLVE_MEDIA_TYPE, st.inner.sign_json(&header, &claims)?))
}

fn check_admin(st: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    use wallet_core::subtle_eq;
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    if st.config().admin_token.is_empty() || !subtle_eq(given.as_bytes(), st.config().admin_token.as_bytes()) {
        return Err(ApiError::unauthorized());
    }
    Ok(())
}

/// An onboarding request.
#[derive(Debug, Deserialize)]
pub struct AddSubordinate {
    /// The subordinate's id.
    pub entity_id: String,
    /// Metadata policy to apply to it.
    #[serde(default)]
    pub metadata_policy: Option<Value>,
    /// Constraints for it.
    #[serde(default)]
    pub constraints: Option<Value>,
    /// Entity types the subordinate must have in its configuration.
    #[serde(default)]
    pub entity_types: Vec<String>,
    /// For an intermediate: domains its subordinates live in, added to the name constraints
    /// of the CA certificate issued to it (its own host is always permitted).
    #[serde(default)]
    pub permitted_domains: Vec<String>,
}

/// Fetches `id`'s Entity Configuration and checks its form and that it is about `id` (the
/// signature is checked by the caller, against the keys that matter to it).
pub(crate) async fn fetch_configuration(id: &EntityId) -> Result<ParsedStatement, ApiError> {
    let url = id.configuration_url();
    let body = tokio::task::spawn_blocking(move || HttpFetcher::new()?.get(&url, ENTITY_STATEMENT_MEDIA_TYPE))
        .await
        .map_err(ApiError::server)?
        .map_err(|e| ApiError::invalid_request(format!("cannot fetch the entity configuration: {e}")))?;
    let ec = ParsedStatement::parse(&body).map_err(|e| ApiError::invalid_request(format!("entity configuration refused: {e}")))?;
    if !ec.claims.is_configuration() || &ec.claims.sub != id {
        return Err(ApiError::invalid_request("the configuration is not about this entity"));
    }
    Ok(ec)
}

/// Onboarding: fetch the subordinate's Entity Configuration, check it is self-signed, names
/// this authority in `authority_hints`, and pin its keys.
async fn add_subordinate(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<AddSubordinate>) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_admin(&st, &headers)?;
    let id = EntityId::new(req.entity_id).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Some(p) = &req.metadata_policy {
        wallet_core::federation::MetadataPolicy::from_json(p, &[]).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    }
    let ec = fetch_configuration(&id).await?;
    ec.verify_with(&ec.claims.jwks).map_err(|e| ApiError::invalid_request(format!("entity configuration refused: {e}")))?;
    if !ec.claims.authority_hints.as_ref().is_some_and(|h| h.contains(&st.config().entity_id)) {
        return Err(ApiError::invalid_request(format!("{id} does not name {} in its authority_hints", st.config().entity_id)));
    }
    let md = ec.claims.metadata.clone().unwrap_or_default();
    if let Some(missing) = req.entity_types.iter().find(|t| !md.contains_key(*t)) {
        return Err(ApiError::invalid_request(format!("{id} has no `{missing}` metadata in its configuration")));
    }
    let intermediate = md.get("federation_entity").and_then(|f| f.get("federation_fetch_endpoint")).is_some();
    let (jwks, x509) = crate::pki::with_ca_certificates(&st, &id, ec.claims.jwks.clone(), intermediate, &req.permitted_domains).await?;
    let sub = Subordinate {
        entity_id: id.clone(),
        entity_types: md.keys().cloned().collect(),
        jwks,
        metadata_policy: req.metadata_policy,
        constraints: req.constraints,
        intermediate,
    };
    st.inner.registry.upsert(&sub).await.map_err(ApiError::server)?;
    tracing::info!(entity_id = %id, intermediate, x509 = %x509, "admin: subordinate onboarded");
    Ok((StatusCode::CREATED, Json(json!({"entity_id": id, "entity_types": sub.entity_types, "intermediate": intermediate, "x509": x509}))))
}

async fn admin_list(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let all = st.inner.registry.list().await.map_err(ApiError::server)?;
    Ok(Json(Value::Array(
        all.into_iter()
            .map(|s| json!({"entity_id": s.entity_id, "entity_types": s.entity_types, "intermediate": s.intermediate, "metadata_policy": s.metadata_policy}))
            .collect(),
    )))
}

async fn remove_subordinate(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<StatusCode, ApiError> {
    check_admin(&st, &headers)?;
    let id = EntityId::new(q.get("entity_id").cloned().unwrap_or_default()).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if !st.inner.registry.remove(&id).await.map_err(ApiError::server)? {
        return Err(ApiError::not_found(format!("{id} is not a subordinate")));
    }
    // Its CA certificates go on the CRL (IT-Wallet 1.4 §1.2).
    let revoked = st.inner.registry.revoke_certificates(id.as_str(), UnixTime::now().secs()).await.map_err(ApiError::server)?;
    tracing::info!(entity_id = %id, certificates_revoked = revoked, "admin: subordinate removed");
    Ok(StatusCode::NO_CONTENT)
}

/// A trust mark issuance request (admin).
#[derive(Debug, Deserialize)]
pub struct IssueTrustMark {
    /// The entity it is issued to (a registered subordinate).
    pub sub: String,
    /// A short name (`credential_issuer` becomes `<authority>/trust_marks/credential_issuer`)
    /// or a full type URL.
    pub trust_mark_type: String,
    /// Validity in seconds (default 30 days).
    #[serde(default)]
    pub ttl: Option<i64>,
}

async fn issue_trust_mark(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<IssueTrustMark>) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_admin(&st, &headers)?;
    let sub = EntityId::new(req.sub).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if st.inner.registry.get(&sub).await.map_err(ApiError::server)?.is_none() {
        return Err(ApiError::not_found(format!("{sub} is not a subordinate")));
    }
    let now = UnixTime::now();
    let ttl = req.ttl.unwrap_or(30 * 86_400);
    let claims = TrustMarkClaims {
        iss: st.config().entity_id.clone(),
        sub: sub.clone(),
        trust_mark_type: st.config().trust_mark_type(&req.trust_mark_type),
        iat: now.secs(),
        exp: Some(now.secs() + ttl),
        delegation: None,
        extra: Map::new(),
    };
    let jwt = claims.sign(TRUST_MARK_TYP, st.inner.ring().current()).map_err(ApiError::server)?;
    st.inner
        .registry
        .add_trust_mark(&crate::registry::IssuedTrustMark {
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
    Ok((StatusCode::CREATED, Json(json!({"trust_mark_type": claims.trust_mark_type, "trust_mark": jwt}))))
}

/// Which marks to revoke.
#[derive(Debug, Deserialize)]
pub struct RevokeTrustMark {
    /// The entity.
    pub sub: String,
    /// Short name or full type.
    pub trust_mark_type: String,
}

async fn revoke_trust_mark(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<RevokeTrustMark>) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let t = st.config().trust_mark_type(&req.trust_mark_type);
    let n = st.inner.registry.revoke_trust_marks(&t, &req.sub).await.map_err(ApiError::server)?;
    tracing::info!(sub = %req.sub, trust_mark_type = %t, revoked = n, "admin: trust marks revoked");
    if n == 0 {
        return Err(ApiError::not_found("no such trust mark"));
    }
    Ok(Json(json!({"revoked": n})))
}

#[derive(Deserialize)]
struct AttachOwn {
    trust_mark: String,
}

/// Publishes a mark issued to this entity in its configuration (its `sub` must be this entity).
async fn attach_own_trust_mark(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<AttachOwn>) -> Result<StatusCode, ApiError> {
    check_admin(&st, &headers)?;
    let jws = wallet_core::jose::CompactJws::parse(req.trust_mark.trim()).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let claims: TrustMarkClaims = jws.payload_json().map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if claims.sub != st.config().entity_id {
        return Err(ApiError::invalid_request("the trust mark is about another entity"));
    }
    st.inner.registry.set_own_trust_mark(&claims.trust_mark_type, req.trust_mark.trim()).await.map_err(ApiError::server)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct TrustMarkQuery {
    trust_mark_type: Option<String>,
    sub: Option<String>,
}

/// Draft 48 §8.6: the current mark of a type for an entity.
async fn trust_mark(State(st): State<AppState>, Query(q): Query<TrustMarkQuery>) -> Result<Response, ApiError> {
    let (Some(t), Some(sub)) = (q.trust_mark_type, q.sub) else {
        return Err(ApiError::invalid_request("trust_mark_type and sub are required"));
    };
    let now = UnixTime::now().secs();
    let marks = st.inner.registry.trust_marks(Some(&t), Some(&sub)).await.map_err(ApiError::server)?;
    let m = marks.into_iter().find(|m| !m.revoked && m.exp.is_none_or(|e| e > now)).ok_or_else(|| ApiError::not_found("no active trust mark"))?;
    Ok(jwt_response("application/trust-mark+jwt", m.jwt))
}

#[derive(Deserialize)]
struct StatusForm {
    trust_mark: String,
}

/// Draft 48 §8.4: the signed status of a mark this authority issued; unknown marks get 404.
async fn trust_mark_status(State(st): State<AppState>, axum::Form(f): axum::Form<StatusForm>) -> Result<Response, ApiError> {
    let jwt = f.trust_mark.trim().to_owned();
    let jws = wallet_core::jose::CompactJws::parse(&jwt).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let claims: TrustMarkClaims = jws.payload_json().map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let marks = st.inner.registry.trust_marks(Some(&claims.trust_mark_type), Some(claims.sub.as_str())).await.map_err(ApiError::server)?;
    let m = marks.into_iter().find(|m| m.jwt == jwt).ok_or_else(|| ApiError::not_found("trust mark not issued here"))?;
    let now = UnixTime::now().secs();
    let status = if m.revoked {
        "revoked"
    } else if m.exp.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    let body = json!({"iss": st.config().entity_id, "iat": now, "trust_mark": jwt, "status": status});
    let header = JwsHeader::new(JwsAlg::Es256).with_typ(STATUS_RESPONSE_TYP);
    Ok(jwt_response("application/trust-mark-status-response+jwt", st.inner.sign_json(&header, &body)?))
}

/// Draft 48 §8.5: entities holding an active mark of a type.
async fn trust_marked_list(State(st): State<AppState>, Query(q): Query<TrustMarkQuery>) -> Result<Json<Vec<String>>, ApiError> {
    let t = q.trust_mark_type.ok_or_else(|| ApiError::invalid_request("trust_mark_type is required"))?;
    let now = UnixTime::now().secs();
    let marks = st.inner.registry.trust_marks(Some(&t), q.sub.as_deref()).await.map_err(ApiError::server)?;
    let mut subs: Vec<String> = marks.into_iter().filter(|m| !m.revoked && m.exp.is_none_or(|e| e > now)).map(|m| m.sub).collect();
    subs.sort();
    subs.dedup();
    Ok(Json(subs))
}

/// Key rollover, phase 1: publish the next key (the current one keeps signing).
async fn prepare_key(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let jwk = st.inner.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner).prepare().map_err(ApiError::server)?;
    tracing::info!("admin: next federation key prepared");
    Ok(Json(json!({"next": jwk})))
}

/// Key rollover, phase 2: the next key signs; the old one is retired to the historical keys.
async fn activate_key(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let now = UnixTime::now().secs();
    let jwk = st
        .inner
        .keys
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .activate(now, st.config().statement_ttl)
        .map_err(ApiError::invalid_request)?;
    tracing::info!("admin: next federation key activated");
    Ok(Json(json!({"current": jwk})))
}

/// Draft 48 §8.7: retired keys with their `exp`, as a signed `jwk-set+jwt`.
async fn historical_keys(State(st): State<AppState>) -> Result<Response, ApiError> {
    let keys: Vec<Value> = st
        .inner
        .ring()
        .retired()
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(&k.jwk).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("exp".into(), Value::from(k.exp));
                m.insert("iat".into(), Value::from(k.retired_at));
            }
            v
        })
        .collect();
    let body = json!({"iss": st.config().entity_id, "iat": UnixTime::now().secs(), "keys": keys});
    let header = JwsHeader::new(JwsAlg::Es256).with_typ("jwk-set+jwt");
    Ok(jwt_response("application/jwk-set+jwt", st.inner.sign_json(&header, &body)?))
}

#[derive(Deserialize)]
struct RefreshKeys {
    entity_id: String,
}

/// Re-pins a subordinate's keys during its key rollover: its current configuration must be
/// signed by a key pinned now, and its `jwks` (with the next key) becomes the new pin. Policy
/// and constraints are kept.
async fn refresh_keys(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<RefreshKeys>) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let id = EntityId::new(req.entity_id).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let mut sub = st.inner.registry.get(&id).await.map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{id} is not a subordinate")))?;
    let ec = fetch_configuration(&id).await?;
    ec.verify_with(&sub.jwks).map_err(|e| ApiError::invalid_request(format!("not signed by a pinned key: {e}")))?;
    // The domains permitted at onboarding are not kept: a refreshed intermediate CA
    // certificate permits its own host only.
    let (jwks, x509) = crate::pki::with_ca_certificates(&st, &id, ec.claims.jwks.clone(), sub.intermediate, &[]).await?;
    sub.jwks = jwks;
    st.inner.registry.upsert(&sub).await.map_err(ApiError::server)?;
    tracing::info!(entity_id = %id, x509 = %x509, "admin: subordinate keys re-pinned");
    Ok(Json(json!({"entity_id": id, "keys": sub.jwks.keys.len()})))
}

/// The federation's root CA certificate (trust anchors only), DER.
async fn root_ca(State(st): State<AppState>) -> Result<Response, ApiError> {
    let der = st.root_ca().ok_or_else(|| ApiError::not_found("this entity is not a trust anchor"))?.to_vec();
    Ok(([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response())
}
