//! The HTTP API: routers as plain functions, state passed explicitly. The federation
//! entity's routes (Entity Configuration, `/resolve`, `/admin/own-trust-marks`, key
//! rollover) come from the trust-anchor building block and answer every path ours do not.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use service_kit::error::{ErrorProfile, json_errors};
use service_kit::rate_limit::limit;
use service_kit::{AdminToken, Health};
use wallet_core::attestation::{InstanceStatus, InstanceStatusUpdate, NonceResponse, ProviderNonce, WalletInstanceInfo};
use wallet_core::status::StatusValue;

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::extract::Citizen;
use service_kit::Json as JsonBody;
use crate::metrics::Event;
use crate::secret::Secret;
use crate::store::{Instance, InstanceState};

pub use wallet_core::attestation::endpoints::{INSTANCE_INITIALIZATION, NONCE, WALLET_ATTESTATION, WALLET_INSTANCES};
/// `GET` one instance; `PATCH` (or `POST`) `{"status":"REVOKED"}` revokes it (IT-Wallet 1.4
/// §2.4).
pub const INSTANCE_PATH: &str = "/wallet-instances/{id}";
/// `POST` (admin bearer): revoke instances by id or all of a citizen's (IT-Wallet 1.4 §2.5:
/// the provider itself, authorities, or the PID provider on the citizen's death).
pub const ADMIN_REVOKE_PATH: &str = "/admin/wallet-instances/revoke";
/// The SVG logo `wallet_solution.logo_uri` points to when none is configured.
pub const LOGO_PATH: &str = service_kit::assets::LOGO_PATH;
/// `200 {"status":"ok"}`, or `503 {"status":"degraded","checks":{..}}` when the database
/// does not answer, outbound fetches are saturated or a rate limiter is refusing a flood.
pub const HEALTH_PATH: &str = "/health";
/// `federation_entity.homepage_uri` unless configured: a short page.
pub const HOME_PATH: &str = "/";
/// `federation_entity.policy_uri` unless configured: the processing notice.
pub const POLICY_PATH: &str = "/policy";
/// Prometheus counters.
pub const METRICS_PATH: &str = "/metrics";
/// The OpenAPI document of this API.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Request bodies larger than this are refused (400 `bad_request` through the JSON extractor).
pub const MAX_BODY: usize = 64 * 1024;
/// A request taking longer is answered 503 `temporarily_unavailable`.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The provider's router, the federation entity's router behind it.
///
/// Our routes take precedence and anything else falls through to the federation entity
/// (`trust_anchor::router`, its errors in the OAuth / federation form): the building block
/// serves `/health` too, so the two cannot be joined with `Router::merge` (overlapping routes
/// panic); the fallback keeps ours. Every error of ours is JSON with IT-Wallet's codes
/// (`service_kit::error::json_errors` with the wallet provider profile: malformed input
/// `bad_request`, wrong methods too). Rate limits per client guard the citizen login, the
/// session exchange, nonces, registration, attestation and the PDND e-service
/// ([`crate::config::RateLimits`]).
pub fn router(state: WalletProvider) -> Router {
    let federation = json_errors(trust_anchor::router(state.federation().clone()), ErrorProfile::OAUTH);
    let l = state.limiters().clone();
    let ours = Router::new()
        .merge(limit(crate::citizen::login_router(), l.login.clone()))
        .merge(limit(crate::citizen::session_router(), l.session.clone()))
        .merge(limit(Router::new().route(NONCE, get(nonce)), l.nonce.clone()))
        .merge(limit(
            Router::new().route(WALLET_INSTANCES, post(crate::attest::register)).route(INSTANCE_INITIALIZATION, post(crate::attest::register)),
            l.registration.clone(),
        ))
        .merge(limit(Router::new().route(WALLET_ATTESTATION, post(crate::attest::wallet_attestation)), l.attestation.clone()))
        .merge(limit(Router::new().route(crate::pdnd::NOTIFY_USER_DEATH_PATH, post(crate::pdnd::notify_user_death)), l.pdnd.clone()))
        .route(WALLET_INSTANCES, get(list_instances))
        .route(INSTANCE_PATH, get(get_instance).patch(revoke_instance).post(revoke_instance))
        .route(crate::status_list::STATUS_LIST_PATH, get(status_list))
        .route(LOGO_PATH, get(service_kit::assets::logo))
        .route(HOME_PATH, get(home))
        .route(POLICY_PATH, get(policy))
        .route(HEALTH_PATH, health(&state).route())
        .route(METRICS_PATH, get(metrics))
        .route(OPENAPI_PATH, get(openapi))
        .route(ADMIN_REVOKE_PATH, post(admin_revoke))
        .layer(axum::middleware::from_fn(timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_errors))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    json_errors(ours, ErrorProfile::IT_WALLET_PROVIDER).with_state(state).fallback_service(federation)
}

/// The probes of `/health`: the database answers (503 if not); warnings (200, reported):
/// outbound fetches saturated, a limiter refusing more than `health_refusal_threshold`
/// requests in the last minute or two.
/// (No store of the provider is bounded: logins in progress live in the browser.)
fn health(st: &WalletProvider) -> Health {
    let db = st.clone();
    let out = st.clone();
    let mut h = Health::new()
        .probe("database", move || db.store().ping().err().map(|e| format!("the database does not answer: {e}")))
        .warning("outbound", move || {
            let (n, max) = out.keys().outbound_in_flight();
            (n >= max).then(|| format!("all {max} outbound fetch slots are taken"))
        });
    let threshold = st.config().rate_limits.health_refusal_threshold;
    for limiter in st.limiters().all() {
        h = h.warning(limiter.name(), service_kit::health::limiter_probe(limiter.clone(), threshold));
    }
    h
}

/// Counts refusals by their `error` code (carried by the response as an extension, see
/// [`ErrorCode`]) and logs them at debug level.
async fn count_errors(State(st): State<WalletProvider>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let res = next.run(req).await;
    let status = res.status();
    let code = match res.extensions().get::<ErrorCode>() {
        Some(c) => Some(c.0),
        // Refusals made before a handler: the extractors' bad input, rate limits, the admin
        // token, unknown methods (the error layer names them with these codes).
        None if status.is_client_error() || status.is_server_error() => Some(match status.as_u16() {
            401 => "invalid_token",
            404 => "not_found",
            429 => "too_many_requests",
            503 => "temporarily_unavailable",
            400..=499 => "bad_request",
            _ => "server_error",
        }),
        None => None,
    };
    if let Some(code) = code {
        st.metrics().error(code);
        tracing::debug!(target: "wallet_provider", %method, %path, status = status.as_u16(), error = code, "refused");
    }
    res
}

/// Bounds every request's time ([`REQUEST_TIMEOUT`]).
async fn timeout(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => ProviderError::Unavailable("request timed out".into()).into_response(),
    }
}

/// The `error` code of a refusal, attached to the response for the counters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ErrorCode(pub(crate) &'static str);

/// IT-Wallet 1.4 §2.2 step 1: a single-use nonce, valid `nonce_ttl` seconds, kept in the
/// database so every replica accepts it once.
async fn nonce(State(st): State<WalletProvider>) -> Result<Json<NonceResponse>, ProviderError> {
    let now = st.now().secs();
    let nonce = ProviderNonce::generate().map_err(ProviderError::internal)?;
    st.store().put_nonce(nonce.as_str(), now.saturating_add(st.config().nonce_ttl), now)?;
    st.metrics().count(Event::Nonce);
    Ok(Json(NonceResponse { nonce }))
}

fn view(i: Instance) -> WalletInstanceInfo {
    let status = match i.state {
        InstanceState::Active => InstanceStatus::Active,
        InstanceState::Revoked => InstanceStatus::Revoked,
    };
    WalletInstanceInfo { id: i.id, status, issued_at: i.issued_at }
}

/// IT-Wallet 1.4 §2.4 retrieval: the logged-in citizen's instances.
async fn list_instances(State(st): State<WalletProvider>, citizen: Citizen) -> Result<Json<Vec<WalletInstanceInfo>>, ProviderError> {
    let all = st.store().instances_of(&citizen.fiscal_number)?;
    Ok(Json(all.into_iter().map(view).collect()))
}

/// IT-Wallet 1.4 §2.4 retrieval of one instance: 403 `forbidden` when it is another
/// citizen's; 404 when unknown.
async fn get_instance(State(st): State<WalletProvider>, citizen: Citizen, Path(id): Path<String>) -> Result<Json<WalletInstanceInfo>, ProviderError> {
    let i = st.store().instance(&id)?.ok_or(ProviderError::NotFound)?;
    if i.fiscal_number != citizen.fiscal_number {
        return Err(ProviderError::Forbidden);
    }
    Ok(Json(view(i)))
}

/// IT-Wallet 1.4 §2.4 revocation (§2.5 "by the user"): the citizen's own instance becomes
/// `REVOKED` and its WUA index `INVALID` in the status list, atomically. Another citizen's
/// instance is 403 `invalid_request`, as is an unknown one (not revealing which ids exist).
/// Revoking twice answers 204 again (idempotent).
async fn revoke_instance(
    State(st): State<WalletProvider>,
    citizen: Citizen,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<InstanceStatusUpdate>,
) -> Result<StatusCode, ProviderError> {
    if req.status != InstanceStatus::Revoked {
        return Err(ProviderError::Validation("status must be \"REVOKED\"".into()));
    }
    let i = st.store().instance(&id)?.ok_or(ProviderError::NotYourInstance)?;
    if i.fiscal_number != citizen.fiscal_number {
        return Err(ProviderError::NotYourInstance);
    }
    if st.store().revoke(&id, StatusValue::Invalid.to_u8(), st.now().secs())? {
        st.metrics().count(Event::Revocation);
        tracing::info!(target: "wallet_provider", instance = %id, "wallet instance revoked by its citizen");
    }
    Ok(StatusCode::NO_CONTENT)
}

/// What the operator revokes: one instance, or every instance of a citizen.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminRevoke {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    fiscal_number: Option<String>,
}

/// IT-Wallet 1.4 §2.5, revocation not by the user: the operator (bearer `admin_token`,
/// checked before the body is read; the refusal names the admin token) revokes one instance
/// or all of a citizen's; answers `{"revoked": n}`.
async fn admin_revoke(
    State(st): State<WalletProvider>,
    _admin: AdminToken,
    JsonBody(req): JsonBody<AdminRevoke>,
) -> Result<Json<serde_json::Value>, ProviderError> {
    let ids: Vec<String> = match (req.id, req.fiscal_number) {
        (Some(id), None) => vec![id],
        (None, Some(f)) => st.store().instances_of(&f)?.into_iter().map(|i| i.id).collect(),
        _ => return Err(ProviderError::BadRequest("give exactly one of id and fiscal_number".into())),
    };
    let now = st.now().secs();
    let mut revoked = 0u64;
    for id in ids {
        if st.store().revoke(&id, StatusValue::Invalid.to_u8(), now)? {
            revoked = revoked.saturating_add(1);
            st.metrics().count(Event::Revocation);
            tracing::info!(target: "wallet_provider", instance = %id, "wallet instance revoked by the operator");
        }
    }
    Ok(Json(serde_json::json!({"revoked": revoked})))
}

/// IT-Wallet 1.4 §6 "Fetch": the Status List Token, `application/statuslist+jwt`, signed
/// now from the database with the attestation key (`kid`, `x5c`, `trust_chain`).
///
/// gzip-compressed for a client whose `Accept-Encoding` allows it (Token Status List §8.1).
async fn status_list(State(st): State<WalletProvider>, headers: axum::http::HeaderMap) -> Result<Response, ProviderError> {
    let now = st.now();
    let list = crate::status_list::current(st.store())?;
    let c = st.config();
    let token = crate::status_list::token(
        list,
        c.endpoint(crate::status_list::STATUS_LIST_PATH),
        c.entity_id.to_string(),
        now,
        c.status_list_ttl,
        c.status_list_cache_ttl,
    );
    let header = st.keys().header(wallet_core::status::TYP, now).await?;
    let jwt = token.sign(&header, st.keys().attestation()).map_err(ProviderError::internal)?;
    st.metrics().count(Event::StatusList);
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    Ok(service_kit::status_list_response(accept, &jwt, None))
}

async fn home(State(st): State<WalletProvider>) -> Response {
    let c = st.config();
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>{name}</title><h1>{name}</h1><p>IT-Wallet wallet provider ({id}). <a href=\"{policy}\">Privacy policy</a>.</p>",
        name = html_escape(&c.organization_name),
        id = html_escape(c.entity_id.as_str()),
        policy = html_escape(&c.policy_uri()),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn policy(State(st): State<WalletProvider>) -> Response {
    let c = st.config();
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Privacy policy</title><h1>{name}: privacy policy</h1>\
         <p>The wallet provider keeps, for each wallet instance, the fiscal number of the citizen who activated it (from the SPID/CIE login), \
         the instance's hardware public key and its status. It uses them to attest the instance, to let the citizen list and revoke their \
         instances, and to revoke them when the PID Provider notifies the citizen's death. Attestations carry no personal data.</p>",
        name = html_escape(&c.organization_name)
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics(State(st): State<WalletProvider>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics().render()).into_response()
}

/// Creates a session for a citizen: the bearer token and its lifetime.
pub(crate) fn create_session(st: &WalletProvider, fiscal_number: &str) -> Result<(String, i64), ProviderError> {
    let now = st.now().secs();
    let ttl = st.config().session_ttl;
    let token = Secret::generate()?;
    st.store().put_session(&token.hash(), fiscal_number, now.saturating_add(ttl), now)?;
    st.metrics().count(Event::Login);
    Ok((token.expose().to_owned(), ttl))
}
