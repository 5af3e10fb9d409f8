use std::time::Instant;
use wallet_core::jose::*;
use wallet_core::sd_jwt::*;
use wallet_core::time::UnixTime;
fn t(name: &str, n: u32, mut f: impl FnMut()) { let s = Instant::now(); for _ in 0..n { f(); } println!("{name}: {:.2} us", s.elapsed().as_secs_f64()*1e6/n as f64); }
fn main() {
    let issuer = SoftwareSigner::generate().unwrap();
    let holder = SoftwareSigner::generate().unwrap();
    let mut m = serde_json::json!({"iss":"https://pid.example.it","vct":"urn:eudi:pid:it:1","iat":1800000000,"exp":1900000000,
      "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
        "place_of_birth": {"locality": "Roma", "country": "IT"}, "nationalities": ["IT"],
        "tax_id_code": "TINIT-RSSMRA80A10H501A", "personal_administrative_number": "XX00000XX",
        "birth_family_name": "Rossi"}).as_object().cloned().unwrap();
    m.insert("cnf".into(), serde_json::json!({"jwk": holder.public_jwk()}));
    let sd = SdJwtBuilder::new(m).all_top_level_disclosable(&["iss","vct","iat","exp","cnf"]).sign(&JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt"), &issuer).unwrap();
    let paths: Vec<ClaimPath> = ["given_name", "family_name", "birthdate", "nationalities", "tax_id_code"].iter().map(|p| ClaimPath::key(p)).collect();
    let kb = KeyBindingInput{aud:"a".into(), nonce:"n".into(), iat: UnixTime(1800000000)};
    let p = sd.present(Some(&paths), &kb, &holder).unwrap();
    let r = StaticKeyResolver::any_issuer(issuer.public_jwk());
    let now = UnixTime(1800000000);
    t("full verify", 3000, || { Verifier::new(&r).expect_key_binding("a","n").verify(&p, now).unwrap(); });
    t("SdJwt::parse", 20000, || { std::hint::black_box(SdJwt::parse(&p).unwrap()); });
    let parsed = SdJwt::parse(&p).unwrap();
    t("CompactJws::parse issuer", 20000, || { std::hint::black_box(CompactJws::parse(parsed.issuer_jwt()).unwrap()); });
    let j = CompactJws::parse(parsed.issuer_jwt()).unwrap();
    t("payload_json", 20000, || { std::hint::black_box(j.payload_json::<serde_json::Map<String, serde_json::Value>>().unwrap()); });
    t("issuer verify", 3000, || { j.verify(&issuer.public_jwk()).unwrap(); });
    t("without_kb+sha", 20000, || { std::hint::black_box(parsed.without_kb()); });
    t("kb parse", 20000, || { std::hint::black_box(CompactJws::parse(parsed.kb_jwt().unwrap()).unwrap()); });
    t("claim_paths (jws parse+payload+process)", 20000, || { std::hint::black_box(parsed.claim_paths().unwrap()); });
    let kbj = CompactJws::parse(parsed.kb_jwt().unwrap()).unwrap();
    t("kb verify", 3000, || { kbj.verify(&holder.public_jwk()).unwrap(); });
    t("kb payload", 20000, || { std::hint::black_box(kbj.payload_json::<KeyBindingClaims>().unwrap()); });
    let cnf = serde_json::json!({"jwk": holder.public_jwk()});
    t("cnf from_value", 20000, || { std::hint::black_box(serde_json::from_value::<Jwk>(cnf["jwk"].clone()).unwrap()); });
    t("verify no kb expectation, no kb", 3000, || { Verifier::new(&r).verify(&parsed.without_kb(), now).unwrap(); });
    t("jwk clone", 20000, || { std::hint::black_box(issuer.public_jwk()); });
}
#[allow(dead_code)]
fn more() {}
