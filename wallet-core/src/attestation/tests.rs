//! Both sides of §2.2–2.3 in-process: a wallet with a software key store registers, asks for
//! attestations, the provider verifies with the same module and issues the WAA and WUA; the
//! wallet presents them to an issuer with a PoP. Then one broken thing per test.

use std::sync::Arc;

use super::*;
use crate::jose::{JwsAlg, SoftwareSigner, b64};
use crate::keystore::{KeyStore, KeyStoreSigner, KeyTag, SoftwareKeyStore};
use crate::sd_jwt::{KeyResolutionError, StaticKeyResolver};
use crate::status::StatusReference;
use crate::time::TimeError;

const NOW: UnixTime = UnixTime(1_800_000_000);
const WP: &str = "https://wallet-provider.example.org";
const ISSUER: &str = "https://pid-provider.example.org";

fn info() -> GeneralInfo {
    GeneralInfo {
        wallet_provider_name: "Tessera".into(),
        wallet_solution_id: "tessera-wallet".into(),
        wallet_solution_version: "0.1.0".into(),
        wallet_solution_certification_information: String::new(),
    }
}

fn wua_info() -> WuaWalletInfo {
    WuaWalletInfo {
        general_info: info(),
        key_storage_info: KeyStorageInfo {
            storage_type: StorageType::LocalNative,
            keys_exportable: false,
            storage_certification_information: String::new(),
        },
    }
}

struct Wallet {
    keys: Arc<SoftwareKeyStore>,
    hw: KeyTag,
    waa_tag: KeyTag,
    cred: KeyTag,
}

impl Wallet {
    fn new() -> Self {
        let keys = Arc::new(
            SoftwareKeyStore::in_memory(key_attestation::SoftwareAttester::development().unwrap())
                .unwrap()
                .with_clock(Arc::new(crate::time::FixedClock(NOW))),
        );
        let (hw, waa_tag, cred) = (KeyTag::generate().unwrap(), KeyTag::generate().unwrap(), KeyTag::generate().unwrap());
        for t in [&hw, &waa_tag, &cred] {
            keys.generate_key(t).unwrap();
        }
        Self { keys, hw, waa_tag, cred }
    }

    fn waa_signer(&self) -> KeyStoreSigner {
        KeyStoreSigner::new(self.keys.clone(), self.waa_tag.clone()).unwrap()
    }

    fn request(&self, nonce: &ProviderNonce) -> String {
        AttestationRequestBuilder { provider: WP, nonce, hardware_key_tag: &self.hw, credential_key_tag: &self.cred, now: NOW }
            .build(self.keys.as_ref(), &self.waa_signer())
            .unwrap()
    }
}

fn policy() -> KeyAttestationPolicy {
    KeyAttestationPolicy::development().unwrap()
}

#[test]
fn wp_full_flow_registration_request_waa_wua_pop() {
    let w = Wallet::new();
    // Registration (§2.2).
    let reg_nonce = ProviderNonce::generate().unwrap();
    let reg = RegistrationRequest::new(w.keys.as_ref(), &w.hw, reg_nonce).unwrap();
    let registered = reg.verify(&policy(), NOW).unwrap();
    assert_eq!(registered.hardware_key.thumbprint(), w.keys.public_key(&w.hw).unwrap().thumbprint());

    // Attestation request (§2.3).
    let nonce = ProviderNonce::generate().unwrap();
    let jwt = w.request(&nonce);
    let verified = AttestationRequest::parse(&jwt).unwrap().verify(WP, NOW, DEFAULT_SKEW).unwrap();
    assert!(nonce.matches(verified.nonce()));
    assert_eq!(verified.hardware_key_tag(), &w.hw);
    let evidence = verified.verify_device(&registered.hardware_key, &policy(), NOW).unwrap();
    assert_eq!(evidence.credential_key.thumbprint(), w.keys.public_key(&w.cred).unwrap().thumbprint());
    assert_eq!(evidence.waa_key.thumbprint(), w.keys.public_key(&w.waa_tag).unwrap().thumbprint());

    // The provider issues both attestations.
    let wp_key = SoftwareSigner::generate().unwrap();
    let signing = ProviderSigning::new(&wp_key);
    let waa = WaaBuilder::new(WP, &evidence.waa_key, &info(), NOW).sign(&signing).unwrap();
    let status = StatusReference { idx: 7, uri: format!("{WP}/status-lists/1") };
    let wua = WuaBuilder::new(WP, vec![evidence.credential_key.clone()], status.clone(), wua_info(), NOW, WUA_MIN_LIFETIME)
        .sign(&signing)
        .unwrap();
    let resp = AttestationResponse {
        wallet_attestations: WalletAttestations { wallet_app_attestation: waa.clone(), wallet_unit_attestation: wua.clone() },
    };
    let resp: AttestationResponse = serde_json::from_str(&serde_json::to_string(&resp).unwrap()).unwrap();

    // The wallet verifies them (WP_030/031).
    let trust = StaticKeyResolver::for_issuer(wp_key.public_jwk(), WP);
    let v_waa = verify_waa(&resp.wallet_attestations.wallet_app_attestation, &trust, NOW, DEFAULT_SKEW).unwrap();
    assert_eq!(v_waa.client_id(), evidence.waa_key.thumbprint().as_str());
    assert_eq!(v_waa.claims().eudi_wallet_info.as_ref().unwrap().general_info, info());
    let v_wua = verify_wua(&resp.wallet_attestations.wallet_unit_attestation, &trust, NOW, DEFAULT_SKEW).unwrap();
    assert!(v_wua.attests(&w.keys.public_key(&w.cred).unwrap()));
    assert_eq!(v_wua.status(), &status);

    // The wallet authenticates to an issuer (§3.3).
    let headers = client_attestation_headers(&waa, &w.waa_signer(), ISSUER, Some("srv-challenge"), NOW).unwrap();
    let pop_header = crate::jose::CompactJws::parse(&headers.pop).unwrap().into_header();
    assert_eq!(pop_header.kid, None);
    let mut ctx = ClientAttestationContext::new(ISSUER, &trust, NOW.plus(10));
    ctx.expected_challenge = Some("srv-challenge");
    let client = verify_client_attestation(&headers.attestation, &headers.pop, &ctx).unwrap();
    assert_eq!(client.client_id(), v_waa.client_id());
    assert_eq!(client.jti.len(), 36);
}

#[test]
fn wp_143b_request_signed_by_another_key() {
    let w = Wallet::new();
    let nonce = ProviderNonce::generate().unwrap();
    let jwt = w.request(&nonce);
    let other = SoftwareSigner::generate().unwrap();
    let (h, p, _) = {
        let mut it = jwt.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let sig = other.sign(format!("{h}.{p}").as_bytes()).unwrap();
    let forged = format!("{h}.{p}.{}", b64::encode(sig));
    assert_eq!(AttestationRequest::parse(&forged).unwrap().verify(WP, NOW, DEFAULT_SKEW).unwrap_err(), AttestationError::BadSignature);
}

#[test]
fn wp_143g_request_for_another_provider() {
    let w = Wallet::new();
    let jwt = w.request(&ProviderNonce::generate().unwrap());
    let err = AttestationRequest::parse(&jwt).unwrap().verify("https://other.example.org", NOW, DEFAULT_SKEW).unwrap_err();
    assert!(matches!(err, AttestationError::IssuerMismatch { .. }), "{err:?}");
    assert_eq!(err.oauth_code(), "invalid_request");
}

#[test]
fn request_expired_and_wrong_typ() {
    let w = Wallet::new();
    let jwt = w.request(&ProviderNonce::generate().unwrap());
    let late = NOW.plus(ATTESTATION_REQUEST_TTL + DEFAULT_SKEW);
    assert!(matches!(AttestationRequest::parse(&jwt).unwrap().verify(WP, late, DEFAULT_SKEW), Err(AttestationError::Expired { .. })));
    let waa = WaaBuilder::new(WP, &w.keys.public_key(&w.waa_tag).unwrap(), &info(), NOW)
        .sign(&ProviderSigning::new(&SoftwareSigner::generate().unwrap()))
        .unwrap();
    assert_eq!(
        AttestationRequest::parse(&waa).unwrap_err(),
        AttestationError::WrongTyp { expected: ATTESTATION_REQUEST_TYP, found: Some(WAA_TYP.into()) }
    );
}

#[test]
fn wp_143e_hardware_signature_with_another_key() {
    let w = Wallet::new();
    let jwt = w.request(&ProviderNonce::generate().unwrap());
    let v = AttestationRequest::parse(&jwt).unwrap().verify(WP, NOW, DEFAULT_SKEW).unwrap();
    let not_registered = SoftwareSigner::generate().unwrap().public_jwk();
    assert_eq!(v.verify_device(&not_registered, &policy(), NOW).unwrap_err(), AttestationError::BadHardwareSignature);
}

#[test]
fn wp_143f_integrity_assertion_refused_in_production() {
    let w = Wallet::new();
    let jwt = w.request(&ProviderNonce::generate().unwrap());
    let v = AttestationRequest::parse(&jwt).unwrap().verify(WP, NOW, DEFAULT_SKEW).unwrap();
    let prod = KeyAttestationPolicy::new(true).with_software(key_attestation::SoftwareAttestationVerifier::development().unwrap());
    let err = v.verify_device(&w.keys.public_key(&w.hw).unwrap(), &prod, NOW).unwrap_err();
    assert_eq!(err, AttestationError::KeyAttestation(KeyAttestationError::SoftwareRefusedInProduction));
    assert_eq!(err.oauth_code(), "integrity_check_error");
}

#[test]
fn waa_lifetime_is_at_most_24_hours() {
    let key = SoftwareSigner::generate().unwrap().public_jwk();
    let wp = SoftwareSigner::generate().unwrap();
    let err = WaaBuilder::new(WP, &key, &info(), NOW).lifetime(WAA_MAX_LIFETIME + 1).sign(&ProviderSigning::new(&wp)).unwrap_err();
    assert_eq!(err, AttestationError::LifetimeTooLong { lifetime: WAA_MAX_LIFETIME + 1, max: WAA_MAX_LIFETIME });
    // A WAA signed with a longer lifetime by someone else is refused on verification too.
    let mut claims = WaaBuilder::new(WP, &key, &info(), NOW).claims();
    claims.exp = NOW.plus(2 * WAA_MAX_LIFETIME).secs();
    let jwt = crate::jose::jws::sign_json(&crate::jose::JwsHeader::new(JwsAlg::Es256).with_typ(WAA_TYP), &claims, &wp).unwrap();
    let trust = StaticKeyResolver::any_issuer(wp.public_jwk());
    assert!(matches!(verify_waa(&jwt, &trust, NOW, DEFAULT_SKEW), Err(AttestationError::LifetimeTooLong { .. })));
}

#[test]
fn waa_with_hostile_times_is_refused() {
    let key = SoftwareSigner::generate().unwrap().public_jwk();
    let wp = SoftwareSigner::generate().unwrap();
    let trust = StaticKeyResolver::any_issuer(wp.public_jwk());
    let verify = |edit: &dyn Fn(&mut WaaClaims)| {
        let mut claims = WaaBuilder::new(WP, &key, &info(), NOW).claims();
        edit(&mut claims);
        let jwt = crate::jose::jws::sign_json(&crate::jose::JwsHeader::new(JwsAlg::Es256).with_typ(WAA_TYP), &claims, &wp).unwrap();
        verify_waa(&jwt, &trust, NOW, DEFAULT_SKEW)
    };
    // Without `iat` there was no lifetime to bound: `exp` = i64::MAX passed.
    let err = verify(&|c| {
        c.iat = None;
        c.exp = i64::MAX;
    })
    .unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
    let err = verify(&|c| {
        c.iat = Some(-1);
        c.exp = i64::MAX;
    })
    .unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::OutOfRange { claim: "iat", value: -1 }));
    let err = verify(&|c| c.nbf = Some(i64::MIN)).unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::OutOfRange { claim: "nbf", value: i64::MIN }));
    let err = verify(&|c| c.iat = Some(NOW.secs() + 30)).map(|_| ());
    assert_eq!(err, Ok(()), "iat within the skew");
    let err = verify(&|c| {
        c.iat = Some(NOW.secs() + 30);
        c.exp = NOW.secs() + 10;
    })
    .unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::ExpNotAfterIat { iat: NOW.secs() + 30, exp: NOW.secs() + 10 }));
}

#[test]
fn wua_sign_refuses_out_of_range_times() {
    let wp = SoftwareSigner::generate().unwrap();
    let holder = SoftwareSigner::generate().unwrap().public_jwk();
    let status = StatusReference { idx: 0, uri: "https://wp/status".into() };
    // The lifetime `exp - iat` saturated to i64::MAX and passed the one-month minimum.
    let b = WuaBuilder::new(WP, vec![holder.clone()], status.clone(), wua_info(), UnixTime(-1), i64::MAX);
    let err = b.sign(&ProviderSigning::new(&wp)).unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::OutOfRange { claim: "iat", value: -1 }));
    let b = WuaBuilder::new(WP, vec![holder], status, wua_info(), NOW, i64::MAX);
    let err = b.sign(&ProviderSigning::new(&wp)).unwrap_err();
    assert_eq!(err, AttestationError::Time(TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
}

#[test]
fn waa_expired_untrusted_and_sub_mismatch() {
    let key = SoftwareSigner::generate().unwrap().public_jwk();
    let wp = SoftwareSigner::generate().unwrap();
    let waa = WaaBuilder::new(WP, &key, &info(), NOW).sign(&ProviderSigning::new(&wp)).unwrap();
    let trust = StaticKeyResolver::for_issuer(wp.public_jwk(), WP);
    let late = NOW.plus(WAA_DEFAULT_LIFETIME + DEFAULT_SKEW);
    let err = verify_waa(&waa, &trust, late, DEFAULT_SKEW).unwrap_err();
    assert!(matches!(err, AttestationError::Expired { .. }));
    assert_eq!(err.client_auth_code(), "use_fresh_attestation");

    let other = StaticKeyResolver::for_issuer(wp.public_jwk(), "https://other.example.org");
    assert_eq!(
        verify_waa(&waa, &other, NOW, DEFAULT_SKEW).unwrap_err(),
        AttestationError::UntrustedProvider(KeyResolutionError::UnknownIssuer { iss: WP.into() })
    );
    let rogue = StaticKeyResolver::any_issuer(SoftwareSigner::generate().unwrap().public_jwk());
    assert_eq!(verify_waa(&waa, &rogue, NOW, DEFAULT_SKEW).unwrap_err(), AttestationError::BadSignature);

    assert!(verify_waa(&waa, &trust, NOW, DEFAULT_SKEW).unwrap().sub_is_key_thumbprint());
    // A `sub` that is not the key's thumbprint (older SDK builds put the JWK `kid` there) is
    // accepted and told apart, for the issuer to log (versions note §5, issuer item 2).
    let mut claims = WaaBuilder::new(WP, &key, &info(), NOW).claims();
    claims.sub = "the-jwk-kid".into();
    let jwt = crate::jose::jws::sign_json(&crate::jose::JwsHeader::new(JwsAlg::Es256).with_typ(WAA_TYP), &claims, &wp).unwrap();
    let accepted = verify_waa(&jwt, &trust, NOW, DEFAULT_SKEW).unwrap();
    assert!(!accepted.sub_is_key_thumbprint());
    assert_eq!(accepted.client_id(), "the-jwk-kid");
}

#[test]
fn wua_needs_keys_a_month_and_its_typ() {
    let wp = SoftwareSigner::generate().unwrap();
    let s = ProviderSigning::new(&wp);
    let status = StatusReference { idx: 0, uri: "https://wp/status".into() };
    assert_eq!(
        WuaBuilder::new(WP, vec![], status.clone(), wua_info(), NOW, WUA_MIN_LIFETIME).sign(&s).unwrap_err(),
        AttestationError::NoAttestedKeys
    );
    let key = SoftwareSigner::generate().unwrap().public_jwk();
    assert!(matches!(
        WuaBuilder::new(WP, vec![key.clone()], status.clone(), wua_info(), NOW, 86_400).sign(&s),
        Err(AttestationError::LifetimeTooShort { .. })
    ));
    let wua = WuaBuilder::new(WP, vec![key], status, wua_info(), NOW, WUA_MIN_LIFETIME).sign(&s).unwrap();
    let trust = StaticKeyResolver::any_issuer(wp.public_jwk());
    assert!(matches!(verify_waa(&wua, &trust, NOW, DEFAULT_SKEW), Err(AttestationError::WrongTyp { .. })));
    let v = verify_wua(&wua, &trust, NOW, DEFAULT_SKEW).unwrap();
    let payload: serde_json::Value = crate::jose::CompactJws::parse(v.jwt()).unwrap().payload_json().unwrap();
    assert_eq!(payload["key_storage"], serde_json::json!(["iso_18045_moderate"]));
    assert_eq!(payload["eudi_wallet_info"]["key_storage_info"]["storage_type"], "LOCAL_NATIVE");
    assert_eq!(payload["status"]["status_list"]["idx"], 0);
}

#[test]
fn pop_refusals() {
    let w = Wallet::new();
    let wp = SoftwareSigner::generate().unwrap();
    let waa = WaaBuilder::new(WP, &w.keys.public_key(&w.waa_tag).unwrap(), &info(), NOW).sign(&ProviderSigning::new(&wp)).unwrap();
    let trust = StaticKeyResolver::for_issuer(wp.public_jwk(), WP);
    let ctx = ClientAttestationContext::new(ISSUER, &trust, NOW);

    // PoP by a key other than the WAA's cnf.
    let thief = SoftwareSigner::generate().unwrap();
    let h = client_attestation_headers(&waa, &thief, ISSUER, None, NOW).unwrap();
    assert_eq!(verify_client_attestation(&h.attestation, &h.pop, &ctx).unwrap_err(), AttestationError::BadSignature);

    // Wrong audience.
    let h = client_attestation_headers(&waa, &w.waa_signer(), "https://other.example.org", None, NOW).unwrap();
    let err = verify_client_attestation(&h.attestation, &h.pop, &ctx).unwrap_err();
    assert_eq!(err, AttestationError::AudienceMismatch { expected: ISSUER.into() });
    assert_eq!(err.client_auth_code(), "invalid_client");

    // Too old.
    let h = client_attestation_headers(&waa, &w.waa_signer(), ISSUER, None, NOW.plus(-1000)).unwrap();
    assert!(matches!(verify_client_attestation(&h.attestation, &h.pop, &ctx), Err(AttestationError::TooOld { .. })));

    // Missing or wrong challenge.
    let h = client_attestation_headers(&waa, &w.waa_signer(), ISSUER, Some("old"), NOW).unwrap();
    let mut c2 = ClientAttestationContext::new(ISSUER, &trust, NOW);
    c2.expected_challenge = Some("new");
    assert_eq!(verify_client_attestation(&h.attestation, &h.pop, &c2).unwrap_err(), AttestationError::NonceMismatch);

    // The WAA itself is not a PoP.
    assert!(matches!(verify_client_attestation(&waa, &waa, &ctx), Err(AttestationError::WrongTyp { .. })));
}

#[test]
fn uuid_v4_shape() {
    let u = uuid_v4().unwrap();
    assert_eq!(u.len(), 36);
    assert_eq!(u.as_bytes()[14], b'4');
    assert!(matches!(u.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
}

/// Every WUA of a provider carries the same protected header (its `kid` and `trust_chain`):
/// through a [`crate::jose::HeaderMemo`] it is parsed once, and each WUA's own claims and
/// signature are still checked (a WUA re-signed by another key under that header, refused).
#[test]
fn wuas_of_one_provider_share_one_parsed_header_and_each_is_verified() {
    let wp_key = SoftwareSigner::generate().unwrap();
    let signing = ProviderSigning::new(&wp_key).with_trust_chain(vec!["e".repeat(700), "f".repeat(700)]);
    let trust = StaticKeyResolver::for_issuer(wp_key.public_jwk(), WP);
    let memo = crate::jose::HeaderMemo::new();
    let wua = |idx: u64| {
        let key = SoftwareSigner::generate().unwrap().public_jwk();
        let status = StatusReference { idx, uri: format!("{WP}/status-lists/1") };
        (WuaBuilder::new(WP, vec![key.clone()], status, wua_info(), NOW, WUA_MIN_LIFETIME).sign(&signing).unwrap(), key)
    };
    let (first, k1) = wua(1);
    let (second, k2) = wua(2);
    let v1 = verify_wua_with_memo(&first, &trust, NOW, DEFAULT_SKEW, Some(&memo)).unwrap();
    let v2 = verify_wua_with_memo(&second, &trust, NOW, DEFAULT_SKEW, Some(&memo)).unwrap();
    assert_eq!(memo.len(), 1);
    assert_eq!((v1.status().idx, v2.status().idx), (1, 2));
    assert!(v1.attests(&k1) && !v1.attests(&k2) && v2.attests(&k2));
    assert_eq!(v2.header(), verify_wua(&second, &trust, NOW, DEFAULT_SKEW).unwrap().header());

    let other = SoftwareSigner::generate().unwrap();
    let (head, _) = second.rsplit_once('.').unwrap();
    let by_other = format!("{head}.{}", b64::encode(other.sign(head.as_bytes()).unwrap()));
    assert!(matches!(verify_wua_with_memo(&by_other, &trust, NOW, DEFAULT_SKEW, Some(&memo)), Err(AttestationError::BadSignature)));
    assert!(matches!(verify_wua_with_memo(&second, &trust, NOW.plus(WUA_MIN_LIFETIME + 3_600), DEFAULT_SKEW, Some(&memo)), Err(AttestationError::Expired { .. })));
}
