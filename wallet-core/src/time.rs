//! Time as the protocols see it: whole seconds since the Unix epoch (RFC 7519 NumericDate).
//!
//! Every check that depends on "now" takes a [`UnixTime`] argument, so tests drive the
//! same code on a fixed clock; [`Clock`] is the seam through which services and the wallet
//! read the real time.
//!
//! Protocol checks use the checked helpers: [`UnixTime::from_claim`] (a NumericDate in
//! [`UnixTime::MIN_VALID`]..=[`UnixTime::MAX_VALID`]), [`UnixTime::checked_add`], [`Ttl`] and
//! [`check_window`]. A time or a duration from a token never goes through plain or
//! saturating arithmetic: `exp = i64::MAX`, `iat = -1` or a negative `ttl` are refused,
//! not wrapped or clamped into something that passes.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since 1970-01-01T00:00:00Z, as carried by `iat`, `exp`, `nbf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// The current system time.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(secs)
    }

    /// Seconds since the epoch.
    pub fn secs(self) -> i64 {
        self.0
    }

    /// This instant moved by `secs` (saturating). For our own constants only: a time or a
    /// duration taken from a message goes through [`Self::checked_add`] or [`check_window`].
    pub fn plus(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// The UTC calendar date (year, month 1-12, day 1-31), proleptic Gregorian (H. Hinnant's
    /// days-to-civil algorithm): for showing times and comparing dates of birth.
    pub fn utc_date(self) -> (i64, u32, u32) {
        let z = self.0.div_euclid(86_400) + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
    }

    /// `YYYY-MM-DD HH:MM:SS UTC`.
    pub fn utc_string(self) -> String {
        let (y, m, d) = self.utc_date();
        let t = self.0.rem_euclid(86_400);
        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", t / 3_600, t % 3_600 / 60, t % 60)
    }

    /// The earliest NumericDate accepted in a claim: the epoch.
    pub const MIN_VALID: UnixTime = UnixTime(0);
    /// The latest NumericDate accepted in a claim: 9999-12-31T23:59:59Z.
    pub const MAX_VALID: UnixTime = UnixTime(253_402_300_799);

    /// Whether this is within [`Self::MIN_VALID`]..=[`Self::MAX_VALID`].
    pub fn is_valid(self) -> bool {
        (Self::MIN_VALID..=Self::MAX_VALID).contains(&self)
    }

    /// The NumericDate claim `name` (RFC 7519 §2), refused outside the valid range.
    pub fn from_claim(name: &'static str, v: i64) -> Result<UnixTime, TimeError> {
        let t = UnixTime(v);
        if t.is_valid() { Ok(t) } else { Err(TimeError::OutOfRange { claim: name, value: v }) }
    }

    /// This instant plus `secs` (which may be negative), refused on overflow or outside the
    /// valid range.
    pub fn checked_add(self, secs: i64) -> Result<UnixTime, TimeError> {
        self.0
            .checked_add(secs)
            .map(UnixTime)
            .filter(|t| t.is_valid())
            .ok_or(TimeError::Overflow { at: self.0, secs })
    }

    /// This instant plus a checked duration (`iat + ttl` → `exp`).
    pub fn checked_add_ttl(self, ttl: Ttl) -> Result<UnixTime, TimeError> {
        self.checked_add(ttl.secs())
    }
}

/// A time rule broken, naming the claim and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// A NumericDate outside [`UnixTime::MIN_VALID`]..=[`UnixTime::MAX_VALID`].
    #[error("{claim} {value} out of range")]
    OutOfRange {
        /// The claim.
        claim: &'static str,
        /// Its value.
        value: i64,
    },
    /// A sum that overflows or leaves the valid range.
    #[error("{at} + {secs} s out of range")]
    Overflow {
        /// The instant.
        at: i64,
        /// The seconds added.
        secs: i64,
    },
    /// A duration that must be positive is not.
    #[error("{name} {secs} s must be positive")]
    NotPositive {
        /// The claim or setting.
        name: &'static str,
        /// Its value.
        secs: i64,
    },
    /// A duration over its maximum.
    #[error("{name} {secs} s exceeds {max} s")]
    TooLong {
        /// The claim or setting.
        name: &'static str,
        /// Its value.
        secs: i64,
        /// The maximum.
        max: i64,
    },
    /// `iat` after now plus the skew.
    #[error("iat {iat} is in the future (now {now}, skew {skew} s)")]
    IssuedInFuture {
        /// `iat`.
        iat: i64,
        /// The check's time.
        now: i64,
        /// The skew allowed.
        skew: i64,
    },
    /// `nbf` after now plus the skew.
    #[error("nbf {nbf} is in the future (now {now}, skew {skew} s)")]
    NotYetValid {
        /// `nbf`.
        nbf: i64,
        /// The check's time.
        now: i64,
        /// The skew allowed.
        skew: i64,
    },
    /// `exp` at or before now minus the skew.
    #[error("exp {exp} has passed (now {now}, skew {skew} s)")]
    Expired {
        /// `exp`.
        exp: i64,
        /// The check's time.
        now: i64,
        /// The skew allowed.
        skew: i64,
    },
    /// `exp` not after `iat`.
    #[error("exp {exp} is not after iat {iat}")]
    ExpNotAfterIat {
        /// `iat`.
        iat: i64,
        /// `exp`.
        exp: i64,
    },
    /// `exp - iat` over the maximum lifetime.
    #[error("lifetime {lifetime} s exceeds {max} s")]
    LifetimeTooLong {
        /// `exp - iat` (or `exp - now` without `iat`).
        lifetime: i64,
        /// The maximum.
        max: i64,
    },
    /// A claim the check needs is absent.
    #[error("{claim} missing")]
    Missing {
        /// The claim.
        claim: &'static str,
    },
}

/// A positive duration in seconds with an upper bound (a `ttl`, a token lifetime), checked
/// when made so that `iat + ttl` is safe to compute with [`UnixTime::checked_add_ttl`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ttl(i64);

impl Ttl {
    /// The duration `name` of `secs` seconds, refused if negative, zero or over `max`.
    /// Zero is refused because it gives `exp == iat`: a token expired when issued, which
    /// [`check_window`] refuses anyway (`exp` must be after `iat`).
    pub fn new(name: &'static str, secs: i64, max: i64) -> Result<Ttl, TimeError> {
        if secs <= 0 {
            return Err(TimeError::NotPositive { name, secs });
        }
        if secs > max {
            return Err(TimeError::TooLong { name, secs, max });
        }
        Ok(Ttl(secs))
    }

    /// The seconds.
    pub fn secs(self) -> i64 {
        self.0
    }
}

/// How far two clocks may disagree: 0 to [`Skew::MAX_SECS`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Skew(i64);

impl Skew {
    /// No tolerance.
    pub const ZERO: Skew = Skew(0);
    /// The largest skew: a day (more is a configuration mistake).
    pub const MAX_SECS: i64 = 86_400;

    /// `secs` clamped into 0..=[`Self::MAX_SECS`] (a negative setting means none).
    pub const fn new(secs: i64) -> Skew {
        if secs < 0 {
            Skew(0)
        } else if secs > Self::MAX_SECS {
            Skew(Self::MAX_SECS)
        } else {
            Skew(secs)
        }
    }

    /// The seconds.
    pub const fn secs(self) -> i64 {
        self.0
    }
}

/// The time claims of a token, as received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeWindow {
    /// `iat`.
    pub iat: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
    /// `exp`.
    pub exp: Option<i64>,
}

/// Checks a token's time claims at `now` (RFC 7519 §4.1.4-6), without overflow, in this
/// order: each present claim is a valid NumericDate ([`UnixTime::from_claim`]); `exp` has
/// not passed (`exp > now - skew`); `nbf <= now + skew`; `iat <= now + skew`;
/// `exp > iat`; and with `max_lifetime`, `exp` is required and `exp - iat <= max_lifetime`
/// (counted from `now` when there is no `iat`).
pub fn check_window(w: TimeWindow, now: UnixTime, skew: Skew, max_lifetime: Option<i64>) -> Result<(), TimeError> {
    let iat = w.iat.map(|v| UnixTime::from_claim("iat", v)).transpose()?;
    let nbf = w.nbf.map(|v| UnixTime::from_claim("nbf", v)).transpose()?;
    let exp = w.exp.map(|v| UnixTime::from_claim("exp", v)).transpose()?;
    // i128: `now` is the caller's and may be anything; claims are in range by now.
    let (n, s) = (i128::from(now.secs()), i128::from(skew.secs()));
    let (now, skew) = (now.secs(), skew.secs());
    if let Some(UnixTime(exp)) = exp
        && i128::from(exp) <= n - s
    {
        return Err(TimeError::Expired { exp, now, skew });
    }
    if let Some(UnixTime(nbf)) = nbf
        && i128::from(nbf) > n + s
    {
        return Err(TimeError::NotYetValid { nbf, now, skew });
    }
    if let Some(UnixTime(iat)) = iat
        && i128::from(iat) > n + s
    {
        return Err(TimeError::IssuedInFuture { iat, now, skew });
    }
    if let (Some(UnixTime(iat)), Some(UnixTime(exp))) = (iat, exp)
        && exp <= iat
    {
        return Err(TimeError::ExpNotAfterIat { iat, exp });
    }
    if let Some(max) = max_lifetime {
        let UnixTime(exp) = exp.ok_or(TimeError::Missing { claim: "exp" })?;
        let from = i128::from(iat.map_or(now, UnixTime::secs));
        let lifetime = i128::from(exp) - from;
        if lifetime > i128::from(max) {
            let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX);
            return Err(TimeError::LifetimeTooLong { lifetime, max });
        }
    }
    Ok(())
}

/// Where "now" comes from: the system clock in production, a fixed instant in tests.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> UnixTime;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        UnixTime::now()
    }
}

/// A clock that always says the same instant (tests, replay of recorded vectors).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub UnixTime);

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        self.0
    }
}

#[cfg(test)]
mod tests;
