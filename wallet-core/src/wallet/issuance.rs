//! The wallet's issuance flow (IT-Wallet 1.4 §3.3, §8; OpenID4VCI 1.0), driven by the phone,
//! with the pre-authorized code grant (below) or the authorization code grant
//! ([`authorization`]: [`WalletIssuance::start_from_issuer`] or an offer with an
//! `authorization_code` grant → [`WalletIssuance::authorize`] → a browser step or the PID
//! presentation → token, then the same credential steps). Pre-authorized code:
//!
//! 1. [`WalletIssuance::start_from_offer`]: the offer (by value, or fetched by reference), the
//!    issuer's metadata (`/.well-known/openid-credential-issuer`) and its federation trust chain
//!    to a configured trust anchor; the issuer must be in the federation and its federation
//!    metadata must declare every offered configuration. The result is an [`IssuanceConsent`]
//!    (who issues what, trusted or not and why, whether a `tx_code` is needed) and the
//!    [`IssuanceSession`] to continue with.
//! 2. [`WalletIssuance::accept`]: token request with DPoP (and the client attestation when the
//!    server lists `attest_jwt_client_auth` and the wallet has one; the proofs then name the
//!    client in `iss`), `/nonce`, key proofs by the attested keys with the WUA as
//!    `key_attestation`, `/credential` (once per offered configuration); every credential
//!    verified ([`verify_credential`], then its type metadata against `vct#integrity`:
//!    [`TypeMetadataProblem`]) before anything is stored; stored encrypted, an Issuance transaction logged, and
//!    `/notification` `credential_accepted` (or `credential_failure` with the reason).
//! 3. Deferred: [`IssuanceOutcome::Deferred`] → [`WalletIssuance::poll_deferred`] (one poll)
//!    or [`WalletIssuance::wait_deferred`] (sleeps `interval` between polls).
//!
//! The DPoP key is an ephemeral software key, one per issuer session
//! ([`crate::jose::SoftwareSigner::generate`]): it binds this session's access token only,
//! is not attested, and is dropped with the session, so a hardware key (and its clean-up)
//! buys nothing here. (Refresh tokens, not used yet, would need it kept.)
//!
//! The pure steps ([`consent_for`], [`token_request_for`], [`verify_credential`],
//! [`on_credential_response`], [`issuer_error`]) are functions over values; the driver sends
//! them through the [`HttpClient`] seam.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::WalletError;
use super::certificate::{CertificateCheck, SeamCrls, check_x5c};
use super::activation::WalletActivation;
use super::presentation::{PresentationError, PresentationStep};
use super::http::{HttpClient, HttpError, HttpRequest, HttpResponse, SeamFetcher};
use super::update::{AttributeUpdate, ClaimChange, UpdateConsent};
use crate::attestation::ClientAttestationHeaders;
use crate::federation::{ChainCollector, EntityId, TrustAnchorConfig, ValidatedChain};
use crate::jose::jwk::JwkSet;
use crate::jose::{Jwk, JwsHeader, Signer, SoftwareSigner};
use crate::keystore::KeyStoreSigner;
use crate::oid4vp::consent::{TrustMarkCheck, TrustMarkView, verify_marks};
use crate::oid4vci::dpop::DPOP_NONCE_HEADER;
use crate::oid4vci::metadata::{ATTEST_JWT_CLIENT_AUTH, FORMAT_SD_JWT_VC, MAX_METADATA_LEN};
use crate::oid4vci::offer::{AuthorizationCodeGrant, MAX_OFFER_LEN, TxCode, TxInputMode};
use crate::oid4vci::requests::{
    AUTHORIZATION_SERVER_WELL_KNOWN, credential_request, deferred_request, metadata_request, nonce_request, notification_request, offer_request,
    token_request, well_known_url,
};
use crate::oid4vci::{
    AuthorizationServerMetadata, CredentialIssuerMetadata, CredentialOffer, CredentialRequest, CredentialResponse, DeferredCredentialRequest,
    ErrorCode, ErrorResponse, MetadataError, NonceResponse, NotificationEvent, NotificationRequest, OfferError, OfferRef, OfferUrl, ParError, Profile,
    TokenRequest, TokenResponse, dpop_proof, key_proof,
};
use crate::sd_jwt::{IssuerKeyResolver, KeyResolutionError, Verifier};
use crate::store::{CredentialId, CredentialStore, NewCredential, NewTransaction, StoreError, TransactionKind};
use crate::time::{Clock, SystemClock, UnixTime};
use crate::x509::TrustAnchors;
use crate::x509::crl::CrlCache;

/// The federation metadata type of a credential issuer.
pub const CREDENTIAL_ISSUER_TYPE: &str = "openid_credential_issuer";
/// The federation metadata type of an authorization server.
pub const AUTHORIZATION_SERVER_TYPE: &str = "oauth_authorization_server";
/// The largest credential response read.
const MAX_CREDENTIAL_RESPONSE: usize = crate::oid4vci::credential::MAX_RESPONSE_LEN;
/// At most this many deferred polls in [`WalletIssuance::wait_deferred`].
pub const MAX_DEFERRED_POLLS: u32 = 60;

/// A step of the issuance flow, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuanceStep {
    /// Reading the offer (`credential_offer_uri` fetch included).
    Offer,
    /// The pushed authorization request.
    Par,
    /// `/authorize`, the citizen's authentication and the redirect back.
    Authorization,
    /// The PID presentation an issuer asks for at `/authorize`.
    Presentation,
    /// The issuer's metadata.
    Metadata,
    /// The issuer's trust chain.
    Federation,
    /// `/token`.
    Token,
    /// `/nonce`.
    Nonce,
    /// Building key proofs.
    Proof,
    /// `/credential`.
    Credential,
    /// `/deferred_credential`.
    Deferred,
    /// Checking what came back.
    Verification,
    /// Storing.
    Store,
    /// `/notification`.
    Notification,
}

impl std::fmt::Display for IssuanceStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::Offer => "offer",
            Self::Par => "par",
            Self::Authorization => "authorization",
            Self::Presentation => "presentation",
            Self::Metadata => "metadata",
            Self::Federation => "federation",
            Self::Token => "token",
            Self::Nonce => "nonce",
            Self::Proof => "proof",
            Self::Credential => "credential",
            Self::Deferred => "deferred credential",
            Self::Verification => "verification",
            Self::Store => "store",
            Self::Notification => "notification",
        };
        f.write_str(s)
    }
}

/// Which check a returned credential failed (IT-Wallet 1.4 §8, wallet side).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialRule {
    /// Not an SD-JWT VC we can verify, or its issuer signature (key from the issuer's
    /// federation metadata) does not verify.
    #[error("signature or SD-JWT VC form: {0}")]
    Signature(String),
    /// `iss` is not the issuer we asked.
    #[error("iss `{got}` is not the issuer `{expected}`")]
    Issuer {
        /// Expected.
        expected: String,
        /// Got.
        got: String,
    },
    /// `vct` is not the offered configuration's.
    #[error("vct `{got}` is not the offered `{expected}`")]
    Vct {
        /// Expected.
        expected: String,
        /// Got.
        got: String,
    },
    /// Its attributes break the data model of its `vct` (WP_060; IT-Wallet 1.4 §4.3–4.5:
    /// [`crate::vc::check_data_model`]).
    #[error("data model: {0}")]
    DataModel(String),
    /// `cnf.jwk` is missing or not one of our proof keys (or bound twice).
    #[error("cnf.jwk is not one of the proof keys")]
    Cnf,
    /// `exp` is in the past (or missing).
    #[error("expired or without exp")]
    Expired,
    /// `status.status_list` missing or its `uri` not `https`.
    #[error("status list reference: {0}")]
    Status(String),
    /// A format other than `dc+sd-jwt`.
    #[error("unsupported format `{0}`")]
    Format(String),
    /// Its `x5c` does not chain to a federation CA root, or its leaf is not the signing key
    /// (IT-Wallet 1.4 §4.1): verifiers checking the chain would refuse it.
    #[error("issuer certificate: {0}")]
    Certificate(String),
    /// A certificate of its `x5c` is revoked on its CA's CRL (IT-Wallet 1.4 §1.2): the
    /// issuer's key was withdrawn.
    #[error("issuer certificate revoked: {0}")]
    CertificateRevoked(String),
}

/// What was wrong with the type metadata of a returned credential's `vct` (SD-JWT VC §6, §7
/// "Document Integrity"; IT-Wallet 1.4 §4.1: `vct#integrity`, W3C SRI over the document
/// served at `/.well-known/type-metadata?vct=` or `/.well-known/vct/{vct}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TypeMetadataProblem {
    /// The credential claims `vct#integrity` but its issuer serves no type metadata for the
    /// `vct` (both URLs tried): the integrity cannot be established.
    #[error("vct#integrity is claimed but the type metadata cannot be had: {0}")]
    Unavailable(String),
    /// No digest of `vct#integrity` matches the bytes served.
    #[error("vct#integrity `{integrity}` does not match the type metadata served")]
    IntegrityMismatch {
        /// The credential's `vct#integrity`.
        integrity: String,
    },
    /// `vct#integrity` is not SRI metadata of sha256, sha384 or sha512.
    #[error("vct#integrity `{0}` is not sha256, sha384 or sha512 SRI metadata")]
    BadIntegrity(String),
    /// The document served is not a JSON object.
    #[error("the type metadata is not a JSON object: {0}")]
    Malformed(String),
    /// Its `vct` member is not the credential's `vct`.
    #[error("the type metadata is for vct `{got}`")]
    VctMismatch {
        /// The document's `vct`.
        got: String,
    },
}

/// Why an issuance step failed. Free of codes and tokens.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IssuanceError {
    /// No response.
    #[error("{step}: {source}")]
    Http {
        /// The step.
        step: IssuanceStep,
        /// Why.
        source: HttpError,
    },
    /// The issuer answered with an error (its OAuth `error` code, when it gave one).
    #[error("{step}: the issuer answered HTTP {status}{}", error.as_ref().map(|e| format!(" {e}")).unwrap_or_default())]
    Issuer {
        /// The step.
        step: IssuanceStep,
        /// The HTTP status.
        status: u16,
        /// `error`.
        error: Option<String>,
        /// `error_description`.
        description: Option<String>,
    },
    /// A response that does not parse or breaks the protocol.
    #[error("{step}: bad response: {detail}")]
    BadResponse {
        /// The step.
        step: IssuanceStep,
        /// What is wrong.
        detail: String,
    },
    /// The offer is malformed or does not match the metadata.
    #[error("offer: {0}")]
    Offer(#[from] OfferError),
    /// The metadata is malformed or inconsistent.
    #[error("metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// A re-issuance changed the citizen's attributes and the citizen did not agree to store
    /// it (or no [`UpdateConsent`] was there to ask): the old credential is kept, the new one
    /// not stored, the issuer told `credential_deleted` (IT-Wallet 1.4 §6, WP_074).
    #[error("re-issuance: not stored: the citizen did not agree to the changed attributes ({})", .0.changes.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", "))]
    UpdateDeclined(Box<AttributeUpdate>),
    /// The issuer is not in the federation (IT-Wallet 1.4 §1, §8): no token request is sent.
    #[error("federation: the issuer {issuer} is not trusted: {reason}")]
    Untrusted {
        /// The issuer.
        issuer: String,
        /// Why.
        reason: String,
    },
    /// The issuer's federation metadata does not declare an offered configuration.
    #[error("federation: the issuer does not declare `{0}` in its federation metadata")]
    NotDeclared(String),
    /// The session's grant is not the one of the call: [`WalletIssuance::accept`] needs a
    /// pre-authorized code, [`WalletIssuance::authorize`] an authorization code grant.
    #[error("offer: the offer has no {0} grant")]
    UnsupportedGrant(&'static str),
    /// The authorization code flow needs the wallet's `redirect_uri`
    /// ([`WalletIssuance::with_redirect_uri`]).
    #[error("par: no redirect_uri configured")]
    NoRedirectUri,
    /// The authorization response broke a rule (IT-Wallet 1.4 §3.3 steps 6–7, §8): not our
    /// `redirect_uri`, a `state` or `iss` (RFC 9207) that is not ours, no `code`; or the PAR
    /// could not be built.
    #[error("{step}: {rule}")]
    Authorization {
        /// The step.
        step: IssuanceStep,
        /// The rule.
        rule: ParError,
    },
    /// The issuer redirected back with an error (`error`, `error_description`).
    #[error("authorization: the issuer refused: {error}{}", description.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    AuthorizationDenied {
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// The PID presentation the issuer asked for failed ([`PresentationError`] as text; the
    /// relying party's OpenID4VP `error` when it refused the presentation).
    #[error("presentation ({step}): {detail}")]
    Presentation {
        /// The presentation step.
        step: PresentationStep,
        /// The relying party was not trusted (nothing was sent to it).
        untrusted: bool,
        /// The relying party's `error`, when it refused.
        error: Option<String>,
        /// What happened.
        detail: String,
    },
    /// The browser step failed or was abandoned.
    #[error("authorization: browser: {0}")]
    Browser(String),
    /// The offer asks for a `tx_code` and none (or a malformed one) was given.
    #[error("token: tx_code {0}")]
    TxCode(&'static str),
    /// A returned credential failed a check: nothing of the batch was stored.
    #[error("verification: credential {index}: {rule}")]
    Credential {
        /// Its position in the response.
        index: usize,
        /// The rule.
        rule: CredentialRule,
    },
    /// A returned credential's type metadata refused it ([`TypeMetadataProblem`]): nothing of
    /// the batch was stored, the issuer was told `credential_failure`.
    #[error("verification: credential {index}: type metadata of `{vct}`: {problem}")]
    TypeMetadata {
        /// Its position in the response.
        index: usize,
        /// Its `vct`.
        vct: String,
        /// What was wrong.
        problem: TypeMetadataProblem,
    },
    /// The wallet's keys or attestations.
    #[error("wallet: {0}")]
    Wallet(#[from] WalletError),
    /// The credential store.
    #[error("store: {0}")]
    Store(String),
}

impl IssuanceError {
    /// The issuer's OAuth error code, when the issuer answered with one (an error answer or
    /// an error redirect).
    pub fn issuer_code(&self) -> Option<ErrorCode> {
        match self {
            Self::Issuer { error: Some(e), .. } | Self::AuthorizationDenied { error: e, .. } => ErrorCode::parse(e),
            _ => None,
        }
    }
}

impl From<PresentationError> for IssuanceError {
    fn from(e: PresentationError) -> Self {
        let detail = e.to_string();
        match e {
            PresentationError::Http { step, .. } | PresentationError::Consent { step, .. } => Self::Presentation { step, untrusted: false, error: None, detail },
            PresentationError::UntrustedRelyingParty { .. } => Self::Presentation { step: PresentationStep::Federation, untrusted: true, error: None, detail },
            PresentationError::Refused { error, .. } => Self::Presentation { step: PresentationStep::ResponseUri, untrusted: false, error: Some(error), detail },
            PresentationError::BadAnswer { .. } => Self::Presentation { step: PresentationStep::ResponseUri, untrusted: false, error: None, detail },
            PresentationError::Store(s) => Self::Store(s),
        }
    }
}

impl From<StoreError> for IssuanceError {
    fn from(e: StoreError) -> Self {
        Self::Store(e.to_string())
    }
}

/// The wallet's keys for issuance: the WUA and the keys it attests (proofs), and the client
/// attestation for the token request. Implemented by [`WalletActivation`] (one credential
/// key); a wallet with more attested keys returns them for batches.
pub trait IssuanceKeys: Send + Sync {
    /// The current WUA and the signers of at most `max` (≥ 1) distinct keys it attests.
    fn attested_keys(&self, max: usize) -> Result<AttestedKeys, WalletError>;

    /// The `OAuth-Client-Attestation` headers for `audience` and the client id they name,
    /// or `None` to request anonymously (pre-authorized code).
    fn client_attestation(&self, audience: &str) -> Result<Option<ClientAuth>, WalletError>;

    /// The current WAA and its key, for the authorization code flow: the key signs the PAR
    /// request object and every PoP of the flow (IT-Wallet 1.4 §3.3). `None` (the default):
    /// the wallet cannot run that flow.
    fn wallet_attestation_key(&self) -> Result<Option<WalletAttestationKey>, WalletError> {
        Ok(None)
    }
}

/// The WAA and the key it binds (`cnf.jwk`).
#[derive(Clone)]
pub struct WalletAttestationKey {
    /// The WAA JWT.
    pub waa: String,
    /// Its key.
    pub key: Arc<dyn Signer>,
}

impl std::fmt::Debug for WalletAttestationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletAttestationKey").field("client_id", &self.client_id()).finish_non_exhaustive()
    }
}

impl WalletAttestationKey {
    /// The client id: the key's JWK thumbprint (IT-Wallet 1.4 §3.3).
    pub fn client_id(&self) -> String {
        self.key.public_jwk().thumbprint().to_string()
    }

    /// Fresh `OAuth-Client-Attestation` headers (a new PoP) for `audience`.
    pub fn client_auth(&self, audience: &str, now: UnixTime) -> Result<ClientAuth, WalletError> {
        let headers = crate::attestation::client_attestation_headers(&self.waa, self.key.as_ref(), audience, None, now)?;
        Ok(ClientAuth { headers, client_id: self.client_id() })
    }
}

/// The WUA and keys it attests.
pub struct AttestedKeys {
    /// The WUA (sent as `key_attestation`).
    pub wua: String,
    /// Its keys, in the secure key store.
    pub keys: Vec<KeyStoreSigner>,
}

impl std::fmt::Debug for AttestedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestedKeys").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

/// Client authentication with the wallet attestation.
#[derive(Debug, Clone)]
pub struct ClientAuth {
    /// The two headers.
    pub headers: ClientAttestationHeaders,
    /// The client id (the WAA's `sub`), named by the key proofs' `iss`.
    pub client_id: String,
}

impl IssuanceKeys for WalletActivation {
    fn attested_keys(&self, _max: usize) -> Result<AttestedKeys, WalletError> {
        let wua = self.wallet_unit_attestation()?;
        Ok(AttestedKeys { wua, keys: vec![self.credential_key_signer()?] })
    }

    fn client_attestation(&self, audience: &str) -> Result<Option<ClientAuth>, WalletError> {
        let headers = self.client_attestation_headers(audience, None)?;
        let client_id = waa_sub(&headers.attestation)
            .ok_or_else(|| WalletError::State("the wallet attestation has no sub".into()))?;
        Ok(Some(ClientAuth { headers, client_id }))
    }

    fn wallet_attestation_key(&self) -> Result<Option<WalletAttestationKey>, WalletError> {
        let (waa, key) = WalletActivation::wallet_attestation_key(self)?;
        Ok(Some(WalletAttestationKey { waa, key: Arc::new(key) }))
    }
}

/// The `sub` of our own (already verified) WAA.
fn waa_sub(waa: &str) -> Option<String> {
    let jws = crate::jose::jws::CompactJws::parse(waa).ok()?;
    let claims: Map<String, Value> = jws.payload_json().ok()?;
    claims.get("sub").and_then(Value::as_str).map(str::to_owned)
}

/// Whether the issuer is trusted, and why (not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerTrust {
    /// Its trust chain reaches a configured trust anchor (and, where the wallet requires
    /// issuer trust marks, one of them is valid: [`WalletIssuance::with_required_issuer_marks`]).
    Trusted {
        /// The trust anchor.
        trust_anchor: String,
        /// The trust marks its Entity Configuration carries, each as checked (IT-Wallet 1.4
        /// §1.1, §1.3: static under the anchor's `trust_mark_issuers`, plus the status its
        /// issuer reports).
        trust_marks: Vec<TrustMarkView>,
    },
    /// Not trusted: the flow will not continue.
    Untrusted {
        /// Why.
        reason: String,
    },
}

/// One offered credential, as the consent screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedCredential {
    /// The configuration id.
    pub configuration_id: String,
    /// Its `vct` (SD-JWT VC).
    pub vct: Option<String>,
    /// Its display name (first `display[].name`).
    pub name: Option<String>,
}

/// What the user consents to (IT-Wallet 1.4 §3.3 step 1): who issues what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceConsent {
    /// The issuer's entity id.
    pub issuer: String,
    /// Its display name (metadata `display`, else the federation's `organization_name`).
    pub issuer_name: Option<String>,
    /// Its logo URI.
    pub logo_uri: Option<String>,
    /// Trusted or not, and why.
    pub trust: IssuerTrust,
    /// What is offered.
    pub credentials: Vec<OfferedCredential>,
    /// The `tx_code` to ask the user for, when needed.
    pub tx_code: Option<TxCode>,
}

impl IssuanceConsent {
    /// Whether the flow may continue.
    pub fn is_trusted(&self) -> bool {
        matches!(self.trust, IssuerTrust::Trusted { .. })
    }
}

/// A started issuance: the checked offer and metadata. `Debug` hides the code.
#[derive(Clone)]
pub struct IssuanceSession {
    /// What the user is shown.
    pub consent: IssuanceConsent,
    offer: CredentialOffer,
    metadata: CredentialIssuerMetadata,
    server: ServerEndpoints,
    chain: Option<ValidatedChain>,
}

/// The authorization server's endpoints (from its federation metadata, else its
/// `/.well-known/oauth-authorization-server`).
#[derive(Debug, Clone, Default)]
struct ServerEndpoints {
    /// Its id (the `iss` of the authorization response, the PAR request object's `aud`).
    issuer: String,
    token: String,
    par: Option<String>,
    authorization: Option<String>,
    /// Whether it takes the wallet attestation at the token endpoint.
    attested_client: bool,
}

impl std::fmt::Debug for IssuanceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuanceSession").field("consent", &self.consent).finish_non_exhaustive()
    }
}

impl IssuanceSession {
    /// The checked offer (for a wallet-initiated issuance, the one made from the issuer and
    /// configurations): its grants say whether [`WalletIssuance::accept`] (pre-authorized
    /// code) or [`WalletIssuance::authorize`] (authorization code) continues it.
    pub fn offer(&self) -> &CredentialOffer {
        &self.offer
    }
}

/// What [`WalletIssuance::accept`] ended with.
#[derive(Debug)]
pub enum IssuanceOutcome {
    /// Verified and stored.
    Issued(Vec<CredentialId>),
    /// The issuer will issue later: poll it.
    Deferred(Box<DeferredIssuance>),
    /// An offer of several configurations: each one's outcome, in the offer's order (one
    /// token, one credential request per configuration, OpenID4VCI 1.0 §8.2). Never nested;
    /// at least one of them is `Ok` (when none is, the flow returns the first error).
    Several(Vec<ConfigurationOutcome>),
}

impl IssuanceOutcome {
    /// The credentials stored, of every configuration.
    pub fn issued(&self) -> Vec<CredentialId> {
        match self {
            Self::Issued(ids) => ids.clone(),
            Self::Deferred(_) => Vec::new(),
            Self::Several(each) => each.iter().filter_map(|c| c.outcome.as_ref().ok()).flat_map(Self::issued).collect(),
        }
    }
}

/// One configuration's outcome in [`IssuanceOutcome::Several`].
#[derive(Debug)]
pub struct ConfigurationOutcome {
    /// The `credential_configuration_id`.
    pub configuration_id: String,
    /// Issued (stored) or deferred; or why not (nothing of it stored).
    pub outcome: Result<IssuanceOutcome, IssuanceError>,
}

/// A deferred issuance to poll. `Debug` hides the tokens.
pub struct DeferredIssuance {
    ctx: IssuedContext,
    transaction_id: String,
    /// Seconds to wait between polls (the issuer's `interval`).
    pub interval: u64,
}

impl std::fmt::Debug for DeferredIssuance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeferredIssuance").field("issuer", &self.ctx.issuer).field("interval", &self.interval).finish_non_exhaustive()
    }
}

/// What the credential and deferred steps need after the token.
struct IssuedContext {
    issuer: String,
    configuration_id: String,
    vct: Option<String>,
    metadata: CredentialIssuerMetadata,
    issuer_keys: JwkSet,
    access_token: String,
    dpop: SoftwareSigner,
    dpop_nonce: Option<String>,
    keys: Vec<(Jwk, String)>,
    display: Value,
    /// What re-issues these credentials later (kept sealed with each), when the issuer gave
    /// a refresh token.
    refresh: Option<RefreshGrant>,
    /// A re-issuance: the stored credentials the new ones replace, removed once these are
    /// stored.
    replaces: Vec<CredentialId>,
}

/// What the wallet keeps, sealed in the store beside each credential, to re-issue it
/// (IT-Wallet 1.4 §3.3 "Refresh"): the refresh token, the DPoP key it is bound to, the
/// token endpoint, the configuration, and whether the token endpoint wants the wallet
/// attestation again.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct RefreshGrant {
    token_endpoint: String,
    refresh_token: String,
    /// The DPoP private key (JWK JSON).
    dpop_key: String,
    configuration_id: String,
    attested_client: bool,
    /// How many times the refresh token was rotated: of the copies of one grant (one per
    /// stored credential, one per flow in memory), the highest holds the token that works.
    #[serde(default)]
    rotation: u64,
}

impl RefreshGrant {
    /// Whether `other` came from the same token response: the DPoP key is generated for each
    /// token request and kept through every refresh, so it names the grant, whichever
    /// configuration each copy serves and whichever refresh token each still holds.
    fn same_grant(&self, other: &RefreshGrant) -> bool {
        self.token_endpoint == other.token_endpoint && self.dpop_key == other.dpop_key
    }
}

/// The `tx_code` the user typed, checked against the offer's `length` and `input_mode`.
pub fn check_tx_code(spec: Option<&TxCode>, given: Option<&str>) -> Result<Option<String>, IssuanceError> {
    match (spec, given) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(IssuanceError::TxCode("required by the offer")),
        (Some(t), Some(code)) => {
            if let Some(len) = t.length
                && usize::try_from(len).ok() != Some(code.chars().count())
            {
                return Err(IssuanceError::TxCode("of the wrong length"));
            }
            if t.input_mode.unwrap_or(TxInputMode::Numeric) == TxInputMode::Numeric && !code.chars().all(|c| c.is_ascii_digit()) {
                return Err(IssuanceError::TxCode("not numeric"));
            }
            Ok(Some(code.to_owned()))
        }
    }
}

/// The pre-authorized code token request for `offer` (OpenID4VCI §6.1).
pub fn token_request_for(offer: &CredentialOffer, tx_code: Option<&str>) -> Result<TokenRequest, IssuanceError> {
    let grant = offer.grants.pre_authorized_code.as_ref().ok_or(IssuanceError::UnsupportedGrant("pre-authorized code"))?;
    let tx_code = check_tx_code(grant.tx_code.as_ref(), tx_code)?;
    Ok(TokenRequest::PreAuthorizedCode { pre_authorized_code: grant.pre_authorized_code.clone(), tx_code })
}

fn first_display(v: Option<&Value>, field: &str) -> Option<String> {
    let display = v?.as_array()?;
    let pick = display.iter().find(|d| d.get("locale").and_then(Value::as_str).is_some_and(|l| l.starts_with("it"))).or_else(|| display.first())?;
    match field {
        "logo" => pick.get("logo").and_then(|l| l.get("uri")).and_then(Value::as_str).map(str::to_owned),
        f => pick.get(f).and_then(Value::as_str).map(str::to_owned),
    }
}

/// Why an issuer whose marks checked as `marks` holds none of the `required` types valid
/// (`None`: it holds one, or none is required).
fn required_mark_missing(required: &[String], marks: &[TrustMarkView]) -> Option<String> {
    if required.is_empty() || marks.iter().any(|m| required.contains(&m.trust_mark_type) && matches!(m.check, TrustMarkCheck::Valid { .. })) {
        return None;
    }
    let each: Vec<String> = marks
        .iter()
        .filter(|m| required.contains(&m.trust_mark_type))
        .map(|m| match &m.check {
            TrustMarkCheck::Invalid(why) => format!("{}: {why}", m.trust_mark_type),
            _ => format!("{}: not checked (no keys for its issuer, or the trust anchor's configuration could not be had)", m.trust_mark_type),
        })
        .collect();
    Some(if each.is_empty() {
        format!("it holds no trust mark of the types required ({})", required.join(", "))
    } else {
        format!("it holds no valid trust mark of the types required ({})", each.join("; "))
    })
}

/// The consent model from the checked offer, metadata and trust (pure): `marks`, the
/// issuer's trust marks as checked ([`crate::oid4vp::consent::verify_marks`]).
pub fn consent_for(offer: &CredentialOffer, metadata: &CredentialIssuerMetadata, chain: Result<&ValidatedChain, &str>, marks: Vec<TrustMarkView>) -> IssuanceConsent {
    let federation = chain.ok().and_then(|c| c.metadata_of("federation_entity"));
    let issuer_name = first_display(metadata.extra.get("display"), "name")
        .or_else(|| federation.and_then(|f| f.get("organization_name")).and_then(Value::as_str).map(str::to_owned));
    let logo_uri = first_display(metadata.extra.get("display"), "logo")
        .or_else(|| federation.and_then(|f| f.get("logo_uri")).and_then(Value::as_str).map(str::to_owned));
    let trust = match chain {
        Ok(c) => IssuerTrust::Trusted { trust_anchor: c.trust_anchor.to_string(), trust_marks: marks },
        Err(reason) => IssuerTrust::Untrusted { reason: reason.to_owned() },
    };
    let credentials = offer
        .credential_configuration_ids
        .iter()
        .map(|id| {
            let c = metadata.configuration(id);
            OfferedCredential {
                configuration_id: id.clone(),
                vct: c.and_then(|c| c.vct.clone()),
                name: c.and_then(|c| c.extra.get("credential_metadata").and_then(|m| m.get("display")).or_else(|| c.extra.get("display")))
                    .and_then(|d| first_display(Some(d), "name")),
            }
        })
        .collect();
    IssuanceConsent {
        issuer: offer.credential_issuer.clone(),
        issuer_name,
        logo_uri,
        trust,
        credentials,
        tx_code: offer.grants.pre_authorized_code.as_ref().and_then(|g| g.tx_code.clone()),
    }
}

/// The issuer's federation metadata must declare every offered configuration (§8).
pub fn check_declared(chain: &ValidatedChain, offer: &CredentialOffer) -> Result<(), IssuanceError> {
    let declared = chain.metadata_of(CREDENTIAL_ISSUER_TYPE).and_then(|m| m.get("credential_configurations_supported")).and_then(Value::as_object);
    for id in &offer.credential_configuration_ids {
        if !declared.is_some_and(|d| d.contains_key(id)) {
            return Err(IssuanceError::NotDeclared(id.clone()));
        }
    }
    Ok(())
}

/// The credential issuer keys of the federation metadata (`openid_credential_issuer.jwks`).
pub fn chain_issuer_keys(chain: &ValidatedChain) -> Option<JwkSet> {
    chain.metadata_of(CREDENTIAL_ISSUER_TYPE).and_then(|m| m.get("jwks")).and_then(|j| serde_json::from_value(j.clone()).ok())
}

/// Resolves the issuer's keys from its federation metadata: by `kid`, or the only key.
pub(crate) struct FederationKeys<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) keys: &'a JwkSet,
}

impl FederationKeys<'_> {
    /// The key a credential header names by `kid` (or the only key, without one).
    fn key(&self, header: &JwsHeader) -> Option<&Jwk> {
        match header.kid.as_deref() {
            Some(kid) => self.keys.by_kid(kid),
            None => match self.keys.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

impl IssuerKeyResolver for FederationKeys<'_> {
    fn resolve(&self, iss: &str, header: &JwsHeader, _now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        if iss != self.issuer {
            return Err(KeyResolutionError::UnknownIssuer { iss: iss.to_owned() });
        }
        self.key(header).map(Cow::Borrowed).ok_or_else(|| KeyResolutionError::UnknownIssuer { iss: iss.to_owned() })
    }
}

/// A verified credential, ready to store.
#[derive(Debug, Clone)]
pub struct CheckedCredential {
    /// The SD-JWT VC as issued.
    pub credential: String,
    /// `vct`.
    pub vct: String,
    /// `iat`.
    pub issued_at: Option<UnixTime>,
    /// `exp`.
    pub expires_at: UnixTime,
    /// Which of the proof keys it is bound to (index into `proof_keys`).
    pub key_index: usize,
    /// `vct#integrity`, when it carries one (form checked by [`crate::vc::verify`]).
    pub vct_integrity: Option<String>,
}

/// Verifies one returned SD-JWT VC before it is stored (IT-Wallet 1.4 §8, §4.1): the issuer
/// signature with a key of the issuer's federation metadata, `iss` = `issuer`, `vct` =
/// `expected_vct` (WP_060), its attributes valid in the data model of that `vct` (WP_060,
/// [`crate::vc::check_data_model`]) and, for a PID, the metadata §4.3 requires
/// ([`crate::vc::check_pid_metadata`]), `cnf.jwk` = one of `proof_keys` (not in `used`), not
/// expired, and a well-formed status list reference.
pub fn verify_credential(
    credential: &str,
    issuer: &str,
    issuer_keys: &JwkSet,
    expected_vct: Option<&str>,
    proof_keys: &[Jwk],
    used: &[usize],
    now: UnixTime,
) -> Result<CheckedCredential, CredentialRule> {
    let resolver = FederationKeys { issuer, keys: issuer_keys };
    let vc = crate::vc::verify(&Verifier::new(&resolver), credential, now).map_err(|e| CredentialRule::Signature(e.to_string()))?;
    if vc.iss != issuer {
        return Err(CredentialRule::Issuer { expected: issuer.to_owned(), got: vc.iss });
    }
    if let Some(expected) = expected_vct
        && vc.vct.as_str() != expected
    {
        return Err(CredentialRule::Vct { expected: expected.to_owned(), got: vc.vct.as_str().to_owned() });
    }
    let claims = &vc.sd_jwt.claims;
    crate::vc::check_data_model(vc.vct.as_str(), claims).map_err(|e| CredentialRule::DataModel(e.to_string()))?;
    // A PID without the metadata §4.3 requires would be refused by every verifier.
    if vc.vct.is_pid() {
        crate::vc::check_pid_metadata(claims, crate::vc::Seen::Whole).map_err(|e| CredentialRule::DataModel(e.to_string()))?;
    }
    let cnf: Jwk = claims.get("cnf").and_then(|c| c.get("jwk")).and_then(|j| serde_json::from_value(j.clone()).ok()).ok_or(CredentialRule::Cnf)?;
    let tp = cnf.thumbprint();
    let key_index = proof_keys.iter().position(|k| k.thumbprint() == tp).filter(|i| !used.contains(i)).ok_or(CredentialRule::Cnf)?;
    let exp = crate::vc::required_exp(claims).map_err(|_| CredentialRule::Expired)?;
    if exp <= now.secs() {
        return Err(CredentialRule::Expired);
    }
    let status = vc.status.as_ref().ok_or_else(|| CredentialRule::Status("missing".into()))?;
    if !crate::is_https_or_loopback(&status.uri) {
        return Err(CredentialRule::Status(format!("uri `{}` is not https", status.uri)));
    }
    Ok(CheckedCredential {
        credential: credential.to_owned(),
        vct: vc.vct.as_str().to_owned(),
        issued_at: claims.get("iat").and_then(Value::as_i64).map(UnixTime),
        expires_at: UnixTime(exp),
        key_index,
        vct_integrity: claims.get("vct#integrity").and_then(Value::as_str).map(str::to_owned),
    })
}

/// An error answer as [`IssuanceError::Issuer`] (its OAuth `error` when the body has one).
pub fn issuer_error(step: IssuanceStep, r: &HttpResponse) -> IssuanceError {
    let body: Option<ErrorResponse> = serde_json::from_slice(&r.body).ok();
    IssuanceError::Issuer {
        step,
        status: r.status,
        error: body.as_ref().map(|b| b.error.clone()),
        description: body.and_then(|b| b.error_description),
    }
}

/// The credential (or deferred) response: 200 credentials, 202 deferred (pure).
pub fn on_credential_response(step: IssuanceStep, r: &HttpResponse) -> Result<CredentialResponse, IssuanceError> {
    if r.status != 200 && r.status != 202 {
        return Err(issuer_error(step, r));
    }
    if r.body.len() > MAX_CREDENTIAL_RESPONSE {
        return Err(IssuanceError::BadResponse { step, detail: "response too large".into() });
    }
    let parsed = CredentialResponse::parse(&r.body).map_err(|e| IssuanceError::BadResponse { step, detail: e.to_string() })?;
    match (&parsed, r.status) {
        (CredentialResponse::Immediate { .. }, 200) | (CredentialResponse::Deferred { .. }, 202) => Ok(parsed),
        _ => Err(IssuanceError::BadResponse { step, detail: format!("HTTP {} with the other kind of body", r.status) }),
    }
}

/// The issuance flow: the HTTP seam, the wallet's attested keys, the credential store and
/// the trust anchors.
pub struct WalletIssuance {
    http: Arc<dyn HttpClient>,
    keys: Arc<dyn IssuanceKeys>,
    store: Arc<CredentialStore>,
    anchors: Vec<TrustAnchorConfig>,
    profile: Profile,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    redirect_uri: Option<String>,
    x509_anchors: Option<TrustAnchors>,
    update_consent: Option<Arc<dyn UpdateConsent>>,
    required_issuer_marks: Vec<String>,
}

impl std::fmt::Debug for WalletIssuance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletIssuance").field("anchors", &self.anchors.len()).field("max_batch", &self.max_batch).finish_non_exhaustive()
    }
}

fn send(http: &dyn HttpClient, step: IssuanceStep, r: HttpRequest) -> Result<HttpResponse, IssuanceError> {
    http.send(r).map_err(|source| IssuanceError::Http { step, source })
}

impl WalletIssuance {
    /// A flow trusting `anchors`, with the IT-Wallet 1.4 profile.
    pub fn new(http: Arc<dyn HttpClient>, keys: Arc<dyn IssuanceKeys>, store: Arc<CredentialStore>, anchors: Vec<TrustAnchorConfig>) -> Self {
        Self { http, keys, store, anchors, profile: Profile::ItWallet14, clock: Arc::new(SystemClock), max_batch: usize::MAX, redirect_uri: None, x509_anchors: None, update_consent: None, required_issuer_marks: Vec::new() }
    }

    /// Trust mark types of which an issuer must hold one, valid, for the wallet to go on
    /// (IT-Wallet 1.4 §1.3: an issuer is discovered by "a Trust Chain to the TA, plus Trust
    /// Marks"; test matrix WP_050a, "Policy & Trust Marks enforcement", whose policy half is
    /// the federation metadata declaring the offered credential; as a verifier requires them,
    /// `credential_issuer_trust_marks`). Without them
    /// (the default) the marks are checked and shown in the consent, and none is required.
    #[must_use]
    pub fn with_required_issuer_marks(mut self, types: Vec<String>) -> Self {
        self.required_issuer_marks = types;
        self
    }

    /// The wallet's `redirect_uri` for the authorization code flow (a universal or app link,
    /// IT-Wallet 1.4 §3.3). An `https` one lets the PID presentation's answer carry it
    /// (OpenID4VP's `redirect_uri` is an http(s) URL).
    pub fn with_redirect_uri(mut self, redirect_uri: impl Into<String>) -> Self {
        self.redirect_uri = Some(redirect_uri.into());
        self
    }

    /// Another profile.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// Another clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks each credential's `x5c` against these federation CA roots and the CRLs its
    /// certificates name before it is stored ([`super::certificate`]): one that does not chain,
    /// whose leaf is not the signing key, or that is revoked is refused like a bad signature
    /// ([`CredentialRule::Certificate`], [`CredentialRule::CertificateRevoked`]). A CRL that
    /// cannot be had does not refuse it (the status refresh checks again); a credential
    /// without `x5c` (IT-Wallet 1.3) passes.
    #[must_use]
    pub fn with_x509_anchors(mut self, anchors: TrustAnchors) -> Self {
        self.x509_anchors = Some(anchors);
        self
    }

    /// [`Self::with_x509_anchors`] with each trust anchor's own root, taken from it (`GET
    /// <anchor>/ca`) and kept only when it certifies one of the anchor's keys; an anchor that
    /// serves none adds nothing.
    #[must_use]
    pub fn with_anchor_roots(self) -> Self {
        match super::certificate::anchor_roots(self.http.as_ref(), &self.anchors) {
            Some(roots) => self.with_x509_anchors(roots),
            None => self,
        }
    }

    /// Who is asked before a re-issued credential that changes the citizen's attributes is
    /// stored ([`super::update`], WP_074). Without one such a re-issuance is not stored
    /// ([`IssuanceError::UpdateDeclined`]); a metadata-only one always is (WP_075).
    #[must_use]
    pub fn with_update_consent(mut self, consent: Arc<dyn UpdateConsent>) -> Self {
        self.update_consent = Some(consent);
        self
    }

    /// A re-issuance that changes the citizen's attributes, compared with the credential it
    /// replaces: `None` for a first issuance and for a metadata-only re-issuance.
    fn attribute_update(&self, ctx: &IssuedContext, checked: &[CheckedCredential]) -> Option<AttributeUpdate> {
        // The first of the replaced batch still stored: a batch carries one set of attributes.
        let old = ctx.replaces.iter().find_map(|id| self.store.get(id).ok())?;
        // Our own stored credential, verified when stored; should it not parse, every new
        // attribute counts as a change and the citizen is asked.
        let before = super::update::held_attributes(&old.credential).unwrap_or_default();
        let mut changes: Vec<ClaimChange> = Vec::new();
        for new in checked {
            let after = super::update::held_attributes(&new.credential).unwrap_or_default();
            for c in super::update::attribute_changes(&before, &after) {
                if !changes.contains(&c) {
                    changes.push(c);
                }
            }
        }
        (!changes.is_empty()).then(|| AttributeUpdate {
            replaces: old.summary.id.clone(),
            vct: old.summary.vct.clone(),
            issuer: ctx.issuer.clone(),
            issuer_name: ctx.display.get("issuer_name").and_then(Value::as_str).map(str::to_owned),
            changes,
        })
    }

    /// What `credential`'s `x5c` refuses it for, with roots configured.
    fn certificate_rule(&self, credential: &str, issuer: &str, issuer_keys: &JwkSet, crls: &CrlCache, now: UnixTime) -> Option<CredentialRule> {
        let anchors = self.x509_anchors.as_ref()?;
        let jws = crate::jose::CompactJws::parse(credential.split('~').next()?).ok()?;
        let header = jws.header();
        let signer = FederationKeys { issuer, keys: issuer_keys };
        match check_x5c(anchors, header.x5c.as_deref()?, signer.key(header), crls, &SeamCrls(self.http.as_ref()), now) {
            CertificateCheck::Untrusted(why) => Some(CredentialRule::Certificate(why)),
            CertificateCheck::Revoked(why) => Some(CredentialRule::CertificateRevoked(why)),
            CertificateCheck::Good | CertificateCheck::Unknown(_) => None,
        }
    }

    /// What `credential`'s entry in its issuer's Token Status List refuses it for, before it
    /// is stored (issue 12: "verification of what comes back (signature, …, status)"; IT-Wallet
    /// 1.4 §6): anything but VALID (a credential revoked or suspended as it was issued). A
    /// list that cannot be fetched or verified does not refuse it, as a CRL that cannot be
    /// had does not: the status refresh checks again. Each list is fetched once per response.
    fn status_rule(
        &self,
        credential: &str,
        issuer: &str,
        issuer_keys: &JwkSet,
        lists: &mut std::collections::BTreeMap<String, Option<crate::status::VerifiedStatusList>>,
        now: UnixTime,
    ) -> Option<CredentialRule> {
        let reference = super::status::status_reference(credential)?;
        let list = lists
            .entry(reference.uri.clone())
            .or_insert_with(|| super::status::fetch_status_list(self.http.as_ref(), issuer, issuer_keys, &reference, now).ok());
        match list.as_ref()?.lookup(reference.idx) {
            Ok(crate::status::StatusValue::Valid) | Err(_) => None,
            Ok(v) => Some(CredentialRule::Status(format!("its issuer's status list says {} (index {})", v.name(), reference.idx))),
        }
    }

    /// The type metadata of `vct` from its credential issuer, the bytes as served: `GET
    /// {issuer}/.well-known/type-metadata?vct=<url-encoded>` (IT-Wallet 1.4.x, SD-JWT VC draft
    /// 12), else `{issuer}/.well-known/vct/{vct}` (IT-Wallet 1.4.0; versions note §1), JSON
    /// asked for, at most [`MAX_METADATA_LEN`] bytes. `Err`: why neither answered.
    fn fetch_type_metadata(&self, issuer: &str, vct: &str) -> Result<Vec<u8>, String> {
        let base = issuer.trim_end_matches('/');
        let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("vct", vct).finish();
        let segment: String = url::form_urlencoded::byte_serialize(vct.as_bytes()).collect();
        let mut why = Vec::new();
        for u in [format!("{base}/.well-known/type-metadata?{query}"), format!("{base}/.well-known/vct/{segment}")] {
            match self.get_json(IssuanceStep::Verification, HttpRequest::get(u.clone()).header("Accept", "application/json"), MAX_METADATA_LEN) {
                Ok(body) => return Ok(body),
                Err(e) => why.push(format!("{u}: {e}")),
            }
        }
        Err(why.join("; "))
    }

    /// What the type metadata of a credential's `vct` refuses it for, before it is stored
    /// (issue 12; SD-JWT VC §6.4 and §7: with `vct#integrity` the document "MUST" be checked
    /// against it; IT-Wallet 1.4 §4.1). The wallet always asks the credential issuer for the
    /// document (once per `vct` per response), and then:
    /// * `vct#integrity` claimed: the document must be had ([`TypeMetadataProblem::Unavailable`]
    ///   otherwise) and one of its digests, of the strongest algorithm, must match the bytes
    ///   as served ([`crate::vc::Vct::integrity_matches`]);
    /// * no `vct#integrity` (optional in §4.1): a document that cannot be had does not refuse
    ///   it (the type metadata is optional for a consumer to retrieve, SD-JWT VC §6.3);
    /// * a document had must be a JSON object whose `vct`, when present, is the credential's
    ///   (SD-JWT VC draft 12 §6.2, the 1.4.x-post body carries `vct`); without an integrity
    ///   claimed, a body that is not a JSON object is taken as no document.
    fn type_metadata_problem(&self, issuer: &str, vct: &str, integrity: Option<&str>, fetched: &mut std::collections::BTreeMap<String, Result<Vec<u8>, String>>) -> Option<TypeMetadataProblem> {
        let document = fetched.entry(vct.to_owned()).or_insert_with(|| self.fetch_type_metadata(issuer, vct));
        let bytes = match (document, integrity) {
            (Ok(bytes), _) => bytes,
            (Err(why), Some(_)) => return Some(TypeMetadataProblem::Unavailable(why.clone())),
            (Err(_), None) => return None,
        };
        if let Some(integrity) = integrity {
            match crate::vc::Vct::integrity_matches(integrity, bytes) {
                Ok(true) => {}
                Ok(false) => return Some(TypeMetadataProblem::IntegrityMismatch { integrity: integrity.to_owned() }),
                Err(_) => return Some(TypeMetadataProblem::BadIntegrity(integrity.to_owned())),
            }
        }
        let parsed: Map<String, Value> = match serde_json::from_slice(bytes) {
            Ok(m) => m,
            // Without an integrity to hold it to, what was served (a catch-all page, say) is
            // as good as none: the type metadata is optional (SD-JWT VC §6.3).
            Err(_) if integrity.is_none() => return None,
            Err(e) => return Some(TypeMetadataProblem::Malformed(e.to_string())),
        };
        match parsed.get("vct") {
            None => None,
            Some(Value::String(got)) if got == vct => None,
            Some(other) => Some(TypeMetadataProblem::VctMismatch { got: other.as_str().map_or_else(|| other.to_string(), str::to_owned) }),
        }
    }

    /// Asks for at most `n` credentials per issuance (the issuer's `batch_size` also bounds it).
    pub fn with_max_batch(mut self, n: usize) -> Self {
        self.max_batch = n.max(1);
        self
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    fn get_json(&self, step: IssuanceStep, r: HttpRequest, max: usize) -> Result<Vec<u8>, IssuanceError> {
        let resp = send(self.http.as_ref(), step, r)?;
        if resp.status != 200 {
            return Err(issuer_error(step, &resp));
        }
        if resp.body.len() > max {
            return Err(IssuanceError::BadResponse { step, detail: "response too large".into() });
        }
        Ok(resp.body)
    }

    /// Step 1: the offer, the issuer's metadata and trust chain → consent and session. An
    /// issuer outside the federation gives a consent marked untrusted (with the reason);
    /// [`Self::accept`] and [`Self::authorize`] then refuse it.
    pub fn start_from_offer(&self, offer_url: &str) -> Result<IssuanceSession, IssuanceError> {
        let offer = match OfferUrl::parse(offer_url)?.offer {
            OfferRef::Value(o) => o,
            OfferRef::Uri(uri) => {
                if !crate::is_https_or_loopback(&uri) {
                    return Err(IssuanceError::BadResponse { step: IssuanceStep::Offer, detail: "credential_offer_uri is not https".into() });
                }
                CredentialOffer::parse_json(&self.get_json(IssuanceStep::Offer, offer_request(&uri), MAX_OFFER_LEN)?)?
            }
        };
        offer.validate(self.profile)?;
        let metadata = self.issuer_metadata(&offer.credential_issuer)?;
        self.open(offer, metadata)
    }

    /// Step 1 of a wallet-initiated issuance (IT-Wallet 1.4 §3.1): the issuer `issuer` (its
    /// entity id) and the configurations wanted → consent and session, as from an offer with
    /// an `authorization_code` grant whose `scope` is the configurations' scopes. Continue
    /// with [`Self::authorize`].
    pub fn start_from_issuer(&self, issuer: &str, configuration_ids: &[&str]) -> Result<IssuanceSession, IssuanceError> {
        if !crate::is_https_or_loopback(issuer) {
            return Err(IssuanceError::Offer(OfferError::NotHttps(issuer.to_owned())));
        }
        let metadata = self.issuer_metadata(issuer)?;
        let scopes: Vec<&str> = configuration_ids.iter().filter_map(|id| metadata.configuration(id).and_then(|c| c.scope.as_deref())).collect();
        let mut offer = CredentialOffer::new(issuer, configuration_ids.iter().map(|s| (*s).to_owned()).collect());
        offer.grants.authorization_code = Some(AuthorizationCodeGrant { scope: (!scopes.is_empty()).then(|| scopes.join(" ")), ..AuthorizationCodeGrant::default() });
        offer.validate(self.profile)?;
        self.open(offer, metadata)
    }

    /// The issuer's metadata (`/.well-known/openid-credential-issuer`), checked.
    fn issuer_metadata(&self, issuer: &str) -> Result<CredentialIssuerMetadata, IssuanceError> {
        let req = metadata_request(issuer, false)
            .ok_or_else(|| IssuanceError::BadResponse { step: IssuanceStep::Metadata, detail: "the issuer id is not a URL".into() })?;
        let metadata = CredentialIssuerMetadata::parse_json(&self.get_json(IssuanceStep::Metadata, req, MAX_METADATA_LEN)?)?;
        metadata.validate(issuer, self.profile)?;
        Ok(metadata)
    }

    /// The offer against the metadata, the issuer's trust chain → consent and session.
    fn open(&self, offer: CredentialOffer, metadata: CredentialIssuerMetadata) -> Result<IssuanceSession, IssuanceError> {
        offer.check_against(&metadata)?;
        let issuer = offer.credential_issuer.clone();
        let chain = EntityId::new(issuer.clone())
            .map_err(|e| e.to_string())
            .and_then(|id| ChainCollector::new(&SeamFetcher(self.http.as_ref()), &self.anchors).resolve(&id, self.now()).map_err(|e| e.to_string()));
        let chain = match chain {
            Ok(c) => match check_declared(&c, &offer) {
                Ok(()) => Ok(c),
                Err(e) => Err(e.to_string()),
            },
            Err(e) => Err(e),
        };
        // Its trust marks, checked (static plus dynamic) over the HTTP seam as a relying
        // party's are; one of the required types must be valid.
        let marks = match &chain {
            Ok(c) => {
                let evidence = super::TrustMarkEvidence::gather(self.http.as_ref(), &self.anchors, Some(c), self.now());
                verify_marks(c, &evidence.inputs(), self.now()).0
            }
            Err(_) => Vec::new(),
        };
        let chain = chain.and_then(|c| match required_mark_missing(&self.required_issuer_marks, &marks) {
            Some(reason) => Err(reason),
            None => Ok(c),
        });
        let consent = consent_for(&offer, &metadata, chain.as_ref().map_err(String::as_str), marks);
        let server = match &chain {
            Ok(c) => self.server_endpoints(&offer, &metadata, c)?,
            Err(_) => ServerEndpoints::default(),
        };
        Ok(IssuanceSession { consent, offer, metadata, server, chain: chain.ok() })
    }

    /// The authorization server's endpoints, and whether it takes the wallet attestation at
    /// the token endpoint (`attest_jwt_client_auth` among
    /// `token_endpoint_auth_methods_supported`): from the authorization server's federation
    /// metadata when the issuer is its own server, else its
    /// `/.well-known/oauth-authorization-server` (checked, RFC 8414 §3.3).
    fn server_endpoints(&self, offer: &CredentialOffer, metadata: &CredentialIssuerMetadata, chain: &ValidatedChain) -> Result<ServerEndpoints, IssuanceError> {
        let attests = |methods: &[String]| methods.iter().any(|m| m == ATTEST_JWT_CLIENT_AUTH);
        let server = offer
            .grants
            .authorization_code
            .as_ref()
            .and_then(|g| g.authorization_server.clone())
            .unwrap_or_else(|| metadata.authorization_server().to_owned());
        if server == metadata.credential_issuer
            && let Some(m) = chain.metadata_of(AUTHORIZATION_SERVER_TYPE)
            && let Some(t) = m.get("token_endpoint").and_then(Value::as_str)
        {
            let methods: Vec<String> =
                m.get("token_endpoint_auth_methods_supported").and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
            let text = |k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
            return Ok(ServerEndpoints {
                issuer: text("issuer").unwrap_or_else(|| server.clone()),
                token: t.to_owned(),
                par: text("pushed_authorization_request_endpoint"),
                authorization: text("authorization_endpoint"),
                attested_client: attests(&methods),
            });
        }
        let url = well_known_url(&server, AUTHORIZATION_SERVER_WELL_KNOWN)
            .ok_or_else(|| IssuanceError::BadResponse { step: IssuanceStep::Metadata, detail: "the authorization server is not a URL".into() })?;
        let body = self.get_json(IssuanceStep::Metadata, HttpRequest::get(url).header("Accept", "application/json"), MAX_METADATA_LEN)?;
        let as_md: AuthorizationServerMetadata =
            serde_json::from_slice(&body).map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Metadata, detail: e.to_string() })?;
        as_md.validate(&server)?;
        let attested_client = attests(&as_md.token_endpoint_auth_methods_supported);
        Ok(ServerEndpoints {
            issuer: as_md.issuer,
            token: as_md.token_endpoint,
            par: as_md.pushed_authorization_request_endpoint,
            authorization: Some(as_md.authorization_endpoint),
            attested_client,
        })
    }

    /// Step 2: the user consented (and typed `tx_code` when asked). Token, nonce, proofs,
    /// credential; verified, stored and notified, or deferred. An untrusted issuer is refused
    /// here, before any request. Every offered SD-JWT VC configuration is obtained with the
    /// one token, each by its own credential request (fresh nonce and proofs,
    /// `credential_identifier` or `credential_configuration_id`; OpenID4VCI 1.0 §8.2): one
    /// configuration gives [`IssuanceOutcome::Issued`] or [`IssuanceOutcome::Deferred`],
    /// several [`IssuanceOutcome::Several`]. Each a batch of as many distinct attested keys as
    /// the issuer's `batch_size`, [`Self::with_max_batch`] and [`IssuanceKeys::attested_keys`]
    /// allow.
    pub fn accept(&self, session: &IssuanceSession, tx_code: Option<&str>) -> Result<IssuanceOutcome, IssuanceError> {
        self.checked(session)?;
        let token_req = token_request_for(&session.offer, tx_code)?;
        let issuer = session.consent.issuer.clone();
        let attested = session.server.attested_client;
        self.redeem(session, &token_req, false, &|| if attested { self.keys.client_attestation(&issuer) } else { Ok(None) })
    }

    /// The session's trust chain and each offered configuration, in the offer's order, with
    /// what refuses it (`Err`: not declared, or not an SD-JWT VC), refused before any request
    /// when the issuer is not trusted (IT-Wallet 1.4 §1, §8) or no configuration can be
    /// obtained (the first one's reason).
    #[allow(clippy::type_complexity)]
    fn checked<'s>(&self, session: &'s IssuanceSession) -> Result<(&'s ValidatedChain, Vec<(String, Result<(), IssuanceError>)>), IssuanceError> {
        let issuer = session.consent.issuer.clone();
        let chain = match (&session.consent.trust, &session.chain) {
            (IssuerTrust::Trusted { .. }, Some(c)) => c,
            (IssuerTrust::Untrusted { reason }, _) => return Err(IssuanceError::Untrusted { issuer, reason: reason.clone() }),
            _ => return Err(IssuanceError::Untrusted { issuer, reason: "no trust chain".into() }),
        };
        let configurations: Vec<(String, Result<(), IssuanceError>)> = session
            .offer
            .credential_configuration_ids
            .iter()
            .map(|id| {
                let usable = match session.metadata.configuration(id) {
                    None => Err(IssuanceError::NotDeclared(id.clone())),
                    Some(c) if c.format != FORMAT_SD_JWT_VC => Err(IssuanceError::Credential { index: 0, rule: CredentialRule::Format(c.format.clone()) }),
                    Some(_) => Ok(()),
                };
                (id.clone(), usable)
            })
            .collect();
        if !configurations.iter().any(|(_, usable)| usable.is_ok()) {
            return Err(configurations.into_iter().find_map(|(_, usable)| usable.err()).unwrap_or(IssuanceError::Offer(OfferError::BadConfigurationIds)));
        }
        Ok((chain, configurations))
    }

    /// From the token request on (both grants): token with DPoP (and the client attestation
    /// `auth` gives, fresh for each attempt), keys, nonce, proofs, credential; verified,
    /// stored and notified, or deferred. `used_rar`: the token response must carry
    /// `authorization_details`.
    fn redeem(
        &self,
        session: &IssuanceSession,
        token_req: &TokenRequest,
        used_rar: bool,
        auth: &dyn Fn() -> Result<Option<ClientAuth>, WalletError>,
    ) -> Result<IssuanceOutcome, IssuanceError> {
        self.checked(session)?;
        // Token (DPoP, ephemeral key; client attestation when the wallet has one).
        let dpop = SoftwareSigner::generate().map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Token, detail: e.to_string() })?;
        let (tokens, client_id) = self.token(&session.server.token, &dpop, token_req, used_rar, auth)?;
        // Kept with each configuration's credentials, `configuration_id` set for each.
        let refresh = tokens.refresh_token.clone().map(|refresh_token| RefreshGrant {
            token_endpoint: session.server.token.clone(),
            refresh_token,
            dpop_key: dpop.private_jwk().to_json(),
            configuration_id: String::new(),
            attested_client: session.server.attested_client,
            rotation: 0,
        });
        self.with_tokens(session, tokens, dpop, client_id, refresh, Vec::new())
    }

    /// The token request with a DPoP proof by `dpop` (retried once with the server's DPoP
    /// nonce) and the client attestation `auth` gives: the token response and the client id.
    fn token(
        &self,
        token_endpoint: &str,
        dpop: &SoftwareSigner,
        token_req: &TokenRequest,
        used_rar: bool,
        auth: &dyn Fn() -> Result<Option<ClientAuth>, WalletError>,
    ) -> Result<(TokenResponse, Option<String>), IssuanceError> {
        let mut dpop_nonce = None;
        let mut tokens = None;
        let mut client_id = None;
        for _ in 0..2 {
            let proof = dpop_proof(dpop, "POST", token_endpoint, None, dpop_nonce.as_deref(), self.now())
                .map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Token, detail: e.to_string() })?;
            let a = auth()?;
            client_id = a.as_ref().map(|a| a.client_id.clone());
            let r = send(self.http.as_ref(), IssuanceStep::Token, token_request(token_endpoint, token_req, &proof, a.as_ref().map(|a| &a.headers)))?;
            if let Some(n) = use_dpop_nonce(&r)
                && dpop_nonce.is_none()
            {
                dpop_nonce = Some(n);
                continue;
            }
            if r.status != 200 {
                return Err(issuer_error(IssuanceStep::Token, &r));
            }
            tokens = Some(TokenResponse::parse(&r.body, used_rar).map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Token, detail: e.to_string() })?);
            break;
        }
        let tokens = tokens.ok_or_else(|| IssuanceError::BadResponse { step: IssuanceStep::Token, detail: "DPoP nonce asked twice".into() })?;
        Ok((tokens, client_id))
    }

    /// From the token response on, for each offered configuration ([`Self::checked`]): keys,
    /// nonce, proofs, credential; verified, stored (with `refresh`, replacing `replaces`) and
    /// notified, or deferred. One configuration: its outcome (or error); several:
    /// [`IssuanceOutcome::Several`], unless none was obtained (the first error).
    fn with_tokens(
        &self,
        session: &IssuanceSession,
        tokens: TokenResponse,
        dpop: SoftwareSigner,
        client_id: Option<String>,
        refresh: Option<RefreshGrant>,
        replaces: Vec<CredentialId>,
    ) -> Result<IssuanceOutcome, IssuanceError> {
        let (chain, configurations) = self.checked(session)?;
        let issuer = session.consent.issuer.clone();
        let issuer_keys = chain_issuer_keys(chain).ok_or_else(|| IssuanceError::Untrusted { issuer: issuer.clone(), reason: "no jwks in its federation metadata".into() })?;
        let several = configurations.len() > 1;
        let mut each = Vec::with_capacity(configurations.len());
        for (configuration_id, usable) in configurations {
            let outcome = usable.and_then(|()| {
                // The DPoP key the access token is bound to, one copy per configuration's context.
                let dpop = SoftwareSigner::from_private_jwk(dpop.private_jwk().clone()).map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Credential, detail: e.to_string() })?;
                let refresh = refresh.clone().map(|r| RefreshGrant { configuration_id: configuration_id.clone(), ..r });
                self.obtain(session, &tokens, &configuration_id, issuer_keys.clone(), dpop, client_id.as_deref(), refresh, replaces.clone())
            });
            if !several {
                return outcome;
            }
            each.push(ConfigurationOutcome { configuration_id, outcome });
        }
        if each.iter().all(|c| c.outcome.is_err()) {
            return Err(each.into_iter().find_map(|c| c.outcome.err()).unwrap_or(IssuanceError::Offer(OfferError::BadConfigurationIds)));
        }
        Ok(IssuanceOutcome::Several(each))
    }

    /// One configuration from the token response on: keys, nonce, proofs, credential
    /// request; verified, stored and notified, or deferred.
    #[allow(clippy::too_many_arguments)]
    fn obtain(
        &self,
        session: &IssuanceSession,
        tokens: &TokenResponse,
        configuration_id: &str,
        issuer_keys: JwkSet,
        dpop: SoftwareSigner,
        client_id: Option<&str>,
        refresh: Option<RefreshGrant>,
        replaces: Vec<CredentialId>,
    ) -> Result<IssuanceOutcome, IssuanceError> {
        let issuer = session.consent.issuer.clone();
        let configuration_id = configuration_id.to_owned();
        let configuration = session.metadata.configuration(&configuration_id).ok_or_else(|| IssuanceError::NotDeclared(configuration_id.clone()))?;

        // Keys: as many distinct attested keys as the batch size allows.
        let batch = usize::try_from(session.metadata.batch_size()).unwrap_or(1).clamp(1, self.max_batch);
        let attested = self.keys.attested_keys(batch)?;
        // Distinct keys only (OpenID4VCI §8.2: one credential per key).
        let mut seen = Vec::new();
        let signers: Vec<&KeyStoreSigner> = attested
            .keys
            .iter()
            .filter(|k| {
                let tp = k.public_jwk().thumbprint();
                let fresh = !seen.contains(&tp);
                seen.push(tp);
                fresh
            })
            .take(batch)
            .collect();
        if signers.is_empty() {
            return Err(IssuanceError::Wallet(WalletError::NoAttestations));
        }

        // Nonce and proofs.
        let c_nonce = match &session.metadata.nonce_endpoint {
            Some(endpoint) => {
                let r = send(self.http.as_ref(), IssuanceStep::Nonce, nonce_request(endpoint))?;
                if r.status != 200 {
                    return Err(issuer_error(IssuanceStep::Nonce, &r));
                }
                let n: NonceResponse = serde_json::from_slice(&r.body).map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Nonce, detail: e.to_string() })?;
                Some(n.c_nonce)
            }
            None => None,
        };
        let proofs = signers
            .iter()
            .map(|k| key_proof(*k, Some(&attested.wua), client_id, &issuer, c_nonce.as_deref(), self.now()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Proof, detail: e.to_string() })?;
        let identifier = tokens.credential_identifiers(&configuration_id).next().map(str::to_owned);
        let request = match identifier {
            Some(id) => CredentialRequest::by_identifier(id, proofs),
            None => CredentialRequest::by_configuration(configuration_id.clone(), proofs),
        };
        let mut ctx = IssuedContext {
            issuer: issuer.clone(),
            configuration_id: configuration_id.clone(),
            vct: configuration.vct.clone(),
            metadata: session.metadata.clone(),
            issuer_keys,
            access_token: tokens.access_token.clone(),
            dpop,
            // The resource server's nonces are its own (RFC 9449 §9): it asks when it wants one.
            dpop_nonce: None,
            keys: signers.iter().map(|k| (k.public_jwk(), k.tag().as_str().to_owned())).collect(),
            display: json!({
                "issuer_name": session.consent.issuer_name,
                "logo_uri": session.consent.logo_uri,
                "credential_configuration_id": configuration_id,
                "name": session.consent.credentials.iter().find(|c| c.configuration_id == configuration_id).and_then(|c| c.name.clone()),
            }),
            refresh,
            replaces,
        };
        let endpoint = session.metadata.credential_endpoint.clone();
        let r = self.protected(&mut ctx, IssuanceStep::Credential, &endpoint, |at, proof| credential_request(&endpoint, &request, at, proof))?;
        match on_credential_response(IssuanceStep::Credential, &r)? {
            CredentialResponse::Immediate { credentials, notification_id } => {
                let list: Vec<String> = credentials.into_iter().map(|c| c.credential).collect();
                self.finish(&mut ctx, &list, notification_id).map(IssuanceOutcome::Issued)
            }
            CredentialResponse::Deferred { transaction_id, interval } => Ok(IssuanceOutcome::Deferred(Box::new(DeferredIssuance { ctx, transaction_id, interval }))),
        }
    }

    /// Whether stored credential `id` can be re-issued: the wallet kept its refresh grant.
    pub fn can_reissue(&self, id: &CredentialId) -> Result<bool, IssuanceError> {
        Ok(self.store.refresh_grant(id)?.is_some())
    }

    /// Re-issues stored credential `id` after its issuer marked it UPDATE or ATTRIBUTE_UPDATE
    /// (IT-Wallet 1.4 §3.3 "Refresh", §6): the issuer's metadata and trust chain again, the
    /// refresh grant with the DPoP key the refresh token is bound to (and the wallet
    /// attestation when the token endpoint wants it), a nonce, fresh key proofs,
    /// `/credential`; the new credentials verified as a first issuance's, stored with the
    /// refresh grant and logged; then `id` and the other stored credentials of the same
    /// grant (a batch) removed. Refused before any request when no refresh grant was kept.
    pub fn reissue(&self, id: &CredentialId) -> Result<IssuanceOutcome, IssuanceError> {
        let no_grant = || IssuanceError::Wallet(WalletError::State(format!("no refresh token was kept for credential {id}")));
        let sealed = self.store.refresh_grant(id)?.ok_or_else(no_grant)?;
        let grant: RefreshGrant = serde_json::from_value(sealed).map_err(|_| no_grant())?;
        let grant = self.newest(&grant);
        let stored = self.store.get(id)?;
        let session = self.start_from_issuer(&stored.summary.issuer, &[grant.configuration_id.as_str()])?;
        self.checked(&session)?;
        let bad = |detail: String| IssuanceError::BadResponse { step: IssuanceStep::Token, detail };
        let dpop = crate::jose::PrivateJwk::from_json(&grant.dpop_key).and_then(SoftwareSigner::from_private_jwk).map_err(|e| bad(e.to_string()))?;
        let token_req = TokenRequest::RefreshToken { refresh_token: grant.refresh_token.clone(), scope: None };
        let issuer = session.consent.issuer.clone();
        let attested = grant.attested_client;
        let (tokens, client_id) = self.token(&grant.token_endpoint, &dpop, &token_req, false, &|| if attested { self.keys.client_attestation(&issuer) } else { Ok(None) })?;
        let mut refresh = grant.clone();
        if let Some(rotated) = &tokens.refresh_token {
            self.carry_rotation(&mut refresh, rotated);
        }
        // The batch issued with this grant: its stored credentials of this configuration (one
        // token may have served several configurations: only this one's are replaced).
        let replaces = self
            .grants_stored()?
            .into_iter()
            .filter(|(_, g)| g.same_grant(&grant) && g.configuration_id == grant.configuration_id)
            .map(|(id, _)| id)
            .collect();
        self.with_tokens(&session, tokens, dpop, client_id, Some(refresh), replaces)
    }

    /// A new access token for `ctx` from its refresh grant (IT-Wallet 1.4 §3.3 "Refresh":
    /// DPoP by the key the refresh token is bound to, the wallet attestation when the token
    /// endpoint wanted it); a rotated refresh token replaces the kept one.
    fn refresh_access(&self, ctx: &mut IssuedContext) -> Result<(), IssuanceError> {
        let Some(grant) = ctx.refresh.as_ref().map(|g| self.newest(g)) else {
            return Err(IssuanceError::Wallet(WalletError::State("the access token expired and the issuer gave no refresh token".into())));
        };
        let token_req = TokenRequest::RefreshToken { refresh_token: grant.refresh_token.clone(), scope: None };
        let issuer = ctx.issuer.clone();
        let attested = grant.attested_client;
        let (tokens, _) = self.token(&grant.token_endpoint, &ctx.dpop, &token_req, false, &|| if attested { self.keys.client_attestation(&issuer) } else { Ok(None) })?;
        ctx.access_token = tokens.access_token;
        let mut kept = grant;
        if let Some(rt) = tokens.refresh_token {
            self.carry_rotation(&mut kept, &rt);
        }
        ctx.refresh = Some(kept);
        Ok(())
    }

    /// `grant` with the newest refresh token of its copies: its own, or a stored credential's
    /// of the same grant rotated since (a re-issuance of another configuration while this
    /// flow was deferred). Its configuration stays its own.
    fn newest(&self, grant: &RefreshGrant) -> RefreshGrant {
        let mut best = grant.clone();
        for (_, g) in self.grants_stored().unwrap_or_default() {
            if g.same_grant(grant) && g.rotation > best.rotation {
                (best.refresh_token, best.rotation) = (g.refresh_token, g.rotation);
            }
        }
        best
    }

    /// Every stored credential's refresh grant, by credential.
    fn grants_stored(&self) -> Result<Vec<(CredentialId, RefreshGrant)>, IssuanceError> {
        let mut grants = Vec::new();
        for summary in self.store.list()? {
            if let Some(g) = self.store.refresh_grant(&summary.id)?.and_then(|v| serde_json::from_value::<RefreshGrant>(v).ok()) {
                grants.push((summary.id, g));
            }
        }
        Ok(grants)
    }

    /// The issuer rotated the refresh token of `grant` (IT-Wallet 1.4 §3.3 "Refresh": a new
    /// refresh token with each refreshed access token): `grant` takes the new one, and so does
    /// every stored credential of the same grant, at once, before any credential request. A
    /// token that served several configurations is kept with each one's credentials, and an
    /// issuer that detects refresh-token reuse (RFC 9700 §4.14.2) would refuse the old one,
    /// revoking the grant; a re-issuance that fails after the token response still leaves the
    /// credentials it was to replace with the token that now works. Best effort: a copy the
    /// store cannot rewrite now keeps its lower `rotation`, and [`Self::newest`] passes it by.
    /// Re-issuances of one grant are not to overlap (the status refresh runs them one by one):
    /// two at once would both send the same refresh token.
    fn carry_rotation(&self, grant: &mut RefreshGrant, rotated: &str) {
        grant.refresh_token = rotated.to_owned();
        grant.rotation = grant.rotation.saturating_add(1);
        for (id, mut g) in self.grants_stored().unwrap_or_default() {
            if g.same_grant(grant) && g.rotation < grant.rotation {
                (g.refresh_token, g.rotation) = (rotated.to_owned(), grant.rotation);
                if let Ok(sealed) = serde_json::to_value(&g) {
                    let _ = self.store.put_refresh_grant(&id, &sealed);
                }
            }
        }
    }

    /// A DPoP-protected POST, retried once when the issuer asks for a DPoP nonce.
    fn protected(
        &self,
        ctx: &mut IssuedContext,
        step: IssuanceStep,
        endpoint: &str,
        build: impl Fn(&str, &str) -> HttpRequest,
    ) -> Result<HttpResponse, IssuanceError> {
        let mut retried = false;
        loop {
            let proof = dpop_proof(&ctx.dpop, "POST", endpoint, Some(&ctx.access_token), ctx.dpop_nonce.as_deref(), self.now())
                .map_err(|e| IssuanceError::BadResponse { step, detail: e.to_string() })?;
            let r = send(self.http.as_ref(), step, build(&ctx.access_token, &proof))?;
            if let Some(n) = r.header(DPOP_NONCE_HEADER) {
                ctx.dpop_nonce = Some(n.to_owned());
            }
            if !retried && use_dpop_nonce(&r).is_some() {
                retried = true;
                continue;
            }
            return Ok(r);
        }
    }

    /// Verifies every credential, then stores them all, logs, and notifies; on a failed
    /// check stores none and notifies `credential_failure` with the reason.
    fn finish(&self, ctx: &mut IssuedContext, credentials: &[String], notification_id: Option<String>) -> Result<Vec<CredentialId>, IssuanceError> {
        let now = self.now();
        let proof_keys: Vec<Jwk> = ctx.keys.iter().map(|(k, _)| k.clone()).collect();
        let mut checked = Vec::with_capacity(credentials.len());
        let mut used = Vec::new();
        let mut failure = None;
        // Each CRL and status list fetched once for this response.
        let crls = CrlCache::new(i64::MAX);
        let mut lists = std::collections::BTreeMap::new();
        let mut type_metadata = std::collections::BTreeMap::new();
        if credentials.is_empty() || credentials.len() > proof_keys.len() {
            failure = Some(IssuanceError::BadResponse { step: IssuanceStep::Credential, detail: format!("{} credentials for {} proofs", credentials.len(), proof_keys.len()) });
        }
        for (index, c) in credentials.iter().enumerate() {
            if failure.is_some() {
                break;
            }
            let verified = verify_credential(c, &ctx.issuer, &ctx.issuer_keys, ctx.vct.as_deref(), &proof_keys, &used, now)
                .and_then(|v| self.certificate_rule(c, &ctx.issuer, &ctx.issuer_keys, &crls, now).map_or(Ok(v), Err))
                .and_then(|v| self.status_rule(c, &ctx.issuer, &ctx.issuer_keys, &mut lists, now).map_or(Ok(v), Err));
            match verified {
                Ok(v) => match self.type_metadata_problem(&ctx.issuer, &v.vct, v.vct_integrity.as_deref(), &mut type_metadata) {
                    Some(problem) => failure = Some(IssuanceError::TypeMetadata { index, vct: v.vct.clone(), problem }),
                    None => {
                        used.push(v.key_index);
                        checked.push(v);
                    }
                },
                Err(rule) => failure = Some(IssuanceError::Credential { index, rule }),
            }
        }
        if let Some(e) = failure {
            if let Some(id) = notification_id {
                // Best effort: the refusal is the error the caller sees.
                let _ = self.notify(ctx, &id, NotificationEvent::CredentialFailure, Some(e.to_string()));
            }
            return Err(e);
        }
        // IT-Wallet 1.4 §6, WP_074/WP_075: a re-issuance that changes the citizen's attributes
        // is stored only with their consent; one that changes only metadata without asking.
        if let Some(update) = self.attribute_update(ctx, &checked)
            && !self.update_consent.as_ref().is_some_and(|c| c.approve(&update))
        {
            if let Some(id) = notification_id {
                // Best effort: the citizen's answer stands whatever the issuer says.
                let _ = self.notify(ctx, &id, NotificationEvent::CredentialDeleted, Some("the holder declined the updated attributes".into()));
            }
            return Err(IssuanceError::UpdateDeclined(Box::new(update)));
        }
        let mut ids = Vec::with_capacity(checked.len());
        for c in &checked {
            let mut metadata = ctx.display.clone();
            if let (Some(m), Some((_, tag))) = (metadata.as_object_mut(), ctx.keys.get(c.key_index)) {
                m.insert("holder_key_tag".into(), Value::String(tag.clone()));
            }
            let new = NewCredential {
                format: FORMAT_SD_JWT_VC.into(),
                vct: c.vct.clone(),
                issuer: ctx.issuer.clone(),
                issued_at: c.issued_at,
                expires_at: Some(c.expires_at),
                credential: c.credential.clone(),
                metadata,
            };
            ids.push(self.store.put(&new, now)?);
        }
        if let Some(grant) = ctx.refresh.as_ref().map(|g| self.newest(g)) {
            let sealed = serde_json::to_value(&grant).map_err(|e| IssuanceError::BadResponse { step: IssuanceStep::Credential, detail: e.to_string() })?;
            for id in &ids {
                self.store.put_refresh_grant(id, &sealed)?;
            }
        }
        self.store.log(&NewTransaction { at: now, kind: TransactionKind::Issuance, counterparty: ctx.issuer.clone(), credential_ids: ids.clone(), claims: Vec::new() })?;
        // A re-issuance: the replaced credentials go only now that their successors are stored.
        for old in &ctx.replaces {
            match self.store.delete(old) {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(id) = notification_id {
            self.notify(ctx, &id, NotificationEvent::CredentialAccepted, None)?;
        }
        Ok(ids)
    }

    fn notify(&self, ctx: &mut IssuedContext, notification_id: &str, event: NotificationEvent, description: Option<String>) -> Result<(), IssuanceError> {
        let Some(endpoint) = ctx.metadata.notification_endpoint.clone() else { return Ok(()) };
        let n = NotificationRequest { notification_id: notification_id.to_owned(), event, event_description: description };
        let r = self.protected(ctx, IssuanceStep::Notification, &endpoint, |at, proof| notification_request(&endpoint, &n, at, proof))?;
        if (200..300).contains(&r.status) { Ok(()) } else { Err(issuer_error(IssuanceStep::Notification, &r)) }
    }

    /// One poll of the deferred endpoint: `Ok(Issued)` once the credentials came (verified,
    /// stored, notified), `Ok(Deferred)` while still pending.
    pub fn poll_deferred(&self, mut deferred: Box<DeferredIssuance>) -> Result<IssuanceOutcome, IssuanceError> {
        let step = IssuanceStep::Deferred;
        let endpoint = deferred
            .ctx
            .metadata
            .deferred_credential_endpoint
            .clone()
            .ok_or_else(|| IssuanceError::BadResponse { step, detail: "a deferred response without a deferred_credential_endpoint".into() })?;
        let req = DeferredCredentialRequest { transaction_id: deferred.transaction_id.clone() };
        let mut r = self.protected(&mut deferred.ctx, step, &endpoint, |at, proof| deferred_request(&endpoint, &req, at, proof))?;
        // The access token ran out while the registry prepared the credential (IT-Wallet 1.4
        // §3.3 "Deferred": the wallet refreshes it): a new one from the refresh token, then
        // the same poll once more.
        if r.status == 401 && deferred.ctx.refresh.is_some() && serde_json::from_slice::<ErrorResponse>(&r.body).is_ok_and(|e| e.error == "invalid_token") {
            self.refresh_access(&mut deferred.ctx)?;
            r = self.protected(&mut deferred.ctx, step, &endpoint, |at, proof| deferred_request(&endpoint, &req, at, proof))?;
        }
        if r.status == 400 && serde_json::from_slice::<ErrorResponse>(&r.body).is_ok_and(|e| e.error == "issuance_pending") {
            return Ok(IssuanceOutcome::Deferred(deferred));
        }
        match on_credential_response(step, &r)? {
            CredentialResponse::Immediate { credentials, notification_id } => {
                let list: Vec<String> = credentials.into_iter().map(|c| c.credential).collect();
                self.finish(&mut deferred.ctx, &list, notification_id).map(IssuanceOutcome::Issued)
            }
            CredentialResponse::Deferred { interval, .. } => {
                deferred.interval = interval;
                Ok(IssuanceOutcome::Deferred(deferred))
            }
        }
    }

    /// Polls until issued, sleeping the issuer's `interval` (at least 1 s, at most an hour)
    /// before each poll, at most `max_polls` times (and [`MAX_DEFERRED_POLLS`]); still
    /// pending after that: `Ok(Deferred)`, to resume later.
    pub fn wait_deferred(&self, mut deferred: Box<DeferredIssuance>, max_polls: u32) -> Result<IssuanceOutcome, IssuanceError> {
        for _ in 0..max_polls.min(MAX_DEFERRED_POLLS) {
            std::thread::sleep(std::time::Duration::from_secs(deferred.interval.clamp(1, 3_600)));
            match self.poll_deferred(deferred)? {
                IssuanceOutcome::Deferred(d) => deferred = d,
                done => return Ok(done),
            }
        }
        Ok(IssuanceOutcome::Deferred(deferred))
    }

    /// The configuration id the deferred issuance is for.
    pub fn deferred_configuration(deferred: &DeferredIssuance) -> &str {
        &deferred.ctx.configuration_id
    }
}

/// The `DPoP-Nonce` of a `use_dpop_nonce` error answer (RFC 9449 §8, §9).
fn use_dpop_nonce(r: &HttpResponse) -> Option<String> {
    if r.status != 400 && r.status != 401 {
        return None;
    }
    let nonce = r.header(DPOP_NONCE_HEADER)?;
    let body_says = serde_json::from_slice::<ErrorResponse>(&r.body).is_ok_and(|e| e.error == "use_dpop_nonce");
    let header_says = r.header("WWW-Authenticate").is_some_and(|h| h.contains("use_dpop_nonce"));
    (body_says || header_says).then(|| nonce.to_owned())
}

pub mod authorization;
pub use authorization::{AuthorizationStep, BrowserAuthorization, BrowserError, BrowserStep, PresentationAuthorization};

#[cfg(test)]
mod tests;
