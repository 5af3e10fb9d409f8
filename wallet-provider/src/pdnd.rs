//! The PDND e-service "Notify User Death" (IT-Wallet 1.4 §2.4 endpoint table, §2.5
//! "revocation by the PID Provider, on the user's death notified by ANPR, via PDND"; test
//! WP_008): the PID Provider asks the wallet provider to revoke every wallet instance of a
//! citizen.
//!
//! `POST /e-service/notify-user-death`, `Authorization: Bearer <voucher>`, JSON
//! `{"fiscal_number": "TINIT-…", "reason": "…"}` → `200 {"revoked": n}`: every active
//! instance of that citizen becomes `REVOKED` and its WUA's index `INVALID` in our status
//! list, in one transaction; an audit line is logged (`target: wallet_provider::audit`).
//!
//! PDND's voucher (PDND guidelines, "Voucher for e-Service": an `at+jwt` access token from
//! the PDND authorization server with `iss`, `aud` = the e-service, `exp`, `nbf`, `iat`,
//! `jti`, `client_id`, `purposeId`) is modelled as a JWT signed ES256 by a configured key of
//! the configured issuer. Checked, before the body is read, in this order: the form and
//! `typ`, `alg` ES256, the key (`kid` among the configured keys), the signature, `iss`,
//! `aud`, the times (wallet-core's `time::check_window`: NumericDates in range, `exp` not
//! passed, `iat` and `nbf` not in the future, `exp - iat` at most `max_lifetime`, without
//! overflow, [`SKEW`] tolerated), `client_id` and `purposeId` among the allowed, and last
//! `jti` unused (kept until `exp`, replicas share them through the database).
//!
//! Not modelled: the DPoP proof of possession PDND binds vouchers to
//! (`REST_JWS_2021_POP`), the mutual-TLS channel (`ID_AUTH_CHANNEL_01`) and the
//! `Agid-JWT-Signature` payload integrity header (`INTEGRITY_REST_02`): the voucher is a
//! bearer token here, so the channel must be TLS and the voucher short-lived.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use wallet_core::jose::{CompactJws, JwsAlg};
use wallet_core::status::StatusValue;
use wallet_core::time::{Skew, TimeWindow, UnixTime, check_window};

use crate::WalletProvider;
use crate::config::PdndConfig;
use crate::error::ProviderError;
use crate::metrics::Event;

/// Where the e-service is served, under the entity id.
pub const NOTIFY_USER_DEATH_PATH: &str = "/e-service/notify-user-death";
/// The voucher's `typ` (RFC 9068, as PDND issues it).
pub const VOUCHER_TYP: &str = "at+jwt";
/// Clock skew tolerated on `iat` and `nbf`, seconds.
pub const SKEW: i64 = 60;
/// The longest voucher read.
const MAX_VOUCHER: usize = 8 * 1024;

/// Why a voucher was refused (401 `unauthorized`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VoucherError {
    /// No `Authorization: Bearer` voucher.
    #[error("no voucher: send Authorization: Bearer <PDND voucher>")]
    Missing,
    /// Not a compact JWS, too long, or its claims do not parse.
    #[error("malformed voucher: {0}")]
    Malformed(String),
    /// `typ` is not `at+jwt`.
    #[error("voucher typ must be at+jwt")]
    Typ,
    /// `alg` is not ES256.
    #[error("voucher alg must be ES256")]
    Alg,
    /// `kid` absent or not a configured PDND key.
    #[error("voucher kid is not a key of the configured PDND issuer")]
    UnknownKey,
    /// The signature does not verify.
    #[error("voucher signature invalid")]
    BadSignature,
    /// `iss` is not the configured issuer.
    #[error("voucher iss is not the configured PDND issuer")]
    Issuer,
    /// `aud` does not name this e-service.
    #[error("voucher aud does not name this e-service ({0})")]
    Audience(String),
    /// A time claim out of range, `exp` passed, `iat` or `nbf` in the future, `exp` not
    /// after `iat`, or a lifetime over `max_lifetime` (wallet-core's checked time rules).
    #[error("voucher time claims refused: {0}")]
    Time(wallet_core::time::TimeError),
    /// The `jti` was already used.
    #[error("voucher already used (jti)")]
    Replayed,
}

impl From<VoucherError> for ProviderError {
    fn from(e: VoucherError) -> Self {
        Self::Voucher(e)
    }
}

/// `aud`: one string or several (RFC 7519 §4.1.3).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, want: &str) -> bool {
        match self {
            Self::One(a) => a == want,
            Self::Many(v) => v.iter().any(|a| a == want),
        }
    }
}

/// The voucher's claims we read.
#[derive(Debug, Deserialize)]
struct VoucherClaims {
    iss: String,
    aud: Audience,
    exp: i64,
    iat: i64,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
    client_id: String,
    #[serde(default, rename = "purposeId")]
    purpose_id: Option<String>,
}

/// A voucher that passed every check: who called, for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedVoucher {
    /// The PDND client (the PID Provider).
    pub client_id: String,
    /// The PDND purpose.
    pub purpose_id: Option<String>,
    /// The voucher's id (consumed).
    pub jti: String,
    /// Its expiry.
    pub exp: i64,
}

/// Checks a voucher's form, signature, issuer, audience, times and caller against `c` at
/// `now` (the `jti` is not consumed here: see [`PdndCaller`]). [`ProviderError::Voucher`]
/// for a bad voucher, [`ProviderError::ClientNotAllowed`] for a caller not allowed.
pub fn verify(c: &PdndConfig, token: &str, now: i64) -> Result<VerifiedVoucher, ProviderError> {
    if token.len() > MAX_VOUCHER {
        return Err(VoucherError::Malformed(format!("longer than {MAX_VOUCHER} bytes")).into());
    }
    let jws = CompactJws::parse(token).map_err(|e| VoucherError::Malformed(e.to_string()))?;
    let h = jws.header();
    if !h.typ_is(VOUCHER_TYP) {
        return Err(VoucherError::Typ.into());
    }
    if h.alg != JwsAlg::Es256 {
        return Err(VoucherError::Alg.into());
    }
    let kid = h.kid.as_deref().ok_or(VoucherError::UnknownKey)?;
    let key = c.jwks.keys.iter().find(|k| k.kid.as_deref() == Some(kid)).ok_or(VoucherError::UnknownKey)?;
    jws.verify(key).map_err(|_| VoucherError::BadSignature)?;
    let claims: VoucherClaims = jws.payload_json().map_err(|e| VoucherError::Malformed(e.to_string()))?;
    if claims.iss != c.issuer {
        return Err(VoucherError::Issuer.into());
    }
    if !claims.aud.contains(&c.audience) {
        return Err(VoucherError::Audience(c.audience.clone()).into());
    }
    let window = TimeWindow { iat: Some(claims.iat), nbf: claims.nbf, exp: Some(claims.exp) };
    check_window(window, UnixTime(now), Skew::new(SKEW), Some(c.max_lifetime)).map_err(VoucherError::Time)?;
    if !c.client_ids.contains(&claims.client_id) {
        return Err(ProviderError::ClientNotAllowed(format!("client_id {:?} is not allowed to call this e-service", claims.client_id)));
    }
    if !c.purpose_ids.is_empty() && !claims.purpose_id.as_ref().is_some_and(|p| c.purpose_ids.contains(p)) {
        return Err(ProviderError::ClientNotAllowed(format!("purposeId {:?} is not allowed for this e-service", claims.purpose_id)));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(VoucherError::Malformed("jti must have 1 to 256 characters".into()).into());
    }
    Ok(VerifiedVoucher { client_id: claims.client_id, purpose_id: claims.purpose_id, jti: claims.jti, exp: claims.exp })
}

/// The PID Provider behind a verified, unused voucher (its `jti` now consumed). An
/// extractor from the request's parts, so a caller without a valid voucher never gets its
/// body read. 404 when the e-service is not configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdndCaller(pub VerifiedVoucher);

impl FromRequestParts<WalletProvider> for PdndCaller {
    type Rejection = ProviderError;

    async fn from_request_parts(parts: &mut Parts, st: &WalletProvider) -> Result<Self, Self::Rejection> {
        let c = st.config().pdnd.as_ref().ok_or(ProviderError::NotFound)?;
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(VoucherError::Missing)?;
        consume(c, st.store(), token, st.now().secs()).map(Self)
    }
}

/// Verifies a voucher and consumes its `jti`. The `jti` is kept until `exp + SKEW`, the end
/// of the window in which [`verify`] still accepts the voucher, so it cannot be replayed
/// in the skew after `exp`.
pub(crate) fn consume(c: &PdndConfig, store: &crate::store::Store, token: &str, now: i64) -> Result<VerifiedVoucher, ProviderError> {
    let v = verify(c, token, now)?;
    if !store.use_jti(&v.jti, v.exp.saturating_add(SKEW), now)? {
        return Err(VoucherError::Replayed.into());
    }
    Ok(v)
}

/// What the PID Provider notifies.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeathNotice {
    /// The citizen, as SPID/CIE release it (`TINIT-` and the codice fiscale; the bare code is
    /// accepted and prefixed).
    pub fiscal_number: String,
    /// Why (for the audit log): e.g. the ANPR event reference.
    pub reason: String,
}

/// `TINIT-` + 16 (personal) or 11 (temporary, numeric) upper-case alphanumerics.
fn normalize_fiscal_number(raw: &str) -> Result<String, ProviderError> {
    let code = raw.trim().strip_prefix("TINIT-").unwrap_or(raw.trim());
    let ok = matches!(code.len(), 11 | 16) && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if !ok {
        return Err(ProviderError::BadRequest("fiscal_number must be TINIT- followed by a codice fiscale (16 or 11 upper-case letters and digits)".into()));
    }
    Ok(format!("TINIT-{code}"))
}

/// The first 16 hex digits of the fiscal number's SHA-256: the audit log names the citizen
/// without writing the fiscal number in clear (an auditor holding it can match the line).
fn audit_ref(fiscal_number: &str) -> String {
    Sha256::digest(fiscal_number.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// IT-Wallet 1.4 §2.5: the PID Provider's revocation of a deceased citizen's instances.
pub(crate) async fn notify_user_death(
    State(st): State<WalletProvider>,
    PdndCaller(caller): PdndCaller,
    service_kit::Json(notice): service_kit::Json<DeathNotice>,
) -> Result<Json<serde_json::Value>, ProviderError> {
    let fiscal_number = normalize_fiscal_number(&notice.fiscal_number)?;
    let reason = notice.reason.trim();
    if reason.is_empty() || reason.len() > 256 {
        return Err(ProviderError::BadRequest("reason must have 1 to 256 characters".into()));
    }
    let revoked = st.store().revoke_all_of(&fiscal_number, StatusValue::Invalid.to_u8(), st.now().secs())?;
    for _ in &revoked {
        st.metrics().count(Event::Revocation);
    }
    tracing::info!(
        target: "wallet_provider::audit",
        event = "notify_user_death",
        client_id = %caller.client_id,
        purpose_id = caller.purpose_id.as_deref().unwrap_or(""),
        jti = %caller.jti,
        citizen = %audit_ref(&fiscal_number),
        reason,
        revoked = revoked.len(),
        instances = ?revoked,
        "wallet instances revoked at the PID Provider's request (PDND)"
    );
    Ok(Json(serde_json::json!({"revoked": revoked.len()})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wallet_core::jose::jwk::JwkSet;
    use wallet_core::jose::{JwsHeader, Signer as _, SoftwareSigner};
    use wallet_core::time::TimeError;

    const NOW: i64 = 1_800_000_000;

    fn config(key: &SoftwareSigner) -> PdndConfig {
        PdndConfig {
            issuer: "interop.pagopa.it".into(),
            jwks: JwkSet { keys: vec![key.public_jwk()] },
            audience: "https://wp.example.it/e-service/notify-user-death".into(),
            client_ids: vec!["pid-provider".into()],
            purpose_ids: vec!["purpose-1".into()],
            max_lifetime: 600,
        }
    }

    fn voucher(key: &SoftwareSigner, claims: serde_json::Value) -> String {
        let h = JwsHeader::new(JwsAlg::Es256).with_typ(VOUCHER_TYP).with_kid(key.kid());
        wallet_core::jose::jws::sign_json(&h, &claims, key).unwrap()
    }

    fn claims() -> serde_json::Value {
        json!({"iss": "interop.pagopa.it", "sub": "interop.pagopa.it", "aud": "https://wp.example.it/e-service/notify-user-death",
               "iat": NOW, "nbf": NOW, "exp": NOW + 300, "jti": "j1", "client_id": "pid-provider", "purposeId": "purpose-1"})
    }

    fn refused(key: &SoftwareSigner, tweak: impl FnOnce(&mut serde_json::Value)) -> ProviderError {
        let mut c = claims();
        tweak(&mut c);
        verify(&config(key), &voucher(key, c), NOW).unwrap_err()
    }

    #[test]
    fn a_valid_voucher_names_its_caller() {
        let k = SoftwareSigner::generate().unwrap();
        let v = verify(&config(&k), &voucher(&k, claims()), NOW).unwrap();
        assert_eq!((v.client_id.as_str(), v.purpose_id.as_deref(), v.jti.as_str()), ("pid-provider", Some("purpose-1"), "j1"));
    }

    #[test]
    fn a_voucher_in_the_skew_after_exp_is_not_replayable() {
        let k = SoftwareSigner::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
        let exp = NOW + 300;
        let token = voucher(&k, claims());
        let late = exp + 30;
        assert!(consume(&config(&k), &store, &token, late).is_ok(), "accepted once within the skew");
        assert_eq!(consume(&config(&k), &store, &token, late).unwrap_err(), ProviderError::Voucher(VoucherError::Replayed));
        assert_eq!(consume(&config(&k), &store, &token, late + 29).unwrap_err(), ProviderError::Voucher(VoucherError::Replayed));
    }

    #[test]
    fn each_broken_claim_is_its_refusal() {
        let k = SoftwareSigner::generate().unwrap();
        assert_eq!(refused(&k, |c| c["iss"] = json!("other")), ProviderError::Voucher(VoucherError::Issuer));
        assert!(matches!(refused(&k, |c| c["aud"] = json!(["https://other.example"])), ProviderError::Voucher(VoucherError::Audience(_))));
        assert!(matches!(refused(&k, |c| c["exp"] = json!(NOW - SKEW)), ProviderError::Voucher(VoucherError::Time(TimeError::Expired { .. }))));
        assert!(matches!(refused(&k, |c| c["iat"] = json!(NOW + 3600)), ProviderError::Voucher(VoucherError::Time(TimeError::IssuedInFuture { .. }))));
        assert!(matches!(refused(&k, |c| c["nbf"] = json!(NOW + 3600)), ProviderError::Voucher(VoucherError::Time(TimeError::NotYetValid { .. }))));
        assert!(matches!(refused(&k, |c| c["client_id"] = json!("someone")), ProviderError::ClientNotAllowed(_)));
        assert!(matches!(refused(&k, |c| c["purposeId"] = json!("other")), ProviderError::ClientNotAllowed(_)));
        assert!(matches!(refused(&k, |c| c.as_object_mut().unwrap().remove("jti").map(|_| ()).unwrap()), ProviderError::Voucher(VoucherError::Malformed(_))));
    }

    #[test]
    fn times_that_overflow_are_refused() {
        let k = SoftwareSigner::generate().unwrap();
        // exp = i64::MAX with iat = -1: out of range, never a lifetime that wraps around.
        assert_eq!(
            refused(&k, |c| {
                c["exp"] = json!(i64::MAX);
                c["iat"] = json!(-1);
            }),
            ProviderError::Voucher(VoucherError::Time(TimeError::OutOfRange { claim: "iat", value: -1 }))
        );
        assert_eq!(refused(&k, |c| c["exp"] = json!(i64::MAX)), ProviderError::Voucher(VoucherError::Time(TimeError::OutOfRange { claim: "exp", value: i64::MAX })));
        assert_eq!(
            refused(&k, |c| c["exp"] = json!(NOW + 601)),
            ProviderError::Voucher(VoucherError::Time(TimeError::LifetimeTooLong { lifetime: 601, max: 600 }))
        );
    }

    #[test]
    fn forged_and_foreign_vouchers_are_refused() {
        let k = SoftwareSigner::generate().unwrap();
        let other = SoftwareSigner::generate().unwrap();
        // Signed by a key that is not PDND's.
        assert_eq!(verify(&config(&k), &voucher(&other, claims()), NOW).unwrap_err(), ProviderError::Voucher(VoucherError::UnknownKey));
        // PDND's kid, another key's signature.
        let h = JwsHeader::new(JwsAlg::Es256).with_typ(VOUCHER_TYP).with_kid(k.kid());
        let forged = wallet_core::jose::jws::sign_json(&h, &claims(), &other).unwrap();
        assert_eq!(verify(&config(&k), &forged, NOW).unwrap_err(), ProviderError::Voucher(VoucherError::BadSignature));
        // Another typ.
        let h = JwsHeader::new(JwsAlg::Es256).with_typ("JWT").with_kid(k.kid());
        let jwt = wallet_core::jose::jws::sign_json(&h, &claims(), &k).unwrap();
        assert_eq!(verify(&config(&k), &jwt, NOW).unwrap_err(), ProviderError::Voucher(VoucherError::Typ));
        assert!(matches!(verify(&config(&k), "not.a.jwt", NOW).unwrap_err(), ProviderError::Voucher(VoucherError::Malformed(_))));
    }

    #[test]
    fn fiscal_numbers_are_normalized_or_refused() {
        assert_eq!(normalize_fiscal_number("RSSMRA80A01H501U").unwrap(), "TINIT-RSSMRA80A01H501U");
        assert_eq!(normalize_fiscal_number("TINIT-RSSMRA80A01H501U").unwrap(), "TINIT-RSSMRA80A01H501U");
        for bad in ["", "TINIT-", "rssmra80a01h501u", "TINIT-RSSMRA80A01H501U'; --", "X"] {
            assert!(matches!(normalize_fiscal_number(bad), Err(ProviderError::BadRequest(_))), "{bad}");
        }
    }
}
