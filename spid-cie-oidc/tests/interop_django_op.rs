//! Interop: our relying party logs in at the OpenID Provider of PyPI `spid-cie-oidc` 1.6
//! (django), started on loopback by `interop/spid_op_peer.py` under our trust anchor. The
//! browser is played here: the peer's login form (username/password, CSRF cookie) and its
//! consent form, then our RP finishes the login (token, ID Token, encrypted UserInfo).
//!
//! Peer quirks met (handled, each commented where handled): its pages extend the theme of
//! `design-django-theme`, not a dependency (the driver writes a bare base template); it
//! releases a user attribute only under the exact claim name asked (the driver stores the
//! fiscal number under `https://attributes.eid.gov.it/fiscal_number`); its UserInfo JWS has
//! `sub` and the attributes but no `iss`/`aud` (our RP accepts them absent, checks them when
//! present).
//!
//! Without `interop/.venv-spid` the test prints `skipped: run interop/setup.sh` and passes,
//! unless `TESSERA_INTEROP=required`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code

mod common;

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::PathBuf;

use common::{Fed, rp_mark_type};
use spid_cie_oidc::claims::Acr;
use spid_cie_oidc::op::Profile;
use spid_cie_oidc::rp::LoginRequest;
use wallet_core::federation::EntityId;

fn venv_python() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/.venv-spid/bin/python");
    if p.exists() {
        return Some(p);
    }
    assert_ne!(std::env::var("TESSERA_INTEROP").as_deref(), Ok("required"), "interop/.venv-spid is missing");
    eprintln!("skipped: run interop/setup.sh");
    None
}

/// The peer process, killed (by its handle) when dropped.
struct Peer(std::process::Child);

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A browser's cookie jar, enough for Django's `csrftoken` and `sessionid`.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let s = v.to_str().unwrap();
            let kv = s.split(';').next().unwrap();
            if let Some((k, v)) = kv.split_once('=') {
                self.0.insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }
    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

/// The `value` of the input named `name` in an HTML page.
fn input_value(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\""))?;
    let start = page[..at].rfind("<input")?;
    let end = at + page[at..].find('>')?;
    let tag = &page[start..end];
    let v = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(v.replace("&quot;", "\"").replace("&amp;", "&").replace("&#x27;", "'"))
}

/// The exception a Django debug page shows, or the start of the page.
fn django_error(page: &str) -> String {
    let title = page.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default();
    let value = page.split("exception_value\">").nth(1).and_then(|t| t.split("</pre>").next()).unwrap_or_default();
    if title.is_empty() && value.is_empty() { page.chars().take(1500).collect() } else { format!("{} | {}", title.trim(), value.trim()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_rp_logs_in_at_the_spid_cie_oidc_django_op() {
    let Some(python) = venv_python() else { return };
    let fed = Fed::new(Profile::Spid).await;
    let rp = fed.rp("rp", true, true).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../interop/spid_op_peer.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .args(["--port", &port.to_string(), "--ta", fed.ta.as_str(), "--trust-mark-type", &rp_mark_type(&fed.ta)])
        .arg("--data-dir")
        .arg(fed.dir.path().join("peer-op"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let peer_guard = Peer(child);
    let ready = tokio::task::spawn_blocking(move || std::io::BufReader::new(stdout).lines().next()).await.unwrap();
    assert!(ready.is_some_and(|l| l.unwrap().contains("\"ready\": true")), "the peer OP did not start");
    let peer = EntityId::new(format!("http://127.0.0.1:{port}")).unwrap();
    // Django's development server starts listening just after the ready line.
    let mut up = false;
    for _ in 0..100 {
        if fed.http.get(peer.configuration_url()).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the peer OP does not serve its entity configuration");
    let r = fed.onboard(&peer, "openid_provider").await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // 1. Our authorization request, as the peer receives it.
    let req = LoginRequest { acr_values: vec![Acr::SpidL2], ..LoginRequest::default() };
    let url = rp.rp.start_login(&peer, req).await.unwrap();
    let mut jar = Jar::default();
    let r = fed.http.get(&url).send().await.unwrap();
    jar.take(&r);
    let status = r.status();
    let page = r.text().await.unwrap();
    assert_eq!(status, 200, "the peer refused our request: {}", django_error(&page));
    // 2. Its login form: username/password, the request carried in a hidden field, CSRF.
    let csrf = input_value(&page, "csrfmiddlewaretoken").expect("csrf token");
    let authz = input_value(&page, "authz_request_object").expect("hidden authz request");
    let authz_ep = url.split('?').next().unwrap().to_owned();
    let r = fed
        .http
        .post(&authz_ep)
        .header("cookie", jar.header())
        .header("referer", &authz_ep)
        .form(&[("csrfmiddlewaretoken", csrf.as_str()), ("username", "mario"), ("password", "mario-test"), ("authz_request_object", authz.as_str())])
        .send()
        .await
        .unwrap();
    jar.take(&r);
    assert_eq!(r.status(), 302, "login: {}", r.text().await.unwrap_or_default().chars().take(2000).collect::<String>());
    let consent_url = r.headers()["location"].to_str().unwrap().to_owned();
    let consent_url = if consent_url.starts_with('/') { format!("{peer}{consent_url}") } else { consent_url };
    // 3. Its consent page.
    let r = fed.http.get(&consent_url).header("cookie", jar.header()).send().await.unwrap();
    jar.take(&r);
    let page = r.text().await.unwrap();
    let csrf = input_value(&page, "csrfmiddlewaretoken").expect("csrf token on the consent page");
    let r = fed
        .http
        .post(&consent_url)
        .header("cookie", jar.header())
        .header("referer", &consent_url)
        .form(&[("csrfmiddlewaretoken", csrf.as_str()), ("agree", "True")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "consent");
    let callback = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/callback?", rp.id)), "{callback}");
    // 4. Our RP: token with private_key_jwt, ID Token, encrypted UserInfo from the peer.
    let out = rp.rp.finish_login(&common::query(&callback)).await.unwrap();
    assert_eq!(out.provider, peer);
    assert!(out.acr >= Acr::SpidL2);
    assert_eq!(out.userinfo.fiscal_number.as_deref(), Some("TINIT-RSSMRA80A01H501U"));
    assert_eq!(out.userinfo.family_name.as_deref(), Some("Rossi"));
    // SPID logout: revoke the access token at the peer (RFC 7009, private_key_jwt); the peer
    // then refuses it at UserInfo.
    rp.rp.revoke(&peer, &out.tokens.access_token).await.unwrap();
    let provider = rp.rp.provider(&peer).await.unwrap();
    assert!(rp.rp.userinfo(&provider, &out.tokens.access_token, &out.id_token.sub).await.is_err());
    drop(peer_guard);
}
