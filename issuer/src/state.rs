//! The issuer's state: configuration, database, registry, keys, the federation entity it
//! runs as, its metadata, the trusted wallet providers, limiters, counters, the clock.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use service_kit::RateLimiter;
use wallet_core::federation::{TrustChainResolver, ValidatedChain};
use wallet_core::jose::{Jwk, JwsHeader};
use wallet_core::oid4vci::metadata::{ATTEST_JWT_CLIENT_AUTH, BatchCredentialIssuance};
use wallet_core::oid4vci::token::{GRANT_AUTHORIZATION_CODE, GRANT_PRE_AUTHORIZED_CODE, GRANT_REFRESH_TOKEN};
use wallet_core::oid4vci::{AuthorizationServerMetadata, CredentialConfiguration, CredentialIssuerMetadata};
use wallet_core::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use wallet_core::time::{Clock, SystemClock, UnixTime};

use crate::config::{Authentication, Config};
use wallet_core::oid4vci::Profile;
use crate::keys::Keys;
use crate::registry::Registry;
use crate::routes;
use crate::store::Store;

/// The federation entity type of a wallet provider's metadata, whose `jwks` signs WAAs and
/// WUAs (IT-Wallet 1.4 §2.4).
pub const WALLET_SOLUTION: &str = "wallet_solution";

/// Why the issuer could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The configuration breaks a rule.
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    /// Keys or the data directory.
    #[error("keys: {0}")]
    Keys(String),
    /// The database.
    #[error("database: {0}")]
    Store(#[from] crate::store::StoreError),
    /// The federation entity.
    #[error("federation entity: {0}")]
    Federation(String),
    /// `[tls]`: the certificate or key cannot be used.
    #[error("{0}")]
    Tls(#[from] service_kit::serve::TlsError),
}

/// Wallet providers' keys from the `trust_chain` header of their WAAs and WUAs, validated
/// to any configured trust anchor (wallet-core's [`TrustChainResolver`], one per anchor).
///
/// A chain once validated is remembered by its exact bytes (with the `iss` and `kid` it was
/// resolved for) until the earliest `exp` of its statements: every WUA of a provider carries
/// the same chain until the provider refreshes it, and validating it again would verify the
/// same signatures over the same bytes (two ES256 verifies and their parsing per request,
/// the largest cost after the request's own signatures in the issuance bench). What
/// validation checks of time is monotonic (`iat` not in the future, then `now` before each
/// `exp`), so the remembered result is the one validating again would give until that
/// `exp`; past it the chain is validated again (and fails). Failures are not remembered.
///
/// A WAA without the header (IT-Wallet 1.4 §3.3 "Wallet Attestation": `trust_chain` is
/// OPTIONAL) is resolved through the Federation API instead: [`Issuer::fetch_provider_chain`]
/// collects the provider's chain (its Entity Configuration, its superiors' `fetch`: test
/// matrix CI_036, CI_037) before the attestation is verified, and the chain, kept by `iss`
/// until its earliest `exp`, is then validated here as if the header had carried it.
///
/// A provider must also hold one of the trust marks `wallet_provider_trust_marks` names
/// (IT-Wallet 1.4 §1.3, issue 12: "any wallet provider whose chain reaches a configured
/// trust anchor and which holds the wallet-provider trust mark"), checked static plus dynamic
/// by service-kit's [`service_kit::trust_marks::MarkKeeper`] (the verifier checks credential
/// issuers' marks with the same): what it needs is fetched ahead of the synchronous checks
/// ([`Issuer::prefetch_for_attestation`], [`Issuer::fetch_anchor_configurations`],
/// [`Issuer::fetch_mark_issuers`]); a chain is remembered only once its mark checked, and
/// not past the mark's `exp`, its status answer's time or its issuer's chain's `exp`.
#[derive(Debug, Clone)]
pub struct WalletProviders {
    resolvers: Vec<TrustChainResolver>,
    validated: Arc<std::sync::Mutex<ValidatedChains>>,
    fetched: Arc<std::sync::Mutex<FetchedChains>>,
    /// The trust marks a provider must hold, and what checking them keeps.
    marks: Arc<service_kit::trust_marks::MarkKeeper>,
}

/// Providers' chains collected through the Federation API, by `iss`: the statements (none
/// after a failed collection) and until when they are used.
type FetchedChains = std::collections::HashMap<String, (Option<Vec<String>>, i64)>;

/// Provider keys from validated chains, by [`WalletProviders::chain_key`], with the chain's
/// earliest `exp`.
type ValidatedChains = std::collections::HashMap<[u8; 32], (Jwk, i64)>;

/// Distinct validated chains remembered at most (a few per provider: one per chain refresh);
/// the memory is emptied when full.
const MAX_VALIDATED_CHAINS: usize = 1_024;

impl WalletProviders {
    fn new(resolvers: Vec<TrustChainResolver>, required_marks: Vec<String>, mark_status_refresh: i64) -> Self {
        Self {
            resolvers,
            validated: Arc::default(),
            fetched: Arc::default(),
            marks: Arc::new(service_kit::trust_marks::MarkKeeper::new(required_marks, mark_status_refresh, "wallet provider")),
        }
    }

    /// Whether the statuses of `provider`'s required trust marks are to be asked (again)
    /// before its attestation is trusted ([`service_kit::trust_marks::MarkKeeper::statuses_due`]).
    pub fn mark_statuses_due(&self, provider: &str, now: i64) -> bool {
        self.marks.statuses_due(provider, now)
    }

    /// Whether the chain's provider holds a required trust mark: until when it is valid
    /// (`i64::MAX` without an `exp`, or when no mark is required).
    fn check_marks(&self, iss: &str, r: &TrustChainResolver, chain: &ValidatedChain, now: UnixTime) -> Result<i64, KeyResolutionError> {
        self.marks.check(chain, r.anchor(), now).map(|(until, _)| until).map_err(|reason| KeyResolutionError::MissingTrustMark { iss: iss.to_owned(), reason })
    }

    /// The chain collected for `iss`, while it is to be used (`None` after a failure too).
    fn fetched_chain(&self, iss: &str, now: i64) -> Option<Option<Vec<String>>> {
        let fetched = self.fetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        fetched.get(iss).filter(|(_, until)| now < *until).map(|(c, _)| c.clone())
    }

    /// SHA-256 over `iss`, `kid` and the chain, each length-prefixed; `None` without a chain.
    fn chain_key(iss: &str, header: &JwsHeader) -> Option<[u8; 32]> {
        use sha2::Digest as _;
        let chain = header.trust_chain.as_deref()?;
        let mut h = sha2::Sha256::new();
        for part in [iss, header.kid.as_deref().unwrap_or_default()].into_iter().chain(chain.iter().map(String::as_str)) {
            h.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            h.update(part.as_bytes());
        }
        Some(h.finalize().into())
    }

    /// The earliest `exp` of the chain's statements (already validated by the caller).
    fn earliest_exp(header: &JwsHeader) -> Option<i64> {
        header.trust_chain.as_deref()?.iter().map(|jwt| wallet_core::federation::entity::ParsedStatement::parse(jwt).ok().map(|s| s.claims.exp)).min().flatten()
    }
}

impl IssuerKeyResolver for WalletProviders {
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        if header.trust_chain.is_none()
            && let Some(Some(chain)) = self.fetched_chain(iss, now.secs())
        {
            let mut with_chain = header.clone();
            with_chain.trust_chain = Some(chain);
            return self.resolve(iss, &with_chain, now).map(|k| Cow::Owned(k.into_owned()));
        }
        let key = Self::chain_key(iss, header);
        if let Some(k) = &key {
            let validated = self.validated.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((jwk, exp)) = validated.get(k)
                && now.secs() < *exp
            {
                return Ok(Cow::Owned(jwk.clone()));
            }
        }
        let mut last = KeyResolutionError::UnknownIssuer { iss: iss.to_owned() };
        for r in &self.resolvers {
            match r.resolve_with_chain(iss, header, now).and_then(|(chain, jwk)| Ok((self.check_marks(iss, r, &chain, now)?, jwk))) {
                Ok((mark_exp, jwk)) => {
                    if let (Some(k), Some(exp)) = (key, Self::earliest_exp(header)) {
                        let mut validated = self.validated.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if validated.len() >= MAX_VALIDATED_CHAINS {
                            validated.clear();
                        }
                        validated.insert(k, (jwk.clone(), exp.min(mark_exp)));
                    }
                    return Ok(Cow::Owned(jwk));
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Our own trust chain, cached: the statements until shortly before the chain expires, or
/// nothing for [`CHAIN_RETRY`] seconds after a failed resolution.
#[derive(Debug, Default)]
struct OwnChain {
    jwts: Option<Vec<String>>,
    until: i64,
    /// The credentials' protected header with these `jwts`, once encoded, and until when it
    /// is used as it is.
    header: Option<(Arc<CredentialHeader>, i64)>,
}

/// The protected header of the credentials we sign, encoded once ([`Issuer::credential_header`]).
#[derive(Debug)]
pub struct CredentialHeader {
    /// `typ`, `alg`, `kid`, `x5c` and `trust_chain`, encoded.
    pub encoded: wallet_core::jose::jws::EncodedHeader,
    /// The end of the certificate in its `x5c` (none without one): a credential signed under
    /// it ends no later (IT-Wallet 1.4 §1.3: verifiers check the `x5c` chain when they check
    /// the credential).
    pub certificate_end: Option<wallet_core::time::UnixTime>,
    /// The key it names by `kid` and its certificate certifies: the one to sign with.
    pub signer: Arc<wallet_core::jose::SoftwareSigner>,
}

/// Our credential key's signing certificate (IT-Wallet 1.4 §4.1: the SD-JWT VC and Status
/// List Token `x5c`), issued under our CA certificate by the federation building block and
/// on its CRL once revoked (§1.2). Kept while it outlasts a credential signed now
/// (`credential_ttl`); asked for again at most every [`CHAIN_RETRY`] seconds.
#[derive(Debug, Default)]
struct SigningCert {
    cert: Option<trust_anchor::pki::SigningCertificate>,
    asked_at: Option<i64>,
    /// The `kid` of the key it certifies (and was asked for): nothing held for another key
    /// is handed out, so a request that began before a rotation cannot leave the old key's
    /// certificate behind for the new one.
    kid: Option<String>,
}

/// When this replica last looked for a rotated credential key in `keys_dir`
/// ([`Issuer::take_up_rotated_key`]), and one rotation at a time.
#[derive(Debug, Default)]
struct KeyRotation {
    checked_at: std::sync::atomic::AtomicI64,
    one: tokio::sync::Mutex<()>,
}

/// Whether our credential key was withdrawn (its signing certificates revoked through
/// `POST /admin/signing-certificates/revoke`, on any replica), as last read from the
/// federation registry.
#[derive(Debug, Default)]
struct KeyWithdrawal {
    /// The `kid` of the key this is about: another key (rotated in since) is read afresh.
    kid: Option<String>,
    withdrawn: bool,
    checked_at: Option<i64>,
    /// [`trust_anchor::pki::signing_revocations`] when it was read: a revocation made on
    /// this replica since is seen at the next request.
    generation: u64,
}

/// A signing certificate is issued this much longer than a credential signed now lasts:
/// it is renewed once in that time (a new serial on our CRL's registry), not per credential.
pub const SIGNING_CERT_RENEWAL: i64 = 30 * 86_400;

/// Seconds before a failed resolution of our own chain is tried again.
pub const CHAIN_RETRY: i64 = 30;
/// How often (seconds) a replica reads the federation registry for a withdrawal of the key it
/// signs with made on another replica (one indexed read): issuance stops within this time.
pub const WITHDRAWAL_LOOK: i64 = 1;
/// Our chain is resolved again this long before it expires.
const CHAIN_REFRESH_MARGIN: i64 = 300;

/// The rate limiters.
#[derive(Debug, Clone)]
pub struct Limiters {
    /// The wallet-facing endpoints.
    pub wallet: Arc<RateLimiter>,
    /// The admin API.
    pub admin: Arc<RateLimiter>,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer").field("entity_id", &self.inner.config.entity_id).finish_non_exhaustive()
    }
}

struct Inner {
    config: Config,
    store: Store,
    registry: Registry,
    keys: Keys,
    federation: trust_anchor::AppState,
    /// Replaced whole when the credential key is rotated (its `jwks`).
    metadata: std::sync::RwLock<Arc<CredentialIssuerMetadata>>,
    as_metadata: AuthorizationServerMetadata,
    /// Each served `vct`'s type metadata, serialized once ([`TypeMetadataDocument`]).
    type_metadata: std::collections::BTreeMap<String, TypeMetadataDocument>,
    wallet_providers: WalletProviders,
    key_rotation: KeyRotation,
    /// The grants read, until shortly before their `expires_at` (insert-only rows: `grants`).
    grants: crate::grants::Grants,
    http: service_kit::OutboundHttp,
    own_chain: std::sync::Mutex<OwnChain>,
    signing_cert: std::sync::Mutex<SigningCert>,
    /// One request at a time asks for a signing certificate; the others wait for its answer.
    signing_cert_refresh: tokio::sync::Mutex<()>,
    key_withdrawal: std::sync::Mutex<KeyWithdrawal>,
    /// One request at a time reads the registry for a withdrawal of our key (not the
    /// certificate's lock, held across outbound requests).
    withdrawal_refresh: tokio::sync::Mutex<()>,
    wua_statuses: wallet_core::oid4vp::verify::StatusCache,
    /// The WUAs recorded for their grants by this process (`crate::wua_recheck`).
    wuas_recorded: crate::wua_recheck::Recorded,
    /// WUAs' protected headers, parsed once per provider's header.
    wua_headers: wallet_core::jose::HeaderMemo,
    pid_statuses: wallet_core::oid4vp::verify::StatusCache,
    /// The trust marks required of a presented PID's issuer (`method = "pid"` `trust_marks`).
    pid_issuer_marks: service_kit::trust_marks::MarkKeeper,
    /// The federation CA roots (`x509_roots`) a presented PID's `x5c` chains to.
    x509_roots: Option<wallet_core::x509::TrustAnchors>,
    /// CRLs of presented PIDs' certificates.
    crls: wallet_core::x509::crl::CrlCache,
    issuer_chains: wallet_core::federation::ChainCache,
    relying_party: Option<spid_cie_oidc::RelyingParty>,
    /// Protocol certificates for the request object key (the PID over OpenID4VP).
    request_object_certs: trust_anchor::protocol::ProtocolCerts,
    clock: Arc<dyn Clock>,
    limiters: Limiters,
    metrics: crate::metrics::Metrics,
    signed_status_list: crate::status_list::SignedList,
    status_pool: crate::status_pool::StatusPool,
    tls: Option<Arc<service_kit::serve::ServerConfig>>,
}

/// The type metadata of one `vct` (SD-JWT VC §6), serialized once at start: the bytes served
/// at `/.well-known/type-metadata?vct=` and `/.well-known/vct/{vct}`, and the `vct#integrity`
/// every credential of that `vct` carries, computed over exactly those bytes (SD-JWT VC §7,
/// IT-Wallet 1.4 §4.1: W3C SRI `sha256-`). Replicas serialize the same value alike.
#[derive(Debug, Clone)]
pub struct TypeMetadataDocument {
    /// The JSON document, as served.
    pub json: axum::body::Bytes,
    /// Its `vct#integrity`.
    pub integrity: String,
}

/// One [`TypeMetadataDocument`] per `vct` our configurations issue.
fn type_metadata_documents(config: &Config) -> Result<std::collections::BTreeMap<String, TypeMetadataDocument>, serde_json::Error> {
    let mut docs = std::collections::BTreeMap::new();
    for c in &config.credentials {
        if docs.contains_key(c.preset.vct()) {
            continue;
        }
        let json = match &c.type_metadata {
            Some(own) => serde_json::to_vec(own)?,
            None => serde_json::to_vec(&c.preset.type_metadata())?,
        };
        let integrity = wallet_core::vc::Vct::integrity_of(&json);
        docs.insert(c.preset.vct().to_owned(), TypeMetadataDocument { json: json.into(), integrity });
    }
    Ok(docs)
}

/// `openid_credential_issuer` metadata (OpenID4VCI §12.2.4, IT-Wallet 1.4 §3.1): endpoints,
/// `batch_credential_issuance`, one SD-JWT VC configuration per configured credential
/// (ES256 proofs with a key attestation, unless `wallet_attestation` is optional), `display`,
/// `jwks` (the credential key) and `trust_frameworks_supported`. Each configuration carries
/// what IT-Wallet's issuer metadata lists ([`it_wallet_configuration`]).
pub fn issuer_metadata(config: &Config, keys: &Keys) -> CredentialIssuerMetadata {
    let configurations: BTreeMap<String, CredentialConfiguration> = config
        .credentials
        .iter()
        .map(|c| {
            let mut cc = CredentialConfiguration::sd_jwt_vc(c.preset.vct(), c.preset.scope());
            // `wallet_attestation = "optional"`: the WUA is not demanded (config.rs).
            for p in cc.proof_types_supported.values_mut() {
                p.key_attestations_required = config.wallet_attestation.key_attestations_required(p.key_attestations_required.take());
            }
            cc.extra.insert("display".into(), json!([{"name": c.preset.display_name(), "locale": "it-IT"}]));
            cc.extra.extend(it_wallet_configuration(config, c));
            (c.id.clone(), cc)
        })
        .collect();
    let mut extra = Map::new();
    extra.insert("display".into(), json!([{"name": config.organization_name, "locale": "it-IT"}]));
    // The current key and the retired ones still covering a valid credential (keys.rs).
    extra.insert("jwks".into(), serde_json::to_value(keys.issuer_jwks(UnixTime::now().secs(), config.credential_ttl)).unwrap_or(Value::Null));
    extra.insert("status_list_endpoint".into(), Value::from(config.endpoint(routes::STATUS_LIST_PATH)));
    extra.insert("status_list_aggregation_endpoint".into(), Value::from(config.endpoint(routes::STATUS_LIST_AGGREGATION_PATH)));
    // How the citizens' identities were established (`Authentication::trust_framework`).
    extra.insert("trust_frameworks_supported".into(), json!([config.authentication.trust_framework()]));
    CredentialIssuerMetadata {
        credential_issuer: config.entity_id.as_str().to_owned(),
        authorization_servers: vec![config.entity_id.as_str().to_owned()],
        credential_endpoint: config.endpoint(routes::CREDENTIAL_PATH),
        nonce_endpoint: Some(config.endpoint(routes::NONCE_PATH)),
        deferred_credential_endpoint: Some(config.endpoint(routes::DEFERRED_PATH)),
        notification_endpoint: Some(config.endpoint(routes::NOTIFICATION_PATH)),
        credential_response_encryption: None,
        batch_credential_issuance: Some(BatchCredentialIssuance { batch_size: config.batch_size }),
        credential_configurations_supported: configurations,
        extra,
    }
}

/// The members IT-Wallet 1.4 §3.1 gives each `credential_configurations_supported` entry
/// besides OpenID4VCI's: `schema_id` (`<scope>+dc+sd-jwt+<vct>`, as the spec's examples
/// name them: `mDL+dc+sd-jwt+urn:eudi:mDL:it:1`), `authentic_sources` (the registry table the
/// claims are read from, under this issuer's entity id: the authentic source is the
/// registry's own database, which this deployment serves), and `credential_metadata` with the
/// credential's `display` and each claim's `path`, `mandatory` (false: a registry column may
/// be empty, and the claim is then left out), `sd` (`always`: every user attribute is
/// selectively disclosable) and `display` carrying both `name` and `label` (the 1.3 and 1.4
/// SDK schemas each read one and ignore the other: versions note §5, issuer 6).
fn it_wallet_configuration(config: &Config, c: &crate::config::CredentialConfig) -> Map<String, Value> {
    let claims: Vec<Value> = c
        .preset
        .claims()
        .iter()
        .map(|claim| {
            let label = claim.replace('_', " ");
            json!({"path": [claim], "mandatory": false, "sd": "always", "display": [{"name": label, "label": label, "locale": "it-IT"}]})
        })
        .collect();
    let mut m = Map::new();
    m.insert("schema_id".into(), Value::from(format!("{}+dc+sd-jwt+{}", c.preset.scope(), c.preset.vct())));
    m.insert("authentic_sources".into(), json!([{"entity_id": config.entity_id.as_str(), "dataset_id": c.source.table}]));
    m.insert("credential_metadata".into(), json!({"display": [{"name": c.preset.display_name(), "locale": "it-IT"}], "claims": claims}));
    m
}

/// `oauth_authorization_server` metadata (RFC 8414, IT-Wallet 1.4 §3.1 and its list in
/// `credential-issuer-metadata.rst`): the `authorization_code` grant is listed when citizens
/// can authenticate at `/authorize` (`[authentication]`), `pre-authorized_code` in the 1.4
/// profile only (versions note §5: 1.3 wallets are never offered one; a token request with
/// one is still accepted), `authorization_response_iss_parameter_supported` (RFC 9207),
/// `client_registration_types_supported` `automatic` (federation), the levels of assurance
/// of its logins as `acr_values_supported` (`{trust anchor}/loa/{low|substantial|high}`, the
/// form IT-Wallet's examples use), the configured credentials' `scopes_supported`, ES256 for
/// the wallet attestation and its PoP, `require_signed_request_object`, and `jwks`: the key
/// its access tokens (`at+jwt`) are signed with. No `authorization_signing_alg_values_supported`:
/// the authorization response is not a signed JWT (JARM) here, and listing algorithms for it
/// would tell wallets otherwise.
pub fn authorization_server_metadata(config: &Config, keys: &Keys) -> AuthorizationServerMetadata {
    let mut grant_types = Vec::new();
    let pre_authorized = config.profile == Profile::ItWallet14;
    if pre_authorized {
        grant_types.push(GRANT_PRE_AUTHORIZED_CODE.to_owned());
    }
    if config.authentication != Authentication::None {
        grant_types.push(GRANT_AUTHORIZATION_CODE.into());
    }
    if config.refresh_token_ttl > 0 {
        grant_types.push(GRANT_REFRESH_TOKEN.into());
    }
    let mut extra = Map::new();
    extra.insert("authorization_response_iss_parameter_supported".into(), Value::Bool(true));
    if pre_authorized {
        extra.insert("pre-authorized_grant_anonymous_access_supported".into(), Value::Bool(true));
    }
    extra.insert("response_types_supported".into(), json!(["code"]));
    extra.insert("require_pushed_authorization_requests".into(), Value::Bool(true));
    extra.insert("client_registration_types_supported".into(), json!(["automatic"]));
    let levels: &[&str] = match &config.authentication {
        Authentication::SpidCie(s) => match s.acr {
            spid_cie_oidc::Acr::SpidL3 => &["high"],
            spid_cie_oidc::Acr::SpidL2 => &["substantial", "high"],
            spid_cie_oidc::Acr::SpidL1 => &["low", "substantial", "high"],
        },
        Authentication::Pid(_) | Authentication::None => &["high"],
    };
    let acr: Vec<String> =
        config.trust_anchors.iter().flat_map(|ta| levels.iter().map(move |l| format!("{}/loa/{l}", ta.id.as_str().trim_end_matches('/')))).collect();
    extra.insert("acr_values_supported".into(), json!(acr));
    let scopes: std::collections::BTreeSet<&str> = config.credentials.iter().map(|c| c.preset.scope()).collect();
    extra.insert("scopes_supported".into(), json!(scopes));
    extra.insert("client_attestation_signing_alg_values_supported".into(), json!(["ES256"]));
    extra.insert("client_attestation_pop_signing_alg_values_supported".into(), json!(["ES256"]));
    extra.insert("require_signed_request_object".into(), Value::Bool(true));
    extra.insert("jwks".into(), json!({"keys": [wallet_core::jose::Signer::public_jwk(keys.token())]}));
    AuthorizationServerMetadata {
        issuer: config.entity_id.as_str().to_owned(),
        authorization_endpoint: config.endpoint(routes::AUTHORIZE_PATH),
        token_endpoint: config.endpoint(routes::TOKEN_PATH),
        pushed_authorization_request_endpoint: Some(config.endpoint(routes::PAR_PATH)),
        code_challenge_methods_supported: vec!["S256".into()],
        dpop_signing_alg_values_supported: vec!["ES256".into()],
        token_endpoint_auth_methods_supported: vec![ATTEST_JWT_CLIENT_AUTH.into()],
        grant_types_supported: grant_types,
        request_object_signing_alg_values_supported: vec!["ES256".into()],
        extra,
    }
}

/// `openid_credential_verifier` metadata (IT-Wallet 1.4 §5.1) of the issuer as the relying
/// party the PID is presented to (`method = "pid"`): the request object and response
/// encryption keys, `request_uris` and `response_uris`, `dc+sd-jwt` with ES256.
pub fn verifier_metadata(config: &Config, keys: &Keys) -> wallet_core::oid4vp::VerifierMetadata {
    let mut formats = Map::new();
    formats.insert("dc+sd-jwt".into(), json!({"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}));
    wallet_core::oid4vp::VerifierMetadata {
        client_id: Some(config.entity_id.as_str().to_owned()),
        client_name: Some(config.organization_name.clone()),
        logo_uri: Some(config.endpoint(service_kit::assets::LOGO_PATH)),
        application_type: Some("web".into()),
        request_uris: vec![config.endpoint(routes::VP_REQUEST_PATH)],
        response_uris: vec![config.endpoint(routes::VP_RESPONSE_PATH)],
        redirect_uris: Vec::new(),
        jwks: Some(keys.verifier_jwks()),
        encrypted_response_enc_values_supported: Some(vec!["A256GCM".into(), "A128GCM".into()]),
        vp_formats_supported: Some(formats),
        erasure_endpoint: None,
        contacts: Some(vec![format!("issuer@{}", config.entity_id.host())]),
        extra: Map::new(),
    }
}

/// The SPID/CIE relying party (`method = "spid-cie"`): `client_id` = our entity id, the
/// callback [`routes::AUTHORIZE_CALLBACK_PATH`], keys under `<keys_dir>/rp`, the configured
/// trust anchors; UserInfo encrypted with RSA-OAEP-256 (IT-Wallet 1.4 forbids RSA-OAEP).
fn relying_party(config: &Config) -> Result<Option<spid_cie_oidc::RelyingParty>, OpenError> {
    if !matches!(config.authentication, Authentication::SpidCie(_)) {
        return Ok(None);
    }
    let mut rc = spid_cie_oidc::RpConfig::new(config.entity_id.clone(), config.endpoint(routes::AUTHORIZE_CALLBACK_PATH), config.keys_dir().join("rp"), config.trust_anchors.clone());
    rc.userinfo_alg = spid_cie_oidc::jwe_rsa::KeyAlg::RsaOaep256;
    rc.client_name = config.organization_name.clone();
    rc.contacts = vec![format!("issuer@{}", config.entity_id.host())];
    rc.login_ttl = config.login_ttl;
    spid_cie_oidc::RelyingParty::open(rc).map(Some).map_err(|e| OpenError::Federation(format!("relying party: {e}")))
}

/// `federation_entity` (IT-Wallet 1.4 §1.1).
fn federation_entity_metadata(config: &Config) -> Value {
    json!({
        "homepage_uri": config.endpoint("/"),
        "policy_uri": config.endpoint("/"),
        "logo_uri": config.endpoint(service_kit::assets::LOGO_PATH),
        "contacts": [format!("issuer@{}", config.entity_id.host())],
    })
}

/// Builds an [`Issuer`] with non-default seams.
pub struct Builder {
    config: Config,
    clock: Arc<dyn Clock>,
}

impl Builder {
    /// The clock (tests pin time).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Opens the database (PostgreSQL: connects now, so that a wrong URL or an unreachable
    /// server fails at start), loads (or creates) the keys and the federation entity, and
    /// the TLS certificate when `[tls]` is given.
    pub fn open(self) -> Result<Issuer, OpenError> {
        let config = self.config;
        config.validate()?;
        for dir in [&config.data_dir, config.keys_dir()] {
            std::fs::create_dir_all(dir).map_err(|e| OpenError::Keys(format!("{}: {e}", dir.display())))?;
        }
        let tls = config.tls.as_ref().map(service_kit::serve::load_tls).transpose()?;
        let keys = Keys::open(config.keys_dir()).map_err(OpenError::Keys)?;
        let store = match &config.database_url {
            Some(url) => Store::postgres(url)?,
            None => Store::open(&config.data_dir.join("issuer.sqlite"))?,
        };
        store.set_commit_delay(std::time::Duration::from_millis(config.commit_delay_ms));
        store.ping()?;
        let metadata = issuer_metadata(&config, &keys);
        let as_metadata = authorization_server_metadata(&config, &keys);
        let type_metadata = type_metadata_documents(&config).map_err(|e| OpenError::Federation(format!("type metadata: {e}")))?;
        let mut md = Map::new();
        md.insert("openid_credential_issuer".into(), serde_json::to_value(&metadata).map_err(|e| OpenError::Federation(e.to_string()))?);
        md.insert("oauth_authorization_server".into(), serde_json::to_value(&as_metadata).map_err(|e| OpenError::Federation(e.to_string()))?);
        md.insert("federation_entity".into(), federation_entity_metadata(&config));
        let relying_party = relying_party(&config)?;
        if let Some(rp) = &relying_party {
            md.insert("openid_relying_party".into(), rp.metadata());
        }
        if matches!(config.authentication, Authentication::Pid(_)) {
            md.insert("openid_credential_verifier".into(), serde_json::to_value(verifier_metadata(&config, &keys)).map_err(|e| OpenError::Federation(e.to_string()))?);
        }
        // The building block keeps its key ring where our keys are (replicas share them), and
        // its registry (our own trust marks) in the shared database when there is one.
        let mut fed = trust_anchor::Config::trust_anchor(config.entity_id.clone(), config.keys_dir().to_path_buf(), config.admin_token.clone());
        fed.database_url = config.database_url.clone();
        fed.authority = false;
        fed.authority_hints = config.authority_hints.clone();
        fed.organization_name = config.organization_name.clone();
        fed.metadata = md;
        fed.trust_anchors = config.trust_anchors.clone();
        let federation = trust_anchor::AppState::open(fed).map_err(OpenError::Federation)?;
        let l = |name: &'static str, limit| {
            Arc::new(RateLimiter::new(name, limit).with_max_clients(config.rate_limits.max_clients).with_trusted_proxies(config.rate_limits.trusted_proxies.clone()))
        };
        let limiters = Limiters { wallet: l("wallet", config.rate_limits.wallet), admin: l("admin", config.rate_limits.admin) };
        let wallet_providers =
            WalletProviders::new(
                config.trust_anchors.iter().map(|a| TrustChainResolver::new(a.clone(), WALLET_SOLUTION)).collect(),
                config.wallet_provider_trust_marks.clone(),
                config.trust_mark_status_refresh,
            );
        let http = service_kit::OutboundHttp::new(service_kit::FetchLimits::default()).map_err(|e| OpenError::Federation(format!("outbound HTTP: {e}")))?;
        let registry = match &config.registry_url {
            Some(url) => Registry::postgres(url).map_err(|e| OpenError::Config(crate::config::ConfigError::Invalid(format!("registry_url: {e}"))))?,
            None => Registry::new(&config.registry),
        };
        Ok(Issuer {
            inner: Arc::new(Inner {
                http,
                own_chain: std::sync::Mutex::new(OwnChain::default()),
                signing_cert: std::sync::Mutex::new(SigningCert::default()),
                signing_cert_refresh: tokio::sync::Mutex::new(()),
                withdrawal_refresh: tokio::sync::Mutex::new(()),
                key_withdrawal: std::sync::Mutex::new(KeyWithdrawal::default()),
                wua_statuses: wallet_core::oid4vp::verify::StatusCache::new(),
                wuas_recorded: crate::wua_recheck::Recorded::default(),
                wua_headers: wallet_core::jose::HeaderMemo::new(),
                pid_statuses: wallet_core::oid4vp::verify::StatusCache::new(),
                pid_issuer_marks: service_kit::trust_marks::MarkKeeper::new(
                    match &config.authentication {
                        Authentication::Pid(p) => p.trust_marks.clone(),
                        Authentication::SpidCie(_) | Authentication::None => Vec::new(),
                    },
                    config.trust_mark_status_refresh,
                    "PID provider",
                ),
                x509_roots: (!config.x509_roots_pem.trim().is_empty())
                    .then(|| wallet_core::x509::TrustAnchors::from_pem(&config.x509_roots_pem))
                    .transpose()
                    .map_err(|e| OpenError::Config(crate::config::ConfigError::Invalid(format!("x509_roots: {e}"))))?,
                crls: wallet_core::x509::crl::CrlCache::new(config.crl_refresh),
                issuer_chains: wallet_core::federation::ChainCache::new(),
                relying_party,
                request_object_certs: trust_anchor::protocol::ProtocolCerts::new(config.entity_id.clone(), config.login_ttl),
                registry,
                config,
                store,
                keys,
                federation,
                metadata: std::sync::RwLock::new(Arc::new(metadata)),
                as_metadata,
                type_metadata,
                wallet_providers,
                key_rotation: KeyRotation::default(),
                grants: crate::grants::Grants::default(),
                clock: self.clock,
                limiters,
                metrics: crate::metrics::Metrics::default(),
                signed_status_list: crate::status_list::SignedList::new(),
                status_pool: crate::status_pool::StatusPool::default(),
                tls,
            }),
        })
    }
}

impl Issuer {
    /// A builder over `config` (system clock).
    pub fn builder(config: Config) -> Builder {
        Builder { config, clock: Arc::new(SystemClock) }
    }

    /// Opens the issuer with the system clock.
    pub fn open(config: Config) -> Result<Self, OpenError> {
        Self::builder(config).open()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The registry (authentic source).
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The `x5c` of a request object signed now (IT-Wallet 1.4 §5.1: REQUIRED, no root): a
    /// protocol certificate for the request object key, covering a login's lifetime, then
    /// our CA chain. `None` before our superior pinned our key with a CA certificate (why is
    /// logged).
    pub async fn request_object_x5c(&self) -> Option<Vec<String>> {
        let key = wallet_core::jose::Signer::public_jwk(self.inner.keys.request_object());
        match trust_anchor::pki::protocol_x5c(&self.inner.federation, &self.inner.request_object_certs, &key, self.now().secs()).await {
            Ok(x5c) => Some(x5c),
            Err(e) => {
                tracing::warn!(target: "issuer", "no x5c for the request object: {e}");
                None
            }
        }
    }

    /// The federation entity.
    pub fn federation(&self) -> &trust_anchor::AppState {
        &self.inner.federation
    }

    /// Our credential issuer metadata (its `jwks` the keys of now).
    pub fn metadata(&self) -> Arc<CredentialIssuerMetadata> {
        self.inner.metadata.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Rotates the credential key while running (`POST /admin/credential-key/rotate`): with
    /// `withdraw`, the key in use has its signing certificates revoked first (a compromised
    /// key: what it signed is refused by verifiers checking our CRL) and is not kept;
    /// otherwise it stays published, retired, for `credential_ttl`. Then a new key is written
    /// to `keys_dir` ([`crate::keys::rotate_credential_key`]) and taken up at once
    /// ([`Self::take_up_rotated_key`]); the other replicas sharing `keys_dir` take it up within
    /// [`crate::keys::KEY_FILE_LOOK`] seconds. Issuance stopped by a withdrawal resumes with the new key.
    pub async fn rotate_credential_key(&self, withdraw: bool, kid: Option<&str>) -> Result<crate::keys::Rotated, crate::error::IssuerError> {
        // Run to its end on a task of its own: a request dropped half-way (the client gone)
        // must not release the locks while the rotation goes on.
        let (this, kid) = (self.clone(), kid.map(str::to_owned));
        tokio::spawn(async move { this.rotate_whole(withdraw, kid.as_deref()).await }).await.map_err(crate::error::IssuerError::internal)?
    }

    async fn rotate_whole(&self, withdraw: bool, kid: Option<&str>) -> Result<crate::keys::Rotated, crate::error::IssuerError> {
        use crate::error::IssuerError;
        let _one = self.inner.key_rotation.one.lock().await;
        // The replicas' lock on `keys_dir` for the whole rotation, a withdrawal's revocation
        // included: the key whose certificates are revoked is the key that is dropped, and no
        // other replica's rotation falls in between.
        let dir = self.inner.config.keys_dir().to_path_buf();
        let lock_dir = dir.clone();
        let _files = tokio::task::spawn_blocking(move || crate::keys::rotation_lock(&lock_dir)).await.map_err(IssuerError::internal)?.map_err(IssuerError::internal)?;
        let now = self.now().secs();
        // A rotation another replica made is taken up first: what is rotated (and, with
        // `withdraw`, revoked) is the key `keys_dir` holds.
        self.take_up(now).await.map_err(IssuerError::internal)?;
        let old = wallet_core::jose::Signer::kid(&*self.inner.keys.credential()).unwrap_or_default();
        // The caller may name the key it means (a retried or repeated withdrawal must not
        // withdraw the healthy key that replaced the compromised one).
        if let Some(kid) = kid.filter(|k| *k != old) {
            return Err(IssuerError::oauth(
                wallet_core::oid4vci::ErrorCode::InvalidRequest,
                crate::keys::RotationError::Superseded { expected: kid.to_owned(), current: old },
            ));
        }
        if withdraw && !self.inner.config.authority_hints.is_empty() {
            let n = trust_anchor::pki::revoke_signing_certificates(&self.inner.federation, &old, now).await.map_err(IssuerError::internal)?;
            tracing::warn!(target: "issuer", kid = %old, revoked = n, "credential key withdrawn: its signing certificates are revoked");
        }
        let expected = old.clone();
        let rotated = tokio::task::spawn_blocking(move || crate::keys::rotate_locked(&dir, withdraw, now, Some(&expected)))
            .await
            .map_err(IssuerError::internal)?
            .map_err(IssuerError::internal)?;
        self.take_up(now).await.map_err(IssuerError::internal)?;
        Ok(rotated)
    }

    /// Takes up a credential key rotated in `keys_dir` by another replica (or offline): looked
    /// for at most every [`crate::keys::KEY_FILE_LOOK`] seconds (a `stat`; the file is read
    /// only when it changed), by a task of the server (`serve_listener`) and by the requests
    /// that sign (credentials, the status list, the signed metadata). A file that cannot be
    /// read keeps the key in use (logged), and is read again at the next look.
    pub async fn take_up_rotated_key(&self) {
        let now = self.now().secs();
        let last = self.inner.key_rotation.checked_at.load(std::sync::atomic::Ordering::Relaxed);
        if now < last.saturating_add(crate::keys::KEY_FILE_LOOK) {
            return;
        }
        self.look_at_key_file().await;
    }

    /// One look at `keys_dir` for a rotated credential key, now (the server's task every
    /// [`crate::keys::KEY_FILE_LOOK`] seconds; the requests through
    /// [`Self::take_up_rotated_key`]). Nothing while a rotation runs here.
    pub async fn look_at_key_file(&self) {
        let now = self.now().secs();
        let Ok(_one) = self.inner.key_rotation.one.try_lock() else { return };
        self.inner.key_rotation.checked_at.store(now, std::sync::atomic::Ordering::Relaxed);
        if !self.inner.keys.credential_file_changed() {
            return;
        }
        if let Err(e) = self.take_up(now).await {
            tracing::warn!(target: "issuer", "the credential key in keys_dir cannot be read (the key in use stays): {e}");
        }
    }

    /// Reloads the credential key; when it changed, what depends on it follows: the metadata
    /// and the Entity Configuration's `jwks`, the signing certificate (one for the new key is
    /// asked for), the encoded credential header, the withdrawal state, the signed status list.
    async fn take_up(&self, now: i64) -> Result<(), String> {
        let keys = &self.inner.keys;
        let Some(old) = keys.reload_credential()? else { return Ok(()) };
        let metadata = issuer_metadata(&self.inner.config, keys);
        let value = serde_json::to_value(&metadata).map_err(|e| e.to_string())?;
        *self.inner.metadata.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(metadata);
        self.inner.federation.set_metadata("openid_credential_issuer", value);
        *self.inner.signing_cert.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = SigningCert::default();
        // Our chain too: its leaf, our Entity Configuration, lists the credential keys (a
        // credential's `trust_chain` must name the key that signed it).
        *self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = OwnChain::default();
        *self.inner.key_withdrawal.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = KeyWithdrawal::default();
        self.inner.signed_status_list.forget().await;
        self.inner.key_rotation.checked_at.store(now, std::sync::atomic::Ordering::Relaxed);
        let new = wallet_core::jose::Signer::kid(&*keys.credential()).unwrap_or_default();
        tracing::info!(target: "issuer", old_kid = %old, new_kid = %new, "credential key rotated: the new key signs from now");
        Ok(())
    }

    /// Our authorization server metadata.
    pub fn as_metadata(&self) -> &AuthorizationServerMetadata {
        &self.inner.as_metadata
    }

    /// The type metadata served for `vct`, when one of our configurations issues it.
    pub fn type_metadata(&self, vct: &str) -> Option<&TypeMetadataDocument> {
        self.inner.type_metadata.get(vct)
    }

    /// The trusted wallet providers.
    pub fn wallet_providers(&self) -> &WalletProviders {
        &self.inner.wallet_providers
    }

    /// Outbound HTTP (bounded; also wallet-core's `StatusFetcher` through `for_request`).
    pub fn http(&self) -> &service_kit::OutboundHttp {
        &self.inner.http
    }

    /// Wallet providers' status lists fetched so far.
    pub fn wua_statuses(&self) -> &wallet_core::oid4vp::verify::StatusCache {
        &self.inner.wua_statuses
    }

    /// The WUAs this process recorded for their grants (`crate::wua_recheck`).
    pub(crate) fn wuas_recorded(&self) -> &crate::wua_recheck::Recorded {
        &self.inner.wuas_recorded
    }

    /// The WUAs' protected headers parsed so far (the same for every WUA of a provider's
    /// key: wallet-core `HeaderMemo`).
    pub fn wua_headers(&self) -> &wallet_core::jose::HeaderMemo {
        &self.inner.wua_headers
    }

    /// The trust marks required of a presented PID's issuer (`method = "pid"`).
    pub fn pid_issuer_marks(&self) -> &service_kit::trust_marks::MarkKeeper {
        &self.inner.pid_issuer_marks
    }

    /// PID issuers' status lists fetched so far (`method = "pid"`).
    pub fn pid_statuses(&self) -> &wallet_core::oid4vp::verify::StatusCache {
        &self.inner.pid_statuses
    }

    /// The federation CA roots a presented PID's `x5c` chains to (`x509_roots`).
    pub fn x509_roots(&self) -> Option<&wallet_core::x509::TrustAnchors> {
        self.inner.x509_roots.as_ref()
    }

    /// The CRLs of presented PIDs' certificates.
    pub fn crls(&self) -> &wallet_core::x509::crl::CrlCache {
        &self.inner.crls
    }

    /// PID issuers' trust chains resolved so far (`method = "pid"`).
    pub fn issuer_chains(&self) -> &wallet_core::federation::ChainCache {
        &self.inner.issuer_chains
    }

    /// The SPID/CIE relying party (`method = "spid-cie"`).
    pub fn relying_party(&self) -> Option<&spid_cie_oidc::RelyingParty> {
        self.inner.relying_party.as_ref()
    }

    /// The rate limiters.
    pub fn limiters(&self) -> &Limiters {
        &self.inner.limiters
    }

    /// The TLS server configuration (`[tls]`), loaded at open.
    pub fn tls(&self) -> Option<&Arc<service_kit::serve::ServerConfig>> {
        self.inner.tls.as_ref()
    }

    /// The counters.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// The Status List Token this process serves while it is current.
    pub fn signed_status_list(&self) -> &crate::status_list::SignedList {
        &self.inner.signed_status_list
    }

    /// `n` fresh status list indices, from those this process holds (`status_pool`).
    pub fn status_indices(&self, n: usize) -> Result<Vec<u64>, crate::store::StoreError> {
        self.inner.status_pool.take(&self.inner.store, crate::status_list::STATUS_LIST_STEP, n)
    }

    /// Our trust chain to a configured trust anchor (leaf first), for the `trust_chain` header
    /// of the credentials we sign (IT-Wallet 1.4 §4.1); resolved over outbound HTTP with
    /// wallet-core's `ChainCollector` and cached. `None` before a trust anchor onboarded us
    /// (or with none configured): the credentials then carry `kid` only, and wallets find the
    /// key in our metadata through our chain.
    pub async fn own_trust_chain(&self) -> Option<Vec<String>> {
        let now = self.now().secs();
        {
            let slot = self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if slot.until > now {
                return slot.jwts.clone();
            }
        }
        if self.inner.config.trust_anchors.is_empty() {
            return None;
        }
        let fetcher = self.inner.http.for_request();
        let resolved = wallet_core::federation::ChainCollector::new_async(&fetcher, &self.inner.config.trust_anchors)
            .resolve_async(&self.inner.config.entity_id, self.now())
            .await;
        let (jwts, until) = match resolved {
            Ok(chain) => (Some(chain.jwts()), chain.exp.secs().saturating_sub(CHAIN_REFRESH_MARGIN).max(now.saturating_add(60))),
            Err(e) => {
                tracing::warn!(target: "issuer", "our trust chain cannot be resolved (credentials carry kid only): {e}");
                (None, now.saturating_add(CHAIN_RETRY))
            }
        };
        let mut slot = self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = OwnChain { jwts: jwts.clone(), until, header: None };
        jwts
    }

    /// The protected header of the credentials we sign: `typ`, our `kid`, once our superior
    /// has pinned our key with a CA certificate the `x5c` of our signing certificate
    /// ([`Self::signing_certificate`]), and once a trust anchor has onboarded us our
    /// `trust_chain` ([`Self::own_trust_chain`]). Encoded once and reused while the chain is
    /// current and the certificate outlasts a credential signed now (the chain's kilobytes were
    /// serialised and base64url-encoded again for every credential).
    ///
    /// Refused (`temporarily_unavailable`, 503) once our credential key has been withdrawn
    /// ([`Self::credential_key_withdrawn`]): nothing is signed with it, and the request has
    /// spent nothing (the caller asks before it commits).
    pub async fn credential_header(&self) -> Result<Arc<CredentialHeader>, crate::error::IssuerError> {
        self.take_up_rotated_key().await;
        if self.credential_key_withdrawn().await {
            return Err(crate::error::IssuerError::oauth(
                wallet_core::oid4vci::ErrorCode::TemporarilyUnavailable,
                "the issuer's credential key has been withdrawn; it issues again once its operator has rotated the key",
            ));
        }
        Ok(self.current_credential_header().await)
    }

    /// Whether our credential key was withdrawn: its signing certificates revoked here
    /// (IT-Wallet 1.4 §1.2: what it signs would be refused by every verifier checking our
    /// CRL, and a compromised key must sign nothing more). Read from the federation registry
    /// at most every [`WITHDRAWAL_LOOK`] seconds, and at once after a revocation made on this
    /// replica. Without a superior no certificate is ever issued, so none can be revoked. A
    /// registry that cannot be read leaves the last answer standing (logged).
    pub async fn credential_key_withdrawn(&self) -> bool {
        if self.inner.config.authority_hints.is_empty() {
            return false;
        }
        let generation = trust_anchor::pki::signing_revocations(&self.inner.federation);
        let in_use = || wallet_core::jose::Signer::kid(&*self.inner.keys.credential());
        let known = |now: i64| {
            let w = self.inner.key_withdrawal.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if w.kid != in_use() {
                return None;
            }
            let current = w.generation == generation && w.checked_at.is_some_and(|t| now < t.saturating_add(WITHDRAWAL_LOOK));
            (w.withdrawn || current).then_some(w.withdrawn)
        };
        if let Some(w) = known(self.now().secs()) {
            return w;
        }
        // One request reads the registry; the others meanwhile go on with the last answer about
        // this key when there is one (a read once a second must not queue every request).
        let _one = match self.inner.withdrawal_refresh.try_lock() {
            Ok(one) => one,
            Err(_) => {
                let last = {
                    let w = self.inner.key_withdrawal.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Not after a revocation made here since (its answer is awaited).
                    (w.kid == in_use() && w.checked_at.is_some() && (w.withdrawn || w.generation == generation)).then_some(w.withdrawn)
                };
                if let Some(w) = last {
                    return w;
                }
                self.inner.withdrawal_refresh.lock().await
            }
        };
        let now = self.now().secs();
        if let Some(w) = known(now) {
            return w;
        }
        let asked = in_use();
        let kid = asked.clone().unwrap_or_default();
        let read = trust_anchor::pki::signing_key_withdrawn(&self.inner.federation, &kid).await;
        let withdrawn = {
            let mut w = self.inner.key_withdrawal.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if in_use() != asked {
                // Rotated while we read: the answer is about a key no longer signing.
                return false;
            }
            if w.kid != asked {
                *w = KeyWithdrawal { kid: asked, ..KeyWithdrawal::default() };
            }
            w.checked_at = Some(now);
            w.generation = generation;
            match read {
                Ok(true) if !w.withdrawn => {
                    tracing::error!(target: "issuer", kid, "the credential key was withdrawn (its signing certificates are revoked): issuance stops until the key is rotated");
                    w.withdrawn = true;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(target: "issuer", "whether the credential key was withdrawn cannot be read (the last answer stands): {e}"),
            }
            w.withdrawn
        };
        if withdrawn {
            // Nothing signed with it from here: the held certificate and header go too.
            self.inner.signing_cert.lock().unwrap_or_else(std::sync::PoisonError::into_inner).cert = None;
            self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner).header = None;
        }
        withdrawn
    }

    async fn current_credential_header(&self) -> Arc<CredentialHeader> {
        let now = self.now().secs();
        {
            let slot = self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let (true, Some((h, until))) = (slot.until > now, &slot.header)
                && *until > now
                && Arc::ptr_eq(&h.signer, &self.inner.keys.credential())
            {
                return h.clone();
            }
        }
        let jwts = self.own_trust_chain().await;
        let signer = self.inner.keys.credential();
        let cert = self.signing_certificate_for(&signer).await;
        let covers = |c: &trust_anchor::pki::SigningCertificate| c.not_after >= now.saturating_add(self.inner.config.credential_ttl);
        // Kept while the certificate covers a credential's life; without a certificate, or
        // one cut short by our CA certificate's end, asked for again soon.
        let until = match &cert {
            Some(c) if covers(c) => c.not_after.saturating_sub(self.inner.config.credential_ttl),
            _ => now.saturating_add(CHAIN_RETRY),
        };
        let header = Arc::new(CredentialHeader {
            encoded: wallet_core::vc::SdJwtVcBuilder::encode_header(wallet_core::jose::Signer::kid(&*signer), cert.as_ref().map(|c| c.x5c.clone()), jwts.clone(), &*signer),
            certificate_end: cert.as_ref().map(|c| wallet_core::time::UnixTime(c.not_after)),
            signer,
        });
        let mut slot = self.inner.own_chain.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Kept with the chain it was encoded with (not when none is cached: no anchor, or a
        // failed resolution, whose retry is soon), and only for the key in use (a rotation
        // may have come since this began).
        if slot.until > now && slot.jwts == jwts && Arc::ptr_eq(&header.signer, &self.inner.keys.credential()) {
            slot.header = Some((header.clone(), until));
        }
        header
    }

    /// Our credential key's signing certificate ([`SigningCert`]): the one held while it
    /// outlasts a credential signed now, else a new one from our CA (valid
    /// `credential_ttl` + [`SIGNING_CERT_RENEWAL`], cut to our CA certificate's end). `None`
    /// without a superior (`authority_hints`), or before one pinned our key with a CA
    /// certificate: the credentials then carry `kid` and `trust_chain` only.
    pub async fn signing_certificate(&self) -> Option<trust_anchor::pki::SigningCertificate> {
        self.signing_certificate_for(&self.inner.keys.credential()).await
    }

    /// [`Self::signing_certificate`] for `signer` (the credential key one signature is made
    /// with, taken once): `None` once a rotation has replaced it.
    pub async fn signing_certificate_for(&self, signer: &wallet_core::jose::SoftwareSigner) -> Option<trust_anchor::pki::SigningCertificate> {
        if self.inner.config.authority_hints.is_empty() {
            return None;
        }
        let kid = wallet_core::jose::Signer::kid(signer);
        let current = || wallet_core::jose::Signer::kid(&*self.inner.keys.credential()) == kid;
        let held = |now: i64| {
            let slot = self.inner.signing_cert.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if slot.kid != kid {
                return if current() { None } else { Some(None) };
            }
            let covers = slot.cert.as_ref().is_some_and(|c| c.not_after >= now.saturating_add(self.inner.config.credential_ttl));
            let asked_lately = slot.asked_at.is_some_and(|t| now < t.saturating_add(CHAIN_RETRY));
            (covers || asked_lately).then(|| slot.cert.clone().filter(|c| c.not_after > now))
        };
        if let Some(c) = held(self.now().secs()) {
            return c;
        }
        let _one = self.inner.signing_cert_refresh.lock().await;
        let now = self.now().secs();
        if let Some(c) = held(now) {
            return c;
        }
        let key = wallet_core::jose::Signer::public_jwk(signer);
        let wanted = now.saturating_add(self.inner.config.credential_ttl).saturating_add(SIGNING_CERT_RENEWAL);
        let issued = trust_anchor::pki::signing_certificate(&self.inner.federation, &key, now, wanted).await;
        let mut slot = self.inner.signing_cert.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !current() {
            // Rotated while we asked: kept for nobody (the new key asks for its own).
            return issued.ok().filter(|c| c.not_after > now);
        }
        if slot.kid != kid {
            *slot = SigningCert { kid: kid.clone(), ..SigningCert::default() };
        }
        slot.asked_at = Some(now);
        match issued {
            Ok(c) => {
                tracing::info!(target: "issuer", serial = %c.serial, not_after = c.not_after, "signing certificate issued for the credential key");
                slot.cert = Some(c);
            }
            Err(e) => tracing::warn!(target: "issuer", "no signing certificate for the credential key (credentials carry no x5c): {e}"),
        }
        slot.cert.clone().filter(|c| c.not_after > now)
    }

    /// For a client attestation (WAA) whose header carries no `trust_chain` (IT-Wallet 1.4
    /// §3.3: OPTIONAL), the provider's trust chain collected through the Federation API (its
    /// Entity Configuration at `iss`, its superiors' fetch endpoints) up to a configured
    /// trust anchor and kept for [`WalletProviders`] until its earliest `exp` (a failure for
    /// [`CHAIN_RETRY`] seconds). Nothing for an attestation with a chain, one that does not
    /// parse, or an `iss` already collected: verifying the attestation then says what is wrong.
    pub async fn fetch_provider_chain(&self, attestation: Option<&str>) {
        let Some(jws) = attestation.and_then(|a| wallet_core::jose::CompactJws::parse(a).ok()) else { return };
        if jws.header().trust_chain.is_some() || self.inner.config.trust_anchors.is_empty() {
            return;
        }
        let Ok(payload) = jws.payload_json::<Value>() else { return };
        let Some(iss) = payload.get("iss").and_then(Value::as_str) else { return };
        let now = self.now().secs();
        if self.inner.wallet_providers.fetched_chain(iss, now).is_some() {
            return;
        }
        let Ok(subject) = wallet_core::federation::EntityId::new(iss) else { return };
        let fetcher = self.inner.http.for_request();
        let resolved = wallet_core::federation::ChainCollector::new_async(&fetcher, &self.inner.config.trust_anchors).resolve_async(&subject, self.now()).await;
        let entry = match resolved {
            Ok(chain) => (Some(chain.jwts()), chain.exp.secs()),
            Err(e) => {
                tracing::info!(target: "issuer", provider = %iss, "a WAA without trust_chain: the provider's chain cannot be collected: {e}");
                (None, now.saturating_add(CHAIN_RETRY))
            }
        };
        let mut fetched = self.inner.wallet_providers.fetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if fetched.len() >= MAX_VALIDATED_CHAINS {
            fetched.clear();
        }
        fetched.insert(iss.to_owned(), entry);
    }

    /// What the synchronous checks of a client attestation (WAA) need fetched first: the
    /// provider's chain when the attestation carries none, the anchors' configurations, the
    /// chains of its marks' issuers outside its chain, the status of its trust marks.
    pub async fn prefetch_for_attestation(&self, attestation: Option<&str>) {
        self.fetch_provider_chain(attestation).await;
        let now = self.now();
        let chain = self.attested_chain(attestation, now.secs()).unwrap_or_default();
        self.inner.wallet_providers.marks.prefetch(&self.inner.http, &self.inner.config.trust_anchors, &chain, now).await;
    }

    /// The wallet provider's trust chain as an attestation (WAA or WUA) shows it, unverified:
    /// its `trust_chain` header, or the chain collected for its `iss`
    /// ([`Self::fetch_provider_chain`]). What the prefetches read to know what to fetch;
    /// the synchronous checks verify it.
    fn attested_chain(&self, attestation: Option<&str>, now: i64) -> Option<Vec<String>> {
        let jws = wallet_core::jose::CompactJws::parse(attestation?).ok()?;
        if let Some(chain) = &jws.header().trust_chain {
            return Some(chain.clone());
        }
        let payload = jws.payload_json::<Value>().ok()?;
        self.inner.wallet_providers.fetched_chain(payload.get("iss")?.as_str()?, now).flatten()
    }

    /// The chains of the issuers of a wallet provider's required trust marks (the
    /// attestation's chain, as [`Self::attested_chain`] reads it) outside that chain, for the
    /// static check (service-kit [`service_kit::trust_marks::MarkKeeper`]). Whether one was
    /// resolved now.
    pub async fn fetch_mark_issuers(&self, attestation: Option<&str>) -> bool {
        let now = self.now();
        let chain = self.attested_chain(attestation, now.secs()).unwrap_or_default();
        self.inner.wallet_providers.marks.fetch_mark_issuers(&self.inner.http, &self.inner.config.trust_anchors, &chain, now).await
    }

    /// When wallet providers must hold a trust mark: each trust anchor's Entity
    /// Configuration (its `trust_mark_issuers`), where not kept. Before the synchronous checks
    /// of a request that carries a wallet or key attestation; a map look-up when nothing is
    /// due.
    pub async fn fetch_anchor_configurations(&self) {
        self.inner.wallet_providers.marks.prefetch(&self.inner.http, &self.inner.config.trust_anchors, &[], self.now()).await;
    }

    /// Now.
    pub fn now(&self) -> UnixTime {
        self.inner.clock.now()
    }

    /// The grant `id` (an access or refresh token's `sub`): from memory when it was read
    /// before and is not about to expire, else from the store, then kept (a grant never
    /// changes until the purge deletes it: `grants`). `None`: no such grant (any more).
    pub fn grant(&self, id: &str) -> Result<Option<crate::store::Grant>, crate::store::StoreError> {
        let now = self.now().secs();
        if let Some(grant) = self.inner.grants.get(id, now) {
            return Ok(Some(grant));
        }
        let Some((grant, expires_at)) = self.inner.store.grant(id)? else { return Ok(None) };
        self.inner.grants.keep(id, &grant, expires_at, now);
        Ok(Some(grant))
    }
}

impl service_kit::AdminAuth for Issuer {
    fn admin_token(&self) -> &str {
        &self.inner.config.admin_token
    }
}
