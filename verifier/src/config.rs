//! What an operator configures: a TOML file, then `TESSERA_VERIFIER_*` environment
//! overrides, then [`Config::validate`]. Tests and `tessera up` build it with [`Config::new`].
//!
//! ```toml
//! entity_id = "https://verifier.example.it"
//! data_dir = "/var/lib/tessera/verifier"
//! listen = "0.0.0.0:7620"
//! admin_token = "..."                       # the integrator API's bearer token
//! organization_name = "Comune di Esempio"
//! client_name = "Comune di Esempio: servizi online"
//! profile = "it-wallet-1.4"                 # or "it-wallet-1.3"
//! x509_roots = ["/etc/tessera/federation-root.pem"]
//! redirect_uris = ["https://servizi.example.it/wallet/return"]
//! database_url = "postgres://verifier:secret@db.internal/tessera"  # else SQLite in data_dir
//! keys_dir = "/etc/tessera/verifier-keys"   # replicas: the same keys (default data_dir)
//! webhook_url = "https://servizi.example.it/wallet/done"   # optional completion notices
//! webhook_secret = "..."                    # their HMAC-SHA256 key (≥ 32 characters)
//! session_ttl = 300                          # seconds a session waits for the wallet
//! result_ttl = 600                           # seconds a verdict waits for the integrator
//! credential_issuer_trust_marks = ["https://trust-anchor.example.it/trust_marks/openid_credential_issuer/public"]
//! trust_mark_status_refresh = 300            # seconds a mark's reported status is used
//!
//! [outbound]                                # bounds of outbound fetches, and
//! ca_certificates = ["/etc/tessera/tls-ca.pem"]   # CAs trusted besides the system's roots
//!
//! [tls]                                     # HTTPS (else plain HTTP behind a TLS proxy)
//! certificate = "/etc/tessera/verifier.pem" # chain, leaf first
//! private_key = "/etc/tessera/verifier.key"
//!
//! [[trust_anchors]]
//! id = "https://trust-anchor.example.it"
//! jwks = "/etc/tessera/ta.jwks"
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use service_kit::RateLimit;
use service_kit::config::{entity, read};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::oid4vp::{Profile, WalletInvocation};

/// The longest a session may wait for the wallet (request object `exp` stays within it).
pub const MAX_SESSION_TTL: i64 = 3_600;
/// The longest a verdict is kept for the integrator.
pub const MAX_RESULT_TTL: i64 = 86_400;

/// A configuration that cannot be used (the services share it).
pub use service_kit::config::ConfigError;

/// Rate limits per client (`[rate_limits]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimits {
    /// The wallet-facing endpoints (`request_uri`, `response_uri`), per client address.
    pub wallet: RateLimit,
    /// The integrator API.
    pub integrator: RateLimit,
    /// Addresses of load balancers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Clients remembered per limiter.
    pub max_clients: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            wallet: RateLimit::new(120, 30),
            integrator: RateLimit::new(6_000, 500),
            trusted_proxies: Vec::new(),
            max_clients: service_kit::rate_limit::DEFAULT_MAX_CLIENTS,
        }
    }
}

/// `federation_entity` members besides `organization_name` and `logo_uri` (IT-Wallet 1.4
/// §1.1: a leaf MUST publish `organization_name`, `homepage_uri`, `policy_uri`, `logo_uri`,
/// `contacts`). Empty values get defaults under the entity id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FederationEntityInfo {
    /// `homepage_uri` (default: the entity id, which serves a short page).
    pub homepage_uri: String,
    /// `policy_uri` (default: `<entity id>/policy`, served).
    pub policy_uri: String,
    /// `tos_uri` (optional).
    pub tos_uri: String,
    /// `contacts` (PEC addresses; default `verifier@<host>`).
    pub contacts: Vec<String>,
}

/// The configuration of one verifier.
#[derive(Debug, Clone)]
pub struct Config {
    /// The verifier's entity identifier (its public base URL; `client_id` is
    /// `openid_federation:<entity_id>`).
    pub entity_id: EntityId,
    /// Keys and the database live here.
    pub data_dir: PathBuf,
    /// Where the keys live, when not in `data_dir` (`federation-keys.json`,
    /// `request-object-key.jwk`, `response-encryption-key.jwk`): replicas of one verifier
    /// share them, e.g. one directory mounted in every replica.
    pub keys_dir: Option<PathBuf>,
    /// PostgreSQL instead of the SQLite file (`postgres://user:password@host/db`): replicas
    /// share sessions through it (and the federation entity's registry).
    pub database_url: Option<String>,
    /// Where the service binds.
    pub listen: SocketAddr,
    /// Production: trust anchors with pinned keys and an https entity id are required.
    pub production: bool,
    /// The trust anchors: they validate issuers' chains, and our own chain (request objects'
    /// `trust_chain`, `x5c`).
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// Our superiors in the federation (default: the trust anchors).
    pub authority_hints: Vec<EntityId>,
    /// PEM text of the federation CA roots (issuers' `x5c`).
    pub x509_roots_pem: String,
    /// Bearer token of the integrator API and the federation entity's admin API.
    pub admin_token: String,
    /// `federation_entity.organization_name`.
    pub organization_name: String,
    /// `openid_credential_verifier.client_name` (default: the organization name).
    pub client_name: String,
    /// `logo_uri` (SVG; default the one we serve).
    pub logo_uri: String,
    /// `federation_entity` members.
    pub federation_entity: FederationEntityInfo,
    /// The IT-Wallet profile: what we emit (`it-wallet-1.4` by default); both are accepted.
    pub profile: Profile,
    /// How the wallet is invoked (`openid4vp://` by default, `haip-vp://`, or a wallet's https
    /// authorization endpoint).
    pub wallet_invocation: WalletInvocation,
    /// Pages of the integrator a same-device flow returns to (`redirect_uris`); a session
    /// names one, or gets the first.
    pub redirect_uris: Vec<String>,
    /// `erasure_endpoint` (default `<entity id>/erasure`, served).
    pub erasure_endpoint: String,
    /// Seconds a session waits for the wallet (request object lifetime within it).
    pub session_ttl: i64,
    /// Seconds a verdict waits for the integrator before it is purged.
    pub result_ttl: i64,
    /// Accept suspended credentials (RP policy, e.g. an age check).
    pub accept_suspended: bool,
    /// Check the Token Status List of credentials that have one.
    pub check_status: bool,
    /// Check the CRLs named by the issuer's `x5c` certificates (its long-lived signing
    /// certificate, its CA certificate: IT-Wallet 1.4 §1.2).
    pub check_crl: bool,
    /// Seconds a verified CRL answers before it is fetched again (never past its
    /// `nextUpdate`; the federation's CAs serve theirs with `max-age=300`).
    pub crl_refresh: i64,
    /// Trust mark types of which a credential issuer must hold one (IT-Wallet 1.4 §1.3,
    /// §8: "the issuer is untrusted: … Trust Mark or policy is missing"; none: not checked),
    /// e.g. `<anchor>/trust_marks/openid_credential_issuer/public`. Checked static plus
    /// dynamic (service-kit `trust_marks`); an issuer known by `x5c` alone is then refused.
    pub credential_issuer_trust_marks: Vec<String>,
    /// Seconds a mark's status, as its issuer's `federation_trust_mark_status_endpoint`
    /// reported it (OID-FED §8.4), is used before it is asked again (0: at every check).
    pub trust_mark_status_refresh: i64,
    /// Rate limits.
    pub rate_limits: RateLimits,
    /// Bounds on outbound fetches (issuer chains, status lists, our own chain, webhooks).
    pub outbound: service_kit::FetchLimits,
    /// CA certificates trusted for outbound HTTPS besides the system's roots (`[outbound]
    /// ca_certificates`, PEM files read at load: a private federation's own TLS CA).
    pub outbound_ca: service_kit::OutboundCa,
    /// The in-person page (`[web]`).
    pub web: crate::web::WebConfig,
    /// Where completion notices go (`https`, or `http` on loopback): `{session_id, status}`
    /// when an integrator's session gets its verdict ([`crate::webhook`]).
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the notices' signature (required with `webhook_url`, at least
    /// 32 characters).
    pub webhook_secret: String,
    /// HTTPS (`[tls] certificate`, `private_key`: PEM files): served with rustls when given.
    pub tls: Option<service_kit::serve::TlsFiles>,
}


#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    entity_id: Option<String>,
    data_dir: Option<PathBuf>,
    keys_dir: Option<PathBuf>,
    database_url: Option<String>,
    listen: Option<String>,
    production: Option<bool>,
    #[serde(default)]
    trust_anchors: Vec<service_kit::config::AnchorFile>,
    authority_hints: Option<Vec<String>>,
    #[serde(default)]
    x509_roots: Vec<PathBuf>,
    admin_token: Option<String>,
    organization_name: Option<String>,
    client_name: Option<String>,
    logo_uri: Option<String>,
    federation_entity: Option<FederationEntityInfo>,
    profile: Option<String>,
    wallet_invocation: Option<String>,
    redirect_uris: Option<Vec<String>>,
    erasure_endpoint: Option<String>,
    session_ttl: Option<i64>,
    result_ttl: Option<i64>,
    accept_suspended: Option<bool>,
    check_status: Option<bool>,
    check_crl: Option<bool>,
    crl_refresh: Option<i64>,
    credential_issuer_trust_marks: Option<Vec<String>>,
    trust_mark_status_refresh: Option<i64>,
    rate_limits: Option<RateLimits>,
    /// `[outbound]`: service-kit's `FetchLimits` and `ca_certificates`.
    outbound: Option<toml::Table>,
    web: Option<crate::web::WebConfig>,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
    tls: Option<service_kit::serve::TlsFiles>,
}



/// Parses `openid4vp`, `haip-vp` or an https URL.
pub fn parse_invocation(s: &str) -> Result<WalletInvocation, ConfigError> {
    match s {
        "openid4vp" | "openid4vp://" => Ok(WalletInvocation::Openid4vp),
        "haip-vp" | "haip-vp://" => Ok(WalletInvocation::HaipVp),
        u if u.starts_with("https://") && !u.contains('?') && !u.contains('#') => Ok(WalletInvocation::Https(u.to_owned())),
        other => Err(ConfigError::Invalid(format!("wallet_invocation: `{other}` is not openid4vp, haip-vp or an https URL without query"))),
    }
}

impl Config {
    /// A development configuration: no trust anchor yet, profile 1.4, 5-minute sessions.
    pub fn new(entity_id: EntityId, data_dir: PathBuf) -> Self {
        Self {
            entity_id,
            data_dir,
            keys_dir: None,
            database_url: None,
            listen: SocketAddr::from(([0, 0, 0, 0], 7620)),
            production: false,
            trust_anchors: Vec::new(),
            authority_hints: Vec::new(),
            x509_roots_pem: String::new(),
            admin_token: String::new(),
            organization_name: "Tessera verifier".into(),
            client_name: String::new(),
            logo_uri: String::new(),
            federation_entity: FederationEntityInfo::default(),
            profile: Profile::default(),
            wallet_invocation: WalletInvocation::Openid4vp,
            redirect_uris: Vec::new(),
            erasure_endpoint: String::new(),
            session_ttl: 300,
            result_ttl: 600,
            accept_suspended: false,
            check_status: true,
            check_crl: true,
            crl_refresh: wallet_core::x509::crl::DEFAULT_REFRESH_SECS,
            credential_issuer_trust_marks: Vec::new(),
            trust_mark_status_refresh: 300,
            rate_limits: RateLimits::default(),
            outbound: service_kit::FetchLimits::default(),
            outbound_ca: service_kit::OutboundCa::default(),
            web: crate::web::WebConfig::default(),
            webhook_url: None,
            webhook_secret: String::new(),
            tls: None,
        }
    }

    /// Reads `path`, then the environment's `TESSERA_VERIFIER_*` overrides.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = read(path)?;
        Self::from_toml(&text, std::env::vars())
    }

    /// From TOML text and environment variables (`TESSERA_VERIFIER_ENTITY_ID`, `_DATA_DIR`,
    /// `_KEYS_DIR`, `_DATABASE_URL`, `_WEBHOOK_URL`, `_WEBHOOK_SECRET`, `_LISTEN`, `_ADMIN_TOKEN`, `_PROFILE`, `_SESSION_TTL`, `_RESULT_TTL`, `_PRODUCTION`,
    /// `_REDIRECT_URIS` comma-separated); other `TESSERA_VERIFIER_*` names are refused.
    pub fn from_toml(text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut f: File = toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        for (k, v) in env {
            let Some(name) = k.strip_prefix("TESSERA_VERIFIER_") else { continue };
            let int = |v: &str| v.parse::<i64>().map_err(|e| ConfigError::Parse(format!("{k}: {e}")));
            match name {
                "ENTITY_ID" => f.entity_id = Some(v),
                "DATA_DIR" => f.data_dir = Some(v.into()),
                "KEYS_DIR" => f.keys_dir = Some(v.into()),
                "DATABASE_URL" => f.database_url = Some(v),
                "WEBHOOK_URL" => f.webhook_url = Some(v),
                "WEBHOOK_SECRET" => f.webhook_secret = Some(v),
                "LISTEN" => f.listen = Some(v),
                "ADMIN_TOKEN" => f.admin_token = Some(v),
                "PROFILE" => f.profile = Some(v),
                "SESSION_TTL" => f.session_ttl = Some(int(&v)?),
                "RESULT_TTL" => f.result_ttl = Some(int(&v)?),
                "PRODUCTION" => f.production = Some(matches!(v.as_str(), "1" | "true" | "yes")),
                "REDIRECT_URIS" => f.redirect_uris = Some(v.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()),
                _ => return Err(ConfigError::Parse(format!("unknown override {k}"))),
            }
        }
        let id = entity("entity_id", f.entity_id.as_deref().ok_or_else(|| ConfigError::Invalid("entity_id is required".into()))?)?;
        let data_dir = f.data_dir.ok_or_else(|| ConfigError::Invalid("data_dir is required".into()))?;
        let mut c = Self::new(id, data_dir);
        c.keys_dir = f.keys_dir;
        c.database_url = f.database_url.filter(|u| !u.trim().is_empty());
        c.webhook_url = f.webhook_url.filter(|u| !u.trim().is_empty());
        c.webhook_secret = f.webhook_secret.unwrap_or_default();
        c.tls = f.tls;
        if let Some(l) = f.listen {
            c.listen = l.parse().map_err(|e| ConfigError::Invalid(format!("listen: {e}")))?;
        }
        c.production = f.production.unwrap_or(false);
        c.trust_anchors.extend(service_kit::config::trust_anchors(f.trust_anchors)?);
        c.authority_hints = match f.authority_hints {
            Some(h) => h.iter().map(|h| entity("authority_hints", h)).collect::<Result<_, _>>()?,
            None => c.trust_anchors.iter().map(|a| a.id.clone()).collect(),
        };
        c.x509_roots_pem.push_str(&service_kit::config::pem_files(&f.x509_roots)?);
        if let Some(v) = f.admin_token {
            c.admin_token = v;
        }
        if let Some(v) = f.organization_name {
            c.organization_name = v;
        }
        if let Some(v) = f.client_name {
            c.client_name = v;
        }
        if let Some(v) = f.logo_uri {
            c.logo_uri = v;
        }
        if let Some(v) = f.federation_entity {
            c.federation_entity = v;
        }
        if let Some(p) = f.profile {
            c.profile = Profile::parse(&p).ok_or_else(|| ConfigError::Invalid(format!("profile: `{p}` is not it-wallet-1.3 or it-wallet-1.4")))?;
        }
        if let Some(w) = f.wallet_invocation {
            c.wallet_invocation = parse_invocation(&w)?;
        }
        if let Some(v) = f.redirect_uris {
            c.redirect_uris = v;
        }
        if let Some(v) = f.erasure_endpoint {
            c.erasure_endpoint = v;
        }
        for (slot, v) in [(&mut c.session_ttl, f.session_ttl), (&mut c.result_ttl, f.result_ttl)] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = f.accept_suspended {
            c.accept_suspended = v;
        }
        if let Some(v) = f.check_status {
            c.check_status = v;
        }
        if let Some(v) = f.check_crl {
            c.check_crl = v;
        }
        if let Some(v) = f.crl_refresh {
            c.crl_refresh = service_kit::config::seconds("crl_refresh", v)?;
        }
        if let Some(v) = f.credential_issuer_trust_marks {
            c.credential_issuer_trust_marks = v;
        }
        if let Some(v) = f.trust_mark_status_refresh {
            c.trust_mark_status_refresh = service_kit::config::seconds("trust_mark_status_refresh", v)?;
        }
        if let Some(v) = f.rate_limits {
            c.rate_limits = v;
        }
        if let Some(mut t) = f.outbound {
            let cas: Vec<PathBuf> = match t.remove("ca_certificates") {
                None => Vec::new(),
                Some(v) => v.try_into().map_err(|e| ConfigError::Parse(format!("outbound.ca_certificates: {e}")))?,
            };
            c.outbound = toml::Value::Table(t).try_into().map_err(|e| ConfigError::Parse(format!("outbound: {e}")))?;
            c.outbound_ca = service_kit::OutboundCa::from_files(&cas).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if let Some(v) = f.web {
            c.web = v;
        }
        c.validate()?;
        Ok(c)
    }

    /// Where the keys are: `keys_dir`, or `data_dir`.
    pub fn keys_dir(&self) -> &Path {
        self.keys_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// The rules: lifetimes in range, redirect URIs absolute http(s) without fragment, roots
    /// that parse; in production at least one trust anchor and an https entity id.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(30..=MAX_SESSION_TTL).contains(&self.session_ttl) {
            return bad(format!("session_ttl must be in 30..={MAX_SESSION_TTL} seconds, got {}", self.session_ttl));
        }
        if !(1..=MAX_RESULT_TTL).contains(&self.result_ttl) {
            return bad(format!("result_ttl must be in 1..={MAX_RESULT_TTL} seconds, got {}", self.result_ttl));
        }
        for uri in &self.redirect_uris {
            let ok = url::Url::parse(uri).is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.fragment().is_none());
            if !ok {
                return bad(format!("redirect URI {uri} must be an absolute http(s) URL without fragment"));
            }
        }
        if let Some(u) = &self.database_url
            && !(u.starts_with("postgres://") || u.starts_with("postgresql://"))
        {
            return bad("database_url must be a PostgreSQL URL (postgres://user:password@host/db)".into());
        }
        if let Some(u) = &self.webhook_url {
            let ok = url::Url::parse(u).is_ok_and(|p| {
                let loopback = match p.host() {
                    Some(url::Host::Domain(d)) => d == "localhost",
                    Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                    Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                    None => false,
                };
                p.host().is_some() && (p.scheme() == "https" || (p.scheme() == "http" && loopback)) && p.fragment().is_none()
            });
            if !ok {
                return bad(format!("webhook_url {u} must be an https URL (http only on loopback) without fragment"));
            }
            if self.webhook_secret.chars().count() < 32 {
                return bad("webhook_url needs webhook_secret, at least 32 characters (the notices' HMAC key)".into());
            }
        }
        service_kit::config::check_pem_roots(&self.x509_roots_pem)?;
        if self.production {
            if self.trust_anchors.is_empty() {
                return bad("production: configure at least one trust anchor with pinned keys".into());
            }
            let host = self.entity_id.host();
            let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
            if !self.entity_id.as_str().starts_with("https://") && !loopback {
                return bad("production: entity_id must be https (http only on loopback)".into());
            }
        }
        Ok(())
    }

    /// A URL under the entity id.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.entity_id.as_str().trim_end_matches('/'))
    }

    /// `logo_uri`: the configured one or the SVG we serve.
    pub fn logo(&self) -> String {
        if self.logo_uri.is_empty() { self.endpoint(service_kit::assets::LOGO_PATH) } else { self.logo_uri.clone() }
    }

    /// `client_name`: the configured one or the organization name.
    pub fn client_name(&self) -> String {
        if self.client_name.is_empty() { self.organization_name.clone() } else { self.client_name.clone() }
    }

    /// `erasure_endpoint`: the configured one or the one we serve.
    pub fn erasure(&self) -> String {
        if self.erasure_endpoint.is_empty() { self.endpoint(crate::routes::ERASURE_PATH) } else { self.erasure_endpoint.clone() }
    }

    /// `federation_entity.homepage_uri`.
    pub fn homepage_uri(&self) -> String {
        let p = &self.federation_entity.homepage_uri;
        if p.is_empty() { self.endpoint("/") } else { p.clone() }
    }

    /// `federation_entity.policy_uri`.
    pub fn policy_uri(&self) -> String {
        let p = &self.federation_entity.policy_uri;
        if p.is_empty() { self.endpoint(crate::routes::POLICY_PATH) } else { p.clone() }
    }

    /// `federation_entity.contacts`.
    pub fn contacts(&self) -> Vec<String> {
        if self.federation_entity.contacts.is_empty() {
            vec![format!("verifier@{}", self.entity_id.host())]
        } else {
            self.federation_entity.contacts.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "entity_id = \"https://verifier.example.it\"\ndata_dir = \"/tmp/v\"\n";

    #[test]
    fn toml_then_env_overrides() {
        let c = Config::from_toml(
            &format!("{BASE}session_ttl = 120\nprofile = \"it-wallet-1.3\"\nredirect_uris = [\"https://rp.example.it/back\"]\n"),
            [("TESSERA_VERIFIER_SESSION_TTL".to_owned(), "240".to_owned()), ("HOME".to_owned(), "/root".to_owned())],
        )
        .unwrap();
        assert_eq!(c.session_ttl, 240);
        assert_eq!(c.profile, Profile::ItWallet13);
        assert_eq!(c.redirect_uris, vec!["https://rp.example.it/back".to_owned()]);
        assert_eq!(c.erasure(), "https://verifier.example.it/erasure");
        assert_eq!(c.client_name(), "Tessera verifier");
    }

    #[test]
    fn rules_are_enforced() {
        let e = |extra: &str| Config::from_toml(&format!("{BASE}{extra}"), []).unwrap_err();
        assert!(matches!(e("session_ttl = 5\n"), ConfigError::Invalid(m) if m.contains("session_ttl")));
        assert!(matches!(e("redirect_uris = [\"app://x#y\"]\n"), ConfigError::Invalid(m) if m.contains("redirect URI")));
        assert!(matches!(e("production = true\n"), ConfigError::Invalid(m) if m.contains("trust anchor")));
        assert!(matches!(e("profile = \"1.0\"\n"), ConfigError::Invalid(m) if m.contains("profile")));
        assert!(matches!(e("webhook_url = \"http://example.it/hook\"\nwebhook_secret = \"0123456789abcdef0123456789abcdef\"\n"), ConfigError::Invalid(m) if m.contains("webhook_url")));
        assert!(matches!(e("webhook_url = \"https://example.it/hook\"\nwebhook_secret = \"short\"\n"), ConfigError::Invalid(m) if m.contains("webhook_secret")));
        assert!(matches!(e("database_url = \"mysql://db/x\"\n"), ConfigError::Invalid(m) if m.contains("database_url")));
        assert!(matches!(e("colour = 1\n"), ConfigError::Parse(_)));
        assert!(matches!(Config::from_toml(BASE, [("TESSERA_VERIFIER_COLOUR".to_owned(), "1".to_owned())]), Err(ConfigError::Parse(_))));
    }

    #[test]
    fn outbound_bounds_and_ca_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(vec!["ca.example.it".to_owned()]).unwrap().self_signed(&key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let ca_path = dir.path().join("ca.pem");
        let c = Config::from_toml(&format!("{BASE}[outbound]\nfetch_ms = 1500\nca_certificates = [\"{}\"]\n", ca_path.display()), []).unwrap();
        assert_eq!(c.outbound.fetch_ms, 1500);
        assert_eq!(c.outbound.connect_ms, service_kit::FetchLimits::default().connect_ms);
        assert!(c.outbound_ca.pem.contains("BEGIN CERTIFICATE"));
        let e = |extra: &str| Config::from_toml(&format!("{BASE}{extra}"), []).unwrap_err();
        assert!(matches!(e("[outbound]\nfetch_msec = 1\n"), ConfigError::Parse(m) if m.contains("outbound")));
        assert!(matches!(e("[outbound]\nca_certificates = [\"/nonexistent.pem\"]\n"), ConfigError::Invalid(m) if m.contains("ca_certificates")));
    }

    #[test]
    fn trust_anchor_files_are_read() {
        use wallet_core::jose::{Signer as _, SoftwareSigner};
        let dir = tempfile::tempdir().unwrap();
        let jwks = wallet_core::jose::JwkSet { keys: vec![SoftwareSigner::generate().unwrap().public_jwk()] };
        std::fs::write(dir.path().join("ta.jwks"), serde_json::to_string(&jwks).unwrap()).unwrap();
        let toml = format!("{BASE}[[trust_anchors]]\nid = \"https://ta.example.it\"\njwks = \"{}\"\n", dir.path().join("ta.jwks").display());
        let c = Config::from_toml(&toml, []).unwrap();
        assert_eq!(c.trust_anchors.len(), 1);
        assert_eq!(c.authority_hints, vec![EntityId::new("https://ta.example.it").unwrap()]);
        assert!(parse_invocation("https://wallet.example.it/authorize").is_ok());
        assert!(parse_invocation("http://wallet.example.it").is_err());
    }
}
