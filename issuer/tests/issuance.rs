//! The issuer over loopback HTTP, the wallet played with wallet-core's oid4vci wallet side:
//! the pre-authorized flow end to end with a batch, deferred issuance, revocation seen in
//! the status list, and one negative test per check, each asserting the spec's error code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod common;

use common::{Fed, LUIGIA, MARIO, MDL, PID, TOKEN, Wallet};
use serde_json::{Value, json};
use wallet_core::jose::SoftwareSigner;
use wallet_core::oid4vci::{ClientAttestationHeaders, CredentialResponse, TokenRequest, client_attestation_headers, dpop_proof};
use wallet_core::sd_jwt::{StaticKeyResolver, Verifier};
use wallet_core::status::{DEFAULT_MAX_DECOMPRESSED, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

/// Offer → token → nonce → a batch of two credentials → notification; each credential
/// verifies against the issuer key from the metadata, is bound to its proof key and has a
/// status index of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_authorized_flow_end_to_end_with_a_batch_of_two() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(2);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    assert!(url.starts_with("openid-credential-offer://"));
    let (offer, code) = Wallet::read_offer(&fed, &url).await;
    assert_eq!(offer.credential_configuration_ids, vec![MDL.to_owned()]);
    let at = wallet.token(&fed, &code, &tx).await;
    let nonce = wallet.nonce(&fed).await;
    let keys: Vec<_> = wallet.keys.iter().collect();
    let wua = fed.wua(&keys);
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &keys, &wua, &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, notification_id } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    assert_eq!(credentials.len(), 2);

    let issuer_key = fed.issuer_key().await;
    let resolver = StaticKeyResolver::for_issuer(issuer_key, fed.issuer_id.as_str());
    let mut indices = Vec::new();
    for (c, k) in credentials.iter().zip(&wallet.keys) {
        let vc = wallet_core::vc::verify(&Verifier::new(&resolver), &c.credential, UnixTime::now()).unwrap();
        assert_eq!(vc.vct.as_str(), "urn:eudi:mDL:it:1");
        assert_eq!(vc.iss, fed.issuer_id.as_str());
        let attrs = vc.attributes();
        assert_eq!(attrs["family_name"], "Rossi");
        assert_eq!(attrs["driving_privileges"][1]["vehicle_category_code"], "B");
        assert!(attrs["portrait"].as_str().unwrap().starts_with("_9j_"), "a base64url JPEG");
        let cnf: wallet_core::jose::Jwk = serde_json::from_value(vc.sd_jwt.claims["cnf"]["jwk"].clone()).unwrap();
        assert_eq!(cnf.thumbprint(), wallet_core::jose::Signer::public_jwk(k).thumbprint());
        indices.push(vc.status.unwrap().idx);
        // The credential carries the issuer's trust chain: it verifies through the federation too.
        let federation = wallet_core::federation::TrustChainResolver::new(fed.anchor.clone(), "openid_credential_issuer");
        wallet_core::vc::verify(&Verifier::new(&federation), &c.credential, UnixTime::now()).unwrap();
    }
    assert_ne!(indices[0], indices[1]);
    // Each credential of a batch has its own opaque `sub` (IT-Wallet 1.4 §4.1).
    let subs: Vec<String> = credentials.iter().map(|c| wallet_core::vc::verify(&Verifier::new(&resolver), &c.credential, UnixTime::now()).unwrap().sd_jwt.claims["sub"].as_str().unwrap().to_owned()).collect();
    assert_ne!(subs[0], subs[1]);

    let (s, v) = wallet.protected(&fed, "/notification", &at, &json!({"notification_id": notification_id.unwrap(), "event": "credential_accepted"}), None).await;
    assert_eq!(s, 204, "{v}");
    let (s, v) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    assert_eq!(s, 200);
    assert_eq!(v["credentials"].as_array().unwrap().len(), 2);
    assert_eq!(v["credentials"][0]["notified"], "credential_accepted");
}

/// IT-Wallet 1.4 §4.1 and §6: `x5c` is REQUIRED in the SD-JWT VC and Status List Token
/// headers. The issuer's signing certificate is issued under its own CA certificate (the one
/// the trust anchor pinned for it), certifies the credential key, validates to the federation
/// root without carrying it, lives longer than the credential (so a verifier checking it a
/// year on still can), names the issuer's CRL (§1.2: more than 24 h needs one), and goes on
/// that CRL when the operator revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_status_lists_carry_the_issuers_signing_certificate() {
    use x509_parser::prelude::FromDer as _;
    let fed = Fed::new().await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let jwt = credentials[0].credential.split('~').next().unwrap();
    let header = wallet_core::jose::CompactJws::parse(jwt).unwrap().header().clone();
    let x5c = header.x5c.clone().expect("x5c in the credential header");
    assert_eq!(x5c.len(), 2, "the signing certificate and the issuer's CA certificate, not the root");
    assert!(header.trust_chain.is_some() && header.kid.is_some());

    let root = fed.http.get(format!("{}/ca", fed.anchor.id)).send().await.unwrap().bytes().await.unwrap().to_vec();
    let anchors = wallet_core::x509::TrustAnchors::from_der(vec![root]).unwrap();
    let now = UnixTime::now();
    let v = anchors.verify_chain(&x5c, now).unwrap();
    assert_eq!(v.leaf_key.thumbprint(), fed.issuer_key().await.thumbprint(), "it certifies the credential key");
    assert_eq!(v.san_uris, vec![fed.issuer_id.to_string()]);
    let vc = wallet_core::vc::verify(&Verifier::new(&StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str())), &credentials[0].credential, now).unwrap();
    let exp = vc.sd_jwt.claims["exp"].as_i64().unwrap();
    assert!(exp > now.secs() + 300 * 86_400, "a credential of a year");
    anchors.verify_chain(&x5c, UnixTime(exp - 1)).expect("the chain still validates when the credential ends");

    let der = |b64: &str| base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    let (leaf_der, ca_der) = (der(&x5c[0]), der(&x5c[1]));
    let (_, leaf) = x509_parser::certificate::X509Certificate::from_der(&leaf_der).unwrap();
    let points: Vec<String> = leaf
        .extensions()
        .iter()
        .filter_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::CRLDistributionPoints(p) => Some(p),
            _ => None,
        })
        .flat_map(|p| p.points.iter())
        .filter_map(|p| match &p.distribution_point {
            Some(x509_parser::extensions::DistributionPointName::FullName(names)) => Some(names.iter().map(|n| format!("{n}")).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(points, vec![format!("URI({}/crl)", fed.issuer_id)]);
    assert!(leaf.basic_constraints().unwrap().is_none_or(|bc| !bc.value.ca), "an end-entity certificate");
    let serial = leaf.raw_serial_as_string().replace(':', "");

    // The issuer's CRL, signed by its CA certificate's key: empty, then with the certificate.
    let crl = || async {
        let r = fed.http.get(fed.url("/crl")).send().await.unwrap();
        assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap().to_owned()), (200, "application/pkix-crl".to_owned()));
        let body = r.bytes().await.unwrap().to_vec();
        let (_, crl) = x509_parser::parse_x509_crl(&body).unwrap();
        let (_, ca) = x509_parser::certificate::X509Certificate::from_der(&ca_der).unwrap();
        crl.verify_signature(ca.public_key()).unwrap();
        crl.iter_revoked_certificates().map(|c| c.raw_serial_as_string().replace(':', "")).collect::<Vec<_>>()
    };
    assert!(crl().await.is_empty());

    // The Status List Token carries the same chain.
    let list = fed.http.get(fed.url("/status-list")).send().await.unwrap().text().await.unwrap();
    let list = wallet_core::jose::CompactJws::parse(&list).unwrap();
    assert_eq!(list.header().x5c.as_ref(), Some(&x5c));
    assert_eq!(list.payload_json::<Value>().unwrap()["status_list"]["aggregation_uri"], json!(fed.url("/status-list/aggregation")));

    let revoke = |body: Value, token: Option<&str>| {
        let r = fed.http.post(fed.url("/admin/signing-certificates/revoke")).json(&body);
        Fed::json(match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        })
    };
    let kid = header.kid.unwrap();
    assert_eq!(revoke(json!({"kid": kid}), None).await.0, 401, "the admin API needs the token");
    let (s, v) = revoke(json!({"kid": ""}), Some(TOKEN)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_request")), "{v}");
    assert_eq!(revoke(json!({"kid": "another-key"}), Some(TOKEN)).await, (200, json!({"revoked": 0})));
    let (s, v) = revoke(json!({"kid": kid}), Some(TOKEN)).await;
    assert_eq!((s, v["revoked"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(crl().await, vec![serial]);

    // The key withdrawn signs nothing more: the next credential request is refused (503,
    // before it spends anything) until the operator rotates the key, and it gets no new
    // certificate.
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!((s, v["error"].as_str()), (503, Some("temporarily_unavailable")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("withdrawn"), "{v}");
    let key = fed.issuer_key().await;
    let now = UnixTime::now().secs();
    let e = trust_anchor::pki::signing_certificate(fed.issuer.federation(), &key, now, now + 86_400).await.unwrap_err();
    assert!(e.contains("withdrawn"), "no new certificate for the withdrawn key: {e}");
}

/// The credential key rotated while the issuer runs (`POST /admin/credential-key/rotate`):
/// a key rotated in `keys_dir` by another replica (or offline) is taken up by the next
/// signing request; a routine rotation signs with a new key at once and keeps the old one
/// published (metadata and Entity Configuration `jwks`), the status list follows; a
/// withdrawal revokes the key's signing certificates (on the CRL) and drops it, and issuance
/// goes on with the new key, no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_credential_key_is_rotated_while_running() {
    let fed = Fed::new().await;
    let signed_by = |v: &Value| {
        let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(v) else { panic!("immediate: {v}") };
        let jws = wallet_core::jose::CompactJws::parse(credentials[0].credential.split('~').next().unwrap()).unwrap();
        let kid = jws.header().kid.clone().unwrap();
        // Its `trust_chain` (what verifiers check first) names the key in our configuration.
        let leaf = wallet_core::jose::CompactJws::parse(&jws.header().trust_chain.as_ref().unwrap()[0]).unwrap();
        let leaf: Value = leaf.payload_json().unwrap();
        let listed = leaf["metadata"]["openid_credential_issuer"]["jwks"]["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str());
        assert!(listed, "the credential's trust_chain lists its key {kid}");
        (kid, jws.header().x5c.clone().unwrap())
    };
    let kids = |jwks: &Value| jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let published = || async {
        let (_, md) = Fed::json(fed.http.get(fed.url("/.well-known/openid-credential-issuer"))).await;
        let ec = fed.http.get(fed.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
        let ec: Value = wallet_core::jose::CompactJws::parse(&ec).unwrap().payload_json().unwrap();
        let from_ec = kids(&ec["metadata"]["openid_credential_issuer"]["jwks"]);
        assert_eq!(kids(&md["jwks"]), from_ec, "the metadata and the Entity Configuration agree");
        from_ec
    };
    let list_kid = || async {
        let list = fed.http.get(fed.url("/status-list")).send().await.unwrap().text().await.unwrap();
        wallet_core::jose::CompactJws::parse(&list).unwrap().header().kid.clone().unwrap()
    };

    // Rotated in keys_dir behind the running issuer's back (another replica, the offline command).
    // (The issuer looks at keys_dir at most once a second: a second later it has the new key.)
    let k0 = wallet_core::jose::Signer::kid(&*fed.issuer.keys().credential()).unwrap();
    let offline = issuer::keys::rotate_credential_key(fed.config.keys_dir(), false, UnixTime::now().secs(), None).unwrap();
    assert_eq!(offline.old_kid, k0);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let (k1, _) = signed_by(&v);
    assert_eq!(k1, offline.new_kid, "taken up within a second");
    assert_eq!(published().await, [k1.clone(), k0.clone()]);

    let rotate = |body: Value, token: Option<&str>| {
        let r = fed.http.post(fed.url("/admin/credential-key/rotate")).json(&body);
        Fed::json(match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        })
    };
    assert_eq!(rotate(json!({}), None).await.0, 401, "the admin API needs the token");
    let (s, v) = rotate(json!({"withdraw": "yes"}), Some(TOKEN)).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(published().await[0], k1, "a refused request rotates nothing");

    // A routine rotation: the new key signs at once, the old one stays published.
    let (s, r) = rotate(json!({}), Some(TOKEN)).await;
    assert_eq!((s, r["old_kid"].as_str(), r["retired"].as_bool()), (200, Some(k1.as_str()), Some(true)), "{r}");
    let k2 = r["new_kid"].as_str().unwrap().to_owned();
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let (signer, x5c) = signed_by(&v);
    assert_eq!(signer, k2);
    let leaf = wallet_core::x509::TrustAnchors::from_pem(&fed.config.x509_roots_pem).unwrap().verify_chain(&x5c, UnixTime::now()).unwrap().leaf_key;
    let (_, md) = Fed::json(fed.http.get(fed.url("/.well-known/openid-credential-issuer"))).await;
    let jwks: wallet_core::jose::JwkSet = serde_json::from_value(md["jwks"].clone()).unwrap();
    assert_eq!(leaf.thumbprint(), jwks.by_kid(&k2).unwrap().thumbprint(), "a signing certificate for the new key");
    assert_eq!(published().await, [k2.clone(), k0.clone(), k1.clone()], "the current key, then the retired ones as they were retired");
    assert_eq!(list_kid().await, k2, "the status list is signed again with the new key");

    // A withdrawal: the key's certificates revoked, the key dropped; issuance goes on.
    let (s, r) = rotate(json!({"withdraw": true}), Some(TOKEN)).await;
    assert_eq!((s, r["old_kid"].as_str(), r["retired"].as_bool()), (200, Some(k2.as_str()), Some(false)), "{r}");
    let k3 = r["new_kid"].as_str().unwrap().to_owned();
    assert_eq!(published().await, [k3.clone(), k0, k1]);
    let crl = fed.http.get(fed.url("/crl")).send().await.unwrap().bytes().await.unwrap().to_vec();
    let (_, crl) = x509_parser::parse_x509_crl(&crl).unwrap();
    assert_eq!(crl.iter_revoked_certificates().count(), 1, "the withdrawn key's signing certificate");
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(signed_by(&v).0, k3);
    assert_eq!(list_kid().await, k3);

    // Rotated behind its back again, now that it has looked at keys_dir lately: taken up
    // within a second (another replica's rotation stops the old key that soon).
    let behind = issuer::keys::rotate_credential_key(fed.config.keys_dir(), false, UnixTime::now().secs(), None).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    // Nothing asked it to sign meanwhile: its own look (a task of the server) took the key up,
    // and its Entity Configuration (served by the federation building block) publishes it.
    let ec = fed.http.get(fed.url("/.well-known/openid-federation")).send().await.unwrap().text().await.unwrap();
    let ec: Value = wallet_core::jose::CompactJws::parse(&ec).unwrap().payload_json().unwrap();
    assert_eq!(kids(&ec["metadata"]["openid_credential_issuer"]["jwks"])[0], behind.new_kid, "taken up by the server's own look");
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(signed_by(&v).0, behind.new_kid, "taken up a second later");

    // A rotation by this replica of a key another one replaced meanwhile: it takes the newer
    // key up first and rotates that one.
    let again = issuer::keys::rotate_credential_key(fed.config.keys_dir(), false, UnixTime::now().secs(), None).unwrap();
    let (s, r) = rotate(json!({}), Some(TOKEN)).await;
    assert_eq!((s, r["old_kid"].as_str()), (200, Some(again.new_kid.as_str())), "{r}");
    let current = r["new_kid"].as_str().unwrap().to_owned();

    // A withdrawal names the key it means: repeated (a retry, a second operator), it finds
    // that key gone and does nothing, rather than withdrawing the healthy key that replaced it.
    let (s, r) = rotate(json!({"withdraw": true, "kid": current}), Some(TOKEN)).await;
    assert_eq!((s, r["old_kid"].as_str(), r["retired"].as_bool()), (200, Some(current.as_str()), Some(false)), "{r}");
    let healthy = r["new_kid"].as_str().unwrap().to_owned();
    let (s, r) = rotate(json!({"withdraw": true, "kid": current}), Some(TOKEN)).await;
    assert_eq!((s, r["error"].as_str()), (400, Some("invalid_request")), "{r}");
    assert!(r["error_description"].as_str().unwrap().contains("no longer the current one"), "{r}");
    assert_eq!(published().await[0], healthy, "the healthy key stays");
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(signed_by(&v).0, healthy);
}

/// A credential ends no later than the certificate in its `x5c` (a verifier checks both): a
/// `credential_ttl` beyond the issuer's CA certificate is cut to the signing certificate's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_ends_no_later_than_its_signing_certificate() {
    use x509_parser::prelude::FromDer as _;
    let fed = Fed::with(|c| c.credential_ttl = 3 * 365 * 86_400).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let jws = wallet_core::jose::CompactJws::parse(credentials[0].credential.split('~').next().unwrap()).unwrap();
    let leaf = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &jws.header().x5c.as_ref().unwrap()[0]).unwrap();
    let (_, leaf) = x509_parser::certificate::X509Certificate::from_der(&leaf).unwrap();
    let not_after = leaf.validity().not_after.timestamp();
    assert!(not_after < UnixTime::now().secs() + 3 * 365 * 86_400 - 86_400, "the certificate is cut to the CA's end");
    assert_eq!(jws.payload_json::<Value>().unwrap()["exp"].as_i64(), Some(not_after));
}

/// A licence the registry has not finished: 202 with a `transaction_id`, 202 again while
/// not ready, then the credential once it is; the `transaction_id` is single use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_issuance_until_the_registry_is_ready() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (at, s, v) = wallet.first_credential(&fed, LUIGIA, MDL).await;
    assert_eq!(s, 202, "{v}");
    let CredentialResponse::Deferred { transaction_id, .. } = Wallet::parse_credentials(&v) else { panic!("deferred") };
    let body = json!({"transaction_id": transaction_id});
    let (s, _) = wallet.protected(&fed, "/deferred_credential", &at, &body, None).await;
    assert_eq!(s, 202);

    // The sample registry is in WAL mode (docs/operators.md): the issuer's read-only lookups
    // see what its owner commits meanwhile.
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    assert_eq!(conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "wal");
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at, &body, None).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    assert_eq!(credentials.len(), 1);
    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at, &body, None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_transaction_id")));
}

async fn status_of(fed: &Fed, idx: u64) -> StatusValue {
    let r = fed.http.get(fed.url("/status-list")).header("accept", "application/statuslist+jwt").send().await.unwrap();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = r.bytes().await.unwrap();
    let reference = wallet_core::status::StatusReference { idx, uri: fed.url("/status-list") };
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    StatusListToken::verify_response(ct.as_deref(), &body, &reference, &resolver, UnixTime::now(), 60, DEFAULT_MAX_DECOMPRESSED).unwrap().lookup(idx).unwrap()
}

/// Token Status List §8.1 (CI_192): a client that accepts gzip gets the token
/// gzip-compressed, the same token the others get as it is; `Vary` says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_list_is_served_gzip_to_clients_that_accept_it() {
    let fed = Fed::new().await;
    let plain = fed.http.get(fed.url("/status-list")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    let plain = plain.bytes().await.unwrap().to_vec();
    let z = fed.http.get(fed.url("/status-list")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!((z.headers()["content-encoding"].to_str().unwrap(), z.headers()["content-type"].to_str().unwrap()), ("gzip", "application/statuslist+jwt"));
    let z = z.bytes().await.unwrap().to_vec();
    assert!(z.len() < plain.len(), "{} gzip bytes for {}", z.len(), plain.len());
    assert_eq!(wallet_core::status::encoding::decode_body(Some("gzip"), z, DEFAULT_MAX_DECOMPRESSED).unwrap(), plain);
}

/// Revoke one credential, suspend and reinstate by citizen: the signed status list says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_suspend_reinstate_show_in_the_status_list() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(2);
    let (url, tx) = fed.offer(MARIO, &[]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let keys: Vec<_> = wallet.keys.iter().collect();
    let wua = fed.wua(&keys);
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(PID, wallet.proofs(&fed, &keys, &wua, &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    let creds = list["credentials"].as_array().unwrap().clone();
    let idx = |c: &Value| c["status_idx"].as_u64().unwrap();
    assert_eq!(status_of(&fed, idx(&creds[0])).await, StatusValue::Valid);

    let admin = |body: Value| fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&body);
    let (s, v) = Fed::json(admin(json!({"action": "revoke", "credential_id": creds[0]["id"]}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(status_of(&fed, idx(&creds[0])).await, StatusValue::Invalid);
    assert_eq!(status_of(&fed, idx(&creds[1])).await, StatusValue::Valid);

    let (s, _) = Fed::json(admin(json!({"action": "suspend", "citizen": MARIO}))).await;
    assert_eq!(s, 200);
    assert_eq!(status_of(&fed, idx(&creds[1])).await, StatusValue::Suspended);
    let (s, v) = Fed::json(admin(json!({"action": "reinstate", "citizen": MARIO}))).await;
    assert_eq!((s, v["changed"].as_u64(), v["left_revoked"].as_u64()), (200, Some(1), Some(1)), "{v}");
    assert_eq!(status_of(&fed, idx(&creds[1])).await, StatusValue::Valid);
    // A revocation is final (IT-Wallet 1.4 §6): reinstating, suspending or marking for update
    // a revoked credential is refused and leaves it revoked, by credential or by citizen.
    assert_eq!(status_of(&fed, idx(&creds[0])).await, StatusValue::Invalid, "a citizen-wide reinstate leaves the revoked one");
    for action in ["reinstate", "suspend", "update"] {
        let (s, v) = Fed::json(admin(json!({"action": action, "credential_id": creds[0]["id"]}))).await;
        assert_eq!((s, v["error"].as_str()), (409, Some("conflict")), "{action}: {v}");
        assert!(v["error_description"].as_str().unwrap_or_default().contains("revocation is final"), "{v}");
    }
    assert_eq!(status_of(&fed, idx(&creds[0])).await, StatusValue::Invalid);
    let (s, v) = Fed::json(admin(json!({"action": "revoke", "citizen": MARIO}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "only the one not yet revoked changes: {v}");
    let (s, v) = Fed::json(admin(json!({"action": "reinstate", "citizen": MARIO}))).await;
    assert_eq!((s, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert_eq!(status_of(&fed, idx(&creds[1])).await, StatusValue::Invalid);
    let (s, v) = Fed::json(admin(json!({"action": "revoke", "credential_id": "nope"}))).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
    let (s, _) = Fed::json(fed.http.post(fed.url("/admin/status")).json(&json!({"action": "revoke", "citizen": MARIO}))).await;
    assert_eq!(s, 401, "the admin API needs the token");
}

/// IT-Wallet 1.4 §2.5: the issuer re-checks the WUAs behind its credentials; a WUA its
/// provider revoked since issuance revokes the credentials issued with it, and only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_revoked_after_issuance_revokes_its_credentials_at_the_recheck() {
    let fed = Fed::new().await;
    // Two wallets of the same citizen, their WUAs at indices 11 and 12 (both valid now).
    let mut idxs = Vec::new();
    for wua_idx in [11, 12] {
        let wallet = Wallet::new(1);
        let (url, tx) = fed.offer(MARIO, &[]).await;
        let (_, code) = Wallet::read_offer(&fed, &url).await;
        let at = wallet.token(&fed, &code, &tx).await;
        let k0 = &wallet.keys[0];
        let nonce = wallet.nonce(&fed).await;
        let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(PID, wallet.proofs(&fed, &[k0], &fed.wua_at(&[k0], wua_idx), &nonce)), None).await;
        assert_eq!(s, 200, "{v}");
        let issuer_jwt = v["credentials"][0]["credential"].as_str().unwrap().split('~').next().unwrap().to_owned();
        let claims: Value = wallet_core::jose::CompactJws::parse(&issuer_jwt).unwrap().payload_json().unwrap();
        idxs.push(claims["status"]["status_list"]["idx"].as_u64().unwrap());
    }
    let recheck = || Fed::json(fed.http.post(fed.url("/admin/wua-recheck")).bearer_auth(TOKEN));
    let (s, r) = recheck().await;
    assert_eq!((s, r["wuas"].as_u64(), r["lists"].as_u64(), r["revoked_credentials"].as_u64()), (200, Some(2), Some(1), Some(0)), "nothing revoked yet: {r}");
    assert_eq!(status_of(&fed, idxs[0]).await, StatusValue::Valid);

    fed.revoke_wua(11);
    let (s, r) = recheck().await;
    assert_eq!((s, r["revoked_wuas"].as_u64(), r["revoked_credentials"].as_u64(), r["unavailable"].as_array().map(Vec::len)), (200, Some(1), Some(1), Some(0)), "{r}");
    assert_eq!(status_of(&fed, idxs[0]).await, StatusValue::Invalid, "the credential issued with the revoked WUA");
    assert_eq!(status_of(&fed, idxs[1]).await, StatusValue::Valid, "the other wallet's");
    let (s, r) = recheck().await;
    assert_eq!((s, r["revoked_wuas"].as_u64(), r["revoked_credentials"].as_u64()), (200, Some(1), Some(0)), "the next run revokes nothing new: {r}");
    let (s, _) = Fed::json(fed.http.post(fed.url("/admin/wua-recheck"))).await;
    assert_eq!(s, 401, "the admin API needs the token");
}

/// The status list token's payload and the issuer's count of signed lists (`/metrics`).
async fn list_and_signings(fed: &Fed) -> (String, Value, u64) {
    let t = fed.http.get(fed.url("/status-list")).send().await.unwrap().text().await.unwrap();
    let payload = wallet_core::jose::CompactJws::parse(&t).unwrap().payload_json::<Value>().unwrap();
    (t, payload, signings(fed).await)
}

async fn signings(fed: &Fed) -> u64 {
    let m = fed.http.get(fed.url("/metrics")).send().await.unwrap().text().await.unwrap();
    m.lines().find_map(|l| l.strip_prefix("issuer_status_list_signed_total ")).unwrap().trim().parse().unwrap()
}

/// The status list is signed when it changed, not at every `GET` (issue 14): a second `GET`
/// a second later serves the same token (same `iat`, nothing signed); after a revocation the
/// next `GET` has it, and sixteen concurrent `GET`s are served one new token, signed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_list_is_signed_again_only_when_it_changed() {
    let fed = std::sync::Arc::new(Fed::new().await);
    let wallet = Wallet::new(2);
    let (url, tx) = fed.offer(MARIO, &[]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let keys: Vec<_> = wallet.keys.iter().collect();
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(PID, wallet.proofs(&fed, &keys, &fed.wua(&keys), &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    let (_, list) = Fed::json(fed.http.get(fed.url(&format!("/admin/citizens/{MARIO}/credentials"))).bearer_auth(TOKEN)).await;
    let creds = list["credentials"].as_array().unwrap().clone();

    let (first, p1, n1) = list_and_signings(&fed).await;
    assert!(n1 >= 1);
    assert_eq!(p1["exp"].as_i64().unwrap() - p1["iat"].as_i64().unwrap(), p1["ttl"].as_i64().unwrap(), "exp = iat + ttl");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let (second, p2, n2) = list_and_signings(&fed).await;
    assert_eq!((p2["iat"].clone(), n2), (p1["iat"].clone(), n1), "no change: the same token, not signed again");
    assert_eq!(first, second);

    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&json!({"action": "revoke", "credential_id": creds[0]["id"]}))).await;
    assert_eq!(s, 200, "{v}");
    let mut gets = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let fed = std::sync::Arc::clone(&fed);
        gets.spawn(async move { fed.http.get(fed.url("/status-list")).send().await.unwrap().text().await.unwrap() });
    }
    let tokens: std::collections::BTreeSet<String> = gets.join_all().await.into_iter().collect();
    assert_eq!(tokens.len(), 1, "one token for the concurrent GETs");
    assert_eq!(signings(&fed).await, n1 + 1, "signed once");
    assert!(!tokens.contains(&first), "a new token after the revocation");
    assert_eq!(status_of(&fed, creds[0]["status_idx"].as_u64().unwrap()).await, StatusValue::Invalid);
    assert_eq!(status_of(&fed, creds[1]["status_idx"].as_u64().unwrap()).await, StatusValue::Valid);
}

/// Token endpoint refusals: a wrong `tx_code`, a replayed pre-authorized code, a DPoP proof
/// for another URL or method, a replayed DPoP `jti`, no DPoP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_refusals() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let err = |v: &Value| v["error"].as_str().unwrap().to_owned();

    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let (s, v) = wallet.token_with(&fed, &code, Some(wrong), Some(wallet.dpop_for(&fed, "/token", None))).await;
    assert_eq!((s, err(&v)), (400, "invalid_grant".into()), "wrong tx_code");
    let (s, v) = wallet.token_with(&fed, &code, None, Some(wallet.dpop_for(&fed, "/token", None))).await;
    assert_eq!((s, err(&v)), (400, "invalid_request".into()), "missing tx_code (wallet-core: TxCodeMissing)");

    let other_url = dpop_proof(&wallet.dpop, "POST", &fed.url("/credential"), None, None, UnixTime::now()).unwrap();
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), Some(other_url)).await;
    assert_eq!((s, err(&v)), (400, "invalid_dpop_proof".into()), "DPoP for another URL");
    let other_method = dpop_proof(&wallet.dpop, "GET", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), Some(other_method)).await;
    assert_eq!((s, err(&v)), (400, "invalid_dpop_proof".into()), "DPoP for another method");
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), None).await;
    assert_eq!((s, err(&v)), (400, "invalid_dpop_proof".into()), "no DPoP");

    // The third attempt, right: a token (wrong attempts above count, within the limit).
    let proof = wallet.dpop_for(&fed, "/token", None);
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), Some(proof.clone())).await;
    assert_eq!(s, 200, "{v}");
    let (url2, tx2) = fed.offer(MARIO, &[MDL]).await;
    let (_, code2) = Wallet::read_offer(&fed, &url2).await;
    let (s, v) = wallet.token_with(&fed, &code2, Some(&tx2), Some(proof)).await;
    assert_eq!((s, err(&v)), (400, "invalid_dpop_proof".into()), "replayed DPoP jti");
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), Some(wallet.dpop_for(&fed, "/token", None))).await;
    assert_eq!((s, err(&v)), (400, "invalid_grant".into()), "replayed pre-authorized code");
}

/// The offer's `tx_code` is stored hashed (salted with the pre-authorized code, itself stored
/// hashed): the database holds neither the code nor its plain SHA-256; the right code still
/// gets a token after a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tx_code_is_stored_hashed() {
    use sha2::Digest as _;
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let db = rusqlite::Connection::open(fed.config.data_dir.join("issuer.sqlite")).unwrap();
    let stored: Vec<Option<String>> = db.prepare("SELECT tx_code FROM offers").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(stored.len(), 1);
    let stored = stored[0].clone().unwrap();
    assert_ne!(stored, tx);
    assert!(!stored.contains(&tx), "{stored}");
    assert_ne!(stored, wallet_core::jose::b64::encode(sha2::Sha256::digest(tx.as_bytes())), "not an unsalted hash");
    assert_eq!(stored.len(), 43, "a base64url SHA-256");
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    let (s, _) = wallet.token_with(&fed, &code, Some(wrong), Some(wallet.dpop_for(&fed, "/token", None))).await;
    assert_eq!(s, 400);
    let (s, v) = wallet.token_with(&fed, &code, Some(&tx), Some(wallet.dpop_for(&fed, "/token", None))).await;
    assert_eq!(s, 200, "{v}");
}

/// An offer by reference is served only while it can be redeemed: once the wrong `tx_code`s
/// have spent its attempts, its `credential_offer_uri` answers 404 like a used one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_by_reference_with_its_attempts_spent_is_not_served() {
    let fed = Fed::with(|c| c.tx_code_attempts = 2).await;
    let wallet = Wallet::new(1);
    let body = json!({"citizen": MARIO, "credential_configuration_ids": [MDL], "by_reference": true});
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(TOKEN).json(&body)).await;
    assert_eq!(s, 201, "{v}");
    let url = url::Url::parse(v["offer_url"].as_str().unwrap()).unwrap();
    let uri = url.query_pairs().find(|(k, _)| k == "credential_offer_uri").unwrap().1.into_owned();
    let (s, offer) = Fed::json(fed.http.get(&uri)).await;
    assert_eq!(s, 200, "{offer}");
    let code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"].as_str().unwrap().to_owned();
    let tx = v["tx_code"].as_str().unwrap();
    let wrong = if tx == "000000" { "111111" } else { "000000" };
    for _ in 0..2 {
        let (s, _) = wallet.token_with(&fed, &code, Some(wrong), Some(wallet.dpop_for(&fed, "/token", None))).await;
        assert_eq!(s, 400);
    }
    let (s, v) = Fed::json(fed.http.get(&uri)).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")), "attempts spent: {v}");
}

/// Credential endpoint refusals: DPoP for another URL or key, a replayed DPoP `jti`, a
/// used, foreign, altered or expired `c_nonce`, a proof key the WUA does not attest, a WUA revoked in its
/// provider's status list, a configuration the token did not grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credential_endpoint_refusals() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(2);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let k0 = &wallet.keys[0];
    let wua = fed.wua(&[k0]);
    let err = |v: &Value| v["error"].as_str().unwrap().to_owned();

    let nonce = wallet.nonce(&fed).await;
    let body = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &nonce));
    let other_url = dpop_proof(&wallet.dpop, "POST", &fed.url("/nonce"), Some(&at), None, UnixTime::now()).unwrap();
    let (s, v) = wallet.protected(&fed, "/credential", &at, &body, Some(other_url)).await;
    assert_eq!((s, err(&v)), (401, "invalid_dpop_proof".into()), "DPoP for another URL: {v}");
    let thief = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let other_key = dpop_proof(&thief, "POST", &fed.url("/credential"), Some(&at), None, UnixTime::now()).unwrap();
    let (s, v) = wallet.protected(&fed, "/credential", &at, &body, Some(other_key)).await;
    assert_eq!((s, err(&v)), (401, "invalid_dpop_proof".into()), "DPoP by another key: {v}");

    let issued = || fed.issuer.store().issued_to(MARIO).unwrap().len();
    let proof = wallet.dpop_for(&fed, "/credential", Some(&at));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &body, Some(proof.clone())).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(issued(), 1);
    // The same DPoP proof with a fresh nonce: refused, and nothing of it recorded (the `jti`
    // is spent in the commit that would record the credential).
    let fresh = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &fresh, Some(proof)).await;
    assert_eq!((s, err(&v)), (401, "invalid_dpop_proof".into()), "replayed DPoP jti: {v}");
    assert_eq!(issued(), 1, "a refused request records no credential");
    let (s, v) = wallet.protected(&fed, "/credential", &at, &body, None).await;
    assert_eq!((s, err(&v)), (400, "invalid_nonce".into()), "stale c_nonce (used): {v}");
    assert_eq!(v["error_description"], "c_nonce already used");
    let foreign = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, "a-nonce-we-never-issued"));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &foreign, None).await;
    assert_eq!((s, err(&v)), (400, "invalid_nonce".into()), "foreign c_nonce: {v}");
    assert!(v["error_description"].as_str().unwrap().ends_with("c_nonce is not one this issuer gives out"), "{v}");
    // Of our shape, from another issuer's key; ours altered; ours expired.
    let theirs = wallet_core::oid4vci::NonceKey::generate().unwrap().issue(UnixTime::now().plus(60)).unwrap().c_nonce;
    let mut altered = wallet.nonce(&fed).await.into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let expired = fed.issuer.keys().nonce().issue(UnixTime::now().plus(-1)).unwrap().c_nonce;
    for (nonce, what, why) in [
        (theirs, "another issuer's", "c_nonce was not issued by this issuer"),
        (String::from_utf8(altered).unwrap(), "altered", "c_nonce was not issued by this issuer"),
        (expired, "expired", "c_nonce expired at"),
    ] {
        let req = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &nonce));
        let (s, v) = wallet.protected(&fed, "/credential", &at, &req, None).await;
        assert_eq!((s, err(&v)), (400, "invalid_nonce".into()), "{what} c_nonce: {v}");
        // The description says which.
        assert!(v["error_description"].as_str().unwrap().contains(why), "{what}: {v}");
    }
    assert_eq!(issued(), 1);

    let nonce = wallet.nonce(&fed).await;
    let not_attested = Wallet::request(MDL, wallet.proofs(&fed, &[&wallet.keys[1]], &wua, &nonce));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &not_attested, None).await;
    assert_eq!((s, err(&v)), (400, "invalid_proof".into()), "proof key not in the WUA: {v}");

    let nonce = wallet.nonce(&fed).await;
    let revoked = fed.wua_at(&[k0], 9);
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &revoked, &nonce)), None).await;
    assert_eq!((s, err(&v)), (400, "invalid_proof".into()), "a revoked WUA: {v}");

    let nonce = wallet.nonce(&fed).await;
    let not_granted = Wallet::request(PID, wallet.proofs(&fed, &[k0], &wua, &nonce));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &not_granted, None).await;
    assert_eq!((s, err(&v)), (400, "credential_request_denied".into()), "configuration not granted: {v}");

    let (s, v) = Fed::json(fed.http.post(fed.url("/credential")).json(&body)).await;
    assert_eq!((s, err(&v)), (401, "invalid_token".into()), "no access token");
}

/// IT-Wallet 1.4 §1.3 (issue 12): WUAs are accepted only from a wallet provider holding the
/// wallet-provider trust mark when the issuer requires it: refused before the mark is
/// published (`invalid_proof`, naming the mark), accepted after, with the chain that shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_from_a_provider_without_the_wallet_provider_trust_mark_is_refused() {
    let mut fed = Fed::with(|c| c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)]).await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let k0 = &wallet.keys[0];

    let unmarked = fed.wua(&[k0]);
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &unmarked, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
    let why = v["error_description"].as_str().unwrap();
    assert!(why.contains("trust mark") && why.contains("federation-entity/wallet-provider"), "{why}");
    assert!(fed.issuer.store().issued_to(MARIO).unwrap().is_empty());

    common::mark(&fed.http, &fed.anchor.id, &fed.wp_id, common::WP_MARK).await;
    fed.refresh_wp_chain().await;
    let marked = fed.wua(&[k0]);
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &marked, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!(s, 200, "{v}");
    // The chain without the mark is still refused (checked per chain, not per provider).
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &unmarked, &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
}

/// IT-Wallet 1.4 §3.3 "Credential" (the WUA signature via the provider's `kid`, the
/// provider a federation member): a key proof whose `key_attestation` was signed by a wallet
/// provider outside the federation is `invalid_proof`, and nothing is issued: a fresh key
/// whose `iss` (an https URL) no anchor knows, without `trust_chain` (the issuer's attempt to
/// collect it fails); our provider's WUA with its chain cut to its Entity Configuration (it
/// does not reach the anchor); a fresh key claiming to be our provider, with its real chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_from_a_wallet_provider_outside_the_federation_is_invalid_proof() {
    use wallet_core::attestation::ProviderSigning;
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let at = wallet.token(&fed, &code, &tx).await;
    let k0 = &wallet.keys[0];
    let wua = |iss: &str, signing: &ProviderSigning<'_>| common::wua_by(iss, &[k0], 7, signing);
    let rogue_key = SoftwareSigner::generate().unwrap();
    let cut = vec![fed.wp_chain[0].clone()];
    assert!(fed.wp_chain.len() > 1, "the provider's chain reaches the anchor: {}", fed.wp_chain.len());
    for (what, key_attestation) in [
        ("a provider no anchor knows, without trust_chain", wua("https://127.0.0.1:9/not-in-the-federation", &ProviderSigning::new(&rogue_key))),
        ("our provider's chain cut to its Entity Configuration", wua(fed.wp_id.as_str(), &ProviderSigning::new(&fed.wp_key).with_trust_chain(cut))),
        ("another key claiming to be our provider", wua(fed.wp_id.as_str(), &ProviderSigning::new(&rogue_key).with_trust_chain(fed.wp_chain.clone()))),
    ] {
        let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &key_attestation, &wallet.nonce(&fed).await));
        let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
        assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{what}: {v}");
        assert!(v["error_description"].as_str().unwrap().contains("untrusted wallet provider"), "{what}: {v}");
        assert!(fed.issuer.store().issued_to(MARIO).unwrap().is_empty(), "{what}: nothing issued");
    }
    // The same request with our provider's WUA is served.
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &wallet.nonce(&fed).await));
    let (s, v) = wallet.protected(&fed, "/credential", &at, &request, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(fed.issuer.store().issued_to(MARIO).unwrap().len(), 1);
}

/// Metadata: the Entity Configuration carries the three entity types, the issuer metadata
/// is served as JSON and signed, type metadata at both paths; health, metrics, OpenAPI.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_and_service_basics() {
    let fed = Fed::new().await;
    let anchors = [fed.anchor.clone()];
    let id = fed.issuer_id.clone();
    let chain = tokio::task::spawn_blocking(move || {
        let fetcher = trust_anchor::fetch::HttpFetcher::new().unwrap();
        wallet_core::federation::ChainCollector::new(&fetcher, &anchors).resolve(&id, UnixTime::now())
    })
    .await
    .unwrap()
    .unwrap();
    let ci = chain.metadata_of("openid_credential_issuer").unwrap();
    assert!(ci["credential_configurations_supported"]["dc_sd_jwt_mDL"]["vct"] == "urn:eudi:mDL:it:1");
    // What IT-Wallet 1.4 §3.1 adds to each configuration, through the federation too.
    let mdl = &ci["credential_configurations_supported"]["dc_sd_jwt_mDL"];
    assert_eq!(mdl["schema_id"], "mDL+dc+sd-jwt+urn:eudi:mDL:it:1", "{mdl}");
    assert_eq!(mdl["authentic_sources"], json!([{"entity_id": fed.issuer_id.as_str(), "dataset_id": "licences"}]));
    assert_eq!(mdl["credential_metadata"]["display"][0]["name"], "Patente di guida");
    let claims = mdl["credential_metadata"]["claims"].as_array().unwrap();
    let privileges = claims.iter().find(|c| c["path"] == json!(["driving_privileges"])).unwrap();
    // Both names of a claim's label: 1.3 and 1.4 wallets each read one.
    assert_eq!((&privileges["sd"], &privileges["display"][0]["name"], &privileges["display"][0]["label"]), (&json!("always"), &json!("driving privileges"), &json!("driving privileges")));
    assert_eq!(ci["trust_frameworks_supported"], json!(["it_wallet"]));
    // The aggregation lists the one status list.
    let (s, agg) = Fed::json(fed.http.get(ci["status_list_aggregation_endpoint"].as_str().unwrap())).await;
    assert_eq!((s, &agg["status_lists"]), (200, &json!([ci["status_list_endpoint"]])), "{agg}");
    assert!(chain.metadata_of("oauth_authorization_server").is_some());
    assert!(chain.metadata_of("federation_entity").is_some());

    let r = fed.http.get(fed.url("/.well-known/openid-credential-issuer")).header("accept", "application/jwt").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/jwt");
    let jwt = r.text().await.unwrap();
    assert_eq!(wallet_core::jose::CompactJws::parse(&jwt).unwrap().header().x5c.as_ref().map(Vec::len), Some(2), "signed with our signing certificate's x5c");
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let md = wallet_core::oid4vci::CredentialIssuerMetadata::verify_signed(&jwt, &resolver, UnixTime::now(), 60).unwrap();
    assert_eq!(md.credential_issuer, fed.issuer_id.as_str());
    assert_eq!(md.batch_size(), 3);

    let (s, v) = Fed::json(fed.http.get(fed.url("/.well-known/vct/urn:eudi:pid:it:1"))).await;
    assert_eq!((s, v["vct"].as_str()), (200, Some("urn:eudi:pid:it:1")));
    let (s, v) = Fed::json(fed.http.get(fed.url("/.well-known/type-metadata")).query(&[("vct", "urn:eudi:ehic:1")])).await;
    assert_eq!((s, v["vct"].as_str()), (200, Some("urn:eudi:ehic:1")));
    let (s, _) = Fed::json(fed.http.get(fed.url("/.well-known/vct/urn:other"))).await;
    assert_eq!(s, 404);

    let (s, _) = Fed::json(fed.http.get(fed.url("/health"))).await;
    assert_eq!(s, 200);
    let metrics = fed.http.get(fed.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("issuer_credentials_issued_total 0"));
    let (s, v) = Fed::json(fed.http.get(fed.url("/openapi.json"))).await;
    assert_eq!((s, v["openapi"].as_str()), (200, Some("3.1.0")));
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/offers")).bearer_auth(TOKEN).json(&json!({"citizen": "NOBODY"}))).await;
    assert_eq!((s, v["error"].as_str()), (404, Some("not_found")));
}

/// The refresh grant: bound to the DPoP key; the refreshed access token serves the deferred
/// endpoint but not a first issuance (`credential_request_denied`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_is_dpop_bound_and_never_starts_a_first_issuance() {
    // The refresh token's `nbf` is the access token's `exp` (§3.3): a 30 s access token is
    // within the 60 s skew, so the refresh can be tried at once.
    let fed = Fed::with(|c| c.access_token_ttl = 30).await;
    let wallet = Wallet::new(1);
    let (url, tx) = fed.offer(LUIGIA, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let tokens = wallet.tokens(&fed, &code, &tx).await;
    let rt = tokens.refresh_token.clone().expect("a refresh token");
    let k0 = &wallet.keys[0];
    let wua = fed.wua(&[k0]);
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &tokens.access_token, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &nonce)), None).await;
    assert_eq!(s, 202, "{v}");
    let transaction_id = v["transaction_id"].clone();

    let thief = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let (s, v) = wallet.refresh(&fed, &rt, &thief).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "another DPoP key: {v}");
    let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
    assert_eq!(s, 200, "{v}");
    let at2 = v["access_token"].as_str().unwrap().to_owned();
    // A new refresh token (IT-Wallet 1.4 §3.3, CI_094/CI_095): the same key, no later `exp`.
    let claims = |t: &str| -> Value { serde_json::from_slice(&wallet_core::jose::b64::decode(t.split('.').nth(1).unwrap()).unwrap()).unwrap() };
    let rt2 = v["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(rt2, rt);
    let (old, new) = (claims(&rt), claims(rt2));
    assert_eq!(new["cnf"]["jkt"], old["cnf"]["jkt"]);
    assert_eq!(new["cnf"]["jkt"], claims(&at2)["cnf"]["jkt"]);
    assert!(new["exp"].as_i64().unwrap() <= old["exp"].as_i64().unwrap(), "{new} {old}");
    assert!(new["nbf"].as_i64().unwrap() >= claims(&at2)["exp"].as_i64().unwrap());

    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at2, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &nonce)), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("credential_request_denied")), "a refreshed token for a first issuance: {v}");

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET ready = 1 WHERE tax_id_code = ?1", [LUIGIA]).unwrap();
    let (s, v) = wallet.protected(&fed, "/deferred_credential", &at2, &json!({"transaction_id": transaction_id}), None).await;
    assert_eq!(s, 200, "the refreshed token serves the deferred endpoint: {v}");
}

/// A licence with restrictions (the sample registry's Giuseppe Bianchi: codes `["01.06"]`,
/// a JSON column) is issued, the codes as the registry holds them; the wallet's data-model
/// check, run by the issuer before it signs, takes the codes as well as the card's text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_with_restriction_codes_from_the_sample_registry() {
    let fed = Fed::new().await;
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let (_, s, v) = Wallet::new(1).first_credential(&fed, "BNCGPP90C15L219K", MDL).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let vc = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
    let attrs = vc.attributes();
    assert_eq!(attrs["restrictions_conditions"], json!(["01.06"]));
    assert_eq!(attrs["driving_privileges"][0]["vehicle_category_code"], "A");
}

/// The health card and the PID from the sample registries: `vct`, claims mapped from the
/// registry columns (renamed, JSON), the issuer's metadata claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_card_and_pid_from_the_sample_registries() {
    let fed = Fed::new().await;
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    for (configuration, vct) in [("dc_sd_jwt_EuropeanHealthInsuranceCard", "urn:eudi:ehic:1"), (PID, "urn:eudi:pid:it:1")] {
        let (_, s, v) = Wallet::new(1).first_credential(&fed, "BNCGPP90C15L219K", configuration).await;
        assert_eq!(s, 200, "{v}");
        let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
        let vc = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
        assert_eq!(vc.vct.as_str(), vct);
        assert_eq!(vc.sd_jwt.claims["issuing_country"], "IT");
        let attrs = vc.attributes();
        assert_eq!(attrs["family_name"], "Bianchi");
        if vct == "urn:eudi:ehic:1" {
            assert_eq!(attrs["personal_administrative_number"], "BNCGPP90C15L219K");
            assert_eq!(attrs["authentic_source"]["id"], "IT:MEF");
        } else {
            assert_eq!(attrs["tax_id_code"], "TINIT-BNCGPP90C15L219K");
            assert_eq!(attrs["place_of_birth"]["locality"], "Torino");
            assert_eq!(attrs["nationalities"][0], "IT");
        }
    }
}

/// A token request with the wallet attestation binds the token to the wallet instance: its
/// key proofs must then name it (`iss`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_token_request_binds_the_proofs_to_the_wallet_instance() {
    use wallet_core::jose::Signer as _;
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let waa_key = wallet_core::jose::SoftwareSigner::generate().unwrap();
    let waa = fed.waa(&waa_key, UnixTime::now(), 3_600);
    let client_id = waa_key.public_jwk().thumbprint().to_string();
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code, tx_code: Some(tx) }.to_form();
    let (s, v) = attested_token(&fed, &wallet, form, &attestation(&fed, &waa, &waa_key)).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let k0 = &wallet.keys[0];
    let wua = fed.wua(&[k0]);

    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &wua, &nonce)), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "a proof without the client's iss: {v}");
    let nonce = wallet.nonce(&fed).await;
    let proof = wallet_core::oid4vci::key_proof(k0, Some(&wua), Some(&client_id), fed.issuer_id.as_str(), Some(&nonce), UnixTime::now()).unwrap();
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, vec![proof]), None).await;
    assert_eq!(s, 200, "{v}");
}

/// The attestation headers for `waa` with a fresh PoP by `waa_key`.
fn attestation(fed: &Fed, waa: &str, waa_key: &SoftwareSigner) -> ClientAttestationHeaders {
    client_attestation_headers(waa, waa_key, fed.issuer_id.as_str(), None, UnixTime::now()).unwrap()
}

/// `POST /token` with `form`, a fresh DPoP proof by the wallet's key and the attestation
/// headers `h` as they are.
async fn attested_token(fed: &Fed, wallet: &Wallet, form: String, h: &ClientAttestationHeaders) -> (u16, Value) {
    let r = fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", wallet.dpop_for(fed, "/token", None)).body(form);
    Fed::json(common::with_attestation(r, h)).await
}

/// The attested refresh tests' start: a 30 s access token (the refresh can be tried at once), a
/// wallet instance's key and its fresh WAA, and the refresh token of a pre-authorized offer
/// redeemed with that attestation (bound to the instance), as a refresh form.
async fn attested_refresh_token() -> (Fed, Wallet, SoftwareSigner, String, String) {
    let fed = Fed::with(|c| c.access_token_ttl = 30).await;
    let wallet = Wallet::new(1);
    let waa_key = SoftwareSigner::generate().unwrap();
    let waa = fed.waa(&waa_key, UnixTime::now(), 3_600);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code, tx_code: Some(tx) }.to_form();
    let (s, v) = attested_token(&fed, &wallet, form, &attestation(&fed, &waa, &waa_key)).await;
    assert_eq!(s, 200, "{v}");
    let refresh_token = v["refresh_token"].as_str().expect("a refresh token").to_owned();
    (fed, wallet, waa_key, waa, TokenRequest::RefreshToken { refresh_token, scope: None }.to_form())
}

/// The refresh grant of a wallet-attested client records the attestation PoP's `jti`, as
/// PAR and the other grants do: the same PoP on a second refresh (a fresh DPoP proof) is
/// refused `invalid_client` (401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_attestation_pop_at_refresh_is_invalid_client() {
    let (fed, wallet, waa_key, waa, refresh) = attested_refresh_token().await;
    let h = attestation(&fed, &waa, &waa_key);
    let (s, v) = attested_token(&fed, &wallet, refresh.clone(), &h).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = attested_token(&fed, &wallet, refresh.clone(), &h).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "replayed attestation PoP: {v}");
    let (s, v) = attested_token(&fed, &wallet, refresh, &attestation(&fed, &waa, &waa_key)).await;
    assert_eq!(s, 200, "a fresh PoP: {v}");
}

/// IT-Wallet 1.4 §3.3 "Refresh" and "Token errors": a refresh token bound to a wallet
/// instance (its grant was attested) is refused without the wallet attestation (401
/// `invalid_client`), with another instance's valid WAA and PoP (400 `invalid_grant`:
/// wallet-core `check_client`); an access token (`at+jwt`) sent as `refresh_token` is
/// `invalid_grant`. None of the refusals spends the refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_refresh_token_needs_its_own_wallet_instance() {
    let (fed, wallet, waa_key, waa, refresh) = attested_refresh_token().await;
    let Ok(TokenRequest::RefreshToken { refresh_token: rt, .. }) = TokenRequest::parse_form(&refresh) else { panic!("a refresh form: {refresh}") };

    // (a) No OAuth-Client-Attestation nor its PoP (the right DPoP key).
    let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
    assert_eq!((s, v["error"].as_str()), (401, Some("invalid_client")), "refresh of an attested grant without the attestation: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("OAuth-Client-Attestation"), "{v}");

    // (b) Another wallet instance: a valid WAA of the same provider for another key, its PoP.
    let other_key = SoftwareSigner::generate().unwrap();
    let other_waa = fed.waa(&other_key, UnixTime::now(), 3_600);
    let (s, v) = attested_token(&fed, &wallet, refresh.clone(), &attestation(&fed, &other_waa, &other_key)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "refresh with another instance's attestation: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("issued to another client"), "{v}");

    // Its own attestation: refreshed (the refusals above spent nothing).
    let (s, v) = attested_token(&fed, &wallet, refresh, &attestation(&fed, &waa, &waa_key)).await;
    assert_eq!(s, 200, "its own attestation: {v}");
    let at = v["access_token"].as_str().unwrap().to_owned();

    // (c) The access token as refresh_token, with the instance's own attestation and DPoP key.
    let as_refresh = TokenRequest::RefreshToken { refresh_token: at, scope: None }.to_form();
    let (s, v) = attested_token(&fed, &wallet, as_refresh, &attestation(&fed, &waa, &waa_key)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_grant")), "an at+jwt as refresh_token: {v}");
    assert!(v["error_description"].as_str().unwrap().contains("is not rt+jwt"), "{v}");
}

/// IT-Wallet 1.4 §3.3 "Token errors", §8: a wallet attestation that is not fresh (expired) is
/// `use_fresh_attestation` (400) at `/token` as at PAR, for the pre-authorized code and the
/// refresh grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_wallet_attestation_at_token_is_use_fresh_attestation() {
    let (fed, wallet, waa_key, _, refresh) = attested_refresh_token().await;
    let stale = fed.waa(&waa_key, UnixTime::now().plus(-7_200), 3_600);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let form = TokenRequest::PreAuthorizedCode { pre_authorized_code: code, tx_code: Some(tx) }.to_form();
    let (s, v) = attested_token(&fed, &wallet, form.clone(), &attestation(&fed, &stale, &waa_key)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("use_fresh_attestation")), "expired WAA, pre-authorized code: {v}");
    let (s, v) = attested_token(&fed, &wallet, refresh, &attestation(&fed, &stale, &waa_key)).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("use_fresh_attestation")), "expired WAA, refresh grant: {v}");
    // The refusal spent neither the code nor a tx_code attempt: with a fresh attestation the
    // same code is redeemed.
    let fresh = fed.waa(&waa_key, UnixTime::now(), 3_600);
    let (s, v) = attested_token(&fed, &wallet, form, &attestation(&fed, &fresh, &waa_key)).await;
    assert_eq!(s, 200, "the same code with a fresh WAA: {v}");
}

/// The re-issuance tests' start: a federation whose status list has 4 bits (room for
/// ATTRIBUTE_UPDATE), a wallet with two keys and Mario's licence issued under the first
/// (pre-authorized offer, 200); the refresh token of that grant and the `/credential` answer.
async fn licence_with_refresh_token() -> (Fed, Wallet, String, Value) {
    let fed = Fed::with(|c| {
        c.access_token_ttl = 30;
        c.status_bits = wallet_core::status::Bits::Four;
    })
    .await;
    let wallet = Wallet::new(2);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let tokens = wallet.tokens(&fed, &code, &tx).await;
    let rt = tokens.refresh_token.clone().expect("a refresh token");
    let nonce = wallet.nonce(&fed).await;
    let k0 = &wallet.keys[0];
    let (s, v) = wallet.protected(&fed, "/credential", &tokens.access_token, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    (fed, wallet, rt, v)
}

/// The registry record of Mario's licence changes and the admin API marks it `update`: the
/// admin's answer (200, one credential changed).
async fn update_licence(fed: &Fed) -> Value {
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET expiry_date = '2040-01-31' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&json!({"action": "update", "citizen": MARIO}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "{v}");
    v
}

/// A credential marked for update that has expired meanwhile is not re-issued: the successor
/// would keep its expiry (IT-Wallet 1.4 §3.3 "Re-issuance") and be born expired, so the
/// wallet is told to go through a new issuance: `credential_request_denied` naming the expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_credential_marked_for_update_is_not_reissued() {
    let (fed, wallet, rt, _) = licence_with_refresh_token().await;
    let k1 = &wallet.keys[1];
    update_licence(&fed).await;
    // The credential's expiry passes before the wallet asks for its successor.
    let store = rusqlite::Connection::open(fed.config.data_dir.join("issuer.sqlite")).unwrap();
    assert_eq!(store.execute("UPDATE issued SET expires_at = ?1", [UnixTime::now().secs() - 10]).unwrap(), 1);

    let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k1], &fed.wua(&[k1]), &nonce)), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("credential_request_denied")), "{v}");
    assert!(v["error_description"].as_str().unwrap_or_default().contains("have expired"), "{v}");
}

/// Re-issuance after an update (IT-Wallet 1.4 §3.3 "Refresh", issue 12): the registry
/// record changes, the admin `update` sets ATTRIBUTE_UPDATE (0x0B by default, a 4-bit
/// list); the refresh grant's token re-issues from the current record with a fresh key
/// proof, the old entry becomes INVALID, the new one VALID; the refresh proof's DPoP `jti`
/// is single use, and nothing is left to re-issue afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_licence_is_reissued_with_the_refresh_token() {
    let (fed, wallet, rt, v) = licence_with_refresh_token().await;
    let k1 = &wallet.keys[1];
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let old = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
    assert_ne!(old.attributes()["expiry_date"], "2040-01-31");
    let old_idx = old.status.unwrap().idx;

    // Before any update a refreshed token serves nothing.
    let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k1], &fed.wua(&[k1]), &nonce)), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("credential_request_denied")), "{v}");

    let v = update_licence(&fed).await;
    assert_eq!(v["status"].as_str(), Some("ATTRIBUTE_UPDATE"), "{v}");
    assert_eq!(status_of(&fed, old_idx).await, StatusValue::Other(0x0B));

    // The refresh proof's `jti` is single use.
    let form = wallet_core::oid4vci::TokenRequest::RefreshToken { refresh_token: rt.clone(), scope: None }.to_form();
    let d = dpop_proof(&wallet.dpop, "POST", &fed.url("/token"), None, None, UnixTime::now()).unwrap();
    let post = || fed.http.post(fed.url("/token")).header("content-type", "application/x-www-form-urlencoded").header("DPoP", d.clone()).body(form.clone());
    let (s, v) = Fed::json(post()).await;
    assert_eq!(s, 200, "{v}");
    let at = v["access_token"].as_str().unwrap().to_owned();
    let (s, v) = Fed::json(post()).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_dpop_proof")), "a replayed DPoP jti: {v}");

    // A second later than the first issuance: a re-issuance with `credential_ttl` from now
    // would have another exp.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k1], &fed.wua(&[k1]), &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let new = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
    assert_eq!(new.attributes()["expiry_date"], "2040-01-31", "the registry's current record");
    let cnf: wallet_core::jose::Jwk = serde_json::from_value(new.sd_jwt.claims["cnf"]["jwk"].clone()).unwrap();
    assert_eq!(cnf.thumbprint(), wallet_core::jose::Signer::public_jwk(k1).thumbprint(), "bound to the fresh key");
    // The same expiry as the credential it replaces (IT-Wallet 1.4 §3.3 "Re-issuance"), a
    // second or more later than the first issuance (the sleep above).
    assert_eq!(new.sd_jwt.claims["exp"], old.sd_jwt.claims["exp"], "the replaced credential's exp");
    assert!(new.sd_jwt.claims["iat"].as_i64().unwrap() > old.sd_jwt.claims["iat"].as_i64().unwrap());
    let new_idx = new.status.unwrap().idx;
    assert_eq!(status_of(&fed, old_idx).await, StatusValue::Invalid);
    assert_eq!(status_of(&fed, new_idx).await, StatusValue::Valid);

    // Nothing is left to re-issue.
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &at, &Wallet::request(MDL, wallet.proofs(&fed, &[k1], &fed.wua(&[k1]), &nonce)), None).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("credential_request_denied")), "{v}");
}

/// Re-issuance is single use (issue 12): two `/credential` requests at the same moment with
/// refreshed tokens of one grant, after an update, each with its own nonce and key: the
/// marked credential is claimed by one guarded UPDATE, so exactly one request is served and
/// the other is denied; the old entry ends INVALID, one successor VALID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_reissuances_of_one_update_serve_exactly_one() {
    let fed = Fed::with(|c| c.access_token_ttl = 30).await;
    let wallet = Wallet::new(3);
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let tokens = wallet.tokens(&fed, &code, &tx).await;
    let rt = tokens.refresh_token.clone().expect("a refresh token");
    let k0 = &wallet.keys[0];
    let nonce = wallet.nonce(&fed).await;
    let (s, v) = wallet.protected(&fed, "/credential", &tokens.access_token, &Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &nonce)), None).await;
    assert_eq!(s, 200, "{v}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&v) else { panic!("immediate") };
    let resolver = StaticKeyResolver::for_issuer(fed.issuer_key().await, fed.issuer_id.as_str());
    let old_idx = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap().status.unwrap().idx;

    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    conn.execute("UPDATE licences SET expiry_date = '2041-02-28' WHERE tax_id_code = ?1", [MARIO]).unwrap();
    let (s, v) = Fed::json(fed.http.post(fed.url("/admin/status")).bearer_auth(TOKEN).json(&json!({"action": "update", "citizen": MARIO}))).await;
    assert_eq!((s, v["changed"].as_u64()), (200, Some(1)), "{v}");

    let mut requests = Vec::new();
    for k in [&wallet.keys[1], &wallet.keys[2]] {
        let (s, v) = wallet.refresh(&fed, &rt, &wallet.dpop).await;
        assert_eq!(s, 200, "{v}");
        let at = v["access_token"].as_str().unwrap().to_owned();
        let nonce = wallet.nonce(&fed).await;
        requests.push((at, Wallet::request(MDL, wallet.proofs(&fed, &[k], &fed.wua(&[k]), &nonce))));
    }
    let [(at1, b1), (at2, b2)] = <[_; 2]>::try_from(requests).unwrap();
    let (r1, r2) = tokio::join!(wallet.protected(&fed, "/credential", &at1, &b1, None), wallet.protected(&fed, "/credential", &at2, &b2, None));
    let served: Vec<_> = [&r1, &r2].into_iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(served.len(), 1, "exactly one re-issuance: {r1:?} {r2:?}");
    let denied = if r1.0 == 200 { &r2 } else { &r1 };
    assert_eq!((denied.0, denied.1["error"].as_str()), (400, Some("credential_request_denied")), "{denied:?}");
    let CredentialResponse::Immediate { credentials, .. } = Wallet::parse_credentials(&served[0].1) else { panic!("immediate") };
    let new = wallet_core::vc::verify(&Verifier::new(&resolver), &credentials[0].credential, UnixTime::now()).unwrap();
    assert_eq!(new.attributes()["expiry_date"], "2041-02-28");
    assert_eq!(status_of(&fed, old_idx).await, StatusValue::Invalid);
    assert_eq!(status_of(&fed, new.status.unwrap().idx).await, StatusValue::Valid);
}

/// IT-Wallet 1.4 §1.1 (trust marks: static plus dynamic), OID-FED §8.4, at the credential
/// endpoint: the WUA's provider holds the required mark, signed and unexpired in its Entity
/// Configuration; once the anchor revokes it, the issuer, asking the anchor's
/// `federation_trust_mark_status_endpoint` about it, refuses the WUA (no wallet attestation
/// was shown at the token endpoint here: the credential request is where it is asked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_from_a_provider_whose_trust_mark_was_revoked_is_refused() {
    let mut fed = Fed::with(|c| {
        c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)];
        // Asked before every request: the revocation shows at once.
        c.trust_mark_status_refresh = 0;
    })
    .await;
    common::mark(&fed.http, &fed.anchor.id, &fed.wp_id, common::WP_MARK).await;
    fed.refresh_wp_chain().await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");

    revoke_wp_mark(&fed, &fed.anchor.id).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
    let why = v["error_description"].as_str().unwrap();
    assert!(why.contains("reports it revoked"), "{why}");
}

/// The same for a mark an intermediate issued (OID-FED §7.3, §8.4; IT-Wallet 1.4 §1.1): the
/// provider sits under an intermediate which the anchor lists in `trust_mark_issuers` for the
/// wallet-provider mark. The mark validates statically with the intermediate's keys; once the
/// intermediate revokes it, the issuer, asking the `federation_trust_mark_status_endpoint`
/// of the intermediate's metadata (its keys and metadata from its own trust chain to the
/// anchor), refuses the WUA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_from_a_provider_whose_intermediate_issued_mark_was_revoked_is_refused() {
    let mut fed = Fed::under_intermediate(|c| {
        c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)];
        // Asked before every request: the revocation shows at once.
        c.trust_mark_status_refresh = 0;
    })
    .await;
    let intermediate = fed.intermediate.clone().unwrap();
    common::mark(&fed.http, &intermediate, &fed.wp_id, &common::wp_mark(&fed.anchor.id)).await;
    fed.refresh_wp_chain().await;
    assert_eq!(fed.wp_chain.len(), 3, "the provider, the intermediate about it, the anchor about the intermediate");
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");

    revoke_wp_mark(&fed, &intermediate).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
    let why = v["error_description"].as_str().unwrap();
    assert!(why.contains("reports it revoked") && why.contains(intermediate.as_str()), "{why}");
}

/// The same with the default `trust_mark_status_refresh` (300 s): a mark revoked before the
/// issuer ever asked about it is refused at the first credential request. The static check
/// alone does not get the provider's chain remembered: the status asked then counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_whose_providers_mark_was_revoked_before_it_was_ever_asked_is_refused() {
    let mut fed = Fed::with(|c| c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)]).await;
    assert_eq!(fed.config.trust_mark_status_refresh, 300);
    common::mark(&fed.http, &fed.anchor.id, &fed.wp_id, common::WP_MARK).await;
    fed.refresh_wp_chain().await;
    revoke_wp_mark(&fed, &fed.anchor.id).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
    assert!(v["error_description"].as_str().unwrap().contains("reports it revoked"), "{v}");
}

/// `issuer` (the anchor, or the intermediate or other issuer that issued it) revokes the wallet provider's
/// trust mark (its Entity Configuration still carries it, signed and unexpired).
async fn revoke_wp_mark(fed: &Fed, issuer: &wallet_core::federation::EntityId) {
    let r = fed
        .http
        .post(format!("{issuer}/admin/trust-marks/revoke"))
        .bearer_auth(TOKEN)
        .json(&json!({"sub": fed.wp_id, "trust_mark_type": common::wp_mark(&fed.anchor.id)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// OID-FED §7.3 (a Trust Mark Issuer need not be in the subject's chain), §8.4, IT-Wallet 1.4
/// §1.1, §1.3: the provider sits directly under the anchor and holds the wallet-provider mark
/// from another entity of the federation, which the anchor lists in `trust_mark_issuers` for
/// that mark. The issuer resolves that issuer's trust chain to the anchor, verifies the mark
/// with its Federation Entity Keys and accepts the WUA; once that issuer revokes the mark,
/// the issuer, asking its `federation_trust_mark_status_endpoint`, refuses the WUA. (A mark
/// by an issuer the anchor does not accredit: wallet-core `trust_mark` unit tests; the
/// provider's building block does not even publish one.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wua_from_a_provider_whose_mark_an_accredited_issuer_issued_is_accepted_and_refused_once_revoked() {
    let mut fed = Fed::with_mark_issuer(|c| {
        c.wallet_provider_trust_marks = vec![common::wp_mark(&c.trust_anchors[0].id)];
        // Asked before every request: the revocation shows at once.
        c.trust_mark_status_refresh = 0;
    })
    .await;
    let mark_issuer = fed.mark_issuer.clone().unwrap();
    common::mark(&fed.http, &mark_issuer, &fed.wp_id, &common::wp_mark(&fed.anchor.id)).await;
    fed.refresh_wp_chain().await;
    assert_eq!(fed.wp_chain.len(), 2, "the provider and the anchor about it: the mark issuer is not in the chain");
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");
    // Its chain kept: a second request is served as well.
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!(s, 200, "{v}");

    revoke_wp_mark(&fed, &mark_issuer).await;
    let (_, s, v) = Wallet::new(1).first_credential(&fed, MARIO, PID).await;
    assert_eq!((s, v["error"].as_str()), (400, Some("invalid_proof")), "{v}");
    let why = v["error_description"].as_str().unwrap();
    assert!(why.contains("reports it revoked") && why.contains(mark_issuer.as_str()), "{why}");
}

/// WP_060 on the issuer's side: a registry record that breaks the credential's data model
/// (a licence category the EU directive does not have) is not signed: 500 `server_error`,
/// nothing recorded or spent, so the same request succeeds once the record is fixed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_record_outside_the_data_model_is_not_signed() {
    let fed = Fed::new().await;
    let wallet = Wallet::new(1);
    let conn = rusqlite::Connection::open(&fed.config.registry).unwrap();
    let good: String = conn.query_row("SELECT driving_privileges FROM licences WHERE tax_id_code = ?1", [MARIO], |r| r.get(0)).unwrap();
    conn.execute("UPDATE licences SET driving_privileges = ?1 WHERE tax_id_code = ?2", [r#"[{"vehicle_category_code":"Z9"}]"#, MARIO]).unwrap();
    let (url, tx) = fed.offer(MARIO, &[MDL]).await;
    let (_, code) = Wallet::read_offer(&fed, &url).await;
    let tokens = wallet.tokens(&fed, &code, &tx).await;
    let nonce = wallet.nonce(&fed).await;
    let k0 = &wallet.keys[0];
    let request = Wallet::request(MDL, wallet.proofs(&fed, &[k0], &fed.wua(&[k0]), &nonce));
    let (s, v) = wallet.protected(&fed, "/credential", &tokens.access_token, &request, None).await;
    assert_eq!((s, v["error"].as_str()), (500, Some("server_error")), "{v}");
    let issued: i64 = rusqlite::Connection::open(fed.config.data_dir.join("issuer.sqlite")).unwrap().query_row("SELECT COUNT(*) FROM issued", [], |r| r.get(0)).unwrap();
    assert_eq!(issued, 0, "nothing recorded");

    conn.execute("UPDATE licences SET driving_privileges = ?1 WHERE tax_id_code = ?2", [good.as_str(), MARIO]).unwrap();
    let (s, v) = wallet.protected(&fed, "/credential", &tokens.access_token, &request, None).await;
    assert_eq!(s, 200, "the same proofs, not spent by the refusal: {v}");
}
