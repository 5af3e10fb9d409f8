//! A test issuer's Token Status List, served beside its federation endpoints: index 0 valid,
//! 1 revoked, 2 suspended. The PIDs of the tests name it, a PID's `status` being REQUIRED
//! (IT-Wallet 1.4 §4.3).
#![allow(clippy::unwrap_used, unreachable_pub, dead_code)]

use wallet_core::federation::EntityId;
use wallet_core::jose::{JwsAlg, JwsHeader, Signer as _, SoftwareSigner};
use wallet_core::status::{Bits, StatusList, StatusListToken, StatusValue};
use wallet_core::time::UnixTime;

/// The list signed by `key` as issuer `iss`, for `uri`.
pub fn token(key: &SoftwareSigner, iss: &EntityId, uri: &str) -> String {
    let mut list = StatusList::new(Bits::from_u64(2).unwrap(), 16);
    list.set(1, StatusValue::Invalid).unwrap();
    list.set(2, StatusValue::Suspended).unwrap();
    let now = UnixTime::now();
    let token = StatusListToken { list, uri: uri.to_owned(), iss: Some(iss.to_string()), iat: now.plus(-10), exp: Some(now.plus(86_400)), ttl: Some(600), aggregation_uri: None };
    token.sign(&JwsHeader::new(JwsAlg::Es256).with_kid(key.kid()), key).unwrap()
}

/// `app` also serving the list at `uri`'s path (`uri` is on `app`'s origin).
pub fn serve(app: axum::Router, key: &SoftwareSigner, iss: &EntityId, uri: &str) -> axum::Router {
    let list = token(key, iss, uri);
    let path = url::Url::parse(uri).unwrap().path().to_owned();
    app.route(
        &path,
        axum::routing::get(move || {
            let list = list.clone();
            async move { ([(axum::http::header::CONTENT_TYPE, "application/statuslist+jwt")], list) }
        }),
    )
}
