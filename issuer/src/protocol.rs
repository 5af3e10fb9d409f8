//! The wallet's endpoints (OpenID4VCI 1.0 as IT-Wallet 1.4 §3.3 profiles it): `/token`
//! (pre-authorized code with `tx_code`, DPoP-bound `at+jwt`), `/nonce`, `/credential`
//! (DPoP + access token, key-attested `proofs.jwt`, batch), `/deferred_credential`,
//! `/notification`. Every check is wallet-core's ([`wallet_core::oid4vci`]): this module
//! wires them to the database (single-use codes, nonces, `jti`s) and the registry.

use std::sync::Mutex;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use wallet_core::attestation::{CLIENT_ATTESTATION_HEADER, CLIENT_ATTESTATION_POP_HEADER, VerifiedClientAttestation};
use wallet_core::jose::{Jwk, JwsAlg, Signer as _};
use wallet_core::oid4vci::{
    AuthorizationDetail, ClientAttestationContext, CredentialRequest, CredentialResponse, DeferredCredentialRequest, DpopExpectation, ErrorCode, IssuedCredential,
    NonceResponse, NotificationRequest, ProofExpectation, TokenClaims, TokenExpectation, TokenKind, TokenRequest, TokenResponse, VerifiedDpop, VerifiedToken, dpop,
    pkce::{CodeChallenge, CodeVerifier},
    token::{CodeBinding, check_tx_code},
    verify_client_attestation, verify_dpop, verify_proofs, verify_token,
};
use wallet_core::oid4vp::verify::StatusLookupError;
use wallet_core::status::StatusValue;
use wallet_core::vc::{SdJwtVcBuilder, Vct};

use crate::Issuer;
use crate::authorization::Code;
use crate::error::IssuerError;
use crate::metrics::Event;
use crate::registry::Record;
use crate::routes::{self, hash, ordered_id, random};
use crate::store::{Deferred, Grant, Issued, Spend, Spent};

/// Clock skew tolerated on `iat`/`exp`.
pub const SKEW: i64 = 60;
/// Seconds a deferred issuance waits for the registry before it is dropped.
pub const DEFERRED_TTL: i64 = 7 * 86_400;

/// How long a re-issuance holds the credentials it replaces (seconds): a request that dies
/// between the claim and the end gives them back when this lease ends.
pub const REISSUE_CLAIM_SECS: i64 = 60;

fn no_store(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json"), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A DPoP proof's `jti`, per key, and until when it must be remembered: until the proof
/// could no longer be accepted (RFC 9449 §11.1).
fn dpop_jti(proof: &VerifiedDpop) -> (String, i64) {
    (format!("dpop:{}:{}", proof.jkt(), proof.jti()), proof.iat().secs().saturating_add(dpop::DEFAULT_MAX_AGE + 2 * SKEW))
}

/// Remembers a DPoP proof's `jti` now (a second use is refused). The credential endpoint
/// spends it with its records instead ([`Spend`]).
fn remember_dpop(st: &Issuer, proof: &VerifiedDpop, resource: bool) -> Result<(), IssuerError> {
    let (key, until) = dpop_jti(proof);
    if st.store().remember_jti(&key, until)? {
        Ok(())
    } else if resource {
        Err(jti_replayed())
    } else {
        Err(IssuerError::oauth(ErrorCode::InvalidDpopProof, "DPoP proof jti already used"))
    }
}

fn jti_replayed() -> IssuerError {
    IssuerError::resource(ErrorCode::InvalidDpopProof, "DPoP proof jti already used")
}

/// A request's records are in, or why its [`Spend`] refused it.
fn recorded(spent: Spent) -> Result<(), IssuerError> {
    match spent {
        Spent::Recorded => Ok(()),
        Spent::JtiReplayed => Err(jti_replayed()),
        Spent::NonceReused => Err(IssuerError::oauth(ErrorCode::InvalidNonce, "c_nonce already used")),
    }
}

/// `POST /token`: the authorization code grant (`authorization_code`), the refresh grant
/// (`refresh`) and the pre-authorized code grant (OpenID4VCI §6.1, IT-Wallet 1.4 §3.3):
/// DPoP proof for this URL and method, the offer's code (single use, expiring) and its
/// `tx_code` (a few attempts), then an `at+jwt` bound to the DPoP key (`cnf.jkt`) whose
/// `authorization_details` name the offered configurations.
pub async fn token(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    let refused = |e: IssuerError| {
        st.metrics().count(Event::Refused);
        e
    };
    st.prefetch_for_attestation(header_str(&headers, CLIENT_ATTESTATION_HEADER)).await;
    check_attestation_status(&st, &headers).await.map_err(refused)?;
    let now = st.now();
    let body = std::str::from_utf8(&body).map_err(|_| refused(IssuerError::bad_request("the body is not UTF-8")))?;
    let req = TokenRequest::parse_form(body).map_err(|e| refused(IssuerError::oauth(e.code(), e)))?;
    let (pre_authorized_code, tx_code) = match req {
        TokenRequest::PreAuthorizedCode { pre_authorized_code, tx_code } => (pre_authorized_code, tx_code),
        TokenRequest::RefreshToken { refresh_token, .. } => return refresh(&st, &headers, &refresh_token).map_err(refused),
        TokenRequest::AuthorizationCode { code, code_verifier, redirect_uri } => {
            return authorization_code(&st, &headers, &code, &code_verifier, redirect_uri.as_deref()).map_err(refused);
        }
    };
    let proof = header_str(&headers, dpop::DPOP_HEADER).ok_or_else(|| refused(IssuerError::oauth(ErrorCode::InvalidDpopProof, "DPoP header missing")))?;
    let token_url = st.config().endpoint(routes::TOKEN_PATH);
    let proof = verify_dpop(proof, &DpopExpectation::new("POST", &token_url, now)).map_err(|e| refused(IssuerError::oauth(e.code(), e)))?;
    remember_dpop(&st, &proof, false).map_err(refused)?;

    // The attestation first: a wallet told `use_fresh_attestation` (or `invalid_client`)
    // comes back with a fresh one and the same code, which must still be unspent.
    let client_id = attested_client(&st, &headers).map_err(refused)?.unwrap_or_default();
    let code_hash = hash(&pre_authorized_code);
    let offer = st
        .store()
        .attempt_offer(&code_hash, now.secs(), st.config().tx_code_attempts)?
        .ok_or_else(|| refused(IssuerError::oauth(ErrorCode::InvalidGrant, "pre-authorized code unknown, used or expired")))?;
    // Stored hashed ([`routes::tx_code_hash`]): the one given hashed alike, compared in
    // constant time; a wrong one has spent an attempt (`attempt_offer`).
    let given = tx_code.as_deref().map(|t| routes::tx_code_hash(&pre_authorized_code, t));
    check_tx_code(offer.tx_code_hash.as_deref(), given.as_deref()).map_err(|e| refused(IssuerError::oauth(e.code(), e)))?;
    if !st.store().consume_offer(&code_hash)? {
        return Err(refused(IssuerError::oauth(ErrorCode::InvalidGrant, "pre-authorized code already used")));
    }

    let details: Vec<AuthorizationDetail> = offer.configurations.iter().map(AuthorizationDetail::for_configuration).collect();
    grant_tokens(&st, Grant { citizen: offer.citizen, configurations: offer.configurations }, details, client_id, &proof)
}

/// The `authorization_code` grant (RFC 6749 §4.1.3, RFC 7636, IT-Wallet 1.4 §3.3 steps
/// 8–11): the DPoP proof for this URL and method, unused; the wallet attestation and its PoP
/// (REQUIRED here), the PoP `jti` unused; the code consumed (single use, unexpired), then
/// wallet-core's `CodeBinding`: issued to this client, the same `redirect_uri`, the PKCE
/// verifier matching. The response's `authorization_details` carry the
/// `credential_identifiers` the wallet then names at the credential endpoint.
fn authorization_code(st: &Issuer, headers: &HeaderMap, code: &str, verifier: &CodeVerifier, redirect_uri: Option<&str>) -> Result<Response, IssuerError> {
    let now = st.now();
    let proof = header_str(headers, dpop::DPOP_HEADER).ok_or_else(|| IssuerError::oauth(ErrorCode::InvalidDpopProof, "DPoP header missing"))?;
    let token_url = st.config().endpoint(routes::TOKEN_PATH);
    let proof = verify_dpop(proof, &DpopExpectation::new("POST", &token_url, now)).map_err(|e| IssuerError::oauth(e.code(), e))?;
    remember_dpop(st, &proof, false)?;
    let client_id = attested_client(st, headers)?.ok_or_else(|| IssuerError::oauth(ErrorCode::InvalidClient, "the authorization_code grant needs the wallet attestation (OAuth-Client-Attestation and its PoP)"))?;
    let json = st.store().take_code(&hash(code), now.secs())?.ok_or_else(|| IssuerError::oauth(ErrorCode::InvalidGrant, "authorization code unknown, used or expired"))?;
    let bound: Code = serde_json::from_str(&json).map_err(IssuerError::internal)?;
    let code_challenge = CodeChallenge::parse(&bound.code_challenge, Some(wallet_core::oid4vci::pkce::S256)).map_err(IssuerError::internal)?;
    CodeBinding { client_id: bound.client_id, redirect_uri: bound.redirect_uri, code_challenge }.verify(&client_id, redirect_uri, verifier).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let details: Vec<AuthorizationDetail> = bound
        .configurations
        .iter()
        .map(|id| AuthorizationDetail { credential_identifiers: vec![credential_identifier(id)], ..AuthorizationDetail::for_configuration(id) })
        .collect();
    grant_tokens(st, Grant { citizen: bound.citizen, configurations: bound.configurations }, details, client_id, &proof)
}

/// The `credential_identifier` granted for a configuration (OpenID4VCI §6.2): one per
/// configuration, its dataset being the citizen's registry record.
pub fn credential_identifier(configuration_id: &str) -> String {
    format!("{configuration_id}.registry")
}

/// Records the grant and answers the token response: a DPoP-bound `at+jwt` (`cnf.jkt`)
/// with `authorization_details`, and an `rt+jwt` when refresh tokens are on.
fn grant_tokens(st: &Issuer, grant: Grant, details: Vec<AuthorizationDetail>, client_id: String, proof: &VerifiedDpop) -> Result<Response, IssuerError> {
    let now = st.now();
    let ttl = st.config().access_token_ttl;
    let grant_id = ordered_id()?;
    st.store().insert_grant(&grant_id, &grant, now.secs().saturating_add(DEFERRED_TTL.max(st.config().refresh_token_ttl)))?;
    let mut claims = TokenClaims::new(st.config().entity_id.as_str(), grant_id, client_id, proof.jkt(), now, ttl).map_err(IssuerError::internal)?;
    claims.authorization_details = details.clone();
    let at = claims.sign(TokenKind::Access, st.keys().token()).map_err(IssuerError::internal)?;
    let mut response = TokenResponse::dpop(at, u64::try_from(ttl).unwrap_or(0));
    response.authorization_details = details;
    let rt_ttl = st.config().refresh_token_ttl;
    if rt_ttl > 0 {
        response.refresh_token = Some(claims.refresh_token(rt_ttl).and_then(|c| c.sign(TokenKind::Refresh, st.keys().token())).map_err(IssuerError::internal)?);
    }
    st.metrics().count(Event::TokenIssued);
    Ok(no_store(StatusCode::OK, serde_json::to_string(&response).map_err(IssuerError::internal)?))
}

/// The refresh grant (IT-Wallet 1.4 §3.3 "Refresh"): the DPoP proof for `/token`, unused,
/// by the key the refresh token is bound to; the `rt+jwt` verified (ours, unexpired, `nbf`
/// reached); a wallet-attested client presents its attestation again, its PoP unused
/// ([`verify_attestation`]); the grant still there. The new access token is marked
/// `refreshed`: deferred, notification and re-issuance only, never a first issuance
/// (wallet-core's `require_first_issuance_allowed`). A new refresh token comes with it
/// (same key, `exp` that of the one presented).
fn refresh(st: &Issuer, headers: &HeaderMap, refresh_token: &str) -> Result<Response, IssuerError> {
    let now = st.now();
    let proof = header_str(headers, dpop::DPOP_HEADER).ok_or_else(|| IssuerError::oauth(ErrorCode::InvalidDpopProof, "DPoP header missing"))?;
    let token_url = st.config().endpoint(routes::TOKEN_PATH);
    let proof = verify_dpop(proof, &DpopExpectation::new("POST", &token_url, now)).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let key = st.keys().token().public_jwk();
    let issuer = st.config().entity_id.as_str();
    let rt = verify_token(refresh_token, &TokenExpectation { kind: TokenKind::Refresh, key: &key, issuer, audience: issuer, now, skew: SKEW })
        .map_err(|e| IssuerError::oauth(e.code(TokenKind::Refresh), e))?;
    rt.check_dpop(&proof).map_err(|e| IssuerError::oauth(e.code(TokenKind::Refresh), e))?;
    remember_dpop(st, &proof, false)?;
    if !rt.claims().client_id.is_empty() {
        let client = verify_attestation(st, headers)?;
        rt.check_client(client.client_id()).map_err(|e| IssuerError::oauth(e.code(TokenKind::Refresh), e))?;
    }
    if st.grant(&rt.claims().sub)?.is_none() {
        return Err(IssuerError::oauth(ErrorCode::InvalidGrant, "the grant behind this refresh token is gone"));
    }
    let ttl = st.config().access_token_ttl;
    let claims = rt.claims().refreshed_access(now, ttl).map_err(IssuerError::internal)?;
    let at = claims.sign(TokenKind::Access, st.keys().token()).map_err(IssuerError::internal)?;
    let mut response = TokenResponse::dpop(at, u64::try_from(ttl).unwrap_or(0));
    response.authorization_details = claims.authorization_details.clone();
    // A new refresh token with the new access token, bound to the same DPoP key (IT-Wallet 1.4
    // §3.3 "Refresh", test matrix CI_094/CI_095), usable once the new access token expires and
    // no longer than the one presented: refreshing never extends the grant.
    let remaining = rt.claims().exp.saturating_sub(now.secs());
    if remaining > ttl {
        response.refresh_token = Some(claims.refresh_token(remaining).and_then(|c| c.sign(TokenKind::Refresh, st.keys().token())).map_err(IssuerError::internal)?);
    }
    st.metrics().count(Event::TokenIssued);
    Ok(no_store(StatusCode::OK, serde_json::to_string(&response).map_err(IssuerError::internal)?))
}

/// The wallet instance, when the token request carries its attestation
/// ([`verify_attestation`]): the token is then bound to that client id and the key proofs
/// must name it (`iss`). Without the headers the pre-authorized grant is anonymous
/// (`pre-authorized_grant_anonymous_access_supported`).
fn attested_client(st: &Issuer, headers: &HeaderMap) -> Result<Option<String>, IssuerError> {
    if header_str(headers, CLIENT_ATTESTATION_HEADER).is_none() && header_str(headers, CLIENT_ATTESTATION_POP_HEADER).is_none() {
        return Ok(None);
    }
    Ok(Some(verify_attestation(st, headers)?.client_id().to_owned()))
}

/// The wallet attestation's own status (versions note §5, issuer item 2: "check
/// `status.status_list` when present"; IT-Wallet 1.4 §2.5: a revoked wallet instance): its
/// entry in the wallet provider's Token Status List, looked up as a WUA's is (the list
/// verified with the provider's keys, cached by its `ttl`). Only for an attestation signed
/// by a trusted wallet provider (verified here first, so that no URL an unverified header
/// names is ever fetched); any other is left to the synchronous checks, which refuse it with
/// their own reason. VALID passes; anything else is `invalid_client`; a list that cannot be
/// fetched, `temporarily_unavailable`. Nothing to do without the header or a `status`.
pub(crate) async fn check_attestation_status(st: &Issuer, headers: &HeaderMap) -> Result<(), IssuerError> {
    let Some(waa) = header_str(headers, CLIENT_ATTESTATION_HEADER) else { return Ok(()) };
    let Ok(verified) = wallet_core::attestation::verify_waa(waa, st.wallet_providers(), st.now(), wallet_core::attestation::DEFAULT_SKEW) else { return Ok(()) };
    let Some(reference) = verified.claims().status.clone() else {
        return Ok(());
    };
    match st.wua_statuses().lookup(&reference.status_list, &st.http().for_request(), st.wallet_providers(), st.now()).await {
        Ok(StatusValue::Valid) => Ok(()),
        Ok(v) => Err(IssuerError::oauth(ErrorCode::InvalidClient, format!("the wallet attestation is {}: its wallet instance was revoked or suspended by its provider", v.name()))),
        Err(StatusLookupError::Fetch(e)) => Err(IssuerError::oauth(ErrorCode::TemporarilyUnavailable, format!("the wallet attestation's status list cannot be fetched: {e}"))),
        Err(e) => Err(IssuerError::oauth(ErrorCode::InvalidClient, format!("the wallet attestation's status cannot be established: {e}"))),
    }
}

/// The wallet attestation and its PoP (`OAuth-Client-Attestation` and
/// `OAuth-Client-Attestation-PoP`, verified by wallet-core: the WAA signed by a trusted
/// wallet provider and fresh, else `use_fresh_attestation`; the PoP by its key, for us,
/// fresh), the PoP `jti` single use per client (`invalid_client` when replayed), remembered
/// until the PoP could no longer be accepted. One check for PAR and every grant at `/token`.
pub(crate) fn verify_attestation(st: &Issuer, headers: &HeaderMap) -> Result<VerifiedClientAttestation, IssuerError> {
    let now = st.now();
    let ctx = ClientAttestationContext::new(st.config().entity_id.as_str(), st.wallet_providers(), now);
    let client = verify_client_attestation(header_str(headers, CLIENT_ATTESTATION_HEADER), header_str(headers, CLIENT_ATTESTATION_POP_HEADER), &ctx)
        .map_err(|e| IssuerError::oauth(e.code(), e))?;
    if !client.waa.sub_is_key_thumbprint() {
        // Accepted (versions note §5, issuer item 2: older SDK builds put the JWK `kid` in
        // `sub`); logged for the operator, who may want to know which wallets do (at info:
        // such a wallet sends it with every PAR and token request).
        tracing::info!(client_id = client.client_id(), provider = %client.waa.claims().iss, "wallet attestation whose sub is not its key's thumbprint");
    }
    let until = now.secs().saturating_add(ctx.max_pop_age + 2 * ctx.skew);
    if !st.store().remember_jti(&format!("pop:{}:{}", client.client_id(), client.jti), until)? {
        return Err(IssuerError::oauth(ErrorCode::InvalidClient, "client attestation PoP jti already used"));
    }
    Ok(client)
}

/// `POST /nonce` (OpenID4VCI §7): a fresh `c_nonce` valid for `nonce_ttl`, authenticated
/// by the issuer's nonce key (wallet-core's `NonceKey`): nothing is stored until a key
/// proof spends it, and the check of a proof's nonce reads nothing.
pub async fn nonce(State(st): State<Issuer>) -> Result<Response, IssuerError> {
    let n: NonceResponse = st.keys().nonce().issue(st.now().plus(st.config().nonce_ttl)).map_err(IssuerError::internal)?;
    Ok(no_store(StatusCode::OK, serde_json::to_string(&n).map_err(IssuerError::internal)?))
}

/// The access token and its DPoP proof at a protected endpoint (RFC 9449 §7): the
/// `at+jwt` verified, the proof for this URL, method and token, bound to the token's key;
/// and the grant it stands for. The caller spends the proof's `jti` (`remember_dpop`, or
/// with its records: [`Spend`]).
fn authorize(st: &Issuer, headers: &HeaderMap, path: &str) -> Result<(VerifiedToken, Grant, VerifiedDpop), IssuerError> {
    let now = st.now();
    let at = header_str(headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("DPoP "))
        .ok_or_else(|| IssuerError::resource(ErrorCode::InvalidToken, "Authorization: DPoP <access token> missing"))?;
    let key = st.keys().token().public_jwk();
    let issuer = st.config().entity_id.as_str();
    let token = verify_token(at, &TokenExpectation { kind: TokenKind::Access, key: &key, issuer, audience: issuer, now, skew: SKEW })
        .map_err(|e| IssuerError::resource(e.code(TokenKind::Access), e))?;
    let proof = header_str(headers, dpop::DPOP_HEADER).ok_or_else(|| IssuerError::resource(ErrorCode::InvalidDpopProof, "DPoP header missing"))?;
    let url = st.config().endpoint(path);
    let proof = verify_dpop(proof, &DpopExpectation::new("POST", &url, now).with_access_token(at)).map_err(|e| IssuerError::resource(e.code(), e))?;
    token.check_dpop(&proof).map_err(|e| IssuerError::resource(e.code(TokenKind::Access), e))?;
    let grant = st.grant(&token.claims().sub)?.ok_or_else(|| IssuerError::resource(ErrorCode::InvalidToken, "the grant behind this token is gone"))?;
    Ok((token, grant, proof))
}

/// Signs one SD-JWT VC per key with the registry's claims: `cnf` = the key, a status list
/// index of its own, our `kid` and, once onboarded, our `trust_chain`; records each, with
/// `spend` in the same commit. `exp`: `credential_ttl` from now, or `expires` (a
/// re-issuance: the replaced credentials' expiry).
#[allow(clippy::too_many_arguments)]
async fn issue(
    st: &Issuer,
    grant_id: &str,
    grant: &Grant,
    configuration_id: &str,
    claims: serde_json::Map<String, Value>,
    keys: &[Jwk],
    header: &crate::state::CredentialHeader,
    expires: Option<i64>,
    spend: &Spend,
) -> Result<CredentialResponse, IssuerError> {
    let config = st.config().credential(configuration_id).ok_or_else(|| IssuerError::internal(format!("configuration {configuration_id} vanished")))?;
    let now = st.now();
    let exp = match expires {
        Some(e) => wallet_core::time::UnixTime::from_claim("exp", e).map_err(IssuerError::internal)?,
        None => now.plus(st.config().credential_ttl),
    };
    // A credential ends no later than the certificate in its `x5c`: verifiers check the chain
    // when they check the credential (IT-Wallet 1.4 §1.3). Only near our CA certificate's
    // own end does this cut a credential short (`Issuer::signing_certificate`).
    let exp = header.certificate_end.map_or(exp, |end| exp.min(end));
    let status_uri = st.config().endpoint(routes::STATUS_LIST_PATH);
    let vct = Vct::new(config.preset.vct()).map_err(IssuerError::internal)?;
    // `vct#integrity` (IT-Wallet 1.4 §4.1, SD-JWT VC §7): W3C SRI over exactly the bytes of
    // the type metadata we serve for the `vct`.
    let integrity = st.type_metadata(vct.as_str()).map(|d| d.integrity.clone());
    // The key the header names (a rotation may have replaced the one in use since).
    let signer = &*header.signer;
    let notification_id = ordered_id()?;
    // Registry columns mapped to SD-JWT VC metadata claims (`issuing_authority`,
    // `issuing_country`...: IT-Wallet §4.1) are set as such, always visible; the rest are
    // the user attributes, all selectively disclosable.
    let (metadata, attributes): (serde_json::Map<String, Value>, serde_json::Map<String, Value>) =
        claims.into_iter().partition(|(k, _)| wallet_core::vc::METADATA_CLAIMS.contains(&k.as_str()));
    // The data model of the `vct` (IT-Wallet 1.4 §4.3–4.5), checked as the wallet will
    // (WP_060): a registry record that breaks it is not signed, and the operator is told
    // which attribute.
    wallet_core::vc::check_data_model(vct.as_str(), &attributes)
        .map_err(|e| IssuerError::internal(format!("the registry record for configuration {configuration_id} breaks the credential's data model: {e}")))?;
    let mut fixed = serde_json::Map::new();
    fixed.insert("issuing_authority".into(), Value::from(st.config().organization_name.clone()));
    fixed.insert("issuing_country".into(), Value::from("IT"));
    fixed.insert("verification".into(), st.config().authentication.verification());
    // The PID's administrative expiry (IT-Wallet 1.4 §4.3: REQUIRED): the registry's when it
    // maps one, otherwise the day its technical validity ends.
    if vct.is_pid() && !metadata.contains_key("date_of_expiry") {
        let (y, m, d) = exp.utc_date();
        fixed.insert("date_of_expiry".into(), Value::from(format!("{y:04}-{m:02}-{d:02}")));
    }
    fixed.extend(metadata);
    let mut credentials = Vec::with_capacity(keys.len());
    let mut rows = Vec::with_capacity(keys.len());
    for (key, idx) in keys.iter().zip(st.status_indices(keys.len())?) {
        let id = ordered_id()?;
        // `sub` (IT-Wallet 1.4 §4.1, REQUIRED in the PID by §4.3): opaque, one per
        // credential, not derived from personal data: our record's id (random past its
        // millisecond prefix), so that each credential of a batch has its own.
        let mut b = SdJwtVcBuilder::new(st.config().entity_id.as_str(), vct.clone(), attributes.clone())
            .validity(now, exp)
            .holder_key(key)
            .status(idx, status_uri.clone())
            .metadata("sub", Value::from(id.clone()));
        for (k, v) in &fixed {
            b = b.metadata(k, v.clone());
        }
        if let Some(integrity) = &integrity {
            b = b.metadata("vct#integrity", Value::from(integrity.clone()));
        }
        let vc = b.sign_encoded(&header.encoded, signer).map_err(IssuerError::internal)?;
        rows.push(Issued {
            id,
            grant_id: grant_id.to_owned(),
            citizen: grant.citizen.clone(),
            configuration_id: configuration_id.to_owned(),
            status_idx: idx,
            status: 0,
            notification_id: notification_id.clone(),
            issued_at: now.secs(),
            expires_at: exp.secs(),
            notified: None,
        });
        credentials.push(IssuedCredential { credential: vc.serialize() });
    }
    // One commit for the whole response and what the request spent: recorded before it
    // leaves, all or none.
    recorded(st.store().insert_issued(&rows, spend).await?)?;
    st.metrics().add(Event::CredentialIssued, u64::try_from(credentials.len()).unwrap_or(0));
    Ok(CredentialResponse::Immediate { credentials, notification_id: Some(notification_id) })
}

fn respond(r: &CredentialResponse) -> Result<Response, IssuerError> {
    let status = StatusCode::from_u16(r.http_status()).unwrap_or(StatusCode::OK);
    Ok(no_store(status, r.to_json().map_err(IssuerError::internal)?))
}

/// `POST /credential` (OpenID4VCI §8, IT-Wallet 1.4 §3.3 steps 14–19, §8): the access
/// token and DPoP (`authorize`), the request parsed and authorized against the token, a
/// first issuance allowed or, with a `refreshed` token, a re-issuance of this grant's
/// credentials marked UPDATE/ATTRIBUTE_UPDATE (the old ones then INVALID), the proofs verified by wallet-core (`c_nonce` ours and
/// unused, each WUA signed by a wallet provider whose chain reaches a trust anchor, each key
/// among its `attested_keys`, distinct keys, at most `batch_size`), each WUA not revoked
/// in its provider's status list (service-kit's status fetcher), the nonces consumed, then the
/// registry: ready → one credential per key; not ready → 202 with a
/// `transaction_id`.
pub async fn credential(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    let r = credential_inner(&st, &headers, &body).await;
    if r.is_err() {
        st.metrics().count(Event::Refused);
    }
    respond(&r?)
}

/// What the synchronous checks of a credential request established.
struct Checked {
    token: VerifiedToken,
    grant: Grant,
    configuration_id: String,
    keys: Vec<Jwk>,
    wuas: Vec<wallet_core::status::StatusReference>,
    /// The WUAs whose provider's trust mark statuses are due ([`crate::state::WalletProviders::mark_statuses_due`]).
    due_wuas: Vec<String>,
    /// The DPoP proof's `jti` and the proofs' nonces, spent with the request's records.
    spend: Spend,
    /// A re-issuance (a `refreshed` token): the ids of the credentials marked for update
    /// when the request was checked (claimed, then set INVALID, once its successors are
    /// signed: `credential_inner`).
    replaces: Vec<String>,
}

async fn credential_inner(st: &Issuer, headers: &HeaderMap, body: &[u8]) -> Result<CredentialResponse, IssuerError> {
    st.fetch_anchor_configurations().await;
    let now = st.now();
    let mut c = match check_request(st, headers, body) {
        Ok(c) => c,
        // A WUA's provider may hold its mark from an issuer outside its chain (OID-FED §7.3),
        // whose keys the static check needs from that issuer's own chain: resolved now when
        // not kept, then the request is checked again (only then: a refused request does
        // not get checked twice for nothing).
        Err(e) => {
            let mut resolved = false;
            for wua in unverified_wuas(body, usize::try_from(st.metadata().batch_size()).unwrap_or(1)) {
                resolved |= st.fetch_mark_issuers(Some(&wua)).await;
            }
            if !resolved {
                return Err(e);
            }
            check_request(st, headers, body)?
        }
    };
    // IT-Wallet 1.4 §1.1 (static plus dynamic), as at PAR and token: a WUA's provider whose
    // trust mark statuses are due is asked about them, then the request is checked again
    // with the answers (the checks have no side effect; once per provider per
    // `trust_mark_status_refresh`).
    if !c.due_wuas.is_empty() {
        for wua in std::mem::take(&mut c.due_wuas) {
            st.prefetch_for_attestation(Some(&wua)).await;
        }
        c = check_request(st, headers, body)?;
        c.due_wuas.clear();
    }
    // IT-Wallet §8: the WUA is not revoked (its provider's Token Status List).
    for reference in &c.wuas {
        match st.wua_statuses().lookup(reference, &st.http().for_request(), st.wallet_providers(), now).await {
            Ok(StatusValue::Valid) => {}
            Ok(v) => return Err(IssuerError::oauth(ErrorCode::InvalidProof, format!("the key attestation (WUA) is {}", v.name()))),
            Err(StatusLookupError::Fetch(e)) => return Err(IssuerError::oauth(ErrorCode::TemporarilyUnavailable, format!("the WUA status list cannot be fetched: {e}"))),
            Err(e) => return Err(IssuerError::oauth(ErrorCode::InvalidProof, format!("the WUA status cannot be established: {e}"))),
        }
    }
    let grant_id = c.token.claims().sub.clone();
    // IT-Wallet 1.4 §2.5: the WUAs are re-checked while the credentials live; on record
    // before any credential is.
    crate::wua_recheck::record(st, &grant_id, &c.wuas)?;
    let source = &st.config().credential(&c.configuration_id).ok_or_else(|| IssuerError::internal("configuration vanished"))?.source;
    match st.registry().lookup(source, &c.grant.citizen)? {
        Record::Ready(claims) => {
            let header = st.credential_header().await?;
            if c.replaces.is_empty() {
                return issue(st, &grant_id, &c.grant, &c.configuration_id, claims, &c.keys, &header, None, &c.spend).await;
            }
            // IT-Wallet 1.4 §3.3 re-issuance, single use: the marked credentials are claimed by
            // one guarded UPDATE (of two concurrent requests, on one replica or two, one gets
            // them, the other is denied); a failure before the successors are recorded gives
            // them back unchanged (still marked: the wallet asks again); recorded, they are
            // INVALID. A process dying in between leaves them marked under a claim whose lease
            // (REISSUE_CLAIM_SECS) ends: re-issuable again, no credential lost.
            let claim = random()?;
            let claimed = st.store().claim_reissue(&grant_id, &c.configuration_id, st.config().update_statuses(), &claim, now.secs(), REISSUE_CLAIM_SECS)?;
            if claimed.is_empty() {
                return Err(IssuerError::oauth(ErrorCode::CredentialRequestDenied, "the credentials marked for update are already being re-issued or were re-issued"));
            }
            // The successors keep the expiry of what they replace (IT-Wallet 1.4 §3.3
            // "Re-issuance": the same expiry; test matrix CI_105, CI_112, CI_115); an expired
            // credential is not re-issued: the citizen goes through a new issuance (CI_106).
            let successors = async {
                let exp = st.store().issued_to(&c.grant.citizen)?.iter().filter(|i| claimed.contains(&i.id)).map(|i| i.expires_at).min();
                if exp.is_some_and(|e| e <= now.secs()) {
                    return Err(IssuerError::oauth(ErrorCode::CredentialRequestDenied, "the credentials marked for update have expired: a new issuance is needed"));
                }
                issue(st, &grant_id, &c.grant, &c.configuration_id, claims, &c.keys, &header, exp, &c.spend).await
            }
            .await;
            let response = match successors {
                Ok(r) => r,
                Err(e) => {
                    if let Err(release) = st.store().release_reissue(&claim) {
                        tracing::warn!(target: "issuer", error = %release, "re-issuance claim not released: its lease will end");
                    }
                    return Err(e);
                }
            };
            let replaced = st.store().finish_reissue(&claim, StatusValue::Invalid.to_u8())?;
            st.metrics().add(Event::StatusChanged, u64::try_from(replaced).unwrap_or(0));
            tracing::info!(target: "issuer", replaced, "credentials re-issued");
            Ok(response)
        }
        Record::NotReady if !c.replaces.is_empty() => {
            Err(IssuerError::oauth(ErrorCode::TemporarilyUnavailable, "the registry record is being updated: retry the re-issuance later"))
        }
        Record::NotReady => {
            let transaction_id = ordered_id()?;
            let keys = serde_json::to_string(&c.keys).map_err(IssuerError::internal)?;
            let d = Deferred { grant_id, configuration_id: c.configuration_id.clone(), keys };
            recorded(st.store().insert_deferred(&transaction_id, &d, now.secs().saturating_add(DEFERRED_TTL), &c.spend)?)?;
            st.metrics().count(Event::Deferred);
            Ok(CredentialResponse::Deferred { transaction_id, interval: st.config().deferred_interval })
        }
        Record::Unknown => Err(IssuerError::oauth(ErrorCode::CredentialRequestDenied, "the registry has no record for this citizen")),
    }
}

/// The distinct WUAs (`key_attestation`) the request's first `max` proofs carry (more are
/// refused), unverified: what [`Issuer::fetch_mark_issuers`] reads to know which mark
/// issuers' chains to resolve before [`check_request`] verifies them.
fn unverified_wuas(body: &[u8], max: usize) -> Vec<String> {
    let Ok(req) = CredentialRequest::parse_json(body) else { return Vec::new() };
    let mut wuas: Vec<String> = Vec::new();
    for proof in req.jwt_proofs().iter().take(max) {
        let Ok(jws) = wallet_core::jose::CompactJws::parse(proof) else { continue };
        if let Some(Value::String(wua)) = jws.header().extra.get(wallet_core::oid4vci::proof::KEY_ATTESTATION_HEADER)
            && !wuas.contains(wua)
        {
            wuas.push(wua.clone());
        }
    }
    wuas
}

fn check_request(st: &Issuer, headers: &HeaderMap, body: &[u8]) -> Result<Checked, IssuerError> {
    let now = st.now();
    let (token, grant, dpop) = authorize(st, headers, routes::CREDENTIAL_PATH)?;
    let req = CredentialRequest::parse_json(body).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let authorized = req.authorize(&token, &st.metadata()).map_err(|e| IssuerError::oauth(e.code(), e))?;
    if !grant.configurations.contains(&authorized.configuration_id) {
        return Err(IssuerError::oauth(ErrorCode::CredentialRequestDenied, "configuration not granted"));
    }
    let replaces = match token.require_first_issuance_allowed() {
        Ok(()) => Vec::new(),
        // A refreshed token re-issues (IT-Wallet 1.4 §3.3 "Refresh"): only credentials of
        // this grant and configuration the issuer marked UPDATE/ATTRIBUTE_UPDATE.
        Err(e) => {
            let grant_id = token.claims().sub.as_str();
            let ids: Vec<String> = st
                .store()
                .issued_to(&grant.citizen)?
                .into_iter()
                .filter(|i| i.grant_id == grant_id && i.configuration_id == authorized.configuration_id && st.config().is_update(i.status))
                .map(|i| i.id)
                .collect();
            if ids.is_empty() {
                return Err(IssuerError::oauth(e.code(TokenKind::Access), e));
            }
            ids
        }
    };
    let metadata = st.metadata();
    let configuration = metadata.configuration(&authorized.configuration_id).ok_or_else(|| IssuerError::oauth(ErrorCode::UnknownCredentialConfiguration, "unknown configuration"))?;

    // Ours and unexpired (read from the nonce itself); unused is settled when the request
    // spends it with its records.
    let seen: Mutex<Vec<(String, i64)>> = Mutex::new(Vec::new());
    let nonce_valid = |n: &str| match st.keys().nonce().check(n, now) {
        Ok(exp) => {
            let mut s = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !s.iter().any(|(x, _)| x == n) {
                s.push((n.to_owned(), exp.secs()));
            }
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    };
    let client_id = Some(token.claims().client_id.as_str()).filter(|c| !c.is_empty());
    let verified = verify_proofs(
        req.jwt_proofs(),
        &ProofExpectation {
            issuer: st.config().entity_id.as_str(),
            client_id,
            nonce_valid: &nonce_valid,
            now,
            max_age: wallet_core::oid4vci::proof::DEFAULT_MAX_AGE,
            skew: SKEW,
            batch_size: st.metadata().batch_size(),
            algs: &[JwsAlg::Es256],
            // IT-Wallet 1.4 §3.3 requires the WUA, hence the default `wallet_attestation =
            // "required"`; `optional` lets wallets outside the IT-Wallet federation (no WUA)
            // interoperate: no `key_attestation` demanded, one sent still verified.
            key_attestations_required: st.config().wallet_attestation.key_attestations_required(configuration.jwt_proof().and_then(|j| j.key_attestations_required.as_ref())),
            wallet_providers: st.wallet_providers(),
            header_memo: Some(st.wua_headers()),
        },
    );
    let verified = verified.map_err(|e| IssuerError::oauth(e.code(), e))?;
    Ok(Checked {
        token,
        grant,
        configuration_id: authorized.configuration_id,
        wuas: verified.key_attestations.iter().map(|w| w.status().clone()).collect(),
        due_wuas: verified
            .key_attestations
            .iter()
            .filter(|w| st.wallet_providers().mark_statuses_due(&w.claims().iss, now.secs()))
            .map(|w| w.jwt().to_owned())
            .collect(),
        keys: verified.keys,
        spend: Spend { jti: Some(dpop_jti(&dpop)), nonces: seen.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) },
        replaces,
    })
}

/// `POST /deferred_credential` (OpenID4VCI §9): the same access token and DPoP; a
/// `transaction_id` of this grant, unused; the registry still not ready → 202 again, ready →
/// the credentials for the keys proven at the credential endpoint (single use).
pub async fn deferred(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    let (token, grant, dpop) = authorize(&st, &headers, routes::DEFERRED_PATH)?;
    remember_dpop(&st, &dpop, true)?;
    let req = DeferredCredentialRequest::parse_json(&body).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let grant_id = token.claims().sub.clone();
    let now = st.now();
    let bad = || IssuerError::oauth(ErrorCode::InvalidTransactionId, "transaction_id unknown, used or of another grant");
    let d = st.store().deferred(&req.transaction_id, now.secs())?.filter(|d| d.grant_id == grant_id).ok_or_else(bad)?;
    let source = &st.config().credential(&d.configuration_id).ok_or_else(|| IssuerError::internal("configuration vanished"))?.source;
    let response = match st.registry().lookup(source, &grant.citizen)? {
        Record::NotReady => CredentialResponse::Deferred { transaction_id: req.transaction_id, interval: st.config().deferred_interval },
        Record::Unknown => return Err(IssuerError::oauth(ErrorCode::CredentialRequestDenied, "the registry no longer has a record for this citizen")),
        Record::Ready(claims) => {
            // Before the transaction is consumed: a refusal leaves it to be asked again.
            let header = st.credential_header().await?;
            if !st.store().consume_deferred(&req.transaction_id)? {
                return Err(bad());
            }
            let keys: Vec<Jwk> = serde_json::from_str(&d.keys).map_err(IssuerError::internal)?;
            issue(&st, &grant_id, &grant, &d.configuration_id, claims, &keys, &header, None, &Spend::default()).await?
        }
    };
    respond(&response)
}

/// `POST /notification` (OpenID4VCI §11): the wallet says what it did with the
/// credentials of a `notification_id` of this grant; 204.
pub async fn notification(State(st): State<Issuer>, headers: HeaderMap, body: axum::body::Bytes) -> Result<Response, IssuerError> {
    let (token, _, dpop) = authorize(&st, &headers, routes::NOTIFICATION_PATH)?;
    remember_dpop(&st, &dpop, true)?;
    let req = NotificationRequest::parse_json(&body).map_err(|e| IssuerError::oauth(e.code(), e))?;
    let event = serde_json::to_value(req.event).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    if !st.store().notify(&req.notification_id, &token.claims().sub, &event)? {
        return Err(IssuerError::oauth(ErrorCode::InvalidNotificationId, "notification_id unknown or of another grant"));
    }
    tracing::info!(target: "issuer", event = %event, "wallet notification");
    Ok(StatusCode::NO_CONTENT.into_response())
}
