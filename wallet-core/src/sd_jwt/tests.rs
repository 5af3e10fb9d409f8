//! SD-JWT tests: RFC 9901 vectors, round trips, and one negative test per verification rule
//! (each builds a valid SD-JWT with our code, breaks one thing, and asserts the variant).

use serde_json::{Map, Value, json};

use super::*;
use crate::jose::{CompactJws, Jwk, JwsAlg, JwsHeader, PrivateJwk, SoftwareSigner, b64, jws};
use crate::time::{TimeError, UnixTime};

fn vector(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/vectors/rfc9901/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap().trim().to_owned()
}

fn rfc_issuer() -> StaticKeyResolver {
    StaticKeyResolver::any_issuer(Jwk::from_json(&vector("issuer.pub.jwk.json")).unwrap())
}

/// 2023-05-02T00:00:01Z: between the RFC example's `iat` and `exp`.
const RFC_NOW: UnixTime = UnixTime(1_683_000_001);
const NOW: UnixTime = UnixTime(1_800_000_000);
const VISIBLE: &[&str] = &["iss", "iat", "exp", "nbf", "vct", "cnf", "status"];

#[test]
fn rfc9901_5_1_all_disclosures_give_the_documented_claims() {
    let r = rfc_issuer();
    let v = Verifier::plain(&r).verify(&vector("section5.1.sd-jwt"), RFC_NOW).unwrap();
    let expected: Map<String, Value> = serde_json::from_str(&vector("section5.1-claims.json")).unwrap();
    assert_eq!(v.claims, expected);
    assert_eq!(v.disclosed.len(), 10);
    assert!(v.disclosed.contains(&ClaimPath(vec![PathElement::Key("nationalities".into()), PathElement::Index(1)])));
}

#[test]
fn rfc9901_5_2_selection_discloses_only_what_was_chosen() {
    let r = rfc_issuer();
    let v = Verifier::plain(&r).verify(&vector("section5.2-selective.sd-jwt"), RFC_NOW).unwrap();
    assert_eq!(v.claim_str("given_name"), Some("John"));
    assert_eq!(v.claim_str("family_name"), Some("Doe"));
    assert_eq!(v.claims["nationalities"], json!(["US"]));
    assert_eq!(v.claims["address"]["locality"], json!("Anytown"));
    for absent in ["email", "phone_number", "birthdate", "updated_at", "_sd", "_sd_alg"] {
        assert!(!v.claims.contains_key(absent), "{absent}");
    }
}

#[test]
fn rfc9901_holder_selects_by_path_and_binds_with_the_a5_holder_key() {
    let sd = SdJwt::parse(&vector("section5.1.sd-jwt")).unwrap();
    let holder = SoftwareSigner::from_private_jwk(PrivateJwk::from_json(&vector("holder.jwk.json")).unwrap()).unwrap();
    let paths = [ClaimPath::key("given_name"), ClaimPath::parse_dotted("nationalities.1")];
    let kb = KeyBindingInput { aud: "https://verifier.example.org".into(), nonce: "1234567890".into(), iat: RFC_NOW };
    let p = sd.present(Some(&paths), &kb, &holder).unwrap();
    let r = rfc_issuer();
    let v = Verifier::plain(&r).expect_key_binding("https://verifier.example.org", "1234567890").verify(&p, RFC_NOW).unwrap();
    assert_eq!(v.claim_str("given_name"), Some("John"));
    assert_eq!(v.claims["nationalities"], json!(["DE"]));
    assert!(!v.claims.contains_key("family_name"));
    assert_eq!(v.key_binding.unwrap().nonce, "1234567890");
}

// ---- our own issuance: a PID-like credential, nested and array disclosures, decoys ----

struct Fx {
    issuer: SoftwareSigner,
    holder: SoftwareSigner,
    resolver: StaticKeyResolver,
}

impl Fx {
    fn new() -> Self {
        let issuer = SoftwareSigner::generate().unwrap();
        let resolver = StaticKeyResolver::for_issuer(issuer.public_jwk(), "https://pid.example.it");
        Self { issuer, holder: SoftwareSigner::generate().unwrap(), resolver }
    }

    fn claims(&self) -> Map<String, Value> {
        let mut m = json!({
            "iss": "https://pid.example.it", "iat": NOW.secs() - 10, "exp": NOW.secs() + 3600,
            "vct": "urn:eudi:pid:it:1",
            "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
            "tax_id_code": "TINIT-RSSMRA80A10H501A",
            "place_of_birth": {"locality": "Roma", "country": "IT"},
            "nationalities": ["IT", "FR"],
        })
        .as_object()
        .cloned()
        .unwrap();
        m.insert("cnf".into(), json!({ "jwk": self.holder.public_jwk() }));
        m
    }

    fn header(&self) -> JwsHeader {
        JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt")
    }

    fn issue(&self) -> SdJwt {
        SdJwtBuilder::new(self.claims())
            .all_top_level_disclosable(VISIBLE)
            .disclosable(ClaimPath::parse_dotted("place_of_birth.locality"))
            .disclosable(ClaimPath::parse_dotted("nationalities.0"))
            .disclosable(ClaimPath::parse_dotted("nationalities.1"))
            .decoys(2)
            .sign(&self.header(), &self.issuer)
            .unwrap()
    }

    fn kb(&self) -> KeyBindingInput {
        KeyBindingInput { aud: "https://rp.example.it".into(), nonce: "n-0S6_WzA2Mj".into(), iat: NOW }
    }

    fn present(&self, paths: &[&str]) -> String {
        let paths: Vec<ClaimPath> = paths.iter().map(|p| ClaimPath::parse_dotted(p)).collect();
        self.issue().present(Some(&paths), &self.kb(), &self.holder).unwrap()
    }

    fn verifier(&self) -> Verifier<'_> {
        Verifier::new(&self.resolver).expect_key_binding("https://rp.example.it", "n-0S6_WzA2Mj")
    }

    /// Re-signs `sd`'s issuer JWT after `edit` changed its payload; keeps the disclosures.
    fn resign(&self, sd: &SdJwt, edit: impl FnOnce(&mut Map<String, Value>)) -> SdJwt {
        let mut payload = sd.unverified_payload().unwrap();
        edit(&mut payload);
        let jwt = jws::sign_json(&self.header(), &payload, &self.issuer).unwrap();
        SdJwt::from_parts(jwt, sd.disclosures().to_vec(), None)
    }

    fn bind(&self, sd: &SdJwt) -> String {
        let mut s = sd.without_kb();
        s.push_str(&kb::sign(&s, &self.kb(), &self.holder).unwrap());
        s
    }
}

#[test]
fn issue_present_verify_round_trip_with_nested_and_array_disclosures() {
    let fx = Fx::new();
    let p = fx.present(&["given_name", "place_of_birth.locality", "nationalities.1"]);
    let v = fx.verifier().verify(&p, NOW).unwrap();
    assert_eq!(v.claim_str("given_name"), Some("Mario"));
    assert_eq!(v.claims["place_of_birth"], json!({"locality": "Roma", "country": "IT"}));
    assert_eq!(v.claims["nationalities"], json!(["FR"]));
    for hidden in ["family_name", "birthdate", "tax_id_code"] {
        assert!(!v.claims.contains_key(hidden), "{hidden} leaked");
    }
    assert_eq!(v.holder_key, Some(fx.holder.public_jwk()));
}

#[test]
fn presenting_all_discloses_everything() {
    let fx = Fx::new();
    let p = fx.issue().present(None, &fx.kb(), &fx.holder).unwrap();
    let v = fx.verifier().verify(&p, NOW).unwrap();
    let mut expected = fx.claims();
    expected.remove("cnf");
    for (k, val) in expected {
        assert_eq!(v.claims.get(&k), Some(&val), "{k}");
    }
}

#[test]
fn parent_disclosure_comes_with_the_child() {
    let fx = Fx::new();
    let sd = fx.issue();
    let sel = sd.select(&[ClaimPath::parse_dotted("place_of_birth.locality")]).unwrap();
    let names: Vec<_> = sel.disclosures().iter().map(|d| d.name()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&Some("place_of_birth")) && names.contains(&Some("locality")));
}

#[test]
fn selecting_a_missing_claim_is_an_error() {
    let fx = Fx::new();
    assert_eq!(fx.issue().select(&[ClaimPath::key("email")]), Err(SdJwtError::NoSuchClaim("email".into())));
}

#[test]
fn issuance_of_a_path_that_does_not_exist_fails() {
    let fx = Fx::new();
    let err = SdJwtBuilder::new(fx.claims()).disclosable(ClaimPath::key("nope")).sign(&fx.header(), &fx.issuer);
    assert_eq!(err, Err(SdJwtError::NoSuchClaim("nope".into())));
}

#[test]
fn decoys_hide_the_claim_count_and_are_sorted() {
    let fx = Fx::new();
    let payload = fx.issue().unverified_payload().unwrap();
    let sd: Vec<&str> = payload["_sd"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(sd.len(), 6 + 2);
    let mut sorted = sd.clone();
    sorted.sort_unstable();
    assert_eq!(sd, sorted);
}

// ---- one negative test per rule ----

#[test]
fn tampered_disclosure_is_unreferenced() {
    let fx = Fx::new();
    let sd = fx.issue();
    let d = Disclosure::with_salt(sd.disclosures()[0].salt(), sd.disclosures()[0].name(), json!("Luigi")).unwrap();
    let mut ds = sd.disclosures().to_vec();
    ds[0] = d.clone();
    let p = fx.bind(&SdJwt::from_parts(sd.issuer_jwt().into(), ds, None));
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::UnreferencedDisclosure(d.digest().into()));
}

#[test]
fn duplicate_disclosure_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let mut ds = sd.disclosures().to_vec();
    ds.push(ds[0].clone());
    let p = fx.bind(&SdJwt::from_parts(sd.issuer_jwt().into(), ds.clone(), None));
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::DuplicateDisclosure(ds[0].digest().into()));
}

#[test]
fn unreferenced_disclosure_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let mut ds = sd.disclosures().to_vec();
    let extra = Disclosure::property("email", json!("mario@example.it")).unwrap();
    ds.push(extra.clone());
    let p = fx.bind(&SdJwt::from_parts(sd.issuer_jwt().into(), ds, None));
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::UnreferencedDisclosure(extra.digest().into()));
}

#[test]
fn digest_repeated_in_payload_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let first = sd.disclosures()[0].digest().to_owned();
    let broken = fx.resign(&sd, |p| p["_sd"].as_array_mut().unwrap().push(json!(first.clone())));
    let p = fx.bind(&broken);
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::DuplicateDigest(first));
}

#[test]
fn disclosed_name_colliding_with_a_visible_claim_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let broken = fx.resign(&sd, |p| {
        p.insert("given_name".into(), json!("Visible"));
    });
    let p = fx.bind(&broken);
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::ClaimCollision("given_name".into()));
}

#[test]
fn array_disclosure_in_object_position_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let el = Disclosure::element(json!("x")).unwrap();
    let digest = el.digest().to_owned();
    let broken = fx.resign(&sd, |p| p["_sd"].as_array_mut().unwrap().push(json!(digest.clone())));
    let mut ds = broken.disclosures().to_vec();
    ds.push(el);
    let p = fx.bind(&SdJwt::from_parts(broken.issuer_jwt().into(), ds, None));
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::DisclosureKindMismatch(digest));
}

#[test]
fn always_visible_claim_made_disclosable_is_refused() {
    let fx = Fx::new();
    let sd = SdJwtBuilder::new(fx.claims())
        .disclosable(ClaimPath::key("vct"))
        .sign(&fx.header(), &fx.issuer)
        .unwrap();
    let p = fx.bind(&sd);
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::MustNotBeDisclosable("vct".into()));
}

#[test]
fn wrong_sd_hash_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    // KB made over all disclosures, then one disclosure dropped.
    let kb_jwt = kb::sign(&sd.without_kb(), &fx.kb(), &fx.holder).unwrap();
    let fewer = SdJwt::from_parts(sd.issuer_jwt().into(), sd.disclosures()[1..].to_vec(), None);
    let p = format!("{}{kb_jwt}", fewer.without_kb());
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::KbSdHashMismatch);
}

#[test]
fn kb_signed_by_another_key_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let thief = SoftwareSigner::generate().unwrap();
    let mut p = sd.without_kb();
    p.push_str(&kb::sign(&p, &fx.kb(), &thief).unwrap());
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::KbSignatureInvalid);
}

#[test]
fn wrong_aud_is_refused() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    let v = Verifier::new(&fx.resolver).expect_key_binding("https://other-rp.example.it", "n-0S6_WzA2Mj");
    assert_eq!(v.verify(&p, NOW).unwrap_err(), SdJwtError::KbAudMismatch);
}

/// A verifier known by two names accepts either as `aud`, and no third.
#[test]
fn a_second_accepted_aud_is_accepted_and_no_other() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    let v = Verifier::new(&fx.resolver).expect_key_binding("openid_federation:https://rp.example.it", "n-0S6_WzA2Mj");
    assert_eq!(v.verify(&p, NOW).unwrap_err(), SdJwtError::KbAudMismatch);
    let v = v.also_accept_aud("https://rp.example.it");
    assert_eq!(v.verify(&p, NOW).unwrap().key_binding.unwrap().aud, "https://rp.example.it");
    let v = Verifier::new(&fx.resolver).expect_key_binding("https://rp.example.it", "n-0S6_WzA2Mj").also_accept_aud("https://other-rp.example.it");
    assert!(v.verify(&p, NOW).is_ok());
    let v = Verifier::new(&fx.resolver).expect_key_binding("https://a.example.it", "n-0S6_WzA2Mj").also_accept_aud("https://b.example.it");
    assert_eq!(v.verify(&p, NOW).unwrap_err(), SdJwtError::KbAudMismatch);
}

#[test]
fn wrong_nonce_is_refused() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    let v = Verifier::new(&fx.resolver).expect_key_binding("https://rp.example.it", "another-nonce");
    assert_eq!(v.verify(&p, NOW).unwrap_err(), SdJwtError::KbNonceMismatch);
}

#[test]
fn stale_kb_iat_is_refused_att_013() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    let later = NOW.plus(121 + 60);
    let err = fx.verifier().verify(&p, later).unwrap_err();
    assert_eq!(err, SdJwtError::KbIatOutOfWindow { iat: NOW.secs(), min: later.secs() - 180, max: later.secs() + 60 });
}

#[test]
fn missing_kb_is_refused_when_required() {
    let fx = Fx::new();
    let p = fx.issue().without_kb();
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::KbMissing);
}

#[test]
fn kb_with_wrong_typ_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let mut p = sd.without_kb();
    let claims = KeyBindingClaims { iat: NOW.secs(), aud: fx.kb().aud, nonce: fx.kb().nonce, sd_hash: kb::sd_hash(&p) };
    p.push_str(&jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), &claims, &fx.holder).unwrap());
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::KbWrongTyp);
}

#[test]
fn expired_credential_is_refused() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    let exp = NOW.secs() + 3600;
    let late = UnixTime(exp + 61);
    // KB freshness is not what fails here: check the credential's exp with a lax KB window.
    let err = fx.verifier().with_kb_max_age(i64::from(u16::MAX)).verify(&p, late).unwrap_err();
    assert_eq!(err, SdJwtError::Expired { exp, now: late.secs() });
}

#[test]
fn not_yet_valid_and_future_iat_are_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let nbf = fx.resign(&sd, |p| {
        p.insert("nbf".into(), json!(NOW.secs() + 600));
    });
    assert_eq!(fx.verifier().verify(&fx.bind(&nbf), NOW).unwrap_err(), SdJwtError::NotYetValid { nbf: NOW.secs() + 600, now: NOW.secs() });
    let iat = fx.resign(&sd, |p| {
        p.insert("iat".into(), json!(NOW.secs() + 600));
    });
    assert_eq!(fx.verifier().verify(&fx.bind(&iat), NOW).unwrap_err(), SdJwtError::IssuedInFuture { iat: NOW.secs() + 600, now: NOW.secs() });
}

#[test]
fn hostile_time_claims_are_refused_not_wrapped() {
    let fx = Fx::new();
    let sd = fx.issue();
    let with = |name: &str, v: Value| {
        let edited = fx.resign(&sd, |p| {
            p.insert(name.into(), v);
        });
        fx.verifier().verify(&fx.bind(&edited), NOW).unwrap_err()
    };
    assert_eq!(with("exp", json!(i64::MAX)), SdJwtError::Time(TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
    assert_eq!(with("exp", json!(1e300)), SdJwtError::Time(TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
    assert_eq!(with("iat", json!(-1)), SdJwtError::Time(TimeError::OutOfRange { claim: "iat", value: -1 }));
    assert_eq!(with("nbf", json!(i64::MIN)), SdJwtError::Time(TimeError::OutOfRange { claim: "nbf", value: i64::MIN }));
    assert_eq!(with("iat", json!(NOW.secs() + 3601)), SdJwtError::IssuedInFuture { iat: NOW.secs() + 3601, now: NOW.secs() });
    // `exp` within the skew but before `iat` (NOW - 10).
    let err = with("exp", json!(NOW.secs() - 30));
    assert_eq!(err, SdJwtError::Time(TimeError::ExpNotAfterIat { iat: NOW.secs() - 10, exp: NOW.secs() - 30 }));
}

#[test]
fn issuer_signature_by_another_key_is_refused() {
    let fx = Fx::new();
    let forger = Fx { issuer: SoftwareSigner::generate().unwrap(), holder: fx.holder, resolver: fx.resolver.clone() };
    let p = forger.present(&["given_name"]);
    assert_eq!(forger.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::IssuerSignatureInvalid);
}

#[test]
fn alg_none_issuer_jwt_is_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    let payload = sd.issuer_jwt().split('.').nth(1).unwrap();
    let none = format!("{}.{payload}.AAAA", b64::encode(r#"{"alg":"none","typ":"dc+sd-jwt"}"#));
    let p = fx.bind(&SdJwt::from_parts(none, sd.disclosures().to_vec(), None));
    assert_eq!(
        fx.verifier().verify(&p, NOW).unwrap_err(),
        SdJwtError::Jose { part: "issuer JWT", source: crate::jose::JoseError::ForbiddenAlg("none".into()) }
    );
}

#[test]
fn unknown_typ_is_refused() {
    let fx = Fx::new();
    let sd = SdJwtBuilder::new(fx.claims())
        .all_top_level_disclosable(VISIBLE)
        .sign(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), &fx.issuer)
        .unwrap();
    let err = fx.verifier().verify(&fx.bind(&sd), NOW).unwrap_err();
    assert!(matches!(err, SdJwtError::WrongTyp { got: Some(ref t), .. } if t == "JWT"), "{err:?}");
}

#[test]
fn legacy_vc_sd_jwt_typ_is_accepted() {
    let fx = Fx::new();
    let sd = SdJwtBuilder::new(fx.claims())
        .all_top_level_disclosable(VISIBLE)
        .sign(&JwsHeader::new(JwsAlg::Es256).with_typ("vc+sd-jwt"), &fx.issuer)
        .unwrap();
    fx.verifier().verify(&fx.bind(&sd), NOW).unwrap();
}

#[test]
fn unsupported_sd_alg_is_refused() {
    let fx = Fx::new();
    let broken = fx.resign(&fx.issue(), |p| {
        p.insert("_sd_alg".into(), json!("sha-1"));
    });
    assert_eq!(fx.verifier().verify(&fx.bind(&broken), NOW).unwrap_err(), SdJwtError::UnsupportedSdAlg("sha-1".into()));
    let broken = fx.resign(&fx.issue(), |p| {
        p.insert("_sd_alg".into(), json!(["sha-256"]));
    });
    assert_eq!(fx.verifier().verify(&fx.bind(&broken), NOW).unwrap_err(), SdJwtError::BadClaim("_sd_alg"));
}

#[test]
fn missing_vct_is_refused() {
    let fx = Fx::new();
    let broken = fx.resign(&fx.issue(), |p| {
        p.remove("vct");
    });
    assert_eq!(fx.verifier().verify(&fx.bind(&broken), NOW).unwrap_err(), SdJwtError::BadClaim("vct"));
}

#[test]
fn issuer_not_trusted_by_resolver_is_refused() {
    let fx = Fx::new();
    let broken = fx.resign(&fx.issue(), |p| {
        p.insert("iss".into(), json!("https://evil.example"));
    });
    assert_eq!(
        fx.verifier().verify(&fx.bind(&broken), NOW).unwrap_err(),
        SdJwtError::KeyResolution(KeyResolutionError::UnknownIssuer { iss: "https://evil.example".into() })
    );
}

#[test]
fn malformed_forms_are_refused() {
    let fx = Fx::new();
    let sd = fx.issue();
    assert_eq!(SdJwt::parse(sd.issuer_jwt()), Err(SdJwtError::Malformed("no `~` separator (a plain JWT is not an SD-JWT)")));
    assert_eq!(SdJwt::parse("~abc~"), Err(SdJwtError::Malformed("empty issuer-signed JWT")));
    let double = format!("{}~~{}~", sd.issuer_jwt(), sd.disclosures()[0].encoded());
    assert_eq!(SdJwt::parse(&double), Err(SdJwtError::Malformed("empty disclosure between `~` separators")));
}

#[test]
fn serialization_round_trips() {
    let fx = Fx::new();
    let p = fx.present(&["given_name"]);
    assert_eq!(SdJwt::parse(&p).unwrap().serialize(), p);
}

// ---- the verifier's one-pass reader against the general path ----

/// Runs the one-pass reader and the general path on the same payload text and
/// disclosures; whenever the one pass succeeds, the general path must give the same claims
/// (in the same order), paths and `_sd_alg`. Returns what each gave.
fn both_paths(payload: &str, disclosures: &[Disclosure]) -> (Option<Value>, Result<Value, SdJwtError>) {
    let parsed = |ds: &[Disclosure]| -> Vec<disclosure::ParsedDisclosure> {
        ds.iter()
            .map(|d| disclosure::ParsedDisclosure { digest: d.digest_text(), name: d.name().map(str::to_owned), value: d.value().clone() })
            .collect()
    };
    let fast = one_pass::read(payload.as_bytes(), &mut parsed(disclosures));
    let general = serde_json::from_str::<Map<String, Value>>(payload)
        .map_err(|_| SdJwtError::Malformed("payload is not a JSON object"))
        .and_then(|map| {
            let sd_alg = map.get("_sd_alg").cloned();
            process::process(map, &mut parsed(disclosures)).map(|p| (p, sd_alg))
        });
    // Serialized, so that member order is compared too.
    let show = |p: &process::Processed, sd_alg: &Option<Value>| {
        json!({"claims": serde_json::to_string(&p.claims).unwrap(), "paths": p.paths.iter().map(ToString::to_string).collect::<Vec<_>>(), "sd_alg": sd_alg})
    };
    let fast = fast.map(|f| {
        let sd_alg = match f.sd_alg {
            one_pass::SdAlg::Absent => None,
            one_pass::SdAlg::Supported => Some(json!(SD_ALG)),
            one_pass::SdAlg::Other(v) => Some(v),
        };
        show(&f.processed, &sd_alg)
    });
    let general = general.map(|(p, a)| show(&p, &a));
    if let Some(f) = &fast {
        assert_eq!(Some(f), general.as_ref().ok(), "the one pass and the general path disagree on {payload}");
    }
    (fast, general)
}

fn payload_and_disclosures(sd: &SdJwt) -> (String, Vec<Disclosure>) {
    let payload = serde_json::to_string(&sd.unverified_payload().unwrap()).unwrap();
    (payload, sd.disclosures().to_vec())
}

#[test]
fn one_pass_agrees_with_general_path_on_rfc_and_our_credentials() {
    let rfc = SdJwt::parse(&vector("section5.1.sd-jwt")).unwrap();
    let fx = Fx::new();
    for sd in [rfc.clone(), SdJwt::parse(&vector("section5.2-selective.sd-jwt")).unwrap(), fx.issue()] {
        let (payload, ds) = payload_and_disclosures(&sd);
        let (fast, general) = both_paths(&payload, &ds);
        assert!(fast.is_some() && general.is_ok());
        // Any subset of the disclosures whose parents are present also agrees.
        for skip in 0..ds.len() {
            let mut fewer = ds.clone();
            fewer.remove(skip);
            let _ = both_paths(&payload, &fewer);
        }
    }
    // The payload's own text (escapes, spacing) as the issuer wrote it.
    let raw = CompactJws::parse(rfc.issuer_jwt()).unwrap().payload().to_vec();
    assert!(both_paths(std::str::from_utf8(&raw).unwrap(), rfc.disclosures()).0.is_some());
}

#[test]
fn one_pass_keeps_member_order_and_appends_disclosed_claims_in_sd_order() {
    let a = Disclosure::with_salt("s1", Some("a"), json!(1)).unwrap();
    let b = Disclosure::with_salt("s2", Some("b"), json!({"_sd": []})).unwrap();
    let payload = format!(r#"{{"z":0,"_sd":["{}","{}"],"y":{{"...":"not a digest here"}},"_sd_alg":"sha-256"}}"#, b.digest(), a.digest());
    let (fast, _) = both_paths(&payload, &[a, b]);
    let fast = fast.unwrap();
    assert_eq!(fast["claims"], json!(r#"{"z":0,"y":{"...":"not a digest here"},"b":{},"a":1}"#));
    assert_eq!(fast["sd_alg"], json!("sha-256"));
}

#[test]
fn one_pass_reads_sd_alg_in_place() {
    for (payload, expected) in [
        (r#"{"_sd_alg":"sha-256"}"#, json!("sha-256")),
        (r#"{"_sd_alg":"sha\u002d256"}"#, json!("sha-256")),
        (r#"{"_sd_alg":"sha-512"}"#, json!("sha-512")),
        (r#"{"_sd_alg":5}"#, json!(5)),
        (r#"{"_sd_alg":{"a":[1]}}"#, json!({"a": [1]})),
        (r#"{"x":1}"#, Value::Null),
    ] {
        let (fast, _) = both_paths(payload, &[]);
        assert_eq!(fast.unwrap()["sd_alg"], expected, "{payload}");
    }
}

#[test]
fn one_pass_handles_array_digests_and_look_alikes() {
    let e1 = Disclosure::with_salt("s1", None, json!("FR")).unwrap();
    let e2 = Disclosure::with_salt("s3", None, json!("DE")).unwrap();
    let nested = Disclosure::with_salt("s2", Some("n"), json!([{"...": e2.digest()}, "ES"])).unwrap();
    let payload = format!(
        r#"{{"_sd":["{}"],"arr":["IT",{{"...":"{}"}},{{"...":"decoy-not-43-chars"}},{{"k":1,"...":"x"}}],"nested":{{"_sd_alg":"kept"}}}}"#,
        nested.digest(),
        e1.digest()
    );
    let (fast, general) = both_paths(&payload, &[nested, e1, e2]);
    assert!(general.is_ok());
    let fast = fast.unwrap();
    let claims: Value = serde_json::from_str(fast["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["arr"], json!(["IT", "FR", {"k": 1, "...": "x"}]));
    assert_eq!(claims["n"], json!(["DE", "ES"]));
    assert_eq!(claims["nested"], json!({"_sd_alg": "kept"}));
    assert_eq!(fast["paths"], json!(["n", "arr.1", "n.0"]));
}

#[test]
fn one_pass_leaves_every_error_and_every_oddity_to_the_general_path() {
    let a = Disclosure::with_salt("s1", Some("a"), json!(1)).unwrap();
    let el = Disclosure::with_salt("s2", None, json!(2)).unwrap();
    let iss = Disclosure::with_salt("s3", Some("iss"), json!("https://elsewhere.example")).unwrap();
    let (da, de, di) = (a.digest(), el.digest(), iss.digest());
    // (payload, disclosures, whether the general path accepts it)
    let cases: Vec<(String, Vec<Disclosure>, bool)> = vec![
        // Errors: each one a rule of RFC 9901 §7.1.
        (format!(r#"{{"_sd":["{da}","{da}"]}}"#), vec![a.clone()], false),
        (format!(r#"{{"_sd":["{da}"],"x":{{"_sd":["{da}"]}}}}"#), vec![a.clone()], false),
        (r#"{"_sd":[]}"#.into(), vec![a.clone()], false),
        (format!(r#"{{"a":0,"_sd":["{da}"]}}"#), vec![a.clone()], false),
        (format!(r#"{{"_sd":["{de}"]}}"#), vec![el.clone()], false),
        (format!(r#"{{"x":[{{"...":"{da}"}}]}}"#), vec![a.clone()], false),
        (r#"{"_sd":"not an array"}"#.into(), vec![], false),
        (r#"{"_sd":[1]}"#.into(), vec![], false),
        (r#"{"x":[{"...":1}]}"#.into(), vec![], false),
        (r#"{"_sd":["decoy","decoy"]}"#.into(), vec![], false),
        (format!(r#"{{"_sd":["{da}"]}}"#), vec![a.clone(), a.clone()], false),
        (r#"{"x":1"#.into(), vec![], false),
        (r#"[1,2]"#.into(), vec![], false),
        (r#"{"x":1} trailing"#.into(), vec![], false),
        // Legal, but left to the general path: repeated names, a disclosed top-level `iss`.
        (r#"{"x":1,"x":2}"#.into(), vec![], true),
        (format!(r#"{{"_sd":["{da}"],"_sd":["{da}"]}}"#), vec![a.clone()], true),
        (r#"{"_sd_alg":"sha-256","_sd_alg":"sha-256"}"#.into(), vec![], true),
        (r#"{"x":[{"...":"d","...":"e"}]}"#.into(), vec![], true),
        // An array element that starts with `...` and has more members is an ordinary
        // object, whose `_sd` the general path processes.
        (r#"{"x":[{"...":"x","k":1}]}"#.into(), vec![], true),
        (r#"{"x":[{"...":"decoy-1","_sd":["decoy-2"]}]}"#.into(), vec![], true),
        (r#"{"x":[{"...":"d","_sd":5}]}"#.into(), vec![], false),
        (format!(r#"{{"_sd":["{da}"],"x":[{{"...":"d","_sd":["{da}"]}}]}}"#), vec![a.clone()], false),
        (format!(r#"{{"_sd":["{di}"]}}"#), vec![iss.clone()], true),
    ];
    for (payload, ds, accepted) in cases {
        let (fast, general) = both_paths(&payload, &ds);
        assert!(fast.is_none(), "the one pass should have left {payload} to the general path");
        assert_eq!(general.is_ok(), accepted, "{payload}: {general:?}");
    }
    // Nesting deeper than the general path allows.
    let deep = format!("{}1{}", r#"{"a":"#.repeat(70), "}".repeat(70));
    let (fast, general) = both_paths(&deep, &[]);
    assert!(fast.is_none());
    assert_eq!(general.unwrap_err(), SdJwtError::TooDeep);
}

#[test]
fn verified_claims_keep_the_payload_order_then_the_disclosed_in_sd_order() {
    let fx = Fx::new();
    let sd = fx.issue();
    let p = fx.bind(&sd);
    let v = fx.verifier().verify(&p, NOW).unwrap();
    let payload = sd.unverified_payload().unwrap();
    let visible: Vec<&String> = payload.keys().filter(|k| !k.starts_with("_sd")).collect();
    let sd_order: Vec<&str> = payload["_sd"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let mut disclosed: Vec<&Disclosure> = sd.disclosures().iter().filter(|d| sd_order.contains(&d.digest())).collect();
    disclosed.sort_by_key(|d| sd_order.iter().position(|x| *x == d.digest()));
    let expected: Vec<&str> = visible.iter().map(|k| k.as_str()).chain(disclosed.iter().filter_map(|d| d.name())).collect();
    assert_eq!(v.claims.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    // The holder's view (the general path) orders them the same way.
    assert_eq!(sd.claim_paths().unwrap().claims.keys().collect::<Vec<_>>(), v.claims.keys().collect::<Vec<_>>());
}

#[test]
fn verifier_falls_back_to_the_general_path_with_the_same_outcome() {
    let fx = Fx::new();
    let sd = fx.issue();
    // A repeated member name: the one pass gives up, the general path keeps the last value.
    let payload = sd.unverified_payload().unwrap();
    let text = serde_json::to_string(&payload).unwrap().replacen('{', r#"{"tax_office":"Roma 1","#, 1);
    let text = format!(r#"{},"tax_office":"Roma 2"}}"#, text.strip_suffix('}').unwrap());
    let jwt = jws::sign(&fx.header(), text.as_bytes(), &fx.issuer).unwrap();
    let p = fx.bind(&SdJwt::from_parts(jwt, sd.disclosures().to_vec(), None));
    let v = fx.verifier().verify(&p, NOW).unwrap();
    assert_eq!(v.claim_str("tax_office"), Some("Roma 2"));
    assert_eq!(v.disclosed.len(), sd.disclosures().len());
    // A structure error found by the one pass is reported after the signature check, as
    // the general path orders them: a forged signature wins over the repeated digest.
    let first = sd.disclosures()[0].digest().to_owned();
    let broken = fx.resign(&sd, |p| p["_sd"].as_array_mut().unwrap().push(json!(first.clone())));
    let forged = broken.issuer_jwt().rsplit_once('.').unwrap().0.to_owned() + "." + &b64::encode([7u8; 64]);
    let p = fx.bind(&SdJwt::from_parts(forged, broken.disclosures().to_vec(), None));
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::IssuerSignatureInvalid);
    // An array element starting with `...` and holding an `_sd` with a bad entry: the one pass
    // leaves it to the general path, which refuses it.
    let digest = sd.disclosures()[0].digest().to_owned();
    let broken = fx.resign(&sd, |p| {
        p.insert("extra".into(), json!([{"...": "not-a-digest", "_sd": [digest.clone(), 5]}]));
    });
    let p = fx.bind(&broken);
    assert_eq!(fx.verifier().verify(&p, NOW).unwrap_err(), SdJwtError::MalformedSdStructure("_sd (not an array of strings)"));
}

/// A disclosure is the compact JSON array `[salt, name, value]` (`[salt, value]` for an
/// array element), base64url, byte for byte: member order kept, no spaces, non-ASCII
/// written as is, quotes and controls escaped (RFC 9901 §4.2.1, §4.2.2).
#[test]
fn a_disclosure_is_the_compact_json_array_byte_for_byte() {
    let cases = [
        (Disclosure::with_salt("_26bc4LT-ac6q2KI6cBW5es", Some("family_name"), json!("Möbius")).unwrap(), r#"["_26bc4LT-ac6q2KI6cBW5es","family_name","Möbius"]"#),
        (
            Disclosure::with_salt("s", Some("address"), json!({"street": "Via \"Roma\" 1", "n": [1, 2.5, null, true], "a": {}})).unwrap(),
            r#"["s","address",{"street":"Via \"Roma\" 1","n":[1,2.5,null,true],"a":{}}]"#,
        ),
        (Disclosure::with_salt("s", Some("tab"), json!("a\tb\u{1}")).unwrap(), r#"["s","tab","a\tb\u0001"]"#),
        (Disclosure::with_salt("lklxF5jMYlGTPUovMNIvCA", None, json!("FR")).unwrap(), r#"["lklxF5jMYlGTPUovMNIvCA","FR"]"#),
    ];
    for (d, text) in cases {
        assert_eq!(b64::decode(d.encoded()).unwrap(), text.as_bytes(), "{text}");
        let parsed = Disclosure::parse(d.encoded(), 0).unwrap();
        assert_eq!((parsed.digest(), parsed.salt(), parsed.name(), parsed.value()), (d.digest(), d.salt(), d.name(), d.value()));
    }
}
