//! The Status List Token (`typ: statuslist+jwt`, draft-ietf-oauth-status-list §5.1): signing
//! by the issuer, verification by relying parties and wallets (IT-Wallet 1.4 §6, steps 3-5;
//! §8 "Status").

use serde::{Deserialize, Serialize};

use super::{Bits, StatusError, StatusList, StatusReference, StatusValue, decode_lst};
use crate::jose::{CompactJws, JoseError, JwsHeader, Signer, jws, jws::media_type_eq};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::{Skew, TimeError, TimeWindow, UnixTime, check_window};

/// The JWS `typ` of a Status List Token (draft §5.1).
pub const TYP: &str = "statuslist+jwt";
/// The media type to ask for (`Accept`) and to expect (`Content-Type`) when fetching
/// `status.status_list.uri` (draft §8.1, IT-Wallet §6 "Fetch").
pub const MEDIA_TYPE: &str = "application/statuslist+jwt";

#[derive(Debug, Serialize, Deserialize)]
struct ListClaim {
    bits: u64,
    lst: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aggregation_uri: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    sub: String,
    iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ttl: Option<u64>,
    status_list: ListClaim,
}

/// What is read from the payload before the signature is checked: only who signed it, to
/// find the key. Everything else is parsed after verification.
#[derive(Debug, Deserialize)]
struct SignerHint {
    #[serde(default)]
    iss: Option<String>,
    sub: String,
}

/// What the issuer signs: a list, the URI it is served at, its validity.
#[derive(Debug, Clone)]
pub struct StatusListToken {
    /// The list.
    pub list: StatusList,
    /// `sub`: the URI credentials reference in `status.status_list.uri`.
    pub uri: String,
    /// `iss`, when the issuer includes it; the key is resolved for `iss`, else for `sub`.
    pub iss: Option<String>,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp` (RECOMMENDED; IT-Wallet 1.4 §6: at most 24 h after `iat`). Not enforced here:
    /// the profile's own example carries a years-long `exp`, so verifiers accept any.
    pub exp: Option<UnixTime>,
    /// `ttl`: seconds a relying party may cache the token before fetching it again.
    pub ttl: Option<u64>,
    /// `status_list.aggregation_uri` (Token Status List §4.3, OPTIONAL): where the issuer
    /// publishes the URIs of all its lists, for relying parties that prefetch them.
    pub aggregation_uri: Option<String>,
}

/// A Status List Token that passed every check of [`StatusListToken::verify`].
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    /// The list.
    pub list: StatusList,
    /// `sub`, equal to the credential's `status.status_list.uri`.
    pub uri: String,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp`.
    pub exp: Option<UnixTime>,
    /// `ttl`.
    pub ttl: Option<u64>,
    /// `status_list.aggregation_uri`: where all of the issuer's list URIs are published.
    pub aggregation_uri: Option<String>,
}

impl VerifiedStatusList {
    /// The status at `idx`, bounds-checked ([`StatusError::IndexOutOfBounds`]).
    pub fn lookup(&self, idx: u64) -> Result<StatusValue, StatusError> {
        self.list.get(idx)
    }

    /// Until when this copy may be used without fetching again, given when it was fetched:
    /// the earliest of `exp` and `fetched_at + ttl` (draft §5.1 `ttl`: how long a consumer
    /// may cache the token, counted from retrieval, not from `iat`). Without either, `fetched_at`: do not cache.
    pub fn fresh_until(&self, fetched_at: UnixTime) -> UnixTime {
        let by_ttl = self.ttl.map(|t| fetched_at.plus(i64::try_from(t).unwrap_or(i64::MAX)));
        match (self.exp, by_ttl) {
            (Some(e), Some(t)) => e.min(t),
            (Some(e), None) => e,
            (None, Some(t)) => t,
            (None, None) => fetched_at,
        }
    }
}

/// A verified list kept between fetches, with the time it was fetched, so `ttl` and `exp`
/// are honoured (IT-Wallet §6 step 4 "honour ttl").
#[derive(Debug, Clone)]
pub struct CachedStatusList {
    verified: VerifiedStatusList,
    fetched_at: UnixTime,
}

impl CachedStatusList {
    /// Keeps `verified`, fetched (and verified) at `fetched_at`.
    pub fn new(verified: VerifiedStatusList, fetched_at: UnixTime) -> Self {
        Self { verified, fetched_at }
    }

    /// When it was fetched.
    pub fn fetched_at(&self) -> UnixTime {
        self.fetched_at
    }

    /// `min(exp, fetched_at + ttl)`; `fetched_at` when the token has neither (never fresh
    /// from cache). No clock skew is added: a cached copy errs on the side of refetching.
    pub fn fresh_until(&self) -> UnixTime {
        self.verified.fresh_until(self.fetched_at)
    }

    /// Whether the copy may still be used at `now` (`now < fresh_until`).
    pub fn is_fresh(&self, now: UnixTime) -> bool {
        now < self.fresh_until()
    }

    /// The status at `idx`, if the copy is still fresh at `now`; otherwise
    /// [`StatusError::Stale`] and the caller fetches the token again.
    pub fn lookup(&self, idx: u64, now: UnixTime) -> Result<StatusValue, StatusError> {
        let fresh_until = self.fresh_until();
        if now >= fresh_until {
            return Err(StatusError::Stale { fresh_until: fresh_until.secs(), now: now.secs() });
        }
        self.verified.lookup(idx)
    }

    /// The verified list.
    pub fn verified(&self) -> &VerifiedStatusList {
        &self.verified
    }
}

impl StatusListToken {
    /// Signs the token. `header` carries `kid`/`x5c` (IT-Wallet requires both); `typ` is set
    /// here, `alg` by the signer.
    pub fn sign(&self, header: &JwsHeader, signer: &dyn Signer) -> Result<String, JoseError> {
        let claims = Claims {
            iss: self.iss.clone(),
            sub: self.uri.clone(),
            iat: self.iat.secs(),
            exp: self.exp.map(UnixTime::secs),
            ttl: self.ttl,
            status_list: ListClaim { bits: u64::from(self.list.bits().get()), lst: self.list.to_lst(), aggregation_uri: self.aggregation_uri.clone() },
        };
        let mut header = header.clone();
        header.typ = Some(TYP.to_owned());
        jws::sign_json(&header, &claims, signer)
    }

    /// Checks an HTTP response's `Content-Type` (parameters ignored) is [`MEDIA_TYPE`]
    /// before its body is parsed.
    pub fn check_content_type(content_type: Option<&str>) -> Result<(), StatusError> {
        let ok = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim())
            .is_some_and(|c| media_type_eq(c, MEDIA_TYPE));
        if ok { Ok(()) } else { Err(StatusError::WrongContentType(content_type.map(str::to_owned))) }
    }

    /// The sans-IO end of `GET <uri>` with `Accept: application/statuslist+jwt`: checks the
    /// response's content type, then the body as [`Self::verify`] does. The body is bounded
    /// by the JWS parser ([`crate::jose::jws::MAX_JWS_LEN`]).
    #[allow(clippy::too_many_arguments)]
    pub fn verify_response(
        content_type: Option<&str>,
        body: &[u8],
        reference: &StatusReference,
        resolver: &dyn IssuerKeyResolver,
        now: UnixTime,
        skew: i64,
        limit: usize,
    ) -> Result<VerifiedStatusList, StatusError> {
        Self::check_content_type(content_type)?;
        let token = std::str::from_utf8(body).map_err(|_| StatusError::Malformed("body is not UTF-8".into()))?;
        Self::verify(token, reference, resolver, now, skew, limit)
    }

    /// Verifies a token fetched from `reference.uri`, in this order (IT-Wallet §6 steps 3-5,
    /// draft §8.3), each failure its own [`StatusError`] variant:
    /// 1. `typ` is `statuslist+jwt` ([`StatusError::WrongTyp`]);
    /// 2. the signature verifies with the key `resolver` trusts for `iss` (else `sub`)
    ///    ([`StatusError::KeyResolution`], [`StatusError::BadSignature`]); only `iss`/`sub`
    ///    are read before this, to pick the key;
    /// 3. `sub` equals `reference.uri` exactly ([`StatusError::SubjectMismatch`]);
    /// 4. `exp`, if present, has not passed, with `skew` seconds of tolerance
    ///    ([`StatusError::Expired`]);
    /// 5. `iat` is not more than `skew` seconds ahead ([`StatusError::IssuedInFuture`]);
    ///    `iat`/`exp` are valid NumericDates and `exp` is after `iat` ([`StatusError::Time`]);
    /// 6. `bits` is 1, 2, 4 or 8 and `lst` inflates to at most `limit` bytes
    ///    ([`StatusError::InvalidBits`], [`StatusError::BadBase64`],
    ///    [`StatusError::BadCompression`], [`StatusError::TooLarge`]);
    /// 7. `reference.idx` is in the list ([`StatusError::IndexOutOfBounds`]).
    ///
    /// A negative `skew` counts as 0, one over a day as a day ([`Skew::new`]).
    pub fn verify(
        token: &str,
        reference: &StatusReference,
        resolver: &dyn IssuerKeyResolver,
        now: UnixTime,
        skew: i64,
        limit: usize,
    ) -> Result<VerifiedStatusList, StatusError> {
        let malformed = |e: JoseError| StatusError::Malformed(e.to_string());
        let skew = skew.max(0);
        let jws = CompactJws::parse(token.trim()).map_err(malformed)?;
        if !jws.header().typ_is(TYP) {
            return Err(StatusError::WrongTyp(jws.header().typ.clone()));
        }

        let hint: SignerHint = jws.payload_json().map_err(malformed)?;
        let signer_id = hint.iss.as_deref().unwrap_or(&hint.sub);
        let key = resolver.resolve(signer_id, jws.header(), now)?;
        jws.verify(&key).map_err(|e| match e {
            JoseError::BadSignature => StatusError::BadSignature,
            other => StatusError::Malformed(other.to_string()),
        })?;

        let claims: Claims = jws.payload_json().map_err(malformed)?;
        if claims.sub != reference.uri {
            return Err(StatusError::SubjectMismatch { expected: reference.uri.clone(), got: claims.sub });
        }
        check_window(TimeWindow { iat: Some(claims.iat), nbf: None, exp: claims.exp }, now, Skew::new(skew), None).map_err(|e| match e {
            TimeError::Expired { exp, now, .. } => StatusError::Expired { exp, now },
            TimeError::IssuedInFuture { iat, now, .. } => StatusError::IssuedInFuture { iat, now },
            other => StatusError::Time(other),
        })?;
        let bits = Bits::from_u64(claims.status_list.bits)?;
        let list = decode_lst(&claims.status_list.lst, bits, limit)?;
        if reference.idx >= list.len() {
            return Err(StatusError::IndexOutOfBounds { idx: reference.idx, len: list.len() });
        }
        Ok(VerifiedStatusList {
            list,
            uri: claims.sub,
            iat: UnixTime(claims.iat),
            exp: claims.exp.map(UnixTime),
            ttl: claims.ttl,
            aggregation_uri: claims.status_list.aggregation_uri,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{JwsAlg, SoftwareSigner, b64};
    use crate::sd_jwt::{KeyResolutionError, StaticKeyResolver};
    use crate::status::DEFAULT_MAX_DECOMPRESSED;

    const NOW: UnixTime = UnixTime(1_800_000_000);
    const URI: &str = "https://issuer.example.it/status/1";
    const SKEW: i64 = 60;

    /// One issuer key, a resolver trusting it, and a valid token to break one thing in.
    struct Fx {
        signer: SoftwareSigner,
        resolver: StaticKeyResolver,
    }

    impl Fx {
        fn new() -> Self {
            let signer = SoftwareSigner::generate().unwrap();
            let resolver = StaticKeyResolver::any_issuer(signer.public_jwk());
            Self { signer, resolver }
        }

        fn token(&self, edit: impl FnOnce(&mut StatusListToken)) -> String {
            let mut list = StatusList::new(Bits::Four, 1024);
            list.set(7, StatusValue::Suspended).unwrap();
            list.set(8, StatusValue::AttributeUpdate).unwrap();
            let mut t = StatusListToken { list, uri: URI.into(), iss: None, iat: NOW, exp: Some(NOW.plus(86_400)), ttl: Some(3600), aggregation_uri: None };
            edit(&mut t);
            let header = JwsHeader::new(JwsAlg::Es256).with_kid(Some("status-1".into()));
            t.sign(&header, &self.signer).unwrap()
        }

        /// Signs arbitrary claims with a valid `typ`, for inputs our builder cannot make.
        fn raw(&self, claims: &serde_json::Value) -> String {
            jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(TYP), claims, &self.signer).unwrap()
        }

        fn verify(&self, token: &str, idx: u64, now: UnixTime) -> Result<VerifiedStatusList, StatusError> {
            StatusListToken::verify(token, &StatusReference { idx, uri: URI.into() }, &self.resolver, now, SKEW, DEFAULT_MAX_DECOMPRESSED)
        }
    }

    #[test]
    fn sign_verify_lookup() {
        let fx = Fx::new();
        let token = fx.token(|_| {});
        let header = CompactJws::parse(&token).unwrap().into_header();
        assert_eq!(header.typ.as_deref(), Some(TYP));
        assert_eq!(header.kid.as_deref(), Some("status-1"));

        let v = fx.verify(&token, 7, NOW).unwrap();
        assert_eq!(v.lookup(7).unwrap(), StatusValue::Suspended);
        assert_eq!(v.lookup(8).unwrap(), StatusValue::AttributeUpdate);
        assert_eq!(v.lookup(9).unwrap(), StatusValue::Valid);
        assert_eq!(v.lookup(1024), Err(StatusError::IndexOutOfBounds { idx: 1024, len: 1024 }));
        assert_eq!(v.uri, URI);
        assert_eq!((v.iat, v.exp, v.ttl), (NOW, Some(NOW.plus(86_400)), Some(3600)));
        assert_eq!(v.list.bits(), Bits::Four);
    }

    /// The IT-Wallet §6 example payload (the draft's 1-bit list), signed with a test key.
    #[test]
    fn it_wallet_example_payload_verifies() {
        let fx = Fx::new();
        let claims: serde_json::Value = serde_json::from_str(include_str!("../../tests/vectors/status/it-wallet-token-payload.json")).unwrap();
        let token = fx.raw(&claims);
        let uri = "https://example-issuer.com/statuslists/";
        let now = UnixTime(1_686_920_170 + 10);
        let v = StatusListToken::verify(&token, &StatusReference { idx: 0, uri: uri.into() }, &fx.resolver, now, SKEW, DEFAULT_MAX_DECOMPRESSED).unwrap();
        assert_eq!(v.lookup(0).unwrap(), StatusValue::Invalid);
        assert_eq!(v.lookup(1).unwrap(), StatusValue::Valid);
        assert_eq!(v.lookup(15).unwrap(), StatusValue::Invalid);
        assert_eq!(v.ttl, Some(43_200));
        assert_eq!(v.exp, Some(UnixTime(2_291_720_170)));
        assert_eq!(CachedStatusList::new(v, now).fresh_until(), now.plus(43_200));
    }

    #[test]
    fn wrong_typ_is_refused() {
        let fx = Fx::new();
        let claims = serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}});
        let jwt = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), &claims, &fx.signer).unwrap();
        assert_eq!(fx.verify(&jwt, 0, NOW).unwrap_err(), StatusError::WrongTyp(Some("JWT".into())));
        let untyped = jws::sign_json(&JwsHeader::new(JwsAlg::Es256), &claims, &fx.signer).unwrap();
        assert_eq!(fx.verify(&untyped, 0, NOW).unwrap_err(), StatusError::WrongTyp(None));
        // The full media type is the same typ (RFC 7515 §4.1.9).
        let long = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(MEDIA_TYPE), &claims, &fx.signer).unwrap();
        fx.verify(&long, 0, NOW).unwrap();
    }

    #[test]
    fn signature_by_another_key_is_refused() {
        let fx = Fx::new();
        let other = Fx::new();
        assert_eq!(fx.verify(&other.token(|_| {}), 0, NOW).unwrap_err(), StatusError::BadSignature);
    }

    /// A payload edited after signing fails on the signature, before its contents are judged.
    #[test]
    fn tampered_payload_is_bad_signature_not_malformed() {
        let fx = Fx::new();
        let token = fx.token(|_| {});
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 3, "lst": "%%"}});
        let forged = b64::encode(forged.to_string());
        parts[1] = &forged;
        assert_eq!(fx.verify(&parts.join("."), 0, NOW).unwrap_err(), StatusError::BadSignature);
    }

    #[test]
    fn untrusted_signer_is_key_resolution_error() {
        let fx = Fx::new();
        let pinned = StaticKeyResolver::for_issuer(fx.signer.public_jwk(), "https://issuer.example.it");
        let t = fx.token(|t| t.iss = Some("https://other.example".into()));
        let err = StatusListToken::verify(&t, &StatusReference { idx: 0, uri: URI.into() }, &pinned, NOW, SKEW, 1024).unwrap_err();
        assert_eq!(err, StatusError::KeyResolution(KeyResolutionError::UnknownIssuer { iss: "https://other.example".into() }));
        // Without iss, the key is resolved for sub.
        let t = fx.token(|_| {});
        let err = StatusListToken::verify(&t, &StatusReference { idx: 0, uri: URI.into() }, &pinned, NOW, SKEW, 1024).unwrap_err();
        assert_eq!(err, StatusError::KeyResolution(KeyResolutionError::UnknownIssuer { iss: URI.into() }));
    }

    #[test]
    fn sub_mismatch_is_refused() {
        let fx = Fx::new();
        let t = fx.token(|t| t.uri = "https://issuer.example.it/status/2".into());
        assert_eq!(
            fx.verify(&t, 0, NOW).unwrap_err(),
            StatusError::SubjectMismatch { expected: URI.into(), got: "https://issuer.example.it/status/2".into() }
        );
        // Exact comparison: no normalisation of a trailing slash.
        let t = fx.token(|t| t.uri = format!("{URI}/"));
        assert!(matches!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::SubjectMismatch { .. }));
    }

    #[test]
    fn expired_token_is_refused() {
        let fx = Fx::new();
        let t = fx.token(|_| {});
        let exp = NOW.secs() + 86_400;
        fx.verify(&t, 0, UnixTime(exp + SKEW - 1)).unwrap();
        assert_eq!(fx.verify(&t, 0, UnixTime(exp + SKEW)).unwrap_err(), StatusError::Expired { exp, now: exp + SKEW });
        // Without exp the token does not expire (exp is RECOMMENDED, not REQUIRED).
        let t = fx.token(|t| t.exp = None);
        fx.verify(&t, 0, NOW.plus(10 * 86_400)).unwrap();
    }

    #[test]
    fn hostile_times_are_refused() {
        let fx = Fx::new();
        let claims = |iat: i64, exp: i64| {
            serde_json::json!({"sub": URI, "iat": iat, "exp": exp, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}})
        };
        let err = fx.verify(&fx.raw(&claims(NOW.secs(), i64::MAX)), 0, NOW).unwrap_err();
        assert_eq!(err, StatusError::Time(crate::time::TimeError::OutOfRange { claim: "exp", value: i64::MAX }));
        let err = fx.verify(&fx.raw(&claims(-1, NOW.secs() + 60)), 0, NOW).unwrap_err();
        assert_eq!(err, StatusError::Time(crate::time::TimeError::OutOfRange { claim: "iat", value: -1 }));
        let err = fx.verify(&fx.raw(&claims(i64::MIN, NOW.secs() + 60)), 0, NOW).unwrap_err();
        assert_eq!(err, StatusError::Time(crate::time::TimeError::OutOfRange { claim: "iat", value: i64::MIN }));
        let err = fx.verify(&fx.raw(&claims(NOW.secs() + 30, NOW.secs() + 10)), 0, NOW).unwrap_err();
        assert_eq!(err, StatusError::Time(crate::time::TimeError::ExpNotAfterIat { iat: NOW.secs() + 30, exp: NOW.secs() + 10 }));
    }

    #[test]
    fn iat_in_future_is_refused() {
        let fx = Fx::new();
        let t = fx.token(|t| t.iat = NOW.plus(SKEW + 1));
        assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::IssuedInFuture { iat: NOW.secs() + SKEW + 1, now: NOW.secs() });
        let t = fx.token(|t| t.iat = NOW.plus(SKEW));
        fx.verify(&t, 0, NOW).unwrap();
    }

    #[test]
    fn index_out_of_bounds_is_refused() {
        let fx = Fx::new();
        assert_eq!(fx.verify(&fx.token(|_| {}), 1024, NOW).unwrap_err(), StatusError::IndexOutOfBounds { idx: 1024, len: 1024 });
        fx.verify(&fx.token(|_| {}), 1023, NOW).unwrap();
    }

    #[test]
    fn corrupted_lst_is_refused() {
        let fx = Fx::new();
        let truncated = b64::encode(&b64::decode("eNrbuRgAAhcBXQ").unwrap()[..6]);
        for (lst, err) in [
            ("%%%".to_owned(), StatusError::BadBase64),
            (b64::encode(b"garbage"), StatusError::BadCompression),
            (truncated, StatusError::BadCompression),
        ] {
            let t = fx.raw(&serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 1, "lst": lst}}));
            assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), err, "{lst}");
        }
    }

    #[test]
    fn decompression_bomb_is_refused() {
        let fx = Fx::new();
        let t = fx.token(|t| t.list = StatusList::new(Bits::One, 8 * (1 << 20)));
        let reference = StatusReference { idx: 0, uri: URI.into() };
        let err = StatusListToken::verify(&t, &reference, &fx.resolver, NOW, SKEW, 64 * 1024).unwrap_err();
        assert_eq!(err, StatusError::TooLarge { limit: 64 * 1024 });
        StatusListToken::verify(&t, &reference, &fx.resolver, NOW, SKEW, 1 << 20).unwrap();
    }

    #[test]
    fn bits_three_is_refused() {
        let fx = Fx::new();
        let t = fx.raw(&serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 3, "lst": "eNrbuRgAAhcBXQ"}}));
        assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::InvalidBits(3));
    }

    #[test]
    fn malformed_claims_are_refused() {
        let fx = Fx::new();
        for claims in [
            serde_json::json!({"sub": URI, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
            serde_json::json!({"sub": URI, "iat": NOW.secs()}),
            serde_json::json!({"sub": URI, "iat": NOW.secs(), "ttl": -1, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
            serde_json::json!({"iat": NOW.secs(), "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}}),
        ] {
            assert!(matches!(fx.verify(&fx.raw(&claims), 0, NOW).unwrap_err(), StatusError::Malformed(_)), "{claims}");
        }
        assert!(matches!(fx.verify("not.a.jws", 0, NOW).unwrap_err(), StatusError::Malformed(_)));
    }

    #[test]
    fn aggregation_uri_is_kept() {
        let fx = Fx::new();
        let claims = serde_json::json!({"sub": URI, "iat": NOW.secs(),
            "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ", "aggregation_uri": "https://issuer.example.it/status"}});
        let v = fx.verify(&fx.raw(&claims), 0, NOW).unwrap();
        assert_eq!(v.aggregation_uri.as_deref(), Some("https://issuer.example.it/status"));
        // What our issuer signs round-trips; without one, the member is left out.
        let signed = fx.token(|t| t.aggregation_uri = Some("https://issuer.example.it/status-list/aggregation".into()));
        assert_eq!(fx.verify(&signed, 0, NOW).unwrap().aggregation_uri.as_deref(), Some("https://issuer.example.it/status-list/aggregation"));
        let plain = fx.token(|_| {});
        assert!(!String::from_utf8(crate::jose::CompactJws::parse(&plain).unwrap().payload().to_vec()).unwrap().contains("aggregation_uri"));
    }

    #[test]
    fn response_content_type_and_body_are_checked() {
        let fx = Fx::new();
        let token = fx.token(|_| {});
        let reference = StatusReference { idx: 7, uri: URI.into() };
        let verify = |ct: Option<&str>, body: &[u8]| {
            StatusListToken::verify_response(ct, body, &reference, &fx.resolver, NOW, SKEW, DEFAULT_MAX_DECOMPRESSED)
        };
        let v = verify(Some("application/statuslist+jwt; charset=utf-8"), token.as_bytes()).unwrap();
        assert_eq!(v.lookup(7).unwrap(), StatusValue::Suspended);
        verify(Some("Application/StatusList+JWT"), format!("{token}\n").as_bytes()).unwrap();
        assert_eq!(verify(Some("application/json"), token.as_bytes()).unwrap_err(), StatusError::WrongContentType(Some("application/json".into())));
        assert_eq!(verify(None, token.as_bytes()).unwrap_err(), StatusError::WrongContentType(None));
        assert!(matches!(verify(Some(MEDIA_TYPE), &[0xff, 0xfe]).unwrap_err(), StatusError::Malformed(_)));
    }

    #[test]
    fn cache_honours_ttl_and_exp() {
        let fx = Fx::new();
        let fetched = NOW.plus(100);
        // ttl 3600 < exp 86400: ttl decides, counted from the fetch.
        let c = CachedStatusList::new(fx.verify(&fx.token(|_| {}), 7, fetched).unwrap(), fetched);
        assert_eq!(c.fresh_until(), fetched.plus(3600));
        assert_eq!(c.lookup(7, fetched.plus(3599)).unwrap(), StatusValue::Suspended);
        assert!(!c.is_fresh(fetched.plus(3600)));
        assert_eq!(c.lookup(7, fetched.plus(3600)), Err(StatusError::Stale { fresh_until: fetched.secs() + 3600, now: fetched.secs() + 3600 }));
        // exp before fetched_at + ttl: exp decides.
        let c = CachedStatusList::new(fx.verify(&fx.token(|t| t.exp = Some(NOW.plus(600))), 7, fetched).unwrap(), fetched);
        assert_eq!(c.fresh_until(), NOW.plus(600));
        // No ttl: exp. Neither: never fresh from cache.
        let c = CachedStatusList::new(fx.verify(&fx.token(|t| t.ttl = None), 7, fetched).unwrap(), fetched);
        assert_eq!(c.fresh_until(), NOW.plus(86_400));
        let c = CachedStatusList::new(fx.verify(&fx.token(|t| (t.ttl, t.exp) = (None, None)), 7, fetched).unwrap(), fetched);
        assert_eq!(c.fresh_until(), fetched);
        assert!(!c.is_fresh(fetched));
        // A huge ttl saturates instead of overflowing.
        let c = CachedStatusList::new(fx.verify(&fx.token(|t| (t.ttl, t.exp) = (Some(u64::MAX), None)), 7, fetched).unwrap(), fetched);
        assert_eq!(c.fresh_until(), UnixTime(i64::MAX));
    }
}
