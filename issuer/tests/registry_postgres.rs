//! The registry (the authentic source) in PostgreSQL (`registry_url`): the sample tables
//! loaded into a schema of its own (`samples::load_postgres`, the way `tessera-issuer
//! load-sample` does it), then credentials issued from it over real HTTP: the mDL's claims
//! with their types (text, JSON privileges, the portrait from `bytea` as base64url), a record
//! not ready deferred, the PID, an unknown citizen refused at the offer. Runs when
//! `TESSERA_TEST_POSTGRES_URL` is set (`eval "$(./scripts/postgres.sh)"`);
//! `TESSERA_POSTGRES=required` makes its absence a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::pg::{Schema, postgres_url};
use common::{Fed, LUIGIA, MARIO, MDL, PID, TOKEN, Wallet};
use issuer::presets::Preset;
use serde_json::json;
use wallet_core::oid4vci::CredentialResponse;
use wallet_core::sd_jwt::{StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_issued_from_a_postgresql_registry() {
    let Some(url) = postgres_url("credentials_issued_from_a_postgresql_registry") else { return };
    let schema = Schema::new(&url).await;
    let registry = schema.url.clone();
    let loaded = tokio::task::spawn_blocking(move || Preset::ALL.map(|p| issuer::samples::load_postgres(&registry, p).unwrap())).await.unwrap();
    assert_eq!(loaded, [3, 3, 3]);
    // Loading again replaces the rows (by primary key).
    let registry = schema.url.clone();
    assert_eq!(tokio::task::spawn_blocking(move || issuer::samples::load_postgres(&registry, Preset::Mdl).unwrap()).await.unwrap(), 3);

    let registry = schema.url.clone();
    let fed = Fed::with(move |c| c.registry_url = Some(registry)).await;
    // The SQLite registry the fixture fills is not read: emptied here to be sure.
    for table in ["licences", "residents", "health_cards"] {
        rusqlite::Connection::open(&fed.config.registry).unwrap().execute(&format!("DELETE FROM {table}"), []).unwrap();
    }
    // What both `load-sample` commands call: with `registry_url` set it fills PostgreSQL,
    // never the SQLite file.
    let config = fed.config.clone();
    let (n, place) = tokio::task::spawn_blocking(move || issuer::samples::load_configured(&config, Preset::Mdl).unwrap()).await.unwrap();
    assert_eq!((n, place.as_str()), (3, "the PostgreSQL registry"));
    let sqlite_rows: i64 = rusqlite::Connection::open(&fed.config.registry).unwrap().query_row("SELECT count(*) FROM licences", [], |r| r.get(0)).unwrap();
    assert_eq!(sqlite_rows, 0, "the SQLite registry is left alone");
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());

    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL, PID]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let wua = fed.wua(&[&wallet.keys[0]]);
    for (configuration, vct) in [(MDL, "urn:eudi:mDL:it:1"), (PID, "urn:eudi:pid:it:1")] {
        let nonce = wallet.nonce(&fed).await;
        let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(configuration, wallet.proofs(&fed, &[&wallet.keys[0]], &wua, &nonce)), None).await;
        assert_eq!(s, 200, "{v}");
        let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
        let vc = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
        assert_eq!(vc.vct.as_str(), vct);
        let attrs = vc.attributes();
        assert_eq!(attrs["family_name"], "Rossi");
        if configuration == MDL {
            assert_eq!(attrs["driving_privileges"][1]["vehicle_category_code"], "B", "JSON text parsed");
            let portrait = wallet_core::jose::b64::decode(attrs["portrait"].as_str().unwrap()).unwrap();
            assert_eq!(portrait, issuer::samples::PORTRAIT_JPEG, "bytea as base64url");
        }
    }

    // Luigia's licence is not ready in the PostgreSQL registry: deferred.
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(LUIGIA, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let nonce = wallet.nonce(&fed).await;
    let wua = fed.wua(&[&wallet.keys[0]]);
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[&wallet.keys[0]], &wua, &nonce)), None).await;
    assert_eq!(s, 202, "{v}");

    // A citizen the registry does not know: no offer.
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(TOKEN).json(&json!({"citizen": "NOTACITIZEN00000", "credential_configuration_ids": [MDL]}))).await;
    assert!((400..500).contains(&s), "{s} {v}");
}
