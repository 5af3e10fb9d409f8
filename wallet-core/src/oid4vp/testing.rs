//! Test fixtures shared by the oid4vp tests: a federation (trust anchor, the relying party
//! with `openid_credential_verifier` metadata, a PID issuer with `openid_credential_issuer`
//! metadata), an X.509 CA issuing their certificates (rcgen), the holder's key, a PID, all on
//! a fixed clock. Everything is made by our own code; each test then breaks one thing.

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, date_time_ymd};
use serde_json::{Map, Value, json};

use super::client_id::ClientId;
use super::dcql::DcqlQuery;
use super::metadata::VerifierMetadata;
use super::request_object::{RequestObjectBuilder, SigningHeader};
use crate::federation::chain::{TrustAnchorConfig, ValidatedChain, validate};
use crate::federation::{EntityId, EntityStatement};
use crate::jose::{DecryptionKey, JwkSet, JwsAlg, JwsHeader, Signer, SoftwareSigner};
use crate::sd_jwt::{ClaimPath, SdJwt, SdJwtBuilder};
use crate::time::UnixTime;
use crate::x509::TrustAnchors;

pub(crate) const NOW: UnixTime = UnixTime(1_800_000_000);
pub(crate) const TA: &str = "https://ta.example.it";
pub(crate) const RP: &str = "https://rp.example.it";
pub(crate) const ISSUER: &str = "https://pid.example.it";
pub(crate) const RESPONSE_URI: &str = "https://rp.example.it/response";
pub(crate) const REQUEST_URI: &str = "https://rp.example.it/request/1";
pub(crate) const PID_VCT: &str = "urn:eudi:pid:it:1";
pub(crate) const STATUS_URI: &str = "https://pid.example.it/status/1";
pub(crate) const NONCE: &str = "n-0S6_WzA2Mj-abcdefghijklmnopqrstuvwxyz";
pub(crate) const STATE: &str = "state-1234";

struct OurKey(Vec<u8>);
impl PublicKeyData for OurKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2030, 1, 1);
    p
}

pub(crate) fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The federation CA (a root) and protocol certificates issued directly under it.
pub(crate) struct Pki {
    pub(crate) root_der: Vec<u8>,
    root_key: KeyPair,
    root_params: CertificateParams,
}

impl Pki {
    pub(crate) fn new() -> Self {
        let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut root_params = params("Tessera Test Federation CA");
        root_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
        root_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let root_der = root_params.self_signed(&root_key).unwrap().der().to_vec();
        Self { root_der, root_key, root_params }
    }

    pub(crate) fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der(vec![self.root_der.clone()]).unwrap()
    }

    /// A leaf for `key` naming `uri` (SAN URI) and its host (SAN DNS).
    pub(crate) fn leaf(&self, key: &SoftwareSigner, uri: &str) -> Vec<u8> {
        let mut p = params("protocol key");
        let host = crate::x509::uri_host(uri).unwrap();
        p.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap()), SanType::DnsName(host.as_str().try_into().unwrap())];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let point = key.public_jwk().params.ec_point().unwrap();
        p.signed_by(&OurKey(point), &Issuer::from_params(&self.root_params, &self.root_key)).unwrap().der().to_vec()
    }

    /// [`Self::leaf`] with an AuthorityKeyIdentifier extension ([`Self::root_key_id`]).
    pub(crate) fn leaf_with_aki(&self, key: &SoftwareSigner, uri: &str) -> Vec<u8> {
        let mut p = params("protocol key");
        let host = crate::x509::uri_host(uri).unwrap();
        p.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap()), SanType::DnsName(host.as_str().try_into().unwrap())];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.use_authority_key_identifier_extension = true;
        let point = key.public_jwk().params.ec_point().unwrap();
        p.signed_by(&OurKey(point), &Issuer::from_params(&self.root_params, &self.root_key)).unwrap().der().to_vec()
    }

    /// The root's key identifier (what [`Self::leaf_with_aki`] names as its AKI).
    pub(crate) fn root_key_id(&self) -> Vec<u8> {
        self.root_params.key_identifier(&self.root_key)
    }

    /// A long-lived signing certificate: [`Self::leaf`] with `serial` and a CRL
    /// Distribution Point at `crl_uri`.
    pub(crate) fn signing_leaf(&self, key: &SoftwareSigner, uri: &str, serial: &[u8], crl_uri: &str) -> Vec<u8> {
        let mut p = params("signing key");
        let host = crate::x509::uri_host(uri).unwrap();
        p.subject_alt_names = vec![SanType::URI(uri.try_into().unwrap()), SanType::DnsName(host.as_str().try_into().unwrap())];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(rcgen::SerialNumber::from_slice(serial));
        p.crl_distribution_points = vec![rcgen::CrlDistributionPoint { uris: vec![crl_uri.to_owned()] }];
        let point = key.public_jwk().params.ec_point().unwrap();
        p.signed_by(&OurKey(point), &Issuer::from_params(&self.root_params, &self.root_key)).unwrap().der().to_vec()
    }

    /// The CA's CRL listing `revoked` serials, valid around [`NOW`].
    pub(crate) fn crl(&self, revoked: &[&[u8]]) -> Vec<u8> {
        let params = rcgen::CertificateRevocationListParams {
            this_update: date_time_ymd(2027, 1, 10),
            next_update: date_time_ymd(2027, 2, 1),
            crl_number: rcgen::SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|s| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(s),
                    revocation_time: date_time_ymd(2027, 1, 5),
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        params.signed_by(&Issuer::from_params(&self.root_params, &self.root_key)).unwrap().der().to_vec()
    }
}

pub(crate) fn statement(iss: &str, sub: &str, jwks: JwkSet, metadata: Option<Value>, hints: Option<&str>) -> EntityStatement {
    EntityStatement {
        iss: EntityId::new(iss).unwrap(),
        sub: EntityId::new(sub).unwrap(),
        iat: NOW.secs() - 10,
        exp: NOW.secs() + 3600,
        jwks,
        metadata: metadata.and_then(|m| m.as_object().cloned()),
        authority_hints: hints.map(|h| vec![EntityId::new(h).unwrap()]),
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

fn jwks(keys: &[&dyn Signer]) -> JwkSet {
    JwkSet { keys: keys.iter().map(|k| k.public_jwk()).collect() }
}

/// Everything a presentation needs, on both sides.
pub(crate) struct Fixture {
    pub(crate) ta: SoftwareSigner,
    pub(crate) pki: Pki,
    pub(crate) rp_fed: SoftwareSigner,
    /// Signs request objects; in the RP metadata `jwks` and in its certificate.
    pub(crate) rp_ro: SoftwareSigner,
    pub(crate) rp_leaf: Vec<u8>,
    /// The verifier's response decryption key.
    pub(crate) rp_enc: DecryptionKey,
    pub(crate) issuer_fed: SoftwareSigner,
    pub(crate) issuer_key: SoftwareSigner,
    pub(crate) issuer_leaf: Vec<u8>,
    pub(crate) holder: SoftwareSigner,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let pki = Pki::new();
        let rp_ro = SoftwareSigner::generate().unwrap();
        let rp_leaf = pki.leaf(&rp_ro, RP);
        let issuer_key = SoftwareSigner::generate().unwrap();
        let issuer_leaf = pki.leaf(&issuer_key, ISSUER);
        Self {
            ta: SoftwareSigner::generate().unwrap(),
            pki,
            rp_fed: SoftwareSigner::generate().unwrap(),
            rp_ro,
            rp_leaf,
            rp_enc: DecryptionKey::generate().unwrap(),
            issuer_fed: SoftwareSigner::generate().unwrap(),
            issuer_key,
            issuer_leaf,
            holder: SoftwareSigner::generate().unwrap(),
        }
    }

    pub(crate) fn anchor(&self) -> TrustAnchorConfig {
        TrustAnchorConfig { id: EntityId::new(TA).unwrap(), jwks: jwks(&[&self.ta]) }
    }

    pub(crate) fn rp_metadata(&self) -> Value {
        json!({
            "client_id": RP,
            "client_name": "Comune di Roma",
            "logo_uri": "https://rp.example.it/logo.svg",
            "application_type": "web",
            "request_uris": [REQUEST_URI],
            "response_uris": [RESPONSE_URI],
            "redirect_uris": ["https://rp.example.it/cb"],
            "jwks": {"keys": [self.rp_ro.public_jwk(), self.rp_enc.public_jwk()]},
            "encrypted_response_enc_values_supported": ["A256GCM", "A128GCM"],
            "vp_formats_supported": {"dc+sd-jwt": {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}},
            "erasure_endpoint": "https://rp.example.it/erase",
            "purpose": "Accesso ai servizi comunali"
        })
    }

    /// The RP's chain: [EC(rp), SS(ta → rp)], with `metadata` as its verifier metadata.
    pub(crate) fn rp_chain_jwts_with(&self, metadata: Value) -> Vec<String> {
        self.rp_chain_jwts_with_marks(metadata, None)
    }

    /// The RP's chain with `trust_marks` in its Entity Configuration.
    pub(crate) fn rp_chain_jwts_with_marks(&self, metadata: Value, marks: Option<Vec<crate::federation::TrustMarkRef>>) -> Vec<String> {
        let mut ec = statement(RP, RP, jwks(&[&self.rp_fed]), Some(json!({"openid_credential_verifier": metadata, "federation_entity": {"organization_name": "Comune di Roma"}})), Some(TA));
        ec.trust_marks = marks;
        let ss = statement(TA, RP, jwks(&[&self.rp_fed]), None, None);
        vec![ec.sign(&self.rp_fed).unwrap(), ss.sign(&self.ta).unwrap()]
    }

    pub(crate) fn rp_chain(&self) -> ValidatedChain {
        validate(&self.rp_chain_jwts_with(self.rp_metadata()), &self.anchor(), NOW).unwrap()
    }

    /// The issuer's chain, declaring `vcts` in `credential_configurations_supported`.
    pub(crate) fn issuer_chain_jwts(&self, vcts: &[&str]) -> Vec<String> {
        self.issuer_chain_jwts_with_key(vcts, &self.issuer_key)
    }

    /// [`Self::issuer_chain_jwts`] with `key` as the issuer's credential key (a rotation).
    pub(crate) fn issuer_chain_jwts_with_key(&self, vcts: &[&str], key: &SoftwareSigner) -> Vec<String> {
        let mut configs = Map::new();
        for (i, v) in vcts.iter().enumerate() {
            configs.insert(format!("config_{i}"), json!({"format": "dc+sd-jwt", "vct": v}));
        }
        let md = json!({"openid_credential_issuer": {"credential_issuer": ISSUER, "jwks": {"keys": [key.public_jwk()]}, "credential_configurations_supported": configs}});
        let ec = statement(ISSUER, ISSUER, jwks(&[&self.issuer_fed]), Some(md), Some(TA));
        let ss = statement(TA, ISSUER, jwks(&[&self.issuer_fed]), None, None);
        vec![ec.sign(&self.issuer_fed).unwrap(), ss.sign(&self.ta).unwrap()]
    }

    pub(crate) fn client_id(&self) -> ClientId {
        ClientId::federation(&EntityId::new(RP).unwrap())
    }

    pub(crate) fn pid_query() -> DcqlQuery {
        DcqlQuery::parse(r#"{"credentials":[{"id":"pid","format":"dc+sd-jwt","meta":{"vct_values":["urn:eudi:pid:it:1"]},"claims":[{"path":["given_name"]},{"path":["family_name"]},{"path":["place_of_birth","locality"]}]}]}"#).unwrap()
    }

    pub(crate) fn builder(&self) -> RequestObjectBuilder {
        let mut b = RequestObjectBuilder::new(self.client_id(), RESPONSE_URI, NONCE, Self::pid_query(), NOW);
        b.state = Some(STATE.into());
        b.client_metadata = Some(VerifierMetadata {
            jwks: Some(JwkSet { keys: vec![self.rp_enc.public_jwk().clone()] }),
            encrypted_response_enc_values_supported: Some(vec!["A256GCM".into(), "A128GCM".into()]),
            ..Default::default()
        });
        b
    }

    pub(crate) fn header(&self) -> SigningHeader {
        SigningHeader { x5c: Some(vec![b64(&self.rp_leaf)]), trust_chain: Some(self.rp_chain_jwts_with(self.rp_metadata())), kid: None }
    }

    /// A PID issued to the holder, signed with `x5c` and `trust_chain` headers; `edit`
    /// changes the claims before issuance.
    pub(crate) fn pid_with(&self, edit: impl FnOnce(&mut Map<String, Value>)) -> SdJwt {
        self.issue_pid(edit, |_| {}, &self.issuer_key)
    }

    /// The PID's header: `typ`, `kid`, `x5c` (the issuer's certificate) and `trust_chain`.
    pub(crate) fn pid_header(&self) -> JwsHeader {
        let mut header = JwsHeader::new(JwsAlg::Es256).with_typ("dc+sd-jwt").with_kid(self.issuer_key.kid()).with_x5c(vec![b64(&self.issuer_leaf)]);
        header.trust_chain = Some(self.issuer_chain_jwts(&[PID_VCT]));
        header
    }

    /// A PID with claims, header and signer each changeable.
    pub(crate) fn issue_pid(&self, edit: impl FnOnce(&mut Map<String, Value>), edit_header: impl FnOnce(&mut JwsHeader), signer: &SoftwareSigner) -> SdJwt {
        let mut claims = json!({
            "iss": ISSUER, "vct": PID_VCT, "iat": NOW.secs() - 100, "exp": NOW.secs() + 86_400,
            "cnf": {"jwk": self.holder.public_jwk()},
            "status": {"status_list": {"idx": 3, "uri": STATUS_URI}},
            "date_of_expiry": "2033-03-19", "sub": "NzbLsXh8uDCcd7noWXFZAfHkxZsRGC9Xs",
            "verification": {"trust_framework": "it_cie", "assurance_level": "high"},
            "given_name": "Mario", "family_name": "Rossi", "birthdate": "1980-01-10",
            "tax_id_code": "TINIT-RSSMRA80A10H501Z",
            "issuing_authority": "Istituto Poligrafico e Zecca dello Stato", "issuing_country": "IT",
            "place_of_birth": {"locality": "Roma", "country": "IT"},
        })
        .as_object()
        .cloned()
        .unwrap();
        edit(&mut claims);
        let mut header = self.pid_header();
        edit_header(&mut header);
        SdJwtBuilder::new(claims)
            .all_top_level_disclosable(&["iss", "vct", "iat", "exp", "cnf", "status", "date_of_expiry", "sub", "verification", "place_of_birth", "issuing_authority", "issuing_country"])
            .disclosable(ClaimPath::parse_dotted("place_of_birth.locality"))
            .disclosable(ClaimPath::parse_dotted("place_of_birth.country"))
            .sign(&header, signer)
            .unwrap()
    }

    pub(crate) fn pid(&self) -> SdJwt {
        self.pid_with(|_| {})
    }
}
