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
use wallet_core::federation::{ChainCollector, EntityId, Fetcher};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer, SoftwareSigner, jws};
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

struct Inner {
    config: Config,
    key: SoftwareSigner,
    registry: Registry,
}

impl AppState {
    /// Loads (or creates) the key and opens the registry under the data directory.
    pub fn open(config: Config) -> Result<Self, String> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
        let key = crate::keys::load_or_create(&config.data_dir)?;
        let registry = Registry::open(&config.data_dir.join("registry.sqlite")).map_err(|e| e.to_string())?;
        Ok(Self { inner: Arc::new(Inner { config, key, registry }) })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The public Federation Entity Keys.
    pub fn jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.inner.key.public_jwk()] }
    }

    fn endpoint(&self, path: &str) -> String {
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
    pub fn entity_configuration(&self, now: UnixTime) -> Result<String, ApiError> {
        let c = &self.inner.config;
        let mut ec = self.statement(c.entity_id.clone(), self.jwks(), now);
        if !c.authority_hints.is_empty() {
            ec.authority_hints = Some(c.authority_hints.clone());
        }
        let mut fed = Map::new();
        fed.insert("organization_name".into(), Value::from(c.organization_name.clone()));
        fed.insert("federation_resolve_endpoint".into(), Value::from(self.endpoint("resolve")));
        if c.authority {
            fed.insert("federation_fetch_endpoint".into(), Value::from(self.endpoint("fetch")));
            fed.insert("federation_list_endpoint".into(), Value::from(self.endpoint("list")));
        }
        let mut metadata = c.metadata.clone();
        metadata.insert("federation_entity".into(), Value::Object(fed));
        ec.metadata = Some(metadata);
        ec.sign(&self.inner.key).map_err(ApiError::server)
    }
}

/// The router of one federation entity.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new()
        .route("/.well-known/openid-federation", get(entity_configuration))
        .route("/resolve", get(resolve))
        .route("/health", get(|| async { "ok" }));
    if state.config().authority {
        r = r
            .route("/fetch", get(fetch))
            .route("/list", get(list))
            .route("/admin/subordinates", post(add_subordinate).get(admin_list).delete(remove_subordinate));
    }
    r.layer(axum::extract::DefaultBodyLimit::max(64 * 1024)).with_state(state)
}

fn jwt_response(media_type: &'static str, jwt: String) -> Response {
    ([(header::CONTENT_TYPE, media_type)], jwt).into_response()
}

async fn entity_configuration(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, st.entity_configuration(UnixTime::now())?))
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
    let s = st.inner.registry.get(&sub).map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{sub} is not a subordinate")))?;
    let mut ss = st.statement(s.entity_id.clone(), s.jwks.clone(), UnixTime::now());
    ss.metadata_policy = s.metadata_policy.clone();
    ss.constraints = s.constraints.clone().map(serde_json::from_value).transpose().map_err(ApiError::server)?;
    ss.source_endpoint = Some(st.endpoint("fetch"));
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, ss.sign(&st.inner.key).map_err(ApiError::server)?))
}

/// Draft 48 §8.2: subordinate ids, filtered by `entity_type` (repeatable) and `intermediate`;
/// `trust_marked` and `trust_mark_type` are not supported yet (400 `unsupported_parameter`).
async fn list(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Result<Json<Vec<String>>, ApiError> {
    let mut types = Vec::new();
    let mut intermediate = None;
    for (k, v) in q {
        match k.as_str() {
            "entity_type" => types.push(v),
            "intermediate" => intermediate = Some(v == "true"),
            "trust_marked" | "trust_mark_type" => {
                return Err(ApiError { status: StatusCode::BAD_REQUEST, error: "unsupported_parameter", description: format!("{k} is not supported") });
            }
            _ => {}
        }
    }
    let all = st.inner.registry.list().map_err(ApiError::server)?;
    Ok(Json(
        all.into_iter()
            .filter(|s| types.is_empty() || types.iter().any(|t| s.entity_types.contains(t)))
            .filter(|s| intermediate.is_none_or(|i| s.intermediate == i))
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
    let header = JwsHeader::new(JwsAlg::Es256).with_typ("resolve-response+jwt").with_kid(st.inner.key.kid());
    Ok(jwt_response(RESOLVE_MEDIA_TYPE, jws::sign_json(&header, &claims, &st.inner.key).map_err(ApiError::server)?))
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
}

/// Onboarding: fetch the subordinate's Entity Configuration, check it is self-signed, names
/// this authority in `authority_hints`, and pin its keys.
async fn add_subordinate(State(st): State<AppState>, headers: HeaderMap, Json(req): Json<AddSubordinate>) -> Result<(StatusCode, Json<Value>), ApiError> {
    check_admin(&st, &headers)?;
    let id = EntityId::new(req.entity_id).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if let Some(p) = &req.metadata_policy {
        wallet_core::federation::MetadataPolicy::from_json(p, &[]).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    }
    let url = id.configuration_url();
    let body = tokio::task::spawn_blocking(move || HttpFetcher::new()?.get(&url, ENTITY_STATEMENT_MEDIA_TYPE))
        .await
        .map_err(ApiError::server)?
        .map_err(|e| ApiError::invalid_request(format!("cannot fetch the entity configuration: {e}")))?;
    let ec = ParsedStatement::parse(&body).map_err(|e| ApiError::invalid_request(format!("entity configuration refused: {e}")))?;
    if !ec.claims.is_configuration() || ec.claims.sub != id {
        return Err(ApiError::invalid_request("the configuration is not about this entity"));
    }
    ec.verify_with(&ec.claims.jwks).map_err(|e| ApiError::invalid_request(format!("entity configuration refused: {e}")))?;
    if !ec.claims.authority_hints.as_ref().is_some_and(|h| h.contains(&st.config().entity_id)) {
        return Err(ApiError::invalid_request(format!("{id} does not name {} in its authority_hints", st.config().entity_id)));
    }
    let md = ec.claims.metadata.clone().unwrap_or_default();
    if let Some(missing) = req.entity_types.iter().find(|t| !md.contains_key(*t)) {
        return Err(ApiError::invalid_request(format!("{id} has no `{missing}` metadata in its configuration")));
    }
    let intermediate = md.get("federation_entity").and_then(|f| f.get("federation_fetch_endpoint")).is_some();
    let sub = Subordinate {
        entity_id: id.clone(),
        entity_types: md.keys().cloned().collect(),
        jwks: ec.claims.jwks.clone(),
        metadata_policy: req.metadata_policy,
        constraints: req.constraints,
        intermediate,
    };
    st.inner.registry.upsert(&sub).map_err(ApiError::server)?;
    Ok((StatusCode::CREATED, Json(json!({"entity_id": id, "entity_types": sub.entity_types, "intermediate": intermediate}))))
}

async fn admin_list(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    check_admin(&st, &headers)?;
    let all = st.inner.registry.list().map_err(ApiError::server)?;
    Ok(Json(Value::Array(
        all.into_iter()
            .map(|s| json!({"entity_id": s.entity_id, "entity_types": s.entity_types, "intermediate": s.intermediate, "metadata_policy": s.metadata_policy}))
            .collect(),
    )))
}

async fn remove_subordinate(State(st): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Result<StatusCode, ApiError> {
    check_admin(&st, &headers)?;
    let id = EntityId::new(q.get("entity_id").cloned().unwrap_or_default()).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    if st.inner.registry.remove(&id).map_err(ApiError::server)? { Ok(StatusCode::NO_CONTENT) } else { Err(ApiError::not_found(format!("{id} is not a subordinate"))) }
}
