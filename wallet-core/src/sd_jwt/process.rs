//! Rebuilding the claims from the issuer-signed payload and the disclosures
//! (RFC 9901 §7.1 steps 3-5). Both the verifier and the holder use this one function: the
//! verifier to get the disclosed claims with every check applied, the holder to learn which
//! disclosure sits at which claim path.
//!
//! This is on the verifier's hot path: values are moved, not cloned, and a claim's path is
//! materialized only when a disclosure is embedded there (parents are a borrowed chain).

use std::collections::HashSet;

use serde_json::map::Entry;
use serde_json::{Map, Value};

use super::disclosure::{DigestText, ParsedDisclosure};
use super::{ClaimPath, Disclosure, PathElement, SdJwtError};

/// How deep claims may nest before we refuse (bounded recursion on hostile input).
pub(crate) const MAX_DEPTH: usize = 64;

/// The claims with every referenced disclosure embedded, and where each disclosure went.
#[derive(Debug, Clone)]
pub(crate) struct Processed {
    /// The claims, without `_sd`, `_sd_alg` and `...` placeholders.
    pub(crate) claims: Map<String, Value>,
    /// For each disclosure (by index), the path of the claim it disclosed.
    pub(crate) paths: Vec<ClaimPath>,
}

/// A step of the current path, borrowed from the claim being processed.
#[derive(Clone, Copy)]
enum Step<'k> {
    Root,
    Key(&'k str),
    Index(usize),
}

pub(crate) struct Node<'p, 'k> {
    parent: Option<&'p Node<'p, 'k>>,
    step: Step<'k>,
}

impl<'p, 'k> Node<'p, 'k> {
    pub(crate) const ROOT: Node<'static, 'static> = Node { parent: None, step: Step::Root };

    /// The member `key` of this object.
    pub(crate) fn key(&'p self, key: &'k str) -> Self {
        Node { parent: Some(self), step: Step::Key(key) }
    }

    /// The element `i` of this array.
    pub(crate) fn index(&'p self, i: usize) -> Self {
        Node { parent: Some(self), step: Step::Index(i) }
    }

    fn to_path(&self) -> ClaimPath {
        let mut rev = Vec::new();
        let mut cur = Some(self);
        while let Some(n) = cur {
            match n.step {
                Step::Root => {}
                Step::Key(k) => rev.push(PathElement::Key(k.to_owned())),
                Step::Index(i) => rev.push(PathElement::Index(i)),
            }
            cur = n.parent;
        }
        rev.reverse();
        ClaimPath(rev)
    }
}

pub(crate) struct Ctx<'a> {
    disclosures: &'a mut [ParsedDisclosure],
    /// Disclosure indices sorted by digest, for binary search (no hashing on the hot path).
    by_digest: Vec<usize>,
    /// Every digest met so far (RFC 9901 §7.1 step 4), in a small-vector-first set.
    seen: Seen,
    paths: Vec<Option<ClaimPath>>,
}

/// The digests met so far: a linear list while small (the common case: tens of digests),
/// a hash set beyond. A SHA-256 digest (43 characters) is kept inline, anything else (which
/// can match no disclosure, but still must not repeat) on the heap.
enum Seen {
    Few(Vec<SeenDigest>),
    Many(HashSet<SeenDigest>),
}

#[derive(PartialEq, Eq, Hash)]
enum SeenDigest {
    Sha256(DigestText),
    Other(Box<str>),
}

impl SeenDigest {
    fn of(d: &str) -> Self {
        DigestText::from_text(d).map_or_else(|| SeenDigest::Other(d.into()), SeenDigest::Sha256)
    }
}

impl Seen {
    const LINEAR_MAX: usize = 64;

    /// Adds `d`; `false` if it was already there.
    fn insert(&mut self, d: &str) -> bool {
        let d = SeenDigest::of(d);
        match self {
            Seen::Few(v) => {
                if v.contains(&d) {
                    return false;
                }
                if v.len() < Self::LINEAR_MAX {
                    v.push(d);
                } else {
                    let mut set: HashSet<SeenDigest> = v.drain(..).collect();
                    set.insert(d);
                    *self = Seen::Many(set);
                }
                true
            }
            Seen::Many(s) => s.insert(d),
        }
    }
}

impl<'a> Ctx<'a> {
    /// A context over `disclosures`; two disclosures with the same digest are refused.
    pub(crate) fn new(disclosures: &'a mut [ParsedDisclosure]) -> Result<Self, SdJwtError> {
        let mut by_digest: Vec<usize> = (0..disclosures.len()).collect();
        let digest_of = |i: usize| disclosures.get(i).map(|d| d.digest);
        by_digest.sort_unstable_by_key(|&i| digest_of(i));
        for pair in by_digest.windows(2) {
            if let [a, b] = pair
                && digest_of(*a) == digest_of(*b)
            {
                return Err(SdJwtError::DuplicateDisclosure(digest_of(*a).map(|d| d.as_str().to_owned()).unwrap_or_default()));
            }
        }
        let n = disclosures.len();
        let seen = Seen::Few(Vec::with_capacity((n * 2).min(Seen::LINEAR_MAX)));
        Ok(Ctx { disclosures, by_digest, seen, paths: vec![None; n] })
    }

    /// The path of each disclosure, by index; a disclosure no digest referenced is refused
    /// (RFC 9901 §7.1 step 5).
    pub(crate) fn finish(mut self) -> Result<Vec<ClaimPath>, SdJwtError> {
        let mut paths = Vec::with_capacity(self.paths.len());
        for (i, p) in std::mem::take(&mut self.paths).into_iter().enumerate() {
            match p {
                Some(p) => paths.push(p),
                None => return Err(SdJwtError::UnreferencedDisclosure(self.digest_of(i))),
            }
        }
        Ok(paths)
    }

    /// The claim name of disclosure `i` (`None` for an array element).
    pub(crate) fn disclosure_name(&self, i: usize) -> Option<&str> {
        self.disclosures.get(i).and_then(|d| d.name.as_deref())
    }

    fn find(&self, digest: &str) -> Option<usize> {
        let digest = DigestText::from_text(digest)?; // any other length matches no disclosure
        let ds = &*self.disclosures;
        self.by_digest
            .binary_search_by(|&i| ds.get(i).map(|d| d.digest).cmp(&Some(digest)))
            .ok()
            .and_then(|pos| self.by_digest.get(pos).copied())
    }

    fn digest_of(&self, i: usize) -> String {
        self.disclosures.get(i).map(|d| d.digest.as_str().to_owned()).unwrap_or_default()
    }
}

/// The holder's side: [`process`] over already-parsed [`Disclosure`]s (their names and
/// values are copied; the verifier's path moves them instead).
pub(crate) fn process_disclosures(payload: Map<String, Value>, disclosures: &[Disclosure]) -> Result<Processed, SdJwtError> {
    let mut parsed: Vec<ParsedDisclosure> = disclosures
        .iter()
        .map(|d| ParsedDisclosure { digest: d.digest_text(), name: d.name().map(str::to_owned), value: d.value().clone() })
        .collect();
    process(payload, &mut parsed)
}

/// Embeds `disclosures` into `payload`, moving each disclosure's name and value into the
/// claims. Fails on duplicate disclosures or digests, on a disclosure of the wrong kind for
/// its place, on claim name collisions, and on any disclosure left unreferenced.
pub(crate) fn process(mut payload: Map<String, Value>, disclosures: &mut [ParsedDisclosure]) -> Result<Processed, SdJwtError> {
    let mut ctx = Ctx::new(disclosures)?;
    // RFC 9901 §4.1.1: `_sd_alg` only at the top level; it is removed from the result.
    payload.shift_remove("_sd_alg");
    process_object(&mut payload, &Node::ROOT, 0, &mut ctx)?;
    Ok(Processed { claims: payload, paths: ctx.finish()? })
}

pub(crate) fn process_value(v: &mut Value, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    if depth > MAX_DEPTH {
        return Err(SdJwtError::TooDeep);
    }
    match v {
        Value::Object(m) => process_object(m, at, depth + 1, ctx),
        Value::Array(a) => process_array(a, at, depth + 1, ctx),
        _ => Ok(()),
    }
}

/// RFC 9901 §7.1 step 4: a digest may appear only once, decoys included. The index of the
/// disclosure it references, if any.
pub(crate) fn take_digest(ctx: &mut Ctx<'_>, digest: &str) -> Result<Option<usize>, SdJwtError> {
    if !ctx.seen.insert(digest) {
        return Err(SdJwtError::DuplicateDigest(digest.to_owned()));
    }
    Ok(ctx.find(digest))
}

/// Embeds the object-property disclosure `i` (found through a digest of `m`'s `_sd`) into
/// `m`, processing its value first.
pub(crate) fn embed_property(m: &mut Map<String, Value>, i: usize, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    let Some(d) = ctx.disclosures.get_mut(i) else { return Ok(()) };
    let Some(name) = d.name.take() else {
        return Err(SdJwtError::DisclosureKindMismatch(d.digest.as_str().to_owned()));
    };
    // The name is hashed once: the entry both detects a collision and takes the value.
    let slot = match m.entry(name) {
        Entry::Occupied(o) => return Err(SdJwtError::ClaimCollision(o.key().clone())),
        Entry::Vacant(v) => v,
    };
    // Each disclosure is embedded at most once (its digest appears once), so its value
    // moves into the claims.
    let mut value = std::mem::take(&mut d.value);
    process_disclosed(&mut value, &at.key(slot.key()), i, depth, ctx)?;
    slot.insert(value);
    Ok(())
}

/// Appends the array-element disclosure `i` (found through a `{"...": digest}` element) to
/// `a`, processing its value first.
pub(crate) fn embed_element(a: &mut Vec<Value>, i: usize, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    let Some(d) = ctx.disclosures.get_mut(i) else { return Ok(()) };
    if d.name.is_some() {
        return Err(SdJwtError::DisclosureKindMismatch(d.digest.as_str().to_owned()));
    }
    let mut value = std::mem::take(&mut d.value);
    process_disclosed(&mut value, &at.index(a.len()), i, depth, ctx)?;
    a.push(value);
    Ok(())
}

/// Processes the value of disclosure `i`, embedded at `node`, and records `node` as its path.
fn process_disclosed(value: &mut Value, node: &Node<'_, '_>, i: usize, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    process_value(value, node, depth, ctx)?;
    if let Some(path) = ctx.paths.get_mut(i) {
        *path = Some(node.to_path());
    }
    Ok(())
}

/// Processes an object in place: the members it has (recursively), then its `_sd` digests,
/// whose disclosed claims are appended in `_sd` order.
fn process_object(m: &mut Map<String, Value>, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    let sd = match m.shift_remove("_sd") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(SdJwtError::MalformedSdStructure("_sd (not an array)")),
    };
    for (k, v) in m.iter_mut() {
        process_value(v, &at.key(k), depth, ctx)?;
    }
    for digest in sd {
        let Value::String(digest) = digest else {
            return Err(SdJwtError::MalformedSdStructure("_sd (not an array of strings)"));
        };
        if let Some(i) = take_digest(ctx, &digest)? {
            embed_property(m, i, at, depth, ctx)?;
        }
        // else: a decoy, or a claim not disclosed
    }
    Ok(())
}

/// The digest of an array element `{"...": digest}`, taken out of the element.
fn array_digest(v: &mut Value) -> Result<Option<String>, SdJwtError> {
    match v {
        Value::Object(m) if m.len() == 1 => match m.get_mut("...") {
            Some(Value::String(s)) => Ok(Some(std::mem::take(s))),
            Some(_) => Err(SdJwtError::MalformedSdStructure("array element digest (`...` not a string)")),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

fn process_array(a: &mut Vec<Value>, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<(), SdJwtError> {
    let items = std::mem::take(a);
    a.reserve(items.len());
    for mut el in items {
        if let Some(digest) = array_digest(&mut el)? {
            if let Some(i) = take_digest(ctx, &digest)? {
                embed_element(a, i, at, depth, ctx)?;
            }
            // else: not disclosed, the element is removed (RFC 9901 §7.1 step 3.3.2)
        } else {
            process_value(&mut el, &at.index(a.len()), depth, ctx)?;
            a.push(el);
        }
    }
    Ok(())
}
