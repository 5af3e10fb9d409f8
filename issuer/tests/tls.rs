//! HTTPS with rustls when `[tls]` is configured: a self-signed certificate made here with
//! rcgen, the issuer served by `serve_listener` over TLS on loopback, a client trusting that
//! certificate reading the metadata, creating an offer and getting a `c_nonce`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;

use issuer::presets::Preset;
use issuer::{Config, Issuer};
use serde_json::{Value, json};
use wallet_core::federation::EntityId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = EntityId::new(format!("https://localhost:{port}")).unwrap();
    let toml = format!(
        "entity_id = \"{id}\"\ndata_dir = \"{}\"\nadmin_token = \"t\"\n[[credentials]]\npreset = \"mdl\"\n[tls]\ncertificate = \"{}\"\nprivate_key = \"{}\"\n",
        dir.path().join("data").display(),
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let config = Config::from_toml(&toml, []).unwrap();
    issuer::samples::load(&config.registry, Preset::Mdl).unwrap();
    let state = Issuer::open(config).unwrap();
    assert!(state.tls().is_some());
    tokio::spawn(issuer::serve_listener(state, listener, std::future::pending()));

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap()])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let md: Value = client.get(format!("{id}/.well-known/openid-credential-issuer")).send().await.unwrap().json().await.unwrap();
    assert_eq!(md["credential_issuer"].as_str(), Some(id.as_str()));
    assert!(md["credential_endpoint"].as_str().unwrap().starts_with("https://localhost:"));
    let r = client.post(format!("{id}/admin/offers")).bearer_auth("t").json(&json!({"citizen": "RSSMRA80A10H501Z", "credential_configuration_ids": ["dc_sd_jwt_mDL"]})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = client.post(format!("{id}/nonce")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["c_nonce"].is_string());
    // Plain HTTP is not served on that port.
    assert!(reqwest::get(format!("http://127.0.0.1:{port}/health")).await.is_err());
}

#[test]
fn a_missing_or_mismatched_certificate_fails_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("other.pem"), other.serialize_pem()).unwrap();
    let mut config = Config::new(EntityId::new("https://localhost:7630").unwrap(), dir.path().join("data"), &[Preset::Mdl]);
    config.tls = Some(service_kit::serve::TlsFiles { certificate: dir.path().join("cert.pem"), private_key: dir.path().join("missing.pem") });
    assert!(Issuer::open(config.clone()).unwrap_err().to_string().contains("missing.pem"));
    config.tls = Some(service_kit::serve::TlsFiles { certificate: dir.path().join("cert.pem"), private_key: dir.path().join("other.pem") });
    assert!(Issuer::open(config).unwrap_err().to_string().starts_with("tls:"));
}
