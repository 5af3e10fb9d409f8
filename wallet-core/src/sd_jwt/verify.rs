//! Verification of an SD-JWT (VC) presentation: RFC 9901 §7.1 and §7.3, SD-JWT VC §3,
//! IT-Wallet 1.4 §8 (what a relying party must reject).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::disclosure::{DigestText, ParsedDisclosure};
use super::kb::{KB_JWT_TYP, KeyBindingClaims};
use super::one_pass::{self, OnePass, SdAlg};
use super::{ClaimPath, IssuerKeyResolver, Parts, PathElement, SD_ALG, SdJwtError, process};
use crate::jose::{CompactJws, JoseError, Jwk, JwsHeader};
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// Claims that SD-JWT VC §3.2.2.2 forbids to be selectively disclosable.
pub const ALWAYS_VISIBLE: [&str; 7] = ["iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"];

/// What the verifier expects in the KB-JWT: itself as `aud`, the nonce it sent.
#[derive(Clone, Copy)]
pub struct KeyBindingExpectation<'a> {
    /// This verifier's identifier.
    pub aud: &'a str,
    /// Another name of this verifier also accepted as `aud` ([`Verifier::also_accept_aud`]).
    pub other_aud: Option<&'a str>,
    /// The nonce this verifier sent (compared in constant time).
    pub nonce: &'a str,
}

impl KeyBindingExpectation<'_> {
    /// Whether `aud` names this verifier.
    fn accepts_aud(&self, aud: &str) -> bool {
        aud == self.aud || self.other_aud == Some(aud)
    }
}

impl std::fmt::Debug for KeyBindingExpectation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyBindingExpectation").field("aud", &self.aud).field("other_aud", &self.other_aud).field("nonce", &"[redacted]").finish()
    }
}

/// A verified SD-JWT: what the issuer signed, with the disclosed claims embedded.
#[derive(Debug, Clone)]
pub struct VerifiedSdJwt {
    /// The issuer JWT's header (`typ`, `kid`, `x5c`, ...): shared, not copied, with the
    /// [`crate::jose::HeaderMemo`] it was parsed through (several KB with a `trust_chain`).
    pub header: std::sync::Arc<JwsHeader>,
    /// The claims: always-visible ones and disclosed ones; `_sd`, `_sd_alg` removed.
    pub claims: Map<String, Value>,
    /// The paths of the disclosed claims.
    pub disclosed: Vec<ClaimPath>,
    /// `cnf.jwk`, the holder's key, if the credential is key-bound.
    pub holder_key: Option<Jwk>,
    /// The KB-JWT's claims, when the presentation had one (and it verified).
    pub key_binding: Option<KeyBindingClaims>,
}

impl VerifiedSdJwt {
    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Verifies SD-JWT VC presentations. Defaults follow IT-Wallet 1.4: `typ` `dc+sd-jwt`
/// (also `vc+sd-jwt`, still used by a 1.4.0 example), `iss` and `vct` required, 60 s clock
/// skew, KB-JWT `iat` at most 120 s old (ATT-013).
pub struct Verifier<'a> {
    resolver: &'a dyn IssuerKeyResolver,
    accepted_typ: &'a [&'a str],
    vc_rules: bool,
    clock_skew: i64,
    kb_max_age: i64,
    key_binding: Option<KeyBindingExpectation<'a>>,
}

/// Each disclosure parsed from its borrowed text into one scratch buffer and kept only as
/// its digest, name and value, with the checks of `SdJwt::parse`, in its order.
fn parse_disclosures(parts: &Parts<'_>) -> Result<Vec<ParsedDisclosure>, SdJwtError> {
    let mut disclosures = Vec::with_capacity(parts.count);
    let mut scratch = Vec::with_capacity(512); // most disclosures decode to fewer bytes
    for (i, d) in parts.disclosures().enumerate() {
        disclosures.push(ParsedDisclosure::parse(d?, i, &mut scratch)?);
    }
    Ok(disclosures)
}

/// `sd_hash` (RFC 9901 §4.3.1) of `without_kb`, given `signed`, which has hashed
/// `signing_input`, the start of `without_kb`.
fn continue_hash(mut signed: Sha256, signing_input: &[u8], without_kb: &str) -> DigestText {
    match without_kb.as_bytes().strip_prefix(signing_input) {
        Some(rest) => {
            signed.update(rest);
            DigestText::from_hasher(signed)
        }
        None => DigestText::of(without_kb),
    }
}

/// `_sd_alg`, when present, must be the one we support (RFC 9901 §4.1.1).
fn check_sd_alg(sd_alg: Option<&Value>) -> Result<(), SdJwtError> {
    match sd_alg {
        None => Ok(()),
        Some(Value::String(a)) if a == SD_ALG => Ok(()),
        Some(Value::String(a)) => Err(SdJwtError::UnsupportedSdAlg(a.clone())),
        Some(_) => Err(SdJwtError::BadClaim("_sd_alg")),
    }
}

/// The `typ` values an SD-JWT VC verifier accepts by default.
const VC_TYPS: &[&str] = &["dc+sd-jwt", "vc+sd-jwt"];

impl<'a> Verifier<'a> {
    /// An SD-JWT VC verifier using `resolver` for issuer keys.
    pub fn new(resolver: &'a dyn IssuerKeyResolver) -> Self {
        Self {
            resolver,
            accepted_typ: VC_TYPS,
            vc_rules: true,
            clock_skew: 60,
            kb_max_age: 120,
            key_binding: None,
        }
    }

    /// A plain RFC 9901 verifier: any `typ`, no SD-JWT VC claim rules (test vectors, other
    /// profiles).
    pub fn plain(resolver: &'a dyn IssuerKeyResolver) -> Self {
        Self { accepted_typ: &[], vc_rules: false, ..Self::new(resolver) }
    }

    /// Accepts these `typ` values instead of the defaults.
    pub fn with_typ(mut self, typ: &'a [&'a str]) -> Self {
        self.accepted_typ = typ;
        self
    }

    /// Tolerated clock difference, seconds.
    pub fn with_clock_skew(mut self, secs: i64) -> Self {
        self.clock_skew = secs;
        self
    }

    /// Oldest accepted KB-JWT, seconds.
    pub fn with_kb_max_age(mut self, secs: i64) -> Self {
        self.kb_max_age = secs;
        self
    }

    /// Requires a KB-JWT for this `aud` and `nonce`.
    pub fn expect_key_binding(mut self, aud: &'a str, nonce: &'a str) -> Self {
        self.key_binding = Some(KeyBindingExpectation { aud, other_aud: None, nonce });
        self
    }

    /// Also accepts `aud` as the KB-JWT `aud` (after [`Self::expect_key_binding`]): a
    /// verifier known by two names, as a federation `client_id` with and without its prefix
    /// (IT-Wallet versions note §5.4: wallets disagree on which they send).
    pub fn also_accept_aud(mut self, aud: &'a str) -> Self {
        if let Some(kb) = &mut self.key_binding {
            kb.other_aud = Some(aud);
        }
        self
    }

    /// Verifies `presentation` at `now`. Without [`Self::expect_key_binding`] a KB-JWT is not
    /// required, but one that is present is still checked (signature, `sd_hash`, `iat`).
    pub fn verify(&self, presentation: &str, now: UnixTime) -> Result<VerifiedSdJwt, SdJwtError> {
        let parts = Parts::split(presentation)?;
        let jws = CompactJws::parse(parts.issuer_jwt).map_err(SdJwtError::jose("issuer JWT"))?;
        self.verify_split(&parts, jws, now)
    }

    /// [`Self::verify`] of a presentation already split, its issuer JWT (`parts.issuer_jwt`)
    /// already parsed: a caller that read the issuer JWT first (to establish trust in its
    /// issuer) does not parse it again.
    pub(crate) fn verify_split(&self, parts: &Parts<'_>, jws: CompactJws<'_>, now: UnixTime) -> Result<VerifiedSdJwt, SdJwtError> {
        let mut disclosures = parse_disclosures(parts)?;
        let header = jws.header();
        if !self.accepted_typ.is_empty() && !self.accepted_typ.iter().any(|t| header.typ_is(t)) {
            return Err(SdJwtError::WrongTyp {
                got: header.typ.clone(),
                expected: self.accepted_typ.iter().map(|t| (*t).to_owned()).collect(),
            });
        }
        // One SHA-256 pass over the issuer JWT's signing input serves its ES256 signature and
        // then, continued over the rest of the presentation, `sd_hash`.
        let signed = Sha256::new_with_prefix(jws.signing_input());
        let processed = match one_pass::read(jws.payload(), &mut disclosures) {
            // The payload read and processed in one pass: the checks that follow are those
            // of the general path, in its order, less the processing already done (which
            // succeeded, so it could not have failed there either).
            Some(OnePass { processed, sd_alg }) => {
                self.check_issuer_signature(&jws, &signed, processed.claims.get("iss"), now)?;
                if let SdAlg::Other(a) = &sd_alg {
                    check_sd_alg(Some(a))?;
                }
                processed
            }
            // The general path: the payload's JSON tree, `iss`, the issuer's key and
            // signature, `_sd_alg`, then the disclosures (parsed again: the one pass may
            // have moved some).
            None => {
                let payload: Map<String, Value> = jws.payload_json().map_err(SdJwtError::jose("issuer JWT"))?;
                self.check_issuer_signature(&jws, &signed, payload.get("iss"), now)?;
                check_sd_alg(payload.get("_sd_alg"))?;
                process::process(payload, &mut parse_disclosures(parts)?)?
            }
        };
        if self.vc_rules {
            for p in &processed.paths {
                if let [PathElement::Key(k)] = p.elements()
                    && ALWAYS_VISIBLE.contains(&k.as_str()) {
                        return Err(SdJwtError::MustNotBeDisclosable(k.clone()));
                    }
            }
            if !matches!(processed.claims.get("vct"), Some(Value::String(_))) {
                return Err(SdJwtError::BadClaim("vct"));
            }
        }
        self.check_times(&processed.claims, now)?;
        let holder_key = match processed.claims.get("cnf") {
            None => None,
            Some(cnf) => match cnf.get("jwk") {
                Some(jwk) => Some(Jwk::from_value(jwk).map_err(|_| SdJwtError::BadClaim("cnf.jwk"))?),
                None => None,
            },
        };
        let key_binding = match (parts.kb_jwt, &self.key_binding) {
            (None, Some(_)) => return Err(SdJwtError::KbMissing),
            (None, None) => None,
            (Some(kb), _) => {
                let sd_hash = continue_hash(signed, jws.signing_input(), parts.without_kb);
                Some(self.check_kb(kb, &sd_hash, holder_key.as_ref(), now)?)
            }
        };
        Ok(VerifiedSdJwt { header: jws.into_shared_header(), claims: processed.claims, disclosed: processed.paths, holder_key, key_binding })
    }

    /// `iss` (required by SD-JWT VC), the issuer's key from the resolver, the signature.
    /// `signed` has hashed the JWS's signing input.
    fn check_issuer_signature(&self, jws: &CompactJws<'_>, signed: &Sha256, iss: Option<&Value>, now: UnixTime) -> Result<(), SdJwtError> {
        let iss = match iss {
            Some(Value::String(s)) => s.as_str(),
            None if !self.vc_rules => "",
            _ => return Err(SdJwtError::BadClaim("iss")),
        };
        let key = self.resolver.resolve(iss, jws.header(), now)?;
        jws.verify_with_sha256(&key, &signed.clone().finalize().into()).map_err(|e| match e {
            JoseError::BadSignature => SdJwtError::IssuerSignatureInvalid,
            other => SdJwtError::Jose { part: "issuer JWT", source: other },
        })
    }

    fn check_times(&self, claims: &Map<String, Value>, now: UnixTime) -> Result<(), SdJwtError> {
        let num = |name: &'static str| -> Result<Option<i64>, SdJwtError> {
            match claims.get(name) {
                None => Ok(None),
                Some(v) => v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).map(Some).ok_or(SdJwtError::BadClaim(name)),
            }
        };
        let window = TimeWindow { exp: num("exp")?, nbf: num("nbf")?, iat: num("iat")? };
        check_window(window, now, Skew::new(self.clock_skew), None).map_err(|e| match e {
            TimeError::Expired { exp, now, .. } => SdJwtError::Expired { exp, now },
            TimeError::NotYetValid { nbf, now, .. } => SdJwtError::NotYetValid { nbf, now },
            TimeError::IssuedInFuture { iat, now, .. } => SdJwtError::IssuedInFuture { iat, now },
            other => SdJwtError::Time(other),
        })
    }

    /// `sd_hash` is that of the SD-JWT exactly as received up to and including the last `~`.
    fn check_kb(&self, kb: &str, sd_hash: &DigestText, holder_key: Option<&Jwk>, now: UnixTime) -> Result<KeyBindingClaims, SdJwtError> {
        let jws = CompactJws::parse(kb).map_err(SdJwtError::jose("KB-JWT"))?;
        if !jws.header().typ_is(KB_JWT_TYP) {
            return Err(SdJwtError::KbWrongTyp);
        }
        let key = holder_key.ok_or(SdJwtError::KbNoHolderKey)?;
        jws.verify(key).map_err(|e| match e {
            JoseError::BadSignature | JoseError::KeyAlgMismatch { .. } => SdJwtError::KbSignatureInvalid,
            other => SdJwtError::Jose { part: "KB-JWT", source: other },
        })?;
        let claims: KeyBindingClaims = jws.payload_json().map_err(SdJwtError::jose("KB-JWT"))?;
        // `sd_hash` covers the presentation exactly as received, up to the last `~`.
        if !bool::from(claims.sd_hash.as_bytes().ct_eq(sd_hash.as_bytes())) {
            return Err(SdJwtError::KbSdHashMismatch);
        }
        if let Some(exp) = &self.key_binding {
            if !exp.accepts_aud(&claims.aud) {
                return Err(SdJwtError::KbAudMismatch);
            }
            if !bool::from(claims.nonce.as_bytes().ct_eq(exp.nonce.as_bytes())) {
                return Err(SdJwtError::KbNonceMismatch);
            }
        }
        // Settings, not input, but still no overflow; the window never leaves the NumericDate range.
        let skew = Skew::new(self.clock_skew).secs();
        let min = now.secs().saturating_sub(self.kb_max_age).saturating_sub(skew).max(UnixTime::MIN_VALID.secs());
        let max = now.secs().saturating_add(skew).min(UnixTime::MAX_VALID.secs());
        if claims.iat < min || claims.iat > max {
            return Err(SdJwtError::KbIatOutOfWindow { iat: claims.iat, min, max });
        }
        Ok(claims)
    }
}
