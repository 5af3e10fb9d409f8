//! An OpenID4VP verifier for tests, wallet-core's verifier side: a relying party under its
//! own trust anchor (its trust chain goes in the request object's `trust_chain` header), one
//! session at a time. A test serves it over HTTP: `GET`/`POST {rp}/request` answers
//! [`TestVerifier::request_object`], `POST {rp}/response` answers
//! [`TestVerifier::receive_response`]; [`TestVerifier::verdict`] tells what it concluded.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::json;
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{ContentEncryption, DecryptionKey, Signer, SoftwareSigner};
use wallet_core::oid4vp::dcql::DcqlQuery;
use wallet_core::oid4vp::request_object::generate_nonce;
use wallet_core::oid4vp::response::generate_response_code;
use wallet_core::oid4vp::{
    AuthorizationRequestUrl, ClientId, PostedResponse, PresentationContext, RequestObjectBuilder, RequestUriMethod, RequestUriPost,
    ResponseExpectation, ResponseUriAnswer, SigningHeader, Verdict, VerifierMetadata, WalletInvocation, verify_response,
};
use wallet_core::time::UnixTime;
use wallet_core::vc::CredentialModel as _;
use wallet_core::vc::pid::Pid;

use super::internal;
use crate::error::WalletError;
use crate::records::{JwkRecord, TrustAnchor};

/// What the verifier concluded about the last response.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TestVerdict {
    /// `verified`, `declined` or `refused`.
    pub outcome: String,
    /// The OAuth error (declined) or the rule broken (refused); empty when verified.
    pub detail: String,
    /// The verified claims, dotted, sorted (verified only).
    pub claims: Vec<String>,
    /// The KB-JWT `aud` (verified only).
    pub audience: Option<String>,
}

/// An HTTP answer to serve.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TestAnswer {
    /// Status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: String,
    /// Body.
    pub body: String,
}

struct Session {
    nonce: String,
    state: String,
}

/// A relying party asking for the PID's given name, family name and place of birth
/// (locality), with `client_name` "Comune di Roma".
#[derive(uniffi::Object)]
pub struct TestVerifier {
    anchor_id: EntityId,
    anchor_key: SoftwareSigner,
    rp_id: EntityId,
    rp_fed: SoftwareSigner,
    rp_ro: SoftwareSigner,
    rp_enc: DecryptionKey,
    issuer_anchors: Vec<TrustAnchorConfig>,
    session: Mutex<Option<Session>>,
    verdict: Mutex<Option<TestVerdict>>,
}

impl std::fmt::Debug for TestVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestVerifier").field("rp", &self.rp_id).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TestVerifier {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.rp_id.as_str().trim_end_matches('/'))
    }

    fn client_id(&self) -> ClientId {
        ClientId::federation(&self.rp_id)
    }

    fn query() -> Result<DcqlQuery, WalletError> {
        let q = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [Pid::VCT]},
            "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["place_of_birth", "locality"]}]}]});
        DcqlQuery::parse(&q.to_string()).map_err(internal)
    }

    fn trust_chain(&self) -> Result<Vec<String>, WalletError> {
        let now = UnixTime::now().secs();
        let metadata = json!({
            "openid_credential_verifier": {
                "client_id": self.rp_id.as_str(),
                "client_name": "Comune di Roma",
                "logo_uri": self.url("/logo.svg"),
                "application_type": "web",
                "request_uris": [self.url("/request")],
                "response_uris": [self.url("/response")],
                "redirect_uris": [self.url("/done")],
                "jwks": {"keys": [self.rp_ro.public_jwk(), self.rp_enc.public_jwk()]},
                "encrypted_response_enc_values_supported": ["A256GCM", "A128GCM"],
                "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
                "erasure_endpoint": self.url("/erase"),
                "purpose": "Accesso ai servizi comunali"
            },
            "federation_entity": {"organization_name": "Comune di Roma"}
        });
        let statement = |iss: &EntityId, meta: Option<serde_json::Value>, hint: bool| wallet_core::federation::EntityStatement {
            iss: iss.clone(),
            sub: self.rp_id.clone(),
            iat: now - 10,
            exp: now + 3600,
            jwks: JwkSet { keys: vec![self.rp_fed.public_jwk()] },
            metadata: meta.and_then(|m| m.as_object().cloned()),
            authority_hints: hint.then(|| vec![self.anchor_id.clone()]),
            trust_anchor_hints: None,
            trust_marks: None,
            trust_mark_issuers: None,
            trust_mark_owners: None,
            constraints: None,
            metadata_policy: None,
            metadata_policy_crit: None,
            crit: None,
            source_endpoint: None,
            extra: serde_json::Map::new(),
        };
        let ec = statement(&self.rp_id, Some(metadata), true).sign(&self.rp_fed).map_err(internal)?;
        let ss = statement(&self.anchor_id, None, false).sign(&self.anchor_key).map_err(internal)?;
        Ok(vec![ec, ss])
    }

    fn sign(&self, wallet_nonce: Option<String>) -> Result<String, WalletError> {
        let session = lock(&self.session);
        let s = session.as_ref().ok_or_else(|| internal("no session: call request_url first"))?;
        let mut b = RequestObjectBuilder::new(self.client_id(), self.url("/response"), s.nonce.clone(), Self::query()?, UnixTime::now());
        b.state = Some(s.state.clone());
        b.wallet_nonce = wallet_nonce;
        b.client_metadata = Some(VerifierMetadata {
            jwks: Some(JwkSet { keys: vec![self.rp_enc.public_jwk().clone()] }),
            encrypted_response_enc_values_supported: Some(vec!["A256GCM".into(), "A128GCM".into()]),
            ..Default::default()
        });
        let header = SigningHeader { x5c: None, trust_chain: Some(self.trust_chain()?), kid: None };
        b.sign(&self.rp_ro, &header).map_err(internal)
    }

    /// [`Self::receive_response`] for a caller already on an async runtime.
    pub async fn receive(&self, body: &[u8]) -> TestAnswer {
        let json_answer = |status: u16, body: String| TestAnswer { status, content_type: "application/json".into(), body };
        let (nonce, state) = match lock(&self.session).as_ref() {
            Some(s) => (s.nonce.clone(), s.state.clone()),
            None => return json_answer(400, json!({"error": "invalid_request", "error_description": "no session"}).to_string()),
        };
        let posted = match PostedResponse::parse_form(body) {
            Ok(p) => p,
            Err(e) => return json_answer(400, json!({"error": "invalid_request", "error_description": e.to_string()}).to_string()),
        };
        let cid = self.client_id();
        let ctx = PresentationContext { federation_anchors: &self.issuer_anchors, ..PresentationContext::new(&cid, &nonce, UnixTime::now()) };
        let query = match Self::query() {
            Ok(q) => q,
            Err(e) => return json_answer(500, json!({"error": "server_error", "error_description": e.to_string()}).to_string()),
        };
        let keys = [self.rp_enc.clone()];
        let expect = ResponseExpectation {
            query: &query,
            state: Some(&state),
            decryption_keys: &keys,
            allowed_enc: &[ContentEncryption::A256Gcm, ContentEncryption::A128Gcm],
        };
        let (verdict, answer) = match verify_response(&posted, &expect, &ctx).await {
            Verdict::Verified(v) => {
                let mut claims = Vec::new();
                let mut audience = None;
                for p in v.credentials.values().flatten() {
                    claims.extend(p.disclosed.iter().map(ToString::to_string));
                    audience = Some(p.key_binding.aud.clone());
                }
                claims.sort();
                let code = generate_response_code().unwrap_or_default();
                let answer = json_answer(200, ResponseUriAnswer::same_device(&self.url("/done"), &code).to_json());
                (TestVerdict { outcome: "verified".into(), detail: String::new(), claims, audience }, answer)
            }
            Verdict::Declined(e) => {
                (TestVerdict { outcome: "declined".into(), detail: e.error.as_str().to_owned(), claims: Vec::new(), audience: None }, json_answer(200, "{}".into()))
            }
            Verdict::Refused { reason, .. } => (
                TestVerdict { outcome: "refused".into(), detail: reason.to_string(), claims: Vec::new(), audience: None },
                json_answer(400, json!({"error": "invalid_request", "error_description": reason.to_string()}).to_string()),
            ),
        };
        *lock(&self.verdict) = Some(verdict);
        answer
    }
}

#[uniffi::export]
impl TestVerifier {
    /// A verifier at `rp_id` (a loopback URL the test serves) under a new trust anchor
    /// `trust_anchor_id`, accepting credentials from issuers under `issuer_anchors`.
    #[uniffi::constructor]
    pub fn new(trust_anchor_id: String, rp_id: String, issuer_anchors: Vec<TrustAnchor>) -> Result<Arc<Self>, WalletError> {
        let id = |s: String| EntityId::new(s).map_err(|e| WalletError::InvalidArgument { reason: e.to_string() });
        let key = || SoftwareSigner::generate().map_err(internal);
        Ok(Arc::new(Self {
            anchor_id: id(trust_anchor_id)?,
            anchor_key: key()?,
            rp_id: id(rp_id)?,
            rp_fed: key()?,
            rp_ro: key()?,
            rp_enc: DecryptionKey::generate().map_err(internal)?,
            issuer_anchors: issuer_anchors.iter().map(TrustAnchorConfig::try_from).collect::<Result<_, _>>()?,
            session: Mutex::new(None),
            verdict: Mutex::new(None),
        }))
    }

    /// The verifier's trust anchor, for the wallet's configuration.
    pub fn trust_anchor(&self) -> TrustAnchor {
        TrustAnchor { entity_id: self.anchor_id.to_string(), keys: vec![JwkRecord::from(&self.anchor_key.public_jwk())] }
    }

    /// Starts a session (fresh `nonce` and `state`, verdict cleared) and returns the URL a
    /// wallet opens: `openid4vp://` by reference with `request_uri_method` `method` (`get`
    /// or `post`), or `value` for the request object in the URL.
    pub fn request_url(&self, method: String) -> Result<String, WalletError> {
        *lock(&self.session) = Some(Session { nonce: generate_nonce().map_err(internal)?, state: generate_nonce().map_err(internal)? });
        *lock(&self.verdict) = None;
        let m = match method.as_str() {
            "get" => RequestUriMethod::Get,
            "post" => RequestUriMethod::Post,
            "value" => return Ok(AuthorizationRequestUrl::by_value(WalletInvocation::Openid4vp, self.client_id(), self.sign(None)?).to_url()),
            other => return Err(WalletError::InvalidArgument { reason: format!("method {other}") }),
        };
        Ok(AuthorizationRequestUrl::by_reference(WalletInvocation::Openid4vp, self.client_id(), self.url("/request"), m).to_url())
    }

    /// The answer to `GET` (empty `body`) or `POST {rp}/request`: the signed request object,
    /// echoing the `wallet_nonce` of a POST.
    pub fn request_object(&self, body: Vec<u8>) -> TestAnswer {
        let nonce = if body.is_empty() { Ok(None) } else { RequestUriPost::parse_form(&body).map(|p| p.wallet_nonce.map(|n| n.as_str().to_owned())) };
        match nonce.map_err(internal).and_then(|n| self.sign(n)) {
            Ok(jwt) => TestAnswer { status: 200, content_type: "application/oauth-authz-req+jwt".into(), body: jwt },
            Err(e) => TestAnswer { status: 400, content_type: "text/plain".into(), body: e.to_string() },
        }
    }

    /// The answer to `POST {rp}/response`: the response decrypted and verified
    /// (wallet-core's `verify_response`); `200` with a same-device `redirect_uri`
    /// (`{rp}/done?response_code=...`) when verified, `200 {}` when declined, `400` refused.
    pub fn receive_response(&self, body: Vec<u8>) -> Result<TestAnswer, WalletError> {
        let rt = tokio::runtime::Builder::new_current_thread().build().map_err(internal)?;
        Ok(rt.block_on(self.receive(&body)))
    }

    /// What the verifier concluded about the last response, if one came.
    pub fn verdict(&self) -> Option<TestVerdict> {
        lock(&self.verdict).clone()
    }
}
