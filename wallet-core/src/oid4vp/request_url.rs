//! Authorization Request URLs (OpenID4VP 1.0 §5, §5.10; IT-Wallet 1.4 §5.1 "Wallet
//! invocation"): `openid4vp://`, `haip-vp://` or the wallet's `https` authorization endpoint,
//! carrying `client_id` and the request object by value (`request`) or by reference
//! (`request_uri` with `request_uri_method` `get` or `post`).
//!
//! Both sides use this module: the verifier builds the URL it shows as a QR code or a link;
//! the wallet parses what it scanned, then fetches the request object with
//! [`RequestRef::fetch_request`] (for `post`, with [`RequestUriPost`]: its `wallet_metadata`
//! and `wallet_nonce`, OpenID4VP §5.10.1), and the verifier parses that POST body with
//! [`RequestUriPost::parse_form`].
//!
//! Refused: another scheme, a parameter given twice, no `client_id`, both `request` and
//! `request_uri`, neither (IT-Wallet uses signed request objects only), `request_uri_method`
//! without `request_uri` or with another value, a `request_uri` that is not `https` (or
//! `http` on loopback, for a federation on one machine). Unknown parameters are ignored
//! (RFC 6749 §3.1).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client_id::{ClientId, ClientIdError};
use crate::jose::b64;
use crate::wallet::query;
use crate::wallet::{HttpMethod, HttpRequest};

/// The longest request URL we parse (a request object by value fits).
pub const MAX_REQUEST_URL_LEN: usize = 256 * 1024;
/// The media type of a request object (RFC 9101 §10.2).
pub const REQUEST_OBJECT_MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";
/// The longest `wallet_nonce` we accept (ours are 32 bytes of base64url).
pub const MAX_WALLET_NONCE_LEN: usize = 256;

/// Why a request URL or a `request_uri` POST body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestUrlError {
    /// Longer than [`MAX_REQUEST_URL_LEN`].
    #[error("request URL too long")]
    TooLong,
    /// Not `openid4vp://`, `haip-vp://` or `https://`.
    #[error("unsupported wallet invocation scheme `{0}`")]
    UnknownScheme(String),
    /// The query does not decode.
    #[error("malformed query string")]
    MalformedQuery,
    /// A parameter appears twice (RFC 6749 §3.1: MUST NOT).
    #[error("parameter `{0}` given more than once")]
    DuplicateParameter(String),
    /// No `client_id`.
    #[error("client_id missing")]
    MissingClientId,
    /// The `client_id` is unusable.
    #[error("client_id: {0}")]
    ClientId(#[from] ClientIdError),
    /// Both `request` and `request_uri` (RFC 9101 §5: one or the other).
    #[error("both request and request_uri given")]
    BothRequestAndRequestUri,
    /// Neither `request` nor `request_uri`: IT-Wallet requires a signed request object.
    #[error("neither request nor request_uri given")]
    NoRequestObject,
    /// `request_uri_method` without `request_uri` (OpenID4VP §5.10).
    #[error("request_uri_method given without request_uri")]
    MethodWithoutRequestUri,
    /// `request_uri_method` other than `get` or `post`.
    #[error("request_uri_method `{0}` is neither get nor post")]
    InvalidRequestUriMethod(String),
    /// `request_uri` is not an `https` URL.
    #[error("request_uri is not an https URL")]
    RequestUriNotHttps,
    /// `request` is empty.
    #[error("request is empty")]
    EmptyRequest,
    /// The `request_uri` POST body lacks or mangles a field.
    #[error("request_uri POST body: {0}")]
    BadPostBody(&'static str),
}

impl RequestUrlError {
    /// The OpenID4VP error code.
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::ClientId(_) => "invalid_client",
            Self::InvalidRequestUriMethod(_) => "invalid_request_uri_method",
            Self::RequestUriNotHttps => "invalid_request_uri",
            _ => "invalid_request",
        }
    }
}

/// How the wallet was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletInvocation {
    /// `openid4vp://` (OpenID4VP §13.1.2).
    Openid4vp,
    /// `haip-vp://` (HAIP).
    HaipVp,
    /// The wallet's `https` authorization endpoint (its metadata's `authorization_endpoint`),
    /// without query.
    Https(String),
}

impl WalletInvocation {
    fn base(&self) -> &str {
        match self {
            Self::Openid4vp => "openid4vp://",
            Self::HaipVp => "haip-vp://",
            Self::Https(u) => u,
        }
    }
}

/// `request_uri_method` (OpenID4VP §5.10): absent means `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestUriMethod {
    /// `GET request_uri`.
    #[default]
    Get,
    /// `POST request_uri` with `wallet_metadata` and `wallet_nonce`.
    Post,
}

impl RequestUriMethod {
    /// The parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
        }
    }
}

/// Where the request object is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestRef {
    /// `request`: the signed request object itself.
    Value(String),
    /// `request_uri` (+ `request_uri_method`).
    Uri {
        /// The URL to fetch.
        uri: String,
        /// How.
        method: RequestUriMethod,
        /// Whether `request_uri_method` was present in the URL (kept for round trips).
        explicit_method: bool,
    },
}

impl RequestRef {
    /// The HTTP request that fetches a by-reference request object: `GET`, or `POST` with
    /// `post`'s form body (`wallet_metadata`, `wallet_nonce`), both with
    /// `Accept: application/oauth-authz-req+jwt`. `None` for a request by value, or for a
    /// `post` method without `post`.
    pub fn fetch_request(&self, post: Option<&RequestUriPost>) -> Option<HttpRequest> {
        let RequestRef::Uri { uri, method, .. } = self else { return None };
        let req = match (method, post) {
            (RequestUriMethod::Get, _) => HttpRequest::get(uri.clone()),
            (RequestUriMethod::Post, Some(p)) => HttpRequest {
                method: HttpMethod::Post,
                url: uri.clone(),
                headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
                body: p.to_form().into_bytes(),
            },
            (RequestUriMethod::Post, None) => return None,
        };
        Some(req.header("Accept", REQUEST_OBJECT_MEDIA_TYPE))
    }
}

/// A parsed Authorization Request URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequestUrl {
    /// How the wallet is invoked.
    pub invocation: WalletInvocation,
    /// `client_id`.
    pub client_id: ClientId,
    /// The request object, by value or by reference.
    pub request: RequestRef,
}


impl AuthorizationRequestUrl {
    /// A request by reference (the HAIP form, recommended by IT-Wallet).
    pub fn by_reference(invocation: WalletInvocation, client_id: ClientId, request_uri: impl Into<String>, method: RequestUriMethod) -> Self {
        Self { invocation, client_id, request: RequestRef::Uri { uri: request_uri.into(), method, explicit_method: true } }
    }

    /// A request by value.
    pub fn by_value(invocation: WalletInvocation, client_id: ClientId, request_object: impl Into<String>) -> Self {
        Self { invocation, client_id, request: RequestRef::Value(request_object.into()) }
    }

    /// The URL text.
    pub fn to_url(&self) -> String {
        let mut params: Vec<(&str, &str)> = vec![("client_id", self.client_id.as_str())];
        match &self.request {
            RequestRef::Value(r) => params.push(("request", r)),
            RequestRef::Uri { uri, method, explicit_method } => {
                params.push(("request_uri", uri));
                if *explicit_method {
                    params.push(("request_uri_method", method.as_str()));
                }
            }
        }
        query::with_params(self.invocation.base(), &params)
    }

    /// Parses what the wallet scanned or was opened with.
    pub fn parse(url: &str) -> Result<Self, RequestUrlError> {
        let url = url.trim();
        if url.len() > MAX_REQUEST_URL_LEN {
            return Err(RequestUrlError::TooLong);
        }
        let (scheme, _) = url.split_once("://").ok_or_else(|| RequestUrlError::UnknownScheme(String::new()))?;
        let invocation = match scheme.to_ascii_lowercase().as_str() {
            "openid4vp" => WalletInvocation::Openid4vp,
            "haip-vp" => WalletInvocation::HaipVp,
            "https" => WalletInvocation::Https(query::without_query(url).to_owned()),
            other => return Err(RequestUrlError::UnknownScheme(other.chars().take(32).collect())),
        };
        let params = query::params(url).ok_or(RequestUrlError::MalformedQuery)?;
        let mut client_id = None;
        let mut request = None;
        let mut request_uri = None;
        let mut method = None;
        for (k, v) in params {
            let slot = match k.as_str() {
                "client_id" => &mut client_id,
                "request" => &mut request,
                "request_uri" => &mut request_uri,
                "request_uri_method" => &mut method,
                _ => continue,
            };
            if slot.is_some() {
                return Err(RequestUrlError::DuplicateParameter(k));
            }
            *slot = Some(v);
        }
        let client_id = ClientId::parse(&client_id.ok_or(RequestUrlError::MissingClientId)?)?;
        let request = match (request, request_uri, method) {
            (Some(_), Some(_), _) => return Err(RequestUrlError::BothRequestAndRequestUri),
            (None, None, Some(_)) | (Some(_), None, Some(_)) => return Err(RequestUrlError::MethodWithoutRequestUri),
            (None, None, None) => return Err(RequestUrlError::NoRequestObject),
            (Some(r), None, None) if r.is_empty() => return Err(RequestUrlError::EmptyRequest),
            (Some(r), None, None) => RequestRef::Value(r),
            (None, Some(uri), m) => {
                if !crate::is_https_or_loopback(&uri) {
                    return Err(RequestUrlError::RequestUriNotHttps);
                }
                let explicit_method = m.is_some();
                let method = match m.as_deref() {
                    None | Some("get") => RequestUriMethod::Get,
                    Some("post") => RequestUriMethod::Post,
                    Some(other) => return Err(RequestUrlError::InvalidRequestUriMethod(other.chars().take(32).collect())),
                };
                RequestRef::Uri { uri, method, explicit_method }
            }
        };
        Ok(Self { invocation, client_id, request })
    }
}

/// The wallet's metadata sent with `request_uri_method=post` (OpenID4VP §10, IT-Wallet §5.1
/// "wallet_metadata fields"). Carries no user or device information (RPR-86).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalletMetadata {
    /// `vp_formats_supported` (REQUIRED).
    pub vp_formats_supported: Map<String, Value>,
    /// `client_id_prefixes_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_prefixes_supported: Option<Vec<String>>,
    /// `authorization_endpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// `response_types_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types_supported: Option<Vec<String>>,
    /// `response_modes_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_modes_supported: Option<Vec<String>>,
    /// `request_object_signing_alg_values_supported`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg_values_supported: Option<Vec<String>>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WalletMetadata {
    /// What this wallet supports: `dc+sd-jwt` (ES256), and (1.4) `mso_mdoc` with COSE
    /// ESP256 (-9) and ESP384 (-51); prefixes `openid_federation` and `x509_hash`;
    /// `vp_token`; `direct_post.jwt`; ES256.
    pub fn tessera(profile: super::Profile) -> Self {
        let mut formats = Map::new();
        formats.insert("dc+sd-jwt".into(), serde_json::json!({"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}));
        if profile.offers_mdoc() {
            formats.insert("mso_mdoc".into(), serde_json::json!({"issuerauth_alg_values": [-9, -51], "deviceauth_alg_values": [-9, -51]}));
        }
        Self {
            vp_formats_supported: formats,
            client_id_prefixes_supported: Some(vec!["openid_federation".into(), "x509_hash".into()]),
            authorization_endpoint: None,
            response_types_supported: Some(vec!["vp_token".into()]),
            response_modes_supported: Some(vec!["direct_post.jwt".into()]),
            request_object_signing_alg_values_supported: Some(vec!["ES256".into()]),
            extra: Map::new(),
        }
    }
}

/// The `wallet_nonce` (OpenID4VP §5.10.1): the wallet's fresh value the request object must
/// echo. Redacted in `Debug`; compared in constant time.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct WalletNonce(String);

impl std::fmt::Debug for WalletNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WalletNonce(..)")
    }
}

impl WalletNonce {
    /// 32 random bytes, base64url.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b)?;
        Ok(Self(b64::encode(b)))
    }

    /// A received value (bounded).
    pub fn from_received(s: &str) -> Option<Self> {
        (!s.is_empty() && s.len() <= MAX_WALLET_NONCE_LEN).then(|| Self(s.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `got` is this nonce (constant time).
    pub fn matches(&self, got: &str) -> bool {
        crate::subtle_eq(self.0.as_bytes(), got.as_bytes())
    }
}

/// The form body of `POST request_uri`: `wallet_metadata` (JSON) and `wallet_nonce`.
#[derive(Debug, Clone)]
pub struct RequestUriPost {
    /// The wallet's metadata.
    pub wallet_metadata: Option<WalletMetadata>,
    /// The wallet's nonce.
    pub wallet_nonce: Option<WalletNonce>,
}

impl RequestUriPost {
    /// `wallet_metadata=<json>&wallet_nonce=<nonce>`.
    pub fn to_form(&self) -> String {
        let mut parts = Vec::new();
        if let Some(m) = &self.wallet_metadata {
            let json = serde_json::to_string(m).unwrap_or_default();
            parts.push(format!("wallet_metadata={}", query::encode(&json)));
        }
        if let Some(n) = &self.wallet_nonce {
            parts.push(format!("wallet_nonce={}", query::encode(n.as_str())));
        }
        parts.join("&")
    }

    /// Parses the form body on the verifier side (both fields are optional in OpenID4VP;
    /// a duplicate or malformed one is refused).
    pub fn parse_form(body: &[u8]) -> Result<Self, RequestUrlError> {
        if body.len() > 64 * 1024 {
            return Err(RequestUrlError::BadPostBody("body too large"));
        }
        let text = std::str::from_utf8(body).map_err(|_| RequestUrlError::BadPostBody("not UTF-8"))?;
        let params = query::form(text).ok_or(RequestUrlError::MalformedQuery)?;
        let (mut meta, mut nonce) = (None, None);
        for (k, v) in params {
            let slot = match k.as_str() {
                "wallet_metadata" => &mut meta,
                "wallet_nonce" => &mut nonce,
                _ => continue,
            };
            if slot.is_some() {
                return Err(RequestUrlError::DuplicateParameter(k));
            }
            *slot = Some(v);
        }
        let wallet_metadata = meta
            .map(|m| serde_json::from_str::<WalletMetadata>(&m).map_err(|_| RequestUrlError::BadPostBody("wallet_metadata is not the metadata JSON")))
            .transpose()?;
        let wallet_nonce = nonce
            .map(|n| WalletNonce::from_received(&n).ok_or(RequestUrlError::BadPostBody("wallet_nonce empty or too long")))
            .transpose()?;
        Ok(Self { wallet_metadata, wallet_nonce })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FED: &str = "openid_federation:https://rp.example.it";

    #[test]
    fn it_wallet_example_url_parses() {
        // IT-Wallet 1.4 §5.1 example (https wallet endpoint, by reference, post).
        let u = "https://wallet-solution.example.org/authorization?client_id=openid_federation%3Ahttps%3A%2F%2Frelying-party.example.org&request_uri=https%3A%2F%2Frelying-party.example.org&request_uri_method=post";
        let p = AuthorizationRequestUrl::parse(u).unwrap();
        assert_eq!(p.invocation, WalletInvocation::Https("https://wallet-solution.example.org/authorization".into()));
        assert_eq!(p.client_id.as_str(), "openid_federation:https://relying-party.example.org");
        assert_eq!(p.request, RequestRef::Uri { uri: "https://relying-party.example.org".into(), method: RequestUriMethod::Post, explicit_method: true });
        assert_eq!(p.to_url(), u);
    }

    #[test]
    fn round_trips_for_each_scheme() {
        let cid = ClientId::parse(FED).unwrap();
        for inv in [WalletInvocation::Openid4vp, WalletInvocation::HaipVp, WalletInvocation::Https("https://w.example/authorize".into())] {
            for m in [RequestUriMethod::Get, RequestUriMethod::Post] {
                let u = AuthorizationRequestUrl::by_reference(inv.clone(), cid.clone(), "https://rp.example.it/request/abc", m);
                assert_eq!(AuthorizationRequestUrl::parse(&u.to_url()).unwrap(), u);
            }
            let v = AuthorizationRequestUrl::by_value(inv.clone(), cid.clone(), "eyJ.eyJ.sig");
            assert_eq!(AuthorizationRequestUrl::parse(&v.to_url()).unwrap(), v);
        }
        let absent = AuthorizationRequestUrl::parse("openid4vp://?client_id=https%3A%2F%2Frp.example.it&request_uri=https%3A%2F%2Frp.example.it%2Fr").unwrap();
        assert!(matches!(absent.request, RequestRef::Uri { method: RequestUriMethod::Get, explicit_method: false, .. }));
    }

    fn err(u: &str) -> RequestUrlError {
        AuthorizationRequestUrl::parse(u).unwrap_err()
    }

    #[test]
    fn refused_urls_name_the_rule() {
        let ru = "request_uri=https%3A%2F%2Frp.example.it%2Fr";
        let ci = "client_id=openid_federation%3Ahttps%3A%2F%2Frp.example.it";
        assert_eq!(err(&format!("eudi-openid4vp://?{ci}&{ru}")), RequestUrlError::UnknownScheme("eudi-openid4vp".into()));
        assert_eq!(err(&format!("http://w.example/a?{ci}&{ru}")), RequestUrlError::UnknownScheme("http".into()));
        assert_eq!(err(&format!("openid4vp://?{ru}")), RequestUrlError::MissingClientId);
        assert_eq!(err(&format!("openid4vp://?{ci}&{ru}&request=x")), RequestUrlError::BothRequestAndRequestUri);
        assert_eq!(err(&format!("openid4vp://?{ci}")), RequestUrlError::NoRequestObject);
        assert_eq!(err(&format!("openid4vp://?{ci}&request=x&request_uri_method=get")), RequestUrlError::MethodWithoutRequestUri);
        assert_eq!(err(&format!("openid4vp://?{ci}&{ru}&request_uri_method=put")), RequestUrlError::InvalidRequestUriMethod("put".into()));
        assert_eq!(err(&format!("openid4vp://?{ci}&{ru}&request_uri_method=put")).oauth_code(), "invalid_request_uri_method");
        assert_eq!(err(&format!("openid4vp://?{ci}&request_uri=http%3A%2F%2Frp.example.it%2Fr")), RequestUrlError::RequestUriNotHttps);
        assert_eq!(err(&format!("openid4vp://?{ci}&{ci}&{ru}")), RequestUrlError::DuplicateParameter("client_id".into()));
        assert_eq!(err(&format!("openid4vp://?{ci}&{ru}&x=%zz")), RequestUrlError::MalformedQuery);
        assert_eq!(err(&format!("openid4vp://?{ci}&request=")), RequestUrlError::EmptyRequest);
        let e = err(&format!("openid4vp://?client_id=redirect_uri%3Ahttps%3A%2F%2Frp&{ru}"));
        assert_eq!(e, RequestUrlError::ClientId(ClientIdError::UnsupportedPrefix("redirect_uri".into())));
        assert_eq!(e.oauth_code(), "invalid_client");
        assert_eq!(err(&"x".repeat(MAX_REQUEST_URL_LEN + 1)), RequestUrlError::TooLong);
        // Loopback http is allowed for one-machine federations.
        assert!(AuthorizationRequestUrl::parse(&format!("openid4vp://?{ci}&request_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fr")).is_ok());
    }

    #[test]
    fn request_uri_post_body_round_trip_and_fetch_request() {
        let nonce = WalletNonce::generate().unwrap();
        let post = RequestUriPost { wallet_metadata: Some(WalletMetadata::tessera(crate::oid4vp::Profile::ItWallet14)), wallet_nonce: Some(nonce.clone()) };
        let parsed = RequestUriPost::parse_form(post.to_form().as_bytes()).unwrap();
        assert!(parsed.wallet_nonce.as_ref().unwrap().matches(nonce.as_str()));
        assert_eq!(parsed.wallet_metadata, post.wallet_metadata);
        assert!(parsed.wallet_metadata.unwrap().vp_formats_supported.contains_key("mso_mdoc"));
        let r = RequestRef::Uri { uri: "https://rp.example.it/r".into(), method: RequestUriMethod::Post, explicit_method: true };
        let req = r.fetch_request(Some(&post)).unwrap();
        assert_eq!(req.method, HttpMethod::Post);
        assert_eq!(req.header_value("accept"), Some(REQUEST_OBJECT_MEDIA_TYPE));
        assert_eq!(req.header_value("content-type"), Some("application/x-www-form-urlencoded"));
        assert!(r.fetch_request(None).is_none());
        let g = RequestRef::Uri { uri: "https://rp.example.it/r".into(), method: RequestUriMethod::Get, explicit_method: false };
        assert_eq!(g.fetch_request(None).unwrap().method, HttpMethod::Get);
        assert_eq!(
            RequestUriPost::parse_form(b"wallet_nonce=a&wallet_nonce=b").unwrap_err(),
            RequestUrlError::DuplicateParameter("wallet_nonce".into())
        );
        assert_eq!(RequestUriPost::parse_form(b"wallet_metadata=%7B%7D").unwrap_err(), RequestUrlError::BadPostBody("wallet_metadata is not the metadata JSON"));
        assert!(!WalletMetadata::tessera(crate::oid4vp::Profile::ItWallet13).vp_formats_supported.contains_key("mso_mdoc"));
        assert_eq!(format!("{nonce:?}"), "WalletNonce(..)");
    }
}
