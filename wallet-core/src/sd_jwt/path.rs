//! Claim paths: which claim of a credential, as DCQL (OpenID4VP §7) writes them: a list of
//! object keys and array indices from the top of the claims.

use std::fmt;

/// One step of a [`ClaimPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A path to a claim, e.g. `["place_of_birth", "locality"]` or `["nationalities", 0]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ClaimPath(pub Vec<PathElement>);

impl ClaimPath {
    /// A top-level claim.
    pub fn key(name: &str) -> Self {
        Self(vec![PathElement::Key(name.to_owned())])
    }

    /// Parses the dotted form used on the command line: `address.street`, `nationalities.0`.
    /// A segment made only of digits is an array index.
    pub fn parse_dotted(s: &str) -> Self {
        Self(
            s.split('.')
                .map(|seg| match seg.parse::<usize>() {
                    Ok(i) if !seg.is_empty() => PathElement::Index(i),
                    _ => PathElement::Key(seg.to_owned()),
                })
                .collect(),
        )
    }

    /// This path extended by one step.
    pub fn child(&self, e: PathElement) -> Self {
        let mut v = self.0.clone();
        v.push(e);
        Self(v)
    }

    /// Whether `self` is a prefix of `other` (or equal).
    pub fn is_prefix_of(&self, other: &ClaimPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The steps.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for e in &self.0 {
            if !first {
                f.write_str(".")?;
            }
            first = false;
            match e {
                PathElement::Key(k) => f.write_str(k)?,
                PathElement::Index(i) => write!(f, "{i}")?,
            }
        }
        Ok(())
    }
}
