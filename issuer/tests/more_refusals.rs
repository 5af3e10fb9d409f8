//! More refusals of the issuer over loopback HTTP, one bad input each, asserting the HTTP
//! status and the OAuth `error` code the spec names (and that nothing was issued or recorded
//! where that matters): credential identifiers the token did not grant, a `request_uri`
//! tried by another client, DPoP `ath`, DPoP `jti` replays at the deferred and notification
//! endpoints, an expired WUA, batches, notifications and deferred transactions of other grants.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{AuthzWallet, Fed, L3, LUIGIA, MARIO, MDL, PID, Wallet};
use serde_json::{Value, json};
use wallet_core::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WuaBuilder, WuaWalletInfo};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vci::{CredentialRequest, CredentialResponse, TokenResponse, dpop_proof, key_proof};
use wallet_core::status::StatusReference;
use wallet_core::time::UnixTime;

/// The `error` code of a refusal's body.
fn err(v: &Value) -> Option<&str> {
    v["error"].as_str()
}

/// The credentials on record for `citizen`.
fn issued(fed: &Fed, citizen: &str) -> Vec<issuer::store::Issued> {
    fed.issuer.store().issued_to(citizen).unwrap()
}

/// `POST /credential` by `credential_identifier` (or, `by_configuration`, by configuration)
/// with the authorization-code wallet's token: one proof by its holder key (its WUA, `iss` =
/// its client id) over a fresh `c_nonce`, a fresh DPoP proof by its DPoP key.
async fn authz_credential(fed: &Fed, w: &AuthzWallet, tokens: &TokenResponse, id: &str, by_configuration: bool) -> (u16, Value) {
    let (s, v) = Fed::json(fed.http.post(fed.url("/nonce"))).await;
    assert_eq!(s, 200, "{v}");
    let nonce = v["c_nonce"].as_str().unwrap().to_owned();
    let wua = fed.wua(&[&w.holder]);
    let proof = key_proof(&w.holder, Some(&wua), Some(&w.client_id()), fed.issuer_id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
    let request = if by_configuration { CredentialRequest::by_configuration(id, vec![proof]) } else { CredentialRequest::by_identifier(id, vec![proof]) };
    let body = serde_json::to_value(request).unwrap();
    let at = &tokens.access_token;
    let d = dpop_proof(&w.dpop, "POST", &fed.url("/credential"), Some(at), None, UnixTime::now()).unwrap();
    Fed::json(fed.http.post(fed.url("/credential")).header("authorization", format!("DPoP {at}")).header("DPoP", d).json(&body)).await
}

/// OpenID4VCI 1.0 §8.2, §8.3.1.2, IT-Wallet 1.4 §3.3 "Credential" (`credential_identifier`
/// if the token returned `credential_identifiers`): an authorization-code token granting the
/// PID's identifier; `/credential` naming an identifier it did not grant (of the issuer's
/// shape for a configuration not granted, or one it never gives out) is 400
/// `unknown_credential_identifier`; by `credential_configuration_id` when identifiers were
/// granted, 400 `invalid_credential_request`; a pre-authorized token (which grants no
/// identifiers) naming one, `unknown_credential_identifier`. Nothing is issued; the granted
/// identifier is then served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_identifier_the_token_did_not_grant_is_unknown_credential_identifier() {
    let fed = Fed::spid_cie().await;
    let w = AuthzWallet::new(&fed);
    let (url, pending) = w.par(&fed, &[PID]).await;
    let back = fed.browse(&url, MARIO, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = w.token(&fed, &code, &pending).await;
    let granted: Vec<String> = tokens.credential_identifiers(PID).map(str::to_owned).collect();
    assert_eq!(granted.len(), 1, "{tokens:?}");

    for other in [format!("{MDL}.registry"), format!("{PID}.another-dataset"), "not-an-identifier".to_owned()] {
        assert!(!granted.contains(&other));
        let (s, v) = authz_credential(&fed, &w, &tokens, &other, false).await;
        assert_eq!((s, err(&v)), (400, Some("unknown_credential_identifier")), "{other}: {v}");
        assert!(v["error_description"].as_str().unwrap().contains(&other), "{v}");
    }
    let (s, v) = authz_credential(&fed, &w, &tokens, PID, true).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_credential_request")), "by configuration when identifiers were granted: {v}");
    assert!(issued(&fed, MARIO).is_empty(), "nothing issued");

    // A pre-authorized token grants no identifiers: naming the one the issuer gives for the
    // very configuration it granted is still unknown.
    let wallet = Wallet::new(1);
    let (offer, tx) = fed.offer(MARIO, &[PID]).await;
    let (_, pre) = Wallet::read_offer(&fed, &offer).await;
    let at = wallet.token(&fed, &pre, &tx).await;
    let k0 = &wallet.keys[0];
    let nonce = wallet.nonce(&fed).await;
    let body = serde_json::to_value(CredentialRequest::by_identifier(granted[0].clone(), wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &nonce))).unwrap();
    let (s, v) = wallet.protected(&fed, "/credential", &at, &body, None).await;
    assert_eq!((s, err(&v)), (400, Some("unknown_credential_identifier")), "an identifier with a pre-authorized token: {v}");
    assert!(issued(&fed, MARIO).is_empty(), "nothing issued");

    let (s, v) = authz_credential(&fed, &w, &tokens, &granted[0], false).await;
    assert_eq!(s, 200, "the granted identifier: {v}");
    assert_eq!(issued(&fed, MARIO).len(), 1);
}

/// RFC 9126 §4 and §2.2, IT-Wallet 1.4 §3.3 steps 1–5 (`request_uri` "bound to
/// `client_id`"; an invalid `client_id` gets a 400, no redirect): another wallet's
/// `client_id` presenting a `request_uri` before its rightful client is refused 400
/// `invalid_request` without a `Location`, and does not spend it: the rightful client then
/// goes through `/authorize`, the citizen's login and the token endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_uri_presented_by_another_client_is_refused_and_stays_for_its_own() {
    let fed = Fed::spid_cie().await;
    let rightful = AuthzWallet::new(&fed);
    let intruder = AuthzWallet::new(&fed);
    let (url, pending) = rightful.par(&fed, &[PID]).await;
    // The intruder has a pushed request of its own: its client_id is one the issuer knows.
    let _ = intruder.par(&fed, &[PID]).await;
    let ours = format!("client_id={}", rightful.client_id());
    assert!(url.contains(&ours), "{url}");
    let stolen = url.replacen(&ours, &format!("client_id={}", intruder.client_id()), 1);

    let r = fed.http.get(&stolen).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").cloned();
    let v: Value = r.json().await.unwrap();
    assert_eq!((status, err(&v)), (400, Some("invalid_request")), "another client's request_uri: {v}");
    assert!(location.is_none(), "no redirect: {location:?}");
    // Twice: the refusal is not a one-off.
    let (s, v) = Fed::json(fed.http.get(&stolen)).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_request")), "{v}");

    let back = fed.browse(&url, MARIO, L3).await;
    let code = AuthzWallet::code(&fed, &back, &pending);
    let tokens = rightful.token(&fed, &code, &pending).await;
    assert_eq!(tokens.credential_identifiers(PID).count(), 1, "{tokens:?}");
}

/// RFC 9449 §4.3 step 12 and §7.1, IT-Wallet 1.4 §3.3 "Credential" (a new DPoP proof "that
/// adds `ath`"): a DPoP proof at `/credential` by the token's own key, for this URL and
/// method, but without `ath`, or with the `ath` of another access token of the same wallet
/// and key, is 401 `invalid_dpop_proof` with `WWW-Authenticate: DPoP`; nothing is issued, and
/// the same request with the right `ath` is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dpop_proof_without_ath_or_with_another_tokens_ath_is_invalid_dpop_proof() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let (url, tx) = fed.offer(MARIO, &[MDL]).await;
        let (_, code) = Wallet::read_offer(&fed, &url).await;
        tokens.push(wallet.token(&fed, &code, &tx).await);
    }
    let (at, other_at) = (&tokens[0], &tokens[1]);
    assert_ne!(at, other_at);
    let k0 = &wallet.keys[0];
    let body = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &wallet.nonce(&fed).await));
    let endpoint = fed.url("/credential");
    for (what, proof) in [
        ("no ath", dpop_proof(&wallet.dpop, "POST", &endpoint, None, None, UnixTime::now()).unwrap()),
        ("the ath of another access token", dpop_proof(&wallet.dpop, "POST", &endpoint, Some(other_at), None, UnixTime::now()).unwrap()),
    ] {
        let r = fed.http.post(&endpoint).header("authorization", format!("DPoP {at}")).header("DPoP", proof).json(&body).send().await.unwrap();
        let status = r.status().as_u16();
        let challenge = r.headers().get("www-authenticate").map(|h| h.to_str().unwrap().to_owned());
        let v: Value = r.json().await.unwrap();
        assert_eq!((status, err(&v)), (401, Some("invalid_dpop_proof")), "{what}: {v}");
        assert!(challenge.as_deref().is_some_and(|c| c.starts_with("DPoP ") && c.contains("invalid_dpop_proof")), "{what}: {challenge:?}");
        assert!(v["error_description"].as_str().unwrap().contains("ath"), "{what}: {v}");
        assert!(issued(&fed, MARIO).is_empty(), "{what}: nothing issued");
    }
    let (s, v) = wallet.protected(&fed, "/credential", at, &body, None).await;
    assert_eq!(s, 200, "the same request with the right ath: {v}");
}

/// RFC 9449 §11.1 (a DPoP proof is single use), OpenID4VCI §9, IT-Wallet 1.4 §3.3
/// "Deferred": a DPoP proof's `jti` replayed at `/deferred_credential` is 401
/// `invalid_dpop_proof`, even once the registry is ready (the replay would otherwise fetch the
/// credential); nothing is issued by it and the transaction is still there for a fresh proof.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dpop_jti_at_the_deferred_endpoint_is_invalid_dpop_proof() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (at, s, v) = wallet.first_credential(&fed, LUIGIA, MDL).await;
    assert_eq!(s, 202, "{v}");
    let CredentialResponse::Deferred { transaction_id, .. } = Wallet::parse_credentials(&v) else { panic!("deferred") };
    let body = json!({"transaction_id": transaction_id});
    let proof = wallet.dpop_for(&fed, "/deferred_credential", Some(&at));
    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at, &body, Some(proof.clone())).await;
    assert_eq!(s, 202, "{v}");

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at, &body, Some(proof)).await;
    assert_eq!((s, err(&v)), (401, Some("invalid_dpop_proof")), "a replayed DPoP jti: {v}");
    assert!(issued(&fed, LUIGIA).is_empty(), "nothing issued by the replay");

    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at, &body, None).await;
    assert_eq!(s, 200, "a fresh proof: {v}");
    assert_eq!(issued(&fed, LUIGIA).len(), 1);
}

/// RFC 9449 §11.1, OpenID4VCI §11, IT-Wallet 1.4 §3.3 "Notification": a DPoP proof's `jti`
/// replayed at `/notification` is 401 `invalid_dpop_proof` and records nothing (the event
/// stays the first one); the same notification with a fresh proof is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_dpop_jti_at_the_notification_endpoint_is_invalid_dpop_proof() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (at, s, v) = wallet.first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let notification_id = v["notification_id"].as_str().unwrap().to_owned();
    let notified = || issued(&fed, MARIO)[0].notified.clone();

    let proof = wallet.dpop_for(&fed, "/notification", Some(&at));
    let accepted = json!({"notification_id": notification_id, "event": "credential_accepted"});
    let (s, v) = wallet.protected(&fed, "/notification", &at, &accepted, Some(proof.clone())).await;
    assert_eq!(s, 204, "{v}");
    let deleted = json!({"notification_id": notification_id, "event": "credential_deleted"});
    let (s, v) = wallet.protected(&fed, "/notification", &at, &deleted, Some(proof)).await;
    assert_eq!((s, err(&v)), (401, Some("invalid_dpop_proof")), "a replayed DPoP jti: {v}");
    assert_eq!(notified().as_deref(), Some("credential_accepted"), "the replay recorded nothing");

    let (s, v) = wallet.protected(&fed, "/notification", &at, &deleted, None).await;
    assert_eq!(s, 204, "a fresh proof: {v}");
    assert_eq!(notified().as_deref(), Some("credential_deleted"));
}

/// A WUA by our wallet provider (its key and trust chain) attesting `keys`, issued
/// `WUA_MIN_LIFETIME` and two hours ago: expired an hour past the skew.
fn expired_wua(fed: &Fed, keys: &[&SoftwareSigner]) -> String {
    let info = WuaWalletInfo {
        general_info: GeneralInfo {
            wallet_provider_name: "Tessera".into(),
            wallet_solution_id: "tessera-wallet".into(),
            wallet_solution_version: "0.1.0".into(),
            wallet_solution_certification_information: String::new(),
        },
        key_storage_info: KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() },
    };
    let status = StatusReference { idx: 7, uri: format!("{}/status-list", fed.wp_id.as_str().trim_end_matches('/')) };
    let iat = UnixTime::now().plus(-(WUA_MIN_LIFETIME + 7_200));
    WuaBuilder::new(fed.wp_id.as_str(), keys.iter().map(|k| k.public_jwk()).collect(), status, info, iat, WUA_MIN_LIFETIME)
        .sign(&ProviderSigning::new(&fed.wp_key).with_trust_chain(fed.wp_chain.clone()))
        .unwrap()
}

/// IT-Wallet 1.4 §3.3 "Credential" and §8 (the issuer rejects "a WUA that is expired"),
/// OpenID4VCI App. F.4: a key proof whose `key_attestation` is our provider's WUA, signed
/// with its key and chain but past its `exp`, is 400 `invalid_proof` naming the expiry;
/// nothing is issued, and the same proof key with a fresh WUA is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_wua_in_the_key_attestation_is_invalid_proof() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let k0 = &wallet.keys[0];

    let stale = expired_wua(&fed, &[k0]);
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &stale, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_proof")), "an expired WUA: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("expired"), "{v}");
    assert!(issued(&fed, MARIO).is_empty(), "nothing issued");

    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!(s, 200, "a fresh WUA: {v}");
}

/// OpenID4VCI 1.0 §8.2 (the number of proofs MUST NOT exceed `batch_size`), IT-Wallet 1.4
/// §3.3 "Batch: N proofs (N ≤ batch_size), each with a unique jwk": with `batch_size` 3,
/// four proofs (four keys, one WUA attesting them) are 400 `invalid_credential_request`; two
/// proofs by the same key are 400 `invalid_proof`; nothing is issued by either; three
/// distinct keys are served three credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_beyond_batch_size_or_with_a_repeated_key_is_refused() {
    let fed = Fed::new().await;
    assert_eq!(fed.config.batch_size, 3);
    let wallet = Wallet::new(4);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let keys: Vec<&SoftwareSigner> = wallet.keys.iter().collect();
    let wua = fed.wua(&keys);

    let four = Wallet::request(MDL, wallet.proofs(&fed, &keys, &wua, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &four, None).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_credential_request")), "4 proofs, batch_size 3: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("batch_size"), "{v}");
    assert!(issued(&fed, MARIO).is_empty(), "nothing issued");

    let twice = Wallet::request(MDL, wallet.proofs(&fed, &[keys[0], keys[0]], &wua, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &twice, None).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_proof")), "two proofs of one key: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("repeats the key"), "{v}");
    assert!(issued(&fed, MARIO).is_empty(), "nothing issued");

    let three = Wallet::request(MDL, wallet.proofs(&fed, &keys[..3], &wua, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &three, None).await;
    assert_eq!(s, 200, "batch_size distinct keys: {v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    assert_eq!(credentials.len(), 3);
}

/// OpenID4VCI 1.0 §11.3, IT-Wallet 1.4 §3.3 "Notification" (errors: 400
/// `invalid_notification_id` | `invalid_notification_request`): a `notification_id` the
/// issuer never gave, or another wallet's (another grant), is `invalid_notification_id`; an
/// `event` outside the three, or none, is `invalid_notification_request`; none of them
/// records anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_refusals() {
    let fed = Fed::new().await;
    let (mine, theirs) = (Wallet::new(1), Wallet::new(1));
    let (at, s, v) = mine.first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let my_id = v["notification_id"].as_str().unwrap().to_owned();
    let (_, s, v) = theirs.first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let their_id = v["notification_id"].as_str().unwrap().to_owned();
    assert_ne!(my_id, their_id);
    let nothing_recorded = |what: &str| assert!(issued(&fed, MARIO).iter().all(|i| i.notified.is_none()), "{what}: nothing recorded");

    for (what, id) in [("an unknown notification_id", "a-notification-id-we-never-gave"), ("another grant's notification_id", their_id.as_str())] {
        let (s, v) = mine.protected(&fed, "/notification", &at, &json!({"notification_id": id, "event": "credential_accepted"}), None).await;
        assert_eq!((s, err(&v)), (400, Some("invalid_notification_id")), "{what}: {v}");
        nothing_recorded(what);
    }
    for (what, body) in [
        ("an unknown event", json!({"notification_id": my_id, "event": "credential_lost"})),
        ("no event", json!({"notification_id": my_id})),
        ("an empty notification_id", json!({"notification_id": "", "event": "credential_accepted"})),
    ] {
        let (s, v) = mine.protected(&fed, "/notification", &at, &body, None).await;
        assert_eq!((s, err(&v)), (400, Some("invalid_notification_request")), "{what}: {v}");
        nothing_recorded(what);
    }
    let (s, v) = mine.protected(&fed, "/notification", &at, &json!({"notification_id": my_id, "event": "credential_accepted"}), None).await;
    assert_eq!(s, 204, "{v}");
}

/// OpenID4VCI 1.0 §9.3, IT-Wallet 1.4 §3.3 "Deferred" (`invalid_transaction_id`): another
/// wallet's access token (another grant) presenting a wallet's `transaction_id` is 400
/// `invalid_transaction_id`, even once the registry is ready (it would otherwise be handed
/// the credential); nothing is issued and the transaction stays for its own wallet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_id_of_another_grant_is_invalid_transaction_id() {
    let fed = Fed::new().await;
    let (mine, theirs) = (Wallet::new(1), Wallet::new(1));
    let (my_at, s, v) = mine.first_credential(&fed, LUIGIA, MDL).await;
    assert_eq!(s, 202, "{v}");
    let CredentialResponse::Deferred { transaction_id, .. } = Wallet::parse_credentials(&v) else { panic!("deferred") };
    let (their_at, s, v) = theirs.first_credential(&fed, LUIGIA, MDL).await;
    assert_eq!(s, 202, "{v}");
    let body = json!({"transaction_id": transaction_id});

    let (s, v) = theirs.protected(&fed, "/deferred_credential", &their_at, &body, None).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_transaction_id")), "not ready yet: {v}");
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let (s, v) = theirs.protected(&fed, "/deferred_credential", &their_at, &body, None).await;
    assert_eq!((s, err(&v)), (400, Some("invalid_transaction_id")), "ready: {v}");
    assert!(issued(&fed, LUIGIA).is_empty(), "nothing issued");

    let (s, v) = mine.protected(&fed, "/deferred_credential", &my_at, &body, None).await;
    assert_eq!(s, 200, "its own wallet: {v}");
    assert_eq!(issued(&fed, LUIGIA).len(), 1);
}
