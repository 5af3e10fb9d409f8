//! The spec's worked examples (TV-1, TV-2 in `tests/vectors/federation/`) and one test per
//! operator rule, merge rule and error case.

use serde_json::{Value, json};

use super::*;

fn vector(name: &str) -> Value {
    let p = format!("{}/tests/vectors/federation/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn pol(v: Value) -> MetadataPolicy {
    MetadataPolicy::from_json(&v, &[]).unwrap()
}

fn param(v: Value) -> Result<ParamPolicy, PolicyError> {
    ParamPolicy::from_json("p", &v)
}

/// Arrays compare as sets (the merged order is undefined, §6.1.4.1).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().all(|i| y.iter().any(|j| same(i, j))),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))),
        _ => a == b,
    }
}

#[test]
fn tv1_rp_merge_and_resolution() {
    let tv = vector("tv1-rp.json");
    let merged = pol(tv["ta_policy"].clone()).merge(&pol(tv["int_policy"].clone())).unwrap();
    assert!(same(&merged.to_json(), &tv["merged"]), "{}", merged.to_json());
    let mut md = tv["leaf_metadata"].as_object().cloned().unwrap();
    // The immediate superior's `metadata` is applied first, then the policy.
    for (k, v) in tv["int_metadata"]["openid_relying_party"].as_object().unwrap() {
        md.insert(k.clone(), v.clone());
    }
    merged.apply("openid_relying_party", &mut md).unwrap();
    assert!(same(&Value::Object(md), &tv["resolved"]));
}

#[test]
fn tv2_op_three_levels() {
    let tv = vector("tv2-op.json");
    let mut merged = MetadataPolicy::default();
    for p in tv["policies_top_down"].as_array().unwrap() {
        merged = merged.merge(&pol(p.clone())).unwrap();
    }
    let mut md = tv["leaf_metadata"].as_object().cloned().unwrap();
    merged.apply("openid_provider", &mut md).unwrap();
    for (k, v) in tv["changes"].as_object().unwrap() {
        assert!(same(&md[k], v), "{k}: {} vs {v}", md[k]);
    }
    for k in tv["absent"].as_array().unwrap() {
        assert!(!md.contains_key(k.as_str().unwrap()));
    }
    assert_eq!(md["issuer"], "https://op.umu.se");
}

#[test]
fn merge_rules() {
    let merge = |a: Value, b: Value| param(a).unwrap().merge(&param(b).unwrap(), "p");
    assert!(matches!(merge(json!({"value": "a"}), json!({"value": "b"})), Err(PolicyError::InvalidPolicy(_))));
    assert!(matches!(merge(json!({"default": "a"}), json!({"default": "b"})), Err(PolicyError::InvalidPolicy(_))));
    assert!(matches!(merge(json!({"one_of": ["a", "b"]}), json!({"one_of": ["c"]})), Err(PolicyError::InvalidPolicy(_))));
    assert_eq!(merge(json!({"one_of": ["a", "b"]}), json!({"one_of": ["b", "c"]})).unwrap().one_of, Some(vec![json!("b")]));
    let empty = merge(json!({"subset_of": ["a", "b"]}), json!({"subset_of": ["c"]})).unwrap();
    assert_eq!(empty.subset_of, Some(vec![]));
    let mut md = json!({"p": ["a"]}).as_object().cloned().unwrap();
    empty.apply("p", &mut md).unwrap();
    assert_eq!(md["p"], json!([]));
    assert_eq!(merge(json!({"essential": false}), json!({"essential": true})).unwrap().essential, Some(true));
    assert_eq!(merge(json!({"essential": true}), json!({"essential": false})).unwrap().essential, Some(true));
    assert_eq!(merge(json!({"add": ["x"]}), json!({"add": ["y"]})).unwrap().add, Some(vec![json!("x"), json!("y")]));
    assert_eq!(merge(json!({"superset_of": ["a"]}), json!({"superset_of": ["b"]})).unwrap().superset_of, Some(vec![json!("a"), json!("b")]));
    // Merged combinations are checked again: a subordinate's add outside the superior's subset_of.
    assert!(matches!(merge(json!({"subset_of": ["a"]}), json!({"add": ["b"]})), Err(PolicyError::InvalidPolicy(_))));
    // Connect2id vector n=4111: one_of above, default below.
    let m = merge(json!({"one_of": ["RS256", "ES256"]}), json!({"default": "RS256"})).unwrap();
    assert_eq!(m.to_json(), json!({"default": "RS256", "one_of": ["RS256", "ES256"]}));
}

#[test]
fn invalid_single_policies() {
    for bad in [
        json!({"value": null, "essential": true}),
        json!({"add": ["c"], "value": ["a", "b"]}),
        json!({"one_of": ["a"], "subset_of": ["a"]}),
        json!({"one_of": ["a"], "add": ["a"]}),
        json!({"one_of": ["a"], "superset_of": ["a"]}),
        json!({"subset_of": ["a"], "superset_of": ["a", "b"]}),
        json!({"value": "c", "one_of": ["a", "b"]}),
        json!({"value": ["a", "z"], "subset_of": ["a", "b"]}),
        json!({"value": ["a"], "superset_of": ["a", "b"]}),
        json!({"add": ["z"], "subset_of": ["a"]}),
        json!({"value": null, "default": "a"}),
        json!({"essential": "yes"}),
        json!({"add": "x"}),
        json!({"default": null}),
        json!("not an object"),
    ] {
        assert!(matches!(param(bad.clone()), Err(PolicyError::InvalidPolicy(_))), "{bad}");
    }
}

#[test]
fn applications() {
    let apply = |p: Value, md: Value| {
        let mut m = md.as_object().cloned().unwrap();
        param(p).unwrap().apply("p", &mut m).map(|()| Value::Object(m))
    };
    assert_eq!(apply(json!({"value": null}), json!({"p": "x"})).unwrap(), json!({}));
    assert_eq!(apply(json!({"add": ["x"]}), json!({})).unwrap(), json!({"p": ["x"]}));
    assert_eq!(apply(json!({"add": ["x"]}), json!({"p": ["y"]})).unwrap(), json!({"p": ["y", "x"]}));
    assert_eq!(apply(json!({"default": "d"}), json!({})).unwrap(), json!({"p": "d"}));
    assert_eq!(apply(json!({"default": "d"}), json!({"p": "e"})).unwrap(), json!({"p": "e"}));
    for absent_ok in [json!({"one_of": ["a"]}), json!({"subset_of": ["a"]}), json!({"superset_of": ["a"]})] {
        assert_eq!(apply(absent_ok, json!({})).unwrap(), json!({}));
    }
    assert!(matches!(apply(json!({"one_of": ["a", "b"]}), json!({"p": "c"})), Err(PolicyError::InvalidMetadata(_))));
    assert!(matches!(apply(json!({"superset_of": ["a", "b"]}), json!({"p": ["a"]})), Err(PolicyError::InvalidMetadata(_))));
    assert_eq!(apply(json!({"superset_of": ["a"]}), json!({"p": ["a"]})).unwrap(), json!({"p": ["a"]}));
    // scope is a space-separated string.
    let mut m = json!({"scope": "openid email profile"}).as_object().cloned().unwrap();
    ParamPolicy::from_json("scope", &json!({"subset_of": ["openid", "email"]})).unwrap().apply("scope", &mut m).unwrap();
    assert_eq!(m["scope"], "openid email");
}

/// The spec's table for `{"essential": E, "subset_of": ["a","b","c"]}`.
#[test]
fn essential_with_subset_of_table() {
    for e in [true, false] {
        let p = param(json!({"essential": e, "subset_of": ["a", "b", "c"]})).unwrap();
        let run = |md: Value| {
            let mut m = md.as_object().cloned().unwrap();
            p.apply("p", &mut m).map(|()| Value::Object(m))
        };
        assert_eq!(run(json!({"p": ["a", "e"]})).unwrap(), json!({"p": ["a"]}));
        assert_eq!(run(json!({"p": ["d", "e"]})).unwrap(), json!({"p": []}));
        if e {
            assert!(matches!(run(json!({})), Err(PolicyError::InvalidMetadata(_))));
        } else {
            assert_eq!(run(json!({})).unwrap(), json!({}));
        }
    }
}

#[test]
fn unknown_operators_are_ignored_unless_critical() {
    let p = json!({"openid_provider": {"op_policy_uri": {"regexp": "^https://"}}});
    MetadataPolicy::from_json(&p, &[]).unwrap();
    assert!(matches!(MetadataPolicy::from_json(&p, &["regexp".into()]), Err(PolicyError::InvalidPolicy(_))));
}
