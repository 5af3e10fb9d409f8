//! The federation's X.509 hierarchy (IT-Wallet 1.4 §1.2). The trust anchor is the root CA:
//! a self-signed root over its Federation Entity Key. Each entity gets a CA certificate over
//! its own Federation Entity Key, carried in the `x5c` of the key its superior pins in the
//! Subordinate Statement:
//!
//! * an intermediate, from the trust anchor: BasicConstraints pathlen 1;
//! * a leaf, from its immediate superior (the anchor or an intermediate): pathlen 0;
//!
//! each with KeyUsage digitalSignature + keyCertSign + cRLSign (critical; keyEncipherment
//! is not for EC keys, RFC 5480 §3), NameConstraints (critical) on the
//! entity's host as a DNS subtree and as a URI subtree, SKI/AKI, SAN URI = entity id, a
//! random serial recorded by the issuer, and a CRL Distribution Point at the issuer's `/crl`.
//! Leaves self-issue short-lived protocol certificates under their CA for `x5c` headers.
//!
//! rcgen writes no URI GeneralSubtree, so the NameConstraints extension is written here in
//! DER (RFC 5280 §4.2.1.10: a URI constraint is a host, or `.domain` for its subdomains).

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint, CustomExtension, DistinguishedName,
    DnType, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, RevocationReason, RevokedCertParams,
    SanType, SerialNumber, SignatureAlgorithm, SigningKey,
};
use wallet_core::federation::EntityId;
use wallet_core::jose::{Jwk, JwkParams, Signer as _, SoftwareSigner};
use x509_parser::prelude::{FromDer as _, GeneralName, X509Certificate};

/// Validity of issued CA certificates (IT-Wallet 1.4 §1.2: at most 2 years). The most the
/// spec allows: the signing certificates a leaf issues under its CA certificate end with it
/// at the latest, and an issuer's must outlast the credentials it signs (a year by default).
pub const CA_VALIDITY_SECS: i64 = 2 * 365 * 86_400;
/// Validity of the root (IT-Wallet 1.4 §1.2: at most 5 years).
pub const ROOT_VALIDITY_SECS: i64 = 5 * 365 * 86_400;
/// How long a CRL is valid (`nextUpdate - thisUpdate`).
pub const CRL_VALIDITY_SECS: i64 = 86_400;

/// Why a certificate or CRL was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// rcgen refused the parameters or could not sign.
    #[error("certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// CA certificates are for P-256 keys (the Federation Entity Keys we generate).
    #[error("CA certificates are issued for P-256 keys, not {0}")]
    UnsupportedKey(String),
    /// A time out of range.
    #[error("time out of range")]
    Time,
    /// The issuing CA certificate certifies another key than the one that would sign.
    #[error("the CA certificate is for another key than the signing key")]
    KeyMismatch,
    /// A CA certificate that does not parse.
    #[error("CA certificate does not parse: {0}")]
    Malformed(String),
    /// A name that cannot go into a name constraint (not ASCII, empty, blanks).
    #[error("`{0}` is not a DNS name or host")]
    BadName(String),
    /// The issuer's own name constraints do not cover the subject's host: a certificate
    /// issued anyway would not validate.
    #[error("{host} is outside the name constraints of this CA")]
    OutsideNameConstraints {
        /// The subject's host.
        host: String,
    },
    /// No randomness for the serial.
    #[error("no randomness for a serial number")]
    Random,
}

/// Our Federation Entity Key as rcgen's signing key (ECDSA P-256, DER signatures).
struct FederationKey<'a> {
    signer: &'a SoftwareSigner,
    point: Vec<u8>,
}

impl<'a> FederationKey<'a> {
    fn new(signer: &'a SoftwareSigner) -> Self {
        Self { signer, point: signer.public_jwk().params.ec_point().unwrap_or_default() }
    }
}

impl PublicKeyData for FederationKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// A DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap_or(0));
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | u8::try_from(bytes.len()).unwrap_or(0));
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An ECDSA signature `r || s` as the DER `ECDSA-Sig-Value` X.509 uses.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut content = Vec::with_capacity(v.len() + 1);
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            content.push(0);
        }
        content.extend_from_slice(&v);
        tlv(0x02, &content)
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    tlv(0x30, &[int(r), int(s)].concat())
}

impl SigningKey for FederationKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let raw = self.signer.sign(msg).map_err(|_| rcgen::Error::RemoteKeyError)?;
        Ok(raw_to_der(&raw))
    }
}

/// The public point of a P-256 JWK.
struct PublicPoint(Vec<u8>);

impl PublicKeyData for PublicPoint {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

fn time(secs: i64) -> Result<time::OffsetDateTime, CaError> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|_| CaError::Time)
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn uri(id: &EntityId) -> Result<SanType, CaError> {
    Ok(SanType::URI(id.as_str().try_into()?))
}

/// The root certificate (DER) of a trust anchor, self-signed with its current key.
pub fn root_certificate(anchor: &EntityId, key: &SoftwareSigner, now: i64) -> Result<Vec<u8>, CaError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = name(&format!("{anchor} federation root"));
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.subject_alt_names = vec![uri(anchor)?];
    p.not_before = time(now - 60)?;
    p.not_after = time(now + ROOT_VALIDITY_SECS)?;
    Ok(p.self_signed(&FederationKey::new(key))?.der().to_vec())
}

fn parse_cert(der: &[u8]) -> Result<X509Certificate<'_>, CaError> {
    X509Certificate::from_der(der).map(|(_, c)| c).map_err(|e| CaError::Malformed(e.to_string()))
}

/// Whether `cert_der` certifies `key` (same public point).
pub fn certifies(cert_der: &[u8], key: &Jwk) -> Result<bool, CaError> {
    let cert = parse_cert(cert_der)?;
    Ok(key.params.ec_point().is_some_and(|p| cert.public_key().subject_public_key.data.as_ref() == p.as_slice()))
}

/// RFC 5280 §4.2.1.10, DNS form: `c` permits itself and its subdomains.
fn dns_within(host: &str, c: &str) -> bool {
    let (host, c) = (host.to_ascii_lowercase(), c.to_ascii_lowercase());
    match c.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == c || host.ends_with(&format!(".{c}")),
    }
}

/// Whether the DNS subtrees permitted by `ca_der` (if any) cover `host`.
pub fn permits_host(ca_der: &[u8], host: &str) -> Result<bool, CaError> {
    let cert = parse_cert(ca_der)?;
    let Ok(Some(nc)) = cert.name_constraints() else { return Ok(true) };
    let Some(permitted) = &nc.value.permitted_subtrees else { return Ok(true) };
    let dns: Vec<&str> = permitted.iter().filter_map(|s| if let GeneralName::DNSName(d) = s.base { Some(d) } else { None }).collect();
    Ok(dns.is_empty() || dns.iter().any(|c| dns_within(host, c)))
}

/// A CA that issues: its certificate, the key that certificate certifies, and where its
/// CRL is published (written into the certificates it issues).
pub struct IssuingCa<'a> {
    cert_der: &'a [u8],
    key: &'a SoftwareSigner,
    crl_url: String,
}

impl<'a> IssuingCa<'a> {
    /// Checks that `cert_der` certifies `key`.
    pub fn new(cert_der: &'a [u8], key: &'a SoftwareSigner, crl_url: impl Into<String>) -> Result<Self, CaError> {
        if !certifies(cert_der, &key.public_jwk())? {
            return Err(CaError::KeyMismatch);
        }
        Ok(Self { cert_der, key, crl_url: crl_url.into() })
    }

    fn issuer(&self) -> Result<Issuer<'_, FederationKey<'a>>, CaError> {
        Ok(Issuer::from_ca_cert_der(&self.cert_der.into(), FederationKey::new(self.key))?)
    }

    /// The subject key identifier of the CA certificate (the CRL's AKI).
    fn ski(&self) -> Result<Vec<u8>, CaError> {
        let cert = parse_cert(self.cert_der)?;
        let ski = cert.extensions().iter().find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        });
        ski.ok_or_else(|| CaError::Malformed("no subject key identifier".into()))
    }
}

/// What a CA certificate is for.
#[derive(Debug, Clone)]
pub struct CaRequest<'a> {
    /// The entity.
    pub subject: &'a EntityId,
    /// Its Federation Entity Key (P-256).
    pub subject_key: &'a Jwk,
    /// BasicConstraints pathlen: 1 for an intermediate, 0 for a leaf (IT-Wallet 1.4 §1.2).
    pub path_len: u8,
    /// Domains permitted besides the entity's own host (an intermediate's subordinates live
    /// there): each is permitted as a DNS subtree, and for URIs as itself and `.domain`.
    pub extra_domains: &'a [String],
}

/// A CA certificate issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCa {
    /// DER.
    pub der: Vec<u8>,
    /// The serial, lowercase hex.
    pub serial: String,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
}

fn check_name(n: &str) -> Result<String, CaError> {
    let ok = !n.is_empty() && n.len() <= 253 && n.bytes().all(|b| b.is_ascii_graphic() && b != b'/' && b != b'@');
    if ok { Ok(n.to_ascii_lowercase()) } else { Err(CaError::BadName(n.to_owned())) }
}

/// The NameConstraints extension (2.5.29.30, critical) permitting `host` and `extra`
/// domains: `permittedSubtrees [0] SEQUENCE OF GeneralSubtree { base GeneralName }`, with
/// `dNSName [2]` and `uniformResourceIdentifier [6]` IA5Strings (implicit tags).
pub fn name_constraints(host: &str, extra: &[String]) -> Result<CustomExtension, CaError> {
    let subtree = |tag: u8, v: &str| tlv(0x30, &tlv(tag, v.as_bytes()));
    let mut subtrees = Vec::new();
    let host = check_name(host)?;
    subtrees.extend(subtree(0x82, &host));
    subtrees.extend(subtree(0x86, &host));
    for d in extra {
        let d = check_name(d.trim_start_matches('.'))?;
        subtrees.extend(subtree(0x82, &d));
        subtrees.extend(subtree(0x86, &d));
        subtrees.extend(subtree(0x86, &format!(".{d}")));
    }
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 30], tlv(0x30, &tlv(0xa0, &subtrees)));
    ext.set_criticality(true);
    Ok(ext)
}

/// A random positive serial of 16 bytes (RFC 5280 §4.1.2.2: at most 20), lowercase hex.
fn random_serial() -> Result<(SerialNumber, String), CaError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| CaError::Random)?;
    if let Some(first) = b.first_mut() {
        *first = (*first & 0x7f) | 0x40; // positive, no leading zero: the DER bytes are these
    }
    Ok((SerialNumber::from_slice(&b), hex(&b)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

/// Issues `req.subject`'s CA certificate under `ca` (IT-Wallet 1.4 §1.2).
pub fn issue_ca_certificate(ca: &IssuingCa<'_>, req: &CaRequest<'_>, now: i64) -> Result<IssuedCa, CaError> {
    let (point, host) = subject_within(ca, req.subject, req.subject_key)?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = name(req.subject.as_str());
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(req.path_len));
    // The certified key also signs the entity's statements; keyEncipherment, which §1.2
    // lists, is left out: RFC 5480 §3 forbids it for EC keys.
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.subject_alt_names = vec![uri(req.subject)?];
    p.custom_extensions = vec![name_constraints(&host, req.extra_domains)?];
    sign_under(ca, p, point, now, now + CA_VALIDITY_SECS)
}

/// The public point of `key` (P-256 only) and `subject`'s host, which `ca`'s name
/// constraints must permit: a certificate issued anyway would not validate.
fn subject_within(ca: &IssuingCa<'_>, subject: &EntityId, key: &Jwk) -> Result<(Vec<u8>, String), CaError> {
    let point = match &key.params {
        JwkParams::Ec { .. } => key.params.ec_point().ok_or_else(|| CaError::UnsupportedKey("this EC key".into()))?,
        other => return Err(CaError::UnsupportedKey(other.describe())),
    };
    let host = subject.host();
    if !permits_host(ca.cert_der, &host)? {
        return Err(CaError::OutsideNameConstraints { host });
    }
    Ok((point, host))
}

/// Signs `p` for the key at `point` under `ca`: a random serial, `ca`'s CRL Distribution
/// Point, AKI, valid from a minute before `now` to `not_after`.
fn sign_under(ca: &IssuingCa<'_>, mut p: CertificateParams, point: Vec<u8>, now: i64, not_after: i64) -> Result<IssuedCa, CaError> {
    let (serial, serial_hex) = random_serial()?;
    p.serial_number = Some(serial);
    p.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![ca.crl_url.clone()] }];
    p.use_authority_key_identifier_extension = true;
    p.not_before = time(now - 60)?;
    p.not_after = time(not_after)?;
    let der = p.signed_by(&PublicPoint(point), &ca.issuer()?)?.der().to_vec();
    Ok(IssuedCa { der, serial: serial_hex, not_after })
}

/// A revoked certificate for the CRL: serial (lowercase hex) and revocation time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// Serial, lowercase hex.
    pub serial: String,
    /// Unix seconds.
    pub revoked_at: i64,
}

/// The CRL (DER) of `ca` at `now`: RFC 5280 §5, v2, signed by the CA's key, AKI = the CA
/// certificate's SKI, CRL number = `now` in milliseconds (increases without shared state,
/// so replicas need no counter), valid [`CRL_VALIDITY_SECS`]. Entries are marked
/// cessationOfOperation: the entity left the federation.
pub fn crl(ca: &IssuingCa<'_>, revoked: &[Revoked], now_millis: i64) -> Result<Vec<u8>, CaError> {
    let now = now_millis.div_euclid(1000);
    let number: Vec<u8> = now_millis.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
    let revoked_certs = revoked
        .iter()
        .map(|r| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&unhex(&r.serial).ok_or_else(|| CaError::Malformed(format!("serial {}", r.serial)))?),
                revocation_time: time(r.revoked_at)?,
                reason_code: Some(RevocationReason::CessationOfOperation),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>, CaError>>()?;
    let params = CertificateRevocationListParams {
        this_update: time(now)?,
        next_update: time(now + CRL_VALIDITY_SECS)?,
        crl_number: SerialNumber::from_slice(&number),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::PreSpecified(ca.ski()?),
    };
    Ok(params.signed_by(&ca.issuer()?)?.der().to_vec())
}

/// base64 (standard, padded) as `x5c` carries DER.
pub fn x5c_entry(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// A short-lived protocol certificate for `protocol_key`, self-issued by `entity` under its
/// CA certificate (whose key is the entity's Federation Entity Key): the leaf of the `x5c`
/// an issuer or verifier puts in its credentials and request objects. Valid ≤ 24 h needs
/// no CRL (IT-Wallet 1.4 §1.2).
pub fn protocol_certificate(
    entity: &EntityId,
    entity_key: &SoftwareSigner,
    protocol_key: &Jwk,
    dns_name: &str,
    now: i64,
    ttl: i64,
) -> Result<Vec<u8>, CaError> {
    let point = protocol_key.params.ec_point().ok_or_else(|| CaError::UnsupportedKey(protocol_key.params.describe()))?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = name(&format!("{entity} protocol key"));
    p.subject_alt_names = vec![uri(entity)?, SanType::DnsName(dns_name.try_into()?)];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.not_before = time(now - 60)?;
    p.not_after = time(now.checked_add(ttl).ok_or(CaError::Time)?)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name = name(entity.as_str());
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let fk = FederationKey::new(entity_key);
    let issuer = Issuer::from_params(&ca, &fk);
    Ok(p.signed_by(&PublicPoint(point), &issuer)?.der().to_vec())
}

/// A short-lived protocol certificate for `protocol_key` under the CA certificate
/// `ca_cert_der` (which must certify `entity_key`), naming `san_uri` and `dns_name`: the
/// issuer name and key identifier are taken from the CA certificate itself.
pub fn protocol_certificate_under(
    ca_cert_der: &[u8],
    entity_key: &SoftwareSigner,
    protocol_key: &Jwk,
    san_uri: &str,
    dns_name: &str,
    now: i64,
    ttl: i64,
) -> Result<Vec<u8>, CaError> {
    let point = protocol_key.params.ec_point().ok_or_else(|| CaError::UnsupportedKey(protocol_key.params.describe()))?;
    let ca = IssuingCa::new(ca_cert_der, entity_key, String::new())?;
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = name(&format!("{san_uri} protocol key"));
    p.subject_alt_names = vec![SanType::URI(san_uri.try_into()?), SanType::DnsName(dns_name.try_into()?)];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.not_before = time(now - 60)?;
    p.not_after = time(now.checked_add(ttl).ok_or(CaError::Time)?)?;
    Ok(p.signed_by(&PublicPoint(point), &ca.issuer()?)?.der().to_vec())
}

/// A signing certificate issued by a leaf under its own CA certificate: DER, serial and
/// `notAfter`.
pub type IssuedSigning = IssuedCa;

/// A long-lived end-entity certificate for `key` (a credential issuer's signing key),
/// issued by `subject` under its own CA certificate `ca` (whose key is `subject`'s Federation
/// Entity Key): KeyUsage digitalSignature only, SAN URI = the entity id and DNS = its host
/// (IT-Wallet 1.4 §1.2, §4.1: the SD-JWT VC `x5c`), a random serial, and — since it lives
/// more than 24 h — a CRL Distribution Point at `ca`'s CRL (§1.2, WP_020). Valid from a
/// minute before `now` to `not_after`, cut to the CA certificate's own end: a certificate
/// outliving its issuer would not validate.
pub fn issue_signing_certificate(ca: &IssuingCa<'_>, subject: &EntityId, key: &Jwk, now: i64, not_after: i64) -> Result<IssuedSigning, CaError> {
    let (point, host) = subject_within(ca, subject, key)?;
    let ca_end = parse_cert(ca.cert_der)?.validity().not_after.timestamp();
    let not_after = not_after.min(ca_end);
    if not_after <= now {
        return Err(CaError::Time);
    }
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name = name(&format!("{subject} signing key"));
    p.subject_alt_names = vec![uri(subject)?, SanType::DnsName(host.as_str().try_into()?)];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    sign_under(ca, p, point, now, not_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_constraints_der_is_what_x509_parser_reads() {
        let ext = name_constraints("issuer.example.it", &["example.org".into()]).unwrap();
        assert!(ext.criticality());
        let (_, nc) = x509_parser::extensions::NameConstraints::from_der(ext.content()).unwrap();
        let names: Vec<String> = nc.permitted_subtrees.unwrap().iter().map(|s| format!("{}", s.base)).collect();
        assert_eq!(
            names,
            ["DNSName(issuer.example.it)", "URI(issuer.example.it)", "DNSName(example.org)", "URI(example.org)", "URI(.example.org)"]
        );
        assert!(nc.excluded_subtrees.is_none());
    }

    /// A wallet takes the federation root from the anchor (`GET /ca`) only when it is
    /// self-issued with one of the anchor's keys (wallet-core `TrustAnchors::anchor_root`):
    /// the root this module makes is; another key's root, or a subordinate's CA certificate
    /// (issued by the root, not self-issued), is not.
    #[test]
    fn the_root_is_taken_from_the_anchor_only_with_the_anchors_key() {
        use wallet_core::jose::JwkSet;
        use wallet_core::x509::{TrustAnchors, X509Error};
        let now = 1_800_000_000;
        let ta = EntityId::new("https://ta.example.it").unwrap();
        let (ta_key, other, sub_key) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let root = root_certificate(&ta, &ta_key, now).unwrap();
        let keys = JwkSet { keys: vec![other.public_jwk(), ta_key.public_jwk()] };
        assert_eq!(TrustAnchors::anchor_root(root.clone(), &keys).unwrap().len(), 1);
        let not_ours = JwkSet { keys: vec![other.public_jwk()] };
        assert!(matches!(TrustAnchors::anchor_root(root.clone(), &not_ours), Err(X509Error::NotTheAnchorsRoot)));
        let root_ca = IssuingCa::new(&root, &ta_key, "https://ta.example.it/crl").unwrap();
        let sub = EntityId::new("https://issuer.example.it").unwrap();
        let req = CaRequest { subject: &sub, subject_key: &sub_key.public_jwk(), path_len: 0, extra_domains: &[] };
        let sub_ca = issue_ca_certificate(&root_ca, &req, now).unwrap();
        let sub_keys = JwkSet { keys: vec![sub_key.public_jwk()] };
        assert!(matches!(TrustAnchors::anchor_root(sub_ca.der, &sub_keys), Err(X509Error::NotTheAnchorsRoot)));
        assert!(matches!(TrustAnchors::anchor_root(b"not a certificate".to_vec(), &keys), Err(X509Error::Malformed { .. })));
    }

    /// A leaf's signing certificate: under its CA certificate, cut to that certificate's end,
    /// validating to the root; not for another host, not ending before it starts.
    #[test]
    fn a_signing_certificate_is_cut_to_its_ca_and_validates_to_the_root() {
        let now = 1_800_000_000;
        let (ta, leaf) = (EntityId::new("https://ta.example.it").unwrap(), EntityId::new("https://issuer.example.it/x").unwrap());
        let (ta_key, leaf_key, credential_key) = (SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap(), SoftwareSigner::generate().unwrap());
        let root = root_certificate(&ta, &ta_key, now).unwrap();
        let root_ca = IssuingCa::new(&root, &ta_key, "https://ta.example.it/crl").unwrap();
        let req = CaRequest { subject: &leaf, subject_key: &leaf_key.public_jwk(), path_len: 0, extra_domains: &[] };
        let leaf_ca = issue_ca_certificate(&root_ca, &req, now).unwrap();
        assert_eq!(leaf_ca.not_after, now + CA_VALIDITY_SECS);
        let ca = IssuingCa::new(&leaf_ca.der, &leaf_key, "https://issuer.example.it/x/crl").unwrap();
        let c = issue_signing_certificate(&ca, &leaf, &credential_key.public_jwk(), now, now + 10 * 365 * 86_400).unwrap();
        assert_eq!(c.not_after, leaf_ca.not_after, "not beyond its CA certificate");
        let cert = parse_cert(&c.der).unwrap();
        assert!(cert.basic_constraints().unwrap().is_none(), "an end-entity certificate");
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign() && !ku.crl_sign());
        let anchors = wallet_core::x509::TrustAnchors::from_der(vec![root]).unwrap();
        let x5c = vec![x5c_entry(&c.der), x5c_entry(&leaf_ca.der)];
        let v = anchors.verify_chain(&x5c, wallet_core::time::UnixTime(now + 300 * 86_400)).unwrap();
        assert_eq!(v.leaf_key.thumbprint(), credential_key.public_jwk().thumbprint());
        let short = issue_signing_certificate(&ca, &leaf, &credential_key.public_jwk(), now, now + 3_600).unwrap();
        assert_eq!(short.not_after, now + 3_600);
        assert_ne!(short.serial, c.serial);
        let elsewhere = EntityId::new("https://evil.example.org").unwrap();
        assert!(matches!(issue_signing_certificate(&ca, &elsewhere, &credential_key.public_jwk(), now, now + 3_600), Err(CaError::OutsideNameConstraints { .. })));
        assert!(matches!(issue_signing_certificate(&ca, &leaf, &credential_key.public_jwk(), now, now), Err(CaError::Time)));
    }

    #[test]
    fn long_lengths_use_the_long_form() {
        let v = tlv(0x04, &[7u8; 300]);
        assert_eq!(v.get(..4), Some(&[0x04, 0x82, 0x01, 0x2c][..]));
        assert_eq!(v.len(), 304);
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(matches!(name_constraints("a b", &[]), Err(CaError::BadName(_))));
        assert!(matches!(name_constraints("ok.example", &["".into()]), Err(CaError::BadName(_))));
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(unhex(&hex(&[0x40, 0x01, 0xff])), Some(vec![0x40, 0x01, 0xff]));
        assert_eq!(unhex("abc"), None);
    }
}
