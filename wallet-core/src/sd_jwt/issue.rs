//! Issuance (RFC 9901 §4, §5): which claims become selectively disclosable, decoys, signing.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::disclosure::{SD_ALG, random_salt};
use super::{ClaimPath, Disclosure, PathElement, SdJwt, SdJwtError};
use crate::jose::{JwsHeader, Signer, jws};

/// Builds an SD-JWT from plain claims: mark paths as selectively disclosable, then sign.
///
/// A path may point into a value that is itself disclosable (nested structures, RFC 9901
/// §6.3): the inner disclosures are made first and the outer one carries their digests.
#[derive(Debug, Clone)]
pub struct SdJwtBuilder {
    claims: Map<String, Value>,
    disclosable: BTreeSet<ClaimPath>,
    decoys: usize,
}

impl SdJwtBuilder {
    /// Starts from the claims that the issuer-signed JWT would carry in the clear.
    pub fn new(claims: Map<String, Value>) -> Self {
        Self { claims, disclosable: BTreeSet::new(), decoys: 0 }
    }

    /// Makes the claim at `path` selectively disclosable.
    pub fn disclosable(mut self, path: ClaimPath) -> Self {
        self.disclosable.insert(path);
        self
    }

    /// Makes every top-level claim except `keep_visible` selectively disclosable.
    pub fn all_top_level_disclosable(mut self, keep_visible: &[&str]) -> Self {
        for k in self.claims.keys() {
            if !keep_visible.contains(&k.as_str()) {
                self.disclosable.insert(ClaimPath::key(k));
            }
        }
        self
    }

    /// Adds `n` decoy digests to every `_sd` array (RFC 9901 §4.2.5), hiding how many claims
    /// an object really has.
    pub fn decoys(mut self, n: usize) -> Self {
        self.decoys = n;
        self
    }

    /// Replaces disclosable claims by digests, signs, and returns the issued SD-JWT (no KB).
    pub fn sign(self, header: &JwsHeader, signer: &dyn Signer) -> Result<SdJwt, SdJwtError> {
        let (payload, disclosures) = self.conceal()?;
        let jwt = jws::sign_json(header, &payload, signer).map_err(SdJwtError::jose("issuer JWT"))?;
        Ok(SdJwt::from_parts(jwt, disclosures, None))
    }

    /// [`Self::sign`] under a header encoded once ([`jws::EncodedHeader`]): the same SD-JWT,
    /// without serialising and encoding the header again (an issuer's `trust_chain` is
    /// kilobytes).
    pub fn sign_encoded(self, header: &jws::EncodedHeader, signer: &dyn Signer) -> Result<SdJwt, SdJwtError> {
        let (payload, disclosures) = self.conceal()?;
        let jwt = jws::sign_json_encoded(header, &payload, signer).map_err(SdJwtError::jose("issuer JWT"))?;
        Ok(SdJwt::from_parts(jwt, disclosures, None))
    }

    /// The issuer-signed JWT's payload (digests in place of the disclosable claims, `_sd_alg`)
    /// and the disclosures.
    fn conceal(self) -> Result<(Map<String, Value>, Vec<Disclosure>), SdJwtError> {
        let mut disclosures = Vec::new();
        let mut used = BTreeSet::new();
        let mut payload = conceal_object(
            self.claims,
            &ClaimPath::default(),
            &self.disclosable,
            self.decoys,
            &mut disclosures,
            &mut used,
        )?;
        if let Some(missing) = self.disclosable.difference(&used).next() {
            return Err(SdJwtError::NoSuchClaim(missing.to_string()));
        }
        payload.insert("_sd_alg".into(), Value::String(SD_ALG.into()));
        Ok((payload, disclosures))
    }
}

fn decoy() -> Result<String, SdJwtError> {
    Ok(super::disclosure::digest(&random_salt()?))
}

fn conceal_value(
    v: Value,
    path: &ClaimPath,
    sd: &BTreeSet<ClaimPath>,
    decoys: usize,
    out: &mut Vec<Disclosure>,
    used: &mut BTreeSet<ClaimPath>,
) -> Result<Value, SdJwtError> {
    Ok(match v {
        Value::Object(m) => Value::Object(conceal_object(m, path, sd, decoys, out, used)?),
        Value::Array(a) => {
            let mut arr = Vec::with_capacity(a.len());
            for (i, el) in a.into_iter().enumerate() {
                let child = path.child(PathElement::Index(i));
                let el = conceal_value(el, &child, sd, decoys, out, used)?;
                if sd.contains(&child) {
                    used.insert(child);
                    let d = Disclosure::element(el)?;
                    let mut m = Map::new();
                    m.insert("...".into(), Value::String(d.digest().to_owned()));
                    arr.push(Value::Object(m));
                    out.push(d);
                } else {
                    arr.push(el);
                }
            }
            Value::Array(arr)
        }
        other => other,
    })
}

fn conceal_object(
    m: Map<String, Value>,
    path: &ClaimPath,
    sd: &BTreeSet<ClaimPath>,
    decoys: usize,
    out: &mut Vec<Disclosure>,
    used: &mut BTreeSet<ClaimPath>,
) -> Result<Map<String, Value>, SdJwtError> {
    if m.contains_key("_sd") {
        return Err(SdJwtError::ReservedClaimName("_sd".into()));
    }
    let mut res = Map::with_capacity(m.len());
    let mut digests = Vec::new();
    for (k, v) in m {
        let child = path.child(PathElement::Key(k.clone()));
        let v = conceal_value(v, &child, sd, decoys, out, used)?;
        if sd.contains(&child) {
            used.insert(child);
            let d = Disclosure::property(&k, v)?;
            digests.push(d.digest().to_owned());
            out.push(d);
        } else {
            res.insert(k, v);
        }
    }
    if !digests.is_empty() {
        for _ in 0..decoys {
            digests.push(decoy()?);
        }
        // RFC 9901 §4.2.4.1: order must not reveal the original claim order.
        digests.sort_unstable();
        res.insert("_sd".into(), Value::from(digests));
    }
    Ok(res)
}
