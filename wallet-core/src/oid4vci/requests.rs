//! Wallet side: the HTTP requests of the issuance flow as values (the caller, through its
//! [`crate::wallet::HttpClient`], sends them). Headers as IT-Wallet 1.4 §3.3 lists them:
//! client attestation on PAR and token, `DPoP` on token and every resource call,
//! `Authorization: DPoP <access token>` on the credential, deferred and notification
//! endpoints (RFC 9449 §7.1).

use serde::Serialize;

use super::credential::{CredentialRequest, DeferredCredentialRequest, NotificationRequest};
use super::dpop::DPOP_HEADER;
use super::par::ParRequest;
use super::token::TokenRequest;
use crate::attestation::ClientAttestationHeaders;
use crate::wallet::{HttpMethod, HttpRequest};

/// The path of credential issuer metadata (OpenID4VCI §12.2.2).
pub const CREDENTIAL_ISSUER_WELL_KNOWN: &str = "/.well-known/openid-credential-issuer";
/// The path of authorization server metadata (RFC 8414 §3).
pub const AUTHORIZATION_SERVER_WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";
/// The form media type.
const FORM: &str = "application/x-www-form-urlencoded";

/// The metadata URL of `id` (OpenID4VCI §12.2.2, RFC 8414 §3.1): the well-known segment goes
/// between the host and the path (`https://a.example/tenant` →
/// `https://a.example/.well-known/openid-credential-issuer/tenant`). `None` when `id` is not
/// a URL with a host.
pub fn well_known_url(id: &str, well_known: &str) -> Option<String> {
    let u = url::Url::parse(id).ok()?;
    let host = u.host_str()?;
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = u.path().trim_end_matches('/');
    Some(format!("{}://{host}{port}{well_known}{path}", u.scheme()))
}

/// `GET` the credential issuer metadata; `signed` asks for the JWT form (`Accept:
/// application/jwt`, IT-Wallet 1.4).
pub fn metadata_request(issuer: &str, signed: bool) -> Option<HttpRequest> {
    let accept = if signed { "application/jwt" } else { "application/json" };
    Some(HttpRequest::get(well_known_url(issuer, CREDENTIAL_ISSUER_WELL_KNOWN)?).header("Accept", accept))
}

/// `GET credential_offer_uri` (OpenID4VCI §4.1.3).
pub fn offer_request(credential_offer_uri: &str) -> HttpRequest {
    HttpRequest::get(credential_offer_uri).header("Accept", "application/json")
}

fn form_post(url: &str, body: String) -> HttpRequest {
    HttpRequest { method: HttpMethod::Post, url: url.to_owned(), headers: vec![("Content-Type".into(), FORM.into())], body: body.into_bytes() }
}

fn with_attestation(mut r: HttpRequest, h: &ClientAttestationHeaders) -> HttpRequest {
    for (name, value) in h.pairs() {
        r = r.header(name, value);
    }
    r
}

/// `POST` the PAR (IT-Wallet §3.3 steps 1–3).
pub fn par_request(endpoint: &str, par: &ParRequest, attestation: &ClientAttestationHeaders) -> HttpRequest {
    with_attestation(form_post(endpoint, par.to_form()), attestation)
}

/// `POST` a token request with its DPoP proof and, when given, the client attestation
/// (IT-Wallet §3.3 steps 8–11; anonymous pre-authorized access sends none).
pub fn token_request(endpoint: &str, req: &TokenRequest, dpop: &str, attestation: Option<&ClientAttestationHeaders>) -> HttpRequest {
    let r = form_post(endpoint, req.to_form()).header(DPOP_HEADER, dpop);
    match attestation {
        Some(h) => with_attestation(r, h),
        None => r,
    }
}

/// `POST` to the nonce endpoint, empty body (OpenID4VCI §7.1).
pub fn nonce_request(endpoint: &str) -> HttpRequest {
    HttpRequest { method: HttpMethod::Post, url: endpoint.to_owned(), headers: Vec::new(), body: Vec::new() }
}

fn resource<T: Serialize>(endpoint: &str, body: &T, access_token: &str, dpop: &str) -> HttpRequest {
    HttpRequest::json(HttpMethod::Post, endpoint, body).header("Authorization", format!("DPoP {access_token}")).header(DPOP_HEADER, dpop)
}

/// `POST` a credential request (IT-Wallet §3.3 step 14): the DPoP proof must carry `ath`.
pub fn credential_request(endpoint: &str, req: &CredentialRequest, access_token: &str, dpop: &str) -> HttpRequest {
    resource(endpoint, req, access_token, dpop)
}

/// `POST` a deferred credential request (OpenID4VCI §9.1).
pub fn deferred_request(endpoint: &str, req: &DeferredCredentialRequest, access_token: &str, dpop: &str) -> HttpRequest {
    resource(endpoint, req, access_token, dpop)
}

/// `POST` a notification (OpenID4VCI §11.1).
pub fn notification_request(endpoint: &str, req: &NotificationRequest, access_token: &str, dpop: &str) -> HttpRequest {
    resource(endpoint, req, access_token, dpop)
}

/// Issuer side: the access token of `Authorization: DPoP <token>` (RFC 9449 §7.1; the scheme
/// is case-insensitive). A `Bearer` token is refused: IT-Wallet tokens are DPoP-bound.
pub fn dpop_access_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("DPoP") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid4vci::credential::NotificationEvent;

    #[test]
    fn well_known_urls() {
        assert_eq!(well_known_url("https://i.example", CREDENTIAL_ISSUER_WELL_KNOWN).as_deref(), Some("https://i.example/.well-known/openid-credential-issuer"));
        assert_eq!(well_known_url("https://i.example/", CREDENTIAL_ISSUER_WELL_KNOWN).as_deref(), Some("https://i.example/.well-known/openid-credential-issuer"));
        assert_eq!(
            well_known_url("https://i.example:8443/tenant", AUTHORIZATION_SERVER_WELL_KNOWN).as_deref(),
            Some("https://i.example:8443/.well-known/oauth-authorization-server/tenant")
        );
        assert_eq!(well_known_url("not a url", CREDENTIAL_ISSUER_WELL_KNOWN), None);
        let r = metadata_request("https://i.example", true).unwrap();
        assert_eq!(r.header_value("accept"), Some("application/jwt"));
    }

    #[test]
    fn requests_carry_their_headers() {
        let h = ClientAttestationHeaders { attestation: "waa".into(), pop: "pop".into() };
        let par = par_request("https://i.example/par", &ParRequest { client_id: "c".into(), request: "r".into() }, &h);
        assert_eq!(par.method, HttpMethod::Post);
        assert_eq!(par.body, b"client_id=c&request=r");
        assert_eq!(par.header_value("OAuth-Client-Attestation"), Some("waa"));
        assert_eq!(par.header_value("OAuth-Client-Attestation-PoP"), Some("pop"));
        let t = token_request("https://i.example/token", &TokenRequest::RefreshToken { refresh_token: "rt".into(), scope: None }, "proof", None);
        assert_eq!(t.header_value("dpop"), Some("proof"));
        assert_eq!(t.header_value("OAuth-Client-Attestation"), None);
        let n = NotificationRequest { notification_id: "n".into(), event: NotificationEvent::CredentialAccepted, event_description: None };
        let r = notification_request("https://i.example/notification", &n, "at", "proof");
        assert_eq!(r.header_value("authorization"), Some("DPoP at"));
        assert_eq!(dpop_access_token(r.header_value("authorization").unwrap()), Some("at"));
        assert_eq!(dpop_access_token("Bearer at"), None);
        assert_eq!(dpop_access_token("dpop  at "), Some("at"));
        assert_eq!(nonce_request("https://i.example/nonce").body, Vec::<u8>::new());
        assert_eq!(offer_request("https://i.example/o/1").method, HttpMethod::Get);
    }
}
