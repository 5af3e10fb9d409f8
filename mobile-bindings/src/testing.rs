//! Test support, compiled only with the `test-support` feature (the foreign test suites
//! build with it; apps never do) and in this crate's own tests: a credential issuer in a
//! small federation made in memory (trust anchor → issuer), a relying party's verification
//! of a presentation, and an OpenID4VP verifier ([`TestVerifier`]: request objects, the
//! response decrypted and verified) for a test to serve over HTTP. All run wallet-core's
//! real issuance and verification code.

use std::sync::Arc;

use serde_json::{Map, json};
use wallet_core::federation::resolver::CREDENTIAL_ISSUER;
use wallet_core::federation::{EntityId, EntityStatement};
use wallet_core::jose::jwk::JwkSet;
use wallet_core::jose::{Jwk, Signer, SoftwareSigner};
use wallet_core::sd_jwt::{ClaimPath as CorePath, StaticKeyResolver, Verifier};
use wallet_core::time::UnixTime;
use wallet_core::vc::pid::{Pid, PlaceOfBirth};
use wallet_core::vc::{CredentialModel, SdJwtVcBuilder};

use crate::display::{self, IssuerDisplay};
use crate::error::WalletError;
use crate::records::{Claim, JwkRecord, TrustAnchor};

mod verifier;
pub use verifier::{TestAnswer, TestVerdict, TestVerifier};

fn internal(e: impl std::fmt::Display) -> WalletError {
    WalletError::Internal { reason: e.to_string() }
}

/// A PID issuer under its own trust anchor, in memory. Entity ids may be loopback URLs
/// (`http://127.0.0.1:PORT`) so that a test can serve [`Self::federation_response`] over HTTP.
#[derive(uniffi::Object)]
pub struct TestIssuer {
    anchor_id: EntityId,
    anchor_key: SoftwareSigner,
    issuer_id: EntityId,
    issuer_key: SoftwareSigner,
    credential_key: SoftwareSigner,
}

impl std::fmt::Debug for TestIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestIssuer").field("issuer", &self.issuer_id).finish_non_exhaustive()
    }
}

impl TestIssuer {
    fn statement(&self, iss: &EntityId, sub: &EntityId, jwks: JwkSet) -> EntityStatement {
        let now = UnixTime::now().secs();
        EntityStatement {
            iss: iss.clone(),
            sub: sub.clone(),
            iat: now - 10,
            exp: now + 3600,
            jwks,
            metadata: None,
            authority_hints: None,
            trust_anchor_hints: None,
            trust_marks: None,
            trust_mark_issuers: None,
            trust_mark_owners: None,
            constraints: None,
            metadata_policy: None,
            metadata_policy_crit: None,
            crit: None,
            source_endpoint: None,
            extra: Map::new(),
        }
    }

    fn issuer_configuration(&self) -> Result<String, WalletError> {
        let mut ec = self.statement(&self.issuer_id, &self.issuer_id, JwkSet { keys: vec![self.issuer_key.public_jwk()] });
        ec.authority_hints = Some(vec![self.anchor_id.clone()]);
        ec.metadata = json!({
            CREDENTIAL_ISSUER: {
                "credential_issuer": self.issuer_id.as_str(),
                "jwks": {"keys": [self.credential_key.public_jwk()]},
                "display": [
                    {"name": "Istituto Poligrafico e Zecca dello Stato", "locale": "it",
                     "logo": {"uri": "https://pid.example.it/logo.svg", "alt_text": "IPZS"}},
                    {"name": "Italian State Mint and Polygraphic Institute", "locale": "en"}
                ],
                "credential_configurations_supported": {
                    "dc_sd_jwt_PersonIdentificationData": {
                        "format": "dc+sd-jwt",
                        "vct": Pid::VCT,
                        "credential_metadata": {"claims": [
                            {"path": ["given_name"], "display": [{"name": "Nome", "locale": "it"}, {"name": "First name", "locale": "en"}]},
                            {"path": ["family_name"], "display": [{"name": "Cognome", "locale": "it"}, {"name": "Surname", "locale": "en"}]},
                            {"path": ["nationalities", null], "display": [{"name": "Nazionalità", "locale": "it"}, {"name": "Nationality", "locale": "en"}]}
                        ]}
                    }
                }
            },
            "federation_entity": {"organization_name": "IPZS", "logo_uri": "https://pid.example.it/logo.svg"}
        })
        .as_object()
        .cloned();
        ec.sign(&self.issuer_key).map_err(internal)
    }

    fn anchor_configuration(&self) -> Result<String, WalletError> {
        let mut ec = self.statement(&self.anchor_id, &self.anchor_id, JwkSet { keys: vec![self.anchor_key.public_jwk()] });
        let fetch = format!("{}/fetch", self.anchor_id.as_str().trim_end_matches('/'));
        ec.metadata = json!({"federation_entity": {"federation_fetch_endpoint": fetch, "organization_name": "Test trust anchor"}})
            .as_object()
            .cloned();
        ec.sign(&self.anchor_key).map_err(internal)
    }

    fn subordinate_statement(&self) -> Result<String, WalletError> {
        self.statement(&self.anchor_id, &self.issuer_id, JwkSet { keys: vec![self.issuer_key.public_jwk()] })
            .sign(&self.anchor_key)
            .map_err(internal)
    }
}

#[uniffi::export]
impl TestIssuer {
    /// A trust anchor and a PID issuer with fresh keys.
    #[uniffi::constructor]
    pub fn new(trust_anchor_id: String, issuer_id: String) -> Result<Arc<Self>, WalletError> {
        let id = |s: String| EntityId::new(s).map_err(|e| WalletError::InvalidArgument { reason: e.to_string() });
        let key = || SoftwareSigner::generate().map_err(internal);
        Ok(Arc::new(Self {
            anchor_id: id(trust_anchor_id)?,
            anchor_key: key()?,
            issuer_id: id(issuer_id)?,
            issuer_key: key()?,
            credential_key: key()?,
        }))
    }

    /// The trust anchor, as a wallet is configured with it.
    pub fn trust_anchor(&self) -> TrustAnchor {
        TrustAnchor { entity_id: self.anchor_id.to_string(), keys: vec![JwkRecord::from(&self.anchor_key.public_jwk())] }
    }

    /// The key the issuer signs credentials with (to pin it instead of using the federation).
    pub fn credential_key(&self) -> JwkRecord {
        JwkRecord::from(&self.credential_key.public_jwk())
    }

    /// Mario Rossi's PID bound to `holder_key`, valid for a day, with the metadata IT-Wallet
    /// 1.4 §4.3 requires (its status entry names a list this test issuer does not serve: the
    /// test verifier does not fetch it): every attribute disclosable, `place_of_birth.locality` too. With `with_trust_chain` the issuer's trust chain goes in
    /// the header; without, the wallet must resolve it (or have the key pinned).
    pub fn issue_pid(&self, holder_key: JwkRecord, with_trust_chain: bool) -> Result<String, WalletError> {
        let holder = Jwk::try_from(&holder_key)?;
        let pid = Pid {
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            birthdate: "1980-01-10".into(),
            place_of_birth: PlaceOfBirth { locality: Some("Roma".into()), country: Some("IT".into()), ..Default::default() },
            nationalities: vec!["IT".into()],
            personal_administrative_number: None,
            tax_id_code: Some("TINIT-RSSMRA80A10H501A".into()),
        };
        let now = UnixTime::now();
        let kid = self.credential_key.kid().unwrap_or_default();
        let b = SdJwtVcBuilder::new(self.issuer_id.as_str(), Pid::vct(), pid.to_attributes()?)
            .validity(now, now.plus(86_400))
            .issuing("Istituto Poligrafico e Zecca dello Stato", "IT")
            // The metadata IT-Wallet 1.4 §4.3 requires of a PID; `sub` opaque and one per
            // credential (the holder key's thumbprint), the status entry at the issuer's list.
            .pid_metadata(&holder.thumbprint().to_string(), "2033-03-19", "it_cie", "high")
            .status(0, format!("{}/status-list", self.issuer_id.as_str().trim_end_matches('/')))
            .holder_key(&holder)
            .also_disclosable(CorePath::parse_dotted("place_of_birth.locality"))
            .kid(kid);
        let sd = if with_trust_chain {
            b.sign_with_trust_chain(vec![self.issuer_configuration()?, self.subordinate_statement()?], &self.credential_key)?
        } else {
            b.sign(&self.credential_key)?
        };
        Ok(sd.serialize())
    }

    /// What the federation endpoints answer for `url` (the issuer's and the anchor's
    /// `/.well-known/openid-federation`, the anchor's `/fetch?sub=<issuer>`), or `None`.
    pub fn federation_response(&self, url: String) -> Result<Option<String>, WalletError> {
        let fetch = format!("{}/fetch?sub=", self.anchor_id.as_str().trim_end_matches('/'));
        if url == self.issuer_id.configuration_url() {
            return self.issuer_configuration().map(Some);
        }
        if url == self.anchor_id.configuration_url() {
            return self.anchor_configuration().map(Some);
        }
        if let Some(sub) = url.strip_prefix(&fetch) {
            let sub = sub.replace("%3A", ":").replace("%2F", "/").replace("%3a", ":").replace("%2f", "/");
            if sub == self.issuer_id.as_str() {
                return self.subordinate_statement().map(Some);
            }
        }
        Ok(None)
    }

    /// A relying party's check of a presentation from this issuer: signature, SD-JWT VC rules,
    /// and the KB-JWT for `audience` and `nonce`. Returns the disclosed user claims.
    pub fn verify_presentation(&self, presentation: String, audience: String, nonce: String) -> Result<Vec<Claim>, WalletError> {
        let resolver = StaticKeyResolver::for_issuer(self.credential_key.public_jwk(), self.issuer_id.as_str());
        let verifier = Verifier::new(&resolver).expect_key_binding(&audience, &nonce);
        let v = wallet_core::vc::verify(&verifier, &presentation, UnixTime::now())?;
        Ok(display::claims(&v.sd_jwt.claims, &v.sd_jwt.disclosed, &IssuerDisplay::default(), None))
    }
}
