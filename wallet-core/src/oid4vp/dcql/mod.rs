//! The Digital Credentials Query Language (OpenID4VP 1.0 §6): what a verifier asks for.
//!
//! [`DcqlQuery::parse`] reads and validates a query (the wallet receives it in a request
//! object); a verifier building one calls [`DcqlQuery::validate`] before sending it. The
//! [`matcher`] answers both sides' questions with one set of rules.
//!
//! Choices where the text leaves room (documented here, applied everywhere):
//! * `meta` is REQUIRED in OpenID4VP 1.0; we accept its absence (= no type constraint), as
//!   draft-era verifiers omit it, and always emit it.
//! * Credential Queries that no `credential_sets` option names are optional: they may be
//!   answered, never required.
//! * Unknown members are ignored (the query language is extensible).
//! * `trusted_authorities` (§6.1.1) is typed and validated ([`trusted`]); the verifier
//!   enforces it on the issuer it validated, the wallet offers only credentials that can
//!   satisfy it when it can tell ([`matcher::match_wallet_with_issuers`]). `etsi_tl` and
//!   unknown types are kept, never matched by the verifier, and leave the wallet unable to
//!   tell.
//! * `require_cryptographic_holder_binding` defaults to `true`; IT-Wallet credentials are all
//!   key-bound, and the verifier always demands a KB-JWT.

pub mod matcher;
pub mod path;
pub mod trusted;

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use matcher::{
    CandidateMatch, ClaimSelection, CredentialView, MatchError, Missing, Presented, QueryMatch, WalletMatch, check_presentation, check_response,
    match_wallet, match_wallet_with_issuers, select,
};
pub use path::{ClaimPathPattern, MAX_PATH_LEN, PathPatternElement};
pub use trusted::{AuthorityMatch, IssuerAuthorities, TrustedAuthoritiesProblem, TrustedAuthorityQuery, TrustedAuthorityType};

/// Bounds: at most this many Credential Queries, Claims Queries per credential, values per
/// claim, credential sets, options per set.
pub const MAX_ITEMS: usize = 64;
/// The largest DCQL query text we parse.
pub const MAX_QUERY_LEN: usize = 64 * 1024;

/// `dc+sd-jwt`.
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// `mso_mdoc`.
pub const FORMAT_MSO_MDOC: &str = "mso_mdoc";

/// Why a DCQL query was refused (all map to `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DcqlError {
    /// Not the JSON of a DCQL query.
    #[error("malformed DCQL query: {0}")]
    Malformed(String),
    /// Larger than the bounds.
    #[error("DCQL query too large: {0}")]
    TooLarge(&'static str),
    /// `credentials` is empty.
    #[error("credentials must not be empty")]
    NoCredentials,
    /// An `id` is empty or has characters other than alphanumerics, `_` and `-` (§6.1).
    #[error("id `{0}` must be non-empty alphanumerics, `_` or `-`")]
    BadId(String),
    /// Two Credential Queries share an `id`.
    #[error("credential query id `{0}` used twice")]
    DuplicateCredentialId(String),
    /// Two Claims Queries of one Credential Query share an `id`.
    #[error("claim id `{claim}` used twice in credential query `{credential}`")]
    DuplicateClaimId {
        /// The Credential Query.
        credential: String,
        /// The claim id.
        claim: String,
    },
    /// An empty array where the spec wants a non-empty one.
    #[error("`{0}` must not be empty")]
    EmptyArray(&'static str),
    /// A claim path is empty or too long.
    #[error("claim path in `{0}` must have 1 to {MAX_PATH_LEN} elements")]
    BadPath(String),
    /// `claim_sets` without `claims` (§6.1).
    #[error("credential query `{0}` has claim_sets without claims")]
    ClaimSetsWithoutClaims(String),
    /// `claim_sets` used and a Claims Query has no `id` (§6.3).
    #[error("credential query `{0}` uses claim_sets but a claim has no id")]
    ClaimWithoutId(String),
    /// A `claim_sets` option names an unknown claim id.
    #[error("credential query `{credential}`: claim_sets names unknown claim `{claim}`")]
    UnknownClaimId {
        /// The Credential Query.
        credential: String,
        /// The unknown id.
        claim: String,
    },
    /// A `credential_sets` option names an unknown credential id.
    #[error("credential_sets names unknown credential query `{0}`")]
    UnknownCredentialId(String),
    /// An `mso_mdoc` claim path is not `[namespace, element]`.
    #[error("mso_mdoc claim path in `{0}` must be [namespace, element]")]
    BadMdocPath(String),
    /// A value in `values` is not a string, integer or boolean.
    #[error("claim values in `{0}` must be strings, integers or booleans")]
    BadValue(String),
    /// A malformed `trusted_authorities` (OpenID4VP 1.0 §6.1.1).
    #[error("credential query `{credential}`: trusted_authorities {problem}")]
    BadTrustedAuthorities {
        /// The Credential Query.
        credential: String,
        /// What is wrong.
        problem: TrustedAuthoritiesProblem,
    },
}

impl DcqlError {
    /// The OpenID4VP error code.
    pub fn oauth_code(&self) -> &'static str {
        "invalid_request"
    }
}

/// A credential format identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialFormat {
    /// `dc+sd-jwt` (SD-JWT VC).
    SdJwtVc,
    /// `mso_mdoc` (ISO 18013-5; matched on `doctype_value`, not presented yet).
    MsoMdoc,
    /// Any other format identifier: parsed, never matched.
    Other(String),
}

impl CredentialFormat {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        match self {
            Self::SdJwtVc => FORMAT_SD_JWT_VC,
            Self::MsoMdoc => FORMAT_MSO_MDOC,
            Self::Other(s) => s,
        }
    }

    /// From an identifier.
    pub fn from_name(s: &str) -> Self {
        match s {
            FORMAT_SD_JWT_VC => Self::SdJwtVc,
            FORMAT_MSO_MDOC => Self::MsoMdoc,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl Serialize for CredentialFormat {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CredentialFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(d)?))
    }
}

/// `meta` of a Credential Query (§6.1, Appendix B).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CredentialMeta {
    /// `vct_values` (SD-JWT VC): the accepted types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vct_values: Option<Vec<String>>,
    /// `doctype_value` (mdoc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctype_value: Option<String>,
    /// Other members.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A value a claim must equal (§6.3 `values`): a string, an integer or a boolean.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClaimValue {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A boolean.
    Bool(bool),
}

impl ClaimValue {
    /// Whether a claim's value equals this one (same JSON type and value).
    pub fn matches(&self, v: &Value) -> bool {
        match (self, v) {
            (Self::String(a), Value::String(b)) => a == b,
            (Self::Integer(a), Value::Number(n)) => n.as_i64() == Some(*a),
            (Self::Bool(a), Value::Bool(b)) => a == b,
            _ => false,
        }
    }
}

/// A Claims Query (§6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimsQuery {
    /// `id`: REQUIRED when the Credential Query has `claim_sets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `path`.
    pub path: ClaimPathPattern,
    /// `values`: the claim must equal one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<ClaimValue>>,
    /// `intent_to_retain` (mdoc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_to_retain: Option<bool>,
}

impl ClaimsQuery {
    /// A claim by path, without id or values.
    pub fn path(path: ClaimPathPattern) -> Self {
        Self { id: None, path, values: None, intent_to_retain: None }
    }
}

fn default_true() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A Credential Query (§6.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialQuery {
    /// `id`: the key of the answer in `vp_token`.
    pub id: String,
    /// `format`.
    pub format: CredentialFormat,
    /// `multiple`: more than one credential may answer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub multiple: bool,
    /// `meta`.
    #[serde(default)]
    pub meta: CredentialMeta,
    /// `claims`: absent = no claim beyond those always visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<Vec<ClaimsQuery>>,
    /// `claim_sets`: alternatives of claim ids, in the verifier's order of preference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_sets: Option<Vec<Vec<String>>>,
    /// `require_cryptographic_holder_binding` (default `true`).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub require_cryptographic_holder_binding: bool,
    /// `trusted_authorities` (§6.1.1): the credential's issuer should match one entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_authorities: Option<Vec<TrustedAuthorityQuery>>,
}

impl CredentialQuery {
    /// An SD-JWT VC query for one of `vcts`, asking for `claims` (top-level names or
    /// patterns).
    pub fn sd_jwt_vc(id: &str, vcts: &[&str], claims: Vec<ClaimPathPattern>) -> Self {
        Self {
            id: id.to_owned(),
            format: CredentialFormat::SdJwtVc,
            multiple: false,
            meta: CredentialMeta { vct_values: Some(vcts.iter().map(|v| (*v).to_owned()).collect()), ..Default::default() },
            claims: (!claims.is_empty()).then(|| claims.into_iter().map(ClaimsQuery::path).collect()),
            claim_sets: None,
            require_cryptographic_holder_binding: true,
            trusted_authorities: None,
        }
    }
}

/// A Credential Set Query (§6.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CredentialSetQuery {
    /// `options`: each a list of Credential Query ids that together satisfy the set.
    pub options: Vec<Vec<String>>,
    /// `required` (default `true`).
    #[serde(default = "default_true")]
    pub required: bool,
    /// `purpose` (draft-era; kept, not interpreted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Value>,
}

/// A DCQL query (§6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DcqlQuery {
    /// `credentials`.
    pub credentials: Vec<CredentialQuery>,
    /// `credential_sets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_sets: Option<Vec<CredentialSetQuery>>,
}

fn check_id(id: &str) -> Result<(), DcqlError> {
    if id.is_empty() || id.len() > 256 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(DcqlError::BadId(id.chars().take(64).collect()));
    }
    Ok(())
}

fn bounded<T>(v: &[T], what: &'static str) -> Result<(), DcqlError> {
    if v.is_empty() {
        return Err(DcqlError::EmptyArray(what));
    }
    if v.len() > MAX_ITEMS {
        return Err(DcqlError::TooLarge(what));
    }
    Ok(())
}

impl CredentialQuery {
    fn validate(&self) -> Result<(), DcqlError> {
        check_id(&self.id)?;
        if let Some(ta) = &self.trusted_authorities {
            trusted::validate(&self.id, ta)?;
        }
        if let Some(v) = &self.meta.vct_values {
            bounded(v, "meta.vct_values")?;
        }
        let Some(claims) = &self.claims else {
            return match self.claim_sets {
                Some(_) => Err(DcqlError::ClaimSetsWithoutClaims(self.id.clone())),
                None => Ok(()),
            };
        };
        bounded(claims, "claims")?;
        let mut ids = HashSet::new();
        for c in claims {
            let n = c.path.elements().len();
            if n == 0 || n > MAX_PATH_LEN {
                return Err(DcqlError::BadPath(self.id.clone()));
            }
            if self.format == CredentialFormat::MsoMdoc
                && !matches!(c.path.elements(), [PathPatternElement::Key(_), PathPatternElement::Key(_)])
            {
                return Err(DcqlError::BadMdocPath(self.id.clone()));
            }
            if let Some(v) = &c.values {
                bounded(v, "values")?;
            }
            match &c.id {
                Some(id) => {
                    check_id(id)?;
                    if !ids.insert(id.as_str()) {
                        return Err(DcqlError::DuplicateClaimId { credential: self.id.clone(), claim: id.clone() });
                    }
                }
                None if self.claim_sets.is_some() => return Err(DcqlError::ClaimWithoutId(self.id.clone())),
                None => {}
            }
        }
        if let Some(sets) = &self.claim_sets {
            bounded(sets, "claim_sets")?;
            for option in sets {
                bounded(option, "claim_sets option")?;
                if let Some(unknown) = option.iter().find(|id| !ids.contains(id.as_str())) {
                    return Err(DcqlError::UnknownClaimId { credential: self.id.clone(), claim: unknown.clone() });
                }
            }
        }
        Ok(())
    }
}

impl DcqlQuery {
    /// Parses and validates a query from its JSON text.
    pub fn parse(json: &str) -> Result<Self, DcqlError> {
        if json.len() > MAX_QUERY_LEN {
            return Err(DcqlError::TooLarge("query"));
        }
        if json.contains("trusted_authorities") {
            // Through a `Value`, so that a malformed one is named (`trusted::check_json`).
            return Self::from_value(serde_json::from_str(json).map_err(|e| Self::classify(&e))?);
        }
        let q: Self = serde_json::from_str(json).map_err(|e| Self::classify(&e))?;
        q.validate()?;
        Ok(q)
    }

    /// Parses and validates a query from a JSON value (the `dcql_query` claim).
    pub fn from_value(v: Value) -> Result<Self, DcqlError> {
        trusted::check_json(&v)?;
        let q: Self = serde_json::from_value(v).map_err(|e| Self::classify(&e))?;
        q.validate()?;
        Ok(q)
    }

    fn classify(e: &serde_json::Error) -> DcqlError {
        let msg = e.to_string();
        if msg.contains("did not match any variant of untagged enum ClaimValue") {
            DcqlError::BadValue(String::new())
        } else {
            DcqlError::Malformed(msg)
        }
    }

    /// Checks every rule of §6: ids well-formed and unique, non-empty arrays, claim ids when
    /// `claim_sets` are used, paths non-empty, `credential_sets` naming known queries.
    pub fn validate(&self) -> Result<(), DcqlError> {
        if self.credentials.is_empty() {
            return Err(DcqlError::NoCredentials);
        }
        bounded(&self.credentials, "credentials")?;
        let mut ids = HashSet::new();
        for c in &self.credentials {
            c.validate()?;
            if !ids.insert(c.id.as_str()) {
                return Err(DcqlError::DuplicateCredentialId(c.id.clone()));
            }
        }
        if let Some(sets) = &self.credential_sets {
            bounded(sets, "credential_sets")?;
            for s in sets {
                bounded(&s.options, "credential_sets options")?;
                for option in &s.options {
                    bounded(option, "credential_sets option")?;
                    if let Some(unknown) = option.iter().find(|id| !ids.contains(id.as_str())) {
                        return Err(DcqlError::UnknownCredentialId(unknown.clone()));
                    }
                }
            }
        }
        Ok(())
    }

    /// The Credential Query with this id.
    pub fn credential(&self, id: &str) -> Option<&CredentialQuery> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// The JSON value (for the `dcql_query` claim).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests;
