//! The HTTP API: the integrator's (admin token), the wallet's ([`crate::wallet`]), service
//! basics, and the federation entity's routes (trust-anchor building block) behind them.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use service_kit::error::{ErrorProfile, json_errors};
use service_kit::rate_limit::limit;
use service_kit::{AdminToken, Health};
use wallet_core::oid4vp::dcql::DcqlQuery;

use crate::Verifier;
use crate::error::VerifierError;
use crate::sessions::{Method, SessionOptions, SessionRequest};
use crate::store::{ClientIdPrefix, Flow, RequestMode, SessionStatus, TakeRefused};

/// `POST`: create a session (integrator, admin token).
pub const SESSIONS_PATH: &str = "/sessions";
/// `GET`: a session's state (integrator).
pub const SESSION_PATH: &str = "/sessions/{id}";
/// `GET`: a session's state as Server-Sent Events (integrator).
pub const EVENTS_PATH: &str = "/sessions/{id}/events";
/// Seconds between the keep-alive comments of an event stream.
pub const SSE_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);
/// `POST`: the verdict, once (integrator; same-device: with the `response_code`).
pub const RESULT_PATH: &str = "/sessions/{id}/result";
/// `GET`: the wallet URL as an SVG QR code (integrator).
pub const QR_SVG_PATH: &str = "/sessions/{id}/qr.svg";
/// `GET`: the wallet URL as a PNG QR code (integrator).
pub const QR_PNG_PATH: &str = "/sessions/{id}/qr.png";
/// The `request_uri` (`GET`, or `POST` with `wallet_metadata`/`wallet_nonce`), the session's
/// handle in the `id` query parameter. Registered in `request_uris` without the query.
pub const REQUEST_URI_PATH: &str = "/request-uri";
/// The `response_uri` (`POST`, `direct_post.jwt`), registered in `response_uris`.
pub const RESPONSE_URI_PATH: &str = "/response-uri";
/// `erasure_endpoint` (IT-Wallet 1.4 §5.1): `GET ?callback_url=` → 204.
pub const ERASURE_PATH: &str = "/erasure";
/// `federation_entity.policy_uri` unless configured.
pub const POLICY_PATH: &str = "/policy";
/// Prometheus counters.
pub const METRICS_PATH: &str = "/metrics";
/// The OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Liveness and readiness.
pub const HEALTH_PATH: &str = "/health";

/// Request bodies larger than this are refused, except at the `response_uri`.
pub const MAX_BODY: usize = 64 * 1024;
/// A request taking longer is answered 503.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The verifier's router, the federation entity's behind it (its routes answer every path
/// ours do not: the Entity Configuration, `/resolve`, `/admin/own-trust-marks`, key
/// rollover). Every error of ours is JSON ([`VerifierError`], and service-kit's layer for the
/// framework's own refusals, with OAuth codes).
pub fn router(state: Verifier) -> Router {
    let federation = json_errors(trust_anchor::router(state.federation().clone()), ErrorProfile::OAUTH);
    let l = state.limiters().clone();
    let wallet = Router::new()
        .route(REQUEST_URI_PATH, get(crate::wallet::request_uri_get).post(crate::wallet::request_uri_post))
        .merge(
            Router::new()
                .route(RESPONSE_URI_PATH, post(crate::wallet::response_uri))
                .layer(axum::extract::DefaultBodyLimit::max(wallet_core::oid4vp::response::MAX_RESPONSE_LEN + 1024)),
        );
    let integrator = Router::new()
        .route(SESSIONS_PATH, post(create_session))
        .route(SESSION_PATH, get(session_state))
        .route(EVENTS_PATH, get(session_events))
        .route(RESULT_PATH, post(take_result))
        .route(QR_SVG_PATH, get(qr_svg))
        .route(QR_PNG_PATH, get(qr_png));
    let ours = Router::new()
        .merge(limit(wallet, l.wallet.clone()))
        .merge(limit(integrator, l.integrator.clone()))
        .route(ERASURE_PATH, get(erasure))
        .route(service_kit::assets::LOGO_PATH, get(service_kit::assets::logo))
        .route("/", get(home))
        .route(POLICY_PATH, get(policy))
        .route(HEALTH_PATH, health(&state).route())
        .route(METRICS_PATH, get(metrics))
        .route(OPENAPI_PATH, get(openapi))
        .layer(axum::middleware::from_fn(timeout))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    // The in-person page answers browsers: its refusals are HTML pages, so it stays outside
    // the JSON error layer (it sets its own body limit).
    let page = crate::web::router().layer(axum::middleware::from_fn(timeout));
    json_errors(ours, ErrorProfile::OAUTH).merge(page).with_state(state).fallback_service(federation)
}

fn health(st: &Verifier) -> Health {
    let db = st.clone();
    let out = st.clone();
    Health::new()
        .probe("database", move || db.store().ping().err().map(|e| format!("the database does not answer: {e}")))
        .warning("outbound", move || {
            let (n, max) = (out.http().in_flight(), out.http().limits().max_in_flight.max(1));
            (n >= max).then(|| format!("all {max} outbound fetch slots are taken"))
        })
}

async fn timeout(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(res) => res,
        Err(_) => VerifierError::Unavailable("request timed out".into()).into_response(),
    }
}

/// 32 random bytes, base64url (43 characters, 256 bits).
pub(crate) fn random() -> Result<String, VerifierError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(VerifierError::internal)?;
    Ok(wallet_core::jose::b64::encode(b))
}

/// SHA-256 of a secret, base64url (how `response_code`s are stored).
pub(crate) fn hash(secret: &str) -> String {
    use sha2::Digest as _;
    wallet_core::jose::b64::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// `POST /sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// A named preset ([`crate::presets`]), or
    #[serde(default)]
    pub preset: Option<String>,
    /// a raw DCQL query.
    #[serde(default)]
    pub dcql_query: Option<Value>,
    /// `same_device` or `cross_device`.
    pub flow: Flow,
    /// Same device: the page the wallet returns the user to (one of `redirect_uris`;
    /// default the first).
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// `get` or `post` (default, IT-Wallet's example).
    #[serde(default)]
    pub request_uri_method: Option<String>,
    /// `openid_federation` (default) or `x509_hash` (OpenID4VP 1.0 §5.9.3).
    #[serde(default)]
    pub client_id_prefix: Option<String>,
    /// `reference` (default: `request_uri`) or `value` (`request` in the wallet URL).
    #[serde(default)]
    pub request_mode: Option<String>,
}

async fn create_session(_: AdminToken, State(st): State<Verifier>, service_kit::Json(req): service_kit::Json<CreateSession>) -> Result<Response, VerifierError> {
    let query = match (req.preset.as_deref(), req.dcql_query) {
        (Some(p), None) => crate::presets::preset(p)
            .ok_or_else(|| VerifierError::BadRequest(format!("unknown preset `{p}`; known: {}", crate::presets::NAMES.join(", "))))?,
        (None, Some(q)) => DcqlQuery::from_value(q).map_err(|e| VerifierError::BadRequest(format!("dcql_query: {e}")))?,
        _ => return Err(VerifierError::BadRequest("give exactly one of preset and dcql_query".into())),
    };
    let method = req.request_uri_method.as_deref().map(Method::parse).transpose()?.unwrap_or_default();
    let client_id_prefix = match req.client_id_prefix.as_deref() {
        None => ClientIdPrefix::default(),
        Some(p) => ClientIdPrefix::parse(p).ok_or_else(|| VerifierError::BadRequest(format!("client_id_prefix `{p}` is not openid_federation or x509_hash")))?,
    };
    let request_mode = match req.request_mode.as_deref() {
        None => RequestMode::default(),
        Some(m) => RequestMode::parse(m).ok_or_else(|| VerifierError::BadRequest(format!("request_mode `{m}` is not reference or value")))?,
    };
    if request_mode == RequestMode::Value && req.request_uri_method.is_some() {
        return Err(VerifierError::BadRequest("request_uri_method is for request_mode reference".into()));
    }
    let opts = SessionOptions { client_id_prefix, request_mode };
    let s = st.start_session_with(SessionRequest { query, flow: req.flow, redirect_uri: req.redirect_uri, method, owner: None }, opts).await?;
    let c = st.config();
    let body = Created {
        session_id: &s.id,
        client_id: &s.client_id,
        wallet_url: &s.wallet_url,
        expires_at: s.expires_at,
        qr_svg: c.endpoint(&QR_SVG_PATH.replace("{id}", &s.id)),
        qr_png: c.endpoint(&QR_PNG_PATH.replace("{id}", &s.id)),
    };
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The answer to `POST /sessions` (its 201 in openapi.json), written from the
/// started session without a `Value` tree.
#[derive(serde::Serialize)]
struct Created<'a> {
    session_id: &'a str,
    client_id: &'a str,
    wallet_url: &'a str,
    expires_at: i64,
    qr_svg: String,
    qr_png: String,
}

fn unknown() -> VerifierError {
    VerifierError::NotFound("no such session (unknown, or purged)".into())
}

/// The state of a session as the integrator sees it at `now` (`GET /sessions/{id}`, and each
/// event of `/sessions/{id}/events`).
fn state_json(s: &crate::store::Session, now: i64) -> Value {
    json!({
        "session_id": s.id,
        "status": s.status_at(now),
        "flow": s.flow,
        "created_at": s.created_at,
        "expires_at": s.expires_at,
        "request_fetched_at": s.fetched_at,
        "completed_at": s.completed_at,
        "result_available": s.result.is_some(),
        "result_fetched": s.result_taken,
    })
}

/// `GET /sessions/{id}`: 200 with the state, whatever it is; 404 only for an unknown or
/// purged session.
async fn session_state(_: AdminToken, State(st): State<Verifier>, Path(id): Path<String>) -> Result<Response, VerifierError> {
    let s = st.store().get(&id)?.ok_or_else(unknown)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(state_json(&s, st.now().secs()))).into_response())
}

/// `GET /sessions/{id}/events`: `text/event-stream`, an event `status` (data: the state as
/// `GET /sessions/{id}` gives it) now and at each status change seen
/// ([`Verifier::status_changes`]), ending after a final status or soon after expiry;
/// keep-alive comments every [`SSE_KEEP_ALIVE`]. 404 for an unknown session.
async fn session_events(_: AdminToken, State(st): State<Verifier>, Path(id): Path<String>) -> Result<Response, VerifierError> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use futures_util::StreamExt as _;
    st.store().get(&id)?.ok_or_else(unknown)?;
    let clock = st.clone();
    let events = st.status_changes(&id).map(move |r| {
        let data = match r {
            Ok(s) => state_json(&s, clock.now().secs()),
            Err(e) => json!({"error": e.oauth_code(), "error_description": "the session state could not be read"}),
        };
        Ok::<_, std::convert::Infallible>(Event::default().event("status").data(data.to_string()))
    });
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(SSE_KEEP_ALIVE).text("keep-alive"));
    Ok(([(header::CACHE_CONTROL, "no-store")], sse).into_response())
}

/// `POST /sessions/{id}/result`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeResult {
    /// The `response_code` the same-device redirect brought back.
    #[serde(default)]
    pub response_code: Option<String>,
}

async fn take_result(_: AdminToken, State(st): State<Verifier>, Path(id): Path<String>, body: axum::body::Bytes) -> Result<Response, VerifierError> {
    let req: TakeResult = if body.iter().all(u8::is_ascii_whitespace) {
        TakeResult::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| VerifierError::BadRequest(format!("body: {e}")))?
    };
    let code_hash = req.response_code.as_deref().map(hash);
    match st.store().take_result(&id, code_hash.as_deref())? {
        Ok((_, result)) => {
            let v: Value = serde_json::from_str(&result).map_err(VerifierError::internal)?;
            Ok(([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response())
        }
        Err(TakeRefused::Unknown) => Err(unknown()),
        Err(TakeRefused::Taken) => Err(VerifierError::NotFound("the result was already fetched and erased".into())),
        Err(TakeRefused::Pending) => {
            let s = st.store().get(&id)?.ok_or_else(unknown)?;
            if s.status_at(st.now().secs()) == SessionStatus::Expired {
                return Ok(([(header::CACHE_CONTROL, "no-store")], Json(json!({"status": "expired"}))).into_response());
            }
            Err(VerifierError::NotReady)
        }
        Err(TakeRefused::BadResponseCode) => Err(VerifierError::ResponseCode),
    }
}

async fn qr_url(st: &Verifier, id: &str) -> Result<String, VerifierError> {
    let s = st.store().get(id)?.ok_or_else(unknown)?;
    st.wallet_url(&s)
}

/// A wallet URL too long for a QR code (a large request by value) is the integrator's to
/// change (by reference), not our fault.
fn qr_error(e: crate::qr::QrError) -> VerifierError {
    if e.too_long() {
        VerifierError::BadRequest("the wallet URL is too long for a QR code: use request_mode reference, or hand the wallet_url over as a link".into())
    } else {
        VerifierError::internal(e)
    }
}

async fn qr_svg(_: AdminToken, State(st): State<Verifier>, Path(id): Path<String>) -> Result<Response, VerifierError> {
    let svg = crate::qr::svg(&qr_url(&st, &id).await?).map_err(qr_error)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response())
}

async fn qr_png(_: AdminToken, State(st): State<Verifier>, Path(id): Path<String>) -> Result<Response, VerifierError> {
    let png = crate::qr::png(&qr_url(&st, &id).await?).map_err(qr_error)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

#[derive(Debug, Deserialize)]
struct Erasure {
    callback_url: Option<String>,
}

/// `erasure_endpoint`: nothing about a citizen outlives `result_ttl` here (a verdict is
/// erased when the integrator fetches it, and purged otherwise), so there is nothing more to
/// erase: 204 for a well-formed request, 400 `bad_request` otherwise (IT-Wallet 1.4 §5.1).
async fn erasure(Query(q): Query<Erasure>) -> Response {
    match q.callback_url.as_deref().map(url::Url::parse) {
        Some(Ok(u)) if matches!(u.scheme(), "https" | "http") => StatusCode::NO_CONTENT.into_response(),
        _ => service_kit::ApiError::new(StatusCode::BAD_REQUEST, "bad_request", "callback_url must be an http(s) URL").into_response(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

async fn home(State(st): State<Verifier>) -> Response {
    let c = st.config();
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>{name}</title><h1>{name}</h1><p>IT-Wallet verifier ({id}). <a href=\"{policy}\">Privacy policy</a>.</p>",
        name = html_escape(&c.organization_name),
        id = html_escape(c.entity_id.as_str()),
        policy = html_escape(&c.policy_uri()),
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn policy(State(st): State<Verifier>) -> Response {
    let page = format!(
        "<!doctype html><meta charset=utf-8><title>Privacy policy</title><h1>{}: privacy policy</h1>\
         <p>The verifier asks a citizen's wallet only for the claims its check needs. The verdict and the claims received are kept \
         until the service that asked fetches them, then erased; unfetched, they are purged after {} seconds.</p>",
        html_escape(&st.config().organization_name),
        st.config().result_ttl
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics(State(st): State<Verifier>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics().render()).into_response()
}
