//! X.509 `x5c` chains (IT-Wallet 1.4 §1.2 and `x5c-evaluation.rst`): every federation
//! entity holds a CA certificate issued by the trust anchor, with NameConstraints on its own
//! names, and signs protocol certificates under it. A JWS's `x5c` (base64 DER, leaf first) is
//! accepted when it chains to a configured root with valid signatures, validity periods,
//! CA basic constraints and path lengths, key usage, and name constraints.
//!
//! Signatures are checked with our own JOSE backend (no `ring`, no OpenSSL).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use base64::Engine as _;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::time::ASN1Time;

use crate::jose::{EcCurve, JoseError, Jwk, JwkParams, JwkSet, JwsAlg, JwsHeader};
use crate::sd_jwt::{IssuerKeyResolver, KeyResolutionError};
use crate::time::UnixTime;

pub mod crl;

/// At most this many certificates in a chain.
pub const MAX_CHAIN_LEN: usize = 10;
/// At most this many bytes per certificate.
pub const MAX_CERT_LEN: usize = 64 * 1024;

/// Why a chain was refused. `index` counts from the leaf (0); the root is `len`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum X509Error {
    /// `x5c` is empty.
    #[error("empty certificate chain")]
    Empty,
    /// More certificates than [`MAX_CHAIN_LEN`].
    #[error("certificate chain longer than {MAX_CHAIN_LEN}")]
    ChainTooLong,
    /// A certificate cannot be decoded.
    #[error("certificate {index} malformed: {detail}")]
    Malformed {
        /// Position.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A certificate's issuer name is not the next certificate's subject.
    #[error("certificate {index} was not issued by the next certificate in the chain")]
    IssuerMismatch {
        /// Position.
        index: usize,
    },
    /// A signature does not verify with the issuer's key.
    #[error("signature of certificate {index} invalid")]
    BadSignature {
        /// Position.
        index: usize,
    },
    /// A signature algorithm or key type we do not accept.
    #[error("certificate {index}: unsupported algorithm {alg}")]
    UnsupportedAlgorithm {
        /// Position.
        index: usize,
        /// The OID.
        alg: String,
    },
    /// Outside its validity period.
    #[error("certificate {index} is not valid at {now} (expired or not yet valid)")]
    NotValidNow {
        /// Position.
        index: usize,
        /// The time of the check.
        now: i64,
    },
    /// An issuing certificate is not a CA (BasicConstraints).
    #[error("certificate {index} issues certificates but is not a CA")]
    NotCa {
        /// Position.
        index: usize,
    },
    /// A CA certificate's pathLenConstraint is exceeded.
    #[error("certificate {index}: path length constraint {max} exceeded")]
    PathLenExceeded {
        /// Position.
        index: usize,
        /// The constraint.
        max: u32,
    },
    /// An issuing certificate's KeyUsage lacks keyCertSign.
    #[error("certificate {index} may not sign certificates (KeyUsage)")]
    KeyUsage {
        /// Position.
        index: usize,
    },
    /// A name is outside a CA's permitted subtrees or inside its excluded ones.
    #[error("name `{name}` violates the name constraints of certificate {index}")]
    NameConstraintViolation {
        /// The offending name.
        name: String,
        /// The constraining CA.
        index: usize,
    },
    /// A critical extension we do not understand.
    #[error("certificate {index} has an unsupported critical extension {oid}")]
    UnsupportedCriticalExtension {
        /// Position.
        index: usize,
        /// The OID.
        oid: String,
    },
    /// The chain does not end at a configured root.
    #[error("chain does not lead to a trusted root")]
    UntrustedRoot,
    /// A root offered as a trust anchor's is not self-issued with one of its keys.
    #[error("the root certificate is not self-issued with a key of the trust anchor")]
    NotTheAnchorsRoot,
}

struct Root {
    der: Vec<u8>,
}

/// The configured roots (the trust anchor's CA certificate), and the chains verified to them
/// lately ([`TrustAnchors::verify_chain`] remembers them).
#[derive(Default)]
pub struct TrustAnchors {
    roots: Vec<Root>,
    verified: Mutex<HashMap<[u8; 32], Remembered>>,
}

/// A chain verified to these roots, and the time span in which every certificate of it (and
/// every root) is valid: verifying the same bytes at any time in it gives the same result.
struct Remembered {
    chain: VerifiedChain,
    from: i64,
    until: i64,
}

/// Distinct chains remembered at most (a few per issuer: one per certificate renewal).
const REMEMBERED_CHAINS: usize = 1_024;

impl std::fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TrustAnchors({} roots)", self.roots.len())
    }
}

/// A chain that verified: the leaf's key and names.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedChain {
    /// The leaf's public key.
    pub leaf_key: Jwk,
    /// SAN URIs of the leaf.
    pub san_uris: Vec<String>,
    /// SAN DNS names of the leaf.
    pub san_dns: Vec<String>,
    /// The certificates of the chain that name a CRL, each with what checking it takes
    /// ([`crl::CrlCache::check`]); empty when none does (short-lived protocol certificates
    /// carry no CRL Distribution Point: IT-Wallet 1.4 §1.2).
    pub revocation: Vec<crl::RevocationPoint>,
    /// The `keyIdentifier` of the AuthorityKeyIdentifier (RFC 5280 §4.2.1.1) of each
    /// certificate of the verified chain that has one, leaf first (the configured root's
    /// copy when the chain is the root alone): what a DCQL `aki` Trusted Authorities Query
    /// matches (OpenID4VP 1.0 §6.1.1).
    pub authority_key_ids: Vec<Vec<u8>>,
}

/// The `keyIdentifier` of a certificate's AuthorityKeyIdentifier extension (RFC 5280
/// §4.2.1.1), when it has one.
pub fn authority_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref().map(|k| k.0.to_vec()),
        _ => None,
    })
}

/// The AKI `keyIdentifier`s ([`authority_key_id`]) of an `x5c` (base64 DER, leaf first),
/// read without verifying anything (a wallet looking at its own stored credential);
/// `None` when a certificate does not decode.
pub fn x5c_authority_key_ids(x5c: &[String]) -> Option<Vec<Vec<u8>>> {
    if x5c.len() > MAX_CHAIN_LEN {
        return None;
    }
    let mut out = Vec::new();
    for (i, c) in x5c.iter().enumerate() {
        let der = base64::engine::general_purpose::STANDARD.decode(c.trim()).ok()?;
        let cert = parse(&der, i).ok()?;
        out.extend(authority_key_id(&cert));
    }
    Some(out)
}

fn parse(der: &[u8], index: usize) -> Result<X509Certificate<'_>, X509Error> {
    let malformed = |detail: String| X509Error::Malformed { index, detail };
    if der.len() > MAX_CERT_LEN {
        return Err(malformed("certificate too large".into()));
    }
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(malformed("trailing bytes after the certificate".into()));
    }
    Ok(cert)
}

/// The certificate's public key as a JWK.
pub fn public_key(cert: &X509Certificate<'_>, index: usize) -> Result<Jwk, X509Error> {
    let spki = cert.public_key();
    let alg_oid = spki.algorithm.algorithm.to_id_string();
    let unsupported = || X509Error::UnsupportedAlgorithm { index, alg: alg_oid.clone() };
    let key_bytes: &[u8] = spki.subject_public_key.data.as_ref();
    match alg_oid.as_str() {
        "1.2.840.10045.2.1" => {
            let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
            let crv = match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => EcCurve::P256,
                Some("1.3.132.0.34") => EcCurve::P384,
                Some("1.3.132.0.35") => EcCurve::P521,
                _ => return Err(unsupported()),
            };
            let n = crv.coordinate_len();
            match key_bytes.split_first() {
                Some((0x04, xy)) if xy.len() == 2 * n => {
                    let (x, y) = xy.split_at(n);
                    Jwk::ec(crv, x.to_vec(), y.to_vec()).map_err(|e| X509Error::Malformed { index, detail: e.to_string() })
                }
                _ => Err(X509Error::Malformed { index, detail: "EC key is not an uncompressed point".into() }),
            }
        }
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => {
                let strip = |b: &[u8]| b.iter().skip_while(|x| **x == 0).copied().collect::<Vec<u8>>();
                Ok(Jwk::new(JwkParams::Rsa { n: strip(k.modulus), e: strip(k.exponent) }))
            }
            _ => Err(X509Error::Malformed { index, detail: "bad RSA key".into() }),
        },
        "1.3.101.112" if key_bytes.len() == 32 => Ok(Jwk::new(JwkParams::Ed25519 { x: key_bytes.to_vec() })),
        _ => Err(unsupported()),
    }
}

/// ECDSA-Sig-Value (DER SEQUENCE of two INTEGERs) to the JWS form `r || s`.
fn ecdsa_der_to_raw(der: &[u8], n: usize) -> Option<Vec<u8>> {
    fn take_int(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if tag != 0x02 || len >= 0x80 {
            return None;
        }
        rest.split_at_checked(usize::from(len))
    }
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (len, body) = match rest.split_first()? {
        (&l, b) if l < 0x80 => (usize::from(l), b),
        (&0x81, b) => {
            let (&l, b) = b.split_first()?;
            (usize::from(l), b)
        }
        _ => return None,
    };
    if body.len() != len {
        return None;
    }
    let (r, rest) = take_int(body)?;
    let (s, rest) = take_int(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let mut out = vec![0u8; 2 * n];
    for (i, v) in [r, s].into_iter().enumerate() {
        let v: Vec<u8> = v.iter().skip_while(|b| **b == 0).copied().collect();
        if v.len() > n {
            return None;
        }
        let start = i * n + (n - v.len());
        out.get_mut(start..start + v.len())?.copy_from_slice(&v);
    }
    Some(out)
}

fn verify_signed_by(cert: &X509Certificate<'_>, issuer_key: &Jwk, index: usize) -> Result<(), X509Error> {
    verify_signature(cert.tbs_certificate.as_ref(), &cert.signature_algorithm, cert.signature_value.data.as_ref(), issuer_key, index)
}

/// An X.509 signature (of a certificate or a CRL: the same algorithms) over `tbs`.
fn verify_signature(
    tbs: &[u8],
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
    sig: &[u8],
    issuer_key: &Jwk,
    index: usize,
) -> Result<(), X509Error> {
    let oid = algorithm.algorithm.to_id_string();
    let (alg, sig) = match oid.as_str() {
        "1.2.840.10045.4.3.2" => (JwsAlg::Es256, ecdsa_der_to_raw(sig, 32)),
        "1.2.840.10045.4.3.3" => (JwsAlg::Es384, ecdsa_der_to_raw(sig, 48)),
        "1.2.840.10045.4.3.4" => (JwsAlg::Es512, ecdsa_der_to_raw(sig, 66)),
        "1.2.840.113549.1.1.11" => (JwsAlg::Rs256, Some(sig.to_vec())),
        "1.2.840.113549.1.1.12" => (JwsAlg::Rs384, Some(sig.to_vec())),
        "1.2.840.113549.1.1.13" => (JwsAlg::Rs512, Some(sig.to_vec())),
        "1.3.101.112" => (JwsAlg::EdDsa, Some(sig.to_vec())),
        _ => return Err(X509Error::UnsupportedAlgorithm { index, alg: oid }),
    };
    let sig = sig.ok_or(X509Error::BadSignature { index })?;
    match issuer_key.verify(alg, tbs, &sig) {
        Ok(()) => Ok(()),
        Err(JoseError::KeyAlgMismatch { .. }) => Err(X509Error::UnsupportedAlgorithm { index, alg: oid }),
        Err(_) => Err(X509Error::BadSignature { index }),
    }
}

/// Extensions this validator understands; any other critical one makes the chain invalid.
const KNOWN_CRITICAL: [&str; 7] = [
    "2.5.29.19", // basicConstraints
    "2.5.29.15", // keyUsage
    "2.5.29.37", // extKeyUsage
    "2.5.29.17", // subjectAltName
    "2.5.29.30", // nameConstraints
    "2.5.29.35", // authorityKeyIdentifier
    "2.5.29.14", // subjectKeyIdentifier
];

fn check_extensions(cert: &X509Certificate<'_>, index: usize) -> Result<(), X509Error> {
    for ext in cert.extensions() {
        let oid = ext.oid.to_id_string();
        if ext.critical && !KNOWN_CRITICAL.contains(&oid.as_str()) {
            return Err(X509Error::UnsupportedCriticalExtension { index, oid });
        }
        if let ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. } = ext.parsed_extension()
            && ext.critical {
                return Err(X509Error::UnsupportedCriticalExtension { index, oid });
            }
    }
    Ok(())
}

fn sans(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    let mut uris = Vec::new();
    let mut dns = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::URI(u) => uris.push((*u).to_owned()),
                GeneralName::DNSName(d) => dns.push((*d).to_ascii_lowercase()),
                _ => {}
            }
        }
    }
    (uris, dns)
}

/// The host of an `https://host[:port]/...` URI, lowercased.
pub fn uri_host(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') { host } else { host.split(':').next().unwrap_or(host) };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// RFC 5280 §4.2.1.10 for DNS names: `example.com` permits itself and its subdomains;
/// a constraint starting with `.` permits subdomains only (as for URIs).
fn dns_within(name: &str, constraint: &str) -> bool {
    let c = constraint.to_ascii_lowercase();
    if let Some(suffix) = c.strip_prefix('.') {
        return name.ends_with(&format!(".{suffix}"));
    }
    name == c || name.ends_with(&format!(".{c}"))
}

/// RFC 5280 §4.2.1.10 for URIs: the constraint applies to the host; `host` matches exactly,
/// `.domain` matches any subdomain.
fn uri_host_within(host: &str, constraint: &str) -> bool {
    let c = constraint.to_ascii_lowercase();
    match c.strip_prefix('.') {
        Some(suffix) => host.ends_with(&format!(".{suffix}")),
        None => host == c,
    }
}

fn check_name_constraints(ca: &X509Certificate<'_>, ca_index: usize, uris: &[String], dns: &[String]) -> Result<(), X509Error> {
    let Ok(Some(nc)) = ca.name_constraints() else { return Ok(()) };
    let hosts: Vec<(String, String)> = uris.iter().map(|u| (u.clone(), uri_host(u).unwrap_or_default())).collect();
    let violation = |name: &str| X509Error::NameConstraintViolation { name: name.to_owned(), index: ca_index };
    if let Some(permitted) = &nc.value.permitted_subtrees {
        let p_dns: Vec<&str> = permitted.iter().filter_map(|s| if let GeneralName::DNSName(d) = s.base { Some(d) } else { None }).collect();
        let p_uri: Vec<&str> = permitted.iter().filter_map(|s| if let GeneralName::URI(u) = s.base { Some(u) } else { None }).collect();
        if !p_dns.is_empty()
            && let Some(bad) = dns.iter().find(|d| !p_dns.iter().any(|c| dns_within(d, c))) {
                return Err(violation(bad));
            }
        if !p_uri.is_empty()
            && let Some((bad, _)) = hosts.iter().find(|(_, h)| !p_uri.iter().any(|c| uri_host_within(h, c))) {
                return Err(violation(bad));
            }
    }
    if let Some(excluded) = &nc.value.excluded_subtrees {
        for s in excluded {
            match s.base {
                GeneralName::DNSName(c) => {
                    if let Some(bad) = dns.iter().find(|d| dns_within(d, c)) {
                        return Err(violation(bad));
                    }
                }
                GeneralName::URI(c) => {
                    if let Some((bad, _)) = hosts.iter().find(|(_, h)| uri_host_within(h, c)) {
                        return Err(violation(bad));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn check_ca(cert: &X509Certificate<'_>, index: usize, cas_below: usize) -> Result<(), X509Error> {
    let bc = cert.basic_constraints().ok().flatten().ok_or(X509Error::NotCa { index })?;
    if !bc.value.ca {
        return Err(X509Error::NotCa { index });
    }
    if let Some(max) = bc.value.path_len_constraint
        && cas_below > max as usize {
            return Err(X509Error::PathLenExceeded { index, max });
        }
    if let Ok(Some(ku)) = cert.key_usage()
        && !ku.value.key_cert_sign() {
            return Err(X509Error::KeyUsage { index });
        }
    Ok(())
}

/// A DER certificate as PEM (`CERTIFICATE`, 64 base64 characters a line): what
/// [`TrustAnchors::from_pem`] reads and an operator's `x509_roots` files hold.
pub fn certificate_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::with_capacity(b64.len() + b64.len() / 64 + 60);
    pem.push_str("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

impl TrustAnchors {
    /// Roots from DER certificates (each is checked to parse).
    pub fn from_der(ders: Vec<Vec<u8>>) -> Result<Self, X509Error> {
        for (i, d) in ders.iter().enumerate() {
            parse(d, i)?;
        }
        Ok(Self { roots: ders.into_iter().map(|der| Root { der }).collect(), verified: Mutex::default() })
    }

    /// A trust anchor's root (DER), accepted only when it is self-issued and self-signed
    /// with one of `anchor_keys`, the anchor's Federation Entity Keys (pinned, or from its
    /// validated configuration): our federation's root CA certifies the anchor's own key
    /// (trust-anchor `ca::root_certificate`, IT-Wallet 1.4 §1.2), so whoever trusts the
    /// anchor's keys can take its root from it (`GET <anchor>/ca`) without another channel.
    pub fn anchor_root(der: Vec<u8>, anchor_keys: &JwkSet) -> Result<Self, X509Error> {
        {
            let cert = parse(&der, 0)?;
            if cert.subject().as_raw() != cert.issuer().as_raw() {
                return Err(X509Error::NotTheAnchorsRoot);
            }
            let key = public_key(&cert, 0)?;
            let tp = key.thumbprint();
            if !anchor_keys.keys.iter().any(|k| k.thumbprint() == tp) {
                return Err(X509Error::NotTheAnchorsRoot);
            }
            verify_signed_by(&cert, &key, 0)?;
        }
        Self::from_der(vec![der])
    }

    /// Adds `other`'s roots.
    pub fn extend(&mut self, other: TrustAnchors) {
        self.roots.extend(other.roots);
        self.verified.get_mut().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// How many roots.
    pub fn len(&self) -> usize {
        self.roots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// Each root's subject as text, for an operator's view of what is trusted (the
    /// verifier's in-person page); a root that no longer parses reads `?`.
    pub fn subjects(&self) -> Vec<String> {
        self.roots.iter().map(|r| X509Certificate::from_der(&r.der).map_or_else(|_| "?".to_owned(), |(_, c)| c.subject().to_string())).collect()
    }

    /// Roots from PEM text (one or more `CERTIFICATE` blocks).
    pub fn from_pem(pem: &str) -> Result<Self, X509Error> {
        let mut ders = Vec::new();
        for block in pem.split("-----BEGIN CERTIFICATE-----").skip(1) {
            let body = block.split("-----END CERTIFICATE-----").next().unwrap_or_default();
            let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| X509Error::Malformed { index: ders.len(), detail: e.to_string() })?;
            ders.push(der);
        }
        Self::from_der(ders)
    }

    /// Verifies `x5c` (base64 DER, leaf first) at `now`.
    ///
    /// A chain that verified is remembered by its bytes until the first of its certificates
    /// (or of the roots) expires: the signatures, names and constraints do not change, and
    /// the validity periods are the only thing `now` is checked against, so the same bytes
    /// inside that span verify the same. Every SD-JWT VC of an issuer carries the same `x5c`
    /// (IT-Wallet 1.4 §4.1), so a verifier checks its signatures once per certificate, not
    /// once per presentation (two ES256 verifies a credential). Failures are not remembered;
    /// revocation is not part of this (the CRLs are checked at each use: [`crl::CrlCache`]).
    pub fn verify_chain(&self, x5c: &[String], now: UnixTime) -> Result<VerifiedChain, X509Error> {
        let key = {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            for c in x5c {
                h.update(u64::try_from(c.len()).unwrap_or(u64::MAX).to_be_bytes());
                h.update(c.as_bytes());
            }
            <[u8; 32]>::from(h.finalize())
        };
        {
            let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(r) = verified.get(&key)
                && r.from <= now.secs()
                && now.secs() < r.until
            {
                return Ok(r.chain.clone());
            }
        }
        let chain = self.verify_uncached(x5c, now)?;
        if let Some((from, until)) = self.valid_span(x5c) {
            let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            if verified.len() >= REMEMBERED_CHAINS {
                verified.retain(|_, r| now.secs() < r.until);
                if verified.len() >= REMEMBERED_CHAINS {
                    verified.clear();
                }
            }
            verified.insert(key, Remembered { chain: chain.clone(), from, until });
        }
        Ok(chain)
    }

    /// The span in which every certificate of `x5c` and every root is valid (latest
    /// notBefore, earliest notAfter); `None` when one does not parse.
    fn valid_span(&self, x5c: &[String]) -> Option<(i64, i64)> {
        let mut span = (i64::MIN, i64::MAX);
        let ders = x5c.iter().map(|s| base64::engine::general_purpose::STANDARD.decode(s.trim()).ok());
        for der in ders.chain(self.roots.iter().map(|r| Some(r.der.clone()))) {
            let der = der?;
            let cert = parse(&der, 0).ok()?;
            span.0 = span.0.max(cert.validity().not_before.timestamp());
            span.1 = span.1.min(cert.validity().not_after.timestamp());
        }
        Some(span)
    }

    /// How many verified chains are remembered.
    pub fn remembered(&self) -> usize {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn verify_uncached(&self, x5c: &[String], now: UnixTime) -> Result<VerifiedChain, X509Error> {
        if x5c.is_empty() {
            return Err(X509Error::Empty);
        }
        if x5c.len() > MAX_CHAIN_LEN {
            return Err(X509Error::ChainTooLong);
        }
        let ders = x5c
            .iter()
            .enumerate()
            .map(|(i, s)| {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| X509Error::Malformed { index: i, detail: "not base64".into() })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The chain may end with the root itself: drop it, the configured copy is used.
        let mut ders = ders;
        if ders.len() > 1 && ders.last().is_some_and(|l| self.roots.iter().any(|r| &r.der == l)) {
            ders.pop();
        }
        let certs = ders.iter().enumerate().map(|(i, d)| parse(d, i)).collect::<Result<Vec<_>, _>>()?;
        let time = ASN1Time::from_timestamp(now.secs()).map_err(|e| X509Error::Malformed { index: 0, detail: e.to_string() })?;
        let (san_uris, san_dns) = certs.first().map(sans).unwrap_or_default();
        let mut revocation = Vec::new();

        for (i, cert) in certs.iter().enumerate() {
            check_extensions(cert, i)?;
            if !cert.validity().is_valid_at(time) {
                return Err(X509Error::NotValidNow { index: i, now: now.secs() });
            }
            if i > 0 {
                check_ca(cert, i, i - 1)?;
                check_name_constraints(cert, i, &san_uris, &san_dns)?;
            }
            if let Some(issuer) = certs.get(i + 1) {
                if cert.issuer().as_raw() != issuer.subject().as_raw() {
                    return Err(X509Error::IssuerMismatch { index: i });
                }
                let issuer_key = public_key(issuer, i + 1)?;
                verify_signed_by(cert, &issuer_key, i)?;
                revocation.extend(crl::RevocationPoint::of(cert, i, issuer_key));
            }
        }
        // The top of the chain must be issued by one of the roots.
        let top_index = certs.len().saturating_sub(1);
        let top = certs.last().ok_or(X509Error::Empty)?;
        let root_index = certs.len();
        for root in &self.roots {
            let Ok(rc) = parse(&root.der, root_index) else { continue };
            if &root.der == ders.last().unwrap_or(&Vec::new()) && certs.len() == 1 {
                // The leaf is the root itself (a self-signed trust anchor key).
                return Ok(VerifiedChain { leaf_key: public_key(&rc, 0)?, san_uris, san_dns, revocation: Vec::new(), authority_key_ids: authority_key_id(&rc).into_iter().collect() });
            }
            if top.issuer().as_raw() != rc.subject().as_raw() {
                continue;
            }
            let root_key = public_key(&rc, root_index)?;
            if verify_signed_by(top, &root_key, top_index).is_err() {
                continue;
            }
            if !rc.validity().is_valid_at(time) {
                return Err(X509Error::NotValidNow { index: root_index, now: now.secs() });
            }
            check_ca(&rc, root_index, certs.len().saturating_sub(1))?;
            check_name_constraints(&rc, root_index, &san_uris, &san_dns)?;
            revocation.extend(crl::RevocationPoint::of(top, top_index, root_key));
            let leaf = certs.first().ok_or(X509Error::Empty)?;
            let authority_key_ids = certs.iter().filter_map(authority_key_id).collect();
            return Ok(VerifiedChain { leaf_key: public_key(leaf, 0)?, san_uris, san_dns, revocation, authority_key_ids });
        }
        Err(X509Error::UntrustedRoot)
    }
}

/// Resolves an issuer's key from the JWS `x5c` header, trusting the chain's roots.
///
/// The key is bound to `iss` when the leaf certificate names it: a SAN URI equal to `iss`,
/// or a SAN DNS name equal to the host of `iss` (IT-Wallet `x5c-evaluation.rst` asks the
/// certificate to identify the entity; we accept either form, as deployed certificates
/// carry one or the other).
#[derive(Debug)]
pub struct X5cResolver {
    anchors: TrustAnchors,
}

impl X5cResolver {
    /// Trusts chains to `anchors`.
    pub fn new(anchors: TrustAnchors) -> Self {
        Self { anchors }
    }
}

impl IssuerKeyResolver for X5cResolver {
    fn resolve(&self, iss: &str, header: &JwsHeader, now: UnixTime) -> Result<Cow<'_, Jwk>, KeyResolutionError> {
        let x5c = header.x5c.as_deref().ok_or(KeyResolutionError::MissingHeader("x5c"))?;
        let chain = self.anchors.verify_chain(x5c, now).map_err(|e| KeyResolutionError::BadChain(format!("x5c: {e}")))?;
        let host = uri_host(iss);
        let named = chain.san_uris.iter().any(|u| u == iss) || host.as_ref().is_some_and(|h| chain.san_dns.iter().any(|d| d == h));
        if !named {
            return Err(KeyResolutionError::IssuerMismatch {
                iss: iss.to_owned(),
                reason: "the x5c leaf certificate names neither this URI nor its host".into(),
            });
        }
        Ok(Cow::Owned(chain.leaf_key))
    }
}

#[cfg(test)]
mod tests;
