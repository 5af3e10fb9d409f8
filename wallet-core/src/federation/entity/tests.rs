//! Entity Identifiers (draft 48 §1.2): refused spellings, each for its rule, and accepted ones.

use super::*;

fn refused(id: &str) -> String {
    match EntityId::new(id) {
        Err(FederationError::InvalidEntityId { id: got, reason }) => {
            assert_eq!(got, id);
            reason
        }
        other => panic!("{id:?} should be refused, got {other:?}"),
    }
}

#[test]
fn userinfo_hiding_another_host_is_refused() {
    // The text before the first ':' reads 127.0.0.1, but the host is other-host.
    let r = refused("http://127.0.0.1:1@other-host/");
    assert!(r.contains("userinfo"), "{r}");
}

#[test]
fn userinfo_is_refused() {
    assert!(refused("https://user@a.it").contains("userinfo"));
    assert!(refused("https://user:pw@a.it/").contains("userinfo"));
    assert!(refused("https://:pw@a.it/").contains("userinfo"));
}

#[test]
fn empty_fragment_is_refused() {
    assert!(refused("https://a.it#").contains("fragment"));
    assert!(refused("https://a.it/#x").contains("fragment"));
}

#[test]
fn query_is_refused() {
    assert!(refused("https://a.it?x=1").contains("query"));
    assert!(refused("https://a.it/?").contains("query"));
}

#[test]
fn backslash_is_refused() {
    // A WHATWG parser reads `\` as `/`: the host is a.it, not b.it.
    assert!(refused("https://a.it\\@b.it").contains("canonical"));
}

#[test]
fn upper_case_host_or_scheme_is_refused() {
    assert!(refused("https://A.it").contains("canonical"));
    assert!(refused("HTTPS://a.it").contains("canonical"));
}

#[test]
fn default_port_written_out_is_refused() {
    assert!(refused("https://a.it:443").contains("canonical"));
    assert!(refused("http://localhost:80/").contains("canonical"));
    assert!(refused("https://a.it:/").contains("canonical"));
}

#[test]
fn http_on_a_non_loopback_host_is_refused() {
    assert!(refused("http://10.0.0.1").contains("https"));
    assert!(refused("http://127.0.0.1.nip.io").contains("https"));
    assert!(refused("http://127.0.0.2/").contains("https"));
    assert!(refused("http://localhost.a.it/").contains("https"));
}

#[test]
fn other_schemes_are_refused() {
    assert!(refused("ftp://a.it/").contains("https"));
    assert!(refused("mailto:a@a.it").contains("https"));
    assert!(refused("a.it").contains("absolute"));
}

#[test]
fn missing_host_is_refused() {
    assert!(refused("https://").contains("host"));
    assert!(refused("https:///path").contains("canonical"));
    assert!(refused("https://:8443/").contains("host"));
}

#[test]
fn dot_segments_are_refused() {
    assert!(refused("https://a.it/../b").contains("canonical"));
    assert!(refused("https://a.it/x/./y").contains("canonical"));
    assert!(refused("https://a.it/.").contains("canonical"));
}

#[test]
fn encoded_or_idna_hosts_are_refused() {
    assert!(refused("https://%61.it").contains("canonical"));
    assert!(refused("https://bücher.it").contains("canonical"));
    assert!(refused("https://a.it/ä").contains("canonical"));
    assert!(refused("http://0x7f.0.0.1/").contains("canonical"));
}

#[test]
fn trailing_dot_host_is_refused() {
    // `a.it.` is where `a.it` is, but would escape a naming constraint excluding `a.it`.
    assert!(refused("https://a.it./").contains("dot"));
    assert!(refused("https://a.it.").contains("dot"));
}

#[test]
fn white_space_and_control_characters_are_refused() {
    for id in [" https://a.it", "https://a.it ", "https://a.it/\tx", "https://a.it/\nx", "https://a.it/\u{0}", "https://a.it/\u{7f}"] {
        assert!(refused(id).contains("white space"), "{id:?}");
    }
}

#[test]
fn canonical_ids_are_accepted_as_given() {
    for (id, host) in [
        ("https://a.it", "a.it"),
        ("https://a.it/", "a.it"),
        ("https://a.it/path/sub", "a.it"),
        ("https://a.it:8443/x/", "a.it"),
        ("http://127.0.0.1:7600", "127.0.0.1"),
        ("http://localhost:1/x", "localhost"),
        ("http://[::1]:8080", "[::1]"),
        ("https://[::1]/", "[::1]"),
    ] {
        let e = EntityId::new(id).unwrap_or_else(|err| panic!("{id}: {err}"));
        assert_eq!(e.as_str(), id, "kept exactly as given");
        assert_eq!(e.host(), host);
        assert_eq!(e.to_string(), id);
    }
}

#[test]
fn ids_compare_as_strings_and_serialize_as_given() {
    let (a, b) = (EntityId::new("https://a.it").unwrap(), EntityId::new("https://a.it/").unwrap());
    assert_ne!(a, b, "draft 48: simple string comparison");
    assert_eq!(serde_json::to_string(&a).unwrap(), "\"https://a.it\"");
    assert_eq!(serde_json::from_str::<EntityId>("\"https://a.it/\"").unwrap(), b);
    assert!(serde_json::from_str::<EntityId>("\"https://A.it\"").is_err());
    assert_eq!(format!("{a:?}"), "EntityId(\"https://a.it\")");
}

#[test]
fn configuration_url_drops_the_trailing_slash() {
    assert_eq!(EntityId::new("https://a.it/").unwrap().configuration_url(), "https://a.it/.well-known/openid-federation");
    assert_eq!(EntityId::new("https://a.it/x").unwrap().configuration_url(), "https://a.it/x/.well-known/openid-federation");
}

/// Federation digest §C: `trust_mark_type`, `trust_mark_id` and `id` are accepted alone or
/// together (PyPI `spid-cie-oidc` sends all three), never naming different types.
#[test]
fn trust_mark_type_names_alone_together_and_disagreeing() {
    let parse = |v: serde_json::Value| serde_json::from_value::<TrustMarkRef>(v);
    for name in ["trust_mark_type", "trust_mark_id", "id"] {
        let r = parse(serde_json::json!({name: "https://ta.it/tm", "trust_mark": "a.b.c"})).unwrap();
        assert_eq!(r.trust_mark_type, "https://ta.it/tm");
    }
    let all = parse(serde_json::json!({"trust_mark_type": "x", "trust_mark_id": "x", "id": "x", "trust_mark": "a.b.c"})).unwrap();
    assert_eq!(all.trust_mark_type, "x");
    let e = parse(serde_json::json!({"trust_mark_type": "x", "id": "y", "trust_mark": "a.b.c"})).unwrap_err();
    assert!(e.to_string().contains("different types"), "{e}");
    let e = parse(serde_json::json!({"trust_mark": "a.b.c"})).unwrap_err();
    assert!(e.to_string().contains("trust_mark_type"), "{e}");
    let out = serde_json::to_value(&all).unwrap();
    assert_eq!(out, serde_json::json!({"trust_mark_type": "x", "trust_mark": "a.b.c"}), "emitted under the draft-48 name only");
}

/// Federation digest §C: SPID/CIE Subordinate Statements may carry `trust_marks`; they are
/// ignored there (the subject's configuration is where marks are read), not refused.
#[test]
fn trust_marks_in_a_subordinate_statement_are_not_refused() {
    let ss: EntityStatement = serde_json::from_value(serde_json::json!({
        "iss": "https://ta.example.it", "sub": "https://rp.example.it", "iat": 1, "exp": 2,
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "kid": "k",
                 "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]},
        "trust_marks": [{"id": "https://ta.example.it/tm", "trust_mark": "a.b.c"}]
    }))
    .unwrap();
    assert!(!ss.is_configuration());
    ss.check_claims().unwrap();
}
