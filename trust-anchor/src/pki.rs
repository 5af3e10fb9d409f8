//! The service side of the federation's X.509 hierarchy (IT-Wallet 1.4 §1.2): which CA
//! issues here, the CA certificates put in the `x5c` of pinned keys at onboarding, an
//! intermediate's own CA certificate obtained from its superior, and the CRL.
//!
//! * The trust anchor issues under its root: pathlen 1 to intermediates, 0 to leaves.
//! * An intermediate issues its leaves' CA certificates (pathlen 0) under its own CA
//!   certificate, which it takes from the `x5c` of its key in its superior's Subordinate
//!   Statement (fetched, signature checked with the superior's configuration keys, the
//!   certificate checked to certify our key) and keeps in `<data_dir>/ca-chain.json`.
//!   A leaf's `x5c` is then its CA, the intermediate's CA, the root.
//! * Our choice: an intermediate does not issue CA certificates to intermediates below it
//!   (its pathlen 1 leaves room for leaves only); their keys are pinned without `x5c`.
//! * When no certificate can be issued (no CA certificate yet, the subject's host outside
//!   this CA's name constraints, a non-P-256 key), the keys are pinned without `x5c` and the
//!   onboarding answer says why: X.509 does not block federation onboarding.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use wallet_core::federation::entity::{ENTITY_STATEMENT_MEDIA_TYPE, ParsedStatement};
use wallet_core::federation::{AsyncFetcher, EntityId};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Jwk, Signer as _};
use wallet_core::time::UnixTime;

use crate::ca::{self, CaError, CaRequest, IssuingCa, Revoked};
use crate::error::ApiError;
use crate::registry::IssuedCertificate;
use crate::protocol::ProtocolCerts;
use crate::routes::AppState;

/// The media type of a CRL (RFC 5280 §5, DER): wallet-core's, which fetchers ask for.
pub use wallet_core::x509::crl::CRL_MEDIA_TYPE;

/// An intermediate's own CA certificate chains (`x5c`, its CA first, the root last), by the
/// `kid` of the key each certifies, persisted in `<data_dir>/ca-chain.json`.
#[derive(Debug)]
pub(crate) struct OwnCa {
    path: PathBuf,
    chains: RwLock<BTreeMap<String, Vec<String>>>,
}

impl OwnCa {
    pub(crate) fn load(data_dir: &Path) -> Self {
        let path = data_dir.join("ca-chain.json");
        let chains = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unreadable CA chain file");
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        Self { path, chains: RwLock::new(chains) }
    }

    fn get(&self, kid: &str) -> Option<Vec<String>> {
        self.chains.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(kid).cloned()
    }

    fn put(&self, kid: &str, chain: Vec<String>) -> Result<(), String> {
        let text = {
            let mut chains = self.chains.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            chains.insert(kid.to_owned(), chain);
            serde_json::to_string_pretty(&*chains).map_err(|e| e.to_string())?
        };
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path)).map_err(|e| format!("{}: {e}", self.path.display()))
    }
}

/// The CA issuing here: its certificate (DER) and the `x5c` entries that follow a
/// certificate it issues (itself up to the root).
struct Chain {
    ca_der: Vec<u8>,
    tail: Vec<String>,
}

fn b64(s: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|_| "x5c entry is not base64".to_owned())
}

/// The CA issuing CA certificates here: an authority's ([`own_chain`]); a leaf issues none.
async fn issuing_chain(st: &AppState, fetcher: &dyn AsyncFetcher) -> Result<Chain, String> {
    if st.root_ca().is_none() && !st.config().authority {
        return Err("a leaf issues no CA certificates".into());
    }
    own_chain(st, fetcher).await
}

/// Our CA: the root at the trust anchor; else the CA certificate our superior pinned for our
/// current key (an intermediate's, or a leaf's, whose pathlen 0 lets it issue end-entity
/// certificates only: [`signing_certificate`]).
async fn own_chain(st: &AppState, fetcher: &dyn AsyncFetcher) -> Result<Chain, String> {
    if let Some(root) = st.root_ca() {
        return Ok(Chain { ca_der: root.to_vec(), tail: vec![ca::x5c_entry(root)] });
    }
    let chain = own_ca_chain(st, fetcher).await?;
    let first = chain.first().ok_or("empty CA chain")?;
    Ok(Chain { ca_der: b64(first)?, tail: chain })
}

/// An intermediate's CA chain for its current key: cached, else from a superior.
async fn own_ca_chain(st: &AppState, fetcher: &dyn AsyncFetcher) -> Result<Vec<String>, String> {
    let key = st.inner().ring().current().public_jwk();
    let kid = key.kid.clone().unwrap_or_default();
    if let Some(c) = st.inner().own_ca.get(&kid) {
        return Ok(c);
    }
    let mut last = "no authority_hints".to_owned();
    for sup in &st.config().authority_hints {
        match fetch_own_chain(st, fetcher, sup, &key).await {
            Ok(chain) => {
                st.inner().own_ca.put(&kid, chain.clone())?;
                tracing::info!(superior = %sup, kid, "own CA certificate obtained from the superior");
                return Ok(chain);
            }
            Err(e) => last = format!("{sup}: {e}"),
        }
    }
    Err(format!("no CA certificate from a superior yet ({last})"))
}

/// The `x5c` that `superior` pins for our `key` in its Subordinate Statement about us.
async fn fetch_own_chain(st: &AppState, fetcher: &dyn AsyncFetcher, superior: &EntityId, key: &Jwk) -> Result<Vec<String>, String> {
    let me = st.config().entity_id.clone();
    let sup = crate::routes::fetch_configuration(fetcher, superior).await.map_err(|e| e.description)?;
    sup.verify_with(&sup.claims.jwks).map_err(|e| format!("configuration not self-signed: {e}"))?;
    let endpoint = sup.claims.federation_endpoint("federation_fetch_endpoint").ok_or("no federation_fetch_endpoint")?;
    let url = wallet_core::federation::fetch_url(endpoint, &me);
    let body = fetcher.get(&url, ENTITY_STATEMENT_MEDIA_TYPE).await.map_err(|e| e.to_string())?;
    let ss = ParsedStatement::parse(&body).map_err(|e| e.to_string())?;
    ss.verify_with(&sup.claims.jwks).map_err(|e| format!("subordinate statement: {e}"))?;
    if &ss.claims.iss != superior || ss.claims.sub != me {
        return Err("the subordinate statement is not about us".into());
    }
    let pinned = ss.claims.jwks.keys.iter().find(|k| k.params == key.params).ok_or("our current key is not pinned yet")?;
    let x5c = pinned.x5c.clone().filter(|c| !c.is_empty()).ok_or("our key is pinned without a CA certificate")?;
    let first = b64(x5c.first().ok_or("empty x5c")?)?;
    if !ca::certifies(&first, key).map_err(|e| e.to_string())? {
        return Err("the pinned certificate is for another key".into());
    }
    Ok(x5c)
}

/// Puts `id`'s CA certificate, issued here, in the `x5c` of each of its keys and records
/// the certificates for the CRL; says what was done.
pub(crate) async fn with_ca_certificates(
    st: &AppState,
    fetcher: &dyn AsyncFetcher,
    id: &EntityId,
    mut jwks: JwkSet,
    intermediate: bool,
    extra_domains: &[String],
) -> Result<(JwkSet, String), ApiError> {
    if intermediate && !st.config().is_trust_anchor() {
        return Ok((jwks, "no CA certificate: an intermediate issues CA certificates to leaves only".into()));
    }
    let chain = match issuing_chain(st, fetcher).await {
        Ok(c) => c,
        Err(e) => return Ok((jwks, format!("no CA certificate: {e}"))),
    };
    let now = UnixTime::now().secs();
    let mut issued = Vec::new();
    let mut notes = Vec::new();
    {
        let ring = st.inner().ring();
        let ca = match IssuingCa::new(&chain.ca_der, ring.current(), st.endpoint("crl")) {
            Ok(ca) => ca,
            Err(e) => return Ok((jwks, format!("no CA certificate: {e}"))),
        };
        let extra = if intermediate { extra_domains } else { &[] };
        let mut out = jwks.clone();
        for key in &mut out.keys {
            let subject_key = key.clone();
            let req = CaRequest { subject: id, subject_key: &subject_key, path_len: u8::from(intermediate), extra_domains: extra };
            match ca::issue_ca_certificate(&ca, &req, now) {
                Ok(c) => {
                    key.x5c = Some([vec![ca::x5c_entry(&c.der)], chain.tail.clone()].concat());
                    issued.push(c);
                }
                Err(e @ CaError::UnsupportedKey(_)) => notes.push(e.to_string()),
                Err(e @ CaError::OutsideNameConstraints { .. }) => return Ok((jwks, format!("no CA certificate: {e}"))),
                Err(e @ CaError::BadName(_)) => return Err(ApiError::invalid_request(format!("permitted_domains: {e}"))),
                Err(e) => return Err(ApiError::server(e)),
            }
        }
        jwks = out;
    }
    for c in &issued {
        let rec = IssuedCertificate { serial: c.serial.clone(), entity_id: id.to_string(), issued_at: now, not_after: c.not_after, revoked_at: None };
        st.registry().add_certificate(&rec).await.map_err(ApiError::server)?;
    }
    let mut note = format!("{} CA certificate(s) issued, pathlen {}", issued.len(), u8::from(intermediate));
    for n in notes {
        note.push_str("; ");
        note.push_str(&n);
    }
    Ok((jwks, note))
}

/// A signing certificate we issued for one of our protocol keys, and the `x5c` to carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// `[the certificate, our CA certificate, the intermediates' CAs]`: base64 DER, without
    /// the root (IT-Wallet 1.4 §1.3).
    pub x5c: Vec<String>,
    /// Its `notAfter`, Unix seconds.
    pub not_after: i64,
    /// Its serial, lowercase hex (on our CRL once revoked).
    pub serial: String,
}

/// The name under which our signing certificates for the key `kid` are recorded (the
/// registry's `entity_id` column): what [`revoke_signing_certificates`] revokes.
fn signing_record(st: &AppState, kid: &str) -> String {
    format!("{} signing key {kid}", st.config().entity_id)
}

/// Issues, under our own CA certificate, a signing certificate for `key` valid until
/// `not_after` (cut to our CA certificate's end), records it for our CRL and returns it with
/// the `x5c` to carry. For keys whose signatures must stay verifiable longer than a day —
/// a credential issuer's (IT-Wallet 1.4 §4.1: `x5c` REQUIRED in the SD-JWT VC header; §1.2:
/// more than 24 h needs a CRL, ours at `/crl`). Why not, when not: before a superior pinned
/// our key with a CA certificate, for a non-P-256 key, or a host outside our constraints.
///
/// A key withdrawn here ([`revoke_signing_certificates`]) gets no new certificate: a
/// compromised key must not come back into use by a renewal.
pub async fn signing_certificate(st: &AppState, key: &Jwk, now: i64, not_after: i64) -> Result<SigningCertificate, String> {
    let kid = key.kid.as_deref().unwrap_or_default();
    if signing_key_withdrawn(st, kid).await? {
        return Err(format!("the key {kid} was withdrawn (its signing certificates are revoked): it gets no new certificate"));
    }
    let fetcher = st.http().for_request();
    let chain = own_chain(st, &fetcher).await?;
    let issued = {
        let ring = st.inner().ring();
        let ca = IssuingCa::new(&chain.ca_der, ring.current(), st.endpoint("crl")).map_err(|e| e.to_string())?;
        ca::issue_signing_certificate(&ca, &st.config().entity_id, key, now, not_after).map_err(|e| e.to_string())?
    };
    let rec = IssuedCertificate {
        serial: issued.serial.clone(),
        entity_id: signing_record(st, key.kid.as_deref().unwrap_or_default()),
        issued_at: now,
        not_after: issued.not_after,
        revoked_at: None,
    };
    st.registry().add_certificate(&rec).await.map_err(|e| e.to_string())?;
    // A withdrawal that came in while this one was made: it goes on the CRL with the others.
    if signing_key_withdrawn(st, kid).await? {
        st.registry().revoke_certificates(&rec.entity_id, now).await.map_err(|e| e.to_string())?;
        return Err(format!("the key {kid} was withdrawn (its signing certificates are revoked): it gets no new certificate"));
    }
    let x5c = std::iter::once(ca::x5c_entry(&issued.der)).chain(crate::protocol::without_root(chain.tail)).collect();
    Ok(SigningCertificate { x5c, not_after: issued.not_after, serial: issued.serial })
}

/// The `x5c` for what the protocol key `key` signs now (a relying party's request object:
/// IT-Wallet 1.4 §5.1, `x5c` REQUIRED, no root): a protocol certificate from `certs` (at most
/// 24 h, so no CRL: §1.2) under our CA certificate, then our CA chain without the root. Why
/// not, when not: before a superior pinned our key with a CA certificate.
pub async fn protocol_x5c(st: &AppState, certs: &ProtocolCerts, key: &Jwk, now: i64) -> Result<Vec<String>, String> {
    let fetcher = st.http().for_request();
    let chain = own_chain(st, &fetcher).await?;
    let cert = {
        let ring = st.inner().ring();
        certs.get(ring.current(), key, now).map_err(|e| e.to_string())?
    };
    Ok(std::iter::once(cert.b64).chain(crate::protocol::without_root(chain.tail)).collect())
}

/// Revokes, at `now`, every signing certificate we issued for the key `kid` (a compromised
/// or withdrawn credential key): they go on our CRL. The count revoked.
/// Those who sign with the key learn of it at once on this replica
/// ([`signing_revocations`]), and from the registry within their own re-check on others.
pub async fn revoke_signing_certificates(st: &AppState, kid: &str, now: i64) -> Result<usize, String> {
    let n = st.registry().revoke_certificates(&signing_record(st, kid), now).await.map_err(|e| e.to_string())?;
    st.inner().signing_revocations.fetch_add(1, std::sync::atomic::Ordering::Release);
    Ok(n)
}

/// Whether the key `kid` was withdrawn here: a signing certificate issued for it revoked,
/// expired since or not (a registry read).
pub async fn signing_key_withdrawn(st: &AppState, kid: &str) -> Result<bool, String> {
    let certs = st.registry().certificates(&signing_record(st, kid)).await.map_err(|e| e.to_string())?;
    Ok(certs.iter().any(|c| c.revoked_at.is_some()))
}

/// How many revocations of signing certificates this replica has made since it started: a
/// service signing with a certificate it holds asks [`signing_key_withdrawn`] again when
/// this moves (an atomic read per request instead of a registry read).
pub fn signing_revocations(st: &AppState) -> u64 {
    st.inner().signing_revocations.load(std::sync::atomic::Ordering::Acquire)
}

/// `GET /crl`: the CRL of our CA (the root at the trust anchor, an intermediate's or a
/// leaf's own CA), listing the CA certificates of removed subordinates and the signing
/// certificates revoked here, until they expire. DER, `application/pkix-crl` (IT-Wallet 1.4
/// §1.2; RFC 5280 §5).
pub(crate) async fn crl(State(st): State<AppState>) -> Result<Response, ApiError> {
    let fetcher = st.http().for_request();
    let chain = own_chain(&st, &fetcher).await.map_err(|e| ApiError::not_found(format!("no CRL here: {e}")))?;
    let now = UnixTime::now().secs();
    let revoked: Vec<Revoked> = st
        .registry()
        .revoked_certificates(now)
        .await
        .map_err(ApiError::server)?
        .into_iter()
        .map(|c| Revoked { serial: c.serial, revoked_at: c.revoked_at.unwrap_or(now) })
        .collect();
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let der = {
        let ring = st.inner().ring();
        // After a key rollover the CA certificate may certify a retired key: no CRL then.
        let ca = IssuingCa::new(&chain.ca_der, ring.current(), st.endpoint("crl")).map_err(|e| ApiError::not_found(format!("no CRL here: {e}")))?;
        ca::crl(&ca, &revoked, i64::try_from(millis).unwrap_or(i64::MAX)).map_err(ApiError::server)?
    };
    Ok(([(header::CONTENT_TYPE, CRL_MEDIA_TYPE), (header::CACHE_CONTROL, "max-age=300")], der).into_response())
}
