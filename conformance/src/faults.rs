//! The faults that prove each check able to fail (issue 13 item 3): each names what it breaks
//! in a target's responses and the exact set of tests that must then fail. The crate's
//! `tests/faults.rs` (the federation, issuer and wallet-provider plans; `tests/rp.rs` for the rp plan) puts a mutating proxy in front of our own services, injects every fault
//! of this list one at a time, runs the plan through the proxy, and asserts that the failed
//! tests are exactly `breaks` (the target is told its subordinate, so that a broken `/list` touches only the tests of `/list`). A test id listed here is "proven able to fail" in the coverage
//! table; the proxy re-signs what it alters with the service's own key, so that a fault breaks
//! one rule and not the signature with it.

use crate::plan::Plan;

/// One fault.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// Its name (the proxy's switch).
    pub name: &'static str,
    /// The plan it is run with.
    pub plan: Plan,
    /// What it does to the target's responses.
    pub does: &'static str,
    /// The tests that must fail, and no other.
    pub breaks: &'static [&'static str],
}

/// Every fault.
pub static FAULTS: &[Fault] = &[
    Fault { name: "ec-media-type", plan: Plan::Federation, does: "serves the Entity Configuration as application/jwt", breaks: &["FA_001", "ALL-003"] },
    Fault {
        name: "ec-signature",
        plan: Plan::Federation,
        does: "corrupts the Entity Configuration's signature",
        breaks: &["FA_002", "FA_015", "FA_020", "ATT-003", "ALL-003", "ATT-005"],
    },
    Fault { name: "ec-typ", plan: Plan::Federation, does: "signs the Entity Configuration with typ JWT", breaks: &["FA_003", "FA_020", "ATT-010"] },
    Fault { name: "ec-sub", plan: Plan::Federation, does: "signs the Entity Configuration with another sub", breaks: &["FA_004", "FA_017", "FA_020"] },
    Fault { name: "ec-expired", plan: Plan::Federation, does: "signs the Entity Configuration with exp an hour ago", breaks: &["FA_004", "FA_007", "FA_020", "ATT-013"] },
    Fault { name: "ec-exp-before-iat", plan: Plan::Federation, does: "signs the Entity Configuration with exp before iat (both in the future)", breaks: &["FA_004", "FA_007", "FA_020", "ATT-014"] },
    Fault { name: "ec-no-list-endpoint", plan: Plan::Federation, does: "removes federation_list_endpoint from the metadata", breaks: &["FA_005", "FA_010", "FA_016", "FA_018"] },
    Fault { name: "ec-duplicate-kid", plan: Plan::Federation, does: "publishes the signing key twice under one kid", breaks: &["FA_006", "FA_020"] },
    Fault { name: "ss-sub", plan: Plan::Federation, does: "signs Subordinate Statements with another sub", breaks: &["FA_008", "FA_017", "FA_020"] },
    Fault { name: "ss-foreign-keys", plan: Plan::Federation, does: "puts a key that is not the subordinate's in its Subordinate Statement", breaks: &["FA_009", "FA_020", "ATT-007"] },
    Fault { name: "ss-kid", plan: Plan::Federation, does: "signs Subordinate Statements under an unknown kid", breaks: &["FA_008", "FA_015", "FA_020", "ATT-005"] },
    Fault { name: "list-not-array", plan: Plan::Federation, does: "answers list with a JSON object", breaks: &["FA_010"] },
    Fault { name: "tm-status-always-active", plan: Plan::Federation, does: "answers every trust mark status request 200 active", breaks: &["FA_011", "FA_016", "ATT-011", "ATT-012"] },
    Fault { name: "tm-status-ec-active", plan: Plan::Federation, does: "reports an Entity Configuration sent as a trust mark active", breaks: &["ATT-011"] },
    Fault { name: "tm-status-ss-active", plan: Plan::Federation, does: "reports a Subordinate Statement sent as a trust mark active", breaks: &["ATT-012"] },
    Fault { name: "resolve-unknown-ok", plan: Plan::Federation, does: "answers 200 to resolving an entity outside the federation", breaks: &["ATT-001"] },
    Fault { name: "ec-weak-key", plan: Plan::Federation, does: "publishes a 1024-bit RSA key in the Entity Configuration", breaks: &["FA_006", "ATT-006", "ALL-007"] },
    Fault { name: "ss-source-endpoint-number", plan: Plan::Federation, does: "signs Subordinate Statements with source_endpoint a number", breaks: &["ATT-015", "FA_020"] },
    Fault { name: "ec-old-iat", plan: Plan::Federation, does: "signs the Entity Configuration with iat ten minutes ago", breaks: &["ATT-013"] },
    Fault { name: "hist-reason", plan: Plan::Federation, does: "signs historical keys with a revocation reason outside the spec's", breaks: &["FA_012"] },
    Fault { name: "fetch-self-ok", plan: Plan::Federation, does: "answers a fetch of the authority itself with 200", breaks: &["FA_017"] },
    Fault { name: "fetch-media-type", plan: Plan::Federation, does: "serves Subordinate Statements as application/jwt", breaks: &["FA_018"] },
    Fault { name: "fetch-unknown-ok", plan: Plan::Federation, does: "answers a fetch of an unknown subject with 400 instead of 404", breaks: &["FA_016"] },
    Fault { name: "resolve-metadata", plan: Plan::Federation, does: "re-signs resolve responses with altered metadata", breaks: &["FA_020"] },
    Fault { name: "ss-typ", plan: Plan::Federation, does: "signs Subordinate Statements with typ JWT", breaks: &["FA_008", "FA_020", "ATT-010"] },
    Fault {
        name: "ec-alg-none",
        plan: Plan::Federation,
        does: "serves the Entity Configuration unsigned (alg none)",
        breaks: &["FA_002", "FA_003", "FA_014", "FA_015", "FA_020", "ATT-003", "ATT-004", "ALL-003", "ALL-007", "ATT-005"],
    },
    Fault { name: "hist-signature", plan: Plan::Federation, does: "corrupts the historical keys' signature", breaks: &["FA_012", "ALL-004", "ATT-005"] },
    // The rp plan: our verifier behind the proxy of `tests/support/rp.rs`. Request objects
    // and trust chains are re-signed with the verifier's own keys; "accepts" faults answer
    // `200 {}` at `response_uri` in the verifier's place, as a verifier skipping that one
    // check would.
    Fault { name: "ro-typ", plan: Plan::Rp, does: "signs request objects with typ JWT", breaks: &["RPR-10", "RPR-89"] },
    Fault { name: "ro-alg-none", plan: Plan::Rp, does: "serves request objects unsigned (alg none)", breaks: &["RPR-10", "RPR-88"] },
    Fault { name: "ro-response-mode", plan: Plan::Rp, does: "signs request objects with response_mode direct_post", breaks: &["RPR-10", "RPR-90"] },
    Fault { name: "ro-response-type", plan: Plan::Rp, does: "signs request objects with response_type `vp_token id_token`", breaks: &["RPR-10", "RPR-91"] },
    Fault { name: "ro-expired", plan: Plan::Rp, does: "signs request objects that expired an hour ago", breaks: &["RPR-10", "RPR-94"] },
    Fault { name: "ro-wallet-nonce", plan: Plan::Rp, does: "signs request objects with a wallet_nonce that is not the wallet's", breaks: &["RPR-07", "RPR-10", "RPR-81"] },
    Fault { name: "ro-client-metadata-key", plan: Plan::Rp, does: "puts an encryption key the trust chain does not have in client_metadata", breaks: &["RPR-96"] },
    // The honest answers carry the nonce the request object gave, which the verifier behind
    // the proxy never issued: they are refused too.
    Fault {
        name: "ro-nonce-short",
        plan: Plan::Rp,
        does: "signs request objects with a 10-character nonce",
        breaks: &["RPR-10", "RPR-12", "RPR-13", "RPR-19", "RPR-28", "RPR-29", "RPR-34", "RPR-56", "RPR-93", "RPR-110", "RPR-112", "RPR-113"],
    },
    Fault {
        name: "ro-chain-response-uris",
        plan: Plan::Rp,
        does: "re-signs the trust_chain's Entity Configuration with response_uris elsewhere",
        breaks: &["RPR-10", "RPR-92", "RPR-95"],
    },
    Fault {
        name: "ro-chain-request-uris",
        plan: Plan::Rp,
        does: "re-signs the trust_chain's Entity Configuration with request_uris elsewhere",
        breaks: &["RPR-01", "RPR-10", "RPR-85", "RPR-03"],
    },
    Fault { name: "request-uri-media", plan: Plan::Rp, does: "serves request objects as application/jwt", breaks: &["RPR-07", "RPR-08", "RPR-09", "RPR-86", "RPR-87"] },
    Fault { name: "request-uri-json-ok", plan: Plan::Rp, does: "answers a JSON POST to request_uri with a request object", breaks: &["RPR-49"] },
    Fault { name: "request-uri-any-method", plan: Plan::Rp, does: "answers PUT, PATCH and DELETE of request_uri with a request object", breaks: &["RPR-60", "RPR-76"] },
    Fault { name: "qr-not-png", plan: Plan::Rp, does: "serves the QR code PNG as image/svg+xml", breaks: &["RPR-02"] },
    Fault { name: "qr-other-url", plan: Plan::Rp, does: "draws a QR code for another request_uri than the session's", breaks: &["RPR-03"] },
    Fault { name: "qr-level-m", plan: Plan::Rp, does: "declares error correction level M in the QR code's format information", breaks: &["RPR-77", "RPR-03"] },
    Fault {
        name: "no-same-device",
        plan: Plan::Rp,
        does: "refuses same-device sessions",
        breaks: &["RPR-01", "RPR-09", "RPR-19", "RPR-28", "RPR-29", "RPR-34", "RPR-83", "RPR-84", "RPR-112", "RPR-113"],
    },
    Fault { name: "resp-replay", plan: Plan::Rp, does: "accepts a response posted a second time", breaks: &["RPR-12"] },
    Fault { name: "kb-nonce", plan: Plan::Rp, does: "accepts a KB-JWT whose nonce is not the session's", breaks: &["RPR-17", "RPR-39", "RPR-107"] },
    Fault { name: "kb-aud", plan: Plan::Rp, does: "accepts a KB-JWT whose aud is not the client_id", breaks: &["RPR-106"] },
    Fault { name: "no-kb", plan: Plan::Rp, does: "accepts a presentation without KB-JWT", breaks: &["RPR-102"] },
    Fault { name: "kb-typ", plan: Plan::Rp, does: "accepts a KB-JWT whose typ is not kb+jwt", breaks: &["RPR-104"] },
    Fault { name: "kb-sd-hash", plan: Plan::Rp, does: "accepts a KB-JWT without sd_hash", breaks: &["RPR-105"] },
    Fault { name: "vc-signature", plan: Plan::Rp, does: "accepts a credential whose issuer signature does not verify", breaks: &["RPR-38", "RPR-65"] },
    Fault { name: "vc-untrusted", plan: Plan::Rp, does: "accepts a credential from an issuer outside the federation", breaks: &["RPR-54", "RPR-114"] },
    Fault { name: "vc-expired", plan: Plan::Rp, does: "accepts an expired credential", breaks: &["RPR-66"] },
    Fault { name: "vp-token-shape", plan: Plan::Rp, does: "accepts a vp_token answering more or less than the DCQL query", breaks: &["RPR-101"] },
    Fault { name: "jwe-foreign-key", plan: Plan::Rp, does: "accepts a JWE it cannot decrypt", breaks: &["RPR-37", "RPR-52"] },
    Fault { name: "resp-malformed-ok", plan: Plan::Rp, does: "answers 200 to a response that is not a JWE", breaks: &["RPR-40", "RPR-64", "RPR-67", "RPR-98", "RPR-99", "RPR-111"] },
    Fault { name: "resp-empty-ok", plan: Plan::Rp, does: "answers 200 to a form with neither response nor error", breaks: &["RPR-41"] },
    Fault { name: "error-media-type", plan: Plan::Rp, does: "serves response_uri's errors as text/plain", breaks: &["RPR-98", "RPR-111", "RPR-114"] },
    Fault { name: "error-no-description", plan: Plan::Rp, does: "drops error_description from response_uri's errors", breaks: &["RPR-99"] },
    Fault { name: "decline-ignored", plan: Plan::Rp, does: "answers 200 to an Authorization Error Response without recording it", breaks: &["RPR-14", "RPR-108", "RPR-109"] },
    Fault { name: "redirect-same-code", plan: Plan::Rp, does: "gives every same-device redirect the same fixed response_code", breaks: &["RPR-28", "RPR-112"] },
    Fault { name: "redirect-http", plan: Plan::Rp, does: "rewrites the same-device redirect_uri to http", breaks: &["RPR-19", "RPR-113"] },
    Fault { name: "success-text", plan: Plan::Rp, does: "serves response_uri's success as text/plain", breaks: &["RPR-110"] },
    Fault { name: "result-any-code", plan: Plan::Rp, does: "gives a verdict for a response_code it never issued", breaks: &["RPR-29"] },
    Fault { name: "status-no-auth", plan: Plan::Rp, does: "answers the session state without the integrator's token", breaks: &["RPR-30"] },
    Fault { name: "status-unknown-ok", plan: Plan::Rp, does: "answers 200 for an unknown session id", breaks: &["RPR-31"] },
    Fault { name: "kb-signature", plan: Plan::Rp, does: "accepts a KB-JWT that does not verify with the credential's cnf key", breaks: &["RPR-63", "RPR-103"] },
    Fault { name: "vc-disclosure", plan: Plan::Rp, does: "accepts a disclosure whose digest the credential does not carry", breaks: &["RPR-53"] },
    Fault { name: "result-no-auth", plan: Plan::Rp, does: "gives the verdict without the integrator's token", breaks: &["RPR-56"] },
    Fault { name: "redirect-any", plan: Plan::Rp, does: "creates same-device sessions whatever their redirect_uri (drops it)", breaks: &["RPR-20", "RPR-57"] },
    Fault { name: "slow-configuration", plan: Plan::Rp, does: "serves the Entity Configuration after 2.2 s", breaks: &["RPR-34"] },
    Fault {
        name: "ro-chain-vp-formats",
        plan: Plan::Rp,
        does: "re-signs the trust_chain's Entity Configuration with vp_formats_supported mso_mdoc only",
        breaks: &["RPR-23"],
    },
    Fault {
        name: "ro-chain-response-types",
        plan: Plan::Rp,
        does: "re-signs the trust_chain's Entity Configuration with response_types_supported [code]",
        breaks: &["RPR-82"],
    },
    // The issuer and wallet-provider plans: our issuer and our wallet provider each behind the
    // proxy of `tests/support/mod.rs` (their entity id is the proxy's URL); what it alters it
    // re-signs with the service's own federation key.
    Fault { name: "ci-ec-sub", plan: Plan::Issuer, does: "signs the Entity Configuration with another sub", breaks: &["CI_001", "CI_006"] },
    Fault { name: "ci-ec-media-type", plan: Plan::Issuer, does: "serves the Entity Configuration as application/jwt", breaks: &["CI_002"] },
    Fault { name: "ci-ec-typ", plan: Plan::Issuer, does: "signs the Entity Configuration with typ JWT", breaks: &["CI_003"] },
    Fault {
        name: "ci-ec-foreign-key",
        plan: Plan::Issuer,
        does: "signs the Entity Configuration with a fresh key of its own jwks, unknown to the superior",
        breaks: &["CI_004"],
    },
    Fault { name: "ci-no-trust-marks", plan: Plan::Issuer, does: "drops trust_marks from the Entity Configuration", breaks: &["CI_005"] },
    Fault { name: "ci-exp-before-iat", plan: Plan::Issuer, does: "signs the Entity Configuration with exp before iat", breaks: &["CI_006"] },
    Fault { name: "ci-metadata-issuer", plan: Plan::Issuer, does: "names another credential_issuer at /.well-known/openid-credential-issuer", breaks: &["CI_007"] },
    Fault { name: "ci-no-nonce-endpoint", plan: Plan::Issuer, does: "drops nonce_endpoint from openid_credential_issuer", breaks: &["CI_008"] },
    Fault { name: "ci-verifier-not-object", plan: Plan::Issuer, does: "publishes openid_credential_verifier as a string", breaks: &["CI_009"] },
    Fault { name: "wp-ec-media-type", plan: Plan::WalletProvider, does: "serves the Entity Configuration as application/jwt", breaks: &["WP_001"] },
    Fault { name: "wp-ec-signature", plan: Plan::WalletProvider, does: "corrupts the Entity Configuration's signature", breaks: &["WP_002"] },
    Fault { name: "wp-ec-alg-none", plan: Plan::WalletProvider, does: "serves the Entity Configuration unsigned (alg none)", breaks: &["WP_002", "WP_002a"] },
    Fault { name: "wp-ec-kid", plan: Plan::WalletProvider, does: "signs the Entity Configuration under a kid that is not the key's thumbprint", breaks: &["WP_002b"] },
    Fault { name: "wp-ec-typ", plan: Plan::WalletProvider, does: "signs the Entity Configuration with typ JWT", breaks: &["WP_002c"] },
    Fault { name: "wp-ec-sub", plan: Plan::WalletProvider, does: "signs the Entity Configuration with another sub", breaks: &["WP_002d"] },
    Fault { name: "wp-exp-before-iat", plan: Plan::WalletProvider, does: "signs the Entity Configuration with exp before iat", breaks: &["WP_002e"] },
    Fault { name: "wp-no-authority-hints", plan: Plan::WalletProvider, does: "drops authority_hints", breaks: &["WP_002f"] },
    Fault { name: "wp-duplicate-kid", plan: Plan::WalletProvider, does: "publishes the signing key twice under one kid", breaks: &["WP_002g"] },
    Fault { name: "wp-wallet-metadata", plan: Plan::WalletProvider, does: "publishes wallet_solution.wallet_metadata as a string", breaks: &["WP_002h"] },
    Fault { name: "wp-key-use", plan: Plan::WalletProvider, does: "marks the wallet_solution keys use `attest`", breaks: &["WP_003"] },
    // WP_004a's check (a valid public JWKS) is part of WP_003's: no fault fails it alone.
    Fault { name: "wp-private-key", plan: Plan::WalletProvider, does: "puts a private member `d` in the wallet_solution keys", breaks: &["WP_003", "WP_004a", "WP_020"] },
    Fault { name: "wp-no-key-reference", plan: Plan::WalletProvider, does: "drops the wallet_solution jwks (no key reference)", breaks: &["WP_004", "WP_020"] },
    Fault { name: "wp-jwks-uri-http", plan: Plan::WalletProvider, does: "references the wallet_solution keys by an http jwks_uri", breaks: &["WP_004b", "WP_020"] },
    Fault { name: "wp-signed-jwks-uri-http", plan: Plan::WalletProvider, does: "references the wallet_solution keys by an http signed_jwks_uri", breaks: &["WP_004c", "WP_020"] },
    // WP_020 verifies the WAA with the keys of wallet_solution.jwks: the four faults above
    // that alter them fail it too.
    // WP_041 repeats WP_035a's request with its checks and more: what fails WP_035a fails it.
    Fault { name: "wp-instances-error-text", plan: Plan::WalletProvider, does: "serves /wallet-instances errors as text/plain", breaks: &["WP_035a", "WP_041"] },
    Fault { name: "wp-forged-bearer-code", plan: Plan::WalletProvider, does: "answers a forged bearer at /wallet-instances with error invalid_token", breaks: &["WP_041"] },
    Fault { name: "wp-revoke-code", plan: Plan::WalletProvider, does: "answers an unauthenticated revocation with error invalid_request", breaks: &["WP_043"] },
    Fault { name: "wp-nonce-repeat", plan: Plan::WalletProvider, does: "gives the last nonce again while it is unused", breaks: &["WP_131"] },
    // The wallet rows: our wallet provider behind the proxy of `tests/support/wp_faults.rs`.
    // "-ok" faults answer in the provider's place as a provider skipping that one check would
    // (a 2xx where a refusal is due), recognising the one bad input; "-code" faults keep the
    // refusal with another status or error code; the others alter what the provider sent (the
    // WAA re-signed with its own attestation key, the lists).
    Fault { name: "wp-register-200", plan: Plan::WalletProvider, does: "answers a registration 200 {} instead of 204", breaks: &["WP_135"] },
    Fault { name: "wp-register-nonce-ok", plan: Plan::WalletProvider, does: "registers with a nonce it never gave or already used", breaks: &["WP_135a", "WP_150"] },
    Fault { name: "wp-register-nonce-code", plan: Plan::WalletProvider, does: "refuses a registration's bad nonce with error invalid_nonce", breaks: &["WP_150"] },
    Fault { name: "wp-ka-root-ok", plan: Plan::WalletProvider, does: "registers a key attested by an untrusted root", breaks: &["WP_135b"] },
    Fault { name: "wp-ka-signature-ok", plan: Plan::WalletProvider, does: "registers a key attestation with a broken signature", breaks: &["WP_151"] },
    Fault { name: "wp-ka-binding-ok", plan: Plan::WalletProvider, does: "registers a key attestation bound to another tag", breaks: &["WP_136"] },
    Fault { name: "wp-duplicate-tag-ok", plan: Plan::WalletProvider, does: "registers a hardware_key_tag a second time", breaks: &["WP_037"] },
    Fault { name: "wp-unknown-instance-text", plan: Plan::WalletProvider, does: "serves the 404 of an unknown instance as text/plain", breaks: &["WP_035"] },
    Fault { name: "wp-death-unsupported", plan: Plan::WalletProvider, does: "answers the PDND Notify User Death e-service 404", breaks: &["WP_008"] },
    Fault { name: "wp-bad-request-code", plan: Plan::WalletProvider, does: "answers malformed requests 400 invalid_request", breaks: &["WP_036"] },
    Fault { name: "wp-instance-get-404", plan: Plan::WalletProvider, does: "answers 404 for the citizen's own active instance", breaks: &["WP_138"] },
    Fault { name: "wp-attestation-media-type", plan: Plan::WalletProvider, does: "serves attestation responses as text/plain", breaks: &["WP_029"] },
    Fault { name: "wp-waa-typ", plan: Plan::WalletProvider, does: "signs the WAA with typ JWT", breaks: &["WP_029a"] },
    Fault { name: "wp-waa-pii", plan: Plan::WalletProvider, does: "puts the citizen's fiscal number in the WAA", breaks: &["WP_029b"] },
    Fault { name: "wp-waa-no-sub", plan: Plan::WalletProvider, does: "drops sub from the WAA", breaks: &["WP_019", "WP_019b"] },
    Fault { name: "wp-waa-cnf", plan: Plan::WalletProvider, does: "binds the WAA to another key", breaks: &["WP_019b"] },
    Fault { name: "wp-waa-foreign-key", plan: Plan::WalletProvider, does: "signs the WAA with a key the provider does not publish", breaks: &["WP_020"] },
    // WP_028 (a short validity) and WP_144 (at most 24 h) are one check.
    Fault { name: "wp-waa-long-lived", plan: Plan::WalletProvider, does: "signs the WAA valid for two days", breaks: &["WP_028", "WP_144"] },
    Fault { name: "wp-att-integrity-root-ok", plan: Plan::WalletProvider, does: "accepts an integrity_assertion from an untrusted root", breaks: &["WP_019a"] },
    Fault { name: "wp-att-aud-ok", plan: Plan::WalletProvider, does: "accepts an attestation request for another provider", breaks: &["WP_143"] },
    Fault { name: "wp-att-typ-ok", plan: Plan::WalletProvider, does: "accepts an attestation request with typ JWT", breaks: &["WP_143a"] },
    Fault { name: "wp-att-signature-ok", plan: Plan::WalletProvider, does: "accepts an attestation request not signed by its cnf.jwk", breaks: &["WP_143b"] },
    Fault { name: "wp-att-nonce-ok", plan: Plan::WalletProvider, does: "accepts an attestation request with a nonce it never gave", breaks: &["WP_143c"] },
    Fault { name: "wp-att-unregistered-ok", plan: Plan::WalletProvider, does: "accepts an attestation request from an unregistered instance", breaks: &["WP_143d", "WP_152"] },
    Fault { name: "wp-att-unregistered-code", plan: Plan::WalletProvider, does: "refuses an unregistered instance 403 invalid_request", breaks: &["WP_152"] },
    Fault { name: "wp-att-hw-signature-ok", plan: Plan::WalletProvider, does: "accepts a forged hardware_signature", breaks: &["WP_143e", "WP_154"] },
    Fault { name: "wp-att-hw-signature-code", plan: Plan::WalletProvider, does: "refuses a forged hardware_signature with integrity_check_error", breaks: &["WP_154"] },
    Fault { name: "wp-att-integrity-ok", plan: Plan::WalletProvider, does: "accepts a tampered integrity_assertion", breaks: &["WP_143f", "WP_155"] },
    Fault { name: "wp-att-integrity-code", plan: Plan::WalletProvider, does: "refuses a tampered integrity_assertion with integrity_check_error", breaks: &["WP_155"] },
    Fault { name: "wp-att-iss-ok", plan: Plan::WalletProvider, does: "accepts an attestation request whose iss is another provider's", breaks: &["WP_143g"] },
    Fault { name: "wp-att-other-key-ok", plan: Plan::WalletProvider, does: "accepts an attestation request for a registered tag from another hardware key", breaks: &["WP_137"] },
    Fault { name: "wp-att-revoked-ok", plan: Plan::WalletProvider, does: "issues attestations to a revoked instance", breaks: &["WP_010", "WP_153"] },
    Fault { name: "wp-att-revoked-code", plan: Plan::WalletProvider, does: "refuses a revoked instance with error forbidden", breaks: &["WP_153"] },
    Fault { name: "wp-list-media-type", plan: Plan::WalletProvider, does: "serves the citizen's instance list as text/plain", breaks: &["WP_145"] },
    Fault { name: "wp-list-no-issued-at", plan: Plan::WalletProvider, does: "drops issued_at from the instance list", breaks: &["WP_146"] },
    Fault { name: "wp-revoke-200", plan: Plan::WalletProvider, does: "answers a revocation 200 {} instead of 204", breaks: &["WP_033"] },
    Fault { name: "wp-revoke-any-status-ok", plan: Plan::WalletProvider, does: "accepts a status update other than REVOKED", breaks: &["WP_147"] },
    Fault { name: "wp-revoked-shown-active", plan: Plan::WalletProvider, does: "shows revoked instances as ACTIVE", breaks: &["WP_148", "WP_008"] },
    Fault { name: "wp-other-get-ok", plan: Plan::WalletProvider, does: "shows another citizen's instance", breaks: &["WP_042"] },
    Fault { name: "wp-other-revoke-ok", plan: Plan::WalletProvider, does: "answers 204 to revoking another citizen's instance", breaks: &["WP_044"] },
    // The issuer plan's protocol rows: our issuer behind the proxy of `tests/support/issuer.rs`.
    // "-ok" faults answer in the issuer's place as an issuer skipping that one check would (a
    // 200, or a 204, where a refusal is due), recognising the one bad input; the others alter
    // what the issuer sent, re-signed with its own credential key.
    Fault { name: "ci-offer-extra-param", plan: Plan::Issuer, does: "adds a parameter to the offer URL besides credential_offer", breaks: &["CI_010"] },
    Fault { name: "ci-offer-issuer", plan: Plan::Issuer, does: "names another credential_issuer in the offer", breaks: &["CI_012"] },
    Fault { name: "ci-offer-tx-length", plan: Plan::Issuer, does: "describes the tx_code with a length other than the code's", breaks: &["CI_013"] },
    Fault { name: "ci-code-reuse-ok", plan: Plan::Issuer, does: "answers a pre-authorized code redeemed before with an access token", breaks: &["CI_061"] },
    Fault { name: "ci-token-no-dpop-ok", plan: Plan::Issuer, does: "answers a token request without DPoP with an access token", breaks: &["CI_063"] },
    Fault { name: "ci-token-bearer", plan: Plan::Issuer, does: "answers token_type Bearer", breaks: &["CI_064"] },
    Fault { name: "ci-grant-type-code", plan: Plan::Issuer, does: "refuses an unknown grant_type with invalid_request", breaks: &["CI_067"] },
    Fault { name: "ci-nonce-cacheable", plan: Plan::Issuer, does: "serves c_nonces without Cache-Control: no-store", breaks: &["CI_068"] },
    Fault { name: "ci-nonce-repeat", plan: Plan::Issuer, does: "gives the last c_nonce again while it is unused", breaks: &["CI_069"] },
    Fault { name: "ci-dpop-key-ok", plan: Plan::Issuer, does: "accepts an access token with another key's DPoP proof", breaks: &["CI_066"] },
    Fault { name: "ci-ath-ok", plan: Plan::Issuer, does: "accepts a DPoP proof whose ath is not the access token's", breaks: &["CI_082"] },
    Fault { name: "ci-forged-token-ok", plan: Plan::Issuer, does: "accepts an access token it never issued", breaks: &["CI_085"] },
    Fault { name: "ci-credential-no-auth-ok", plan: Plan::Issuer, does: "accepts a credential request without an access token", breaks: &["CI_089c"] },
    Fault { name: "ci-deferred-no-auth-ok", plan: Plan::Issuer, does: "answers a deferred request without an access token as if authorized", breaks: &["CI_088a"] },
    Fault { name: "ci-notification-no-auth-ok", plan: Plan::Issuer, does: "accepts a notification without an access token", breaks: &["CI_088b"] },
    Fault { name: "ci-notification-unknown-ok", plan: Plan::Issuer, does: "accepts a notification with an unknown notification_id", breaks: &["CI_087"] },
    Fault { name: "ci-proof-no-aud-ok", plan: Plan::Issuer, does: "accepts a key proof without aud", breaks: &["CI_071"] },
    Fault { name: "ci-proof-same-key-ok", plan: Plan::Issuer, does: "accepts a batch whose proofs share a key", breaks: &["CI_072"] },
    Fault { name: "ci-proof-typ-ok", plan: Plan::Issuer, does: "accepts a key proof with another typ", breaks: &["CI_073"] },
    Fault { name: "ci-proof-alg-none-ok", plan: Plan::Issuer, does: "accepts an unsigned key proof", breaks: &["CI_074"] },
    Fault { name: "ci-proof-signature-ok", plan: Plan::Issuer, does: "accepts a key proof whose signature is not its jwk's", breaks: &["CI_075"] },
    Fault { name: "ci-proof-private-key-ok", plan: Plan::Issuer, does: "accepts a key proof carrying a private key", breaks: &["CI_076"] },
    Fault { name: "ci-proof-nonce-ok", plan: Plan::Issuer, does: "accepts a key proof with a nonce it never gave", breaks: &["CI_077"] },
    Fault { name: "ci-proof-stale-ok", plan: Plan::Issuer, does: "accepts a key proof issued long ago", breaks: &["CI_078"] },
    Fault { name: "ci-proof-no-wua-ok", plan: Plan::Issuer, does: "accepts a key proof without a WUA", breaks: &["CI_083"] },
    Fault { name: "ci-batch-no-notification-id", plan: Plan::Issuer, does: "drops notification_id from batch responses", breaks: &["CI_086"] },
    Fault { name: "ci-deferred-no-interval", plan: Plan::Issuer, does: "drops interval from 202 credential responses", breaks: &["CI_081"] },
    Fault { name: "ci-credential-media-type", plan: Plan::Issuer, does: "serves credential responses as text/plain", breaks: &["CI_014"] },
    Fault { name: "ci-no-refresh-token", plan: Plan::Issuer, does: "drops refresh_token from token responses", breaks: &["CI_065"] },
    Fault { name: "ci-metadata-format", plan: Plan::Issuer, does: "publishes every credential configuration in format vc+sd-jwt", breaks: &["CI_118", "CI_119"] },
    Fault { name: "ci-vc-cnf", plan: Plan::Issuer, does: "binds credentials to another key", breaks: &["CI_084"] },
    // The type metadata rows look up the credential's vct.
    Fault { name: "ci-vc-vct", plan: Plan::Issuer, does: "issues credentials of another vct", breaks: &["CI_084a", "CI_121", "CI_134", "CI_134a", "CI_135"] },
    Fault { name: "ci-vc-signature", plan: Plan::Issuer, does: "corrupts the credentials' signature", breaks: &["CI_120"] },
    Fault { name: "ci-vc-no-sd-alg", plan: Plan::Issuer, does: "drops _sd_alg from credentials", breaks: &["CI_122", "CI_123"] },
    Fault { name: "ci-vc-foreign-disclosure", plan: Plan::Issuer, does: "appends a disclosure the credential does not digest", breaks: &["CI_125"] },
    Fault { name: "ci-vc-duplicate-digest", plan: Plan::Issuer, does: "repeats a digest in the credentials' _sd", breaks: &["CI_126"] },
    Fault { name: "ci-vc-no-trailing-tilde", plan: Plan::Issuer, does: "drops the SD-JWT's final ~", breaks: &["CI_130"] },
    Fault { name: "ci-vc-typ", plan: Plan::Issuer, does: "signs credentials with typ vc+sd-jwt", breaks: &["CI_131"] },
    Fault { name: "ci-vc-no-exp", plan: Plan::Issuer, does: "drops exp from credentials", breaks: &["CI_132"] },
    // PAR and /authorize (`plans/issuer/par.rs`): "-ok" faults answer a PAR carrying the one
    // bad input with 201 and a made-up request_uri, as an issuer skipping that check would.
    Fault { name: "ci-ro-altered-ok", plan: Plan::Issuer, does: "accepts a request object whose signature does not verify", breaks: &["CI_015"] },
    Fault { name: "ci-ro-header-jwk-ok", plan: Plan::Issuer, does: "accepts a request object that verifies with the jwk it carries", breaks: &["CI_015b"] },
    Fault { name: "ci-par-form-charset-refused", plan: Plan::Issuer, does: "refuses form-encoded PARs whose Content-Type carries a charset (415)", breaks: &["CI_016"] },
    Fault { name: "ci-ro-alg-ok", plan: Plan::Issuer, does: "accepts a request object whose alg is not the one it is signed with", breaks: &["CI_015a"] },
    Fault { name: "ci-ro-other-key-ok", plan: Plan::Issuer, does: "accepts a request object signed by another key than the WAA's cnf.jwk", breaks: &["CI_018"] },
    Fault { name: "ci-ro-alg-none-ok", plan: Plan::Issuer, does: "accepts an unsigned request object", breaks: &["CI_019"] },
    Fault { name: "ci-ro-client-id-ok", plan: Plan::Issuer, does: "accepts a request object whose client_id is not the PAR's", breaks: &["CI_020"] },
    Fault { name: "ci-ro-iss-ok", plan: Plan::Issuer, does: "accepts a request object whose iss is not its client_id", breaks: &["CI_021"] },
    Fault { name: "ci-ro-aud-ok", plan: Plan::Issuer, does: "accepts a request object for another audience", breaks: &["CI_022"] },
    Fault { name: "ci-par-request-uri-ok", plan: Plan::Issuer, does: "accepts a PAR carrying request_uri", breaks: &["CI_023"] },
    Fault { name: "ci-ro-no-code-challenge-ok", plan: Plan::Issuer, does: "accepts a request object without code_challenge", breaks: &["CRFCI_024"] },
    Fault { name: "ci-ro-expired-ok", plan: Plan::Issuer, does: "accepts an expired request object", breaks: &["CI_025"] },
    Fault { name: "ci-ro-future-ok", plan: Plan::Issuer, does: "accepts a request object issued in the future", breaks: &["CI_026"] },
    Fault { name: "ci-ro-old-ok", plan: Plan::Issuer, does: "accepts a request object issued more than 5 minutes ago", breaks: &["CI_026a"] },
    Fault { name: "ci-ro-jti-reuse-ok", plan: Plan::Issuer, does: "accepts a request object jti pushed before", breaks: &["CI_027"] },
    Fault { name: "ci-pop-key-ok", plan: Plan::Issuer, does: "accepts a client attestation PoP not signed by the WAA's key", breaks: &["CI_028"] },
    Fault { name: "ci-waa-typ-ok", plan: Plan::Issuer, does: "accepts a WAA whose typ is not oauth-client-attestation+jwt", breaks: &["CI_029"] },
    Fault { name: "ci-waa-iss-ok", plan: Plan::Issuer, does: "accepts a WAA whose issuer is not the provider of its trust chain", breaks: &["CI_030"] },
    Fault { name: "ci-waa-signature-ok", plan: Plan::Issuer, does: "accepts a WAA signed by a key its provider does not publish", breaks: &["CI_031"] },
    Fault { name: "ci-waa-expired-ok", plan: Plan::Issuer, does: "accepts an expired WAA", breaks: &["CI_032"] },
    Fault { name: "ci-waa-chain-ok", plan: Plan::Issuer, does: "accepts a WAA whose trust_chain does not reach the anchor", breaks: &["CI_035"] },
    Fault { name: "ci-par-status-200", plan: Plan::Issuer, does: "answers an accepted PAR with 200", breaks: &["CI_043"] },
    Fault { name: "ci-par-media-type", plan: Plan::Issuer, does: "serves PAR responses as text/plain", breaks: &["CI_044"] },
    // The tests that redeem the request_uri at /authorize read it too.
    Fault { name: "ci-par-no-request-uri", plan: Plan::Issuer, does: "drops request_uri from PAR responses", breaks: &["CI_038", "CI_039", "CI_041", "CI_042", "CI_044a", "CI_047", "CI_059"] },
    Fault { name: "ci-par-no-expires-in", plan: Plan::Issuer, does: "drops expires_in from PAR responses", breaks: &["CI_040", "CI_044b"] },
    Fault { name: "ci-par-long-lived", plan: Plan::Issuer, does: "gives request_uris expires_in 600", breaks: &["CI_040"] },
    Fault { name: "ci-par-short-request-uri", plan: Plan::Issuer, does: "gives short made-up request_uris (a counter)", breaks: &["CI_041", "CI_047"] },
    Fault { name: "ci-par-long-request-uri", plan: Plan::Issuer, does: "pads request_uris past 512 characters", breaks: &["CI_042", "CI_047"] },
    Fault { name: "ci-par-same-request-uri", plan: Plan::Issuer, does: "gives every PAR the first request_uri it gave", breaks: &["CI_038", "CI_041", "CI_047"] },
    Fault { name: "ci-par-error-text", plan: Plan::Issuer, does: "serves PAR errors as text/plain", breaks: &["CI_045"] },
    Fault { name: "ci-authorize-other-client-ok", plan: Plan::Issuer, does: "redirects a request_uri presented by another client_id", breaks: &["CI_039"] },
    Fault { name: "ci-authorize-unknown-ok", plan: Plan::Issuer, does: "redirects a request_uri it never issued", breaks: &["CI_049"] },
    Fault { name: "ci-authorize-reuse-ok", plan: Plan::Issuer, does: "redirects a request_uri used before as if it were new", breaks: &["CI_047"] },
    Fault { name: "ci-authorize-no-request-uri-ok", plan: Plan::Issuer, does: "redirects an authorization request without request_uri", breaks: &["CI_050"] },
    Fault { name: "ci-authorize-error-no-state", plan: Plan::Issuer, does: "drops state from /authorize's redirects", breaks: &["CI_059"] },
    // Refresh (`plans/issuer/refresh.rs`). CI_101 compares the two tokens' keys: what binds the
    // refresh token to another key fails CI_090 with it.
    Fault { name: "ci-as-http-endpoint", plan: Plan::Issuer, does: "publishes an http revocation_endpoint on a public host", breaks: &["CI_098"] },
    Fault { name: "ci-rt-other-jkt", plan: Plan::Issuer, does: "binds refresh tokens to another key (cnf.jkt)", breaks: &["CI_090", "CI_101"] },
    Fault { name: "ci-refresh-no-dpop-ok", plan: Plan::Issuer, does: "answers a refresh request without DPoP with an access token", breaks: &["CI_102"] },
    Fault { name: "ci-refresh-htu-ok", plan: Plan::Issuer, does: "answers a refresh request whose DPoP proof is for another URL with an access token", breaks: &["CI_092"] },
    Fault { name: "ci-refresh-unknown-ok", plan: Plan::Issuer, does: "answers a refresh token it never issued with an access token", breaks: &["CI_096"] },
    Fault { name: "ci-refresh-tampered-ok", plan: Plan::Issuer, does: "answers an altered refresh token with an access token", breaks: &["CI_099"] },
    // Type metadata: CI_134a and CI_135 read the credential's document first.
    Fault { name: "ci-type-metadata-down", plan: Plan::Issuer, does: "answers 404 for type metadata", breaks: &["CI_121", "CI_134", "CI_134a", "CI_135"] },
    Fault { name: "ci-type-metadata-no-claims", plan: Plan::Issuer, does: "serves type metadata with an empty claims array", breaks: &["CI_121"] },
    Fault { name: "ci-type-metadata-vct", plan: Plan::Issuer, does: "serves type metadata naming another vct", breaks: &["CI_135"] },
    Fault { name: "ci-type-metadata-any-case", plan: Plan::Issuer, does: "serves type metadata for a vct it does not know (another case)", breaks: &["CI_134a"] },
    // The batches of CI_086 and CI_159 are built on one c_nonce too.
    Fault { name: "ci-nonce-single-proof", plan: Plan::Issuer, does: "refuses a batch whose proofs share a c_nonce (invalid_nonce)", breaks: &["CI_070", "CI_086", "CI_159"] },
    // CI_117 (the PID, the first configuration here) also wants its attributes disclosable only.
    Fault { name: "ci-vc-plain-and-disclosed", plan: Plan::Issuer, does: "puts a disclosed claim in the payload in plain as well", breaks: &["CI_117", "CI_124"] },
    Fault { name: "ci-proof-unattested-ok", plan: Plan::Issuer, does: "accepts a key proof whose key its WUA does not attest", breaks: &["CI_033"] },
    Fault { name: "ci-rt-no-exp", plan: Plan::Issuer, does: "issues refresh tokens without exp", breaks: &["CI_104"] },
    Fault { name: "ci-batch-same-status", plan: Plan::Issuer, does: "gives the second credential of a batch the first one's status entry", breaks: &["CI_159"] },
    Fault { name: "ci-pid-no-nationalities", plan: Plan::Issuer, does: "drops the nationalities disclosure from credentials", breaks: &["CI_117"] },
    // The status list rows all read the credential's status first.
    Fault { name: "ci-vc-status-idx-string", plan: Plan::Issuer, does: "writes the credentials' status_list.idx as a string", breaks: &["CI_079", "CI_133", "CI_175", "CI_176", "CI_179", "CI_190"] },
    Fault {
        name: "ci-vc-no-status",
        plan: Plan::Issuer,
        does: "drops status from credentials",
        breaks: &["CI_079", "CI_132", "CI_133", "CI_159", "CI_175", "CI_176", "CI_177", "CI_178", "CI_179", "CI_181", "CI_181a", "CI_182", "CI_183", "CI_185", "CI_186", "CI_187", "CI_189", "CI_190", "CI_191"],
    },
    Fault {
        name: "ci-sl-down",
        plan: Plan::Issuer,
        does: "answers the status list with 503",
        breaks: &["CI_079", "CI_175", "CI_176", "CI_177", "CI_178", "CI_179", "CI_181", "CI_181a", "CI_182", "CI_183", "CI_185", "CI_186", "CI_187", "CI_191"],
    },
    Fault { name: "ci-sl-media-type", plan: Plan::Issuer, does: "serves the status list as application/jwt", breaks: &["CI_175", "CI_191"] },
    Fault { name: "ci-sl-typ", plan: Plan::Issuer, does: "signs the Status List Token with typ JWT", breaks: &["CI_175", "CI_177"] },
    Fault { name: "ci-sl-sub", plan: Plan::Issuer, does: "signs the Status List Token with another sub", breaks: &["CI_175", "CI_185"] },
    Fault { name: "ci-sl-long-lived", plan: Plan::Issuer, does: "signs the Status List Token valid for two days", breaks: &["CI_186"] },
    // A list with bits 3 cannot be read at all.
    Fault { name: "ci-sl-bits", plan: Plan::Issuer, does: "signs the Status List Token with bits 3", breaks: &["CI_079", "CI_175", "CI_176", "CI_178", "CI_179", "CI_181", "CI_183", "CI_187"] },
    Fault { name: "ci-sl-uncompressed", plan: Plan::Issuer, does: "puts the byte array in lst uncompressed", breaks: &["CI_079", "CI_175", "CI_176", "CI_179", "CI_181", "CI_181a", "CI_183"] },
    Fault { name: "ci-sl-stored", plan: Plan::Issuer, does: "compresses the list at level 0 (stored DEFLATE blocks, ZLIB FLEVEL 0)", breaks: &["CI_181a"] },
    Fault { name: "ci-sl-undefined-status", plan: Plan::Issuer, does: "widens the list to bits 8 and gives an entry no credential holds the undefined status 0x42", breaks: &["CI_183"] },
    Fault { name: "ci-sl-invalid", plan: Plan::Issuer, does: "marks every entry of the list INVALID", breaks: &["CI_079", "CI_176"] },
];

/// The faults that prove `id`.
pub fn proving(id: &str) -> impl Iterator<Item = &'static Fault> + '_ {
    FAULTS.iter().filter(move |f| f.breaks.contains(&id))
}
