//! The deployment under test and what the tool was told about it.

use std::sync::Arc;

use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::{Signer as _, SoftwareSigner};
use wallet_core::oid4vp::Profile;

/// A deployment at a URL.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its entity id (the URL its `/.well-known/openid-federation` is under).
    pub entity_id: EntityId,
    /// The IT-Wallet profile to test against (what the target is expected to emit).
    pub profile: Profile,
    /// The federation's trust anchor, when the target is not itself one: chains and
    /// `/resolve` are tested against it.
    pub trust_anchor: Option<TrustAnchorConfig>,
    /// For the federation plan: the subordinate to fetch (default: the first `/list` gives).
    pub subordinate: Option<EntityId>,
    /// For the rp plan: how the tool gets requests from the RP and credentials it trusts.
    pub rp: Option<RpSetup>,
    /// For the issuer plan's protocol rows: how the tool gets offers and attests its keys.
    pub issuer: Option<IssuerSetup>,
    /// For the wallet-provider plan's wallet rows: the citizen sessions and key attestation
    /// root the tool registers wallet instances with.
    pub wallet: Option<WalletSetup>,
}

impl Target {
    /// A target at `entity_id`, profile 1.4, nothing else known.
    pub fn new(entity_id: EntityId) -> Self {
        Self { entity_id, profile: Profile::default(), trust_anchor: None, subordinate: None, rp: None, issuer: None, wallet: None }
    }

    /// The URL of `path` under the entity id (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }
}

/// What the `rp` plan needs: an integrator API to create presentation sessions (our
/// verifier's, or an RP's equivalent: `POST {sessions}/sessions`, `GET {sessions}/sessions/{id}`,
/// `POST {sessions}/sessions/{id}/result`, see the crate's README), and an issuer the RP
/// trusts whose signing key the tool holds (the tool's own test federation), to present
/// credentials the RP must accept.
#[derive(Debug, Clone)]
pub struct RpSetup {
    /// The integrator API's base URL (our verifier: its entity id).
    pub sessions: String,
    /// The integrator API's bearer token.
    pub token: String,
    /// The trusted issuer.
    pub issuer: TestIssuer,
}

/// An issuer of the tool's test federation: its entity id (the RP resolves its trust chain)
/// and the key its `openid_credential_issuer.jwks` publishes.
#[derive(Clone)]
pub struct TestIssuer {
    /// Its entity id (`iss` of the credentials).
    pub id: String,
    /// Its signing key.
    pub key: Arc<SoftwareSigner>,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer").field("id", &self.id).field("kid", &self.key.kid()).finish_non_exhaustive()
    }
}

/// The trust anchor at `id`, its keys taken from its own Entity Configuration (fetched now:
/// trust on first use; pin the keys instead when they are known).
pub fn anchor_from_configuration(http: &crate::client::Http, id: &EntityId) -> Result<TrustAnchorConfig, String> {
    let url = format!("{}/.well-known/openid-federation", id.as_str().trim_end_matches('/'));
    let (r, _) = http.send("GET", &url, &[], None);
    let r = r.map_err(|e| e.to_string())?;
    if r.status != 200 {
        return Err(format!("GET {url} answered {}", r.status));
    }
    let jwt = crate::evidence::DecodedJwt::decode("anchor", &r.text()).ok_or_else(|| format!("{url} is not a JWT"))?;
    let jwks = jwt.payload.get("jwks").cloned().ok_or_else(|| format!("{url} has no jwks"))?;
    let jwks = serde_json::from_value(jwks).map_err(|e| format!("{url}: jwks: {e}"))?;
    Ok(TrustAnchorConfig { id: id.clone(), jwks })
}

/// A [`TestIssuer`] from its entity id and a private JWK file (P-256).
pub fn test_issuer(id: &str, private_jwk_file: &std::path::Path) -> Result<TestIssuer, String> {
    let text = std::fs::read_to_string(private_jwk_file).map_err(|e| format!("{}: {e}", private_jwk_file.display()))?;
    let jwk = wallet_core::jose::PrivateJwk::from_json(&text).map_err(|e| format!("{}: {e}", private_jwk_file.display()))?;
    let key = SoftwareSigner::from_private_jwk(jwk).map_err(|e| format!("{}: {e}", private_jwk_file.display()))?;
    Ok(TestIssuer { id: id.to_owned(), key: Arc::new(key) })
}

/// What the issuer plan's protocol rows need (the tool plays an activated wallet): an admin
/// API that creates pre-authorized offers for a citizen (our issuer's `POST {offers}/admin/offers`
/// `{"citizen", "credential_configuration_ids"}` → `{offer_url, tx_code}`, with
/// `Authorization: Bearer <token>`), the citizens to offer to, and a wallet provider of the
/// federation whose attestation key the tool holds, to sign the WUAs (`key_attestation`) of its
/// key proofs (IT-Wallet 1.4 §3.3).
#[derive(Debug, Clone)]
pub struct IssuerSetup {
    /// The admin API's base URL (our issuer: its entity id).
    pub offers: String,
    /// Its bearer token.
    pub token: String,
    /// A citizen whose credentials are ready (immediate issuance).
    pub citizen: String,
    /// A citizen whose credential is not ready (deferred issuance, CI_081); `None`: skipped.
    pub deferred_citizen: Option<String>,
    /// The wallet provider whose key signs the WUAs.
    pub wallet_provider: TestWalletProvider,
    /// A PID provider of the federation whose key the tool holds: the PIDs the tool presents
    /// when the issuer authenticates citizens with their PID (CI_054–CI_062); `None`: those
    /// rows are skipped.
    pub pid_provider: Option<TestIssuer>,
}

/// A wallet provider of the federation: its entity id (the issuer resolves its trust chain
/// from the WUA's `trust_chain` header, which the tool collects to `--trust-anchor`) and the key
/// its `wallet_solution.jwks` publishes.
#[derive(Clone)]
pub struct TestWalletProvider {
    /// Its entity id (`iss` of the WUAs).
    pub id: String,
    /// Its attestation key.
    pub key: Arc<SoftwareSigner>,
    /// Its trust chain, collected once per run.
    pub chain: Arc<std::sync::OnceLock<Vec<String>>>,
}

impl std::fmt::Debug for TestWalletProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestWalletProvider").field("id", &self.id).field("kid", &self.key.kid()).finish_non_exhaustive()
    }
}

/// A [`TestWalletProvider`] from its entity id and a private JWK file (P-256).
pub fn test_wallet_provider(id: &str, private_jwk_file: &std::path::Path) -> Result<TestWalletProvider, String> {
    let issuer = test_issuer(id, private_jwk_file)?;
    Ok(TestWalletProvider { id: issuer.id, key: issuer.key, chain: Arc::default() })
}

/// What the wallet-provider plan's wallet rows need (the tool plays a wallet instance,
/// IT-Wallet 1.4 §2.2-§2.4): a citizen's bearer session at the provider (what
/// `POST /citizen/session` gives after a SPID/CIE login), optionally a second citizen's (the
/// rows on another citizen's instance), and the root of the key attestations the provider
/// trusts in its test deployment (wallet-core's software key attestation format).
#[derive(Clone)]
pub struct WalletSetup {
    /// The citizen's session token.
    pub session: String,
    /// Another citizen's session token (`WP_042`, `WP_044`; `None`: skipped).
    pub other_session: Option<String>,
    /// The key attestation root's private key; `None`: wallet-core's published development
    /// root.
    pub attestation_root: Option<wallet_core::jose::PrivateJwk>,
    /// The fiscal number of the session's citizen (`TINIT-…`; `WP_008`).
    pub citizen: Option<String>,
    /// A PDND voucher issuer the provider trusts, for its "Notify User Death" e-service
    /// (`WP_008`; `None`: skipped).
    pub pdnd: Option<PdndClient>,
}

/// What the tool needs to call a wallet provider's PDND e-service as a PID Provider: the
/// voucher issuer the provider trusts and its signing key (the tool signs the voucher, ES256,
/// `typ` `at+jwt`), the PDND client and purpose the provider allows.
#[derive(Clone)]
pub struct PdndClient {
    /// The voucher's `iss`.
    pub issuer: String,
    /// The voucher issuer's signing key (its `kid` is the one the provider knows).
    pub key: Arc<SoftwareSigner>,
    /// `client_id`.
    pub client_id: String,
    /// `purposeId`, when the provider asks for one.
    pub purpose_id: Option<String>,
}

impl std::fmt::Debug for PdndClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdndClient").field("issuer", &self.issuer).field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WalletSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletSetup").field("other_session", &self.other_session.is_some()).finish_non_exhaustive()
    }
}

impl WalletSetup {
    /// The attester signing the tool's key attestations.
    pub fn attester(&self) -> Result<wallet_core::attestation::key_attestation::SoftwareAttester, String> {
        use wallet_core::attestation::key_attestation::SoftwareAttester;
        match &self.attestation_root {
            Some(k) => SoftwareSigner::from_private_jwk(k.clone()).map(SoftwareAttester::new).map_err(|e| e.to_string()),
            None => SoftwareAttester::development().map_err(|e| e.to_string()),
        }
    }
}
