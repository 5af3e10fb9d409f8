//! wallet-core's activation flow (the one the phone app and `tessera wallet activate` drive)
//! against this provider over loopback HTTP: login through the test OpenID Provider, key
//! generation, registration, WAA and WUA verified by the wallet, listing, revocation, and
//! the WUA's status flipping in the published list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;

use common::{APP_REDIRECT, Fed};
use wallet_core::attestation::InstanceStatus;
use wallet_core::attestation::key_attestation::SoftwareAttester;
use wallet_core::keystore::SoftwareKeyStore;
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;
use wallet_core::wallet::http::ReqwestHttpClient;
use wallet_core::wallet::{InstanceStore, WalletActivation};

const MARIO: &str = "TINIT-RSSMRA80A01H501U";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_core_activation_end_to_end() {
    let fed = Fed::with_op().await;
    let provider = fed.provider.id.to_string();
    let resolver = Arc::new(fed.x5c_resolver());
    let wallet = tokio::task::spawn_blocking(move || {
        let keys = Arc::new(SoftwareKeyStore::in_memory(SoftwareAttester::development().unwrap()).unwrap());
        WalletActivation::new(provider, keys, Arc::new(ReqwestHttpClient::new().unwrap()), InstanceStore::in_memory().unwrap(), resolver)
    })
    .await
    .unwrap();
    let wallet = Arc::new(wallet);

    let pending = wallet.start_login(APP_REDIRECT).unwrap();
    let back = fed.browse(&pending.url(), MARIO).await;
    let w = wallet.clone();
    let (session, attestations, list) = tokio::task::spawn_blocking(move || {
        let session = w.finish_login(&pending, &back).unwrap();
        let attestations = w.activate(&session).unwrap();
        let list = w.list_instances(&session).unwrap();
        (session, attestations, list)
    })
    .await
    .unwrap();
    assert_eq!(session.fiscal_number, MARIO);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, InstanceStatus::Active);

    let reference = attestations.wallet_unit_attestation.status().clone();
    let status_now = || async {
        let r = fed.http.get(&reference.uri).send().await.unwrap();
        let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let body = r.bytes().await.unwrap();
        StatusListToken::verify_response(ct.as_deref(), &body, &reference, &fed.x5c_resolver(), UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED)
            .unwrap()
            .lookup(reference.idx)
            .unwrap()
    };
    assert_eq!(status_now().await, StatusValue::Valid);

    let w = wallet.clone();
    let id = list[0].id.clone();
    let after = tokio::task::spawn_blocking(move || {
        w.revoke_instance(&session, &id).unwrap();
        w.list_instances(&session).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(after[0].status, InstanceStatus::Revoked);
    assert_eq!(status_now().await, StatusValue::Invalid);
}
