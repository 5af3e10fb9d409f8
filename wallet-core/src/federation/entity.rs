//! Entity identifiers and Entity Statements (draft 48 §3): Entity Configurations
//! (`iss == sub`) and Subordinate Statements, typed, parsed strictly, signed.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::FederationError;
use crate::jose::jwk::JwkSet;
use crate::jose::{CompactJws, JwsAlg, JwsHeader, Signer, jws};
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// The `typ` of an Entity Statement.
pub const ENTITY_STATEMENT_TYP: &str = "entity-statement+jwt";
/// The media type of an Entity Statement response.
pub const ENTITY_STATEMENT_MEDIA_TYPE: &str = "application/entity-statement+jwt";
/// Where an entity publishes its configuration.
pub const WELL_KNOWN: &str = "/.well-known/openid-federation";
/// The largest clock skew tolerated on a statement's `iat`/`exp` at onboarding (IT-Wallet
/// FA_007: 120 s).
pub const MAX_CLOCK_SKEW: i64 = 120;

/// An Entity Identifier (draft 48 §1.2): an `https` URL with a host and no query or
/// fragment, checked once, with a URL parser, when it is made.
///
/// It compares as the string it was given (draft 48: entity ids compare as strings), so it
/// must already be in the parser's canonical form: whatever it displays is where we connect.
/// `http` is accepted only for a loopback host (`127.0.0.1`, `[::1]`, `localhost`), for
/// federations run on one machine (tests, `tessera up`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId {
    /// The identifier, exactly as given (and as compared).
    id: String,
    /// The parsed host, a function of `id`.
    host: String,
}

impl EntityId {
    /// Validates an identifier: refuses a scheme other than `https` (or `http` on loopback),
    /// userinfo, a query or fragment (even empty), no host or one ending with `.`, white
    /// space or control characters, and any spelling that the URL parser would rewrite (upper-case or
    /// percent-encoded or IDNA hosts, `\`, `.`/`..` segments, a default port...), except
    /// the `/` it adds after a bare origin.
    pub fn new(s: impl Into<String>) -> Result<Self, FederationError> {
        let id = s.into();
        match parse_entity_id(&id) {
            Ok(host) => Ok(Self { id, host }),
            Err(reason) => Err(FederationError::InvalidEntityId { id, reason: reason.to_owned() }),
        }
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Where its Entity Configuration is: the id without a trailing `/`, plus the well-known path.
    pub fn configuration_url(&self) -> String {
        format!("{}{WELL_KNOWN}", self.id.trim_end_matches('/'))
    }

    /// The host, as the URL parser reads it (`[::1]` for IPv6; for naming constraints).
    pub fn host(&self) -> String {
        self.host.clone()
    }
}

/// The checks of [`EntityId::new`]; the host, or why not.
fn parse_entity_id(s: &str) -> Result<String, &'static str> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use url::Host;

    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("white space or control characters");
    }
    let url = url::Url::parse(s).map_err(|e| match e {
        url::ParseError::EmptyHost => "no host",
        url::ParseError::RelativeUrlWithoutBase => "not an absolute URL",
        _ => "not a valid URL",
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("must use https");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("no userinfo allowed");
    }
    if url.query().is_some() {
        return Err("no query allowed");
    }
    if url.fragment().is_some() {
        return Err("no fragment allowed");
    }
    let host = match url.host() {
        None => return Err("no host"),
        Some(Host::Domain("")) => return Err("no host"),
        Some(h) => h,
    };
    if let Host::Domain(d) = host
        && d.ends_with('.')
    {
        return Err("host ends with a dot");
    }
    let loopback = match host {
        Host::Ipv4(a) => a == Ipv4Addr::LOCALHOST,
        Host::Ipv6(a) => a == Ipv6Addr::LOCALHOST,
        Host::Domain(d) => d == "localhost",
    };
    if url.scheme() == "http" && !loopback {
        return Err("must use https (http only on a loopback host)");
    }
    let canonical = url.as_str();
    let bare_origin = url.path() == "/" && canonical.strip_suffix('/') == Some(s);
    if canonical != s && !bare_origin {
        return Err("not in canonical URL form (the parser would rewrite it)");
    }
    url.host_str().map(str::to_owned).ok_or("no host")
}

impl fmt::Debug for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EntityId").field(&self.id).finish()
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl Serialize for EntityId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.id)
    }
}

impl<'de> Deserialize<'de> for EntityId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        EntityId::new(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// `constraints` of a Subordinate Statement (draft 48 §6.2), or of a trust anchor's Entity
/// Configuration (SPID/CIE, IT-Wallet; digest §C). Unknown constraints are ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Constraints {
    /// Most intermediates allowed between the constrainer and the leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_path_length: Option<u32>,
    /// RFC 5280-style host constraints on subordinate ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naming_constraints: Option<NamingConstraints>,
    /// Entity types the leaf may have (`federation_entity` always allowed);
    /// `allowed_leaf_entity_types` (before draft 34, still SPID/CIE's name) is read as this.
    #[serde(default, alias = "allowed_leaf_entity_types", skip_serializing_if = "Option::is_none")]
    pub allowed_entity_types: Option<Vec<String>>,
}

/// `naming_constraints`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NamingConstraints {
    /// Permitted hosts (`host` exactly, `.domain` for subdomains).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permitted: Vec<String>,
    /// Excluded hosts; excluded always wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
}

/// An element of an Entity Configuration's `trust_marks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TrustMarkRefWire")]
pub struct TrustMarkRef {
    /// The trust mark type (see [`trust_mark_type_of`] for the names accepted on input).
    pub trust_mark_type: String,
    /// The trust mark JWT.
    pub trust_mark: String,
}

/// [`TrustMarkRef`] as it comes over the wire, with every name of the type.
#[derive(Deserialize)]
struct TrustMarkRefWire {
    #[serde(default)]
    trust_mark_type: Option<String>,
    #[serde(default)]
    trust_mark_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    trust_mark: String,
}

impl TryFrom<TrustMarkRefWire> for TrustMarkRef {
    type Error = String;
    fn try_from(w: TrustMarkRefWire) -> Result<Self, String> {
        Ok(Self { trust_mark_type: trust_mark_type_of(w.trust_mark_type, w.trust_mark_id, w.id)?, trust_mark: w.trust_mark })
    }
}

/// The trust mark type from its three names: `trust_mark_type` (draft 48), `trust_mark_id`
/// (draft 42), `id` (before, and the SPID/CIE docs). SPID/CIE deployments (PyPI
/// `spid-cie-oidc`) send all three at once: the first present is used, and names that
/// disagree are refused (federation digest §C: accept all three).
pub(crate) fn trust_mark_type_of(trust_mark_type: Option<String>, trust_mark_id: Option<String>, id: Option<String>) -> Result<String, String> {
    let names = [trust_mark_type, trust_mark_id, id];
    let mut present = names.iter().flatten();
    let Some(first) = present.next() else { return Err("missing field `trust_mark_type`".into()) };
    if present.any(|other| other != first) {
        return Err("trust_mark_type, trust_mark_id and id name different types".into());
    }
    Ok(first.clone())
}

/// `trust_mark_owners[type]` in a trust anchor's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustMarkOwner {
    /// The owner's entity id.
    pub sub: String,
    /// The owner's keys (to verify delegations).
    pub jwks: JwkSet,
}

/// The claims of an Entity Statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityStatement {
    /// Issuer.
    pub iss: EntityId,
    /// Subject.
    pub sub: EntityId,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// The subject's Federation Entity Keys.
    pub jwks: JwkSet,
    /// `{entity_type: {...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// EC only: superiors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_hints: Option<Vec<EntityId>>,
    /// EC only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_anchor_hints: Option<Vec<EntityId>>,
    /// EC only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_marks: Option<Vec<TrustMarkRef>>,
    /// TA EC only: type → allowed issuers (`[]` = anyone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_mark_issuers: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// TA EC only: type → owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_mark_owners: Option<std::collections::BTreeMap<String, TrustMarkOwner>>,
    /// SS, or the trust anchor's EC (SPID/CIE, IT-Wallet: applied to chains under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
    /// SS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_policy: Option<Value>,
    /// SS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_policy_crit: Option<Vec<String>>,
    /// Extension claims that must be understood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
    /// SS: where it was fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_endpoint: Option<String>,
    /// Other claims.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EntityStatement {
    /// An endpoint this entity publishes in its `federation_entity` metadata
    /// (`federation_fetch_endpoint`, `federation_list_endpoint`, ...: draft 48 §5.1.1).
    pub fn federation_endpoint(&self, name: &str) -> Option<&str> {
        self.metadata.as_ref()?.get("federation_entity")?.get(name)?.as_str()
    }

    /// Whether this is an Entity Configuration (`iss == sub`).
    pub fn is_configuration(&self) -> bool {
        self.iss == self.sub
    }

    /// Placement and syntax rules (draft 48 §3, validation steps 7-9). `constraints` is
    /// accepted in an Entity Configuration without `authority_hints` (a trust anchor's, as
    /// SPID/CIE and IT-Wallet publish it: digest §C "Read both"); chain validation applies it
    /// only when it is the anchor's. An EC with superiors carrying it is refused.
    pub fn check_claims(&self) -> Result<(), FederationError> {
        let misplaced = |claim: &'static str| Err(FederationError::MisplacedClaim { claim, sub: self.sub.to_string() });
        let empty = |claim: &'static str| Err(FederationError::InvalidClaim { claim, reason: "must not be an empty array".into() });
        if self.is_configuration() {
            if self.constraints.is_some() && self.authority_hints.is_some() {
                return misplaced("constraints");
            }
            if self.metadata_policy.is_some() {
                return misplaced("metadata_policy");
            }
            if self.metadata_policy_crit.is_some() {
                return misplaced("metadata_policy_crit");
            }
        } else {
            if self.authority_hints.is_some() {
                return misplaced("authority_hints");
            }
            if self.trust_anchor_hints.is_some() {
                return misplaced("trust_anchor_hints");
            }
            // `trust_marks` in a Subordinate Statement: draft 48 places them in Entity
            // Configurations only; the SPID/CIE docs (and PyPI `spid-cie-oidc`) also put them in
            // Subordinate Statements. They are ignored there: the subject's own configuration is
            // where a mark is read and validated (federation digest §C).
        }
        if self.authority_hints.as_ref().is_some_and(Vec::is_empty) {
            return empty("authority_hints");
        }
        if self.trust_anchor_hints.as_ref().is_some_and(Vec::is_empty) {
            return empty("trust_anchor_hints");
        }
        if self.metadata_policy_crit.as_ref().is_some_and(Vec::is_empty) {
            return empty("metadata_policy_crit");
        }
        if let Some(crit) = &self.crit {
            // We implement no extension claim: any critical one is not understood.
            return match crit.first() {
                None => empty("crit"),
                Some(c) => Err(FederationError::UnsupportedCrit(c.clone())),
            };
        }
        if let Some(md) = &self.metadata
            && let Some((t, _)) = md.iter().find(|(_, v)| !v.is_object()) {
                return Err(FederationError::InvalidClaim { claim: "metadata", reason: format!("`{t}` must be an object") });
            }
        if let Some(c) = &self.constraints
            && let Some(types) = &c.allowed_entity_types
                && types.iter().any(|t| t == "federation_entity") {
                    return Err(FederationError::InvalidClaim {
                        claim: "constraints",
                        reason: "allowed_entity_types must not list federation_entity".into(),
                    });
                }
        let mut kids = std::collections::HashSet::new();
        for k in &self.jwks.keys {
            match &k.kid {
                Some(kid) if kids.insert(kid.clone()) => {}
                _ => return Err(FederationError::InvalidClaim { claim: "jwks", reason: "every key needs a unique kid".into() }),
            }
        }
        Ok(())
    }

    /// Signs this statement with a Federation Entity Key (its `kid` in the header).
    pub fn sign(&self, signer: &dyn Signer) -> Result<String, FederationError> {
        let header = JwsHeader::new(JwsAlg::Es256).with_typ(ENTITY_STATEMENT_TYP).with_kid(signer.kid());
        jws::sign_json(&header, self, signer).map_err(FederationError::Jose)
    }
}

/// A parsed, not yet verified, Entity Statement with its JWS.
#[derive(Debug, Clone)]
pub struct ParsedStatement {
    /// The compact JWT.
    pub jwt: String,
    /// `kid` of the signing key.
    pub kid: String,
    /// The claims.
    pub claims: EntityStatement,
}

impl ParsedStatement {
    /// Parses and checks form: `typ`, `kid`, no `trust_chain` header, claims and placement.
    pub fn parse(jwt: &str) -> Result<Self, FederationError> {
        let jws = CompactJws::parse(jwt.trim()).map_err(FederationError::Jose)?;
        let h = jws.header();
        if !h.typ_is(ENTITY_STATEMENT_TYP) {
            return Err(FederationError::WrongTyp(h.typ.clone()));
        }
        let kid = h.kid.clone().filter(|k| !k.is_empty()).ok_or(FederationError::MissingKid)?;
        if h.trust_chain.is_some() || h.extra.contains_key("peer_trust_chain") {
            return Err(FederationError::InvalidClaim { claim: "header", reason: "trust_chain headers are not allowed in entity statements".into() });
        }
        let claims: EntityStatement = serde_json::from_slice(jws.payload())
            .map_err(|e| FederationError::InvalidClaim { claim: "payload", reason: e.to_string() })?;
        claims.check_claims()?;
        Ok(Self { jwt: jwt.trim().to_owned(), kid, claims })
    }

    /// Whether the statement is valid at `now` with `skew` seconds of tolerance, clamped to
    /// 0..=[`MAX_CLOCK_SKEW`] (FA_007: onboarding refuses an expired Entity Configuration):
    /// `iat` and `exp` valid NumericDates ([`FederationError::InvalidClaim`]), `iat <= now +
    /// skew`, `exp > now - skew` (so `exp <= now - skew` is expired) and `exp > iat`
    /// ([`FederationError::OutsideValidity`], index 0). Checked with [`check_window`].
    pub fn check_time(&self, now: UnixTime, skew: i64) -> Result<(), FederationError> {
        self.check_validity(0, now, Skew::new(skew.min(MAX_CLOCK_SKEW)))
    }

    /// [`Self::check_time`] for statement `index` of a chain.
    pub(crate) fn check_validity(&self, index: usize, now: UnixTime, skew: Skew) -> Result<(), FederationError> {
        let (iat, exp) = (self.claims.iat, self.claims.exp);
        check_window(TimeWindow { iat: Some(iat), nbf: None, exp: Some(exp) }, now, skew, None).map_err(|e| match e {
            TimeError::OutOfRange { claim, .. } => FederationError::InvalidClaim { claim, reason: e.to_string() },
            _ => FederationError::OutsideValidity { index, iat, exp, now: now.secs() },
        })
    }

    /// Verifies the signature with the key `kid` of `keys`.
    pub fn verify_with(&self, keys: &JwkSet) -> Result<(), FederationError> {
        let key = keys.by_kid(&self.kid).ok_or_else(|| FederationError::KeyNotFound { kid: self.kid.clone() })?;
        let jws = CompactJws::parse(&self.jwt).map_err(FederationError::Jose)?;
        jws.verify(key).map_err(|_| FederationError::BadSignature { iss: self.claims.iss.to_string() })
    }
}

#[cfg(test)]
mod tests;
