//! Every time check of the OP and the RP (request objects, client assertions, ID Tokens,
//! UserInfo, the RP's sealed state) goes through here, and here only checked arithmetic is
//! used: a claim out of the range a NumericDate can sensibly hold (before 1970, after year
//! 9999) is refused before any comparison, so `exp - iat` and `now + skew` cannot overflow
//! (issue 10 item 5: `exp` = i64::MAX with `iat` = -1 passed a lifetime limit by wrapping
//! around and so outlived the replay cache).
//!
//! Every refusal names the claim and its value.
// TODO(issue 10 item 5): re-point to wallet-core::time's checked helpers
// (`UnixTime::from_claim`, `checked_add`, `check_window`) once they land, keeping this API.

use serde_json::{Map, Value};
use wallet_core::time::UnixTime;

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

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
    /// Not an integer NumericDate.
    #[error("{claim} is not an integer NumericDate")]
    NotInteger {
        /// The claim.
        claim: &'static str,
    },
    /// Before 1970 or after 9999.
    #[error("{claim} {value} is out of range [0, {MAX_NUMERIC_DATE}]")]
    OutOfRange {
        /// The claim.
        claim: &'static str,
        /// Its value.
        value: i64,
    },
    /// `exp` has passed (beyond the skew).
    #[error("exp {exp} has passed (now {now})")]
    Expired {
        /// `exp`.
        exp: i64,
        /// Now.
        now: i64,
    },
    /// `iat` or `nbf` too far in the future.
    #[error("{claim} {value} is in the future (now {now})")]
    InFuture {
        /// The claim.
        claim: &'static str,
        /// Its value.
        value: i64,
        /// Now.
        now: i64,
    },
    /// `exp` not after `iat`.
    #[error("exp {exp} is not after iat {iat}")]
    ExpBeforeIat {
        /// `exp`.
        exp: i64,
        /// `iat`.
        iat: i64,
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
    /// A time computed from configuration overflowed.
    #[error("{0} overflows")]
    Overflow(&'static str),
}

/// `now + secs`, checked (and within the NumericDate range).
pub fn after(now: UnixTime, secs: i64) -> Result<UnixTime, TimeError> {
    now.secs().checked_add(secs).filter(|t| (0..=MAX_NUMERIC_DATE).contains(t)).map(UnixTime).ok_or(TimeError::Overflow("now + lifetime"))
}

/// A NumericDate claim of `m`: absent, or an integer within range.
pub fn claim(m: &Map<String, Value>, name: &'static str) -> Result<Option<UnixTime>, TimeError> {
    let Some(v) = m.get(name) else { return Ok(None) };
    let n = v.as_i64().ok_or(TimeError::NotInteger { claim: name })?;
    from_claim(name, n).map(Some)
}

/// A NumericDate value, checked for range.
pub fn from_claim(name: &'static str, n: i64) -> Result<UnixTime, TimeError> {
    if (0..=MAX_NUMERIC_DATE).contains(&n) { Ok(UnixTime(n)) } else { Err(TimeError::OutOfRange { claim: name, value: n }) }
}

/// What a token's validity window must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Tolerance on `exp` and `nbf`, seconds.
    pub skew: i64,
    /// How far ahead `iat` may be, seconds.
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
    let exp = claim(m, "exp")?.ok_or(TimeError::Missing { claim: "exp" })?;
    let iat = claim(m, "iat")?;
    let nbf = claim(m, "nbf")?;
    if w.iat_required && iat.is_none() {
        return Err(TimeError::Missing { claim: "iat" });
    }
    let n = now.secs();
    // All values below are in [0, MAX_NUMERIC_DATE] and skews are small: no overflow, but
    // checked all the same.
    let oflow = |what| TimeError::Overflow(what);
    let earliest_exp = n.checked_sub(w.skew).ok_or(oflow("now - skew"))?;
    if exp.secs() <= earliest_exp {
        return Err(TimeError::Expired { exp: exp.secs(), now: n });
    }
    if let Some(iat) = iat {
        let latest = n.checked_add(w.iat_ahead).ok_or(oflow("now + skew"))?;
        if iat.secs() > latest {
            return Err(TimeError::InFuture { claim: "iat", value: iat.secs(), now: n });
        }
        if exp <= iat {
            return Err(TimeError::ExpBeforeIat { exp: exp.secs(), iat: iat.secs() });
        }
    }
    if let Some(nbf) = nbf {
        let latest = n.checked_add(w.skew).ok_or(oflow("now + skew"))?;
        if nbf.secs() > latest {
            return Err(TimeError::InFuture { claim: "nbf", value: nbf.secs(), now: n });
        }
    }
    if let Some(max) = w.max_lifetime {
        let (from, start) = match iat {
            Some(i) => ("iat", i.secs()),
            None => ("now", n),
        };
        let lifetime = exp.secs().checked_sub(start).ok_or(oflow("exp - iat"))?;
        if lifetime > max {
            return Err(TimeError::TooLong { from, lifetime, max });
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

    #[test]
    fn overflowing_and_out_of_range_values_are_refused_by_name() {
        let n = NOW.secs();
        assert_eq!(check(&m(json!({"exp": i64::MAX, "iat": -1})), &W, NOW), Err(TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": -1})), &W, NOW), Err(TimeError::OutOfRange { claim: "iat", value: -1 }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": i64::MIN})), &W, NOW), Err(TimeError::OutOfRange { claim: "iat", value: i64::MIN }));
        assert_eq!(check(&m(json!({"exp": n + 60, "iat": n, "nbf": i64::MAX})), &W, NOW), Err(TimeError::OutOfRange { claim: "nbf", value: i64::MAX }));
        assert_eq!(check(&m(json!({"exp": 1.5, "iat": n})), &W, NOW), Err(TimeError::NotInteger { claim: "exp" }));
        assert_eq!(check(&m(json!({"exp": u64::MAX, "iat": n})), &W, NOW), Err(TimeError::NotInteger { claim: "exp" }));
        assert_eq!(after(UnixTime(i64::MAX), 1), Err(TimeError::Overflow("now + lifetime")));
        assert_eq!(after(NOW, 60), Ok(UnixTime(n + 60)));
    }

    #[test]
    fn window_rules_name_the_claim() {
        let n = NOW.secs();
        assert_eq!(check(&m(json!({"exp": n + 60})), &W, NOW), Err(TimeError::Missing { claim: "iat" }));
        assert_eq!(check(&m(json!({"iat": n})), &W, NOW), Err(TimeError::Missing { claim: "exp" }));
        assert_eq!(check(&m(json!({"exp": n - 61, "iat": n - 100})), &W, NOW), Err(TimeError::Expired { exp: n - 61, now: n }));
        assert_eq!(check(&m(json!({"exp": n + 700, "iat": n + 61})), &W, NOW), Err(TimeError::InFuture { claim: "iat", value: n + 61, now: n }));
        assert_eq!(check(&m(json!({"exp": n + 601, "iat": n})), &W, NOW), Err(TimeError::TooLong { from: "iat", lifetime: 601, max: 600 }));
        assert_eq!(check(&m(json!({"exp": n, "iat": n})), &W, NOW), Err(TimeError::ExpBeforeIat { exp: n, iat: n }));
        let no_iat = Window { iat_required: false, ..W };
        assert_eq!(check(&m(json!({"exp": n + 601})), &no_iat, NOW), Err(TimeError::TooLong { from: "now", lifetime: 601, max: 600 }));
        assert!(check(&m(json!({"exp": n + 60, "iat": n, "nbf": n})), &W, NOW).is_ok());
    }
}
