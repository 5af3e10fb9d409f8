//! Rebuilding the claims from the issuer-signed payload and the disclosures
//! (RFC 9901 §7.1 steps 3-5). Both the verifier and the holder use this one function: the
//! verifier to get the disclosed claims with every check applied, the holder to learn which
//! disclosure sits at which claim path.
//!
//! This is on the verifier's hot path: values are moved, not cloned, and a claim's path is
//! materialized only when a disclosure is embedded there (parents are a borrowed chain).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::{ClaimPath, Disclosure, PathElement, SdJwtError};

/// How deep claims may nest before we refuse (bounded recursion on hostile input).
const MAX_DEPTH: usize = 64;

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

struct Node<'p, 'k> {
    parent: Option<&'p Node<'p, 'k>>,
    step: Step<'k>,
}

impl Node<'_, '_> {
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

struct Ctx<'a> {
    disclosures: &'a [Disclosure],
    /// Disclosure indices sorted by digest, for binary search (no hashing on the hot path).
    by_digest: Vec<usize>,
    /// Every digest met so far (RFC 9901 §7.1 step 4), in a small-vector-first set.
    seen: Seen,
    paths: Vec<Option<ClaimPath>>,
}

/// The digests met so far: a linear list while small (the common case: tens of digests),
/// a hash set beyond.
enum Seen {
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl Seen {
    const LINEAR_MAX: usize = 64;

    /// Adds `d`; false if it was already there.
    fn insert(&mut self, d: String) -> bool {
        match self {
            Seen::Few(v) => {
                if v.contains(&d) {
                    return false;
                }
                if v.len() < Self::LINEAR_MAX {
                    v.push(d);
                } else {
                    let mut set: HashSet<String> = v.drain(..).collect();
                    set.insert(d);
                    *self = Seen::Many(set);
                }
                true
            }
            Seen::Many(s) => s.insert(d),
        }
    }
}

impl Ctx<'_> {
    fn find(&self, digest: &str) -> Option<usize> {
        let ds = self.disclosures;
        self.by_digest
            .binary_search_by(|&i| ds.get(i).map_or("", |d| d.digest()).cmp(digest))
            .ok()
            .and_then(|pos| self.by_digest.get(pos).copied())
    }
}

/// Embeds `disclosures` into `payload`. Fails on duplicate disclosures or digests, on a
/// disclosure of the wrong kind for its place, on claim name collisions, and on any
/// disclosure left unreferenced.
pub(crate) fn process(mut payload: Map<String, Value>, disclosures: &[Disclosure]) -> Result<Processed, SdJwtError> {
    let mut by_digest: Vec<usize> = (0..disclosures.len()).collect();
    let digest_of = |i: usize| disclosures.get(i).map_or("", |d| d.digest());
    by_digest.sort_unstable_by(|&a, &b| digest_of(a).cmp(digest_of(b)));
    for pair in by_digest.windows(2) {
        if let [a, b] = pair
            && digest_of(*a) == digest_of(*b)
        {
            return Err(SdJwtError::DuplicateDisclosure(digest_of(*a).to_owned()));
        }
    }
    // RFC 9901 §4.1.1: `_sd_alg` only at the top level; it is removed from the result.
    payload.remove("_sd_alg");
    let mut ctx = Ctx {
        disclosures,
        by_digest,
        seen: Seen::Few(Vec::with_capacity(disclosures.len() * 2)),
        paths: vec![None; disclosures.len()],
    };
    let root = Node { parent: None, step: Step::Root };
    let claims = process_object(payload, &root, 0, &mut ctx)?;
    let mut paths = Vec::with_capacity(disclosures.len());
    for (i, p) in ctx.paths.into_iter().enumerate() {
        match p {
            Some(p) => paths.push(p),
            None => {
                let digest = disclosures.get(i).map(|d| d.digest().to_owned()).unwrap_or_default();
                return Err(SdJwtError::UnreferencedDisclosure(digest));
            }
        }
    }
    Ok(Processed { claims, paths })
}

fn process_value(v: Value, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<Value, SdJwtError> {
    if depth > MAX_DEPTH {
        return Err(SdJwtError::TooDeep);
    }
    Ok(match v {
        Value::Object(m) => Value::Object(process_object(m, at, depth + 1, ctx)?),
        Value::Array(a) => Value::Array(process_array(a, at, depth + 1, ctx)?),
        other => other,
    })
}

/// RFC 9901 §7.1 step 4: a digest may appear only once, decoys included.
fn take_digest(ctx: &mut Ctx<'_>, digest: String) -> Result<Option<usize>, SdJwtError> {
    let found = ctx.find(&digest);
    if !ctx.seen.insert(digest.clone()) {
        return Err(SdJwtError::DuplicateDigest(digest));
    }
    Ok(found)
}

fn process_object(
    mut m: Map<String, Value>,
    at: &Node<'_, '_>,
    depth: usize,
    ctx: &mut Ctx<'_>,
) -> Result<Map<String, Value>, SdJwtError> {
    let sd = match m.remove("_sd") {
        None => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(SdJwtError::MalformedSdStructure("_sd (not an array)")),
    };
    let mut out = Map::with_capacity(m.len() + sd.len());
    for (k, v) in m {
        let v = process_value(v, &Node { parent: Some(at), step: Step::Key(&k) }, depth, ctx)?;
        out.insert(k, v);
    }
    for digest in sd {
        let Value::String(digest) = digest else {
            return Err(SdJwtError::MalformedSdStructure("_sd (not an array of strings)"));
        };
        let Some(i) = take_digest(ctx, digest)? else {
            continue; // a decoy, or a claim not disclosed
        };
        let disclosures = ctx.disclosures;
        let Some(d) = disclosures.get(i) else { continue };
        let Some(name) = d.name() else {
            return Err(SdJwtError::DisclosureKindMismatch(d.digest().to_owned()));
        };
        if out.contains_key(name) {
            return Err(SdJwtError::ClaimCollision(name.to_owned()));
        }
        let node = Node { parent: Some(at), step: Step::Key(name) };
        let value = process_value(d.value().clone(), &node, depth, ctx)?;
        if let Some(slot) = ctx.paths.get_mut(i) {
            *slot = Some(node.to_path());
        }
        out.insert(name.to_owned(), value);
    }
    Ok(out)
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

fn process_array(a: Vec<Value>, at: &Node<'_, '_>, depth: usize, ctx: &mut Ctx<'_>) -> Result<Vec<Value>, SdJwtError> {
    let mut out = Vec::with_capacity(a.len());
    for mut el in a {
        if let Some(digest) = array_digest(&mut el)? {
            let Some(i) = take_digest(ctx, digest)? else {
                continue; // not disclosed: the element is removed (RFC 9901 §7.1 step 3.3.2)
            };
            let disclosures = ctx.disclosures;
            let Some(d) = disclosures.get(i) else { continue };
            if d.name().is_some() {
                return Err(SdJwtError::DisclosureKindMismatch(d.digest().to_owned()));
            }
            let node = Node { parent: Some(at), step: Step::Index(out.len()) };
            let value = process_value(d.value().clone(), &node, depth, ctx)?;
            if let Some(slot) = ctx.paths.get_mut(i) {
                *slot = Some(node.to_path());
            }
            out.push(value);
        } else {
            let node = Node { parent: Some(at), step: Step::Index(out.len()) };
            out.push(process_value(el, &node, depth, ctx)?);
        }
    }
    Ok(out)
}
