//! Chains built here: TA → intermediate → leaf, each with its own keys; then one broken
//! thing per test (draft 48 §10.2 steps, constraints, policy).

use serde_json::{Value, json};

use super::*;
use crate::federation::PolicyError;
use crate::federation::entity::{EntityStatement, MAX_CLOCK_SKEW, NamingConstraints};
use crate::jose::{Signer, SoftwareSigner};

const NOW: UnixTime = UnixTime(1_800_000_000);

struct Entity {
    id: EntityId,
    key: SoftwareSigner,
}

impl Entity {
    fn new(id: &str) -> Self {
        Self { id: EntityId::new(id).unwrap(), key: SoftwareSigner::generate().unwrap() }
    }
    fn jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.key.public_jwk()] }
    }
    fn statement(&self, sub: &Entity) -> EntityStatement {
        EntityStatement {
            iss: self.id.clone(),
            sub: sub.id.clone(),
            iat: NOW.secs() - 10,
            exp: NOW.secs() + 3600,
            jwks: sub.jwks(),
            metadata: None,
            authority_hints: None,
            trust_anchor_hints: None,
            trust_marks: None,
            trust_mark_issuers: None,
            trust_mark_owners: None,
            constraints: None,
            metadata_policy: None,
            metadata_policy_crit: None,
            crit: None,
            source_endpoint: None,
            extra: Default::default(),
        }
    }
    fn configuration(&self, hints: &[&Entity], metadata: Value) -> EntityStatement {
        let mut s = self.statement(self);
        s.authority_hints = (!hints.is_empty()).then(|| hints.iter().map(|h| h.id.clone()).collect());
        s.metadata = metadata.as_object().cloned();
        s
    }
}

struct Fed {
    ta: Entity,
    int: Entity,
    leaf: Entity,
}

impl Fed {
    fn new() -> Self {
        Self {
            ta: Entity::new("https://ta.example.it"),
            int: Entity::new("https://int.example.it"),
            leaf: Entity::new("https://rp.example.it"),
        }
    }
    fn anchor(&self) -> TrustAnchorConfig {
        TrustAnchorConfig { id: self.ta.id.clone(), jwks: self.ta.jwks() }
    }
    fn leaf_ec(&self) -> EntityStatement {
        self.leaf.configuration(
            &[&self.int],
            json!({"openid_relying_party": {"redirect_uris": ["https://rp.example.it/cb"], "scope": "openid profile email",
                   "grant_types": ["authorization_code", "refresh_token"], "contacts": ["rp@example.it"]},
                   "federation_entity": {"organization_name": "RP"}}),
        )
    }
    /// The chain with an edit hook on each statement: (leaf EC, int→leaf, ta→int).
    fn chain_with(&self, edit: impl FnOnce(&mut EntityStatement, &mut EntityStatement, &mut EntityStatement)) -> Vec<String> {
        let (mut ec, mut ss1, mut ss2) = (self.leaf_ec(), self.int.statement(&self.leaf), self.ta.statement(&self.int));
        edit(&mut ec, &mut ss1, &mut ss2);
        vec![ec.sign(&self.leaf.key).unwrap(), ss1.sign(&self.int.key).unwrap(), ss2.sign(&self.ta.key).unwrap()]
    }
    fn chain(&self) -> Vec<String> {
        self.chain_with(|_, _, _| {})
    }
}

#[test]
fn valid_chain_resolves_metadata_with_policy() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, ss2| {
        ss2.metadata_policy = Some(json!({"openid_relying_party": {"grant_types": {"subset_of": ["authorization_code"]},
            "contacts": {"add": ["ops@ta.example.it"]}}}));
        ss1.metadata_policy = Some(json!({"openid_relying_party": {"scope": {"subset_of": ["openid", "profile"]}}}));
        ss1.metadata = Some(json!({"openid_relying_party": {"policy_uri": "https://int.example.it/policy"}}).as_object().cloned().unwrap());
    });
    let v = validate(&chain, &fed.anchor(), NOW).unwrap();
    let rp = v.metadata_of("openid_relying_party").unwrap();
    assert_eq!(rp["grant_types"], json!(["authorization_code"]));
    assert_eq!(rp["scope"], "openid profile");
    assert_eq!(rp["contacts"], json!(["rp@example.it", "ops@ta.example.it"]));
    assert_eq!(rp["policy_uri"], "https://int.example.it/policy");
    assert_eq!(v.exp, NOW.plus(3600));
    assert_eq!(v.trust_anchor, fed.ta.id);
}

#[test]
fn trailing_trust_anchor_configuration_is_accepted_and_checked() {
    let fed = Fed::new();
    let mut chain = fed.chain();
    chain.push(fed.ta.configuration(&[], json!({"federation_entity": {}})).sign(&fed.ta.key).unwrap());
    validate(&chain, &fed.anchor(), NOW).unwrap();
    let impostor = Entity::new("https://ta.example.it");
    let mut bad = fed.chain();
    bad.push(impostor.configuration(&[], json!({})).sign(&impostor.key).unwrap());
    assert!(matches!(validate(&bad, &fed.anchor(), NOW), Err(FederationError::KeyNotFound { .. })));
}

#[test]
fn bad_signature_is_refused() {
    let fed = Fed::new();
    let mut chain = fed.chain();
    // Re-sign the intermediate's statement with another key that has the same kid.
    let forger = SoftwareSigner::generate().unwrap().with_kid(fed.int.key.kid().unwrap());
    chain[1] = fed.int.statement(&fed.leaf).sign(&forger).unwrap();
    assert_eq!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::BadSignature { iss: "https://int.example.it".into() });
}

#[test]
fn leaf_key_not_pinned_by_the_superior_is_refused() {
    let fed = Fed::new();
    let other = SoftwareSigner::generate().unwrap();
    let chain = fed.chain_with(|_, ss1, _| ss1.jwks = JwkSet { keys: vec![other.public_jwk()] });
    assert_eq!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::KeyNotFound { kid: fed.leaf.key.kid().unwrap() });
}

#[test]
fn expired_statement_is_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, _| ss1.exp = NOW.secs() - 1);
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::OutsideValidity { index: 1, .. }));
}

#[test]
fn statement_with_out_of_range_times_is_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, _| ss1.exp = i64::MAX);
    let err = validate(&chain, &fed.anchor(), NOW).unwrap_err();
    assert_eq!(err, FederationError::InvalidClaim { claim: "exp", reason: "exp 9223372036854775807 out of range".into() });
    let chain = fed.chain_with(|ec, _, _| ec.iat = -1);
    let err = validate(&chain, &fed.anchor(), NOW).unwrap_err();
    assert_eq!(err, FederationError::InvalidClaim { claim: "iat", reason: "iat -1 out of range".into() });
    // `exp` before `iat` (iat within the skew).
    let chain = fed.chain_with(|_, _, ss2| (ss2.iat, ss2.exp) = (NOW.secs() + 50, NOW.secs() + 20));
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::OutsideValidity { index: 2, .. }));
}

#[test]
fn broken_iss_sub_link_is_refused() {
    let fed = Fed::new();
    let stranger = Entity::new("https://other.example.it");
    let mut chain = fed.chain();
    chain[1] = fed.int.statement(&stranger).sign(&fed.int.key).unwrap();
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::BrokenLink { index: 0, .. }));
}

#[test]
fn wrong_trust_anchor_is_refused() {
    let fed = Fed::new();
    let other = TrustAnchorConfig { id: EntityId::new("https://other-ta.example.it").unwrap(), jwks: fed.ta.jwks() };
    assert!(matches!(validate(&fed.chain(), &other, NOW).unwrap_err(), FederationError::WrongTrustAnchor { .. }));
}

#[test]
fn superior_not_in_authority_hints_is_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|ec, _, _| ec.authority_hints = Some(vec![EntityId::new("https://elsewhere.example.it").unwrap()]));
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::NotAnAuthorityHint { .. }));
}

#[test]
fn max_path_length_is_enforced() {
    let fed = Fed::new();
    // One intermediate between TA and leaf: TA with max_path_length 0 refuses it.
    let chain = fed.chain_with(|_, _, ss2| ss2.constraints = Some(Constraints { max_path_length: Some(0), ..Default::default() }));
    assert_eq!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::MaxPathLength { index: 2, max: 0 });
    let ok = fed.chain_with(|_, ss1, ss2| {
        ss2.constraints = Some(Constraints { max_path_length: Some(1), ..Default::default() });
        ss1.constraints = Some(Constraints { max_path_length: Some(0), ..Default::default() });
    });
    validate(&ok, &fed.anchor(), NOW).unwrap();
}

impl Fed {
    /// The trust anchor's configuration with `constraints` (as SPID/CIE and IT-Wallet publish it).
    fn ta_ec(&self, constraints: Value) -> String {
        let mut ec = self.ta.configuration(&[], json!({"federation_entity": {}}));
        ec.constraints = Some(serde_json::from_value(constraints).unwrap());
        ec.sign(&self.ta.key).unwrap()
    }
    /// Validates the plain chain with the anchor's configuration both ways: trailing the chain
    /// and given apart (as the collector does); both must agree.
    fn validate_with_ta_ec(&self, ta_ec: &str) -> Result<ValidatedChain, FederationError> {
        let mut trailing = self.chain();
        trailing.push(ta_ec.to_owned());
        let a = validate(&trailing, &self.anchor(), NOW);
        let b = validate_with_anchor_configuration(&self.chain(), &self.anchor(), Some(ta_ec), NOW);
        assert_eq!(a.as_ref().map(|v| v.metadata.clone()).map_err(Clone::clone), b.as_ref().map(|v| v.metadata.clone()).map_err(Clone::clone));
        if let Ok(v) = &b {
            assert_eq!(v.statements.len(), 3, "a configuration given apart is not added to the chain");
        }
        b
    }
}

#[test]
fn trust_anchor_configuration_max_path_length_1_allows_one_intermediate() {
    let fed = Fed::new();
    fed.validate_with_ta_ec(&fed.ta_ec(json!({"max_path_length": 1}))).unwrap();
}

#[test]
fn trust_anchor_configuration_max_path_length_0_refuses_an_intermediate() {
    let fed = Fed::new();
    let err = fed.validate_with_ta_ec(&fed.ta_ec(json!({"max_path_length": 0}))).unwrap_err();
    assert_eq!(err, FederationError::MaxPathLength { index: 3, max: 0 });
    // Without the anchor's configuration there is nothing to apply.
    validate(&fed.chain(), &fed.anchor(), NOW).unwrap();
}

#[test]
fn trust_anchor_configuration_naming_constraints_exclude_the_leaf() {
    let fed = Fed::new();
    let err = fed.validate_with_ta_ec(&fed.ta_ec(json!({"naming_constraints": {"excluded": ["rp.example.it"]}}))).unwrap_err();
    assert_eq!(err, FederationError::NamingConstraint { entity: "https://rp.example.it".into(), index: 3 });
    fed.validate_with_ta_ec(&fed.ta_ec(json!({"naming_constraints": {"permitted": [".example.it"]}}))).unwrap();
}

#[test]
fn trust_anchor_configuration_allowed_leaf_entity_types_prune_the_metadata() {
    let fed = Fed::new();
    let v = fed.validate_with_ta_ec(&fed.ta_ec(json!({"max_path_length": 1, "allowed_leaf_entity_types": ["openid_provider"]}))).unwrap();
    assert!(v.metadata_of("openid_relying_party").is_none());
    assert!(v.metadata_of("federation_entity").is_some());
}

#[test]
fn trust_anchor_configuration_given_apart_must_be_the_anchors_and_valid() {
    let fed = Fed::new();
    let forged = {
        let mut ec = fed.ta.configuration(&[], json!({}));
        ec.constraints = Some(Constraints { max_path_length: Some(5), ..Default::default() });
        ec.sign(&SoftwareSigner::generate().unwrap()).unwrap()
    };
    let err = validate_with_anchor_configuration(&fed.chain(), &fed.anchor(), Some(&forged), NOW).unwrap_err();
    assert!(matches!(err, FederationError::KeyNotFound { .. }), "{err:?}");
    let expired = {
        let mut ec = fed.ta.configuration(&[], json!({}));
        ec.exp = NOW.secs() - 1;
        ec.sign(&fed.ta.key).unwrap()
    };
    let err = validate_with_anchor_configuration(&fed.chain(), &fed.anchor(), Some(&expired), NOW).unwrap_err();
    assert!(matches!(err, FederationError::OutsideValidity { index: 3, .. }), "{err:?}");
    let not_the_anchor = fed.int.configuration(&[], json!({})).sign(&fed.int.key).unwrap();
    let err = validate_with_anchor_configuration(&fed.chain(), &fed.anchor(), Some(&not_the_anchor), NOW).unwrap_err();
    assert!(matches!(err, FederationError::WrongTrustAnchor { .. }), "{err:?}");
    // Its exp bounds the chain's.
    let short = {
        let mut ec = fed.ta.configuration(&[], json!({}));
        ec.exp = NOW.secs() + 60;
        ec.sign(&fed.ta.key).unwrap()
    };
    assert_eq!(validate_with_anchor_configuration(&fed.chain(), &fed.anchor(), Some(&short), NOW).unwrap().exp, NOW.plus(60));
}

#[test]
fn constraints_in_a_configuration_other_than_the_anchors_are_ignored() {
    let fed = Fed::new();
    // A leaf EC without authority_hints may carry them (parses), but only the anchor's apply.
    let chain = fed.chain_with(|ec, _, _| {
        ec.authority_hints = None;
        ec.constraints = Some(Constraints { max_path_length: Some(0), ..Default::default() });
    });
    validate(&chain, &fed.anchor(), NOW).unwrap();
    // With superiors, `constraints` in an EC is still misplaced.
    let chain = fed.chain_with(|ec, _, _| ec.constraints = Some(Constraints::default()));
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::MisplacedClaim { claim: "constraints", .. }));
}

#[test]
fn fa_007_expired_configuration_is_refused_within_a_skew_of_at_most_120_s() {
    let fed = Fed::new();
    let ec = |exp: i64| {
        let mut s = fed.leaf_ec();
        (s.iat, s.exp) = (NOW.secs() - 7200, exp);
        ParsedStatement::parse(&s.sign(&fed.leaf.key).unwrap()).unwrap()
    };
    let hour_ago = ec(NOW.secs() - 3600);
    assert!(matches!(hour_ago.check_time(NOW, MAX_CLOCK_SKEW), Err(FederationError::OutsideValidity { index: 0, .. })));
    let minute_ago = ec(NOW.secs() - 60);
    minute_ago.check_time(NOW, MAX_CLOCK_SKEW).unwrap();
    assert!(minute_ago.check_time(NOW, 0).is_err(), "without skew it has expired");
    // exp <= now - skew is expired; a larger skew is clamped to 120 s.
    assert!(ec(NOW.secs() - 120).check_time(NOW, MAX_CLOCK_SKEW).is_err());
    ec(NOW.secs() - 119).check_time(NOW, MAX_CLOCK_SKEW).unwrap();
    assert!(ec(NOW.secs() - 200).check_time(NOW, 3600).is_err());
    // iat beyond now + skew, and out-of-range values.
    let mut future = fed.leaf_ec();
    future.iat = NOW.secs() + 121;
    let future = ParsedStatement::parse(&future.sign(&fed.leaf.key).unwrap()).unwrap();
    assert!(matches!(future.check_time(NOW, MAX_CLOCK_SKEW), Err(FederationError::OutsideValidity { .. })));
    let mut hostile = fed.leaf_ec();
    hostile.exp = i64::MAX;
    let hostile = ParsedStatement::parse(&hostile.sign(&fed.leaf.key).unwrap()).unwrap();
    assert!(matches!(hostile.check_time(NOW, MAX_CLOCK_SKEW), Err(FederationError::InvalidClaim { claim: "exp", .. })));
}

#[test]
fn naming_constraints_are_enforced() {
    let fed = Fed::new();
    let nc = |permitted: &[&str], excluded: &[&str]| Constraints {
        naming_constraints: Some(NamingConstraints {
            permitted: permitted.iter().map(|s| (*s).to_owned()).collect(),
            excluded: excluded.iter().map(|s| (*s).to_owned()).collect(),
        }),
        ..Default::default()
    };
    let ok = fed.chain_with(|_, _, ss2| ss2.constraints = Some(nc(&[".example.it"], &[])));
    validate(&ok, &fed.anchor(), NOW).unwrap();
    let excluded = fed.chain_with(|_, _, ss2| ss2.constraints = Some(nc(&[".example.it"], &["rp.example.it"])));
    assert_eq!(
        validate(&excluded, &fed.anchor(), NOW).unwrap_err(),
        FederationError::NamingConstraint { entity: "https://rp.example.it".into(), index: 2 }
    );
    let elsewhere = fed.chain_with(|_, ss1, _| ss1.constraints = Some(nc(&[".gov.it"], &[])));
    assert!(matches!(validate(&elsewhere, &fed.anchor(), NOW).unwrap_err(), FederationError::NamingConstraint { index: 1, .. }));
}

#[test]
fn allowed_entity_types_prune_the_metadata() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, _, ss2| {
        ss2.constraints = Some(Constraints { allowed_entity_types: Some(vec!["openid_provider".into()]), ..Default::default() })
    });
    let v = validate(&chain, &fed.anchor(), NOW).unwrap();
    assert!(v.metadata_of("openid_relying_party").is_none());
    assert!(v.metadata_of("federation_entity").is_some());
}

#[test]
fn unknown_crit_claim_is_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|ec, _, _| {
        ec.crit = Some(vec!["jti".into()]);
        ec.extra.insert("jti".into(), json!("x"));
    });
    assert_eq!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::UnsupportedCrit("jti".into()));
}

#[test]
fn unknown_critical_policy_operator_is_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, _| {
        ss1.metadata_policy = Some(json!({"openid_relying_party": {"policy_uri": {"regexp": "^https://"}}}));
        ss1.metadata_policy_crit = Some(vec!["regexp".into()]);
    });
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::Policy(PolicyError::InvalidPolicy(_))));
}

#[test]
fn policy_conflict_between_levels_invalidates_the_chain() {
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, ss2| {
        ss2.metadata_policy = Some(json!({"openid_relying_party": {"subject_type": {"value": "pairwise"}}}));
        ss1.metadata_policy = Some(json!({"openid_relying_party": {"subject_type": {"value": "public"}}}));
    });
    let err = validate(&chain, &fed.anchor(), NOW).unwrap_err();
    assert!(matches!(err, FederationError::Policy(PolicyError::InvalidPolicy(_))));
    assert_eq!(err.error_code(), "invalid_trust_chain");
}

#[test]
fn misplaced_claims_are_refused() {
    let fed = Fed::new();
    let chain = fed.chain_with(|ec, _, _| ec.constraints = Some(Constraints::default()));
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::MisplacedClaim { claim: "constraints", .. }));
    let chain = fed.chain_with(|_, ss1, _| ss1.authority_hints = Some(vec![fed.ta.id.clone()]));
    assert!(matches!(validate(&chain, &fed.anchor(), NOW).unwrap_err(), FederationError::MisplacedClaim { claim: "authority_hints", .. }));
}

#[test]
fn wrong_typ_and_missing_kid_are_refused() {
    use crate::jose::{JwsAlg, JwsHeader, jws};
    let fed = Fed::new();
    let jwt = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), &fed.leaf_ec(), &fed.leaf.key).unwrap();
    assert_eq!(ParsedStatement::parse(&jwt).unwrap_err(), FederationError::WrongTyp(Some("JWT".into())));
    let jwt = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ("entity-statement+jwt"), &fed.leaf_ec(), &crate::jose::WithoutKid(&fed.leaf.key)).unwrap();
    assert_eq!(ParsedStatement::parse(&jwt).unwrap_err(), FederationError::MissingKid);
}

#[test]
fn entity_ids() {
    assert!(EntityId::new("https://ta.example.it").is_ok());
    assert!(EntityId::new("https://ta.example.it:8443/path").is_ok());
    assert!(EntityId::new("http://127.0.0.1:9000").is_ok());
    for bad in ["http://ta.example.it", "https://", "ta.example.it", "https://a.it/?x=1", "https://a.it/#f"] {
        assert!(matches!(EntityId::new(bad), Err(FederationError::InvalidEntityId { .. })), "{bad}");
    }
    assert_eq!(EntityId::new("https://a.it/").unwrap().configuration_url(), "https://a.it/.well-known/openid-federation");
}

#[test]
fn sd_jwt_vc_key_from_the_trust_chain_header() {
    use crate::federation::resolver::{CREDENTIAL_ISSUER, TrustChainResolver};
    use crate::sd_jwt::{KeyResolutionError, SdJwtError, Verifier};
    use crate::vc::{SdJwtVcBuilder, Vct};
    let ta = Entity::new("https://ta.example.it");
    let issuer = Entity::new("https://pid.example.it");
    let protocol_key = SoftwareSigner::generate().unwrap();
    let mut ec = issuer.configuration(&[&ta], json!({}));
    ec.metadata = json!({CREDENTIAL_ISSUER: {"jwks": {"keys": [protocol_key.public_jwk()]}}}).as_object().cloned();
    let chain = vec![ec.sign(&issuer.key).unwrap(), ta.statement(&issuer).sign(&ta.key).unwrap()];
    let holder = SoftwareSigner::generate().unwrap();
    let mut b = SdJwtVcBuilder::new("https://pid.example.it", Vct::new(Vct::PID).unwrap(), json!({"given_name": "Mario"}).as_object().cloned().unwrap())
        .validity(NOW, NOW.plus(60))
        .holder_key(&holder.public_jwk());
    b = b.kid(protocol_key.kid().unwrap());
    let sd = b.sign_with_trust_chain(chain, &protocol_key).unwrap();
    let resolver = TrustChainResolver::new(TrustAnchorConfig { id: ta.id.clone(), jwks: ta.jwks() }, CREDENTIAL_ISSUER);
    Verifier::new(&resolver).verify(&sd.serialize(), NOW).unwrap();
    let other_ta = Entity::new("https://ta.example.it");
    let wrong = TrustChainResolver::new(TrustAnchorConfig { id: ta.id.clone(), jwks: other_ta.jwks() }, CREDENTIAL_ISSUER);
    assert!(matches!(
        Verifier::new(&wrong).verify(&sd.serialize(), NOW).unwrap_err(),
        SdJwtError::KeyResolution(KeyResolutionError::BadChain(_))
    ));
    // The same with one memo shared by both resolvers (the issuer's WUA/WAA headers): the
    // chain is validated once for the right anchor, and the memo never answers for the other.
    let memo = std::sync::Arc::new(crate::federation::ChainMemo::new());
    let remembered = resolver.clone().with_memo(memo.clone());
    let wrong = wrong.with_memo(memo.clone());
    for _ in 0..2 {
        Verifier::new(&remembered).verify(&sd.serialize(), NOW).unwrap();
        assert!(matches!(
            Verifier::new(&wrong).verify(&sd.serialize(), NOW).unwrap_err(),
            SdJwtError::KeyResolution(KeyResolutionError::BadChain(_))
        ));
    }
    assert_eq!(memo.len(), 1);
    // Another issuer's JWS with this chain: the memo's chain is about pid.example.it.
    let other = SdJwtVcBuilder::new("https://other.example.it", Vct::new(Vct::PID).unwrap(), json!({"given_name": "Mario"}).as_object().cloned().unwrap())
        .validity(NOW, NOW.plus(60))
        .holder_key(&holder.public_jwk())
        .kid(protocol_key.kid().unwrap())
        .sign_with_trust_chain(sd_jwt_chain_of(&sd), &protocol_key)
        .unwrap();
    assert!(matches!(
        Verifier::new(&remembered).verify(&other.serialize(), NOW).unwrap_err(),
        SdJwtError::KeyResolution(KeyResolutionError::IssuerMismatch { .. })
    ));
}

/// The `trust_chain` header of an SD-JWT's issuer JWT.
fn sd_jwt_chain_of(sd: &crate::sd_jwt::SdJwt) -> Vec<String> {
    crate::jose::CompactJws::parse(sd.issuer_jwt()).unwrap().header().trust_chain.clone().unwrap()
}

// ChainMemo (federation::memo): one validation per distinct chain and anchor, until `exp`.

#[test]
fn memo_validates_a_chain_once_until_its_earliest_exp() {
    use crate::federation::ChainMemo;
    use std::sync::Arc;
    let fed = Fed::new();
    let chain = fed.chain_with(|_, ss1, _| ss1.exp = NOW.secs() + 600);
    let memo = ChainMemo::new();
    let first = memo.validate(&chain, &fed.anchor(), NOW).unwrap();
    assert_eq!(first.exp, NOW.plus(600));
    let again = memo.validate(&chain, &fed.anchor(), NOW.plus(599)).unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the remembered validation");
    assert_eq!(memo.len(), 1);
    // At the earliest exp the chain is validated again, and refused.
    assert!(matches!(memo.validate(&chain, &fed.anchor(), NOW.plus(600)).unwrap_err(), FederationError::OutsideValidity { index: 1, .. }));
    // A clock set back before the validation validates again.
    let back = memo.validate(&chain, &fed.anchor(), NOW.plus(-5)).unwrap();
    assert!(!Arc::ptr_eq(&first, &back));
}

#[test]
fn memo_is_per_anchor_and_remembers_no_failure() {
    use crate::federation::ChainMemo;
    let fed = Fed::new();
    let chain = fed.chain();
    let memo = ChainMemo::new();
    memo.validate(&chain, &fed.anchor(), NOW).unwrap();
    // The same anchor id with other keys: not the validation remembered.
    let other_keys = TrustAnchorConfig { id: fed.ta.id.clone(), jwks: Entity::new("https://ta.example.it").jwks() };
    assert!(memo.validate(&chain, &other_keys, NOW).is_err());
    let stranger = Fed::new().anchor();
    let err = memo.validate(&chain, &TrustAnchorConfig { id: EntityId::new("https://other-ta.example.it").unwrap(), ..stranger }, NOW).unwrap_err();
    assert!(matches!(err, FederationError::WrongTrustAnchor { .. }), "{err:?}");
    assert_eq!(memo.len(), 1, "failures are not remembered");
    // A tampered chain (other bytes) is validated, and refused.
    let mut tampered = chain.clone();
    tampered[1] = fed.chain_with(|_, ss1, _| ss1.exp += 1)[1].clone().replace('.', ".x");
    assert!(memo.validate(&tampered, &fed.anchor(), NOW).is_err());
    // validate_any: the first anchor the chain validates to; the last error, or None.
    assert!(memo.validate_any(&chain, &[other_keys.clone(), fed.anchor()], NOW).is_ok());
    assert!(memo.validate_any(&chain, &[other_keys], NOW).unwrap_err().is_some());
    assert!(memo.validate_any(&chain, &[], NOW).unwrap_err().is_none());
}

#[test]
fn memo_is_bounded() {
    use crate::federation::ChainMemo;
    let fed = Fed::new();
    let memo = ChainMemo::with_capacity(2);
    for i in 0..5 {
        memo.validate(&fed.chain_with(|_, ss1, _| ss1.exp += i), &fed.anchor(), NOW).unwrap();
        assert!(memo.len() <= 2);
    }
    assert!(!memo.is_empty());
}
