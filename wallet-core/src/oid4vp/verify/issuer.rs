//! Issuer trust for a presented credential (IT-Wallet 1.4 §1.3, §4.1, §8 "The issuer is
//! untrusted"): the issuer's federation trust chain (the `trust_chain` header validated to a
//! configured anchor, or resolved by the caller's [`IssuerChainResolver`]) gives its key
//! (`openid_credential_issuer` `jwks` by `kid`) and the `vct`s it may issue
//! (`credential_configurations_supported`); without a chain, the `x5c` leaf chained to the
//! federation CA and naming the issuer gives the key only.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use super::{PresentationContext, Refusal};
use crate::oid4vp::dcql::IssuerAuthorities;
use crate::federation::chain::{ValidatedChain, validate};
use crate::federation::resolver::CREDENTIAL_ISSUER;
use crate::federation::{ChainCollector, EntityId, FederationError};
use crate::jose::{Jwk, JwkSet, JwsHeader};
use crate::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use crate::time::UnixTime;
use crate::x509::{TrustAnchors, VerifiedChain, uri_host};

/// The future an [`IssuerChainResolver`] returns.
pub type ChainFuture<'a> = Pin<Box<dyn Future<Output = Result<ValidatedChain, FederationError>> + Send + 'a>>;

/// The future of [`IssuerChainResolver::resolve_shared`].
pub type SharedChainFuture<'a> = Pin<Box<dyn Future<Output = Result<Arc<ValidatedChain>, FederationError>> + Send + 'a>>;

/// Resolves an issuer's trust chain when the credential carries none (the verifier service
/// implements it with [`ChainCollector::resolve_async`], usually behind a
/// [`crate::federation::ChainCache`]).
pub trait IssuerChainResolver: Send + Sync {
    /// The issuer's validated chain.
    fn resolve<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> ChainFuture<'a>;

    /// The same chain, shared: what presentations are verified with. A resolver behind a
    /// cache overrides it to hand out the cache's own `Arc` (a chain's statements and
    /// metadata run to kilobytes: no copy per presentation); the default wraps
    /// [`Self::resolve`].
    fn resolve_shared<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> SharedChainFuture<'a> {
        Box::pin(async move { self.resolve(issuer, now).await.map(Arc::new) })
    }

    /// The chain resolved again, past a cache, when a credential names a `kid` the chain
    /// handed out does not list: the issuer may have rotated its key since the chain was
    /// cached. `None` (the default): nothing newer to be had (a resolver without a cache
    /// resolves afresh every time). A cached resolver bounds how often it re-resolves one
    /// issuer (a credential with a made-up `kid` must not make it fetch at every presentation).
    fn refresh_shared<'a>(&'a self, _issuer: &'a EntityId, _now: UnixTime) -> Option<SharedChainFuture<'a>> {
        None
    }
}

/// The trust mark an issuer was found to hold (shown in the verifier's audit panel).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldTrustMark {
    /// Its type.
    pub trust_mark_type: String,
    /// Who issued it (the anchor, or an issuer the anchor accredits for the type).
    pub issuer: String,
}

/// The future of [`IssuerMarks::check`]: the mark held (`None`: none required), or why the
/// issuer holds no required mark.
pub type MarksFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<HeldTrustMark>, String>> + Send + 'a>>;

/// The trust marks a verifier requires of credential issuers (IT-Wallet 1.4 §1.3: an issuer
/// is discovered by "a Trust Chain to the TA, plus Trust Marks"; §8: "the issuer is
/// untrusted: … Trust Mark or policy is missing"). The services implement it with
/// service-kit's `MarkKeeper` (static validation under the anchor's `trust_mark_issuers`,
/// the mark's status asked of its issuer, both kept).
pub trait IssuerMarks: Send + Sync {
    /// Whether marks are required at all (an issuer trusted by `x5c` alone, without a
    /// federation trust chain, cannot show one and is then refused).
    fn required(&self) -> bool;
    /// Whether the issuer of `chain` (validated to a configured anchor) holds a required mark.
    fn check<'a>(&'a self, chain: &'a ValidatedChain, now: UnixTime) -> MarksFuture<'a>;
}

/// The least time between two re-resolutions of one issuer's chain past a cache for a `kid`
/// it does not list ([`IssuerChainResolver::refresh_shared`]), in seconds.
pub const CHAIN_REFRESH_INTERVAL: i64 = 60;

/// The issuer metadata's `jwks` in `chain` (`openid_credential_issuer`).
fn chain_jwks(chain: &ValidatedChain) -> Option<JwkSet> {
    chain.metadata_of(CREDENTIAL_ISSUER).and_then(|md| md.get("jwks")).and_then(|j| <JwkSet as serde::Deserialize>::deserialize(j).ok())
}

impl IssuerChainResolver for ChainCollector<'_> {
    fn resolve<'a>(&'a self, issuer: &'a EntityId, now: UnixTime) -> ChainFuture<'a> {
        Box::pin(self.resolve_async(issuer, now))
    }
}

/// How the issuer was trusted (shown in the verifier page's audit panel). Serialized with a
/// `kind` tag, snake_case: `{"kind": "trust_chain", "trust_anchor", "entities", "from_header",
/// "organization_name"}` or `{"kind": "x5c", "san_uris", "san_dns"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IssuerTrustPath {
    /// A federation trust chain.
    TrustChain {
        /// The trust anchor it ends at.
        trust_anchor: EntityId,
        /// The entities of the chain, issuer first.
        entities: Vec<String>,
        /// Whether it came in the credential's `trust_chain` header (else resolved).
        from_header: bool,
        /// The issuer's `organization_name`, when its metadata has one.
        organization_name: Option<String>,
        /// The required trust mark it holds, when the verifier requires one ([`IssuerMarks`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        trust_mark: Option<HeldTrustMark>,
    },
    /// The `x5c` certificate only.
    X5c {
        /// The leaf's SAN URIs.
        san_uris: Vec<String>,
        /// The leaf's SAN DNS names.
        san_dns: Vec<String>,
    },
}

impl IssuerTrustPath {
    /// The `kind`: `trust_chain` or `x5c`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::TrustChain { .. } => "trust_chain",
            Self::X5c { .. } => "x5c",
        }
    }
}

impl std::fmt::Display for IssuerTrustPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TrustChain { trust_anchor, from_header: true, .. } => write!(f, "federation trust chain (from the credential) to {trust_anchor}"),
            Self::TrustChain { trust_anchor, from_header: false, .. } => write!(f, "federation trust chain (resolved) to {trust_anchor}"),
            Self::X5c { .. } => f.write_str("x5c certificate chained to the federation CA"),
        }
    }
}

/// An issuer whose key is trusted.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// The key that must have signed the credential.
    pub key: Jwk,
    /// How it was trusted.
    pub path: IssuerTrustPath,
    /// The `vct`s the federation metadata lets it issue; `None` without a chain.
    pub allowed_vcts: Option<Vec<String>>,
    /// Its metadata `jwks` (status list tokens are checked with them).
    pub jwks: Option<JwkSet>,
    /// The AKIs of its validated `x5c` chain (none when no `x5c` was validated), for a DCQL
    /// `aki` entry ([`Self::authorities`]).
    pub authority_key_ids: Vec<Vec<u8>>,
}

impl TrustedIssuer {
    /// What was validated of it, for `trusted_authorities` (OpenID4VP 1.0 §6.1.1): the
    /// entities of its validated trust chain (issuer, intermediates, anchor; none without a
    /// chain) and the AKIs of its validated `x5c` chain. Built only for a query that has
    /// `trusted_authorities`, from what [`Self::path`] already holds.
    pub fn authorities(&self) -> IssuerAuthorities {
        let federation_entities = match &self.path {
            IssuerTrustPath::TrustChain { trust_anchor, entities, .. } => {
                let mut all = entities.clone();
                if !all.iter().any(|e| e == trust_anchor.as_str()) {
                    all.push(trust_anchor.to_string());
                }
                all
            }
            IssuerTrustPath::X5c { .. } => Vec::new(),
        };
        IssuerAuthorities { federation_entities: Some(federation_entities), authority_key_ids: Some(self.authority_key_ids.clone()) }
    }
}

fn untrusted(msg: impl Into<String>) -> Refusal {
    Refusal::UntrustedIssuer(msg.into())
}

fn allowed_vcts(md: &serde_json::Map<String, Value>) -> Vec<String> {
    md.get("credential_configurations_supported")
        .and_then(Value::as_object)
        .map(|c| c.values().filter_map(|cfg| cfg.get("vct").and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn x5c_names(chain: &VerifiedChain, iss: &str) -> bool {
    let host = uri_host(iss);
    chain.san_uris.iter().any(|u| u == iss) || host.is_some_and(|h| chain.san_dns.contains(&h))
}

/// Establishes the issuer's key for a JWS with `header` issued by `iss`.
pub(crate) async fn establish(iss: &str, header: &JwsHeader, ctx: &PresentationContext<'_>) -> Result<TrustedIssuer, Refusal> {
    let mut chain_error = None;
    let mut chain = None;
    if let Some(tc) = &header.trust_chain {
        match ctx.chain_memo {
            Some(memo) => match memo.validate_any(tc, ctx.federation_anchors, ctx.now) {
                Ok(v) => chain = Some((v, true)),
                Err(e) => chain_error = e.map(|e| e.to_string()),
            },
            None => {
                for a in ctx.federation_anchors {
                    match validate(tc, a, ctx.now) {
                        Ok(v) => {
                            chain = Some((Arc::new(v), true));
                            break;
                        }
                        Err(e) => chain_error = Some(e.to_string()),
                    }
                }
            }
        }
        if chain.is_none() {
            return Err(untrusted(format!("trust_chain header: {}", chain_error.unwrap_or_else(|| "no trust anchor configured".into()))));
        }
    } else if let (Some(resolver), Ok(entity)) = (ctx.issuer_chains, EntityId::new(iss)) {
        match resolver.resolve_shared(&entity, ctx.now).await {
            Ok(v) => chain = Some((v, false)),
            Err(e) => chain_error = Some(e.to_string()),
        }
        // A `kid` the cached chain does not list: perhaps a key rotated in since (the
        // resolver decides whether to resolve again).
        if let (Some((cached, _)), Some(kid)) = (&chain, header.kid.as_deref())
            && chain_jwks(cached).is_none_or(|j| j.by_kid(kid).is_none())
            && let Some(again) = resolver.refresh_shared(&entity, ctx.now)
            && let Ok(v) = again.await
        {
            chain = Some((v, false));
        }
    }

    if let Some((chain, from_header)) = chain {
        if chain.subject.claims.sub.as_str() != iss {
            return Err(untrusted(format!("the trust chain is about {}, not {iss}", chain.subject.claims.sub)));
        }
        let md = chain.metadata_of(CREDENTIAL_ISSUER).ok_or_else(|| untrusted("no openid_credential_issuer metadata"))?;
        let jwks = chain_jwks(&chain).ok_or_else(|| untrusted("openid_credential_issuer metadata has no jwks"))?;
        let kid = header.kid.as_deref().ok_or_else(|| untrusted("credential header has no kid"))?;
        let key = jwks.by_kid(kid).cloned().ok_or_else(|| untrusted(format!("kid {kid} is not a key of the issuer")))?;
        // After what needs no fetch: the marks' check may ask their issuers.
        let trust_mark = match ctx.issuer_marks {
            Some(marks) => marks.check(&chain, ctx.now).await.map_err(|e| untrusted(format!("trust mark: {e}")))?,
            None => None,
        };
        let mut authority_key_ids = Vec::new();
        if let (Some(anchors), Some(x5c)) = (ctx.x509_anchors, &header.x5c) {
            let v = anchors.verify_chain(x5c, ctx.now).map_err(|e| untrusted(format!("x5c: {e}")))?;
            if v.leaf_key.thumbprint() != key.thumbprint() {
                return Err(untrusted("x5c leaf key is not the issuer's federation key"));
            }
            check_revocation(&v, ctx).await?;
            authority_key_ids = v.authority_key_ids;
        }
        let organization_name = chain
            .metadata_of("federation_entity")
            .and_then(|m| m.get("organization_name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let path = IssuerTrustPath::TrustChain {
            trust_anchor: chain.trust_anchor.clone(),
            entities: chain.statements.iter().map(|s| s.claims.iss.to_string()).collect(),
            from_header,
            organization_name,
            trust_mark,
        };
        return Ok(TrustedIssuer { key, path, allowed_vcts: Some(allowed_vcts(md)), jwks: Some(jwks), authority_key_ids });
    }

    match (ctx.x509_anchors, &header.x5c) {
        // A required trust mark is carried in the federation Entity Configuration: an issuer
        // known only by its certificate cannot show one.
        (Some(_), Some(_)) if ctx.issuer_marks.is_some_and(|m| m.required()) => Err(untrusted(format!(
            "trust mark: a trust mark is required of issuers, and {iss} has no federation trust chain to show one ({})",
            chain_error.as_deref().unwrap_or("none resolved")
        ))),
        (Some(anchors), Some(x5c)) => {
            let v = anchors.verify_chain(x5c, ctx.now).map_err(|e| untrusted(format!("x5c: {e}")))?;
            if !x5c_names(&v, iss) {
                return Err(untrusted("the x5c leaf certificate does not name the issuer"));
            }
            check_revocation(&v, ctx).await?;
            Ok(TrustedIssuer {
                key: v.leaf_key,
                path: IssuerTrustPath::X5c { san_uris: v.san_uris, san_dns: v.san_dns },
                allowed_vcts: None,
                jwks: None,
                authority_key_ids: v.authority_key_ids,
            })
        }
        _ => Err(untrusted(chain_error.unwrap_or_else(|| "neither a trust chain nor an x5c chain to a configured anchor".into()))),
    }
}

/// The CRLs of the issuer's certificates (IT-Wallet 1.4 §1.2), when the context checks them.
async fn check_revocation(chain: &VerifiedChain, ctx: &PresentationContext<'_>) -> Result<(), Refusal> {
    let Some((cache, fetcher)) = ctx.crls else { return Ok(()) };
    if chain.revocation.is_empty() {
        return Ok(());
    }
    cache.check(&chain.revocation, fetcher, ctx.now).await.map_err(|e| if e.is_revoked() { Refusal::CertificateRevoked(e) } else { Refusal::CertificateStatusUnknown(e) })
}

/// The key of a credential already trusted (for the SD-JWT verifier).
pub(crate) struct FixedKey<'a>(pub(crate) &'a Jwk);

impl IssuerKeyResolver for FixedKey<'_> {
    fn resolve(&self, _iss: &str, _header: &JwsHeader, _now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        Ok(Cow::Borrowed(self.0))
    }
}

/// The issuer's keys for its status list tokens: its metadata `jwks` by `kid`, else an `x5c`
/// to the federation CA naming the issuer's host.
pub(crate) struct StatusSignerKeys<'a> {
    pub(crate) jwks: Option<&'a JwkSet>,
    pub(crate) x509: Option<&'a TrustAnchors>,
}

impl IssuerKeyResolver for StatusSignerKeys<'_> {
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        if let (Some(jwks), Some(kid)) = (self.jwks, header.kid.as_deref())
            && let Some(k) = jwks.by_kid(kid)
        {
            return Ok(Cow::Borrowed(k));
        }
        let (Some(anchors), Some(x5c)) = (self.x509, &header.x5c) else {
            return Err(KeyResolutionError::UnknownIssuer { iss: iss.to_owned() });
        };
        let v = anchors.verify_chain(x5c, now).map_err(|e| KeyResolutionError::BadChain(format!("x5c: {e}")))?;
        if !x5c_names(&v, iss) {
            return Err(KeyResolutionError::IssuerMismatch { iss: iss.to_owned(), reason: "the x5c leaf does not name the status list's host".into() });
        }
        Ok(Cow::Owned(v.leaf_key))
    }
}
