//! The checked time helpers against hostile values.

use super::*;

const NOW: UnixTime = UnixTime(1_800_000_000);
const SKEW: Skew = Skew::new(60);

fn window(iat: Option<i64>, nbf: Option<i64>, exp: Option<i64>) -> TimeWindow {
    TimeWindow { iat, nbf, exp }
}

#[test]
fn from_claim_accepts_the_range_and_refuses_outside() {
    assert_eq!(UnixTime::from_claim("iat", 0), Ok(UnixTime::MIN_VALID));
    assert_eq!(UnixTime::from_claim("exp", 253_402_300_799), Ok(UnixTime::MAX_VALID));
    for v in [-1, i64::MIN, 253_402_300_800, i64::MAX] {
        assert_eq!(UnixTime::from_claim("exp", v), Err(TimeError::OutOfRange { claim: "exp", value: v }));
    }
    assert_eq!(UnixTime::from_claim("exp", i64::MAX).unwrap_err().to_string(), "exp 9223372036854775807 out of range");
    assert_eq!(UnixTime::from_claim("iat", -1).unwrap_err().to_string(), "iat -1 out of range");
}

#[test]
fn checked_add_refuses_overflow_and_leaving_the_range() {
    assert_eq!(NOW.checked_add(600), Ok(UnixTime(1_800_000_600)));
    assert_eq!(NOW.checked_add(-600), Ok(UnixTime(1_799_999_400)));
    assert_eq!(NOW.checked_add(i64::MAX), Err(TimeError::Overflow { at: NOW.0, secs: i64::MAX }));
    assert!(UnixTime(i64::MAX).checked_add(1).is_err(), "i64 overflow");
    assert!(UnixTime(i64::MIN).checked_add(-1).is_err(), "i64 underflow");
    assert!(NOW.checked_add(-NOW.0 - 1).is_err(), "before the epoch");
    assert!(UnixTime::MAX_VALID.checked_add(1).is_err());
    assert_eq!(UnixTime::MAX_VALID.checked_add(0), Ok(UnixTime::MAX_VALID));
}

#[test]
fn ttl_refuses_negative_zero_and_over_max() {
    assert_eq!(Ttl::new("ttl", 3600, 86_400).map(Ttl::secs), Ok(3600));
    assert_eq!(Ttl::new("ttl", 86_400, 86_400).map(Ttl::secs), Ok(86_400));
    assert_eq!(Ttl::new("ttl", -5, 86_400), Err(TimeError::NotPositive { name: "ttl", secs: -5 }));
    assert_eq!(Ttl::new("ttl", 0, 86_400), Err(TimeError::NotPositive { name: "ttl", secs: 0 }));
    assert_eq!(Ttl::new("ttl", i64::MIN, 86_400), Err(TimeError::NotPositive { name: "ttl", secs: i64::MIN }));
    assert_eq!(Ttl::new("ttl", i64::MAX, 86_400), Err(TimeError::TooLong { name: "ttl", secs: i64::MAX, max: 86_400 }));
    assert_eq!(Ttl::new("ttl", -5, 86_400).unwrap_err().to_string(), "ttl -5 s must be positive");
}

#[test]
fn ttl_added_to_a_valid_iat_stays_in_range_or_is_refused() {
    let ttl = Ttl::new("ttl", 600, 600).unwrap();
    assert_eq!(NOW.checked_add_ttl(ttl), Ok(UnixTime(1_800_000_600)));
    assert!(UnixTime::MAX_VALID.checked_add_ttl(ttl).is_err());
}

#[test]
fn skew_is_clamped() {
    assert_eq!(Skew::new(-5), Skew::ZERO);
    assert_eq!(Skew::new(i64::MAX).secs(), Skew::MAX_SECS);
    assert_eq!(Skew::new(120).secs(), 120);
}

#[test]
fn window_accepts_a_valid_token() {
    assert_eq!(check_window(window(Some(NOW.0 - 10), Some(NOW.0 - 10), Some(NOW.0 + 290)), NOW, SKEW, Some(300)), Ok(()));
    assert_eq!(check_window(TimeWindow::default(), NOW, SKEW, None), Ok(()));
    // Within the skew on both sides.
    assert_eq!(check_window(window(Some(NOW.0 + 60), None, Some(NOW.0 - 59)), NOW, SKEW, None), Err(TimeError::ExpNotAfterIat { iat: NOW.0 + 60, exp: NOW.0 - 59 }));
    assert_eq!(check_window(window(Some(NOW.0 + 60), Some(NOW.0 + 60), Some(NOW.0 + 61)), NOW, SKEW, None), Ok(()));
}

#[test]
fn exp_i64_max_with_iat_minus_one_is_refused_not_overflowed() {
    // The OP accepted this: exp - iat overflowed and passed a 600 s lifetime.
    let err = check_window(window(Some(-1), None, Some(i64::MAX)), NOW, SKEW, Some(600)).unwrap_err();
    assert_eq!(err, TimeError::OutOfRange { claim: "iat", value: -1 });
    let err = check_window(window(Some(NOW.0), None, Some(i64::MAX)), NOW, SKEW, Some(600)).unwrap_err();
    assert_eq!(err, TimeError::OutOfRange { claim: "exp", value: i64::MAX });
    let err = check_window(window(None, Some(i64::MIN), Some(NOW.0 + 1)), NOW, SKEW, None).unwrap_err();
    assert_eq!(err, TimeError::OutOfRange { claim: "nbf", value: i64::MIN });
}

#[test]
fn exp_not_after_iat_is_refused() {
    assert_eq!(check_window(window(Some(NOW.0), None, Some(NOW.0 + 1)), NOW, SKEW, None), Ok(()));
    let err = check_window(window(Some(NOW.0 + 30), None, Some(NOW.0 + 10)), NOW, SKEW, None).unwrap_err();
    assert_eq!(err, TimeError::ExpNotAfterIat { iat: NOW.0 + 30, exp: NOW.0 + 10 });
    let err = check_window(window(Some(NOW.0), None, Some(NOW.0)), NOW, Skew::ZERO, None).unwrap_err();
    assert!(matches!(err, TimeError::Expired { .. }), "{err:?}");
}

#[test]
fn lifetime_over_max_is_refused_with_its_value() {
    let err = check_window(window(Some(NOW.0), None, Some(NOW.0 + 3600)), NOW, SKEW, Some(600)).unwrap_err();
    assert_eq!(err, TimeError::LifetimeTooLong { lifetime: 3600, max: 600 });
    assert_eq!(err.to_string(), "lifetime 3600 s exceeds 600 s");
    // Without iat, counted from now; without exp, refused.
    let err = check_window(window(None, None, Some(NOW.0 + 601)), NOW, SKEW, Some(600)).unwrap_err();
    assert_eq!(err, TimeError::LifetimeTooLong { lifetime: 601, max: 600 });
    assert_eq!(check_window(window(Some(NOW.0), None, None), NOW, SKEW, Some(600)), Err(TimeError::Missing { claim: "exp" }));
}

#[test]
fn lifetime_spanning_the_whole_range_does_not_overflow() {
    let err = check_window(window(Some(0), None, Some(UnixTime::MAX_VALID.0)), NOW, SKEW, Some(600)).unwrap_err();
    assert_eq!(err, TimeError::LifetimeTooLong { lifetime: UnixTime::MAX_VALID.0, max: 600 });
    // A hostile `now` (the caller's) does not overflow either.
    let err = check_window(window(Some(0), None, Some(10)), UnixTime(i64::MAX), Skew::new(i64::MAX), None).unwrap_err();
    assert!(matches!(err, TimeError::Expired { .. }), "{err:?}");
    assert!(check_window(window(Some(NOW.0), None, None), UnixTime(i64::MIN), SKEW, None).is_err());
}

#[test]
fn expired_not_yet_valid_and_future_iat_use_the_skew() {
    assert_eq!(check_window(window(None, None, Some(NOW.0 - 60)), NOW, SKEW, None), Err(TimeError::Expired { exp: NOW.0 - 60, now: NOW.0, skew: 60 }));
    assert_eq!(check_window(window(None, None, Some(NOW.0 - 59)), NOW, SKEW, None), Ok(()));
    assert_eq!(check_window(window(None, Some(NOW.0 + 61), None), NOW, SKEW, None), Err(TimeError::NotYetValid { nbf: NOW.0 + 61, now: NOW.0, skew: 60 }));
    assert_eq!(check_window(window(Some(NOW.0 + 61), None, None), NOW, SKEW, None), Err(TimeError::IssuedInFuture { iat: NOW.0 + 61, now: NOW.0, skew: 60 }));
}

#[test]
fn utc_calendar_dates() {
    assert_eq!(UnixTime(0).utc_string(), "1970-01-01 00:00:00 UTC");
    assert_eq!(UnixTime(951_782_400).utc_date(), (2000, 2, 29));
    assert_eq!(UnixTime(1_796_282_901).utc_string(), "2026-12-03 07:28:21 UTC");
    assert_eq!(UnixTime(-1).utc_string(), "1969-12-31 23:59:59 UTC");
    assert_eq!(UnixTime::MAX_VALID.utc_string(), "9999-12-31 23:59:59 UTC");
}
