//! Every time check of the OP and the RP (request objects, client assertions, ID Tokens,
//! UserInfo, the RP's sealed state) goes through here, and from here through wallet-core's
//! checked helpers ([`wallet_core::time::check_window`], [`UnixTime::checked_add`],
//! [`UnixTime::from_claim`]): a claim out of the range a NumericDate can hold (before 1970,
//! after year 9999) is refused before any comparison, so `exp - iat` and `now + skew` cannot
//! overflow (issue 10 item 5: `exp` = i64::MAX with `iat` = -1 passed a lifetime limit by
//! wrapping around and so outlived the replay cache).
//!
//! This module only reads the claims out of a JWT's JSON (an absent or non-integer claim is
//! refused here, naming it) and applies the profile's two skews; every refusal names the
//! claim and its value.

use serde_json::{Map, Value};
pub use wallet_core::time::TimeError as RuleError;
use wallet_core::time::{Skew, TimeWindow, UnixTime, check_window};

/// Why a time claim, or a time computed from one, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A required claim is absent.
    #[error("{claim} is required")]
    Missing {
        /// The claim.
        claim: &'static str,
    },
    /// Not an integer NumericDate (a string, a fraction, beyond i64).
    #[error("{claim} is not an integer NumericDate")]
    NotInteger {
        /// The claim.
        claim: &'static str,
    },
    /// `exp - iat` (or `exp - now` without `iat`) beyond the limit.
    #[error("lifetime exp - {from} = {lifetime} s exceeds the limit of {max} s")]
    TooLong {
        /// `iat`, or `now` when there is none.
        from: &'static str,
        /// The lifetime.
        lifetime: i64,
        /// The limit.
        max: i64,
    },
    /// A rule of wallet-core's checked window broken: out of range (`exp` = i64::MAX, `iat` =
    /// -1), expired, issued or valid only in the future, `exp` not after `iat`, an overflow.
    #[error(transparent)]
    Rule(#[from] RuleError),
}

/// `now + secs`, checked (and within the NumericDate range).
pub fn after(now: UnixTime, secs: i64) -> Result<UnixTime, TimeError> {
    Ok(now.checked_add(secs)?)
}

/// A NumericDate claim of `m`: absent, or an integer (its range is checked by the window).
fn int(m: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, TimeError> {
    match m.get(name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(TimeError::NotInteger { claim: name }),
    }
}

/// What a token's validity window must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Tolerance on `exp` and `nbf`, seconds.
    pub skew: i64,
    /// How far ahead `iat` may be, seconds (check-op allows 3 minutes on client assertions).
    pub iat_ahead: i64,
    /// `iat` must be present.
    pub iat_required: bool,
    /// The longest `exp - iat` (or `exp - now` without `iat`) accepted, seconds: bounds how
    /// long a replay cache must remember the token.
    pub max_lifetime: Option<i64>,
}

/// A token's checked times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    /// `iat`.
    pub iat: Option<UnixTime>,
    /// `exp`.
    pub exp: UnixTime,
    /// `nbf`.
    pub nbf: Option<UnixTime>,
}

/// Checks `exp` (required), `iat`, `nbf` of `m` at `now` against `w`.
pub fn check(m: &Map<String, Value>, w: &Window, now: UnixTime) -> Result<Times, TimeError> {
    let (exp, iat, nbf) = (int(m, "exp")?, int(m, "iat")?, int(m, "nbf")?);
    // Ranges first, in claim order, so the refusal names the claim that is out of range.
    let exp = UnixTime::from_claim("exp", exp.ok_or(TimeError::Missing { claim: "exp" })?)?;
    let iat = iat.map(|v| UnixTime::from_claim("iat", v)).transpose()?;
    let nbf = nbf.map(|v| UnixTime::from_claim("nbf", v)).transpose()?;
    if w.iat_required && iat.is_none() {
        return Err(TimeError::Missing { claim: "iat" });
    }
    let window = TimeWindow { iat: iat.map(UnixTime::secs), nbf: nbf.map(UnixTime::secs), exp: Some(exp.secs()) };
    // `exp` and `nbf` with the profile's skew; `iat` with its own (it may be further ahead).
    check_window(TimeWindow { iat: None, ..window }, now, Skew::new(w.skew), None)?;
    check_window(TimeWindow { nbf: None, ..window }, now, Skew::new(w.iat_ahead.max(w.skew)), None)?;
    if let Some(max) = w.max_lifetime {
        match check_window(window, now, Skew::new(w.iat_ahead.max(w.skew)), Some(max)) {
            Err(RuleError::LifetimeTooLong { lifetime, max }) => {
                return Err(TimeError::TooLong { from: if iat.is_some() { "iat" } else { "now" }, lifetime, max });
            }
            r => r?,
        }
    }
    Ok(Times { iat, exp, nbf })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    const W: Window = Window { skew: 60, iat_ahead: 60, iat_required: true, max_lifetime: Some(600) };
    const NOW: UnixTime = UnixTime(1_700_000_000);

    fn rule(e: RuleError) -> Result<Times, TimeError> {
        Err(TimeError::Rule(e))
    }

    #[test]
    fn overflowing_and_out_of_range_values_are_refused_by_name() {
        let n = NOW.secs();
        assert_eq!(check(&m(json!({"exp": i64::MAX, "iat": -1})), &W, NOW), rule(RuleError::OutOfRange { claim: "exp", value: i64::MAX }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": -1})), &W, NOW), rule(RuleError::OutOfRange { claim: "iat", value: -1 }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": i64::MIN})), &W, NOW), rule(RuleError::OutOfRange { claim: "iat", value: i64::MIN }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": n, "nbf": i64::MAX})), &W, NOW), rule(RuleError::OutOfRange { claim: "nbf", value: i64::MAX }));
        assert_eq!(check(&m(json!({"exp": 1.5, "iat": n})), &W, NOW), Err(TimeError::NotInteger { claim: "exp" }));
        assert_eq!(check(&m(json!({"exp": u64::MAX, "iat": n})), &W, NOW), Err(TimeError::NotInteger { claim: "exp" }));
        assert_eq!(after(UnixTime(i64::MAX), 1), Err(TimeError::Rule(RuleError::Overflow { at: i64::MAX, secs: 1 })));
        assert_eq!(after(NOW, 60), Ok(UnixTime(n + 60)));
    }

    #[test]
    fn window_rules_name_the_claim() {
        let n = NOW.secs();
        assert_eq!(check(&m(json!({"exp": n + 60})), &W, NOW), Err(TimeError::Missing { claim: "iat" }));
        assert_eq!(check(&m(json!({"iat": n})), &W, NOW), Err(TimeError::Missing { claim: "exp" }));
        assert_eq!(check(&m(json!({"exp": n - 61, "iat": n - 100})), &W, NOW), rule(RuleError::Expired { exp: n - 61, now: n, skew: 60 }));
        assert_eq!(check(&m(json!({"exp": n + 700, "iat": n + 61})), &W, NOW), rule(RuleError::IssuedInFuture { iat: n + 61, now: n, skew: 60 }));
        assert_eq!(check(&m(json!({"exp": n + 700, "iat": n, "nbf": n + 61})), &W, NOW), rule(RuleError::NotYetValid { nbf: n + 61, now: n, skew: 60 }));
        assert_eq!(check(&m(json!({"exp": n + 601, "iat": n})), &W, NOW), Err(TimeError::TooLong { from: "iat", lifetime: 601, max: 600 }));
        assert_eq!(check(&m(json!({"exp": n, "iat": n})), &W, NOW), rule(RuleError::ExpNotAfterIat { iat: n, exp: n }));
        let no_iat = Window { iat_required: false, ..W };
        assert_eq!(check(&m(json!({"exp": n + 601})), &no_iat, NOW), Err(TimeError::TooLong { from: "now", lifetime: 601, max: 600 }));
        assert!(check(&m(json!({"exp": n + 60, "iat": n, "nbf": n})), &W, NOW).is_ok());
    }

    /// Client assertions: `iat` may be 3 minutes ahead (check-op), `exp` still gets 60 s.
    #[test]
    fn iat_has_its_own_skew() {
        let n = NOW.secs();
        let w = Window { skew: 60, iat_ahead: 180, iat_required: true, max_lifetime: Some(3600) };
        assert!(check(&m(json!({"exp": n + 300, "iat": n + 170})), &w, NOW).is_ok());
        assert_eq!(check(&m(json!({"exp": n + 300, "iat": n + 181})), &w, NOW), rule(RuleError::IssuedInFuture { iat: n + 181, now: n, skew: 180 }));
        assert_eq!(check(&m(json!({"exp": n - 61, "iat": n - 100})), &w, NOW), rule(RuleError::Expired { exp: n - 61, now: n, skew: 60 }));
    }
}
