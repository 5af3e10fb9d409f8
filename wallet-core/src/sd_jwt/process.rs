//! Rebuilding the claims from the issuer-signed payload and the disclosures
//! (RFC 9901 §7.1 step 3-5). Both the verifier and the holder use this one function: the
//! verifier to get the disclosed claims with every check applied, the holder to learn which
//! disclosure sits at which claim path.

use std::collections::{HashMap, HashSet};

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

struct Ctx<'a> {
    disclosures: &'a [Disclosure],
    by_digest: HashMap<&'a str, usize>,
    seen: HashSet<String>,
    paths: Vec<Option<ClaimPath>>,
}

/// Embeds `disclosures` into `payload`. Fails on duplicate disclosures or digests, on a
/// disclosure of the wrong kind for its place, on claim name collisions, and on any
/// disclosure left unreferenced.
pub(crate) fn process(mut payload: Map<String, Value>, disclosures: &[Disclosure]) -> Result<Processed, SdJwtError> {
    let mut by_digest = HashMap::with_capacity(disclosures.len());
    for (i, d) in disclosures.iter().enumerate() {
        if by_digest.insert(d.digest(), i).is_some() {
            return Err(SdJwtError::DuplicateDisclosure(d.digest().to_owned()));
        }
    }
    // RFC 9901 §4.1.1: `_sd_alg` only at the top level; it is removed from the result.
    payload.remove("_sd_alg");
    let mut ctx = Ctx { disclosures, by_digest, seen: HashSet::new(), paths: vec![None; disclosures.len()] };
    let claims = process_object(payload, &ClaimPath::default(), 0, &mut ctx)?;
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

fn process_value(v: Value, path: &ClaimPath, depth: usize, ctx: &mut Ctx<'_>) -> Result<Value, SdJwtError> {
    if depth > MAX_DEPTH {
        return Err(SdJwtError::TooDeep);
    }
    Ok(match v {
        Value::Object(m) => Value::Object(process_object(m, path, depth + 1, ctx)?),
        Value::Array(a) => Value::Array(process_array(a, path, depth + 1, ctx)?),
        other => other,
    })
}

fn take_digest(ctx: &mut Ctx<'_>, digest: &str) -> Result<Option<usize>, SdJwtError> {
    if !ctx.seen.insert(digest.to_owned()) {
        return Err(SdJwtError::DuplicateDigest(digest.to_owned()));
    }
    Ok(ctx.by_digest.get(digest).copied())
}

fn process_object(
    mut m: Map<String, Value>,
    path: &ClaimPath,
    depth: usize,
    ctx: &mut Ctx<'_>,
) -> Result<Map<String, Value>, SdJwtError> {
    let sd = match m.remove("_sd") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|d| match d {
                Value::String(s) => Ok(s),
                _ => Err(SdJwtError::MalformedSdStructure("_sd (not an array of strings)")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(SdJwtError::MalformedSdStructure("_sd (not an array)")),
    };
    let mut out = Map::with_capacity(m.len() + sd.len());
    for (k, v) in m {
        let child = path.child(PathElement::Key(k.clone()));
        out.insert(k, process_value(v, &child, depth, ctx)?);
    }
    for digest in sd {
        let Some(i) = take_digest(ctx, &digest)? else {
            continue; // a decoy, or a claim not disclosed
        };
        let Some(d) = ctx.disclosures.get(i) else { continue };
        let Some(name) = d.name() else {
            return Err(SdJwtError::DisclosureKindMismatch(digest));
        };
        if out.contains_key(name) {
            return Err(SdJwtError::ClaimCollision(name.to_owned()));
        }
        let name = name.to_owned();
        let child = path.child(PathElement::Key(name.clone()));
        let value = process_value(d.value().clone(), &child, depth, ctx)?;
        if let Some(slot) = ctx.paths.get_mut(i) {
            *slot = Some(child);
        }
        out.insert(name, value);
    }
    Ok(out)
}

fn array_digest(v: &Value) -> Result<Option<&str>, SdJwtError> {
    match v {
        Value::Object(m) if m.len() == 1 => match m.get("...") {
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(SdJwtError::MalformedSdStructure("array element digest (`...` not a string)")),
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

fn process_array(a: Vec<Value>, path: &ClaimPath, depth: usize, ctx: &mut Ctx<'_>) -> Result<Vec<Value>, SdJwtError> {
    let mut out = Vec::with_capacity(a.len());
    for el in a {
        if let Some(digest) = array_digest(&el)?.map(str::to_owned) {
            let Some(i) = take_digest(ctx, &digest)? else {
                continue; // not disclosed: the element is removed (RFC 9901 §7.1 step 3.3.2)
            };
            let Some(d) = ctx.disclosures.get(i) else { continue };
            if d.name().is_some() {
                return Err(SdJwtError::DisclosureKindMismatch(digest));
            }
            let child = path.child(PathElement::Index(out.len()));
            let value = process_value(d.value().clone(), &child, depth, ctx)?;
            if let Some(slot) = ctx.paths.get_mut(i) {
                *slot = Some(child);
            }
            out.push(value);
        } else {
            let child = path.child(PathElement::Index(out.len()));
            out.push(process_value(el, &child, depth, ctx)?);
        }
    }
    Ok(out)
}
