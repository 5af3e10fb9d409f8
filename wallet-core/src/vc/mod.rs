//! SD-JWT VC (`typ: dc+sd-jwt`) as profiled by IT-Wallet 1.4 §4.1, and the typed credentials
//! Tessera issues: the PID ([`pid`]), the mobile driving licence ([`mdl`]) and the health
//! insurance card ([`ehic`]).
//!
//! Issuance keeps the metadata claims of IT-Wallet §4.1 always visible and makes every user
//! attribute selectively disclosable; verification adds the SD-JWT VC claim rules on top of
//! [`crate::sd_jwt::Verifier`].

pub mod ehic;
pub mod mdl;
pub mod pid;
mod vct;

pub use vct::{Vct, check_integrity};

use serde_json::{Map, Value};

use crate::jose::{Jwk, JwsAlg, JwsHeader, Signer, jws};
use crate::sd_jwt::{ClaimPath, SdJwt, SdJwtBuilder, SdJwtError, VerifiedSdJwt, Verifier};
use crate::status::{CredentialStatus, StatusReference};
use crate::time::UnixTime;

/// The `typ` of an SD-JWT VC (SD-JWT VC draft 09+; IT-Wallet 1.4).
pub const TYP: &str = "dc+sd-jwt";
/// The earlier `typ`, still accepted on input (IT-Wallet 0.8, and one 1.4.0 example).
pub const LEGACY_TYP: &str = "vc+sd-jwt";

/// Claims that IT-Wallet 1.4 §4.1 lists as metadata: never selectively disclosable.
pub const METADATA_CLAIMS: [&str; 14] = [
    "iss",
    "exp",
    "vct",
    "vct#integrity",
    "issuing_authority",
    "issuing_country",
    "sub",
    "iat",
    "nbf",
    "issuance_date",
    "date_of_expiry",
    "status",
    "cnf",
    "verification",
];

/// Errors of the SD-JWT VC layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VcError {
    /// The SD-JWT itself was refused.
    #[error(transparent)]
    SdJwt(#[from] SdJwtError),
    /// `vct` is not a valid type identifier.
    #[error("invalid vct `{0}`")]
    InvalidVct(String),
    /// `vct#integrity` is not valid SRI metadata (or uses MD5/SHA-1).
    #[error("invalid vct#integrity `{0}`")]
    InvalidIntegrity(String),
    /// The `status` claim is not `{"status_list": {"idx", "uri"}}`.
    #[error("malformed status claim: {0}")]
    BadStatus(String),
    /// A credential attribute breaks its data model.
    #[error("invalid {credential} attribute `{claim}`: {reason}")]
    InvalidAttribute {
        /// Which credential type.
        credential: &'static str,
        /// Which claim.
        claim: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The credential is of another type than expected.
    #[error("expected vct `{expected}`, got `{got}`")]
    UnexpectedVct {
        /// Expected.
        expected: String,
        /// Received.
        got: String,
    },
}

/// Issues SD-JWT VCs: metadata claims in the clear, user attributes disclosable.
#[derive(Debug, Clone)]
pub struct SdJwtVcBuilder {
    iss: String,
    vct: Vct,
    attributes: Map<String, Value>,
    metadata: Map<String, Value>,
    disclosable: Option<Vec<ClaimPath>>,
    extra_disclosable: Vec<ClaimPath>,
    header: JwsHeader,
    decoys: usize,
}

impl SdJwtVcBuilder {
    /// A credential of type `vct` from issuer `iss` with these user attributes.
    pub fn new(iss: impl Into<String>, vct: Vct, attributes: Map<String, Value>) -> Self {
        Self {
            iss: iss.into(),
            vct,
            attributes,
            metadata: Map::new(),
            disclosable: None,
            extra_disclosable: Vec::new(),
            header: JwsHeader::new(JwsAlg::Es256).with_typ(TYP),
            decoys: 0,
        }
    }

    /// `iat` and `exp`.
    pub fn validity(mut self, iat: UnixTime, exp: UnixTime) -> Self {
        self.metadata.insert("iat".into(), Value::from(iat.secs()));
        self.metadata.insert("exp".into(), Value::from(exp.secs()));
        self
    }

    /// `cnf.jwk`: binds the credential to the holder's key.
    pub fn holder_key(mut self, jwk: &Jwk) -> Self {
        let mut cnf = Map::new();
        cnf.insert("jwk".into(), serde_json::to_value(jwk).unwrap_or(Value::Null));
        self.metadata.insert("cnf".into(), Value::Object(cnf));
        self
    }

    /// `issuing_authority` and `issuing_country` (ISO 3166-1 alpha-2), REQUIRED in every
    /// IT-Wallet SD-JWT VC (IT-Wallet 1.4 §4.1; verifiers refuse a credential without them).
    pub fn issuing(mut self, authority: &str, country: &str) -> Self {
        self.metadata.insert("issuing_authority".into(), Value::from(authority));
        self.metadata.insert("issuing_country".into(), Value::from(country));
        self
    }

    /// `status.status_list`.
    pub fn status(mut self, idx: u64, uri: impl Into<String>) -> Self {
        let st = CredentialStatus { status_list: StatusReference { idx, uri: uri.into() } };
        self.metadata.insert("status".into(), serde_json::to_value(st).unwrap_or(Value::Null));
        self
    }

    /// The metadata IT-Wallet 1.4 §4.3 makes REQUIRED in a PID besides `iat`
    /// ([`Self::validity`]), `cnf` ([`Self::holder_key`]) and `status` ([`Self::status`]):
    /// `sub` (opaque, one per credential), `date_of_expiry` (`YYYY-MM-DD`, the document's
    /// administrative expiry) and `verification` (how the identity was established, e.g.
    /// `it_cie` / `high`). Verifiers refuse a PID without them ([`check_pid_metadata`]).
    pub fn pid_metadata(mut self, sub: &str, date_of_expiry: &str, trust_framework: &str, assurance_level: &str) -> Self {
        self.metadata.insert("sub".into(), Value::from(sub));
        self.metadata.insert("date_of_expiry".into(), Value::from(date_of_expiry));
        self.metadata.insert("verification".into(), serde_json::json!({"trust_framework": trust_framework, "assurance_level": assurance_level}));
        self
    }

    /// Another always-visible metadata claim (`issuing_authority`, `sub`, `verification`...).
    pub fn metadata(mut self, name: &str, value: Value) -> Self {
        self.metadata.insert(name.to_owned(), value);
        self
    }

    /// Only these top-level (or nested) attributes are disclosable; the rest stay visible.
    /// Without this call every top-level attribute is disclosable.
    pub fn only_disclosable(mut self, paths: Vec<ClaimPath>) -> Self {
        self.disclosable = Some(paths);
        self
    }

    /// Also make these nested paths disclosable (e.g. `place_of_birth.locality`).
    pub fn also_disclosable(mut self, path: ClaimPath) -> Self {
        self.extra_disclosable.push(path);
        self
    }

    /// `kid` header.
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.header.kid = Some(kid.into());
        self
    }

    /// `x5c` header (IT-Wallet 1.4 §4.1: REQUIRED in production).
    pub fn x5c(mut self, chain: Vec<String>) -> Self {
        self.header.x5c = Some(chain);
        self
    }

    /// Signs with the issuer's federation trust chain in the `trust_chain` header (OpenID
    /// Federation §4.3), so that a verifier can check the key without network.
    pub fn sign_with_trust_chain(mut self, chain: Vec<String>, signer: &dyn Signer) -> Result<SdJwt, VcError> {
        self.header.trust_chain = Some(chain);
        self.sign(signer)
    }

    /// Decoy digests per `_sd` array.
    pub fn decoys(mut self, n: usize) -> Self {
        self.decoys = n;
        self
    }

    /// Signs the credential.
    pub fn sign(self, signer: &dyn Signer) -> Result<SdJwt, VcError> {
        let header = self.header.clone();
        Ok(self.concealed()?.sign(&header, signer)?)
    }

    /// The protected header of the credentials `signer` signs with `kid`, its certificate
    /// chain `x5c` and, once the issuer is onboarded, its `trust_chain` (as [`Self::kid`],
    /// [`Self::x5c`] and [`Self::sign_with_trust_chain`] set them), encoded once: an issuer
    /// keeps it while its chain and certificate last and signs each credential with
    /// [`Self::sign_encoded`].
    pub fn encode_header(kid: Option<String>, x5c: Option<Vec<String>>, trust_chain: Option<Vec<String>>, signer: &dyn Signer) -> jws::EncodedHeader {
        let mut header = JwsHeader::new(JwsAlg::Es256).with_typ(TYP);
        header.kid = kid;
        header.x5c = x5c;
        header.trust_chain = trust_chain;
        jws::EncodedHeader::new(&header, signer)
    }

    /// Signs the credential under `header` ([`Self::encode_header`]), which takes the place
    /// of the one [`Self::kid`] and [`Self::x5c`] would have set: the same SD-JWT VC as
    /// [`Self::sign`] or [`Self::sign_with_trust_chain`] with those values.
    pub fn sign_encoded(self, header: &jws::EncodedHeader, signer: &dyn Signer) -> Result<SdJwt, VcError> {
        Ok(self.concealed()?.sign_encoded(header, signer)?)
    }

    /// The SD-JWT builder of the credential: metadata claims in the clear, the user
    /// attributes (or the paths chosen) disclosable.
    fn concealed(self) -> Result<SdJwtBuilder, VcError> {
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::String(self.iss));
        claims.insert("vct".into(), Value::String(self.vct.as_str().to_owned()));
        for (k, v) in self.metadata {
            claims.insert(k, v);
        }
        let mut paths = Vec::new();
        for (k, v) in self.attributes {
            if claims.contains_key(&k) || METADATA_CLAIMS.contains(&k.as_str()) {
                return Err(VcError::InvalidAttribute {
                    credential: "SD-JWT VC",
                    claim: "attributes",
                    reason: format!("`{k}` is a metadata claim; set it with `metadata()`"),
                });
            }
            if self.disclosable.is_none() {
                paths.push(ClaimPath::key(&k));
            }
            claims.insert(k, v);
        }
        paths.extend(self.disclosable.unwrap_or_default());
        paths.extend(self.extra_disclosable);
        let mut b = SdJwtBuilder::new(claims).decoys(self.decoys);
        for p in paths {
            b = b.disclosable(p);
        }
        Ok(b)
    }
}

/// A verified SD-JWT VC with its typed metadata.
#[derive(Debug, Clone)]
pub struct VerifiedVc {
    /// `vct`.
    pub vct: Vct,
    /// `iss`.
    pub iss: String,
    /// `status.status_list`, to be checked against the issuer's Token Status List.
    pub status: Option<StatusReference>,
    /// The verified SD-JWT with the disclosed claims.
    pub sd_jwt: VerifiedSdJwt,
}

impl VerifiedVc {
    /// The disclosed claims without the metadata claims (what the user agreed to show).
    pub fn attributes(&self) -> Map<String, Value> {
        self.sd_jwt.claims.iter().filter(|(k, _)| !METADATA_CLAIMS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

/// The credential's `exp`: REQUIRED by IT-Wallet 1.4's SD-JWT VC data model (the technical
/// validity; SD-JWT VC alone leaves it optional, so the SD-JWT layer accepts its absence).
/// The one home of that rule: the verifier's presentation checks and the wallet's checks of
/// an issued credential both read `exp` through it.
pub fn required_exp(claims: &Map<String, Value>) -> Result<i64, SdJwtError> {
    claims.get("exp").and_then(Value::as_i64).ok_or(SdJwtError::BadClaim("exp"))
}

/// Verifies an SD-JWT VC presentation: the SD-JWT rules, then `vct`, `vct#integrity` and
/// `status` forms.
pub fn verify(verifier: &Verifier<'_>, presentation: &str, now: UnixTime) -> Result<VerifiedVc, VcError> {
    let sd_jwt = verifier.verify(presentation, now)?;
    let vct = Vct::new(sd_jwt.claim_str("vct").unwrap_or_default())?;
    let iss = sd_jwt.claim_str("iss").unwrap_or_default().to_owned();
    if let Some(integrity) = sd_jwt.claims.get("vct#integrity") {
        check_integrity(integrity.as_str().unwrap_or_default())?;
    }
    let status = match sd_jwt.claims.get("status") {
        None => None,
        Some(v) => Some(
            serde_json::from_value::<CredentialStatus>(v.clone()).map_err(|e| VcError::BadStatus(e.to_string()))?.status_list,
        ),
    };
    Ok(VerifiedVc { vct, iss, status, sd_jwt })
}

/// A typed credential: its `vct`, its data-model rules, and its attributes as claims with
/// the spec's names. One implementation of the conversions for every credential type.
pub trait CredentialModel: serde::Serialize + serde::de::DeserializeOwned {
    /// A short name for error messages.
    const NAME: &'static str;
    /// The `vct` it is issued under.
    const VCT: &'static str;

    /// The attribute names of the data model (what [`Self::from_claims`] reads).
    const FIELDS: &'static [&'static str];

    /// Checks the data model.
    fn validate(&self) -> Result<(), VcError>;

    /// A valid instance whose values leave the most room to the rules between attributes
    /// (the earliest issue date, the latest expiry): what [`check_presented`] lays the
    /// disclosed attributes of a presentation on, so that only what was presented is judged.
    fn widest() -> Self;

    /// Its `vct`.
    fn vct() -> Vct {
        Vct(Self::VCT.to_owned())
    }

    /// The attributes as claims, after validation.
    fn to_attributes(&self) -> Result<Map<String, Value>, VcError> {
        self.validate()?;
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(VcError::InvalidAttribute { credential: Self::NAME, claim: "attributes", reason: "not an object".into() }),
        }
    }

    /// Reads the attributes back from verified claims (metadata claims are skipped; use it on
    /// a full disclosure).
    fn from_claims(claims: &Map<String, Value>) -> Result<Self, VcError> {
        let only: Map<String, Value> =
            claims.iter().filter(|(k, _)| !METADATA_CLAIMS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        serde_json::from_value(Value::Object(only))
            .map_err(|e| VcError::InvalidAttribute { credential: Self::NAME, claim: "attributes", reason: e.to_string() })
    }
}

/// Checks a received credential's claims (all disclosed, metadata claims included) against
/// the data model of its `vct`, when wallet-core has one: the PID (both `vct`s of §4.3), the
/// driving licence (§4.4) and the health card (§4.5). WP_060: a wallet "validates the schema
/// against the Digital Credential Data Model" and rejects what fails; the issuer applies the
/// same rule before it signs. Attributes the model does not name are left alone (an issuer
/// may add attributes a newer model defines: liberal in what is accepted); a `vct` without a
/// model here passes (its type metadata governs it). The error names the attribute and the
/// rule.
pub fn check_data_model(vct: &str, claims: &Map<String, Value>) -> Result<(), VcError> {
    fn known<M: CredentialModel>(claims: &Map<String, Value>) -> Result<(), VcError> {
        let only: Map<String, Value> = claims.iter().filter(|(k, _)| M::FIELDS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        let model: M = serde_json::from_value(Value::Object(only))
            .map_err(|e| VcError::InvalidAttribute { credential: M::NAME, claim: "attributes", reason: e.to_string() })?;
        model.validate()
    }
    match Model::of(vct) {
        Some(Model::Pid) => known::<pid::Pid>(claims),
        Some(Model::Mdl) => known::<mdl::MobileDrivingLicence>(claims),
        Some(Model::Ehic) => known::<ehic::HealthInsuranceCard>(claims),
        None => Ok(()),
    }
}

/// The credential types wallet-core has a data model for: the one place a `vct` is mapped
/// to its model, read by the issuance check ([`check_data_model`]) and the presentation
/// check ([`check_presented`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    /// The PID, under either `vct` of IT-Wallet 1.4 §4.3.
    Pid = 0,
    /// The mobile driving licence (§4.4).
    Mdl,
    /// The health insurance card (§4.5).
    Ehic,
}

impl Model {
    fn of(vct: &str) -> Option<Self> {
        match vct {
            Vct::PID | Vct::PID_TRANSITIONAL => Some(Self::Pid),
            Vct::MDL => Some(Self::Mdl),
            Vct::EHIC => Some(Self::Ehic),
            _ => None,
        }
    }
}

/// How much of a credential the claims are: all of it (an issued credential, every
/// disclosure at hand) or what a presentation disclosed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The whole credential.
    Whole,
    /// A presentation's part.
    Presented,
}

/// The metadata IT-Wallet 1.4 §4.3 makes REQUIRED in a PID beyond the general ones of §4.1:
/// `date_of_expiry` (a full date), `sub` (opaque, non-empty), `iat`, `cnf` (the holder key),
/// `status` (its Token Status List entry) and `verification` (`trust_framework` and
/// `assurance_level`). §4.1 keeps them out of the disclosures, so a presentation carries them
/// whatever was disclosed: a verifier reads them on every PID it is shown, and a wallet on
/// every PID it is issued. One exception, to interoperate: the reference test suite's 1.4
/// PID makes `date_of_expiry` selectively disclosable (versions note, PID rows), so in a
/// presentation ([`Seen::Presented`]) its absence may only mean it was not disclosed and its
/// form alone is judged; an issued PID ([`Seen::Whole`]) must have it. The error names the
/// claim.
pub fn check_pid_metadata(claims: &Map<String, Value>, seen: Seen) -> Result<(), VcError> {
    let bad = |claim: &'static str, reason: &str| VcError::InvalidAttribute { credential: "PID", claim, reason: reason.to_owned() };
    const MISSING: &str = "missing (REQUIRED in a PID, IT-Wallet 1.4 §4.3)";
    match claims.get("date_of_expiry") {
        Some(Value::String(s)) => check_date("PID", "date_of_expiry", s)?,
        Some(_) => return Err(bad("date_of_expiry", "not a string")),
        None if seen == Seen::Presented => {}
        None => return Err(bad("date_of_expiry", MISSING)),
    }
    match claims.get("sub") {
        Some(Value::String(s)) if !s.is_empty() => {}
        Some(_) => return Err(bad("sub", "not a non-empty string")),
        None => return Err(bad("sub", MISSING)),
    }
    match claims.get("iat") {
        // RFC 7519 §2: a NumericDate may have a fraction.
        Some(Value::Number(_)) => {}
        Some(_) => return Err(bad("iat", "not a NumericDate")),
        None => return Err(bad("iat", MISSING)),
    }
    match claims.get("cnf") {
        Some(Value::Object(c)) if c.get("jwk").is_some_and(Value::is_object) => {}
        Some(_) => return Err(bad("cnf", "no `jwk` object")),
        None => return Err(bad("cnf", MISSING)),
    }
    // The reference's own form is the status check's to judge (a malformed one leaves the
    // status undetermined, as for any credential): here, that the PID has one.
    match claims.get("status") {
        Some(Value::Object(_)) => {}
        Some(_) => return Err(bad("status", "not an object")),
        None => return Err(bad("status", MISSING)),
    }
    match claims.get("verification") {
        Some(Value::Object(v)) => {
            for member in ["trust_framework", "assurance_level"] {
                if v.get(member).and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err(bad("verification", &format!("`{member}` is missing or not a non-empty string")));
                }
            }
        }
        Some(_) => return Err(bad("verification", "not an object")),
        None => return Err(bad("verification", MISSING)),
    }
    Ok(())
}

/// The data model of a presented SD-JWT VC, as a verifier checks it (IT-Wallet 1.4 §4.1,
/// §8 ATT-015): the REQUIRED metadata `issuing_authority` (a non-empty string) and
/// `issuing_country` (ISO 3166-1 alpha-2), and, for a `vct` whose model we know (PID, mDL,
/// health card), every attribute disclosed in that model's form. A presentation discloses a
/// part of the credential, so the model's rules run over the disclosed attributes laid on
/// the model's [`CredentialModel::widest`] instance: a rule about one attribute judges the
/// presented value; a rule between two (an expiry not before its issue) judges them only
/// when both were presented. A PID must also carry the metadata §4.3 makes REQUIRED
/// ([`check_pid_metadata`]). The issuance side checks the whole record with
/// [`check_data_model`]; both run the same `validate`.
pub fn check_presented(vct: &str, claims: &Map<String, Value>) -> Result<(), VcError> {
    let meta = |claim: &'static str, reason: &str| VcError::InvalidAttribute { credential: "SD-JWT VC", claim, reason: reason.to_owned() };
    match claims.get("issuing_authority") {
        Some(Value::String(s)) if !s.trim().is_empty() => {}
        Some(_) => return Err(meta("issuing_authority", "not a non-empty string")),
        None => return Err(meta("issuing_authority", "missing (REQUIRED, IT-Wallet 1.4 §4.1)")),
    }
    match claims.get("issuing_country") {
        Some(Value::String(s)) => check_country("SD-JWT VC", "issuing_country", s)?,
        Some(_) => return Err(meta("issuing_country", "not a string")),
        None => return Err(meta("issuing_country", "missing (REQUIRED, IT-Wallet 1.4 §4.1)")),
    }
    fn disclosed<M: CredentialModel>(model: Model, claims: &Map<String, Value>) -> Result<(), VcError> {
        let present: Vec<(&String, &Value)> = claims.iter().filter(|(k, _)| M::FIELDS.contains(&k.as_str())).collect();
        if present.is_empty() {
            return Ok(());
        }
        // The widest instance as claims, built once per model.
        static WIDEST: [std::sync::OnceLock<Map<String, Value>>; 3] = [const { std::sync::OnceLock::new() }; 3];
        let widest = WIDEST.get(model as usize).map(|w| {
            w.get_or_init(|| match serde_json::to_value(M::widest()) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            })
        });
        let laid = |only: &[(&String, &Value)]| -> Result<M, serde_json::Error> {
            let mut m = widest.cloned().unwrap_or_default();
            m.extend(only.iter().map(|(k, v)| ((*k).clone(), (*v).clone())));
            serde_json::from_value(Value::Object(m))
        };
        match laid(&present) {
            Ok(model) => model.validate(),
            // serde's message does not name the member: find the one that does not fit.
            Err(e) => {
                let claim = present.iter().find(|p| laid(std::slice::from_ref(*p)).is_err()).map_or("attributes", |(k, _)| M::FIELDS.iter().copied().find(|f| f == k).unwrap_or("attributes"));
                Err(VcError::InvalidAttribute { credential: M::NAME, claim, reason: e.to_string() })
            }
        }
    }
    match Model::of(vct) {
        Some(m @ Model::Pid) => {
            check_pid_metadata(claims, Seen::Presented)?;
            disclosed::<pid::Pid>(m, claims)
        }
        Some(m @ Model::Mdl) => disclosed::<mdl::MobileDrivingLicence>(m, claims),
        Some(m @ Model::Ehic) => disclosed::<ehic::HealthInsuranceCard>(m, claims),
        None => Ok(()),
    }
}

/// Date strings `YYYY-MM-DD` (ISO 8601 full-date), used by every credential model.
pub(crate) fn check_date(credential: &'static str, claim: &'static str, s: &str) -> Result<(), VcError> {
    let bad = |reason: &str| VcError::InvalidAttribute { credential, claim, reason: reason.to_owned() };
    let b = s.as_bytes();
    if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return Err(bad("not YYYY-MM-DD"));
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d) => Ok(()),
        _ => Err(bad("not a calendar date")),
    }
}

/// ISO 3166-1 alpha-2 country codes.
pub(crate) fn check_country(credential: &'static str, claim: &'static str, s: &str) -> Result<(), VcError> {
    if s.len() == 2 && s.bytes().all(|c| c.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(VcError::InvalidAttribute { credential, claim, reason: format!("`{s}` is not an ISO 3166-1 alpha-2 code") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SoftwareSigner;
    use crate::sd_jwt::{KeyBindingInput, StaticKeyResolver};

    const NOW: UnixTime = UnixTime(1_800_000_000);

    fn pid() -> pid::Pid {
        pid::Pid {
            given_name: "Mario".into(),
            family_name: "Rossi".into(),
            birthdate: "1980-01-10".into(),
            place_of_birth: pid::PlaceOfBirth { locality: Some("Roma".into()), ..Default::default() },
            nationalities: vec!["IT".into()],
            personal_administrative_number: None,
            tax_id_code: Some("TINIT-RSSMRA80A10H501A".into()),
        }
    }

    /// A header encoded once signs the same credential as the builder's own header: the
    /// same protected header bytes, the same claims, and it verifies.
    #[test]
    fn a_header_encoded_once_signs_the_same_credential() {
        let issuer = SoftwareSigner::generate().unwrap();
        let chain = vec!["eyJ0eXAiOiJlbnRpdHktc3RhdGVtZW50K2p3dCJ9.e30.c2ln".to_owned(), "eyJ0eXAiOiJlbnRpdHktc3RhdGVtZW50K2p3dCJ9.e30.YW5jaG9y".to_owned()];
        let builder = || SdJwtVcBuilder::new("https://pid.example.it", pid::Pid::vct(), pid().to_attributes().unwrap()).validity(NOW, NOW.plus(86_400));
        let x5c = vec!["TUlJQg==".to_owned(), "TUlJQw==".to_owned()];
        let direct = builder().kid("k1").x5c(x5c.clone()).sign_with_trust_chain(chain.clone(), &issuer).unwrap();
        let header = SdJwtVcBuilder::encode_header(Some("k1".into()), Some(x5c), Some(chain), &issuer);
        let encoded = builder().sign_encoded(&header, &issuer).unwrap();
        let (a, b) = (direct.serialize(), encoded.serialize());
        assert_eq!(a.split('.').next(), b.split('.').next(), "the same protected header");
        let resolver = StaticKeyResolver::for_issuer(issuer.public_jwk(), "https://pid.example.it");
        let (va, vb) = (verify(&Verifier::new(&resolver), &a, NOW).unwrap(), verify(&Verifier::new(&resolver), &b, NOW).unwrap());
        assert_eq!(va.sd_jwt.claims, vb.sd_jwt.claims, "the same credential (salts aside)");
        // A header encoded for another algorithm's signer is refused, not mislabelled.
        let rsa_like = crate::jose::jws::EncodedHeader::new(&JwsHeader::new(JwsAlg::Rs256), &issuer);
        assert_eq!(rsa_like.alg(), JwsAlg::Es256, "the signer's alg is the header's");
    }

    #[test]
    fn pid_issued_with_metadata_visible_and_attributes_disclosable() {
        let issuer = SoftwareSigner::generate().unwrap();
        let holder = SoftwareSigner::generate().unwrap();
        let sd = SdJwtVcBuilder::new("https://pid.example.it", pid::Pid::vct(), pid().to_attributes().unwrap())
            .validity(NOW, NOW.plus(86_400))
            .holder_key(&holder.public_jwk())
            .status(1234, "https://pid.example.it/status")
            .metadata("issuing_authority", Value::from("Istituto Poligrafico"))
            .metadata("issuing_country", Value::from("IT"))
            .also_disclosable(ClaimPath::parse_dotted("place_of_birth.locality"))
            .decoys(3)
            .sign(&issuer)
            .unwrap();
        let payload = sd.unverified_payload().unwrap();
        for visible in ["iss", "vct", "iat", "exp", "cnf", "status", "issuing_authority", "issuing_country"] {
            assert!(payload.contains_key(visible), "{visible} must be visible");
        }
        for hidden in ["given_name", "family_name", "tax_id_code", "place_of_birth"] {
            assert!(!payload.contains_key(hidden), "{hidden} must be disclosable");
        }
        let kb = KeyBindingInput { aud: "https://rp.example.it".into(), nonce: "abc".into(), iat: NOW };
        let p = sd.present(Some(&[ClaimPath::key("given_name")]), &kb, &holder).unwrap();
        let r = StaticKeyResolver::for_issuer(issuer.public_jwk(), "https://pid.example.it");
        let v = verify(&Verifier::new(&r).expect_key_binding("https://rp.example.it", "abc"), &p, NOW).unwrap();
        assert_eq!(v.vct.as_str(), Vct::PID);
        assert_eq!(v.status, Some(StatusReference { idx: 1234, uri: "https://pid.example.it/status".into() }));
        assert_eq!(v.attributes(), serde_json::json!({"given_name": "Mario"}).as_object().cloned().unwrap());
    }

    #[test]
    fn metadata_cannot_be_passed_as_an_attribute() {
        let issuer = SoftwareSigner::generate().unwrap();
        let mut attrs = pid().to_attributes().unwrap();
        attrs.insert("exp".into(), Value::from(1));
        let err = SdJwtVcBuilder::new("https://pid.example.it", pid::Pid::vct(), attrs).sign(&issuer).unwrap_err();
        assert!(matches!(err, VcError::InvalidAttribute { claim: "attributes", .. }));
    }

    /// WP_060: every model's attribute names cover what it writes, so a credential issued
    /// from a model passes the check it will meet in the wallet.
    #[test]
    fn fields_name_every_attribute_a_model_writes() {
        fn covered<M: CredentialModel>(m: &M) {
            for k in m.to_attributes().unwrap().keys() {
                assert!(M::FIELDS.contains(&k.as_str()), "{}: {k}", M::NAME);
            }
        }
        covered(&pid());
        let mut p = pid();
        p.personal_administrative_number = Some("CX00000001".into());
        covered(&p);
    }

    #[test]
    fn received_claims_are_checked_against_their_data_model() {
        let mut claims = pid().to_attributes().unwrap();
        claims.insert("iss".into(), Value::from("https://pid.example.it"));
        claims.insert("vct".into(), Value::from(Vct::PID));
        claims.insert("email".into(), Value::from("mario@example.it"));
        check_data_model(Vct::PID, &claims).expect("metadata and unknown attributes are left alone");
        check_data_model(Vct::PID_TRANSITIONAL, &claims).unwrap();
        let named = |vct: &str, c: &Map<String, Value>| match check_data_model(vct, c) {
            Err(VcError::InvalidAttribute { claim, reason, .. }) => format!("{claim}: {reason}"),
            other => panic!("not refused: {other:?}"),
        };
        let mut bad = claims.clone();
        bad.insert("birthdate".into(), Value::from("10/01/1980"));
        assert_eq!(named(Vct::PID, &bad), "birthdate: not YYYY-MM-DD");
        let mut bad = claims.clone();
        bad.remove("nationalities");
        assert!(named(Vct::PID, &bad).contains("nationalities"), "a missing attribute is named");
        let mut bad = claims.clone();
        bad.insert("tax_id_code".into(), Value::from("RSSMRA80A10H501A"));
        assert!(named(Vct::PID, &bad).starts_with("tax_id_code"));
        // The licence and the health card have their own rules; other types pass.
        assert!(named(Vct::MDL, &claims).contains("attributes"), "a PID is not a licence");
        assert!(named(Vct::EHIC, &claims).contains("attributes"));
        check_data_model("urn:eudi:other:1", &Map::new()).unwrap();
    }

    /// §4.1, §8 ATT-015: what a verifier checks of a presented credential's data model, one
    /// named case each; the disclosed part alone is judged.
    #[test]
    fn presented_data_model_vectors() {
        let base = |extra: Value| -> Map<String, Value> {
            let mut m = pid_metadata();
            m.extend(extra.as_object().cloned().unwrap());
            m
        };
        let claim = |vct: &str, c: &Map<String, Value>| match check_presented(vct, c) {
            Err(VcError::InvalidAttribute { claim, .. }) => claim,
            other => panic!("{other:?}"),
        };
        // Accepted: a part of each model, the whole PID, an unknown type's anything.
        check_presented(Vct::PID, &base(serde_json::json!({"birthdate": "1980-01-10"}))).unwrap();
        check_presented(Vct::PID, &base(Value::Object(pid().to_attributes().unwrap()))).unwrap();
        check_presented(Vct::PID, &base(serde_json::json!({"personal_administrative_number": "X"}))).unwrap();
        check_presented(Vct::MDL, &base(serde_json::json!({"expiry_date": "2030-01-01", "driving_privileges": [{"vehicle_category_code": "B"}]}))).unwrap();
        check_presented(Vct::EHIC, &base(serde_json::json!({"ending_date": "2001-01-01"}))).unwrap();
        check_presented("urn:eudi:other:1", &base(serde_json::json!({"birthdate": 7}))).unwrap();
        // The REQUIRED metadata, for every type.
        let mut c = base(serde_json::json!({}));
        c.remove("issuing_authority");
        assert_eq!(claim("urn:eudi:other:1", &c), "issuing_authority");
        let mut c = base(serde_json::json!({}));
        c.remove("issuing_country");
        assert_eq!(claim(Vct::PID, &c), "issuing_country");
        assert_eq!(claim(Vct::PID, &base(serde_json::json!({"issuing_country": "ITA"}))), "issuing_country");
        assert_eq!(claim(Vct::PID, &base(serde_json::json!({"issuing_authority": " "}))), "issuing_authority");
        // A disclosed attribute out of its model's form, named.
        assert_eq!(claim(Vct::PID, &base(serde_json::json!({"birthdate": "10/01/1980"}))), "birthdate");
        assert_eq!(claim(Vct::PID, &base(serde_json::json!({"given_name": "Mario", "nationalities": "IT"}))), "nationalities");
        assert_eq!(claim(Vct::PID, &base(serde_json::json!({"tax_id_code": "RSSMRA80A10H501A"}))), "tax_id_code");
        assert_eq!(claim(Vct::MDL, &base(serde_json::json!({"driving_privileges": [{"vehicle_category_code": "Z"}]}))), "driving_privileges");
        // A rule between two attributes, when both were presented.
        assert_eq!(claim(Vct::MDL, &base(serde_json::json!({"issue_date": "2030-01-01", "expiry_date": "2020-01-01"}))), "expiry_date");
        assert_eq!(claim(Vct::EHIC, &base(serde_json::json!({"starting_date": "2030-01-01", "ending_date": "2020-01-01"}))), "ending_date");
    }

    /// The always-visible metadata of a PID as the issuer emits it (§4.1, §4.3).
    fn pid_metadata() -> Map<String, Value> {
        serde_json::from_value(serde_json::json!({
            "issuing_authority": "Ministero dell'Interno", "issuing_country": "IT",
            "date_of_expiry": "2033-03-19", "sub": "NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs", "iat": 1683000000,
            "cnf": {"jwk": {"kty": "EC", "crv": "P-256", "x": "TCAE", "y": "Zxji"}},
            "status": {"status_list": {"idx": 1234, "uri": "https://pidprovider.example.org/status"}},
            "verification": {"trust_framework": "it_cie", "assurance_level": "high"},
        }))
        .unwrap()
    }

    /// §4.3: the metadata REQUIRED in a PID, one named case each, missing and malformed; a
    /// presentation of a PID without it is refused whatever was disclosed, other types do not
    /// need it.
    #[test]
    fn pid_required_metadata_vectors() {
        check_pid_metadata(&pid_metadata(), Seen::Whole).unwrap();
        let named = |c: &Map<String, Value>| match check_presented(Vct::PID, c) {
            Err(VcError::InvalidAttribute { credential: "PID", claim, reason }) => format!("{claim}: {reason}"),
            other => panic!("{other:?}"),
        };
        // `date_of_expiry` may have been left undisclosed (versions note): required of the
        // whole credential only.
        let mut c = pid_metadata();
        c.remove("date_of_expiry");
        check_presented(Vct::PID, &c).unwrap();
        assert!(check_pid_metadata(&c, Seen::Whole).unwrap_err().to_string().contains("date_of_expiry"));
        let mut c = pid_metadata();
        c.insert("iat".into(), serde_json::json!(1683000000.5));
        check_pid_metadata(&c, Seen::Whole).unwrap();
        for claim in ["sub", "iat", "cnf", "status", "verification"] {
            let mut c = pid_metadata();
            c.remove(claim);
            assert!(named(&c).starts_with(&format!("{claim}: missing")), "{claim}: {}", named(&c));
            check_presented(Vct::MDL, &c).unwrap();
            check_presented("urn:eudi:other:1", &c).unwrap();
            // The transitional identifier is the same PID.
            assert!(check_presented(Vct::PID_TRANSITIONAL, &c).is_err(), "{claim}");
        }
        for (claim, bad) in [
            ("date_of_expiry", serde_json::json!("19/03/2033")),
            ("date_of_expiry", serde_json::json!(20330319)),
            ("sub", serde_json::json!("")),
            ("iat", serde_json::json!("1683000000")),
            ("cnf", serde_json::json!({"kid": "k"})),
            ("status", serde_json::json!("revoked")),
            ("verification", serde_json::json!({"trust_framework": "it_cie"})),
            ("verification", serde_json::json!({"trust_framework": "", "assurance_level": "high"})),
            ("verification", serde_json::json!("high")),
        ] {
            let mut c = pid_metadata();
            c.insert(claim.into(), bad.clone());
            assert!(named(&c).starts_with(claim), "{claim} = {bad}: {}", named(&c));
        }
    }
}
