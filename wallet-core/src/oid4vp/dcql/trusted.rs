//! Trusted Authorities Queries (OpenID4VP 1.0 §6.1.1): a Credential Query's
//! `trusted_authorities`, "a non-empty array of objects" each `{type, values}`, and how a
//! credential's issuer is matched against them. "A Credential is identified as a match to a
//! Trusted Authorities Query if it matches with one of the provided values in one of the
//! provided types."
//!
//! Types:
//! * `aki`: base64url of the `keyIdentifier` of an AuthorityKeyIdentifier; matches when a
//!   certificate of the issuer's `x5c` chain has that AKI ("The raw byte representation of
//!   this element MUST match with the AuthorityKeyIdentifier element of an X.509 certificate
//!   in the certificate chain present in the Credential");
//! * `openid_federation`: an Entity Identifier; matches when it is an entity of the issuer's
//!   federation trust chain (the issuer, an intermediate, the trust anchor: "While this Entity
//!   Identifier could be any entity in that ecosystem, this entity would usually have the
//!   Entity Configuration of a Trust Anchor");
//! * `etsi_tl`: the identifier of an ETSI Trusted List. We do not support Trusted Lists: such an
//!   entry is kept but can never be matched, so it never satisfies a query on its own;
//! * any other type: the spec defines no rule for unknown types, and DCQL is extensible
//!   ("Implementations MUST ignore any unknown properties"), so it is parsed and kept as
//!   [`TrustedAuthorityType::Other`], not refused, and like `etsi_tl` never matched.
//!
//! Malformed entries (not an array, an empty array, an entry without a string `type`,
//! `values` absent, empty or with a non-string, an `aki` value that is not base64url) make
//! the whole query invalid ([`DcqlError::BadTrustedAuthorities`]).
//!
//! The same [`IssuerAuthorities::check`] serves the wallet (what it reads in its stored
//! credential, to offer only credentials that can satisfy the query) and the verifier (what
//! it validated of the presented credential's issuer).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{DcqlError, MAX_ITEMS};
use crate::jose::{CompactJws, JwsHeader};

/// `aki`.
pub const TYPE_AKI: &str = "aki";
/// `etsi_tl`.
pub const TYPE_ETSI_TL: &str = "etsi_tl";
/// `openid_federation`.
pub const TYPE_OPENID_FEDERATION: &str = "openid_federation";

/// The `type` of a Trusted Authorities Query (OpenID4VP 1.0 §6.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrustedAuthorityType {
    /// `aki`: Authority Key Identifiers, base64url.
    Aki,
    /// `etsi_tl`: ETSI Trusted List identifiers (not supported: never matched).
    EtsiTl,
    /// `openid_federation`: Entity Identifiers of the issuer's trust chain.
    OpenidFederation,
    /// A type this specification does not define: kept, never matched.
    Other(String),
}

impl TrustedAuthorityType {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Aki => TYPE_AKI,
            Self::EtsiTl => TYPE_ETSI_TL,
            Self::OpenidFederation => TYPE_OPENID_FEDERATION,
            Self::Other(s) => s,
        }
    }

    /// From an identifier.
    pub fn from_name(s: &str) -> Self {
        match s {
            TYPE_AKI => Self::Aki,
            TYPE_ETSI_TL => Self::EtsiTl,
            TYPE_OPENID_FEDERATION => Self::OpenidFederation,
            other => Self::Other(other.to_owned()),
        }
    }

    /// Whether we can match entries of this type (`aki`, `openid_federation`).
    pub fn is_supported(&self) -> bool {
        matches!(self, Self::Aki | Self::OpenidFederation)
    }
}

impl Serialize for TrustedAuthorityType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TrustedAuthorityType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&String::deserialize(d)?))
    }
}

/// One entry of `trusted_authorities` (OpenID4VP 1.0 §6.1.1); other members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedAuthorityQuery {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: TrustedAuthorityType,
    /// `values`: a non-empty array of strings.
    pub values: Vec<String>,
}

impl TrustedAuthorityQuery {
    /// An `openid_federation` entry naming `entities` (usually trust anchors).
    pub fn openid_federation(entities: &[&str]) -> Self {
        Self { kind: TrustedAuthorityType::OpenidFederation, values: entities.iter().map(|e| (*e).to_owned()).collect() }
    }

    /// An `aki` entry with these key identifiers (raw bytes, encoded here).
    pub fn aki(key_ids: &[&[u8]]) -> Self {
        Self { kind: TrustedAuthorityType::Aki, values: key_ids.iter().map(|k| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(k)).collect() }
    }
}

/// What was wrong with a `trusted_authorities` (OpenID4VP 1.0 §6.1.1). Entries count from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedAuthoritiesProblem {
    /// Not an array.
    #[error("is not an array")]
    NotAnArray,
    /// An empty array.
    #[error("is empty")]
    Empty,
    /// More than [`MAX_ITEMS`] entries.
    #[error("has more than {MAX_ITEMS} entries")]
    TooManyEntries,
    /// An entry is not an object.
    #[error("entry {0} is not an object")]
    NotAnObject(usize),
    /// An entry's `type` is absent or not a string.
    #[error("entry {0} has no string `type`")]
    BadType(usize),
    /// An entry's `values` is absent or not an array.
    #[error("entry {0} has no `values` array")]
    NoValues(usize),
    /// An entry's `values` is empty.
    #[error("entry {0} has empty `values`")]
    EmptyValues(usize),
    /// An entry has more than [`MAX_ITEMS`] values.
    #[error("entry {0} has more than {MAX_ITEMS} values")]
    TooManyValues(usize),
    /// A value is not a string.
    #[error("entry {entry}: value {value} is not a string")]
    NonStringValue {
        /// The entry.
        entry: usize,
        /// The value's position.
        value: usize,
    },
    /// An `aki` value is not the base64url (no padding) of a non-empty key identifier.
    #[error("entry {entry}: aki value `{value}` is not base64url")]
    BadAki {
        /// The entry.
        entry: usize,
        /// The value (at most 64 characters of it).
        value: String,
    },
}

fn bad(credential: &str, problem: TrustedAuthoritiesProblem) -> DcqlError {
    DcqlError::BadTrustedAuthorities { credential: credential.chars().take(64).collect(), problem }
}

/// The shape of every `trusted_authorities` in a query's JSON, checked before it is
/// deserialized, so that a malformed one is named ([`TrustedAuthoritiesProblem`]) rather than
/// reported as a serde message. `null` reads as absent, as for the other optional members.
pub(super) fn check_json(query: &Value) -> Result<(), DcqlError> {
    let Some(credentials) = query.get("credentials").and_then(Value::as_array) else { return Ok(()) };
    for c in credentials {
        let Some(ta) = c.get("trusted_authorities").filter(|v| !v.is_null()) else { continue };
        let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
        let entries = ta.as_array().ok_or_else(|| bad(id, TrustedAuthoritiesProblem::NotAnArray))?;
        for (i, e) in entries.iter().enumerate() {
            let e = e.as_object().ok_or_else(|| bad(id, TrustedAuthoritiesProblem::NotAnObject(i)))?;
            if !e.get("type").is_some_and(Value::is_string) {
                return Err(bad(id, TrustedAuthoritiesProblem::BadType(i)));
            }
            let values = e.get("values").and_then(Value::as_array).ok_or_else(|| bad(id, TrustedAuthoritiesProblem::NoValues(i)))?;
            if let Some(j) = values.iter().position(|v| !v.is_string()) {
                return Err(bad(id, TrustedAuthoritiesProblem::NonStringValue { entry: i, value: j }));
            }
        }
    }
    Ok(())
}

/// The `keyIdentifier` an `aki` value encodes.
fn decode_aki(value: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value).ok().filter(|k| !k.is_empty())
}

/// The rules of §6.1.1 on a parsed `trusted_authorities` of Credential Query `credential`:
/// non-empty, each entry's `values` non-empty, `aki` values base64url; bounded.
pub(super) fn validate(credential: &str, entries: &[TrustedAuthorityQuery]) -> Result<(), DcqlError> {
    if entries.is_empty() {
        return Err(bad(credential, TrustedAuthoritiesProblem::Empty));
    }
    if entries.len() > MAX_ITEMS {
        return Err(bad(credential, TrustedAuthoritiesProblem::TooManyEntries));
    }
    for (i, e) in entries.iter().enumerate() {
        if e.values.is_empty() {
            return Err(bad(credential, TrustedAuthoritiesProblem::EmptyValues(i)));
        }
        if e.values.len() > MAX_ITEMS {
            return Err(bad(credential, TrustedAuthoritiesProblem::TooManyValues(i)));
        }
        if e.kind == TrustedAuthorityType::Aki
            && let Some(v) = e.values.iter().find(|v| decode_aki(v).is_none())
        {
            return Err(bad(credential, TrustedAuthoritiesProblem::BadAki { entry: i, value: v.chars().take(64).collect() }));
        }
    }
    Ok(())
}

/// What is known of a credential's issuer, to match Trusted Authorities Queries against
/// (OpenID4VP 1.0 §6.1.1). Each part is `None` when it is not known (the wallet reading a
/// credential that carries no `trust_chain` or no `x5c`); the verifier fills both from what
/// it validated (`Some(vec![])` when it validated nothing of that kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssuerAuthorities {
    /// The Entity Identifiers of the issuer's federation trust chain: the issuer, its
    /// intermediates, its trust anchor.
    pub federation_entities: Option<Vec<String>>,
    /// The AuthorityKeyIdentifier `keyIdentifier`s of the certificates of the issuer's `x5c`
    /// chain.
    pub authority_key_ids: Option<Vec<Vec<u8>>>,
}

/// How a credential's issuer stands against a `trusted_authorities` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityMatch {
    /// A value of an entry matches.
    Matches,
    /// No value matches, and every entry could be evaluated.
    NoMatch,
    /// No value matches, but some entry could not be evaluated: its type is not supported
    /// (`etsi_tl`, unknown types), or what it needs of the issuer is not known.
    CannotTell,
}

#[derive(serde::Deserialize)]
struct StatementNames {
    iss: String,
    sub: String,
}

impl IssuerAuthorities {
    /// What a credential's issuer JWS header says, read without verification (the wallet's
    /// own stored credential, to decide what to offer; the verifier never uses this): the
    /// `iss` and `sub` of each `trust_chain` statement, and the AKIs of the `x5c`
    /// certificates. A part whose header member is absent or does not decode is `None`.
    pub fn from_unverified_header(header: &JwsHeader) -> Self {
        let federation_entities = header.trust_chain.as_ref().and_then(|tc| {
            let mut names = Vec::new();
            for jwt in tc.iter().take(crate::x509::MAX_CHAIN_LEN) {
                let s: StatementNames = CompactJws::parse(jwt).ok()?.payload_json().ok()?;
                for n in [s.iss, s.sub] {
                    if !names.contains(&n) {
                        names.push(n);
                    }
                }
            }
            Some(names)
        });
        let authority_key_ids = header.x5c.as_deref().and_then(crate::x509::x5c_authority_key_ids);
        Self { federation_entities, authority_key_ids }
    }

    /// How one entry stands: a value matches, none does, or it cannot be told.
    pub fn check_entry(&self, entry: &TrustedAuthorityQuery) -> AuthorityMatch {
        let hit = match (&entry.kind, &self.federation_entities, &self.authority_key_ids) {
            (TrustedAuthorityType::OpenidFederation, Some(entities), _) => entry.values.iter().any(|v| entities.contains(v)),
            (TrustedAuthorityType::Aki, _, Some(akis)) => entry.values.iter().filter_map(|v| decode_aki(v)).any(|k| akis.contains(&k)),
            _ => return AuthorityMatch::CannotTell,
        };
        if hit { AuthorityMatch::Matches } else { AuthorityMatch::NoMatch }
    }

    /// How the issuer stands against `trusted_authorities`: [`AuthorityMatch::Matches`] as
    /// soon as one entry matches; else [`AuthorityMatch::CannotTell`] if one could not be
    /// evaluated; else [`AuthorityMatch::NoMatch`].
    pub fn check(&self, trusted_authorities: &[TrustedAuthorityQuery]) -> AuthorityMatch {
        let mut result = AuthorityMatch::NoMatch;
        for e in trusted_authorities {
            match self.check_entry(e) {
                AuthorityMatch::Matches => return AuthorityMatch::Matches,
                AuthorityMatch::CannotTell => result = AuthorityMatch::CannotTell,
                AuthorityMatch::NoMatch => {}
            }
        }
        result
    }
}
