//! DCQL query parsing and matching against the query's own claims on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wallet_core::oid4vp::dcql::{CredentialFormat, CredentialView, DcqlQuery, match_wallet};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(q) = DcqlQuery::parse(s) else { return };
    let claims = serde_json::json!({"given_name": "Mario", "nationalities": ["IT"], "address": {"locality": "Roma"}});
    let Some(claims) = claims.as_object() else { return };
    let f = CredentialFormat::SdJwtVc;
    let view = CredentialView { format: &f, vct: Some("urn:eudi:pid:it:1"), doctype: None, claims };
    let _ = match_wallet(&q, &[view]);
    assert_eq!(DcqlQuery::from_value(q.to_value()).ok(), Some(q));
});
