//! The Authorization Response (OpenID4VP 1.0 §8, IT-Wallet 1.4 §5.1): `vp_token` and `state`,
//! sent by the wallet as `POST response_uri` with `response=<JWE>` (`direct_post.jwt`), the
//! JWE ECDH-ES on P-256 with A256GCM or A128GCM to the verifier's key; or an error response
//! (`error`, `error_description`, `state` form fields); then the verifier's JSON answer, with a
//! `redirect_uri` for the same-device flow.
//!
//! * Wallet: [`AuthorizationResponse::encrypt`] → [`response_form`] / [`post_request`];
//!   [`ErrorResponse::to_form`]; [`ResponseUriAnswer::parse`].
//! * Verifier: [`PostedResponse::parse_form`] → [`decrypt_response`] (the key chosen by the
//!   JWE `kid` among the verifier's keys: the request's `client_metadata` keys and its
//!   Entity Configuration keys, versions note §5.2) → [`AuthorizationResponse::check_state`];
//!   [`ResponseUriAnswer::to_json`].
//!
//! `vp_token` values: both profiles emit arrays (what every IT-Wallet tool sends); a string
//! or an array is accepted (1.4.0 allows both). `apv` is the request nonce (base64url in the
//! header), `apu` 16 random bytes, as the IT-Wallet SDK does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::jose::jwe::{self, EncryptOptions};
use crate::jose::{ContentEncryption, DecryptionKey, JoseError, Jwk, b64};
use crate::wallet::query;
use crate::wallet::{HttpMethod, HttpRequest};

/// The largest form body or JWE the verifier reads (credentials with portraits fit).
pub const MAX_RESPONSE_LEN: usize = 2 * 1024 * 1024;
/// The most entries a `vp_token` may have, and presentations per entry.
pub const MAX_VP_TOKEN_ENTRIES: usize = 64;

/// Why a response was refused or could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Larger than [`MAX_RESPONSE_LEN`].
    #[error("response too large")]
    TooLarge,
    /// The form body does not decode.
    #[error("malformed form body")]
    MalformedForm,
    /// A form field given twice.
    #[error("form field `{0}` given more than once")]
    DuplicateParameter(String),
    /// A `vp_token` sent in the clear (RPR-13: `direct_post.jwt` only).
    #[error("response not encrypted (direct_post.jwt requires response=<JWE>)")]
    NotEncrypted,
    /// Neither `response` nor `error`.
    #[error("neither response nor error in the form")]
    MissingResponse,
    /// The verifier's answer sends the browser to a `redirect_uri` the RP did not register
    /// (IT-Wallet 1.4 §5.1, WP_094a; [`super::RedirectRule`]).
    #[error("the verifier's answer redirects to {0}, which is not among its registered redirect_uris")]
    RedirectNotRegistered(String),
    /// The JWE has no `kid` (the verifier decrypts by `kid`).
    #[error("JWE header has no kid")]
    MissingKid,
    /// The JWE `kid` names none of the verifier's keys (RPR-37: another key).
    #[error("JWE kid `{0}` names no key of this verifier")]
    UnknownKid(String),
    /// The JWE `enc` is not one the verifier accepts for this request.
    #[error("JWE enc `{0}` not accepted")]
    EncNotAllowed(String),
    /// The JWE is malformed or uses another `alg`.
    #[error("JWE: {0}")]
    Jwe(JoseError),
    /// The JWE does not decrypt with the key its `kid` names (tampered, or for another key).
    #[error("JWE decryption failed")]
    DecryptionFailed,
    /// The plaintext is not the response JSON.
    #[error("response payload malformed: {0}")]
    MalformedPayload(String),
    /// No `vp_token`.
    #[error("vp_token missing")]
    VpTokenMissing,
    /// `vp_token` is not an object of strings or arrays of strings.
    #[error("vp_token malformed: {0}")]
    VpTokenMalformed(&'static str),
    /// The response's `state` is not the session's (RPR-12/39: a response for another session).
    #[error("state does not match the session")]
    StateMismatch,
    /// The verifier's answer is not the JSON expected.
    #[error("response_uri answer malformed: {0}")]
    MalformedAnswer(String),
    /// Encryption failed.
    #[error("encryption failed: {0}")]
    Encrypt(String),
}

impl ResponseError {
    /// The OAuth error code the verifier answers with (IT-Wallet §5.1: 400 `invalid_request`).
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::Encrypt(_) => "server_error",
            _ => "invalid_request",
        }
    }
}

/// `vp_token`: presentations keyed by DCQL Credential Query id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpToken(pub BTreeMap<String, Vec<String>>);

impl VpToken {
    /// The presentations answering `id`.
    pub fn get(&self, id: &str) -> Option<&[String]> {
        self.0.get(id).map(Vec::as_slice)
    }

    /// The JSON: each value an array (both profiles).
    pub fn to_value(&self) -> Value {
        Value::Object(self.0.iter().map(|(k, v)| (k.clone(), Value::from(v.clone()))).collect())
    }

    /// Parses a `vp_token` object; each value a string or a non-empty array of strings.
    pub fn from_value(v: &Value) -> Result<Self, ResponseError> {
        let obj = v.as_object().ok_or(ResponseError::VpTokenMalformed("not an object"))?;
        if obj.len() > MAX_VP_TOKEN_ENTRIES {
            return Err(ResponseError::VpTokenMalformed("too many entries"));
        }
        let mut out = BTreeMap::new();
        for (k, v) in obj {
            let list = match v {
                Value::String(s) => vec![s.clone()],
                Value::Array(a) if !a.is_empty() && a.len() <= MAX_VP_TOKEN_ENTRIES => a
                    .iter()
                    .map(|x| x.as_str().map(str::to_owned).ok_or(ResponseError::VpTokenMalformed("presentations must be strings")))
                    .collect::<Result<Vec<_>, _>>()?,
                Value::Array(_) => return Err(ResponseError::VpTokenMalformed("an entry must have 1 to 64 presentations")),
                _ => return Err(ResponseError::VpTokenMalformed("an entry must be a string or an array of strings")),
            };
            out.insert(k.clone(), list);
        }
        Ok(Self(out))
    }
}

/// The Authorization Response payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    /// `vp_token`.
    pub vp_token: VpToken,
    /// `state`.
    pub state: Option<String>,
}

impl AuthorizationResponse {
    /// The JSON payload `{"vp_token": {...}, "state": ...}`.
    pub fn to_json(&self) -> String {
        let mut m = Map::new();
        m.insert("vp_token".into(), self.vp_token.to_value());
        if let Some(s) = &self.state {
            m.insert("state".into(), Value::String(s.clone()));
        }
        Value::Object(m).to_string()
    }

    /// Parses the decrypted payload.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ResponseError> {
        let m: Map<String, Value> = serde_json::from_slice(bytes).map_err(|e| ResponseError::MalformedPayload(e.to_string()))?;
        let vp_token = VpToken::from_value(m.get("vp_token").ok_or(ResponseError::VpTokenMissing)?)?;
        let state = match m.get("state") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(ResponseError::MalformedPayload("state is not a string".into())),
        };
        Ok(Self { vp_token, state })
    }

    /// Encrypts the payload to the verifier's `key` (P-256, with a `kid`): `alg` ECDH-ES,
    /// `enc`, `kid`, `apv` = the request nonce, `apu` random.
    pub fn encrypt(&self, key: &Jwk, enc: ContentEncryption, nonce: &str) -> Result<String, ResponseError> {
        let mut apu = [0u8; 16];
        getrandom::fill(&mut apu).map_err(|e| ResponseError::Encrypt(e.to_string()))?;
        let opts = EncryptOptions { kid: key.kid.clone(), apu: Some(apu.to_vec()), apv: Some(nonce.as_bytes().to_vec()), typ: None, cty: None };
        jwe::encrypt(self.to_json().as_bytes(), key, enc, &opts).map_err(|e| ResponseError::Encrypt(e.to_string()))
    }

    /// Whether `state` is the session's (constant time); a response without `state` matches
    /// only a session without one.
    pub fn check_state(&self, expected: Option<&str>) -> Result<(), ResponseError> {
        match (expected, self.state.as_deref()) {
            (None, None) => Ok(()),
            (Some(e), Some(g)) if crate::subtle_eq(e.as_bytes(), g.as_bytes()) => Ok(()),
            _ => Err(ResponseError::StateMismatch),
        }
    }
}

/// The JWE's protected header, read before decryption to pick the key.
fn jwe_header(jwe: &str) -> Result<Map<String, Value>, ResponseError> {
    let h = jwe.split('.').next().unwrap_or_default();
    let bytes = b64::decode(h).map_err(|_| ResponseError::Jwe(JoseError::BadBase64("JWE header")))?;
    crate::jose::json::object_strict(&bytes, "JWE header").map_err(ResponseError::Jwe)
}

/// The `kid` a `direct_post.jwt` response names in its protected header: which key it was
/// encrypted to, read before decrypting (a verifier with request-specific keys derives that
/// key first).
pub fn response_kid(jwe: &str) -> Result<String, ResponseError> {
    let jwe = jwe.trim();
    if jwe.len() > MAX_RESPONSE_LEN {
        return Err(ResponseError::TooLarge);
    }
    jwe_header(jwe)?.get("kid").and_then(Value::as_str).map(str::to_owned).ok_or(ResponseError::MissingKid)
}

/// Decrypts a `direct_post.jwt` response with the key its `kid` names among `keys`, `enc`
/// one of `allowed_enc` (A256GCM and A128GCM unless the request said otherwise).
pub fn decrypt_response(jwe: &str, keys: &[DecryptionKey], allowed_enc: &[ContentEncryption]) -> Result<AuthorizationResponse, ResponseError> {
    let jwe = jwe.trim();
    if jwe.len() > MAX_RESPONSE_LEN {
        return Err(ResponseError::TooLarge);
    }
    let header = jwe_header(jwe)?;
    let kid = header.get("kid").and_then(Value::as_str).ok_or(ResponseError::MissingKid)?;
    let key = keys.iter().find(|k| k.public_jwk().kid.as_deref() == Some(kid)).ok_or_else(|| ResponseError::UnknownKid(kid.chars().take(128).collect()))?;
    let enc = header.get("enc").and_then(Value::as_str).unwrap_or_default();
    if !allowed_enc.iter().any(|e| e.as_str() == enc) {
        return Err(ResponseError::EncNotAllowed(enc.chars().take(32).collect()));
    }
    let d = jwe::decrypt(jwe, key).map_err(|e| match e {
        JoseError::DecryptionFailed => ResponseError::DecryptionFailed,
        other => ResponseError::Jwe(other),
    })?;
    AuthorizationResponse::from_json(&d.plaintext)
}

/// `response=<JWE>`, the `direct_post.jwt` form body.
pub fn response_form(jwe: &str) -> String {
    format!("response={}", query::encode(jwe))
}

/// `POST response_uri` with a form body (`application/x-www-form-urlencoded`).
pub fn post_request(response_uri: &str, form: String) -> HttpRequest {
    HttpRequest {
        method: HttpMethod::Post,
        url: response_uri.to_owned(),
        headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into()), ("Accept".into(), "application/json".into())],
        body: form.into_bytes(),
    }
}

/// The error codes a wallet sends (OpenID4VP 1.0 §8.5, IT-Wallet §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletErrorCode {
    /// The citizen declined.
    AccessDenied,
    /// The RP could not be trusted.
    InvalidClient,
    /// The request is malformed.
    InvalidRequest,
    /// The request object is invalid.
    InvalidRequestObject,
    /// The `request_uri` is invalid or unreachable.
    InvalidRequestUri,
    /// The `request_uri_method` is not supported.
    InvalidRequestUriMethod,
    /// No requested format is supported.
    VpFormatsNotSupported,
    /// `transaction_data` is invalid.
    InvalidTransactionData,
    /// Another code.
    Other(String),
}

impl WalletErrorCode {
    /// The code.
    pub fn as_str(&self) -> &str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidClient => "invalid_client",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidRequestObject => "invalid_request_object",
            Self::InvalidRequestUri => "invalid_request_uri",
            Self::InvalidRequestUriMethod => "invalid_request_uri_method",
            Self::VpFormatsNotSupported => "vp_formats_not_supported",
            Self::InvalidTransactionData => "invalid_transaction_data",
            Self::Other(s) => s,
        }
    }

    /// From a code.
    pub fn from_code(s: &str) -> Self {
        match s {
            "access_denied" => Self::AccessDenied,
            "invalid_client" => Self::InvalidClient,
            "invalid_request" => Self::InvalidRequest,
            "invalid_request_object" => Self::InvalidRequestObject,
            "invalid_request_uri" => Self::InvalidRequestUri,
            "invalid_request_uri_method" => Self::InvalidRequestUriMethod,
            "vp_formats_not_supported" => Self::VpFormatsNotSupported,
            "invalid_transaction_data" => Self::InvalidTransactionData,
            other => Self::Other(other.chars().take(64).collect()),
        }
    }
}

/// An error response, as the wallet posts it to `response_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// `error`.
    pub error: WalletErrorCode,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `state`.
    pub state: Option<String>,
}

impl ErrorResponse {
    /// The citizen declined (`access_denied`).
    pub fn access_denied(state: Option<String>) -> Self {
        Self { error: WalletErrorCode::AccessDenied, error_description: Some("the user declined the presentation".into()), state }
    }

    /// `error=...&error_description=...&state=...`.
    pub fn to_form(&self) -> String {
        let mut params = vec![("error", self.error.as_str())];
        if let Some(d) = &self.error_description {
            params.push(("error_description", d));
        }
        if let Some(s) = &self.state {
            params.push(("state", s));
        }
        query::with_params("", &params).trim_start_matches('?').to_owned()
    }
}

/// What the verifier received at `response_uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostedResponse {
    /// `response=<JWE>`.
    Encrypted(String),
    /// An error response.
    Error(ErrorResponse),
}

impl PostedResponse {
    /// Parses the form body of `POST response_uri`. A clear `vp_token` is refused
    /// ([`ResponseError::NotEncrypted`]).
    pub fn parse_form(body: &[u8]) -> Result<Self, ResponseError> {
        if body.len() > MAX_RESPONSE_LEN {
            return Err(ResponseError::TooLarge);
        }
        let text = std::str::from_utf8(body).map_err(|_| ResponseError::MalformedForm)?;
        let params = query::form(text).ok_or(ResponseError::MalformedForm)?;
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in params {
            if matches!(k.as_str(), "response" | "error" | "error_description" | "state" | "vp_token") && fields.contains_key(&k) {
                return Err(ResponseError::DuplicateParameter(k));
            }
            fields.insert(k, v);
        }
        if let Some(r) = fields.remove("response") {
            return Ok(Self::Encrypted(r));
        }
        if let Some(e) = fields.remove("error") {
            return Ok(Self::Error(ErrorResponse {
                error: WalletErrorCode::from_code(&e),
                error_description: fields.remove("error_description"),
                state: fields.remove("state"),
            }));
        }
        if fields.contains_key("vp_token") {
            return Err(ResponseError::NotEncrypted);
        }
        Err(ResponseError::MissingResponse)
    }
}

/// The verifier's `200` answer to the response (`redirect_uri` for the same-device flow).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResponseUriAnswer {
    /// Where the wallet sends the browser (same device), with a `response_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
}

/// The verifier's error answer (`{error, error_description}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifierErrorAnswer {
    /// `error`.
    pub error: String,
    /// `error_description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// A fresh `response_code` for the same-device redirect: 256 random bits, base64url
/// (IT-Wallet §5.1: at least 128 bits, single use, bound to the browser session).
pub fn generate_response_code() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(b64::encode(b))
}

impl ResponseUriAnswer {
    /// The same-device answer: `redirect_uri` = `redirect_base?response_code=<code>`.
    pub fn same_device(redirect_base: &str, response_code: &str) -> Self {
        Self { redirect_uri: Some(query::with_params(redirect_base, &[("response_code", response_code)])) }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The wallet reads the verifier's answer: `200` with an optional `redirect_uri`
    /// (https), or an error object.
    pub fn parse(status: u16, body: &[u8]) -> Result<Result<Self, VerifierErrorAnswer>, ResponseError> {
        if body.len() > 64 * 1024 {
            return Err(ResponseError::TooLarge);
        }
        if (200..300).contains(&status) {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Ok(Self::default()));
            }
            let a: Self = serde_json::from_slice(body).map_err(|e| ResponseError::MalformedAnswer(e.to_string()))?;
            if let Some(r) = &a.redirect_uri
                && !matches!(url::Url::parse(r).map(|u| u.scheme().to_owned()).as_deref(), Ok("https" | "http"))
            {
                return Err(ResponseError::MalformedAnswer("redirect_uri is not an http(s) URL".into()));
            }
            return Ok(Ok(a));
        }
        serde_json::from_slice::<VerifierErrorAnswer>(body).map(Err).map_err(|e| ResponseError::MalformedAnswer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuthorizationResponse {
        let mut m = BTreeMap::new();
        m.insert("pid".to_owned(), vec!["eyJ...~d1~kb".to_owned()]);
        AuthorizationResponse { vp_token: VpToken(m), state: Some("s-1".into()) }
    }

    #[test]
    fn encrypt_form_parse_decrypt_round_trip_both_encs() {
        let key = DecryptionKey::generate().unwrap();
        let other = DecryptionKey::generate().unwrap();
        for enc in [ContentEncryption::A128Gcm, ContentEncryption::A256Gcm] {
            let jwe = sample().encrypt(key.public_jwk(), enc, "the-nonce").unwrap();
            let form = response_form(&jwe);
            let PostedResponse::Encrypted(got) = PostedResponse::parse_form(form.as_bytes()).unwrap() else { panic!() };
            let keys = [other.clone(), key.clone()];
            let r = decrypt_response(&got, &keys, &[ContentEncryption::A256Gcm, ContentEncryption::A128Gcm]).unwrap();
            assert_eq!(r, sample());
            r.check_state(Some("s-1")).unwrap();
            let h = jwe_header(&got).unwrap();
            assert_eq!(h["apv"], b64::encode("the-nonce"));
            assert_eq!(h["alg"], "ECDH-ES");
        }
        let req = post_request("https://rp.example.it/response", response_form("x"));
        assert_eq!(req.header_value("content-type"), Some("application/x-www-form-urlencoded"));
    }

    #[test]
    fn rpr_37_jwe_for_another_key_is_refused() {
        let key = DecryptionKey::generate().unwrap();
        let other = DecryptionKey::generate().unwrap();
        let all = [ContentEncryption::A256Gcm, ContentEncryption::A128Gcm];
        let jwe = sample().encrypt(key.public_jwk(), ContentEncryption::A256Gcm, "n").unwrap();
        // kid unknown to the verifier.
        let e = decrypt_response(&jwe, std::slice::from_ref(&other), &all).unwrap_err();
        assert_eq!(e, ResponseError::UnknownKid(key.public_jwk().kid.clone().unwrap()));
        assert_eq!(e.oauth_code(), "invalid_request");
        // kid of a verifier key, but encrypted to another key.
        let mut to_other = other.public_jwk().clone();
        to_other.kid = key.public_jwk().kid.clone();
        let jwe = sample().encrypt(&to_other, ContentEncryption::A256Gcm, "n").unwrap();
        assert_eq!(decrypt_response(&jwe, std::slice::from_ref(&key), &all).unwrap_err(), ResponseError::DecryptionFailed);
        // No kid.
        let mut no_kid = key.public_jwk().clone();
        no_kid.kid = None;
        let jwe = sample().encrypt(&no_kid, ContentEncryption::A256Gcm, "n").unwrap();
        assert_eq!(decrypt_response(&jwe, std::slice::from_ref(&key), &all).unwrap_err(), ResponseError::MissingKid);
    }

    #[test]
    fn wrong_enc_is_refused() {
        let key = DecryptionKey::generate().unwrap();
        let jwe = sample().encrypt(key.public_jwk(), ContentEncryption::A128Gcm, "n").unwrap();
        assert_eq!(
            decrypt_response(&jwe, std::slice::from_ref(&key), &[ContentEncryption::A256Gcm]).unwrap_err(),
            ResponseError::EncNotAllowed("A128GCM".into())
        );
    }

    #[test]
    fn response_for_another_state_is_refused() {
        assert_eq!(sample().check_state(Some("s-2")), Err(ResponseError::StateMismatch));
        assert_eq!(sample().check_state(None), Err(ResponseError::StateMismatch));
        let mut r = sample();
        r.state = None;
        assert_eq!(r.check_state(Some("s-1")), Err(ResponseError::StateMismatch));
        r.check_state(None).unwrap();
    }

    #[test]
    fn vp_token_shapes() {
        let v = serde_json::json!({"a": "p1", "b": ["p2", "p3"]});
        let t = VpToken::from_value(&v).unwrap();
        assert_eq!(t.get("a").unwrap(), ["p1".to_owned()]);
        assert_eq!(t.get("b").unwrap().len(), 2);
        assert_eq!(t.to_value(), serde_json::json!({"a": ["p1"], "b": ["p2", "p3"]}));
        for bad in [serde_json::json!([]), serde_json::json!({"a": []}), serde_json::json!({"a": 1}), serde_json::json!({"a": [1]})] {
            assert!(matches!(VpToken::from_value(&bad), Err(ResponseError::VpTokenMalformed(_))), "{bad}");
        }
        assert_eq!(AuthorizationResponse::from_json(br#"{"state":"x"}"#), Err(ResponseError::VpTokenMissing));
        assert!(matches!(AuthorizationResponse::from_json(b"nope"), Err(ResponseError::MalformedPayload(_))));
    }

    #[test]
    fn error_responses_and_form_rules() {
        let e = ErrorResponse::access_denied(Some("s 1".into()));
        let parsed = PostedResponse::parse_form(e.to_form().as_bytes()).unwrap();
        assert_eq!(parsed, PostedResponse::Error(e));
        let f = PostedResponse::parse_form(b"error=invalid_client&state=x").unwrap();
        assert!(matches!(f, PostedResponse::Error(ErrorResponse { error: WalletErrorCode::InvalidClient, .. })));
        assert_eq!(PostedResponse::parse_form(b"vp_token=%7B%7D&state=x"), Err(ResponseError::NotEncrypted));
        assert_eq!(PostedResponse::parse_form(b"state=x"), Err(ResponseError::MissingResponse));
        assert_eq!(PostedResponse::parse_form(b"response=a&response=b"), Err(ResponseError::DuplicateParameter("response".into())));
        assert_eq!(PostedResponse::parse_form(b"response=%zz"), Err(ResponseError::MalformedForm));
        for code in ["access_denied", "invalid_client", "invalid_request", "invalid_request_object", "invalid_request_uri", "invalid_request_uri_method", "vp_formats_not_supported", "invalid_transaction_data", "x"] {
            assert_eq!(WalletErrorCode::from_code(code).as_str(), code);
        }
    }

    #[test]
    fn verifier_answer_with_redirect() {
        let code = generate_response_code().unwrap();
        assert_eq!(b64::decode(&code).unwrap().len(), 32);
        let a = ResponseUriAnswer::same_device("https://rp.example.it/cb", &code);
        assert_eq!(a.redirect_uri.as_deref(), Some(format!("https://rp.example.it/cb?response_code={code}").as_str()));
        let a = ResponseUriAnswer { redirect_uri: Some("https://rp.example.it/cb?response_code=abc".into()) };
        assert_eq!(ResponseUriAnswer::parse(200, a.to_json().as_bytes()).unwrap(), Ok(a));
        assert_eq!(ResponseUriAnswer::parse(200, b"").unwrap(), Ok(ResponseUriAnswer::default()));
        assert!(matches!(ResponseUriAnswer::parse(200, br#"{"redirect_uri":"javascript:alert(1)"}"#), Err(ResponseError::MalformedAnswer(_))));
        let err = ResponseUriAnswer::parse(403, br#"{"error":"invalid_request","error_description":"untrusted issuer"}"#).unwrap();
        assert_eq!(err, Err(VerifierErrorAnswer { error: "invalid_request".into(), error_description: Some("untrusted issuer".into()) }));
    }
}
