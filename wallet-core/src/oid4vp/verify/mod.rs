//! The verifier's checks of a presentation (IT-Wallet 1.4 §8 "Verifier rejects", §6 status):
//! [`verify_presentation`] for one SD-JWT VC, [`verify_response`] for a whole
//! `direct_post.jwt` response, ending in a [`Verdict`] the verifier page shows.
//!
//! One presentation, in this order, each failure a [`Refusal`] naming the rule:
//! 1. issuer trust ([`TrustedIssuer`], [`IssuerTrustPath`]): trust chain (header or resolved) to a configured anchor, or
//!    the `x5c` leaf chained to the federation CA ([`Refusal::UntrustedIssuer`]); then, when the
//!    Credential Query has `trusted_authorities` (OpenID4VP 1.0 §6.1.1), the issuer must match
//!    one entry on what was just validated ([`TrustedIssuer::authorities`]): `openid_federation`
//!    an entity of the validated chain (issuer, intermediate, anchor), `aki` the AKI of a
//!    certificate of the validated `x5c` chain; `etsi_tl` and unknown types are never matched
//!    (no Trusted List support) ([`Refusal::UntrustedAuthority`]);
//! 2. the SD-JWT VC with [`crate::sd_jwt::Verifier`]: `typ`, issuer signature
//!    ([`Refusal::BadSignature`]), digests, `exp` (REQUIRED) and `nbf` ([`Refusal::Expired`]), the KB-JWT
//!    (REQUIRED: `typ`, `cnf` key, `aud` = the `client_id` with or without its prefix,
//!    `nonce`, `iat` within 120 s, `sd_hash`: [`Refusal::KeyBinding`]);
//! 3. the issuer may issue this `vct` ([`Refusal::IssuerNotAllowedForVct`]): its federation
//!    metadata lists it in `credential_configurations_supported`; an issuer trusted by `x5c`
//!    only has no such list and is refused unless
//!    [`PresentationContext::x5c_issuer_may_issue_any_vct`] is set;
//! 4. the presentation answers its DCQL Credential Query and discloses nothing more
//!    ([`Refusal::DoesNotMatchQuery`]);
//! 5. the Token Status List, when the credential has `status` and a fetcher is configured:
//!    [`Refusal::Revoked`], [`Refusal::Suspended`] (unless accepted by policy),
//!    [`Refusal::StatusUnavailable`] (IT-Wallet §6: "SHOULD be rejected").
//!
//! Async because the issuer chain and the status list may have to be fetched: the traits at
//! those seams return boxed `Send` futures, so a tokio service awaits them without blocking.
//!
//! Not checked here, by design: that the nonce and `state` are fresh and used once (the
//! verifier service's store does it); `transaction_data` (not requested by our verifier).

mod issuer;
mod status;

pub use issuer::{CHAIN_REFRESH_INTERVAL, ChainFuture, HeldTrustMark, IssuerChainResolver, IssuerMarks, IssuerTrustPath, MarksFuture, SharedChainFuture, TrustedIssuer};
pub use status::{StatusCache, StatusFetcher, StatusFuture, StatusHttpResponse, StatusLookupError};

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::client_id::ClientId;
use super::dcql::{AuthorityMatch, CredentialFormat, CredentialQuery, CredentialView, DcqlQuery, MatchError, Presented, check_presentation, matcher::satisfied_by};
use super::response::{AuthorizationResponse, ErrorResponse, PostedResponse, ResponseError, decrypt_response};
use crate::federation::chain::TrustAnchorConfig;
use crate::jose::{CompactJws, ContentEncryption, DecryptionKey, Jwk};
use crate::sd_jwt::{ClaimPath, KeyBindingClaims, Parts, SdJwtError, Verifier};
use crate::status::{CredentialStatus, StatusValue};
use crate::time::UnixTime;
use crate::x509::TrustAnchors;
use crate::x509::crl::{CrlCache, CrlError, CrlFetcher};

/// What was wrong with a key binding JWT (its `Display` is the sentence the verifier shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyBindingFailure {
    /// No KB-JWT.
    #[error("the presentation has no KB-JWT")]
    Missing,
    /// `typ` is not `kb+jwt`.
    #[error("the KB-JWT typ is not kb+jwt")]
    WrongTyp,
    /// No `cnf.jwk` in the credential.
    #[error("the credential has no cnf key to bind to")]
    NoHolderKey,
    /// Not signed by the `cnf` key.
    #[error("the KB-JWT is not signed by the credential's cnf key")]
    BadSignature,
    /// `aud` is not this verifier's `client_id`.
    #[error("the KB-JWT aud is not this verifier's client_id")]
    AudMismatch,
    /// `nonce` is not the request's.
    #[error("the KB-JWT nonce is not this session's")]
    NonceMismatch,
    /// `iat` outside the window (ATT-013: 120 s).
    #[error("the KB-JWT iat is outside the accepted window")]
    IatOutOfWindow,
    /// `sd_hash` does not match the presentation.
    #[error("the KB-JWT sd_hash does not match the presentation")]
    SdHashMismatch,
}

impl KeyBindingFailure {
    /// A stable snake_case code (`nonce_mismatch`, ...), for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::WrongTyp => "wrong_typ",
            Self::NoHolderKey => "no_holder_key",
            Self::BadSignature => "bad_signature",
            Self::AudMismatch => "aud_mismatch",
            Self::NonceMismatch => "nonce_mismatch",
            Self::IatOutOfWindow => "iat_out_of_window",
            Self::SdHashMismatch => "sd_hash_mismatch",
        }
    }
}

/// Why a presentation or a response was refused: one variant per rule, shown on the
/// verifier page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The presentation is not a well-formed SD-JWT VC.
    #[error("malformed presentation: {0}")]
    Malformed(String),
    /// The issuer could not be trusted.
    #[error("untrusted issuer: {0}")]
    UntrustedIssuer(String),
    /// The issuer's federation metadata does not list this `vct`.
    #[error("issuer {issuer} is not allowed to issue {vct}")]
    IssuerNotAllowedForVct {
        /// The issuer.
        issuer: String,
        /// The credential type.
        vct: String,
    },
    /// The issuer matches none of its Credential Query's `trusted_authorities` (OpenID4VP 1.0
    /// §6.1.1), judged on the trust chain and `x5c` chain validated for it. A trust failure,
    /// like [`Self::UntrustedIssuer`], and as definite: an `etsi_tl` or unknown-type entry
    /// cannot be matched here (no Trusted List support), so it satisfies nothing on its own
    /// (`unsupported` names the types the query had that we cannot match).
    #[error("issuer is none of the trusted authorities of credential query `{query}`{}", unsupported_note(.unsupported))]
    UntrustedAuthority {
        /// The Credential Query.
        query: String,
        /// The query's entry types we cannot match (`etsi_tl`, unknown ones).
        unsupported: Vec<String>,
    },
    /// The issuer's signature does not verify.
    #[error("issuer signature invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("credential expired at {exp}")]
    Expired {
        /// `exp`.
        exp: i64,
    },
    /// `nbf` in the future.
    #[error("credential not valid before {nbf}")]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
    },
    /// The key binding failed.
    #[error("key binding: {0}")]
    KeyBinding(KeyBindingFailure),
    /// Another SD-JWT rule (digests, disclosures, always-visible claims...).
    #[error("invalid credential: {0}")]
    InvalidCredential(SdJwtError),
    /// The credential breaks its data model (IT-Wallet 1.4 §4.1, §8 ATT-015): REQUIRED
    /// metadata missing, or a disclosed attribute out of its type's form.
    #[error("credential data model: {0}")]
    DataModel(crate::vc::VcError),
    /// Revoked (status `INVALID`).
    #[error("credential revoked")]
    Revoked,
    /// Suspended.
    #[error("credential suspended")]
    Suspended,
    /// A status value we cannot interpret.
    #[error("credential status {0:#04x} not understood")]
    UnknownStatus(u8),
    /// The status could not be established (fetch, signature, bounds...).
    #[error("status unavailable: {0}")]
    StatusUnavailable(String),
    /// A certificate of the issuer's `x5c` is on its CA's CRL (IT-Wallet 1.4 §1.2): the
    /// signing key was withdrawn, or the issuer left the federation.
    #[error("issuer certificate revoked: {0}")]
    CertificateRevoked(CrlError),
    /// Whether the issuer's `x5c` certificates are revoked could not be established (the
    /// CRL unreachable, past its `nextUpdate`, or not usable).
    #[error("issuer certificate status unknown: {0}")]
    CertificateStatusUnknown(CrlError),
    /// The presentation does not answer the query, or the response does not satisfy it.
    #[error("{0}")]
    DoesNotMatchQuery(MatchError),
    /// The response itself was refused (decryption, `state`, `vp_token` shape).
    #[error("{0}")]
    Response(ResponseError),
    /// A `mso_mdoc` presentation: not verified yet.
    #[error("format {0} is not verified yet")]
    UnsupportedFormat(String),
}

fn unsupported_note(types: &[String]) -> String {
    if types.is_empty() { String::new() } else { format!(" (cannot match {})", types.join(", ")) }
}

impl Refusal {
    /// The HTTP status the `response_uri` answers with (IT-Wallet §5.1): 403 for key binding,
    /// nonce and trust failures ("bad KB-JWT signature, or wrong nonce, or untrusted
    /// issuer"), 400 otherwise ("invalid/revoked credentials, bad `vp_token`, bad SD-JWT":
    /// an issuer signature that does not verify is a bad SD-JWT). A revoked issuer
    /// certificate is a trust failure: the issuer is no longer trusted.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::KeyBinding(_) | Self::UntrustedIssuer(_) | Self::UntrustedAuthority { .. } | Self::IssuerNotAllowedForVct { .. } | Self::CertificateRevoked(_) => 403,
            _ => 400,
        }
    }

    /// The OAuth `error` (IT-Wallet §5.1: `invalid_request` for all of them).
    pub fn oauth_code(&self) -> &'static str {
        "invalid_request"
    }

    /// A stable machine-readable code for the rule that refused, one per variant, for
    /// integrators and pages to act on (the `Display` text is for people and may change):
    /// `malformed_presentation`, `untrusted_issuer`, `untrusted_authority`, `issuer_not_allowed_for_type`,
    /// `bad_issuer_signature`, `expired`, `not_yet_valid`, `key_binding_failed`,
    /// `invalid_credential`, `invalid_data_model`, `revoked`, `suspended`, `status_not_understood`,
    /// `status_unavailable`, `issuer_certificate_revoked`, `issuer_certificate_status_unknown`,
    /// `does_not_match_query`, `invalid_response`, `unsupported_format`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_presentation",
            Self::UntrustedIssuer(_) => "untrusted_issuer",
            Self::UntrustedAuthority { .. } => "untrusted_authority",
            Self::IssuerNotAllowedForVct { .. } => "issuer_not_allowed_for_type",
            Self::BadSignature => "bad_issuer_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::KeyBinding(_) => "key_binding_failed",
            Self::InvalidCredential(_) => "invalid_credential",
            Self::DataModel(_) => "invalid_data_model",
            Self::Revoked => "revoked",
            Self::Suspended => "suspended",
            Self::UnknownStatus(_) => "status_not_understood",
            Self::StatusUnavailable(_) => "status_unavailable",
            Self::CertificateRevoked(_) => "issuer_certificate_revoked",
            Self::CertificateStatusUnknown(_) => "issuer_certificate_status_unknown",
            Self::DoesNotMatchQuery(_) => "does_not_match_query",
            Self::Response(_) => "invalid_response",
            Self::UnsupportedFormat(_) => "unsupported_format",
        }
    }

    /// Whether the refusal says only that the credential could not be checked (its status
    /// list unreachable or not understood, a format not verified yet): a verifier shows
    /// "cannot determine", not "refused", and the citizen may be asked to try again.
    pub fn is_indeterminate(&self) -> bool {
        matches!(self, Self::StatusUnavailable(_) | Self::UnknownStatus(_) | Self::CertificateStatusUnknown(_) | Self::UnsupportedFormat(_))
    }

    /// [`Self::is_indeterminate`] for a stored [`Self::code`].
    pub fn code_is_indeterminate(code: &str) -> bool {
        matches!(code, "status_unavailable" | "status_not_understood" | "issuer_certificate_status_unknown" | "unsupported_format")
    }

    fn from_sd_jwt(e: SdJwtError) -> Self {
        use KeyBindingFailure as K;
        match e {
            SdJwtError::IssuerSignatureInvalid => Self::BadSignature,
            SdJwtError::Expired { exp, .. } => Self::Expired { exp },
            SdJwtError::NotYetValid { nbf, .. } => Self::NotYetValid { nbf },
            SdJwtError::KbMissing => Self::KeyBinding(K::Missing),
            SdJwtError::KbWrongTyp => Self::KeyBinding(K::WrongTyp),
            SdJwtError::KbNoHolderKey => Self::KeyBinding(K::NoHolderKey),
            SdJwtError::KbSignatureInvalid => Self::KeyBinding(K::BadSignature),
            SdJwtError::KbAudMismatch => Self::KeyBinding(K::AudMismatch),
            SdJwtError::KbNonceMismatch => Self::KeyBinding(K::NonceMismatch),
            SdJwtError::KbIatOutOfWindow { .. } => Self::KeyBinding(K::IatOutOfWindow),
            SdJwtError::KbSdHashMismatch => Self::KeyBinding(K::SdHashMismatch),
            SdJwtError::KeyResolution(k) => Self::UntrustedIssuer(k.to_string()),
            other => Self::InvalidCredential(other),
        }
    }
}

/// What the verifier knows and trusts when it checks presentations.
#[derive(Clone, Copy)]
pub struct PresentationContext<'a> {
    /// This verifier's `client_id` (the KB-JWT `aud`, with or without its prefix).
    pub client_id: &'a ClientId,
    /// The request's nonce (the KB-JWT `nonce`).
    pub nonce: &'a str,
    /// Now.
    pub now: UnixTime,
    /// Federation trust anchors (issuer `trust_chain` headers, resolved chains).
    pub federation_anchors: &'a [TrustAnchorConfig],
    /// The federation CA roots for `x5c`.
    pub x509_anchors: Option<&'a TrustAnchors>,
    /// Resolves an issuer's chain when the credential has no `trust_chain` header.
    pub issuer_chains: Option<&'a dyn IssuerChainResolver>,
    /// Remembers validated `trust_chain` headers ([`crate::federation::ChainMemo`]: each
    /// distinct chain validated once until its earliest `exp`); `None` validates every one.
    pub chain_memo: Option<&'a crate::federation::ChainMemo>,
    /// Keeps the issuer JWTs' protected headers once parsed (the same on every credential
    /// of an issuer's key: [`crate::jose::HeaderMemo`]); `None` parses each.
    pub header_memo: Option<&'a crate::jose::HeaderMemo>,
    /// The status list cache and fetcher; `None` skips the status check.
    pub status: Option<(&'a StatusCache, &'a dyn StatusFetcher)>,
    /// The CRL cache and fetcher for the issuer's `x5c` certificates that name a CRL (its
    /// long-lived signing certificate, its CA certificate); `None` skips the check.
    pub crls: Option<(&'a CrlCache, &'a dyn CrlFetcher)>,
    /// The trust marks required of issuers ([`IssuerMarks`]); `None`: none required.
    pub issuer_marks: Option<&'a dyn IssuerMarks>,
    /// Accept an issuer trusted by `x5c` alone for any `vct` (default `false`).
    pub x5c_issuer_may_issue_any_vct: bool,
    /// Accept suspended credentials (RP policy, e.g. an age check; default `false`).
    pub accept_suspended: bool,
    /// The oldest KB-JWT accepted, seconds (ATT-013: 120).
    pub kb_max_age: i64,
}

impl std::fmt::Debug for PresentationContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentationContext").field("client_id", &self.client_id).field("now", &self.now).finish_non_exhaustive()
    }
}

impl<'a> PresentationContext<'a> {
    /// A context with no trust configured, no status check, KB-JWT at most 120 s old.
    pub fn new(client_id: &'a ClientId, nonce: &'a str, now: UnixTime) -> Self {
        Self {
            client_id,
            nonce,
            now,
            federation_anchors: &[],
            x509_anchors: None,
            issuer_chains: None,
            chain_memo: None,
            header_memo: None,
            status: None,
            crls: None,
            issuer_marks: None,
            x5c_issuer_may_issue_any_vct: false,
            accept_suspended: false,
            kb_max_age: 120,
        }
    }
}

/// The status a verified credential was found in. Serialized as
/// `{"outcome": "valid" | "suspended_accepted" | "no_status" | "not_checked", "checked": bool,
/// "value"?: "VALID" | "UPDATE" | "ATTRIBUTE_UPDATE" | "SUSPENDED" | "APPLICATION_SPECIFIC"}`
/// (`value` is [`StatusValue::name`], present when the status was checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    /// `VALID` (or `UPDATE`/`ATTRIBUTE_UPDATE`: still valid, re-issuance advised).
    Valid(StatusValue),
    /// `SUSPENDED`, accepted by policy.
    SuspendedAccepted,
    /// The credential has no `status` claim.
    NoStatus,
    /// No status fetcher configured.
    NotChecked,
}

impl StatusOutcome {
    /// `valid`, `suspended_accepted`, `no_status` or `not_checked`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Valid(_) => "valid",
            Self::SuspendedAccepted => "suspended_accepted",
            Self::NoStatus => "no_status",
            Self::NotChecked => "not_checked",
        }
    }

    /// Whether the status list was consulted.
    pub fn checked(&self) -> bool {
        matches!(self, Self::Valid(_) | Self::SuspendedAccepted)
    }

    /// The value found in the status list, when it was consulted.
    pub fn value(&self) -> Option<StatusValue> {
        match self {
            Self::Valid(v) => Some(*v),
            Self::SuspendedAccepted => Some(StatusValue::Suspended),
            Self::NoStatus | Self::NotChecked => None,
        }
    }
}

impl std::fmt::Display for StatusOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.value() {
            Some(v) => write!(f, "{} ({})", self.as_str(), v.name()),
            None => f.write_str(self.as_str()),
        }
    }
}

impl Serialize for StatusOutcome {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Repr {
            outcome: &'static str,
            checked: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            value: Option<&'static str>,
        }
        Repr { outcome: self.as_str(), checked: self.checked(), value: self.value().map(StatusValue::name) }.serialize(serializer)
    }
}

/// A presentation that passed every check.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedPresentation {
    /// The Credential Query it answers.
    pub query_id: String,
    /// `vct`.
    pub vct: String,
    /// `iss`.
    pub issuer: String,
    /// How the issuer was trusted.
    pub issuer_trust: IssuerTrustPath,
    /// The claims: always-visible and disclosed.
    pub claims: Map<String, Value>,
    /// The disclosed claim paths.
    pub disclosed: Vec<ClaimPath>,
    /// `cnf.jwk`.
    pub holder_key: Option<Jwk>,
    /// The KB-JWT's claims.
    pub key_binding: KeyBindingClaims,
    /// The status.
    pub status: StatusOutcome,
    /// `iat`.
    pub issued_at: Option<i64>,
    /// `exp`.
    pub expires_at: Option<i64>,
}

/// The issuer JWT's `iss`, read before the full verification parses the payload (to find
/// the issuer's key): the other members are skipped, not built into a map (a `Map` of a
/// whole payload was a few µs a presentation). A value that is not a string reads as absent.
#[derive(serde::Deserialize)]
struct EarlyClaims {
    iss: Option<Value>,
}

/// Verifies one SD-JWT VC presentation answering `query` (see the module docs for the order).
pub async fn verify_presentation(presentation: &str, query: &CredentialQuery, ctx: &PresentationContext<'_>) -> Result<VerifiedPresentation, Refusal> {
    if query.format != CredentialFormat::SdJwtVc {
        return Err(Refusal::UnsupportedFormat(query.format.as_str().to_owned()));
    }
    let parts = Parts::split(presentation).map_err(|e| Refusal::Malformed(e.to_string()))?;
    let jws = match ctx.header_memo {
        Some(memo) => CompactJws::parse_with_memo(parts.issuer_jwt, memo),
        None => CompactJws::parse(parts.issuer_jwt),
    }
    .map_err(|e| Refusal::Malformed(e.to_string()))?;
    let header = jws.header();
    let iss = jws
        .payload_json::<EarlyClaims>()
        .ok()
        .and_then(|m| match m.iss {
            Some(Value::String(i)) => Some(i),
            _ => None,
        })
        .ok_or_else(|| Refusal::Malformed("issuer JWT has no iss".into()))?;

    // 1. Issuer trust.
    let trusted = issuer::establish(&iss, header, ctx).await?;
    // ... and the query's trusted authorities (OpenID4VP 1.0 §6.1.1), on what was validated.
    if let Some(ta) = &query.trusted_authorities
        && trusted.authorities().check(ta) != AuthorityMatch::Matches
    {
        let mut unsupported: Vec<String> = Vec::new();
        for e in ta.iter().filter(|e| !e.kind.is_supported()) {
            if !unsupported.iter().any(|u| u == e.kind.as_str()) {
                unsupported.push(e.kind.as_str().to_owned());
            }
        }
        return Err(Refusal::UntrustedAuthority { query: query.id.clone(), unsupported });
    }

    // 2. The SD-JWT VC and its key binding.
    let fixed = issuer::FixedKey(&trusted.key);
    // The KB-JWT `aud`: the full `client_id`, or for federation the bare entity id (versions
    // note §5.4, [`ClientId::names`]).
    let mut verifier = Verifier::new(&fixed).with_kb_max_age(ctx.kb_max_age).expect_key_binding(ctx.client_id.as_str(), ctx.nonce);
    if let Some(entity) = ctx.client_id.entity_id() {
        verifier = verifier.also_accept_aud(entity.as_str());
    }
    let verified = verifier.verify_split(&parts, jws, ctx.now).map_err(Refusal::from_sd_jwt)?;
    let key_binding = verified.key_binding.clone().ok_or(Refusal::KeyBinding(KeyBindingFailure::Missing))?;
    // IT-Wallet 1.4: `exp` REQUIRED (its expiry was checked by the SD-JWT layer when present).
    crate::vc::required_exp(&verified.claims).map_err(Refusal::InvalidCredential)?;
    let vct = verified.claim_str("vct").unwrap_or_default().to_owned();

    // 3. May this issuer issue this type?
    let allowed = match &trusted.allowed_vcts {
        Some(list) => list.contains(&vct),
        None => ctx.x5c_issuer_may_issue_any_vct,
    };
    if !allowed {
        return Err(Refusal::IssuerNotAllowedForVct { issuer: iss, vct });
    }

    // 4. The query, and nothing more.
    let f = CredentialFormat::SdJwtVc;
    let view = CredentialView { format: &f, vct: Some(&vct), doctype: None, claims: &verified.claims };
    check_presentation(query, &Presented { view, disclosed: &verified.disclosed }).map_err(Refusal::DoesNotMatchQuery)?;
    // ... and its data model (IT-Wallet 1.4 §4.1, §8 ATT-015), judged on what answers it.
    crate::vc::check_presented(&vct, &verified.claims).map_err(Refusal::DataModel)?;

    // 5. Status.
    let status = match (verified.claims.get("status"), ctx.status) {
        (None, _) => StatusOutcome::NoStatus,
        (Some(_), None) => StatusOutcome::NotChecked,
        (Some(s), Some((cache, fetcher))) => {
            let st = <CredentialStatus as serde::Deserialize>::deserialize(s).map_err(|e| Refusal::StatusUnavailable(format!("status claim: {e}")))?;
            let keys = issuer::StatusSignerKeys { jwks: trusted.jwks.as_ref(), x509: ctx.x509_anchors };
            let value = cache.lookup(&st.status_list, fetcher, &keys, ctx.now).await.map_err(|e| Refusal::StatusUnavailable(e.to_string()))?;
            match value {
                StatusValue::Valid | StatusValue::Update | StatusValue::AttributeUpdate | StatusValue::Other(0x0B) => StatusOutcome::Valid(value),
                StatusValue::Invalid => return Err(Refusal::Revoked),
                StatusValue::Suspended if ctx.accept_suspended => StatusOutcome::SuspendedAccepted,
                StatusValue::Suspended => return Err(Refusal::Suspended),
                StatusValue::Other(v) => return Err(Refusal::UnknownStatus(v)),
            }
        }
    };

    let num = |k: &str| verified.claims.get(k).and_then(Value::as_i64);
    Ok(VerifiedPresentation {
        query_id: query.id.clone(),
        issued_at: num("iat"),
        expires_at: num("exp"),
        vct,
        issuer: iss,
        issuer_trust: trusted.path,
        holder_key: verified.holder_key.clone(),
        disclosed: verified.disclosed,
        claims: verified.claims,
        key_binding,
        status,
    })
}

/// What the verifier's session expects of a response.
#[derive(Debug, Clone, Copy)]
pub struct ResponseExpectation<'a> {
    /// The DCQL query sent.
    pub query: &'a DcqlQuery,
    /// The `state` sent.
    pub state: Option<&'a str>,
    /// The decryption keys (the request's `client_metadata` keys and the Entity
    /// Configuration's `enc` keys: versions note §5.2).
    pub decryption_keys: &'a [DecryptionKey],
    /// The accepted `enc` values.
    pub allowed_enc: &'a [ContentEncryption],
}

/// A response whose every presentation verified and which satisfies the query.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedResponse {
    /// The verified presentations by Credential Query id.
    pub credentials: BTreeMap<String, Vec<VerifiedPresentation>>,
    /// `state`.
    pub state: Option<String>,
}

/// The outcome of a response, for the verifier page.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Every check passed.
    Verified(VerifiedResponse),
    /// Refused, with the rule.
    Refused {
        /// The Credential Query whose presentation failed, if one did.
        credential: Option<String>,
        /// Why.
        reason: Refusal,
    },
    /// The wallet answered with an error (`access_denied`: the citizen declined).
    Declined(ErrorResponse),
}

fn refused(credential: Option<String>, reason: Refusal) -> Verdict {
    Verdict::Refused { credential, reason }
}

/// What a session expects of a response already decrypted: [`ResponseExpectation`] without
/// the keys (a verifier that decrypted the response to find its session by `state`).
#[derive(Debug, Clone, Copy)]
pub struct SessionExpectation<'a> {
    /// The DCQL query sent.
    pub query: &'a DcqlQuery,
    /// The `state` sent.
    pub state: Option<&'a str>,
}

impl<'a> ResponseExpectation<'a> {
    /// The part that does not decrypt: the query and the `state`.
    pub fn session(&self) -> SessionExpectation<'a> {
        SessionExpectation { query: self.query, state: self.state }
    }
}

/// Verifies a posted `direct_post.jwt` response: decryption by `kid`, then
/// [`verify_decrypted`]. A wallet error response for this `state` is [`Verdict::Declined`].
pub async fn verify_response(posted: &PostedResponse, expect: &ResponseExpectation<'_>, ctx: &PresentationContext<'_>) -> Verdict {
    let jwe = match posted {
        PostedResponse::Error(e) => {
            let state_ok = match (expect.state, e.state.as_deref()) {
                (None, None) => true,
                (Some(a), Some(b)) => crate::subtle_eq(a.as_bytes(), b.as_bytes()),
                _ => false,
            };
            return if state_ok { Verdict::Declined(e.clone()) } else { refused(None, Refusal::Response(ResponseError::StateMismatch)) };
        }
        PostedResponse::Encrypted(j) => j,
    };
    match decrypt_response(jwe, expect.decryption_keys, expect.allowed_enc) {
        Ok(response) => verify_decrypted(&response, &expect.session(), ctx).await,
        Err(e) => refused(None, Refusal::Response(e)),
    }
}

/// Verifies a response already decrypted with [`decrypt_response`] (the verifier read its
/// `state` to find the session): `state`, each presentation with [`verify_presentation`]
/// under its Credential Query, then the query's satisfaction (every query, or every required
/// credential set). [`verify_response`] is decryption followed by this.
pub async fn verify_decrypted(response: &AuthorizationResponse, expect: &SessionExpectation<'_>, ctx: &PresentationContext<'_>) -> Verdict {
    if let Err(e) = response.check_state(expect.state) {
        return refused(None, Refusal::Response(e));
    }
    let mut credentials = BTreeMap::new();
    for (id, presentations) in &response.vp_token.0 {
        let Some(q) = expect.query.credential(id) else {
            return refused(Some(id.clone()), Refusal::DoesNotMatchQuery(MatchError::UnknownCredentialId(id.clone())));
        };
        if presentations.len() > 1 && !q.multiple {
            return refused(Some(id.clone()), Refusal::DoesNotMatchQuery(MatchError::MultipleNotAllowed(id.clone())));
        }
        let mut out = Vec::with_capacity(presentations.len());
        for p in presentations {
            match verify_presentation(p, q, ctx).await {
                Ok(v) => out.push(v),
                Err(reason) => return refused(Some(id.clone()), reason),
            }
        }
        credentials.insert(id.clone(), out);
    }
    if let Err(e) = satisfied_by(expect.query, &|id| credentials.contains_key(id)) {
        return refused(None, Refusal::DoesNotMatchQuery(e));
    }
    Verdict::Verified(VerifiedResponse { credentials, state: response.state.clone() })
}

#[cfg(test)]
pub(crate) mod tests;
