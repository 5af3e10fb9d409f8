//! Trust Marks (draft 48 §7): validation of a mark carried in an Entity Configuration,
//! delegation from a trust mark owner, the trust anchor's list of allowed issuers, and the
//! issuer's signed status response.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::FederationError;
use super::entity::{EntityId, EntityStatement};
use crate::jose::jwk::JwkSet;
use crate::jose::{CompactJws, JwsAlg, JwsHeader, Signer, jws};
use crate::time::{Skew, TimeError, TimeWindow, Ttl, UnixTime, check_window};

/// The `typ` of a trust mark.
pub const TRUST_MARK_TYP: &str = "trust-mark+jwt";
/// The `typ` of a delegation.
pub const DELEGATION_TYP: &str = "trust-mark-delegation+jwt";
/// The `typ` of a status response.
pub const STATUS_RESPONSE_TYP: &str = "trust-mark-status-response+jwt";

/// The claims of a trust mark (and, with `sub` the delegated issuer, of a delegation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TrustMarkClaimsWire")]
pub struct TrustMarkClaims {
    /// The issuer (for a delegation: the owner).
    pub iss: EntityId,
    /// The entity the mark is about (for a delegation: the issuer).
    pub sub: EntityId,
    /// The mark's type; `trust_mark_id` (draft 42) and `id` (before) are accepted on input,
    /// alone or together ([`super::entity::trust_mark_type_of`]).
    pub trust_mark_type: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry; absent = does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The owner's delegation JWT, when the type has an owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<String>,
    /// Other claims (`logo_uri`, `ref`, framework-specific ones).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// [`TrustMarkClaims`] as they come over the wire, with every name of the type.
#[derive(Deserialize)]
struct TrustMarkClaimsWire {
    iss: EntityId,
    sub: EntityId,
    #[serde(default)]
    trust_mark_type: Option<String>,
    #[serde(default)]
    trust_mark_id: Option<String>,
    #[serde(default)]
    id: Option<String>,
    iat: i64,
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    delegation: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl TryFrom<TrustMarkClaimsWire> for TrustMarkClaims {
    type Error = String;
    fn try_from(w: TrustMarkClaimsWire) -> Result<Self, String> {
        let trust_mark_type = super::entity::trust_mark_type_of(w.trust_mark_type, w.trust_mark_id, w.id)?;
        Ok(Self { iss: w.iss, sub: w.sub, trust_mark_type, iat: w.iat, exp: w.exp, delegation: w.delegation, extra: w.extra })
    }
}

/// The longest trust mark validity [`TrustMarkClaims::expiring`] callers should allow
/// (one year; the framework sets no bound, this is ours).
pub const MAX_TRUST_MARK_TTL: i64 = 365 * 86_400;

impl TrustMarkClaims {
    /// `(iat, exp)` for a mark issued at `iat` and valid `ttl` (draft 48 §7.1), both valid
    /// NumericDates. The `ttl` is checked when made: `Ttl::new("ttl", secs,
    /// MAX_TRUST_MARK_TTL)` refuses a negative, zero or over-long one (`i64::MAX`, `-5`).
    pub fn expiring(iat: UnixTime, ttl: Ttl) -> Result<(i64, i64), TimeError> {
        let iat = UnixTime::from_claim("iat", iat.secs())?;
        Ok((iat.secs(), iat.checked_add_ttl(ttl)?.secs()))
    }

    /// Signs as a trust mark (or, with `typ` [`DELEGATION_TYP`], a delegation).
    pub fn sign(&self, typ: &str, signer: &dyn Signer) -> Result<String, FederationError> {
        let header = JwsHeader::new(JwsAlg::Es256).with_typ(typ).with_kid(signer.kid());
        jws::sign_json(&header, self, signer).map_err(FederationError::Jose)
    }
}

/// A mark's `iss`, read before it is verified (to know whose keys verify it, and whose
/// trust chain to resolve for them).
pub fn unverified_issuer(mark: &str) -> Option<String> {
    let claims: Map<String, Value> = CompactJws::parse(mark).ok()?.payload_json().ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Whether the trust anchor configuration `anchor` lists `issuer` in `trust_mark_issuers`
/// for `trust_mark_type` (OID-FED §7.3; an empty list: any issuer of the federation). What
/// [`verify`] requires, and what decides whether an issuer other than the anchor is worth
/// resolving a trust chain for before its mark can be verified.
pub fn accredited(anchor: &EntityStatement, trust_mark_type: &str, issuer: &str) -> bool {
    anchor.trust_mark_issuers.as_ref().and_then(|m| m.get(trust_mark_type)).is_some_and(|l| l.is_empty() || l.iter().any(|i| i == issuer))
}

/// The most trust mark issuers other than the anchor whose trust chains one check resolves
/// (an entity listing many marks does not make the checker fetch without end).
pub const MAX_MARK_ISSUERS: usize = 4;

/// `federation_trust_mark_status_endpoint` (OID-FED §8.4) of a `federation_entity` metadata:
/// where a mark's issuer is asked its status (IT-Wallet 1.4 §1.1: "static plus dynamic").
pub fn status_endpoint(federation_entity: Option<&Map<String, Value>>) -> Option<String> {
    federation_entity?.get("federation_trust_mark_status_endpoint")?.as_str().map(str::to_owned)
}

/// The status an issuer reports for a mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustMarkStatus {
    /// Valid.
    Active,
    /// Past its `exp`.
    Expired,
    /// Revoked by the issuer.
    Revoked,
    /// Not issued by this issuer, or otherwise invalid.
    Invalid,
}

impl TrustMarkStatus {
    /// The status as the endpoint spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Invalid => "invalid",
        }
    }
}

/// The media type of a trust mark status response (OID-FED §8.4.2).
pub const STATUS_RESPONSE_MEDIA_TYPE: &str = "application/trust-mark-status-response+jwt";

fn tm_err(msg: impl Into<String>) -> FederationError {
    FederationError::TrustMark(msg.into())
}

fn parse_signed(jwt: &str, typ: &str, keys: &JwkSet) -> Result<(JwsHeader, Vec<u8>), FederationError> {
    let jws = CompactJws::parse(jwt.trim()).map_err(FederationError::Jose)?;
    if !jws.header().typ_is(typ) {
        return Err(tm_err(format!("typ must be {typ}")));
    }
    let kid = jws.header().kid.clone().ok_or(FederationError::MissingKid)?;
    let key = keys.by_kid(&kid).ok_or_else(|| FederationError::KeyNotFound { kid: kid.clone() })?;
    jws.verify(key).map_err(|_| tm_err("signature invalid"))?;
    Ok((jws.header().clone(), jws.payload().to_vec()))
}

/// `iat` and `exp` valid NumericDates, `iat` at most 60 s ahead, `exp` after `iat` and
/// not passed (no skew).
fn check_times(iat: i64, exp: Option<i64>, now: UnixTime, what: &str) -> Result<(), FederationError> {
    const SKEW: Skew = Skew::new(60);
    check_window(TimeWindow { iat: Some(iat), nbf: None, exp }, now, SKEW, None).map_err(|e| match e {
        TimeError::IssuedInFuture { .. } => tm_err(format!("{what} issued in the future")),
        TimeError::Expired { .. } => tm_err(format!("{what} expired")),
        other => tm_err(format!("{what}: {other}")),
    })?;
    if exp.is_some_and(|e| now.secs() >= e) {
        return Err(tm_err(format!("{what} expired")));
    }
    Ok(())
}

/// Validates `jwt` as a trust mark about `subject`, issued by an entity whose Federation
/// Entity Keys are `issuer_keys` (from the issuer's own validated chain to the same anchor),
/// under the trust anchor configuration `anchor` (`trust_mark_issuers`, `trust_mark_owners`).
pub fn verify(
    jwt: &str,
    subject: &EntityId,
    issuer_keys: &JwkSet,
    anchor: &EntityStatement,
    now: UnixTime,
) -> Result<TrustMarkClaims, FederationError> {
    let (_, payload) = parse_signed(jwt, TRUST_MARK_TYP, issuer_keys)?;
    let tm: TrustMarkClaims = serde_json::from_slice(&payload).map_err(|e| tm_err(format!("malformed claims: {e}")))?;
    if &tm.sub != subject {
        return Err(tm_err(format!("issued to {}, not to {subject}", tm.sub)));
    }
    check_times(tm.iat, tm.exp, now, "trust mark")?;
    // The anchor must list the issuer for this type (`[]` = any issuer).
    if !accredited(anchor, &tm.trust_mark_type, tm.iss.as_str()) {
        return Err(tm_err(format!("{} is not an issuer of {} for the trust anchor", tm.iss, tm.trust_mark_type)));
    }
    // A type with an owner needs the owner's delegation to this issuer.
    if let Some(owner) = anchor.trust_mark_owners.as_ref().and_then(|m| m.get(&tm.trust_mark_type)) {
        let d = tm.delegation.as_deref().ok_or_else(|| tm_err("delegation required by the trust mark owner"))?;
        let (_, payload) = parse_signed(d, DELEGATION_TYP, &owner.jwks)?;
        let del: TrustMarkClaims = serde_json::from_slice(&payload).map_err(|e| tm_err(format!("malformed delegation: {e}")))?;
        if del.iss.as_str() != owner.sub || del.sub != tm.iss || del.trust_mark_type != tm.trust_mark_type {
            return Err(tm_err("delegation does not match owner, issuer and type"));
        }
        check_times(del.iat, del.exp, now, "delegation")?;
    }
    Ok(tm)
}

/// The first of the subject's trust marks (in its Entity Configuration, `chain.subject`) that
/// is of one of `types` and valid ([`verify`]): the entity holds one of the marks a relying
/// party requires of it (IT-Wallet 1.4 §1.3: an issuer accepts wallet attestations only from
/// a wallet provider holding the wallet-provider mark). The mark issuer's keys
/// ([`issuer_keys_for`]): the anchor's configured keys when the anchor issued it, else the
/// keys a superior in `chain` pinned for it (an intermediate issuing marks), else those the
/// caller resolved in `issuer_keys` (entity id, Federation Entity Keys from that issuer's own
/// validated chain to the same anchor): OID-FED §7.3, a Trust Mark Issuer need not be in the
/// subject's chain, the anchor's `trust_mark_issuers` accrediting it is what counts (and
/// [`verify`] requires). A mark by an issuer with none of these keys is not accepted.
/// `anchor_configuration` is the anchor's current Entity Configuration, verified by the
/// caller with the anchor's keys (its `trust_mark_issuers` and `trust_mark_owners`). Static
/// validation only: the issuer's status endpoint is not asked.
pub fn held(
    chain: &super::ValidatedChain,
    types: &[String],
    anchor: &super::TrustAnchorConfig,
    anchor_configuration: &EntityStatement,
    issuer_keys: &[(String, JwkSet)],
    now: UnixTime,
) -> Result<TrustMarkClaims, FederationError> {
    let (valid, refusal) = held_each(chain, types, anchor, anchor_configuration, issuer_keys, now);
    valid.into_iter().next().map(|(_, c)| c).ok_or(refusal)
}

/// Every one of the subject's marks of one of `types` that is valid, as [`held`] checks
/// them, each with its JWT (what a status answer is kept by: a caller weighing the marks'
/// reported statuses looks at each valid one, not only the first), in the order of the
/// subject's configuration; and the refusal [`held`] gives when there is none.
pub fn held_each<'c>(
    chain: &'c super::ValidatedChain,
    types: &[String],
    anchor: &super::TrustAnchorConfig,
    anchor_configuration: &EntityStatement,
    issuer_keys: &[(String, JwkSet)],
    now: UnixTime,
) -> (Vec<(&'c str, TrustMarkClaims)>, FederationError) {
    let subject = &chain.subject.claims.sub;
    let mut valid = Vec::new();
    let mut reasons = Vec::new();
    for tm in chain.subject.claims.trust_marks.iter().flatten().filter(|t| types.contains(&t.trust_mark_type)) {
        let Some(iss) = unverified_issuer(&tm.trust_mark) else {
            reasons.push(format!("{}: not a signed mark with an issuer", tm.trust_mark_type));
            continue;
        };
        let Some(keys) = issuer_keys_for(&iss, chain, anchor, issuer_keys) else {
            reasons.push(format!("{}: issued by {iss}, neither the trust anchor nor a superior in the chain nor an issuer whose trust chain was resolved", tm.trust_mark_type));
            continue;
        };
        match verify(&tm.trust_mark, subject, keys, anchor_configuration, now) {
            Ok(c) if c.trust_mark_type == tm.trust_mark_type => valid.push((tm.trust_mark.as_str(), c)),
            Ok(c) => reasons.push(format!("{}: the mark says it is of type {}", tm.trust_mark_type, c.trust_mark_type)),
            Err(e) => reasons.push(format!("{}: {e}", tm.trust_mark_type)),
        }
    }
    if reasons.is_empty() {
        reasons.push(format!("none of type {}", types.join(" or ")));
    }
    (valid, tm_err(format!("{subject} holds no valid trust mark of the types required ({})", reasons.join("; "))))
}

/// The keys that verify a mark by `iss` for [`held`], in this order: the anchor's
/// configured keys, those a superior in `chain` pinned for it, those the caller resolved
/// from the issuer's own chain (`issuer_keys`).
fn issuer_keys_for<'a>(iss: &str, chain: &'a super::ValidatedChain, anchor: &'a super::TrustAnchorConfig, issuer_keys: &'a [(String, JwkSet)]) -> Option<&'a JwkSet> {
    if iss == anchor.id.as_str() {
        return Some(&anchor.jwks);
    }
    pinned_by_superior(chain, iss).or_else(|| issuer_keys.iter().find(|(id, _)| id == iss).map(|(_, k)| k))
}

/// The keys a statement of `chain` pins for `iss` when `iss` is a superior in it (the subject
/// of a statement after the first): what verifies a mark that superior issued.
pub fn pinned_by_superior<'a>(chain: &'a super::ValidatedChain, iss: &str) -> Option<&'a JwkSet> {
    chain.statements.iter().skip(1).find(|s| s.claims.sub.as_str() == iss).map(|s| &s.claims.jwks)
}

/// Verifies an issuer's status response (`trust-mark-status-response+jwt`) and returns the
/// status; anything but `active` should make the relying party refuse the mark.
pub fn verify_status_response(jwt: &str, issuer_keys: &JwkSet, mark: &str) -> Result<TrustMarkStatus, FederationError> {
    #[derive(Deserialize)]
    struct StatusClaims {
        trust_mark: String,
        status: TrustMarkStatus,
    }
    let (_, payload) = parse_signed(jwt, STATUS_RESPONSE_TYP, issuer_keys)?;
    let s: StatusClaims = serde_json::from_slice(&payload).map_err(|e| tm_err(format!("malformed status response: {e}")))?;
    if s.trust_mark.trim() != mark.trim() {
        return Err(tm_err("status response is about another trust mark"));
    }
    Ok(s.status)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::federation::entity::TrustMarkOwner;
    use crate::jose::SoftwareSigner;

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const TYPE: &str = "https://ta.example.it/trust_marks/credential_issuer";

    fn id(s: &str) -> EntityId {
        EntityId::new(s).unwrap()
    }

    struct Fx {
        issuer: SoftwareSigner,
        owner: SoftwareSigner,
        anchor: EntityStatement,
    }

    impl Fx {
        fn new(with_owner: bool) -> Self {
            let issuer = SoftwareSigner::generate().unwrap();
            let owner = SoftwareSigner::generate().unwrap();
            let mut anchor: EntityStatement = serde_json::from_value(json!({
                "iss": "https://ta.example.it", "sub": "https://ta.example.it", "iat": NOW.secs(), "exp": NOW.secs() + 3600,
                "jwks": {"keys": []},
                "trust_mark_issuers": {TYPE: ["https://ta.example.it"]}
            }))
            .unwrap();
            if with_owner {
                let mut owners = BTreeMap::new();
                owners.insert(TYPE.to_owned(), TrustMarkOwner { sub: "https://owner.example.it".into(), jwks: JwkSet { keys: vec![owner.public_jwk()] } });
                anchor.trust_mark_owners = Some(owners);
            }
            Self { issuer, owner, anchor }
        }
        fn keys(&self) -> JwkSet {
            JwkSet { keys: vec![self.issuer.public_jwk()] }
        }
        fn claims(&self) -> TrustMarkClaims {
            TrustMarkClaims {
                iss: id("https://ta.example.it"),
                sub: id("https://pid.example.it"),
                trust_mark_type: TYPE.into(),
                iat: NOW.secs() - 5,
                exp: Some(NOW.secs() + 600),
                delegation: None,
                extra: Map::new(),
            }
        }
        fn mark(&self, edit: impl FnOnce(&mut TrustMarkClaims)) -> String {
            let mut c = self.claims();
            edit(&mut c);
            c.sign(TRUST_MARK_TYP, &self.issuer).unwrap()
        }
        fn delegation(&self, edit: impl FnOnce(&mut TrustMarkClaims)) -> String {
            let mut d = TrustMarkClaims { iss: id("https://owner.example.it"), sub: id("https://ta.example.it"), ..self.claims() };
            edit(&mut d);
            d.sign(DELEGATION_TYP, &self.owner).unwrap()
        }
        fn verify(&self, jwt: &str) -> Result<TrustMarkClaims, FederationError> {
            verify(jwt, &id("https://pid.example.it"), &self.keys(), &self.anchor, NOW)
        }
    }

    /// A provider's chain (its configuration listing `marks`, the anchor's statement about
    /// it, signed with the anchor key `fx.issuer`), validated.
    fn provider_chain(fx: &Fx, marks: Vec<(String, String)>) -> (crate::federation::ValidatedChain, crate::federation::TrustAnchorConfig) {
        let provider = SoftwareSigner::generate().unwrap();
        let statement = |iss: &str, jwks: JwkSet| -> EntityStatement {
            serde_json::from_value(json!({"iss": iss, "sub": "https://pid.example.it", "iat": NOW.secs() - 10, "exp": NOW.secs() + 3600, "jwks": jwks})).unwrap()
        };
        let own = JwkSet { keys: vec![provider.public_jwk()] };
        let mut ec = statement("https://pid.example.it", own.clone());
        ec.authority_hints = Some(vec![id("https://ta.example.it")]);
        ec.trust_marks = Some(marks.into_iter().map(|(trust_mark_type, trust_mark)| crate::federation::entity::TrustMarkRef { trust_mark_type, trust_mark }).collect());
        let chain = vec![ec.sign(&provider).unwrap(), statement("https://ta.example.it", own).sign(&fx.issuer).unwrap()];
        let anchor = crate::federation::TrustAnchorConfig { id: id("https://ta.example.it"), jwks: fx.keys() };
        (crate::federation::chain::validate(&chain, &anchor, NOW).unwrap(), anchor)
    }

    #[test]
    fn a_required_mark_is_held_only_when_valid_and_of_a_required_type() {
        let fx = Fx::new(false);
        let types = [TYPE.to_owned()];
        let held_with = |marks: Vec<(String, String)>| {
            let (chain, anchor) = provider_chain(&fx, marks);
            held(&chain, &types, &anchor, &fx.anchor, &[], NOW).map(|c| c.trust_mark_type).map_err(|e| e.to_string())
        };
        assert_eq!(held_with(vec![(TYPE.into(), fx.mark(|_| {}))]), Ok(TYPE.to_owned()));
        // A valid mark after an invalid one of the same type.
        assert_eq!(held_with(vec![(TYPE.into(), fx.mark(|c| c.exp = Some(NOW.secs() - 1))), (TYPE.into(), fx.mark(|_| {}))]), Ok(TYPE.to_owned()));
        let refused = |marks: Vec<(String, String)>, why: &str| {
            let err = held_with(marks).unwrap_err();
            assert!(err.contains("holds no valid trust mark") && err.contains(why), "{err}");
        };
        refused(vec![], "none of type");
        // Of another type only.
        let other = "https://ta.example.it/trust_marks/openid_relying_party/public";
        refused(vec![(other.into(), fx.mark(|c| c.trust_mark_type = other.into()))], "none of type");
        refused(vec![(TYPE.into(), fx.mark(|c| c.exp = Some(NOW.secs() - 1)))], "trust mark expired");
        refused(vec![(TYPE.into(), fx.mark(|c| c.sub = id("https://other.example.it")))], "issued to https://other.example.it");
        // Listed under the required type, but the mark says another.
        refused(vec![(TYPE.into(), fx.mark(|c| c.trust_mark_type = other.into()))], "is not an issuer of");
        // Issued by an entity that is neither the anchor nor in the chain.
        refused(vec![(TYPE.into(), fx.mark(|c| c.iss = id("https://elsewhere.example.it")))], "neither the trust anchor nor a superior");
        // Signed by another key than the anchor's.
        let forged = TrustMarkClaims { ..fx.claims() }.sign(TRUST_MARK_TYP, &SoftwareSigner::generate().unwrap()).unwrap();
        refused(vec![(TYPE.into(), forged)], TYPE);
        refused(vec![(TYPE.into(), "not a jwt".into())], "not a signed mark");
    }

    /// Every valid mark is handed back with its own JWT, in order, junk skipped: a caller
    /// weighing statuses looks up each valid mark's, not that of the first entry of its type.
    #[test]
    fn each_valid_mark_is_handed_back_with_its_own_jwt() {
        let fx = Fx::new(false);
        let types = [TYPE.to_owned()];
        let (first, second) = (fx.mark(|_| {}), fx.mark(|c| c.iat = NOW.secs() - 5));
        let junk = fx.mark(|c| c.exp = Some(NOW.secs() - 1));
        let (chain, anchor) = provider_chain(&fx, vec![(TYPE.into(), junk), (TYPE.into(), first.clone()), (TYPE.into(), "not a jwt".into()), (TYPE.into(), second.clone())]);
        let (valid, _) = held_each(&chain, &types, &anchor, &fx.anchor, &[], NOW);
        let jwts: Vec<&str> = valid.iter().map(|(jwt, _)| *jwt).collect();
        assert_eq!(jwts, [first.as_str(), second.as_str()]);
        let (chain, anchor) = provider_chain(&fx, vec![(TYPE.into(), "not a jwt".into())]);
        let (valid, refusal) = held_each(&chain, &types, &anchor, &fx.anchor, &[], NOW);
        assert!(valid.is_empty());
        assert!(refusal.to_string().contains("not a signed mark"), "{refusal}");
    }

    #[test]
    fn a_required_mark_needs_the_anchor_to_list_its_issuer() {
        let mut fx = Fx::new(false);
        fx.anchor.trust_mark_issuers = Some(BTreeMap::from([(TYPE.to_owned(), vec!["https://someone-else.example.it".to_owned()])]));
        let (chain, anchor) = provider_chain(&fx, vec![(TYPE.into(), fx.mark(|_| {}))]);
        let err = held(&chain, &[TYPE.to_owned()], &anchor, &fx.anchor, &[], NOW).unwrap_err().to_string();
        assert!(err.contains("is not an issuer of"), "{err}");
    }

    /// OID-FED §7.3: a Trust Mark Issuer the anchor accredits need not be in the subject's
    /// chain; its keys come from its own chain, resolved by the caller.
    #[test]
    fn a_mark_from_an_accredited_issuer_outside_the_chain_is_held_with_its_keys() {
        const TMI: &str = "https://tmi.example.it";
        let mut fx = Fx::new(false);
        let tmi = SoftwareSigner::generate().unwrap();
        let tmi_keys = vec![(TMI.to_owned(), JwkSet { keys: vec![tmi.public_jwk()] })];
        let mark = TrustMarkClaims { iss: id(TMI), ..fx.claims() }.sign(TRUST_MARK_TYP, &tmi).unwrap();
        let (chain, anchor) = provider_chain(&fx, vec![(TYPE.into(), mark)]);
        let types = [TYPE.to_owned()];
        let held_under = |fx: &Fx, keys: &[(String, JwkSet)]| held(&chain, &types, &anchor, &fx.anchor, keys, NOW).map(|c| c.iss.as_str().to_owned()).map_err(|e| e.to_string());
        // Not accredited: the anchor lists only itself.
        let err = held_under(&fx, &tmi_keys).unwrap_err();
        assert!(err.contains(&format!("{TMI} is not an issuer of {TYPE}")), "{err}");
        fx.anchor.trust_mark_issuers = Some(BTreeMap::from([(TYPE.to_owned(), vec!["https://ta.example.it".to_owned(), TMI.to_owned()])]));
        assert_eq!(held_under(&fx, &tmi_keys), Ok(TMI.to_owned()));
        // Accredited, its keys not given.
        let err = held_under(&fx, &[]).unwrap_err();
        assert!(err.contains(&format!("issued by {TMI}, neither the trust anchor nor a superior in the chain")), "{err}");
        // Keys given for it that did not sign the mark.
        let other = vec![(TMI.to_owned(), fx.keys())];
        let err = held_under(&fx, &other).unwrap_err();
        assert!(err.contains(TYPE) && !err.contains("neither"), "{err}");
    }

    #[test]
    fn valid_mark_and_legacy_type_names() {
        let fx = Fx::new(false);
        assert_eq!(fx.verify(&fx.mark(|_| {})).unwrap().trust_mark_type, TYPE);
        // `id` (before draft 42) is read as the type.
        let legacy = json!({"iss": "https://ta.example.it", "sub": "https://pid.example.it", "id": TYPE, "iat": NOW.secs()});
        let jwt = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(TRUST_MARK_TYP).with_kid(fx.issuer.kid()), &legacy, &fx.issuer).unwrap();
        assert_eq!(fx.verify(&jwt).unwrap().trust_mark_type, TYPE);
    }

    #[test]
    fn expired_mark_is_refused() {
        let fx = Fx::new(false);
        assert_eq!(fx.verify(&fx.mark(|c| c.exp = Some(NOW.secs() - 1))).unwrap_err(), tm_err("trust mark expired"));
    }

    #[test]
    fn mark_with_out_of_range_times_is_refused() {
        let fx = Fx::new(false);
        let err = fx.verify(&fx.mark(|c| c.exp = Some(i64::MAX))).unwrap_err();
        assert_eq!(err, tm_err("trust mark: exp 9223372036854775807 out of range"));
        assert_eq!(fx.verify(&fx.mark(|c| c.iat = -1)).unwrap_err(), tm_err("trust mark: iat -1 out of range"));
        assert_eq!(fx.verify(&fx.mark(|c| c.iat = i64::MIN)).unwrap_err(), tm_err(format!("trust mark: iat {} out of range", i64::MIN)));
        let err = fx.verify(&fx.mark(|c| c.iat = NOW.secs() + 30)).map(|_| ());
        assert_eq!(err, Ok(()), "iat within the skew");
        let err = fx.verify(&fx.mark(|c| {
            c.iat = NOW.secs() + 30;
            c.exp = Some(NOW.secs() + 10);
        }));
        assert!(matches!(err, Err(FederationError::TrustMark(ref m)) if m.contains("is not after iat")), "{err:?}");
    }

    #[test]
    fn expiring_refuses_hostile_ttls_and_overflow() {
        let ttl = |secs| Ttl::new("ttl", secs, MAX_TRUST_MARK_TTL);
        assert_eq!(TrustMarkClaims::expiring(NOW, ttl(3600).unwrap()), Ok((NOW.secs(), NOW.secs() + 3600)));
        assert_eq!(ttl(i64::MAX), Err(TimeError::TooLong { name: "ttl", secs: i64::MAX, max: MAX_TRUST_MARK_TTL }));
        assert_eq!(ttl(-5), Err(TimeError::NotPositive { name: "ttl", secs: -5 }));
        assert_eq!(ttl(0), Err(TimeError::NotPositive { name: "ttl", secs: 0 }));
        let one_year = ttl(MAX_TRUST_MARK_TTL).unwrap();
        assert!(TrustMarkClaims::expiring(UnixTime::MAX_VALID, one_year).is_err(), "exp past year 9999");
        assert_eq!(TrustMarkClaims::expiring(UnixTime(-1), one_year), Err(TimeError::OutOfRange { claim: "iat", value: -1 }));
        // What it computes verifies.
        let fx = Fx::new(false);
        let (iat, exp) = TrustMarkClaims::expiring(NOW, ttl(600).unwrap()).unwrap();
        fx.verify(&fx.mark(|c| (c.iat, c.exp) = (iat, Some(exp)))).unwrap();
    }

    #[test]
    fn mark_for_another_entity_is_refused() {
        let fx = Fx::new(false);
        assert!(matches!(fx.verify(&fx.mark(|c| c.sub = id("https://other.example.it"))), Err(FederationError::TrustMark(_))));
    }

    #[test]
    fn issuer_not_listed_by_the_anchor_is_refused() {
        let fx = Fx::new(false);
        let err = fx.verify(&fx.mark(|c| c.iss = id("https://rogue.example.it"))).unwrap_err();
        assert_eq!(err, tm_err(format!("https://rogue.example.it is not an issuer of {TYPE} for the trust anchor")));
        let err = fx.verify(&fx.mark(|c| c.trust_mark_type = "https://ta.example.it/trust_marks/unknown".into())).unwrap_err();
        assert!(matches!(err, FederationError::TrustMark(ref m) if m.contains("is not an issuer")));
    }

    #[test]
    fn signature_by_another_key_is_refused() {
        let fx = Fx::new(false);
        let forger = SoftwareSigner::generate().unwrap().with_kid(fx.issuer.kid().unwrap());
        let jwt = fx.claims().sign(TRUST_MARK_TYP, &forger).unwrap();
        assert_eq!(fx.verify(&jwt).unwrap_err(), tm_err("signature invalid"));
    }

    #[test]
    fn owned_type_needs_a_valid_delegation() {
        let fx = Fx::new(true);
        assert_eq!(fx.verify(&fx.mark(|_| {})).unwrap_err(), tm_err("delegation required by the trust mark owner"));
        let good = fx.delegation(|_| {});
        fx.verify(&fx.mark(|c| c.delegation = Some(good))).unwrap();
        let wrong_sub = fx.delegation(|d| d.sub = id("https://someone-else.example.it"));
        assert_eq!(fx.verify(&fx.mark(|c| c.delegation = Some(wrong_sub))).unwrap_err(), tm_err("delegation does not match owner, issuer and type"));
        let expired = fx.delegation(|d| d.exp = Some(NOW.secs() - 1));
        assert_eq!(fx.verify(&fx.mark(|c| c.delegation = Some(expired))).unwrap_err(), tm_err("delegation expired"));
    }

    #[test]
    fn revoked_status_is_reported() {
        let fx = Fx::new(false);
        let mark = fx.mark(|_| {});
        let resp = |status: &str, about: &str| {
            let c = json!({"iss": "https://ta.example.it", "iat": NOW.secs(), "trust_mark": about, "status": status});
            jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(STATUS_RESPONSE_TYP).with_kid(fx.issuer.kid()), &c, &fx.issuer).unwrap()
        };
        assert_eq!(verify_status_response(&resp("active", &mark), &fx.keys(), &mark).unwrap(), TrustMarkStatus::Active);
        assert_eq!(verify_status_response(&resp("revoked", &mark), &fx.keys(), &mark).unwrap(), TrustMarkStatus::Revoked);
        assert_eq!(verify_status_response(&resp("active", "other"), &fx.keys(), &mark), Err(tm_err("status response is about another trust mark")));
    }
}
