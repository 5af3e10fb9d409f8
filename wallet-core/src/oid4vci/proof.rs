//! Key proofs of the credential request (OpenID4VCI 1.0 §8.2.1.1 and App. F.1; IT-Wallet
//! 1.4 §3.3 steps 14–19): JWTs of `typ: openid4vci-proof+jwt` signed by the key to bind,
//! carrying it in `jwk` and the WUA that attests it in `key_attestation`; claims `iss` (the
//! client id), `aud` (the credential issuer), `iat`, `nonce` (the `c_nonce`).
//!
//! Wallet: [`key_proof`] per credential key. Issuer: [`verify_proofs`] checks the whole
//! `proofs.jwt` array (at most `batch_size`, distinct keys, each proof and its WUA) and
//! returns the keys in order. The WUA's revocation is the caller's check: fetch the status
//! list of each [`VerifiedProofs::key_attestations`] entry (IT-Wallet §8).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::ErrorCode;
use super::metadata::KeyAttestationsRequired;
use crate::attestation::{AttestationError, Audience, VerifiedWua, verify_wua_with_memo};
use crate::jose::{CompactJws, JoseError, Jwk, JwsAlg, JwsHeader, Signer, jws};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::UnixTime;

/// `typ` of a key proof.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// The header carrying the WUA (OpenID4VCI App. D.1).
pub const KEY_ATTESTATION_HEADER: &str = "key_attestation";
/// The oldest proof `iat` accepted by default (seconds before now).
pub const DEFAULT_MAX_AGE: i64 = 300;
/// Skew accepted for an `iat` in the future.
pub const DEFAULT_SKEW: i64 = 60;
/// The largest proof accepted (it embeds the WUA with its `x5c`).
pub const MAX_PROOF_LEN: usize = 64 * 1024;

/// Why a proof (or the set of proofs) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// No proof in `proofs.jwt`.
    #[error("no proof")]
    NoProofs,
    /// More proofs than `batch_size` (OpenID4VCI §8.2: MUST NOT exceed).
    #[error("{count} proofs exceed batch_size {batch_size}")]
    TooManyProofs {
        /// Proofs sent.
        count: usize,
        /// The issuer's `batch_size`.
        batch_size: u32,
    },
    /// Two proofs for the same key (IT-Wallet §3.3: "each with a unique jwk").
    #[error("proof {index} repeats the key of an earlier proof")]
    DuplicateKey {
        /// Index of the repeated proof.
        index: usize,
    },
    /// Not a compact JWS, a forbidden `alg`, a `jwk` with private members.
    #[error("proof {index} malformed: {error}")]
    Malformed {
        /// The proof's index.
        index: usize,
        /// Why.
        error: JoseError,
    },
    /// `typ` is not `openid4vci-proof+jwt` (explicit typing, App. F.1).
    #[error("proof {index} typ {found:?} is not openid4vci-proof+jwt")]
    WrongTyp {
        /// The proof's index.
        index: usize,
        /// Found.
        found: Option<String>,
    },
    /// `alg` not in `proof_signing_alg_values_supported`.
    #[error("proof {index} alg {alg} not accepted")]
    AlgNotAllowed {
        /// The proof's index.
        index: usize,
        /// The algorithm.
        alg: JwsAlg,
    },
    /// No `jwk`, or `jwk` together with `kid` or `x5c` (App. F.1: MUST NOT).
    #[error("proof {index} must carry its key in jwk only")]
    BadKeyHeader {
        /// The proof's index.
        index: usize,
    },
    /// The signature does not verify with `jwk`.
    #[error("proof {index} signature invalid")]
    BadSignature {
        /// The proof's index.
        index: usize,
    },
    /// Claims missing or of the wrong type.
    #[error("proof {index} claims malformed: {detail}")]
    BadClaims {
        /// The proof's index.
        index: usize,
        /// Why.
        detail: String,
    },
    /// `aud` does not name the credential issuer.
    #[error("proof {index} aud does not name the credential issuer")]
    AudienceMismatch {
        /// The proof's index.
        index: usize,
    },
    /// `iss` is not the client id (IT-Wallet §3.3).
    #[error("proof {index} iss is not the client_id")]
    IssMismatch {
        /// The proof's index.
        index: usize,
    },
    /// No `nonce` (the issuer has a nonce endpoint: REQUIRED).
    #[error("proof {index} has no nonce")]
    MissingNonce {
        /// The proof's index.
        index: usize,
    },
    /// `nonce` is not a valid `c_nonce` of ours (stale or foreign).
    #[error("proof {index} nonce is not a valid c_nonce: {reason}")]
    NonceUnknown {
        /// The proof's index.
        index: usize,
        /// Why (expired, not issued here, malformed, already used...), as the issuer's check says.
        reason: String,
    },
    /// `iat` outside the accepted window.
    #[error("proof {index} iat {iat} outside [{min}, {max}]")]
    IatOutOfWindow {
        /// The proof's index.
        index: usize,
        /// `iat`.
        iat: i64,
        /// Oldest accepted.
        min: i64,
        /// Latest accepted.
        max: i64,
    },
    /// No `key_attestation` header while the configuration requires one.
    #[error("proof {index} has no key_attestation")]
    MissingKeyAttestation {
        /// The proof's index.
        index: usize,
    },
    /// The WUA was refused (signature, provider trust, expiry).
    #[error("proof {index} key attestation: {error}")]
    KeyAttestation {
        /// The proof's index.
        index: usize,
        /// Why.
        error: AttestationError,
    },
    /// The proof's key is not among the WUA's `attested_keys` (OpenID4VCI App. D; IT-Wallet
    /// §3.3).
    #[error("proof {index} key is not attested by its key_attestation")]
    KeyNotAttested {
        /// The proof's index.
        index: usize,
    },
    /// The WUA's `key_storage` or `user_authentication` levels are not among those the
    /// configuration's `key_attestations_required` accepts.
    #[error("proof {index} key attestation level not accepted")]
    AttestationLevel {
        /// The proof's index.
        index: usize,
    },
    /// Building a proof failed.
    #[error("cannot build proof: {0}")]
    Build(String),
}

impl ProofError {
    /// `invalid_nonce` for a missing or unknown nonce, `invalid_credential_request` for too
    /// many proofs, `invalid_proof` otherwise (OpenID4VCI §8.3.1.2).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::MissingNonce { .. } | Self::NonceUnknown { .. } => ErrorCode::InvalidNonce,
            Self::TooManyProofs { .. } => ErrorCode::InvalidCredentialRequest,
            Self::Build(_) => ErrorCode::ServerError,
            _ => ErrorCode::InvalidProof,
        }
    }
}

/// The claims of a key proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofClaims {
    /// The client id (omitted for anonymous pre-authorized access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The credential issuer.
    pub aud: Audience,
    /// Issued at.
    pub iat: i64,
    /// The `c_nonce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// Wallet side: a proof of possession of `key` for `issuer`, with `c_nonce`, `iss` =
/// `client_id` when given, and the WUA in `key_attestation` when given.
pub fn key_proof(key: &dyn Signer, key_attestation: Option<&str>, client_id: Option<&str>, issuer: &str, c_nonce: Option<&str>, now: UnixTime) -> Result<String, ProofError> {
    let claims = ProofClaims { iss: client_id.map(str::to_owned), aud: Audience::One(issuer.to_owned()), iat: now.secs(), nonce: c_nonce.map(str::to_owned) };
    let mut header = JwsHeader::new(key.alg()).with_typ(PROOF_TYP);
    header.jwk = Some(Jwk::new(key.public_jwk().params));
    if let Some(wua) = key_attestation {
        header.extra.insert(KEY_ATTESTATION_HEADER.into(), serde_json::Value::String(wua.to_owned()));
    }
    jws::sign_json(&header, &claims, &super::no_kid(key)).map_err(|e| ProofError::Build(e.to_string()))
}

/// What the issuer checks proofs against.
pub struct ProofExpectation<'a> {
    /// The credential issuer's id (`aud`).
    pub issuer: &'a str,
    /// The client id of the access token (`iss` must equal it); `None` for anonymous
    /// pre-authorized access.
    pub client_id: Option<&'a str>,
    /// Whether a `c_nonce` is currently valid (issued by our nonce endpoint, not stale):
    /// why not, when not (it names the reason in the `invalid_nonce` description).
    pub nonce_valid: &'a dyn Fn(&str) -> Result<(), String>,
    /// Now.
    pub now: UnixTime,
    /// Oldest `iat` accepted, in seconds before now.
    pub max_age: i64,
    /// Skew for an `iat` in the future.
    pub skew: i64,
    /// `batch_size` (1 when batch issuance is not offered).
    pub batch_size: u32,
    /// `proof_signing_alg_values_supported` as algorithms; empty: any asymmetric one.
    pub algs: &'a [JwsAlg],
    /// The configuration's `key_attestations_required`; `None`: no WUA needed.
    pub key_attestations_required: Option<&'a KeyAttestationsRequired>,
    /// Trusted wallet providers' keys, for the WUA.
    pub wallet_providers: &'a dyn IssuerKeyResolver,
    /// Where the WUAs' protected headers are kept once parsed (the same for every WUA of a
    /// provider: [`crate::jose::HeaderMemo`]); `None` parses each.
    pub header_memo: Option<&'a crate::jose::HeaderMemo>,
}

impl std::fmt::Debug for ProofExpectation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofExpectation").field("issuer", &self.issuer).field("client_id", &self.client_id).field("now", &self.now).finish_non_exhaustive()
    }
}

/// Verified proofs: the keys to bind, in the order of the proofs, and the distinct WUAs that
/// attested them (their status is the caller's to check).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedProofs {
    /// The holder keys, one per credential.
    pub keys: Vec<Jwk>,
    /// The WUAs, each once.
    pub key_attestations: Vec<VerifiedWua>,
}

/// Issuer side: every proof of `proofs` (OpenID4VCI App. F.4; IT-Wallet §3.3 "Issuer
/// checks"): at least one and at most `batch_size`; each with `typ`, an accepted
/// asymmetric `alg`, its key in `jwk` only, a valid signature, `aud` = the issuer, `iss` =
/// the client id, a valid `nonce`, `iat` in the window, and (when required) a WUA trusted
/// for its provider, unexpired, attesting this key at an accepted level; keys distinct.
pub fn verify_proofs(proofs: &[String], expect: &ProofExpectation<'_>) -> Result<VerifiedProofs, ProofError> {
    if proofs.is_empty() {
        return Err(ProofError::NoProofs);
    }
    let batch = usize::try_from(expect.batch_size.max(1)).unwrap_or(usize::MAX);
    if proofs.len() > batch {
        return Err(ProofError::TooManyProofs { count: proofs.len(), batch_size: expect.batch_size });
    }
    let mut keys = Vec::with_capacity(proofs.len());
    let mut seen = BTreeSet::new();
    let mut wuas: Vec<VerifiedWua> = Vec::new();
    for (index, proof) in proofs.iter().enumerate() {
        let (key, wua_jwt) = verify_one(index, proof, expect)?;
        if !seen.insert(key.thumbprint()) {
            return Err(ProofError::DuplicateKey { index });
        }
        if let Some(jwt) = wua_jwt {
            let known = wuas.iter().position(|w| w.jwt() == jwt);
            let wua = match known.and_then(|i| wuas.get(i)) {
                Some(w) => w,
                None => {
                    let w = verify_wua_with_memo(&jwt, expect.wallet_providers, expect.now, expect.skew, expect.header_memo)
                        .map_err(|error| ProofError::KeyAttestation { index, error })?;
                    check_levels(index, &w, expect.key_attestations_required)?;
                    wuas.push(w);
                    wuas.last().ok_or(ProofError::Build("unreachable".into()))?
                }
            };
            if !wua.attests(&key) {
                return Err(ProofError::KeyNotAttested { index });
            }
        }
        keys.push(key);
    }
    Ok(VerifiedProofs { keys, key_attestations: wuas })
}

fn check_levels(index: usize, wua: &VerifiedWua, required: Option<&KeyAttestationsRequired>) -> Result<(), ProofError> {
    let Some(req) = required else { return Ok(()) };
    let name = |v: &crate::attestation::AttackPotentialResistance| serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let ok = |accepted: &[String], got: &[crate::attestation::AttackPotentialResistance]| accepted.is_empty() || got.iter().any(|g| accepted.contains(&name(g)));
    if ok(&req.key_storage, &wua.claims().key_storage) && ok(&req.user_authentication, &wua.claims().user_authentication) {
        Ok(())
    } else {
        Err(ProofError::AttestationLevel { index })
    }
}

/// One proof: its key and, when present, its `key_attestation` text (verified by the caller,
/// once per distinct WUA).
fn verify_one(index: usize, proof: &str, expect: &ProofExpectation<'_>) -> Result<(Jwk, Option<String>), ProofError> {
    if proof.len() > MAX_PROOF_LEN {
        let error = JoseError::TooLarge { what: "proof", len: proof.len(), limit: MAX_PROOF_LEN };
        return Err(ProofError::Malformed { index, error });
    }
    let jws = CompactJws::parse(proof).map_err(|error| ProofError::Malformed { index, error })?;
    let h = jws.header();
    if !h.typ_is(PROOF_TYP) {
        return Err(ProofError::WrongTyp { index, found: h.typ.clone() });
    }
    if !expect.algs.is_empty() && !expect.algs.contains(&h.alg) {
        return Err(ProofError::AlgNotAllowed { index, alg: h.alg });
    }
    let key = match (&h.jwk, &h.kid, &h.x5c) {
        (Some(k), None, None) => k.clone(),
        _ => return Err(ProofError::BadKeyHeader { index }),
    };
    jws.verify(&key).map_err(|_| ProofError::BadSignature { index })?;
    let c: ProofClaims = jws.payload_json().map_err(|e| ProofError::BadClaims { index, detail: e.to_string() })?;
    if !c.aud.contains(expect.issuer) {
        return Err(ProofError::AudienceMismatch { index });
    }
    if let Some(client_id) = expect.client_id
        && c.iss.as_deref() != Some(client_id)
    {
        return Err(ProofError::IssMismatch { index });
    }
    let nonce = c.nonce.as_deref().ok_or(ProofError::MissingNonce { index })?;
    (expect.nonce_valid)(nonce).map_err(|reason| ProofError::NonceUnknown { index, reason })?;
    let min = expect.now.secs().saturating_sub(expect.max_age);
    let max = expect.now.secs().saturating_add(expect.skew);
    if c.iat < min || c.iat > max {
        return Err(ProofError::IatOutOfWindow { index, iat: c.iat, min, max });
    }
    let wua = match h.extra.get(KEY_ATTESTATION_HEADER) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(ProofError::BadClaims { index, detail: "key_attestation is not a string".into() }),
        None if expect.key_attestations_required.is_some() => return Err(ProofError::MissingKeyAttestation { index }),
        None => None,
    };
    Ok((key, wua))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::SoftwareSigner;
    use crate::oid4vci::testing::{ISSUER, NOW, Wallet};
    use crate::sd_jwt::StaticKeyResolver;

    const C_NONCE: &str = "c-nonce-1";

    fn nonce_ok(n: &str) -> Result<(), String> {
        if n == C_NONCE { Ok(()) } else { Err("not issued here".into()) }
    }

    fn expect<'a>(client_id: &'a str, trust: &'a StaticKeyResolver, req: &'a KeyAttestationsRequired) -> ProofExpectation<'a> {
        ProofExpectation {
            issuer: ISSUER,
            client_id: Some(client_id),
            nonce_valid: &nonce_ok,
            now: NOW,
            max_age: DEFAULT_MAX_AGE,
            skew: DEFAULT_SKEW,
            batch_size: 3,
            algs: &[JwsAlg::Es256],
            key_attestations_required: Some(req),
            wallet_providers: trust,
            header_memo: None,
        }
    }

    fn proofs(w: &Wallet, nonce: &str) -> Vec<String> {
        w.cred_keys.iter().map(|k| key_proof(k, Some(&w.wua), Some(&w.client_id()), ISSUER, Some(nonce), NOW).unwrap()).collect()
    }

    fn run(w: &Wallet, p: &[String]) -> Result<VerifiedProofs, ProofError> {
        let (cid, trust, req) = (w.client_id(), w.trust(), KeyAttestationsRequired::default());
        verify_proofs(p, &expect(&cid, &trust, &req))
    }

    #[test]
    fn batch_of_proofs_round_trips_with_keys_in_order() {
        let w = Wallet::new(3);
        let v = run(&w, &proofs(&w, C_NONCE)).unwrap();
        let want: Vec<_> = w.cred_keys.iter().map(|k| k.public_jwk().thumbprint()).collect();
        assert_eq!(v.keys.iter().map(Jwk::thumbprint).collect::<Vec<_>>(), want);
        assert_eq!(v.key_attestations.len(), 1);
        assert_eq!(v.key_attestations[0].status().idx, 7);
        let h = CompactJws::parse(&proofs(&w, C_NONCE)[0]).unwrap().into_header();
        assert_eq!((h.kid, h.typ.as_deref()), (None, Some(PROOF_TYP)));
    }

    #[test]
    fn proof_for_another_audience_is_invalid_proof() {
        let w = Wallet::new(1);
        let p = key_proof(&w.cred_keys[0], Some(&w.wua), Some(&w.client_id()), "https://other.example.it", Some(C_NONCE), NOW).unwrap();
        let err = run(&w, &[p]).unwrap_err();
        assert_eq!(err, ProofError::AudienceMismatch { index: 0 });
        assert_eq!(err.code(), ErrorCode::InvalidProof);
    }

    #[test]
    fn stale_or_foreign_nonce_is_invalid_nonce() {
        let w = Wallet::new(1);
        let err = run(&w, &proofs(&w, "stale-nonce")).unwrap_err();
        assert_eq!(err, ProofError::NonceUnknown { index: 0, reason: "not issued here".into() });
        assert_eq!(err.to_string(), "proof 0 nonce is not a valid c_nonce: not issued here");
        assert_eq!(err.code(), ErrorCode::InvalidNonce);
        let p = key_proof(&w.cred_keys[0], Some(&w.wua), Some(&w.client_id()), ISSUER, None, NOW).unwrap();
        let err = run(&w, &[p]).unwrap_err();
        assert_eq!(err, ProofError::MissingNonce { index: 0 });
        assert_eq!(err.code(), ErrorCode::InvalidNonce);
    }

    #[test]
    fn proof_key_not_in_attested_keys_is_refused() {
        let w = Wallet::new(1);
        let stranger = SoftwareSigner::generate().unwrap();
        let p = key_proof(&stranger, Some(&w.wua), Some(&w.client_id()), ISSUER, Some(C_NONCE), NOW).unwrap();
        let err = run(&w, &[p]).unwrap_err();
        assert_eq!(err, ProofError::KeyNotAttested { index: 0 });
        assert_eq!(err.code(), ErrorCode::InvalidProof);
    }

    #[test]
    fn expired_wua_is_refused() {
        let mut w = Wallet::new(1);
        w.wua = Wallet::wua_for(&w.wp, &w.cred_keys, NOW.plus(-crate::attestation::WUA_MIN_LIFETIME - 1000));
        let err = run(&w, &proofs(&w, C_NONCE)).unwrap_err();
        assert!(matches!(err, ProofError::KeyAttestation { index: 0, error: AttestationError::Expired { .. } }));
        assert_eq!(err.code(), ErrorCode::InvalidProof);
    }

    #[test]
    fn wua_from_an_untrusted_provider_is_refused() {
        let mut w = Wallet::new(1);
        let rogue = SoftwareSigner::generate().unwrap();
        w.wua = Wallet::wua_for(&rogue, &w.cred_keys, NOW);
        assert!(matches!(run(&w, &proofs(&w, C_NONCE)), Err(ProofError::KeyAttestation { error: AttestationError::BadSignature, .. })));
    }

    #[test]
    fn missing_key_attestation_is_refused_when_required() {
        let w = Wallet::new(1);
        let p = key_proof(&w.cred_keys[0], None, Some(&w.client_id()), ISSUER, Some(C_NONCE), NOW).unwrap();
        assert_eq!(run(&w, std::slice::from_ref(&p)).unwrap_err(), ProofError::MissingKeyAttestation { index: 0 });
        let (cid, trust, req) = (w.client_id(), w.trust(), KeyAttestationsRequired::default());
        let mut e = expect(&cid, &trust, &req);
        e.key_attestations_required = None;
        let v = verify_proofs(&[p], &e).unwrap();
        assert!(v.key_attestations.is_empty());
    }

    #[test]
    fn batch_with_duplicate_keys_or_beyond_batch_size_is_refused() {
        let w = Wallet::new(1);
        let one = proofs(&w, C_NONCE).remove(0);
        let err = run(&w, &[one.clone(), one.clone()]).unwrap_err();
        assert_eq!(err, ProofError::DuplicateKey { index: 1 });
        assert_eq!(err.code(), ErrorCode::InvalidProof);
        let w4 = Wallet::new(4);
        let err = run(&w4, &proofs(&w4, C_NONCE)).unwrap_err();
        assert_eq!(err, ProofError::TooManyProofs { count: 4, batch_size: 3 });
        assert_eq!(err.code(), ErrorCode::InvalidCredentialRequest);
        assert_eq!(run(&w, &[]).unwrap_err(), ProofError::NoProofs);
    }

    #[test]
    fn stale_iat_wrong_iss_typ_and_key_header_are_refused() {
        let w = Wallet::new(1);
        let k = &w.cred_keys[0];
        let old = key_proof(k, Some(&w.wua), Some(&w.client_id()), ISSUER, Some(C_NONCE), NOW.plus(-DEFAULT_MAX_AGE - 1)).unwrap();
        assert!(matches!(run(&w, &[old]), Err(ProofError::IatOutOfWindow { index: 0, .. })));
        // Issued in the future, beyond the skew: refused alike.
        let ahead = key_proof(k, Some(&w.wua), Some(&w.client_id()), ISSUER, Some(C_NONCE), NOW.plus(600)).unwrap();
        let e = run(&w, &[ahead]).unwrap_err();
        assert!(matches!(e, ProofError::IatOutOfWindow { index: 0, .. }), "{e:?}");
        assert_eq!(e.code(), crate::oid4vci::ErrorCode::InvalidProof);
        let other_iss = key_proof(k, Some(&w.wua), Some("someone-else"), ISSUER, Some(C_NONCE), NOW).unwrap();
        assert_eq!(run(&w, &[other_iss]).unwrap_err(), ProofError::IssMismatch { index: 0 });
        let claims = ProofClaims { iss: Some(w.client_id()), aud: Audience::One(ISSUER.into()), iat: NOW.secs(), nonce: Some(C_NONCE.into()) };
        let mut h = JwsHeader::new(k.alg()).with_typ("JWT");
        h.jwk = Some(k.public_jwk());
        let p = jws::sign_json(&h, &claims, &crate::oid4vci::no_kid(k)).unwrap();
        assert_eq!(run(&w, &[p]).unwrap_err(), ProofError::WrongTyp { index: 0, found: Some("JWT".into()) });
        let mut h = JwsHeader::new(k.alg()).with_typ(PROOF_TYP).with_kid(Some("k1".into()));
        h.jwk = Some(k.public_jwk());
        let p = jws::sign_json(&h, &claims, k).unwrap();
        assert_eq!(run(&w, &[p]).unwrap_err(), ProofError::BadKeyHeader { index: 0 });
        let mut h = JwsHeader::new(k.alg()).with_typ(PROOF_TYP);
        h.jwk = Some(w.cred_keys[0].public_jwk());
        let p = jws::sign_json(&h, &claims, &crate::oid4vci::no_kid(&w.waa_key)).unwrap();
        assert_eq!(run(&w, &[p]).unwrap_err(), ProofError::BadSignature { index: 0 });
    }

    #[test]
    fn key_attestation_level_must_be_accepted() {
        let w = Wallet::new(1);
        let (cid, trust) = (w.client_id(), w.trust());
        let high = KeyAttestationsRequired { key_storage: vec!["iso_18045_high".into()], user_authentication: vec![] };
        let err = verify_proofs(&proofs(&w, C_NONCE), &expect(&cid, &trust, &high)).unwrap_err();
        assert_eq!(err, ProofError::AttestationLevel { index: 0 });
        let moderate = KeyAttestationsRequired { key_storage: vec!["iso_18045_moderate".into()], user_authentication: vec!["iso_18045_moderate".into()] };
        verify_proofs(&proofs(&w, C_NONCE), &expect(&cid, &trust, &moderate)).unwrap();
    }
}
