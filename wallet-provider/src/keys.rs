//! The provider's keys and the material that lets a verifier trust what they sign.
//!
//! * The Federation Entity Key: the trust-anchor building block's key in the same data
//!   directory (`federation-keys.json`); it signs the Entity Configuration and, as the key of
//!   our CA certificate, our protocol certificates.
//! * The attestation key (`<data_dir>/attestation-key.jwk`, mode 0600, written atomically):
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
//! The chain and the CA certificate come from resolving our own chain, cached until it
//! expires. Before the trust anchor has onboarded us, attestations cannot be signed and the
//! endpoints answer 503 `temporarily_unavailable`.

use std::path::Path;
use std::sync::Mutex;

use wallet_core::federation::entity::ENTITY_STATEMENT_MEDIA_TYPE;
use wallet_core::federation::{ChainCollector, EntityId, Fetcher as _, ParsedStatement, TrustAnchorConfig};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{JwsAlg, JwsHeader, PrivateJwk, Signer as _, SoftwareSigner};
use wallet_core::time::UnixTime;

use crate::error::ProviderError;

/// Material older than this before its chain expires is refreshed.
const REFRESH_MARGIN: i64 = 300;

/// The signing header material, valid until `valid_until`.
#[derive(Debug, Clone)]
pub struct Material {
    /// `x5c`: protocol certificate, then the CA chain our superior pinned (ours, then any
    /// intermediate's), up to but not including the federation root.
    pub x5c: Vec<String>,
    /// `trust_chain`: our Entity Configuration, our superior's statement about us, ..., the
    /// trust anchor's configuration.
    pub trust_chain: Vec<String>,
    /// When it must be refreshed.
    pub valid_until: i64,
}

/// Keys and cached material.
pub struct Keys {
    entity_id: EntityId,
    federation: SoftwareSigner,
    attestation: SoftwareSigner,
    trust_anchor: EntityId,
    trust_anchor_jwks: Option<JwkSet>,
    /// Lifetime the protocol certificate must cover beyond now (the WUA's).
    cert_ttl: i64,
    cache: Mutex<Option<Material>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("attestation_kid", &self.attestation.kid()).finish_non_exhaustive()
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    wallet_core::store::write_private(path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

fn load_or_create_attestation_key(data_dir: &Path) -> Result<SoftwareSigner, String> {
    let path = data_dir.join("attestation-key.jwk");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let jwk = PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            SoftwareSigner::from_private_jwk(jwk).map_err(|e| format!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SoftwareSigner::generate().map_err(|e| e.to_string())?;
            write_private(&path, &key.private_jwk().to_json())?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Keys {
    /// Loads (creating on first start) the keys under `data_dir`.
    pub fn open(config: &crate::Config) -> Result<Self, String> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| format!("{}: {e}", config.data_dir.display()))?;
        Ok(Self {
            entity_id: config.entity_id.clone(),
            federation: trust_anchor::keys::load_or_create(&config.data_dir)?,
            attestation: load_or_create_attestation_key(&config.data_dir)?,
            trust_anchor: config.trust_anchor.clone(),
            trust_anchor_jwks: config.trust_anchor_jwks.clone(),
            cert_ttl: config.wua_ttl.saturating_add(86_400),
            cache: Mutex::new(None),
        })
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
        *self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// The cached material, refreshed when it is about to expire.
    pub async fn material(&self, now: UnixTime) -> Result<Material, ProviderError> {
        if let Some(m) = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner).as_ref()
            && m.valid_until > now.secs()
        {
            return Ok(m.clone());
        }
        let (entity_id, ta, ta_jwks) = (self.entity_id.clone(), self.trust_anchor.clone(), self.trust_anchor_jwks.clone());
        let chain = tokio::task::spawn_blocking(move || resolve_own_chain(&entity_id, ta, ta_jwks, now))
            .await
            .map_err(ProviderError::internal)??;
        let m = self.build(&chain, now)?;
        *self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(m.clone());
        Ok(m)
    }

    fn build(&self, chain: &wallet_core::federation::ValidatedChain, now: UnixTime) -> Result<Material, ProviderError> {
        let unavailable = |m: &str| ProviderError::Unavailable(format!("attestations cannot be signed yet: {m}"));
        let superior = chain.statements.get(1).ok_or_else(|| unavailable("no superior statement in our trust chain"))?;
        let fed_kid = self.federation.kid();
        let pinned = superior
            .claims
            .jwks
            .keys
            .iter()
            .find(|k| k.kid == fed_kid)
            .ok_or_else(|| unavailable("our superior does not pin our current federation key"))?;
        // The whole chain the superior pinned (our CA certificate, then under an intermediate
        // the intermediate's), so that a verifier reaches the federation root.
        let ca_chain = pinned
            .x5c
            .clone()
            .filter(|x| !x.is_empty())
            .ok_or_else(|| unavailable("our superior issued no CA certificate for our key (x5c)"))?;
        let cert = trust_anchor::ca::protocol_certificate(
            &self.entity_id,
            &self.federation,
            &self.attestation.public_jwk(),
            &self.entity_id.host(),
            now.secs(),
            self.cert_ttl,
        )
        .map_err(ProviderError::internal)?;
        Ok(Material {
            x5c: std::iter::once(trust_anchor::ca::x5c_entry(&cert)).chain(ca_chain).collect(),
            trust_chain: chain.jwts(),
            valid_until: chain.exp.secs().saturating_sub(REFRESH_MARGIN).max(now.secs().saturating_add(60)),
        })
    }
}

/// Resolves our own chain to the trust anchor (blocking HTTP). Without pinned keys the
/// anchor's self-signed configuration is trusted (development only: `Config::validate`
/// requires pinned keys in production).
fn resolve_own_chain(
    me: &EntityId,
    ta: EntityId,
    ta_jwks: Option<JwkSet>,
    now: UnixTime,
) -> Result<wallet_core::federation::ValidatedChain, ProviderError> {
    let unavailable = |e: String| ProviderError::Unavailable(format!("cannot resolve our trust chain: {e}"));
    let fetcher = trust_anchor::fetch::HttpFetcher::new().map_err(|e| unavailable(e.to_string()))?;
    let jwks = match ta_jwks {
        Some(j) => j,
        None => {
            let body = fetcher.get(&ta.configuration_url(), ENTITY_STATEMENT_MEDIA_TYPE).map_err(|e| unavailable(e.to_string()))?;
            let ec = ParsedStatement::parse(&body).map_err(|e| unavailable(e.to_string()))?;
            ec.verify_with(&ec.claims.jwks).map_err(|e| unavailable(e.to_string()))?;
            ec.claims.jwks
        }
    };
    let anchors = [TrustAnchorConfig { id: ta, jwks }];
    ChainCollector::new(&fetcher, &anchors).resolve(me, now).map_err(|e| unavailable(e.to_string()))
}
