//! DCQL: the specification's examples parse; every validation rule has its negative test;
//! the matcher on both sides.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::matcher::satisfied_by;
use super::*;
use crate::sd_jwt::ClaimPath;

fn vector(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/vectors/oid4vp/dcql/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn specification_examples_parse_and_round_trip() {
    for name in ["simple.json", "credential_sets.json", "claim_sets.json", "values.json", "mdoc.json", "it_wallet_pid.json"] {
        let q = DcqlQuery::parse(&vector(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = DcqlQuery::from_value(q.to_value()).unwrap();
        assert_eq!(again, q, "{name}");
    }
    let q = DcqlQuery::parse(&vector("credential_sets.json")).unwrap();
    let sets = q.credential_sets.as_ref().unwrap();
    assert!(sets[0].required && !sets[1].required);
    assert_eq!(q.credential("pid_reduced_cred_2").unwrap().claims.as_ref().unwrap().len(), 3);
    let m = DcqlQuery::parse(&vector("mdoc.json")).unwrap();
    assert_eq!(m.credentials[0].format, CredentialFormat::MsoMdoc);
    assert_eq!(m.credentials[0].meta.doctype_value.as_deref(), Some("org.iso.7367.1.mVRC"));
}

#[test]
fn it_wallet_example_ids_with_spaces_are_refused() {
    // OpenID4VP 1.0 §6.1: alphanumerics, `_`, `-` only (the dcql library of the IT-Wallet SDK agrees).
    assert_eq!(DcqlQuery::parse(&vector("it_wallet_pid_mdl.json")).unwrap_err(), DcqlError::BadId("personal id data".into()));
}

fn with(edit: impl FnOnce(&mut Value)) -> Result<DcqlQuery, DcqlError> {
    let mut v: Value = serde_json::from_str(&vector("claim_sets.json")).unwrap();
    edit(&mut v);
    DcqlQuery::from_value(v)
}

#[test]
fn each_validation_rule_is_enforced() {
    assert_eq!(with(|v| v["credentials"] = json!([])).unwrap_err(), DcqlError::NoCredentials);
    assert_eq!(with(|v| v["credentials"][0]["id"] = json!("")).unwrap_err(), DcqlError::BadId(String::new()));
    assert_eq!(with(|v| v["credentials"][0]["id"] = json!("a.b")).unwrap_err(), DcqlError::BadId("a.b".into()));
    assert_eq!(
        with(|v| {
            let c = v["credentials"][0].clone();
            v["credentials"].as_array_mut().unwrap().push(c);
        })
        .unwrap_err(),
        DcqlError::DuplicateCredentialId("pid".into())
    );
    assert_eq!(
        with(|v| v["credentials"][0]["claims"][1]["id"] = json!("a")).unwrap_err(),
        DcqlError::DuplicateClaimId { credential: "pid".into(), claim: "a".into() }
    );
    assert_eq!(
        with(|v| { v["credentials"][0]["claims"][1].as_object_mut().unwrap().remove("id"); }).unwrap_err(),
        DcqlError::ClaimWithoutId("pid".into())
    );
    assert_eq!(
        with(|v| v["credentials"][0]["claim_sets"][1] = json!(["a", "z"])).unwrap_err(),
        DcqlError::UnknownClaimId { credential: "pid".into(), claim: "z".into() }
    );
    assert_eq!(
        with(|v| { v["credentials"][0].as_object_mut().unwrap().remove("claims"); }).unwrap_err(),
        DcqlError::ClaimSetsWithoutClaims("pid".into())
    );
    assert_eq!(with(|v| v["credentials"][0]["claims"][0]["path"] = json!([])).unwrap_err(), DcqlError::BadPath("pid".into()));
    assert_eq!(with(|v| v["credentials"][0]["claims"] = json!([])).unwrap_err(), DcqlError::EmptyArray("claims"));
    assert_eq!(with(|v| v["credentials"][0]["claim_sets"] = json!([[]])).unwrap_err(), DcqlError::EmptyArray("claim_sets option"));
    assert_eq!(with(|v| v["credentials"][0]["claims"][0]["values"] = json!([])).unwrap_err(), DcqlError::EmptyArray("values"));
    assert_eq!(with(|v| v["credentials"][0]["claims"][0]["values"] = json!([1.5])).unwrap_err(), DcqlError::BadValue(String::new()));
    assert_eq!(with(|v| v["credentials"][0]["meta"]["vct_values"] = json!([])).unwrap_err(), DcqlError::EmptyArray("meta.vct_values"));
    assert_eq!(with(|v| v["credential_sets"] = json!([{"options": [["nope"]]}])).unwrap_err(), DcqlError::UnknownCredentialId("nope".into()));
    assert_eq!(with(|v| v["credential_sets"] = json!([{"options": []}])).unwrap_err(), DcqlError::EmptyArray("credential_sets options"));
    assert_eq!(with(|v| v["credential_sets"] = json!([])).unwrap_err(), DcqlError::EmptyArray("credential_sets"));
    assert!(matches!(with(|v| v["credentials"][0]["claims"][0]["path"] = json!(["a", -1])).unwrap_err(), DcqlError::Malformed(_)));
    assert!(matches!(with(|v| { v["credentials"][0].as_object_mut().unwrap().remove("format"); }).unwrap_err(), DcqlError::Malformed(_)));
    let mdoc: Value = serde_json::from_str(&vector("mdoc.json")).unwrap();
    let mut bad = mdoc.clone();
    bad["credentials"][0]["claims"][0]["path"] = json!(["org.iso.7367.1"]);
    assert_eq!(DcqlQuery::from_value(bad).unwrap_err(), DcqlError::BadMdocPath("my_credential".into()));
    assert_eq!(DcqlQuery::parse(&" ".repeat(MAX_QUERY_LEN + 1)).unwrap_err(), DcqlError::TooLarge("query"));
    assert_eq!(DcqlError::NoCredentials.oauth_code(), "invalid_request");
}

fn sd(claims: &Value) -> &serde_json::Map<String, Value> {
    claims.as_object().unwrap()
}

const IDENTITY: &str = "https://credentials.example.com/identity_credential";

#[test]
fn wallet_side_candidates_and_selection() {
    let q = DcqlQuery::parse(&vector("simple.json")).unwrap();
    let full = json!({"last_name": "Doe", "first_name": "John", "address": {"street_address": "Via Roma 1", "locality": "Roma"}, "birthdate": "1970-01-01"});
    let partial = json!({"last_name": "Doe"});
    let f = CredentialFormat::SdJwtVc;
    let stored = [
        CredentialView { format: &f, vct: Some("urn:other"), doctype: None, claims: sd(&full) },
        CredentialView { format: &f, vct: Some(IDENTITY), doctype: None, claims: sd(&partial) },
        CredentialView { format: &f, vct: Some(IDENTITY), doctype: None, claims: sd(&full) },
    ];
    let m = match_wallet(&q, &stored);
    assert!(m.satisfiable);
    let qm = m.query("my_credential").unwrap();
    assert_eq!(qm.candidates.len(), 1);
    assert_eq!(qm.candidates[0].index, 2);
    assert_eq!(
        qm.candidates[0].selection.paths,
        vec![ClaimPath::key("last_name"), ClaimPath::key("first_name"), ClaimPath::parse_dotted("address.street_address")]
    );
    // Only the partial one: missing claims are named.
    let m = match_wallet(&q, &stored[..2]);
    assert!(!m.satisfiable);
    assert_eq!(
        m.queries[0].missing,
        Some(Missing::Claims(vec![ClaimPathPattern::key("first_name"), ClaimPathPattern::keys(&["address", "street_address"])]))
    );
    let m = match_wallet(&q, &stored[..1]);
    assert_eq!(m.queries[0].missing, Some(Missing::NoCredentialOfType));
}

#[test]
fn claim_sets_pick_the_first_satisfiable_option_and_values_filter() {
    let q = DcqlQuery::parse(&vector("claim_sets.json")).unwrap();
    let f = CredentialFormat::SdJwtVc;
    let c = json!({"last_name": "Doe", "postal_code": "90210", "date_of_birth": "1970-01-01"});
    let s = select(&q.credentials[0], &CredentialView { format: &f, vct: Some(IDENTITY), doctype: None, claims: sd(&c) }).unwrap();
    assert_eq!(s.claim_set, Some(1));
    assert_eq!(s.paths, vec![ClaimPath::key("last_name"), ClaimPath::key("postal_code"), ClaimPath::key("date_of_birth")]);

    let q = DcqlQuery::parse(&vector("values.json")).unwrap();
    let ok = json!({"last_name": "Doe", "first_name": "J", "address": {"street_address": "x"}, "postal_code": "90211"});
    let view = |c: &'static Value| CredentialView { format: &f, vct: Some(IDENTITY), doctype: None, claims: c.as_object().unwrap() };
    let ok: &'static Value = Box::leak(Box::new(ok));
    assert!(select(&q.credentials[0], &view(ok)).is_ok());
    let mut other = ok.clone();
    other["postal_code"] = json!("10100");
    let other: &'static Value = Box::leak(Box::new(other));
    assert_eq!(select(&q.credentials[0], &view(other)), Err(Missing::Claims(vec![ClaimPathPattern::key("postal_code")])));
}

#[test]
fn credential_sets_satisfaction() {
    let q = DcqlQuery::parse(&vector("credential_sets.json")).unwrap();
    assert_eq!(satisfied_by(&q, &|id| id == "pid"), Ok(()));
    assert_eq!(satisfied_by(&q, &|id| id == "pid_reduced_cred_1" || id == "pid_reduced_cred_2"), Ok(()));
    assert_eq!(satisfied_by(&q, &|id| id == "pid_reduced_cred_1" || id == "nice_to_have"), Err(MatchError::RequiredSetUnsatisfied(0)));
    let simple = DcqlQuery::parse(&vector("simple.json")).unwrap();
    assert_eq!(satisfied_by(&simple, &|_| false), Err(MatchError::MissingCredential("my_credential".into())));
}

fn presented<'a>(f: &'a CredentialFormat, claims: &'a Value, disclosed: &'a [ClaimPath]) -> Presented<'a> {
    Presented { view: CredentialView { format: f, vct: Some(IDENTITY), doctype: None, claims: sd(claims) }, disclosed }
}

#[test]
fn verifier_side_response_checks() {
    let q = DcqlQuery::parse(&vector("simple.json")).unwrap();
    let f = CredentialFormat::SdJwtVc;
    let claims = json!({"iss": "https://i", "vct": IDENTITY, "last_name": "Doe", "first_name": "John", "address": {"street_address": "Via Roma 1"}});
    let exact = [ClaimPath::key("last_name"), ClaimPath::key("first_name"), ClaimPath::key("address"), ClaimPath::parse_dotted("address.street_address")];
    let mut r = BTreeMap::new();
    r.insert("my_credential".to_owned(), vec![presented(&f, &claims, &exact)]);
    assert_eq!(check_response(&q, &r), Ok(()));

    // More than asked: an extra disclosed claim.
    let mut more_claims = claims.clone();
    more_claims["birthdate"] = json!("1970-01-01");
    let more = [ClaimPath::key("last_name"), ClaimPath::key("first_name"), ClaimPath::parse_dotted("address.street_address"), ClaimPath::key("birthdate")];
    r.insert("my_credential".to_owned(), vec![presented(&f, &more_claims, &more)]);
    assert_eq!(check_response(&q, &r), Err(MatchError::ExtraClaim { id: "my_credential".into(), path: "birthdate".into() }));

    // Less than asked: a requested claim absent.
    let less_claims = json!({"last_name": "Doe", "first_name": "John"});
    let less = [ClaimPath::key("last_name"), ClaimPath::key("first_name")];
    r.insert("my_credential".to_owned(), vec![presented(&f, &less_claims, &less)]);
    assert_eq!(check_response(&q, &r), Err(MatchError::MissingClaims { id: "my_credential".into(), claims: vec!["address.street_address".into()] }));

    // A credential id the query does not ask for; a query left unanswered; several without `multiple`.
    let mut r2 = BTreeMap::new();
    r2.insert("other".to_owned(), vec![presented(&f, &claims, &exact)]);
    assert_eq!(check_response(&q, &r2), Err(MatchError::UnknownCredentialId("other".into())));
    assert_eq!(check_response(&q, &BTreeMap::new()), Err(MatchError::MissingCredential("my_credential".into())));
    let mut r3 = BTreeMap::new();
    r3.insert("my_credential".to_owned(), vec![presented(&f, &claims, &exact), presented(&f, &claims, &exact)]);
    assert_eq!(check_response(&q, &r3), Err(MatchError::MultipleNotAllowed("my_credential".into())));
    r3.insert("my_credential".to_owned(), vec![]);
    assert_eq!(check_response(&q, &r3), Err(MatchError::EmptyPresentation("my_credential".into())));

    // Wrong type.
    let mut r4 = BTreeMap::new();
    let wrong = Presented { view: CredentialView { format: &f, vct: Some("urn:x"), doctype: None, claims: sd(&claims) }, disclosed: &exact };
    r4.insert("my_credential".to_owned(), vec![wrong]);
    assert_eq!(check_response(&q, &r4), Err(MatchError::WrongType("my_credential".into())));
}

/// OpenID4VP 1.0 §6.1.1: the three defined types parse to the typed model, an unknown type is
/// kept as such (its own members ignored), and the query round-trips.
#[test]
fn trusted_authorities_parse_to_the_typed_model() {
    let q = DcqlQuery::parse(&vector("trusted_authorities.json")).unwrap();
    let ta = q.credentials[0].trusted_authorities.as_ref().unwrap();
    let kinds: Vec<&TrustedAuthorityType> = ta.iter().map(|e| &e.kind).collect();
    assert_eq!(
        kinds,
        [&TrustedAuthorityType::Aki, &TrustedAuthorityType::EtsiTl, &TrustedAuthorityType::OpenidFederation, &TrustedAuthorityType::Other("x_example_registry".into())]
    );
    assert_eq!(ta[2].values, ["https://trustanchor.example.com"]);
    assert_eq!(ta[0], TrustedAuthorityQuery::aki(&[&base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, "s9tIpPmhxdiuNkHMEWNpYim8S8Y").unwrap()]));
    assert_eq!(DcqlQuery::from_value(q.to_value()).unwrap(), q);
    assert_eq!(q.to_value()["credentials"][0]["trusted_authorities"][2], json!({"type": "openid_federation", "values": ["https://trustanchor.example.com"]}));
    // `null` reads as absent, as for the other optional members.
    assert_eq!(with(|v| v["credentials"][0]["trusted_authorities"] = Value::Null).unwrap().credentials[0].trusted_authorities, None);
}

/// Each malformed form of `trusted_authorities` is refused, naming what is wrong.
#[test]
fn trusted_authorities_malformed_forms_are_named() {
    use TrustedAuthoritiesProblem as P;
    let vectors: [(&str, Value, P); 12] = [
        ("not an array", json!({"type": "aki", "values": ["AQ"]}), P::NotAnArray),
        ("empty array", json!([]), P::Empty),
        ("entry not an object", json!(["aki"]), P::NotAnObject(0)),
        ("no type", json!([{"values": ["AQ"]}]), P::BadType(0)),
        ("type not a string", json!([{"type": 1, "values": ["AQ"]}]), P::BadType(0)),
        ("no values", json!([{"type": "aki"}]), P::NoValues(0)),
        ("values not an array", json!([{"type": "openid_federation", "values": "https://ta.example.it"}]), P::NoValues(0)),
        ("empty values", json!([{"type": "openid_federation", "values": ["https://ta.example.it"]}, {"type": "etsi_tl", "values": []}]), P::EmptyValues(1)),
        ("non-string value", json!([{"type": "openid_federation", "values": ["https://ta.example.it", 7]}]), P::NonStringValue { entry: 0, value: 1 }),
        ("aki not base64url", json!([{"type": "aki", "values": ["s9tI+PmhxdiuNkHMEWNpYim8S8Y="]}]), P::BadAki { entry: 0, value: "s9tI+PmhxdiuNkHMEWNpYim8S8Y=".into() }),
        ("aki empty", json!([{"type": "aki", "values": [""]}]), P::BadAki { entry: 0, value: String::new() }),
        ("too many entries", Value::Array(vec![json!({"type": "aki", "values": ["AQ"]}); MAX_ITEMS + 1]), P::TooManyEntries),
    ];
    for (name, ta, problem) in vectors {
        let expected = DcqlError::BadTrustedAuthorities { credential: "pid".into(), problem };
        assert_eq!(with(|v| v["credentials"][0]["trusted_authorities"] = ta.clone()).unwrap_err(), expected, "{name} (from_value)");
        let mut v: Value = serde_json::from_str(&vector("claim_sets.json")).unwrap();
        v["credentials"][0]["trusted_authorities"] = ta;
        assert_eq!(DcqlQuery::parse(&v.to_string()).unwrap_err(), expected, "{name} (parse)");
    }
    // A query built in code is held to the same rules.
    let mut q = DcqlQuery::parse(&vector("claim_sets.json")).unwrap();
    q.credentials[0].trusted_authorities = Some(vec![TrustedAuthorityQuery { kind: TrustedAuthorityType::OpenidFederation, values: vec![] }]);
    assert_eq!(q.validate().unwrap_err(), DcqlError::BadTrustedAuthorities { credential: "pid".into(), problem: P::EmptyValues(0) });
    assert_eq!(q.validate().unwrap_err().to_string(), "credential query `pid`: trusted_authorities entry 0 has empty `values`");
}

/// Matching (§6.1.1): one value of one entry suffices; `etsi_tl` and unknown types, or a part
/// of the issuer not known, cannot be told.
#[test]
fn trusted_authorities_matching() {
    let fed = TrustedAuthorityQuery::openid_federation(&["https://ta.example.it"]);
    let aki = TrustedAuthorityQuery::aki(&[b"key-1"]);
    let tl = TrustedAuthorityQuery { kind: TrustedAuthorityType::EtsiTl, values: vec!["https://lotl.example.com".into()] };
    let known = |entities: &[&str], akis: &[&[u8]]| IssuerAuthorities {
        federation_entities: Some(entities.iter().map(|e| (*e).to_owned()).collect()),
        authority_key_ids: Some(akis.iter().map(|k| k.to_vec()).collect()),
    };
    let issuer = known(&["https://pid.example.it", "https://ta.example.it"], &[b"key-1"]);
    assert_eq!(issuer.check(std::slice::from_ref(&fed)), AuthorityMatch::Matches);
    assert_eq!(issuer.check(std::slice::from_ref(&aki)), AuthorityMatch::Matches);
    let other = known(&["https://pid.example.it", "https://other-ta.example.it"], &[b"key-2"]);
    assert_eq!(other.check(&[fed.clone(), aki.clone()]), AuthorityMatch::NoMatch);
    assert_eq!(other.check(&[fed.clone(), tl.clone()]), AuthorityMatch::CannotTell);
    assert_eq!(issuer.check(&[tl.clone(), fed.clone()]), AuthorityMatch::Matches);
    assert_eq!(IssuerAuthorities::default().check(std::slice::from_ref(&fed)), AuthorityMatch::CannotTell);
    // Only the chain known: an `aki` entry cannot be told, a federation one can.
    let chain_only = IssuerAuthorities { authority_key_ids: None, ..other.clone() };
    assert_eq!(chain_only.check(std::slice::from_ref(&aki)), AuthorityMatch::CannotTell);
    assert_eq!(chain_only.check(std::slice::from_ref(&fed)), AuthorityMatch::NoMatch);
}

/// The wallet offers only credentials whose issuer can satisfy `trusted_authorities`; one it
/// cannot tell about is still offered; a query without it is unchanged.
#[test]
fn wallet_side_trusted_authorities_filter_candidates() {
    let mut q = DcqlQuery::parse(&vector("simple.json")).unwrap();
    let full = json!({"last_name": "Doe", "first_name": "John", "address": {"street_address": "Via Roma 1"}});
    let f = CredentialFormat::SdJwtVc;
    let view = CredentialView { format: &f, vct: Some(IDENTITY), doctype: None, claims: sd(&full) };
    let stored = [view, view, view];
    let chain = |ta: &str| IssuerAuthorities { federation_entities: Some(vec!["https://issuer.example".into(), ta.into()]), authority_key_ids: None };
    let issuers = [chain("https://ta.example.it"), chain("https://other-ta.example.it"), IssuerAuthorities::default()];
    let all = match_wallet_with_issuers(&q, &stored, &issuers);
    assert_eq!(all.queries[0].candidates.len(), 3);
    assert!(all.queries[0].untrusted.is_empty());
    q.credentials[0].trusted_authorities = Some(vec![TrustedAuthorityQuery::openid_federation(&["https://ta.example.it"])]);
    let m = match_wallet_with_issuers(&q, &stored, &issuers);
    assert_eq!(m.queries[0].candidates.iter().map(|c| c.index).collect::<Vec<_>>(), [0, 2]);
    assert_eq!(m.queries[0].untrusted, [1]);
    // Only the untrusted one stored: nothing to offer, and the citizen is told why.
    let m = match_wallet_with_issuers(&q, &stored[1..2], &issuers[1..2]);
    assert!(!m.satisfiable);
    assert_eq!(m.queries[0].missing, Some(Missing::UntrustedIssuer));
    assert_eq!(m.queries[0].untrusted, [0]);
    // `match_wallet` knows nothing of issuers: it filters nothing.
    assert_eq!(match_wallet(&q, &stored).queries[0].candidates.len(), 3);
}
