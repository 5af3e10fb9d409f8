//! The verifier's checks, driven by a real wallet side in-process: a request built and
//! verified, a PID presented with KB, encrypted, posted, decrypted, verified; then one
//! broken thing per test, asserting the exact refusal.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::x509::crl::CrlFetcher;
use crate::federation::chain::{ValidatedChain, validate};
use crate::federation::{EntityId, FederationError};
use crate::jose::{JwsAlg, JwsHeader, Signer, SoftwareSigner};
use crate::oid4vp::dcql::TrustedAuthorityQuery;
use crate::oid4vp::dcql::matcher::MatchError;
use crate::oid4vp::response::{VpToken, response_form};
use crate::oid4vp::testing::*;
use crate::sd_jwt::{ClaimPath, KeyBindingInput, SdJwt};
use crate::status::{Bits, StatusList, StatusListToken};

pub(crate) use crate::test_support::block_on;

/// A status list server in memory, counting fetches.
pub(crate) struct Lists {
    tokens: HashMap<String, String>,
    pub(crate) fetches: AtomicUsize,
}

impl Lists {
    pub(crate) fn with(fx: &Fixture, idx: u64, value: StatusValue) -> Self {
        let mut list = StatusList::new(Bits::from_u64(2).unwrap(), 16);
        list.set(idx, value).unwrap();
        let token = StatusListToken { list, uri: STATUS_URI.into(), iss: Some(ISSUER.into()), iat: NOW.plus(-10), exp: Some(NOW.plus(3600)), ttl: Some(600), aggregation_uri: None };
        let jwt = token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(fx.issuer_key.kid()), &fx.issuer_key).unwrap();
        Self { tokens: HashMap::from([(STATUS_URI.to_owned(), jwt)]), fetches: AtomicUsize::new(0) }
    }
}

impl StatusFetcher for Lists {
    fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let r = self
            .tokens
            .get(uri)
            .map(|t| StatusHttpResponse { content_type: Some("application/statuslist+jwt".into()), body: t.clone().into_bytes() })
            .ok_or_else(|| "404".to_owned());
        Box::pin(async move { r })
    }
}

struct Chains(Vec<ValidatedChain>);

impl IssuerChainResolver for Chains {
    fn resolve<'a>(&'a self, issuer: &'a EntityId, _now: UnixTime) -> ChainFuture<'a> {
        let r = self.0.iter().find(|c| c.subject.claims.sub == *issuer).cloned().ok_or(FederationError::EmptyChain);
        Box::pin(async move { r })
    }
}

fn paths() -> Vec<ClaimPath> {
    vec![ClaimPath::key("given_name"), ClaimPath::key("family_name"), ClaimPath::parse_dotted("place_of_birth.locality")]
}

fn present(fx: &Fixture, sd: &SdJwt, paths: &[ClaimPath], aud: &str, nonce: &str, iat: UnixTime) -> String {
    sd.present(Some(paths), &KeyBindingInput { aud: aud.into(), nonce: nonce.into(), iat }, &fx.holder).unwrap()
}

fn good(fx: &Fixture) -> String {
    present(fx, &fx.pid(), &paths(), &fx.client_id().to_string(), NONCE, NOW)
}

/// Verifies `presentation` against the PID query with the fixture's trust and `lists`.
fn check(fx: &Fixture, presentation: &str, lists: &Lists) -> Result<VerifiedPresentation, Refusal> {
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let cache = StatusCache::new();
    let ctx = PresentationContext {
        federation_anchors: &anchors,
        x509_anchors: Some(&x509),
        status: Some((&cache, lists)),
        ..PresentationContext::new(&cid, NONCE, NOW)
    };
    let q = Fixture::pid_query();
    block_on(verify_presentation(presentation, &q.credentials[0], &ctx))
}

fn valid_lists(fx: &Fixture) -> Lists {
    Lists::with(fx, 3, StatusValue::Valid)
}

#[test]
fn end_to_end_request_present_encrypt_verify() {
    let fx = Fixture::new();
    // Verifier: request object. Wallet: verify it.
    let jwt = fx.builder().sign(&fx.rp_ro, &fx.header()).unwrap();
    let chain = fx.rp_chain();
    let cid = fx.client_id();
    let rctx = crate::oid4vp::VerifyContext { rp_chain: Some(&chain), ..crate::oid4vp::VerifyContext::new(&cid, crate::oid4vp::Profile::ItWallet14, NOW) };
    let req = crate::oid4vp::ParsedRequestObject::parse(&jwt).unwrap().verify(&rctx).unwrap();
    // Wallet: present, encrypt, post.
    let p = present(&fx, &fx.pid(), &paths(), req.client_id.as_str(), &req.nonce, NOW);
    let resp = AuthorizationResponse { vp_token: VpToken([("pid".to_owned(), vec![p])].into()), state: req.state.clone() };
    let form = response_form(&resp.encrypt(&req.encryption_key, req.enc, &req.nonce).unwrap());
    // Verifier: parse, decrypt, verify.
    let posted = PostedResponse::parse_form(form.as_bytes()).unwrap();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let cache = StatusCache::new();
    let lists = valid_lists(&fx);
    let ctx = PresentationContext { federation_anchors: &anchors, x509_anchors: Some(&x509), status: Some((&cache, &lists)), ..PresentationContext::new(&cid, NONCE, NOW) };
    let q = Fixture::pid_query();
    let keys = [fx.rp_enc.clone()];
    let expect = ResponseExpectation { query: &q, state: Some(STATE), decryption_keys: &keys, allowed_enc: &[ContentEncryption::A256Gcm, ContentEncryption::A128Gcm] };
    let Verdict::Verified(v) = block_on(verify_response(&posted, &expect, &ctx)) else { panic!("not verified") };
    let pid = &v.credentials["pid"][0];
    assert_eq!(pid.vct, PID_VCT);
    assert_eq!(pid.claims["given_name"], "Mario");
    assert_eq!(pid.claims["place_of_birth"]["locality"], "Roma");
    assert!(pid.claims.get("birthdate").is_none());
    assert!(pid.claims["place_of_birth"].get("country").is_none());
    assert_eq!(pid.status, StatusOutcome::Valid(StatusValue::Valid));
    assert!(matches!(pid.issuer_trust, IssuerTrustPath::TrustChain { from_header: true, ref trust_anchor, .. } if trust_anchor.as_str() == TA));
    assert_eq!(pid.key_binding.nonce, NONCE);
    // The status list was fetched once and is cached for the next presentation.
    assert_eq!(lists.fetches.load(Ordering::SeqCst), 1);
    assert!(!cache.is_empty());
    let again = block_on(verify_response(&posted, &expect, &ctx));
    assert!(matches!(again, Verdict::Verified(_)));
    assert_eq!(lists.fetches.load(Ordering::SeqCst), 1);
}

#[test]
fn kb_jwt_aud_with_or_without_prefix_is_accepted() {
    let fx = Fixture::new();
    check(&fx, &good(&fx), &valid_lists(&fx)).unwrap();
    let bare = present(&fx, &fx.pid(), &paths(), RP, NONCE, NOW);
    check(&fx, &bare, &valid_lists(&fx)).unwrap();
    // Another entity, bare or prefixed, is not this client.
    for aud in ["https://evil.example.it", "openid_federation:https://evil.example.it", "https://rp.example.it/"] {
        let other = present(&fx, &fx.pid(), &paths(), aud, NONCE, NOW);
        assert_eq!(check(&fx, &other, &valid_lists(&fx)).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::AudMismatch), "{aud}");
    }
}

#[test]
fn att_kb_jwt_for_another_aud_nonce_or_time_is_refused() {
    let fx = Fixture::new();
    let l = valid_lists(&fx);
    let other_aud = present(&fx, &fx.pid(), &paths(), "openid_federation:https://evil.example.it", NONCE, NOW);
    let e = check(&fx, &other_aud, &l).unwrap_err();
    assert_eq!(e, Refusal::KeyBinding(KeyBindingFailure::AudMismatch));
    assert_eq!(e.http_status(), 403);
    let other_nonce = present(&fx, &fx.pid(), &paths(), RP, "another-nonce-another-nonce-another-nonce", NOW);
    assert_eq!(check(&fx, &other_nonce, &l).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::NonceMismatch));
    let old = present(&fx, &fx.pid(), &paths(), RP, NONCE, NOW.plus(-600));
    assert_eq!(check(&fx, &old, &l).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::IatOutOfWindow));
    // No KB-JWT at all.
    let without = fx.pid().select(&paths()).unwrap().without_kb();
    assert_eq!(check(&fx, &without, &l).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::Missing));
    // Signed by another key than cnf.
    let thief = SoftwareSigner::generate().unwrap();
    let stolen = fx.pid().present(Some(&paths()), &KeyBindingInput { aud: RP.into(), nonce: NONCE.into(), iat: NOW }, &thief).unwrap();
    assert_eq!(check(&fx, &stolen, &l).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::BadSignature));
    // sd_hash over other disclosures: drop one disclosure after binding.
    let p = good(&fx);
    let mut parts: Vec<&str> = p.split('~').collect();
    parts.remove(1);
    assert_eq!(check(&fx, &parts.join("~"), &l).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::SdHashMismatch));
}

#[test]
fn credential_from_an_untrusted_issuer_is_refused() {
    let fx = Fixture::new();
    let stranger = Fixture::new();
    // The stranger's federation and CA: neither its trust_chain nor its x5c reach our anchors.
    let p = present(&stranger, &stranger.pid(), &paths(), RP, NONCE, NOW);
    let e = check(&fx, &p, &valid_lists(&fx)).unwrap_err();
    assert!(matches!(e, Refusal::UntrustedIssuer(_)), "{e:?}");
    assert_eq!(e.http_status(), 403);
    // No trust chain header and no x5c.
    let bare = fx.issue_pid(|_| {}, |h| { h.trust_chain = None; h.x5c = None; }, &fx.issuer_key);
    assert!(matches!(check(&fx, &present(&fx, &bare, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err(), Refusal::UntrustedIssuer(_)));
}

#[test]
fn issuer_not_allowed_for_the_vct_is_refused() {
    let fx = Fixture::new();
    let mdl_only = fx.issue_pid(|_| {}, |h| h.trust_chain = Some(fx.issuer_chain_jwts(&["urn:eudi:mDL:it:1"])), &fx.issuer_key);
    let p = present(&fx, &mdl_only, &paths(), RP, NONCE, NOW);
    assert_eq!(check(&fx, &p, &valid_lists(&fx)).unwrap_err(), Refusal::IssuerNotAllowedForVct { issuer: ISSUER.into(), vct: PID_VCT.into() });
}

#[test]
fn x5c_only_issuer_and_resolved_chain() {
    let fx = Fixture::new();
    let sd = fx.issue_pid(|_| {}, |h| h.trust_chain = None, &fx.issuer_key);
    let p = present(&fx, &sd, &paths(), RP, NONCE, NOW);
    let cid = fx.client_id();
    let x509 = fx.pki.anchors();
    let q = Fixture::pid_query();
    // x5c alone: trusted key, but no metadata to allow the vct.
    let ctx = PresentationContext { x509_anchors: Some(&x509), ..PresentationContext::new(&cid, NONCE, NOW) };
    assert_eq!(block_on(verify_presentation(&p, &q.credentials[0], &ctx)).unwrap_err(), Refusal::IssuerNotAllowedForVct { issuer: ISSUER.into(), vct: PID_VCT.into() });
    let lax = PresentationContext { x5c_issuer_may_issue_any_vct: true, ..ctx };
    let v = block_on(verify_presentation(&p, &q.credentials[0], &lax)).unwrap();
    assert!(matches!(v.issuer_trust, IssuerTrustPath::X5c { .. }));
    assert_eq!(v.status, StatusOutcome::NotChecked);
    // The issuer's chain resolved by the caller's resolver.
    let chains = Chains(vec![validate(&fx.issuer_chain_jwts(&[PID_VCT]), &fx.anchor(), NOW).unwrap()]);
    let ctx = PresentationContext { issuer_chains: Some(&chains), ..ctx };
    let v = block_on(verify_presentation(&p, &q.credentials[0], &ctx)).unwrap();
    assert!(matches!(v.issuer_trust, IssuerTrustPath::TrustChain { from_header: false, .. }));
}

/// A resolver whose cached chain predates the issuer's key rotation; resolved again, the
/// chain lists the new key. Counts the re-resolutions; `refresh` off is a resolver without a
/// cache (nothing newer to be had).
struct Rotating {
    cached: ValidatedChain,
    fresh: ValidatedChain,
    refresh: bool,
    refreshes: AtomicUsize,
}

impl IssuerChainResolver for Rotating {
    fn resolve<'a>(&'a self, _issuer: &'a EntityId, _now: UnixTime) -> ChainFuture<'a> {
        let c = self.cached.clone();
        Box::pin(async move { Ok(c) })
    }

    fn refresh_shared<'a>(&'a self, _issuer: &'a EntityId, _now: UnixTime) -> Option<crate::oid4vp::verify::SharedChainFuture<'a>> {
        if !self.refresh {
            return None;
        }
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let c = std::sync::Arc::new(self.fresh.clone());
        Some(Box::pin(async move { Ok(c) }))
    }
}

/// The issuer rotated its credential key after the verifier cached its chain: a credential
/// signed with the new key names a `kid` the cached chain does not list, so the chain is
/// resolved again (once) and the credential verifies; a credential with a known `kid` does
/// not cause a re-resolution, and without anything newer to be had the unknown `kid` is
/// refused as an untrusted issuer.
#[test]
fn a_kid_the_cached_chain_does_not_list_resolves_the_chain_again() {
    let fx = Fixture::new();
    let new_key = SoftwareSigner::generate().unwrap();
    let chain_with = |key: &SoftwareSigner| validate(&fx.issuer_chain_jwts_with_key(&[PID_VCT], key), &fx.anchor(), NOW).unwrap();
    let by = |key: &SoftwareSigner| {
        let sd = fx.issue_pid(
            |_| {},
            |h| {
                h.trust_chain = None;
                h.x5c = None;
                h.kid = key.kid();
            },
            key,
        );
        present(&fx, &sd, &paths(), &fx.client_id().to_string(), NONCE, NOW)
    };
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let q = Fixture::pid_query();
    let verify = |p: &str, r: &Rotating| {
        let ctx = PresentationContext { federation_anchors: &anchors, issuer_chains: Some(r), ..PresentationContext::new(&cid, NONCE, NOW) };
        block_on(verify_presentation(p, &q.credentials[0], &ctx))
    };
    let resolver = |refresh| Rotating { cached: chain_with(&fx.issuer_key), fresh: chain_with(&new_key), refresh, refreshes: AtomicUsize::new(0) };

    let r = resolver(true);
    verify(&by(&fx.issuer_key), &r).unwrap();
    assert_eq!(r.refreshes.load(Ordering::SeqCst), 0, "a known kid: the cached chain serves");
    let v = verify(&by(&new_key), &r).unwrap();
    assert!(matches!(v.issuer_trust, IssuerTrustPath::TrustChain { from_header: false, .. }));
    assert_eq!(r.refreshes.load(Ordering::SeqCst), 1);

    let e = verify(&by(&new_key), &resolver(false)).unwrap_err();
    assert!(matches!(&e, Refusal::UntrustedIssuer(m) if m.contains("is not a key of the issuer")), "{e:?}");
}

/// CRLs by URI (an unknown URI is unreachable).
struct Crls(HashMap<String, Vec<u8>>);

impl CrlFetcher for Crls {
    fn fetch_crl<'a>(&'a self, uri: &'a str) -> crate::x509::crl::CrlFuture<'a> {
        let r = self.0.get(uri).cloned().ok_or_else(|| format!("{uri}: connection refused"));
        Box::pin(async move { r })
    }
}

#[test]
fn an_issuer_certificate_on_its_cas_crl_is_refused_and_an_unreachable_crl_is_indeterminate() {
    const CRL: &str = "https://ta.example.it/crl";
    let fx = Fixture::new();
    let signing = fx.pki.signing_leaf(&fx.issuer_key, ISSUER, &[0x51, 0x6e], CRL);
    let x509 = fx.pki.anchors();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let q = Fixture::pid_query();
    let revoked = Crls(HashMap::from([(CRL.to_owned(), fx.pki.crl(&[&[0x51, 0x6e]]))]));
    let clean = Crls(HashMap::from([(CRL.to_owned(), fx.pki.crl(&[&[0x01]]))]));
    let down = Crls(HashMap::new());
    // Trusted by x5c alone, and by the trust chain with the x5c beside it: the CRL counts in both.
    for chain in [false, true] {
        let sd = fx.issue_pid(
            |_| {},
            |h| {
                h.x5c = Some(vec![b64(&signing)]);
                if !chain {
                    h.trust_chain = None;
                }
            },
            &fx.issuer_key,
        );
        let p = present(&fx, &sd, &paths(), RP, NONCE, NOW);
        let verify = |crls: &Crls| {
            let cache = CrlCache::default();
            let ctx = PresentationContext {
                federation_anchors: &anchors,
                x509_anchors: Some(&x509),
                x5c_issuer_may_issue_any_vct: true,
                crls: Some((&cache, crls)),
                ..PresentationContext::new(&cid, NONCE, NOW)
            };
            block_on(verify_presentation(&p, &q.credentials[0], &ctx))
        };
        assert!(verify(&clean).is_ok(), "chain {chain}");
        let e = verify(&revoked).unwrap_err();
        assert_eq!(e, Refusal::CertificateRevoked(CrlError::Revoked { index: 0, serial: "516e".into(), revoked_at: 1_799_107_200 }), "chain {chain}");
        assert_eq!((e.code(), e.http_status(), e.is_indeterminate()), ("issuer_certificate_revoked", 403, false));
        let e = verify(&down).unwrap_err();
        assert!(matches!(&e, Refusal::CertificateStatusUnknown(CrlError::Unavailable { uri, .. }) if uri == CRL), "{e}");
        assert!(e.is_indeterminate());
    }
}

#[test]
fn bad_issuer_signature_is_refused() {
    let fx = Fixture::new();
    let forger = SoftwareSigner::generate().unwrap().with_kid(fx.issuer_key.kid().unwrap());
    let forged = fx.issue_pid(|_| {}, |h| h.x5c = None, &forger);
    let e = check(&fx, &present(&fx, &forged, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
    assert_eq!(e, Refusal::BadSignature);
    // IT-Wallet 1.4 §5.1: a bad SD-JWT is 400 `invalid_request` (403 is for key binding,
    // nonce and trust).
    assert_eq!((e.http_status(), e.oauth_code(), e.code()), (400, "invalid_request", "bad_issuer_signature"));
}

/// With a [`crate::jose::HeaderMemo`] the issuer JWT's header (`kid`, `x5c`,
/// `trust_chain`: the same on every credential of the issuer's key) is parsed once; every
/// check still runs: a forgery under the same header is refused, after and before.
#[test]
fn a_kept_issuer_header_changes_no_verdict() {
    let fx = Fixture::new();
    let memo = crate::jose::HeaderMemo::new();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let cache = StatusCache::new();
    let lists = valid_lists(&fx);
    let ctx = PresentationContext {
        federation_anchors: &anchors,
        x509_anchors: Some(&x509),
        status: Some((&cache, &lists)),
        header_memo: Some(&memo),
        ..PresentationContext::new(&cid, NONCE, NOW)
    };
    let q = Fixture::pid_query();
    // One genuine credential (its chain's statements are signed afresh at each issuance),
    // and a forgery under exactly its header.
    let genuine = fx.pid();
    let header = crate::jose::CompactJws::parse(genuine.issuer_jwt()).unwrap().into_header();
    let forger = SoftwareSigner::generate().unwrap().with_kid(fx.issuer_key.kid().unwrap());
    let forged_sd = fx.issue_pid(|_| {}, |h| *h = header.clone(), &forger);
    let encoded = |sd: &SdJwt| sd.issuer_jwt().split('.').next().unwrap().to_owned();
    assert_eq!(encoded(&forged_sd), encoded(&genuine), "the same header");
    let forged = present(&fx, &forged_sd, &paths(), RP, NONCE, NOW);
    assert_eq!(block_on(verify_presentation(&forged, &q.credentials[0], &ctx)).unwrap_err(), Refusal::BadSignature);
    for _ in 0..2 {
        let p = present(&fx, &genuine, &paths(), &fx.client_id().to_string(), NONCE, NOW);
        let v = block_on(verify_presentation(&p, &q.credentials[0], &ctx)).unwrap();
        assert_eq!(v.claims["given_name"], "Mario");
    }
    assert_eq!(memo.len(), 1, "one header for the forged and the genuine credentials");
    assert_eq!(block_on(verify_presentation(&forged, &q.credentials[0], &ctx)).unwrap_err(), Refusal::BadSignature);
}

#[test]
fn revoked_and_suspended_credentials_are_refused() {
    let fx = Fixture::new();
    assert_eq!(check(&fx, &good(&fx), &Lists::with(&fx, 3, StatusValue::Invalid)).unwrap_err(), Refusal::Revoked);
    assert_eq!(check(&fx, &good(&fx), &Lists::with(&fx, 3, StatusValue::Suspended)).unwrap_err(), Refusal::Suspended);
    // Another index suspended: ours is valid.
    check(&fx, &good(&fx), &Lists::with(&fx, 4, StatusValue::Suspended)).unwrap();
    // Suspended accepted by policy.
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let cache = StatusCache::new();
    let lists = Lists::with(&fx, 3, StatusValue::Suspended);
    let ctx = PresentationContext { federation_anchors: &anchors, status: Some((&cache, &lists)), accept_suspended: true, ..PresentationContext::new(&cid, NONCE, NOW) };
    let v = block_on(verify_presentation(&good(&fx), &Fixture::pid_query().credentials[0], &ctx)).unwrap();
    assert_eq!(v.status, StatusOutcome::SuspendedAccepted);
    // The list cannot be fetched.
    let mut none = valid_lists(&fx);
    none.tokens.clear();
    assert!(matches!(check(&fx, &good(&fx), &none).unwrap_err(), Refusal::StatusUnavailable(_)));
}

#[test]
fn expired_credential_is_refused() {
    let fx = Fixture::new();
    let sd = fx.pid_with(|c| {
        c.insert("iat".into(), (NOW.secs() - 10_000).into());
        c.insert("exp".into(), (NOW.secs() - 3_600).into());
    });
    assert_eq!(check(&fx, &present(&fx, &sd, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err(), Refusal::Expired { exp: NOW.secs() - 3_600 });
}

/// IT-Wallet's SD-JWT VC data model makes `exp` REQUIRED: a credential without one is
/// refused as invalid (nothing bounds its validity).
#[test]
fn a_credential_without_exp_is_refused() {
    let fx = Fixture::new();
    let sd = fx.pid_with(|c| drop(c.remove("exp")));
    let e = check(&fx, &present(&fx, &sd, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
    assert_eq!(e, Refusal::InvalidCredential(crate::sd_jwt::SdJwtError::BadClaim("exp")));
    assert_eq!(e.code(), "invalid_credential");
}

/// IT-Wallet 1.4 §4.1, §8 ATT-015: the credential's data model. `issuing_authority` and
/// `issuing_country` are REQUIRED in every SD-JWT VC; a disclosed attribute out of its
/// type's form (here the PID's `birthdate`) is refused, naming the claim.
#[test]
fn a_credential_breaking_its_data_model_is_refused() {
    let fx = Fixture::new();
    let data_model = |e: Refusal| match e {
        Refusal::DataModel(crate::vc::VcError::InvalidAttribute { claim, .. }) => claim,
        other => panic!("{other:?}"),
    };
    for missing in ["issuing_authority", "issuing_country"] {
        let sd = fx.pid_with(|c| drop(c.remove(missing)));
        let e = check(&fx, &present(&fx, &sd, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
        assert_eq!(e.code(), "invalid_data_model");
        assert_eq!(data_model(e), missing);
    }
    let sd = fx.pid_with(|c| drop(c.insert("issuing_country".into(), "Italia".into())));
    assert_eq!(data_model(check(&fx, &present(&fx, &sd, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err()), "issuing_country");
    let sd = fx.pid_with(|c| drop(c.insert("birthdate".into(), "10/01/1980".into())));
    let mut with_birthdate = paths();
    with_birthdate.push(ClaimPath::key("birthdate"));
    let q = DcqlQuery::parse(r#"{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:it:1"]},"claims":[{"path":["given_name"]},{"path":["family_name"]},{"path":["place_of_birth","locality"]},{"path":["birthdate"]}]}]}"#).unwrap();
    let (cid, anchors, x509, cache) = (fx.client_id(), [fx.anchor()], fx.pki.anchors(), StatusCache::new());
    let lists = valid_lists(&fx);
    let ctx = PresentationContext { federation_anchors: &anchors, x509_anchors: Some(&x509), status: Some((&cache, &lists)), ..PresentationContext::new(&cid, NONCE, NOW) };
    let e = block_on(verify_presentation(&present(&fx, &sd, &with_birthdate, RP, NONCE, NOW), &q.credentials[0], &ctx)).unwrap_err();
    assert_eq!(e.http_status(), 400);
    assert_eq!(data_model(e), "birthdate");
}

#[test]
fn extra_or_missing_disclosures_are_refused() {
    let fx = Fixture::new();
    let mut more = paths();
    more.push(ClaimPath::key("tax_id_code"));
    let e = check(&fx, &present(&fx, &fx.pid(), &more, RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
    assert_eq!(e, Refusal::DoesNotMatchQuery(MatchError::ExtraClaim { id: "pid".into(), path: "tax_id_code".into() }));
    let less = &paths()[..2];
    let e = check(&fx, &present(&fx, &fx.pid(), less, RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
    assert_eq!(e, Refusal::DoesNotMatchQuery(MatchError::MissingClaims { id: "pid".into(), claims: vec!["place_of_birth.locality".into()] }));
}

fn verdict_for(fx: &Fixture, vp: VpToken, state: Option<&str>, key: &crate::jose::Jwk) -> Verdict {
    let resp = AuthorizationResponse { vp_token: vp, state: state.map(str::to_owned) };
    let posted = PostedResponse::Encrypted(resp.encrypt(key, ContentEncryption::A256Gcm, NONCE).unwrap());
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let ctx = PresentationContext { federation_anchors: &anchors, ..PresentationContext::new(&cid, NONCE, NOW) };
    let q = Fixture::pid_query();
    let keys = [fx.rp_enc.clone()];
    let expect = ResponseExpectation { query: &q, state: Some(STATE), decryption_keys: &keys, allowed_enc: &[ContentEncryption::A256Gcm] };
    block_on(verify_response(&posted, &expect, &ctx))
}

#[test]
fn vp_token_answering_more_or_less_than_the_query_is_refused() {
    let fx = Fixture::new();
    let key = fx.rp_enc.public_jwk().clone();
    let extra = VpToken([("pid".to_owned(), vec![good(&fx)]), ("mdl".to_owned(), vec![good(&fx)])].into());
    assert!(matches!(
        verdict_for(&fx, extra, Some(STATE), &key),
        Verdict::Refused { reason: Refusal::DoesNotMatchQuery(MatchError::UnknownCredentialId(ref id)), .. } if id == "mdl"
    ));
    assert!(matches!(
        verdict_for(&fx, VpToken::default(), Some(STATE), &key),
        Verdict::Refused { reason: Refusal::DoesNotMatchQuery(MatchError::MissingCredential(ref id)), .. } if id == "pid"
    ));
    let two = VpToken([("pid".to_owned(), vec![good(&fx), good(&fx)])].into());
    assert!(matches!(verdict_for(&fx, two, Some(STATE), &key), Verdict::Refused { reason: Refusal::DoesNotMatchQuery(MatchError::MultipleNotAllowed(_)), .. }));
    let ok = VpToken([("pid".to_owned(), vec![good(&fx)])].into());
    assert!(matches!(verdict_for(&fx, ok, Some(STATE), &key), Verdict::Verified(_)));
}

#[test]
fn response_for_another_session_or_key_is_refused() {
    let fx = Fixture::new();
    let ok = || VpToken([("pid".to_owned(), vec![good(&fx)])].into());
    let key = fx.rp_enc.public_jwk().clone();
    assert!(matches!(verdict_for(&fx, ok(), Some("other-state"), &key), Verdict::Refused { reason: Refusal::Response(ResponseError::StateMismatch), .. }));
    let other = crate::jose::DecryptionKey::generate().unwrap();
    assert!(matches!(verdict_for(&fx, ok(), Some(STATE), other.public_jwk()), Verdict::Refused { reason: Refusal::Response(ResponseError::UnknownKid(_)), .. }));
}

#[test]
fn declined_by_the_citizen() {
    let fx = Fixture::new();
    let cid = fx.client_id();
    let ctx = PresentationContext::new(&cid, NONCE, NOW);
    let q = Fixture::pid_query();
    let expect = ResponseExpectation { query: &q, state: Some(STATE), decryption_keys: &[], allowed_enc: &[] };
    let posted = PostedResponse::Error(ErrorResponse::access_denied(Some(STATE.into())));
    assert!(matches!(block_on(verify_response(&posted, &expect, &ctx)), Verdict::Declined(ErrorResponse { error: crate::oid4vp::WalletErrorCode::AccessDenied, .. })));
    let posted = PostedResponse::Error(ErrorResponse::access_denied(Some("other".into())));
    assert!(matches!(block_on(verify_response(&posted, &expect, &ctx)), Verdict::Refused { reason: Refusal::Response(ResponseError::StateMismatch), .. }));
}

/// The futures are `Send`: a tokio service can spawn them.
#[test]
fn verification_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let fx = Fixture::new();
    let cid = fx.client_id();
    let ctx = PresentationContext::new(&cid, NONCE, NOW);
    let q = Fixture::pid_query();
    let p = good(&fx);
    let f = verify_presentation(&p, &q.credentials[0], &ctx);
    assert_send(&f);
    let posted = PostedResponse::Error(ErrorResponse::access_denied(None));
    let expect = ResponseExpectation { query: &q, state: None, decryption_keys: &[], allowed_enc: &[] };
    let g = verify_response(&posted, &expect, &ctx);
    assert_send(&g);
    assert!(matches!(block_on(g), Verdict::Declined(_)));
    drop(f);
}

/// The cache honours `ttl` (600 s here): a fresh copy is reused, a stale one fetched again.
#[test]
fn status_cache_honours_ttl() {
    let fx = Fixture::new();
    let lists = valid_lists(&fx);
    let cache = StatusCache::new();
    let jwks = crate::jose::JwkSet { keys: vec![fx.issuer_key.public_jwk()] };
    let keys = issuer::StatusSignerKeys { jwks: Some(&jwks), x509: None };
    let r = crate::status::StatusReference { idx: 3, uri: STATUS_URI.into() };
    assert_eq!(block_on(cache.lookup(&r, &lists, &keys, NOW)), Ok(StatusValue::Valid));
    assert_eq!(block_on(cache.lookup(&r, &lists, &keys, NOW.plus(599))), Ok(StatusValue::Valid));
    assert_eq!(lists.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(block_on(cache.lookup(&r, &lists, &keys, NOW.plus(600))), Ok(StatusValue::Valid));
    assert_eq!(lists.fetches.load(Ordering::SeqCst), 2);
    // A status token signed by a key the issuer does not publish.
    let other = Fixture::new();
    let forged = Lists::with(&other, 3, StatusValue::Valid);
    let e = block_on(StatusCache::new().lookup(&r, &forged, &keys, NOW)).unwrap_err();
    assert!(matches!(e, StatusLookupError::Status(crate::status::StatusError::KeyResolution(_))), "{e:?}");
}

/// Presentations meeting one list not yet cached share its fetch, and each verifies the
/// token with its own issuer's keys: a caller trusting other keys is refused, though it
/// waited on the same fetch.
#[test]
fn status_lookups_that_overlap_share_one_fetch_but_not_the_trust() {
    use std::task::{Context, Poll, Waker};
    struct Gated<'a>(&'a Lists, std::sync::Mutex<bool>);
    impl StatusFetcher for Gated<'_> {
        fn fetch<'a>(&'a self, uri: &'a str) -> StatusFuture<'a> {
            Box::pin(async move {
                std::future::poll_fn(|_| if *self.1.lock().unwrap() { Poll::Ready(()) } else { Poll::Pending }).await;
                self.0.fetch(uri).await
            })
        }
    }
    let fx = Fixture::new();
    let lists = valid_lists(&fx);
    let gated = Gated(&lists, std::sync::Mutex::new(false));
    let cache = StatusCache::new();
    let jwks = crate::jose::JwkSet { keys: vec![fx.issuer_key.public_jwk()] };
    let other_jwks = crate::jose::JwkSet { keys: vec![Fixture::new().issuer_key.public_jwk()] };
    let keys = issuer::StatusSignerKeys { jwks: Some(&jwks), x509: None };
    let other = issuer::StatusSignerKeys { jwks: Some(&other_jwks), x509: None };
    let r = crate::status::StatusReference { idx: 3, uri: STATUS_URI.into() };
    let mut lookups: Vec<_> = (0..6).map(|i| Box::pin(cache.lookup(&r, &gated, if i == 4 { &other } else { &keys }, NOW))).collect();
    let mut cx = Context::from_waker(Waker::noop());
    for l in &mut lookups {
        assert!(l.as_mut().poll(&mut cx).is_pending());
    }
    *gated.1.lock().unwrap() = true;
    let mut done: Vec<Option<Result<StatusValue, StatusLookupError>>> = vec![None; lookups.len()];
    while done.iter().any(Option::is_none) {
        for (l, d) in lookups.iter_mut().zip(&mut done) {
            if d.is_none()
                && let Poll::Ready(v) = l.as_mut().poll(&mut cx)
            {
                *d = Some(v);
            }
        }
    }
    assert_eq!(lists.fetches.load(Ordering::SeqCst), 1, "one fetch for six lookups");
    for (i, d) in done.into_iter().flatten().enumerate() {
        if i == 4 {
            assert!(matches!(d, Err(StatusLookupError::Status(crate::status::StatusError::KeyResolution(_)))), "{d:?}");
        } else {
            assert_eq!(d, Ok(StatusValue::Valid));
        }
    }
}

/// The same verdict through `verify_response` and through `decrypt_response` then
/// `verify_decrypted`, for a verified response and for each refusal after decryption.
#[test]
fn verify_response_is_decrypt_then_verify_decrypted() {
    fn summary(v: &Verdict) -> String {
        match v {
            Verdict::Verified(r) => {
                let creds: Vec<String> = r.credentials.iter().map(|(id, l)| format!("{id}:{:?}", l.iter().map(|p| &p.claims).collect::<Vec<_>>())).collect();
                format!("verified {:?} {creds:?}", r.state)
            }
            Verdict::Refused { credential, reason } => format!("refused {credential:?} {reason:?}"),
            Verdict::Declined(e) => format!("declined {e:?}"),
        }
    }
    let fx = Fixture::new();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let ctx = PresentationContext { federation_anchors: &anchors, ..PresentationContext::new(&cid, NONCE, NOW) };
    let q = Fixture::pid_query();
    let keys = [fx.rp_enc.clone()];
    let enc = [ContentEncryption::A256Gcm];
    let expect = ResponseExpectation { query: &q, state: Some(STATE), decryption_keys: &keys, allowed_enc: &enc };
    let other_nonce = present(&fx, &fx.pid(), &paths(), RP, "another-nonce-another-nonce-another-nonce", NOW);
    let cases = [
        (VpToken([("pid".to_owned(), vec![good(&fx)])].into()), Some(STATE)),
        (VpToken([("pid".to_owned(), vec![good(&fx)])].into()), Some("other-state")),
        (VpToken([("pid".to_owned(), vec![good(&fx)])].into()), None),
        (VpToken([("pid".to_owned(), vec![other_nonce])].into()), Some(STATE)),
        (VpToken([("pid".to_owned(), vec![good(&fx), good(&fx)])].into()), Some(STATE)),
        (VpToken([("pid".to_owned(), vec![good(&fx)]), ("mdl".to_owned(), vec![good(&fx)])].into()), Some(STATE)),
        (VpToken::default(), Some(STATE)),
    ];
    let mut kinds = Vec::new();
    for (vp, state) in cases {
        let resp = AuthorizationResponse { vp_token: vp, state: state.map(str::to_owned) };
        let jwe = resp.encrypt(fx.rp_enc.public_jwk(), ContentEncryption::A256Gcm, NONCE).unwrap();
        let whole = block_on(verify_response(&PostedResponse::Encrypted(jwe.clone()), &expect, &ctx));
        let decrypted = decrypt_response(&jwe, &keys, &enc).unwrap();
        let split = block_on(verify_decrypted(&decrypted, &expect.session(), &ctx));
        assert_eq!(summary(&whole), summary(&split));
        kinds.push(matches!(whole, Verdict::Verified(_)));
    }
    assert_eq!(kinds, [true, false, false, false, false, false, false]);
}

#[test]
fn verdict_parts_display_and_serialize_without_debug_text() {
    let r = Refusal::KeyBinding(KeyBindingFailure::NonceMismatch);
    assert_eq!(r.to_string(), "key binding: the KB-JWT nonce is not this session's");
    assert_eq!(Refusal::KeyBinding(KeyBindingFailure::AudMismatch).to_string(), "key binding: the KB-JWT aud is not this verifier's client_id");
    assert_eq!(KeyBindingFailure::IatOutOfWindow.as_str(), "iat_out_of_window");
    let missing = Refusal::DoesNotMatchQuery(MatchError::MissingClaims { id: "pid".into(), claims: vec!["birthdate".into(), "place_of_birth.locality".into()] });
    assert_eq!(missing.to_string(), "presentation for `pid` lacks claims birthdate, place_of_birth.locality");
    for f in [
        KeyBindingFailure::Missing,
        KeyBindingFailure::WrongTyp,
        KeyBindingFailure::NoHolderKey,
        KeyBindingFailure::BadSignature,
        KeyBindingFailure::AudMismatch,
        KeyBindingFailure::NonceMismatch,
        KeyBindingFailure::IatOutOfWindow,
        KeyBindingFailure::SdHashMismatch,
    ] {
        let shown = Refusal::KeyBinding(f).to_string();
        assert!(!shown.contains(&format!("{f:?}")), "{shown}");
    }

    let chain = IssuerTrustPath::TrustChain {
        trust_anchor: EntityId::new(TA).unwrap(),
        entities: vec![ISSUER.into(), TA.into()],
        from_header: true,
        organization_name: Some("PID Provider".into()),
        trust_mark: None,
    };
    assert_eq!(chain.as_str(), "trust_chain");
    assert_eq!(
        serde_json::to_value(&chain).unwrap(),
        serde_json::json!({"kind": "trust_chain", "trust_anchor": TA, "entities": [ISSUER, TA], "from_header": true, "organization_name": "PID Provider"})
    );
    assert_eq!(chain.to_string(), format!("federation trust chain (from the credential) to {TA}"));
    let x5c = IssuerTrustPath::X5c { san_uris: vec![ISSUER.into()], san_dns: vec![] };
    assert_eq!(serde_json::to_value(&x5c).unwrap(), serde_json::json!({"kind": "x5c", "san_uris": [ISSUER], "san_dns": []}));

    let json = |s: StatusOutcome| serde_json::to_value(s).unwrap();
    assert_eq!(json(StatusOutcome::Valid(StatusValue::Valid)), serde_json::json!({"outcome": "valid", "checked": true, "value": "VALID"}));
    assert_eq!(json(StatusOutcome::Valid(StatusValue::AttributeUpdate)), serde_json::json!({"outcome": "valid", "checked": true, "value": "ATTRIBUTE_UPDATE"}));
    assert_eq!(json(StatusOutcome::SuspendedAccepted), serde_json::json!({"outcome": "suspended_accepted", "checked": true, "value": "SUSPENDED"}));
    assert_eq!(json(StatusOutcome::NoStatus), serde_json::json!({"outcome": "no_status", "checked": false}));
    assert_eq!(json(StatusOutcome::NotChecked), serde_json::json!({"outcome": "not_checked", "checked": false}));
    assert_eq!(StatusOutcome::Valid(StatusValue::Update).to_string(), "valid (UPDATE)");
    assert_eq!(StatusOutcome::NotChecked.to_string(), "not_checked");
}

/// Every refusal has its own stable code, and exactly the ones that say "could not check"
/// are indeterminate, by value and by stored code alike.
#[test]
fn every_refusal_has_a_distinct_code_and_the_indeterminate_ones_are_named() {
    let all = [
        Refusal::Malformed("x".into()),
        Refusal::UntrustedIssuer("x".into()),
        Refusal::UntrustedAuthority { query: "q".into(), unsupported: vec![] },
        Refusal::IssuerNotAllowedForVct { issuer: "i".into(), vct: "v".into() },
        Refusal::BadSignature,
        Refusal::Expired { exp: 1 },
        Refusal::NotYetValid { nbf: 1 },
        Refusal::KeyBinding(KeyBindingFailure::Missing),
        Refusal::InvalidCredential(crate::sd_jwt::SdJwtError::Malformed("x")),
        Refusal::DataModel(crate::vc::VcError::InvalidAttribute { credential: "PID", claim: "birthdate", reason: "x".into() }),
        Refusal::Revoked,
        Refusal::Suspended,
        Refusal::UnknownStatus(0x0c),
        Refusal::StatusUnavailable("x".into()),
        Refusal::CertificateRevoked(CrlError::Revoked { index: 0, serial: "01".into(), revoked_at: 1 }),
        Refusal::CertificateStatusUnknown(CrlError::Unavailable { uri: "u".into(), detail: "d".into() }),
        Refusal::DoesNotMatchQuery(MatchError::UnknownCredentialId("x".into())),
        Refusal::Response(crate::oid4vp::response::ResponseError::TooLarge),
        Refusal::UnsupportedFormat("mso_mdoc".into()),
    ];
    let codes: std::collections::BTreeSet<&str> = all.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), all.len(), "{codes:?}");
    assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    let indeterminate: Vec<&str> = all.iter().filter(|r| r.is_indeterminate()).map(Refusal::code).collect();
    assert_eq!(indeterminate, ["status_not_understood", "status_unavailable", "issuer_certificate_status_unknown", "unsupported_format"]);
    for r in &all {
        assert_eq!(Refusal::code_is_indeterminate(r.code()), r.is_indeterminate(), "{}", r.code());
    }
}

/// `iss` is read early (before the signatures, to find the issuer's key) as a string only:
/// a number, an array, `null` or no `iss` refuses the presentation.
#[test]
fn iss_read_early_is_a_string_or_absent() {
    let fx = Fixture::new();
    let jwt = |payload: &str| format!("{}.{}.{}", crate::jose::b64::encode(r#"{"alg":"ES256","typ":"dc+sd-jwt"}"#), crate::jose::b64::encode(payload), crate::jose::b64::encode([7u8; 64]));
    let l = valid_lists(&fx);
    for payload in [r#"{"vct":"x"}"#, r#"{"iss":7}"#, r#"{"iss":null}"#, r#"{"iss":["https://issuer.example.it"]}"#] {
        let p = format!("{}~", jwt(payload));
        assert_eq!(check(&fx, &p, &l).unwrap_err(), Refusal::Malformed("issuer JWT has no iss".into()), "{payload}");
    }
}

/// Every way an issuer's trust can fail after its credential's signature is made (IT-Wallet
/// 1.4 §8 "the issuer is untrusted"): a valid chain about another entity than `iss` (a
/// trusted issuer signing in another's name), an `x5c` alone to a foreign CA, an `x5c` leaf
/// that does not name the issuer, a chain with an `x5c` leaf of another key. Each is 403
/// with its reason.
#[test]
fn each_issuer_trust_failure_is_refused_with_its_reason() {
    let fx = Fixture::new();
    let l = valid_lists(&fx);
    let refused = |sd: &SdJwt, case: &str| {
        let e = check(&fx, &present(&fx, sd, &paths(), RP, NONCE, NOW), &l).expect_err(case);
        assert_eq!(e.http_status(), 403, "{e:?}");
        match e {
            Refusal::UntrustedIssuer(why) => why,
            other => panic!("{other:?}"),
        }
    };
    // Our issuer's valid chain, but the credential says another issuer.
    let impostor = fx.issue_pid(|c| drop(c.insert("iss".into(), "https://other.example.it".into())), |_| {}, &fx.issuer_key);
    let why = refused(&impostor, "a chain about another entity");
    assert!(why.contains("the trust chain is about"), "{why}");
    // x5c only, from another federation's CA.
    let foreign = Pki::new().leaf(&fx.issuer_key, ISSUER);
    let why = refused(&fx.issue_pid(|_| {}, |h| { h.trust_chain = None; h.x5c = Some(vec![b64(&foreign)]); }, &fx.issuer_key), "a foreign CA");
    assert!(why.starts_with("x5c: "), "{why}");
    // x5c only, our CA, but the leaf names someone else.
    let elsewhere = fx.pki.leaf(&fx.issuer_key, "https://else.example.it");
    let why = refused(&fx.issue_pid(|_| {}, |h| { h.trust_chain = None; h.x5c = Some(vec![b64(&elsewhere)]); }, &fx.issuer_key), "a leaf naming another");
    assert!(why.contains("does not name the issuer"), "{why}");
    // The chain, with an x5c leaf certifying another key.
    let other_leaf = fx.pki.leaf(&SoftwareSigner::generate().unwrap(), ISSUER);
    let why = refused(&fx.issue_pid(|_| {}, |h| h.x5c = Some(vec![b64(&other_leaf)]), &fx.issuer_key), "a leaf of another key");
    assert!(why.contains("x5c leaf key is not the issuer's federation key"), "{why}");
}

/// A KB-JWT on a credential bound to no key (no `cnf`), and a malformed `cnf`: refused
/// (ALL-006: nothing proves who presents it).
#[test]
fn key_binding_to_a_credential_without_a_holder_key_is_refused() {
    let fx = Fixture::new();
    let l = valid_lists(&fx);
    let unbound = fx.pid_with(|c| drop(c.remove("cnf")));
    let e = check(&fx, &present(&fx, &unbound, &paths(), RP, NONCE, NOW), &l).unwrap_err();
    assert_eq!(e, Refusal::KeyBinding(KeyBindingFailure::NoHolderKey));
    assert_eq!(e.http_status(), 403);
    let malformed = fx.pid_with(|c| drop(c.insert("cnf".into(), serde_json::json!({"jwk": 1}))));
    let e = check(&fx, &present(&fx, &malformed, &paths(), RP, NONCE, NOW), &l).unwrap_err();
    assert_eq!(e, Refusal::InvalidCredential(crate::sd_jwt::SdJwtError::BadClaim("cnf.jwk")));
}

/// A KB-JWT issued in the future, beyond the tolerated skew (ATT-013): refused like a stale
/// one.
#[test]
fn a_kb_jwt_from_the_future_is_refused() {
    let fx = Fixture::new();
    let ahead = present(&fx, &fx.pid(), &paths(), RP, NONCE, NOW.plus(600));
    assert_eq!(check(&fx, &ahead, &valid_lists(&fx)).unwrap_err(), Refusal::KeyBinding(KeyBindingFailure::IatOutOfWindow));
}

/// A malformed `status` claim cannot be checked (indeterminate); a status value the
/// verifier does not know is refused as not understood (IT-Wallet 1.4: the RP SHOULD reject
/// what it cannot establish).
#[test]
fn a_malformed_status_claim_or_an_unknown_status_value_is_refused() {
    let fx = Fixture::new();
    let sd = fx.pid_with(|c| drop(c.insert("status".into(), serde_json::json!({"status_list": {"idx": "x", "uri": STATUS_URI}}))));
    let e = check(&fx, &present(&fx, &sd, &paths(), RP, NONCE, NOW), &valid_lists(&fx)).unwrap_err();
    assert!(matches!(&e, Refusal::StatusUnavailable(m) if m.starts_with("status claim: ")), "{e:?}");
    assert!(e.is_indeterminate());
    let mut list = StatusList::new(Bits::from_u64(4).unwrap(), 16);
    list.set(3, StatusValue::Other(0x0C)).unwrap();
    let token = StatusListToken { list, uri: STATUS_URI.into(), iss: Some(ISSUER.into()), iat: NOW.plus(-10), exp: Some(NOW.plus(3600)), ttl: Some(600), aggregation_uri: None };
    let jwt = token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(fx.issuer_key.kid()), &fx.issuer_key).unwrap();
    let lists = Lists { tokens: HashMap::from([(STATUS_URI.to_owned(), jwt)]), fetches: AtomicUsize::new(0) };
    let e = check(&fx, &good(&fx), &lists).unwrap_err();
    assert_eq!(e, Refusal::UnknownStatus(0x0C));
    assert!(e.is_indeterminate());
}

/// An `mso_mdoc` presentation: not verified yet (mdoc comes later), so never verified:
/// refused as an unsupported format, an indeterminate verdict.
#[test]
fn an_mdoc_presentation_is_refused_as_unsupported_for_now() {
    let fx = Fixture::new();
    let q = crate::oid4vp::dcql::DcqlQuery::from_value(serde_json::json!({"credentials": [{"id": "mdl", "format": "mso_mdoc", "meta": {"doctype_value": "org.iso.18013.5.1.mDL"}, "claims": [{"path": ["org.iso.18013.5.1", "family_name"]}]}]})).unwrap();
    let cid = fx.client_id();
    let ctx = PresentationContext::new(&cid, NONCE, NOW);
    let e = block_on(verify_presentation("o2d2ZXJzaW9uYzEuMA", &q.credentials[0], &ctx)).unwrap_err();
    assert!(matches!(&e, Refusal::UnsupportedFormat(f) if f.contains("mso_mdoc")), "{e:?}");
    assert!(e.is_indeterminate());
}

/// What an [`IssuerMarks`] answers, and the issuers it was asked about.
struct Marks {
    required: bool,
    holders: Vec<String>,
    asked: std::sync::Mutex<Vec<String>>,
}

impl IssuerMarks for Marks {
    fn required(&self) -> bool {
        self.required
    }
    fn check<'a>(&'a self, chain: &'a ValidatedChain, _now: UnixTime) -> MarksFuture<'a> {
        let sub = chain.subject.claims.sub.to_string();
        self.asked.lock().unwrap().push(sub.clone());
        let held = HeldTrustMark { trust_mark_type: format!("{TA}/trust_marks/openid_credential_issuer/public"), issuer: TA.into() };
        let r = if self.holders.contains(&sub) { Ok(Some(held)) } else { Err(format!("{sub} holds no valid trust mark of the types required")) };
        Box::pin(async move { r })
    }
}

/// IT-Wallet 1.4 §8: "the issuer is untrusted: … Trust Mark or policy is missing". The
/// issuer's validated chain is put to the required marks; an issuer without one is refused
/// as untrusted, whatever else holds; one trusted by `x5c` alone cannot show a mark.
#[test]
fn an_issuer_without_a_required_trust_mark_is_untrusted() {
    let fx = Fixture::new();
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let q = Fixture::pid_query();
    let verify = |p: &str, marks: &Marks| {
        let ctx = PresentationContext { federation_anchors: &anchors, x509_anchors: Some(&x509), issuer_marks: Some(marks), ..PresentationContext::new(&cid, NONCE, NOW) };
        block_on(verify_presentation(p, &q.credentials[0], &ctx))
    };
    let holds = Marks { required: true, holders: vec![ISSUER.into()], asked: Default::default() };
    let v = verify(&good(&fx), &holds).unwrap();
    // The mark held is in the trust path (the verifier's audit panel shows it).
    let IssuerTrustPath::TrustChain { trust_mark: Some(m), .. } = &v.issuer_trust else { panic!("{:?}", v.issuer_trust) };
    assert_eq!((m.trust_mark_type.as_str(), m.issuer.as_str()), (format!("{TA}/trust_marks/openid_credential_issuer/public").as_str(), TA));
    assert_eq!(serde_json::to_value(&v.issuer_trust).unwrap()["trust_mark"], serde_json::json!({"trust_mark_type": m.trust_mark_type, "issuer": TA}));
    assert_eq!(*holds.asked.lock().unwrap(), [ISSUER]);

    let lacks = Marks { required: true, holders: vec![], asked: Default::default() };
    let Err(Refusal::UntrustedIssuer(why)) = verify(&good(&fx), &lacks) else { panic!("an issuer without the mark was trusted") };
    assert_eq!(why, format!("trust mark: {ISSUER} holds no valid trust mark of the types required"));

    // Known by its certificate alone: no Entity Configuration to carry a mark.
    let sd = fx.issue_pid(|_| {}, |h| h.trust_chain = None, &fx.issuer_key);
    let x5c_only = present(&fx, &sd, &paths(), RP, NONCE, NOW);
    let Err(Refusal::UntrustedIssuer(why)) = verify(&x5c_only, &holds) else { panic!("an x5c-only issuer was trusted when marks are required") };
    assert!(why.starts_with("trust mark: a trust mark is required of issuers") && why.contains(ISSUER), "{why}");
    // Not required: the x5c path is as before (then refused for the vct, not for a mark).
    let off = Marks { required: false, holders: vec![], asked: Default::default() };
    assert_eq!(verify(&x5c_only, &off).unwrap_err(), Refusal::IssuerNotAllowedForVct { issuer: ISSUER.into(), vct: PID_VCT.into() });
}

/// The PID query with `trusted_authorities` set to `ta`.
fn pid_query_trusting(ta: Value) -> DcqlQuery {
    let mut v = Fixture::pid_query().to_value();
    v["credentials"][0]["trusted_authorities"] = ta;
    DcqlQuery::from_value(v).unwrap()
}

/// [`check`] against `q` (with `x509` anchors when `with_x509`).
fn check_query(fx: &Fixture, presentation: &str, q: &DcqlQuery, with_x509: bool) -> Result<VerifiedPresentation, Refusal> {
    let cid = fx.client_id();
    let anchors = [fx.anchor()];
    let x509 = fx.pki.anchors();
    let cache = StatusCache::new();
    let lists = valid_lists(fx);
    let ctx = PresentationContext {
        federation_anchors: &anchors,
        x509_anchors: with_x509.then_some(&x509),
        status: Some((&cache, &lists)),
        ..PresentationContext::new(&cid, NONCE, NOW)
    };
    block_on(verify_presentation(presentation, &q.credentials[0], &ctx))
}

fn untrusted_authority(unsupported: &[&str]) -> Refusal {
    Refusal::UntrustedAuthority { query: "pid".into(), unsupported: unsupported.iter().map(|s| (*s).to_owned()).collect() }
}

/// OpenID4VP 1.0 §6.1.1 `openid_federation`: an entity of the issuer's validated trust chain
/// (its anchor, or the issuer itself) satisfies the query; another anchor is refused with
/// its own refusal, a definite trust failure (403).
#[test]
fn trusted_authorities_openid_federation_is_matched_on_the_validated_chain() {
    let fx = Fixture::new();
    let p = good(&fx);
    assert!(check_query(&fx, &p, &Fixture::pid_query(), true).is_ok(), "no trusted_authorities: unchanged");
    assert!(check_query(&fx, &p, &pid_query_trusting(serde_json::json!([{"type": "openid_federation", "values": [TA]}])), true).is_ok());
    assert!(check_query(&fx, &p, &pid_query_trusting(serde_json::json!([{"type": "openid_federation", "values": ["https://other.example", ISSUER]}])), true).is_ok());
    let other = pid_query_trusting(serde_json::json!([{"type": "openid_federation", "values": ["https://other-ta.example.it"]}]));
    let r = check_query(&fx, &p, &other, true).unwrap_err();
    assert_eq!(r, untrusted_authority(&[]));
    assert_eq!((r.code(), r.http_status(), r.oauth_code(), r.is_indeterminate()), ("untrusted_authority", 403, "invalid_request", false));
    assert_eq!(r.to_string(), "issuer is none of the trusted authorities of credential query `pid`");
    // One matching entry among others suffices.
    let either = pid_query_trusting(serde_json::json!([{"type": "openid_federation", "values": ["https://other-ta.example.it"]}, {"type": "openid_federation", "values": [TA]}]));
    assert!(check_query(&fx, &p, &either, true).is_ok());
}

/// `aki`: the AKI of a certificate of the issuer's validated `x5c` chain; a leaf without an
/// AKI, another key id, or an `x5c` the verifier did not validate (no X.509 anchors) does not
/// match. Issuers trusted by `x5c` alone have no federation chain to match.
#[test]
fn trusted_authorities_aki_is_matched_on_the_validated_x5c_chain() {
    let fx = Fixture::new();
    let leaf = fx.pki.leaf_with_aki(&fx.issuer_key, ISSUER);
    let sd = fx.issue_pid(|_| {}, |h| h.x5c = Some(vec![b64(&leaf)]), &fx.issuer_key);
    let p = present(&fx, &sd, &paths(), &fx.client_id().to_string(), NONCE, NOW);
    let root = fx.pki.root_key_id();
    let by_root = pid_query_trusting(serde_json::to_value([TrustedAuthorityQuery::aki(&[&root])]).unwrap());
    assert!(check_query(&fx, &p, &by_root, true).is_ok());
    let by_other = pid_query_trusting(serde_json::to_value([TrustedAuthorityQuery::aki(&[b"another key id"])]).unwrap());
    assert_eq!(check_query(&fx, &p, &by_other, true).unwrap_err(), untrusted_authority(&[]));
    // The fixture's usual leaf has no AKI.
    assert_eq!(check_query(&fx, &good(&fx), &by_root, true).unwrap_err(), untrusted_authority(&[]));
    // Trusted by its chain, the x5c not validated (no X.509 anchors): its AKI is not used.
    assert_eq!(check_query(&fx, &p, &by_root, false).unwrap_err(), untrusted_authority(&[]));
    // Trusted by x5c alone: the AKI matches, no federation entity does.
    let sd = fx.issue_pid(|_| {}, |h| { h.x5c = Some(vec![b64(&leaf)]); h.trust_chain = None; }, &fx.issuer_key);
    let p = present(&fx, &sd, &paths(), RP, NONCE, NOW);
    let cid = fx.client_id();
    let x509 = fx.pki.anchors();
    let ctx = PresentationContext { x509_anchors: Some(&x509), x5c_issuer_may_issue_any_vct: true, ..PresentationContext::new(&cid, NONCE, NOW) };
    assert!(block_on(verify_presentation(&p, &by_root.credentials[0], &ctx)).is_ok());
    let fed = pid_query_trusting(serde_json::json!([{"type": "openid_federation", "values": [TA, ISSUER]}]));
    assert_eq!(block_on(verify_presentation(&p, &fed.credentials[0], &ctx)).unwrap_err(), untrusted_authority(&[]));
}

/// `etsi_tl` (no Trusted List support) and unknown types are never matched: alone they
/// refuse, naming what could not be matched; beside a matching entry they change nothing.
#[test]
fn trusted_authorities_etsi_tl_and_unknown_types_never_match() {
    let fx = Fixture::new();
    let p = good(&fx);
    let tl = pid_query_trusting(serde_json::json!([{"type": "etsi_tl", "values": ["https://lotl.example.com"]}, {"type": "x_registry", "values": ["r"]}]));
    let r = check_query(&fx, &p, &tl, true).unwrap_err();
    assert_eq!(r, untrusted_authority(&["etsi_tl", "x_registry"]));
    assert!(!r.is_indeterminate());
    assert_eq!(r.to_string(), "issuer is none of the trusted authorities of credential query `pid` (cannot match etsi_tl, x_registry)");
    let with_fed = pid_query_trusting(serde_json::json!([{"type": "etsi_tl", "values": ["https://lotl.example.com"]}, {"type": "openid_federation", "values": [TA]}]));
    assert!(check_query(&fx, &p, &with_fed, true).is_ok());
}
