//! What a session's stored verdict means on the page: one of five distinct looks, the
//! refusal reason in plain words, the portrait validated as an image, the age answer
//! computed from the birth date, dates in UTC.

use base64::Engine as _;
use serde_json::Value;
use wallet_core::oid4vp::verify::Refusal;

use super::i18n::Msg;
use crate::store::{Session, SessionStatus};

macro_rules! svg {
    ($body:literal) => {
        concat!(
            r#"<svg viewBox="0 0 24 24" width="48" height="48" fill="none" stroke="currentColor" stroke-width="2.8" stroke-linecap="round" stroke-linejoin="round" focusable="false" aria-hidden="true">"#,
            $body,
            "</svg>"
        )
    };
}

/// How a verdict looks: colour, icon and words (never colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// Green, ✔.
    Verified,
    /// Red, ✖: refused (or verified but the answer to the question is no).
    Refused,
    /// Grey, ✋: the citizen declined.
    Declined,
    /// Grey, ⌛: the session expired without an answer.
    Expired,
    /// Amber, ?: cannot determine (e.g. the status list is unreachable).
    Unknown,
}

impl Look {
    /// The CSS class (and the `data-verdict` attribute tests read).
    pub fn class(self) -> &'static str {
        match self {
            Self::Verified => "verified",
            Self::Refused => "refused",
            Self::Declined => "declined",
            Self::Expired => "expired",
            Self::Unknown => "unknown",
        }
    }

    /// The icon, an inline SVG drawn in the text colour (decorative: the words say it too;
    /// no emoji, which a tablet's fonts may lack).
    pub fn icon(self) -> &'static str {
        match self {
            Self::Verified => svg!(r#"<path d="M5 12.5l4.5 4.5L19 7.5"/>"#),
            Self::Refused => svg!(r#"<path d="M6.5 6.5l11 11M17.5 6.5l-11 11"/>"#),
            Self::Declined => svg!(r#"<circle cx="12" cy="12" r="8"/><path d="M6.5 6.5l11 11"/>"#),
            Self::Expired => svg!(r#"<circle cx="12" cy="12" r="8"/><path d="M12 7.5V12l3.5 2.2"/>"#),
            Self::Unknown => svg!(r#"<path d="M9.2 9.2a2.9 2.9 0 1 1 4.3 2.5c-.9.5-1.5 1.1-1.5 2.3"/><path d="M12 17.6v.2"/>"#),
        }
    }
}

/// The verdict of a finished session, as shown.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The look.
    pub look: Look,
    /// The big words.
    pub title: Msg,
    /// The sentence under them.
    pub text: Msg,
    /// The stored verdict (`None` for an expired session).
    pub result: Option<Value>,
}

/// A refusal in plain words, from wallet-core's stable code (`Refusal::code`, which the
/// verdict JSON carries in `reason_code`). Unreachable status lists, status values we do not
/// understand and formats not verified yet are "cannot determine" (`Refusal::
/// code_is_indeterminate`), not "refused". A verdict stored without a code (by a version
/// before codes) reads as refused for a reason not shown.
pub fn refusal(code: &str) -> (Look, Msg) {
    let look = if Refusal::code_is_indeterminate(code) { Look::Unknown } else { Look::Refused };
    let msg = match code {
        "revoked" => Msg::ReasonRevoked,
        "suspended" => Msg::ReasonSuspended,
        "expired" => Msg::ReasonExpired,
        "not_yet_valid" => Msg::ReasonNotYetValid,
        "untrusted_issuer" | "untrusted_authority" => Msg::ReasonUntrusted,
        "issuer_not_allowed_for_type" => Msg::ReasonNotAllowed,
        "bad_issuer_signature" => Msg::ReasonSignature,
        "key_binding_failed" => Msg::ReasonKeyBinding,
        "malformed_presentation" | "invalid_credential" | "invalid_data_model" => Msg::ReasonInvalid,
        "status_unavailable" | "status_not_understood" => Msg::ReasonStatusUnavailable,
        "unsupported_format" => Msg::ReasonUnsupported,
        "issuer_certificate_revoked" => Msg::ReasonCertificateRevoked,
        "issuer_certificate_status_unknown" => Msg::ReasonCertificateUnknown,
        "does_not_match_query" | "invalid_response" => Msg::ReasonMismatch,
        _ => Msg::ReasonOther,
    };
    (look, msg)
}

/// Whether a declined session's result is the wallet's own error response to a request it
/// refused (WP_090: any `error` but `access_denied`): no check happened, so neither a
/// decline by the citizen nor a refusal of a credential.
pub fn refused_by_the_wallet(result: Option<&Value>) -> bool {
    result.and_then(|v| v.get("error")).and_then(Value::as_str).is_some_and(|e| e != "access_denied")
}

/// The outcome of a session at `now`; `None` while it is pending.
pub fn outcome(s: &Session, now: i64, preset: Option<&str>) -> Option<Outcome> {
    let result: Option<Value> = s.result.as_deref().and_then(|r| serde_json::from_str(r).ok());
    let o = |look, title, text, result| Some(Outcome { look, title, text, result });
    match s.status_at(now) {
        SessionStatus::Created | SessionStatus::RequestFetched | SessionStatus::ResponseReceived => None,
        SessionStatus::Expired => o(Look::Expired, Msg::ExpiredTitle, Msg::ExpiredText, None),
        SessionStatus::Declined if refused_by_the_wallet(result.as_ref()) => o(Look::Unknown, Msg::UnknownTitle, Msg::WalletRefusedText, result),
        SessionStatus::Declined => o(Look::Declined, Msg::DeclinedTitle, Msg::DeclinedText, result),
        SessionStatus::Refused => {
            let code = result.as_ref().and_then(|v| v.get("reason_code")).and_then(Value::as_str).unwrap_or_default();
            let (look, text) = refusal(code);
            let title = if look == Look::Unknown { Msg::UnknownTitle } else { Msg::RefusedTitle };
            o(look, title, text, result)
        }
        SessionStatus::Verified if preset == Some("age_over_18") => {
            let birth = result.as_ref().and_then(|v| first_claim(v, "birthdate")).and_then(|b| b.as_str().map(str::to_owned));
            match birth.as_deref().and_then(|b| age_at_least(b, now, 18)) {
                Some(true) => o(Look::Verified, Msg::AgeYesTitle, Msg::AgeYesText, result),
                Some(false) => o(Look::Refused, Msg::AgeNoTitle, Msg::AgeNoText, result),
                None => o(Look::Unknown, Msg::UnknownTitle, Msg::AgeUnknownText, result),
            }
        }
        SessionStatus::Verified => o(Look::Verified, Msg::VerifiedTitle, Msg::VerifiedText, result),
    }
}

/// The presentations of a verified result: `(query id, presentation)`.
pub fn presentations(result: &Value) -> Vec<(&str, &Value)> {
    let Some(creds) = result.get("credentials").and_then(Value::as_object) else { return Vec::new() };
    creds.iter().flat_map(|(id, list)| list.as_array().into_iter().flatten().map(move |p| (id.as_str(), p))).collect()
}

/// The first presentation's claim `name`.
pub fn first_claim<'a>(result: &'a Value, name: &str) -> Option<&'a Value> {
    presentations(result).into_iter().find_map(|(_, p)| p.get("claims").and_then(|c| c.get(name)))
}

/// The longest portrait accepted, decoded (a passport photo is ~20-60 KiB).
pub const MAX_PORTRAIT: usize = 512 * 1024;

/// A `data:` URL for a portrait claim, only when it decodes to a JPEG or PNG (base64 as is,
/// or a `data:image/jpeg|png;base64,` URL): re-encoded here, so nothing of the claim's text
/// reaches the page but the image's bytes.
pub fn portrait_data_url(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim();
    let b64 = match s.strip_prefix("data:") {
        Some(rest) => {
            let (head, data) = rest.split_once(',')?;
            if !matches!(head, "image/jpeg;base64" | "image/png;base64") {
                return None;
            }
            data
        }
        None => s,
    };
    if b64.len() > MAX_PORTRAIT.saturating_mul(4) / 3 + 4 {
        return None;
    }
    let engines = [&base64::engine::general_purpose::STANDARD, &base64::engine::general_purpose::URL_SAFE_NO_PAD, &base64::engine::general_purpose::URL_SAFE];
    let bytes = engines.iter().find_map(|e| e.decode(b64).ok())?;
    let mime = if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        return None;
    };
    Some(format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)))
}

/// The UTC date of `secs` (wallet-core's calendar).
pub fn date_of(secs: i64) -> (i64, u32, u32) {
    wallet_core::time::UnixTime(secs).utc_date()
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn fmt_time(secs: i64) -> String {
    wallet_core::time::UnixTime(secs).utc_string()
}

/// Parses `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.get(..2)?.parse().ok()?;
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (1000..=9999).contains(&y)).then_some((y, m, d))
}

/// Whether someone born on `birth` (`YYYY-MM-DD`) is at least `years` old on the UTC date of
/// `now` (born on 29 February: of age on 1 March in common years). `None`: not a date.
pub fn age_at_least(birth: &str, now: i64, years: i64) -> Option<bool> {
    let (y, m, d) = parse_date(birth)?;
    let today = date_of(now);
    Some(today >= (y.checked_add(years)?, m, d))
}

/// The preset whose query the session asked (`None`: a raw DCQL query).
pub fn preset_of(dcql: &str) -> Option<&'static str> {
    let asked: Value = serde_json::from_str(dcql).ok()?;
    crate::presets::NAMES.into_iter().find(|n| crate::presets::preset(n).is_some_and(|q| q.to_value() == asked))
}

pub use service_kit::html::esc;

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of wallet-core's refusals in plain words: by its code, so a reworded `Display`
    /// changes nothing here.
    #[test]
    fn refusal_reasons_in_plain_words() {
        use wallet_core::oid4vp::verify::KeyBindingFailure;
        use wallet_core::x509::crl::CrlError;
        let cases = [
            (Refusal::Revoked, Look::Refused, Msg::ReasonRevoked),
            (Refusal::Suspended, Look::Refused, Msg::ReasonSuspended),
            (Refusal::Expired { exp: 12 }, Look::Refused, Msg::ReasonExpired),
            (Refusal::NotYetValid { nbf: 12 }, Look::Refused, Msg::ReasonNotYetValid),
            (Refusal::UntrustedIssuer("no chain".into()), Look::Refused, Msg::ReasonUntrusted),
            (Refusal::UntrustedAuthority { query: "pid".into(), unsupported: Vec::new() }, Look::Refused, Msg::ReasonUntrusted),
            (Refusal::IssuerNotAllowedForVct { issuer: "https://x".into(), vct: "urn:eudi:mDL:it:1".into() }, Look::Refused, Msg::ReasonNotAllowed),
            (Refusal::BadSignature, Look::Refused, Msg::ReasonSignature),
            (Refusal::KeyBinding(KeyBindingFailure::NonceMismatch), Look::Refused, Msg::ReasonKeyBinding),
            (Refusal::Malformed("x".into()), Look::Refused, Msg::ReasonInvalid),
            (Refusal::StatusUnavailable("fetch failed".into()), Look::Unknown, Msg::ReasonStatusUnavailable),
            (Refusal::UnknownStatus(5), Look::Unknown, Msg::ReasonStatusUnavailable),
            (Refusal::UnsupportedFormat("mso_mdoc".into()), Look::Unknown, Msg::ReasonUnsupported),
            (Refusal::CertificateRevoked(CrlError::Revoked { index: 0, serial: "01".into(), revoked_at: 1 }), Look::Refused, Msg::ReasonCertificateRevoked),
            (Refusal::CertificateStatusUnknown(CrlError::Unavailable { uri: "u".into(), detail: "d".into() }), Look::Unknown, Msg::ReasonCertificateUnknown),
        ];
        for (r, look, msg) in cases {
            assert_eq!(refusal(r.code()), (look, msg), "{r}");
        }
        assert_eq!(refusal("does_not_match_query"), (Look::Refused, Msg::ReasonMismatch));
        assert_eq!(refusal(""), (Look::Refused, Msg::ReasonOther), "a verdict stored without a code");
    }

    #[test]
    fn portraits_are_images_only() {
        let jpeg = base64::engine::general_purpose::STANDARD.encode([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]);
        assert_eq!(portrait_data_url(&Value::from(jpeg.clone())).unwrap(), format!("data:image/jpeg;base64,{jpeg}"));
        assert!(portrait_data_url(&Value::from(format!("data:image/jpeg;base64,{jpeg}"))).is_some());
        assert!(portrait_data_url(&Value::from(format!("data:image/svg+xml;base64,{jpeg}"))).is_none());
        assert!(portrait_data_url(&Value::from("PHNjcmlwdD4=")).is_none(), "<script> is no image");
        assert!(portrait_data_url(&Value::from("\"><script>")).is_none());
        assert!(portrait_data_url(&Value::from(3)).is_none());
    }

    #[test]
    fn dates_and_age() {
        assert_eq!(fmt_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(fmt_time(1_798_761_600), "2027-01-01 00:00:00 UTC");
        assert_eq!(date_of(951_782_400), (2000, 2, 29));
        let day = |y, m, d| {
            // Noon UTC of a date, found by search from the epoch (tests only).
            let mut s = 0i64;
            while date_of(s) < (y, m, d) {
                s += 86_400;
            }
            s + 43_200
        };
        assert_eq!(age_at_least("2008-12-03", day(2026, 12, 3), 18), Some(true));
        assert_eq!(age_at_least("2008-12-04", day(2026, 12, 3), 18), Some(false));
        assert_eq!(age_at_least("2008-02-29", day(2026, 2, 28), 18), Some(false));
        assert_eq!(age_at_least("2008-02-29", day(2026, 3, 1), 18), Some(true));
        assert_eq!(age_at_least("not a date", 0, 18), None);
        assert_eq!(age_at_least("2008-13-01", 0, 18), None);
    }

    #[test]
    fn presets_are_recognised() {
        for n in crate::presets::NAMES {
            assert_eq!(preset_of(&crate::presets::preset(n).unwrap().to_value().to_string()), Some(n));
        }
        assert_eq!(preset_of("{}"), None);
        assert_eq!(esc("<a href=\"x\">'&"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;");
    }
}
