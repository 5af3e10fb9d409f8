//! The HTTP API: routers as plain functions, state passed explicitly. The admin API is in
//! [`crate::admin`], the `resolve` endpoint in [`crate::resolve`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use service_kit::error::ErrorProfile;
use service_kit::extract::parse_bool;
use service_kit::{AdminAuth, ApiError, Form, OutboundHttp, Query};
use wallet_core::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, EntityStatement, ParsedStatement};
use wallet_core::federation::trust_mark::{STATUS_RESPONSE_TYP, TrustMarkClaims};
use wallet_core::federation::{AsyncFetcher, EntityId, TrustMarkRef};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer, jws};
use wallet_core::time::UnixTime;

use crate::config::Config;
use crate::registry::{Registry, Subordinate};

pub use crate::admin::{AddSubordinate, IssueTrustMark, RevokeTrustMark};

/// The media type of a resolve response.
pub const RESOLVE_MEDIA_TYPE: &str = "application/resolve-response+jwt";
/// The media type of a subordinate events response (Subordinate Events draft 00).
pub const EVENTS_MEDIA_TYPE: &str = "application/entity-events-statement+jwt";
/// The `typ` of a subordinate events response.
pub const EVENTS_TYP: &str = "entity-events-statement+jwt";

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) keys: crate::keys::SharedRing,
    pub(crate) registry: Registry,
    /// Trust anchor only: the federation's X.509 root certificate (DER).
    pub(crate) root_ca: Option<Vec<u8>>,
    /// Intermediates: this entity's own CA certificate chain from its superior, by key.
    pub(crate) own_ca: crate::pki::OwnCa,
    pub(crate) metrics: crate::metrics::Metrics,
    /// Every outbound fetch, bounded (`[outbound]`).
    pub(crate) http: OutboundHttp,
    /// Resolved chains until they expire.
    pub(crate) cache: crate::resolve::Cache,
    /// Revocations of signing certificates made here ([`crate::pki::signing_revocations`]).
    pub(crate) signing_revocations: std::sync::atomic::AtomicU64,
    /// The metadata the Entity Configuration publishes: the configuration's, with members a
    /// service replaced while running ([`AppState::set_metadata`]).
    pub(crate) metadata: std::sync::RwLock<Map<String, Value>>,
}

impl Inner {
    /// The key ring, taken up again from its file when another replica rolled it over
    /// ([`crate::keys::SharedRing::take_up`]): every replica signs with the key the ring's
    /// file names current, without a restart.
    pub(crate) fn ring(&self) -> std::sync::RwLockReadGuard<'_, crate::keys::KeyRing> {
        if self.keys.take_up() {
            self.cache.clear();
        }
        self.keys.read()
    }

    /// Signs with the current key.
    pub(crate) fn sign_json(&self, header: &JwsHeader, body: &Value) -> Result<String, ApiError> {
        let ring = self.ring();
        let h = header.clone().with_kid(ring.current().kid());
        jws::sign_json(&h, body, ring.current()).map_err(ApiError::server)
    }
}

impl AdminAuth for AppState {
    fn admin_token(&self) -> &str {
        &self.inner.config.admin_token
    }
}

impl AppState {
    /// Loads (or creates) the keys under the data directory and opens the registry: the
    /// SQLite file `<data_dir>/registry.sqlite` (mode 0600), or PostgreSQL when
    /// `config.database_url` is set (connected at first use; [`AppState::connect`] connects now).
    pub fn open(config: Config) -> Result<Self, String> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
        let keys = crate::keys::SharedRing::open(&config.data_dir)?;
        let registry = match &config.database_url {
            Some(url) => Registry::postgres(url),
            None => Registry::open_sqlite(&config.data_dir.join("registry.sqlite")),
        }
        .map_err(|e| e.to_string())?;
        let own_ca = crate::pki::OwnCa::load(&config.data_dir);
        let root_ca = if config.is_trust_anchor() {
            let path = config.data_dir.join("ca-root.der");
            // Made once: replicas starting together all serve the root that was written.
            let parse = |b: &[u8]| Ok(b.to_vec());
            let create = || crate::ca::root_certificate(&config.entity_id, keys.read().current(), UnixTime::now().secs()).map_err(|e| e.to_string());
            Some(wallet_core::store::load_or_create_private(&path, parse, create).map_err(|e| e.to_string())?)
        } else {
            None
        };
        let http = OutboundHttp::new(config.outbound).map_err(|e| format!("outbound HTTP client: {e}"))?;
        let metadata = config.metadata.clone();
        let inner = Inner {
            config,
            keys,
            registry,
            root_ca,
            own_ca,
            metrics: crate::metrics::Metrics::default(),
            http,
            cache: crate::resolve::Cache::default(),
            signing_revocations: std::sync::atomic::AtomicU64::new(0),
            metadata: std::sync::RwLock::new(metadata),
        };
        Ok(Self { inner: Arc::new(inner) })
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

    /// The bounded outbound HTTP client.
    pub fn http(&self) -> &OutboundHttp {
        &self.inner.http
    }

    /// `/resolve` answers served from the cache so far.
    pub fn resolve_cache_hits(&self) -> u64 {
        self.inner.cache.hits()
    }

    /// `/resolve` chains cached now (one per `sub` and anchors asked).
    pub fn resolve_cache_len(&self) -> usize {
        self.inner.cache.len()
    }

    /// Trust anchor only: the federation's root CA certificate (DER).
    pub fn root_ca(&self) -> Option<&[u8]> {
        self.inner.root_ca.as_deref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Replaces one member of the Entity Configuration's `metadata` (an entity type's
    /// metadata) from the next Entity Configuration served: an issuer whose credential key
    /// was rotated while running publishes its new `jwks` so.
    pub fn set_metadata(&self, entity_type: &str, value: Value) {
        self.inner.metadata.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(entity_type.to_owned(), value);
    }

    /// The published Federation Entity Keys (the signing key, and the next one once prepared).
    pub fn jwks(&self) -> JwkSet {
        self.inner.ring().published()
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.inner.config.entity_id.as_str().trim_end_matches('/'))
    }

    fn statement(&self, sub: EntityId, jwks: JwkSet, now: UnixTime) -> Result<EntityStatement, ApiError> {
        let c = &self.inner.config;
        let exp = now.secs().checked_add(c.statement_ttl).ok_or_else(|| ApiError::server("statement_ttl overflows"))?;
        serde_json::from_value(json!({"iss": c.entity_id, "sub": sub, "iat": now.secs(), "exp": exp, "jwks": jwks})).map_err(ApiError::server)
    }

    /// The Subordinate Statement about a registered subordinate (draft 48 §3; IT-Wallet 1.4
    /// §1.1: `constraints` in every one, by default `max_path_length` 1 for an intermediate
    /// and 0 for a leaf; `{}` given at onboarding publishes none, for peers that refuse the
    /// claim).
    pub(crate) fn subordinate_statement(&self, s: &Subordinate, now: UnixTime) -> Result<String, ApiError> {
        let mut ss = self.statement(s.entity_id.clone(), s.jwks.clone(), now)?;
        ss.metadata_policy = s.metadata_policy.clone();
        let constraints = s.constraints.clone().unwrap_or_else(|| default_constraints(s.intermediate));
        if constraints.as_object().is_none_or(|m| !m.is_empty()) {
            ss.constraints = Some(serde_json::from_value(constraints).map_err(ApiError::server)?);
        }
        ss.source_endpoint = Some(self.endpoint("fetch"));
        ss.sign(self.inner.ring().current()).map_err(ApiError::server)
    }

    /// This entity's signed Entity Configuration.
    pub async fn entity_configuration(&self, now: UnixTime) -> Result<String, ApiError> {
        let c = &self.inner.config;
        let mut ec = self.statement(c.entity_id.clone(), self.jwks(), now)?;
        if !c.authority_hints.is_empty() {
            ec.authority_hints = Some(c.authority_hints.clone());
        }
        // What the operator configured under `federation_entity` (`homepage_uri`,
        // `policy_uri`, `logo_uri`, `contacts`: IT-Wallet 1.4 §1.1, SPID/CIE §B.1) is kept;
        // the endpoints this entity serves are written over it.
        let mut metadata = self.inner.metadata.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut fed = match metadata.get("federation_entity") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        fed.insert("organization_name".into(), Value::from(c.organization_name.clone()));
        // A logo by default: leaves MUST publish one (IT-Wallet 1.4 §1.1), and trust marks
        // carry it (the IT-Wallet trust mark table).
        fed.entry("logo_uri").or_insert_with(|| Value::from(self.endpoint(service_kit::assets::LOGO_PATH.trim_start_matches('/'))));
        fed.insert("federation_resolve_endpoint".into(), Value::from(self.endpoint("resolve")));
        if c.authority {
            // IT-Wallet 1.4 §1.1, Federation API of the TA and intermediates (FA_005).
            for (k, path) in AUTHORITY_ENDPOINTS {
                fed.insert(k.into(), Value::from(self.endpoint(path)));
            }
        }
        metadata.insert("federation_entity".into(), Value::Object(fed));
        ec.metadata = Some(metadata);
        if c.is_trust_anchor() {
            if !c.trust_mark_issuers.is_empty() {
                ec.trust_mark_issuers = Some(c.trust_mark_issuers.clone());
            }
            if let Some(k) = &c.constraints {
                ec.constraints = Some(serde_json::from_value(Value::Object(k.clone())).map_err(ApiError::server)?);
            }
        }
        let own = self.inner.registry.own_trust_marks().await.map_err(ApiError::server)?;
        if !own.is_empty() {
            ec.trust_marks = Some(own.into_iter().map(|(t, jwt)| TrustMarkRef { trust_mark_type: t, trust_mark: jwt }).collect());
        }
        // One look at the ring for both: `jwks` (set above) and the key that signs, so that a
        // rollover taken up meanwhile never makes a configuration signed by a key it does not
        // publish.
        let ring = self.inner.ring();
        ec.jwks = ring.published();
        ec.sign(ring.current()).map_err(ApiError::server)
    }
}

/// The endpoints an authority publishes in `federation_entity`, with their paths.
pub const AUTHORITY_ENDPOINTS: [(&str, &str); 7] = [
    ("federation_fetch_endpoint", "fetch"),
    ("federation_list_endpoint", "list"),
    ("federation_trust_mark_endpoint", "trust_mark"),
    ("federation_trust_mark_status_endpoint", "trust_mark_status"),
    ("federation_trust_mark_list_endpoint", "trust_marked_list"),
    ("federation_historical_keys_endpoint", "historical_keys"),
    ("federation_subordinate_events_endpoint", "subordinate_events"),
];

/// The `constraints` of a Subordinate Statement when onboarding gave none: no intermediate
/// below a leaf, at most one below an intermediate.
pub fn default_constraints(intermediate: bool) -> Value {
    json!({"max_path_length": u8::from(intermediate)})
}

/// The router of one federation entity, every error in the JSON form (unknown routes and
/// wrong methods included). It has a fallback: merge other routes into it, or nest it as
/// a fallback service, rather than merging it into a router with a fallback of its own.
pub fn router(state: AppState) -> Router {
    service_kit::error::json_errors(routes(state), ErrorProfile::OAUTH)
}

/// [`router`] without the error layer and fallback, for services that add their own.
pub fn routes(state: AppState) -> Router {
    let http = state.http().clone();
    let health = service_kit::Health::new().warning("outbound_http", move || {
        let l = http.limits();
        (http.in_flight() >= l.max_in_flight).then(|| format!("all {} outbound fetch slots busy (slow upstreams)", l.max_in_flight))
    });
    let mut r = Router::new()
        .route("/.well-known/openid-federation", get(entity_configuration))
        .route("/resolve", get(crate::resolve::resolve))
        .route("/health", health.route())
        .route("/metrics", get(crate::metrics::render))
        .route("/openapi.json", get(crate::openapi::document))
        .route(service_kit::assets::LOGO_PATH, get(service_kit::assets::logo))
        .route("/ca", get(root_ca))
        .route("/crl", get(crate::pki::crl));
    if state.config().authority {
        r = r
            .route("/fetch", get(fetch))
            .route("/list", get(list))
            .route("/subordinate_events", get(subordinate_events))
            .route("/admin/subordinates", post(crate::admin::add_subordinate).get(crate::admin::list).delete(crate::admin::remove_subordinate))
            .route("/admin/subordinates/refresh-keys", post(crate::admin::refresh_keys))
            .route("/admin/trust-marks", post(crate::admin::issue_trust_mark))
            .route("/admin/trust-marks/revoke", post(crate::admin::revoke_trust_mark))
            .route("/trust_mark", get(trust_mark))
            .route("/trust_mark_status", post(trust_mark_status))
            .route("/trust_marked_list", get(trust_marked_list));
    }
    r = r
        .route("/admin/own-trust-marks", post(crate::admin::attach_own_trust_mark))
        .route("/admin/keys/prepare", post(crate::admin::prepare_key))
        .route("/admin/keys/activate", post(crate::admin::activate_key))
        .route("/admin/signing-certificates/revoke", post(crate::admin::revoke_signing_certificates))
        .route("/historical_keys", get(historical_keys));
    r.layer(axum::middleware::from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

pub(crate) fn jwt_response(media_type: &'static str, jwt: String) -> Response {
    ([(header::CONTENT_TYPE, media_type)], jwt).into_response()
}

async fn entity_configuration(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, st.entity_configuration(UnixTime::now()).await?))
}

pub(crate) fn entity_id(field: &str, v: String) -> Result<EntityId, ApiError> {
    EntityId::new(v).map_err(|e| ApiError::invalid_request(format!("{field}: {e}")))
}

#[derive(Deserialize)]
struct SubQuery {
    sub: Option<String>,
}

/// Draft 48 §8.1: the Subordinate Statement about `sub`, with the keys pinned at onboarding.
async fn fetch(State(st): State<AppState>, Query(q): Query<SubQuery>) -> Result<Response, ApiError> {
    let sub = entity_id("sub", q.sub.ok_or_else(|| ApiError::invalid_request("missing sub"))?)?;
    if sub == st.config().entity_id {
        return Err(ApiError::invalid_request("sub is the issuer itself: fetch its Entity Configuration instead"));
    }
    let s = st.inner.registry.get(&sub).await.map_err(ApiError::server)?.ok_or_else(|| ApiError::not_found(format!("{sub} is not a subordinate")))?;
    Ok(jwt_response(ENTITY_STATEMENT_MEDIA_TYPE, st.subordinate_statement(&s, UnixTime::now())?))
}

/// Draft 48 §8.2: subordinate ids, filtered by `entity_type` (repeatable), `intermediate`,
/// `trust_marked` and `trust_mark_type`; booleans are `true` or `false`, nothing else; any
/// other parameter is 400 `unsupported_parameter`.
///
/// IT-Wallet 1.4 §1.1 publishes a wallet provider's metadata as `wallet_solution` but lists
/// wallet providers with `entity_type=wallet_provider`: both names select the same
/// subordinates here, so a wallet filtering either way finds them.
async fn list(State(st): State<AppState>, Query(q): Query<Vec<(String, String)>>) -> Result<axum::Json<Vec<String>>, ApiError> {
    let mut types = Vec::new();
    let mut intermediate = None;
    let mut trust_marked = false;
    let mut trust_mark_type = None;
    for (k, v) in q {
        match k.as_str() {
            "entity_type" if v == "wallet_provider" => types.push("wallet_solution".to_owned()),
            "entity_type" => types.push(v),
            "intermediate" => intermediate = Some(parse_bool("intermediate", &v)?),
            "trust_marked" => trust_marked = parse_bool("trust_marked", &v)?,
            "trust_mark_type" => trust_mark_type = Some(v),
            // Draft 48 §8.2.1: a parameter the endpoint does not support is an error, not
            // ignored (a filter silently dropped would answer a wider list than asked).
            other => {
                return Err(ApiError::new(StatusCode::BAD_REQUEST, "unsupported_parameter", format!("the list endpoint does not support the parameter `{other}`")));
            }
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
    Ok(axum::Json(
        all.into_iter()
            .filter(|s| types.is_empty() || types.iter().any(|t| s.entity_types.contains(t)))
            .filter(|s| intermediate.is_none_or(|i| s.intermediate == i))
            .filter(|s| marked.as_ref().is_none_or(|m| m.iter().any(|x| x == s.entity_id.as_str())))
            .map(|s| s.entity_id.to_string())
            .collect(),
    ))
}

/// Subordinate Events draft 00 (IT-Wallet 1.4 §1.1): what happened to a subordinate
/// (`registration`, `jwks_update`, `revocation`), signed as `entity-events-statement+jwt`.
async fn subordinate_events(State(st): State<AppState>, Query(q): Query<SubQuery>) -> Result<Response, ApiError> {
    let sub = entity_id("sub", q.sub.ok_or_else(|| ApiError::invalid_request("missing sub"))?)?;
    let events = st.inner.registry.events(sub.as_str()).await.map_err(ApiError::server)?;
    if events.is_empty() {
        return Err(ApiError::not_found(format!("no events about {sub}: it was never a subordinate here")));
    }
    let now = UnixTime::now();
    let list: Vec<Value> = events
        .into_iter()
        .map(|e| {
            let mut v = json!({"iat": e.iat, "event": e.event});
            if let (Some(d), Value::Object(m)) = (e.description, &mut v) {
                m.insert("event_description".into(), Value::from(d));
            }
            v
        })
        .collect();
    let exp = now.secs().checked_add(st.config().statement_ttl).ok_or_else(|| ApiError::server("statement_ttl overflows"))?;
    let body = json!({"iss": st.config().entity_id, "sub": sub, "iat": now.secs(), "exp": exp, "federation_registration_events": list});
    let header = JwsHeader::new(JwsAlg::Es256).with_typ(EVENTS_TYP);
    Ok(jwt_response(EVENTS_MEDIA_TYPE, st.inner.sign_json(&header, &body)?))
}

/// Fetches `id`'s Entity Configuration through `fetcher` and checks its form and that it is
/// about `id` (the signature is checked by the caller, against the keys that matter to it).
pub(crate) async fn fetch_configuration(fetcher: &dyn AsyncFetcher, id: &EntityId) -> Result<ParsedStatement, ApiError> {
    let body = fetcher.get(&id.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).await?;
    let ec = ParsedStatement::parse(&body).map_err(|e| ApiError::invalid_request(format!("entity configuration of {id} refused: {e}")))?;
    if !ec.claims.is_configuration() || &ec.claims.sub != id {
        return Err(ApiError::invalid_request(format!("the configuration served at {id} is not about {id}")));
    }
    Ok(ec)
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
async fn trust_mark_status(State(st): State<AppState>, Form(f): Form<StatusForm>) -> Result<Response, ApiError> {
    let jwt = f.trust_mark.trim().to_owned();
    let jws = wallet_core::jose::CompactJws::parse(&jwt).map_err(|e| ApiError::invalid_request(format!("trust_mark: {e}")))?;
    let claims: TrustMarkClaims = jws.payload_json().map_err(|e| ApiError::invalid_request(format!("trust_mark: {e}")))?;
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
    Ok(jwt_response(wallet_core::federation::trust_mark::STATUS_RESPONSE_MEDIA_TYPE, st.inner.sign_json(&header, &body)?))
}

/// Draft 48 §8.5: entities holding an active mark of a type.
async fn trust_marked_list(State(st): State<AppState>, Query(q): Query<TrustMarkQuery>) -> Result<axum::Json<Vec<String>>, ApiError> {
    let t = q.trust_mark_type.ok_or_else(|| ApiError::invalid_request("trust_mark_type is required"))?;
    let now = UnixTime::now().secs();
    let marks = st.inner.registry.trust_marks(Some(&t), q.sub.as_deref()).await.map_err(ApiError::server)?;
    let mut subs: Vec<String> = marks.into_iter().filter(|m| !m.revoked && m.exp.is_none_or(|e| e > now)).map(|m| m.sub).collect();
    subs.sort();
    subs.dedup();
    Ok(axum::Json(subs))
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

/// The federation's root CA certificate (trust anchors only), DER.
async fn root_ca(State(st): State<AppState>) -> Result<Response, ApiError> {
    let der = st.root_ca().ok_or_else(|| ApiError::not_found("this entity is not a trust anchor"))?.to_vec();
    Ok(([(header::CONTENT_TYPE, "application/pkix-cert")], der).into_response())
}
