//! The relying party of the SPID/CIE OpenID Connect profile.
//!
//! * Discovery (§B.1): the OP's trust chain is collected and validated to a configured trust
//!   anchor; its `openid_provider` metadata after policy is what the RP uses (never a
//!   `.well-known/openid-configuration`).
//! * Authorization (§B.2): a request object signed with the RP's core key (RS256), PKCE S256,
//!   `nonce` of 48 alphanumeric characters, `acr_values`, `claims`, `prompt`. The pending
//!   login (nonce, code_verifier, provider, ...) is not kept here: it is sealed into `state`
//!   ([`pending`]), so started logins cost the RP nothing until one completes.
//! * Token (§B.3): `private_key_jwt` with a fresh `jti`; the ID Token checked as OIDC Core
//!   §3.1.3.7 and §B.3 say ([`tokens::verify_id_token`]); UserInfo decrypted with the RP's
//!   `enc` key, then verified with the OP's key ([`tokens::decode_userinfo`]).
//! * Refresh and revocation (§B.3): SPID answers a refresh with an ID Token at SpidL1, CIE
//!   with none; both are accepted. Revocation is `private_key_jwt`-authenticated.

pub mod pending;
pub mod provider;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use service_kit::FetchLimits;
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use serde::Deserialize;
use serde_json::{Value, json};
use wallet_core::federation::{EntityId, FederationError, TrustAnchorConfig};
use wallet_core::jose::JwsAlg;
use wallet_core::time::UnixTime;

use crate::claims::{Acr, Attribute, ClaimsRequest, UserInfo};
use crate::discovery::Discovery;
use crate::jwe_rsa::{Enc, JweError, KeyAlg};
use crate::jwt;
use crate::keys::{CoreKeys, KeyError, RsaBits, random_alnum, uuid4};
pub use pending::{Pending, StateError};
pub use provider::{Provider, ProviderMetadata};
pub use tokens::{IdTokenCheck, IdTokenClaims, IdTokenError, UserInfoCheck, UserInfoError};

/// `client_assertion_type` of `private_key_jwt` (RFC 7523).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Largest token or UserInfo response read (64 KiB).
const MAX_RESPONSE: usize = 64 * 1024;

/// What the operator of a relying party configures.
#[derive(Debug, Clone)]
pub struct RpConfig {
    /// The RP's `client_id`: the Entity Identifier of the federation entity hosting it.
    pub client_id: EntityId,
    /// `redirect_uris`; the first is used unless a login names another.
    pub redirect_uris: Vec<String>,
    /// Where the core keys live (`<data_dir>/rp-core-keys.json`).
    pub data_dir: PathBuf,
    /// Trust anchors the OPs must chain to.
    pub trust_anchors: Vec<TrustAnchorConfig>,
    /// `client_name`.
    pub client_name: String,
    /// `contacts`.
    pub contacts: Vec<String>,
    /// Size of keys generated on first start.
    pub key_bits: RsaBits,
    /// `userinfo_encrypted_response_alg` (default `RSA-OAEP`, django's default).
    pub userinfo_alg: KeyAlg,
    /// `userinfo_encrypted_response_enc` (default `A256CBC-HS512`).
    pub userinfo_enc: Enc,
    /// How long a started login may take, seconds (default 600, at most a day).
    pub login_ttl: i64,
    /// Bounds on discovery fetches (timeout per fetch, deadline per login, fetches in flight).
    pub outbound: FetchLimits,
}

impl RpConfig {
    /// A configuration with the profile's defaults.
    pub fn new(client_id: EntityId, redirect_uri: impl Into<String>, data_dir: PathBuf, trust_anchors: Vec<TrustAnchorConfig>) -> Self {
        Self {
            client_id,
            redirect_uris: vec![redirect_uri.into()],
            data_dir,
            trust_anchors,
            client_name: "Tessera relying party".into(),
            contacts: Vec::new(),
            key_bits: RsaBits::B2048,
            userinfo_alg: KeyAlg::RsaOaep,
            userinfo_enc: Enc::A256CbcHs512,
            login_ttl: 600,
            outbound: FetchLimits::default(),
        }
    }
}

/// `prompt` (§B.2): the two values the profile allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Prompt {
    /// `consent`: authenticate if there is no SSO session, then ask consent.
    #[default]
    Consent,
    /// `consent login`: always authenticate, then ask consent.
    ConsentLogin,
}

impl Prompt {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::ConsentLogin => "consent login",
        }
    }
}

/// What a login asks for.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// `acr_values`, in preference order; the lowest is the minimum the ID Token must carry.
    pub acr_values: Vec<Acr>,
    /// `claims`.
    pub claims: ClaimsRequest,
    /// `prompt`.
    pub prompt: Prompt,
    /// Ask for `offline_access` (a refresh token; needs `consent` in `prompt`, §B.2).
    pub offline_access: bool,
    /// A `redirect_uri` among the configured ones (default: the first).
    pub redirect_uri: Option<String>,
    /// What the caller wants back at the callback (where to send the user next, the app's
    /// own `state`): sealed with the login into `state`, at most [`pending::MAX_APP_DATA`]
    /// bytes, returned in [`LoginOutcome::app_data`] and by [`RelyingParty::pending`].
    pub app_data: Option<String>,
}

impl Default for LoginRequest {
    /// SpidL2, the attributes a wallet provider needs (fiscal number, names, birth data, email),
    /// `prompt=consent`, no refresh token.
    fn default() -> Self {
        Self {
            acr_values: vec![Acr::SpidL2],
            claims: ClaimsRequest::userinfo(&[
                Attribute::FiscalNumber,
                Attribute::GivenName,
                Attribute::FamilyName,
                Attribute::Birthdate,
                Attribute::PlaceOfBirth,
                Attribute::Email,
            ]),
            prompt: Prompt::Consent,
            offline_access: false,
            redirect_uri: None,
            app_data: None,
        }
    }
}

/// Tokens from the token endpoint. `Debug` does not print them.
#[derive(Clone)]
pub struct Tokens {
    /// `access_token`.
    pub access_token: String,
    /// `refresh_token`, when `offline_access` was granted.
    pub refresh_token: Option<String>,
    /// The ID Token as received (absent from a CIE refresh).
    pub id_token: Option<String>,
    /// `expires_in`, seconds.
    pub expires_in: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("refresh_token", &self.refresh_token.as_ref().map(|_| "[redacted]")).field("expires_in", &self.expires_in).finish_non_exhaustive()
    }
}

/// A completed login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The OP.
    pub provider: EntityId,
    /// The verified, decrypted UserInfo.
    pub userinfo: UserInfo,
    /// The level the OP authenticated at.
    pub acr: Acr,
    /// The verified ID Token's claims.
    pub id_token: IdTokenClaims,
    /// The tokens.
    pub tokens: Tokens,
    /// [`LoginRequest::app_data`] of the login.
    pub app_data: Option<String>,
}

/// The result of a refresh.
#[derive(Debug, Clone)]
pub struct RefreshOutcome {
    /// The new tokens (a rotated refresh token when the OP rotates).
    pub tokens: Tokens,
    /// SPID: the new ID Token (acr SpidL1); CIE: none.
    pub id_token: Option<IdTokenClaims>,
}

/// Why a login, refresh or revocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpError {
    /// Keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// The provider has no valid trust chain to our anchors.
    #[error("provider not trusted: {0}")]
    Untrusted(FederationError),
    /// The provider's metadata lacks what the profile needs.
    #[error("provider metadata: {0}")]
    ProviderMetadata(String),
    /// The callback's `state` is missing, forged, tampered with or expired.
    #[error("state: {0}")]
    State(#[from] StateError),
    /// The callback is malformed (no `code`, ...).
    #[error("callback: {0}")]
    Callback(String),
    /// The OP answered the authorization with an error.
    #[error("provider refused: {error}: {description}")]
    Authorization {
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The callback's `iss` is not the provider the login went to (RFC 9207).
    #[error("authorization response iss {0} is not the provider")]
    IssuerMismatch(String),
    /// HTTP failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The token endpoint (or revocation endpoint) answered an error.
    #[error("{endpoint} answered {status}: {error}: {description}")]
    Endpoint {
        /// Which endpoint.
        endpoint: &'static str,
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// The token response is malformed.
    #[error("token response: {0}")]
    TokenResponse(String),
    /// The ID Token was rejected.
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    /// The UserInfo response was rejected.
    #[error(transparent)]
    UserInfo(#[from] UserInfoError),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
}

/// The SPID/CIE relying party. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct RelyingParty {
    inner: Arc<Inner>,
}

struct Inner {
    config: RpConfig,
    keys: CoreKeys,
    discovery: Discovery,
    state_key: pending::StateKey,
    http: reqwest::Client,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("client_id", &self.inner.config.client_id).finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// Loads (or creates) the core keys under `config.data_dir`.
    pub fn open(config: RpConfig) -> Result<Self, RpError> {
        if config.redirect_uris.is_empty() {
            return Err(RpError::Config("at least one redirect_uri is required".into()));
        }
        if config.trust_anchors.is_empty() {
            return Err(RpError::Config("at least one trust anchor is required".into()));
        }
        wallet_core::time::Ttl::new("login_ttl", config.login_ttl, 86_400).map_err(|e| RpError::Config(e.to_string()))?;
        let keys = CoreKeys::load_or_create(&config.data_dir, "rp-core-keys.json", config.key_bits)?;
        let state_key = pending::StateKey::load_or_create(&config.data_dir)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| RpError::Http(e.to_string()))?;
        let outbound = service_kit::OutboundHttp::new(config.outbound).map_err(|e| RpError::Http(e.to_string()))?;
        let discovery = Discovery::new(config.trust_anchors.clone(), 4, outbound);
        Ok(Self { inner: Arc::new(Inner { config, keys, discovery, state_key, http }) })
    }

    /// The `client_id`.
    pub fn client_id(&self) -> &EntityId {
        &self.inner.config.client_id
    }

    /// The core keys (public halves go in [`Self::metadata`]).
    pub fn keys(&self) -> &CoreKeys {
        &self.inner.keys
    }

    /// The `openid_relying_party` metadata for the hosting entity's Entity Configuration
    /// (§B.1 "RP metadata (required)"; AgID check-rp's list).
    pub fn metadata(&self) -> Value {
        let c = &self.inner.config;
        json!({
            "client_id": c.client_id,
            "client_name": c.client_name,
            "client_registration_types": ["automatic"],
            "redirect_uris": c.redirect_uris,
            "response_types": ["code"],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "private_key_jwt",
            "id_token_signed_response_alg": "RS256",
            "userinfo_signed_response_alg": "RS256",
            "userinfo_encrypted_response_alg": c.userinfo_alg.as_str(),
            "userinfo_encrypted_response_enc": c.userinfo_enc.as_str(),
            "application_type": "web",
            "contacts": c.contacts,
            "jwks": self.inner.keys.jwks(),
        })
    }

    /// A federation-entity configuration (served by `trust_anchor::router`) for a leaf that
    /// hosts only this RP: its `openid_relying_party` metadata, `authority_hints`, not an
    /// authority. A service hosting more (the wallet provider) adds its own metadata beside.
    pub fn entity_config(&self, authority_hints: Vec<EntityId>, data_dir: PathBuf, admin_token: impl Into<String>) -> trust_anchor::Config {
        let c = &self.inner.config;
        let mut fed = trust_anchor::Config::trust_anchor(c.client_id.clone(), data_dir, admin_token);
        fed.authority = false;
        fed.authority_hints = authority_hints;
        fed.organization_name = c.client_name.clone();
        fed.trust_anchors = c.trust_anchors.clone();
        fed.metadata.insert("openid_relying_party".into(), self.metadata());
        fed
    }

    /// Discovers `provider` through its trust chain (cached until the chain expires).
    pub async fn provider(&self, provider: &EntityId) -> Result<Provider, RpError> {
        let chain = self.inner.discovery.resolve(provider).await.map_err(RpError::Untrusted)?;
        Provider::from_chain(&chain)
    }

    /// Starts a login at `provider`: returns the authorization URL to send the browser to.
    pub async fn start_login(&self, provider: &EntityId, req: LoginRequest) -> Result<String, RpError> {
        let p = self.provider(provider).await?;
        let c = &self.inner.config;
        let redirect_uri = match req.redirect_uri {
            Some(r) if c.redirect_uris.contains(&r) => r,
            Some(r) => return Err(RpError::Config(format!("{r} is not among the redirect_uris"))),
            None => c.redirect_uris.first().cloned().unwrap_or_default(),
        };
        if req.acr_values.is_empty() {
            return Err(RpError::Config("acr_values must not be empty".into()));
        }
        if req.app_data.as_ref().is_some_and(|d| d.len() > pending::MAX_APP_DATA) {
            return Err(RpError::Config(format!("app_data longer than {} bytes", pending::MAX_APP_DATA)));
        }
        // `offline_access` needs `consent` in `prompt` (§B.2): both `Prompt` values carry it.
        let nonce = random_alnum::<24>()?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let scope = if req.offline_access { "openid offline_access" } else { "openid" };
        let now = UnixTime::now();
        let min_acr = req.acr_values.iter().min().copied();
        let pending = Pending {
            provider: p.entity_id.clone(),
            issuer: p.metadata.issuer.clone(),
            nonce: nonce.clone(),
            code_verifier: verifier.secret().clone(),
            redirect_uri: redirect_uri.clone(),
            min_acr,
            exp: crate::time::after(now, c.login_ttl).map_err(|e| RpError::Config(format!("login_ttl: {e}")))?,
            app_data: req.app_data,
        };
        // The pending login travels sealed as `state` (see `pending`): nothing is kept here.
        let state = self.inner.state_key.seal(&pending, &c.client_id)?;
        let exp = crate::time::after(now, REQUEST_OBJECT_TTL).map_err(|e| RpError::Config(format!("request object exp: {e}")))?;
        let now = now.secs();
        let claims = json!({
            "iss": c.client_id, "client_id": c.client_id, "sub": null,
            // django's form: the OP id and its authorization endpoint (§B.2).
            "aud": [p.metadata.issuer, p.metadata.authorization_endpoint],
            "response_type": "code", "scope": scope, "redirect_uri": redirect_uri,
            "nonce": nonce, "state": state,
            "code_challenge": challenge.as_str(), "code_challenge_method": "S256",
            "prompt": req.prompt.as_str(), "acr_values": Acr::join(&req.acr_values),
            "claims": req.claims.to_json(),
            "iat": now, "exp": exp.secs(), "jti": uuid4()?,
        });
        let mut claims = claims;
        if let Value::Object(m) = &mut claims {
            m.remove("sub"); // §B.2: `sub` absent
        }
        let request = jwt::sign(&claims, None, &self.inner.keys.sig.signer(JwsAlg::Rs256)).map_err(|e| RpError::Sign(e.to_string()))?;
        let mut url = url::Url::parse(&p.metadata.authorization_endpoint).map_err(|e| RpError::ProviderMetadata(format!("authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("client_id", c.client_id.as_str())
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256")
            .append_pair("request", &request);
        Ok(url.to_string())
    }

    /// The pending login a callback's `state` carries, opened and checked (sealed by this RP
    /// for this `client_id`, not expired), without finishing the login: for a caller that needs
    /// its [`LoginRequest::app_data`] even when the login failed.
    pub fn pending(&self, callback_query: &str) -> Result<Pending, RpError> {
        let q = callback_params(callback_query)?;
        self.open_state(&q)
    }

    fn open_state(&self, q: &[(String, String)]) -> Result<Pending, RpError> {
        let state = param(q, "state").ok_or(StateError::Missing)?;
        Ok(self.inner.state_key.open(&state, &self.inner.config.client_id, UnixTime::now())?)
    }

    /// Finishes a login from the query string of the redirect (`code`, `state`, `iss`, or
    /// `error`): `state` opened and checked, token request, ID Token, UserInfo.
    ///
    /// A callback replayed after its login completed fails at the OP (its authorization code
    /// is single use: `invalid_grant`); a state replayed with another code fails PKCE (only the
    /// sealed verifier redeems a code, and it matches only its own request's challenge) and
    /// the ID Token `nonce` check.
    pub async fn finish_login(&self, callback_query: &str) -> Result<LoginOutcome, RpError> {
        let q = callback_params(callback_query)?;
        let get = |k: &str| param(&q, k);
        let pending = self.open_state(&q)?;
        if let Some(error) = get("error") {
            return Err(RpError::Authorization { error, description: get("error_description").unwrap_or_default() });
        }
        // RFC 9207: CIE requires `iss`, SPID makes it optional; when present it must be the OP.
        if let Some(iss) = get("iss")
            && iss != pending.issuer
        {
            return Err(RpError::IssuerMismatch(iss));
        }
        let code = get("code").filter(|c| !c.is_empty()).ok_or_else(|| RpError::Callback("no code".into()))?;
        let p = self.provider(&pending.provider).await?;
        if p.metadata.issuer != pending.issuer {
            return Err(RpError::IssuerMismatch(p.metadata.issuer));
        }
        let verifier = PkceCodeVerifier::new(pending.code_verifier.clone());
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("code_verifier", verifier.secret().clone()),
            ("redirect_uri", pending.redirect_uri.clone()),
        ];
        let tokens = self.token_request(&p, form).await?;
        let id_token_jwt = tokens.id_token.clone().ok_or_else(|| RpError::TokenResponse("no id_token".into()))?;
        let c = &self.inner.config;
        let id_token = tokens::verify_id_token(
            &id_token_jwt,
            &IdTokenCheck {
                issuer: &p.metadata.issuer,
                client_id: c.client_id.as_str(),
                jwks: &p.metadata.jwks,
                nonce: Some(&pending.nonce),
                access_token: &tokens.access_token,
                min_acr: pending.min_acr,
                now: UnixTime::now(),
            },
        )?;
        let userinfo = self.userinfo(&p, &tokens.access_token, &id_token.sub).await?;
        Ok(LoginOutcome { provider: p.entity_id, acr: id_token.acr, userinfo, id_token, tokens, app_data: pending.app_data })
    }

    /// Reads UserInfo with an access token and checks it (GET, as SPID requires).
    pub async fn userinfo(&self, p: &Provider, access_token: &str, sub: &str) -> Result<UserInfo, RpError> {
        let resp = self.inner.http.get(&p.metadata.userinfo_endpoint).bearer_auth(access_token).send().await.map_err(|e| RpError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let ct = resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
        let body = read_bounded(resp).await?;
        if status != 200 {
            let (error, description) = oauth_error(&body);
            return Err(RpError::Endpoint { endpoint: "userinfo", status, error, description });
        }
        // The docs say application/jose, django and check-op application/jwt: accept both (§B.3).
        if !(ct.starts_with("application/jwt") || ct.starts_with("application/jose")) {
            return Err(RpError::UserInfo(UserInfoError::Decrypt(JweError::Malformed("content type is not application/jwt"))));
        }
        let text = String::from_utf8(body).map_err(|_| RpError::TokenResponse("userinfo is not UTF-8".into()))?;
        self.decode_userinfo(&p.metadata, &text, sub)
    }

    /// Decrypts and verifies a UserInfo JWE from `provider` (exposed for tests and for RPs
    /// that fetch UserInfo themselves).
    pub fn decode_userinfo(&self, provider: &ProviderMetadata, jwe: &str, sub: &str) -> Result<UserInfo, RpError> {
        let check = UserInfoCheck { issuer: &provider.issuer, client_id: self.client_id().as_str(), jwks: &provider.jwks, sub, now: UnixTime::now() };
        Ok(tokens::decode_userinfo(jwe, &self.inner.keys.enc, &check)?)
    }

    /// Uses a refresh token (§B.3). SPID answers with a new access token and an ID Token at
    /// SpidL1; CIE with a new access token and a rotated refresh token, no ID Token.
    pub async fn refresh(&self, provider: &EntityId, refresh_token: &str) -> Result<RefreshOutcome, RpError> {
        let p = self.provider(provider).await?;
        let form = vec![("grant_type", "refresh_token".to_owned()), ("refresh_token", refresh_token.to_owned())];
        let tokens = self.token_request(&p, form).await?;
        let id_token = match &tokens.id_token {
            None => None,
            Some(jwt) => Some(tokens::verify_id_token(
                jwt,
                &IdTokenCheck {
                    issuer: &p.metadata.issuer,
                    client_id: self.client_id().as_str(),
                    jwks: &p.metadata.jwks,
                    nonce: None,
                    access_token: &tokens.access_token,
                    min_acr: None,
                    now: UnixTime::now(),
                },
            )?),
        };
        Ok(RefreshOutcome { tokens, id_token })
    }

    /// Revokes a token (RFC 7009, §B.3) with `private_key_jwt`; the OP answers 200 even for
    /// unknown tokens. SPID: revoke the access token at logout; CIE: never revoke an
    /// `offline_access` refresh token at logout.
    pub async fn revoke(&self, provider: &EntityId, token: &str) -> Result<(), RpError> {
        let p = self.provider(provider).await?;
        let endpoint = p.metadata.revocation_endpoint.clone().ok_or_else(|| RpError::ProviderMetadata("no revocation_endpoint".into()))?;
        let mut form = vec![("token", token.to_owned())];
        form.extend(self.client_auth(&endpoint)?);
        let resp = self.inner.http.post(&endpoint).form(&form).send().await.map_err(|e| RpError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = read_bounded(resp).await?;
        if status != 200 {
            let (error, description) = oauth_error(&body);
            return Err(RpError::Endpoint { endpoint: "revocation", status, error, description });
        }
        Ok(())
    }

    /// `client_id`, `client_assertion_type` and a fresh `client_assertion` for `endpoint`
    /// (§B.3: `iss` = `sub` = `client_id`, `aud` = the endpoint, uuid4 `jti`, 60 s).
    pub fn client_auth(&self, endpoint: &str) -> Result<Vec<(&'static str, String)>, RpError> {
        let now = UnixTime::now();
        let exp = crate::time::after(now, REQUEST_OBJECT_TTL).map_err(|e| RpError::Sign(format!("client assertion exp: {e}")))?;
        let id = self.client_id().as_str();
        let claims = json!({"iss": id, "sub": id, "aud": [endpoint], "iat": now.secs(), "exp": exp.secs(), "jti": uuid4()?});
        let assertion = jwt::sign(&claims, None, &self.inner.keys.sig.signer(JwsAlg::Rs256)).map_err(|e| RpError::Sign(e.to_string()))?;
        Ok(vec![("client_id", id.to_owned()), ("client_assertion_type", CLIENT_ASSERTION_TYPE.to_owned()), ("client_assertion", assertion)])
    }

    async fn token_request(&self, p: &Provider, mut form: Vec<(&'static str, String)>) -> Result<Tokens, RpError> {
        form.extend(self.client_auth(&p.metadata.token_endpoint)?);
        let resp = self.inner.http.post(&p.metadata.token_endpoint).form(&form).send().await.map_err(|e| RpError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let body = read_bounded(resp).await?;
        if status != 200 {
            let (error, description) = oauth_error(&body);
            return Err(RpError::Endpoint { endpoint: "token", status, error, description });
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            token_type: String,
            #[serde(default)]
            expires_in: Option<i64>,
            #[serde(default)]
            id_token: Option<String>,
            #[serde(default)]
            refresh_token: Option<String>,
        }
        let t: TokenResponse = serde_json::from_slice(&body).map_err(|e| RpError::TokenResponse(e.to_string()))?;
        if !t.token_type.eq_ignore_ascii_case("bearer") {
            return Err(RpError::TokenResponse(format!("token_type {} is not Bearer", t.token_type)));
        }
        Ok(Tokens { access_token: t.access_token, refresh_token: t.refresh_token, id_token: t.id_token, expires_in: t.expires_in.unwrap_or(0) })
    }
}

/// How long the request object is valid (django sends 60 s).
const REQUEST_OBJECT_TTL: i64 = 60;
/// The longest callback query read.
const MAX_CALLBACK: usize = 16 * 1024;

/// The callback's parameters; a repeated one is refused (RFC 6749 §3.1: parameters MUST NOT
/// be included more than once), so `state`, `code` and `iss` each have one reading.
fn callback_params(query: &str) -> Result<Vec<(String, String)>, RpError> {
    if query.len() > MAX_CALLBACK {
        return Err(RpError::Callback(format!("query longer than {MAX_CALLBACK} bytes")));
    }
    let q: Vec<(String, String)> = url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()).into_owned().collect();
    for (i, (k, _)) in q.iter().enumerate() {
        if q.iter().skip(i + 1).any(|(n, _)| n == k) {
            return Err(RpError::Callback(format!("parameter {k} repeated")));
        }
    }
    Ok(q)
}

fn param(q: &[(String, String)], k: &str) -> Option<String> {
    q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
}

async fn read_bounded(mut resp: reqwest::Response) -> Result<Vec<u8>, RpError> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| RpError::Http(e.to_string()))? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(RpError::Http("response too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn oauth_error(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    (s("error"), s("error_description"))
}
