//! Credential Offers (OpenID4VCI 1.0 §4.1; IT-Wallet 1.4 §3.2): the issuer's invitation,
//! invoked through `openid-credential-offer://` or `haip-vci://` (the wallet MUST support
//! both), by value (`credential_offer=`) or by reference (`credential_offer_uri=`, fetched
//! with GET).
//!
//! Issuer: [`CredentialOffer::new`] with [`CredentialOffer::with_authorization_code`] and, in
//! the 1.4 profile, [`CredentialOffer::with_pre_authorized_code`]; [`CredentialOffer::emit`]
//! applies the profile (versions note §5 item 5: always `scope`; pre-authorized only in 1.4);
//! [`OfferUrl`] renders the link. Wallet: [`OfferUrl::parse`] → (fetch by reference →
//! [`CredentialOffer::parse_json`]) → [`CredentialOffer::validate`] →
//! [`CredentialOffer::check_against`] the issuer's metadata (WP_049, WP_050).

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, MessageError};
use super::form::{Form, encode};
use super::metadata::CredentialIssuerMetadata;
use super::profile::IssuanceProfile;
use crate::oid4vp::Profile;

/// The OpenID4VCI offer scheme.
pub const OFFER_SCHEME: &str = "openid-credential-offer";
/// The HAIP offer scheme.
pub const HAIP_VCI_SCHEME: &str = "haip-vci";
/// The longest offer URL or offer JSON we parse.
pub const MAX_OFFER_LEN: usize = 32 * 1024;
/// OpenID4VCI §4.1.1: `tx_code.description` MUST NOT exceed 300 characters.
pub const MAX_TX_DESCRIPTION_CHARS: usize = 300;

/// Why an offer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// Malformed URL or JSON.
    #[error(transparent)]
    Message(#[from] MessageError),
    /// Not `openid-credential-offer://`, `haip-vci://` or an `https` offer endpoint.
    #[error("unsupported offer scheme in `{0}`")]
    UnknownScheme(String),
    /// Both `credential_offer` and `credential_offer_uri`, or neither (OpenID4VCI §4.1: exactly
    /// one).
    #[error("exactly one of credential_offer and credential_offer_uri is required")]
    OfferAndUri,
    /// `credential_offer_uri` or `credential_issuer` is not `https`.
    #[error("`{0}` is not an https URL")]
    NotHttps(String),
    /// `credential_configuration_ids` is empty or has an empty or repeated entry.
    #[error("credential_configuration_ids must be non-empty and unique")]
    BadConfigurationIds,
    /// `grants.authorization_code` without `scope`: REQUIRED in IT-Wallet 1.3 (§3.2), which
    /// the 1.3 wallets enforce.
    #[error("grants.authorization_code.scope missing")]
    MissingScope,
    /// A pre-authorized grant with an empty code.
    #[error("pre-authorized_code missing")]
    MissingPreAuthorizedCode,
    /// `tx_code` with a `length` of 0, an unknown `input_mode` or an over-long
    /// `description` (OpenID4VCI §4.1.1).
    #[error("tx_code malformed: {0}")]
    BadTxCode(&'static str),
    /// The offer is from another issuer than the metadata's `credential_issuer`.
    #[error("offer credential_issuer `{offer}` is not the metadata's `{metadata}`")]
    IssuerMismatch {
        /// In the offer.
        offer: String,
        /// In the metadata.
        metadata: String,
    },
    /// An offered configuration the issuer does not declare (WP_050).
    #[error("credential configuration `{0}` not in credential_configurations_supported")]
    UnknownConfiguration(String),
    /// `authorization_server` not among the metadata's `authorization_servers` (WP_049).
    #[error("authorization_server `{0}` not in the issuer's authorization_servers")]
    UnknownAuthorizationServer(String),
    /// The issuer asked to emit something its profile does not offer.
    #[error("the {0} profile does not offer a pre-authorized code")]
    NotInProfile(&'static str),
}

impl OfferError {
    /// `invalid_request` (a wallet refusing an offer reports it to nobody; services use it).
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidRequest
    }
}

/// `tx_code.input_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TxInputMode {
    /// Digits only (the default).
    Numeric,
    /// Any characters.
    Text,
}

/// `tx_code`: the transaction code the user gets out of band (OpenID4VCI §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxCode {
    /// `input_mode`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<TxInputMode>,
    /// `length`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u32>,
    /// `description` (≤ 300 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// `grants.authorization_code`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthorizationCodeGrant {
    /// `issuer_state`: sent back in the request object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_state: Option<String>,
    /// `authorization_server`: only when the issuer has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_server: Option<String>,
    /// `scope` (IT-Wallet §3.2: REQUIRED in 1.3; always emitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreAuthorizedCodeGrant {
    /// `pre-authorized_code`.
    #[serde(rename = "pre-authorized_code")]
    pub pre_authorized_code: String,
    /// `tx_code`, when the token request must carry one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<TxCode>,
    /// `authorization_server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_server: Option<String>,
}

/// `grants`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Grants {
    /// The authorization code grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<AuthorizationCodeGrant>,
    /// The pre-authorized code grant (key: [`super::token::GRANT_PRE_AUTHORIZED_CODE`]).
    #[serde(rename = "urn:ietf:params:oauth:grant-type:pre-authorized_code", default, skip_serializing_if = "Option::is_none")]
    pub pre_authorized_code: Option<PreAuthorizedCodeGrant>,
}

impl Grants {
    fn is_empty(&self) -> bool {
        self.authorization_code.is_none() && self.pre_authorized_code.is_none()
    }
}

/// A Credential Offer object (OpenID4VCI §4.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialOffer {
    /// The credential issuer's id.
    pub credential_issuer: String,
    /// The offered configurations (keys of `credential_configurations_supported`).
    pub credential_configuration_ids: Vec<String>,
    /// The grants; absent: the wallet uses the issuer's metadata.
    #[serde(default, skip_serializing_if = "Grants::is_empty")]
    pub grants: Grants,
}

impl CredentialOffer {
    /// An offer of `configuration_ids` by `issuer`, without grants.
    pub fn new(issuer: impl Into<String>, configuration_ids: Vec<String>) -> Self {
        Self { credential_issuer: issuer.into(), credential_configuration_ids: configuration_ids, grants: Grants::default() }
    }

    /// Adds the authorization code grant with `scope` and an optional `issuer_state`.
    pub fn with_authorization_code(mut self, scope: impl Into<String>, issuer_state: Option<String>) -> Self {
        self.grants.authorization_code = Some(AuthorizationCodeGrant { issuer_state, authorization_server: None, scope: Some(scope.into()) });
        self
    }

    /// Adds the pre-authorized code grant.
    pub fn with_pre_authorized_code(mut self, code: impl Into<String>, tx_code: Option<TxCode>) -> Self {
        self.grants.pre_authorized_code = Some(PreAuthorizedCodeGrant { pre_authorized_code: code.into(), tx_code, authorization_server: None });
        self
    }

    /// Issuer side: checks what `profile` emits (versions note §5 item 5): the
    /// authorization-code grant always carries `scope`; a pre-authorized code only in 1.4.
    pub fn emit(self, profile: Profile) -> Result<Self, OfferError> {
        if !profile.offers_pre_authorized_code() && self.grants.pre_authorized_code.is_some() {
            return Err(OfferError::NotInProfile(profile.as_str()));
        }
        if self.grants.authorization_code.as_ref().is_some_and(|g| g.scope.is_none()) {
            return Err(OfferError::MissingScope);
        }
        self.validate(profile)?;
        Ok(self)
    }

    /// Parses the JSON of an offer (by value, or fetched from `credential_offer_uri`).
    pub fn parse_json(bytes: &[u8]) -> Result<Self, OfferError> {
        if bytes.len() > MAX_OFFER_LEN {
            return Err(MessageError::TooLarge { what: "credential offer", len: bytes.len(), limit: MAX_OFFER_LEN }.into());
        }
        serde_json::from_slice(bytes).map_err(|e| MessageError::BadJson { what: "credential offer", detail: e.to_string() }.into())
    }

    /// The offer's own rules (OpenID4VCI §4.1.1, IT-Wallet §3.2): an `https` issuer,
    /// non-empty unique ids, each present grant well formed; in the 1.3 profile the
    /// authorization-code grant must carry `scope` (1.4 wallets take it from the metadata).
    pub fn validate(&self, profile: Profile) -> Result<(), OfferError> {
        if !super::is_https_or_loopback(&self.credential_issuer) {
            return Err(OfferError::NotHttps(self.credential_issuer.clone()));
        }
        let ids = &self.credential_configuration_ids;
        let unique = ids.iter().enumerate().all(|(i, id)| !id.is_empty() && !ids.iter().skip(i + 1).any(|o| o == id));
        if ids.is_empty() || !unique {
            return Err(OfferError::BadConfigurationIds);
        }
        if let Some(g) = &self.grants.authorization_code
            && profile.wallet_requires_offer_scope()
            && g.scope.as_deref().is_none_or(str::is_empty)
        {
            return Err(OfferError::MissingScope);
        }
        if let Some(g) = &self.grants.pre_authorized_code {
            if g.pre_authorized_code.is_empty() {
                return Err(OfferError::MissingPreAuthorizedCode);
            }
            if let Some(tx) = &g.tx_code {
                if tx.length == Some(0) {
                    return Err(OfferError::BadTxCode("length 0"));
                }
                if tx.description.as_ref().is_some_and(|d| d.chars().count() > MAX_TX_DESCRIPTION_CHARS) {
                    return Err(OfferError::BadTxCode("description over 300 characters"));
                }
            }
        }
        Ok(())
    }

    /// Wallet side, with the issuer's metadata: the same issuer, each offered id declared
    /// (WP_050), each grant's `authorization_server` among `authorization_servers` (WP_049).
    pub fn check_against(&self, metadata: &CredentialIssuerMetadata) -> Result<(), OfferError> {
        if self.credential_issuer != metadata.credential_issuer {
            return Err(OfferError::IssuerMismatch { offer: self.credential_issuer.clone(), metadata: metadata.credential_issuer.clone() });
        }
        if let Some(id) = self.credential_configuration_ids.iter().find(|id| !metadata.credential_configurations_supported.contains_key(*id)) {
            return Err(OfferError::UnknownConfiguration(id.clone()));
        }
        let servers = [
            self.grants.authorization_code.as_ref().and_then(|g| g.authorization_server.as_ref()),
            self.grants.pre_authorized_code.as_ref().and_then(|g| g.authorization_server.as_ref()),
        ];
        for s in servers.into_iter().flatten() {
            if !metadata.authorization_servers.contains(s) {
                return Err(OfferError::UnknownAuthorizationServer(s.clone()));
            }
        }
        Ok(())
    }
}

/// How the offer URL was invoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferScheme {
    /// `openid-credential-offer://`.
    OpenIdCredentialOffer,
    /// `haip-vci://`.
    HaipVci,
    /// The wallet's own `credential_offer_endpoint` (an `https` universal link), kept whole.
    Https(String),
}

/// The offer, by value or by reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferRef {
    /// `credential_offer=` (parsed, not yet validated).
    Value(CredentialOffer),
    /// `credential_offer_uri=` (an `https` URL to GET).
    Uri(String),
}

/// An offer URL (OpenID4VCI §4.1; IT-Wallet §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferUrl {
    /// The scheme.
    pub scheme: OfferScheme,
    /// The offer.
    pub offer: OfferRef,
}

impl OfferUrl {
    /// Parses a scanned or clicked offer URL: a known scheme, exactly one of
    /// `credential_offer` (JSON) and `credential_offer_uri` (`https`), each once.
    pub fn parse(url: &str) -> Result<Self, OfferError> {
        if url.len() > MAX_OFFER_LEN {
            return Err(MessageError::TooLarge { what: "offer URL", len: url.len(), limit: MAX_OFFER_LEN }.into());
        }
        let (scheme_part, _) = url.split_once(':').ok_or_else(|| OfferError::UnknownScheme(url.chars().take(64).collect()))?;
        let scheme = match scheme_part.to_ascii_lowercase().as_str() {
            OFFER_SCHEME => OfferScheme::OpenIdCredentialOffer,
            HAIP_VCI_SCHEME => OfferScheme::HaipVci,
            "https" => OfferScheme::Https(url.split(['?', '#']).next().unwrap_or_default().to_owned()),
            other => return Err(OfferError::UnknownScheme(other.chars().take(64).collect())),
        };
        let query = url.split('#').next().unwrap_or_default().split_once('?').map(|(_, q)| q).unwrap_or_default();
        let f = Form::parse(query, "offer URL")?;
        let offer = match (f.get("credential_offer"), f.get("credential_offer_uri")) {
            (Some(json), None) => OfferRef::Value(CredentialOffer::parse_json(json.as_bytes())?),
            (None, Some(uri)) if super::is_https_or_loopback(uri) => OfferRef::Uri(uri.to_owned()),
            (None, Some(uri)) => return Err(OfferError::NotHttps(uri.to_owned())),
            _ => return Err(OfferError::OfferAndUri),
        };
        Ok(Self { scheme, offer })
    }

    /// The URL text.
    pub fn to_url(&self) -> Result<String, OfferError> {
        let base = match &self.scheme {
            OfferScheme::OpenIdCredentialOffer => format!("{OFFER_SCHEME}://"),
            OfferScheme::HaipVci => format!("{HAIP_VCI_SCHEME}://"),
            OfferScheme::Https(u) => u.clone(),
        };
        let query = match &self.offer {
            OfferRef::Value(o) => {
                let json = serde_json::to_string(o).map_err(|e| MessageError::BadJson { what: "credential offer", detail: e.to_string() })?;
                encode([("credential_offer", Some(json.as_str()))])
            }
            OfferRef::Uri(u) => encode([("credential_offer_uri", Some(u.as_str()))]),
        };
        Ok(format!("{base}?{query}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oid4vci::testing;

    const ISS: &str = "https://mdl.example.it";

    fn offer() -> CredentialOffer {
        CredentialOffer::new(ISS, vec!["dc_sd_jwt_mDL".into()]).with_authorization_code("mDL", Some("st-1".into()))
    }

    #[test]
    fn offer_by_value_round_trips_in_both_schemes() {
        for scheme in [OfferScheme::OpenIdCredentialOffer, OfferScheme::HaipVci] {
            let url = OfferUrl { scheme: scheme.clone(), offer: OfferRef::Value(offer()) }.to_url().unwrap();
            let back = OfferUrl::parse(&url).unwrap();
            assert_eq!(back.scheme, scheme);
            assert_eq!(back.offer, OfferRef::Value(offer()));
        }
        let json = serde_json::to_value(offer()).unwrap();
        assert_eq!(json["grants"]["authorization_code"]["scope"], "mDL");
        assert_eq!(json["grants"]["authorization_code"]["issuer_state"], "st-1");
    }

    #[test]
    fn offer_by_reference_round_trips_and_must_be_https() {
        let url = OfferUrl { scheme: OfferScheme::HaipVci, offer: OfferRef::Uri("https://mdl.example.it/offers/1".into()) }.to_url().unwrap();
        assert!(url.starts_with("haip-vci://?credential_offer_uri=https%3A%2F%2F"));
        assert_eq!(OfferUrl::parse(&url).unwrap().offer, OfferRef::Uri("https://mdl.example.it/offers/1".into()));
        let bad = "openid-credential-offer://?credential_offer_uri=http%3A%2F%2Fevil.example%2Fo";
        assert_eq!(OfferUrl::parse(bad), Err(OfferError::NotHttps("http://evil.example/o".into())));
    }

    #[test]
    fn pre_authorized_offer_with_tx_code_round_trips() {
        let tx = TxCode { input_mode: Some(TxInputMode::Numeric), length: Some(6), description: Some("PIN sent by SMS".into()) };
        let o = CredentialOffer::new(ISS, vec!["dc_sd_jwt_mDL".into()]).with_pre_authorized_code("pac-1", Some(tx)).emit(Profile::ItWallet14).unwrap();
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"pac-1","tx_code":{"input_mode":"numeric","length":6"#));
        assert_eq!(CredentialOffer::parse_json(json.as_bytes()).unwrap(), o);
    }

    #[test]
    fn profile_13_emits_no_pre_authorized_code_and_requires_scope() {
        let o = offer().with_pre_authorized_code("pac", None);
        assert_eq!(o.emit(Profile::ItWallet13), Err(OfferError::NotInProfile("it-wallet-1.3")));
        let mut no_scope = offer();
        no_scope.grants.authorization_code = Some(AuthorizationCodeGrant::default());
        assert_eq!(no_scope.clone().emit(Profile::ItWallet14), Err(OfferError::MissingScope));
        assert_eq!(no_scope.validate(Profile::ItWallet13), Err(OfferError::MissingScope));
        no_scope.validate(Profile::ItWallet14).unwrap();
    }

    #[test]
    fn offer_with_both_grants_malformed_is_refused() {
        let mut o = offer();
        o.grants.authorization_code = Some(AuthorizationCodeGrant::default());
        o.grants.pre_authorized_code = Some(PreAuthorizedCodeGrant { pre_authorized_code: String::new(), tx_code: None, authorization_server: None });
        assert_eq!(o.validate(Profile::ItWallet13), Err(OfferError::MissingScope));
        assert_eq!(o.validate(Profile::ItWallet14), Err(OfferError::MissingPreAuthorizedCode));
        let mut o = offer();
        o.grants.pre_authorized_code = Some(PreAuthorizedCodeGrant {
            pre_authorized_code: "p".into(),
            tx_code: Some(TxCode { input_mode: None, length: Some(0), description: None }),
            authorization_server: None,
        });
        assert_eq!(o.validate(Profile::ItWallet14), Err(OfferError::BadTxCode("length 0")));
        let unknown_mode = br#"{"credential_issuer":"https://i.example","credential_configuration_ids":["a"],"grants":{"urn:ietf:params:oauth:grant-type:pre-authorized_code":{"pre-authorized_code":"p","tx_code":{"input_mode":"emoji"}}}}"#;
        assert!(matches!(CredentialOffer::parse_json(unknown_mode), Err(OfferError::Message(MessageError::BadJson { .. }))));
    }

    #[test]
    fn bad_urls_and_ids_are_refused() {
        assert_eq!(OfferUrl::parse("openid4vp://?x=1"), Err(OfferError::UnknownScheme("openid4vp".into())));
        assert_eq!(OfferUrl::parse("haip-vci://?a=b"), Err(OfferError::OfferAndUri));
        let both = "haip-vci://?credential_offer=%7B%7D&credential_offer_uri=https%3A%2F%2Fa.example";
        assert_eq!(OfferUrl::parse(both), Err(OfferError::OfferAndUri));
        let twice = "haip-vci://?credential_offer_uri=https%3A%2F%2Fa.example&credential_offer_uri=https%3A%2F%2Fb.example";
        assert_eq!(OfferUrl::parse(twice), Err(OfferError::Message(MessageError::DuplicateParameter("credential_offer_uri".into()))));
        let dup_ids = CredentialOffer::new(ISS, vec!["a".into(), "a".into()]);
        assert_eq!(dup_ids.validate(Profile::ItWallet14), Err(OfferError::BadConfigurationIds));
        assert_eq!(CredentialOffer::new(ISS, vec![]).validate(Profile::ItWallet14), Err(OfferError::BadConfigurationIds));
        assert_eq!(CredentialOffer::new("http://x.example", vec!["a".into()]).validate(Profile::ItWallet14), Err(OfferError::NotHttps("http://x.example".into())));
    }

    #[test]
    fn wp_049_050_offer_checked_against_metadata() {
        let md = testing::metadata();
        let mut o = CredentialOffer::new(testing::ISSUER, vec![testing::PID_CONFIG.into()]).with_authorization_code("pid", None);
        o.check_against(&md).unwrap();
        o.credential_configuration_ids = vec!["nope".into()];
        assert_eq!(o.check_against(&md), Err(OfferError::UnknownConfiguration("nope".into())));
        let mut o = CredentialOffer::new(testing::ISSUER, vec![testing::PID_CONFIG.into()]).with_authorization_code("pid", None);
        if let Some(g) = o.grants.authorization_code.as_mut() {
            g.authorization_server = Some("https://as.evil.example".into());
        }
        assert_eq!(o.check_against(&md), Err(OfferError::UnknownAuthorizationServer("https://as.evil.example".into())));
        let other = CredentialOffer::new("https://other.example", vec![testing::PID_CONFIG.into()]);
        assert!(matches!(other.check_against(&md), Err(OfferError::IssuerMismatch { .. })));
    }
}
