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
