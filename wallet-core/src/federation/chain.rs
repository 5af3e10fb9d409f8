//! Trust chain validation and metadata resolution (draft 48 §10, §6).
//!
//! A chain is `[EC(subject), SS(superior→subject), …, SS(TA→top)]`, optionally followed by
//! the trust anchor's own configuration. Each statement must be signed by a key its issuer's
//! superior attests (the subject's configuration by a key pinned in the superior's
//! statement), the last by the trust anchor's configured keys.
//!
//! `constraints` are read from each Subordinate Statement (draft 48 §6.2) and, as SPID/CIE
//! and IT-Wallet publish them, from the trust anchor's own Entity Configuration (digest §C,
//! "Read both"): that configuration's constraints apply as if the anchor's Subordinate
//! Statement (the last of the chain) carried them. Constraints in any other Entity
//! Configuration are ignored.

use serde_json::{Map, Value};

use super::entity::{Constraints, EntityId, ParsedStatement};
use super::{FederationError, MetadataPolicy};
use crate::jose::jwk::JwkSet;
use crate::time::{Skew, UnixTime};

/// At most this many statements in a chain.
pub const MAX_CHAIN_LEN: usize = 12;

/// A trust anchor known out of band: its id and keys.
#[derive(Debug, Clone)]
pub struct TrustAnchorConfig {
    /// Its Entity Identifier.
    pub id: EntityId,
    /// Its Federation Entity Keys.
    pub jwks: JwkSet,
}

/// A validated chain and what it resolves to.
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    /// The subject's configuration.
    pub subject: ParsedStatement,
    /// The statements, subject first (the trust anchor's configuration included if given).
    pub statements: Vec<ParsedStatement>,
    /// The trust anchor.
    pub trust_anchor: EntityId,
    /// Valid until the earliest `exp` in the chain.
    pub exp: UnixTime,
    /// The subject's metadata after the superior's `metadata`, `allowed_entity_types` and
    /// the merged metadata policy.
    pub metadata: Map<String, Value>,
}

impl ValidatedChain {
    /// The compact JWTs, subject first (as a `trust_chain` header carries them).
    pub fn jwts(&self) -> Vec<String> {
        self.statements.iter().map(|s| s.jwt.clone()).collect()
    }

    /// The resolved metadata of one entity type.
    pub fn metadata_of(&self, entity_type: &str) -> Option<&Map<String, Value>> {
        self.metadata.get(entity_type).and_then(Value::as_object)
    }
}

/// RFC 5280 host rules as draft 48 §6.2.2 applies them: `host` exact, `.domain` subdomains.
fn host_matches(host: &str, constraint: &str) -> bool {
    let c = constraint.to_ascii_lowercase();
    match c.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == c,
    }
}

/// `c` as carried by the statement at `at` (its issuer the constrainer), reported as
/// statement `index` (they differ for the trust anchor's configuration).
fn check_constraints(c: &Constraints, at: usize, index: usize, below: &[&EntityId]) -> Result<(), FederationError> {
    if let Some(max) = c.max_path_length {
        // Intermediates between the constrainer (issuer of SS[at]) and the subject.
        let intermediates = at.saturating_sub(1);
        if intermediates > max as usize {
            return Err(FederationError::MaxPathLength { index, max });
        }
    }
    if let Some(nc) = &c.naming_constraints {
        for id in below {
            let host = id.host();
            let excluded = nc.excluded.iter().any(|e| host_matches(&host, e));
            let permitted = nc.permitted.is_empty() || nc.permitted.iter().any(|p| host_matches(&host, p));
            if excluded || !permitted {
                return Err(FederationError::NamingConstraint { entity: id.to_string(), index });
            }
        }
    }
    Ok(())
}

/// Validates `chain` (compact JWTs, subject first) to `anchor` at `now`, then resolves the
/// subject's metadata. Every failure names the rule (draft 48 §10.2). A trailing trust
/// anchor configuration is verified and its `constraints` applied.
pub fn validate(chain: &[String], anchor: &TrustAnchorConfig, now: UnixTime) -> Result<ValidatedChain, FederationError> {
    validate_with_anchor_configuration(chain, anchor, None, now)
}

/// [`validate`], given the trust anchor's Entity Configuration apart from the chain (as the
/// collector fetched it), so its `constraints` apply (SPID/CIE, IT-Wallet: the anchor's
/// `max_path_length` is in its configuration). It is held to the rules of a trailing anchor
/// configuration: about the anchor, signed with its configured keys, valid at `now`; its
/// `exp` bounds [`ValidatedChain::exp`]; it is not added to [`ValidatedChain::statements`].
/// Unused when the chain ends with the anchor's configuration or is the anchor's alone.
pub fn validate_with_anchor_configuration(
    chain: &[String],
    anchor: &TrustAnchorConfig,
    anchor_configuration: Option<&str>,
    now: UnixTime,
) -> Result<ValidatedChain, FederationError> {
    const SKEW: Skew = Skew::new(60);
    if chain.is_empty() {
        return Err(FederationError::EmptyChain);
    }
    if chain.len() > MAX_CHAIN_LEN {
        return Err(FederationError::ChainTooLong(MAX_CHAIN_LEN));
    }
    let mut statements = chain.iter().map(|j| ParsedStatement::parse(j)).collect::<Result<Vec<_>, _>>()?;
    // A trailing trust anchor configuration is checked against the configured keys and dropped
    // from the link checks.
    let ta_config = match statements.last() {
        Some(last) if statements.len() > 1 && last.claims.is_configuration() => statements.pop(),
        _ => None,
    };
    let given = match anchor_configuration {
        Some(jwt) if ta_config.is_none() && statements.len() > 1 => Some(ParsedStatement::parse(jwt)?),
        _ => None,
    };
    for (index, s) in statements.iter().chain(ta_config.iter()).chain(given.iter()).enumerate() {
        // Valid NumericDates, `iat` within the skew, `exp` after `iat`; then `exp` strictly.
        s.check_validity(index, now, SKEW)?;
        let (iat, exp) = (s.claims.iat, s.claims.exp);
        if now.secs() >= exp {
            return Err(FederationError::OutsideValidity { index, iat, exp, now: now.secs() });
        }
    }
    let subject = statements.first().ok_or(FederationError::EmptyChain)?;
    if !subject.claims.is_configuration() {
        return Err(FederationError::BrokenLink { index: 0, reason: "the first statement must be an Entity Configuration".into() });
    }
    // A lone configuration is the trust anchor itself.
    if statements.len() == 1 {
        if subject.claims.iss != anchor.id {
            return Err(FederationError::WrongTrustAnchor { expected: anchor.id.to_string(), got: subject.claims.iss.to_string() });
        }
        subject.verify_with(&anchor.jwks)?;
    } else {
        // Steps 2 and 3 both check ES[0]'s one signature: against its own `jwks` and against the
        // key its superior pins. The signing key must be the same in both sets; the signature
        // is then verified once, with the pinned key, in the loop below.
        let own = subject.claims.jwks.by_kid(&subject.kid).ok_or_else(|| FederationError::KeyNotFound { kid: subject.kid.clone() })?;
        if let Some(pinned) = statements.get(1).and_then(|s| s.claims.jwks.by_kid(&subject.kid))
            && pinned.params != own.params
        {
            return Err(FederationError::KeyNotFound { kid: subject.kid.clone() });
        }
    }
    for j in 0..statements.len().saturating_sub(1) {
        let (Some(cur), Some(next)) = (statements.get(j), statements.get(j + 1)) else { break };
        if next.claims.is_configuration() {
            return Err(FederationError::BrokenLink { index: j + 1, reason: "a Subordinate Statement was expected".into() });
        }
        if cur.claims.iss != next.claims.sub {
            return Err(FederationError::BrokenLink {
                index: j,
                reason: format!("issuer {} is not the subject {} of the next statement", cur.claims.iss, next.claims.sub),
            });
        }
        // The subject's configuration (and each statement) is signed by a key the superior attests.
        cur.verify_with(&next.claims.jwks)?;
    }
    if let (Some(hints), Some(first_ss)) = (&subject.claims.authority_hints, statements.get(1))
        && !hints.contains(&first_ss.claims.iss) {
            return Err(FederationError::NotAnAuthorityHint { superior: first_ss.claims.iss.to_string(), subject: subject.claims.sub.to_string() });
        }
    let top = statements.last().ok_or(FederationError::EmptyChain)?;
    if statements.len() > 1 {
        if top.claims.iss != anchor.id {
            return Err(FederationError::WrongTrustAnchor { expected: anchor.id.to_string(), got: top.claims.iss.to_string() });
        }
        top.verify_with(&anchor.jwks)?;
    }
    let anchor_ec = ta_config.as_ref().or(given.as_ref());
    if let Some(ta) = anchor_ec {
        if !ta.claims.is_configuration() {
            return Err(FederationError::BrokenLink { index: statements.len(), reason: "the trust anchor's Entity Configuration was expected".into() });
        }
        if ta.claims.sub != anchor.id {
            return Err(FederationError::WrongTrustAnchor { expected: anchor.id.to_string(), got: ta.claims.sub.to_string() });
        }
        ta.verify_with(&anchor.jwks)?;
    }

    // Constraints of each Subordinate Statement, on everything below it.
    for (index, s) in statements.iter().enumerate().skip(1) {
        if let Some(c) = &s.claims.constraints {
            let below: Vec<&EntityId> = statements.iter().take(index).map(|x| &x.claims.sub).collect();
            check_constraints(c, index, index, &below)?;
        }
    }
    // The anchor's configuration's, as if in its Subordinate Statement (the last one).
    if let Some(c) = anchor_ec.and_then(|s| s.claims.constraints.as_ref())
        && statements.len() > 1
    {
        let top = statements.len() - 1;
        let below: Vec<&EntityId> = statements.iter().take(top).map(|x| &x.claims.sub).collect();
        check_constraints(c, top, statements.len(), &below)?;
    }

    // Metadata: the superior's `metadata` first, then allowed_entity_types, then the policy
    // merged from the trust anchor's statement down to the immediate superior's.
    let mut metadata = subject.claims.metadata.clone().unwrap_or_default();
    if let Some(ss) = statements.get(1)
        && let Some(over) = &ss.claims.metadata {
            for (t, params) in over {
                if let (Some(Value::Object(target)), Value::Object(params)) = (metadata.get_mut(t), params) {
                    for (k, v) in params {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
        }
    for s in statements.iter().skip(1).chain(anchor_ec.filter(|_| statements.len() > 1)) {
        if let Some(allowed) = s.claims.constraints.as_ref().and_then(|c| c.allowed_entity_types.as_ref()) {
            metadata.retain(|t, _| t == "federation_entity" || allowed.contains(t));
        }
    }
    let crit: Vec<String> = statements.iter().filter_map(|s| s.claims.metadata_policy_crit.clone()).flatten().collect();
    let mut policy = MetadataPolicy::default();
    for s in statements.iter().skip(1).rev() {
        if let Some(p) = &s.claims.metadata_policy {
            policy = policy.merge(&MetadataPolicy::from_json(p, &crit)?)?;
        }
    }
    for (t, md) in metadata.iter_mut() {
        if let Value::Object(m) = md {
            policy.apply(t, m)?;
        }
    }
    let exp = statements.iter().chain(ta_config.iter()).chain(given.iter()).map(|s| s.claims.exp).min().unwrap_or(0);
    let subject = subject.clone();
    let mut all = statements;
    all.extend(ta_config);
    Ok(ValidatedChain { subject, statements: all, trust_anchor: anchor.id.clone(), exp: UnixTime(exp), metadata })
}

#[cfg(test)]
mod tests;
