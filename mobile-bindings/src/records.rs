//! The records that cross the FFI: typed, never JSON strings.

use serde_json::{Map, Value};
use wallet_core::federation::{EntityId, TrustAnchorConfig};
use wallet_core::jose::{Jwk, JwkSet};
use wallet_core::sd_jwt::{ClaimPath as CorePath, PathElement as CoreElement};
use wallet_core::store::{Transaction as CoreTransaction, TransactionKind as CoreKind};

use crate::error::WalletError;

/// A public JSON Web Key, member by member (base64url strings as in RFC 7518).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct JwkRecord {
    /// `EC`, `RSA` or `OKP`.
    pub kty: String,
    /// `P-256`, ... (EC, OKP).
    pub crv: Option<String>,
    /// x coordinate (EC, OKP).
    pub x: Option<String>,
    /// y coordinate (EC).
    pub y: Option<String>,
    /// Modulus (RSA).
    pub n: Option<String>,
    /// Exponent (RSA).
    pub e: Option<String>,
    /// Key id.
    pub kid: Option<String>,
}

impl From<&Jwk> for JwkRecord {
    fn from(jwk: &Jwk) -> Self {
        let v = serde_json::to_value(jwk).unwrap_or(Value::Null);
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Self { kty: s("kty").unwrap_or_default(), crv: s("crv"), x: s("x"), y: s("y"), n: s("n"), e: s("e"), kid: s("kid") }
    }
}

impl TryFrom<&JwkRecord> for Jwk {
    type Error = WalletError;
    fn try_from(r: &JwkRecord) -> Result<Self, WalletError> {
        let mut m = Map::new();
        m.insert("kty".into(), Value::String(r.kty.clone()));
        for (k, v) in [("crv", &r.crv), ("x", &r.x), ("y", &r.y), ("n", &r.n), ("e", &r.e), ("kid", &r.kid)] {
            if let Some(v) = v {
                m.insert(k.into(), Value::String(v.clone()));
            }
        }
        Jwk::from_value(&Value::Object(m)).map_err(|e| WalletError::InvalidArgument { reason: format!("JWK: {e}") })
    }
}

/// A federation trust anchor the wallet trusts: its Entity Identifier and keys, known out
/// of band (shipped with the app).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct TrustAnchor {
    /// The anchor's Entity Identifier (`https://...`).
    pub entity_id: String,
    /// Its Federation Entity Keys.
    pub keys: Vec<JwkRecord>,
}

impl TryFrom<&TrustAnchor> for TrustAnchorConfig {
    type Error = WalletError;
    fn try_from(t: &TrustAnchor) -> Result<Self, WalletError> {
        let id = EntityId::new(t.entity_id.clone()).map_err(|e| WalletError::InvalidArgument { reason: e.to_string() })?;
        let keys = t.keys.iter().map(Jwk::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(TrustAnchorConfig { id, jwks: JwkSet { keys } })
    }
}

/// How to open a wallet.
#[derive(Debug, Clone, uniffi::Record)]
pub struct WalletConfig {
    /// A directory the app owns (created if missing); the wallet keeps `wallet.db` there.
    pub data_dir: String,
    /// The federation trust anchors issuers must chain to.
    pub trust_anchors: Vec<TrustAnchor>,
    /// The 32-byte key that encrypts the store, kept by the app in the platform keystore
    /// (Android Keystore-wrapped, iOS Keychain). `None`: a key file `store.key` in
    /// `data_dir` (development only: it is as safe as the directory).
    #[uniffi(default = None)]
    pub storage_key: Option<Vec<u8>>,
    /// Preferred language for labels (`it`, `en`, ...); the first label otherwise.
    #[uniffi(default = None)]
    pub locale: Option<String>,
    /// Issuers trusted with a fixed key, outside the federation (tests, development).
    #[uniffi(default = [])]
    pub pinned_issuers: Vec<crate::wallet::PinnedIssuer>,
    /// The wallet provider's base URL (its entity id), for activation; its attestations
    /// must chain to one of `trust_anchors` (`wallet_solution` metadata).
    #[uniffi(default = None)]
    pub wallet_provider: Option<String>,
    /// The wallet's `redirect_uri` for the authorization code flow (IT-Wallet 1.4 §3.3): an
    /// `https` app link / universal link the app handles (the issuer sends the code there,
    /// after the browser login or the PID presentation). `None`: only pre-authorized offers.
    #[uniffi(default = None)]
    pub issuance_redirect_uri: Option<String>,
    /// Trust mark types of which a credential issuer must hold one, valid, for issuance to go
    /// on (IT-Wallet 1.4 §1.3: "a Trust Chain to the TA, plus Trust Marks"); empty: the marks
    /// are checked and shown in the consent, none required.
    #[uniffi(default = [])]
    pub required_issuer_marks: Vec<String>,
}

/// A key made for a credential: its tag in the key store and its public key.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HolderKey {
    /// The tag in the app's key store.
    pub tag: String,
    /// The public key (the issuer puts it in the credential's `cnf.jwk`).
    pub public_key: JwkRecord,
}

/// One step of a [`ClaimPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum PathElement {
    /// An object member.
    Key {
        /// Its name.
        name: String,
    },
    /// An array element.
    Index {
        /// Its position.
        index: u32,
    },
}

/// Which claim: object keys and array indices from the top, as DCQL writes them
/// (`["place_of_birth", "locality"]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Record)]
pub struct ClaimPath {
    /// The steps.
    pub elements: Vec<PathElement>,
}

impl From<&CorePath> for ClaimPath {
    fn from(p: &CorePath) -> Self {
        Self {
            elements: p
                .elements()
                .iter()
                .map(|e| match e {
                    CoreElement::Key(k) => PathElement::Key { name: k.clone() },
                    CoreElement::Index(i) => PathElement::Index { index: u32::try_from(*i).unwrap_or(u32::MAX) },
                })
                .collect(),
        }
    }
}

impl From<&ClaimPath> for CorePath {
    fn from(p: &ClaimPath) -> Self {
        CorePath(
            p.elements
                .iter()
                .map(|e| match e {
                    PathElement::Key { name } => CoreElement::Key(name.clone()),
                    PathElement::Index { index } => CoreElement::Index(usize::try_from(*index).unwrap_or(usize::MAX)),
                })
                .collect(),
        )
    }
}

/// A claim's value, typed for display.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ClaimValue {
    /// Text (dates are text, `YYYY-MM-DD`).
    Text {
        /// The text.
        value: String,
    },
    /// A whole number.
    Integer {
        /// The number.
        value: i64,
    },
    /// Another number.
    Number {
        /// The number.
        value: f64,
    },
    /// Yes or no.
    Boolean {
        /// The value.
        value: bool,
    },
    /// Explicitly empty.
    Null,
}

/// One claim as an app shows it: a leaf of the credential's claims.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Claim {
    /// Where it is (pass it back to [`crate::wallet::Wallet::present`]).
    pub path: ClaimPath,
    /// A label for people: the issuer's, in the wallet's locale, else a default.
    pub label: String,
    /// The value.
    pub value: ClaimValue,
    /// Whether it can be left out of a presentation (else every presentation shows it).
    pub selectively_disclosable: bool,
}

/// The issuer, as its federation metadata presents it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IssuerInfo {
    /// Its Entity Identifier (`iss`).
    pub entity_id: String,
    /// Its display name, when its metadata gives one.
    pub name: Option<String>,
    /// Its logo's URL, when its metadata gives one.
    pub logo_uri: Option<String>,
    /// The trust anchor its trust chain ended at, when the key came from a trust chain.
    pub trust_anchor: Option<String>,
}

/// A stored credential with what an app needs to show it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Credential {
    /// The wallet's id for it.
    pub id: String,
    /// `dc+sd-jwt`.
    pub format: String,
    /// The credential type (`urn:eudi:pid:it:1`, ...).
    pub vct: String,
    /// The issuer.
    pub issuer: IssuerInfo,
    /// `iat`, Unix seconds.
    pub issued_at: Option<i64>,
    /// `exp`, Unix seconds.
    pub expires_at: Option<i64>,
    /// When the wallet stored it, Unix seconds.
    pub stored_at: i64,
    /// The user's claims (metadata claims such as `iss`, `cnf`, `status` left out).
    pub claims: Vec<Claim>,
    /// The tag of its key in the key store.
    pub key_tag: String,
}

/// A presentation ready to send.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Presentation {
    /// The SD-JWT with the chosen disclosures and the KB-JWT (`vp_token` value).
    pub sd_jwt: String,
    /// Every user claim it reveals: the chosen ones, those always visible, and the members
    /// of a disclosed object that are not separately disclosable.
    pub disclosed: Vec<Claim>,
}

/// What a log entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum TransactionKind {
    /// A credential entered the wallet.
    Issuance,
    /// Claims were shown to a relying party.
    Presentation,
    /// A credential was deleted.
    Deletion,
    /// The citizen declined a relying party's request (nothing disclosed).
    Declined,
    /// The wallet refused a relying party's request before asking the citizen (its
    /// `request_uri` answered an error, or the request broke a rule): `outcome` says why.
    Refused,
}

/// An entry of the wallet's transaction log.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Transaction {
    /// Position, increasing.
    pub seq: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// What.
    pub kind: TransactionKind,
    /// The relying party (presentations) or issuer.
    pub counterparty: String,
    /// The credentials involved.
    pub credential_ids: Vec<String>,
    /// The claims disclosed, dotted (`place_of_birth.locality`).
    pub claims: Vec<String>,
    /// What became of it, in words, once known: the relying party's answer, why it was not
    /// delivered, or why the wallet refused the request (WP_089a).
    pub outcome: Option<String>,
}

/// A recorded outcome in words.
fn outcome_text(o: &wallet_core::store::TransactionOutcome) -> String {
    use wallet_core::store::TransactionOutcome as O;
    match o {
        O::Accepted => "accepted".to_owned(),
        O::Refused { error, description: Some(d) } => format!("refused by the counterparty: {error}: {d}"),
        O::Refused { error, description: None } => format!("refused by the counterparty: {error}"),
        O::Failed { reason } => format!("not delivered: {reason}"),
        O::Rejected { reason } => format!("refused by the wallet: {reason}"),
    }
}

impl Transaction {
    /// The entry with its recorded outcome.
    pub(crate) fn with_outcome(t: CoreTransaction, outcome: Option<&wallet_core::store::TransactionOutcome>) -> Self {
        Self { outcome: outcome.map(outcome_text), ..Self::from(t) }
    }
}

impl From<CoreTransaction> for Transaction {
    fn from(t: CoreTransaction) -> Self {
        let e = t.entry;
        Self {
            seq: t.seq,
            at: e.at.secs(),
            kind: match e.kind {
                CoreKind::Issuance => TransactionKind::Issuance,
                CoreKind::Presentation => TransactionKind::Presentation,
                CoreKind::Deletion => TransactionKind::Deletion,
                CoreKind::Declined => TransactionKind::Declined,
                CoreKind::Refused => TransactionKind::Refused,
            },
            counterparty: e.counterparty,
            credential_ids: e.credential_ids.iter().map(|i| i.as_str().to_owned()).collect(),
            claims: e.claims,
            outcome: None,
        }
    }
}
