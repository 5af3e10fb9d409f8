//! The provider's keys and the material that lets a verifier trust what they sign.
//!
//! * The Federation Entity Key: the trust-anchor building block's key in `keys_dir`
//!   (`federation-keys.json`); it signs the Entity Configuration and, as the key of our CA
//!   certificate, our protocol certificates.
//! * The attestation key (`<keys_dir>/attestation-key.jwk`, mode 0600, written atomically):
//!   signs WAAs, WUAs and the Status List Token. It is published in `wallet_solution.jwks`
//!   (IT-Wallet 1.4 §2.4: the keys "used for signing the Wallet Attestations").
//!
//! What goes in the JWS headers (IT-Wallet 1.4 §2.3 WAA/WUA, §6 Status List Token):
//! `kid` = the attestation key's RFC 7638 thumbprint; `x5c` = [protocol certificate for the
//! attestation key, our CA certificate] (the root is left out, as for request objects; the
//! verifier has it), the protocol certificate issued by us under the CA certificate the trust
//! anchor issued at onboarding and pinned in its Subordinate Statement about us (IT-Wallet
//! 1.4 §1.2); `trust_chain` = our chain to the trust anchor (OpenID Federation §4.3). So a
//! verifier can validate either way: `x5c` to the federation root, or `trust_chain` to the
//! trust anchor's keys and then `kid` in the resolved `wallet_solution.jwks`.
//!
//! `keys_dir` defaults to `data_dir`. Replicas of one provider (sharing a PostgreSQL
//! database) must share the keys: a WUA signed by one replica is checked against the one
//! `wallet_solution.jwks`, and a login sealed into the OIDC `state` by one replica's relying
//! party (`<keys_dir>/rp`) is opened by whichever receives the callback. Give every replica
//! the same `keys_dir` (one directory mounted in each, created by the first replica to
//! start, or the files copied in before the first start).
//!
//! The chain and the CA certificate come from resolving our own chain (async, bounded
//! outbound HTTP), cached until it expires. Before the trust anchor has onboarded us,
//! attestations cannot be signed and the endpoints answer 503 `temporarily_unavailable`.
//!
//! The protocol certificate (IT-Wallet 1.4 §1.2, WP_020: a certificate valid more than 24 h
//! needs a CRL) is valid 24 h at most ([`PROTOCOL_CERT_TTL`]) and names no CRL. It is
//! re-issued for the same attestation key whenever the one in use would end before what is
//! signed now: the WAA (at most `waa_ttl`) and the Status List Token (`status_list_ttl`) always
//! end within the certificate in their `x5c`. The WUA (a month at least) outlives any such
//! certificate: its `x5c` proves the provider's key when the WUA is issued and for the next
//! day; later a verifier establishes the key through the federation (the WP's trust chain,
//! `kid` in `wallet_solution.jwks`), which is how the WUA's `trust_chain` header is meant to
//! be refreshed anyway. Our choice, until the trust-anchor building block can issue a
//! protocol certificate with a CRL distribution point for us to serve.

use std::path::Path;
use std::sync::Mutex;

use wallet_core::federation::entity::ENTITY_STATEMENT_MEDIA_TYPE;
use wallet_core::federation::{AsyncFetcher, ChainCollector, EntityId, ParsedStatement, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::time::UnixTime;

use crate::error::ProviderError;

/// Material older than this before its chain expires is refreshed.
const REFRESH_MARGIN: i64 = 300;

pub use trust_anchor::protocol::PROTOCOL_CERT_TTL;
use trust_anchor::protocol::{ProtocolCert, ProtocolCerts};

/// The signing header material, valid until `valid_until`.
#[derive(Debug, Clone)]
pub struct Material {
    /// `x5c`: protocol certificate, then the CA chain our superior pinned (ours, then any
    /// intermediate's), without the root.
    pub x5c: Vec<String>,
    /// `trust_chain`: our chain to the trust anchor (leaf configuration first).
    pub trust_chain: Vec<String>,
    /// When the chain must be refreshed.
    pub valid_until: i64,
    /// `notAfter` of the protocol certificate (first of `x5c`).
    pub cert_not_after: i64,
}

/// Our chain as resolved: the CA chain our superior pinned and the trust chain.
#[derive(Debug, Clone)]
struct Resolved {
    ca_chain: Vec<String>,
    trust_chain: Vec<String>,
    valid_until: i64,
}

/// Keys and cached material.
pub struct Keys {
    entity_id: EntityId,
    /// The Federation Entity Key ring (shared with the federation building block's file):
    /// a rollover made on another replica is followed ([`Keys::follow_rollover`]).
    federation: trust_anchor::keys::SharedRing,
    attestation: SoftwareSigner,
    trust_anchor: EntityId,
    trust_anchor_jwks: Option<JwkSet>,
    http: service_kit::OutboundHttp,
    resolved: Mutex<Option<Resolved>>,
    /// The attestation key's certificate, covering what is signed now: the longest of the
    /// WAA and the Status List Token (the WUA outlives any 24 h certificate; see the module
    /// documentation).
    certs: ProtocolCerts,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("attestation_kid", &self.attestation.kid()).finish_non_exhaustive()
    }
}

/// Created on first start; replicas starting together on an empty `keys_dir` all use the one
/// written (service-kit `files::load_or_create_jwk`).
fn load_or_create_attestation_key(keys_dir: &Path) -> Result<SoftwareSigner, String> {
    service_kit::files::load_or_create_jwk(
        &keys_dir.join("attestation-key.jwk"),
        |jwk| SoftwareSigner::from_private_jwk(jwk).map_err(|e| e.to_string()),
        || SoftwareSigner::generate().map(|k| k.private_jwk().to_json()).map_err(|e| e.to_string()),
    )
}

impl Keys {
    /// Loads (creating on first start) the keys under `config.keys_dir()` (`keys_dir`, or
    /// `data_dir`).
    pub fn open(config: &crate::Config) -> Result<Self, String> {
        let dir = config.keys_dir();
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self {
            entity_id: config.entity_id.clone(),
            federation: trust_anchor::keys::SharedRing::open(dir)?,
            attestation: load_or_create_attestation_key(dir)?,
            trust_anchor: config.trust_anchor.clone(),
            trust_anchor_jwks: config.trust_anchor_jwks.clone(),
            http: service_kit::OutboundHttp::new(config.outbound).map_err(|e| format!("outbound HTTP: {e}"))?,
            resolved: Mutex::new(None),
            certs: ProtocolCerts::new(config.entity_id.clone(), config.waa_ttl.max(config.status_list_ttl)),
        })
    }

    /// Outbound fetches in flight and the most allowed (for `/health`).
    pub fn outbound_in_flight(&self) -> (usize, usize) {
        (self.http.in_flight(), self.http.limits().max_in_flight.max(1))
    }

    /// The attestation key (signs WAA, WUA, the status list).
    pub fn attestation(&self) -> &SoftwareSigner {
        &self.attestation
    }

    /// `wallet_solution.jwks`: the attestation key.
    pub fn wallet_solution_jwks(&self) -> JwkSet {
        JwkSet { keys: vec![self.attestation.public_jwk()] }
    }

    /// A header for `typ` signed by the attestation key, with `kid`, `x5c` and `trust_chain`.
    pub async fn header(&self, typ: &str, now: UnixTime) -> Result<JwsHeader, ProviderError> {
        let m = self.material(now).await?;
        let mut h = JwsHeader::new(JwsAlg::Es256).with_typ(typ).with_kid(self.attestation.kid()).with_x5c(m.x5c);
        h.trust_chain = Some(m.trust_chain);
        Ok(h)
    }

    /// Drops the cached material (after a key rollover or re-onboarding).
    pub fn invalidate(&self) {
        *self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        self.certs.invalidate();
    }

    /// Takes up a Federation Entity Key rollover made on another replica (or by this one's
    /// federation admin API): what was made with the old key (the protocol certificate, our
    /// chain's CA certificates, the encoded header) is dropped and made again.
    fn follow_rollover(&self) {
        if self.federation.take_up() {
            tracing::info!("federation key rolled over: certificates and our chain are made again");
            self.invalidate();
        }
    }

    /// The signing material at `now`: the chain (cached until it nears its expiry) and a
    /// protocol certificate that covers what is signed now (re-issued for the same key
    /// when the one in use would end first).
    pub async fn material(&self, now: UnixTime) -> Result<Material, ProviderError> {
        self.follow_rollover();
        let cached = self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone().filter(|r| r.valid_until > now.secs());
        let resolved = match cached {
            Some(r) => r,
            None => {
                let chain = resolve_own_chain(&self.http, &self.entity_id, &self.trust_anchor, self.trust_anchor_jwks.as_ref(), now).await?;
                let r = self.resolved_from(&chain, now)?;
                *self.resolved.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(r.clone());
                r
            }
        };
        let cert = self.protocol_cert(now)?;
        Ok(Material {
            x5c: std::iter::once(cert.b64).chain(resolved.ca_chain).collect(),
            trust_chain: resolved.trust_chain,
            valid_until: resolved.valid_until,
            cert_not_after: cert.not_after,
        })
    }

    /// The protocol certificate for the attestation key: at most 24 h ([`PROTOCOL_CERT_TTL`]),
    /// re-issued when it would end before what is signed now stops needing it.
    fn protocol_cert(&self, now: UnixTime) -> Result<ProtocolCert, ProviderError> {
        self.follow_rollover();
        self.certs.get(self.federation.read().current(), &self.attestation.public_jwk(), now.secs()).map_err(ProviderError::internal)
    }

    fn resolved_from(&self, chain: &wallet_core::federation::ValidatedChain, now: UnixTime) -> Result<Resolved, ProviderError> {
        let unavailable = |m: &str| ProviderError::Unavailable(format!("attestations cannot be signed yet: {m}"));
        // The CA chain our superior pinned (ours, then under an intermediate the
        // intermediate's), without the root: a verifier reaches the federation root it trusts.
        let ca_chain = trust_anchor::protocol::without_root(trust_anchor::protocol::pinned_ca_chain(chain, self.federation.read().current()).map_err(unavailable)?);
        Ok(Resolved {
            ca_chain,
            trust_chain: chain.jwts(),
            valid_until: chain.exp.secs().saturating_sub(REFRESH_MARGIN).max(now.secs().saturating_add(60)),
        })
    }
}

/// Resolves our own chain to the trust anchor over bounded async HTTP (service-kit's
/// [`service_kit::OutboundHttp`]: a timeout per fetch, a deadline for the whole resolution,
/// a bound on fetches in flight). Without pinned keys the anchor's self-signed
/// configuration is trusted (development only: `Config::validate` requires pinned keys in
/// production).
async fn resolve_own_chain(
    http: &service_kit::OutboundHttp,
    me: &EntityId,
    ta: &EntityId,
    ta_jwks: Option<&JwkSet>,
    now: UnixTime,
) -> Result<wallet_core::federation::ValidatedChain, ProviderError> {
    let unavailable = |e: String| ProviderError::Unavailable(format!("cannot resolve our trust chain: {e}"));
    let fetcher = http.for_request();
    let jwks = match ta_jwks {
        Some(j) => j.clone(),
        None => {
            let body = AsyncFetcher::get(&fetcher, &ta.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).await.map_err(|e| unavailable(e.to_string()))?;
            let ec = ParsedStatement::parse(&body).map_err(|e| unavailable(e.to_string()))?;
            ec.verify_with(&ec.claims.jwks).map_err(|e| unavailable(e.to_string()))?;
            ec.claims.jwks
        }
    };
    let anchors = [TrustAnchorConfig { id: ta.clone(), jwks }];
    ChainCollector::new_async(&fetcher, &anchors).resolve_async(me, now).await.map_err(|e| unavailable(e.to_string()))
}
