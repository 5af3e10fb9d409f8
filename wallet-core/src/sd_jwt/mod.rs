//! SD-JWT, RFC 9901: selective disclosure for JWTs, with key binding.
//!
//! * [`SdJwtBuilder`] issues: chosen claims (object properties, array elements, nested
//!   structures) become disclosures, with optional decoys; `_sd_alg` is `sha-256`.
//! * [`SdJwt`] is the parsed `~`-separated form. The holder calls [`SdJwt::present`] to keep
//!   the disclosures of the chosen claim paths (and the parents they need) and append a
//!   KB-JWT.
//! * [`Verifier`] checks a presentation: every rule of RFC 9901 §7 and the SD-JWT VC rules
//!   on `typ` and always-visible claims, then the KB-JWT (`kb+jwt`, `cnf.jwk` signature,
//!   `aud`, `nonce`, `iat` window, `sd_hash`). Only a verification yields
//!   [`VerifiedSdJwt`], whose claims are the disclosed ones: each object's members in the
//!   payload's order, then its disclosed claims in its `_sd` order. It reads the
//!   issuer payload and embeds the disclosures in one pass (module `one_pass`), and leaves
//!   anything unusual, and every error, to the general path (module `process`), which the
//!   holder's [`SdJwt::claim_paths`] also takes.
//!
//! The issuer's key comes from an [`IssuerKeyResolver`]: `x5c` chains ([`crate::x509`]),
//! federation trust chains, or a configured key.

mod disclosure;
mod error;
mod issue;
mod kb;
mod one_pass;
mod path;
mod process;
mod resolver;
mod verify;

pub use disclosure::{Disclosure, SD_ALG, digest};
pub use error::SdJwtError;
pub use issue::SdJwtBuilder;
pub use kb::{KB_JWT_TYP, KeyBindingClaims, KeyBindingInput};
pub use path::{ClaimPath, PathElement};
pub use resolver::{IssuerKeyResolver, KeyResolutionError, StaticKeyResolver};
pub use verify::{ALWAYS_VISIBLE, KeyBindingExpectation, VerifiedSdJwt, Verifier};

use serde_json::{Map, Value};

use crate::jose::{CompactJws, Signer, jws::MAX_JWS_LEN};

/// What a holder sees of its own credential: all claims, and where each disclosure goes.
#[derive(Debug, Clone)]
pub struct HolderView<'a> {
    /// Every claim with every disclosure embedded.
    pub claims: Map<String, Value>,
    /// Each disclosure with the path of the claim it discloses.
    pub disclosures: Vec<(ClaimPath, &'a Disclosure)>,
}

/// At most this many disclosures are accepted in one SD-JWT.
pub const MAX_DISCLOSURES: usize = 1024;

/// An SD-JWT in parts: the issuer-signed JWT, the disclosures, and a KB-JWT if present.
/// Parsing checks the form only; nothing here is verified.
#[derive(Debug, Clone, PartialEq)]
pub struct SdJwt {
    issuer_jwt: String,
    disclosures: Vec<Disclosure>,
    kb_jwt: Option<String>,
}

impl SdJwt {
    pub(crate) fn from_parts(issuer_jwt: String, disclosures: Vec<Disclosure>, kb_jwt: Option<String>) -> Self {
        Self { issuer_jwt, disclosures, kb_jwt }
    }

    /// Parses `<JWT>~<D1>~...~<Dn>~[<KB-JWT>]` (RFC 9901 §4). Disclosures are decoded here;
    /// an empty disclosure between two `~` is malformed.
    pub fn parse(s: &str) -> Result<Self, SdJwtError> {
        let parts = Parts::split(s)?;
        let mut disclosures = Vec::with_capacity(parts.count);
        for (i, d) in parts.disclosures().enumerate() {
            disclosures.push(Disclosure::parse(d?, i)?);
        }
        let kb_jwt = parts.kb_jwt.map(str::to_owned);
        Ok(Self { issuer_jwt: parts.issuer_jwt.to_owned(), disclosures, kb_jwt })
    }

    /// The issuer-signed JWT.
    pub fn issuer_jwt(&self) -> &str {
        &self.issuer_jwt
    }

    /// The disclosures, in order.
    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }

    /// The KB-JWT, if any.
    pub fn kb_jwt(&self) -> Option<&str> {
        self.kb_jwt.as_deref()
    }

    /// The SD-JWT without KB: `<JWT>~<D1>~...~<Dn>~`, which is also the input of `sd_hash`.
    pub fn without_kb(&self) -> String {
        let mut out = String::with_capacity(
            self.issuer_jwt.len() + self.disclosures.iter().map(|d| d.encoded().len() + 1).sum::<usize>() + 1,
        );
        out.push_str(&self.issuer_jwt);
        out.push('~');
        for d in &self.disclosures {
            out.push_str(d.encoded());
            out.push('~');
        }
        out
    }

    /// The serialized form, with the KB-JWT if present.
    pub fn serialize(&self) -> String {
        let mut s = self.without_kb();
        if let Some(kb) = &self.kb_jwt {
            s.push_str(kb);
        }
        s
    }

    /// The issuer JWT's payload, not verified (for the holder's display and `inspect`).
    pub fn unverified_payload(&self) -> Result<Map<String, Value>, SdJwtError> {
        let jws = CompactJws::parse(&self.issuer_jwt).map_err(SdJwtError::jose("issuer JWT"))?;
        jws.payload_json().map_err(SdJwtError::jose("issuer JWT"))
    }

    /// The holder's view (unverified): every claim, and each disclosure with the claim path
    /// it discloses.
    pub fn claim_paths(&self) -> Result<HolderView<'_>, SdJwtError> {
        let processed = process::process_disclosures(self.unverified_payload()?, &self.disclosures)?;
        let disclosures = processed.paths.into_iter().zip(self.disclosures.iter()).collect();
        Ok(HolderView { claims: processed.claims, disclosures })
    }

    /// The same SD-JWT keeping only the disclosures needed to reveal `paths`: for each path,
    /// the disclosures of the claim itself, of everything inside it, and of every parent on
    /// the way (RFC 9901 §7.2: a nested disclosure is useless without its parent).
    /// A path that names no claim is an error.
    pub fn select(&self, paths: &[ClaimPath]) -> Result<SdJwt, SdJwtError> {
        let HolderView { claims, disclosures: pairs } = self.claim_paths()?;
        for p in paths {
            if !path_exists(&claims, p) {
                return Err(SdJwtError::NoSuchClaim(p.to_string()));
            }
        }
        let keep: Vec<Disclosure> = pairs
            .into_iter()
            .filter(|(dp, _)| paths.iter().any(|p| dp.is_prefix_of(p) || p.is_prefix_of(dp)))
            .map(|(_, d)| d.clone())
            .collect();
        Ok(SdJwt { issuer_jwt: self.issuer_jwt.clone(), disclosures: keep, kb_jwt: None })
    }

    /// A presentation: the disclosures for `paths` (all of them when `None`), then a KB-JWT
    /// signed by the holder over `sd_hash`, `aud`, `nonce`, `iat` (RFC 9901 §4.3).
    pub fn present(
        &self,
        paths: Option<&[ClaimPath]>,
        kb: &KeyBindingInput,
        holder: &dyn Signer,
    ) -> Result<String, SdJwtError> {
        let selected = match paths {
            Some(p) => self.select(p)?,
            None => SdJwt { kb_jwt: None, ..self.clone() },
        };
        let mut out = selected.without_kb();
        let kb_jwt = kb::sign(&out, kb, holder)?;
        out.push_str(&kb_jwt);
        Ok(out)
    }
}

/// The `~`-separated parts of an SD-JWT, borrowed from the text (RFC 9901 §4), with the
/// form checks of [`SdJwt::parse`]: size, a `~`, a non-empty issuer JWT, the number of
/// disclosures. Empty disclosures are reported by [`Parts::disclosures`], in order.
pub(crate) struct Parts<'a> {
    /// The issuer-signed JWT.
    pub(crate) issuer_jwt: &'a str,
    /// `<JWT>~<D1>~...~<Dn>~`: the input of `sd_hash`.
    pub(crate) without_kb: &'a str,
    /// `<D1>~...~<Dn>~` (empty when there is no disclosure).
    between: &'a str,
    /// The number of disclosures.
    pub(crate) count: usize,
    /// The KB-JWT, if any.
    pub(crate) kb_jwt: Option<&'a str>,
}

impl<'a> Parts<'a> {
    pub(crate) fn split(s: &'a str) -> Result<Self, SdJwtError> {
        let s = s.trim();
        if s.len() > MAX_JWS_LEN * 2 {
            return Err(SdJwtError::TooLarge("presentation exceeds 2 MiB"));
        }
        let Some(last_tilde) = s.rfind('~') else {
            return Err(SdJwtError::Malformed("no `~` separator (a plain JWT is not an SD-JWT)"));
        };
        let (body, kb) = s.split_at(last_tilde + 1);
        let (issuer_jwt, between) = body.split_once('~').unwrap_or((body, ""));
        if issuer_jwt.is_empty() {
            return Err(SdJwtError::Malformed("empty issuer-signed JWT"));
        }
        // `between` ends with `~` unless empty: one `~` per disclosure.
        let count = between.bytes().filter(|b| *b == b'~').count();
        if count > MAX_DISCLOSURES {
            return Err(SdJwtError::TooLarge("too many disclosures"));
        }
        Ok(Self { issuer_jwt, without_kb: body, between, count, kb_jwt: if kb.is_empty() { None } else { Some(kb) } })
    }

    /// The encoded disclosures, in order; an empty one (`~~`) is malformed.
    pub(crate) fn disclosures(&self) -> impl Iterator<Item = Result<&'a str, SdJwtError>> + use<'a> {
        let between = self.between;
        between.split_terminator('~').map(|d| {
            if d.is_empty() {
                Err(SdJwtError::Malformed("empty disclosure between `~` separators"))
            } else {
                Ok(d)
            }
        })
    }
}

fn path_exists(claims: &Map<String, Value>, path: &ClaimPath) -> bool {
    let mut cur: Option<&Value> = None;
    for (i, e) in path.elements().iter().enumerate() {
        let next = match (i, e, cur) {
            (0, PathElement::Key(k), _) => claims.get(k),
            (_, PathElement::Key(k), Some(Value::Object(m))) => m.get(k),
            (_, PathElement::Index(n), Some(Value::Array(a))) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => cur = Some(v),
            None => return false,
        }
    }
    cur.is_some()
}

#[cfg(test)]
mod tests;
