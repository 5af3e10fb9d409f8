//! HTTPS with rustls when `[tls]` is configured: a self-signed certificate made here with
//! rcgen, the verifier served by `serve_listener` over TLS, a client trusting that
//! certificate fetching the Entity Configuration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::net::SocketAddr;

use verifier::{Config, Verifier};
use wallet_core::federation::EntityId;
use wallet_core::jose::CompactJws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entity_configuration_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let id = EntityId::new(format!("https://localhost:{port}")).unwrap();
    let toml = format!(
        "entity_id = \"{id}\"\ndata_dir = \"{}\"\n[tls]\ncertificate = \"{}\"\nprivate_key = \"{}\"\n",
        dir.path().join("data").display(),
        dir.path().join("cert.pem").display(),
        dir.path().join("key.pem").display()
    );
    let config = Config::from_toml(&toml, []).unwrap();
    let state = Verifier::open(config).unwrap();
    assert!(state.tls().is_some());
    tokio::spawn(verifier::serve_listener(state, listener, std::future::pending()));

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap()])
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .unwrap();
    let r = client.get(format!("{id}/.well-known/openid-federation")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/entity-statement+jwt");
    let ec: serde_json::Value = CompactJws::parse(&r.text().await.unwrap()).unwrap().payload_json().unwrap();
    assert_eq!((ec["iss"].as_str(), ec["sub"].as_str()), (Some(id.as_str()), Some(id.as_str())));
    assert!(ec["metadata"]["openid_credential_verifier"]["response_uris"][0].as_str().unwrap().starts_with("https://localhost:"));
    let r = client.get(format!("{id}/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
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
    let mut config = Config::new(EntityId::new("https://localhost:7620").unwrap(), dir.path().join("data"));
    config.tls = Some(service_kit::serve::TlsFiles { certificate: dir.path().join("cert.pem"), private_key: dir.path().join("missing.pem") });
    assert!(Verifier::open(config.clone()).unwrap_err().to_string().contains("missing.pem"));
    config.tls = Some(service_kit::serve::TlsFiles { certificate: dir.path().join("cert.pem"), private_key: dir.path().join("other.pem") });
    assert!(Verifier::open(config).unwrap_err().to_string().starts_with("tls:"));
}
