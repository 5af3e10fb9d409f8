//! The wallet side of a presentation: open the request ([`PresentationFlow`]), evaluate the
//! relying party ([`evaluate_rp`]), build the [`ConsentRequest`] the app shows (who asks, how
//! they are trusted, why, and per Credential Query the stored credentials that can answer
//! with the exact claims each would disclose, or what is missing), then
//! [`ConsentRequest::present`] only what the citizen chose, or [`ConsentRequest::decline`].
//! Both give the `POST response_uri` to send and append an entry to the wallet's
//! transaction log ([`crate::store::CredentialStore::log`]).
//!
//! A decline is logged as [`TransactionKind::Declined`] to the RP (no credential, no claim).
//!
//! Profiles: the KB-JWT `aud` is the full `client_id` and `vp_token` values are arrays in
//! both (versions note §5); the response key was chosen per profile when the request was
//! verified.

pub mod authorization;
mod flow;
mod rp;

pub use flow::{PresentationFlow, RpTrustInputs};
pub use rp::{RpEvaluation, TrustMarkCheck, TrustMarkInputs, TrustMarkView, TrustWarning, evaluate_rp, verify_marks};

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::dcql::matcher::{Missing, satisfied_by};
use super::dcql::{CredentialFormat, CredentialView, IssuerAuthorities, MatchError, match_wallet_with_issuers};
use super::request_object::{RedirectRule, VerifiedRequest};
use super::request_url::RequestUrlError;
use super::response::{AuthorizationResponse, ErrorResponse, ResponseError, ResponseUriAnswer, VerifierErrorAnswer, VpToken, post_request, response_form};
use super::request_object::RequestObjectError;
use crate::jose::Signer;
use crate::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt, SdJwtError};
use crate::store::{CredentialId, CredentialStore, NewTransaction, StoreError, StoredCredential, TransactionKind, TransactionOutcome};
use crate::time::UnixTime;
use crate::wallet::HttpRequest;

/// Why the wallet could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// The scanned URL.
    #[error("request URL: {0}")]
    Url(RequestUrlError),
    /// The request object could not be fetched (HTTP status, 0 = no response given) or the
    /// answer is not one (its media type, its encoding).
    #[error("request object fetch failed (HTTP {0})")]
    RequestObjectFetch(u16),
    /// The `request_uri` answered an error (WP_089): its status and, when it gave them, its
    /// `error` and `error_description`. [`Self::is_recoverable`] tells whether trying again
    /// may help (WP_089b).
    #[error("the relying party could not give its request: HTTP {status}{}", detail(.error.as_deref(), .description.as_deref()))]
    RequestUriRefused {
        /// The HTTP status.
        status: u16,
        /// Its `error`, when the body had one.
        error: Option<String>,
        /// Its `error_description`, when the body had one.
        description: Option<String>,
    },
    /// The request object was refused.
    #[error("request object: {0}")]
    RequestObject(RequestObjectError),
    /// A stored credential could not be read.
    #[error("stored credential: {0}")]
    Credential(SdJwtError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The choice names a query the request does not have.
    #[error("no credential query `{0}`")]
    UnknownQuery(String),
    /// The choice names a credential that cannot answer that query.
    #[error("credential {credential} cannot answer `{query}`")]
    NotACandidate {
        /// The query.
        query: String,
        /// The credential.
        credential: String,
    },
    /// Several credentials for a query without `multiple`.
    #[error("only one credential may answer `{0}`")]
    MultipleNotAllowed(String),
    /// The choice does not satisfy the query (a required credential left out).
    #[error("the choice does not satisfy the request: {0}")]
    DoesNotSatisfy(MatchError),
    /// No holder key for a chosen credential.
    #[error("no holder key for credential {0}")]
    NoHolderKey(String),
    /// Presenting failed (KB-JWT signing).
    #[error("presentation: {0}")]
    Present(SdJwtError),
    /// Encrypting the response failed.
    #[error("response: {0}")]
    Response(ResponseError),
    /// No randomness.
    #[error("randomness unavailable: {0}")]
    Randomness(String),
}

impl ConsentError {
    /// Whether the same request may succeed if tried again (WP_089b): the relying party's
    /// `request_uri` failed on its side (HTTP 5xx, 429, `server_error`,
    /// `temporarily_unavailable`) or did not answer. Anything else needs a new request (a new
    /// QR code) or cannot succeed.
    pub fn is_recoverable(&self) -> bool {
        match self {
            Self::RequestObjectFetch(0) => true,
            Self::RequestUriRefused { status, error, .. } => {
                *status >= 500 || *status == 429 || matches!(error.as_deref(), Some("server_error" | "temporarily_unavailable"))
            }
            _ => false,
        }
    }
}

/// Keeps a request the wallet refused before the citizen was asked in the transaction log
/// (IT-Wallet 1.4 §5.1, WP_089a): the relying party (`client_id` as the request gave it) and
/// why in full, as the entry's outcome: the relying party's own `error` and
/// `error_description` when its `request_uri` answered one, else the rule the request broke
/// (`refusal`: a [`ConsentError`], or why the relying party is not authorised). Nothing was
/// disclosed: the entry names no credential and no claim.
pub fn log_refusal(store: &CredentialStore, client_id: &str, refusal: Refusal<'_>, now: UnixTime) -> Result<i64, StoreError> {
    let outcome = match refusal {
        Refusal::Request(ConsentError::RequestUriRefused { status, error, description }) => {
            TransactionOutcome::Refused { error: error.clone().unwrap_or_else(|| format!("HTTP {status}")), description: description.clone() }
        }
        Refusal::Request(e) => TransactionOutcome::Rejected { reason: e.to_string() },
        Refusal::RelyingParty(why) => TransactionOutcome::Rejected { reason: format!("the relying party is not authorised: {why}") },
        Refusal::Untrusted(why) => TransactionOutcome::Rejected { reason: format!("the relying party is not trusted: {why}") },
    };
    let entry = NewTransaction { at: now, kind: TransactionKind::Refused, counterparty: client_id.to_owned(), credential_ids: Vec::new(), claims: Vec::new() };
    store.log_with_outcome(&entry, &outcome)
}

/// Why [`log_refusal`] logs a request.
#[derive(Debug, Clone, Copy)]
pub enum Refusal<'a> {
    /// The request could not be had or broke a rule.
    Request(&'a ConsentError),
    /// The relying party's trust evaluation refused it ([`RpEvaluation::refusal`]).
    RelyingParty(&'a str),
    /// The relying party's trust chain to a trusted anchor could not be established.
    Untrusted(&'a str),
}

fn detail(error: Option<&str>, description: Option<&str>) -> String {
    match (error, description) {
        (Some(e), Some(d)) => format!(" {e}: {d}"),
        (Some(e), None) => format!(" {e}"),
        (None, Some(d)) => format!(": {d}"),
        (None, None) => String::new(),
    }
}

/// The key that signs a credential's KB-JWT.
pub trait HolderKeys {
    /// The holder key of `credential`.
    fn holder_key(&self, credential: &CredentialId) -> Option<&dyn Signer>;
}

impl<S: Signer> HolderKeys for S {
    fn holder_key(&self, _credential: &CredentialId) -> Option<&dyn Signer> {
        Some(self)
    }
}

/// One claim a candidate would disclose.
#[derive(Debug, Clone, PartialEq)]
pub struct DisclosedClaim {
    /// Its path.
    pub path: ClaimPath,
    /// Its value.
    pub value: Value,
}

/// A stored credential that can answer a query.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateConsent {
    /// Its id in the store.
    pub credential_id: CredentialId,
    /// Its type.
    pub vct: String,
    /// Its issuer.
    pub issuer: String,
    /// Exactly what it would disclose (beyond the always-visible claims).
    pub disclosed: Vec<DisclosedClaim>,
}

/// One Credential Query, as the citizen sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryConsent {
    /// The Credential Query id.
    pub query_id: String,
    /// The types asked for (`vct_values` or the mdoc `doctype_value`).
    pub types: Vec<String>,
    /// Whether it must be answered (no `credential_sets`, or part of a required set).
    pub required: bool,
    /// Whether several credentials may answer.
    pub multiple: bool,
    /// The stored credentials that can answer.
    pub candidates: Vec<CandidateConsent>,
    /// What is missing when none can.
    pub missing: Option<Missing>,
}

/// What the app shows before the citizen decides.
#[derive(Debug)]
pub struct ConsentRequest {
    /// Who asks.
    pub rp: RpEvaluation,
    /// Per Credential Query.
    pub queries: Vec<QueryConsent>,
    /// Whether the stored credentials can satisfy the request.
    pub satisfiable: bool,
    request: VerifiedRequest,
    credentials: BTreeMap<CredentialId, (SdJwt, BTreeMap<String, Vec<ClaimPath>>)>,
}

/// The citizen's choice: per Credential Query, the credential(s) to present.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentChoice(pub Vec<(String, CredentialId)>);

/// What to send, and the log entry made.
#[derive(Debug)]
pub struct PreparedResponse {
    /// `POST response_uri`.
    pub request: HttpRequest,
    /// The claims disclosed, per Credential Query (empty for a decline).
    pub disclosed: BTreeMap<String, Vec<ClaimPath>>,
    /// The transaction log sequence number, when a store was given.
    pub log_seq: Option<i64>,
    /// Where the RP may redirect the browser after this response ([`Self::read_answer`]).
    pub redirects: RedirectRule,
}

impl PreparedResponse {
    /// The verifier's answer to this response ([`ResponseUriAnswer::parse`]), its
    /// `redirect_uri` checked against the RP's registration ([`RedirectRule`]): a wallet
    /// never follows a redirect the RP did not register.
    pub fn read_answer(&self, status: u16, body: &[u8]) -> Result<Result<ResponseUriAnswer, VerifierErrorAnswer>, ResponseError> {
        let answer = ResponseUriAnswer::parse(status, body)?;
        if let Ok(ResponseUriAnswer { redirect_uri: Some(r) }) = &answer
            && !self.redirects.allows(r)
        {
            return Err(ResponseError::RedirectNotRegistered(r.clone()));
        }
        Ok(answer)
    }
}

fn value_at<'a>(claims: &'a Map<String, Value>, path: &ClaimPath) -> Option<&'a Value> {
    let mut cur: Option<&Value> = None;
    for (i, e) in path.elements().iter().enumerate() {
        cur = match (i, e, cur) {
            (0, crate::sd_jwt::PathElement::Key(k), _) => claims.get(k),
            (_, crate::sd_jwt::PathElement::Key(k), Some(Value::Object(m))) => m.get(k),
            (_, crate::sd_jwt::PathElement::Index(n), Some(Value::Array(a))) => a.get(*n),
            _ => None,
        };
        cur?;
    }
    cur
}

impl ConsentRequest {
    /// Builds the consent model from a verified request and the stored credentials
    /// (`dc+sd-jwt` ones are matched; others are listed as missing for now). A Credential
    /// Query's `trusted_authorities` (OpenID4VP 1.0 §6.1.1) leaves out the credentials whose
    /// own header (`trust_chain`, `x5c`) shows an issuer matching none of them; one the wallet
    /// cannot tell about is offered ([`super::dcql::matcher`] says why).
    pub fn new(request: VerifiedRequest, rp: RpEvaluation, stored: Vec<StoredCredential>) -> Result<Self, ConsentError> {
        let mut parsed = Vec::new();
        for s in stored.into_iter().filter(|s| s.summary.format == super::dcql::FORMAT_SD_JWT_VC) {
            let sd = SdJwt::parse(&s.credential).map_err(ConsentError::Credential)?;
            let claims = sd.claim_paths().map_err(ConsentError::Credential)?.claims;
            parsed.push((s.summary, sd, claims));
        }
        let f = CredentialFormat::SdJwtVc;
        let views: Vec<CredentialView<'_>> =
            parsed.iter().map(|(s, _, c)| CredentialView { format: &f, vct: Some(s.vct.as_str()), doctype: None, claims: c }).collect();
        // What each credential's own header says of its issuer, for `trusted_authorities`
        // (OpenID4VP 1.0 §6.1.1; unverified: it only decides what is offered), read only when
        // a query has them (the `x5c` certificates are parsed for their AKIs).
        let issuers: Vec<IssuerAuthorities> = if request.dcql_query.credentials.iter().any(|q| q.trusted_authorities.is_some()) {
            parsed
                .iter()
                .map(|(_, sd, _)| crate::jose::CompactJws::parse(sd.issuer_jwt()).map(|j| IssuerAuthorities::from_unverified_header(j.header())).unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        };
        let m = match_wallet_with_issuers(&request.dcql_query, &views, &issuers);
        let required_ids: Option<Vec<&str>> = request.dcql_query.credential_sets.as_ref().map(|sets| {
            sets.iter().filter(|s| s.required).flat_map(|s| s.options.iter().flatten().map(String::as_str)).collect()
        });
        let mut queries = Vec::new();
        let mut selections: BTreeMap<CredentialId, BTreeMap<String, Vec<ClaimPath>>> = BTreeMap::new();
        for (q, qm) in request.dcql_query.credentials.iter().zip(m.queries.iter()) {
            let mut candidates = Vec::new();
            for c in &qm.candidates {
                let Some((summary, _, claims)) = parsed.get(c.index) else { continue };
                let disclosed = c
                    .selection
                    .paths
                    .iter()
                    .map(|p| DisclosedClaim { path: p.clone(), value: value_at(claims, p).cloned().unwrap_or(Value::Null) })
                    .collect();
                selections.entry(summary.id.clone()).or_default().insert(q.id.clone(), c.selection.paths.clone());
                candidates.push(CandidateConsent { credential_id: summary.id.clone(), vct: summary.vct.clone(), issuer: summary.issuer.clone(), disclosed });
            }
            let types = q.meta.vct_values.clone().unwrap_or_default().into_iter().chain(q.meta.doctype_value.clone()).collect();
            queries.push(QueryConsent {
                query_id: q.id.clone(),
                types,
                required: required_ids.as_ref().is_none_or(|ids| ids.contains(&q.id.as_str())),
                multiple: q.multiple,
                candidates,
                missing: qm.missing.clone(),
            });
        }
        let credentials = parsed
            .into_iter()
            .filter_map(|(s, sd, _)| selections.remove(&s.id).map(|sel| (s.id, (sd, sel))))
            .collect();
        Ok(Self { rp, queries, satisfiable: m.satisfiable, request, credentials })
    }

    /// [`Self::new`] with every credential of `store`.
    pub fn from_store(request: VerifiedRequest, rp: RpEvaluation, store: &CredentialStore) -> Result<Self, ConsentError> {
        let stored = store.list()?.iter().map(|s| store.get(&s.id)).collect::<Result<Vec<_>, _>>()?;
        Self::new(request, rp, stored)
    }

    /// The verified request.
    pub fn request(&self) -> &VerifiedRequest {
        &self.request
    }

    /// The choice that takes, for each query, its first candidate (the CLI's `--yes`).
    pub fn default_choice(&self) -> ConsentChoice {
        ConsentChoice(self.queries.iter().filter_map(|q| q.candidates.first().map(|c| (q.query_id.clone(), c.credential_id.clone()))).collect())
    }

    /// Presents what the citizen chose: each chosen credential with only its selected
    /// claims and a KB-JWT (`aud` the full `client_id`, the request's `nonce`, `iat` now),
    /// encrypted to the verifier's key; logged in `store` when given.
    pub fn present(&self, choice: &ConsentChoice, holder: &dyn HolderKeys, now: UnixTime, store: Option<&CredentialStore>) -> Result<PreparedResponse, ConsentError> {
        let mut vp: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut disclosed: BTreeMap<String, Vec<ClaimPath>> = BTreeMap::new();
        let mut used = Vec::new();
        for (query_id, cred) in &choice.0 {
            let q = self.request.dcql_query.credential(query_id).ok_or_else(|| ConsentError::UnknownQuery(query_id.clone()))?;
            let not_candidate = || ConsentError::NotACandidate { query: query_id.clone(), credential: cred.to_string() };
            let (sd, sel) = self.credentials.get(cred).ok_or_else(not_candidate)?;
            let paths = sel.get(query_id).ok_or_else(not_candidate)?;
            let entry = vp.entry(query_id.clone()).or_default();
            if !entry.is_empty() && !q.multiple {
                return Err(ConsentError::MultipleNotAllowed(query_id.clone()));
            }
            let key = holder.holder_key(cred).ok_or_else(|| ConsentError::NoHolderKey(cred.to_string()))?;
            let kb = KeyBindingInput { aud: self.request.client_id.as_str().to_owned(), nonce: self.request.nonce.clone(), iat: now };
            entry.push(sd.present(Some(paths), &kb, key).map_err(ConsentError::Present)?);
            disclosed.entry(query_id.clone()).or_default().extend(paths.iter().cloned());
            if !used.contains(cred) {
                used.push(cred.clone());
            }
        }
        satisfied_by(&self.request.dcql_query, &|id| vp.contains_key(id)).map_err(ConsentError::DoesNotSatisfy)?;
        let response = AuthorizationResponse { vp_token: VpToken(vp), state: self.request.state.clone() };
        let jwe = response.encrypt(&self.request.encryption_key, self.request.enc, &self.request.nonce).map_err(ConsentError::Response)?;
        let log_seq = match store {
            Some(s) => Some(s.log(&NewTransaction {
                at: now,
                kind: TransactionKind::Presentation,
                counterparty: self.counterparty(),
                credential_ids: used,
                claims: disclosed.iter().flat_map(|(q, ps)| ps.iter().map(move |p| format!("{q}:{p}"))).collect(),
            })?),
            None => None,
        };
        Ok(PreparedResponse { request: post_request(&self.request.response_uri, response_form(&jwe)), disclosed, log_seq, redirects: self.request.redirect_rule() })
    }

    /// Declines: `access_denied` with the request's `state`, logged in `store` when given
    /// ([`TransactionKind::Declined`]).
    pub fn decline(&self, now: UnixTime, store: Option<&CredentialStore>) -> Result<PreparedResponse, ConsentError> {
        let form = ErrorResponse::access_denied(self.request.state.clone()).to_form();
        let log_seq = match store {
            Some(s) => Some(s.log(&NewTransaction {
                at: now,
                kind: TransactionKind::Declined,
                counterparty: self.counterparty(),
                credential_ids: Vec::new(),
                claims: Vec::new(),
            })?),
            None => None,
        };
        Ok(PreparedResponse { request: post_request(&self.request.response_uri, form), disclosed: BTreeMap::new(), log_seq, redirects: self.request.redirect_rule() })
    }

    fn counterparty(&self) -> String {
        self.request.client_id.entity_id().map_or_else(|| self.request.client_id.as_str().to_owned(), |e| e.as_str().to_owned())
    }
}

#[cfg(test)]
mod tests;
