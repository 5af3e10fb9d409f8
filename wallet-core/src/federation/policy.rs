//! Metadata policy (OpenID Federation 1.0 draft 48 §6.1): the standard operators, their
//! allowed combinations, the merge of superiors' policies top-down, and their application to
//! an entity's metadata.
//!
//! Our choices where the text leaves room (and where `spid-cie-oidc-django` differs, digest
//! §C): arrays are compared as sets; merged arrays keep the superior's order, then the
//! subordinate's additions; `subset_of` may produce `[]`; `scope` (a space-separated string)
//! is treated as an array of strings and re-joined with single spaces; operators we do not
//! implement are ignored unless a statement lists them in `metadata_policy_crit`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a policy, or its application, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy itself is not valid, or two levels conflict (`invalid_policy`).
    #[error("invalid_policy: {0}")]
    InvalidPolicy(String),
    /// The metadata does not satisfy the policy (`invalid_metadata`).
    #[error("invalid_metadata: {0}")]
    InvalidMetadata(String),
}

fn invalid(msg: impl Into<String>) -> PolicyError {
    PolicyError::InvalidPolicy(msg.into())
}

/// The operators of one parameter. `value: Some(Value::Null)` removes the parameter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParamPolicy {
    /// `value`.
    pub value: Option<Value>,
    /// `add`.
    pub add: Option<Vec<Value>>,
    /// `default`.
    pub default: Option<Value>,
    /// `one_of`.
    pub one_of: Option<Vec<Value>>,
    /// `subset_of`.
    pub subset_of: Option<Vec<Value>>,
    /// `superset_of`.
    pub superset_of: Option<Vec<Value>>,
    /// `essential`.
    pub essential: Option<bool>,
    /// Operators we do not implement (ignored unless critical).
    pub other: BTreeMap<String, Value>,
}

/// A statement's `metadata_policy`: entity type → parameter → operators.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetadataPolicy(pub BTreeMap<String, BTreeMap<String, ParamPolicy>>);

fn contains(set: &[Value], v: &Value) -> bool {
    set.iter().any(|x| x == v)
}

fn is_subset(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| contains(b, x))
}

fn union(a: &[Value], b: &[Value]) -> Vec<Value> {
    let mut out = a.to_vec();
    for x in b {
        if !contains(&out, x) {
            out.push(x.clone());
        }
    }
    out
}

fn intersection(a: &[Value], b: &[Value]) -> Vec<Value> {
    a.iter().filter(|x| contains(b, x)).cloned().collect()
}

fn as_array(v: &Value, what: &str) -> Result<Vec<Value>, PolicyError> {
    match v {
        Value::Array(a) => Ok(a.clone()),
        _ => Err(invalid(format!("`{what}` must be an array"))),
    }
}

impl ParamPolicy {
    /// Parses `{operator: value}` for parameter `param`, then checks the combination.
    pub fn from_json(param: &str, v: &Value) -> Result<Self, PolicyError> {
        let Value::Object(ops) = v else {
            return Err(invalid(format!("policy of `{param}` must be an object")));
        };
        let mut p = ParamPolicy::default();
        for (op, val) in ops {
            let name = format!("{param}.{op}");
            match op.as_str() {
                "value" => p.value = Some(val.clone()),
                "add" => p.add = Some(as_array(val, &name)?),
                "default" => {
                    if val.is_null() {
                        return Err(invalid(format!("`{name}` must not be null")));
                    }
                    p.default = Some(val.clone());
                }
                "one_of" => p.one_of = Some(as_array(val, &name)?),
                "subset_of" => p.subset_of = Some(as_array(val, &name)?),
                "superset_of" => p.superset_of = Some(as_array(val, &name)?),
                "essential" => match val {
                    Value::Bool(b) => p.essential = Some(*b),
                    _ => return Err(invalid(format!("`{name}` must be a boolean"))),
                },
                other => {
                    p.other.insert(other.to_owned(), val.clone());
                }
            }
        }
        p.check(param)?;
        Ok(p)
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let arr = |v: &Vec<Value>| Value::Array(v.clone());
        if let Some(v) = &self.value {
            m.insert("value".into(), v.clone());
        }
        if let Some(v) = &self.add {
            m.insert("add".into(), arr(v));
        }
        if let Some(v) = &self.default {
            m.insert("default".into(), v.clone());
        }
        if let Some(v) = &self.one_of {
            m.insert("one_of".into(), arr(v));
        }
        if let Some(v) = &self.subset_of {
            m.insert("subset_of".into(), arr(v));
        }
        if let Some(v) = &self.superset_of {
            m.insert("superset_of".into(), arr(v));
        }
        if let Some(v) = self.essential {
            m.insert("essential".into(), Value::Bool(v));
        }
        for (k, v) in &self.other {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    /// The combination rules of draft 48 §6.1.3.1 (the "allowed together" column).
    pub fn check(&self, param: &str) -> Result<(), PolicyError> {
        let err = |why: &str| Err(invalid(format!("`{param}`: {why}")));
        if self.one_of.is_some() && (self.add.is_some() || self.subset_of.is_some() || self.superset_of.is_some()) {
            return err("one_of cannot be combined with add, subset_of or superset_of");
        }
        if let Some(v) = &self.value {
            if v.is_null() {
                if self.essential == Some(true) {
                    return err("value null with essential true");
                }
                if self.add.is_some() || self.default.is_some() {
                    return err("value null with add or default");
                }
            }
            if let Some(add) = &self.add {
                match v {
                    Value::Array(a) if is_subset(add, a) => {}
                    _ => return err("add must be a subset of value"),
                }
            }
            if let Some(one_of) = &self.one_of
                && !v.is_null() && !contains(one_of, v) {
                    return err("value must be one of one_of");
                }
            if let Some(sub) = &self.subset_of {
                match v {
                    Value::Array(a) if is_subset(a, sub) => {}
                    Value::Null => {}
                    _ => return err("value must be a subset of subset_of"),
                }
            }
            if let Some(sup) = &self.superset_of {
                match v {
                    Value::Array(a) if is_subset(sup, a) => {}
                    Value::Null => {}
                    _ => return err("value must be a superset of superset_of"),
                }
            }
        }
        if let (Some(add), Some(sub)) = (&self.add, &self.subset_of)
            && !is_subset(add, sub) {
                return err("add must be a subset of subset_of");
            }
        if let (Some(sub), Some(sup)) = (&self.subset_of, &self.superset_of)
            && !is_subset(sup, sub) {
                return err("superset_of must be a subset of subset_of");
            }
        Ok(())
    }

    /// Merges a subordinate's policy into this (superior's) one: equal `value`/`default`,
    /// union of `add`/`superset_of`, intersection of `one_of` (never empty) and `subset_of`
    /// (may be empty), OR of `essential`; then the combination must still hold.
    pub fn merge(&self, sub: &ParamPolicy, param: &str) -> Result<ParamPolicy, PolicyError> {
        let conflict = |op: &str| invalid(format!("`{param}.{op}` differs between levels"));
        let mut m = self.clone();
        match (&self.value, &sub.value) {
            (Some(a), Some(b)) if a != b => return Err(conflict("value")),
            (None, Some(b)) => m.value = Some(b.clone()),
            _ => {}
        }
        match (&self.default, &sub.default) {
            (Some(a), Some(b)) if a != b => return Err(conflict("default")),
            (None, Some(b)) => m.default = Some(b.clone()),
            _ => {}
        }
        m.add = match (&self.add, &sub.add) {
            (Some(a), Some(b)) => Some(union(a, b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        m.superset_of = match (&self.superset_of, &sub.superset_of) {
            (Some(a), Some(b)) => Some(union(a, b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        m.one_of = match (&self.one_of, &sub.one_of) {
            (Some(a), Some(b)) => {
                let i = intersection(a, b);
                if i.is_empty() {
                    return Err(invalid(format!("`{param}.one_of` has no common value between levels")));
                }
                Some(i)
            }
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        m.subset_of = match (&self.subset_of, &sub.subset_of) {
            (Some(a), Some(b)) => Some(intersection(a, b)),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        m.essential = match (self.essential, sub.essential) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        };
        for (k, v) in &sub.other {
            m.other.entry(k.clone()).or_insert_with(|| v.clone());
        }
        m.check(param)?;
        Ok(m)
    }

    /// Applies the operators in the normative order: value, add, default, one_of,
    /// subset_of, superset_of, essential.
    pub fn apply(&self, param: &str, metadata: &mut Map<String, Value>) -> Result<(), PolicyError> {
        let bad = |why: String| PolicyError::InvalidMetadata(format!("`{param}`: {why}"));
        // `scope` is a space-separated string: operate on its words.
        let is_scope_string = param == "scope" && matches!(metadata.get(param), Some(Value::String(_)));
        let to_ops = |v: &Value| -> Value {
            match v {
                Value::String(s) if is_scope_string => Value::Array(s.split(' ').filter(|w| !w.is_empty()).map(|w| Value::String(w.into())).collect()),
                other => other.clone(),
            }
        };
        let mut cur: Option<Value> = metadata.get(param).map(to_ops);

        if let Some(v) = &self.value {
            cur = if v.is_null() { None } else { Some(v.clone()) };
        }
        if let Some(add) = &self.add {
            cur = Some(match cur {
                None => Value::Array(add.clone()),
                Some(Value::Array(a)) => Value::Array(union(&a, add)),
                Some(_) => return Err(bad("add needs an array".into())),
            });
        }
        if cur.is_none()
            && let Some(d) = &self.default {
                cur = Some(d.clone());
            }
        if let (Some(one_of), Some(v)) = (&self.one_of, &cur)
            && !contains(one_of, v) {
                return Err(bad(format!("{v} is not one of {}", Value::Array(one_of.clone()))));
            }
        if let (Some(sub), Some(v)) = (&self.subset_of, &cur) {
            cur = Some(match v {
                Value::Array(a) => Value::Array(intersection(a, sub)),
                _ => return Err(bad("subset_of needs an array".into())),
            });
        }
        if let (Some(sup), Some(v)) = (&self.superset_of, &cur) {
            match v {
                Value::Array(a) if is_subset(sup, a) => {}
                _ => return Err(bad(format!("must contain {}", Value::Array(sup.clone())))),
            }
        }
        if self.essential == Some(true) && cur.is_none() {
            return Err(bad("essential parameter is absent".into()));
        }
        match cur {
            None => {
                metadata.remove(param);
            }
            Some(Value::Array(words)) if is_scope_string || (param == "scope" && self.value.as_ref().is_some_and(Value::is_string)) => {
                let joined: Vec<String> = words.iter().filter_map(|w| w.as_str().map(str::to_owned)).collect();
                metadata.insert(param.to_owned(), Value::String(joined.join(" ")));
            }
            Some(v) => {
                metadata.insert(param.to_owned(), v);
            }
        }
        Ok(())
    }
}

impl MetadataPolicy {
    /// Parses `metadata_policy`, checking every parameter's combination and that no
    /// operator listed in `crit` is one we do not implement.
    pub fn from_json(v: &Value, crit: &[String]) -> Result<Self, PolicyError> {
        let Value::Object(types) = v else {
            return Err(invalid("metadata_policy must be an object"));
        };
        let mut out = BTreeMap::new();
        for (entity_type, params) in types {
            let Value::Object(params) = params else {
                return Err(invalid(format!("metadata_policy.{entity_type} must be an object")));
            };
            let mut ps = BTreeMap::new();
            for (param, ops) in params {
                let p = ParamPolicy::from_json(param, ops)?;
                if let Some(op) = p.other.keys().find(|op| crit.contains(op)) {
                    return Err(invalid(format!("critical operator `{op}` is not supported")));
                }
                ps.insert(param.clone(), p);
            }
            out.insert(entity_type.clone(), ps);
        }
        Ok(Self(out))
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(t, ps)| (t.clone(), Value::Object(ps.iter().map(|(p, pp)| (p.clone(), pp.to_json())).collect())))
                .collect(),
        )
    }

    /// Merges `sub` (the next statement down the chain) into this policy.
    pub fn merge(&self, sub: &MetadataPolicy) -> Result<MetadataPolicy, PolicyError> {
        let mut out = self.0.clone();
        for (t, params) in &sub.0 {
            let level = out.entry(t.clone()).or_default();
            for (p, pp) in params {
                let merged = match level.get(p) {
                    Some(sup) => sup.merge(pp, p)?,
                    None => pp.clone(),
                };
                level.insert(p.clone(), merged);
            }
        }
        Ok(MetadataPolicy(out))
    }

    /// Applies the policy for `entity_type` to that type's metadata.
    pub fn apply(&self, entity_type: &str, metadata: &mut Map<String, Value>) -> Result<(), PolicyError> {
        if let Some(params) = self.0.get(entity_type) {
            for (p, pp) in params {
                pp.apply(p, metadata)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
