//! OpenID Federation on arbitrary input: `ParsedStatement::parse` (entity statement form and
//! claim checks), `verify_with`, `chain::validate`, and `MetadataPolicy` parsing, merging and
//! application to metadata.
//!
//! The first byte picks a mode. Mode 0 feeds the rest, as a string, to the statement parser
//! and (split on newlines) to chain validation. Mode 1 takes the rest as the statement
//! payload and signs it with the fixed trust anchor key, so the claim checks and chain
//! validation run past the signature; a flag bit overwrites `iss`, `sub` and `jwks` with the
//! trust anchor's. Mode 2 reads the rest as a JSON array `[policy, sub_policy, metadata,
//! crit]`: both policies are parsed and merged, and the result applied to each entity type's
//! metadata in `metadata`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use wallet_core::federation::entity::ENTITY_STATEMENT_TYP;
use wallet_core::federation::{EntityId, MetadataPolicy, ParsedStatement, TrustAnchorConfig, chain};
use wallet_core::jose::{JwkSet, JwsHeader, Signer as _, SoftwareSigner, jws};
use wallet_core::time::UnixTime;

const TA: &str = "https://ta.example";
const NOW: UnixTime = UnixTime(1_800_000_000);

struct Fixed {
    key: SoftwareSigner,
    anchor: TrustAnchorConfig,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let key = SoftwareSigner::generate().expect("key");
        let anchor = TrustAnchorConfig { id: EntityId::new(TA).expect("id"), jwks: JwkSet { keys: vec![key.public_jwk()] } };
        Fixed { key, anchor }
    })
}

fn statement(jwt: &str) {
    let f = fixed();
    if let Ok(p) = ParsedStatement::parse(jwt) {
        let _ = p.verify_with(&f.anchor.jwks);
        let _ = p.claims.federation_endpoint("federation_fetch_endpoint");
        if let (Some(mp), Some(md)) = (&p.claims.metadata_policy, &p.claims.metadata) {
            let crit = p.claims.metadata_policy_crit.clone().unwrap_or_default();
            if let Ok(policy) = MetadataPolicy::from_json(mp, &crit) {
                apply_all(&policy, md);
            }
        }
    }
    let _ = chain::validate(&[jwt.to_owned()], &f.anchor, NOW);
}

/// Applies `policy` to every entity type's metadata in `md`.
fn apply_all(policy: &MetadataPolicy, md: &serde_json::Map<String, Value>) {
    for (t, m) in md {
        if let Value::Object(m) = m {
            let mut m = m.clone();
            let _ = policy.apply(t, &mut m);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixed();
    match mode % 3 {
        0 => {
            let Ok(s) = std::str::from_utf8(rest) else { return };
            statement(s);
            let chain_: Vec<String> = s.split('\n').map(str::to_owned).collect();
            let _ = chain::validate(&chain_, &f.anchor, NOW);
        }
        1 => {
            let mut payload = rest.to_vec();
            if mode & 0x10 != 0
                && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(rest)
            {
                m.insert("iss".into(), json!(TA));
                m.insert("sub".into(), json!(TA));
                m.insert("jwks".into(), json!(f.anchor.jwks));
                payload = serde_json::to_vec(&Value::Object(m)).unwrap_or_default();
            }
            let header = JwsHeader::new(f.key.alg()).with_typ(ENTITY_STATEMENT_TYP).with_kid(f.key.kid());
            if let Ok(jwt) = jws::sign(&header, &payload, &f.key) {
                statement(&jwt);
            }
        }
        _ => {
            let Ok(Value::Array(v)) = serde_json::from_slice::<Value>(rest) else { return };
            let null = Value::Null;
            let crit: Vec<String> = v
                .get(3)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let Ok(sup) = MetadataPolicy::from_json(v.first().unwrap_or(&null), &crit) else { return };
            let _ = MetadataPolicy::from_json(&sup.to_json(), &crit);
            let policy = match v.get(1).map(|s| MetadataPolicy::from_json(s, &crit)) {
                Some(Ok(sub)) => match sup.merge(&sub) {
                    Ok(m) => m,
                    Err(_) => return,
                },
                _ => sup,
            };
            for pp in policy.0.values().flat_map(|ps| ps.iter()) {
                let _ = pp.1.check(pp.0);
            }
            if let Some(Value::Object(md)) = v.get(2) {
                apply_all(&policy, md);
            }
        }
    }
});
