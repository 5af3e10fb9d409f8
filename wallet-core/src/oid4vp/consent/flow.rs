//! The wallet's first steps, sans-IO: parse the scanned URL, fetch the request object (the
//! caller sends the [`HttpRequest`]), verify it.

use super::ConsentError;
use crate::federation::chain::{TrustAnchorConfig, ValidatedChain};
use crate::oid4vp::Profile;
use crate::oid4vp::client_id::ClientId;
use crate::oid4vp::request_object::{ParsedRequestObject, VerifiedRequest, VerifyContext, error_notice};
use crate::oid4vp::response::VerifierErrorAnswer;
use crate::oid4vp::request_url::{
    AuthorizationRequestUrl, REQUEST_OBJECT_MEDIA_TYPE, RequestRef, RequestUriMethod, RequestUriPost, WalletMetadata, WalletNonce,
};
use crate::time::{Skew, UnixTime};
use crate::wallet::{HttpRequest, HttpResponse};
use crate::x509::TrustAnchors;

/// What the wallet trusts, and the RP's chain it resolved (with
/// [`crate::federation::ChainCollector`] for [`PresentationFlow::client_id`]'s entity).
#[derive(Debug, Clone, Copy, Default)]
pub struct RpTrustInputs<'a> {
    /// The RP's validated chain.
    pub rp_chain: Option<&'a ValidatedChain>,
    /// Trust anchors for a `trust_chain` header.
    pub federation_anchors: &'a [TrustAnchorConfig],
    /// The federation CA roots (`x5c`).
    pub x509_anchors: Option<&'a TrustAnchors>,
}

/// A presentation request being opened.
#[derive(Debug)]
pub struct PresentationFlow {
    url: AuthorizationRequestUrl,
    wallet_nonce: Option<WalletNonce>,
    profile: Profile,
}

impl PresentationFlow {
    /// Parses what the wallet scanned or was opened with.
    pub fn start(url: &str, profile: Profile) -> Result<Self, ConsentError> {
        let url = AuthorizationRequestUrl::parse(url).map_err(ConsentError::Url)?;
        let wallet_nonce = match &url.request {
            RequestRef::Uri { method: RequestUriMethod::Post, .. } => Some(WalletNonce::generate().map_err(|e| ConsentError::Randomness(e.to_string()))?),
            _ => None,
        };
        Ok(Self { url, wallet_nonce, profile })
    }

    /// The `client_id` (its entity id is whose chain to resolve).
    pub fn client_id(&self) -> &ClientId {
        &self.url.client_id
    }

    /// The request URL as parsed.
    pub fn url(&self) -> &AuthorizationRequestUrl {
        &self.url
    }

    /// The request that fetches the request object (`None` when it came by value): `GET`, or
    /// `POST` with this wallet's metadata and a fresh `wallet_nonce`.
    pub fn request_object_request(&self) -> Option<HttpRequest> {
        let post = RequestUriPost { wallet_metadata: Some(WalletMetadata::tessera(self.profile)), wallet_nonce: self.wallet_nonce.clone() };
        self.url.request.fetch_request(Some(&post))
    }

    /// Verifies the request object: the one in the URL (`response` ignored), or the body of
    /// `response` to [`Self::request_object_request`]. On a refusal, send what
    /// [`Self::error_notice`] makes of it.
    pub fn on_request_object(&self, response: Option<&HttpResponse>, trust: &RpTrustInputs<'_>, now: UnixTime) -> Result<VerifiedRequest, ConsentError> {
        let (jwt, request_uri) = self.request_object_text(response)?;
        let ctx = VerifyContext {
            url_client_id: &self.url.client_id,
            request_uri: request_uri.as_deref(),
            wallet_nonce: self.wallet_nonce.as_ref(),
            rp_chain: trust.rp_chain,
            federation_anchors: trust.federation_anchors,
            x509_anchors: trust.x509_anchors,
            profile: self.profile,
            now,
            skew: Skew::new(60),
        };
        ParsedRequestObject::parse(&jwt).and_then(|p| p.verify(&ctx)).map_err(ConsentError::RequestObject)
    }

    /// The Authorization Error Response telling the relying party why
    /// [`Self::on_request_object`] refused its request object (WP_090), or `None` where it
    /// may not be told: `rp_chain` is its validated chain, and only a `response_uri` that
    /// chain registers is written to ([`crate::oid4vp::request_object::error_notice`] has the
    /// rules). The caller sends it, best effort: the citizen is shown `error` either way.
    pub fn error_notice(&self, response: Option<&HttpResponse>, rp_chain: Option<&ValidatedChain>, error: &ConsentError) -> Option<HttpRequest> {
        let ConsentError::RequestObject(e) = error else { return None };
        let (jwt, _) = self.request_object_text(response).ok()?;
        error_notice(&jwt, &self.url.client_id, rp_chain, e)
    }

    /// The request object's text and the `request_uri` it was fetched from.
    fn request_object_text(&self, response: Option<&HttpResponse>) -> Result<(String, Option<String>), ConsentError> {
        match &self.url.request {
            RequestRef::Value(v) => Ok((v.clone(), None)),
            RequestRef::Uri { uri, .. } => {
                let r = response.ok_or(ConsentError::RequestObjectFetch(0))?;
                if !(200..300).contains(&r.status) {
                    // WP_089: its OAuth error, when the body is one (bounded, printable).
                    let answer = (r.body.len() <= 16 * 1024).then(|| serde_json::from_slice::<VerifierErrorAnswer>(&r.body).ok()).flatten();
                    let clean = |s: String| -> String { s.chars().filter(|c| !c.is_control()).take(300).collect() };
                    return Err(ConsentError::RequestUriRefused {
                        status: r.status,
                        error: answer.as_ref().map(|a| clean(a.error.clone())),
                        description: answer.and_then(|a| a.error_description).map(clean),
                    });
                }
                let ct_ok = r.header("content-type").is_none_or(|c| {
                    crate::jose::jws::media_type_eq(c.split(';').next().unwrap_or_default().trim(), REQUEST_OBJECT_MEDIA_TYPE)
                        || c.starts_with("application/jwt")
                });
                if !ct_ok {
                    return Err(ConsentError::RequestObjectFetch(r.status));
                }
                let body = String::from_utf8(r.body.clone()).map_err(|_| ConsentError::RequestObjectFetch(r.status))?;
                Ok((body, Some(uri.clone())))
            }
        }
    }
}
