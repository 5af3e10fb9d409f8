//! Request Objects (RFC 9101, OpenID4VP 1.0 §5, IT-Wallet 1.4 §5.1): `typ`
//! `oauth-authz-req+jwt`.
//!
//! * Verifier: [`RequestObjectBuilder`] → [`RequestObjectBuilder::sign`], with the header's
//!   `x5c` (leaf first, no root) and, for a federation client, `trust_chain` ([`SigningHeader`]).
//! * Wallet: [`ParsedRequestObject::parse`] (form only), then
//!   [`ParsedRequestObject::verify`] with a [`VerifyContext`] → [`VerifiedRequest`], the only
//!   way to make one. Every check of §5.1 and §8 is a [`RequestObjectError`] variant; see
//!   [`verify`](self::ParsedRequestObject::verify) for the order.
//!
//! Choices (ambiguities of the text):
//! * `typ` is a SHOULD in IT-Wallet: absent is accepted, any other value refused.
//! * `iss` must name the client: the full `client_id` or, for federation, the bare entity id
//!   (tools send either).
//! * `nonce`: "at least 32 digits" in the IT-Wallet table; we require 32 characters (our
//!   nonces are 32 random bytes, base64url: 43 characters).
//! * `response_mode`: `direct_post.jwt` only, in both profiles (versions note §2: REQUIRED in
//!   1.3 too); `direct_post` is refused.
//! * `dcql_query` is REQUIRED in both profiles (1.3 already used DCQL; Presentation Exchange
//!   was 0.8): `presentation_definition` and `scope`-only requests are refused.
//! * `request_uri`, `response_uri`, `redirect_uri` are registered when the RP's metadata lists
//!   them exactly or without their query (a per-session query on a published URI): one rule,
//!   [`uri_registered`], comparing parsed URLs (same scheme, host, port and path; no
//!   fragment).
//! * Replay of a request object (same `nonce`/`state`) is not the wallet's concern; nonce
//!   replay on responses is checked by the verifier service against its store.

mod error;
mod notice;
mod verify;

pub use error::RequestObjectError;
pub use notice::error_notice;
pub use verify::{RedirectRule, RpTrust, VerifiedRequest, VerifyContext, uri_registered};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::client_id::ClientId;
use super::dcql::DcqlQuery;
use super::metadata::VerifierMetadata;
use crate::jose::{CompactJws, JwsAlg, JwsHeader, Signer, jws};
use crate::time::UnixTime;

/// The `typ` of a request object.
pub const REQUEST_OBJECT_TYP: &str = "oauth-authz-req+jwt";
/// The shortest nonce accepted (IT-Wallet §5.1).
pub const MIN_NONCE_LEN: usize = 32;
/// The longest nonce or `state` accepted.
pub const MAX_NONCE_LEN: usize = 512;
/// `response_type`.
pub const RESPONSE_TYPE_VP_TOKEN: &str = "vp_token";
/// `response_mode` `direct_post.jwt`.
pub const DIRECT_POST_JWT: &str = "direct_post.jwt";
/// The `aud` of a request object for a dynamically discovered wallet (OpenID4VP §5.8).
pub const SELF_ISSUED_AUD: &str = "https://self-issued.me/v2";
/// The longest request object lifetime the builder emits (1 hour).
pub const MAX_LIFETIME: i64 = 3600;

/// The claims of a request object, as on the wire (nothing checked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestObjectClaims {
    /// `iss`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `aud`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Value>,
    /// `client_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `response_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_type: Option<String>,
    /// `response_mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mode: Option<String>,
    /// `response_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_uri: Option<String>,
    /// `redirect_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// `nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// `state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `dcql_query`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcql_query: Option<Value>,
    /// `presentation_definition` (refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presentation_definition: Option<Value>,
    /// `client_metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_metadata: Option<Value>,
    /// `wallet_nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_nonce: Option<String>,
    /// `transaction_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_data: Option<Vec<String>>,
    /// `iat`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// `exp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Other claims.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What the verifier puts in the request object's JOSE header besides `alg` and `typ`.
#[derive(Debug, Clone, Default)]
pub struct SigningHeader {
    /// `x5c`: base64 DER, leaf first, root excluded (REQUIRED by IT-Wallet).
    pub x5c: Option<Vec<String>>,
    /// `trust_chain` (federation clients; OPTIONAL).
    pub trust_chain: Option<Vec<String>>,
    /// `kid` (defaults to the signer's).
    pub kid: Option<String>,
}

/// A request object to sign (verifier side). Fields are public so a verifier (or the
/// conformance tool) can set each one; [`Self::new`] fills the IT-Wallet defaults.
#[derive(Debug, Clone)]
pub struct RequestObjectBuilder {
    /// `client_id` (and `iss`).
    pub client_id: ClientId,
    /// `response_uri`.
    pub response_uri: String,
    /// `redirect_uri` (not used with `direct_post.jwt`; kept for tests).
    pub redirect_uri: Option<String>,
    /// `nonce` (≥ 32 characters).
    pub nonce: String,
    /// `state`.
    pub state: Option<String>,
    /// `dcql_query`.
    pub dcql_query: DcqlQuery,
    /// `client_metadata`.
    pub client_metadata: Option<VerifierMetadata>,
    /// `wallet_nonce`, echoed from the wallet's POST.
    pub wallet_nonce: Option<String>,
    /// `iat`.
    pub iat: UnixTime,
    /// Lifetime in seconds (`exp = iat + lifetime`).
    pub lifetime: i64,
    /// `response_mode` (always `direct_post.jwt` unless a test breaks it).
    pub response_mode: String,
    /// `response_type`.
    pub response_type: String,
    /// `aud`.
    pub aud: Option<String>,
}

impl RequestObjectBuilder {
    /// A request with the IT-Wallet defaults: `vp_token`, `direct_post.jwt`, `aud`
    /// `https://self-issued.me/v2`, valid 5 minutes from `now`.
    pub fn new(client_id: ClientId, response_uri: impl Into<String>, nonce: impl Into<String>, dcql_query: DcqlQuery, now: UnixTime) -> Self {
        Self {
            client_id,
            response_uri: response_uri.into(),
            redirect_uri: None,
            nonce: nonce.into(),
            state: None,
            dcql_query,
            client_metadata: None,
            wallet_nonce: None,
            iat: now,
            lifetime: 300,
            response_mode: DIRECT_POST_JWT.into(),
            response_type: RESPONSE_TYPE_VP_TOKEN.into(),
            aud: Some(SELF_ISSUED_AUD.into()),
        }
    }

    /// The claims this builder signs.
    pub fn claims(&self) -> Result<RequestObjectClaims, RequestObjectError> {
        let exp = self.checked_exp()?;
        let client_metadata = self
            .client_metadata
            .as_ref()
            .map(|m| serde_json::to_value(m).map_err(|e| RequestObjectError::BadMetadata(e.to_string())))
            .transpose()?;
        Ok(RequestObjectClaims {
            iss: Some(self.client_id.as_str().to_owned()),
            aud: self.aud.clone().map(Value::String),
            client_id: Some(self.client_id.as_str().to_owned()),
            response_type: Some(self.response_type.clone()),
            response_mode: Some(self.response_mode.clone()),
            response_uri: Some(self.response_uri.clone()),
            redirect_uri: self.redirect_uri.clone(),
            nonce: Some(self.nonce.clone()),
            state: self.state.clone(),
            dcql_query: Some(self.dcql_query.to_value()),
            presentation_definition: None,
            client_metadata,
            wallet_nonce: self.wallet_nonce.clone(),
            transaction_data: None,
            iat: Some(self.iat.secs()),
            exp: Some(exp),
            extra: Map::new(),
        })
    }

    /// The builder's checks (a valid DCQL query, a lifetime within [`MAX_LIFETIME`]) and the
    /// `exp` they give.
    fn checked_exp(&self) -> Result<i64, RequestObjectError> {
        self.dcql_query.validate().map_err(RequestObjectError::Dcql)?;
        if self.lifetime <= 0 || self.lifetime > MAX_LIFETIME {
            return Err(RequestObjectError::Time(crate::time::TimeError::TooLong { name: "lifetime", secs: self.lifetime, max: MAX_LIFETIME }));
        }
        Ok(self.iat.checked_add(self.lifetime).map_err(RequestObjectError::Time)?.secs())
    }

    /// [`Self::claims`] borrowed from the builder, for signing: the same JSON, member for
    /// member and in the same order, written straight from the DCQL query and the metadata
    /// (a verifier signs one per wallet; no `Value` tree of either is built and dropped).
    fn claims_ref(&self) -> Result<ClaimsRef<'_>, RequestObjectError> {
        let exp = self.checked_exp()?;
        let client_id = self.client_id.as_str();
        Ok(ClaimsRef {
            iss: client_id,
            aud: self.aud.as_deref(),
            client_id,
            response_type: &self.response_type,
            response_mode: &self.response_mode,
            response_uri: &self.response_uri,
            redirect_uri: self.redirect_uri.as_deref(),
            nonce: &self.nonce,
            state: self.state.as_deref(),
            dcql_query: &self.dcql_query,
            client_metadata: self.client_metadata.as_ref(),
            wallet_nonce: self.wallet_nonce.as_deref(),
            iat: self.iat.secs(),
            exp,
        })
    }

    /// Signs the request object: `typ` `oauth-authz-req+jwt`, `alg` and `kid` from the
    /// signer, `x5c` and `trust_chain` from `header`.
    pub fn sign(&self, signer: &dyn Signer, header: &SigningHeader) -> Result<String, RequestObjectError> {
        jws::sign_json(&request_object_header(signer, header), &self.claims_ref()?, signer).map_err(|e| RequestObjectError::Sign(e.to_string()))
    }

    /// [`Self::sign`] with a header encoded once ([`EncodedHeader`]): the same JWS, without
    /// serialising and encoding the header's kilobytes of `x5c` and `trust_chain` again.
    /// `signer` must be the one the header was encoded for (its `alg` is checked).
    pub fn sign_encoded(&self, signer: &dyn Signer, header: &EncodedHeader) -> Result<String, RequestObjectError> {
        jws::sign_json_encoded(&header.0, &self.claims_ref()?, signer).map_err(|e| RequestObjectError::Sign(e.to_string()))
    }
}

/// [`RequestObjectClaims`] as a [`RequestObjectBuilder`] fills them, borrowed
/// ([`RequestObjectBuilder::claims_ref`]): the members in the order of
/// [`RequestObjectClaims`], absent ones skipped as there.
#[derive(Serialize)]
struct ClaimsRef<'a> {
    iss: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    client_id: &'a str,
    response_type: &'a str,
    response_mode: &'a str,
    response_uri: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_uri: Option<&'a str>,
    nonce: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    dcql_query: &'a DcqlQuery,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_metadata: Option<&'a VerifierMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_nonce: Option<&'a str>,
    iat: i64,
    exp: i64,
}

/// The protected header [`sign_claims`] puts on a request object.
fn request_object_header(signer: &dyn Signer, header: &SigningHeader) -> JwsHeader {
    let mut h = JwsHeader::new(JwsAlg::Es256).with_typ(REQUEST_OBJECT_TYP).with_kid(header.kid.clone().or_else(|| signer.kid()));
    h.x5c = header.x5c.clone();
    h.trust_chain = header.trust_chain.clone();
    h
}

/// A request object's protected header for one signer, serialised and base64url-encoded
/// once, exactly as [`RequestObjectBuilder::sign`] encodes it: a verifier signing every
/// request object under the same `x5c` and `trust_chain` keeps one
/// ([`RequestObjectBuilder::sign_encoded`]).
#[derive(Debug, Clone)]
pub struct EncodedHeader(jws::EncodedHeader);

impl EncodedHeader {
    /// Encodes the header `signer` signs request objects with under `header`.
    pub fn new(signer: &dyn Signer, header: &SigningHeader) -> Result<Self, RequestObjectError> {
        Ok(Self(jws::EncodedHeader::new(&request_object_header(signer, header), signer)))
    }
}

/// A fresh `nonce` or `state`: 32 random bytes, base64url (43 characters, above
/// [`MIN_NONCE_LEN`]).
pub fn generate_nonce() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(crate::jose::b64::encode(b))
}

/// Signs arbitrary request object claims (the conformance tool's broken requests).
pub fn sign_claims(claims: &RequestObjectClaims, signer: &dyn Signer, header: &SigningHeader) -> Result<String, RequestObjectError> {
    jws::sign_json(&request_object_header(signer, header), claims, signer).map_err(|e| RequestObjectError::Sign(e.to_string()))
}

/// A request object parsed for form only: a compact JWS whose payload is the claims object.
/// Nothing in it is trusted before [`Self::verify`].
#[derive(Debug, Clone)]
pub struct ParsedRequestObject {
    jwt: String,
    header: JwsHeader,
    claims: RequestObjectClaims,
}

impl ParsedRequestObject {
    /// Parses `jwt` (bounded by the JWS parser; `none` and HMAC refused there).
    pub fn parse(jwt: &str) -> Result<Self, RequestObjectError> {
        let jwt = jwt.trim();
        let jws = CompactJws::parse(jwt).map_err(RequestObjectError::Malformed)?;
        let claims: RequestObjectClaims = jws.payload_json().map_err(RequestObjectError::Malformed)?;
        Ok(Self { jwt: jwt.to_owned(), header: jws.into_header(), claims })
    }

    /// The header, unverified.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The claims, unverified (for diagnostics and the conformance tool).
    pub fn insecure_unverified_claims(&self) -> &RequestObjectClaims {
        &self.claims
    }
}

#[cfg(test)]
mod tests;
