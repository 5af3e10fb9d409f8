//! The issuer plan: a credential issuer tested from outside as a wallet sees it (the `CI` rows;
//! IT-Wallet 1.4 `credential-issuer-*.rst`, digest §3).
//!
//! * the publication rows (`CI_001`–`CI_009`, this module): the Entity Configuration, its
//!   keys in the superior's Subordinate Statement, its trust marks, its metadata types, and the
//!   issuer metadata at `/.well-known/openid-credential-issuer`;
//! * the protocol rows ([`protocol`]): the tool as an activated wallet ([`wallet`]), honest
//!   (offer, token, nonce, batch, deferred, notification) and hostile (one bad input each, the
//!   spec's error code expected);
//! * PAR and `/authorize` ([`par`]): the tool as a wallet instance with a Wallet Attestation,
//!   its request objects honest and hostile, the `request_uri`s it gets;
//! * the citizen's PID login and the authorization code ([`pid_login`]): the tool presents a
//!   PID over OpenID4VP to the issuer, then redeems the code;
//! * what is issued ([`credential`]): the SD-JWT VC, its binding and status, the status list.
//!
//! The protocol rows need the issuer's admin API for offers and a wallet provider's key
//! ([`crate::target::IssuerSetup`]); without them they are skipped.

pub mod credential;
pub mod par;
pub mod pid_login;
pub mod protocol;
pub mod refresh;
pub mod wallet;

use serde_json::Value;
use wallet_core::jose::Jwk;

use super::entity::{self, keys};
use super::jwt::Jwt;
use crate::case::{Case, Ctx, Step, ensure, fail, skip};
use crate::plan::Plan;

/// The metadata types every credential issuer publishes (IT-Wallet 1.4 §3, CI_008).
const ISSUER_TYPES: [&str; 3] = ["federation_entity", "oauth_authorization_server", "openid_credential_issuer"];

macro_rules! case {
    ($id:literal, $run:path, $sends:literal, $expects:literal) => {
        Case { id: $id, plan: Plan::Issuer, sends: $sends, expects: $expects, run: $run }
    };
}

/// The plan's cases, in matrix order.
pub static CASES: &[Case] = &[
    case!("CI_001", ci_001, "GET /.well-known/openid-federation", "200 with the issuer's Entity Configuration about itself"),
    case!("CI_002", ci_002, "GET /.well-known/openid-federation", "Content-Type application/entity-statement+jwt"),
    case!("CI_003", ci_003, "GET the Entity Configuration", "signed with a key of its own jwks, allowed alg, typ entity-statement+jwt"),
    case!("CI_004", ci_004, "GET the Entity Configuration and the superior's fetch?sub=<issuer>", "the signing key is in both"),
    case!("CI_005", ci_005, "GET the Entity Configuration", "one or more trust marks about the issuer, unexpired"),
    case!("CI_006", ci_006, "GET the Entity Configuration", "iss, sub, iat, exp, jwks and metadata present and well formed"),
    case!("CI_007", ci_007, "GET /.well-known/openid-federation and /.well-known/openid-credential-issuer", "both served; the metadata names the issuer"),
    case!("CI_008", ci_008, "GET the Entity Configuration", "metadata with federation_entity, oauth_authorization_server and openid_credential_issuer"),
    case!("CI_009", ci_009, "GET the Entity Configuration (when the issuer authenticates citizens with their PID)", "openid_credential_verifier metadata as well"),
    case!("CI_010", protocol::ci_010, "an offer from the admin API", "an offer URL with the credential_offer parameter alone"),
    case!("CI_012", protocol::ci_012, "an offer from the admin API", "credential_issuer (the issuer), known credential_configuration_ids, grants"),
    case!("CI_013", protocol::ci_013, "an offer from the admin API", "a pre-authorized code; tx_code's length and input_mode those of the code sent; authorization_server listed"),
    case!("CI_014", protocol::ci_014, "an honest credential request", "200 application/json, credentials an array of objects with a credential"),
    case!("CI_015", par::ci_015, "a PAR whose request object was altered after signing", "400/401 with invalid_request, invalid_request_object or invalid_client"),
    case!("CI_015a", par::ci_015a, "a PAR whose request object says alg ES384 but is signed ES256", "refused"),
    case!("CI_015b", par::ci_015b, "a PAR whose request object is signed by a key it carries (jwk header), not the WAA's cnf.jwk", "refused"),
    case!("CI_016", par::ci_016, "an honest PAR sent as application/x-www-form-urlencoded; charset=UTF-8", "2xx"),
    case!("CI_015c", par::ci_015c, "a PAR whose request object is signed by the WAA's key but whose kid names another key", "refused"),
    case!("CI_015d", par::ci_015d, "a forged request object (signed by another key), then the honest one with the same jti", "the forged refused, the honest accepted"),
    case!("CI_018", par::ci_018, "a PAR whose request object is signed by another key than the WAA's cnf.jwk", "refused"),
    case!("CI_019", par::ci_019, "a PAR with an unsigned request object (alg none)", "refused"),
    case!("CI_020", par::ci_020, "a PAR whose request object's client_id is not the body's", "refused"),
    case!("CI_021", par::ci_021, "a PAR whose request object's iss is not its client_id", "refused"),
    case!("CI_022", par::ci_022, "a PAR whose request object's aud is another issuer", "refused"),
    case!("CI_023", par::ci_023, "a PAR carrying request_uri", "refused"),
    case!("CRFCI_024", par::crfci_024, "a PAR whose request object has no code_challenge", "refused"),
    case!("CI_025", par::ci_025, "a PAR with an expired request object", "refused"),
    case!("CI_026", par::ci_026, "a PAR with a request object issued 10 minutes in the future", "refused"),
    case!("CI_026a", par::ci_026a, "a PAR with a request object issued more than 5 minutes ago, unexpired", "refused"),
    case!("CI_027", par::ci_027, "the same request object (jti) pushed twice", "the second refused"),
    case!("CI_028", par::ci_028, "a PAR whose client attestation PoP is signed by another key", "401 invalid_client (or use_fresh_attestation)"),
    case!("CI_029", par::ci_029, "a PAR with a WAA of typ JWT (signed by its provider)", "401 invalid_client"),
    case!("CI_030", par::ci_030, "a PAR with a WAA whose iss is outside the federation", "401 invalid_client"),
    case!("CI_031", par::ci_031, "a PAR with a WAA not signed by its provider", "401 invalid_client"),
    case!("CI_032", par::ci_032, "a PAR with an expired WAA", "401 invalid_client or use_fresh_attestation"),
    case!("CI_035", par::ci_035, "a PAR with a WAA whose trust_chain does not reach the anchor", "401 invalid_client"),
    case!("CI_036", par::waa_without_chain, "a PAR whose WAA carries no trust_chain header", "201: the provider's chain collected through the Federation API"),
    case!("CI_037", par::waa_without_chain, "a PAR whose WAA carries no trust_chain header", "201: trust in the provider established through the Federation API"),
    case!("CI_033", protocol::ci_033, "a key proof whose key the WUA does not attest", "400 invalid_proof"),
    case!("CI_038", par::ci_038, "three honest PARs", "three different request_uris"),
    case!("CI_039", par::ci_039, "an honest PAR, then /authorize with its request_uri and another client_id", "400"),
    case!("CI_040", par::ci_040, "an honest PAR", "expires_in under 60 seconds"),
    case!("CI_041", par::ci_041, "two honest PARs", "request_uris with 128 random bits or more, different"),
    case!("CI_042", par::ci_042, "an honest PAR", "a request_uri of at most 512 ASCII characters"),
    case!("CI_043", par::ci_043, "an honest PAR (WAA, PoP, request object signed by the WAA key)", "201"),
    case!("CI_044", par::ci_044, "an honest PAR", "an application/json object"),
    case!("CI_044a", par::ci_044a, "an honest PAR", "request_uri"),
    case!("CI_044b", par::ci_044b, "an honest PAR", "expires_in, a positive integer"),
    case!("CI_045", par::ci_045, "a PAR without client attestation", "400/401 application/json with a registered error code"),
    case!("CI_047", par::ci_047, "an honest PAR, then /authorize with its request_uri twice", "the second time 400"),
    case!("CI_049", par::ci_049, "/authorize with a request_uri never issued, twice", "400 both times"),
    case!("CI_050", par::ci_050, "/authorize without request_uri (response_type, redirect_uri in the query)", "400"),
    case!("CI_054", pid_login::ci_054, "the PID login (PAR, /authorize, the OpenID4VP request, a PID of --issuer-pid-provider), then the code at /token; a forged PID", "a code the token endpoint redeems; no code for the forged PID"),
    case!("CI_055", pid_login::ci_055, "an honest PAR, then /authorize", "a redirect to an OpenID4VP request by reference: vp_token, direct_post.jwt, DCQL for a dc+sd-jwt PID"),
    case!("CI_056", pid_login::ci_056, "the OpenID4VP request's request_uri", "application/oauth-authz-req+jwt passing every wallet check (signature, trust chain, client_id, response_uri, nonce, exp)"),
    case!("CI_058", pid_login::ci_058, "the PID login", "an authorization response with code, state and iss"),
    case!("CI_058a", pid_login::ci_058a, "the PID login", "the authorization response carries the code"),
    case!("CI_058b", pid_login::ci_058b, "the PID login", "the authorization response's state is the request's"),
    case!("CI_058c", pid_login::ci_058c, "the PID login", "the authorization response's iss is the issuer"),
    case!("CI_059", par::ci_059, "an honest PAR, then /authorize (when it ends in an error at once), or the PID request declined", "302 to the redirect_uri (or the response_uri's redirect_uri) with error, the request's state and iss"),
    case!("CI_060", pid_login::ci_060, "the PID login's code at /token with another instance's attestation; then with its own, twice", "refused; then 200, then 400 invalid_grant"),
    case!("CI_061", protocol::ci_061, "the pre-authorized code redeemed a second time", "400 invalid_grant"),
    case!("CI_061a", pid_login::ci_061a, "the PID login's code at /token with another code_verifier; with none", "400 invalid_grant; 400"),
    case!("CI_062", pid_login::ci_062, "the PID login's code at /token with another redirect_uri", "400 invalid_grant"),
    case!("CI_063", protocol::ci_063, "a token request without a DPoP proof", "400 invalid_dpop_proof"),
    case!("CI_064", protocol::ci_064, "an honest token request (pre-authorized code, tx_code, DPoP)", "200 JSON, no-store: access_token, token_type DPoP, expires_in"),
    case!("CI_065", protocol::ci_065, "an honest token request (when refresh_token is a supported grant)", "a refresh_token JWT"),
    case!("CI_066", protocol::ci_066, "the access token with a DPoP proof by another key at the credential endpoint", "401"),
    case!("CI_067", protocol::ci_067, "a token request with an unknown grant_type", "400 unsupported_grant_type"),
    case!("CI_068", protocol::ci_068, "POST nonce_endpoint", "200 JSON, no-store, a c_nonce"),
    case!("CI_069", protocol::ci_069, "POST nonce_endpoint three times", "three different c_nonces of 128 bits or more"),
    case!("CI_070", protocol::ci_070, "a batch of two proofs (two keys) on one c_nonce", "200, two credentials"),
    case!("CI_071", protocol::ci_071, "a key proof without aud", "400 invalid_proof"),
    case!("CI_072", protocol::ci_072, "a batch of two proofs of the same key", "400 invalid_proof"),
    case!("CI_073", protocol::ci_073, "a key proof with typ JWT", "400 invalid_proof"),
    case!("CI_074", protocol::ci_074, "an unsigned key proof (alg none)", "400 invalid_proof"),
    case!("CI_075", protocol::ci_075, "a key proof signed by another key than its jwk", "400 invalid_proof"),
    case!("CI_076", protocol::ci_076, "a key proof whose jwk carries the private key", "400 invalid_proof"),
    case!("CI_077", protocol::ci_077, "a key proof with a nonce the issuer never gave", "400 invalid_nonce"),
    case!("CI_078", protocol::ci_078, "a key proof issued an hour ago", "400 invalid_proof"),
    case!("CI_079", credential::ci_079, "an honest credential request, then GET its status list", "the credential's index in the list, VALID"),
    case!("CI_081", protocol::ci_081, "a credential request for a credential not ready (--issuer-deferred-citizen), then the deferred endpoint", "202 transaction_id and interval; the deferred endpoint 202 (or 200)"),
    case!("CI_082", protocol::ci_082, "a DPoP proof whose ath hashes another access token", "401"),
    case!("CI_083", protocol::ci_083, "a key proof without the WUA (key_attestation) the configuration requires", "400 invalid_proof"),
    case!("CI_084", credential::ci_084, "an honest credential request", "the credential's cnf.jwk is the proof's key"),
    case!("CI_084a", credential::ci_084a, "an honest credential request", "the credential's vct is the configuration's"),
    case!("CI_085", protocol::ci_085, "a credential request with an access token the issuer never issued", "401"),
    case!("CI_086", protocol::ci_086, "a batch of two proofs", "two credentials and one notification_id"),
    case!("CI_087", protocol::ci_087, "a notification with an unknown notification_id", "400 invalid_notification_id"),
    case!("CI_088", refresh::ci_088, "issue, refresh, then the refreshed access token at the deferred, notification and credential endpoints", "invalid_transaction_id, 204, and no new credential (4xx)"),
    case!("CI_088a", protocol::ci_088a, "the deferred endpoint without, then with the access token (unknown transaction_id)", "401, then 400 invalid_transaction_id"),
    case!("CI_088b", protocol::ci_088b, "the notification endpoint without, then with the access token", "401, then 204"),
    case!("CI_089c", protocol::ci_089c, "the credential endpoint without, then with the access token", "401, then 200 with the credential"),
    case!("CI_090", refresh::ci_090, "an honest token request with DPoP (refresh token given)", "the refresh token's cnf.jkt is the DPoP key's thumbprint"),
    case!("CI_091", refresh::ci_091, "an attested token request, then refreshes with a PoP by another key and with the WAA's key", "invalid_client, then 200"),
    case!("CI_092", refresh::ci_092, "a refresh request whose DPoP proof is for another URL (htu)", "400 invalid_dpop_proof"),
    case!("CI_093", refresh::ci_093, "a refresh with another key's DPoP proof, then with the token's own key", "400 invalid_grant (or invalid_dpop_proof), then 200"),
    case!("CI_094", refresh::ci_094, "an honest refresh (when the issuer answers it at once)", "a new access token and a new refresh token, both bound to the DPoP key"),
    case!("CI_095", refresh::ci_095, "an honest refresh (when the issuer answers it at once)", "access_token and refresh_token in the response"),
    case!("CI_096", refresh::ci_096, "a refresh request with a refresh token never issued", "400 invalid_grant"),
    case!("CI_098", protocol::ci_098, "GET the issuer and authorization server metadata", "every endpoint https (http only on a loopback host)"),
    case!("CI_099", refresh::ci_099, "a refresh request with the refresh token altered (nbf dropped, signature kept)", "400 invalid_grant"),
    case!("CI_100", refresh::ci_100, "an honest token request, then a refresh with another key's DPoP proof and with its own", "cnf.jkt the DPoP key's; refused, then 200"),
    case!("CI_101", refresh::ci_101, "an honest token request with DPoP (refresh token given)", "the access and refresh tokens bound to the same key"),
    case!("CI_102", refresh::ci_102, "a refresh request without a DPoP proof", "400 invalid_dpop_proof"),
    case!("CI_104", refresh::ci_104, "an honest token request (refresh token given)", "the refresh token expires (exp after iat, within a year)"),
    case!("CI_105", refresh::reissued_same_expiry, "issue, mark for update (admin API), refresh, ask again", "the re-issued credential's exp is the replaced one's"),
    case!("CI_108", refresh::first_issuance_refused, "an honest refresh, then a first credential request with the refreshed access token", "4xx: refreshed tokens never issue what the wallet does not hold"),
    case!("CI_112", refresh::reissued_same_expiry, "issue, mark for update (admin API), refresh, ask again", "the same exp as the previous version"),
    case!("CI_114", refresh::first_issuance_refused, "an honest refresh, then a first credential request with the refreshed access token", "4xx: no first-time issuance with a refreshed token"),
    case!("CI_115", refresh::reissued_same_expiry, "issue, mark for update (admin API), refresh, ask again", "the same exp as the previous version (mandatory)"),
    case!("CI_117", credential::ci_117, "an offer of the PID configuration, then an honest credential request", "the PID table's user attributes, selectively disclosable"),
    case!("CI_118", credential::ci_118, "GET the issuer metadata", "the (Q)EAA configurations in format dc+sd-jwt or mso_mdoc"),
    case!("CI_119", credential::ci_119, "GET the issuer metadata", "the PID configurations in format dc+sd-jwt or mso_mdoc"),
    case!("CI_120", credential::ci_120, "an honest credential request", "the SD-JWT verifies with a key of the metadata's jwks"),
    case!("CI_121", credential::ci_121, "an honest credential request, then GET its vct's type metadata", "every disclosed claim described in claims"),
    case!("CI_122", credential::ci_122, "an honest credential request", "_sd_alg and a top-level _sd array of digests"),
    case!("CI_123", credential::ci_123, "an honest credential request", "_sd_alg sha-256"),
    case!("CI_124", credential::ci_124, "an honest credential request", "_sd entries base64url digests; no disclosed claim also plain"),
    case!("CI_125", credential::ci_125, "an honest credential request", "every disclosure a JSON array whose digest is in the payload"),
    case!("CI_126", credential::ci_126, "an honest credential request", "no digest twice across the _sd arrays of every level"),
    case!("CI_130", credential::ci_130, "an honest credential request", "base64url parts separated by single ~, ending with ~"),
    case!("CI_131", credential::ci_131, "an honest credential request", "typ dc+sd-jwt, an allowed alg, kid, x5c or trust_chain"),
    case!("CI_132", credential::ci_132, "an honest credential request", "iss (the issuer), iat, exp in the future, vct, cnf, status"),
    case!("CI_133", credential::ci_133, "an honest credential request", "status.status_list with a non-negative integer idx and a URL uri"),
    case!("CI_134", credential::ci_134, "an honest credential request, then GET its vct's type metadata", "200 JSON object"),
    case!("CI_134a", credential::ci_134a, "GET the type metadata of the credential's vct with its case changed", "not served"),
    case!("CI_135", credential::ci_135, "GET the credential's type metadata", "vct (the credential's); name, description, display, claims, extends well typed"),
    case!("CI_159", credential::ci_159, "a batch of two proofs", "each credential its own status list entry"),
    case!("CI_175", credential::ci_175, "an honest credential request, then GET its status list", "a Token Status List that verifies (wallet-core) and holds the credential's index"),
    case!("CI_176", credential::ci_176, "an honest credential request, then GET its status list", "the credential's idx in the list, VALID"),
    case!("CI_177", credential::ci_177, "GET the status list of an issued credential", "a JWT with typ statuslist+jwt signed with the issuer's key"),
    case!("CI_178", credential::ci_178, "GET the status list of an issued credential", "bits 1, 2, 4 or 8"),
    case!("CI_179", credential::ci_179, "GET the status list of an issued credential", "the list covers the credential's index"),
    case!("CI_180", credential::ci_180, "issue, revoke through the admin API, GET the status list", "the entry at the credential's idx (LSB first) INVALID"),
    case!("CI_181", credential::ci_181, "GET the status list of an issued credential", "lst inflates (ZLIB/DEFLATE)"),
    case!("CI_181a", credential::ci_181a, "GET the status list of an issued credential", "lst's ZLIB header says maximum compression (FLEVEL 3)"),
    case!("CI_182", credential::ci_182, "GET the status list of an issued credential", "2xx"),
    case!("CI_183", credential::ci_183, "GET the status list of an issued credential", "every entry a status value IT-Wallet defines (0x00-0x03, 0x0B/0x0F)"),
    case!("CI_185", credential::ci_185, "GET the status list of an issued credential", "sub (the credential's uri), iat, exp, ttl, status_list"),
    case!("CI_186", credential::ci_186, "GET the status list of an issued credential", "exp at most 24 h after iat"),
    case!("CI_187", credential::ci_187, "GET the status list of an issued credential", "status_list {bits, lst}"),
    case!("CI_189", credential::ci_189, "an honest credential request", "status.status_list present"),
    case!("CI_190", credential::ci_190, "an honest credential request", "status_list's idx and uri"),
    case!("CI_191", credential::ci_191, "GET the status list with Accept application/statuslist+jwt", "2xx, Content-Type application/statuslist+jwt"),
    case!("CI_192", credential::ci_192, "GET the status list with Accept-Encoding gzip", "2xx, Content-Encoding gzip, the token once decompressed"),
];

fn configuration(ctx: &mut Ctx<'_>) -> Step<Jwt> {
    entity::configuration(ctx).map(|(_, ec)| ec)
}

fn ci_001(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    entity::self_issued(ctx, &ec)
}

fn ci_002(ctx: &mut Ctx<'_>) -> Step<()> {
    let (r, _) = entity::configuration(ctx)?;
    entity::media_type(ctx, &r)
}

fn ci_003(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    entity::allowed_alg(&ec)?;
    entity::explicit_typ(&ec)?;
    entity::self_signed(&ec)
}

fn ci_004(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let Some(kid) = ec.header_str("kid").map(str::to_owned) else { return fail("the Entity Configuration has no kid") };
    let Some(signing) = keys(&ec).into_iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str())) else {
        return fail(format!("the signing key `{kid}` is not in the Entity Configuration's jwks"));
    };
    let tp = |k: &Value| Jwk::from_value(k).ok().map(|j| j.thumbprint().as_str().to_owned());
    let signing_tp = tp(&signing);
    let Some(superior) = ec.payload.get("authority_hints").and_then(Value::as_array).and_then(|h| h.first()).and_then(Value::as_str).map(str::to_owned) else {
        return fail("no authority_hints: no superior to ask");
    };
    let r = ctx.get(&format!("{}/.well-known/openid-federation", superior.trim_end_matches('/')), &[])?;
    ensure(r.status == 200, || format!("the superior {superior} answered {}", r.status))?;
    let sup = Jwt::decode("the superior's Entity Configuration", &r.text())?;
    let Some(fetch) = sup.payload.get("metadata").and_then(|m| m.get("federation_entity")).and_then(|f| f.get("federation_fetch_endpoint")).and_then(Value::as_str) else {
        return fail(format!("the superior {superior} publishes no federation_fetch_endpoint"));
    };
    let me = ctx.target.entity_id.to_string();
    let url = format!("{fetch}{}sub={}", if fetch.contains('?') { '&' } else { '?' }, url::form_urlencoded::byte_serialize(me.as_bytes()).collect::<String>());
    let r = ctx.get(&url, &[])?;
    ensure(r.status == 200, || format!("the superior's fetch of the issuer answered {}", r.status))?;
    let ss = Jwt::decode("the Subordinate Statement", &r.text())?;
    ctx.record_jwt("Subordinate Statement about the issuer", &ss.raw);
    ss.verify_with("the Subordinate Statement", &keys(&sup))?;
    let in_ss = keys(&ss).iter().any(|k| tp(k).is_some() && tp(k) == signing_tp);
    ensure(in_ss, || format!("the superior's Subordinate Statement does not carry the issuer's signing key `{kid}`"))
}

fn ci_005(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let marks = ec.payload.get("trust_marks").and_then(Value::as_array).cloned().unwrap_or_default();
    ensure(!marks.is_empty(), || "the Entity Configuration carries no trust_marks".into())?;
    let me = ctx.target.entity_id.to_string();
    let now = wallet_core::time::UnixTime::now().secs();
    for m in &marks {
        let Some(t) = m.get("trust_mark").and_then(Value::as_str) else { return fail("a trust_marks entry has no trust_mark") };
        let jwt = Jwt::decode("a trust mark", t)?;
        ctx.record_jwt("trust mark", t);
        ensure(jwt.claim_str("sub") == Some(me.as_str()), || format!("a trust mark is about {:?}, not the issuer", jwt.claim_str("sub")))?;
        let ty = m.get("trust_mark_type").and_then(Value::as_str);
        ensure(ty.is_some() && ty == jwt.claim_str("trust_mark_type"), || format!("trust_mark_type {ty:?} does not match the mark's"))?;
        ensure(jwt.claim_i64("exp").is_none_or(|e| e > now), || "a trust mark is expired".into())?;
    }
    Ok(())
}

fn ci_006(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    for claim in ["iss", "sub", "iat", "exp", "jwks", "metadata"] {
        ensure(ec.payload.contains_key(claim), || format!("no `{claim}`"))?;
    }
    entity::self_issued(ctx, &ec)?;
    entity::valid_now("the Entity Configuration", &ec)?;
    entity::public_jwks("jwks", ec.payload.get("jwks"))?;
    ensure(ec.payload.get("metadata").is_some_and(Value::is_object), || "metadata is not an object".into())
}

fn ci_007(ctx: &mut Ctx<'_>) -> Step<()> {
    let _ = configuration(ctx)?;
    let url = ctx.target.url("/.well-known/openid-credential-issuer");
    let r = ctx.get(&url, &[("accept", "application/json")])?;
    ensure(r.status == 200, || format!("GET {url} answered {}", r.status))?;
    let v = match r.json() {
        Ok(v) => v,
        Err(e) => return fail(format!("the issuer metadata is not JSON: {e}")),
    };
    let me = ctx.target.entity_id.to_string();
    ensure(v.get("credential_issuer").and_then(Value::as_str) == Some(me.as_str()), || format!("credential_issuer {:?} is not {me}", v.get("credential_issuer")))
}

fn ci_008(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    for t in ISSUER_TYPES {
        entity::metadata_of(&ec, t)?;
    }
    let ci = entity::metadata_of(&ec, "openid_credential_issuer")?;
    for field in ["credential_issuer", "credential_endpoint", "nonce_endpoint"] {
        ensure(ci.get(field).and_then(Value::as_str).is_some(), || format!("openid_credential_issuer has no {field}"))?;
    }
    ensure(ci.get("credential_configurations_supported").and_then(Value::as_object).is_some_and(|c| !c.is_empty()), || {
        "openid_credential_issuer has no credential_configurations_supported".into()
    })?;
    let asm = entity::metadata_of(&ec, "oauth_authorization_server")?;
    for field in ["issuer", "token_endpoint"] {
        ensure(asm.get(field).and_then(Value::as_str).is_some(), || format!("oauth_authorization_server has no {field}"))?;
    }
    Ok(())
}

fn ci_009(ctx: &mut Ctx<'_>) -> Step<()> {
    let ec = configuration(ctx)?;
    let asm = entity::metadata_of(&ec, "oauth_authorization_server")?;
    let codes = asm.get("grant_types_supported").and_then(Value::as_array).is_some_and(|g| g.iter().any(|x| x == "authorization_code"));
    let verifier = ec.payload.get("metadata").and_then(|m| m.get("openid_credential_verifier"));
    match (codes, verifier) {
        (_, Some(v)) => {
            ensure(v.is_object(), || "openid_credential_verifier is not an object".into())?;
            let v = v.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
            ctx.note(format!("openid_credential_verifier: {}", v.join(", ")));
            Ok(())
        }
        (false, None) => skip("the issuer does not authenticate citizens at /authorize (no authorization_code grant)"),
        (true, None) => skip("the issuer authenticates citizens otherwise than with their PID (no openid_credential_verifier)"),
    }
}
