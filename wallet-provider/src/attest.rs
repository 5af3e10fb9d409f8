//! Registration (IT-Wallet 1.4 §2.2) and WAA/WUA issuance (§2.3). The formats and checks are
//! wallet-core's `attestation` module (the same code the wallet builds with); this module
//! adds what needs the provider's state: the single-use nonce, the instance registry, the
//! citizen binding, the status list index and the signing keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use wallet_core::attestation::key_attestation::{AndroidKeyAttestationVerifier, SoftwareAttestationVerifier};
use wallet_core::attestation::{
    AttackPotentialResistance, AttestationError, AttestationRequest, AttestationRequestBody, AttestationResponse, DEFAULT_SKEW, GeneralInfo,
    KeyAttestationError, KeyAttestationPolicy, KeyStorageInfo, ProviderSigning, RegistrationRequest, SecurityLevel, StorageType, WaaBuilder,
    WalletAttestations, WuaBuilder, WuaWalletInfo,
};
use wallet_core::status::StatusReference;

use crate::WalletProvider;
use crate::config::Config;
use crate::error::ProviderError;
use crate::extract::Citizen;
use service_kit::Json as JsonBody;
use crate::metrics::Event;
use crate::store::{InstanceState, NewInstance};

impl From<KeyAttestationError> for ProviderError {
    fn from(e: KeyAttestationError) -> Self {
        match e.oauth_code() {
            "integrity_check_error" => Self::IntegrityCheck(e.to_string()),
            _ => Self::KeyAttestation(e.to_string()),
        }
    }
}

impl From<AttestationError> for ProviderError {
    /// By wallet-core's [`AttestationError::oauth_code`]: malformed input is 400
    /// `bad_request`, a device below the minimum 403 `integrity_check_error`, every other
    /// refusal 403 `invalid_request` (IT-Wallet 1.4 §2.3).
    fn from(e: AttestationError) -> Self {
        match e {
            AttestationError::KeyAttestation(k) => k.into(),
            AttestationError::Build(b) => Self::internal(b),
            other => match other.oauth_code() {
                "bad_request" => Self::BadRequest(other.to_string()),
                "integrity_check_error" => Self::IntegrityCheck(other.to_string()),
                _ => Self::InvalidAssertion(other.to_string()),
            },
        }
    }
}

/// The key attestation policy of a configuration: software attestations (development root)
/// unless `production`; Android Key Attestation when roots are configured, at least
/// `android_min_security_level`.
pub(crate) fn policy(config: &Config) -> Result<KeyAttestationPolicy, String> {
    let mut p = KeyAttestationPolicy::new(config.production);
    if !config.production {
        p = p.with_software(SoftwareAttestationVerifier::development().map_err(|e| e.to_string())?);
    }
    if !config.android_roots.is_empty() {
        let mut pem = String::new();
        for path in &config.android_roots {
            pem.push_str(&std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?);
            pem.push('\n');
        }
        let roots = wallet_core::x509::TrustAnchors::from_pem(&pem).map_err(|e| format!("android_roots: {e}"))?;
        p = p.with_android(AndroidKeyAttestationVerifier::new(roots, config.android_min_security_level));
    }
    Ok(p)
}

/// IT-Wallet 1.4 §2.2 step 4: registration. The citizen's session binds the instance to
/// their fiscal number (§2.1); the nonce is consumed first (403 `invalid_request` when not
/// ours, used or expired); then wallet-core verifies the key attestation and the
/// nonce/key/tag binding; the hardware key and tag are stored with a fresh status index,
/// unless the citizen already holds `max_instances_per_citizen` active instances (422
/// `validation_error` naming the limit). 204 on success.
pub(crate) async fn register(
    State(st): State<WalletProvider>,
    citizen: Citizen,
    JsonBody(req): JsonBody<RegistrationRequest>,
) -> Result<StatusCode, ProviderError> {
    let now = st.now();
    if !st.store().take_nonce(req.nonce.as_str(), now.secs())? {
        return Err(ProviderError::InvalidNonce);
    }
    let verified = req.verify(st.key_attestation(), now)?;
    st.store().register(&NewInstance {
        id: verified.hardware_key_tag.as_str(),
        fiscal_number: &citizen.fiscal_number,
        public_key: &verified.hardware_key,
        now: now.secs(),
        max_active: st.config().max_instances_per_citizen,
    })?;
    st.metrics().count(Event::Registration);
    tracing::info!(target: "wallet_provider", instance = %verified.hardware_key_tag, format = verified.attested.format.as_str(), "wallet instance registered");
    Ok(StatusCode::NO_CONTENT)
}

/// Where the attested key lives, in the WUA's words (§2.3 `key_storage_info`, `key_storage`,
/// `user_authentication`). Our mapping: StrongBox → `LOCAL_INTERNAL`, `iso_18045_high`; TEE
/// → `LOCAL_NATIVE`, `iso_18045_moderate`; software (development only) → `LOCAL_NATIVE`,
/// `iso_18045_basic`.
fn storage(level: SecurityLevel) -> (StorageType, AttackPotentialResistance) {
    match level {
        SecurityLevel::StrongBox => (StorageType::LocalInternal, AttackPotentialResistance::High),
        SecurityLevel::TrustedEnvironment => (StorageType::LocalNative, AttackPotentialResistance::Moderate),
        SecurityLevel::Software => (StorageType::LocalNative, AttackPotentialResistance::Basic),
    }
}

/// IT-Wallet 1.4 §2.3: WAA and WUA issuance. Checks, in the spec's order: the request's
/// form, `typ`, signature with `cnf.jwk`, `kid`, `iss`, `aud`, times (wallet-core); the
/// nonce (ours, unused); the instance (registered: else 404 `not_found`; not revoked: else
/// 403 `invalid_request`); `hardware_signature` with the registered hardware key, the
/// integrity assertion and the credential key's attestation (wallet-core). Then the WAA
/// (`cnf` = the ephemeral key, at most 24 h) and the WUA (`attested_keys` = the credential
/// key, `status` = the instance's index in our list) are signed with the attestation key,
/// `kid`, `x5c` and `trust_chain` in their headers.
pub(crate) async fn wallet_attestation(
    State(st): State<WalletProvider>,
    JsonBody(body): JsonBody<AttestationRequestBody>,
) -> Result<Json<AttestationResponse>, ProviderError> {
    let now = st.now();
    let provider = st.config().entity_id.as_str().to_owned();
    let request = AttestationRequest::parse(body.assertion.trim())?.verify(&provider, now, DEFAULT_SKEW)?;
    if !st.store().take_nonce(request.nonce(), now.secs())? {
        return Err(ProviderError::InvalidNonce);
    }
    let instance = st.store().instance(request.hardware_key_tag().as_str())?.ok_or(ProviderError::NotFound)?;
    if instance.state == InstanceState::Revoked {
        return Err(ProviderError::InstanceRevoked);
    }
    let evidence = request.verify_device(&instance.public_key, st.key_attestation(), now)?;

    let c = st.config();
    let info = GeneralInfo {
        wallet_provider_name: c.solution.wallet_provider_name.clone(),
        wallet_solution_id: c.solution.wallet_solution_id.clone(),
        wallet_solution_version: c.solution.wallet_solution_version.clone(),
        wallet_solution_certification_information: c.solution.wallet_solution_certification_information.clone(),
    };
    let material = st.keys().material(now).await?;
    let signing = ProviderSigning::new(st.keys().attestation()).with_x5c(material.x5c).with_trust_chain(material.trust_chain);
    // The instance's status list entry, in the WUA and the WAA alike: revoking the instance
    // revokes both (IT-Wallet 1.4 §2.5; versions note §5, issuer item 2).
    let status = StatusReference { idx: instance.status_idx, uri: c.endpoint(crate::status_list::STATUS_LIST_PATH) };
    let waa = WaaBuilder::new(&provider, &evidence.waa_key, &info, now).lifetime(c.waa_ttl).status(status.clone()).sign(&signing)?;
    let (storage_type, level) = storage(evidence.credential.security_level);
    let wallet_info = WuaWalletInfo {
        general_info: info,
        key_storage_info: KeyStorageInfo {
            storage_type,
            keys_exportable: false,
            storage_certification_information: c.solution.wallet_solution_certification_information.clone(),
        },
    };
    let wua = WuaBuilder::new(&provider, vec![evidence.credential_key.clone()], status, wallet_info, now, c.wua_ttl)
        .resistance(vec![level], vec![level])
        .sign(&signing)?;
    st.metrics().count(Event::Attestation);
    Ok(Json(AttestationResponse { wallet_attestations: WalletAttestations { wallet_app_attestation: waa, wallet_unit_attestation: wua } }))
}
