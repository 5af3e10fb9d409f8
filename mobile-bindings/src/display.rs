//! What an app shows: the credential's claims as labelled leaves, and the issuer's name and
//! logo, both taken from the issuer's federation metadata (`openid_credential_issuer`:
//! `display`, `credential_configurations_supported.*.credential_metadata.claims`, as in
//! OpenID4VCI 1.0; `federation_entity`: `organization_name`, `logo_uri`).
//!
//! Labels are chosen when the credential is listed, in the wallet's locale: the issuer's
//! label for the claim's path (`null` in a label path matches any array index), else a
//! built-in label for the PID's claims, else the claim name made readable.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use wallet_core::federation::ValidatedChain;
use wallet_core::federation::resolver::CREDENTIAL_ISSUER;
use wallet_core::sd_jwt::{ClaimPath as CorePath, PathElement as CoreElement};
use wallet_core::vc::METADATA_CLAIMS;

use crate::records::{Claim, ClaimPath, ClaimValue};

/// A label in several languages, as an issuer's metadata gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Names(Vec<(Option<String>, String)>);

impl Names {
    fn from_display(display: Option<&Value>, key: &str) -> Self {
        let entries = display.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        Self(
            entries
                .iter()
                .filter_map(|d| {
                    let name = d.get(key)?.as_str()?.to_owned();
                    Some((d.get("locale").and_then(Value::as_str).map(str::to_owned), name))
                })
                .collect(),
        )
    }

    /// One name in no particular language (or none).
    pub(crate) fn single(name: Option<String>) -> Self {
        Self(name.map(|n| (None, n)).into_iter().collect())
    }

    /// The name for `locale` (its language part matching), else the first.
    pub(crate) fn pick(&self, locale: Option<&str>) -> Option<&str> {
        let lang = |l: &str| l.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
        let wanted = locale.map(lang);
        self.0
            .iter()
            .find(|(l, _)| matches!((l, &wanted), (Some(l), Some(w)) if lang(l) == *w))
            .or_else(|| self.0.first())
            .map(|(_, n)| n.as_str())
    }
}

/// The issuer's display data, kept sealed with the credential.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IssuerDisplay {
    pub(crate) names: Names,
    pub(crate) logo_uri: Option<String>,
    pub(crate) trust_anchor: Option<String>,
    /// Claim labels: the path (strings, indices, `null` for any index) and its names.
    pub(crate) labels: Vec<(Vec<Value>, Names)>,
}

impl IssuerDisplay {
    /// Reads the display data for a credential of type `vct` from a validated chain.
    pub(crate) fn from_chain(chain: &ValidatedChain, vct: &str) -> Self {
        let ci = chain.metadata_of(CREDENTIAL_ISSUER);
        let fe = chain.metadata_of("federation_entity");
        let mut names = Names::from_display(ci.and_then(|m| m.get("display")), "name");
        if names.0.is_empty()
            && let Some(org) = fe.and_then(|m| m.get("organization_name")).and_then(Value::as_str)
        {
            names.0.push((None, org.to_owned()));
        }
        let logo_uri = ci
            .and_then(|m| m.get("display"))
            .and_then(Value::as_array)
            .and_then(|ds| ds.iter().find_map(|d| d.get("logo")?.get("uri")?.as_str()))
            .or_else(|| fe.and_then(|m| m.get("logo_uri")).and_then(Value::as_str))
            .map(str::to_owned);
        Self { names, logo_uri, trust_anchor: Some(chain.trust_anchor.to_string()), labels: claim_labels(ci, vct) }
    }
}

/// The claim labels of the credential configuration with this `vct`.
fn claim_labels(ci: Option<&Map<String, Value>>, vct: &str) -> Vec<(Vec<Value>, Names)> {
    let configs = ci.and_then(|m| m.get("credential_configurations_supported")).and_then(Value::as_object);
    let Some(config) = configs.and_then(|c| c.values().find(|c| c.get("vct").and_then(Value::as_str) == Some(vct))) else {
        return Vec::new();
    };
    // OpenID4VCI 1.0 nests them in `credential_metadata`; earlier drafts had them at the top.
    let claims = config.get("credential_metadata").and_then(|m| m.get("claims")).or_else(|| config.get("claims"));
    claims
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let path = c.get("path")?.as_array()?.clone();
            let names = Names::from_display(c.get("display"), "name");
            (!names.0.is_empty()).then_some((path, names))
        })
        .collect()
}

fn label_matches(label: &[Value], path: &[CoreElement]) -> bool {
    label.len() == path.len()
        && label.iter().zip(path).all(|(l, p)| match (l, p) {
            (Value::Null, CoreElement::Index(_)) => true,
            (Value::String(s), CoreElement::Key(k)) => s == k,
            (Value::Number(n), CoreElement::Index(i)) => n.as_u64().and_then(|n| usize::try_from(n).ok()) == Some(*i),
            _ => false,
        })
}

/// Built-in labels for the PID's claims (IT-Wallet 1.4 §4.2), Italian and English.
fn builtin_label(name: &str, italian: bool) -> Option<&'static str> {
    let (it, en) = match name {
        "given_name" => ("Nome", "Given name"),
        "family_name" => ("Cognome", "Family name"),
        "birthdate" | "birth_date" => ("Data di nascita", "Date of birth"),
        "place_of_birth" => ("Luogo di nascita", "Place of birth"),
        "locality" => ("Località", "Locality"),
        "region" => ("Regione", "Region"),
        "country" => ("Stato", "Country"),
        "nationalities" => ("Cittadinanza", "Nationality"),
        "tax_id_code" => ("Codice fiscale", "Tax code"),
        "personal_administrative_number" => ("Numero amministrativo personale", "Personal administrative number"),
        _ => return None,
    };
    Some(if italian { it } else { en })
}

fn readable(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// The label of the claim at `path`.
pub(crate) fn label(display: &IssuerDisplay, path: &CorePath, locale: Option<&str>) -> String {
    let els = path.elements();
    // The longest issuer label on the path, with the rest of the path made readable.
    for cut in (1..=els.len()).rev() {
        let (head, tail) = els.split_at(cut);
        if let Some(name) = display.labels.iter().find(|(l, _)| label_matches(l, head)).and_then(|(_, n)| n.pick(locale)) {
            return with_tail(name.to_owned(), tail, locale);
        }
    }
    let italian = locale.is_some_and(|l| l.to_ascii_lowercase().starts_with("it"));
    let parts: Vec<String> = els
        .iter()
        .filter_map(|e| match e {
            CoreElement::Key(k) => Some(builtin_label(k, italian).map_or_else(|| readable(k), str::to_owned)),
            CoreElement::Index(_) => None,
        })
        .collect();
    parts.join(" › ")
}

fn with_tail(head: String, tail: &[CoreElement], locale: Option<&str>) -> String {
    let italian = locale.is_some_and(|l| l.to_ascii_lowercase().starts_with("it"));
    tail.iter().fold(head, |acc, e| match e {
        CoreElement::Key(k) => format!("{acc} › {}", builtin_label(k, italian).map_or_else(|| readable(k), str::to_owned)),
        CoreElement::Index(_) => acc,
    })
}

fn leaf_value(v: &Value) -> ClaimValue {
    match v {
        Value::Null => ClaimValue::Null,
        Value::Bool(b) => ClaimValue::Boolean { value: *b },
        Value::Number(n) => match n.as_i64() {
            Some(i) => ClaimValue::Integer { value: i },
            None => ClaimValue::Number { value: n.as_f64().unwrap_or(f64::NAN) },
        },
        Value::String(s) => ClaimValue::Text { value: s.clone() },
        // Not reached: objects and arrays are walked into.
        Value::Array(_) | Value::Object(_) => ClaimValue::Text { value: v.to_string() },
    }
}

fn walk(v: &Value, path: CorePath, out: &mut Vec<(CorePath, ClaimValue)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                walk(v, path.child(CoreElement::Key(k.clone())), out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, v) in a.iter().enumerate() {
                walk(v, path.child(CoreElement::Index(i)), out);
            }
        }
        _ => out.push((path, leaf_value(v))),
    }
}

/// The user's claims as labelled leaves, in the issuer's order (its claim metadata), then
/// by path. `disclosable` are the paths that disclosures
/// cover: a leaf under one of them can be left out of a presentation.
pub(crate) fn claims(
    all: &Map<String, Value>,
    disclosable: &[CorePath],
    display: &IssuerDisplay,
    locale: Option<&str>,
) -> Vec<Claim> {
    let mut leaves = Vec::new();
    for (k, v) in all {
        if METADATA_CLAIMS.contains(&k.as_str()) {
            continue;
        }
        walk(v, CorePath::key(k), &mut leaves);
    }
    // A stable order (the disclosures' order is random): the issuer's claim order, then
    // the paths.
    let rank = |p: &CorePath| {
        let els = p.elements();
        display.labels.iter().position(|(l, _)| (1..=els.len()).any(|cut| label_matches(l, els.get(..cut).unwrap_or_default())))
    };
    leaves.sort_by(|(a, _), (b, _)| (rank(a).unwrap_or(usize::MAX), a).cmp(&(rank(b).unwrap_or(usize::MAX), b)));
    leaves
        .into_iter()
        .map(|(path, value)| Claim {
            label: label(display, &path, locale),
            selectively_disclosable: disclosable.iter().any(|d| d.is_prefix_of(&path)),
            path: ClaimPath::from(&path),
            value,
        })
        .collect()
}

/// The labelled leaves of `value`, a claim found at `path` (an object or array claim gives
/// one leaf per member): what a presentation discloses, for the consent screen.
pub(crate) fn leaves_at(path: &CorePath, value: &Value, display: &IssuerDisplay, locale: Option<&str>) -> Vec<Claim> {
    let mut out = Vec::new();
    walk(value, path.clone(), &mut out);
    out.into_iter()
        .map(|(p, v)| Claim { label: label(display, &p, locale), selectively_disclosable: true, path: ClaimPath::from(&p), value: v })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issuer_labels_win_then_builtin_then_readable() {
        let display = IssuerDisplay {
            labels: vec![
                (vec![json!("given_name")], Names(vec![(Some("it".into()), "Nome".into()), (Some("en".into()), "First name".into())])),
                (vec![json!("nationalities"), Value::Null], Names(vec![(None, "Nationality".into())])),
            ],
            ..Default::default()
        };
        assert_eq!(label(&display, &CorePath::key("given_name"), Some("en-GB")), "First name");
        assert_eq!(label(&display, &CorePath::key("given_name"), Some("it")), "Nome");
        assert_eq!(label(&display, &CorePath::key("given_name"), Some("fr")), "Nome");
        assert_eq!(label(&display, &CorePath::parse_dotted("nationalities.0"), None), "Nationality");
        assert_eq!(label(&display, &CorePath::parse_dotted("place_of_birth.locality"), Some("it")), "Luogo di nascita › Località");
        assert_eq!(label(&display, &CorePath::key("blood_type"), None), "Blood type");
    }

    #[test]
    fn leaves_skip_metadata_and_mark_disclosable() {
        let all = json!({"iss": "x", "given_name": "Mario", "place_of_birth": {"locality": "Roma"}, "age": 46, "adult": true});
        let out = claims(all.as_object().unwrap(), &[CorePath::key("given_name")], &IssuerDisplay::default(), None);
        assert_eq!(out.len(), 4);
        assert!(out.iter().any(|c| c.value == ClaimValue::Integer { value: 46 } && !c.selectively_disclosable));
        assert!(out.iter().any(|c| c.value == ClaimValue::Text { value: "Mario".into() } && c.selectively_disclosable));
        // The issuer's order first, then by path.
        let display = IssuerDisplay { labels: vec![(vec![json!("place_of_birth")], Names(vec![(None, "Born in".into())]))], ..Default::default() };
        let order: Vec<String> =
            claims(all.as_object().unwrap(), &[], &display, None).iter().map(|c| CorePath::from(&c.path).to_string()).collect();
        assert_eq!(order, ["place_of_birth.locality", "adult", "age", "given_name"]);
    }
}
