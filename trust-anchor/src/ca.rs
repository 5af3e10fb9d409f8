//! The trust anchor as the federation's X.509 root CA (IT-Wallet 1.4 §1.2): a self-signed
//! root over its Federation Entity Key, and, for each subordinate it onboards, that entity's
//! CA certificate (BasicConstraints pathlen 1 for intermediates, 0 for leaves; KeyUsage
//! keyCertSign + cRLSign; NameConstraints on the entity's host; SKI/AKI; SAN URI = entity id),
//! carried in the `x5c` of the key pinned in the Subordinate Statement.
//!
//! Our choice: rcgen cannot express URI name constraints, so the constraint is the entity's
//! host as a DNS subtree; wallet-core's validator applies DNS subtrees to SAN DNS names and
//! URI subtrees to the host of SAN URIs.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, GeneralSubtree, IsCa, Issuer, KeyUsagePurpose, NameConstraints,
    PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SignatureAlgorithm, SigningKey,
};
use wallet_core::federation::EntityId;
use wallet_core::jose::{Jwk, JwkParams, Signer as _, SoftwareSigner};

/// Validity of issued CA certificates.
const CA_VALIDITY_SECS: i64 = 365 * 86_400;

/// Our Federation Entity Key as rcgen's signing key (ECDSA P-256, DER signatures).
struct FederationKey<'a> {
    signer: &'a SoftwareSigner,
    point: Vec<u8>,
}

impl PublicKeyData for FederationKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// An ECDSA signature `r || s` as the DER `ECDSA-Sig-Value` X.509 uses.
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn int(v: &[u8]) -> Vec<u8> {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x02];
        let pad = v.first().is_none_or(|b| b & 0x80 != 0);
        out.push(u8::try_from(v.len() + usize::from(pad)).unwrap_or(0));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(&v);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap_or(0)];
    out.extend_from_slice(&body);
    out
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

fn time(secs: i64) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| e.to_string())
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn root_params(anchor: &EntityId, now: i64) -> Result<CertificateParams, String> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    p.distinguished_name = name(&format!("{anchor} federation root"));
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.subject_alt_names = vec![SanType::URI(anchor.as_str().try_into().map_err(|e: rcgen::Error| e.to_string())?)];
    p.not_before = time(now - 60)?;
    p.not_after = time(now + 10 * 365 * 86_400)?;
    Ok(p)
}

/// The root certificate (DER) of a trust anchor, self-signed with its current key.
pub fn root_certificate(anchor: &EntityId, key: &SoftwareSigner, now: i64) -> Result<Vec<u8>, String> {
    let fk = FederationKey { signer: key, point: key.public_jwk().params.ec_point().unwrap_or_default() };
    Ok(root_params(anchor, now)?.self_signed(&fk).map_err(|e| e.to_string())?.der().to_vec())
}

/// The CA certificate (DER) of `subject` for its key `subject_key`, issued by the trust
/// anchor's root.
pub fn subordinate_ca_certificate(
    anchor: &EntityId,
    anchor_key: &SoftwareSigner,
    subject: &EntityId,
    subject_key: &Jwk,
    intermediate: bool,
    now: i64,
) -> Result<Vec<u8>, String> {
    let point = match &subject_key.params {
        JwkParams::Ec { .. } => subject_key.params.ec_point().unwrap_or_default(),
        other => return Err(format!("CA certificates are issued for P-256 keys, not {}", other.describe())),
    };
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    p.distinguished_name = name(subject.as_str());
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(if intermediate { 1 } else { 0 }));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.subject_alt_names = vec![SanType::URI(subject.as_str().try_into().map_err(|e: rcgen::Error| e.to_string())?)];
    p.name_constraints = Some(NameConstraints { permitted_subtrees: vec![GeneralSubtree::DnsName(subject.host())], excluded_subtrees: vec![] });
    p.use_authority_key_identifier_extension = true;
    p.not_before = time(now - 60)?;
    p.not_after = time(now + CA_VALIDITY_SECS)?;
    let fk = FederationKey { signer: anchor_key, point: anchor_key.public_jwk().params.ec_point().unwrap_or_default() };
    let root = root_params(anchor, now)?;
    let issuer = Issuer::from_params(&root, &fk);
    Ok(p.signed_by(&PublicPoint(point), &issuer).map_err(|e| e.to_string())?.der().to_vec())
}

/// base64 (standard, padded) as `x5c` carries DER.
pub fn x5c_entry(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// A short-lived protocol certificate for `protocol_key`, self-issued by `entity` under its
/// CA certificate (whose key is the entity's Federation Entity Key): the leaf of the `x5c`
/// an issuer or verifier puts in its credentials and request objects.
pub fn protocol_certificate(
    entity: &EntityId,
    entity_key: &SoftwareSigner,
    protocol_key: &Jwk,
    dns_name: &str,
    now: i64,
    ttl: i64,
) -> Result<Vec<u8>, String> {
    let point = protocol_key.params.ec_point().ok_or("protocol keys are EC P-256")?;
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    p.distinguished_name = name(&format!("{entity} protocol key"));
    p.subject_alt_names = vec![
        SanType::URI(entity.as_str().try_into().map_err(|e: rcgen::Error| e.to_string())?),
        SanType::DnsName(dns_name.try_into().map_err(|e: rcgen::Error| e.to_string())?),
    ];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.not_before = time(now - 60)?;
    p.not_after = time(now + ttl)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    ca.distinguished_name = name(entity.as_str());
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let fk = FederationKey { signer: entity_key, point: entity_key.public_jwk().params.ec_point().unwrap_or_default() };
    let issuer = Issuer::from_params(&ca, &fk);
    Ok(p.signed_by(&PublicPoint(point), &issuer).map_err(|e| e.to_string())?.der().to_vec())
}
