//! The Status List Token (`typ: statuslist+jwt`): signing by the issuer, verification by
//! relying parties and wallets (IT-Wallet 1.4 §6, steps 3-5).

use serde::{Deserialize, Serialize};

use super::{Bits, StatusError, StatusList, StatusReference, StatusValue, decode_lst};
use crate::jose::{CompactJws, JoseError, JwsHeader, Signer, jws, jws::media_type_eq};
use crate::sd_jwt::IssuerKeyResolver;
use crate::time::UnixTime;

/// The JWS `typ` of a Status List Token.
pub const TYP: &str = "statuslist+jwt";
/// The media type to ask for and to expect (`Accept` and `Content-Type`).
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

/// What the issuer signs: a list, the URI it is served at, its validity.
#[derive(Debug, Clone)]
pub struct StatusListToken {
    /// The list.
    pub list: StatusList,
    /// `sub`: the URI credentials reference.
    pub uri: String,
    /// `iss`, when the issuer includes it.
    pub iss: Option<String>,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp` (RECOMMENDED; IT-Wallet: at most 24 h after `iat`).
    pub exp: Option<UnixTime>,
    /// `ttl`: seconds a relying party may cache the token.
    pub ttl: Option<u64>,
}

/// A verified status list.
#[derive(Debug, Clone)]
pub struct VerifiedStatusList {
    /// The list.
    pub list: StatusList,
    /// `iat`.
    pub iat: UnixTime,
    /// `exp`.
    pub exp: Option<UnixTime>,
    /// `ttl`.
    pub ttl: Option<u64>,
}

impl VerifiedStatusList {
    /// The status at `reference.idx`.
    pub fn lookup(&self, idx: u64) -> Result<StatusValue, StatusError> {
        self.list.get(idx)
    }

    /// Until when this copy may be used without fetching again: the earliest of `exp` and
    /// `fetched_at + ttl`; without either, `fetched_at` (fetch again each time).
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

impl StatusListToken {
    /// Signs the token. `header` carries `kid`/`x5c`; `typ` and `alg` are set here.
    pub fn sign(&self, header: &JwsHeader, signer: &dyn Signer) -> Result<String, JoseError> {
        let claims = Claims {
            iss: self.iss.clone(),
            sub: self.uri.clone(),
            iat: self.iat.secs(),
            exp: self.exp.map(UnixTime::secs),
            ttl: self.ttl,
            status_list: ListClaim { bits: u64::from(self.list.bits().get()), lst: self.list.to_lst(), aggregation_uri: None },
        };
        let mut header = header.clone();
        header.typ = Some(TYP.to_owned());
        jws::sign_json(&header, &claims, signer)
    }

    /// Checks an HTTP response's `Content-Type` before its body is parsed.
    pub fn check_content_type(content_type: Option<&str>) -> Result<(), StatusError> {
        let ok = content_type
            .map(|c| c.split(';').next().unwrap_or_default().trim())
            .is_some_and(|c| media_type_eq(c, MEDIA_TYPE));
        if ok { Ok(()) } else { Err(StatusError::WrongContentType(content_type.map(str::to_owned))) }
    }

    /// Verifies a token fetched from `reference.uri`: `typ`, signature by a key the resolver
    /// trusts, `sub` == `uri`, `exp` and `iat` with `skew` seconds of tolerance, then decodes
    /// the list (at most `limit` bytes) and checks `reference.idx` is in bounds.
    pub fn verify(
        token: &str,
        reference: &StatusReference,
        resolver: &dyn IssuerKeyResolver,
        now: UnixTime,
        skew: i64,
        limit: usize,
    ) -> Result<VerifiedStatusList, StatusError> {
        let malformed = |e: JoseError| StatusError::Malformed(e.to_string());
        let jws = CompactJws::parse(token.trim()).map_err(malformed)?;
        if !jws.header().typ_is(TYP) {
            return Err(StatusError::WrongTyp(jws.header().typ.clone()));
        }
        let claims: Claims = jws.payload_json().map_err(malformed)?;
        let signer_id = claims.iss.as_deref().unwrap_or(&claims.sub);
        let key = resolver.resolve(signer_id, jws.header(), now)?;
        jws.verify(&key).map_err(|e| match e {
            JoseError::BadSignature => StatusError::BadSignature,
            other => StatusError::Malformed(other.to_string()),
        })?;
        if claims.sub != reference.uri {
            return Err(StatusError::SubjectMismatch { expected: reference.uri.clone(), got: claims.sub });
        }
        if let Some(exp) = claims.exp
            && now.secs() >= exp.saturating_add(skew) {
                return Err(StatusError::Expired { exp, now: now.secs() });
            }
        if claims.iat > now.secs().saturating_add(skew) {
            return Err(StatusError::IssuedInFuture { iat: claims.iat, now: now.secs() });
        }
        let bits = Bits::from_u64(claims.status_list.bits)?;
        let list = decode_lst(&claims.status_list.lst, bits, limit)?;
        if reference.idx >= list.len() {
            return Err(StatusError::IndexOutOfBounds { idx: reference.idx, len: list.len() });
        }
        Ok(VerifiedStatusList { list, iat: UnixTime(claims.iat), exp: claims.exp.map(UnixTime), ttl: claims.ttl })
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
            let mut t = StatusListToken { list, uri: URI.into(), iss: None, iat: NOW, exp: Some(NOW.plus(86_400)), ttl: Some(3600) };
            edit(&mut t);
            t.sign(&JwsHeader::new(JwsAlg::Es256), &self.signer).unwrap()
        }
        fn verify(&self, token: &str, idx: u64, now: UnixTime) -> Result<VerifiedStatusList, StatusError> {
            StatusListToken::verify(token, &StatusReference { idx, uri: URI.into() }, &self.resolver, now, 60, DEFAULT_MAX_DECOMPRESSED)
        }
    }

    #[test]
    fn sign_verify_lookup() {
        let fx = Fx::new();
        let v = fx.verify(&fx.token(|_| {}), 7, NOW).unwrap();
        assert_eq!(v.lookup(7).unwrap(), StatusValue::Suspended);
        assert_eq!(v.lookup(8).unwrap(), StatusValue::AttributeUpdate);
        assert_eq!(v.lookup(9).unwrap(), StatusValue::Valid);
        assert_eq!(v.fresh_until(NOW), NOW.plus(3600));
    }

    #[test]
    fn wrong_typ_is_refused() {
        let fx = Fx::new();
        let mut list = StatusList::new(Bits::One, 8);
        list.set(0, StatusValue::Invalid).unwrap();
        let claims = serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 1, "lst": list.to_lst()}});
        let t = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ("JWT"), &claims, &fx.signer).unwrap();
        assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::WrongTyp(Some("JWT".into())));
    }

    #[test]
    fn signature_by_another_key_is_refused() {
        let fx = Fx::new();
        let other = Fx::new();
        assert_eq!(fx.verify(&other.token(|_| {}), 0, NOW).unwrap_err(), StatusError::BadSignature);
    }

    #[test]
    fn untrusted_signer_is_refused() {
        let fx = Fx::new();
        let pinned = StaticKeyResolver::for_issuer(fx.signer.public_jwk(), "https://issuer.example.it");
        let t = fx.token(|t| t.iss = Some("https://other.example".into()));
        let err = StatusListToken::verify(&t, &StatusReference { idx: 0, uri: URI.into() }, &pinned, NOW, 60, 1024).unwrap_err();
        assert_eq!(err, StatusError::KeyResolution(KeyResolutionError::UnknownIssuer { iss: "https://other.example".into() }));
    }

    #[test]
    fn sub_mismatch_is_refused() {
        let fx = Fx::new();
        let t = fx.token(|t| t.uri = "https://issuer.example.it/status/2".into());
        assert_eq!(
            fx.verify(&t, 0, NOW).unwrap_err(),
            StatusError::SubjectMismatch { expected: URI.into(), got: "https://issuer.example.it/status/2".into() }
        );
    }

    #[test]
    fn expired_and_future_tokens_are_refused() {
        let fx = Fx::new();
        let t = fx.token(|_| {});
        let late = NOW.plus(86_400 + 60);
        assert_eq!(fx.verify(&t, 0, late).unwrap_err(), StatusError::Expired { exp: NOW.secs() + 86_400, now: late.secs() });
        let t = fx.token(|t| t.iat = NOW.plus(3600));
        assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::IssuedInFuture { iat: NOW.secs() + 3600, now: NOW.secs() });
    }

    #[test]
    fn index_out_of_bounds_is_refused() {
        let fx = Fx::new();
        assert_eq!(fx.verify(&fx.token(|_| {}), 1024, NOW).unwrap_err(), StatusError::IndexOutOfBounds { idx: 1024, len: 1024 });
    }

    #[test]
    fn corrupted_lst_is_refused() {
        let fx = Fx::new();
        for (lst, err) in [("%%%", StatusError::BadBase64), (b64::encode(b"garbage").as_str(), StatusError::BadCompression)] {
            let claims = serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 1, "lst": lst}});
            let t = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(TYP), &claims, &fx.signer).unwrap();
            assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), err);
        }
        let claims = serde_json::json!({"sub": URI, "iat": NOW.secs(), "status_list": {"bits": 3, "lst": "eNrbuRgAAhcBXQ"}});
        let t = jws::sign_json(&JwsHeader::new(JwsAlg::Es256).with_typ(TYP), &claims, &fx.signer).unwrap();
        assert_eq!(fx.verify(&t, 0, NOW).unwrap_err(), StatusError::InvalidBits(3));
    }

    #[test]
    fn content_type_is_checked() {
        StatusListToken::check_content_type(Some("application/statuslist+jwt")).unwrap();
        StatusListToken::check_content_type(Some("application/statuslist+jwt; charset=utf-8")).unwrap();
        assert_eq!(
            StatusListToken::check_content_type(Some("application/json")),
            Err(StatusError::WrongContentType(Some("application/json".into())))
        );
    }
}
