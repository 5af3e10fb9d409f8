//! The HTTP API: the wallet's endpoints ([`crate::protocol`]), metadata, the status list,
//! the admin API (offers, status changes), service basics, and the federation entity's
//! routes (trust-anchor building block) behind them.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use service_kit::error::{ErrorProfile, json_errors};
use service_kit::rate_limit::limit;
use service_kit::{AdminToken, Health};
use wallet_core::oid4vci::offer::{TxCode, TxInputMode};
use wallet_core::oid4vci::{CredentialOffer, OfferRef, OfferScheme, OfferUrl};
use wallet_core::status::StatusValue;

use crate::Issuer;
use crate::error::IssuerError;
use crate::metrics::Event;
use crate::registry::Record;
use crate::store::{Offer, Target};

/// `POST`: pushed authorization requests.
pub const PAR_PATH: &str = "/par";
/// `GET`: the authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/authorize";
/// `GET`: where the SPID/CIE OpenID Provider sends the citizen back (`method = "spid-cie"`).
pub const AUTHORIZE_CALLBACK_PATH: &str = "/authorize/callback";
/// The identity provider choice, with several SPID/CIE `providers` (`spid_cie::choose`).
pub const AUTHORIZE_PROVIDER_PATH: &str = "/authorize/provider";
/// `GET ?id=`: the OpenID4VP request object asking for the PID (`method = "pid"`).
pub const VP_REQUEST_PATH: &str = "/authorize/vp-request";
/// `POST`: the OpenID4VP `response_uri` (`direct_post.jwt`, `method = "pid"`).
pub const VP_RESPONSE_PATH: &str = "/authorize/vp-response";
/// `POST`: the token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// `POST`: the nonce endpoint.
pub const NONCE_PATH: &str = "/nonce";
/// `POST`: the credential endpoint.
pub const CREDENTIAL_PATH: &str = "/credential";
/// `POST`: the deferred credential endpoint.
pub const DEFERRED_PATH: &str = "/deferred_credential";
/// `POST`: the notification endpoint.
pub const NOTIFICATION_PATH: &str = "/notification";
/// `GET`: the Token Status List (`application/statuslist+jwt`).
pub const STATUS_LIST_PATH: &str = "/status-list";
/// Every Token Status List URI of this issuer (Token Status List §9.3, the metadata's
/// `status_list_aggregation_endpoint`, IT-Wallet 1.4 §3.1): one list today.
pub const STATUS_LIST_AGGREGATION_PATH: &str = "/status-list/aggregation";
/// `GET`: credential issuer metadata (JSON, or a signed JWT with `Accept: application/jwt`).
pub const ISSUER_METADATA_PATH: &str = "/.well-known/openid-credential-issuer";
/// `GET`: authorization server metadata.
pub const AS_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// `GET`: type metadata by `vct` in the path (IT-Wallet 1.4.0).
pub const VCT_PATH: &str = "/.well-known/vct/{vct}";
/// `GET ?vct=`: type metadata (1.4.x-post; versions note §1).
pub const TYPE_METADATA_PATH: &str = "/.well-known/type-metadata";
/// `POST`: create an offer (admin).
pub const ADMIN_OFFERS_PATH: &str = "/admin/offers";
/// `GET`: an offer by reference (`credential_offer_uri`, OpenID4VCI 1.0 §4.1.3), named by its
/// pre-authorized code or `issuer_state`.
pub const OFFER_PATH: &str = "/credential-offer/{handle}";
/// `POST`: revoke, suspend or reinstate (admin).
pub const ADMIN_STATUS_PATH: &str = "/admin/status";
/// The admin API: re-check now the WUAs behind issued credentials (`crate::wua_recheck`).
pub const ADMIN_WUA_RECHECK_PATH: &str = "/admin/wua-recheck";
/// `GET`: what was issued to a citizen (admin).
pub const ADMIN_CITIZEN_PATH: &str = "/admin/citizens/{citizen}/credentials";
/// `POST`: rotate the credential key while running (admin).
pub const ADMIN_ROTATE_KEY_PATH: &str = "/admin/credential-key/rotate";
/// Prometheus counters.
pub const METRICS_PATH: &str = "/metrics";
/// The OpenAPI document.
pub const OPENAPI_PATH: &str = "/openapi.json";
/// Liveness and readiness.
pub const HEALTH_PATH: &str = "/health";

/// Request bodies larger than this are refused.
pub const MAX_BODY: usize = 1 << 20;
pub use crate::status_list::{STATUS_LIST_STEP, current_list};

/// The issuer's router, the federation entity's behind it (Entity Configuration,
/// `/resolve`, its admin API).
pub fn router(state: Issuer) -> Router {
    let federation = json_errors(trust_anchor::router(state.federation().clone()), ErrorProfile::OAUTH);
    let l = state.limiters().clone();
    let wallet = Router::new()
        .route(PAR_PATH, post(crate::authorization::par))
        .route(AUTHORIZE_PATH, get(crate::authorization::authorize))
        .route(AUTHORIZE_CALLBACK_PATH, get(crate::spid_cie::callback))
        .route(AUTHORIZE_PROVIDER_PATH, get(crate::spid_cie::chosen))
        .route(VP_REQUEST_PATH, get(crate::pid_presentation::request_object))
        .route(VP_RESPONSE_PATH, post(crate::pid_presentation::response))
        .route(TOKEN_PATH, post(crate::protocol::token))
        .route(NONCE_PATH, post(crate::protocol::nonce))
        .route(CREDENTIAL_PATH, post(crate::protocol::credential))
        .route(DEFERRED_PATH, post(crate::protocol::deferred))
        .route(NOTIFICATION_PATH, post(crate::protocol::notification))
        .route(OFFER_PATH, get(offer_by_reference));
    let admin = Router::new().route(ADMIN_OFFERS_PATH, post(create_offer)).route(ADMIN_STATUS_PATH, post(change_status)).route(ADMIN_WUA_RECHECK_PATH, post(wua_recheck)).route(ADMIN_CITIZEN_PATH, get(issued_to)).route(ADMIN_ROTATE_KEY_PATH, post(rotate_key));
    let ours = Router::new()
        .merge(limit(wallet, l.wallet.clone()))
        .merge(limit(admin, l.admin.clone()))
        .route(ISSUER_METADATA_PATH, get(issuer_metadata))
        .route(AS_METADATA_PATH, get(as_metadata))
        .route(VCT_PATH, get(vct_by_path))
        .route(TYPE_METADATA_PATH, get(vct_by_query))
        .route(STATUS_LIST_PATH, get(status_list))
        .route(STATUS_LIST_AGGREGATION_PATH, get(status_list_aggregation))
        .route(service_kit::assets::LOGO_PATH, get(service_kit::assets::logo))
        .route(HEALTH_PATH, health(&state).route())
        .route(METRICS_PATH, get(metrics))
        .route(OPENAPI_PATH, get(openapi))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    json_errors(ours, ErrorProfile::OAUTH).with_state(state).fallback_service(federation)
}

fn health(st: &Issuer) -> Health {
    let db = st.clone();
    Health::new().probe("database", move || db.store().ping().err().map(|e| format!("the database does not answer: {e}")))
}

/// 32 random bytes, base64url.
pub(crate) fn random() -> Result<String, IssuerError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(IssuerError::internal)?;
    Ok(wallet_core::jose::b64::encode(b))
}

/// A key for a row this issuer adds at a high rate (issued credentials, their
/// `notification_id`, grants, deferred transactions): unguessable and time-ordered
/// ([`service_kit::ids`]), so a commit's new rows share the last pages of each index.
pub(crate) fn ordered_id() -> Result<String, IssuerError> {
    service_kit::ids::ordered_one().map_err(IssuerError::internal)
}

/// SHA-256 of a secret, base64url (how pre-authorized codes are stored).
pub(crate) fn hash(secret: &str) -> String {
    use sha2::Digest as _;
    wallet_core::jose::b64::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// How an offer's `tx_code` is stored: SHA-256 over a domain label, the pre-authorized code
/// and the `tx_code`, base64url. The pre-authorized code is the salt and is itself stored
/// hashed only ([`hash`]), so a copy of the database does not give the 6 digits by trying the
/// 10^6 of them; replicas need no shared key. Compared in constant time (wallet-core's
/// `check_tx_code`).
pub(crate) fn tx_code_hash(pre_authorized_code: &str, tx_code: &str) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"tessera tx_code\0");
    h.update(pre_authorized_code.as_bytes());
    h.update(b"\0");
    h.update(tx_code.as_bytes());
    wallet_core::jose::b64::encode(h.finalize())
}

/// A 6-digit transaction code (uniform: rejection sampling).
fn tx_code() -> Result<String, IssuerError> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(IssuerError::internal)?;
        let n = u32::from_be_bytes(b);
        // 4_294_000_000 is the largest multiple of 10^6 below 2^32.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

/// `POST /admin/offers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOffer {
    /// The citizen's registry key (e.g. the tax code): required for a pre-authorized offer;
    /// for an `authorization_code` one, the login must then identify this citizen.
    #[serde(default)]
    pub citizen: Option<String>,
    /// `pre-authorized_code` (default) or `authorization_code` (the citizen authenticates at
    /// `/authorize` as `[authentication]` says).
    #[serde(default)]
    pub grant: Option<String>,
    /// The configurations offered (default: all).
    #[serde(default)]
    pub credential_configuration_ids: Vec<String>,
    /// Send a `tx_code` (default true; the citizen gets it out of band).
    #[serde(default)]
    pub tx_code: Option<bool>,
    /// The offer by reference: `credential_offer_uri` (this issuer's [`OFFER_PATH`]) instead
    /// of the offer itself, for a shorter QR code (default false).
    #[serde(default)]
    pub by_reference: Option<bool>,
    /// The URL's scheme: `openid-credential-offer` (default) or `haip-vci` (HAIP §4.1, for
    /// wallets that register only that one; IT-Wallet wallets accept both).
    #[serde(default)]
    pub scheme: Option<String>,
}

/// How an offer reaches the wallet: its URL's scheme, by value or by reference.
struct Delivery {
    scheme: OfferScheme,
    by_reference: bool,
}

impl Delivery {
    fn of(req: &CreateOffer) -> Result<Self, IssuerError> {
        let scheme = match req.scheme.as_deref() {
            None | Some(wallet_core::oid4vci::offer::OFFER_SCHEME) => OfferScheme::OpenIdCredentialOffer,
            Some(wallet_core::oid4vci::offer::HAIP_VCI_SCHEME) => OfferScheme::HaipVci,
            Some(other) => return Err(IssuerError::bad_request(format!("scheme `{other}` is not openid-credential-offer or haip-vci"))),
        };
        Ok(Self { scheme, by_reference: req.by_reference.unwrap_or(false) })
    }

    /// The offer URL: the offer itself, or the URI of [`OFFER_PATH`] for `handle` (the offer's
    /// pre-authorized code or `issuer_state`: the secret the offer carries anyway, so the
    /// reference reveals nothing the value would not, and the store keeps only its hash).
    fn url(self, c: &crate::config::Config, offer: CredentialOffer, handle: &str) -> Result<String, IssuerError> {
        let offer = if self.by_reference { OfferRef::Uri(c.endpoint(&OFFER_PATH.replace("{handle}", handle))) } else { OfferRef::Value(offer) };
        OfferUrl { scheme: self.scheme, offer }.to_url().map_err(IssuerError::internal)
    }
}

/// The pre-authorized offer of `ids` (OpenID4VCI 1.0 §4.1.1), with the `tx_code` description
/// when the citizen got one.
fn pre_authorized_offer(c: &crate::config::Config, ids: Vec<String>, code: &str, with_tx_code: bool) -> Result<CredentialOffer, IssuerError> {
    let tx_meta = with_tx_code.then(|| TxCode { input_mode: Some(TxInputMode::Numeric), length: Some(6), description: Some("Il codice ricevuto allo sportello".into()) });
    CredentialOffer::new(c.entity_id.as_str(), ids)
        .with_pre_authorized_code(code.to_owned(), tx_meta)
        .emit(c.profile)
        .map_err(|e| IssuerError::bad_request(format!("the {} profile cannot emit this offer: {e}", c.profile.as_str())))
}

/// The `authorization_code` offer of `ids` with `issuer_state` and the configurations'
/// `scope` (OpenID4VCI 1.0 §4.1.1; versions note §5 item 5: `scope` always).
fn authorization_offer(c: &crate::config::Config, ids: Vec<String>, issuer_state: &str) -> Result<CredentialOffer, IssuerError> {
    let scope = ids.iter().filter_map(|id| c.credential(id).map(|cc| cc.preset.scope())).collect::<Vec<_>>().join(" ");
    CredentialOffer::new(c.entity_id.as_str(), ids)
        .with_authorization_code(scope, Some(issuer_state.to_owned()))
        .emit(c.profile)
        .map_err(|e| IssuerError::bad_request(format!("the {} profile cannot emit this offer: {e}", c.profile.as_str())))
}

/// `GET /credential-offer/{handle}`: the Credential Offer a `credential_offer_uri` names
/// (OpenID4VCI 1.0 §4.1.3: `application/json`), while it can still be redeemed: 404
/// `not_found` once used or expired. It is read, not spent: a wallet may fetch it again
/// before it redeems the code.
async fn offer_by_reference(State(st): State<Issuer>, Path(handle): Path<String>) -> Result<Response, IssuerError> {
    let c = st.config();
    let now = st.now().secs();
    let gone = || IssuerError::NotFound("no such offer, or it was used or has expired".into());
    let key = hash(&handle);
    let offer = if let Some(o) = st.store().pending_offer(&key, now, c.tx_code_attempts)? {
        pre_authorized_offer(c, o.configurations, &handle, o.tx_code_hash.is_some())?
    } else if let Some(json) = st.store().pending_issuer_state(&key, now)? {
        let offered: crate::authorization::OfferedAuthorization = serde_json::from_str(&json).map_err(IssuerError::internal)?;
        authorization_offer(c, offered.configurations, &handle)?
    } else {
        return Err(gone());
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(offer)).into_response())
}

/// `POST /admin/offers` (issuer-initiated, IT-Wallet 1.4 §3.2): an offer by value for the
/// desk to show as a QR code. With a `pre-authorized_code` (and a 6-digit `tx_code`) for a
/// citizen the registry knows (a record for each configuration offered, else 404): 201
/// `{offer_url, tx_code, expires_at}`. With `"grant": "authorization_code"` (when
/// `[authentication]` is configured): `issuer_state` and `scope`, stored single use for
/// `offer_ttl`, optionally for a named citizen: 201 `{offer_url, expires_at}`.
async fn create_offer(_: AdminToken, State(st): State<Issuer>, service_kit::Json(req): service_kit::Json<CreateOffer>) -> Result<Response, IssuerError> {
    let c = st.config();
    let delivery = Delivery::of(&req)?;
    let ids = if req.credential_configuration_ids.is_empty() { c.credentials.iter().map(|c| c.id.clone()).collect() } else { req.credential_configuration_ids };
    for id in &ids {
        let cc = c.credential(id).ok_or_else(|| IssuerError::bad_request(format!("unknown credential_configuration_id `{id}`")))?;
        if let Some(citizen) = &req.citizen
            && st.registry().lookup(&cc.source, citizen)? == Record::Unknown
        {
            return Err(IssuerError::NotFound(format!("the registry has no `{id}` record for this citizen")));
        }
    }
    match req.grant.as_deref() {
        None | Some("pre-authorized_code") => {}
        Some("authorization_code") => return authorization_code_offer(&st, ids, req.citizen, delivery),
        Some(other) => return Err(IssuerError::bad_request(format!("grant `{other}` is not pre-authorized_code or authorization_code"))),
    }
    let citizen = req.citizen.ok_or_else(|| IssuerError::bad_request("a pre-authorized offer names the citizen"))?;
    let code = random()?;
    let tx = if req.tx_code.unwrap_or(true) { Some(tx_code()?) } else { None };
    let offer = pre_authorized_offer(c, ids.clone(), &code, tx.is_some())?;
    let url = delivery.url(c, offer, &code)?;
    let expires_at = st.now().secs().saturating_add(c.offer_ttl);
    let tx_code_hash = tx.as_deref().map(|t| tx_code_hash(&code, t));
    st.store().insert_offer(&hash(&code), &Offer { tx_code_hash, citizen, configurations: ids }, expires_at)?;
    st.metrics().count(Event::OfferCreated);
    let body = json!({"offer_url": url, "tx_code": tx, "expires_at": expires_at});
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// An offer with the `authorization_code` grant (OpenID4VCI §4.1.1): `issuer_state` (256
/// random bits, stored hashed, single use) and `scope` (the configurations' scopes).
fn authorization_code_offer(st: &Issuer, ids: Vec<String>, citizen: Option<String>, delivery: Delivery) -> Result<Response, IssuerError> {
    let c = st.config();
    if c.authentication == crate::config::Authentication::None {
        return Err(IssuerError::bad_request("authorization_code offers need [authentication]: citizens cannot authenticate at /authorize here"));
    }
    let issuer_state = random()?;
    let offer = authorization_offer(c, ids.clone(), &issuer_state)?;
    let url = delivery.url(c, offer, &issuer_state)?;
    let expires_at = st.now().secs().saturating_add(c.offer_ttl);
    let stored = serde_json::to_string(&crate::authorization::OfferedAuthorization { configurations: ids, citizen }).map_err(IssuerError::internal)?;
    st.store().insert_issuer_state(&hash(&issuer_state), &stored, expires_at)?;
    st.metrics().count(Event::OfferCreated);
    let body = json!({"offer_url": url, "expires_at": expires_at});
    Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `POST /admin/status`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeStatus {
    /// `revoke`, `suspend`, `reinstate` or `update` (the registry record changed).
    pub action: String,
    /// One credential (its `id` from the citizen's list), or
    #[serde(default)]
    pub credential_id: Option<String>,
    /// every credential of a citizen.
    #[serde(default)]
    pub citizen: Option<String>,
}

/// `POST /admin/status`: sets the status list entries (IT-Wallet 1.4 §6: INVALID for a
/// revocation, SUSPENDED, back to VALID, or UPDATE/ATTRIBUTE_UPDATE after the registry
/// record changed: [`crate::config::Config::update_status`]; the wallet then re-issues it
/// with its refresh token) of one credential or of all a citizen's. 200 `{changed}` (and
/// `left_revoked`, the revoked credentials left as they are: a revocation is final); 409
/// when every credential targeted is revoked; 404 when nothing matched.
async fn change_status(_: AdminToken, State(st): State<Issuer>, service_kit::Json(req): service_kit::Json<ChangeStatus>) -> Result<Response, IssuerError> {
    let value = match req.action.as_str() {
        "revoke" => StatusValue::Invalid,
        "suspend" => StatusValue::Suspended,
        "reinstate" => StatusValue::Valid,
        "update" => st.config().update_status(),
        other => return Err(IssuerError::bad_request(format!("action `{other}` is not revoke, suspend, reinstate or update"))),
    };
    if !value.fits(st.config().status_bits) {
        return Err(IssuerError::bad_request("status_bits = 1 cannot hold SUSPENDED"));
    }
    let target = match (req.credential_id.as_deref(), req.citizen.as_deref()) {
        (Some(id), None) => Target::Credential(id),
        (None, Some(c)) => Target::Citizen(c),
        _ => return Err(IssuerError::bad_request("give exactly one of credential_id and citizen")),
    };
    let n = st.store().set_status(target, value.to_u8())?;
    let left_revoked = if value == StatusValue::Invalid { 0 } else { st.store().revoked_among(target)? };
    if n == 0 && left_revoked > 0 {
        return Err(IssuerError::Conflict(format!(
            "{} revoked: a revocation is final (IT-Wallet 1.4 §6); issue a new credential instead",
            if matches!(target, Target::Credential(_)) { "the credential is".to_owned() } else { format!("all {left_revoked} of the citizen's credentials are") }
        )));
    }
    if n == 0 {
        return Err(IssuerError::NotFound("no such credential".into()));
    }
    st.metrics().add(Event::StatusChanged, u64::try_from(n).unwrap_or(0));
    tracing::info!(target: "issuer", action = %req.action, changed = n, "status changed");
    let name = if req.action == "update" && value != StatusValue::Update { "ATTRIBUTE_UPDATE" } else { value.name() };
    let body = if left_revoked > 0 { json!({"changed": n, "status": name, "left_revoked": left_revoked}) } else { json!({"changed": n, "status": name}) };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `POST /admin/wua-recheck`: the WUAs behind issued credentials re-checked now in their
/// providers' status lists, as the periodic run does (`crate::wua_recheck`); 200 with the
/// run's report `{wuas, lists, revoked_wuas, revoked_credentials, unavailable}`.
async fn wua_recheck(_: AdminToken, State(st): State<Issuer>) -> Result<Response, IssuerError> {
    let report = crate::wua_recheck::recheck(&st).await?;
    tracing::info!(target: "issuer", wuas = report.wuas, revoked = report.revoked_credentials, unavailable = report.unavailable.len(), "WUAs re-checked");
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(report)).into_response())
}

/// `POST /admin/credential-key/rotate`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// The key in use is compromised: its signing certificates are revoked and it is not
    /// kept published.
    #[serde(default)]
    pub withdraw: bool,
    /// The key meant (its `kid`): when another one is current (already rotated, by another
    /// replica or an earlier request), nothing is done (400). A retried withdrawal then
    /// cannot withdraw the key that replaced the compromised one.
    #[serde(default)]
    pub kid: Option<String>,
}

/// `POST /admin/credential-key/rotate {"withdraw": false, "kid"?: KID}`: a new credential key signs from
/// now, on this replica at once and on the others sharing `keys_dir` within a second
/// ([`Issuer::rotate_credential_key`]). 200 `{old_kid, new_kid, retired}`.
async fn rotate_key(_: AdminToken, State(st): State<Issuer>, service_kit::Json(req): service_kit::Json<RotateKey>) -> Result<Response, IssuerError> {
    let r = st.rotate_credential_key(req.withdraw, req.kid.as_deref()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(json!({"old_kid": r.old_kid, "new_kid": r.new_kid, "retired": r.retired}))).into_response())
}

/// `GET /admin/citizens/{citizen}/credentials`: what was issued to whom (id,
/// configuration, status index and value, dates, the wallet's notification).
async fn issued_to(_: AdminToken, State(st): State<Issuer>, Path(citizen): Path<String>) -> Result<Response, IssuerError> {
    let list = st.store().issued_to(&citizen)?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(json!({"credentials": list}))).into_response())
}

/// `GET /status-list`: the Token Status List (draft-ietf-oauth-status-list, IT-Wallet 1.4
/// §6), signed with the credential key (`kid`), `sub` = this URL, `exp` and `ttl` =
/// `status_list_ttl`; signed again only when the list changed or the token is half its
/// lifetime old ([`crate::status_list`]).
///
/// gzip-compressed for a client whose `Accept-Encoding` allows it (Token Status List §8.1,
/// CI_192), compressed once per signed token.
async fn status_list(State(st): State<Issuer>, headers: HeaderMap) -> Result<Response, IssuerError> {
    let token = crate::status_list::token(&st).await?;
    let accept = headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok());
    Ok(service_kit::status_list_response(accept, &token.jwt, Some(&token.gzip)))
}

/// `GET /status-list/aggregation`: `{"status_lists": [...]}` (Token Status List §9.3), so a
/// relying party can fetch every list ahead of time.
async fn status_list_aggregation(State(st): State<Issuer>) -> Response {
    let body = serde_json::json!({"status_lists": [st.config().endpoint(STATUS_LIST_PATH)]});
    ([(header::CACHE_CONTROL, "no-cache")], axum::Json(body)).into_response()
}

fn wants_jwt(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.split(',').any(|p| p.split(';').next().unwrap_or_default().trim() == "application/jwt"))
}

/// `GET /.well-known/openid-credential-issuer`: JSON, or in the 1.4 profile with `Accept:
/// application/jwt` the same signed (`openidvci-issuer-metadata+jwt`, OpenID4VCI §12.2.3) with
/// the credential key, `kid` and our signing certificate's `x5c` (versions note §5.6: the
/// signed form is 1.4's; a 1.3 deployment answers JSON, which every wallet reads).
async fn issuer_metadata(State(st): State<Issuer>, headers: HeaderMap) -> Result<Response, IssuerError> {
    st.take_up_rotated_key().await;
    if wants_jwt(&headers) && st.config().profile == wallet_core::oid4vci::Profile::ItWallet14 {
        let key = st.keys().credential();
        let x5c = st.signing_certificate_for(&key).await.map(|c| c.x5c);
        let jwt = st.metadata().sign(&*key, x5c, st.now(), 86_400).map_err(IssuerError::internal)?;
        return Ok(([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response());
    }
    Ok(Json(wallet_core::oid4vci::CredentialIssuerMetadata::clone(&st.metadata())).into_response())
}

async fn as_metadata(State(st): State<Issuer>) -> Response {
    Json(st.as_metadata().clone()).into_response()
}

/// The `typ` of the signed type metadata (Tessera's choice: neither SD-JWT VC nor IT-Wallet
/// 1.4 names one for it).
pub const TYPE_METADATA_JWT_TYP: &str = "vct-metadata+jwt";

/// The type metadata of `vct` (SD-JWT VC §6, IT-Wallet 1.4 §4.1 "served as `application/json`
/// or `application/jwt`"): the JSON bytes serialized once at start, over which the
/// credentials' `vct#integrity` is computed; with `Accept: application/jwt`, the same members
/// signed with the credential key (`kid`, `x5c`) with `iss`, `iat` and `exp` (a day).
async fn type_metadata(st: &Issuer, vct: &str, headers: &HeaderMap) -> Result<Response, IssuerError> {
    let doc = st.type_metadata(vct).ok_or_else(|| IssuerError::NotFound(format!("no type metadata for `{vct}`")))?;
    if wants_jwt(headers) {
        st.take_up_rotated_key().await;
        let mut claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&doc.json).map_err(IssuerError::internal)?;
        let now = st.now();
        claims.insert("iss".into(), serde_json::Value::from(st.config().entity_id.as_str()));
        claims.insert("iat".into(), serde_json::Value::from(now.secs()));
        claims.insert("exp".into(), serde_json::Value::from(now.secs().saturating_add(86_400)));
        let key = st.keys().credential();
        let mut jws_header = wallet_core::jose::JwsHeader::new(wallet_core::jose::Signer::alg(&*key)).with_typ(TYPE_METADATA_JWT_TYP).with_kid(wallet_core::jose::Signer::kid(&*key));
        jws_header.x5c = st.signing_certificate_for(&key).await.map(|c| c.x5c);
        let jwt = wallet_core::jose::jws::sign_json(&jws_header, &claims, &*key).map_err(IssuerError::internal)?;
        return Ok(([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response());
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], doc.json.clone()).into_response())
}

async fn vct_by_path(State(st): State<Issuer>, headers: HeaderMap, Path(vct): Path<String>) -> Result<Response, IssuerError> {
    type_metadata(&st, &vct, &headers).await
}

#[derive(Debug, Deserialize)]
struct VctQuery {
    vct: String,
}

async fn vct_by_query(State(st): State<Issuer>, headers: HeaderMap, Query(q): Query<VctQuery>) -> Result<Response, IssuerError> {
    type_metadata(&st, &q.vct, &headers).await
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics(State(st): State<Issuer>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], st.metrics().render()).into_response()
}

