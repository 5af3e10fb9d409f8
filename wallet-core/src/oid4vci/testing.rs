//! Test fixtures shared by the oid4vci tests: a wallet provider that issues a real WAA and
//! WUA with our attestation module, the wallet's keys, the issuer's metadata, on a fixed
//! clock. Each test then breaks one thing.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::metadata::{AuthorizationServerMetadata, BatchCredentialIssuance, CredentialConfiguration, CredentialIssuerMetadata};
use crate::attestation::{GeneralInfo, KeyStorageInfo, ProviderSigning, StorageType, WUA_MIN_LIFETIME, WaaBuilder, WuaBuilder, WuaWalletInfo};
use crate::jose::{Signer, SoftwareSigner};
use crate::sd_jwt::StaticKeyResolver;
use crate::status::StatusReference;
use crate::time::UnixTime;

pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000);
pub(crate) const ISSUER: &str = "https://issuer.example.it";
pub(crate) const WP: &str = "https://wallet-provider.example.it";
pub(crate) const PID_CONFIG: &str = "dc_sd_jwt_pid";
pub(crate) const PID_VCT: &str = "urn:eudi:pid:it:1";
pub(crate) const REDIRECT: &str = "https://wallet.example.it/cb";

pub(crate) fn metadata() -> CredentialIssuerMetadata {
    let mut extra = Map::new();
    extra.insert("display".into(), json!([{"name": "PID Provider", "locale": "it-IT"}]));
    CredentialIssuerMetadata {
        credential_issuer: ISSUER.into(),
        authorization_servers: vec![ISSUER.into()],
        credential_endpoint: format!("{ISSUER}/credential"),
        nonce_endpoint: Some(format!("{ISSUER}/nonce")),
        deferred_credential_endpoint: Some(format!("{ISSUER}/credential_deferred")),
        notification_endpoint: Some(format!("{ISSUER}/notification")),
        credential_response_encryption: None,
        batch_credential_issuance: Some(BatchCredentialIssuance { batch_size: 10 }),
        credential_configurations_supported: BTreeMap::from([(PID_CONFIG.to_owned(), CredentialConfiguration::sd_jwt_vc(PID_VCT, "pid"))]),
        extra,
    }
}

pub(crate) fn as_metadata() -> AuthorizationServerMetadata {
    AuthorizationServerMetadata {
        issuer: ISSUER.into(),
        authorization_endpoint: format!("{ISSUER}/authorize"),
        token_endpoint: format!("{ISSUER}/token"),
        pushed_authorization_request_endpoint: Some(format!("{ISSUER}/par")),
        code_challenge_methods_supported: vec!["S256".into()],
        dpop_signing_alg_values_supported: vec!["ES256".into()],
        token_endpoint_auth_methods_supported: vec!["attest_jwt_client_auth".into()],
        grant_types_supported: vec!["authorization_code".into()],
        request_object_signing_alg_values_supported: vec!["ES256".into()],
        extra: Map::<String, Value>::new(),
    }
}

fn info() -> GeneralInfo {
    GeneralInfo {
        wallet_provider_name: "Tessera".into(),
        wallet_solution_id: "tessera-wallet".into(),
        wallet_solution_version: "0.1.0".into(),
        wallet_solution_certification_information: String::new(),
    }
}

/// A wallet instance with its attestations, and the provider that made them.
pub(crate) struct Wallet {
    pub(crate) wp: SoftwareSigner,
    pub(crate) waa_key: SoftwareSigner,
    pub(crate) waa: String,
    pub(crate) cred_keys: Vec<SoftwareSigner>,
    pub(crate) wua: String,
}

impl Wallet {
    /// A WAA valid an hour and a WUA attesting `n` credential keys, both issued at `NOW`.
    pub(crate) fn new(n: usize) -> Self {
        let wp = SoftwareSigner::generate().unwrap();
        let waa_key = SoftwareSigner::generate().unwrap();
        let waa = WaaBuilder::new(WP, &waa_key.public_jwk(), &info(), NOW).sign(&ProviderSigning::new(&wp)).unwrap();
        let cred_keys: Vec<_> = (0..n).map(|_| SoftwareSigner::generate().unwrap()).collect();
        let wua = Self::wua_for(&wp, &cred_keys, NOW);
        Self { wp, waa_key, waa, cred_keys, wua }
    }

    pub(crate) fn wua_for(wp: &SoftwareSigner, keys: &[SoftwareSigner], iat: UnixTime) -> String {
        let storage = KeyStorageInfo { storage_type: StorageType::LocalNative, keys_exportable: false, storage_certification_information: String::new() };
        let status = StatusReference { idx: 7, uri: format!("{WP}/status/1") };
        WuaBuilder::new(WP, keys.iter().map(|k| k.public_jwk()).collect(), status, WuaWalletInfo { general_info: info(), key_storage_info: storage }, iat, WUA_MIN_LIFETIME)
            .sign(&ProviderSigning::new(wp))
            .unwrap()
    }

    pub(crate) fn client_id(&self) -> String {
        self.waa_key.public_jwk().thumbprint().to_string()
    }

    pub(crate) fn trust(&self) -> StaticKeyResolver {
        StaticKeyResolver::for_issuer(self.wp.public_jwk(), WP)
    }
}
