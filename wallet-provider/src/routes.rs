//! The HTTP API: routers as plain functions, state passed explicitly. The federation
//! entity's routes (Entity Configuration, `/resolve`, `/admin/own-trust-marks`, key
//! rollover) come from the trust-anchor building block and answer every path ours do not.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use wallet_core::attestation::{InstanceStatus, InstanceStatusUpdate, NonceResponse, ProviderNonce, WalletInstanceInfo};
use wallet_core::status::StatusValue;

use crate::WalletProvider;
use crate::error::ProviderError;
use crate::extract::{ApiJson, Citizen};
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
pub const LOGO_PATH: &str = "/logo.svg";
/// Liveness and database check.
pub const HEALTH_PATH: &str = "/health";
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
/// (`trust_anchor::router`): the building block serves `/health` too, so the two cannot be
/// joined with `Router::merge` (overlapping routes panic); the fallback keeps ours, which
/// also checks the database.
pub fn router(state: WalletProvider) -> Router {
    let federation = trust_anchor::router(state.federation().clone());
    Router::new()
        .route(NONCE, get(nonce))
        .route(WALLET_INSTANCES, post(crate::attest::register).get(list_instances))
        .route(INSTANCE_INITIALIZATION, post(crate::attest::register))
        .route(INSTANCE_PATH, get(get_instance).patch(revoke_instance).post(revoke_instance))
        .route(WALLET_ATTESTATION, post(crate::attest::wallet_attestation))
        .route(crate::status_list::STATUS_LIST_PATH, get(status_list))
        .route(LOGO_PATH, get(logo))
        .route(HEALTH_PATH, get(health))
        .route(METRICS_PATH, get(metrics))
        .route(OPENAPI_PATH, get(openapi))
        .route(ADMIN_REVOKE_PATH, post(admin_revoke))
        .merge(crate::citizen::router())
        .layer(axum::middleware::from_fn(timeout))
        .layer(axum::middleware::from_fn_with_state(state.clone(), count_errors))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
        .fallback_service(federation)
}

/// Counts refusals by their `error` code (carried by the response as an extension, see
/// [`ErrorCode`]) and logs them at debug level.
async fn count_errors(State(st): State<WalletProvider>, req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let res = next.run(req).await;
    if let Some(code) = res.extensions().get::<ErrorCode>() {
        st.metrics().error(code.0);
        tracing::debug!(target: "wallet_provider", %method, %path, status = res.status().as_u16(), error = code.0, "refused");
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
    ApiJson(req): ApiJson<InstanceStatusUpdate>,
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

/// IT-Wallet 1.4 §2.5, revocation not by the user: the operator (bearer `admin_token`)
/// revokes one instance or all of a citizen's; answers `{"revoked": n}`.
async fn admin_revoke(
    State(st): State<WalletProvider>,
    headers: axum::http::HeaderMap,
    ApiJson(req): ApiJson<AdminRevoke>,
) -> Result<Json<serde_json::Value>, ProviderError> {
    let given = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default();
    let token = &st.config().admin_token;
    if token.is_empty() || !wallet_core::subtle_eq(given.as_bytes(), token.as_bytes()) {
        return Err(ProviderError::Unauthorized);
    }
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
async fn status_list(State(st): State<WalletProvider>) -> Result<Response, ProviderError> {
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
    Ok(([(header::CONTENT_TYPE, wallet_core::status::MEDIA_TYPE)], jwt).into_response())
}

async fn logo() -> Response {
    const SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="12" fill="#0066cc"/><text x="32" y="42" font-size="30" text-anchor="middle" fill="#fff" font-family="sans-serif">T</text></svg>"##;
    ([(header::CONTENT_TYPE, "image/svg+xml")], SVG).into_response()
}

async fn health(State(st): State<WalletProvider>) -> Result<&'static str, ProviderError> {
    st.store().ping()?;
    Ok("ok")
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
