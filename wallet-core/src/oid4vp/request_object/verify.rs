//! The wallet's verification of a request object (IT-Wallet 1.4 §5.1 "Wallet checks", §8
//! "Wallet rejects", OpenID4VP 1.0 §5 and §5.9).

use base64::Engine as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::{DIRECT_POST_JWT, MAX_NONCE_LEN, MIN_NONCE_LEN, ParsedRequestObject, REQUEST_OBJECT_TYP, RESPONSE_TYPE_VP_TOKEN, RequestObjectError};
use crate::federation::chain::{TrustAnchorConfig, ValidatedChain, validate};
use crate::federation::EntityId;
use crate::jose::{CompactJws, ContentEncryption, JoseError, Jwk, JwsHeader};
use crate::oid4vp::Profile;
use crate::oid4vp::client_id::{ClientId, ClientIdKind};
use crate::oid4vp::dcql::{CredentialFormat, DcqlQuery};
use crate::oid4vp::metadata::{VERIFIER_ENTITY_TYPE, VerifierMetadata};
use crate::oid4vp::request_url::WalletNonce;
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};
use crate::x509::{TrustAnchors, VerifiedChain, uri_host};

/// What the wallet knows when it verifies a request object.
#[derive(Debug, Clone, Copy)]
pub struct VerifyContext<'a> {
    /// The `client_id` of the request URL.
    pub url_client_id: &'a ClientId,
    /// The `request_uri` the request object was fetched from (by reference).
    pub request_uri: Option<&'a str>,
    /// The `wallet_nonce` the wallet POSTed, if it did.
    pub wallet_nonce: Option<&'a WalletNonce>,
    /// The RP's trust chain, resolved and validated by the caller (with
    /// [`crate::federation::ChainCollector`], sync or async).
    pub rp_chain: Option<&'a ValidatedChain>,
    /// Trust anchors to validate a `trust_chain` header with, when `rp_chain` is `None`.
    pub federation_anchors: &'a [TrustAnchorConfig],
    /// The federation CA roots for `x5c` (REQUIRED for `x509_hash`; when given, a
    /// federation client's `x5c` is checked too).
    pub x509_anchors: Option<&'a TrustAnchors>,
    /// The wallet's profile (which response-encryption key it prefers).
    pub profile: Profile,
    /// Now.
    pub now: UnixTime,
    /// Tolerated clock difference.
    pub skew: Skew,
}

impl<'a> VerifyContext<'a> {
    /// A context with no chain, no anchors, no `request_uri`, no `wallet_nonce`, 60 s skew.
    pub fn new(url_client_id: &'a ClientId, profile: Profile, now: UnixTime) -> Self {
        Self {
            url_client_id,
            request_uri: None,
            wallet_nonce: None,
            rp_chain: None,
            federation_anchors: &[],
            x509_anchors: None,
            profile,
            now,
            skew: Skew::new(60),
        }
    }
}

/// How the relying party was trusted.
#[derive(Debug, Clone, PartialEq)]
pub enum RpTrust {
    /// Through its federation trust chain.
    Federation {
        /// Its entity id.
        entity_id: EntityId,
        /// The trust anchor the chain ends at.
        trust_anchor: EntityId,
        /// The chain's expiry.
        chain_exp: UnixTime,
    },
    /// Through its `x5c` certificate (`x509_hash`).
    X509 {
        /// The leaf's SAN URIs.
        san_uris: Vec<String>,
        /// The leaf's SAN DNS names.
        san_dns: Vec<String>,
    },
}

/// A request object that passed every check. Only [`ParsedRequestObject::verify`] makes one
/// (`non_exhaustive`: no other crate can build it).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedRequest {
    /// `client_id`.
    pub client_id: ClientId,
    /// How the RP was trusted.
    pub trust: RpTrust,
    /// The RP's authoritative metadata: from its trust chain (federation) or
    /// `client_metadata` (`x509_hash`).
    pub metadata: VerifierMetadata,
    /// `client_metadata` as sent.
    pub client_metadata: Option<VerifierMetadata>,
    /// `response_uri`.
    pub response_uri: String,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `nonce`: the KB-JWT's `nonce`.
    pub nonce: String,
    /// `state`.
    pub state: Option<String>,
    /// `dcql_query`.
    pub dcql_query: DcqlQuery,
    /// `transaction_data`: `None` while no type is supported (a request carrying any is
    /// refused, [`RequestObjectError::TransactionDataNotSupported`]).
    pub transaction_data: Option<Vec<String>>,
    /// The key the response is encrypted to (P-256, with a `kid`).
    pub encryption_key: Jwk,
    /// The content encryption to use.
    pub enc: ContentEncryption,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp`.
    pub exp: UnixTime,
    /// The profile it was verified under.
    pub profile: Profile,
}

fn decode_x5c(x5c: &[String]) -> Result<Vec<Vec<u8>>, RequestObjectError> {
    x5c.iter()
        .enumerate()
        .map(|(index, s)| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|_| RequestObjectError::Certificate(crate::x509::X509Error::Malformed { index, detail: "not base64".into() }))
        })
        .collect()
}

/// IT-Wallet §1.3: the request object's `x5c` excludes the root. A self-issued certificate
/// (subject = issuer) in the chain is a root.
fn refuse_root(ders: &[Vec<u8>]) -> Result<(), RequestObjectError> {
    for (index, der) in ders.iter().enumerate() {
        let (_, cert) = X509Certificate::from_der(der)
            .map_err(|e| RequestObjectError::Certificate(crate::x509::X509Error::Malformed { index, detail: e.to_string() }))?;
        if cert.subject().as_raw() == cert.issuer().as_raw() {
            return Err(RequestObjectError::RootInChain);
        }
    }
    Ok(())
}

/// A `transaction_data` entry's `type` (base64url of a JSON object), or why it has none.
fn transaction_data_type(entry: &str) -> String {
    let object = crate::jose::b64::decode(entry).ok().and_then(|b| serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&b).ok());
    match object {
        Some(o) => match o.get("type").and_then(serde_json::Value::as_str) {
            Some(t) => format!("type `{t}`"),
            None => "an entry without `type`".into(),
        },
        None => "an entry that is not base64url JSON".into(),
    }
}

/// Whether the leaf names the host of `uri` (SAN DNS, or a SAN URI with that host).
fn san_binds(chain: &VerifiedChain, uri: &str) -> bool {
    san_names_host(&chain.san_uris, &chain.san_dns, uri)
}

fn san_names_host(san_uris: &[String], san_dns: &[String], uri: &str) -> bool {
    let Some(host) = uri_host(uri) else { return false };
    san_dns.contains(&host) || san_uris.iter().any(|u| uri_host(u).as_deref() == Some(host.as_str()))
}

/// Where the RP may send the citizen's browser once the wallet has answered (the
/// same-device flow's `redirect_uri` in the `response_uri`'s answer, OpenID4VP 1.0 §8.2):
/// the request's own URIs are checked when it is verified, the answer's only arrives after
/// the response was sent. IT-Wallet 1.4 §5.1 (WP_094a): among the RP's `redirect_uris`. A
/// redirect elsewhere would take the `response_code` to a page the RP never registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectRule {
    rp: RpRedirects,
    own: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RpRedirects {
    /// A federation RP: registered in its trust chain's `redirect_uris`.
    Registered(Vec<String>),
    /// An `x509_hash` RP: on a host its certificate's SAN names, as for the request's URIs.
    Certificate { san_uris: Vec<String>, san_dns: Vec<String> },
}

impl RedirectRule {
    /// Whether the wallet may follow `uri`: registered by a federation RP
    /// ([`uri_registered`]: a per-session query such as `response_code` is allowed), on a
    /// host an `x509_hash` RP's certificate names, or the wallet's own ([`Self::and_own`]).
    pub fn allows(&self, uri: &str) -> bool {
        let rp = match &self.rp {
            RpRedirects::Registered(list) => uri_registered(list, uri),
            RpRedirects::Certificate { san_uris, san_dns } => san_names_host(san_uris, san_dns, uri),
        };
        rp || uri_registered(&self.own, uri)
    }

    /// Also the wallet's own `redirect_uri`: an issuer that asks for the PID during an
    /// issuance's authorization answers the presentation with the authorization response,
    /// a redirect to the `redirect_uri` the wallet pushed at PAR (OpenID4VP 1.0 §8.2, RFC
    /// 6749 §4.1.2), whose `state` and `iss` the wallet then checks.
    pub fn and_own(mut self, redirect_uri: &str) -> Self {
        self.own.push(redirect_uri.to_owned());
        self
    }
}

impl VerifiedRequest {
    /// The rule for the redirect the RP answers the response with.
    pub fn redirect_rule(&self) -> RedirectRule {
        let rp = match &self.trust {
            RpTrust::Federation { .. } => RpRedirects::Registered(self.metadata.redirect_uris.clone()),
            RpTrust::X509 { san_uris, san_dns } => RpRedirects::Certificate { san_uris: san_uris.clone(), san_dns: san_dns.clone() },
        };
        RedirectRule { rp, own: Vec::new() }
    }
}

fn verify_signature(jwt: &str, key: &Jwk) -> Result<(), RequestObjectError> {
    let jws = CompactJws::parse(jwt).map_err(RequestObjectError::Malformed)?;
    jws.verify(key).map_err(|e| match e {
        JoseError::BadSignature | JoseError::KeyAlgMismatch { .. } | JoseError::InvalidKey(_) => RequestObjectError::BadSignature,
        other => RequestObjectError::Malformed(other),
    })
}

fn x5c_chain(header: &JwsHeader, anchors: &TrustAnchors, now: UnixTime) -> Result<(Vec<Vec<u8>>, VerifiedChain), RequestObjectError> {
    let x5c = header.x5c.as_deref().ok_or(RequestObjectError::MissingX5c)?;
    let ders = decode_x5c(x5c)?;
    refuse_root(&ders)?;
    let chain = anchors.verify_chain(x5c, now).map_err(RequestObjectError::Certificate)?;
    Ok((ders, chain))
}

/// Whether `uri` is registered in `list`: listed exactly, or listed without a query that
/// `uri` adds (RPs publish one `request_uri`/`response_uri`/`redirect_uri` and add a
/// per-session query, as pyeudiw does). Compared as parsed URLs: the same scheme, host, port
/// (default ports normalised), user info and path; neither may carry a fragment. The one rule
/// for `request_uri`, `response_uri` and `redirect_uri` (the mix-up defence is about where the
/// request comes from and the response goes, which scheme, host, port and path decide).
pub fn uri_registered(list: &[String], uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else { return false };
    if u.fragment().is_some() || u.cannot_be_a_base() {
        return false;
    }
    let mut base = u.clone();
    base.set_query(None);
    list.iter().any(|r| {
        let Ok(r) = url::Url::parse(r) else { return false };
        if r.fragment().is_some() {
            return false;
        }
        r == u || (r.query().is_none() && r == base)
    })
}

fn time_error(e: TimeError) -> RequestObjectError {
    match e {
        TimeError::Expired { exp, now, .. } => RequestObjectError::Expired { exp, now },
        TimeError::IssuedInFuture { iat, now, .. } => RequestObjectError::IssuedInFuture { iat, now },
        other => RequestObjectError::Time(other),
    }
}

pub(super) fn metadata_of(chain: &ValidatedChain) -> Result<VerifierMetadata, RequestObjectError> {
    let m = chain.metadata_of(VERIFIER_ENTITY_TYPE).ok_or(RequestObjectError::NoVerifierMetadata)?;
    VerifierMetadata::from_map(m).map_err(|e| RequestObjectError::BadMetadata(e.to_string()))
}

impl ParsedRequestObject {
    /// Verifies the request object, in this order, each failure its own variant:
    /// 1. `typ` absent or `oauth-authz-req+jwt`;
    /// 2. `client_id` equals the URL's (WP_086), `iss` names it;
    /// 3. trust and signature: federation, the RP's validated chain (given, or the
    ///    `trust_chain` header validated to a configured anchor) is about the client, its
    ///    `openid_credential_verifier` `jwks` holds the header's `kid`, the signature verifies
    ///    with it; an `x5c`, when X.509 anchors are configured, chains to them without a root
    ///    and its leaf is that key; `x509_hash`, the `x5c` (REQUIRED) has no root, its leaf
    ///    hashes to the client id, chains to the federation CA, and its key verifies;
    /// 4. `iat` and `exp` present and valid at `now` (checked time);
    /// 5. `response_type` `vp_token`, `response_mode` `direct_post.jwt`;
    /// 6. `response_uri` present, among the RP's `response_uris` (federation; exactly, or
    ///    with a per-session query added: [`uri_registered`]) and named by the
    ///    `x5c` leaf's SAN when an `x5c` was verified; `redirect_uri` among `redirect_uris`; the
    ///    fetched `request_uri` among `request_uris` (federation);
    /// 7. `nonce` of 32 to 512 characters; `state` at most 512;
    /// 8. `wallet_nonce` echoed when the wallet sent one;
    /// 9. `dcql_query` present and valid, no `presentation_definition`, a supported format;
    /// 10. a response encryption key (P-256 `enc` with `kid`) and `enc` (A256GCM/A128GCM).
    pub fn verify(&self, ctx: &VerifyContext<'_>) -> Result<VerifiedRequest, RequestObjectError> {
        let c = &self.claims;
        if self.header.typ.is_some() && !self.header.typ_is(REQUEST_OBJECT_TYP) {
            return Err(RequestObjectError::WrongTyp(self.header.typ.clone()));
        }
        let client_id_text = c.client_id.as_deref().ok_or(RequestObjectError::MissingClaim("client_id"))?;
        if client_id_text != ctx.url_client_id.as_str() {
            return Err(RequestObjectError::ClientIdMismatch { in_url: ctx.url_client_id.as_str().to_owned(), in_object: client_id_text.to_owned() });
        }
        let client_id = ClientId::parse(client_id_text).map_err(RequestObjectError::ClientId)?;
        let iss = c.iss.as_deref().ok_or(RequestObjectError::MissingClaim("iss"))?;
        if !client_id.names(iss) {
            return Err(RequestObjectError::IssMismatch(iss.to_owned()));
        }
        let client_metadata = c
            .client_metadata
            .clone()
            .map(|v| serde_json::from_value::<VerifierMetadata>(v).map_err(|e| RequestObjectError::BadClaim { claim: "client_metadata", detail: e.to_string() }))
            .transpose()?;

        // 3. Trust and signature.
        let (trust, metadata, x5c_verified) = match client_id.kind() {
            ClientIdKind::Federation(entity) => {
                let resolved;
                let chain = match (ctx.rp_chain, &self.header.trust_chain) {
                    (Some(ch), _) => ch,
                    (None, Some(tc)) => {
                        let mut last = RequestObjectError::MissingTrustChain;
                        let mut found = None;
                        for a in ctx.federation_anchors {
                            match validate(tc, a, ctx.now) {
                                Ok(v) => {
                                    found = Some(v);
                                    break;
                                }
                                Err(e) => last = RequestObjectError::UntrustedChain(e),
                            }
                        }
                        resolved = found.ok_or(last)?;
                        &resolved
                    }
                    (None, None) => return Err(RequestObjectError::MissingTrustChain),
                };
                if chain.subject.claims.sub != *entity {
                    return Err(RequestObjectError::EntityMismatch { client: entity.to_string(), chain_subject: chain.subject.claims.sub.to_string() });
                }
                let metadata = metadata_of(chain)?;
                let kid = self.header.kid.clone();
                let key = kid
                    .as_deref()
                    .and_then(|k| metadata.jwks.as_ref().and_then(|s| s.by_kid(k)))
                    .ok_or(RequestObjectError::UnknownKid(kid.clone()))?
                    .clone();
                verify_signature(&self.jwt, &key)?;
                let x5c_verified = match (ctx.x509_anchors, &self.header.x5c) {
                    (Some(anchors), Some(_)) => {
                        let (_, v) = x5c_chain(&self.header, anchors, ctx.now)?;
                        if v.leaf_key.thumbprint() != key.thumbprint() {
                            return Err(RequestObjectError::X5cKeyMismatch);
                        }
                        Some(v)
                    }
                    _ => None,
                };
                let trust = RpTrust::Federation { entity_id: entity.clone(), trust_anchor: chain.trust_anchor.clone(), chain_exp: chain.exp };
                (trust, metadata, x5c_verified)
            }
            ClientIdKind::X509Hash(_) => {
                let anchors = ctx.x509_anchors.ok_or(RequestObjectError::NoX509Anchors)?;
                let x5c = self.header.x5c.as_deref().ok_or(RequestObjectError::MissingX5c)?;
                let ders = decode_x5c(x5c)?;
                let leaf = ders.first().ok_or(RequestObjectError::MissingX5c)?;
                if !client_id.x509_hash_matches(leaf) {
                    return Err(RequestObjectError::X509HashMismatch);
                }
                let (_, chain) = x5c_chain(&self.header, anchors, ctx.now)?;
                verify_signature(&self.jwt, &chain.leaf_key)?;
                let metadata = client_metadata.clone().unwrap_or_default();
                let trust = RpTrust::X509 { san_uris: chain.san_uris.clone(), san_dns: chain.san_dns.clone() };
                (trust, metadata, Some(chain))
            }
        };

        // 4. Time.
        let iat = c.iat.ok_or(RequestObjectError::MissingClaim("iat"))?;
        let exp = c.exp.ok_or(RequestObjectError::MissingClaim("exp"))?;
        check_window(TimeWindow { iat: Some(iat), nbf: None, exp: Some(exp) }, ctx.now, ctx.skew, None).map_err(time_error)?;
        let iat = UnixTime::from_claim("iat", iat).map_err(RequestObjectError::Time)?;
        let exp = UnixTime::from_claim("exp", exp).map_err(RequestObjectError::Time)?;

        // 5. Response type and mode.
        let rt = c.response_type.as_deref().ok_or(RequestObjectError::MissingClaim("response_type"))?;
        if rt != RESPONSE_TYPE_VP_TOKEN {
            return Err(RequestObjectError::UnsupportedResponseType(rt.to_owned()));
        }
        let rm = c.response_mode.as_deref().ok_or(RequestObjectError::MissingClaim("response_mode"))?;
        if rm != DIRECT_POST_JWT {
            return Err(RequestObjectError::ResponseModeNotAllowed(rm.to_owned()));
        }

        // 6. Registered URIs (mix-up defence) and the certificate's binding.
        let response_uri = c.response_uri.clone().ok_or(RequestObjectError::MissingClaim("response_uri"))?;
        let federation = matches!(trust, RpTrust::Federation { .. });
        if federation && !uri_registered(&metadata.response_uris, &response_uri) {
            return Err(RequestObjectError::ResponseUriNotRegistered(response_uri));
        }
        if let Some(r) = &c.redirect_uri
            && federation
            && !uri_registered(&metadata.redirect_uris, r)
        {
            return Err(RequestObjectError::RedirectUriNotRegistered(r.clone()));
        }
        if let Some(r) = ctx.request_uri
            && federation
            && !uri_registered(&metadata.request_uris, r)
        {
            return Err(RequestObjectError::RequestUriNotRegistered(r.to_owned()));
        }
        if let Some(chain) = &x5c_verified {
            for uri in std::iter::once(&response_uri).chain(c.redirect_uri.iter()) {
                if !san_binds(chain, uri) {
                    return Err(RequestObjectError::SanMismatch(uri.clone()));
                }
            }
        }

        // 7. Nonce and state.
        let nonce = c.nonce.clone().ok_or(RequestObjectError::MissingClaim("nonce"))?;
        let len = nonce.chars().count();
        if len < MIN_NONCE_LEN {
            return Err(RequestObjectError::NonceTooShort { len, min: MIN_NONCE_LEN });
        }
        if len > MAX_NONCE_LEN {
            return Err(RequestObjectError::BadClaim { claim: "nonce", detail: "too long".into() });
        }
        if c.state.as_ref().is_some_and(|s| s.is_empty() || s.len() > MAX_NONCE_LEN) {
            return Err(RequestObjectError::BadClaim { claim: "state", detail: "empty or too long".into() });
        }

        // 8. wallet_nonce (OpenID4VP §5.10.1).
        if let Some(sent) = ctx.wallet_nonce {
            let got = c.wallet_nonce.as_deref().ok_or(RequestObjectError::WalletNonceMissing)?;
            if !sent.matches(got) {
                return Err(RequestObjectError::WalletNonceMismatch);
            }
        }

        // 9. The query.
        if c.presentation_definition.is_some() {
            return Err(RequestObjectError::PresentationDefinitionUnsupported);
        }
        let dcql_query = DcqlQuery::from_value(c.dcql_query.clone().ok_or(RequestObjectError::MissingDcqlQuery)?).map_err(RequestObjectError::Dcql)?;
        if dcql_query.credentials.iter().all(|q| matches!(q.format, CredentialFormat::Other(_)))
            && let Some(q) = dcql_query.credentials.first()
        {
            return Err(RequestObjectError::VpFormatsNotSupported(q.format.as_str().to_owned()));
        }

        // 9b. Transaction data (OpenID4VP 1.0 §5.1, §8.4): the wallet must refuse a request
        // with a transaction data type it does not know, since it could neither show it to
        // the citizen nor bind it in the KB-JWT (`transaction_data_hashes`). No type is
        // supported yet, so any is refused, naming it.
        if let Some(td) = c.transaction_data.as_deref().and_then(|v| v.first()) {
            return Err(RequestObjectError::TransactionDataNotSupported(transaction_data_type(td)));
        }

        // 10. Where to encrypt the response (versions note §2: 1.3 wallets use the EC keys,
        // 1.4 wallets `client_metadata` first; both fall back to the other).
        let from_cm = client_metadata.as_ref().and_then(|m| m.encryption_keys().next().map(|k| (k.clone(), m)));
        let from_ec = if federation { metadata.encryption_keys().next().map(|k| (k.clone(), &metadata)) } else { None };
        let chosen = if ctx.profile.prefers_client_metadata_keys() { from_cm.or(from_ec) } else { from_ec.or(from_cm) };
        let (encryption_key, source) = chosen.ok_or(RequestObjectError::NoEncryptionKey)?;
        let enc = source.response_enc().ok_or(RequestObjectError::UnsupportedEnc)?;

        Ok(VerifiedRequest {
            client_id,
            trust,
            metadata,
            client_metadata,
            response_uri,
            redirect_uri: c.redirect_uri.clone(),
            nonce,
            state: c.state.clone(),
            dcql_query,
            transaction_data: c.transaction_data.clone(),
            encryption_key,
            enc,
            iat,
            exp,
            profile: ctx.profile,
        })
    }
}
