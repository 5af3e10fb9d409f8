//! Android Key Attestation at the provider, in production mode, over loopback HTTP: a phone
//! whose key store answers with certificate chains from a test "Google" root (the provider
//! is configured with that root's PEM) registers and obtains its attestations; a chain from
//! another root, a wrong challenge and a TEE key under a StrongBox minimum are refused with
//! the spec's codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{Fed, Wallet};
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256};
use wallet_core::attestation::SecurityLevel;
use wallet_core::attestation::key_attestation::{SoftwareAttester, encode_android_attestation};
use wallet_core::jose::Jwk;
use wallet_core::keystore::{KeyStore, KeyStoreError, KeyTag, SoftwareKeyStore};

const MARIO: &str = "TINIT-RSSMRA80A01H501U";

/// DER: tag, short or one-byte long length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = u8::try_from(content.len()).unwrap();
    let mut out = if len < 0x80 { vec![tag, len] } else { vec![tag, 0x81, len] };
    out.extend_from_slice(content);
    out
}

/// The KeyDescription extension (attestation and KeyMint version 300, `level`, the
/// challenge, empty uniqueId and authorization lists).
fn key_description(challenge: &[u8], level: u8) -> Vec<u8> {
    let version = der(0x02, &[0x01, 0x2c]);
    let level = der(0x0a, &[level]);
    let fields = [version.clone(), level.clone(), version, level, der(0x04, challenge), der(0x04, &[]), der(0x30, &[]), der(0x30, &[])];
    der(0x30, &fields.concat())
}

struct Point(Vec<u8>);
impl rcgen::PublicKeyData for Point {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// A certificate authority of the test attestation PKI.
struct Authority {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
    pem: String,
}

impl Authority {
    fn params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now - time::Duration::days(1);
        p.not_after = now + time::Duration::days(365);
        p
    }

    fn root(cn: &str) -> Self {
        let mut params = Self::params(cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { der: cert.der().to_vec(), pem: cert.pem(), params, key }
    }

    /// The key's attestation certificate: the key, the challenge, the level.
    fn attest(&self, key: &Jwk, challenge: &[u8], level: u8) -> Vec<u8> {
        let mut p = Self::params("Android Keystore Key");
        let mut ext = CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 11129, 2, 1, 17], key_description(challenge, level));
        ext.set_criticality(false);
        p.custom_extensions = vec![ext];
        p.signed_by(&Point(key.params.ec_point().unwrap()), &Issuer::from_params(&self.params, &self.key)).unwrap().der().to_vec()
    }
}

/// A phone's key store: keys held (and signing) in software, attested the way the Android
/// Keystore does it, by `authority` at `level` (1 TEE, 2 StrongBox).
struct AndroidPhone {
    keys: SoftwareKeyStore,
    authority: Authority,
    level: u8,
}

impl KeyStore for AndroidPhone {
    fn generate_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        self.keys.generate_key(tag)
    }
    fn public_key(&self, tag: &KeyTag) -> Result<Jwk, KeyStoreError> {
        self.keys.public_key(tag)
    }
    fn sign(&self, tag: &KeyTag, message: &[u8]) -> Result<Vec<u8>, KeyStoreError> {
        self.keys.sign(tag, message)
    }
    fn key_attestation(&self, tag: &KeyTag, challenge: &[u8]) -> Result<String, KeyStoreError> {
        let leaf = self.authority.attest(&self.keys.public_key(tag)?, challenge, self.level);
        Ok(encode_android_attestation(&[leaf, self.authority.der.clone()]))
    }
    fn delete_key(&self, tag: &KeyTag) -> Result<(), KeyStoreError> {
        self.keys.delete_key(tag)
    }
}

fn phone(authority: Authority, level: u8) -> Wallet {
    let keys = SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap();
    Wallet::with_store(Arc::new(AndroidPhone { keys, authority, level }))
}

/// A production provider trusting `root` for Android Key Attestation.
async fn provider(root: &Authority, min: SecurityLevel) -> Fed {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("android-roots.pem");
    std::fs::write(&pem, &root.pem).unwrap();
    let fed = Fed::with(|c| {
        c.production = true;
        c.android_roots = vec![pem];
        c.android_min_security_level = min;
    })
    .await;
    drop(dir); // the roots are read at start
    fed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn android_key_attestation_from_the_configured_root_registers_and_attests() {
    let google = Authority::root("Test Key Attestation Root");
    let fed = provider(&google, SecurityLevel::TrustedEnvironment).await;
    let wallet = phone(google, 2);
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = fed.attest(&wallet).await;
    assert_eq!(status, 200, "{body}");
    let att = Fed::attestations(body);
    let wua = wallet_core::attestation::verify_wua(
        &att.wallet_attestations.wallet_unit_attestation,
        &fed.x5c_resolver(),
        wallet_core::time::UnixTime::now(),
        60,
    )
    .unwrap();
    // StrongBox: LOCAL_INTERNAL, iso_18045_high.
    let storage = &wua.claims().eudi_wallet_info.as_ref().unwrap().key_storage_info;
    assert_eq!(serde_json::to_value(storage.storage_type).unwrap(), "LOCAL_INTERNAL");
    assert_eq!(serde_json::to_value(&wua.claims().key_storage).unwrap(), serde_json::json!(["iso_18045_high"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn android_key_attestation_from_another_root_is_refused() {
    let google = Authority::root("Test Key Attestation Root");
    let fed = provider(&google, SecurityLevel::TrustedEnvironment).await;
    let wallet = phone(Authority::root("Rogue Root"), 2);
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("trusted root"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn android_key_attestation_with_a_wrong_challenge_is_refused() {
    let google = Authority::root("Test Key Attestation Root");
    let fed = provider(&google, SecurityLevel::TrustedEnvironment).await;
    let wallet = phone(google, 2);
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let nonce = fed.nonce().await;
    let mut req = wallet.registration(&nonce);
    req.key_attestation = wallet.registration("a-nonce-from-yesterday").key_attestation;
    let (status, body) = Fed::json(fed.http.post(fed.url("/wallet-instances")).bearer_auth(&token).json(&req)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("invalid_request")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("challenge"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tee_key_under_a_strongbox_minimum_is_an_integrity_check_error() {
    let google = Authority::root("Test Key Attestation Root");
    let fed = provider(&google, SecurityLevel::StrongBox).await;
    let wallet = phone(google, 1);
    let token = fed.provider.state.insecure_create_session(MARIO).unwrap();
    let (status, body) = fed.register(&wallet, &token).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("integrity_check_error")), "{body}");
}
