//! One matcher for both sides of DCQL (OpenID4VP 1.0 §6.4):
//!
//! * the wallet: [`match_wallet`] tells, per Credential Query, which stored credentials can
//!   answer and exactly which claim paths each would disclose ([`ClaimSelection`]), and what
//!   is missing when none can;
//! * the verifier: [`check_response`] tells whether the presented credentials answer the
//!   query (every Credential Query when there are no `credential_sets`, else every required
//!   set), each presentation matching its query's format, type, claims and values, and
//!   disclosing nothing more than its selection.
//!
//! A credential is seen through a [`CredentialView`]: format, type and its claims (for the
//! wallet every claim with every disclosure embedded; for the verifier what was disclosed).
//!
//! `trusted_authorities` (§6.1.1: "Every Credential returned by the Wallet SHOULD match at
//! least one of the conditions"): [`match_wallet_with_issuers`] leaves out a credential whose
//! issuer, as the wallet reads it ([`IssuerAuthorities`]), matches none
//! ([`QueryMatch::untrusted`]). When the wallet cannot tell ([`AuthorityMatch::CannotTell`]:
//! the credential carries no `trust_chain` for an `openid_federation` entry, no `x5c` for an
//! `aki` one, or the entries are `etsi_tl` or of unknown types), the credential is still
//! offered: the text is a SHOULD, the verifier "must verify that the issuer of a received
//! presentation is trusted on their own", and the wallet does not fetch anything to find
//! out (§15.10 "Establishing Trust in the Issuers": online resolution can leak who presents
//! what). The verifier side ([`crate::oid4vp::verify`]) enforces the entries on what it
//! validated of the issuer.
//!
//! Selection rules (§6.4.1): without `claims`, nothing beyond the always-visible claims is
//! asked; with `claims` and no `claim_sets`, all of them; with `claim_sets`, the first option
//! (the verifier's order of preference) that the credential can satisfy. A claim with `values`
//! matches only if its value equals one of them; a `null` path element keeps only the array
//! elements that match.
//!
//! "Nothing more": a disclosed path is allowed when it is inside a selected claim (a nested
//! disclosure of a requested object) or on the way to one (a parent that must be disclosed
//! for a nested claim to be, RFC 9901 §7.2). Claims an SD-JWT VC cannot hide (`iss`, `vct`,
//! `cnf`, `status`...) and claims the issuer left visible are not disclosures, so they are
//! never counted as extra.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::trusted::{AuthorityMatch, IssuerAuthorities};
use super::{ClaimPathPattern, ClaimsQuery, CredentialFormat, CredentialQuery, DcqlQuery};
use crate::sd_jwt::ClaimPath;

/// How a matcher sees one credential.
#[derive(Debug, Clone, Copy)]
pub struct CredentialView<'a> {
    /// Its format.
    pub format: &'a CredentialFormat,
    /// `vct` (SD-JWT VC).
    pub vct: Option<&'a str>,
    /// `docType` (mdoc).
    pub doctype: Option<&'a str>,
    /// Its claims.
    pub claims: &'a Map<String, Value>,
}

/// The claims a credential answers a query with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimSelection {
    /// The `claim_sets` option chosen, if the query has `claim_sets`.
    pub claim_set: Option<usize>,
    /// The concrete paths to disclose, in query order.
    pub paths: Vec<ClaimPath>,
}

impl ClaimSelection {
    /// Whether disclosing `disclosed` stays within this selection (see the module docs).
    pub fn allows(&self, disclosed: &ClaimPath) -> bool {
        self.paths.iter().any(|p| p.is_prefix_of(disclosed) || disclosed.is_prefix_of(p))
    }
}

/// Why no credential (or this one) answers a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No credential of the format and type asked for.
    NoCredentialOfType,
    /// A credential of the right type lacks these claims (or their values differ): for
    /// `claim_sets`, those of the verifier's preferred option.
    Claims(Vec<ClaimPathPattern>),
    /// Stored credentials would answer, but none is from an issuer the verifier accepts
    /// (its `trusted_authorities`, OpenID4VP 1.0 §6.1.1): the citizen holds the credential,
    /// from another issuer ([`QueryMatch::untrusted`] names them).
    UntrustedIssuer,
}

/// Whether the credential is of the format and type the query asks for.
pub fn type_matches(q: &CredentialQuery, c: &CredentialView<'_>) -> bool {
    if &q.format != c.format || matches!(q.format, CredentialFormat::Other(_)) {
        return false;
    }
    if let Some(vcts) = &q.meta.vct_values
        && !c.vct.is_some_and(|v| vcts.iter().any(|x| x == v))
    {
        return false;
    }
    if let Some(dt) = &q.meta.doctype_value
        && c.doctype != Some(dt.as_str())
    {
        return false;
    }
    true
}

/// The concrete paths one Claims Query selects, or `None` when the claim is absent or no
/// value matches.
fn claim_paths(cq: &ClaimsQuery, claims: &Map<String, Value>) -> Option<Vec<ClaimPath>> {
    let found: Vec<ClaimPath> = cq
        .path
        .resolve(claims)
        .into_iter()
        .filter(|(_, v)| cq.values.as_ref().is_none_or(|vals| vals.iter().any(|x| x.matches(v))))
        .map(|(p, _)| p)
        .collect();
    (!found.is_empty()).then_some(found)
}

fn select_all<'q>(claims: impl Iterator<Item = &'q ClaimsQuery>, c: &CredentialView<'_>) -> Result<Vec<ClaimPath>, Vec<ClaimPathPattern>> {
    let mut paths = Vec::new();
    let mut missing = Vec::new();
    for cq in claims {
        match claim_paths(cq, c.claims) {
            Some(p) => paths.extend(p),
            None => missing.push(cq.path.clone()),
        }
    }
    if missing.is_empty() { Ok(paths) } else { Err(missing) }
}

/// The claims `c` would answer `q` with (§6.4.1), or why it cannot.
pub fn select(q: &CredentialQuery, c: &CredentialView<'_>) -> Result<ClaimSelection, Missing> {
    if !type_matches(q, c) {
        return Err(Missing::NoCredentialOfType);
    }
    let Some(claims) = &q.claims else { return Ok(ClaimSelection::default()) };
    let Some(sets) = &q.claim_sets else {
        return select_all(claims.iter(), c).map(|paths| ClaimSelection { claim_set: None, paths }).map_err(Missing::Claims);
    };
    let mut first_missing = None;
    for (i, option) in sets.iter().enumerate() {
        let chosen = option.iter().filter_map(|id| claims.iter().find(|cq| cq.id.as_deref() == Some(id.as_str())));
        match select_all(chosen, c) {
            Ok(paths) => return Ok(ClaimSelection { claim_set: Some(i), paths }),
            Err(m) => {
                first_missing.get_or_insert(m);
            }
        }
    }
    Err(Missing::Claims(first_missing.unwrap_or_default()))
}

/// One stored credential that can answer a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateMatch {
    /// Its position in the slice given to [`match_wallet`].
    pub index: usize,
    /// What it would disclose.
    pub selection: ClaimSelection,
}

/// The wallet's view of one Credential Query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryMatch {
    /// The Credential Query's id.
    pub query_id: String,
    /// Credentials that can answer, in the order given.
    pub candidates: Vec<CandidateMatch>,
    /// Why none can, when `candidates` is empty ([`Missing::UntrustedIssuer`] when some
    /// would answer but are in `untrusted`).
    pub missing: Option<Missing>,
    /// Stored credentials (positions, as in `candidates`) that would answer but whose issuer
    /// matches none of the query's `trusted_authorities` (§6.1.1): not offered.
    pub untrusted: Vec<usize>,
}

/// The wallet's view of a whole query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletMatch {
    /// Per Credential Query, in query order.
    pub queries: Vec<QueryMatch>,
    /// Whether the stored credentials can satisfy the query (every Credential Query, or
    /// every required credential set).
    pub satisfiable: bool,
}

impl WalletMatch {
    /// The match of one Credential Query.
    pub fn query(&self, id: &str) -> Option<&QueryMatch> {
        self.queries.iter().find(|q| q.query_id == id)
    }
}

/// Whether answering the queries in `answered` satisfies `query`.
pub fn satisfied_by(query: &DcqlQuery, answered: &dyn Fn(&str) -> bool) -> Result<(), MatchError> {
    match &query.credential_sets {
        None => match query.credentials.iter().find(|c| !answered(&c.id)) {
            Some(c) => Err(MatchError::MissingCredential(c.id.clone())),
            None => Ok(()),
        },
        Some(sets) => {
            for (i, s) in sets.iter().enumerate() {
                if s.required && !s.options.iter().any(|o| o.iter().all(|id| answered(id))) {
                    return Err(MatchError::RequiredSetUnsatisfied(i));
                }
            }
            Ok(())
        }
    }
}

/// The wallet side: which of `stored` can answer each Credential Query, with what. Nothing
/// is known of the issuers: `trusted_authorities` filters nothing (see
/// [`match_wallet_with_issuers`]).
pub fn match_wallet(query: &DcqlQuery, stored: &[CredentialView<'_>]) -> WalletMatch {
    match_wallet_with_issuers(query, stored, &[])
}

/// [`match_wallet`], with what the wallet knows of each stored credential's issuer
/// (`issuers[i]` for `stored[i]`; absent: nothing known): a credential whose issuer matches
/// none of a query's `trusted_authorities` is not offered for it (OpenID4VP 1.0 §6.1.1; the
/// module docs say what happens when the wallet cannot tell).
pub fn match_wallet_with_issuers(query: &DcqlQuery, stored: &[CredentialView<'_>], issuers: &[IssuerAuthorities]) -> WalletMatch {
    let unknown = IssuerAuthorities::default();
    let queries: Vec<QueryMatch> = query
        .credentials
        .iter()
        .map(|q| {
            let mut candidates = Vec::new();
            let mut untrusted = Vec::new();
            let mut missing = None;
            for (index, c) in stored.iter().enumerate() {
                match select(q, c) {
                    Ok(_)
                        if q.trusted_authorities.as_deref().is_some_and(|ta| issuers.get(index).unwrap_or(&unknown).check(ta) == AuthorityMatch::NoMatch) =>
                    {
                        untrusted.push(index);
                    }
                    Ok(selection) => candidates.push(CandidateMatch { index, selection }),
                    Err(Missing::Claims(m)) if !matches!(missing, Some(Missing::Claims(_))) => missing = Some(Missing::Claims(m)),
                    Err(_) => {}
                }
            }
            let missing = candidates.is_empty().then(|| if untrusted.is_empty() { missing.unwrap_or(Missing::NoCredentialOfType) } else { Missing::UntrustedIssuer });
            QueryMatch { query_id: q.id.clone(), candidates, missing, untrusted }
        })
        .collect();
    let satisfiable = satisfied_by(query, &|id| queries.iter().any(|m| m.query_id == id && !m.candidates.is_empty())).is_ok();
    WalletMatch { queries, satisfiable }
}

/// Why a response does not answer its query (verifier side). All map to `invalid_request`
/// (IT-Wallet §5.1 "Response URI errors": 400, bad `vp_token`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// A `vp_token` key that is no Credential Query's id.
    #[error("vp_token answers `{0}`, which the query does not ask for")]
    UnknownCredentialId(String),
    /// A `vp_token` entry with no presentation.
    #[error("vp_token entry `{0}` is empty")]
    EmptyPresentation(String),
    /// More than one presentation for a query without `multiple`.
    #[error("vp_token entry `{0}` has several presentations but multiple is false")]
    MultipleNotAllowed(String),
    /// A presentation of another format or type than asked.
    #[error("presentation for `{0}` is not of the format or type asked for")]
    WrongType(String),
    /// A presentation lacks requested claims (or their values differ).
    #[error("presentation for `{id}` lacks claims {}", claims.join(", "))]
    MissingClaims {
        /// The Credential Query.
        id: String,
        /// The missing claims.
        claims: Vec<String>,
    },
    /// A presentation discloses a claim the query did not ask for.
    #[error("presentation for `{id}` discloses `{path}`, which was not asked for")]
    ExtraClaim {
        /// The Credential Query.
        id: String,
        /// The extra claim.
        path: String,
    },
    /// A Credential Query left unanswered (no `credential_sets`: all are required).
    #[error("credential query `{0}` is not answered")]
    MissingCredential(String),
    /// A required credential set has no option fully answered.
    #[error("required credential set {0} is not satisfied")]
    RequiredSetUnsatisfied(usize),
}

impl MatchError {
    /// The OpenID4VP error code.
    pub fn oauth_code(&self) -> &'static str {
        "invalid_request"
    }
}

/// One presented credential, as the verifier saw it after verification.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// Its format, type and claims (always-visible and disclosed).
    pub view: CredentialView<'a>,
    /// The paths of the disclosed claims.
    pub disclosed: &'a [ClaimPath],
}

/// The verifier side, one presentation: it matches its Credential Query and discloses
/// nothing beyond the selection.
pub fn check_presentation(q: &CredentialQuery, p: &Presented<'_>) -> Result<ClaimSelection, MatchError> {
    let selection = select(q, &p.view).map_err(|m| match m {
        // `select` knows nothing of issuers: it never says `UntrustedIssuer`.
        Missing::NoCredentialOfType | Missing::UntrustedIssuer => MatchError::WrongType(q.id.clone()),
        Missing::Claims(c) => MatchError::MissingClaims { id: q.id.clone(), claims: c.iter().map(ToString::to_string).collect() },
    })?;
    if let Some(extra) = p.disclosed.iter().find(|d| !selection.allows(d)) {
        return Err(MatchError::ExtraClaim { id: q.id.clone(), path: extra.to_string() });
    }
    Ok(selection)
}

/// The verifier side, a whole response: every key is a Credential Query, `multiple` is
/// respected, each presentation passes [`check_presentation`], and the answered queries
/// satisfy the query.
pub fn check_response(query: &DcqlQuery, presented: &BTreeMap<String, Vec<Presented<'_>>>) -> Result<(), MatchError> {
    for (id, ps) in presented {
        let q = query.credential(id).ok_or_else(|| MatchError::UnknownCredentialId(id.clone()))?;
        if ps.is_empty() {
            return Err(MatchError::EmptyPresentation(id.clone()));
        }
        if ps.len() > 1 && !q.multiple {
            return Err(MatchError::MultipleNotAllowed(id.clone()));
        }
        for p in ps {
            check_presentation(q, p)?;
        }
    }
    satisfied_by(query, &|id| presented.contains_key(id))
}
